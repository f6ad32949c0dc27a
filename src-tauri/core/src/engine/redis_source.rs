//! Runs a Redis pub/sub source inside the engine.
//!
//! Two tasks, on purpose: the subscriber reads the socket and never waits (it offers
//! messages to a bounded queue and counts what does not fit), and this pump takes
//! from that queue, normalises, and waits on the hub as long as it must. Whatever the
//! store's pace, Redis never sees a slow reader and never drops the connection.

use tokio::sync::mpsc;

use super::{Engine, SourceHealth, SourceStates};
use crate::hub::{Ingest, IngestSender};
use crate::model::{now_millis, EntityKind};
use crate::normalize::{normalize, FieldOverrides};
use crate::source::redis::{
    LinkState, PubSubSubscriber, PubSubUpdate, RedisPubSubConfig, RedisSourceError,
};

/// Updates taken from the queue per hub batch.
const MAX_BATCH: usize = 2_000;

impl Engine {
    /// Starts a pub/sub source: every channel and pattern of `config` on one
    /// connection. Pub/sub has no cursor: after a restart it follows from now, and
    /// each outage is stored as a `gap` source event.
    pub fn add_redis_source(
        &self,
        config: RedisPubSubConfig,
        overrides: FieldOverrides,
    ) -> Result<(), RedisSourceError> {
        let name = config.name.clone();
        let capacity = config.queue_capacity.max(1);
        let subscriber = PubSubSubscriber::new(config)?;
        tracing::info!(source = %name, url = %subscriber.shown_url(), "starting Redis pub/sub source");
        let (tx, rx) = mpsc::channel(capacity);
        let cancel = self.cancel_token();
        let task_name = name.clone();
        self.spawn_source(&name, async move {
            if let Err(e) = subscriber.run(tx, cancel).await {
                tracing::warn!(source = %task_name, error = %e, "Redis pub/sub source stopped");
            }
        });
        let pump = PubSubPump {
            name,
            overrides,
            states: self.source_states().clone(),
            ingest: self.hub().sender(),
        };
        // The pump ends when the subscriber drops its sender, after storing everything.
        self.tracker().spawn(pump.run(rx));
        Ok(())
    }
}

struct PubSubPump {
    name: String,
    overrides: FieldOverrides,
    states: SourceStates,
    ingest: IngestSender,
}

impl PubSubPump {
    async fn run(self, mut rx: mpsc::Receiver<PubSubUpdate>) {
        let mut updates = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut updates, MAX_BATCH).await > 0 {
            let mut events = Vec::with_capacity(updates.len());
            for u in updates.drain(..) {
                match u {
                    PubSubUpdate::Message(m) => {
                        events.push(normalize(&m.to_raw_message(&self.name), &self.overrides));
                    }
                    PubSubUpdate::State(state) => {
                        self.record_state(&state);
                        events.extend(state.notice(&self.name));
                    }
                }
            }
            let data_events = events
                .iter()
                .filter(|e| e.kind != EntityKind::Source)
                .count();
            if data_events > 0 {
                self.states.count_events(&self.name, data_events as u64);
            }
            if events.is_empty() {
                continue;
            }
            if self
                .ingest
                .send(Ingest::new(self.name.clone(), events))
                .await
                .is_err()
            {
                tracing::warn!(source = %self.name, "hub stopped; pub/sub messages after this point are not stored");
                return;
            }
        }
    }

    fn record_state(&self, state: &LinkState) {
        let (health, reason, next) = match state {
            LinkState::Connecting => (SourceHealth::Connecting, None, None),
            LinkState::Connected { .. } => (SourceHealth::Live, None, None),
            LinkState::Reconnecting {
                next_in, reason, ..
            } => (
                SourceHealth::Reconnecting,
                Some(reason.clone()),
                Some(now_millis() + next_in.as_millis() as i64),
            ),
            // A gap is history, not a state: the source is live again (or still is).
            LinkState::Gap(_) => return,
            LinkState::Stopped { reason, .. } => {
                (SourceHealth::Stopped, Some(reason.clone()), None)
            }
        };
        self.states.set(&self.name, health, reason, next);
    }
}
