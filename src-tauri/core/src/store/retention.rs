//! Retention by age and by size. Runs in small steps between ingestion batches (the
//! hub calls it when idle), so it never holds a write lock for long.

use std::time::Duration;

use rusqlite::params;

use super::{StoreError, Writer};
use crate::board::EntityKey;
use crate::model::{EntityKind, Millis};

/// How much history to keep. `None` = no limit of that kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    pub max_age: Option<Duration>,
    /// Bytes of database pages in use (free pages are reused, not counted).
    pub max_bytes: Option<u64>,
}

/// What one step removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RetentionStep {
    pub deleted_events: u64,
    /// Their seqs, for the search index (a file of its own, written by its own
    /// thread: `SearchIndex::forget`).
    pub deleted_seqs: Vec<u64>,
    /// Entities none of whose events remain; the hub drops them from the board.
    pub removed_entities: Vec<EntityKey>,
    /// More is due: call again soon.
    pub more: bool,
}

impl Retention {
    pub fn is_unbounded(&self) -> bool {
        self.max_age.is_none() && self.max_bytes.is_none()
    }
}

impl Writer {
    /// Deletes at most `limit` of the oldest events that the policy says must go, and
    /// the entities left with no events. Their search entries are the search thread's
    /// to drop (`RetentionStep::deleted_seqs`); `index_bytes` is the search index's
    /// share of the size limit (`SearchIndex::used_bytes`). Source cursors are
    /// never touched: a source resumes where the history ends, not where it was cut.
    pub fn retention_step(
        &mut self,
        policy: &Retention,
        now: Millis,
        limit: u64,
        index_bytes: u64,
    ) -> Result<RetentionStep, StoreError> {
        let mut victims: Vec<i64> = Vec::new();
        let conn = self.connection();
        if let Some(age) = policy.max_age {
            let cutoff = now - age.as_millis() as i64;
            // Only minutes that started before the cutoff can hold old events.
            let mut st = conn.prepare_cached(
                "SELECT seq FROM events WHERE seq <= COALESCE((SELECT MAX(last_seq) FROM time_buckets \
                 WHERE minute <= ?1), -1) AND received_at < ?2 ORDER BY seq LIMIT ?3",
            )?;
            victims = st
                .query_map(
                    params![cutoff.div_euclid(60_000), cutoff, limit as i64],
                    |r| r.get(0),
                )?
                .collect::<Result<_, _>>()?;
        }
        if victims.is_empty() {
            if let Some(max) = policy.max_bytes {
                if used_bytes(conn)? + index_bytes > max {
                    let mut st =
                        conn.prepare_cached("SELECT seq FROM events ORDER BY seq LIMIT ?1")?;
                    victims = st
                        .query_map(params![limit as i64], |r| r.get(0))?
                        .collect::<Result<_, _>>()?;
                }
            }
        }
        if victims.is_empty() {
            return Ok(RetentionStep::default());
        }
        let conn = self.connection();
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let result = (|| -> Result<RetentionStep, StoreError> {
            let mut del = conn.prepare_cached("DELETE FROM events WHERE seq = ?1")?;
            for seq in &victims {
                del.execute([seq])?;
            }
            let mut gone = conn.prepare_cached(
                "DELETE FROM entities WHERE last_seq < COALESCE((SELECT MIN(seq) FROM events), 9223372036854775807) \
                 RETURNING kind, entity",
            )?;
            conn.execute(
                "DELETE FROM time_buckets WHERE last_seq < COALESCE((SELECT MIN(seq) FROM events), 9223372036854775807)",
                [],
            )?;
            let removed_entities = gone
                .query_map([], |r| {
                    let kind: String = r.get(0)?;
                    Ok((
                        EntityKind::parse(&kind).unwrap_or(EntityKind::Job),
                        r.get(1)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(RetentionStep {
                deleted_events: victims.len() as u64,
                deleted_seqs: victims.iter().map(|&s| s as u64).collect(),
                removed_entities,
                more: victims.len() as u64 == limit,
            })
        })();
        match result {
            Ok(step) => {
                conn.execute_batch("COMMIT")?;
                Ok(step)
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }
}

fn used_bytes(conn: &rusqlite::Connection) -> Result<u64, StoreError> {
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    let size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    Ok(((pages - free).max(0) * size) as u64)
}
