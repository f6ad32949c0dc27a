//! Each source's live connection state, as the overview and `/sources` show it.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde::Serialize;

use crate::model::{now_millis, Millis};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceHealth {
    Connecting,
    Live,
    Reconnecting,
    /// Stopped for good (401, 404, wrong content type, ...): `reason` says why.
    Stopped,
    Disabled,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceState {
    pub name: String,
    pub health: SourceHealth,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the next connection attempt is due, while reconnecting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_event_at: Option<Millis>,
    pub events: u64,
    pub since: Millis,
}

/// Shared, cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct SourceStates {
    inner: Arc<RwLock<BTreeMap<String, SourceState>>>,
}

impl SourceStates {
    pub fn register(&self, name: &str) {
        let mut m = self.inner.write().unwrap_or_else(|p| p.into_inner());
        m.entry(name.to_string()).or_insert_with(|| SourceState {
            name: name.to_string(),
            health: SourceHealth::Connecting,
            reason: None,
            next_attempt_at: None,
            last_event_at: None,
            events: 0,
            since: now_millis(),
        });
    }

    pub fn set(
        &self,
        name: &str,
        health: SourceHealth,
        reason: Option<String>,
        next_attempt_at: Option<Millis>,
    ) {
        self.register(name);
        let mut m = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = m.get_mut(name) {
            if s.health != health {
                s.since = now_millis();
            }
            s.health = health;
            s.reason = reason;
            s.next_attempt_at = next_attempt_at;
        }
    }

    /// Keeps the health but records why it is worth a look (a discarded event, a
    /// gap); the next state change replaces it.
    pub fn set_reason(&self, name: &str, reason: Option<String>) {
        let mut m = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = m.get_mut(name) {
            s.reason = reason;
        }
    }

    pub fn count_events(&self, name: &str, n: u64) {
        let mut m = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = m.get_mut(name) {
            s.events += n;
            s.last_event_at = Some(now_millis());
        }
    }

    /// Forgets a source that was deleted, so the overview stops listing it.
    pub fn remove(&self, name: &str) -> Option<SourceState> {
        self.inner
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name)
    }

    pub fn get(&self, name: &str) -> Option<SourceState> {
        self.inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    pub fn all(&self) -> Vec<SourceState> {
        self.inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }
}
