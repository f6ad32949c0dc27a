//! The pub/sub connection loop: connect, subscribe to every channel and pattern,
//! read until the connection ends, then back off (exponentially, with jitter) and
//! start over, resubscribing everything.
//!
//! Pub/sub cannot replay. When a connection that was subscribed drops, whatever was
//! published until the next subscription took effect is lost, so the loop reports a
//! [`Gap`] from the connection's last sign of life (a message or a PING answer) to
//! the moment the new subscriptions were confirmed. The last sign of life, not the
//! moment the loss was noticed: a path that dies without closing (a partition, a
//! paused server) is only noticed when a PING goes unanswered, up to
//! `ping_interval + ping_timeout` later, and everything published in between is lost.
//!
//! This uses the redis crate's dedicated RESP2 pub/sub connection rather than a
//! ConnectionManager with automatic resubscription: here the loop itself knows when
//! the link went down and exactly when every subscription was back, which is what
//! the gap needs, and it controls the backoff.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::config::RedisPubSubConfig;
use super::connect::redis_client;
use super::error::RedisSourceError;
use super::message::PubSubMessage;
use super::outbox::{Outbox, ReceiverGone};
use super::update::{Gap, GapCause, LinkState, PubSubUpdate};
use crate::model::{now_millis, Millis};
use crate::source::sse::backoff::Backoff;

/// What an ACL user needs for this source (said when Redis answers NOPERM).
const NEEDS: &str = "+subscribe, +psubscribe, +ping and read access to the channels (&pattern)";

pub struct PubSubSubscriber {
    config: RedisPubSubConfig,
    client: redis::Client,
    shown_url: String,
}

/// Why one connection's reading ended.
enum Ended {
    Cancelled,
    ReceiverGone,
    /// The connection failed; `alive_at` is its last sign of life.
    Lost {
        reason: String,
        alive_at: Millis,
    },
}

/// Why a connection attempt failed.
enum ConnectFailure {
    Fatal(RedisSourceError),
    Retry(String),
    Cancelled,
}

impl PubSubSubscriber {
    pub fn new(config: RedisPubSubConfig) -> Result<Self, RedisSourceError> {
        let shown_url = config.target.display_url();
        if config.channels.is_empty() && config.patterns.is_empty() {
            return Err(RedisSourceError::NothingToSubscribe { url: shown_url });
        }
        let client = redis_client(&config.target, &config.trust)?;
        Ok(PubSubSubscriber {
            config,
            client,
            shown_url,
        })
    }

    /// The server's URL with any password masked: safe for logs and the UI.
    pub fn shown_url(&self) -> &str {
        &self.shown_url
    }

    /// Runs until cancelled, until the receiver is dropped, or until Redis refuses the
    /// credentials or the ACL denies a subscription (returned as the error, after a
    /// `Stopped` state). It never touches a database: the caller decides what to do
    /// with the updates.
    pub async fn run(
        self,
        tx: mpsc::Sender<PubSubUpdate>,
        cancel: CancellationToken,
    ) -> Result<(), RedisSourceError> {
        let mut out = Outbox::new(tx);
        let result = self.run_inner(&mut out, &cancel).await;
        // Whatever was held back (drops turned into a gap, a final notice) still goes
        // out; a consumer that is gone simply does not get it.
        let final_state = match &result {
            Ok(()) => LinkState::Stopped {
                reason: "stopped on request".into(),
                clean: true,
            },
            Err(e) => LinkState::Stopped {
                reason: e.to_string(),
                clean: false,
            },
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), out.notice_wait(final_state)).await;
        if out.dropped_total() > 0 {
            tracing::warn!(source = %self.config.name, dropped = out.dropped_total(), "pub/sub messages dropped since start");
        }
        result
    }

    async fn run_inner(
        &self,
        out: &mut Outbox,
        cancel: &CancellationToken,
    ) -> Result<(), RedisSourceError> {
        let name = &self.config.name;
        let mut backoff = Backoff::new(self.config.initial_backoff, self.config.max_backoff);
        // Set while a subscription that was live is down: the start of the gap.
        let mut down_since: Option<(Millis, String)> = None;
        loop {
            if out.notice_wait(LinkState::Connecting).await.is_err() {
                return Ok(());
            }
            let reason = match self.connect(cancel).await {
                Ok(pubsub) => {
                    let up_at = now_millis();
                    backoff.after_success();
                    if let Some((from, reason)) = down_since.take() {
                        let gap = Gap {
                            from,
                            to: up_at,
                            cause: GapCause::Disconnected { reason },
                        };
                        tracing::warn!(source = %name, down_ms = up_at - from, "pub/sub resubscribed after an outage; gap recorded");
                        if out.notice(LinkState::Gap(gap)).is_err() {
                            return Ok(());
                        }
                    }
                    let connected = LinkState::Connected {
                        channels: self.config.channels.len(),
                        patterns: self.config.patterns.len(),
                    };
                    if out.notice(connected).is_err() {
                        return Ok(());
                    }
                    tracing::info!(source = %name, url = %self.shown_url, "pub/sub subscribed");
                    match self.read(pubsub, out, cancel).await {
                        Ended::Cancelled => return Ok(()),
                        Ended::ReceiverGone => return Ok(()),
                        Ended::Lost { reason, alive_at } => {
                            down_since = Some((alive_at, reason.clone()));
                            reason
                        }
                    }
                }
                Err(ConnectFailure::Cancelled) => return Ok(()),
                Err(ConnectFailure::Fatal(e)) => return Err(e),
                Err(ConnectFailure::Retry(reason)) => reason,
            };
            // Drops from the connection that just ended are reported now, in order.
            if out.drain_wait().await.is_err() {
                return Ok(());
            }
            let delay = backoff.after_failure(None);
            tracing::info!(source = %name, url = %self.shown_url, %reason, next_in = ?delay, "pub/sub reconnecting");
            let state = LinkState::Reconnecting {
                attempt: backoff.failures(),
                next_in: delay,
                reason,
            };
            if out.notice_wait(state).await.is_err() {
                return Ok(());
            }
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    async fn connect(
        &self,
        cancel: &CancellationToken,
    ) -> Result<redis::aio::PubSub, ConnectFailure> {
        let attempt = async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            if !self.config.channels.is_empty() {
                pubsub.subscribe(&self.config.channels).await?;
            }
            if !self.config.patterns.is_empty() {
                pubsub.psubscribe(&self.config.patterns).await?;
            }
            Ok::<_, redis::RedisError>(pubsub)
        };
        let timed = tokio::time::timeout(self.config.connect_timeout, attempt);
        tokio::select! {
            _ = cancel.cancelled() => Err(ConnectFailure::Cancelled),
            r = timed => match r {
                Err(_) => Err(ConnectFailure::Retry(format!(
                    "no connection and subscriptions within {:?}",
                    self.config.connect_timeout
                ))),
                Ok(Ok(p)) => Ok(p),
                Ok(Err(e)) => match RedisSourceError::fatal_from(&e, &self.shown_url, NEEDS) {
                    Some(fatal) => Err(ConnectFailure::Fatal(fatal)),
                    None => Err(ConnectFailure::Retry(e.to_string())),
                },
            },
        }
    }

    async fn read(
        &self,
        pubsub: redis::aio::PubSub,
        out: &mut Outbox,
        cancel: &CancellationToken,
    ) -> Ended {
        let (mut sink, mut stream) = pubsub.split();
        let mut ping = tokio::time::interval(self.config.ping_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ping.tick().await;
        // The subscriptions were confirmed just before this.
        let mut alive_at = now_millis();
        let lost = |reason: String, alive_at: Millis| Ended::Lost { reason, alive_at };
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return Ended::Cancelled,
                msg = stream.next() => match msg {
                    // The crate's reader task ended: the socket closed or failed.
                    None => return lost("the connection was closed".into(), alive_at),
                    Some(m) => {
                        alive_at = now_millis();
                        if let Err(ReceiverGone) = out.message(PubSubMessage::from_redis(&m)) {
                            return Ended::ReceiverGone;
                        }
                    }
                },
                // A PING proves a quiet connection is still there. While it is in
                // flight, messages keep accumulating in the crate's reader task.
                _ = ping.tick() => {
                    match tokio::time::timeout(self.config.ping_timeout, sink.ping::<redis::Value>()).await {
                        Ok(Ok(_)) => alive_at = now_millis(),
                        Ok(Err(e)) => return lost(format!("PING failed: {e}"), alive_at),
                        Err(_) => return lost(format!("no answer to PING within {:?}", self.config.ping_timeout), alive_at),
                    }
                }
            }
        }
    }
}
