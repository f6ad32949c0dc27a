//! Redis pub/sub sources (issue 4, item 1), and the connection set-up the BullMQ
//! source shares.
//!
//! - [`subscriber`]: one dedicated connection per source, every channel and pattern on
//!   it, reconnect with backoff and jitter, resubscribe, and a gap for each outage.
//! - [`outbox`]: the bounded queue between the socket reader and whoever stores the
//!   messages; the reader never waits on it (Redis drops a subscriber that falls
//!   32 MB behind), overflow is counted and reported as a gap.
//! - [`connect`]: a `redis::Client` for a [`crate::source::url::RedisTarget`] (TLS,
//!   ACL user, database), sending nothing but authentication and `SELECT`.
//! - [`config`], [`error`], [`message`] (what `telltale tail --raw` prints),
//!   [`update`] (what a running source reports).

pub mod config;
pub mod connect;
pub mod error;
pub mod message;
pub mod outbox;
pub mod subscriber;
pub mod update;

pub use config::RedisPubSubConfig;
pub use connect::{redis_client, TlsTrust};
pub use error::RedisSourceError;
pub use message::PubSubMessage;
pub use subscriber::PubSubSubscriber;
pub use update::{Gap, GapCause, LinkState, PubSubUpdate};
