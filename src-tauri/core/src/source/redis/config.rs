//! What a Redis pub/sub source needs.

use std::time::Duration;

use super::connect::TlsTrust;
use crate::source::url::RedisTarget;

#[derive(Debug, Clone)]
pub struct RedisPubSubConfig {
    /// The configured source name (events' `source`).
    pub name: String,
    pub target: RedisTarget,
    pub channels: Vec<String>,
    /// Glob patterns (`PSUBSCRIBE`).
    pub patterns: Vec<String>,
    pub trust: TlsTrust,
    /// Messages held between the socket reader and the store. When the store falls this
    /// far behind, further messages are dropped, counted and reported as a gap, rather
    /// than letting Redis drop the whole connection at its 32 MB output limit.
    pub queue_capacity: usize,
    /// First reconnect delay; later ones grow exponentially with jitter.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// A silent connection is checked with `PING` this often; a missing answer within
    /// `ping_timeout` counts as a dropped connection.
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    /// Connecting (TCP, TLS, AUTH, SELECT, SUBSCRIBE) must finish within this.
    pub connect_timeout: Duration,
}

impl RedisPubSubConfig {
    pub fn new(
        name: impl Into<String>,
        target: RedisTarget,
        channels: Vec<String>,
        patterns: Vec<String>,
    ) -> Self {
        RedisPubSubConfig {
            name: name.into(),
            target,
            channels,
            patterns,
            trust: TlsTrust::System,
            // Like Redis's own pub/sub output buffer (32 MB, ~130k messages of
            // 250 B): Telltale should not drop before Redis itself would.
            queue_capacity: 150_000,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            ping_interval: Duration::from_secs(15),
            ping_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
        }
    }
}
