//! What a BullMQ source needs.

use std::time::Duration;

use crate::source::redis::TlsTrust;
use crate::source::url::{RedisTarget, DEFAULT_BULLMQ_PREFIX};

#[derive(Debug, Clone)]
pub struct BullMqConfig {
    /// The configured source name (events' `source`).
    pub name: String,
    pub target: RedisTarget,
    /// Queue names; empty = every queue found under `prefix`.
    pub queues: Vec<String>,
    pub prefix: String,
    pub trust: TlsTrust,
    /// How long one `XREAD` blocks waiting for new entries.
    pub block: Duration,
    /// Most stream entries read per queue per round trip.
    pub batch: usize,
    /// How often queue counts (and workers) are read.
    pub counts_interval: Duration,
    /// How often to look for new queues, when following every queue under the prefix.
    pub discover_interval: Duration,
    /// Read workers from `CLIENT LIST` (servers that forbid it are noted once).
    pub workers: bool,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub connect_timeout: Duration,
}

impl BullMqConfig {
    pub fn new(
        name: impl Into<String>,
        target: RedisTarget,
        queues: Vec<String>,
        prefix: impl Into<String>,
    ) -> Self {
        let prefix = prefix.into();
        BullMqConfig {
            name: name.into(),
            target,
            queues,
            prefix: if prefix.is_empty() {
                DEFAULT_BULLMQ_PREFIX.to_string()
            } else {
                prefix
            },
            trust: TlsTrust::System,
            block: Duration::from_secs(2),
            batch: 1_000,
            counts_interval: Duration::from_secs(5),
            discover_interval: Duration::from_secs(30),
            workers: true,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}
