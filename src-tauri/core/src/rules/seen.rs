//! Which entities have already been notified for their current failure, so a backend
//! that reports one failure twice (`job_failed` then `error`, a BullMQ backfill after a
//! reconnect) notifies once. Bounded: the oldest entries go first.

use std::collections::{HashSet, VecDeque};

use super::notification::EntityRef;

pub(super) struct Seen {
    set: HashSet<EntityRef>,
    order: VecDeque<EntityRef>,
    cap: usize,
}

impl Seen {
    pub(super) fn new(cap: usize) -> Self {
        Seen {
            set: HashSet::new(),
            order: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    pub(super) fn contains(&self, k: &EntityRef) -> bool {
        self.set.contains(k)
    }

    /// Returns false when it was already there.
    pub(super) fn insert(&mut self, k: EntityRef) -> bool {
        if !self.set.insert(k.clone()) {
            return false;
        }
        self.order.push_back(k);
        while self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }

    /// Forgets `k`: its next failure is a new one.
    pub(super) fn remove(&mut self, k: &EntityRef) {
        if self.set.remove(k) {
            if let Some(i) = self.order.iter().rposition(|x| x == k) {
                self.order.remove(i);
            }
        }
    }

    pub(super) fn len(&self) -> usize {
        self.set.len()
    }
}
