//! The relay's write endpoints end to end: a real engine and relay on a temporary
//! SQLite file and config file, a scripted SSE server that wants a bearer token, and
//! real HTTP. Every wait has a deadline.
//!
//! The secret check needs the run's whole log output and a process environment that
//! holds the secret, so the scenario runs in a child process (this test binary again,
//! with `TELLTALE_RELAY_WRITE_CHILD` naming its directory): the parent gives it the
//! secret through its environment, sends its stderr (the tracing output, at debug) to
//! a file, and afterwards greps that log, the config file, the SQLite files and the
//! export for the secret. Every relay answer is checked in the child as it arrives.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use telltale_core::engine::{Engine, EngineOptions};
use telltale_core::relay::{AccessToken, Relay, RelayOptions};
use telltale_core::store::Retention;
use telltale_tests::relay_client::TEST_TOKEN;
use telltale_tests::sse_server::ScriptedServer;
use tokio::time::Instant;

/// Set (to the scenario's directory) only in the child process.
const CHILD: &str = "TELLTALE_RELAY_WRITE_CHILD";
/// The environment variable the source's bearer token is referenced by.
const SECRET_VAR: &str = "TELLTALE_E2E_BEARER";
/// Distinctive, so a grep cannot match anything else.
const SECRET: &str = "s3cr3t-Bearer-value-7f1d9c0a";
const USER_COMMENT: &str = "# Written by the operator: keep this comment.";

#[test]
fn sources_and_rules_round_trip_without_leaking_the_secret() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log_path = dir.path().join("child.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "relay_write::scenario_in_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, dir.path())
        .env(SECRET_VAR, SECRET)
        .env("TELLTALE_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .spawn()
        .expect("start the scenario");
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for the scenario") {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the scenario did not finish within 180 s; log:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let log_text = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(status.success(), "scenario failed:\n{log_text}");
    assert!(
        log_text.contains("1 passed"),
        "the scenario did not run:\n{log_text}"
    );
    // The log really holds the run's tracing output.
    assert!(
        log_text.contains("source added"),
        "no tracing output:\n{log_text}"
    );
    assert!(
        !log_text.contains(SECRET),
        "the secret is in the log output"
    );

    let config = std::fs::read_to_string(dir.path().join("telltale.toml")).expect("config");
    assert!(config.contains(USER_COMMENT), "comment lost:\n{config}");
    assert!(!config.contains(SECRET), "the secret is in the config file");
    let export = std::fs::read(dir.path().join("export.json")).expect("export");
    assert!(export.len() > 10, "empty export");
    assert!(!contains(&export, SECRET), "the secret is in the export");
    let mut db_files = 0;
    for entry in std::fs::read_dir(dir.path()).expect("dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with("history.db") {
            db_files += 1;
            let bytes = std::fs::read(&path).expect("db file");
            assert!(!contains(&bytes, SECRET), "the secret is in {name}");
        }
    }
    assert!(db_files >= 1, "no database file to check");
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The scenario itself; does nothing unless started by the test above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_in_child() {
    let Some(dir) = std::env::var_os(CHILD).map(PathBuf::from) else {
        return;
    };
    telltale_core::cli::init_tracing_with("debug");
    assert_eq!(std::env::var(SECRET_VAR).as_deref(), Ok(SECRET));
    scenario(&dir).await;
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    /// One request with the token in the header; the answer must never hold the secret.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_with(method, path, body, true).await
    }

    async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        header_token: bool,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if header_token {
            req = req.header("Authorization", format!("Bearer {TEST_TOKEN}"));
        }
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        assert!(
            !text.contains(SECRET),
            "{method} {path} answered with the secret"
        );
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"))
        };
        (status, v)
    }

    async fn source(&self, name: &str) -> Option<Value> {
        let (status, v) = self.call(Method::GET, "/api/sources", None).await;
        assert_eq!(status, 200, "{v}");
        v["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
    }

    /// Polls `/api/sources` until `ok` holds for the source, or fails at `secs`.
    async fn wait_source(
        &self,
        name: &str,
        secs: u64,
        what: &str,
        ok: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.source(name).await.unwrap_or(Value::Null);
            if ok(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within {secs} s; last {s}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// An SSE server that streams a job event every 20 ms to a client presenting the
/// bearer token, and answers 401 to anyone else. Counts open streams.
async fn bearer_server(open: Arc<AtomicUsize>) -> ScriptedServer {
    ScriptedServer::start(move |mut conn| {
        let open = open.clone();
        async move {
            let want = format!("Bearer {SECRET}");
            if conn.request.header("authorization") != Some(want.as_str()) {
                let _ = conn.status("401 Unauthorized", &[]).await;
                return;
            }
            if conn.sse_head().await.is_err() {
                return;
            }
            open.fetch_add(1, Ordering::SeqCst);
            for i in 0..3_000u32 {
                let frame = format!(
                    "id: {i}\ndata: {{\"jobId\":\"job-{}\",\"status\":\"running\",\"message\":\"tick {i}\"}}\n\n",
                    i % 5
                );
                if conn.write(frame).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            open.fetch_sub(1, Ordering::SeqCst);
        }
    })
    .await
    .expect("SSE server")
}

async fn scenario(dir: &Path) {
    let config_path = dir.join("telltale.toml");
    std::fs::write(
        &config_path,
        format!("{USER_COMMENT}\n[notifications]\nstatuses = [\"failed\"]   # failures only\n"),
    )
    .expect("config");
    let engine = Engine::start(EngineOptions {
        db: dir.join("history.db"),
        retention: Retention::default(),
    })
    .expect("engine");
    let mut opts = RelayOptions::new(AccessToken::new(TEST_TOKEN).expect("token"));
    opts.config_file = Some(config_path.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let relay = Relay::for_engine(listener, &engine, opts).expect("relay");
    let c = Client {
        http: reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client"),
        base: relay.base_url(),
    };
    let open = Arc::new(AtomicUsize::new(0));
    let server = bearer_server(open.clone()).await;
    let refusing = ScriptedServer::start(|mut conn| async move {
        let _ = conn.status("401 Unauthorized", &[]).await;
    })
    .await
    .expect("401 server");
    let input = json!({
        "name": "scripted",
        "url": server.url("/events"),
        "enabled": true,
        "headers": {},
        "bearer": {"env": SECRET_VAR},
    });

    // Writes with the token only in the query are refused, and change nothing.
    let (status, v) = c
        .call_with(
            Method::POST,
            &format!("/api/sources?token={TEST_TOKEN}"),
            Some(input.clone()),
            false,
        )
        .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (401, Some("token_in_query")),
        "{v}"
    );
    let (status, _) = c
        .call_with(
            Method::DELETE,
            &format!("/api/sources/scripted?token={TEST_TOKEN}"),
            None,
            false,
        )
        .await;
    assert_eq!(status, 401);
    // Writes elsewhere are not allowed at all.
    let (status, _) = c.call(Method::POST, "/api/jobs", Some(json!({}))).await;
    assert_eq!(status, 405);
    assert!(c.source("scripted").await.is_none());

    // The connection test: events from the good server, a clear error from the 401 one.
    let (status, v) = c
        .call(Method::POST, "/api/sources/test", Some(input.clone()))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["ok"], true, "{v}");
    let events = v["events"].as_array().expect("events");
    assert!(!events.is_empty(), "no events: {v}");
    assert_eq!(events[0]["source"], "scripted");
    assert_eq!(events[0]["seq"], 0, "test events are not stored");
    assert!(v["elapsed_ms"].as_u64().is_some());
    let mut bad = input.clone();
    bad["url"] = json!(refusing.url("/events"));
    let (status, v) = c.call(Method::POST, "/api/sources/test", Some(bad)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["error"]["code"], "sse.unauthorized", "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap_or("").contains("401"),
        "{v}"
    );
    assert!(
        c.source("scripted").await.is_none(),
        "a test must not add the source"
    );

    // Add: saved as a reference, started, live.
    let (status, v) = c
        .call(Method::POST, "/api/sources", Some(input.clone()))
        .await;
    assert_eq!(status, 201, "{v}");
    let (status, v) = c
        .call(Method::POST, "/api/sources", Some(input.clone()))
        .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (409, Some("source_exists")),
        "{v}"
    );
    let row = c
        .wait_source("scripted", 15, "the added source goes live", |s| {
            s["health"] == "live" && s["events"].as_u64().unwrap_or(0) >= 3
        })
        .await;
    assert_eq!(
        row["config"]["bearer"],
        json!({"ref": format!("${{{SECRET_VAR}}}")})
    );
    assert_eq!(row["config"]["url"], server.url("/events"));
    assert_eq!(row["config"]["enabled"], true);
    let text = std::fs::read_to_string(&config_path).expect("config");
    assert!(
        text.contains(USER_COMMENT) && text.contains("# failures only"),
        "{text}"
    );
    assert!(
        text.contains(&format!("bearer = \"${{{SECRET_VAR}}}\"")),
        "{text}"
    );

    // Invalid input is refused with the loader's message, and changes nothing.
    let mut invalid = input.clone();
    invalid["name"] = json!("other");
    invalid["url"] = json!("ftp://example.com/x");
    let (status, v) = c.call(Method::POST, "/api/sources", Some(invalid)).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("invalid_config")),
        "{v}"
    );
    assert!(v["message"].as_str().unwrap_or("").contains("url"), "{v}");

    // A typed secret for the keychain: stored when there is a keychain, otherwise a
    // clear refusal that points at environment references, with nothing saved.
    let mut typed = input.clone();
    typed["name"] = json!("with-keychain");
    typed["bearer"] = json!({"keychain": {"name": "TELLTALE_E2E_KEY", "value": SECRET}});
    let (status, v) = c.call(Method::POST, "/api/sources", Some(typed)).await;
    if status == 201 {
        let (status, _) = c
            .call(Method::DELETE, "/api/sources/with-keychain", None)
            .await;
        assert_eq!(status, 204);
    } else {
        assert_eq!(
            (status, v["code"].as_str()),
            (422, Some("keychain_unavailable")),
            "{v}"
        );
        eprintln!(
            "no keychain here, as expected on a headless machine: {}",
            v["message"]
        );
        assert!(
            v["message"]
                .as_str()
                .unwrap_or("")
                .contains("environment variable"),
            "{v}"
        );
        assert!(!std::fs::read_to_string(&config_path)
            .expect("config")
            .contains("with-keychain"));
    }

    // Disable: the stream is closed and no more events arrive.
    let mut off = input.clone();
    off["enabled"] = json!(false);
    off["bearer"] = json!({"keep": true});
    let (status, v) = c
        .call(Method::PUT, "/api/sources/scripted", Some(off))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["running"], false, "{v}");
    let row = c
        .wait_source("scripted", 10, "the disabled source shows disabled", |s| {
            s["health"] == "disabled"
        })
        .await;
    assert_eq!(row["config"]["enabled"], false);
    wait_until(10, "the server sees the stream closed", || {
        open.load(Ordering::SeqCst) == 0
    })
    .await;
    let before = row["events"].as_u64().expect("events");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = c.source("scripted").await.expect("still listed");
    assert_eq!(
        after["events"].as_u64(),
        Some(before),
        "events after disabling"
    );

    // Enable again: a new connection, events flow again.
    let requests = server.requests().len();
    let mut on = input.clone();
    on["bearer"] = json!({"keep": true});
    let (status, v) = c.call(Method::PUT, "/api/sources/scripted", Some(on)).await;
    assert_eq!(status, 200, "{v}");
    c.wait_source("scripted", 15, "the enabled source is live again", |s| {
        s["health"] == "live" && s["events"].as_u64().unwrap_or(0) > before
    })
    .await;
    assert!(server.requests().len() > requests);

    // Rules: read, change, read back; the file keeps its comments, the watch follows.
    let mut rules_rx = relay.rules();
    let (status, v) = c.call(Method::GET, "/api/rules", None).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["statuses"], json!(["failed"]));
    let until = 4_102_444_800_000i64;
    let wanted = json!({
        "enabled": true,
        "statuses": ["failed", "stalled"],
        "sources": ["scripted"],
        "queues": ["emails"],
        "coalesce_s": 30,
        "snooze_s": 600,
        "snoozed_until": until,
    });
    let (status, v) = c
        .call(Method::PUT, "/api/rules", Some(wanted.clone()))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v, wanted);
    let (_, v) = c.call(Method::GET, "/api/rules", None).await;
    assert_eq!(v, wanted);
    tokio::time::timeout(Duration::from_secs(5), rules_rx.changed())
        .await
        .expect("the rules watch changed in time")
        .expect("watch open");
    let live = rules_rx.borrow().clone();
    assert_eq!(live.snoozed_until, Some(until));
    assert_eq!(live.notifications.queues, vec!["emails".to_string()]);
    assert_eq!(live.notifications.coalesce, Duration::from_secs(30));
    let text = std::fs::read_to_string(&config_path).expect("config");
    assert!(
        text.contains(USER_COMMENT) && text.contains("# failures only"),
        "{text}"
    );
    assert!(text.contains("\"stalled\""), "{text}");
    let mut wrong = wanted.clone();
    wrong["sources"] = json!(["nope"]);
    let (status, v) = c.call(Method::PUT, "/api/rules", Some(wrong)).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("invalid_config")),
        "{v}"
    );

    // Export, whole and by text; saved for the parent's grep.
    let resp = c
        .http
        .get(format!("{}/api/export?format=json", c.base))
        .header("Authorization", format!("Bearer {TEST_TOKEN}"))
        .send()
        .await
        .expect("export");
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().await.expect("export body");
    std::fs::write(dir.join("export.json"), &bytes).expect("save export");
    let all: Vec<Value> = serde_json::from_slice(&bytes).expect("export JSON");
    let ticks = all
        .iter()
        .filter(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("tick "))
        })
        .count();
    assert!(ticks >= 3, "export holds {ticks} tick events");
    let (_, found) = c
        .call(Method::GET, "/api/export?format=json&q=tick%201", None)
        .await;
    let found = found.as_array().expect("array").clone();
    assert!(!found.is_empty());
    // Every word must start a word somewhere (entity, message, error or raw): "1"
    // also matches digits in raw timestamps, so check what the search promises.
    assert!(found
        .iter()
        .any(|e| e["message"].as_str() == Some("tick 1")));
    assert!(found.iter().all(|e| e["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("tick "))));
    let (_, none) = c
        .call(Method::GET, "/api/export?format=json&q=zzznothing", None)
        .await;
    assert_eq!(none, json!([]));

    // Delete: stopped, unlisted, gone from the file and from the rules' sources.
    let (status, v) = c.call(Method::DELETE, "/api/sources/scripted", None).await;
    assert_eq!(status, 204, "{v}");
    assert!(c.source("scripted").await.is_none());
    wait_until(10, "the deleted source's stream is closed", || {
        open.load(Ordering::SeqCst) == 0
    })
    .await;
    let text = std::fs::read_to_string(&config_path).expect("config");
    assert!(
        !text.contains("[[sources]]") && !text.contains("\"scripted\""),
        "{text}"
    );
    assert!(text.contains(USER_COMMENT), "{text}");
    let (status, v) = c.call(Method::DELETE, "/api/sources/scripted", None).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (404, Some("source_not_found")),
        "{v}"
    );

    relay.shutdown().await;
    engine.shutdown().await;
}

async fn wait_until(secs: u64, what: &str, ok: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
