//! The normalised event model (DESIGN §4).
//!
//! Every source (SSE, Redis pub/sub, BullMQ, the demo) turns what it receives into
//! [`Event`]s. An event is immutable once the hub has given it a `seq`; the board and
//! the history are both derived from the sequence of events.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch. Kept as a plain integer so it sorts, indexes
/// and serialises the same in SQLite, JSON and the UI.
pub type Millis = i64;

/// Now, in milliseconds since the Unix epoch.
pub fn now_millis() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Job,
    Queue,
    Worker,
    /// A source's own notices: connected, reconnecting, gap, stopped.
    Source,
}

impl EntityKind {
    pub const ALL: [EntityKind; 4] = [Self::Job, Self::Queue, Self::Worker, Self::Source];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Job => "job",
            Self::Queue => "queue",
            Self::Worker => "worker",
            Self::Source => "source",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A closed set of statuses shared by jobs, workers and sources, with `Unknown` for
/// whatever a backend says that we do not recognise (kept verbatim, never dropped).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Status {
    // Jobs
    Queued,
    Delayed,
    Running,
    Completed,
    Failed,
    Retrying,
    Stalled,
    Cancelled,
    // Workers
    Busy,
    Idle,
    Paused,
    Gone,
    // Sources
    Connected,
    Reconnecting,
    /// History may be incomplete here (pub/sub dropped, stream trimmed).
    Gap,
    /// The source stopped for good (401, 404, wrong content type, ...).
    Stopped,
    /// An informational notice (queue counts, a log line, a heartbeat we keep).
    Info,
    Unknown(String),
}

impl Status {
    const NAMED: [(Status, &'static str); 17] = [
        (Status::Queued, "queued"),
        (Status::Delayed, "delayed"),
        (Status::Running, "running"),
        (Status::Completed, "completed"),
        (Status::Failed, "failed"),
        (Status::Retrying, "retrying"),
        (Status::Stalled, "stalled"),
        (Status::Cancelled, "cancelled"),
        (Status::Busy, "busy"),
        (Status::Idle, "idle"),
        (Status::Paused, "paused"),
        (Status::Gone, "gone"),
        (Status::Connected, "connected"),
        (Status::Reconnecting, "reconnecting"),
        (Status::Gap, "gap"),
        (Status::Stopped, "stopped"),
        (Status::Info, "info"),
    ];

    /// The stable name used in SQLite, JSON and the UI. `Unknown` keeps its text.
    pub fn as_str(&self) -> &str {
        match self {
            Status::Unknown(s) => s,
            known => Self::NAMED
                .iter()
                .find(|(st, _)| st == known)
                .map(|(_, n)| *n)
                .unwrap_or("unknown"),
        }
    }

    /// Parses a stored name back. Anything else becomes `Unknown` with its text.
    pub fn from_stored(s: &str) -> Status {
        Self::NAMED
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(st, _)| st.clone())
            .unwrap_or_else(|| Status::Unknown(s.to_string()))
    }

    /// A job in this status will not change again by itself.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Status::Completed | Status::Failed | Status::Cancelled)
    }

    pub fn is_failure(&self) -> bool {
        matches!(self, Status::Failed)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Status::from_stored(&s))
    }
}

/// Queue counts as BullMQ and seed 004's `queue_update` report them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueCounts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delayed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prioritized: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused: Option<u64>,
}

impl QueueCounts {
    pub fn is_empty(&self) -> bool {
        *self == QueueCounts::default()
    }
}

/// One normalised event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Assigned by the hub when the event is persisted; 0 before that.
    pub seq: u64,
    /// The configured source name.
    pub source: String,
    pub received_at: Millis,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<Millis>,
    pub kind: EntityKind,
    /// The entity id (job id, queue name, worker id, source name).
    pub entity: String,
    /// A batch, run or queue the entity belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<QueueCounts>,
    /// The channel (pub/sub) or SSE event type the message came on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The id the remote gave this message (SSE `id`, stream id); used to dedupe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_id: Option<String>,
    /// The payload exactly as received (lossy UTF-8 only if it was not UTF-8).
    pub raw: String,
}

impl Event {
    /// A bare event with every optional field empty; sources and tests fill in the rest.
    pub fn new(
        source: impl Into<String>,
        kind: EntityKind,
        entity: impl Into<String>,
        status: Status,
    ) -> Self {
        Event {
            seq: 0,
            source: source.into(),
            received_at: now_millis(),
            occurred_at: None,
            kind,
            entity: entity.into(),
            parent: None,
            status,
            progress: None,
            stage: None,
            message: None,
            error: None,
            counts: None,
            channel: None,
            remote_id: None,
            raw: String::new(),
        }
    }

    /// A notice about the source itself (connected, reconnecting, gap, stopped).
    pub fn source_notice(source: &str, status: Status, message: impl Into<String>) -> Self {
        let mut e = Event::new(source, EntityKind::Source, source, status);
        e.message = Some(message.into());
        e
    }
}

/// A message as a source received it, before normalisation.
#[derive(Debug, Clone, PartialEq)]
pub struct RawMessage {
    /// The configured source name.
    pub source: String,
    /// Redis channel, or SSE event type (`message` when the stream named none).
    pub channel: Option<String>,
    /// The glob pattern that matched, for pattern subscriptions.
    pub pattern: Option<String>,
    /// SSE `id` or stream entry id.
    pub remote_id: Option<String>,
    pub payload: bytes::Bytes,
    pub received_at: Millis,
}

impl RawMessage {
    pub fn new(source: impl Into<String>, payload: impl Into<bytes::Bytes>) -> Self {
        RawMessage {
            source: source.into(),
            channel: None,
            pattern: None,
            remote_id: None,
            payload: payload.into(),
            received_at: now_millis(),
        }
    }

    pub fn with_channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = Some(channel.into());
        self
    }

    pub fn with_remote_id(mut self, id: impl Into<String>) -> Self {
        self.remote_id = Some(id.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_round_trip_and_unknown_keeps_text() {
        for (st, name) in Status::NAMED.iter() {
            assert_eq!(st.as_str(), *name);
            assert_eq!(&Status::from_stored(name), st);
        }
        let odd = Status::from_stored("half-baked");
        assert_eq!(odd, Status::Unknown("half-baked".into()));
        assert_eq!(serde_json::to_string(&odd).unwrap(), "\"half-baked\"");
    }

    #[test]
    fn event_serialises_without_empty_fields() {
        let e = Event::new("s", EntityKind::Job, "j1", Status::Failed);
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["kind"], "job");
        assert_eq!(v["status"], "failed");
        assert!(v.get("progress").is_none());
    }
}
