//! The environment layer: variables that override the file (see the list in
//! [`crate::config`]). Applied last, so a script or a service unit can change one
//! setting without editing the operator's file.

use std::path::PathBuf;
use std::time::Duration;

use super::problem::{Origin, Problem, Severity};
use super::relay::{listen_warning, parse_listen};
use super::secret::Secret;
use super::size::parse_size;
use super::store::parse_limit;
use super::Config;

pub const TELLTALE_CONFIG: &str = "TELLTALE_CONFIG";
pub const TELLTALE_DB: &str = "TELLTALE_DB";
pub const TELLTALE_LISTEN: &str = "TELLTALE_LISTEN";
pub const TELLTALE_TOKEN: &str = "TELLTALE_TOKEN";
pub const TELLTALE_RETENTION_DAYS: &str = "TELLTALE_RETENTION_DAYS";
pub const TELLTALE_RETENTION_MAX_SIZE: &str = "TELLTALE_RETENTION_MAX_SIZE";
pub const TELLTALE_NOTIFICATIONS: &str = "TELLTALE_NOTIFICATIONS";

/// Every variable the loader reads, for `--help` texts and documentation.
pub const ALL_VARIABLES: [&str; 7] = [
    TELLTALE_CONFIG,
    TELLTALE_DB,
    TELLTALE_LISTEN,
    TELLTALE_TOKEN,
    TELLTALE_RETENTION_DAYS,
    TELLTALE_RETENTION_MAX_SIZE,
    TELLTALE_NOTIFICATIONS,
];

/// Applies the environment to `config`, returning its problems. `lookup` returns
/// `None` for unset variables; an empty value counts as unset, so `VAR= cmd` can
/// switch an override off.
pub(crate) fn apply(config: &mut Config, lookup: &dyn Fn(&str) -> Option<String>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    let mut error = |var: &str, message: String| {
        problems.push(Problem {
            severity: Severity::Error,
            origin: Origin::Env {
                var: var.to_string(),
            },
            key: String::new(),
            message,
        })
    };
    let mut warnings = Vec::new();

    if let Some(db) = get(TELLTALE_DB) {
        config.store.db = PathBuf::from(db);
    }
    if let Some(listen) = get(TELLTALE_LISTEN) {
        match parse_listen(&listen) {
            Ok(addr) => {
                if let Some(w) = listen_warning(addr) {
                    warnings.push((TELLTALE_LISTEN, w));
                }
                config.relay.listen = addr;
            }
            Err(msg) => error(TELLTALE_LISTEN, msg),
        }
    }
    if get(TELLTALE_TOKEN).is_some() {
        // Kept as a reference, not a copy: the value is read again at use time and
        // never lands in the Config.
        config.relay.token = Some(Secret::from_env_var(TELLTALE_TOKEN));
    }
    if let Some(days) = get(TELLTALE_RETENTION_DAYS) {
        match parse_limit(&days, parse_days) {
            Ok(limit) => config.store.retention.max_age = limit,
            Err(msg) => error(TELLTALE_RETENTION_DAYS, msg),
        }
    }
    if let Some(size) = get(TELLTALE_RETENTION_MAX_SIZE) {
        match parse_limit(&size, parse_size) {
            Ok(limit) => config.store.retention.max_size = limit,
            Err(msg) => error(TELLTALE_RETENTION_MAX_SIZE, msg),
        }
    }
    if let Some(flag) = get(TELLTALE_NOTIFICATIONS) {
        match parse_flag(&flag) {
            Some(b) => config.notifications.enabled = b,
            None => error(
                TELLTALE_NOTIFICATIONS,
                format!("expected 1/0, true/false, on/off or yes/no, got \"{flag}\""),
            ),
        }
    }
    problems.extend(warnings.into_iter().map(|(var, message)| Problem {
        severity: Severity::Warning,
        origin: Origin::Env {
            var: var.to_string(),
        },
        key: String::new(),
        message,
    }));
    problems
}

fn parse_days(text: &str) -> Result<Duration, String> {
    match text.trim().parse::<u64>() {
        Ok(0) => Err("must be at least 1 (or \"off\" for no age limit)".to_string()),
        Ok(days) if days <= 100_000 => Ok(Duration::from_secs(days * 86_400)),
        _ => Err(format!(
            "expected a whole number of days (or \"off\"), got \"{text}\""
        )),
    }
}

fn parse_flag(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => Some(true),
        "0" | "false" | "off" | "no" => Some(false),
        _ => None,
    }
}
