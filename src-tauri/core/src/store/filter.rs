//! Filters shared by history queries, the relay's replay and the CLI.

use serde::{Deserialize, Serialize};

use crate::model::{EntityKind, Event, Millis, Status};

/// Which events a query wants. Every field narrows; an empty filter matches all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<EntityKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Inclusive lower bound on `received_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Millis>,
    /// Exclusive upper bound on `received_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Millis>,
}

impl EventFilter {
    pub fn is_empty(&self) -> bool {
        *self == EventFilter::default()
    }

    /// The same test in memory, for live events (the relay filters its broadcast).
    pub fn matches(&self, e: &Event) -> bool {
        self.source.as_ref().is_none_or(|s| *s == e.source)
            && self.kind.is_none_or(|k| k == e.kind)
            && self.entity.as_ref().is_none_or(|x| *x == e.entity)
            && self.status.as_ref().is_none_or(|s| *s == e.status)
            && self.from.is_none_or(|f| e.received_at >= f)
            && self.until.is_none_or(|u| e.received_at < u)
    }

    /// SQL conditions (joined with AND, prefixed by `alias.`) and their parameters.
    pub(crate) fn sql(&self, alias: &str) -> (Vec<String>, Vec<rusqlite::types::Value>) {
        use rusqlite::types::Value;
        let mut w = Vec::new();
        let mut p = Vec::new();
        if let Some(s) = &self.source {
            w.push(format!("{alias}source = ?"));
            p.push(Value::Text(s.clone()));
        }
        if let Some(k) = self.kind {
            w.push(format!("{alias}kind = ?"));
            p.push(Value::Text(k.as_str().into()));
        }
        if let Some(x) = &self.entity {
            w.push(format!("{alias}entity = ?"));
            p.push(Value::Text(x.clone()));
        }
        if let Some(s) = &self.status {
            w.push(format!("{alias}status = ?"));
            p.push(Value::Text(s.as_str().into()));
        }
        // Time bounds become a seq range through the minute buckets (no index on
        // received_at), then the exact test on received_at.
        if let Some(f) = self.from {
            w.push(format!(
                "{alias}seq >= COALESCE((SELECT MIN(first_seq) FROM time_buckets WHERE minute >= ?), {})",
                i64::MAX
            ));
            p.push(Value::Integer(f.div_euclid(60_000)));
            w.push(format!("{alias}received_at >= ?"));
            p.push(Value::Integer(f));
        }
        if let Some(u) = self.until {
            w.push(format!(
                "{alias}seq <= COALESCE((SELECT MAX(last_seq) FROM time_buckets WHERE minute <= ?), -1)"
            ));
            p.push(Value::Integer((u - 1).div_euclid(60_000)));
            w.push(format!("{alias}received_at < ?"));
            p.push(Value::Integer(u));
        }
        (w, p)
    }
}
