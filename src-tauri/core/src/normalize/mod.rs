//! Normalisation: a pure function from a [`RawMessage`] to an [`Event`] (DESIGN §4).
//!
//! It recognises the payload shapes and channel names of the seed backends with no
//! configuration; a source can override any field with a JSON pointer.
//!
//! Rules that hold for every input:
//!
//! - One message, one event; nothing is dropped and `raw` is the payload verbatim
//!   (lossy UTF-8 only if it was not UTF-8).
//! - What cannot be interpreted gets `Status::Unknown`: the payload's own status or
//!   type word if it had one, else `"unknown"`. Its entity comes from the channel name
//!   when the channel names one (kind `job`, or `queue` / `worker` for such channels);
//!   otherwise it is a notice on the source's own timeline (kind `source`, entity = the
//!   source name), because a job invented from nothing would sit on the board forever.
//! - A recognised job message that names no id (seed 002's first `{status:
//!   "waiting"}`, seed 003's `done` on a per-run SSE URL) is a job named after the
//!   source: such sources are per-entity URLs, so the source name is what the
//!   operator called that job.
//! - Never panics: serde_json bounds nesting, and every extracted text is bounded.

mod channel;
mod event_type;
mod extract;
mod fields;
mod overrides;
mod shape;
mod status;
mod timestamp;

#[cfg(test)]
mod tests;

pub use overrides::FieldOverrides;

use serde_json::Value;

use crate::model::{EntityKind, Event, RawMessage, Status};

use channel::ChannelHint;
use fields::{Fields, UNKNOWN};

/// Turns one raw message into one event. Never fails: what it cannot interpret is kept
/// verbatim in `raw` with status `Unknown`.
pub fn normalize(msg: &RawMessage, overrides: &FieldOverrides) -> Event {
    let hint = ChannelHint::parse(msg.channel.as_deref());
    let parsed: Option<Value> = serde_json::from_slice(&msg.payload).ok();
    let mut fields = match &parsed {
        Some(Value::Object(obj)) => shape::recognise(obj, hint),
        // A JSON string is text someone chose to quote.
        Some(Value::String(s)) => shape::unrecognised(hint, Some(s)),
        Some(_) => shape::unrecognised(hint, None),
        None => shape::unrecognised(hint, std::str::from_utf8(&msg.payload).ok()),
    };
    overrides.apply(parsed.as_ref(), msg.channel.as_deref(), &mut fields);
    into_event(msg, fields)
}

fn into_event(msg: &RawMessage, f: Fields) -> Event {
    let kind = f.kind_or_default();
    let entity = match f.entity {
        Some(e) => e,
        // Source notices are about the source itself; a job message without an id is
        // about what the (per-entity) source follows. Both are named by the source.
        None => msg.source.clone(),
    };
    let parent = f.parent.filter(|p| *p != entity);
    Event {
        seq: 0,
        source: msg.source.clone(),
        received_at: msg.received_at,
        occurred_at: f.occurred_at,
        kind,
        entity,
        parent,
        status: f
            .status
            .unwrap_or_else(|| Status::Unknown(UNKNOWN.to_string())),
        progress: f.progress,
        stage: f.stage,
        message: f.message,
        error: f.error,
        counts: f.counts.filter(|_| kind == EntityKind::Queue),
        channel: msg.channel.clone(),
        remote_id: msg.remote_id.clone(),
        raw: String::from_utf8_lossy(&msg.payload).into_owned(),
    }
}
