//! `[store]`: where history is kept and how long.

use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::de::DeTable;

use super::document::{join, parse_duration, Document};
use super::size::parse_size;

/// Keep 30 days of history by default: long enough to look back over a month of
/// incidents, short enough that a busy source does not fill a laptop disk.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// And at most 2 GiB, whichever limit is reached first.
pub const DEFAULT_MAX_SIZE: u64 = 2 << 30;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The SQLite database. Default: `telltale.db` in the OS data directory.
    pub db: PathBuf,
    pub retention: RetentionConfig,
}

/// Retention limits. `None` means "no limit" (written `"off"` in the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionConfig {
    pub max_age: Option<Duration>,
    pub max_size: Option<u64>,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            max_age: Some(DEFAULT_MAX_AGE),
            max_size: Some(DEFAULT_MAX_SIZE),
        }
    }
}

const STORE_KEYS: [&str; 2] = ["db", "retention"];
const RETENTION_KEYS: [&str; 2] = ["max_age", "max_size"];

impl StoreConfig {
    pub fn with_db(db: PathBuf) -> Self {
        StoreConfig {
            db,
            retention: RetentionConfig::default(),
        }
    }

    /// Applies `[store]` on top of `self`. A relative `db` is relative to the config
    /// file's directory, so the file means the same thing whatever the working directory.
    pub(crate) fn read(&mut self, doc: &mut Document<'_>, table: &DeTable<'_>, base_dir: &Path) {
        doc.check_keys(table, "store", &STORE_KEYS);
        if let Some(v) = table.get("db") {
            match doc.string(v, "store.db") {
                Some("") => doc.error(v.span(), "store.db", "must not be empty"),
                Some(p) => self.db = resolve_path(p, base_dir),
                None => {}
            }
        }
        if let Some(v) = table.get("retention") {
            if let Some(t) = doc.table(v, "store.retention") {
                self.retention.read(doc, t);
            }
        }
    }
}

impl RetentionConfig {
    fn read(&mut self, doc: &mut Document<'_>, table: &DeTable<'_>) {
        const PREFIX: &str = "store.retention";
        doc.check_keys(table, PREFIX, &RETENTION_KEYS);
        if let Some(v) = table.get("max_age") {
            let key = join(PREFIX, "max_age");
            if let Some(text) = doc.string(v, &key) {
                match parse_limit(text, parse_duration) {
                    Ok(limit) => self.max_age = limit,
                    Err(msg) => doc.error(v.span(), &key, msg),
                }
            }
        }
        if let Some(v) = table.get("max_size") {
            let key = join(PREFIX, "max_size");
            // A bare integer is bytes; strings carry units.
            if v.get_ref().is_integer() {
                match doc.integer(v, &key) {
                    Some(n) if n > 0 => self.max_size = Some(n as u64),
                    Some(_) => doc.error(v.span(), &key, "must be larger than zero"),
                    None => {}
                }
            } else if let Some(text) = doc.string(v, &key) {
                match parse_limit(text, parse_size) {
                    Ok(limit) => self.max_size = limit,
                    Err(msg) => doc.error(v.span(), &key, msg),
                }
            }
        }
    }
}

/// `"off"` (or `"none"`) disables a limit; anything else goes to `parse`.
pub(crate) fn parse_limit<T>(
    text: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<Option<T>, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "off" | "none" => Ok(None),
        _ => parse(text).map(Some),
    }
}

/// Expands a leading `~/` and anchors relative paths at `base_dir`.
pub(crate) fn resolve_path(text: &str, base_dir: &Path) -> PathBuf {
    if let Some(rest) = text.strip_prefix("~/") {
        if let Some(home) = directories::BaseDirs::new() {
            return home.home_dir().join(rest);
        }
    }
    let path = PathBuf::from(text);
    if path.is_absolute() {
        path
    } else {
        base_dir.join(path)
    }
}
