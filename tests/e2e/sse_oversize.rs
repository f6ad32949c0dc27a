//! An event over the source's size limit is discarded whole, and the operator sees
//! it: a `gap` notice in history and a reason on the source, while the events around
//! it are stored.

use std::time::{Duration, Instant};

use telltale_core::model::{EntityKind, Status};
use telltale_core::normalize::FieldOverrides;
use telltale_core::source::sse::SseSourceConfig;
use telltale_core::store::{EventFilter, Reader};
use telltale_tests::engine_on_disk::start_engine;
use telltale_tests::sse_server::{Conn, ScriptedServer};

async fn oversize(mut c: Conn) {
    let _ = c.sse_head().await;
    let _ = c
        .write("id: 1\ndata: {\"jobId\":\"before\",\"status\":\"running\"}\n\n")
        .await;
    let huge = format!(
        "id: 2\ndata: {{\"jobId\":\"huge\",\"pad\":\"{}\"}}\n\n",
        "x".repeat(200_000)
    );
    let _ = c.write(huge).await;
    let _ = c
        .write("id: 3\ndata: {\"jobId\":\"after\",\"status\":\"failed\",\"error\":\"boom\"}\n\n")
        .await;
    c.hold(Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_event_is_discarded_and_marked_in_history_and_source_state() {
    let server = ScriptedServer::start(oversize).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let engine = start_engine(&db);
    let mut cfg = SseSourceConfig::new("big", server.url("/events"));
    cfg.max_event_size = 64 * 1024;
    engine
        .add_sse_source(cfg, FieldOverrides::default())
        .unwrap();

    let reader = Reader::open(&db).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let events = loop {
        let all = reader.since(0, &EventFilter::default(), 100).unwrap();
        if all.iter().any(|e| e.entity == "after") {
            break all;
        }
        assert!(Instant::now() < deadline, "events so far: {all:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(events.iter().any(|e| e.entity == "before"));
    assert!(
        !events.iter().any(|e| e.entity == "huge"),
        "the oversized event is not stored in part"
    );
    let gap = events
        .iter()
        .find(|e| e.kind == EntityKind::Source && e.status == Status::Gap)
        .expect("a gap notice marks the discarded event");
    assert!(
        gap.message.as_deref().unwrap_or("").contains("65536 bytes"),
        "{gap:?}"
    );
    let gap_pos = events.iter().position(|e| e.seq == gap.seq).unwrap();
    let after_pos = events.iter().position(|e| e.entity == "after").unwrap();
    assert!(
        gap_pos < after_pos,
        "the gap sits where the event was dropped"
    );
    let state = engine.source_states().get("big").unwrap();
    assert!(
        state.reason.as_deref().unwrap_or("").contains("discarded"),
        "source state: {state:?}"
    );
    engine.shutdown().await;
}
