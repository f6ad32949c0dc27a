//! The real desktop app, end to end: `telltale --source redis://…?channel=jobs` on a
//! real redis-server, under a virtual display, driven through WebDriver (tauri-driver
//! in front of WebKitWebDriver), with a notification server and a tray host on a
//! private D-Bus session.
//!
//! It proves that a job failing in the monitored system:
//! 1. reaches the window's UI through the in-process relay (address and token handed
//!    over by the shell, the CSP allowing the relay), down to the job's own view;
//! 2. produces a desktop notification (the `Notify` call seen on the bus) and turns
//!    the tray icon red;
//! 3. opens in the window when the notification is clicked, and that showing the
//!    window turns the tray icon back to green;
//!
//! and that 4. a second launch exits and leaves the first running (single instance);
//! 5. SIGTERM shuts the engine down cleanly, with the event committed exactly once.
//! Screenshots and logs go to tests/artifacts/desktop/.
//!
//! Needs redis-server, Xvfb, dbus, dunst, trayer, ImageMagick, xdotool, webkit2gtk-driver
//! and tauri-driver (`scripts/install-deps.sh test`); a missing one fails with the
//! package to install.

mod job_feed;
mod session;
mod tools;
mod webdriver;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use job_feed::JobFeed;
use session::Session;
use telltale_core::model::Status;
use telltale_core::store::{EventFilter, Reader};
use webdriver::Driver;

const APP: &str = env!("CARGO_BIN_EXE_telltale");
const TEST_DEADLINE: Duration = Duration::from_secs(240);
const STEP: Duration = Duration::from_secs(30);
/// The window's title (src-tauri/app/window.rs).
const WINDOW_TITLE: &str = "Telltale";
/// The lamp colours of icons/tray-failing.png and icons/tray-ok.png.
const FAILING_RED: &str = "#e5484d";
const ALL_CLEAR_GREEN: &str = "#3ddc84";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_job_shows_in_the_window_and_as_a_desktop_notification() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tokio::time::timeout(TEST_DEADLINE, scenario())
        .await
        .expect("the desktop scenario did not finish in time (see tests/artifacts/desktop/)");
}

async fn scenario() {
    let artifacts = artifacts_dir();
    let home = tempfile::tempdir().expect("temp home");
    let db = home.path().join("telltale.db");
    let session = Session::start(&artifacts);
    let feed = JobFeed::start().await;

    // The app's whole environment: this session's display and bus, a home of its own
    // (config, token, nothing of the user's), and WebKit automation switched on.
    let mut env = session.env();
    env.extend([
        ("HOME", home.path().display().to_string()),
        (
            "XDG_CONFIG_HOME",
            home.path().join("config").display().to_string(),
        ),
        (
            "XDG_DATA_HOME",
            home.path().join("data").display().to_string(),
        ),
        ("XDG_RUNTIME_DIR", home.path().display().to_string()),
        ("TAURI_WEBVIEW_AUTOMATION", "true".to_string()),
        ("TELLTALE_LOG", "info".to_string()),
        ("NO_AT_BRIDGE", "1".to_string()),
    ]);
    let args: Vec<String> = vec![
        "--source".into(),
        feed.url(),
        "--db".into(),
        db.display().to_string(),
        "--listen".into(),
        "127.0.0.1:0".into(),
    ];
    let driver = Driver::start(&env, &artifacts);
    let wd = driver.session(Path::new(APP), &args).await;

    // The UI is up and following the relay, and the app follows the feed.
    wait_until("the UI to render", || async {
        wd.source().await.contains("Overview")
    })
    .await;
    assert!(
        feed.wait_connected(STEP).await,
        "the app never subscribed to the Redis channel"
    );

    let job = "e2e-desktop-1042";
    let error = "PDF parse error: unexpected EOF";
    feed.publish_failed(job, "resume-analysis", error).await;

    // (1) The window shows it: on the overview, then in the job's own view.
    wait_until("the failed job on the overview", || async {
        wd.source().await.contains(job)
    })
    .await;
    let link = format!("a[href=\"#/jobs/{job}\"]");
    wd.click(&link).await;
    wait_until("the job view", || async {
        wd.current_url().await.ends_with(&format!("#/jobs/{job}"))
            && wd.source().await.contains(error)
    })
    .await;

    // (2) A desktop notification was sent for it.
    let call = session
        .wait_for_notification(job, STEP)
        .await
        .unwrap_or_else(|| {
            panic!(
                "no Notify call for {job} on the session bus; calls seen: {:#?}",
                session.notify_calls()
            )
        });
    let notified_at = Instant::now();
    assert!(call.contains(&format!("Job failed: {job}")), "{call}");
    assert!(call.contains("resume-analysis"), "{call}");

    // The window shows the page: read from the X server, it is not one flat colour
    // (text alone brings hundreds of anti-aliased shades; a webview that painted
    // nothing is 1).
    let window_png = artifacts.join("window.png");
    session.window_screenshot(WINDOW_TITLE, &window_png);
    let colours = session::colours(&window_png);
    assert!(
        colours > 16,
        "window.png is blank ({colours} colours): the webview painted nothing"
    );
    session.screenshot(&artifacts.join("screen.png"));
    // The tray icon turned red: a failure nobody has looked at yet.
    let scratch = artifacts.join("tray-check.png");
    wait_until("the tray icon to show the failure", || async {
        session.tray_shows(FAILING_RED, &scratch)
    })
    .await;

    // (3) Clicking the notification opens the job: leave for the overview, then have
    // the notification server perform the notification's default action (a click).
    wd.click("a[href=\"#/\"]").await;
    wait_until("the overview", || async {
        wd.current_url().await.ends_with("#/")
    })
    .await;
    session.click_notification();
    wait_until("the job opened by the notification", || async {
        wd.current_url().await.ends_with(&format!("#/jobs/{job}"))
    })
    .await;
    // Showing the window acknowledged the failure: the icon is back to all clear.
    wait_until("the tray icon to clear", || async {
        session.tray_shows(ALL_CLEAR_GREEN, &scratch) && !session.tray_shows(FAILING_RED, &scratch)
    })
    .await;
    session.screenshot(&artifacts.join("screen-after-click.png"));

    // Rules set in the UI reach the desktop: "snooze until resumed" through the
    // relay's rules API (as the Rules view does it) silences the next failure, which
    // still shows in the window.
    snooze_until_resumed(&home.path().join("config/telltale/relay-token"), &artifacts).await;
    let quiet_job = "e2e-desktop-1043";
    feed.publish_failed(quiet_job, "resume-analysis", error)
        .await;
    wd.click("a[href=\"#/\"]").await;
    wait_until("the snoozed failure in the window", || async {
        wd.source().await.contains(quiet_job)
    })
    .await;
    // Past the coalescing window the first notification opened (10 s by default),
    // which would otherwise hold this failure back and make the check meaningless.
    tokio::time::sleep_until((notified_at + Duration::from_secs(12)).into()).await;
    assert!(
        session
            .wait_for_notification(quiet_job, Duration::ZERO)
            .await
            .is_none(),
        "a notification was sent while snoozed"
    );

    // (4) A second launch hands over to the first and exits.
    let second = Command::new(APP)
        .args(&args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(session::log_file(&artifacts, "second-launch.log"))
        .stderr(session::log_file(&artifacts, "second-launch.log"))
        .spawn()
        .expect("start a second telltale");
    let status = wait_exit(second, STEP).await;
    assert!(status.success(), "the second launch exited with {status}");
    assert!(
        wd.source().await.contains(error),
        "the first window is still there"
    );

    // (5) SIGTERM quits like the tray's Quit: the engine stops and commits.
    let pid = app_pid(&db).expect("the app's process");
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    assert!(
        killed.map(|s| s.success()).unwrap_or(false),
        "kill -TERM {pid}"
    );
    wait_until("the app to exit", || async {
        !Path::new(&format!("/proc/{pid}")).exists()
    })
    .await;
    let log = std::fs::read_to_string(artifacts.join("app.log")).unwrap_or_default();
    assert!(
        log.contains("telltale: stopped"),
        "no clean stop in app.log"
    );
    let stored = Reader::open(&db)
        .and_then(|r| r.since(0, &EventFilter::default(), 10_000))
        .expect("read the history");
    let failures: Vec<_> = stored
        .iter()
        .filter(|e| e.entity == job && e.status == Status::Failed)
        .collect();
    assert_eq!(failures.len(), 1, "the failure is stored exactly once");

    wd.close().await;
    drop(driver);
    drop(session);
}

/// `PUT /api/rules` with `snoozed_until` = "until resumed", on the relay the app
/// logged, with the token it keeps in its config directory.
async fn snooze_until_resumed(token_file: &Path, artifacts: &Path) {
    let token = std::fs::read_to_string(token_file).expect("the relay token");
    let log = std::fs::read_to_string(artifacts.join("app.log")).unwrap_or_default();
    let relay = log
        .split("relay on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the relay's address in app.log");
    let resp = reqwest::Client::new()
        .put(format!("{relay}/api/rules"))
        .bearer_auth(token.trim())
        .json(&serde_json::json!({
            "enabled": true,
            "statuses": ["failed"],
            "sources": [],
            "queues": [],
            "coalesce_s": 0,
            "snooze_s": 3600,
            "snoozed_until": telltale_core::rules::UNTIL_RESUMED_MS,
        }))
        .timeout(STEP)
        .send()
        .await
        .expect("PUT /api/rules");
    let status = resp.status();
    assert!(
        status.is_success(),
        "PUT /api/rules: {status} {}",
        resp.text().await.unwrap_or_default()
    );
}

fn artifacts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/artifacts/desktop");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create tests/artifacts/desktop");
    dir
}

/// Polls `check` every 200 ms until it holds; fails the test at [`STEP`].
async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let give_up = Instant::now() + STEP;
    while !check().await {
        assert!(Instant::now() < give_up, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_exit(mut child: std::process::Child, deadline: Duration) -> std::process::ExitStatus {
    let give_up = Instant::now() + deadline;
    loop {
        if let Some(status) = child.try_wait().expect("wait for the second launch") {
            return status;
        }
        if Instant::now() >= give_up {
            let _ = child.kill();
            panic!("the second launch was still running after {deadline:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The app WebKitWebDriver started: our binary, with this test's database.
fn app_pid(db: &Path) -> Option<u32> {
    let marker = db.display().to_string();
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let is_app =
                args.first().is_some_and(|a| a.ends_with("/telltale")) && args.contains(&marker);
            is_app.then_some(pid)
        })
}
