//! What counts as history replayed at start, which must never notify.
//!
//! Two ways an old event reaches the rules: (1) the hub's stream carries a seq at or
//! below what was stored before we subscribed (a race at start-up, or a caller that
//! subscribed from the store); (2) a source replays its backlog when it connects (an
//! SSE server sending its history, a BullMQ backfill of the failed set): new to our
//! store, but it happened before Telltale was watching. (2) is recognised by the time
//! the backend says it happened, with a grace period because backend clocks drift.

use crate::model::{Event, Millis};

/// How far before our start an event may say it happened and still count as live.
/// A backend whose clock is behind ours by more than this loses notifications only
/// for that much time after start (the cutoff is fixed, its clock keeps moving).
pub const REPLAY_GRACE_MS: Millis = 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// The hub's `last_seq` read after subscribing: everything up to it was history.
    pub after_seq: u64,
    /// When the rules started watching (our clock).
    pub at: Millis,
}

impl Start {
    pub fn is_replay(&self, e: &Event) -> bool {
        (e.seq != 0 && e.seq <= self.after_seq)
            || e.occurred_at
                .is_some_and(|t| t < self.at.saturating_sub(REPLAY_GRACE_MS))
    }
}
