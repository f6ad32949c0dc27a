//! Store tests against real SQLite files.

use std::collections::HashSet;

use super::*;
use crate::board::Board;
use crate::hub::Ingest;
use crate::model::{EntityKind, Event, Status};

/// What the search thread does, all at once.
fn index_all(db: &std::path::Path) {
    let mut index = SearchIndex::open(db).unwrap();
    while index.index(u64::MAX).unwrap() > 0 {}
}

/// How many events a search for `q` finds (up to 100, no filter).
fn hits(r: &Reader, q: &str) -> usize {
    r.search(q, &EventFilter::default(), 100).unwrap().len()
}

fn ev(source: &str, entity: &str, status: Status, remote: Option<&str>) -> Event {
    let mut e = Event::new(source, EntityKind::Job, entity, status);
    e.remote_id = remote.map(str::to_string);
    e.message = Some(format!("message for {entity}"));
    e.raw = format!("{{\"jobId\":\"{entity}\"}}");
    e
}

fn append(
    w: &mut Writer,
    board: &mut Board,
    source: &str,
    events: Vec<Event>,
    cursor: Option<&str>,
) -> AppendOutcome {
    let mut batch = vec![Ingest {
        source: source.into(),
        events,
        cursor: cursor.map(str::to_string),
    }];
    let out = w.append(&mut batch).unwrap();
    let mut keys = Vec::new();
    for e in &batch[0].events {
        keys.push(board.apply(e));
    }
    // The hub writes entity states behind ingestion; here, after every append.
    let states = board.states(keys.iter());
    w.write_entities(states.iter(), w.next_seq() - 1).unwrap();
    out
}

#[test]
fn migrates_an_empty_file_to_the_latest_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    std::fs::write(&path, b"").unwrap();
    let conn = open(&path).unwrap();
    assert_eq!(schema_version(&conn).unwrap(), MIGRATIONS.len() as i64);
    for table in [
        "events", "entities", "cursors", "meta", "notified", "snoozes",
    ] {
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = ?1",
                [table],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "table {table} missing after migration");
    }
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn migrates_from_every_earlier_schema_keeping_the_data() {
    for start in 0..MIGRATIONS.len() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            migrate_to(&conn, start).unwrap();
            assert_eq!(schema_version(&conn).unwrap(), start as i64);
            if start >= 1 {
                conn.execute(
                    "INSERT INTO events (seq, source, received_at, kind, entity, status, message, raw) \
                     VALUES (1, 'old', 1000, 'job', 'legacy-job', 'failed', 'disk quota exceeded', '{}')",
                    [],
                )
                .unwrap();
                conn.execute(
                    "INSERT INTO cursors (source, cursor, seq, updated_at) VALUES ('old', '41', 1, 1000)",
                    [],
                )
                .unwrap();
            }
        }
        let w = Writer::open(&path).unwrap();
        let r = Reader::open(&path).unwrap();
        assert_eq!(
            schema_version(w.connection()).unwrap(),
            MIGRATIONS.len() as i64,
            "from version {start}"
        );
        if start >= 1 {
            assert_eq!(
                r.cursor("old").unwrap().as_deref(),
                Some("41"),
                "from version {start}"
            );
            assert_eq!(w.next_seq(), 2);
            // Rows written before search existed get indexed after the upgrade.
            index_all(&path);
            let hits = r.search("quota", &EventFilter::default(), 10).unwrap();
            assert_eq!(hits.len(), 1, "from version {start}");
            assert_eq!(hits[0].entity, "legacy-job");
        }
    }
}

#[test]
fn refuses_a_database_from_a_newer_telltale() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    {
        let conn = open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let err = Reader::open(&path).err().expect("must refuse");
    assert_eq!(err.code(), "store_too_new");
    assert!(err.to_string().contains("upgrade telltale"));
}

#[test]
fn assigns_seq_in_order_and_dedupes_by_remote_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let mut w = Writer::open(&path).unwrap();
    let mut board = Board::default();
    let out = append(
        &mut w,
        &mut board,
        "sse",
        vec![
            ev("sse", "a", Status::Running, Some("1")),
            ev("sse", "a", Status::Running, Some("1")), // same id twice in one batch
            ev("sse", "b", Status::Queued, None),
            ev("sse", "b", Status::Queued, None), // no remote id: never deduped
        ],
        Some("1"),
    );
    assert_eq!((out.stored, out.duplicates), (3, 1));
    let out = append(
        &mut w,
        &mut board,
        "sse",
        vec![
            ev("sse", "a", Status::Running, Some("1")),
            ev("sse", "a", Status::Completed, Some("2")),
        ],
        Some("2"),
    );
    assert_eq!((out.stored, out.duplicates), (1, 1));
    // The same remote id from another source is a different message.
    let out = append(
        &mut w,
        &mut board,
        "other",
        vec![ev("other", "c", Status::Failed, Some("1"))],
        None,
    );
    assert_eq!(out.stored, 1);

    let r = Reader::open(&path).unwrap();
    let all = r.since(0, &EventFilter::default(), 100).unwrap();
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(r.cursor("sse").unwrap().as_deref(), Some("2"));
    let a = r
        .latest(
            &EventFilter {
                entity: Some("a".into()),
                ..Default::default()
            },
            10,
        )
        .unwrap();
    assert_eq!(a[0].status, Status::Completed);
    assert_eq!(a[0].events, 2);
    assert_eq!(
        board.get(EntityKind::Job, "a").unwrap().status,
        Status::Completed
    );
}

#[test]
fn a_failed_append_leaves_nothing_and_can_be_retried() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let mut w = Writer::open(&path).unwrap();
    // Another connection holds the write lock: the append must fail cleanly.
    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .busy_timeout(std::time::Duration::from_millis(1))
        .unwrap();
    w.connection()
        .busy_timeout(std::time::Duration::from_millis(10))
        .unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut batch =
        vec![Ingest::new("s", vec![ev("s", "a", Status::Failed, Some("9"))]).with_cursor("9")];
    assert!(w.append(&mut batch).is_err());
    assert_eq!(batch[0].events[0].seq, 0);
    other.execute_batch("ROLLBACK").unwrap();
    let out = w.append(&mut batch).unwrap();
    assert_eq!(out.stored, 1);
    assert_eq!(batch[0].events[0].seq, 1);
    assert_eq!(
        Reader::open(&path).unwrap().cursor("s").unwrap().as_deref(),
        Some("9")
    );
}

#[test]
fn timeline_failures_window_and_search() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let mut w = Writer::open(&path).unwrap();
    let mut board = Board::default();
    let mut events = Vec::new();
    for i in 0..50 {
        let mut e = ev("s", &format!("job-{}", i % 5), Status::Running, None);
        e.received_at = 1_000 + i;
        if i % 10 == 9 {
            e.status = Status::Failed;
            e.error = Some(format!("ECONNRESET talking to payments (attempt {i})"));
        }
        events.push(e);
    }
    append(&mut w, &mut board, "s", events, None);
    let r = Reader::open(&path).unwrap();
    let tl = r.timeline(Some(EntityKind::Job), "job-4", 100).unwrap();
    assert_eq!(tl.len(), 10);
    assert!(tl.windows(2).all(|p| p[0].seq < p[1].seq));
    let fails = r.recent_failures(3).unwrap();
    assert_eq!(fails.len(), 3);
    assert_eq!(fails[0].received_at, 1_049);
    let window = r
        .query(
            &EventFilter {
                from: Some(1_010),
                until: Some(1_020),
                ..Default::default()
            },
            100,
        )
        .unwrap();
    assert_eq!(window.len(), 10);

    // Before indexing, the unindexed tail is scanned; after, the index answers.
    let before = r
        .search("econnreset payments", &EventFilter::default(), 100)
        .unwrap();
    assert_eq!(before.len(), 5);
    index_all(&path);
    let after = r
        .search("ECONNRESET paym", &EventFilter::default(), 100)
        .unwrap();
    assert_eq!(after.len(), 5, "prefix search through the index");
    assert_eq!(
        before.iter().map(|e| e.seq).collect::<Vec<_>>(),
        after.iter().map(|e| e.seq).collect::<Vec<_>>()
    );
    let filtered = r
        .search(
            "payments",
            &EventFilter {
                entity: Some("job-4".into()),
                ..Default::default()
            },
            100,
        )
        .unwrap();
    assert!(filtered.iter().all(|e| e.entity == "job-4"));
    // Quotes and operators in user text are words, not syntax.
    assert!(r
        .search("\"AND OR NOT (", &EventFilter::default(), 10)
        .is_ok());
}

#[test]
fn retention_deletes_the_oldest_and_keeps_cursors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let mut w = Writer::open(&path).unwrap();
    let mut board = Board::default();
    let mut old = Vec::new();
    for i in 0..30 {
        let mut e = ev(
            "s",
            &format!("old-{i}"),
            Status::Completed,
            Some(&i.to_string()),
        );
        e.received_at = 1_000;
        old.push(e);
    }
    append(&mut w, &mut board, "s", old, Some("29"));
    let mut fresh = ev("s", "new", Status::Running, Some("30"));
    fresh.received_at = 1_000_000;
    append(&mut w, &mut board, "s", vec![fresh], Some("30"));
    index_all(&path);

    let policy = Retention {
        max_age: Some(std::time::Duration::from_secs(60)),
        max_bytes: None,
    };
    let step = w.retention_step(&policy, 1_000_000, 20, 0).unwrap();
    assert_eq!(step.deleted_events, 20);
    assert!(step.more);
    let step2 = w.retention_step(&policy, 1_000_000, 20, 0).unwrap();
    assert_eq!(step2.deleted_events, 10);
    assert!(!step2.more);
    let removed: HashSet<_> = step
        .removed_entities
        .iter()
        .chain(&step2.removed_entities)
        .cloned()
        .collect();
    assert_eq!(removed.len(), 30);
    assert_eq!(
        w.retention_step(&policy, 1_000_000, 20, 0).unwrap(),
        RetentionStep::default()
    );

    let r = Reader::open(&path).unwrap();
    assert_eq!(r.count().unwrap(), 1);
    assert_eq!(r.cursor("s").unwrap().as_deref(), Some("30"));
    assert_eq!(
        r.last_event_of("s").unwrap().unwrap().remote_id.as_deref(),
        Some("30")
    );
    assert!(r
        .search("old", &EventFilter::default(), 10)
        .unwrap()
        .is_empty());
    assert_eq!(r.latest(&EventFilter::default(), 100).unwrap().len(), 1);
    // New events continue after the highest seq ever given, never reusing one.
    assert_eq!(w.next_seq(), 32);
}

#[test]
fn retention_by_size_trims_until_under_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let mut w = Writer::open(&path).unwrap();
    let mut board = Board::default();
    for chunk in 0..10 {
        let events = (0..500)
            .map(|i| {
                let mut e = ev("s", &format!("j{chunk}-{i}"), Status::Completed, None);
                e.raw = "x".repeat(400);
                e
            })
            .collect();
        append(&mut w, &mut board, "s", events, None);
    }
    let policy = Retention {
        max_age: None,
        max_bytes: Some(1_000_000),
    };
    let mut rounds = 0;
    while w.retention_step(&policy, 0, 500, 0).unwrap().deleted_events > 0 {
        rounds += 1;
        assert!(rounds < 20);
    }
    let r = Reader::open(&path).unwrap();
    let left = r.count().unwrap();
    assert!(left > 0 && left < 5_000, "left {left}");
    let oldest = r.since(0, &EventFilter::default(), 1).unwrap();
    assert_eq!(oldest[0].seq, 5_000 - left + 1, "the oldest went first");
}

#[test]
fn time_windows_are_exact_across_minutes_and_out_of_order_stamps() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let mut w = Writer::open(&path).unwrap();
    let mut board = Board::default();
    // 10 minutes of events; sources stamp received_at a little out of seq order.
    let base = 1_700_000_000_000i64;
    let mut all = Vec::new();
    for i in 0..600i64 {
        let mut e = ev("s", &format!("j{i}"), Status::Running, None);
        e.received_at = base + i * 1_000 + if i % 7 == 0 { -2_500 } else { 0 };
        all.push(e.received_at);
        append(&mut w, &mut board, "s", vec![e], None);
    }
    let r = Reader::open(&path).unwrap();
    for (from, until) in [
        (base, base + 60_000),
        (base + 59_000, base + 61_000),
        (base + 123_456, base + 400_000),
        (base - 10_000, base + 1),
    ] {
        let got = r
            .query(
                &EventFilter {
                    from: Some(from),
                    until: Some(until),
                    ..Default::default()
                },
                10_000,
            )
            .unwrap();
        let want = all.iter().filter(|t| **t >= from && **t < until).count();
        assert_eq!(got.len(), want, "window {from}..{until}");
        assert!(got
            .iter()
            .all(|e| e.received_at >= from && e.received_at < until));
    }
    let only_from = r
        .query(
            &EventFilter {
                from: Some(base + 590_000),
                ..Default::default()
            },
            10_000,
        )
        .unwrap();
    assert_eq!(
        only_from.len(),
        all.iter().filter(|t| **t >= base + 590_000).count()
    );
}

#[test]
fn id_shaped_words_are_phrases_and_only_the_last_word_is_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let mut w = Writer::open(&path).unwrap();
    let mut board = Board::default();
    let events = ["job-4242", "job-42", "job-4243", "4242-job"]
        .iter()
        .map(|id| ev("s", id, Status::Running, None))
        .collect();
    append(&mut w, &mut board, "s", events, None);
    let r = Reader::open(&path).unwrap();
    let entities = |q: &str| {
        let mut v: Vec<String> = r
            .search(q, &EventFilter::default(), 100)
            .unwrap()
            .into_iter()
            .map(|e| e.entity)
            .collect();
        v.sort();
        v
    };
    // Unindexed tail and index must agree.
    let before = entities("job-4242");
    index_all(&path);
    let after = entities("job-4242");
    assert_eq!(
        after,
        vec!["job-4242".to_string()],
        "the phrase, as a prefix of its last token"
    );
    assert!(before.contains(&"job-4242".to_string()));
    assert_eq!(
        entities("job-424"),
        vec!["job-4242".to_string(), "job-4243".to_string()]
    );
    // A word before the last one is not a prefix.
    assert!(entities("jo 4242").is_empty());
}

#[test]
fn the_search_index_lives_beside_the_database_and_follows_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let count_in_index = |db: &std::path::Path| -> i64 {
        let c = rusqlite::Connection::open(search_index_path(db)).unwrap();
        c.query_row("SELECT COUNT(*) FROM events_fts", [], |r| r.get(0))
            .unwrap()
    };
    {
        let mut w = Writer::open(&path).unwrap();
        let mut board = Board::default();
        let mut events = Vec::new();
        for i in 0..10 {
            let mut e = ev("s", &format!("old-{i}"), Status::Failed, None);
            e.error = Some("walrus overflow".into());
            e.received_at = 1_000;
            events.push(e);
        }
        append(&mut w, &mut board, "s", events, None);
        index_all(&path);
        assert_eq!(count_in_index(&path), 10);
        let r = Reader::open(&path).unwrap();
        assert_eq!(hits(&r, "walrus"), 10);

        // Retention deletes events; the search thread drops them from the index.
        let policy = Retention {
            max_age: Some(std::time::Duration::from_secs(1)),
            max_bytes: None,
        };
        let step = w.retention_step(&policy, 1_000_000, 4, 0).unwrap();
        assert_eq!(step.deleted_seqs, vec![1, 2, 3, 4]);
        let mut index = SearchIndex::open(&path).unwrap();
        index.forget(&step.deleted_seqs).unwrap();
        assert_eq!(count_in_index(&path), 6);
        assert_eq!(hits(&r, "walrus"), 6);
    }

    // The database is replaced; its old index file stays behind. Readers must not
    // take it for the new database's, and the indexer rebuilds it.
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
    assert!(search_index_path(&path).exists());
    let mut w = Writer::open(&path).unwrap();
    let mut board = Board::default();
    let fresh = (0..12)
        .map(|i| {
            let mut e = ev("s", &format!("new-{i}"), Status::Failed, None);
            e.error = Some("otter underflow".into());
            e
        })
        .collect();
    append(&mut w, &mut board, "s", fresh, None);
    let r = Reader::open(&path).unwrap();
    // Seqs 5..10 exist again: an index taken for this database's would match them.
    assert_eq!(hits(&r, "walrus"), 0);
    assert_eq!(hits(&r, "otter"), 12);
    let index = SearchIndex::open(&path).unwrap();
    assert_eq!(index.indexed_upto(), 0, "rebuilt from scratch");
    drop(index);
    index_all(&path);
    assert_eq!(count_in_index(&path), 12);
    assert_eq!(hits(&r, "walrus"), 0);
    assert_eq!(hits(&r, "otter under"), 12);
}

/// A field whose text is already in `raw` is indexed once (through `raw`), a field
/// that is not (an entity named by the channel, a message the normaliser wrote) is
/// indexed in its own column, and every one of them is still found. An index file
/// of the older layout is rebuilt.
#[test]
fn fields_already_in_raw_are_indexed_once_and_all_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let mut w = Writer::open(&path).unwrap();
    let mut board = Board::default();
    let mut in_raw = ev("s", "job-walrus", Status::Running, None);
    in_raw.message = Some("parsing resume".into());
    in_raw.raw = r#"{"jobId":"job-walrus","message":"parsing resume"}"#.into();
    let mut not_in_raw = ev("s", "channel-otter", Status::Running, None);
    not_in_raw.message = Some("summary by normaliser".into());
    not_in_raw.raw = r#"{"progress":5}"#.into();
    append(&mut w, &mut board, "s", vec![in_raw, not_in_raw], None);
    index_all(&path);

    let vocab = rusqlite::Connection::open(search_index_path(&path)).unwrap();
    vocab
        .execute_batch("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, events_fts, 'col')")
        .unwrap();
    let columns_of = |term: &str| -> Vec<String> {
        let mut st = vocab
            .prepare("SELECT col FROM temp.v WHERE term = ?1 ORDER BY col")
            .unwrap();
        st.query_map([term], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(columns_of("resume"), vec!["raw"], "in raw: indexed once");
    assert_eq!(columns_of("walrus"), vec!["raw"]);
    assert_eq!(
        columns_of("otter"),
        vec!["entity"],
        "not in raw: its own column"
    );
    assert_eq!(columns_of("normaliser"), vec!["message"]);

    let r = Reader::open(&path).unwrap();
    let found = |q: &str| -> Vec<String> {
        r.search(q, &EventFilter::default(), 10)
            .unwrap()
            .into_iter()
            .map(|e| e.entity)
            .collect()
    };
    assert_eq!(found("parsing resume"), vec!["job-walrus"]);
    assert_eq!(found("job-walrus"), vec!["job-walrus"]);
    assert_eq!(found("channel-otter"), vec!["channel-otter"]);
    assert_eq!(found("summary by normaliser"), vec!["channel-otter"]);

    // An index written in the older layout (every field in its own column, no
    // layout mark) is rebuilt when opened.
    vocab
        .execute("DELETE FROM meta WHERE key = 'layout'", [])
        .unwrap();
    drop(vocab);
    let index = SearchIndex::open(&path).unwrap();
    assert_eq!(index.indexed_upto(), 0, "rebuilt from scratch");
    drop(index);
    index_all(&path);
    assert_eq!(found("parsing resume"), vec!["job-walrus"]);
}

#[test]
fn the_writer_gives_its_page_cache_back_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let mut w = Writer::open(&path).unwrap();
    let mut board = Board::default();
    for chunk in 0..20 {
        let events = (0..1_000)
            .map(|i| ev("sse", &format!("job-{chunk}-{i}"), Status::Running, None))
            .collect();
        append(&mut w, &mut board, "sse", events, None);
    }
    let filled = w.cache_bytes();
    assert!(
        filled > 2_000_000,
        "20,000 events left only {filled} bytes cached"
    );
    w.release_cache().unwrap();
    let released = w.cache_bytes();
    assert!(
        released < filled / 10,
        "the cache still holds {released} of {filled} bytes"
    );
    // Still a working writer: pages come back as they are needed.
    let out = append(
        &mut w,
        &mut board,
        "sse",
        vec![ev("sse", "after", Status::Queued, None)],
        None,
    );
    assert_eq!(out.stored, 1);
}
