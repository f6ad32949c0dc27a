//! Changing the config file from the program (the UI's Sources and Rules views) without
//! losing what the operator wrote by hand: comments, blank lines, key order, quoting
//! and any keys the program does not touch stay as they were (`toml_edit`).
//!
//! An edit is checked by loading the edited text with the same loader as at start
//! ([`Config::from_toml`]), so the program can never write a file the next start would
//! refuse. The file is replaced atomically (a temporary file in the same directory,
//! then a rename), keeps its permissions, and is created private to the user (0600)
//! since it may hold references to credentials.

use std::io::Write;
use std::path::{Path, PathBuf};

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, Value};

use super::paths::DefaultPaths;
use super::problem::{ConfigError, Problem};
use super::Config;

/// Why an edit could not be read, applied or saved. Never contains a secret: the file
/// holds references, and messages name keys and paths.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the config file {path} is not valid TOML ({message}); fix it by hand first")]
    Syntax { path: PathBuf, message: String },
    #[error("in the config file {path}, {what}; edit it by hand")]
    Shape { path: PathBuf, what: String },
    #[error("cannot write the config file {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A config file open for editing.
pub struct ConfigFile {
    path: PathBuf,
    doc: DocumentMut,
}

impl ConfigFile {
    /// Reads `path`; a file that does not exist yet is an empty document (it is
    /// created by [`ConfigFile::save`]).
    pub fn open(path: &Path) -> Result<ConfigFile, EditError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(EditError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let doc = text.parse::<DocumentMut>().map_err(|e| EditError::Syntax {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        })?;
        Ok(ConfigFile {
            path: path.to_path_buf(),
            doc,
        })
    }

    /// An empty document not tied to a real file (to check a configuration built in
    /// memory); [`ConfigFile::save`] on it writes `telltale.toml` in the working dir.
    pub fn empty() -> ConfigFile {
        ConfigFile {
            path: PathBuf::from("telltale.toml"),
            doc: DocumentMut::new(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The document's text as it would be saved.
    pub fn text(&self) -> String {
        self.doc.to_string()
    }

    /// Loads the edited text with the start-up loader (no environment layer): the
    /// configuration it describes and its warnings, or every problem.
    pub fn check(&self) -> Result<(Config, Vec<Problem>), ConfigError> {
        Config::from_toml(&self.text(), &self.path, &DefaultPaths::from_os())
    }

    /// The `[[sources]]` table named `name`.
    pub fn source(&self, name: &str) -> Option<&Table> {
        self.doc
            .get("sources")?
            .as_array_of_tables()?
            .iter()
            .find(|t| t.get("name").and_then(Item::as_str) == Some(name))
    }

    pub fn source_mut(&mut self, name: &str) -> Option<&mut Table> {
        self.doc
            .get_mut("sources")?
            .as_array_of_tables_mut()?
            .iter_mut()
            .find(|t| t.get("name").and_then(Item::as_str) == Some(name))
    }

    /// A string value of a source exactly as written (`url`, `bearer`, ...).
    pub fn source_str(&self, name: &str, key: &str) -> Option<&str> {
        self.source(name)?.get(key)?.as_str()
    }

    /// Appends an empty `[[sources]]` table and returns it.
    pub fn push_source(&mut self) -> Result<&mut Table, EditError> {
        let sources = self.sources_mut()?;
        sources.push(Table::new());
        let last = sources.len() - 1;
        Ok(sources
            .get_mut(last)
            .expect("a table was just pushed at this index"))
    }

    /// Removes the source `name`; false when there is none.
    pub fn remove_source(&mut self, name: &str) -> Result<bool, EditError> {
        let sources = self.sources_mut()?;
        let index = sources
            .iter()
            .position(|t| t.get("name").and_then(Item::as_str) == Some(name));
        match index {
            Some(i) => {
                sources.remove(i);
                if sources.is_empty() {
                    self.doc.remove("sources");
                }
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// `[notifications]`, created (as a table of its own) when absent.
    pub fn notifications_mut(&mut self) -> Result<&mut Table, EditError> {
        let path = self.path.clone();
        let item = self
            .doc
            .entry("notifications")
            .or_insert_with(|| Item::Table(Table::new()));
        if let Some(inline) = item.as_inline_table() {
            // `notifications = { ... }` becomes a `[notifications]` table: equivalent,
            // and keys can then be added one per line.
            let table = inline.clone().into_table();
            *item = Item::Table(table);
        }
        item.as_table_mut().ok_or_else(|| EditError::Shape {
            path,
            what: "notifications is not a table".into(),
        })
    }

    /// Renames (`Some(new)`) or removes (`None`) a source in `notifications.sources`,
    /// which must only name existing sources.
    pub fn retarget_notification_source(&mut self, old: &str, new: Option<&str>) {
        let Some(list) = self
            .doc
            .get_mut("notifications")
            .and_then(|n| n.as_table_like_mut())
            .and_then(|n| n.get_mut("sources"))
            .and_then(Item::as_array_mut)
        else {
            return;
        };
        let mut i = 0;
        while i < list.len() {
            if list.get(i).and_then(Value::as_str) == Some(old) {
                match new {
                    Some(n) => {
                        set_array_str(list, i, n);
                        i += 1;
                    }
                    None => {
                        list.remove(i);
                    }
                }
            } else {
                i += 1;
            }
        }
    }

    fn sources_mut(&mut self) -> Result<&mut ArrayOfTables, EditError> {
        let path = self.path.clone();
        let item = self
            .doc
            .entry("sources")
            .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()));
        item.as_array_of_tables_mut()
            .ok_or_else(|| EditError::Shape {
                path,
                what: "sources is not written as [[sources]] tables".into(),
            })
    }

    /// Writes the document: a temporary file beside the target, flushed, then renamed
    /// over it, so a crash leaves either the old file or the new one. An existing
    /// file's permissions are kept; a new one is private to the user.
    pub fn save(&self) -> Result<(), EditError> {
        let write_err = |source| EditError::Write {
            path: self.path.clone(),
            source,
        };
        let dir = match self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(d) => {
                std::fs::create_dir_all(d).map_err(write_err)?;
                d.to_path_buf()
            }
            None => PathBuf::from("."),
        };
        let existing = std::fs::metadata(&self.path).ok().map(|m| m.permissions());
        let file_name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "telltale.toml".into());
        let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let result = (|| {
            let mut f = options.open(&tmp)?;
            f.write_all(self.text().as_bytes())?;
            if let Some(p) = &existing {
                f.set_permissions(p.clone())?;
            }
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(write_err)
    }
}

/// Sets `table[key]` to a string, keeping the comment and spacing around an existing
/// value; an equal value is left untouched.
pub fn set_str(table: &mut Table, key: &str, s: &str) {
    set_value(table, key, Value::from(s));
}

pub fn set_bool(table: &mut Table, key: &str, b: bool) {
    set_value(table, key, Value::from(b));
}

/// Sets `table[key]` to an array of strings (same decor rules as [`set_str`]).
pub fn set_str_list(table: &mut Table, key: &str, items: &[String]) {
    let array: toml_edit::Array = items.iter().map(String::as_str).collect();
    set_value(table, key, Value::Array(array));
}

fn set_value(table: &mut Table, key: &str, mut v: Value) {
    match table.get_mut(key) {
        Some(Item::Value(old)) => {
            if same(old, &v) {
                return;
            }
            *v.decor_mut() = old.decor().clone();
            *old = v;
        }
        _ => {
            table.insert(key, Item::Value(v));
        }
    }
}

fn set_array_str(list: &mut toml_edit::Array, i: usize, s: &str) {
    if let Some(old) = list.get_mut(i) {
        let mut v = Value::from(s);
        *v.decor_mut() = old.decor().clone();
        *old = v;
    }
}

/// Equal values, ignoring how they are written.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.value() == y.value(),
        (Value::Boolean(x), Value::Boolean(y)) => x.value() == y.value(),
        (Value::Integer(x), Value::Integer(y)) => x.value() == y.value(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| same(p, q))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# my config
[relay]
# listen here
listen = "127.0.0.1:7412"

[[sources]]
name = "api"   # the main one
url = "https://api.example.com/events"
bearer = "${API_TOKEN}"

[notifications]
sources = ["api"]
"#;

    fn open(text: &str) -> (tempfile::TempDir, ConfigFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("telltale.toml");
        std::fs::write(&path, text).unwrap();
        let f = ConfigFile::open(&path).unwrap();
        (dir, f)
    }

    #[test]
    fn edits_keep_comments_and_untouched_keys() {
        let (_d, mut f) = open(TEXT);
        let t = f.source_mut("api").unwrap();
        set_str(t, "name", "api");
        set_bool(t, "enabled", false);
        let added = f.push_source().unwrap();
        set_str(added, "name", "two");
        set_str(added, "url", "https://two.example.com/sse");
        f.save().unwrap();
        let text = std::fs::read_to_string(f.path()).unwrap();
        assert!(text.contains("# my config") && text.contains("# listen here"));
        assert!(text.contains("name = \"api\"   # the main one"), "{text}");
        assert!(text.contains("enabled = false"));
        let (config, _) = ConfigFile::open(f.path()).unwrap().check().unwrap();
        assert_eq!(config.sources.len(), 2);
        assert!(!config.sources[0].enabled);
    }

    #[test]
    fn removing_a_source_removes_its_notification_reference() {
        let (_d, mut f) = open(TEXT);
        assert!(f.remove_source("api").unwrap());
        assert!(f.check().is_err(), "notifications.sources still names api");
        f.retarget_notification_source("api", None);
        let (config, _) = f.check().unwrap();
        assert!(config.sources.is_empty() && config.notifications.sources.is_empty());
        assert!(!f.remove_source("api").unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn a_new_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("telltale.toml");
        let mut f = ConfigFile::open(&path).unwrap();
        set_bool(f.notifications_mut().unwrap(), "enabled", false);
        f.save().unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(
            !ConfigFile::open(&path)
                .unwrap()
                .check()
                .unwrap()
                .0
                .notifications
                .enabled
        );
    }
}
