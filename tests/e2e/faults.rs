//! The fault suite (issue 9): real processes, real sockets on 127.0.0.1, real SQLite
//! files, and a deadline on every wait.
//!
//! - `telltale serve`, the program users run, killed with SIGKILL mid-ingest and
//!   restarted on the same database: every event the server sent is stored once.
//! - Misbehaving SSE servers (stalled, garbage, a 100 MiB line, closed mid-event,
//!   dripping) beside a good one in one engine: the good one is untouched, each bad one
//!   shows a reason, memory stays bounded, and each recovers when its server does.
//! - Ten relay clients reconnecting at random while 10,000 events flow in from a real
//!   SSE source: each ends with every event exactly once.
//! - Relay hardening not covered by `relay.rs`: request size limits, the rate limit,
//!   the token comparison, and no route that could write to a monitored system.
//!
//! Other fault tests live beside their feature and are not repeated here:
//! `store_crash.rs` (SIGKILL of a bare hub), `disk_full.rs`, `relay.rs` (six
//! reconnecting clients, slow client memory, wrong token, DNS rebinding, foreign
//! peers), `redis_pubsub.rs` and `bullmq.rs` (Redis restarts, gaps, trimming).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, RngCore, SeedableRng};
use telltale_core::model::{EntityKind, Event};
use telltale_core::normalize::FieldOverrides;
use telltale_core::relay::{AccessToken, RateLimit};
use telltale_core::source::sse::SseSourceConfig;
use telltale_core::store::{EventFilter, Reader};
use telltale_tests::faults::{
    memory_of, numbered_data, reset_peak_memory, run_test_in_child, serve_numbered,
    telltale_binary, telltale_command, wait_until, Pace, SentLog, Serve, SERVE_TOKEN,
};
use telltale_tests::relay_client::{RawSse, RelayHarness, TEST_TOKEN};
use telltale_tests::sse_server::{Conn, ScriptedServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A response's JSON body (this crate's reqwest has no `json` feature).
async fn json(resp: reqwest::Response) -> serde_json::Value {
    let body = resp.bytes().await.expect("response body");
    serde_json::from_slice(&body).expect("a JSON body")
}

/// Every event of `source` in the store, in seq order.
fn events_of(db: &Path, source: &str) -> Vec<Event> {
    let Ok(r) = Reader::open(db) else {
        return Vec::new();
    };
    let filter = EventFilter {
        source: Some(source.into()),
        ..Default::default()
    };
    r.since(0, &filter, usize::MAX >> 1).unwrap_or_default()
}

/// The numeric SSE ids of the source's stored job events, in seq order.
fn job_ids(db: &Path, source: &str) -> Vec<u64> {
    events_of(db, source)
        .into_iter()
        .filter(|e| e.kind == EntityKind::Job)
        .filter_map(|e| e.remote_id.as_deref().and_then(|id| id.parse().ok()))
        .collect()
}

// ---------------------------------------------------------------------------------
// SIGKILL of `telltale serve` mid-ingest.

const KILL_TOTAL: u64 = 20_000;

/// The program itself, not an in-process engine: `telltale serve --source URL` with
/// its own argument parsing, config loading and runtime. The server honours
/// `Last-Event-ID` as SSE servers with ids do, so a cursor saved ahead of the events
/// would show as a gap and one saved behind them as events offered twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_killed_with_sigkill_mid_ingest_then_restarted_stores_every_sent_event_exactly_once()
{
    let bin = telltale_binary().unwrap_or_else(|e| panic!("{e:#}"));
    let sent = SentLog::default();
    let log = sent.clone();
    let server = ScriptedServer::start(move |mut c: Conn| {
        let sent = log.clone();
        async move {
            let pace = Pace {
                per_write: 4,
                pause: Duration::from_millis(1),
            };
            let _ = serve_numbered(&mut c, "crash", KILL_TOTAL, pace, &sent).await;
        }
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let url = server.url("/events");
    let name = format!("127.0.0.1:{}/events", server.addr.port());

    let first = Serve::start(&bin, dir.path(), &db, std::slice::from_ref(&url), secs(60))
        .await
        .unwrap();
    let stored_before_kill = wait_until("3,000 events stored before the kill", secs(90), || {
        let n = job_ids(&db, &name).len();
        (n >= 3_000).then_some(n)
    })
    .await
    .unwrap_or_else(|e| panic!("{e}; stderr:\n{}", first.stderr()));
    first.kill9(secs(10)).await.unwrap();
    let sent_to_first = sent.last_on(0).expect("the first process was sent events");

    // What the killed process left: a sound database whose cursor is its last event.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok", "the database survived SIGKILL intact");
    drop(conn);
    let reader = Reader::open(&db).unwrap();
    let cursor: u64 = reader
        .cursor(&name)
        .unwrap()
        .expect("a cursor was committed")
        .parse()
        .unwrap();
    drop(reader);
    let after_kill = job_ids(&db, &name);
    assert_eq!(
        after_kill,
        (1..=cursor).collect::<Vec<_>>(),
        "after SIGKILL: a gapless prefix, each once, ending at the cursor"
    );
    assert!(
        cursor < KILL_TOTAL,
        "killed mid-ingest (cursor {cursor} of {KILL_TOTAL})"
    );
    assert!(cursor as usize >= stored_before_kill);

    let restart_at = server.requests().len();
    let second = Serve::start(&bin, dir.path(), &db, std::slice::from_ref(&url), secs(60))
        .await
        .unwrap();
    wait_until("every event after the restart", secs(120), || {
        (job_ids(&db, &name).len() as u64 >= KILL_TOTAL).then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}; stderr:\n{}", second.stderr()));

    let requests = server.requests();
    let resumed = requests
        .get(restart_at)
        .expect("the restarted program connected");
    assert_eq!(
        resumed.header("last-event-id"),
        Some(cursor.to_string().as_str()),
        "the restart resumes from the committed cursor"
    );
    let health = second.get_json("/api/health").await.unwrap();
    assert_eq!(
        health["hub"]["duplicates"].as_u64(),
        Some(0),
        "nothing was offered to the store twice: {health}"
    );
    let sources = second.get_json("/api/sources").await.unwrap();
    let row = sources["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name.as_str())
        .unwrap_or_else(|| panic!("{name} in /api/sources: {sources}"));
    assert_eq!(row["health"], "live", "{row}");
    let status = second.terminate(secs(30)).await.unwrap();
    assert!(status.success(), "SIGTERM exits 0, got {status}");

    // The whole history against what the server sent.
    let stored: Vec<Event> = events_of(&db, &name)
        .into_iter()
        .filter(|e| e.kind == EntityKind::Job)
        .collect();
    let ids: Vec<u64> = stored
        .iter()
        .map(|e| e.remote_id.as_deref().unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        ids,
        (1..=KILL_TOTAL).collect::<Vec<_>>(),
        "every event exactly once, in order"
    );
    let distinct_sent: Vec<u64> = sent.distinct().into_iter().collect();
    assert_eq!(
        ids, distinct_sent,
        "stored = sent, none missing, none twice"
    );
    for e in &stored {
        let n: u64 = e.remote_id.as_deref().unwrap().parse().unwrap();
        assert_eq!(
            e.raw,
            numbered_data("crash", n),
            "event {n} stored verbatim"
        );
    }
    eprintln!(
        "sigkill: {stored_before_kill}+ stored when killed, cursor {cursor}, {} sent to the killed \
         process were in flight and sent again after the restart; {} stored in all",
        sent_to_first.saturating_sub(cursor),
        ids.len()
    );
}

/// The exit status scripts and service managers see when `serve` cannot start: non-zero,
/// with a one-line reason on stderr and nothing on stdout (where the URL would go).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_exits_non_zero_with_the_reason_when_its_port_is_taken() {
    let bin = telltale_binary().unwrap_or_else(|e| panic!("{e:#}"));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = telltale_command(&bin, dir.path());
    cmd.arg("serve")
        .arg("--db")
        .arg(dir.path().join("history.db"))
        .args(["--listen", &listen, "--token", SERVE_TOKEN])
        .args(["--source", "http://127.0.0.1:9/events"]);
    let out = tokio::time::timeout(secs(60), cmd.output())
        .await
        .expect("serve gave up before the deadline")
        .expect("run telltale serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exit status {}", out.status);
    assert!(
        stderr.contains(&format!("cannot listen on {listen}")),
        "{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    drop(taken);
}

// ---------------------------------------------------------------------------------
// Bad SSE servers beside a good one.

/// Flipped by the test when a misbehaving server should start behaving.
#[derive(Clone, Default)]
struct Recovered(Arc<AtomicBool>);

impl Recovered {
    fn now(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
    fn set(&self) {
        self.0.store(true, Ordering::SeqCst)
    }
}

/// Events each recovered server sends (numbered, with ids).
const RECOVERED_EVENTS: u64 = 20;
/// The good source's events, sent throughout the bad servers' misbehaviour.
const GOOD_EVENTS: u64 = 400;
const HUGE_LINE: usize = 100 << 20;
/// What the 100 MiB lines may add to the peak RSS of the whole process. The parser
/// holds at most `max_event_size` (16 MiB) of one line, plus 64 bytes for its field
/// name; growing that buffer may briefly take up to twice its size. Without the cap,
/// the process would hold each whole 100 MiB line (and more while the buffer grows).
const HUGE_GROWTH_LIMIT: u64 = 48 << 20;

fn quick(name: &str, url: String) -> SseSourceConfig {
    let mut c = SseSourceConfig::new(name, url);
    // Short, so the bad phase shows its reasons and recovery is quick; the logic is
    // the same at the production defaults (90 s idle, 3 s retry, 60 s cap).
    c.idle_timeout = secs(2);
    c.initial_retry = Duration::from_millis(200);
    c.max_backoff = secs(2);
    c
}

async fn recovered_or(c: &mut Conn, tag: &str, sent: &SentLog, recovered: &Recovered) -> bool {
    if !recovered.now() {
        return false;
    }
    let pace = Pace {
        per_write: 1,
        pause: Duration::from_millis(5),
    };
    let _ = serve_numbered(c, tag, RECOVERED_EVENTS, pace, sent).await;
    true
}

/// Headers, then silence.
async fn stall_server(r: Recovered) -> ScriptedServer {
    let sent = SentLog::default();
    ScriptedServer::start(move |mut c: Conn| {
        let (r, sent) = (r.clone(), sent.clone());
        async move {
            if recovered_or(&mut c, "stall", &sent, &r).await {
                return;
            }
            let _ = c.sse_head().await;
            c.hold(secs(60)).await;
        }
    })
    .await
    .unwrap()
}

/// Random binary bytes (NULs, stray CRs, bytes that are never UTF-8), then one event
/// whose data is invalid UTF-8, then the connection closes.
async fn garbage_server(r: Recovered) -> ScriptedServer {
    let sent = SentLog::default();
    ScriptedServer::start(move |mut c: Conn| {
        let (r, sent) = (r.clone(), sent.clone());
        async move {
            if recovered_or(&mut c, "garbage", &sent, &r).await {
                return;
            }
            let mut noise = vec![0u8; 64 * 1024];
            rand::rngs::StdRng::seed_from_u64(9).fill_bytes(&mut noise);
            let mut body = noise;
            body.extend_from_slice(
                b"\n\ndata: {\"jobId\":\"garbage-1\",\"status\":\"running\",\"note\":\"",
            );
            body.extend_from_slice(b"\xff\xfe\xc3\x28\xed\xa0\x80");
            body.extend_from_slice(b"\"}\n\n");
            if c.sse_head().await.is_ok() {
                let _ = c.write(&body).await;
            }
        }
    })
    .await
    .unwrap()
}

/// One 100 MiB line with no line end for its whole length, then a small event, then
/// the connection closes (and the next one does the same).
async fn huge_server(r: Recovered) -> ScriptedServer {
    let sent = SentLog::default();
    ScriptedServer::start(move |mut c: Conn| {
        let (r, sent) = (r.clone(), sent.clone());
        async move {
            if recovered_or(&mut c, "huge", &sent, &r).await {
                return;
            }
            if c.sse_head().await.is_err() || c.write("data: ").await.is_err() {
                return;
            }
            let chunk = vec![b'x'; 1 << 20];
            for _ in 0..HUGE_LINE / chunk.len() {
                if c.write(&chunk).await.is_err() {
                    return;
                }
            }
            let _ = c
                .write("\n\ndata: {\"jobId\":\"after-huge\",\"status\":\"running\"}\n\n")
                .await;
        }
    })
    .await
    .unwrap()
}

/// A complete field, half an event, then the connection closes.
async fn mid_event_server(r: Recovered) -> ScriptedServer {
    let sent = SentLog::default();
    ScriptedServer::start(move |mut c: Conn| {
        let (r, sent) = (r.clone(), sent.clone());
        async move {
            if recovered_or(&mut c, "midevent", &sent, &r).await {
                return;
            }
            if c.sse_head().await.is_ok() {
                let _ = c
                    .write("id: 99\nevent: job_update\ndata: {\"jobId\":\"partial-1\",\"status\":\"fail")
                    .await;
            }
        }
    })
    .await
    .unwrap()
}

/// The whole response, head included, one byte every 100 ms.
async fn slow_server(r: Recovered) -> ScriptedServer {
    let sent = SentLog::default();
    ScriptedServer::start(move |mut c: Conn| {
        let (r, sent) = (r.clone(), sent.clone());
        async move {
            if recovered_or(&mut c, "slow", &sent, &r).await {
                return;
            }
            let mut all = telltale_tests::sse_server::sse_head("text/event-stream", &[]);
            all.push_str("id: 1\ndata: {\"jobId\":\"slow-1\",\"status\":\"running\"}\n\n");
            for b in all.bytes() {
                if c.write([b]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    })
    .await
    .unwrap()
}

/// Which phrase each bad source's reason must contain while its server misbehaves.
const BAD: [(&str, &str); 5] = [
    ("stall", "idle timeout"),
    ("garbage", "ended the stream"),
    ("huge", "ended the stream"),
    ("midevent", "before any event"),
    ("slow", "no response within"),
];

/// Runs in its own process (see the test below): the RSS figures are the process's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run in its own process by bad_sse_servers_beside_a_good_one_show_reasons_bounded_memory_and_recover"]
async fn bad_sse_servers_probe() {
    let recovered = Recovered::default();
    let good_log = SentLog::default();
    let gl = good_log.clone();
    let good = ScriptedServer::start(move |mut c: Conn| {
        let sent = gl.clone();
        async move {
            let pace = Pace {
                per_write: 1,
                pause: Duration::from_millis(25),
            };
            let _ = serve_numbered(&mut c, "good", GOOD_EVENTS, pace, &sent).await;
        }
    })
    .await
    .unwrap();
    let mut servers = BTreeMap::new();
    servers.insert("stall", stall_server(recovered.clone()).await);
    servers.insert("garbage", garbage_server(recovered.clone()).await);
    servers.insert("huge", huge_server(recovered.clone()).await);
    servers.insert("midevent", mid_event_server(recovered.clone()).await);
    servers.insert("slow", slow_server(recovered.clone()).await);

    let h = RelayHarness::start(secs(15)).await.unwrap();
    let db = h.db.clone();
    let engine = h.engine.as_ref().unwrap();
    let states = engine.source_states().clone();
    engine
        .add_sse_source(
            quick("good", good.url("/events")),
            FieldOverrides::default(),
        )
        .unwrap();
    for (name, server) in &servers {
        if *name != "huge" {
            engine
                .add_sse_source(
                    quick(name, server.url("/events")),
                    FieldOverrides::default(),
                )
                .unwrap();
        }
    }

    // Memory: the baseline is the engine already running five sources; the peak is
    // sampled (and read from VmHWM when the kernel lets us reset it) while the huge
    // source is fed 100 MiB lines.
    tokio::time::sleep(secs(2)).await;
    let hwm_reset = reset_peak_memory();
    let base = memory_of(0).unwrap().rss;
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            while sampling.load(Ordering::SeqCst) {
                peak = peak.max(memory_of(0).map(|m| m.rss).unwrap_or(0));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            peak
        })
    };
    engine
        .add_sse_source(
            quick("huge", servers["huge"].url("/events")),
            FieldOverrides::default(),
        )
        .unwrap();

    // Each bad source shows a reason, in the engine's states and in /api/sources.
    let mut seen: HashMap<&str, String> = HashMap::new();
    let mut seen_api: HashMap<String, String> = HashMap::new();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let until = Instant::now() + secs(90);
    while seen.len() < BAD.len() || seen_api.len() < BAD.len() {
        assert!(
            Instant::now() < until,
            "reasons seen: engine {seen:?}, /api/sources {seen_api:?}"
        );
        for (name, phrase) in BAD {
            if let Some(reason) = states.get(name).and_then(|s| s.reason) {
                if reason.contains(phrase) {
                    seen.entry(name).or_insert(reason);
                }
            }
        }
        let rows: serde_json::Value = http
            .get(h.url("/api/sources"))
            .bearer_auth(TEST_TOKEN)
            .send()
            .await
            .map(json)
            .unwrap()
            .await;
        for row in rows["items"].as_array().unwrap() {
            let name = row["name"].as_str().unwrap_or_default();
            if let (Some((_, phrase)), Some(reason)) =
                (BAD.iter().find(|(n, _)| *n == name), row["reason"].as_str())
            {
                if reason.contains(phrase) {
                    seen_api.entry(name.to_string()).or_insert(reason.into());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (name, reason) in &seen {
        eprintln!("bad source {name}: {reason}");
    }
    // History says so too: each reconnect is a source notice with its reason.
    for (name, phrase) in BAD {
        assert!(
            events_of(&db, name)
                .iter()
                .any(|e| e.kind == EntityKind::Source
                    && e.message.as_deref().is_some_and(|m| m.contains(phrase))),
            "{name}: no stored notice with {phrase:?}"
        );
    }

    // Two whole 100 MiB lines went through (two connections), so nothing accumulates.
    wait_until("two connections' worth of 100 MiB lines", secs(120), || {
        let after = events_of(&db, "huge")
            .iter()
            .filter(|e| e.raw.contains("after-huge"))
            .count();
        (after >= 2).then_some(())
    })
    .await
    .unwrap();
    sampling.store(false, Ordering::SeqCst);
    let sampled = sampler.await.unwrap();
    let now = memory_of(0).unwrap();
    let peak = if hwm_reset {
        now.peak.max(sampled)
    } else {
        sampled
    };
    let growth = peak.saturating_sub(base);
    eprintln!(
        "huge lines: 2 x 100 MiB with max_event_size 16 MiB: baseline RSS {} MiB, peak {} MiB \
         (VmHWM reset: {hwm_reset}), growth {} MiB, RSS after {} MiB",
        base >> 20,
        peak >> 20,
        growth >> 20,
        now.rss >> 20
    );
    assert!(
        growth < HUGE_GROWTH_LIMIT,
        "100 MiB lines raised the peak RSS by {} MiB",
        growth >> 20
    );

    // What the bad phase stored: the invalid UTF-8 event, with replacement characters
    // (never dropped); nothing of the half event; nothing of the huge lines.
    let garbage = events_of(&db, "garbage");
    let g = garbage
        .iter()
        .find(|e| e.entity == "garbage-1")
        .expect("the invalid UTF-8 event is stored");
    assert!(g.raw.contains('\u{FFFD}'), "{:?}", g.raw);
    assert!(
        !events_of(&db, "midevent")
            .iter()
            .any(|e| e.raw.contains("partial")),
        "a half event is never stored"
    );
    assert!(events_of(&db, "huge").iter().all(|e| e.raw.len() < 1 << 20));

    // The servers recover: so does every source, with all of its events.
    recovered.set();
    for (name, _) in BAD {
        wait_until(&format!("{name} recovers"), secs(60), || {
            let live = states
                .get(name)
                .is_some_and(|s| s.health == telltale_core::engine::SourceHealth::Live);
            (live && job_ids(&db, name) == (1..=RECOVERED_EVENTS).collect::<Vec<_>>()).then_some(())
        })
        .await
        .unwrap_or_else(|e| panic!("{e}: {:?} {:?}", states.get(name), job_ids(&db, name)));
    }
    let rows: serde_json::Value = http
        .get(h.url("/api/sources"))
        .bearer_auth(TEST_TOKEN)
        .send()
        .await
        .map(json)
        .unwrap()
        .await;
    for row in rows["items"].as_array().unwrap() {
        assert_eq!(row["health"], "live", "after recovery: {row}");
        assert!(row.get("reason").is_none(), "after recovery: {row}");
    }

    // The good source never noticed: one connection, every event once, in order.
    wait_until("every good event", secs(60), || {
        (job_ids(&db, "good").len() as u64 >= GOOD_EVENTS).then_some(())
    })
    .await
    .unwrap();
    assert_eq!(job_ids(&db, "good"), (1..=GOOD_EVENTS).collect::<Vec<_>>());
    assert_eq!(
        good.requests().len(),
        1,
        "the good source never reconnected"
    );
    assert_eq!(states.get("good").unwrap().events, GOOD_EVENTS);
    h.shutdown().await;
}

/// Stalled, garbage, 100 MiB lines, closed mid-event, one byte per 100 ms: each bad
/// source's state carries a reason (engine and `/api/sources`), the good source gets
/// every event on its one connection, peak RSS grows by less than 48 MiB for 100 MiB
/// lines, and each source recovers when its server does.
#[test]
fn bad_sse_servers_beside_a_good_one_show_reasons_bounded_memory_and_recover() {
    let out = run_test_in_child("faults::bad_sse_servers_probe", secs(300));
    eprintln!(
        "{}",
        out.lines()
            .filter(|l| l.starts_with("huge lines") || l.starts_with("bad source"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

// ---------------------------------------------------------------------------------
// Ten reconnecting relay clients, fed through a real SSE source.

const RELAY_EVENTS: u64 = 10_000;

/// A relay frame, checked: its id is the event's seq.
fn frame_event(f: &telltale_tests::relay_client::Frame) -> Event {
    let e: Event = serde_json::from_str(&f.data).expect("relay data is an event");
    assert_eq!(
        f.id.as_deref(),
        Some(e.seq.to_string().as_str()),
        "id is the seq"
    );
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_relay_clients_reconnecting_at_random_each_get_every_sse_event_exactly_once() {
    let sent = SentLog::default();
    let log = sent.clone();
    let server = ScriptedServer::start(move |mut c: Conn| {
        let sent = log.clone();
        async move {
            // About 2,500 events/s: four seconds of flow, so every client reconnects
            // while events are still arriving.
            let pace = Pace {
                per_write: 5,
                pause: Duration::from_millis(2),
            };
            let _ = serve_numbered(&mut c, "relay", RELAY_EVENTS, pace, &sent).await;
        }
    })
    .await
    .unwrap();
    let h = RelayHarness::start(secs(15)).await.unwrap();
    let addr = h.addr;
    let mut clients = Vec::new();
    for c in 0..10u64 {
        clients.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(100 + c);
            let until = Instant::now() + secs(150);
            let mut last_seq = 0u64;
            let mut jobs: Vec<u64> = Vec::with_capacity(RELAY_EVENTS as usize);
            let mut connections = 0;
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..500))).await;
            while (jobs.len() as u64) < RELAY_EVENTS {
                // Half resume with Last-Event-ID (as EventSource does), half with ?since=.
                let (path, header);
                if c % 2 == 0 && connections > 0 {
                    path = format!("/events?token={TEST_TOKEN}");
                    header = Some(last_seq.to_string());
                } else {
                    path = format!("/events?since={last_seq}&token={TEST_TOKEN}");
                    header = None;
                }
                let headers: Vec<(&str, &str)> = header
                    .as_deref()
                    .map(|l| vec![("Last-Event-ID", l)])
                    .unwrap_or_default();
                let mut sse = RawSse::connect(addr, &path, &headers, until)
                    .await
                    .unwrap_or_else(|e| panic!("client {c}: connect: {e}"));
                assert_eq!(sse.status, 200, "client {c}: {}", sse.head);
                connections += 1;
                let take = rng.random_range(1..3_000usize);
                for _ in 0..take {
                    if jobs.len() as u64 == RELAY_EVENTS {
                        break;
                    }
                    let f = sse.next_frame(until).await.unwrap_or_else(|e| {
                        panic!("client {c}: {e} after seq {last_seq}, {} jobs", jobs.len())
                    });
                    let e = frame_event(&f);
                    assert_eq!(e.seq, last_seq + 1, "client {c}: gap or duplicate");
                    last_seq = e.seq;
                    if e.kind == EntityKind::Job {
                        jobs.push(e.remote_id.unwrap().parse().unwrap());
                    }
                }
                drop(sse);
                tokio::time::sleep(Duration::from_millis(rng.random_range(0..80))).await;
            }
            (c, jobs, connections)
        }));
    }
    h.engine
        .as_ref()
        .unwrap()
        .add_sse_source(
            quick("feed", server.url("/events")),
            FieldOverrides::default(),
        )
        .unwrap();
    for client in clients {
        let (c, jobs, connections) = tokio::time::timeout(secs(180), client)
            .await
            .expect("client finished before the deadline")
            .expect("client task");
        assert_eq!(
            jobs,
            (1..=RELAY_EVENTS).collect::<Vec<_>>(),
            "client {c}: every SSE event once, in order"
        );
        assert!(
            connections >= 3,
            "client {c} connected only {connections} times"
        );
    }
    assert_eq!(server.requests().len(), 1, "the source never reconnected");
    let sent_ids: Vec<u64> = sent.distinct().into_iter().collect();
    assert_eq!(sent_ids, (1..=RELAY_EVENTS).collect::<Vec<_>>());
    h.shutdown().await;
}

// ---------------------------------------------------------------------------------
// Relay hardening beyond relay.rs.

/// Sends `head` (a whole request head) on a fresh connection while reading the answer;
/// returns the status, or `None` when the server closed or reset without one.
async fn raw_request(addr: std::net::SocketAddr, head: Vec<u8>) -> Option<u16> {
    let stream = tokio::time::timeout(secs(10), tokio::net::TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    // Written on its own task: a server that answers early and closes may never read
    // all of it, and the write then fails; the answer is what matters.
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&head).await;
        let _ = wr.flush().await;
        wr
    });
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let _ = tokio::time::timeout(secs(10), async {
        loop {
            match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    writer.abort();
    let text = String::from_utf8_lossy(&buf);
    text.lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
}

fn request(addr: std::net::SocketAddr, target: &str, extra: &str) -> Vec<u8> {
    format!(
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TEST_TOKEN}\r\n{extra}Connection: close\r\n\r\n"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_requests_are_refused_before_any_handler() {
    let h = RelayHarness::start(secs(15)).await.unwrap();
    let addr = h.addr;
    assert_eq!(
        raw_request(addr, request(addr, "/api/jobs", "")).await,
        Some(200),
        "a normal request is served"
    );
    let long = format!("/api/jobs?q={}", "a".repeat(9 * 1024));
    assert_eq!(
        raw_request(addr, request(addr, &long, "")).await,
        Some(414),
        "URI over 8 KiB"
    );
    assert_eq!(
        raw_request(
            addr,
            request(addr, "/api/jobs", "Content-Length: 1048576\r\n")
        )
        .await,
        Some(413),
        "a declared 1 MiB body"
    );
    assert_eq!(
        raw_request(
            addr,
            request(addr, "/api/jobs", "Transfer-Encoding: chunked\r\n")
        )
        .await,
        Some(413),
        "a body of undeclared size"
    );
    // A header block beyond what the HTTP parser buffers (about 400 KiB) is refused by
    // it with 431, or the connection is cut; never served, never buffered further.
    let huge = format!("X-Filler: {}\r\n", "b".repeat(1 << 20));
    let status = raw_request(addr, request(addr, "/api/jobs", &huge)).await;
    eprintln!("a 1 MiB header block: {status:?} (None: cut without an answer)");
    assert!(
        matches!(status, Some(431) | None),
        "a 1 MiB header: {status:?}"
    );
    // The relay still serves after all of that.
    assert_eq!(
        raw_request(addr, request(addr, "/api/jobs", "")).await,
        Some(200)
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_rate_limit_get_429_then_service_resumes() {
    let h = RelayHarness::start_with(|o| {
        // A slow refill, so a loaded machine taking a second over the burst still
        // sees the refusals.
        o.rate_limit = RateLimit {
            per_second: 1.0,
            burst: 5.0,
        }
    })
    .await
    .unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut statuses = Vec::new();
    let mut limited_body = None;
    for _ in 0..15 {
        let resp = http
            .get(h.url("/api/health"))
            .bearer_auth(TEST_TOKEN)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        if status == 429 && limited_body.is_none() {
            limited_body = Some(json(resp).await);
        }
        statuses.push(status);
    }
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert!(
        (5..=7).contains(&ok),
        "the burst of 5 (plus refill) is served: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert_eq!(limited_body.unwrap()["code"], "rate_limited");
    // Even a wrong token costs a request: guessing is rate limited too.
    let resp = http
        .get(h.url("/api/health"))
        .bearer_auth("not-the-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let retry_after: u64 = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("429 carries Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let resp = http
        .get(h.url("/api/health"))
        .bearer_auth(TEST_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "tokens refill");
    h.shutdown().await;
}

/// `verify` is `subtle::ConstantTimeEq` over the bytes (relay/token.rs): no early exit
/// on the first differing byte. Its answers, for every prefix and extension.
#[test]
fn token_verify_accepts_only_the_exact_token_prefixes_longer_and_shorter_fail() {
    let text = "0123456789abcdef0123456789abcdef";
    let t = AccessToken::new(text).unwrap();
    assert!(t.verify(text.as_bytes()));
    for n in 0..text.len() {
        assert!(!t.verify(&text.as_bytes()[..n]), "prefix of {n} bytes");
        assert!(!t.verify(&text.as_bytes()[n + 1..]), "suffix from {n}");
        let mut flipped = text.as_bytes().to_vec();
        flipped[n] ^= 0x01;
        assert!(!t.verify(&flipped), "byte {n} changed");
    }
    for extra in ["x", "\0", " ", text] {
        assert!(!t.verify(format!("{text}{extra}").as_bytes()), "+{extra:?}");
    }
    assert!(!t.verify(text.to_uppercase().as_bytes()), "case matters");
    let generated = AccessToken::generate().unwrap();
    assert!(generated.verify(generated.expose().as_bytes()));
    assert!(!generated.verify(t.expose().as_bytes()));
}

/// The relay's HTTP routes, read from its source: `(path, methods)`.
fn relay_routes() -> Vec<(String, BTreeSet<String>, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../src-tauri/core/src/relay");
    let mut files = vec![dir.clone()];
    let mut sources = Vec::new();
    while let Some(d) = files.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                files.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                sources.push(p);
            }
        }
    }
    let method = regex_free_methods();
    let mut routes = Vec::new();
    for file in sources {
        let text = std::fs::read_to_string(&file).unwrap();
        let shown = file.file_name().unwrap().to_string_lossy().into_owned();
        for (kind, at) in text
            .match_indices(".route(")
            .map(|(i, _)| ("route", i))
            .chain(
                text.match_indices(".fallback(")
                    .map(|(i, _)| ("fallback", i)),
            )
            .chain(
                text.match_indices(".route_service(")
                    .map(|(i, _)| ("route_service", i)),
            )
            .chain(text.match_indices(".nest(").map(|(i, _)| ("nest", i)))
        {
            let open = text[at..].find('(').unwrap() + at;
            let call = balanced(&text[open..]);
            let path = if kind == "fallback" {
                "<fallback>".to_string()
            } else {
                call.split('"').nth(1).unwrap_or("<unknown>").to_string()
            };
            let methods: BTreeSet<String> = method
                .iter()
                .filter(|m| has_call(call, m))
                .map(|m| m.to_string())
                .collect();
            routes.push((path, methods, format!("{shown}: {kind}{call}")));
        }
    }
    routes
}

/// Method-router constructors and chain methods in axum.
fn regex_free_methods() -> Vec<&'static str> {
    vec![
        "get",
        "head",
        "post",
        "put",
        "patch",
        "delete",
        "options",
        "trace",
        "connect",
        "any",
        "on",
        "get_service",
        "post_service",
        "put_service",
        "patch_service",
        "delete_service",
        "any_service",
        "on_service",
    ]
}

/// Whether `text` calls `name(` as a whole word (`get(`, `.post(`, `routing::put(`).
fn has_call(text: &str, name: &str) -> bool {
    let pat = format!("{name}(");
    text.match_indices(&pat).any(|(i, _)| {
        i == 0
            || !text[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// The text of a parenthesised call starting at `(`, up to its matching `)`.
fn balanced(s: &str) -> &str {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &s[..=i];
                }
            }
            _ => {}
        }
    }
    s
}

/// Config-write endpoints (issue: settings from the UI) write Telltale's own config
/// file, never a monitored system; they are the only routes allowed to take writes.
fn is_config_endpoint(path: &str) -> bool {
    ["/api/sources", "/api/rules"]
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")))
}

/// No relay route writes to a monitored system: only GET/HEAD routes, except the
/// config endpoints under `/api/sources` and `/api/rules`; the relay has no client
/// for a monitored system at all (no Redis, no outgoing HTTP); and at run time every
/// write method on a data endpoint is refused with 405.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_relay_endpoint_writes_to_a_monitored_system() {
    let routes = relay_routes();
    assert!(
        routes.iter().any(|(p, _, _)| p == "/events"),
        "the route scan found the router: {routes:?}"
    );
    for (path, methods, call) in &routes {
        assert!(
            !methods.contains("any") && !methods.contains("any_service"),
            "{path} accepts any method: {call}"
        );
        let writes: Vec<&String> = methods
            .iter()
            .filter(|m| !matches!(m.as_str(), "get" | "head" | "get_service"))
            .collect();
        if !writes.is_empty() {
            assert!(
                is_config_endpoint(path),
                "{path} takes {writes:?}, and only the config endpoints may: {call}"
            );
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../src-tauri/core/src/relay");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        // Crate paths, not our own modules named after them (`source::redis::Config`
        // describes a source; `redis::cmd` would talk to one).
        for client in ["redis::", "reqwest::"] {
            let used = text.match_indices(client).any(|(i, _)| {
                !text[..i]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
            });
            assert!(
                !used,
                "{} uses {client}: the relay must have no client for a monitored system",
                p.display()
            );
        }
    }

    let h = RelayHarness::start(secs(15)).await.unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut read_only: Vec<&str> = routes
        .iter()
        .map(|(p, _, _)| p.as_str())
        .filter(|p| p.starts_with('/') && !is_config_endpoint(p))
        .collect();
    // The fallback serves the UI's files.
    read_only.extend(["/", "/index.html"]);
    for path in read_only {
        let path = path.replace("{id}", "job-1");
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            let resp = http
                .request(method.parse().unwrap(), h.url(&path))
                .bearer_auth(TEST_TOKEN)
                .header("Content-Type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 405, "{method} {path}");
        }
    }
    h.shutdown().await;
}
