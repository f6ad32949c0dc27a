//! Each seed's SSE endpoint, scripted here from its document in `shared/seeds/`, run
//! through a real engine (`add_sse_source`, the hub, a SQLite file): the right jobs,
//! statuses, progress and errors must reach the store. Plus a restart in the middle of
//! a stream, which must resume with `Last-Event-ID` and store every event once.
//!
//! The servers send what the seeds' code writes, byte for byte where the code shows
//! it (`data: ${JSON.stringify(x)}\n\n`, `event: ${type}\n`, `: heartbeat ...`), and
//! keep the seeds' lifecycles: 000 and 001 stream until the client leaves, 002 and 003
//! close after completion and answer a reconnect with the final state, 004 needs its
//! subscriptions POSTed for every new connection id.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use telltale_core::board::EntityState;
use telltale_core::engine::{Engine, EngineOptions, SourceHealth};
use telltale_core::model::{EntityKind, Event, Status};
use telltale_core::normalize::FieldOverrides;
use telltale_core::source::sse::{SseSourceConfig, TwoStep};
use telltale_core::store::{EventFilter, Reader, Retention};
use telltale_tests::sse_server::{Conn, ScriptedServer};

/// Generous: these machines are shared with other builds.
const DEADLINE: Duration = Duration::from_secs(30);
/// How long a scripted stream stays open when it has nothing more to say.
const HOLD: Duration = Duration::from_secs(60);
/// A fixed "now" for the payloads' timestamps (2025-11-23).
const T: i64 = 1_763_900_000_000;

/// A temporary database and an engine on it.
struct Setup {
    _dir: tempfile::TempDir,
    db: PathBuf,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("telltale.db");
        Setup { _dir: dir, db }
    }

    fn engine(&self) -> Engine {
        Engine::start(EngineOptions {
            db: self.db.clone(),
            retention: Retention::default(),
        })
        .expect("engine starts")
    }

    fn reader(&self) -> Reader {
        Reader::open(&self.db).expect("open reader")
    }
}

/// Starts `cfg` on `engine` with no field overrides (what every seed here needs).
fn add(engine: &Engine, cfg: SseSourceConfig) {
    engine
        .add_sse_source(cfg, FieldOverrides::default())
        .expect("the source starts");
}

/// A source with test-sized timings: quick reconnects, a low backoff cap.
fn source(name: &str, url: String) -> SseSourceConfig {
    let mut c = SseSourceConfig::new(name, url);
    c.initial_retry = Duration::from_millis(50);
    c.max_backoff = Duration::from_millis(400);
    c.idle_timeout = Duration::from_secs(15);
    c
}

/// Polls `probe` until it answers, or fails the test naming `what`.
async fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let give_up = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An entity's latest state from the store's entities table. The hub writes that
/// table behind the events, so tests read it once the engine has shut down (which
/// writes it out); while running they wait on the events themselves.
fn latest(r: &Reader, kind: EntityKind, entity: &str) -> Option<EntityState> {
    let filter = EventFilter {
        kind: Some(kind),
        entity: Some(entity.to_string()),
        ..EventFilter::default()
    };
    r.latest(&filter, 1).unwrap().into_iter().next()
}

fn state(r: &Reader, kind: EntityKind, entity: &str) -> EntityState {
    latest(r, kind, entity).unwrap_or_else(|| panic!("{kind} {entity} is in the store"))
}

/// Waits until an event putting `entity` in `status` is stored, and returns it.
async fn wait_status(r: &Reader, kind: EntityKind, entity: &str, status: Status) -> Event {
    wait_for(&format!("{kind} {entity} to be {status}"), || {
        r.timeline(Some(kind), entity, 10_000)
            .unwrap()
            .into_iter()
            .find(|e| e.status == status)
    })
    .await
}

/// The statuses of an entity's stored events, oldest first.
fn statuses(r: &Reader, kind: EntityKind, entity: &str) -> Vec<Status> {
    r.timeline(Some(kind), entity, 10_000)
        .unwrap()
        .into_iter()
        .map(|e| e.status)
        .collect()
}

/// Every stored event of a source, oldest first.
fn events_of(r: &Reader, source: &str) -> Vec<Event> {
    let filter = EventFilter {
        source: Some(source.to_string()),
        ..EventFilter::default()
    };
    let mut all = r.query(&filter, 100_000).unwrap();
    all.reverse();
    all
}

/// The source's own notices (connected, reconnecting, stopped) with status `status`.
fn notices(r: &Reader, source: &str, status: Status) -> Vec<Event> {
    events_of(r, source)
        .into_iter()
        .filter(|e| e.kind == EntityKind::Source && e.status == status)
        .collect()
}

/// `data: <json>\n\n`: what every seed's `createSSEMessage` / `sendToClient` writes.
fn data(json: &str) -> String {
    format!("data: {json}\n\n")
}

/// `event: <type>\ndata: <json>\n\n`: seed 001 and 004's named events.
fn named(event: &str, json: &str) -> String {
    format!("event: {event}\ndata: {json}\n\n")
}

/// Writes each piece; `false` when the client has gone.
async fn send(c: &mut Conn, pieces: &[String]) -> bool {
    for p in pieces {
        if c.write(p).await.is_err() {
            return false;
        }
    }
    true
}

// ---------------------------------------------------------------------------------
// Seed 000: bearer-authenticated `/sse/batch/{batchId}/progress`, data-only messages.

async fn seed_000(mut c: Conn) {
    if c.request.header("authorization") != Some("Bearer tok-000") {
        let body = br#"{"success":false,"error":"Authentication required"}"#;
        let _ = c
            .respond("401 Unauthorized", "application/json", body)
            .await;
        return;
    }
    let Some(batch) = c
        .request
        .path()
        .strip_prefix("/sse/batch/")
        .and_then(|p| p.strip_suffix("/progress"))
        .map(str::to_string)
    else {
        let _ = c.respond("404 Not Found", "text/html", b"Cannot GET").await;
        return;
    };
    let _ = c
        .write(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\
         Connection: keep-alive\r\nX-Accel-Buffering: no\r\n\r\n",
        )
        .await;
    let b = &batch;
    let pieces = [
        data(r#"{"type":"connected","clientId":"5b0c7a1e-1d5e-4c3f-9d53-6a1f0f3e8c11"}"#),
        data(&format!(
            r#"{{"type":"job_started","batchId":"{b}","jobId":"j1","jobIndex":0,"totalJobs":3}}"#
        )),
        data(&format!(
            r#"{{"type":"job_completed","batchId":"{b}","jobId":"j1","issuesFixed":4,"progress":33}}"#
        )),
        data(&format!(
            r#"{{"type":"job_started","batchId":"{b}","jobId":"j2","jobIndex":1,"totalJobs":3}}"#
        )),
        data(&format!(
            r#"{{"type":"job_failed","batchId":"{b}","jobId":"j2","error":"EPUB is DRM-protected"}}"#
        )),
        data(&format!(
            r#"{{"type":"job_started","batchId":"{b}","jobId":"j3","jobIndex":2,"totalJobs":3}}"#
        )),
        data(&format!(
            r#"{{"type":"job_completed","batchId":"{b}","jobId":"j3","issuesFixed":0,"progress":100}}"#
        )),
        data(&format!(
            r#"{{"type":"batch_completed","batchId":"{b}","status":"partially_completed","summary":{{"total":3,"completed":2,"failed":1}}}}"#
        )),
    ];
    if send(&mut c, &pieces).await {
        // The seed keeps the response open until the client disconnects.
        c.hold(HOLD).await;
    }
}

#[tokio::test]
async fn seed_000_batch_progress_with_bearer_auth() {
    let server = ScriptedServer::start(seed_000).await.unwrap();
    let setup = Setup::new();
    let engine = setup.engine();
    let mut ok = source("epub", server.url("/sse/batch/b-42/progress"));
    ok.bearer = Some("tok-000".into());
    add(&engine, ok);
    let mut bad = source("epub-badtoken", server.url("/sse/batch/b-43/progress"));
    bad.bearer = Some("expired".into());
    add(&engine, bad);

    let r = setup.reader();
    // The last message of the stream.
    wait_status(&r, EntityKind::Job, "b-42", Status::Completed).await;
    assert_eq!(
        statuses(&r, EntityKind::Job, "j2"),
        [Status::Running, Status::Failed]
    );
    // The greeting is about the connection, not a job.
    let greeting = events_of(&r, "epub")
        .into_iter()
        .find(|e| e.raw.contains("\"connected\""))
        .expect("the connected message is stored");
    assert_eq!(greeting.kind, EntityKind::Source);

    // The wrong token stops its source with the reason, and only that source.
    let stopped = wait_for("the bad token's source to stop", || {
        notices(&r, "epub-badtoken", Status::Stopped).pop()
    })
    .await;
    assert!(
        stopped.error.as_deref().unwrap_or_default().contains("401"),
        "{stopped:?}"
    );
    let bad_state = engine.source_states().get("epub-badtoken").unwrap();
    assert_eq!(bad_state.health, SourceHealth::Stopped);
    assert_eq!(
        engine.source_states().get("epub").unwrap().health,
        SourceHealth::Live,
        "{:?}",
        notices(&r, "epub", Status::Reconnecting)
    );
    let bad_requests = server
        .requests()
        .iter()
        .filter(|q| q.path().contains("b-43"))
        .count();
    assert_eq!(bad_requests, 1, "a 401 is not retried");
    engine.shutdown().await;

    let r = setup.reader();
    let batch = state(&r, EntityKind::Job, "b-42");
    assert_eq!(batch.status, Status::Completed);
    assert_eq!(
        batch.message.as_deref(),
        Some("partially completed: 2 completed, 1 failed, 3 total")
    );
    let j1 = state(&r, EntityKind::Job, "j1");
    assert_eq!((j1.status, j1.progress), (Status::Completed, Some(33.0)));
    assert_eq!(j1.parent.as_deref(), Some("b-42"));
    let j2 = state(&r, EntityKind::Job, "j2");
    assert_eq!(j2.status, Status::Failed);
    assert_eq!(j2.error.as_deref(), Some("EPUB is DRM-protected"));
    assert_eq!(j2.parent.as_deref(), Some("b-42"));
    let j3 = state(&r, EntityKind::Job, "j3");
    assert_eq!((j3.status, j3.progress), (Status::Completed, Some(100.0)));
}

// ---------------------------------------------------------------------------------
// Seed 001: `/api/realtime/events?merchantId=`, an unnamed `connected` message, then
// events named after their `type`, and `: heartbeat <ms>` comments every 15 s (here
// every 150 ms, against a 600 ms idle timeout).

async fn seed_001(mut c: Conn) {
    if !c.request.target.contains("merchantId=M1") {
        let _ = c
            .respond(
                "401 Unauthorized",
                "application/json",
                br#"{"error":"Unauthorized"}"#,
            )
            .await;
        return;
    }
    let _ = c.write(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache, no-transform\r\n\
         Connection: keep-alive\r\nX-Accel-Buffering: no\r\n\r\n",
    )
    .await;
    let first = [
        data(&format!(
            r#"{{"type":"connected","merchantId":"M1","timestamp":{T}}}"#
        )),
        named(
            "stage",
            &format!(
                r#"{{"type":"stage","stage":"ai_parsing","poId":"po-1","workflowId":"wf-1","status":"started","message":"AI parsing started","timestamp":{T}}}"#
            ),
        ),
        named(
            "progress",
            &format!(
                r#"{{"type":"progress","poId":"po-1","progress":40,"message":"Parsing line items","timestamp":{T}}}"#
            ),
        ),
    ];
    if !send(&mut c, &first).await {
        return;
    }
    // A quiet spell longer than the idle timeout, kept alive by heartbeats only.
    for i in 0..8 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        if c.write(format!(": heartbeat {}\n\n", T + i)).await.is_err() {
            return;
        }
    }
    let rest = [
        named(
            "completion",
            &format!(
                r#"{{"type":"completion","stage":"ai_parsing","poId":"po-1","workflowId":"wf-1","lineItems":12,"confidence":0.93,"timestamp":{T}}}"#
            ),
        ),
        named(
            "stage",
            &format!(
                r#"{{"type":"stage","stage":"ai_parsing","poId":"po-2","workflowId":"wf-2","status":"started","message":"AI parsing started","timestamp":{T}}}"#
            ),
        ),
        named(
            "error",
            &format!(
                r#"{{"type":"error","stage":"ai_parsing","poId":"po-2","workflowId":"wf-2","error":"OpenAI request timed out","timestamp":{T}}}"#
            ),
        ),
    ];
    if send(&mut c, &rest).await {
        c.hold(HOLD).await;
    }
}

#[tokio::test]
async fn seed_001_named_events_and_heartbeats() {
    let server = ScriptedServer::start(seed_001).await.unwrap();
    let setup = Setup::new();
    let engine = setup.engine();
    let mut cfg = source(
        "po-pipeline",
        server.url("/api/realtime/events?merchantId=M1"),
    );
    cfg.idle_timeout = Duration::from_millis(600);
    add(&engine, cfg);

    let r = setup.reader();
    // The last message of the stream.
    wait_status(&r, EntityKind::Job, "po-2", Status::Failed).await;
    let timeline = r.timeline(Some(EntityKind::Job), "po-1", 100).unwrap();
    let seen: Vec<(Status, Option<f64>, Option<&str>)> = timeline
        .iter()
        .map(|e| (e.status.clone(), e.progress, e.channel.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            (Status::Running, None, Some("stage")),
            (Status::Running, Some(40.0), Some("progress")),
            (Status::Completed, None, Some("completion")),
        ]
    );
    assert_eq!(timeline[0].occurred_at, Some(T));
    assert_eq!(timeline[1].message.as_deref(), Some("Parsing line items"));

    // Heartbeats are comments: they kept the connection alive through the quiet
    // spell, and are not stored.
    assert_eq!(server.requests().len(), 1, "no idle-timeout reconnect");
    assert!(notices(&r, "po-pipeline", Status::Reconnecting).is_empty());
    let stored = events_of(&r, "po-pipeline");
    assert!(stored.iter().all(|e| !e.raw.contains("heartbeat")));
    let connected: Vec<&Event> = stored
        .iter()
        .filter(|e| e.raw.contains("\"connected\""))
        .collect();
    assert_eq!(connected.len(), 1);
    assert_eq!(connected[0].kind, EntityKind::Source);
    engine.shutdown().await;

    let r = setup.reader();
    let po1 = state(&r, EntityKind::Job, "po-1");
    assert_eq!(po1.status, Status::Completed);
    assert_eq!(po1.parent.as_deref(), Some("wf-1"));
    assert_eq!(po1.stage.as_deref(), Some("ai_parsing"));
    assert_eq!(po1.progress, Some(100.0), "completed means done");
    let po2 = state(&r, EntityKind::Job, "po-2");
    assert_eq!(po2.status, Status::Failed);
    assert_eq!(po2.error.as_deref(), Some("OpenAI request timed out"));
    assert_eq!(po2.stage.as_deref(), Some("ai_parsing"));
    assert_eq!(po2.parent.as_deref(), Some("wf-2"));
}

// ---------------------------------------------------------------------------------
// Seed 002: `/api/job-status/events/{runId}`. The first message is `waiting` (or
// `running` with the run), then status updates; the completion is sent and the stream
// closed. A run already finished gets its final status and an immediate close.

/// Whether each run has finished, as the seed's database would say.
#[derive(Default)]
struct Runs002 {
    r1_done: AtomicBool,
    r2_done: AtomicBool,
}

async fn seed_002(mut c: Conn, runs: Arc<Runs002>) {
    let Some(run) = c
        .request
        .path()
        .strip_prefix("/api/job-status/events/")
        .map(str::to_string)
    else {
        let _ = c.respond("404 Not Found", "text/html", b"").await;
        return;
    };
    let done = match run.as_str() {
        "r1" => &runs.r1_done,
        "r2" => &runs.r2_done,
        _ => {
            let _ = c.respond("404 Not Found", "text/html", b"").await;
            return;
        }
    };
    let _ = c.write(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache, no-transform\r\n\
         Connection: keep-alive\r\n\r\n",
    )
    .await;
    let started = "2025-11-23T10:00:00.000Z";
    let final_status = if run == "r1" {
        format!(
            r#"{{"status":"failed","runId":"r1","duration":"42s","startedAt":"{started}","completedAt":"2025-11-23T10:00:42.000Z","errorDetails":"2 of 5 tests failed"}}"#
        )
    } else {
        format!(
            r#"{{"status":"completed","runId":"r2","duration":"7s","startedAt":"{started}","completedAt":"2025-11-23T10:00:07.000Z"}}"#
        )
    };
    if done.load(Ordering::SeqCst) {
        // Already terminal: the final status, then close (the seed's first branch).
        let _ = c.write(data(&final_status)).await;
        return;
    }
    let opening = if run == "r1" {
        // The run is in the database and running.
        data(&format!(
            r#"{{"status":"running","runId":"r1","startedAt":"{started}","duration":null}}"#
        ))
    } else {
        // Not in the database yet.
        data(r#"{"status":"waiting"}"#)
    };
    let pieces = [
        opening,
        ": ping\n\n".to_string(),
        data(&format!(r#"{{"status":"running","runId":"{run}"}}"#)),
        data(&final_status),
    ];
    if send(&mut c, &pieces).await {
        done.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn seed_002_streams_close_after_completion() {
    let runs = Arc::new(Runs002::default());
    let server = ScriptedServer::start({
        let runs = runs.clone();
        move |c| seed_002(c, runs.clone())
    })
    .await
    .unwrap();
    let setup = Setup::new();
    let engine = setup.engine();
    // One job per URL, not followed: the job is done when the stream ends.
    let mut once = source("run-r1", server.url("/api/job-status/events/r1"));
    once.follow = false;
    add(&engine, once);
    // Followed: reconnects get the final status and a close, and must back off.
    let follow = source("run-r2", server.url("/api/job-status/events/r2"));
    add(&engine, follow);

    let r = setup.reader();
    let r1 = wait_status(&r, EntityKind::Job, "r1", Status::Failed).await;
    assert_eq!(r1.error.as_deref(), Some("2 of 5 tests failed"));
    assert_eq!(
        statuses(&r, EntityKind::Job, "r1"),
        [Status::Running, Status::Running, Status::Failed]
    );
    let stopped = wait_for("run-r1 to stop", || {
        notices(&r, "run-r1", Status::Stopped).pop()
    })
    .await;
    assert_eq!(stopped.error, None, "a finished job is a clean stop");
    let r1_requests = |s: &ScriptedServer| {
        s.requests()
            .iter()
            .filter(|q| q.path().ends_with("/r1"))
            .count()
    };
    assert_eq!(r1_requests(&server), 1, "not followed: no reconnect");

    wait_status(&r, EntityKind::Job, "r2", Status::Completed).await;
    // The reconnect was answered with the final status (a second `completed` event).
    wait_for("the reconnect's final status", || {
        let n = r
            .timeline(Some(EntityKind::Job), "r2", 100)
            .unwrap()
            .iter()
            .filter(|e| e.status == Status::Completed)
            .count();
        (n >= 2).then_some(())
    })
    .await;
    // The server has nothing new to say: the client must say so and slow down towards
    // the backoff cap (400 ms here) instead of polling every 50 ms (30+ requests in
    // the next 1.5 s).
    wait_for(
        "a reconnect that backs off on a repeated final status",
        || {
            notices(&r, "run-r2", Status::Reconnecting)
                .into_iter()
                .find(|e| {
                    e.message
                        .as_deref()
                        .unwrap_or_default()
                        .contains("nothing new")
                })
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r2_requests = server
        .requests()
        .iter()
        .filter(|q| q.path().ends_with("/r2"))
        .count();
    assert!(
        r2_requests <= 16,
        "backs off instead of polling every 50 ms: {r2_requests} requests"
    );
    assert_eq!(r1_requests(&server), 1);
    engine.shutdown().await;

    let r = setup.reader();
    let r1 = state(&r, EntityKind::Job, "r1");
    assert_eq!(r1.status, Status::Failed);
    assert_eq!(r1.error.as_deref(), Some("2 of 5 tests failed"));
    let r2 = state(&r, EntityKind::Job, "r2");
    assert_eq!((r2.status, r2.progress), (Status::Completed, Some(100.0)));
}

// ---------------------------------------------------------------------------------
// Seed 003: `/api/v1/runs/{runId}/events` with `?token=` auth. A snapshot of the run
// first, `: heartbeat` every 5 s, `log` lines, and `done` (no run id in either) after
// which the server ends the response. A finished run gets snapshot + done + close.

async fn seed_003(mut c: Conn, done: Arc<AtomicBool>) {
    if !c.request.target.contains("token=tok-003") {
        let _ = c
            .respond(
                "401 Unauthorized",
                "application/json",
                br#"{"error":"unauthorized"}"#,
            )
            .await;
        return;
    }
    if c.request.path() != "/api/v1/runs/run-7/events" {
        let _ = c
            .respond(
                "404 Not Found",
                "application/json",
                br#"{"error":"not found"}"#,
            )
            .await;
        return;
    }
    let _ = c
        .write(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\
         Connection: keep-alive\r\nX-Accel-Buffering: no\r\n\r\n",
        )
        .await;
    let finished = done.load(Ordering::SeqCst);
    let status = if finished { "failed" } else { "running" };
    let snapshot = format!(
        r#"{{"type":"snapshot","run":{{"id":"run-7","projectId":"p-1","status":"{status}","startedAt":"2025-11-23T10:00:00.000Z","logs":["[10:00:00] Crawling https://shop.example"],"tests":[]}}}}"#
    );
    let done_msg = data(r#"{"type":"done","status":"failed","passed":3,"failed":1,"total":4}"#);
    let pieces = if finished {
        vec![data(&snapshot), done_msg]
    } else {
        vec![
            data(&snapshot),
            ": heartbeat\n\n".to_string(),
            data(r#"{"type":"log","message":"[10:00:03] Generated 4 tests"}"#),
            data(r#"{"type":"log","message":"[10:00:09] checkout.spec failed"}"#),
            done_msg,
        ]
    };
    if send(&mut c, &pieces).await {
        done.store(true, Ordering::SeqCst);
    }
    // `res.end()`: dropping the connection ends the close-delimited body.
}

#[tokio::test]
async fn seed_003_snapshot_then_done_names_the_run() {
    let done = Arc::new(AtomicBool::new(false));
    let server = ScriptedServer::start({
        let done = done.clone();
        move |c| seed_003(c, done.clone())
    })
    .await
    .unwrap();
    let setup = Setup::new();
    let engine = setup.engine();
    let mut run = source("sentri-run", server.url("/api/v1/runs/run-7/events"));
    run.query_token = Some("tok-003".into());
    run.follow = false;
    add(&engine, run);
    let mut missing = source("sentri-missing", server.url("/api/v1/runs/run-0/events"));
    missing.query_token = Some("tok-003".into());
    add(&engine, missing);

    let r = setup.reader();
    wait_status(&r, EntityKind::Job, "run-7", Status::Failed).await;
    let timeline = r.timeline(Some(EntityKind::Job), "run-7", 100).unwrap();
    let seen: Vec<(Status, Option<&str>)> = timeline
        .iter()
        .map(|e| (e.status.clone(), e.message.as_deref()))
        .collect();
    // `log` and `done` carry no run id; the engine gives them the run the snapshot
    // named on the same connection.
    assert_eq!(
        seen,
        [
            (Status::Running, None),
            (Status::Info, Some("[10:00:03] Generated 4 tests")),
            (Status::Info, Some("[10:00:09] checkout.spec failed")),
            (Status::Failed, Some("3 passed, 1 failed, 4 total")),
        ]
    );
    assert!(
        latest(&r, EntityKind::Job, "sentri-run").is_none(),
        "no job named after the source"
    );
    let stopped = wait_for("the run's source to stop", || {
        notices(&r, "sentri-run", Status::Stopped).pop()
    })
    .await;
    assert_eq!(stopped.error, None);

    let not_found = wait_for("the missing run's source to stop", || {
        notices(&r, "sentri-missing", Status::Stopped).pop()
    })
    .await;
    let reason = not_found.error.unwrap_or_default();
    assert!(reason.contains("404"), "{reason}");
    assert!(
        !reason.contains("tok-003"),
        "the token is redacted: {reason}"
    );
    assert_eq!(server.requests().len(), 2, "neither source reconnected");
    engine.shutdown().await;

    let r = setup.reader();
    let run7 = state(&r, EntityKind::Job, "run-7");
    assert_eq!(run7.status, Status::Failed);
    assert_eq!(run7.message.as_deref(), Some("3 passed, 1 failed, 4 total"));
    assert!(latest(&r, EntityKind::Job, "sentri-run").is_none());
}

// ---------------------------------------------------------------------------------
// Seed 004: GET `/api/v1/sse/connect` sends `event: connected` with a connection id;
// nothing else arrives until the client POSTs `/api/v1/sse/{id}/subscribe/job/{jobId}`
// and `/subscribe/queue/{queue}`. Then named `job_update`, `queue_update`,
// `worker_status` and `heartbeat` events. The first connection ends early (a server
// restart): the second has a new id, and gets nothing until it subscribes again.

const SUBSCRIPTIONS_004: [&str; 3] = [
    "/api/v1/sse/{connectionId}/subscribe/job/job-9",
    "/api/v1/sse/{connectionId}/subscribe/job/job-10",
    "/api/v1/sse/{connectionId}/subscribe/queue/resume-analysis",
];

async fn seed_004(mut c: Conn, connections: Arc<AtomicUsize>) {
    if c.request.method == "POST" {
        let _ = c
            .respond("200 OK", "application/json", br#"{"success":true}"#)
            .await;
        return;
    }
    if c.request.path() != "/api/v1/sse/connect" {
        let _ = c.respond("404 Not Found", "text/html", b"").await;
        return;
    }
    let n = connections.fetch_add(1, Ordering::SeqCst) + 1;
    let id = format!("conn-{n}");
    let _ = c
        .write(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\
         Connection: keep-alive\r\nX-Accel-Buffering: no\r\n\r\n",
        )
        .await;
    if c.write(named(
        "connected",
        &format!(r#"{{"connectionId":"{id}","timestamp":{T}}}"#),
    ))
    .await
    .is_err()
    {
        return;
    }
    // Nothing flows on this connection until all its subscriptions have arrived.
    for template in SUBSCRIPTIONS_004 {
        let path = template.replace("{connectionId}", &id);
        let seen = c
            .log
            .wait_for(DEADLINE, |q| q.method == "POST" && q.target == path)
            .await;
        if seen.is_none() {
            return;
        }
    }
    let subscribed = [
        named("subscribed", r#"{"type":"job","jobId":"job-9"}"#),
        named("subscribed", r#"{"type":"job","jobId":"job-10"}"#),
        named(
            "subscribed",
            r#"{"type":"queue","queueName":"resume-analysis"}"#,
        ),
    ];
    let job = |body: &str| {
        named(
            "job_update",
            &format!(r#"{{"type":"job_update",{body},"timestamp":{T}}}"#),
        )
    };
    let queue = |counts: &str| {
        named(
            "queue_update",
            &format!(
                r#"{{"type":"queue_update","queueName":"resume-analysis","timestamp":{T},{counts}}}"#
            ),
        )
    };
    let mut pieces: Vec<String> = subscribed.to_vec();
    if n == 1 {
        pieces.extend([
            job(r#""jobId":"job-9","status":"started","progress":0,"stage":"initializing","message":"Starting analysis","resumeId":"resume-123""#),
            job(r#""jobId":"job-9","status":"in_progress","progress":50,"stage":"parsing","message":"Parsing resume content","resumeId":"resume-123""#),
            named("heartbeat", &format!(r#"{{"timestamp":{T}}}"#)),
            queue(r#""waiting":5,"active":2,"completed":100,"failed":3,"delayed":1"#),
        ]);
        // The server restarts: this connection ends, and its id is forgotten.
        let _ = send(&mut c, &pieces).await;
        return;
    }
    pieces.extend([
        named(
            "worker_status",
            &format!(r#"{{"type":"worker_status","workerId":"worker-1","timestamp":{T},"status":"active","currentJob":"job-9","concurrency":5}}"#),
        ),
        job(r#""jobId":"job-9","status":"completed","progress":100,"stage":"storing","message":"Analysis complete","result":{"score":87}"#),
        job(r#""jobId":"job-10","status":"failed","progress":20,"stage":"fetching","message":"Download failed","error":"Unsupported file type: application/zip""#),
        queue(r#""waiting":4,"active":1,"completed":101,"failed":4,"delayed":1"#),
        named(
            "worker_status",
            &format!(r#"{{"type":"worker_status","workerId":"worker-1","timestamp":{T},"status":"idle","concurrency":5}}"#),
        ),
    ]);
    if send(&mut c, &pieces).await {
        c.hold(HOLD).await;
    }
}

#[tokio::test]
async fn seed_004_two_step_subscribe_through_the_engine() {
    let connections = Arc::new(AtomicUsize::new(0));
    let server = ScriptedServer::start({
        let connections = connections.clone();
        move |c| seed_004(c, connections.clone())
    })
    .await
    .unwrap();
    let setup = Setup::new();
    let engine = setup.engine();
    let mut cfg = source("resume-api", server.url("/api/v1/sse/connect"));
    cfg.subscribe = Some(TwoStep::new(
        SUBSCRIPTIONS_004.iter().map(|s| s.to_string()).collect(),
    ));
    add(&engine, cfg);

    let r = setup.reader();
    // The last message of the second connection.
    wait_status(&r, EntityKind::Worker, "worker-1", Status::Idle).await;
    assert_eq!(
        statuses(&r, EntityKind::Worker, "worker-1"),
        [Status::Busy, Status::Idle],
        "`active` means busy"
    );

    // job-9's history spans both connections, in order.
    let progress: Vec<Option<f64>> = r
        .timeline(Some(EntityKind::Job), "job-9", 100)
        .unwrap()
        .iter()
        .map(|e| e.progress)
        .collect();
    assert_eq!(progress, [Some(0.0), Some(50.0), Some(100.0)]);

    // Both connections subscribed, each with its own id.
    let posts: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|q| q.method == "POST")
        .map(|q| q.target)
        .collect();
    for n in 1..=2 {
        for template in SUBSCRIPTIONS_004 {
            let path = template.replace("{connectionId}", &format!("conn-{n}"));
            assert!(posts.contains(&path), "{path} in {posts:?}");
        }
    }
    // Connection notices, `subscribed` and `heartbeat` belong to the source.
    let source_only: Vec<Event> = events_of(&r, "resume-api")
        .into_iter()
        .filter(|e| {
            matches!(
                e.channel.as_deref(),
                Some("connected" | "subscribed" | "heartbeat")
            )
        })
        .collect();
    assert_eq!(source_only.len(), 2 + 6 + 1);
    assert!(source_only.iter().all(|e| e.kind == EntityKind::Source));
    engine.shutdown().await;

    let r = setup.reader();
    let job9 = state(&r, EntityKind::Job, "job-9");
    assert_eq!(
        (job9.status, job9.progress),
        (Status::Completed, Some(100.0))
    );
    assert_eq!(job9.stage.as_deref(), Some("storing"));
    let job10 = state(&r, EntityKind::Job, "job-10");
    assert_eq!(job10.status, Status::Failed);
    assert_eq!(
        job10.error.as_deref(),
        Some("Unsupported file type: application/zip")
    );
    let counts = state(&r, EntityKind::Queue, "resume-analysis")
        .counts
        .unwrap();
    assert_eq!(
        (
            counts.waiting,
            counts.active,
            counts.completed,
            counts.failed,
            counts.delayed
        ),
        (Some(4), Some(1), Some(101), Some(4), Some(1))
    );
    assert_eq!(
        state(&r, EntityKind::Worker, "worker-1").status,
        Status::Idle
    );
}

// ---------------------------------------------------------------------------------
// Restart: the engine stops while events are flowing and starts again on the same
// database. The server resumes after the `Last-Event-ID` it receives, as SSE servers
// with ids do, so a wrong cursor shows up as a gap or a duplicate.

const RESTART_EVENTS: u64 = 300;

async fn numbered_stream(mut c: Conn) {
    let after: u64 = c
        .request
        .header("last-event-id")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if c.sse_head().await.is_err() {
        return;
    }
    for n in after + 1..=RESTART_EVENTS {
        let event = format!(
            "id: {n}\nevent: job_update\ndata: {{\"jobId\":\"job-{}\",\"status\":\"running\",\"progress\":{}}}\n\n",
            n % 7,
            n % 100
        );
        if c.write(event).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    c.hold(HOLD).await;
}

/// The remote ids of the source's stored job events, in seq order.
fn stored_ids(db: &Path, source: &str) -> Vec<u64> {
    let r = Reader::open(db).unwrap();
    events_of(&r, source)
        .into_iter()
        .filter(|e| e.kind == EntityKind::Job)
        .map(|e| {
            e.remote_id
                .as_deref()
                .and_then(|id| id.parse().ok())
                .expect("every job event has its numeric id")
        })
        .collect()
}

#[tokio::test]
async fn a_restart_mid_stream_resumes_from_the_stored_cursor_exactly_once() {
    let server = ScriptedServer::start(numbered_stream).await.unwrap();
    let setup = Setup::new();
    let name = "numbered";

    let engine = setup.engine();
    engine
        .add_sse_source(
            source(name, server.url("/stream")),
            FieldOverrides::default(),
        )
        .unwrap();
    wait_for("some events before the restart", || {
        (stored_ids(&setup.db, name).len() >= 40).then_some(())
    })
    .await;
    engine.shutdown().await;

    let before = stored_ids(&setup.db, name);
    assert!(
        (before.len() as u64) < RESTART_EVENTS,
        "stopped mid-stream ({} events)",
        before.len()
    );
    let last = *before.last().unwrap();
    assert_eq!(before, (1..=last).collect::<Vec<_>>(), "a prefix, in order");
    let cursor = setup.reader().cursor(name).unwrap();
    assert_eq!(
        cursor,
        Some(last.to_string()),
        "the cursor is the last stored id"
    );

    let engine = setup.engine();
    engine
        .add_sse_source(
            source(name, server.url("/stream")),
            FieldOverrides::default(),
        )
        .unwrap();
    wait_for("every event after the restart", || {
        (stored_ids(&setup.db, name).len() as u64 >= RESTART_EVENTS).then_some(())
    })
    .await;
    let flushed = engine.hub().sender().flush().await.unwrap();
    assert!(flushed > 0);
    assert_eq!(
        engine.hub().health().duplicates,
        0,
        "nothing was sent twice"
    );
    engine.shutdown().await;

    let requests = server.requests();
    assert_eq!(requests.len(), 2, "one connection per engine run");
    assert_eq!(requests[0].header("last-event-id"), None);
    assert_eq!(
        requests[1].header("last-event-id"),
        Some(last.to_string().as_str()),
        "the restart resumes from the last stored id"
    );
    assert_eq!(
        stored_ids(&setup.db, name),
        (1..=RESTART_EVENTS).collect::<Vec<_>>(),
        "every event exactly once, in order"
    );
}

#[tokio::test]
async fn an_id_reset_is_kept_across_a_restart() {
    let server = ScriptedServer::start(|mut c: Conn| async move {
        let _ = c.sse_head().await;
        if c.request.index == 0 {
            let _ = c
                .write("id: 1\ndata: {\"jobId\":\"a\",\"status\":\"running\"}\n\n")
                .await;
            // `id` with no value: clients must stop sending `Last-Event-ID`.
            let _ = c
                .write("id\ndata: {\"jobId\":\"a\",\"status\":\"completed\"}\n\n")
                .await;
        }
        c.hold(HOLD).await;
    })
    .await
    .unwrap();
    let setup = Setup::new();
    let name = "resets";
    let engine = setup.engine();
    add(&engine, source(name, server.url("/s")));
    let r = setup.reader();
    wait_status(&r, EntityKind::Job, "a", Status::Completed).await;
    engine.shutdown().await;
    assert_eq!(r.cursor(name).unwrap(), Some(String::new()));

    let engine = setup.engine();
    add(&engine, source(name, server.url("/s")));
    let second = server
        .log
        .wait_for(DEADLINE, |q| q.index == 1)
        .await
        .expect("the restarted engine connects");
    assert_eq!(second.header("last-event-id"), None, "not the stale id 1");
    engine.shutdown().await;
}
