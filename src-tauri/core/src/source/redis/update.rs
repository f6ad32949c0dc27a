//! What a running pub/sub source reports to whoever consumes it (the engine, `telltale
//! tail`, tests): messages, and changes of connection state, including gaps.

use std::time::Duration;

use serde_json::json;

use super::message::PubSubMessage;
use crate::model::{Event, Millis, Status};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PubSubUpdate {
    Message(PubSubMessage),
    State(LinkState),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    Connecting,
    /// Subscribed to every channel and pattern.
    Connected {
        channels: usize,
        patterns: usize,
    },
    /// The connection failed or dropped; the next attempt starts in `next_in`.
    /// `attempt` counts attempts since the last working connection (1 = first).
    Reconnecting {
        attempt: u32,
        next_in: Duration,
        reason: String,
    },
    /// Messages published in this window may be missing from history.
    Gap(Gap),
    /// The source will not reconnect. `clean` is false for errors (wrong password, ACL).
    Stopped {
        reason: String,
        clean: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub from: Millis,
    pub to: Millis,
    pub cause: GapCause,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GapCause {
    /// The connection was down; pub/sub does not replay what was published meanwhile.
    Disconnected { reason: String },
    /// The store could not keep up and the in-memory queue was full: these messages
    /// were received and dropped.
    Overflow { dropped: u64 },
}

impl Gap {
    pub fn describe(&self) -> String {
        let (from, to) = (show_time(self.from), show_time(self.to));
        match &self.cause {
            GapCause::Disconnected { reason } => format!(
                "pub/sub connection lost ({reason}): messages published from {from} (its last sign of life) to {to} (subscribed again) may be missing"
            ),
            GapCause::Overflow { dropped } => format!(
                "{dropped} messages received from {from} to {to} were dropped: the store could not keep up and the in-memory queue was full"
            ),
        }
    }

    /// The gap as a source event: status `gap`, the window in `raw` as JSON.
    pub fn notice(&self, source: &str) -> Event {
        let mut e = Event::source_notice(source, Status::Gap, self.describe());
        e.occurred_at = Some(self.from);
        let raw = match &self.cause {
            GapCause::Disconnected { reason } => {
                json!({"gap": "disconnected", "from": self.from, "to": self.to, "reason": reason})
            }
            GapCause::Overflow { dropped } => {
                json!({"gap": "overflow", "from": self.from, "to": self.to, "dropped": dropped})
            }
        };
        e.raw = raw.to_string();
        e
    }
}

impl LinkState {
    /// The source notice to store for this state. `Connecting` is too chatty to keep.
    pub fn notice(&self, source: &str) -> Option<Event> {
        match self {
            LinkState::Connecting => None,
            LinkState::Connected { channels, patterns } => Some(Event::source_notice(
                source,
                Status::Connected,
                format!("subscribed to {channels} channels and {patterns} patterns"),
            )),
            LinkState::Reconnecting {
                attempt,
                next_in,
                reason,
            } => Some(Event::source_notice(
                source,
                Status::Reconnecting,
                format!("{reason}; reconnect attempt {attempt} in {next_in:.1?}"),
            )),
            LinkState::Gap(gap) => Some(gap.notice(source)),
            LinkState::Stopped { reason, clean } => {
                let mut e = Event::source_notice(source, Status::Stopped, reason.clone());
                if !clean {
                    e.error = Some(reason.clone());
                }
                Some(e)
            }
        }
    }
}

fn show_time(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gap_notice_says_when_and_why() {
        let g = Gap {
            from: 1_700_000_000_000,
            to: 1_700_000_002_500,
            cause: GapCause::Disconnected {
                reason: "connection closed".into(),
            },
        };
        let e = LinkState::Gap(g).notice("s").unwrap();
        assert_eq!(e.status, Status::Gap);
        assert_eq!(e.kind, crate::model::EntityKind::Source);
        let m = e.message.unwrap();
        assert!(
            m.contains("2023-11-14T22:13:20.000Z") && m.contains("22:13:22.500Z"),
            "{m}"
        );
        let raw: serde_json::Value = serde_json::from_str(&e.raw).unwrap();
        assert_eq!(raw["to"], 1_700_000_002_500i64);
        let o = Gap {
            from: 1,
            to: 2,
            cause: GapCause::Overflow { dropped: 42 },
        };
        assert!(o.describe().starts_with("42 messages"));
    }
}
