//! The SSE client against scripted HTTP servers on 127.0.0.1 (issue 3, item 2 and
//! seed 004's two-step API). Every wait has a deadline; timings are asserted from the
//! delays the client reports, never from how long something took.

use std::io::Write;
use std::time::Duration;

use telltale_core::source::sse::backoff::Backoff;
use telltale_core::source::sse::{
    CleanStop, ConnectionState, SseClient, SseError, SseEvent, SseSourceConfig, SseUpdate, TwoStep,
};
use telltale_tests::sse_server::{sse_head, Conn, ScriptedServer};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Generous: these machines are shared with other builds.
const DEADLINE: Duration = Duration::from_secs(20);
/// How long a scripted connection stays open when the test is done with it.
const HOLD: Duration = Duration::from_secs(30);

const RT: Duration = Duration::from_millis(50);
const CAP: Duration = Duration::from_millis(400);

fn config(url: String) -> SseSourceConfig {
    let mut c = SseSourceConfig::new("test", url);
    c.initial_retry = RT;
    c.max_backoff = CAP;
    c.idle_timeout = Duration::from_secs(15);
    c
}

struct Running {
    rx: mpsc::Receiver<SseUpdate>,
    cancel: CancellationToken,
    task: JoinHandle<Result<CleanStop, SseError>>,
}

impl Running {
    fn start(config: SseSourceConfig) -> Self {
        Self::start_with_capacity(config, 64)
    }

    fn start_with_capacity(config: SseSourceConfig, capacity: usize) -> Self {
        let client = SseClient::new(config).expect("valid config");
        let (tx, rx) = mpsc::channel(capacity);
        let cancel = CancellationToken::new();
        let task = tokio::spawn(client.run(tx, cancel.clone()));
        Running { rx, cancel, task }
    }

    async fn next(&mut self) -> SseUpdate {
        tokio::time::timeout(DEADLINE, self.rx.recv())
            .await
            .expect("an update before the deadline")
            .expect("the channel is open")
    }

    async fn next_event(&mut self) -> SseEvent {
        loop {
            if let SseUpdate::Event(e) = self.next().await {
                return e;
            }
        }
    }

    /// The next `Reconnecting` (events and other states before it are skipped).
    async fn next_reconnect(&mut self) -> (u32, Duration, String) {
        loop {
            if let SseUpdate::State(ConnectionState::Reconnecting {
                attempt,
                next_in,
                reason,
            }) = self.next().await
            {
                return (attempt, next_in, reason);
            }
        }
    }

    /// Waits for `Stopped` and the task's result, checking they agree.
    async fn stopped(mut self) -> (Result<CleanStop, SseError>, String) {
        let (reason, clean) = loop {
            if let SseUpdate::State(ConnectionState::Stopped { reason, clean }) = self.next().await
            {
                break (reason, clean);
            }
        };
        let result = tokio::time::timeout(DEADLINE, self.task)
            .await
            .expect("the task ends after Stopped")
            .expect("the task did not panic");
        assert_eq!(
            clean,
            result.is_ok(),
            "Stopped.clean matches the result: {reason}"
        );
        (result, reason)
    }

    async fn cancel(self) -> Result<CleanStop, SseError> {
        self.cancel.cancel();
        tokio::time::timeout(DEADLINE, self.task)
            .await
            .expect("the task ends promptly on cancel")
            .expect("the task did not panic")
    }
}

fn ev(event_type: &str, data: &str, id: &str) -> SseEvent {
    SseEvent {
        event_type: event_type.into(),
        data: data.into(),
        last_event_id: id.into(),
    }
}

#[tokio::test]
async fn reconnect_sends_last_event_id_and_waits_exactly_the_reconnection_time() {
    let server = ScriptedServer::start(|mut c: Conn| async move {
        let _ = c.sse_head().await;
        if c.request.index == 0 {
            let _ = c
                .write("id: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: cut")
                .await;
        } else {
            let _ = c.write("data: c\n\n").await;
            c.hold(HOLD).await;
        }
    })
    .await
    .unwrap();
    let mut cfg = config(server.url("/events"));
    cfg.last_event_id = Some("0".into());
    let mut run = Running::start(cfg);

    assert_eq!(run.next_event().await, ev("message", "a", "1"));
    assert_eq!(run.next_event().await, ev("message", "b", "2"));
    let (attempt, next_in, reason) = run.next_reconnect().await;
    assert_eq!((attempt, next_in), (1, RT), "{reason}");
    // The unterminated event (and its id) from the first connection was discarded.
    assert_eq!(run.next_event().await, ev("message", "c", "2"));

    let reqs = server.requests();
    assert_eq!(
        reqs[0].header("last-event-id"),
        Some("0"),
        "stored cursor on first connect"
    );
    assert_eq!(reqs[1].header("last-event-id"), Some("2"));
    for r in &reqs {
        assert_eq!(r.header("accept"), Some("text/event-stream"));
        assert_eq!(r.header("cache-control"), Some("no-cache"));
    }
    assert_eq!(run.cancel().await, Ok(CleanStop::Cancelled));
}

#[tokio::test]
async fn retry_field_sets_the_reconnection_time() {
    let server = ScriptedServer::start(|mut c: Conn| async move {
        let _ = c.sse_head().await;
        if c.request.index == 0 {
            // The second, invalid retry is ignored.
            let _ = c.write("retry: 250\nretry: 12a\ndata: x\n\n").await;
        } else {
            c.hold(HOLD).await;
        }
    })
    .await
    .unwrap();
    let mut run = Running::start(config(server.url("/")));
    run.next_event().await;
    let (_, next_in, _) = run.next_reconnect().await;
    assert_eq!(next_in, Duration::from_millis(250));
    run.cancel().await.unwrap();
}

#[tokio::test]
async fn backoff_grows_on_500_within_bounds_then_recovers() {
    let server = ScriptedServer::start(|mut c: Conn| async move {
        if c.request.index < 5 {
            let _ = c.status("500 Internal Server Error", &[]).await;
        } else {
            let _ = c.sse_head().await;
            let _ = c.write("data: back\n\n").await;
            c.hold(HOLD).await;
        }
    })
    .await
    .unwrap();
    let mut run = Running::start(config(server.url("/")));
    let bounds = Backoff::new(RT, CAP);
    for n in 1..=5u32 {
        let (attempt, next_in, reason) = run.next_reconnect().await;
        assert_eq!(attempt, n);
        assert!(reason.contains("500"), "{reason}");
        let (low, high) = bounds.failure_bounds(n);
        assert!(
            next_in >= low && next_in <= high,
            "attempt {n}: {next_in:?} not in {low:?}..={high:?}"
        );
        assert!(next_in >= RT && next_in <= CAP);
    }
    assert_eq!(bounds.failure_bounds(5).1, CAP, "the cap was reached");
    assert_eq!(run.next_event().await, ev("message", "back", ""));
    run.cancel().await.unwrap();
}

#[tokio::test]
async fn retry_after_is_honoured_on_429_and_503() {
    let server = ScriptedServer::start(|mut c: Conn| async move {
        match c.request.index {
            0 => drop(
                c.status("429 Too Many Requests", &[("Retry-After", "1")])
                    .await,
            ),
            1 => drop(
                c.status("503 Service Unavailable", &[("Retry-After", "2")])
                    .await,
            ),
            _ => c.hold(HOLD).await,
        }
    })
    .await
    .unwrap();
    let mut run = Running::start(config(server.url("/")));
    let (_, next_in, _) = run.next_reconnect().await;
    assert_eq!(next_in, Duration::from_secs(1));
    let (_, next_in, _) = run.next_reconnect().await;
    assert_eq!(next_in, Duration::from_secs(2));
    run.cancel().await.unwrap();
}

async fn stop_case(status_or_type: &'static str) -> (Result<CleanStop, SseError>, String, usize) {
    let server = ScriptedServer::start(move |mut c: Conn| async move {
        if let Some(content_type) = status_or_type.strip_prefix("type:") {
            let _ = c.write(sse_head(content_type, &[])).await;
            let _ = c.write("data: not sse\n\n").await;
        } else {
            let _ = c.status(status_or_type, &[]).await;
        }
    })
    .await
    .unwrap();
    let mut cfg = config(server.url("/events?x=1"));
    cfg.query_token = Some("s3cret".into());
    let run = Running::start(cfg);
    let (result, reason) = run.stopped().await;
    assert!(
        !reason.contains("s3cret"),
        "the token is never shown: {reason}"
    );
    let reqs = server.requests();
    assert_eq!(reqs[0].target, "/events?x=1&token=s3cret", "?token= auth");
    (result, reason, reqs.len())
}

#[tokio::test]
async fn stops_cleanly_on_204() {
    let (result, _, requests) = stop_case("204 No Content").await;
    assert_eq!(result, Ok(CleanStop::NoContent));
    assert_eq!(requests, 1);
}

#[tokio::test]
async fn stops_with_a_reason_on_401_403_404() {
    let (result, reason, requests) = stop_case("401 Unauthorized").await;
    assert!(
        matches!(result, Err(SseError::Unauthorized { .. })),
        "{result:?}"
    );
    assert!(
        reason.contains("401") && reason.contains("token=REDACTED"),
        "{reason}"
    );
    assert_eq!(requests, 1);
    let (result, _, requests) = stop_case("403 Forbidden").await;
    assert!(
        matches!(result, Err(SseError::Forbidden { .. })),
        "{result:?}"
    );
    assert_eq!(requests, 1);
    let (result, reason, requests) = stop_case("404 Not Found").await;
    assert!(
        matches!(result, Err(SseError::NotFound { .. })),
        "{result:?}"
    );
    assert!(reason.contains("404"), "{reason}");
    assert_eq!(requests, 1);
}

#[tokio::test]
async fn stops_on_a_content_type_that_is_not_event_stream() {
    let (result, reason, requests) = stop_case("type:application/json").await;
    assert!(
        matches!(result, Err(SseError::WrongContentType { .. })),
        "{result:?}"
    );
    assert!(reason.contains("application/json"), "{reason}");
    assert_eq!(requests, 1);
}

#[tokio::test]
async fn idle_timeout_forces_a_reconnect_but_comments_keep_it_alive() {
    let server = ScriptedServer::start(|mut c: Conn| async move {
        let _ = c.sse_head().await;
        if c.request.index == 0 {
            let _ = c.write("data: a\n\n").await;
            // Comments well inside the idle timeout: the connection must survive them.
            for _ in 0..12 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if c.write(": heartbeat\n\n").await.is_err() {
                    return;
                }
            }
            let _ = c.write("data: after-comments\n\n").await;
        }
        // Then silence, with the connection open.
        c.hold(HOLD).await;
    })
    .await
    .unwrap();
    let mut cfg = config(server.url("/"));
    cfg.idle_timeout = Duration::from_millis(800);
    let mut run = Running::start(cfg);
    assert_eq!(run.next_event().await.data, "a");
    // Arrives only if no idle timeout fired while comments were flowing.
    assert_eq!(run.next_event().await.data, "after-comments");
    let (_, next_in, reason) = run.next_reconnect().await;
    assert!(reason.contains("idle timeout"), "{reason}");
    assert_eq!(next_in, RT, "the connection had delivered events");
    run.cancel().await.unwrap();
}

#[tokio::test]
async fn gzip_bodies_are_decoded_and_charset_is_accepted() {
    let server = ScriptedServer::start(|mut c: Conn| async move {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let _ = gz.write_all(b"event: a\ndata: zipped \xe2\x9c\x93\n\n");
        let body = gz.finish().unwrap_or_default();
        let head = sse_head(
            "text/event-stream; charset=utf-8",
            &[("Content-Encoding", "gzip")],
        );
        let _ = c.write(head).await;
        let _ = c.write(body).await;
    })
    .await
    .unwrap();
    let mut cfg = config(server.url("/"));
    cfg.follow = false;
    let mut run = Running::start(cfg);
    assert_eq!(run.next_event().await, ev("a", "zipped \u{2713}", ""));
    let (result, _) = run.stopped().await;
    assert_eq!(result, Ok(CleanStop::Completed));
    let accept = server.requests()[0]
        .header("accept-encoding")
        .unwrap_or("")
        .to_string();
    assert!(accept.contains("gzip"), "{accept}");
}

#[tokio::test]
async fn redirects_are_followed_with_custom_headers_and_bearer() {
    let server = ScriptedServer::start(|mut c: Conn| async move {
        if c.request.path() == "/old" {
            let _ = c
                .status("307 Temporary Redirect", &[("Location", "/new")])
                .await;
        } else {
            let _ = c.sse_head().await;
            let _ = c.write("data: moved\n\n").await;
            c.hold(HOLD).await;
        }
    })
    .await
    .unwrap();
    let mut cfg = config(server.url("/old"));
    cfg.headers = vec![("X-Tenant".into(), "acme".into())];
    cfg.bearer = Some("tok".into());
    let mut run = Running::start(cfg);
    assert_eq!(run.next_event().await.data, "moved");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].path(), "/new");
    for r in &reqs {
        assert_eq!(r.header("x-tenant"), Some("acme"));
        assert_eq!(r.header("authorization"), Some("Bearer tok"));
    }
    run.cancel().await.unwrap();
}

#[tokio::test]
async fn a_one_mebibyte_event_arrives_whole() {
    const SIZE: usize = 1024 * 1024;
    let server = ScriptedServer::start(|mut c: Conn| async move {
        let _ = c.sse_head().await;
        let mut body = b"event: big\ndata: ".to_vec();
        body.extend(std::iter::repeat_n(b'x', SIZE));
        body.extend(b"\ndata: end\n\ndata: next\n\n");
        for piece in body.chunks(50_000) {
            if c.write(piece).await.is_err() {
                return;
            }
        }
        c.hold(HOLD).await;
    })
    .await
    .unwrap();
    let mut run = Running::start(config(server.url("/")));
    let big = run.next_event().await;
    assert_eq!(big.event_type, "big");
    assert_eq!(big.data.len(), SIZE + "\nend".len());
    assert!(big.data.ends_with("x\nend"));
    assert_eq!(run.next_event().await.data, "next");
    run.cancel().await.unwrap();
}

#[tokio::test]
async fn ten_thousand_small_events_arrive_in_order() {
    const N: usize = 10_000;
    let server = ScriptedServer::start(|mut c: Conn| async move {
        let _ = c.sse_head().await;
        let mut batch = String::new();
        for i in 0..N {
            batch.push_str(&format!("id: {i}\nevent: tick\ndata: {{\"n\":{i}}}\n\n"));
            if batch.len() > 8192 {
                if c.write(&batch).await.is_err() {
                    return;
                }
                batch.clear();
            }
        }
        let _ = c.write(&batch).await;
        c.hold(HOLD).await;
    })
    .await
    .unwrap();
    // A small channel: the client must wait for the consumer, not drop or buffer.
    let mut run = Running::start_with_capacity(config(server.url("/")), 8);
    for i in 0..N {
        let e = run.next_event().await;
        assert_eq!(e, ev("tick", &format!("{{\"n\":{i}}}"), &i.to_string()));
    }
    run.cancel().await.unwrap();
}

#[tokio::test]
async fn a_server_dripping_one_byte_per_write_is_parsed_exactly() {
    let stream =
        "\u{FEFF}: hello\r\nretry: 70\r\nid: 1\revent: stage\ndata: caf\u{e9} \u{1F600}\r\n\
                  data: line2\r\n\r\n:ping\n\ndata: plain\n\n";
    let server = ScriptedServer::start(move |mut c: Conn| async move {
        let _ = c.sse_head().await;
        if c.request.index == 0 {
            let _ = c.drip(stream).await;
        } else {
            c.hold(HOLD).await;
        }
    })
    .await
    .unwrap();
    let mut run = Running::start(config(server.url("/")));
    assert_eq!(
        run.next_event().await,
        ev("stage", "caf\u{e9} \u{1F600}\nline2", "1")
    );
    assert_eq!(run.next_event().await, ev("message", "plain", "1"));
    let (_, next_in, _) = run.next_reconnect().await;
    assert_eq!(
        next_in,
        Duration::from_millis(70),
        "retry: parsed from single bytes"
    );
    run.cancel().await.unwrap();
}

#[tokio::test]
async fn follow_false_stops_after_a_completed_stream() {
    // Seed 002: the final status, then the server closes.
    let server = ScriptedServer::start(|mut c: Conn| async move {
        let _ = c.sse_head().await;
        let _ = c
            .write("data: {\"status\":\"completed\",\"testId\":\"t1\"}\n\n")
            .await;
    })
    .await
    .unwrap();
    let mut cfg = config(server.url("/api/test-status/events/t1"));
    cfg.follow = false;
    let mut run = Running::start(cfg);
    assert!(run.next_event().await.data.contains("completed"));
    let (result, _) = run.stopped().await;
    assert_eq!(result, Ok(CleanStop::Completed));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn follow_true_backs_off_when_a_finished_stream_repeats_itself() {
    let server = ScriptedServer::start(|mut c: Conn| async move {
        let _ = c.sse_head().await;
        let _ = c.write("data: {\"status\":\"completed\"}\n\n").await;
    })
    .await
    .unwrap();
    let mut run = Running::start(config(server.url("/")));
    let (_, first, reason) = run.next_reconnect().await;
    assert_eq!(first, RT, "first end: the server's pace ({reason})");
    let bounds = Backoff::new(RT, CAP);
    for n in 1..=4u32 {
        let (_, next_in, reason) = run.next_reconnect().await;
        assert!(reason.contains("repeated"), "{reason}");
        let (low, high) = bounds.failure_bounds(n);
        assert!(next_in >= low && next_in <= high, "repeat {n}: {next_in:?}");
    }
    run.cancel().await.unwrap();
}

#[tokio::test]
async fn network_errors_are_retried_with_backoff() {
    // Bind then drop a listener: nothing accepts on that port now.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut run = Running::start(config(format!("http://127.0.0.1:{port}/")));
    let (attempt, next_in, reason) = run.next_reconnect().await;
    assert_eq!((attempt, next_in), (1, RT), "{reason}");
    let (attempt, _, _) = run.next_reconnect().await;
    assert_eq!(attempt, 2);
    run.cancel().await.unwrap();
}

/// Seed 004: GET /api/v1/sse/connect sends `connected` with a connection id; events for
/// a job flow only after POST /api/v1/sse/{id}/subscribe/job/{jobId}. The server
/// forgets subscriptions when the connection closes, so they are redone on reconnect.
#[tokio::test]
async fn seed_004_two_step_subscribe_is_redone_after_every_reconnect() {
    let server = ScriptedServer::start(|mut c: Conn| async move {
        if c.request.method == "POST" {
            let _ = c.respond("200 OK", "application/json", b"{\"success\":true}").await;
            return;
        }
        // Number the streams (not the requests: POSTs are requests too).
        let gets = c.log.all().iter().filter(|r| r.method == "GET").count();
        let conn_id = format!("conn-{}", gets.saturating_sub(1));
        let _ = c.sse_head().await;
        let connected = format!(
            "event: connected\ndata: {{\"connectionId\":\"{conn_id}\",\"timestamp\":1699267200000}}\n\n"
        );
        if c.write(connected).await.is_err() {
            return;
        }
        let job_path = format!("/api/v1/sse/{conn_id}/subscribe/job/job-1");
        let queue_path = format!("/api/v1/sse/{conn_id}/subscribe/queue/resume-analysis");
        let log = c.log.clone();
        let subscribed = log.wait_for(DEADLINE, |r| r.method == "POST" && r.path() == job_path).await;
        let queued = log.wait_for(DEADLINE, |r| r.method == "POST" && r.path() == queue_path).await;
        if subscribed.is_none() || queued.is_none() {
            return;
        }
        let update = format!(
            "event: job_update\ndata: {{\"type\":\"job_update\",\"jobId\":\"job-1\",\"status\":\"in_progress\",\"progress\":{},\"via\":\"{conn_id}\"}}\n\n",
            if conn_id == "conn-0" { 40 } else { 80 }
        );
        let _ = c.write(update).await;
        let _ = c.write("event: heartbeat\ndata: {\"type\":\"heartbeat\"}\n\n").await;
        if conn_id == "conn-0" {
            // Drop the first connection: the client must reconnect and resubscribe.
            return;
        }
        c.hold(HOLD).await;
    })
    .await
    .unwrap();
    let mut cfg = config(server.url("/api/v1/sse/connect"));
    cfg.bearer = Some("b".into());
    cfg.subscribe = Some(TwoStep::new(vec![
        "/api/v1/sse/{connectionId}/subscribe/job/job-1".into(),
        "/api/v1/sse/{connectionId}/subscribe/queue/resume-analysis".into(),
    ]));
    let mut run = Running::start(cfg);

    let mut updates = Vec::new();
    while updates.len() < 2 {
        let e = run.next_event().await;
        if e.event_type == "job_update" {
            updates.push(e.data);
        }
    }
    assert!(updates[0].contains("\"progress\":40") && updates[0].contains("conn-0"));
    assert!(updates[1].contains("\"progress\":80") && updates[1].contains("conn-1"));

    let posts: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    let paths: Vec<&str> = posts.iter().map(|r| r.path()).collect();
    for id in ["conn-0", "conn-1"] {
        assert!(
            paths.contains(&format!("/api/v1/sse/{id}/subscribe/job/job-1").as_str()),
            "{paths:?}"
        );
        assert!(
            paths.contains(&format!("/api/v1/sse/{id}/subscribe/queue/resume-analysis").as_str()),
            "{paths:?}"
        );
    }
    for p in &posts {
        assert_eq!(
            p.header("authorization"),
            Some("Bearer b"),
            "auth on subscriptions too"
        );
    }
    run.cancel().await.unwrap();
}
