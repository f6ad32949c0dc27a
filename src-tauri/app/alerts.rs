//! The shell's alert state: the notification rules and the tray's attention, fed from
//! the live stream and poked by the tray menu and the window. The decisions are
//! `telltale_core::rules`; this only puts them behind a lock the UI thread and the
//! live task share.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use telltale_core::board::Board;
use telltale_core::model::{now_millis, Event, Millis};
use telltale_core::relay::LiveRules;
use telltale_core::rules::{
    Attention, BoardCounts, Notification, Notifier, NotifyPolicy, Quiet, RecentFailure, Start,
    TrayState,
};

pub struct Alerts {
    notifier: Mutex<Notifier>,
    attention: Mutex<Attention>,
    /// How long "pause for …" in the tray lasts (`[notifications] snooze`).
    snooze: Mutex<Duration>,
    /// Snoozes decided in the tray, for the relay, so the UI's Rules view shows them.
    snooze_out: UnboundedSender<Option<Millis>>,
}

/// What a batch of events changed, for the caller to show.
pub struct Observed {
    pub notifications: Vec<Notification>,
    pub recent_changed: bool,
}

impl Alerts {
    pub fn new(
        policy: NotifyPolicy,
        snooze: Duration,
        start: Start,
        board: &Board,
        snooze_out: UnboundedSender<Option<Millis>>,
    ) -> Self {
        let mut attention = Attention::new(start);
        attention.seed_recent(board.iter());
        Alerts {
            notifier: Mutex::new(Notifier::new(policy, start)),
            attention: Mutex::new(attention),
            snooze: Mutex::new(snooze),
            snooze_out,
        }
    }

    /// Rules edited in the UI (`PUT /api/rules`) apply from the next event; a snooze
    /// set or ended there silences or resumes the desktop too.
    pub fn apply_rules(&self, rules: &LiveRules) {
        let now = now_millis();
        let mut notifier = lock(&self.notifier);
        notifier.set_policy(NotifyPolicy::from(&rules.notifications));
        let quiet = Quiet::from_snoozed_until(rules.snoozed_until).current(now);
        if quiet != notifier.quiet(now) {
            notifier.set_quiet(quiet, now);
        }
        *lock(&self.snooze) = rules.notifications.snooze;
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
        *lock(&self.snooze)
    }

    pub fn quiet(&self) -> Quiet {
        lock(&self.notifier).quiet(now_millis())
    }

    pub fn pause_for_snooze(&self) {
        let now = now_millis();
        let snooze = Millis::try_from(self.snooze_duration().as_millis()).unwrap_or(Millis::MAX);
        self.set_quiet(Quiet::Until(now.saturating_add(snooze)), now);
    }

    pub fn pause_until_resumed(&self) {
        self.set_quiet(Quiet::UntilResumed, now_millis());
    }

    pub fn resume(&self) {
        self.set_quiet(Quiet::Off, now_millis());
    }

    fn set_quiet(&self, quiet: Quiet, now: Millis) {
        lock(&self.notifier).set_quiet(quiet, now);
        // Closed only while the app shuts down, when it no longer matters.
        let _ = self.snooze_out.send(quiet.snoozed_until());
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
