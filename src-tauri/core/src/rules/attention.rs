//! What the tray icon says, and the tray menu's recent failures.
//!
//! "Unacknowledged" failures are those seen live since the operator last looked (the
//! shell calls [`Attention::acknowledge`] when the window is shown or focused). History
//! at start counts as seen: a restart must not turn the icon red for last week's
//! failures. A failed job that runs again or completes stops counting.

use std::collections::{HashSet, VecDeque};

use super::notification::EntityRef;
use super::replay::Start;
use crate::board::{Board, EntityState};
use crate::model::{EntityKind, Event, Millis, Status};

/// Entries in the tray menu's "recent failures".
pub const RECENT_FAILURES: usize = 5;

/// Unacknowledged failures tracked one by one; past this only the count grows.
const UNACKED_CAP: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayState {
    AllClear,
    /// Jobs are running or queued, nothing new has failed.
    Activity,
    /// Something failed since the operator last looked.
    Failing,
}

/// Job counts on the board, for the tooltip and the icon.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BoardCounts {
    pub jobs: usize,
    pub running: usize,
    /// Queued or delayed: work about to happen.
    pub waiting: usize,
    pub failed: usize,
}

impl BoardCounts {
    pub fn of(board: &Board) -> Self {
        let mut c = BoardCounts::default();
        for s in board.iter().filter(|s| s.kind == EntityKind::Job) {
            c.jobs += 1;
            match s.status {
                Status::Running | Status::Retrying => c.running += 1,
                Status::Queued | Status::Delayed => c.waiting += 1,
                Status::Failed => c.failed += 1,
                _ => {}
            }
        }
        c
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentFailure {
    pub job: EntityRef,
    pub queue: Option<String>,
    pub at: Millis,
}

pub struct Attention {
    start: Start,
    unacked: HashSet<EntityRef>,
    /// Unacknowledged failures beyond [`UNACKED_CAP`], counted but not tracked.
    unacked_overflow: usize,
    /// Newest first, one entry per job.
    recent: VecDeque<RecentFailure>,
}

impl Attention {
    pub fn new(start: Start) -> Self {
        Attention {
            start,
            unacked: HashSet::new(),
            unacked_overflow: 0,
            recent: VecDeque::new(),
        }
    }

    /// Fills the recent-failures list from the board at start (already acknowledged).
    pub fn seed_recent<'a>(&mut self, states: impl IntoIterator<Item = &'a EntityState>) {
        let mut failed: Vec<&EntityState> = states
            .into_iter()
            .filter(|s| s.kind == EntityKind::Job && s.status == Status::Failed)
            .collect();
        failed.sort_by_key(|s| std::cmp::Reverse(s.finished_at.unwrap_or(s.last_seen)));
        self.recent = failed
            .into_iter()
            .take(RECENT_FAILURES)
            .map(|s| RecentFailure {
                job: EntityRef {
                    kind: s.kind,
                    source: s.source.clone(),
                    entity: s.entity.clone(),
                },
                queue: s.parent.clone(),
                at: s.finished_at.unwrap_or(s.last_seen),
            })
            .collect();
    }

    /// Folds newly stored events in. Returns whether the recent-failures list changed
    /// (the shell rebuilds the tray menu only then).
    pub fn observe(&mut self, events: &[Event]) -> bool {
        let mut recent_changed = false;
        for e in events.iter().filter(|e| e.kind == EntityKind::Job) {
            if self.start.is_replay(e) {
                continue;
            }
            let key = EntityRef::of(e);
            match e.status {
                Status::Failed => {
                    if self.unacked.len() < UNACKED_CAP {
                        self.unacked.insert(key.clone());
                    } else if !self.unacked.contains(&key) {
                        self.unacked_overflow += 1;
                    }
                    self.recent.retain(|r| r.job != key);
                    self.recent.push_front(RecentFailure {
                        job: key,
                        queue: e.parent.clone(),
                        at: e.occurred_at.unwrap_or(e.received_at),
                    });
                    self.recent.truncate(RECENT_FAILURES);
                    recent_changed = true;
                }
                Status::Running | Status::Retrying | Status::Queued | Status::Completed => {
                    // Retried or recovered: no longer a failure to look at.
                    self.unacked.remove(&key);
                }
                _ => {}
            }
        }
        recent_changed
    }

    /// The operator looked (window shown or focused).
    pub fn acknowledge(&mut self) {
        self.unacked.clear();
        self.unacked_overflow = 0;
    }

    pub fn unacknowledged(&self) -> usize {
        self.unacked.len() + self.unacked_overflow
    }

    pub fn recent(&self) -> impl Iterator<Item = &RecentFailure> {
        self.recent.iter()
    }

    pub fn tray_state(&self, counts: &BoardCounts) -> TrayState {
        if self.unacknowledged() > 0 {
            TrayState::Failing
        } else if counts.running > 0 || counts.waiting > 0 {
            TrayState::Activity
        } else {
            TrayState::AllClear
        }
    }

    /// "3 running · 2 waiting · 4 failed (1 new)", or "All clear".
    pub fn tooltip(&self, counts: &BoardCounts) -> String {
        let mut parts = Vec::new();
        if counts.running > 0 {
            parts.push(format!("{} running", counts.running));
        }
        if counts.waiting > 0 {
            parts.push(format!("{} waiting", counts.waiting));
        }
        let new = self.unacknowledged();
        if counts.failed > 0 || new > 0 {
            let failed = counts.failed.max(new);
            parts.push(if new > 0 {
                format!("{failed} failed ({new} new)")
            } else {
                format!("{failed} failed")
            });
        }
        if parts.is_empty() {
            format!("All clear · {} jobs", counts.jobs)
        } else {
            parts.join(" · ")
        }
    }
}
