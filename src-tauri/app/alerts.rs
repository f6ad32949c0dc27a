//! The shell's alert state: the notification rules and the tray's attention, fed from
//! the live stream and poked by the tray menu and the window. The decisions are
//! `telltale_core::rules`; this only puts them behind a lock the UI thread and the
//! live task share.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use telltale_core::board::Board;
use telltale_core::model::{now_millis, Event, Millis};
use telltale_core::rules::{
    Attention, BoardCounts, Notification, Notifier, NotifyPolicy, Quiet, RecentFailure, Start,
    TrayState,
};

pub struct Alerts {
    notifier: Mutex<Notifier>,
    attention: Mutex<Attention>,
    /// How long "pause for …" in the tray lasts (`[notifications] snooze`).
    snooze: Duration,
}

/// What a batch of events changed, for the caller to show.
pub struct Observed {
    pub notifications: Vec<Notification>,
    pub recent_changed: bool,
}

impl Alerts {
    pub fn new(policy: NotifyPolicy, snooze: Duration, start: Start, board: &Board) -> Self {
        let mut attention = Attention::new(start);
        attention.seed_recent(board.iter());
        Alerts {
            notifier: Mutex::new(Notifier::new(policy, start)),
            attention: Mutex::new(attention),
            snooze,
        }
    }

    pub fn observe(&self, events: &[Event]) -> Observed {
        let now = now_millis();
        let notifications = lock(&self.notifier).observe(events, now);
        let recent_changed = lock(&self.attention).observe(events);
        Observed {
            notifications,
            recent_changed,
        }
    }

    pub fn tick(&self) -> Vec<Notification> {
        lock(&self.notifier).tick(now_millis())
    }

    pub fn next_deadline(&self) -> Option<Millis> {
        lock(&self.notifier).next_deadline()
    }

    pub fn snooze_duration(&self) -> Duration {
        self.snooze
    }

    pub fn quiet(&self) -> Quiet {
        lock(&self.notifier).quiet(now_millis())
    }

    pub fn pause_for_snooze(&self) {
        let now = now_millis();
        let until =
            now.saturating_add(Millis::try_from(self.snooze.as_millis()).unwrap_or(Millis::MAX));
        lock(&self.notifier).set_quiet(Quiet::Until(until), now);
    }

    pub fn pause_until_resumed(&self) {
        lock(&self.notifier).set_quiet(Quiet::UntilResumed, now_millis());
    }

    pub fn resume(&self) {
        lock(&self.notifier).set_quiet(Quiet::Off, now_millis());
    }

    pub fn missed_while_quiet(&self) -> usize {
        lock(&self.notifier).missed_while_quiet()
    }

    /// The operator looked at the window.
    pub fn acknowledge(&self) {
        lock(&self.attention).acknowledge();
    }

    pub fn recent(&self) -> Vec<RecentFailure> {
        lock(&self.attention).recent().cloned().collect()
    }

    pub fn tray(&self, counts: &BoardCounts) -> (TrayState, String) {
        let a = lock(&self.attention);
        (a.tray_state(counts), a.tooltip(counts))
    }
}

/// A panic while holding the lock leaves plain data behind, still usable: keep going
/// rather than take the tray down with it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
