//! What one SSE source needs to know to connect: URL, auth, timings, and the optional
//! two-step subscription protocol of seed 004.

use std::time::Duration;

use super::parser::DEFAULT_MAX_EVENT_SIZE;

/// The reconnection time before the server sends `retry:` (what browsers use too).
pub const DEFAULT_INITIAL_RETRY: Duration = Duration::from_secs(3);
/// The cap on exponential backoff across consecutive failures.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Seeds send heartbeats every 5 to 30 s; 90 s tolerates two missed ones from the
/// slowest of them before we call the connection dead.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// One SSE source.
#[derive(Clone, PartialEq, Eq)]
pub struct SseSourceConfig {
    /// The configured source name (goes into every event and log line).
    pub name: String,
    pub url: String,
    /// Extra request headers, sent on every request (stream and subscription POSTs).
    pub headers: Vec<(String, String)>,
    /// Sent as `Authorization: Bearer ...` (seed 000).
    pub bearer: Option<String>,
    /// Sent as the `token` query parameter, for servers that follow EventSource's
    /// inability to send headers (seed 003).
    pub query_token: Option<String>,
    /// No byte at all, not even a comment, for this long forces a reconnect.
    /// `Duration::ZERO` disables the check.
    pub idle_timeout: Duration,
    /// The reconnection time until the server sends a valid `retry:`.
    pub initial_retry: Duration,
    /// Backoff across consecutive failures grows up to this (but never below the
    /// reconnection time).
    pub max_backoff: Duration,
    /// The cursor to resume from (stored history); sent as `Last-Event-ID`.
    pub last_event_id: Option<String>,
    /// Keep reconnecting after the server ends a stream normally. `false` suits
    /// one-job streams (seed 002) that end when the job is done.
    pub follow: bool,
    /// Seed 004's two-step protocol.
    pub subscribe: Option<TwoStep>,
    /// Cap on one line and one event (see the parser); larger ones are discarded.
    pub max_event_size: usize,
}

impl SseSourceConfig {
    /// A source with the defaults: follow, 3 s reconnection time, 60 s backoff cap.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Self {
        SseSourceConfig {
            name: name.into(),
            url: url.into(),
            headers: Vec::new(),
            bearer: None,
            query_token: None,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            initial_retry: DEFAULT_INITIAL_RETRY,
            max_backoff: DEFAULT_MAX_BACKOFF,
            last_event_id: None,
            follow: true,
            subscribe: None,
            max_event_size: DEFAULT_MAX_EVENT_SIZE,
        }
    }
}

// Hand-written so that a stray `{:?}` in a log line never prints a credential.
impl std::fmt::Debug for SseSourceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("SseSourceConfig")
            .field("name", &self.name)
            .field("url", &super::redact::redact_url_str(&self.url))
            .field("headers", &header_names)
            .field("bearer", &self.bearer.as_ref().map(|_| "<redacted>"))
            .field(
                "query_token",
                &self.query_token.as_ref().map(|_| "<redacted>"),
            )
            .field("idle_timeout", &self.idle_timeout)
            .field("initial_retry", &self.initial_retry)
            .field("max_backoff", &self.max_backoff)
            .field("last_event_id", &self.last_event_id)
            .field("follow", &self.follow)
            .field("subscribe", &self.subscribe)
            .field("max_event_size", &self.max_event_size)
            .finish()
    }
}

/// Seed 004: open the stream, read the connection id from the `connected` event, then
/// POST each subscription. Redone after every reconnect, because the server forgets a
/// connection's subscriptions when it closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwoStep {
    /// The event type that carries the connection id (also matched against a `type`
    /// field in the JSON of an unnamed event).
    pub connected_event: String,
    /// JSON pointer to the id in that event's data.
    pub id_pointer: String,
    /// Path templates with a `{connectionId}` placeholder, resolved against the source
    /// URL, e.g. `/api/v1/sse/{connectionId}/subscribe/job/42`.
    pub subscriptions: Vec<String>,
}

impl TwoStep {
    /// Seed 004's defaults: event `connected`, id at `/connectionId`.
    pub fn new(subscriptions: Vec<String>) -> Self {
        TwoStep {
            connected_event: "connected".into(),
            id_pointer: "/connectionId".into(),
            subscriptions,
        }
    }
}
