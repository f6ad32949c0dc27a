//! A crash between batches (SIGKILL) leaves a readable database whose cursors match
//! the last stored events, and a restart resumes with nothing missing or twice.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use telltale_core::store::{EventFilter, Reader};

fn run_and_kill(db: &std::path::Path, min_events: u64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ingest_child"))
        .arg(db)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn ingest_child");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("ready"), "child said {line:?}");
    let before = Reader::open(db).unwrap().count().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = Reader::open(db).unwrap().count().unwrap();
        if now >= before + min_events {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "child stored only {} events",
            now - before
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
    child.wait().unwrap();
}

fn check(db: &std::path::Path) -> u64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let r = Reader::open(db).unwrap();
    let mut total = 0;
    for source in ["alpha", "beta"] {
        let cursor: u64 = r
            .cursor(source)
            .unwrap()
            .expect("cursor saved")
            .parse()
            .unwrap();
        let last = r.last_event_of(source).unwrap().expect("events stored");
        assert_eq!(
            last.remote_id.as_deref(),
            Some(cursor.to_string().as_str()),
            "{source}: cursor is the last stored event"
        );
        let events = r
            .since(
                0,
                &EventFilter {
                    source: Some(source.into()),
                    ..Default::default()
                },
                usize::MAX >> 1,
            )
            .unwrap();
        let ids: Vec<u64> = events
            .iter()
            .map(|e| e.remote_id.as_ref().unwrap().parse().unwrap())
            .collect();
        assert_eq!(
            ids,
            (0..=cursor).collect::<Vec<_>>(),
            "{source}: every event exactly once, in order"
        );
        total += ids.len() as u64;
    }
    total
}

#[test]
fn sigkill_mid_ingest_leaves_a_consistent_database_and_restart_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    // Create the schema first so the test can poll the row count.
    drop(telltale_core::store::open(&db).unwrap());
    run_and_kill(&db, 5_000);
    let first = check(&db);
    run_and_kill(&db, 5_000);
    let second = check(&db);
    assert!(
        second >= first + 5_000,
        "the restart resumed and added events ({first} -> {second})"
    );
}
