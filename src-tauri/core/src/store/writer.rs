//! The single writer. Owned by the hub's thread; nothing else writes the database.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use super::row::counts_json;
use super::{open, StoreError};
use crate::board::EntityState;
use crate::hub::Ingest;
use crate::model::{now_millis, Millis};

/// What one append did.
#[derive(Debug, Default)]
pub struct AppendOutcome {
    /// Events stored (each now has its `seq`).
    pub stored: usize,
    /// Events dropped because (source, remote id) was already stored.
    pub duplicates: usize,
}

pub struct Writer {
    conn: Connection,
    next_seq: u64,
    entities_seq: u64,
}

impl Writer {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = open(path)?;
        let last: Option<i64> = conn.query_row("SELECT MAX(seq) FROM events", [], |r| r.get(0))?;
        let entities_seq: i64 = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'entities_seq'",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        // The writer's own page cache: index pages stay hot across batches.
        conn.pragma_update(None, "cache_size", -65_536)?;
        // Checkpoints run on a separate connection (see `Checkpointer`), so the
        // writer never pays for copying the WAL back.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(Writer {
            conn,
            next_seq: last.unwrap_or(0) as u64 + 1,
            entities_seq: entities_seq as u64,
        })
    }

    /// The seq the next stored event will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Appends every batch in one transaction: assigns `seq`, drops duplicates by
    /// (source, remote id), saves each batch's cursor and the minute buckets.
    ///
    /// On error nothing is written and every event's `seq` is back to 0, so the hub
    /// can retry the same batches later: nothing is lost.
    pub fn append(&mut self, batches: &mut [Ingest]) -> Result<AppendOutcome, StoreError> {
        match self.try_append(batches) {
            Ok(outcome) => Ok(outcome),
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                for b in batches.iter_mut() {
                    for ev in &mut b.events {
                        ev.seq = 0;
                    }
                }
                Err(e)
            }
        }
    }

    fn try_append(&mut self, batches: &mut [Ingest]) -> Result<AppendOutcome, StoreError> {
        let mut outcome = AppendOutcome::default();
        let mut buckets = MinuteBuckets::default();
        let mut seq = self.next_seq;
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        {
            let mut insert = self.conn.prepare_cached(
                "INSERT OR IGNORE INTO events (seq, source, received_at, occurred_at, kind, entity, \
                 parent, status, progress, stage, message, error, counts, channel, remote_id, raw) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )?;
            let mut cursor = self.conn.prepare_cached(
                "INSERT INTO cursors (source, cursor, seq, updated_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT(source) DO UPDATE SET cursor = excluded.cursor, seq = excluded.seq, \
                 updated_at = excluded.updated_at",
            )?;
            for batch in batches.iter_mut() {
                for ev in &mut batch.events {
                    let inserted = insert.execute(params![
                        seq as i64,
                        ev.source,
                        ev.received_at,
                        ev.occurred_at,
                        ev.kind.as_str(),
                        ev.entity,
                        ev.parent,
                        ev.status.as_str(),
                        ev.progress,
                        ev.stage,
                        ev.message,
                        ev.error,
                        counts_json(&ev.counts),
                        ev.channel,
                        ev.remote_id,
                        ev.raw,
                    ])?;
                    if inserted == 1 {
                        ev.seq = seq;
                        buckets.add(ev.received_at, seq);
                        seq += 1;
                        outcome.stored += 1;
                    } else {
                        ev.seq = 0;
                        outcome.duplicates += 1;
                    }
                }
                if let Some(c) = &batch.cursor {
                    cursor.execute(params![batch.source, c, (seq - 1) as i64, now_millis()])?;
                }
            }
            let mut bucket = self.conn.prepare_cached(
                "INSERT INTO time_buckets (minute, first_seq, last_seq) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(minute) DO UPDATE SET first_seq = min(first_seq, excluded.first_seq), \
                 last_seq = max(last_seq, excluded.last_seq)",
            )?;
            for (minute, (first, last)) in &buckets.0 {
                bucket.execute(params![minute, *first as i64, *last as i64])?;
            }
        }
        self.conn.execute_batch("COMMIT")?;
        self.next_seq = seq;
        for b in batches.iter_mut() {
            b.events.retain(|e| e.seq != 0);
        }
        Ok(outcome)
    }

    /// Writes entity states (the board's changed entries) and records that the table
    /// is current up to `upto_seq`. Called behind ingestion: every second, before
    /// retention, and at shutdown.
    pub fn write_entities<'a>(
        &mut self,
        states: impl IntoIterator<Item = &'a EntityState>,
        upto_seq: u64,
    ) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
        let mut n = 0;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT OR REPLACE INTO entities (kind, entity, source, parent, status, progress, \
                 stage, message, error, counts, first_seen, started_at, finished_at, last_seen, \
                 last_seq, events) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )?;
            for s in states {
                n += upsert.execute(params![
                    s.kind.as_str(),
                    s.entity,
                    s.source,
                    s.parent,
                    s.status.as_str(),
                    s.progress,
                    s.stage,
                    s.message,
                    s.error,
                    counts_json(&s.counts),
                    s.first_seen,
                    s.started_at,
                    s.finished_at,
                    s.last_seen,
                    s.last_seq as i64,
                    s.events as i64,
                ])?;
            }
            tx.execute(
                "UPDATE meta SET value = ?1 WHERE key = 'entities_seq'",
                params![upto_seq as i64],
            )?;
        }
        tx.commit()?;
        self.entities_seq = upto_seq;
        Ok(n)
    }

    /// Up to which seq the entities table is current.
    pub fn entities_seq(&self) -> u64 {
        self.entities_seq
    }

    /// Copies what the background checkpointer left in the WAL. Between this
    /// thread's transactions nothing new arrives, so unless a reader still holds an
    /// older snapshot the copy is complete and the next write starts the WAL over.
    pub fn finish_checkpoint(&self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Gives the page cache's memory back. The cache (up to 64 MiB) keeps a fast
    /// stream's commits off the disk, but once a burst has filled it (a backlog
    /// replayed, a busy hour), an app that then sits watching a few events a second
    /// would hold those pages for good (issue 8: idle memory). Pages needed again are
    /// read from the OS page cache.
    pub fn release_cache(&self) -> Result<(), StoreError> {
        self.conn.execute_batch("PRAGMA shrink_memory")?;
        Ok(())
    }

    /// Bytes the page cache holds now.
    #[cfg(test)]
    pub(crate) fn cache_bytes(&self) -> i64 {
        let (mut now, mut peak) = (0, 0);
        // SAFETY: the handle is this open connection's; the call only reads counters.
        let rc = unsafe {
            rusqlite::ffi::sqlite3_db_status(
                self.conn.handle(),
                rusqlite::ffi::SQLITE_DBSTATUS_CACHE_USED,
                &mut now,
                &mut peak,
                0,
            )
        };
        assert_eq!(rc, rusqlite::ffi::SQLITE_OK);
        i64::from(now)
    }

    /// Folds the WAL back into the database file (on clean shutdown).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }
}

/// Per-minute seq ranges of one batch (usually one or two minutes).
#[derive(Default)]
struct MinuteBuckets(HashMap<i64, (u64, u64)>);

impl MinuteBuckets {
    fn add(&mut self, received_at: Millis, seq: u64) {
        let r = self
            .0
            .entry(received_at.div_euclid(60_000))
            .or_insert((seq, seq));
        r.0 = r.0.min(seq);
        r.1 = r.1.max(seq);
    }
}
