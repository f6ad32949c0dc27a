//! Hub tests: a real writer thread on a real SQLite file, concurrent sources and
//! readers.

use std::collections::HashSet;
use std::time::Duration;

use super::*;
use crate::model::{EntityKind, Event, Status};

fn job(source: &str, i: usize) -> Event {
    let mut e = Event::new(
        source,
        EntityKind::Job,
        format!("{source}-job-{}", i % 97),
        Status::Running,
    );
    e.progress = Some((i % 100) as f64);
    e.remote_id = Some(i.to_string());
    e.raw = format!("{{\"n\":{i}}}");
    e
}

/// Four sources write 20,000 events in small batches while a reader polls
/// `since(last)`: every seq is read exactly once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_since_returns_every_event_once_under_concurrent_writes() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(HubOptions::new(dir.path().join("h.db"))).unwrap();
    const PER_SOURCE: usize = 5_000;
    let mut writers = Vec::new();
    for s in 0..4 {
        let tx = hub.sender();
        writers.push(tokio::spawn(async move {
            let name = format!("src{s}");
            for chunk in 0..(PER_SOURCE / 50) {
                let events = (chunk * 50..(chunk + 1) * 50)
                    .map(|i| job(&name, i))
                    .collect();
                tx.send(
                    Ingest::new(name.clone(), events)
                        .with_cursor(((chunk + 1) * 50 - 1).to_string()),
                )
                .await
                .unwrap();
            }
        }));
    }
    let db = hub.db_path().to_path_buf();
    let reader_task = tokio::task::spawn_blocking(move || {
        let r = crate::store::Reader::open(&db).unwrap();
        let mut last = 0u64;
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while seen.len() < 4 * PER_SOURCE {
            assert!(
                std::time::Instant::now() < deadline,
                "reader saw only {}",
                seen.len()
            );
            for e in r
                .since(last, &crate::store::EventFilter::default(), 777)
                .unwrap()
            {
                assert!(e.seq > last, "out of order: {} after {last}", e.seq);
                last = e.seq;
                seen.push(e.seq);
            }
        }
        seen
    });
    for w in writers {
        w.await.unwrap();
    }
    let last = hub.sender().flush().await.unwrap();
    assert_eq!(last, (4 * PER_SOURCE) as u64);
    let seen = tokio::time::timeout(Duration::from_secs(60), reader_task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen, (1..=(4 * PER_SOURCE) as u64).collect::<Vec<_>>());
    let r = crate::store::Reader::open(hub.db_path()).unwrap();
    for s in 0..4 {
        assert_eq!(
            r.cursor(&format!("src{s}")).unwrap().as_deref(),
            Some("4999")
        );
    }
    assert_eq!(hub.health().stored, (4 * PER_SOURCE) as u64);
}

/// Subscribers joining at different points get history then live, with no gap and
/// no duplicate at the seam, even while events flow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_replay_then_go_live_without_gap_or_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = HubOptions::new(dir.path().join("h.db"));
    // A tiny broadcast buffer forces lagging subscribers back to the store.
    opts.broadcast_capacity = 2;
    let hub = Hub::start(opts).unwrap();
    let tx = hub.sender();
    const TOTAL: usize = 10_000;
    let producer = tokio::spawn(async move {
        for chunk in 0..(TOTAL / 100) {
            let events = (chunk * 100..(chunk + 1) * 100)
                .map(|i| job("p", i))
                .collect();
            tx.send(Ingest::new("p", events)).await.unwrap();
            if chunk % 10 == 0 {
                tokio::task::yield_now().await;
            }
        }
    });
    let mut subs = Vec::new();
    for (k, after) in [0u64, 0, 1_234].into_iter().enumerate() {
        let mut sub = hub.subscribe(after, crate::store::EventFilter::default());
        subs.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while got.len() < TOTAL - after as usize {
                let batch = tokio::time::timeout(Duration::from_secs(30), sub.next_batch())
                    .await
                    .expect("subscription stalled")
                    .unwrap()
                    .unwrap();
                got.extend(batch.iter().map(|e| e.seq));
                if k == 1 {
                    // A slow reader.
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            (after, got)
        }));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    producer.await.unwrap();
    for s in subs {
        let (after, got) = s.await.unwrap();
        let want: Vec<u64> = ((after + 1)..=TOTAL as u64).collect();
        assert_eq!(got.len(), want.len(), "subscriber after {after}");
        assert_eq!(got, want, "subscriber after {after}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filtered_subscription_sees_only_matching_events() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(HubOptions::new(dir.path().join("h.db"))).unwrap();
    let tx = hub.sender();
    let mut events: Vec<Event> = (0..100).map(|i| job("a", i)).collect();
    for e in events.iter_mut().step_by(10) {
        e.status = Status::Failed;
    }
    tx.send(Ingest::new("a", events.clone())).await.unwrap();
    tx.flush().await.unwrap();
    let filter = crate::store::EventFilter {
        status: Some(Status::Failed),
        ..Default::default()
    };
    let mut sub = hub.subscribe(0, filter);
    let first = sub.next_batch().await.unwrap().unwrap();
    assert_eq!(first.len(), 10);
    tx.send(Ingest::new(
        "a",
        vec![{
            let mut e = job("a", 1000);
            e.status = Status::Failed;
            e
        }],
    ))
    .await
    .unwrap();
    let live = tokio::time::timeout(Duration::from_secs(5), sub.next_batch())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].seq, 101);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn board_is_rebuilt_from_the_store_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    {
        let hub = Hub::start(HubOptions::new(&path)).unwrap();
        let mut e = job("s", 1);
        e.status = Status::Failed;
        e.error = Some("out of memory".into());
        hub.sender().send(Ingest::new("s", vec![e])).await.unwrap();
        hub.sender().flush().await.unwrap();
        tokio::task::spawn_blocking(move || hub.shutdown())
            .await
            .unwrap();
    }
    let hub = Hub::start(HubOptions::new(&path)).unwrap();
    let board = hub.board();
    let board = board.read().unwrap();
    let s = board.get(EntityKind::Job, "s-job-1").expect("rebuilt");
    assert_eq!(s.status, Status::Failed);
    assert_eq!(s.error.as_deref(), Some("out of memory"));
    let seen: HashSet<_> = board.iter().map(|s| s.entity.clone()).collect();
    assert_eq!(seen.len(), 1);
    assert_eq!(hub.health().last_seq, 1);
}

/// A crash can leave the entities table behind the events (it is written behind
/// ingestion); the board is rebuilt by replaying what came after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn board_replays_events_the_entities_table_had_not_caught_up_with() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    {
        // Write events the way the hub does, but "crash" before any entity flush.
        let mut w = crate::store::Writer::open(&path).unwrap();
        let mut a = job("s", 1);
        a.status = Status::Running;
        let mut b = job("s", 1);
        b.status = Status::Failed;
        b.remote_id = Some("second".into());
        w.append(&mut [Ingest::new("s", vec![a, b])]).unwrap();
        assert_eq!(w.entities_seq(), 0);
    }
    let hub = Hub::start(HubOptions::new(&path)).unwrap();
    {
        let board = hub.board();
        let board = board.read().unwrap();
        let s = board.get(EntityKind::Job, "s-job-1").expect("replayed");
        assert_eq!(s.status, Status::Failed);
        assert_eq!(s.events, 2);
    }
    // And the table catches up (at shutdown at the latest).
    let db = path.clone();
    tokio::task::spawn_blocking(move || hub.shutdown())
        .await
        .unwrap();
    let r = crate::store::Reader::open(&db).unwrap();
    let latest = r.latest(&crate::store::EventFilter::default(), 10).unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].events, 2);
}

/// Entity states reach the table after a flush and on a quiet stream, not only when
/// the next batch arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entity_states_are_written_on_flush_and_when_the_stream_goes_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(HubOptions::new(dir.path().join("h.db"))).unwrap();
    let tx = hub.sender();
    let mut e = job("q", 1);
    e.status = Status::Failed;
    tx.send(Ingest::new("q", vec![e])).await.unwrap();
    tx.flush().await.unwrap();
    let r = crate::store::Reader::open(hub.db_path()).unwrap();
    let latest = r.latest(&crate::store::EventFilter::default(), 10).unwrap();
    assert_eq!(latest.len(), 1, "flush writes entity states");
    assert_eq!(latest[0].status, Status::Failed);

    let mut e = job("q", 1);
    e.status = Status::Running;
    e.remote_id = Some("again".into());
    tx.send(Ingest::new("q", vec![e])).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let latest = r.latest(&crate::store::EventFilter::default(), 10).unwrap();
        if latest[0].status == Status::Running {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a quiet stream's state was never written"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Under a steady stream of small commits the WAL keeps starting over, so it stays a
/// few megabytes instead of growing for as long as the stream lasts (it reached 1 GB
/// in 10 s at 10k events/s when only the background checkpointer copied it back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_starts_over_under_a_steady_stream() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(HubOptions::new(dir.path().join("h.db"))).unwrap();
    let wal = dir.path().join("h.db-wal");
    // Bytes 12..16 of the WAL header: the checkpoint sequence, one more each time
    // the WAL starts over from its first frame.
    let restarts = || -> u32 {
        let head = std::fs::read(&wal).unwrap_or_default();
        head.get(12..16)
            .map(|b| u32::from_be_bytes(b.try_into().unwrap()))
            .unwrap_or(0)
    };
    let tx = hub.sender();
    let started = std::time::Instant::now();
    let before = restarts();
    let mut commits = 0usize;
    // One event at a time with a pause between: each is its own commit, the case
    // where the WAL grows fastest per event.
    while started.elapsed() < Duration::from_secs(4) {
        let mut e = job("steady", commits);
        e.remote_id = None;
        tx.send(Ingest::new("steady", vec![e])).await.unwrap();
        commits += 1;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tx.flush().await.unwrap();
    let after = restarts();
    let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "{commits} commits: the WAL started over {} time(s), {size} bytes",
        after - before
    );
    assert!(
        // The background checkpointer passes every 250 ms: 16 chances in 4 s.
        after >= before + 8,
        "the WAL started over {} time(s) during {commits} commits in 4 s; \
         it is {size} bytes",
        after - before
    );
    // Each commit writes at least two pages (the event and its index entry).
    let never_restarted = commits as u64 * 2 * 4096;
    assert!(
        size < never_restarted / 4,
        "the WAL is {size} bytes after {commits} commits (it would be about \
         {never_restarted} if it never started over)"
    );
}
