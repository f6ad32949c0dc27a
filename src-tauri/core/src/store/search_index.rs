//! The full-text index: an FTS5 table in a file of its own beside the database
//! (`<db>-search`), filled from `events` by its own thread (`hub::search_thread`).
//!
//! Why its own file: SQLite has one write lock per file. With the index in the
//! database, every piece of indexing held the hub's writer, and with it every event
//! that arrived meanwhile: at 10k events/s indexing was 46% of the writer thread and
//! the p99 from PUBLISH to an SSE client was 15 ms, 4.2 ms with indexing off (perf,
//! issue 8). In its own file the indexer takes its own write lock and reads `events`
//! from a WAL snapshot, so neither ever waits for the other, and it indexes in larger
//! steps, which FTS5 does more cheaply per row.
//!
//! The index is derived data. When the file is missing, or belongs to another
//! database (a replaced file beside an old index), it is rebuilt from `events`;
//! searches scan whatever is not indexed yet (`Reader::search`), so nothing is missed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use super::StoreError;

/// The index file of the database at `db`: SQLite's own naming for files that belong
/// with a database (`-wal`, `-shm`), so whatever moves `telltale.db*` moves it too.
pub fn search_index_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-search");
    PathBuf::from(p)
}

/// The index's layout; an index file of another layout is rebuilt. 2: the entity,
/// message and error columns are left empty when `raw` already holds their text.
/// (`columnsize = 0` would save a row per event too, but FTS5 refuses it with
/// `contentless_delete`, which retention needs.)
const LAYOUT: i64 = 2;

const INDEX_TABLE: &str = "
CREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5(
    entity, message, error, raw,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61'
);
";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
";

/// One event's text, as it goes into the index.
struct IndexRow {
    seq: i64,
    entity: Option<String>,
    message: Option<String>,
    error: Option<String>,
    raw: String,
}

/// The writing side of the index. One per database, on the search thread.
pub struct SearchIndex {
    conn: Connection,
    indexed: u64,
}

impl SearchIndex {
    /// Opens (creating) the index of the database at `db`, which must exist and be
    /// migrated. Resets it when it belongs to another database or is ahead of it.
    pub fn open(db: &Path) -> Result<Self, StoreError> {
        let path = search_index_path(db);
        let conn = Connection::open(&path).map_err(|e| StoreError::open(&path, e))?;
        let setup = || -> rusqlite::Result<()> {
            conn.busy_timeout(Duration::from_secs(5))?;
            // WAL: searches read while the indexer writes. NORMAL is plenty for data
            // that can be rebuilt.
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.execute_batch(SCHEMA)?;
            let layout: Option<i64> = conn
                .query_row("SELECT value FROM meta WHERE key = 'layout'", [], |r| {
                    r.get(0)
                })
                .optional()?;
            if layout != Some(LAYOUT) {
                // An index of an older layout: start again (it is derived data).
                conn.execute_batch(
                    "BEGIN; DROP TABLE IF EXISTS events_fts; DELETE FROM meta; COMMIT;",
                )?;
            }
            conn.execute_batch(INDEX_TABLE)?;
            conn.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('layout', ?1)",
                [LAYOUT],
            )?;
            // Read-only: the indexer must never write the events database.
            conn.execute("ATTACH DATABASE ?1 AS ev", [read_only_uri(db)])?;
            Ok(())
        };
        setup().map_err(|e| StoreError::open(&path, e))?;
        let mut index = SearchIndex { conn, indexed: 0 };
        let db_id = index.events_db_id()?;
        let own_id = index.meta("db_id")?;
        let indexed = index.meta("indexed_seq")?.unwrap_or(0).max(0) as u64;
        let newest = index.newest_event()?;
        if own_id != Some(db_id) || indexed > newest {
            if own_id.is_some() {
                tracing::info!(path = %path.display(), "the search index belongs to another database; rebuilding it");
            }
            let tx = index.conn.transaction()?;
            tx.execute(
                "INSERT INTO events_fts(events_fts) VALUES ('delete-all')",
                [],
            )?;
            tx.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('db_id', ?1), ('indexed_seq', 0)",
                [db_id],
            )?;
            tx.commit()?;
            index.indexed = 0;
        } else {
            index.indexed = indexed;
        }
        Ok(index)
    }

    /// Every event with seq ≤ this is in the index.
    pub fn indexed_upto(&self) -> u64 {
        self.indexed
    }

    /// The newest stored event's seq.
    pub fn newest_event(&self) -> Result<u64, StoreError> {
        let max: Option<i64> = self
            .conn
            .query_row("SELECT MAX(seq) FROM ev.events", [], |r| r.get(0))?;
        Ok(max.unwrap_or(0).max(0) as u64)
    }

    /// Indexes up to `limit` events after the indexed ones, in one transaction;
    /// returns how many seqs it moved past.
    ///
    /// The events are read first, in short statements of their own, and only then
    /// indexed: a read of `ev` inside the index's transaction would hold a snapshot
    /// of the events database until the commit, and while any snapshot is held the
    /// WAL there cannot start over. This thread runs at the lowest priority and may
    /// wait long for a CPU under load; it must never hold the events WAL meanwhile.
    pub fn index(&mut self, limit: u64) -> Result<u64, StoreError> {
        let last = self.newest_event()?;
        if self.indexed >= last {
            return Ok(0);
        }
        let upto = last.min(self.indexed.saturating_add(limit));
        let rows = self.read_events(self.indexed, upto)?;
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO events_fts (rowid, entity, message, error, raw) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for r in &rows {
                insert.execute(params![r.seq, r.entity, r.message, r.error, r.raw])?;
            }
        }
        tx.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'indexed_seq'",
            params![upto as i64],
        )?;
        tx.commit()?;
        let done = upto - self.indexed;
        self.indexed = upto;
        Ok(done)
    }

    /// The text to index of the events in `(after, upto]`, read in pieces, each a
    /// short read of its own (see [`SearchIndex::index`]).
    fn read_events(&self, after: u64, upto: u64) -> Result<Vec<IndexRow>, StoreError> {
        const PIECE: u64 = 2_000;
        // A field whose text is already in `raw` (the usual case: the normaliser read
        // it from there) would only add the same tokens again. Searches match any
        // column, so nothing becomes unfindable.
        let mut read = self.conn.prepare_cached(
            "SELECT seq, \
               CASE WHEN instr(raw, entity) > 0 THEN NULL ELSE entity END, \
               CASE WHEN instr(raw, message) > 0 THEN NULL ELSE message END, \
               CASE WHEN instr(raw, error) > 0 THEN NULL ELSE error END, \
               raw \
             FROM ev.events WHERE seq > ?1 AND seq <= ?2",
        )?;
        let mut rows = Vec::new();
        let mut from = after;
        while from < upto {
            let to = upto.min(from + PIECE);
            let piece = read.query_map(params![from as i64, to as i64], |r| {
                Ok(IndexRow {
                    seq: r.get(0)?,
                    entity: r.get(1)?,
                    message: r.get(2)?,
                    error: r.get(3)?,
                    raw: r.get(4)?,
                })
            })?;
            for row in piece {
                rows.push(row?);
            }
            from = to;
        }
        Ok(rows)
    }

    /// Drops deleted events (retention) from the index.
    pub fn forget(&mut self, seqs: &[u64]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut del = tx.prepare_cached("DELETE FROM events_fts WHERE rowid = ?1")?;
            for &seq in seqs.iter().filter(|&&s| s <= self.indexed) {
                del.execute([seq as i64])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Bytes of index pages in use (free pages are reused, not counted), the
    /// index's share of size-based retention.
    pub fn used_bytes(&self) -> Result<u64, StoreError> {
        let pages: i64 = self
            .conn
            .query_row("PRAGMA main.page_count", [], |r| r.get(0))?;
        let free: i64 = self
            .conn
            .query_row("PRAGMA main.freelist_count", [], |r| r.get(0))?;
        let size: i64 = self
            .conn
            .query_row("PRAGMA main.page_size", [], |r| r.get(0))?;
        Ok(((pages - free).max(0) * size) as u64)
    }

    fn events_db_id(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM ev.meta WHERE key = 'db_id'", [], |r| {
                r.get(0)
            })?)
    }

    fn meta(&self, key: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }
}

/// `path` as a read-only SQLite URI (`file:` with `%`, `?` and `#` escaped, which
/// would otherwise start an escape, the query or the fragment).
pub(super) fn read_only_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push_str("?mode=ro");
    uri
}
