//! The board: the latest state of every entity, in memory (DESIGN §3, step 2).
//!
//! It is a fold over the event sequence, so it can always be rebuilt from the store;
//! the hub also persists each changed [`EntityState`] in the same transaction as the
//! events that changed it, so a restart does not need to replay history.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::model::{EntityKind, Event, Millis, QueueCounts, Status};

/// The latest known state of one job, queue, worker or source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityState {
    pub kind: EntityKind,
    pub entity: String,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<QueueCounts>,
    pub first_seen: Millis,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Millis>,
    pub last_seen: Millis,
    pub last_seq: u64,
    pub events: u64,
}

impl EntityState {
    fn first(e: &Event) -> Self {
        EntityState {
            kind: e.kind,
            entity: e.entity.clone(),
            source: e.source.clone(),
            parent: None,
            status: Status::Unknown(String::new()),
            progress: None,
            stage: None,
            message: None,
            error: None,
            counts: None,
            first_seen: e.occurred_at.unwrap_or(e.received_at),
            started_at: None,
            finished_at: None,
            last_seen: e.received_at,
            last_seq: 0,
            events: 0,
        }
    }

    /// Milliseconds from start to finish, or from start to `now` while running.
    pub fn duration_ms(&self, now: Millis) -> Option<Millis> {
        let start = self.started_at?;
        Some(self.finished_at.unwrap_or(now).saturating_sub(start).max(0))
    }

    /// Folds one event into the state. Events that carry no status of their own
    /// (`Info`, an empty `Unknown`) update the other fields but keep the status: a
    /// progress tick must not make a running job look unknown.
    pub fn apply(&mut self, e: &Event) {
        if e.seq != 0 && e.seq <= self.last_seq {
            // Already folded in: replaying events after a restart is idempotent.
            return;
        }
        let at = e.occurred_at.unwrap_or(e.received_at);
        self.source = e.source.clone();
        self.last_seen = e.received_at.max(self.last_seen);
        self.last_seq = self.last_seq.max(e.seq);
        self.events += 1;
        if e.parent.is_some() {
            self.parent = e.parent.clone();
        }
        let carries_status = !matches!(&e.status, Status::Info)
            && !matches!(&e.status, Status::Unknown(s) if s.is_empty());
        if carries_status {
            match e.status {
                Status::Running if self.started_at.is_none() || self.finished_at.is_some() => {
                    // A retried job starts over: its duration is the new attempt's.
                    self.started_at = Some(at);
                    self.finished_at = None;
                    self.error = None;
                }
                Status::Queued | Status::Delayed | Status::Retrying => self.finished_at = None,
                _ if e.status.is_terminal() => {
                    self.finished_at = Some(at);
                    if self.started_at.is_none() {
                        self.started_at = Some(self.first_seen.min(at));
                    }
                }
                _ => {}
            }
            self.status = e.status.clone();
            if e.status == Status::Completed && e.progress.is_none() && e.kind == EntityKind::Job {
                self.progress = Some(100.0);
            }
        } else if self.status == Status::Unknown(String::new()) && e.progress.is_some() {
            // The first thing we hear of a job is its progress: it is running.
            self.status = Status::Running;
            self.started_at.get_or_insert(at);
        }
        if let Some(p) = e.progress {
            self.progress = Some(p);
        }
        if e.stage.is_some() {
            self.stage = e.stage.clone();
        }
        if e.message.is_some() {
            self.message = e.message.clone();
        }
        if e.error.is_some() {
            self.error = e.error.clone();
        }
        if e.counts.is_some() {
            self.counts = e.counts.clone();
        }
    }
}

pub type EntityKey = (EntityKind, String);

/// Latest state per entity.
#[derive(Debug, Default, Clone)]
pub struct Board {
    entities: HashMap<EntityKey, EntityState>,
}

impl Board {
    pub fn from_states(states: impl IntoIterator<Item = EntityState>) -> Self {
        Board {
            entities: states
                .into_iter()
                .map(|s| ((s.kind, s.entity.clone()), s))
                .collect(),
        }
    }

    pub fn get(&self, kind: EntityKind, entity: &str) -> Option<&EntityState> {
        self.entities.get(&(kind, entity.to_string()))
    }

    pub fn len(&self) -> usize {
        self.entities.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &EntityState> {
        self.entities.values()
    }

    /// Folds one event in; returns the entity's key (for the hub's dirty set).
    pub fn apply(&mut self, e: &Event) -> EntityKey {
        let key = (e.kind, e.entity.clone());
        self.entities
            .entry(key.clone())
            .or_insert_with(|| EntityState::first(e))
            .apply(e);
        key
    }

    /// Copies of the states of `keys` (those still on the board).
    pub fn states<'a>(&self, keys: impl IntoIterator<Item = &'a EntityKey>) -> Vec<EntityState> {
        keys.into_iter()
            .filter_map(|k| self.entities.get(k).cloned())
            .collect()
    }

    pub fn remove(&mut self, kind: EntityKind, entity: &str) {
        self.entities.remove(&(kind, entity.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(seq: u64, at: Millis, status: Status) -> Event {
        let mut e = Event::new("s", EntityKind::Job, "j1", status);
        e.seq = seq;
        e.received_at = at;
        e
    }

    #[test]
    fn job_lifecycle_gives_start_finish_and_duration() {
        let mut b = Board::default();
        b.apply(&ev(1, 1_000, Status::Queued));
        b.apply(&ev(2, 2_000, Status::Running));
        let mut p = ev(3, 2_500, Status::Info);
        p.progress = Some(40.0);
        b.apply(&p);
        b.apply(&ev(4, 5_000, Status::Completed));
        let s = b.get(EntityKind::Job, "j1").unwrap();
        assert_eq!(s.status, Status::Completed);
        assert_eq!(s.first_seen, 1_000);
        assert_eq!(s.started_at, Some(2_000));
        assert_eq!(s.finished_at, Some(5_000));
        assert_eq!(s.duration_ms(9_999), Some(3_000));
        assert_eq!(s.progress, Some(100.0));
        assert_eq!(s.events, 4);
        assert_eq!(s.last_seq, 4);
    }

    #[test]
    fn retry_restarts_the_clock_and_clears_the_error() {
        let mut b = Board::default();
        b.apply(&ev(1, 1_000, Status::Running));
        let mut f = ev(2, 2_000, Status::Failed);
        f.error = Some("boom".into());
        b.apply(&f);
        b.apply(&ev(3, 3_000, Status::Running));
        let s = b.get(EntityKind::Job, "j1").unwrap();
        assert_eq!(s.status, Status::Running);
        assert_eq!(s.started_at, Some(3_000));
        assert_eq!(s.finished_at, None);
        assert_eq!(s.error, None);
    }

    #[test]
    fn replaying_an_event_already_folded_in_changes_nothing() {
        let mut b = Board::default();
        b.apply(&ev(1, 1_000, Status::Running));
        b.apply(&ev(2, 2_000, Status::Failed));
        let before = b.get(EntityKind::Job, "j1").unwrap().clone();
        b.apply(&ev(1, 1_000, Status::Running));
        b.apply(&ev(2, 2_000, Status::Failed));
        assert_eq!(b.get(EntityKind::Job, "j1").unwrap(), &before);
    }
}
