//! `telltale tail` as a user runs it: the real command line in a child process (the
//! `telltale_cli` helper binary of this package calls the same `telltale_core::cli::main`
//! as the desktop program, and cargo always rebuilds it before these tests), against
//! scripted SSE servers on 127.0.0.1. Every wait has a deadline.

use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use telltale_tests::redis_server::{RedisOptions, RedisServer};
use telltale_tests::sse_server::{Conn, ScriptedServer};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Generous: these machines are shared with other builds.
const DEADLINE: Duration = Duration::from_secs(30);
/// How long a scripted connection stays open when the test is done with it.
const HOLD: Duration = Duration::from_secs(60);

fn tail(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_telltale_cli"));
    c.arg("tail")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // The default filter is part of what is tested (one line per state).
        .env_remove("TELLTALE_LOG")
        .kill_on_drop(true);
    c
}

/// Runs `tail` to its end, which must come before the deadline.
async fn run_to_end(mut cmd: Command) -> Output {
    let child = cmd.spawn().expect("spawn telltale_cli");
    tokio::time::timeout(DEADLINE, child.wait_with_output())
        .await
        .expect("tail exits before the deadline")
        .expect("tail's output can be read")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// SIGTERM, as `kill`, systemd and container runtimes send it.
fn terminate(child: &Child) {
    let pid = child.id().expect("the child is still running");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM {pid}");
}

#[tokio::test]
async fn normalised_json_lines_arrive_before_the_stream_ends_and_sigterm_exits_0() {
    let server = ScriptedServer::start(|mut c: Conn| async move {
        let _ = c.sse_head().await;
        let _ = c
            .write(
                "id: 1\nevent: job_update\ndata: {\"jobId\":\"j1\",\"status\":\"running\",\"progress\":10}\n\n",
            )
            .await;
        let _ = c
            .write("id: 2\ndata: {\"jobId\":\"j1\",\"status\":\"failed\",\"error\":\"disk full\"}\n\n")
            .await;
        // The stream stays open: the lines must get out without it ending.
        c.hold(HOLD).await;
    })
    .await
    .unwrap();

    let mut child = tail(&[&server.url("/jobs/events")]).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut got = Vec::new();
    while got.len() < 2 {
        let line = tokio::time::timeout(DEADLINE, lines.next_line())
            .await
            .expect("a line before the deadline, while the stream is still open")
            .unwrap()
            .expect("stdout is still open");
        got.push(serde_json::from_str::<Value>(&line).expect("a JSON line"));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "tail is still following"
    );
    assert_eq!(server.requests().len(), 1);

    assert_eq!(got[0]["kind"], "job");
    assert_eq!(got[0]["entity"], "j1");
    assert_eq!(got[0]["status"], "running");
    assert_eq!(got[0]["progress"], 10.0);
    assert_eq!(got[0]["channel"], "job_update");
    assert_eq!(got[0]["remote_id"], "1");
    let source = format!("{}/jobs/events", server.addr);
    assert_eq!(got[0]["source"], source.as_str());
    assert!(got[0]["time"].is_string(), "a readable time: {}", got[0]);
    assert_eq!(got[1]["status"], "failed");
    assert_eq!(got[1]["error"], "disk full");

    terminate(&child);
    let status = tokio::time::timeout(DEADLINE, child.wait())
        .await
        .expect("tail exits promptly on SIGTERM")
        .unwrap();
    assert!(status.success(), "exit 0 after SIGTERM: {status:?}");
    let mut stderr = String::new();
    let mut err = child.stderr.take().unwrap();
    tokio::io::AsyncReadExt::read_to_string(&mut err, &mut stderr)
        .await
        .unwrap();
    let connected: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("connected to"))
        .collect();
    assert_eq!(
        connected,
        [format!(
            "telltale tail: connected to {}",
            server.url("/jobs/events")
        )],
        "one line per state on stderr:\n{stderr}"
    );
}

#[tokio::test]
async fn raw_lines_are_the_dispatched_events_and_204_exits_0() {
    let server = ScriptedServer::start(|mut c: Conn| async move {
        if c.request.index == 0 {
            let _ = c.sse_head().await;
            // A short reconnection time so the 204 comes quickly.
            let _ = c.write("retry: 20\n\n").await;
            let _ = c.write("id: 7\nevent: progress\ndata: {\"a\":1}\n\n").await;
            // No `id:`: the last event id persists; no `event:`: type "message".
            let _ = c.write("data: line1\ndata: line2\n\n").await;
            // `id` with no value resets the last event id.
            let _ = c.write(": comment\nid\ndata: x\n\n").await;
        } else {
            let _ = c.status("204 No Content", &[]).await;
        }
    })
    .await
    .unwrap();

    let out = run_to_end(tail(&["--raw", &server.url("/events")])).await;
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "exit 0 after 204: {stderr}");
    let lines: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    assert_eq!(
        lines,
        [
            r#"{"type":"progress","data":"{\"a\":1}","id":"7"}"#,
            r#"{"type":"message","data":"line1\nline2","id":"7"}"#,
            r#"{"type":"message","data":"x","id":""}"#,
        ]
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[1].header("last-event-id"),
        None,
        "the id was reset"
    );
    assert!(
        stderr.lines().any(|l| l.contains("204")),
        "says why it stopped: {stderr}"
    );
}

#[tokio::test]
async fn an_immediate_204_exits_0_with_nothing_on_stdout() {
    let server = ScriptedServer::start(|mut c: Conn| async move {
        let _ = c.status("204 No Content", &[]).await;
    })
    .await
    .unwrap();
    let out = run_to_end(tail(&[&server.url("/events")])).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    assert_eq!(server.requests().len(), 1, "a 204 is not retried");
}

/// Runs `tail` against a server answering `status` to everything.
async fn refused(status: &'static str, path: &str) -> (Output, usize) {
    let server = ScriptedServer::start(move |mut c: Conn| async move {
        let _ = c
            .respond(status, "application/json", br#"{"error":"nope"}"#)
            .await;
    })
    .await
    .unwrap();
    let out = run_to_end(tail(&[&server.url(path)])).await;
    (out, server.requests().len())
}

/// Non-zero exit, nothing on stdout, and the reason exactly once, on one line, as the
/// last line of stderr.
fn assert_one_line_failure(out: &Output, needle: &str) -> String {
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "non-zero exit: {stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout");
    let last = stderr.lines().last().unwrap_or_default().to_string();
    assert!(
        last.starts_with("telltale: ") && last.contains(needle),
        "the last line gives the reason ({needle}):\n{stderr}"
    );
    assert_eq!(
        stderr.lines().filter(|l| l.contains(needle)).count(),
        1,
        "the reason is printed once:\n{stderr}"
    );
    last
}

#[tokio::test]
async fn a_401_exits_non_zero_with_a_one_line_reason_and_no_token() {
    let (out, requests) = refused("401 Unauthorized", "/events?token=s3cret-value").await;
    let reason = assert_one_line_failure(&out, "401");
    assert!(reason.contains("token"), "says what to check: {reason}");
    assert!(
        !text(&out.stderr).contains("s3cret-value"),
        "the URL is redacted"
    );
    assert_eq!(requests, 1, "a 401 is not retried");
}

#[tokio::test]
async fn a_404_exits_non_zero_with_a_one_line_reason() {
    let (out, requests) = refused("404 Not Found", "/api/v1/runs/nope/events").await;
    let reason = assert_one_line_failure(&out, "404");
    assert!(reason.contains("/api/v1/runs/nope/events"), "{reason}");
    assert_eq!(requests, 1, "a 404 is not retried");
}

#[tokio::test]
async fn a_wrong_content_type_exits_non_zero() {
    let server = ScriptedServer::start(|mut c: Conn| async move {
        let _ = c.respond("200 OK", "text/html", b"<html></html>").await;
    })
    .await
    .unwrap();
    let out = run_to_end(tail(&[&server.url("/")])).await;
    assert_one_line_failure(&out, "text/html");
}

#[tokio::test]
async fn headers_are_sent_with_environment_references_resolved() {
    let server = ScriptedServer::start(|mut c: Conn| async move {
        let _ = c.status("204 No Content", &[]).await;
    })
    .await
    .unwrap();
    let mut cmd = tail(&[
        "-H",
        "Authorization: Bearer ${TT_TAIL_TEST_TOKEN}",
        "--header",
        "X-Tenant:acme",
        &server.url("/events?token=${TT_TAIL_TEST_QUERY}"),
    ]);
    cmd.env("TT_TAIL_TEST_TOKEN", "tok-9f2e41")
        .env("TT_TAIL_TEST_QUERY", "q-77c1");
    let out = run_to_end(cmd).await;
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let r = &server.requests()[0];
    assert_eq!(r.header("authorization"), Some("Bearer tok-9f2e41"));
    assert_eq!(r.header("x-tenant"), Some("acme"));
    assert_eq!(r.header("accept"), Some("text/event-stream"));
    assert_eq!(r.target, "/events?token=q-77c1");
    assert!(
        !stderr.contains("tok-9f2e41") && !stderr.contains("q-77c1"),
        "no secret on stderr:\n{stderr}"
    );
}

#[tokio::test]
async fn an_unset_variable_is_named_and_nothing_is_requested() {
    let server = ScriptedServer::start(|mut c: Conn| async move {
        let _ = c.status("204 No Content", &[]).await;
    })
    .await
    .unwrap();
    let mut cmd = tail(&[
        "-H",
        "Authorization: Bearer ${TT_TAIL_SURELY_UNSET_VAR}",
        &server.url("/events"),
    ]);
    cmd.env_remove("TT_TAIL_SURELY_UNSET_VAR");
    let out = run_to_end(cmd).await;
    assert_one_line_failure(&out, "TT_TAIL_SURELY_UNSET_VAR");
    assert!(server.requests().is_empty());
}

/// Reads stdout lines until `n` arrived (each within the deadline).
async fn lines(child: &mut Child, n: usize) -> Vec<Value> {
    let stdout = child.stdout.as_mut().expect("stdout piped");
    let mut reader = BufReader::new(stdout).lines();
    let mut out = Vec::new();
    while out.len() < n {
        let line = tokio::time::timeout(DEADLINE, reader.next_line())
            .await
            .expect("a line before the deadline")
            .expect("stdout readable")
            .expect("tail still running");
        out.push(serde_json::from_str(&line).expect("each line is JSON"));
    }
    out
}

/// Publishes until tail has subscribed (pub/sub has no backlog: a message published
/// before the SUBSCRIBE is simply gone), then the real messages.
async fn publish_when_subscribed(server: &RedisServer, channel: &str, payloads: &[&str]) {
    use redis::AsyncCommands;
    let mut conn = server.connection().await;
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let n: i64 = redis::cmd("PUBSUB")
            .arg("NUMPAT")
            .query_async(&mut conn)
            .await
            .unwrap();
        let subs: Vec<redis::Value> = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(channel)
            .query_async(&mut conn)
            .await
            .unwrap();
        let direct = matches!(subs.get(1), Some(redis::Value::Int(c)) if *c > 0);
        if n > 0 || direct {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "tail never subscribed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for p in payloads {
        let _: i64 = conn.publish(channel, *p).await.unwrap();
    }
}

#[tokio::test]
async fn redis_pubsub_prints_normalised_events_and_raw_messages() {
    let server = RedisServer::start();
    let url = format!("{}/0?pattern=test:*", server.url());
    let mut child = tail(&[&url]).spawn().expect("spawn");
    publish_when_subscribed(
        &server,
        "test:t7:complete",
        &[r#"{"status":"failed","testId":"t7","error":"assertion failed"}"#],
    )
    .await;
    let got = lines(&mut child, 1).await;
    assert_eq!(got[0]["entity"], "t7");
    assert_eq!(got[0]["status"], "failed");
    assert_eq!(got[0]["error"], "assertion failed");
    assert_eq!(got[0]["channel"], "test:t7:complete");
    terminate(&child);
    let out = tokio::time::timeout(DEADLINE, child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success(), "SIGTERM exits 0");

    let url = format!("{}/0?channel=batch-progress", server.url());
    let mut child = tail(&[&url, "--raw"]).spawn().expect("spawn");
    publish_when_subscribed(&server, "batch-progress", &["not json at all"]).await;
    let got = lines(&mut child, 1).await;
    assert_eq!(
        got[0],
        serde_json::json!({"channel": "batch-progress", "pattern": null, "data": "not json at all"})
    );
    terminate(&child);
    let _ = tokio::time::timeout(DEADLINE, child.wait()).await;
}

#[tokio::test]
async fn a_wrong_redis_password_exits_non_zero_without_showing_it() {
    let server = RedisServer::start_with(RedisOptions {
        args: vec!["--requirepass".into(), "right-pass-123".into()],
        ..Default::default()
    });
    let url = format!(
        "redis://:wrong-pass-456@127.0.0.1:{}/0?channel=jobs",
        server.port()
    );
    let out = run_to_end(tail(&[&url])).await;
    let reason = assert_one_line_failure(&out, "refused the credentials");
    assert!(!text(&out.stderr).contains("wrong-pass-456"), "{reason}");
}

#[tokio::test]
async fn the_idle_timeout_forces_a_reconnect() {
    let server = ScriptedServer::start(|mut c: Conn| async move {
        if c.request.index == 0 {
            let _ = c.sse_head().await;
            let _ = c.write("retry: 20\n\n").await;
            // Then silence: not a byte, until the client gives up on us.
            c.hold(HOLD).await;
        } else {
            let _ = c.status("204 No Content", &[]).await;
        }
    })
    .await
    .unwrap();
    let out = run_to_end(tail(&["--idle-timeout", "300ms", &server.url("/events")])).await;
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(server.requests().len(), 2);
    let reconnects: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("reconnecting"))
        .collect();
    assert_eq!(reconnects.len(), 1, "{stderr}");
    assert!(reconnects[0].contains("idle timeout"), "{stderr}");
}
