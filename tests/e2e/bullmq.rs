//! BullMQ sources against real BullMQ (issue 4 item 2): a Node script (npm `bullmq`,
//! tests/node) adds jobs, reports progress, fails some and retries some on a private
//! redis-server, and prints what BullMQ says about every job. Telltale's store must
//! agree; a restart of Telltale mid-run loses and duplicates nothing; a trimmed stream
//! is detected and final states restored; and MONITOR proves Telltale never writes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use telltale_core::board::Board;
use telltale_core::engine::SourceHealth;
use telltale_core::model::{EntityKind, Event, Status};
use telltale_core::normalize::FieldOverrides;
use telltale_core::source::bullmq::BullMqConfig;
use telltale_core::source::redis::RedisPubSubConfig;
use telltale_core::source::url::{RedisTarget, SourceUrl};
use telltale_tests::engine_on_disk::{start_engine as engine, stored_events as stored};
use telltale_tests::redis_server::{MonitoredCommand, RedisOptions, RedisServer, SECOND_LOOPBACK};

const DEADLINE: Duration = Duration::from_secs(60);
const QUEUE: &str = "resume-analysis";

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("node")
}

/// Runs the driver to completion and returns BullMQ's own report, job id -> job.
async fn run_driver(
    url: &str,
    jobs: u32,
    first_index: u32,
    spacing_ms: u32,
) -> BTreeMap<String, Value> {
    let dir = node_dir();
    assert!(
        dir.join("node_modules/bullmq").is_dir(),
        "tests/node/node_modules is missing: run: (cd tests/node && npm ci)"
    );
    let args = serde_json::json!({
        "url": url, "queue": QUEUE, "jobs": jobs, "firstIndex": first_index, "spacingMs": spacing_ms,
    });
    let child = tokio::process::Command::new("node")
        .arg(dir.join("bullmq_driver.js"))
        .arg(args.to_string())
        .current_dir(&dir)
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(Duration::from_secs(120), child).await {
        Err(_) => panic!("the BullMQ driver did not finish within 120 s"),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("node not found: apt-get install nodejs")
        }
        Ok(Err(e)) => panic!("cannot run node: {e}"),
        Ok(Ok(out)) => out,
    };
    assert!(
        out.status.success(),
        "driver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("driver prints JSON");
    report["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| (j["id"].as_str().unwrap().to_string(), j.clone()))
        .collect()
}

fn target(url: &str) -> RedisTarget {
    match SourceUrl::parse(&format!(
        "{}?queue={QUEUE}",
        url.replacen("redis://", "bullmq://", 1)
    ))
    .expect("valid URL")
    {
        SourceUrl::BullMq { conn, .. } => conn,
        other => panic!("{other:?}"),
    }
}

fn config(url: &str) -> BullMqConfig {
    let mut c = BullMqConfig::new("bullmq-test", target(url), vec![QUEUE.to_string()], "bull");
    c.block = Duration::from_millis(200);
    c.counts_interval = Duration::from_millis(200);
    c.initial_backoff = Duration::from_millis(50);
    c.max_backoff = Duration::from_millis(400);
    c
}

/// Latest (status, progress) per job: every stored event folded in `seq` order, as
/// the board does.
fn job_states(db: &Path) -> HashMap<String, (Status, Option<f64>)> {
    let mut board = Board::default();
    for e in stored(db) {
        board.apply(&e);
    }
    board
        .iter()
        .filter(|s| s.kind == EntityKind::Job)
        .map(|s| (s.entity.clone(), (s.status.clone(), s.progress)))
        .collect()
}

/// Differences between BullMQ's report and Telltale's store (empty = equal).
fn mismatches(db: &Path, report: &BTreeMap<String, Value>) -> Vec<String> {
    let states = job_states(db);
    let mut out = Vec::new();
    for (id, job) in report {
        let want_status = match job["state"].as_str() {
            Some("completed") => Status::Completed,
            Some("failed") => Status::Failed,
            other => panic!("driver reported an unfinished job {id}: {other:?}"),
        };
        let want_progress = job["progress"].as_f64();
        match states.get(&format!("{QUEUE}:{id}")) {
            Some((status, progress)) if *status == want_status && *progress == want_progress => {}
            got => out.push(format!(
                "job {id}: BullMQ says {want_status} {want_progress:?}, Telltale {got:?}"
            )),
        }
    }
    out
}

async fn wait_for_agreement(db: &Path, report: &BTreeMap<String, Value>) {
    let give_up = tokio::time::Instant::now() + DEADLINE;
    loop {
        let diff = mismatches(db, report);
        if diff.is_empty() {
            return;
        }
        if tokio::time::Instant::now() >= give_up {
            let notices: Vec<String> = stored(db)
                .into_iter()
                .filter(|e| e.kind == EntityKind::Source)
                .map(|e| format!("{} {}", e.status, e.message.unwrap_or_default()))
                .collect();
            panic!(
                "store disagrees with BullMQ:\n{}\nsource notices:\n{}",
                diff.join("\n"),
                notices.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every entry of the events stream, as `<queue>/<id>` remote ids.
async fn stream_ids(server: &RedisServer) -> Vec<String> {
    let mut conn = server.connection().await;
    let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg(format!("bull:{QUEUE}:events"))
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    entries
        .into_iter()
        .map(|(id, _)| format!("{QUEUE}/{id}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn final_states_and_progress_match_bullmq() {
    let server = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let eng = engine(&db);
    eng.add_bullmq_source(config(&server.url())).unwrap();
    // Spaced out, so the worker is connected across several count polls.
    let report = run_driver(&server.url(), 20, 0, 25).await;
    assert!(report.values().any(|j| j["state"] == "failed"));
    assert!(
        report
            .values()
            .any(|j| j["attemptsMade"] == 2 && j["state"] == "completed"),
        "a retried job"
    );
    wait_for_agreement(&db, &report).await;

    let events = stored(&db);
    // The failure reason and the retry are in the job's history.
    let failed_id = report
        .iter()
        .find(|(_, j)| j["state"] == "failed")
        .unwrap()
        .0;
    let failed = events
        .iter()
        .find(|e| e.entity == format!("{QUEUE}:{failed_id}") && e.status == Status::Failed)
        .expect("failed event");
    assert_eq!(
        failed.error.as_deref(),
        report[failed_id]["failedReason"].as_str()
    );
    assert!(
        events.iter().any(|e| e.status == Status::Retrying),
        "a retry is shown"
    );
    // Queue counts arrive as queue events.
    let give_up = tokio::time::Instant::now() + DEADLINE;
    loop {
        let counts = stored(&db)
            .into_iter()
            .rev()
            .filter(|e| e.kind == EntityKind::Queue && e.entity == QUEUE)
            .filter_map(|e| e.counts)
            .next();
        let done = report
            .values()
            .filter(|j| j["state"] == "completed")
            .count() as u64;
        if counts.as_ref().and_then(|c| c.completed) == Some(done) {
            assert_eq!(counts.unwrap().failed, Some(20 - done));
            break;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "queue counts never showed {done} completed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The driver's named worker was seen in CLIENT LIST.
    let workers: Vec<Event> = stored(&db)
        .into_iter()
        .filter(|e| e.kind == EntityKind::Worker)
        .collect();
    assert!(
        workers
            .iter()
            .any(|e| e.entity == format!("{QUEUE}:driver")),
        "{workers:#?}"
    );
    assert_eq!(
        eng.source_states().get("bullmq-test").unwrap().health,
        SourceHealth::Live
    );
    eng.shutdown().await;
}

/// Telltale stopped and started again while jobs run: afterwards every stream entry is
/// stored exactly once, and the final states agree with BullMQ.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_mid_run_loses_and_duplicates_nothing() {
    let server = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let eng = engine(&db);
    eng.add_bullmq_source(config(&server.url())).unwrap();
    let url = server.url();
    let driver = tokio::spawn(async move { run_driver(&url, 30, 0, 15).await });
    // Let some of the run be stored, then restart mid-run.
    let give_up = tokio::time::Instant::now() + DEADLINE;
    while stored(&db)
        .iter()
        .filter(|e| e.kind == EntityKind::Job)
        .count()
        < 20
    {
        assert!(
            tokio::time::Instant::now() < give_up,
            "nothing stored before the restart"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eng.shutdown().await;
    let stored_at_stop = stored(&db).len();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let eng = engine(&db);
    eng.add_bullmq_source(config(&server.url())).unwrap();
    let report = driver.await.unwrap();
    wait_for_agreement(&db, &report).await;
    let expected = stream_ids(&server).await;
    let give_up = tokio::time::Instant::now() + DEADLINE;
    loop {
        let have: BTreeSet<String> = stored(&db)
            .into_iter()
            .filter_map(|e| e.remote_id)
            .collect();
        if expected.iter().all(|id| have.contains(id)) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "stream entries missing from the store"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eng.shutdown().await;
    assert!(
        stored_at_stop < stored(&db).len(),
        "the restart happened mid-run"
    );

    // Exactly once: one stored event per stream entry, and no other job events.
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for e in stored(&db).iter().filter(|e| e.kind != EntityKind::Source) {
        if let Some(id) = &e.remote_id {
            *per_id.entry(id.clone()).or_default() += 1;
        }
    }
    for id in &expected {
        assert_eq!(per_id.get(id), Some(&1), "entry {id}");
    }
    assert_eq!(
        per_id.len(),
        expected.len(),
        "no event that is not in the stream"
    );
    let gaps = stored(&db)
        .into_iter()
        .filter(|e| e.status == Status::Gap)
        .count();
    assert_eq!(gaps, 0, "a restart within the stream's retention is no gap");
}

/// The stream trimmed past Telltale's position while it was stopped: the trim is
/// detected, a gap is stored, and final states come back from the completed and
/// failed sets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trimmed_stream_is_detected_and_final_states_restored() {
    let server = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let eng = engine(&db);
    eng.add_bullmq_source(config(&server.url())).unwrap();
    let first = run_driver(&server.url(), 10, 0, 0).await;
    wait_for_agreement(&db, &first).await;
    eng.shutdown().await;

    let second = run_driver(&server.url(), 10, 10, 0).await;
    let mut conn = server.connection().await;
    let trimmed: i64 = redis::cmd("XTRIM")
        .arg(format!("bull:{QUEUE}:events"))
        .arg("MAXLEN")
        .arg(0)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(trimmed > 0);
    assert!(
        !mismatches(&db, &second).is_empty(),
        "the second run is not stored yet"
    );

    let eng = engine(&db);
    eng.add_bullmq_source(config(&server.url())).unwrap();
    wait_for_agreement(&db, &second).await;
    wait_for_agreement(&db, &first).await;
    let gaps: Vec<Event> = stored(&db)
        .into_iter()
        .filter(|e| e.status == Status::Gap)
        .collect();
    assert_eq!(gaps.len(), 1, "{gaps:#?}");
    let raw: Value = serde_json::from_str(&gaps[0].raw).unwrap();
    let found =
        raw["restoredCompleted"].as_u64().unwrap() + raw["restoredFailed"].as_u64().unwrap();
    assert!(found >= 10, "{raw}");
    assert_eq!(raw["certain"], true);
    // Exactly the second run's jobs were restored; the first run's were already known.
    let mut restored: Vec<String> = stored(&db)
        .into_iter()
        .filter(|e| {
            e.remote_id
                .as_deref()
                .is_some_and(|r| r.contains("/restored/"))
        })
        .map(|e| e.entity)
        .collect();
    restored.sort();
    let mut want: Vec<String> = second.keys().map(|id| format!("{QUEUE}:{id}")).collect();
    want.sort();
    assert_eq!(restored, want);

    // New work after the trim is followed normally again.
    let third = run_driver(&server.url(), 5, 20, 0).await;
    wait_for_agreement(&db, &third).await;
    eng.shutdown().await;
}

/// Read-only, proven: every command Telltale's connections sent (they come from a
/// second loopback address) is checked against Redis's own command flags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telltale_never_writes_to_the_monitored_redis() {
    let server = RedisServer::start_with(RedisOptions {
        second_loopback: true,
        ..RedisOptions::default()
    });
    let monitor = server.monitor().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let eng = engine(&db);
    let via = server.url_via_second_loopback();
    let mut cfg = config(&via);
    cfg.queues.clear(); // discovery too (SCAN)
    cfg.discover_interval = Duration::from_millis(200);
    eng.add_bullmq_source(cfg).unwrap();
    let mut pubsub = RedisPubSubConfig::new(
        "pubsub-test",
        target_pubsub(&via),
        vec!["jobs".into()],
        vec!["job:*".into()],
    );
    pubsub.ping_interval = Duration::from_millis(100);
    eng.add_redis_source(pubsub, FieldOverrides::default())
        .unwrap();
    let report = run_driver(&server.url(), 10, 0, 0).await;
    wait_for_agreement(&db, &report).await;
    // Exercise the trim path as well.
    let mut conn = server.connection().await;
    let _: i64 = redis::cmd("XTRIM")
        .arg(format!("bull:{QUEUE}:events"))
        .arg("MAXLEN")
        .arg(0)
        .query_async(&mut conn)
        .await
        .unwrap();
    let more = run_driver(&server.url(), 3, 10, 0).await;
    wait_for_agreement(&db, &more).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    eng.shutdown().await;

    let ours = monitor.connected_via(SECOND_LOOPBACK);
    let names: BTreeSet<String> = ours.iter().map(MonitoredCommand::name).collect();
    assert!(
        names.contains("XREAD") && names.contains("SUBSCRIBE"),
        "MONITOR saw Telltale: {names:?}; all clients: {:?}",
        monitor
            .commands()
            .iter()
            .map(|c| c.client.clone())
            .collect::<BTreeSet<_>>()
    );
    let forbidden = [
        "CLIENT SETNAME",
        "CLIENT SETINFO",
        "CLIENT KILL",
        "CLIENT PAUSE",
        "XREADGROUP",
        "XGROUP CREATE",
        "XACK",
        "XADD",
        "XDEL",
        "XTRIM",
        "SET",
        "DEL",
        "EVAL",
        "EVALSHA",
        "FCALL",
        "CONFIG SET",
        "FLUSHALL",
        "FLUSHDB",
    ];
    let mut writes = Vec::new();
    for c in &ours {
        let name = c.name();
        if forbidden.contains(&name.as_str()) || is_write(&mut conn, &name).await {
            writes.push(format!("{} {:?}", c.client, c.args));
        }
    }
    assert!(
        writes.is_empty(),
        "Telltale sent write commands:\n{}",
        writes.join("\n")
    );
    eprintln!("commands Telltale sent: {names:?}");
}

fn target_pubsub(url: &str) -> RedisTarget {
    match SourceUrl::parse(&format!("{url}?channel=x")).unwrap() {
        SourceUrl::RedisPubSub { conn, .. } => conn,
        other => panic!("{other:?}"),
    }
}

/// Redis's own answer: does `COMMAND INFO` flag this command (or subcommand) `write`?
async fn is_write(conn: &mut redis::aio::MultiplexedConnection, name: &str) -> bool {
    let lookup = name.to_ascii_lowercase().replace(' ', "|");
    let info: Value = match redis::cmd("COMMAND")
        .arg("INFO")
        .arg(&lookup)
        .query_async::<redis::Value>(conn)
        .await
    {
        Ok(v) => value_json(&v),
        Err(_) => return true,
    };
    let flags = info
        .get(0)
        .and_then(|c| c.get(2))
        .cloned()
        .unwrap_or(Value::Null);
    match flags.as_array() {
        Some(f) => f.iter().any(|x| x == "write"),
        // Unknown to this server: treat as suspicious.
        None => true,
    }
}

fn value_json(v: &redis::Value) -> Value {
    match v {
        redis::Value::Array(a) | redis::Value::Set(a) => {
            Value::Array(a.iter().map(value_json).collect())
        }
        redis::Value::BulkString(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
        redis::Value::SimpleString(s) => Value::String(s.clone()),
        redis::Value::Int(i) => Value::from(*i),
        _ => Value::Null,
    }
}
