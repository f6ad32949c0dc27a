//! Append-only SQL migrations, tracked with `PRAGMA user_version`.

use rusqlite::Connection;

use super::StoreError;

/// Every migration in order; migration `i` brings the schema to version `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_events.sql"),
    include_str!("../../migrations/0002_search.sql"),
    include_str!("../../migrations/0003_notifications.sql"),
    include_str!("../../migrations/0004_search_file.sql"),
];

pub fn schema_version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// Brings the schema up to the latest version. Each migration runs in its own
/// immediate transaction together with the version bump, so a crash mid-way leaves
/// the previous version intact and a concurrent opener waits instead of racing.
pub fn migrate(conn: &Connection) -> Result<(), StoreError> {
    migrate_to(conn, MIGRATIONS.len())
}

/// Brings the schema up to `target` (tests use it to build every earlier schema).
pub fn migrate_to(conn: &Connection, target: usize) -> Result<(), StoreError> {
    loop {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let version = schema_version(conn)? as usize;
        if version >= target {
            conn.execute_batch("COMMIT")?;
            if version > MIGRATIONS.len() {
                return Err(StoreError::TooNew {
                    path: conn.path().unwrap_or("").into(),
                    found: version as i64,
                    known: MIGRATIONS.len() as i64,
                });
            }
            return Ok(());
        }
        let step = conn
            .execute_batch(MIGRATIONS[version])
            .and_then(|_| conn.pragma_update(None, "user_version", (version + 1) as i64));
        match step {
            Ok(()) => conn.execute_batch("COMMIT")?,
            Err(source) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(StoreError::Migration {
                    version: version + 1,
                    source,
                });
            }
        }
    }
}
