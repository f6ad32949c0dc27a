//! The notification state machine.
//!
//! Coalescing is leading-edge: the first matching failure after a quiet spell is shown
//! at once (an operator wants the first failure now, not ten seconds later); failures
//! in the next `coalesce` window are held and shown together when it ends, as one
//! notification if there is one, else one summary. A sustained burst therefore costs
//! one notification per window, however many jobs fail.
//!
//! One notification per failure of a job: a backend that reports the same failure
//! twice (two failed events in a row, a backfill after a reconnect) notifies once. A
//! job that is seen again queued, delayed, retrying or running and then fails again
//! notifies again: the retry did not fix it, which is news. Retries that fail in quick
//! succession still fall into one coalesced summary.

use super::notification::{self, EntityRef, Held, Notification};
use super::policy::NotifyPolicy;
use super::quiet::Quiet;
use super::replay::Start;
use super::seen::Seen;
use crate::model::{Event, Millis, Status};

/// Entities remembered as "already notified for this failure" (oldest forgotten first).
const SEEN_CAP: usize = 50_000;

struct Window {
    ends_at: Millis,
    held: Vec<Held>,
}

pub struct Notifier {
    policy: NotifyPolicy,
    start: Start,
    quiet: Quiet,
    window: Option<Window>,
    notified: Seen,
    /// Matching failures silenced by snooze or pause since it began.
    missed_while_quiet: usize,
}

impl Notifier {
    pub fn new(policy: NotifyPolicy, start: Start) -> Self {
        Notifier {
            policy,
            start,
            quiet: Quiet::Off,
            window: None,
            notified: Seen::new(SEEN_CAP),
            missed_while_quiet: 0,
        }
    }

    pub fn policy(&self) -> &NotifyPolicy {
        &self.policy
    }

    /// New rules apply from the next event; a burst already held is still shown.
    pub fn set_policy(&mut self, policy: NotifyPolicy) {
        self.policy = policy;
    }

    pub fn quiet(&self, now: Millis) -> Quiet {
        self.quiet.current(now)
    }

    /// Silences notifications (snooze until an instant, or pause until resumed). What
    /// a burst holds is dropped: it would pop up right after the operator said stop.
    pub fn set_quiet(&mut self, quiet: Quiet, now: Millis) {
        if !self.quiet.is_quiet(now) {
            self.missed_while_quiet = 0;
        }
        self.quiet = quiet;
        if quiet.is_quiet(now) {
            if let Some(w) = self.window.take() {
                self.missed_while_quiet += w.held.len();
            }
        }
    }

    pub fn missed_while_quiet(&self) -> usize {
        self.missed_while_quiet
    }

    /// Takes newly stored events (in seq order) and returns what to show now.
    pub fn observe(&mut self, events: &[Event], now: Millis) -> Vec<Notification> {
        let mut out = self.tick(now);
        for e in events {
            let key = EntityRef::of(e);
            if self.start.is_replay(e) {
                // Remember replayed failures so a live duplicate of the same failure
                // (a backfill, say) does not notify; a fresh attempt clears it below.
                if self.policy.statuses.contains(&e.status) {
                    self.notified.insert(key);
                }
                continue;
            }
            if starts_new_attempt(&e.status) && !self.policy.statuses.contains(&e.status) {
                self.notified.remove(&key);
                continue;
            }
            if !self.policy.matches(e) || self.notified.contains(&key) {
                continue;
            }
            self.notified.insert(key);
            if self.quiet.is_quiet(now) {
                self.missed_while_quiet += 1;
                continue;
            }
            let held = Held::of(e);
            match &mut self.window {
                Some(w) => w.held.push(held),
                None => {
                    out.push(notification::single(held));
                    if self.policy.coalesce_ms > 0 {
                        self.window = Some(Window {
                            ends_at: now.saturating_add(self.policy.coalesce_ms),
                            held: Vec::new(),
                        });
                    }
                }
            }
        }
        out
    }

    /// Shows what a finished window held. Call at [`Notifier::next_deadline`] (and it
    /// is harmless to call more often).
    pub fn tick(&mut self, now: Millis) -> Vec<Notification> {
        let due = self.window.as_ref().is_some_and(|w| now >= w.ends_at);
        if !due {
            return Vec::new();
        }
        let held = self.window.take().map(|w| w.held).unwrap_or_default();
        if held.is_empty() {
            return Vec::new();
        }
        if self.quiet.is_quiet(now) {
            self.missed_while_quiet += held.len();
            return Vec::new();
        }
        // The burst may go on: the next window starts now, so it is again at most one
        // notification per window.
        self.window = Some(Window {
            ends_at: now.saturating_add(self.policy.coalesce_ms),
            held: Vec::new(),
        });
        vec![notification::summary(held)]
    }

    /// When [`Notifier::tick`] has something to do.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.window.as_ref().map(|w| w.ends_at)
    }

    /// Entities currently remembered as notified (bounded; for tests and figures).
    pub fn remembered(&self) -> usize {
        self.notified.len()
    }
}

/// A status that means the job is being tried again, so its next failure is new.
fn starts_new_attempt(s: &Status) -> bool {
    matches!(
        s,
        Status::Queued | Status::Delayed | Status::Retrying | Status::Running
    )
}
