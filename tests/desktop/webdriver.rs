//! tauri-driver (with Debian's WebKitWebDriver behind it) and the few W3C WebDriver
//! calls the test needs, over plain HTTP.
//!
//! No `/screenshot`: the app's webview paints without GPU compositing (memory, see
//! src-tauri/app/window.rs). In that mode WebKitGTK answers a screenshot only after the
//! page's next repaint: a page at rest (the job view once loaded) kept it waiting past
//! the request timeout. The test reads the window from the X server
//! instead (`Session::window_screenshot`).
//!
//! The app must run with TAURI_WEBVIEW_AUTOMATION=true, or WebKit never accepts the
//! automation session and session creation hangs: every request has a timeout.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::session::log_file;
use crate::tools;

/// Starting the app (engine, relay, window, first page) under a debug build.
const SESSION_TIMEOUT: Duration = Duration::from_secs(90);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Driver {
    port: u16,
    child: Child,
}

impl Driver {
    pub fn start(env: &[(&str, String)], logs: &Path) -> Driver {
        tools::WEBKIT_DRIVER.require();
        let port = telltale_tests::redis_server::free_port();
        let native = telltale_tests::redis_server::free_port();
        let child = Command::new(tools::TAURI_DRIVER.require())
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(log_file(logs, "app.log"))
            .stderr(log_file(logs, "app.log"))
            .spawn()
            .expect("start tauri-driver");
        let give_up = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < give_up,
                "tauri-driver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { port, child }
    }

    /// Starts the app (`application` with `args`) and opens a session on its webview.
    pub async fn session(&self, application: &Path, args: &[String]) -> WebDriverSession {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("HTTP client");
        let base = format!("http://127.0.0.1:{}", self.port);
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "tauri:options": { "application": application, "args": args }
                }
            }
        });
        let resp = http
            .post(format!("{base}/session"))
            .timeout(SESSION_TIMEOUT)
            .json(&caps)
            .send()
            .await
            .expect(
                "WebDriver session: the app did not start (see tests/artifacts/desktop/app.log)",
            );
        let body: Value = resp.json().await.expect("WebDriver JSON");
        let id = body["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {body}"))
            .to_string();
        WebDriverSession {
            http,
            url: format!("{base}/session/{id}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct WebDriverSession {
    http: reqwest::Client,
    url: String,
}

impl WebDriverSession {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {path}: {e}"));
        let v: Value = resp
            .json()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {path}: {e}"));
        if v["value"]["error"].is_string() {
            panic!("WebDriver {path}: {}", v["value"]);
        }
        v["value"].clone()
    }

    /// The page's DOM as HTML.
    pub async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn current_url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Clicks the first element matching a CSS selector, as a user would.
    pub async fn click(&self, css: &str) {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        // The element reference is the value of the one key of the answer.
        let id = found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element for {css}: {found}"))
            .to_string();
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    pub async fn close(self) {
        let _ = self
            .http
            .delete(&self.url)
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await;
    }
}
