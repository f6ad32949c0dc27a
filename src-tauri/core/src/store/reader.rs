//! Read queries: replay, timelines, failures, windows, full-text search, latest state.
//!
//! A `Reader` owns one connection; WAL gives it a consistent snapshot per statement
//! while the writer appends. Open one per thread or task that reads.

use std::cell::Cell;
use std::path::Path;

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use super::row::{entity_from_row, event_from_row, ENTITY_COLUMNS, EVENT_COLUMNS};
use super::search_index::{read_only_uri, search_index_path};
use super::{open_read_only, EventFilter, StoreError};
use crate::board::EntityState;
use crate::model::{EntityKind, Event};

pub struct Reader {
    conn: Connection,
    /// The search index file is attached as `search` (on first use: it may not
    /// exist yet when the reader opens).
    search_attached: Cell<bool>,
}

fn where_clause(conds: &[String]) -> String {
    if conds.is_empty() {
        String::new()
    } else {
        format!(" AND {}", conds.join(" AND "))
    }
}

impl Reader {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Reader::from_connection(open_read_only(path)?))
    }

    pub fn from_connection(conn: Connection) -> Self {
        Reader {
            conn,
            search_attached: Cell::new(false),
        }
    }

    /// How far the search index goes: every event with seq ≤ this is in
    /// `search.events_fts`. 0 when there is no usable index (missing, being built,
    /// or left by another database): searches then scan `events`.
    fn search_indexed_upto(&self) -> u64 {
        if !self.search_attached.get() {
            let Some(db) = self.conn.path().filter(|p| !p.is_empty()) else {
                return 0;
            };
            let index = search_index_path(Path::new(db));
            if !index.exists()
                || self
                    .conn
                    .execute("ATTACH DATABASE ?1 AS search", [read_only_uri(&index)])
                    .is_err()
            {
                return 0;
            }
            self.search_attached.set(true);
        }
        self.conn
            .query_row(
                "SELECT i.value FROM search.meta i WHERE i.key = 'indexed_seq' \
                 AND (SELECT value FROM search.meta WHERE key = 'db_id') \
                   = (SELECT value FROM main.meta WHERE key = 'db_id')",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|v| v.max(0) as u64)
            .unwrap_or(0)
    }

    /// Events with `seq > after` matching `filter`, in seq order, at most `limit`.
    /// Replay for the relay and for lagging subscribers.
    pub fn since(
        &self,
        after: u64,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        self.between(after, u64::MAX, filter, limit)
    }

    /// Events with `after < seq <= upto` matching `filter`, in seq order.
    pub fn between(
        &self,
        after: u64,
        upto: u64,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let (conds, mut p) = filter.sql("");
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE seq > ? AND seq <= ?{} ORDER BY seq LIMIT ?",
            where_clause(&conds)
        );
        let mut args = vec![
            Value::Integer(after as i64),
            Value::Integer(upto.min(i64::MAX as u64) as i64),
        ];
        args.append(&mut p);
        args.push(Value::Integer(limit as i64));
        self.query_events(&sql, args)
    }

    /// One entity's whole timeline, oldest first.
    pub fn timeline(
        &self,
        kind: Option<EntityKind>,
        entity: &str,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE entity = ?1 AND (?2 IS NULL OR kind = ?2) \
             ORDER BY seq LIMIT ?3"
        ))?;
        let rows = st.query_map(
            params![entity, kind.map(|k| k.as_str()), limit as i64],
            event_from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The most recent failures, newest first.
    pub fn recent_failures(&self, limit: usize) -> Result<Vec<Event>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE status = 'failed' \
             ORDER BY received_at DESC LIMIT ?1"
        ))?;
        let rows = st.query_map([limit as i64], event_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Events matching `filter` (typically a time window), newest first.
    pub fn query(&self, filter: &EventFilter, limit: usize) -> Result<Vec<Event>, StoreError> {
        let (conds, mut p) = filter.sql("");
        let order = if filter.from.is_some() || filter.until.is_some() {
            "received_at DESC, seq DESC"
        } else {
            "seq DESC"
        };
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE 1{} ORDER BY {order} LIMIT ?",
            where_clause(&conds)
        );
        p.push(Value::Integer(limit as i64));
        self.query_events(&sql, p)
    }

    /// Full-text search (every word must match, prefixes allowed), newest first.
    ///
    /// The index is filled behind ingestion, so the few newest events it has not
    /// reached yet are scanned directly: a search never misses a stored event.
    pub fn search(
        &self,
        text: &str,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        // A word is what the user separated by spaces; its tokens are its alphanumeric
        // runs. `job-4242` is one word of two tokens, searched as the phrase
        // "job 4242" (adjacent), not as two independent prefixes: `job*` alone would
        // match nearly every row and make id searches scan the whole index.
        let phrases: Vec<Vec<String>> = text
            .split_whitespace()
            .map(|w| {
                w.split(|c: char| !c.is_alphanumeric())
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .filter(|t| !t.is_empty())
            .collect();
        let words: Vec<String> = phrases.iter().map(|t| t.join(" ")).collect();
        if words.is_empty() {
            return self.query(filter, limit);
        }
        let indexed = self.search_indexed_upto() as i64;
        let (conds, p) = filter.sql("e.");

        // The unindexed tail: a direct scan, bounded because the hub indexes it when idle.
        let mut tail_conds = conds.clone();
        let mut word_args = Vec::new();
        // The tail scan is small: every token must appear (a little looser than the
        // index's phrase match, never stricter).
        for w in phrases.iter().flatten() {
            tail_conds.push(
                "(instr(lower(e.entity || ' ' || coalesce(e.message,'') || ' ' || coalesce(e.error,'') || ' ' || e.raw), ?) > 0)"
                    .to_string(),
            );
            word_args.push(Value::Text(w.to_lowercase()));
        }
        // Parameters in the order they appear: seq bound, filter, words, limit.
        let mut args = vec![Value::Integer(indexed)];
        args.extend(p.iter().cloned());
        args.extend(word_args);
        args.push(Value::Integer(limit as i64));
        let sql = format!(
            "SELECT {cols} FROM events e WHERE e.seq > ?{w} ORDER BY e.seq DESC LIMIT ?",
            cols = prefixed(EVENT_COLUMNS, "e."),
            w = where_clause(&tail_conds)
        );
        let mut out = self.query_events(&sql, args)?;
        if out.len() >= limit || indexed == 0 {
            return Ok(out);
        }

        // Only the last word is a prefix (the user may still be typing it).
        let fts_query = words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let quoted = format!("\"{}\"", w.replace('"', "\"\""));
                if i + 1 == words.len() {
                    quoted + "*"
                } else {
                    quoted
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        // Bounded by the same `indexed` as the tail scan: the index may grow between
        // the two statements, and an event must come from one of them only.
        let mut args = vec![Value::Text(fts_query), Value::Integer(indexed)];
        args.extend(p);
        args.push(Value::Integer((limit - out.len()) as i64));
        let sql = format!(
            "SELECT {cols} FROM search.events_fts f JOIN events e ON e.seq = f.rowid \
             WHERE f.events_fts MATCH ? AND f.rowid <= ?{w} ORDER BY f.rowid DESC LIMIT ?",
            cols = prefixed(EVENT_COLUMNS, "e."),
            w = where_clause(&conds)
        );
        out.extend(
            self.query_events(&sql, args)
                .map_err(|e| StoreError::BadQuery(e.to_string()))?,
        );
        Ok(out)
    }

    /// Latest state per entity, most recently seen first.
    pub fn latest(
        &self,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<EntityState>, StoreError> {
        let mut conds = Vec::new();
        let mut args = Vec::new();
        if let Some(k) = filter.kind {
            conds.push("kind = ?".to_string());
            args.push(Value::Text(k.as_str().into()));
        }
        if let Some(e) = &filter.entity {
            conds.push("entity = ?".to_string());
            args.push(Value::Text(e.clone()));
        }
        if let Some(s) = &filter.source {
            conds.push("source = ?".to_string());
            args.push(Value::Text(s.clone()));
        }
        if let Some(s) = &filter.status {
            conds.push("status = ?".to_string());
            args.push(Value::Text(s.as_str().into()));
        }
        if let Some(f) = filter.from {
            conds.push("last_seen >= ?".to_string());
            args.push(Value::Integer(f));
        }
        if let Some(u) = filter.until {
            conds.push("last_seen < ?".to_string());
            args.push(Value::Integer(u));
        }
        args.push(Value::Integer(limit as i64));
        let sql = format!(
            "SELECT {ENTITY_COLUMNS} FROM entities WHERE 1{} ORDER BY last_seen DESC LIMIT ?",
            where_clause(&conds)
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st.query_map(params_from_iter(args), entity_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every entity's latest state (to rebuild the board at start).
    pub fn all_entities(&self) -> Result<Vec<EntityState>, StoreError> {
        let mut st = self
            .conn
            .prepare(&format!("SELECT {ENTITY_COLUMNS} FROM entities"))?;
        let rows = st.query_map([], entity_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A source's saved resume point.
    pub fn cursor(&self, source: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT cursor FROM cursors WHERE source = ?1",
                [source],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Every (source, cursor, seq at save time).
    pub fn cursors(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT source, cursor, seq FROM cursors ORDER BY source")?;
        let rows = st.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn max_seq(&self) -> Result<u64, StoreError> {
        let v: Option<i64> = self
            .conn
            .query_row("SELECT MAX(seq) FROM events", [], |r| r.get(0))?;
        Ok(v.unwrap_or(0) as u64)
    }

    pub fn count(&self) -> Result<u64, StoreError> {
        let v: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?;
        Ok(v as u64)
    }

    /// The last event stored for a source (the crash test compares it with the cursor).
    pub fn last_event_of(&self, source: &str) -> Result<Option<Event>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE source = ?1 ORDER BY seq DESC LIMIT 1"
        ))?;
        Ok(st.query_row([source], event_from_row).optional()?)
    }

    fn query_events(&self, sql: &str, args: Vec<Value>) -> Result<Vec<Event>, StoreError> {
        let mut st = self.conn.prepare_cached(sql)?;
        let rows = st.query_map(params_from_iter(args), event_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn prefixed(cols: &str, prefix: &str) -> String {
    cols.split(',')
        .map(|c| format!("{prefix}{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}
