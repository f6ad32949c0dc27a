//! Why an SSE source stopped or could not start. Each message says what to do.
//!
//! URLs in these messages are always redacted (see `redact`), since errors are shown in
//! the UI and stored as source events.

/// A reason to stop for good: retrying would not help without a change of config or
/// of the server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("invalid SSE URL {url}: {reason}; check the source's url")]
    InvalidUrl { url: String, reason: String },
    #[error("SSE URL {url} is not http or https; use an http:// or https:// URL")]
    UnsupportedScheme { url: String },
    #[error("invalid header {name:?} for source {source_name}: {reason}; fix the header in the source's config")]
    InvalidHeader {
        source_name: String,
        name: String,
        reason: String,
    },
    #[error(
        "invalid subscription path {template:?}: {reason}; check the source's subscribe paths"
    )]
    InvalidSubscription { template: String, reason: String },
    #[error("could not build the HTTP client: {0}")]
    Client(String),
    #[error("401 Unauthorized from {url}: check the source's token")]
    Unauthorized { url: String },
    #[error("403 Forbidden from {url}: the credentials were accepted but lack access; check the token's permissions")]
    Forbidden { url: String },
    #[error("404 Not Found from {url}: check the source's URL path (the job or stream may no longer exist)")]
    NotFound { url: String },
    #[error("HTTP {status} from {url}: the server refused the request; check the source's URL and headers")]
    Refused { status: u16, url: String },
    #[error("{url} answered with content type {content_type:?}, not text/event-stream: check that the URL points at the SSE endpoint")]
    WrongContentType { url: String, content_type: String },
    #[error("too many redirects from {url}: check the source's URL")]
    RedirectLoop { url: String },
    #[error("subscription POST to {url} answered {status}: check the source's token and subscribe paths")]
    SubscribeRefused { status: u16, url: String },
}

impl SseError {
    /// A stable code for the UI and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            SseError::InvalidUrl { .. } => "sse.invalid_url",
            SseError::UnsupportedScheme { .. } => "sse.unsupported_scheme",
            SseError::InvalidHeader { .. } => "sse.invalid_header",
            SseError::InvalidSubscription { .. } => "sse.invalid_subscription",
            SseError::Client(_) => "sse.client",
            SseError::Unauthorized { .. } => "sse.unauthorized",
            SseError::Forbidden { .. } => "sse.forbidden",
            SseError::NotFound { .. } => "sse.not_found",
            SseError::Refused { .. } => "sse.refused",
            SseError::WrongContentType { .. } => "sse.wrong_content_type",
            SseError::RedirectLoop { .. } => "sse.redirect_loop",
            SseError::SubscribeRefused { .. } => "sse.subscribe_refused",
        }
    }
}
