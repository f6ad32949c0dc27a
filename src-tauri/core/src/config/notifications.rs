//! `[notifications]`: which events become desktop notifications, and how often.

use std::ops::Range;
use std::time::Duration;

use toml::de::DeTable;

use super::document::{parse_duration, Document};
use super::store::parse_limit;
use super::suggest::did_you_mean;
use crate::model::Status;

/// Names accepted in `statuses`, for suggestions (`Status` itself decides validity).
const STATUS_NAMES: [&str; 17] = [
    "queued",
    "delayed",
    "running",
    "completed",
    "failed",
    "retrying",
    "stalled",
    "cancelled",
    "busy",
    "idle",
    "paused",
    "gone",
    "connected",
    "reconnecting",
    "gap",
    "stopped",
    "info",
];

const KEYS: [&str; 6] = [
    "enabled", "statuses", "sources", "queues", "coalesce", "snooze",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationsConfig {
    pub enabled: bool,
    /// Statuses that notify. Default: failed jobs only.
    pub statuses: Vec<Status>,
    /// Source names that notify; empty means every source.
    pub sources: Vec<String>,
    /// Queue names that notify; empty means every queue.
    pub queues: Vec<String>,
    /// Notifications within this window are merged into one ("12 jobs failed"), so a
    /// burst of failures does not bury the desktop. Zero (`"off"`): no merging.
    pub coalesce: Duration,
    /// How long "snooze" in the tray menu silences notifications.
    pub snooze: Duration,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        NotificationsConfig {
            enabled: true,
            statuses: vec![Status::Failed],
            sources: Vec::new(),
            queues: Vec::new(),
            coalesce: Duration::from_secs(10),
            snooze: Duration::from_secs(60 * 60),
        }
    }
}

impl NotificationsConfig {
    /// Applies `[notifications]`. Returns the source names it mentions with their
    /// spans, so the caller can check them against `[[sources]]`.
    pub(crate) fn read(
        &mut self,
        doc: &mut Document<'_>,
        table: &DeTable<'_>,
    ) -> Vec<(String, Range<usize>)> {
        const P: &str = "notifications";
        doc.check_keys(table, P, &KEYS);
        let mut source_refs = Vec::new();
        if let Some(v) = table.get("enabled") {
            if let Some(b) = doc.bool(v, "notifications.enabled") {
                self.enabled = b;
            }
        }
        if let Some(v) = table.get("statuses") {
            if let Some(list) = doc.string_list(v, "notifications.statuses") {
                let mut statuses = Vec::new();
                let mut ok = true;
                for (i, (name, span)) in list.into_iter().enumerate() {
                    match Status::from_stored(&name.to_ascii_lowercase()) {
                        Status::Unknown(_) => {
                            ok = false;
                            let hint = did_you_mean(name, &STATUS_NAMES);
                            doc.error(
                                span,
                                &format!("{P}.statuses[{i}]"),
                                format!(
                                    "unknown status \"{name}\"{hint}; known: {}",
                                    STATUS_NAMES.join(", ")
                                ),
                            );
                        }
                        s if !statuses.contains(&s) => statuses.push(s),
                        _ => {}
                    }
                }
                if ok {
                    self.statuses = statuses;
                }
            }
        }
        if let Some(v) = table.get("sources") {
            if let Some(list) = doc.string_list(v, "notifications.sources") {
                self.sources = list.iter().map(|(s, _)| s.to_string()).collect();
                source_refs = list.into_iter().map(|(s, r)| (s.to_string(), r)).collect();
            }
        }
        if let Some(v) = table.get("queues") {
            if let Some(list) = doc.string_list(v, "notifications.queues") {
                self.queues = list.into_iter().map(|(s, _)| s.to_string()).collect();
            }
        }
        if let Some(v) = table.get("coalesce") {
            // "off" (zero) is allowed here: it means one notification per event.
            if let Some(text) = doc.string(v, "notifications.coalesce") {
                match parse_limit(text, parse_duration) {
                    Ok(limit) => self.coalesce = limit.unwrap_or(Duration::ZERO),
                    Err(msg) => doc.error(v.span(), "notifications.coalesce", msg),
                }
            }
        }
        if let Some(v) = table.get("snooze") {
            if let Some(d) = doc.duration(v, "notifications.snooze") {
                self.snooze = d;
            }
        }
        source_refs
    }
}
