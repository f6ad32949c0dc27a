//! What a running BullMQ source reports to whoever consumes it (the engine, `telltale
//! tail`, tests).

use std::time::Duration;

use crate::model::{Event, Status};

#[derive(Debug, Clone, PartialEq)]
pub enum BullMqUpdate {
    /// Events already mapped (BullMQ's stream entries need no generic normaliser; each
    /// event's `raw` is the entry's fields as JSON), and the position they bring the
    /// source to: store both together.
    Batch {
        events: Vec<Event>,
        cursor: Option<String>,
    },
    State(BullMqState),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BullMqState {
    Connecting,
    Connected {
        queues: Vec<String>,
    },
    Reconnecting {
        attempt: u32,
        next_in: Duration,
        reason: String,
    },
    Stopped {
        reason: String,
        clean: bool,
    },
}

impl BullMqState {
    pub fn notice(&self, source: &str) -> Option<Event> {
        match self {
            BullMqState::Connecting => None,
            BullMqState::Connected { queues } => Some(Event::source_notice(
                source,
                Status::Connected,
                if queues.is_empty() {
                    "connected; no BullMQ queues found yet".to_string()
                } else {
                    format!("following BullMQ queues: {}", queues.join(", "))
                },
            )),
            BullMqState::Reconnecting {
                attempt,
                next_in,
                reason,
            } => Some(Event::source_notice(
                source,
                Status::Reconnecting,
                format!("{reason}; reconnect attempt {attempt} in {next_in:.1?} (the stream resumes where it stopped)"),
            )),
            BullMqState::Stopped { reason, clean } => {
                let mut e = Event::source_notice(source, Status::Stopped, reason.clone());
                if !clean {
                    e.error = Some(reason.clone());
                }
                Some(e)
            }
        }
    }
}
