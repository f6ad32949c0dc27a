//! Snooze and pause: the operator silences notifications for a while or until they
//! resume them. Failures still reach the board, the history and the tray icon.

use crate::model::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quiet {
    #[default]
    Off,
    /// Snoozed: silent until this instant, then back on by itself.
    Until(Millis),
    /// Paused until the operator resumes.
    UntilResumed,
}

impl Quiet {
    pub fn is_quiet(self, now: Millis) -> bool {
        match self {
            Quiet::Off => false,
            Quiet::Until(t) => now < t,
            Quiet::UntilResumed => true,
        }
    }

    /// The same state with an expired snooze folded back to `Off`, so callers can
    /// show "paused until 14:05" only while it is true.
    pub fn current(self, now: Millis) -> Quiet {
        if self.is_quiet(now) {
            self
        } else {
            Quiet::Off
        }
    }
}
