//! Notification rules and tray attention (DESIGN §8), as pure state machines: they see
//! newly stored events and the time, and decide what the desktop shell shows. No
//! clock, no I/O, no Tauri, so every decision is unit-tested here and the shell only
//! delivers.
//!
//! - [`Notifier`]: which events become desktop notifications. One per failed job, the
//!   first at once and the rest of a burst merged into one summary per coalescing
//!   window ("12 jobs failed in queue resume-analysis"); nothing for history replayed
//!   at start; snooze and pause honoured.
//! - [`Attention`]: what the tray icon says: all clear, activity, or failures the
//!   operator has not looked at yet; the last few failures for the tray menu.
//!
//! Feed both from `Hub::subscribe_live` (stored events only, never history) with the
//! hub's `last_seq` read *after* subscribing as the replay horizon ([`Start`]).

mod attention;
mod notification;
mod notifier;
mod policy;
mod quiet;
mod replay;
mod seen;

pub use attention::{Attention, BoardCounts, RecentFailure, TrayState, RECENT_FAILURES};
pub use notification::{EntityRef, Notification};
pub use notifier::Notifier;
pub use policy::NotifyPolicy;
pub use quiet::{Quiet, UNTIL_RESUMED_MS};
pub use replay::{Start, REPLAY_GRACE_MS};

#[cfg(test)]
mod tests;
