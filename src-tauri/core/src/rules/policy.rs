//! Which events may notify at all: `[notifications]` (or the rules edited in the UI)
//! reduced to a predicate.

use crate::config::NotificationsConfig;
use crate::model::{Event, Millis, Status};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyPolicy {
    pub enabled: bool,
    pub statuses: Vec<Status>,
    /// Empty: every source.
    pub sources: Vec<String>,
    /// Empty: every queue. A job's queue is its `parent` (BullMQ queue, batch, run).
    pub queues: Vec<String>,
    /// Notifications after the first of a burst wait this long and are merged into one.
    /// 0 turns coalescing off: one notification per event, however many.
    pub coalesce_ms: Millis,
}

impl NotifyPolicy {
    pub fn matches(&self, e: &Event) -> bool {
        self.enabled
            && self.statuses.contains(&e.status)
            && (self.sources.is_empty() || self.sources.contains(&e.source))
            && (self.queues.is_empty()
                || e.parent
                    .as_ref()
                    .is_some_and(|q| self.queues.iter().any(|x| x == q)))
    }
}

impl From<&NotificationsConfig> for NotifyPolicy {
    fn from(c: &NotificationsConfig) -> Self {
        NotifyPolicy {
            enabled: c.enabled,
            statuses: c.statuses.clone(),
            sources: c.sources.clone(),
            queues: c.queues.clone(),
            coalesce_ms: Millis::try_from(c.coalesce.as_millis()).unwrap_or(Millis::MAX),
        }
    }
}

impl Default for NotifyPolicy {
    fn default() -> Self {
        NotifyPolicy::from(&NotificationsConfig::default())
    }
}
