//! Where Telltale's files live by default, per the OS conventions (XDG on Linux,
//! `~/Library/Application Support` on macOS, `%APPDATA%` on Windows).

use std::path::PathBuf;

use directories::ProjectDirs;

/// The config file's name inside the config directory.
pub const CONFIG_FILE_NAME: &str = "telltale.toml";
/// The database's name inside the data directory.
pub const DB_FILE_NAME: &str = "telltale.db";

/// The OS directories defaults are derived from. Tests build one pointing into a
/// temporary directory instead of the user's home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultPaths {
    /// `None` when the OS gives no home directory.
    pub config_dir: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
}

impl DefaultPaths {
    /// The current user's directories for "telltale".
    pub fn from_os() -> Self {
        // Empty qualifier and organisation: the directory is plainly "telltale"
        // (~/.config/telltale), which is what an operator looks for.
        match ProjectDirs::from("", "", "telltale") {
            Some(dirs) => DefaultPaths {
                config_dir: Some(dirs.config_dir().to_path_buf()),
                data_dir: Some(dirs.data_dir().to_path_buf()),
            },
            None => DefaultPaths {
                config_dir: None,
                data_dir: None,
            },
        }
    }

    /// The config file used when neither `--config` nor `TELLTALE_CONFIG` is given.
    pub fn config_file(&self) -> Option<PathBuf> {
        self.config_dir.as_ref().map(|d| d.join(CONFIG_FILE_NAME))
    }

    /// The default database. Without a data directory it falls back to the current
    /// directory rather than failing: a headless run on a bare container still works.
    pub fn db_file(&self) -> PathBuf {
        match &self.data_dir {
            Some(d) => d.join(DB_FILE_NAME),
            None => PathBuf::from(DB_FILE_NAME),
        }
    }
}
