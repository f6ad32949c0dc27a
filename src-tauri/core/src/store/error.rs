use std::path::PathBuf;

/// What can go wrong with the history. Messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the history database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("no history database at {0}: start `telltale serve` once to create it, or pass the right --db")]
    Missing(PathBuf),
    #[error("the history database {path} has schema version {found}, newer than this telltale knows ({known}): upgrade telltale")]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("migration {version} failed: {source}")]
    Migration {
        version: usize,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot create {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the disk holding the history database is full: free some space; ingestion resumes by itself")]
    DiskFull(#[source] rusqlite::Error),
    #[error("history database error: {0}")]
    Sqlite(#[source] rusqlite::Error),
    #[error("invalid search query: {0}")]
    BadQuery(String),
}

impl StoreError {
    pub(crate) fn open(path: &std::path::Path, source: rusqlite::Error) -> Self {
        StoreError::Open {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A stable code for the UI and the health endpoint.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Open { .. } => "store_open",
            StoreError::Missing(_) => "store_missing",
            StoreError::TooNew { .. } => "store_too_new",
            StoreError::Migration { .. } => "store_migration",
            StoreError::Io { .. } => "store_io",
            StoreError::DiskFull(_) => "disk_full",
            StoreError::Sqlite(_) => "store",
            StoreError::BadQuery(_) => "bad_query",
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => StoreError::DiskFull(e),
            _ => StoreError::Sqlite(e),
        }
    }
}
