//! Configuration: built-in defaults, then a TOML file, then environment variables.
//!
//! # Where the file is
//!
//! 1. `--config PATH` (the caller passes it to [`Config::load`]); the file must exist.
//! 2. else `TELLTALE_CONFIG=PATH`; the file must exist.
//! 3. else `telltale.toml` in the OS config directory (`~/.config/telltale/` on
//!    Linux); a missing file there simply means "defaults".
//!
//! # Environment variables
//!
//! Applied after the file, so they win over it. An empty value counts as unset.
//!
//! | Variable                      | Sets                          | Example            |
//! |-------------------------------|-------------------------------|--------------------|
//! | `TELLTALE_CONFIG`             | the config file               | `/etc/telltale.toml` |
//! | `TELLTALE_DB`                 | `store.db`                    | `/var/lib/telltale.db` |
//! | `TELLTALE_LISTEN`             | `relay.listen`                | `127.0.0.1:0`      |
//! | `TELLTALE_TOKEN`              | `relay.token` (kept as a reference to the variable) | any string |
//! | `TELLTALE_RETENTION_DAYS`     | `store.retention.max_age` in days, or `off` | `7` |
//! | `TELLTALE_RETENTION_MAX_SIZE` | `store.retention.max_size`, or `off` | `500MB`   |
//! | `TELLTALE_NOTIFICATIONS`      | `notifications.enabled` (1/0, true/false, on/off) | `0` |
//!
//! # The file
//!
//! ```toml
//! [store]
//! db = "~/telltale.db"                 # default: telltale.db in the OS data dir
//! retention = { max_age = "30d", max_size = "2GiB" }   # "off" disables a limit
//!
//! [relay]
//! listen = "127.0.0.1:7412"
//! token = "${TELLTALE_TOKEN}"          # optional fixed token for scripts
//!
//! [[sources]]
//! name = "api"                         # required, unique
//! url = "https://api.example.com/events"   # see crate::source::url
//! enabled = true
//! bearer = "${API_TOKEN}"              # SSE only: Authorization: Bearer
//! token = "${API_TOKEN}"               # SSE only: ?token=
//! headers = { "X-Tenant" = "acme" }    # SSE only
//! idle_timeout = "90s"                 # SSE only; "off" disables
//! follow = true                        # SSE only: reconnect after a normal end of stream
//! subscribe = ["/api/v1/sse/{connectionId}/subscribe/queue/emails"]  # SSE only
//! poll_interval = "5s"                 # bullmq:// only: queue counts
//! overrides = { entity = "/data/jobId", status = "/data/state" }  # JSON pointers, @channel, @channel/N
//!
//! [notifications]
//! enabled = true
//! statuses = ["failed"]
//! sources = []                         # empty: all
//! queues = []                          # empty: all
//! coalesce = "10s"                    # "off": one notification per event
//! snooze = "1h"
//! ```
//!
//! Validation reports every problem at once, each as `path:line:column: key: message`;
//! unknown keys are errors. Secrets are [`Secret`]s: `${ENV}` references (or
//! `${keychain:NAME}` for the OS keychain) resolved at use time; a literal secret in
//! the file is accepted with a warning. [`edit::ConfigFile`] changes the file from the
//! program, keeping the operator's comments.

mod document;
pub mod edit;
mod env;
pub mod keychain;
mod notifications;
mod paths;
mod problem;
mod relay;
mod secret;
mod size;
mod sources;
mod store;
pub(crate) mod suggest;
mod template;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use toml::de::DeTable;

pub use env::{
    ALL_VARIABLES as ENV_VARIABLES, TELLTALE_CONFIG, TELLTALE_DB, TELLTALE_LISTEN,
    TELLTALE_NOTIFICATIONS, TELLTALE_RETENTION_DAYS, TELLTALE_RETENTION_MAX_SIZE, TELLTALE_TOKEN,
};
pub use notifications::NotificationsConfig;
pub use paths::{DefaultPaths, CONFIG_FILE_NAME, DB_FILE_NAME};
pub use problem::{ConfigError, Origin, Problem, Severity};
pub use relay::{RelayConfig, DEFAULT_LISTEN};
pub use secret::{lookup_env, Secret, SecretError, KEYCHAIN_REF_PREFIX};
pub use size::parse_size;
pub use sources::{SourceConfig, DEFAULT_IDLE_TIMEOUT, DEFAULT_POLL_INTERVAL};
pub use store::{RetentionConfig, StoreConfig, DEFAULT_MAX_AGE, DEFAULT_MAX_SIZE};
pub use template::{default_config_text, write_default_file};

use document::Document;

/// The advice attached to every "literal secret" warning.
pub(crate) const LITERAL_SECRET_ADVICE: &str = "secret written in plain text in the config file; reference an environment variable instead, e.g. \"${API_TOKEN}\" (read when used, never stored)";

const TOP_KEYS: [&str; 4] = ["store", "relay", "sources", "notifications"];

/// The whole configuration, after all layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub store: StoreConfig,
    pub relay: RelayConfig,
    pub sources: Vec<SourceConfig>,
    pub notifications: NotificationsConfig,
}

/// A loaded configuration and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub config: Config,
    /// The file that was read; `None` when no file exists at the default location
    /// and the built-in defaults (plus environment) are in use.
    pub path: Option<PathBuf>,
    /// Problems that did not stop the load (literal secrets, odd bind addresses).
    pub warnings: Vec<Problem>,
}

impl Config {
    /// Built-in defaults: database in the OS data dir, relay on 127.0.0.1:7412, no
    /// sources, notifications for failed jobs.
    pub fn defaults(paths: &DefaultPaths) -> Config {
        Config {
            store: StoreConfig::with_db(paths.db_file()),
            relay: RelayConfig::default(),
            sources: Vec::new(),
            notifications: NotificationsConfig::default(),
        }
    }

    /// Loads defaults → file → environment, using the OS directories and the process
    /// environment. `explicit_path` is `--config PATH`.
    pub fn load(explicit_path: Option<&Path>) -> Result<LoadedConfig, ConfigError> {
        Config::load_with(explicit_path, &DefaultPaths::from_os(), &|name| {
            std::env::var(name).ok()
        })
    }

    /// [`Config::load`] with given directories and environment lookup (for tests, and
    /// for callers that must not read the real environment).
    pub fn load_with(
        explicit_path: Option<&Path>,
        paths: &DefaultPaths,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<LoadedConfig, ConfigError> {
        let (path, required) = locate(explicit_path, paths, env);
        let text = match &path {
            Some(p) => read_file(p, required)?,
            None => None,
        };
        let (mut config, mut problems, path) = match (text, path) {
            (Some(text), Some(path)) => {
                let (config, problems) = parse_file(&text, &path, paths);
                (config, problems, Some(path))
            }
            _ => (Config::defaults(paths), Vec::new(), None),
        };
        problems.extend(env::apply(&mut config, env));
        if problems.iter().any(Problem::is_error) {
            return Err(ConfigError::Invalid { path, problems });
        }
        Ok(LoadedConfig {
            config,
            path,
            warnings: problems,
        })
    }

    /// Parses the text of a config file (no environment layer). `path` names the file
    /// in messages and anchors relative paths. Returns the config and its warnings.
    pub fn from_toml(
        text: &str,
        path: &Path,
        paths: &DefaultPaths,
    ) -> Result<(Config, Vec<Problem>), ConfigError> {
        let (config, problems) = parse_file(text, path, paths);
        if problems.iter().any(Problem::is_error) {
            return Err(ConfigError::Invalid {
                path: Some(path.to_path_buf()),
                problems,
            });
        }
        Ok((config, problems))
    }

    /// The file [`Config::load`] reads when given no path, if the OS has a config dir
    /// (ignores `TELLTALE_CONFIG`).
    pub fn default_path() -> Option<PathBuf> {
        DefaultPaths::from_os().config_file()
    }

    /// Writes a commented default config file, only when asked (`telltale config
    /// init` or similar): at `explicit_path`, else `TELLTALE_CONFIG`, else the default
    /// location. Never overwrites. Returns the path written.
    pub fn write_default(explicit_path: Option<&Path>) -> Result<PathBuf, ConfigError> {
        let paths = DefaultPaths::from_os();
        let env = |name: &str| std::env::var(name).ok();
        let Some(path) = locate(explicit_path, &paths, &env).0 else {
            return Err(ConfigError::NoConfigDir);
        };
        write_default_file(&path, &paths)?;
        Ok(path)
    }

    /// The source with this name.
    pub fn source(&self, name: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|s| s.name == name)
    }
}

/// Which file to read (none without a config dir) and whether it must exist: an
/// explicit choice (flag or variable) that points nowhere is a mistake worth stopping
/// for; an empty default location is the normal first run.
fn locate(
    explicit_path: Option<&Path>,
    paths: &DefaultPaths,
    env: &dyn Fn(&str) -> Option<String>,
) -> (Option<PathBuf>, bool) {
    if let Some(p) = explicit_path {
        return (Some(p.to_path_buf()), true);
    }
    if let Some(p) = env(TELLTALE_CONFIG).filter(|v| !v.trim().is_empty()) {
        return (Some(PathBuf::from(p)), true);
    }
    (paths.config_file(), false)
}

fn read_file(path: &Path, required: bool) -> Result<Option<String>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if required {
                Err(ConfigError::NotFound {
                    path: path.to_path_buf(),
                })
            } else {
                Ok(None)
            }
        }
        Err(source) => Err(ConfigError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Larger files are refused before parsing.
const MAX_CONFIG_BYTES: usize = 256 * 1024;
/// Syntax errors reported in full; a summary line stands for the rest.
const MAX_SYNTAX_ERRORS: usize = 20;

/// Parses and validates a file, never stopping early: returns the config built from
/// everything that was valid, and every problem sorted by position.
fn parse_file(text: &str, path: &Path, paths: &DefaultPaths) -> (Config, Vec<Problem>) {
    let mut config = Config::defaults(paths);
    let mut doc = Document::new(path, text);
    // The TOML parser's error recovery allocates about a hundred bytes per input
    // byte on broken input (found by the fuzz bench); a real config is a few KB.
    if text.len() > MAX_CONFIG_BYTES {
        doc.error(
            0..0,
            "",
            format!(
                "the file is {} bytes; a Telltale config is a few KB (limit {MAX_CONFIG_BYTES}): is this the right file?",
                text.len()
            ),
        );
        return (config, doc.problems);
    }
    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    // Every line the parser could not read, even past the reported errors: values
    // recovered there are guesses, and complaints about them would be noise.
    let syntax_lines: std::collections::HashSet<usize> = syntax_errors
        .iter()
        .map(|e| doc.line_of(e.span().unwrap_or(0..0).start))
        .collect();
    // One typo can make the parser report every following line; the first few say
    // where to look, the rest would bury the validation problems.
    for (i, e) in syntax_errors.iter().take(MAX_SYNTAX_ERRORS + 1).enumerate() {
        let span = e.span().unwrap_or(0..0);
        if i == MAX_SYNTAX_ERRORS {
            doc.error(
                span,
                "",
                "TOML syntax: more errors follow; fix the ones above first".to_string(),
            );
        } else {
            doc.error(span, "", format!("TOML syntax: {}", e.message()));
        }
    }

    let root = root.get_ref();
    doc.check_keys(root, "", &TOP_KEYS);
    let base_dir = path.parent().unwrap_or(Path::new(""));
    if let Some(v) = root.get("store") {
        if let Some(t) = doc.table(v, "store") {
            config.store.read(&mut doc, t, base_dir);
        }
    }
    if let Some(v) = root.get("relay") {
        if let Some(t) = doc.table(v, "relay") {
            config.relay.read(&mut doc, t);
        }
    }
    if let Some(v) = root.get("sources") {
        config.sources = sources::read_sources(&mut doc, v);
    }
    if let Some(v) = root.get("notifications") {
        if let Some(t) = doc.table(v, "notifications") {
            let refs = config.notifications.read(&mut doc, t);
            check_source_refs(&mut doc, root, &refs);
        }
    }

    let mut problems = doc.problems;
    // A line the parser could not read yields recovered values that are guesses;
    // further complaints about that line would only be noise.
    let n_syntax = syntax_errors.len().min(MAX_SYNTAX_ERRORS + 1);
    let mut kept: Vec<Problem> = problems.drain(..n_syntax).collect();
    kept.extend(
        problems
            .into_iter()
            .filter(|p| p.line().is_none_or(|l| !syntax_lines.contains(&l))),
    );
    kept.sort_by_key(|p| match p.origin {
        Origin::File { line, column, .. } => (line, column),
        Origin::Env { .. } => (usize::MAX, 0),
    });
    kept.dedup();
    (config, kept)
}

/// `notifications.sources` must name sources of the file; a typo would silently
/// mean "never notify".
fn check_source_refs(
    doc: &mut Document<'_>,
    root: &DeTable<'_>,
    refs: &[(String, std::ops::Range<usize>)],
) {
    let names: Vec<&str> = root
        .get("sources")
        .and_then(|v| v.get_ref().as_array())
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get_ref().as_table()?.get("name")?.get_ref().as_str())
                .collect()
        })
        .unwrap_or_default();
    for (i, (name, span)) in refs.iter().enumerate() {
        if !names.contains(&name.as_str()) {
            let hint = suggest::did_you_mean(name, &names);
            doc.error(
                span.clone(),
                &format!("notifications.sources[{i}]"),
                format!("no source is named \"{name}\"{hint}"),
            );
        }
    }
}
