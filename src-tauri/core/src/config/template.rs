//! The commented default config file, written only when the operator asks for it.

use std::io::Write;
use std::path::Path;

use super::paths::DefaultPaths;
use super::problem::ConfigError;
use super::relay::DEFAULT_LISTEN;

/// The text of a fresh config file. Every setting is commented out at its default, so
/// the file loads to exactly the built-in defaults and documents what can be changed.
pub fn default_config_text(paths: &DefaultPaths) -> String {
    let db = paths.db_file();
    let db = toml_string(&db.display().to_string());
    TEMPLATE
        .replace("@DB@", &db)
        .replace("@LISTEN@", &DEFAULT_LISTEN.to_string())
}

/// Writes [`default_config_text`] to `path`, creating its directory. Refuses to
/// replace an existing file: the operator's edits are never overwritten. The file is
/// private to the user (0600) since it may come to hold credentials.
pub fn write_default_file(path: &Path, paths: &DefaultPaths) -> Result<(), ConfigError> {
    let write_err = |source| ConfigError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(write_err)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(ConfigError::AlreadyExists {
                path: path.to_path_buf(),
            })
        }
        Err(e) => return Err(write_err(e)),
    };
    file.write_all(default_config_text(paths).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(write_err)
}

/// A TOML basic string, escaping what needs it (Windows paths have backslashes).
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

const TEMPLATE: &str = r#"# Telltale configuration.
#
# Layers: built-in defaults, then this file, then environment variables
# (TELLTALE_DB, TELLTALE_LISTEN, TELLTALE_TOKEN, TELLTALE_RETENTION_DAYS,
# TELLTALE_RETENTION_MAX_SIZE, TELLTALE_NOTIFICATIONS).
#
# Secrets (bearer, token, credential headers, passwords in URLs) should be written
# as references such as "${API_TOKEN}": they are read from the environment when
# used and never stored or logged.

[store]
# db = @DB@

[store.retention]
# Oldest events are deleted past either limit; "off" disables a limit.
# max_age = "30d"
# max_size = "2GiB"

[relay]
# The local server for the UI and the merged event stream (loopback only).
# listen = "@LISTEN@"
# A fixed access token for scripts; by default a per-install token is generated.
# token = "${TELLTALE_TOKEN}"

[notifications]
# enabled = true
# statuses = ["failed"]
# Limit to some sources or queues (empty: all).
# sources = []
# queues = []
# Failures within this window are merged into one notification.
# coalesce = "10s"
# How long "snooze" in the tray menu silences notifications.
# snooze = "1h"

# One [[sources]] block per place to watch. URL forms:
#   http(s)://HOST/PATH                                  Server-Sent Events
#   redis(s)://[USER:PASS@]HOST:PORT/DB?channel=NAME&pattern=GLOB   pub/sub
#   bullmq(s)://[USER:PASS@]HOST:PORT/DB?queue=NAME&prefix=bull      BullMQ queues
#
# [[sources]]
# name = "api"
# url = "https://api.example.com/events"
# enabled = true
# bearer = "${API_TOKEN}"          # Authorization: Bearer ...
# token = "${API_TOKEN}"           # or ?token=... in the URL
# headers = { "X-Tenant" = "acme" }
# idle_timeout = "90s"             # reconnect after this much silence ("off": never)
# follow = true                    # reconnect when the server ends the stream
# subscribe = ["/api/v1/sse/{connectionId}/subscribe/queue/emails"]
#
# [sources.overrides]              # JSON pointers into the payload, or
# entity = "/data/jobId"           # @channel / @channel/N (a ':' segment of it)
# status = "/data/state"
#
# [[sources]]
# name = "jobs-redis"
# url = "redis://:${REDIS_PASSWORD}@localhost:6379/0?channel=batch-progress&pattern=test:*:status"
#
# [[sources]]
# name = "queues"
# url = "bullmq://localhost:6379/0?queue=emails"
# poll_interval = "5s"             # queue counts
"#;
