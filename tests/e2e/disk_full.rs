//! The disk fills up during ingest: the hub reports a clear error (health, code
//! `disk_full`), nothing is dropped or corrupted, and ingestion resumes by itself when
//! space returns.

use std::time::{Duration, Instant};

use telltale_core::hub::Ingest;
use telltale_core::model::{EntityKind, Event, Status};
use telltale_core::store::{EventFilter, Reader};
use telltale_tests::engine_on_disk::start_engine;
use telltale_tests::tmpfs::Tmpfs;

fn event(n: usize) -> Event {
    let mut e = Event::new(
        "filler",
        EntityKind::Job,
        format!("job-{n}"),
        Status::Running,
    );
    e.remote_id = Some(n.to_string());
    e.raw = format!("{{\"n\":{n},\"pad\":\"{}\"}}", "y".repeat(300));
    e.message = Some(format!("step {n}"));
    e
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_reported_loses_nothing_and_ingestion_resumes() {
    let volume = Tmpfs::mount(8 * 1024 * 1024);
    let db = volume.path().join("history.db");
    let engine = start_engine(&db);
    let tx = engine.hub().sender();

    // Some history first, then no space left.
    tx.send(Ingest::new("filler", (0..100).map(event).collect()).with_cursor("99"))
        .await
        .unwrap();
    tx.flush().await.unwrap();
    let filler = volume.fill();

    // Keep sending: the hub cannot commit, reports it, and holds the events.
    let sender = tx.clone();
    let producer = tokio::spawn(async move {
        for chunk in 1..60usize {
            let events = (chunk * 100..(chunk + 1) * 100).map(event).collect();
            sender
                .send(
                    Ingest::new("filler", events).with_cursor(((chunk + 1) * 100 - 1).to_string()),
                )
                .await
                .unwrap();
        }
    });
    let hub = engine.hub().clone();
    wait_for("the disk-full error in health", || {
        hub.health()
            .error
            .as_ref()
            .is_some_and(|e| e.code == "disk_full")
    })
    .await;
    let health = hub.health();
    let err = health.error.clone().unwrap();
    assert!(
        err.message.contains("disk") && err.message.contains("free some space"),
        "{}",
        err.message
    );
    assert!(
        health.pending > 0,
        "the events waiting to be stored are counted"
    );

    // Space returns: everything sent meanwhile is stored, once.
    std::fs::remove_file(&filler).unwrap();
    tokio::time::timeout(Duration::from_secs(60), producer)
        .await
        .unwrap()
        .unwrap();
    let last = tokio::time::timeout(Duration::from_secs(60), tx.flush())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last, 6_000);
    assert!(
        hub.health().error.is_none(),
        "health clears once writes work again"
    );
    assert_eq!(hub.health().pending, 0);
    assert_eq!(hub.health().lost, 0);
    engine.shutdown().await;

    let conn = rusqlite::Connection::open(&db).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let r = Reader::open(&db).unwrap();
    let events = r.since(0, &EventFilter::default(), 100_000).unwrap();
    let ids: Vec<usize> = events
        .iter()
        .map(|e| e.remote_id.as_ref().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids, (0..6_000).collect::<Vec<_>>());
    assert_eq!(r.cursor("filler").unwrap().as_deref(), Some("5999"));
}
