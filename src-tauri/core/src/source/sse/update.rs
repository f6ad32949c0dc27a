//! What a running SSE source reports to whoever consumes it (the engine, `telltale
//! tail`, tests): events, and changes of connection state.

use std::time::Duration;

use crate::model::{Event, Status};

use super::parser::SseEvent;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseUpdate {
    Event(SseEvent),
    State(ConnectionState),
    /// An event (or line) over the size limit was discarded, whole.
    Discarded {
        limit: usize,
    },
}

impl SseUpdate {
    /// The `gap` notice that marks a discarded event in history.
    pub fn discarded_notice(source: &str, limit: usize) -> Event {
        let mut e = Event::source_notice(
            source,
            Status::Gap,
            format!(
                "an event larger than {limit} bytes was discarded; raise the source's max event size if the server really sends such events"
            ),
        );
        e.error = Some(format!("event over {limit} bytes discarded"));
        e
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// A request is about to be sent.
    Connecting,
    /// The server answered 200 with `text/event-stream`.
    Connected,
    /// The connection ended; the next attempt starts in `next_in`. `attempt` counts
    /// reconnects since the last connection that delivered an event (1 = first).
    Reconnecting {
        attempt: u32,
        next_in: Duration,
        reason: String,
    },
    /// The source will not reconnect. `clean` is true for 204, a finished stream with
    /// `follow = false`, and cancellation; false for errors (401, 404, ...).
    Stopped { reason: String, clean: bool },
}

impl ConnectionState {
    /// The source notice to store for this state, so history shows when and why a
    /// source connected, retried or stopped. `Connecting` is too chatty to keep.
    pub fn notice(&self, source: &str) -> Option<Event> {
        match self {
            ConnectionState::Connecting => None,
            ConnectionState::Connected => {
                Some(Event::source_notice(source, Status::Connected, "connected"))
            }
            ConnectionState::Reconnecting {
                attempt,
                next_in,
                reason,
            } => Some(Event::source_notice(
                source,
                Status::Reconnecting,
                format!("{reason}; reconnect attempt {attempt} in {next_in:.1?}"),
            )),
            ConnectionState::Stopped { reason, clean } => {
                let mut e = Event::source_notice(source, Status::Stopped, reason.clone());
                if !clean {
                    e.error = Some(reason.clone());
                }
                Some(e)
            }
        }
    }
}

/// How [`super::SseClient::run`] ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanStop {
    /// The server answered 204 No Content: it asks clients to stop.
    NoContent,
    /// `follow = false` and the stream ended normally after delivering events.
    Completed,
    /// The cancellation token fired.
    Cancelled,
    /// Nobody listens any more (the update channel closed).
    ReceiverGone,
}

impl CleanStop {
    pub fn reason(&self) -> &'static str {
        match self {
            CleanStop::NoContent => "the server answered 204 No Content: it asks clients to stop",
            CleanStop::Completed => "the stream ended normally and the source does not follow",
            CleanStop::Cancelled => "stopped on request",
            CleanStop::ReceiverGone => "stopped: nothing consumes this source's events any more",
        }
    }
}
