//! The history: SQLite through rusqlite (DESIGN §6).
//!
//! One [`Writer`] (owned by the hub's thread) and any number of [`Reader`]s. WAL mode
//! lets readers see committed snapshots while the writer appends.

mod checkpointer;
mod error;
mod filter;
mod migrations;
mod reader;
mod retention;
mod row;
mod search_index;
mod writer;

pub use checkpointer::Checkpointer;
pub use error::StoreError;
pub use filter::EventFilter;
pub use migrations::{migrate, migrate_to, schema_version, MIGRATIONS};
pub use reader::Reader;
pub use retention::{Retention, RetentionStep};
pub use search_index::{search_index_path, SearchIndex};
pub use writer::{AppendOutcome, Writer};

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

/// Opens a connection with the pragmas every connection needs, and brings the schema
/// up to date. Safe to call from several processes: migrations run in a transaction.
pub fn open(path: &Path) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Io {
                path: dir.to_path_buf(),
                source: e,
            })?;
        }
    }
    let conn = Connection::open(path).map_err(|e| StoreError::open(path, e))?;
    configure(&conn).map_err(|e| StoreError::open(path, e))?;
    migrate(&conn)?;
    Ok(conn)
}

/// Opens an existing database read-only, without migrating it (for `telltale history
/// --db` on a file written by another version, and for readers beside the writer).
pub fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    if !path.exists() {
        return Err(StoreError::Missing(path.to_path_buf()));
    }
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
            | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
            // The search index is attached with a `file:` URI (read-only mode).
            | rusqlite::OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(|e| StoreError::open(path, e))?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(|e| StoreError::open(path, e))?;
    // Readers jump around the file (a job's timeline is a hundred rows spread over
    // years of history); through a mapping each row is a memory read instead of a
    // read() into SQLite's small cache: one job's timeline at 10M events went from
    // 1.0-1.6 ms to 0.45 ms p50 (issue 8). The mapped pages are the OS's page cache,
    // shared and reclaimable, not the reader's own memory.
    conn.pragma_update(None, "mmap_size", READER_MMAP_BYTES)
        .map_err(|e| StoreError::open(path, e))?;
    let version = schema_version(&conn)?;
    if version > MIGRATIONS.len() as i64 {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: version,
            known: MIGRATIONS.len() as i64,
        });
    }
    Ok(conn)
}

/// How much of the database file a reader maps: SQLite's compiled-in ceiling
/// (SQLITE_MAX_MMAP_SIZE, just under 2 GiB); beyond it reads go through read().
const READER_MMAP_BYTES: i64 = 0x7fff_0000;

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    // WAL: readers never block the writer. NORMAL: a commit is durable against a
    // process crash (what the crash test checks); only an OS crash may lose the last
    // transactions, never corrupt the file.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Let the WAL grow in bigger steps under load; checkpoints are cheaper that way.
    conn.pragma_update(None, "wal_autocheckpoint", 4000)?;
    Ok(())
}

#[cfg(test)]
mod tests;
