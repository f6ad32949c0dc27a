//! Snooze and pause: the operator silences notifications for a while or until they
//! resume them. Failures still reach the board, the history and the tray icon.

use crate::model::Millis;

/// How "until resumed" travels as a `snoozed_until` instant (`GET`/`PUT /api/rules`):
/// JavaScript's `Number.MAX_SAFE_INTEGER`, what the UI's Rules view writes, exact in
/// both JSON readers. Anything from here on means "until resumed".
pub const UNTIL_RESUMED_MS: Millis = 9_007_199_254_740_991;

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

    /// From the relay's `snoozed_until` (the UI's and the tray's shared snooze state).
    pub fn from_snoozed_until(until: Option<Millis>) -> Quiet {
        match until {
            None => Quiet::Off,
            Some(t) if t >= UNTIL_RESUMED_MS => Quiet::UntilResumed,
            Some(t) => Quiet::Until(t),
        }
    }

    /// The relay's `snoozed_until` for this state.
    pub fn snoozed_until(self) -> Option<Millis> {
        match self {
            Quiet::Off => None,
            Quiet::Until(t) => Some(t),
            Quiet::UntilResumed => Some(UNTIL_RESUMED_MS),
        }
    }
}
