//! SSE sources (issue 3).
//!
//! - [`parser`]: a push parser for `text/event-stream` (WHATWG rules), no I/O.
//! - [`client`]: the transport: requests, reconnects, idle timeout, two-step subscribe.
//! - [`backoff`]: when to reconnect; [`config`]: what a source needs; [`error`]: why
//!   it stops; [`update`]: what it reports; [`subscribe`]: seed 004's protocol;
//!   [`redact`]: URLs safe to log; [`raw`]: events into [`crate::model::RawMessage`].

pub mod backoff;
pub mod client;
pub mod config;
pub mod error;
pub mod parser;
pub mod raw;
pub mod redact;
pub mod subscribe;
pub mod update;

pub use client::SseClient;
pub use config::{SseSourceConfig, TwoStep};
pub use error::SseError;
pub use parser::{ParsedItem, SseEvent, SseParser};
pub use raw::to_raw_message;
pub use update::{CleanStop, ConnectionState, SseUpdate};
