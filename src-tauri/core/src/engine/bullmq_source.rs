//! Runs a BullMQ source inside the engine: the follower's batches go to the hub with
//! their cursor (the per-queue stream ids), committed in the same transaction, so a
//! restart resumes every queue exactly where the stored history ends.

use tokio::sync::mpsc;

use super::{Engine, SourceHealth, SourceStates};
use crate::hub::{Ingest, IngestSender};
use crate::model::{now_millis, EntityKind, Event, Status};
use crate::source::bullmq::trim::is_restored;
use crate::source::bullmq::{BullMqConfig, BullMqFollower, BullMqState, BullMqUpdate};
use crate::source::redis::RedisSourceError;
use crate::store::Reader;

/// Batches buffered between the follower and the hub. The stream is replayable, so
/// the follower simply waits when this is full.
const QUEUE_BATCHES: usize = 64;

impl Engine {
    /// Starts a BullMQ source, resuming from the stored cursor. Without one, each queue
    /// is followed from its stream's current end, and a source notice says so.
    pub fn add_bullmq_source(&self, config: BullMqConfig) -> Result<(), RedisSourceError> {
        let name = config.name.clone();
        let saved = Reader::open(self.hub().db_path())
            .and_then(|r| r.cursor(&name))
            .unwrap_or_else(|e| {
                tracing::warn!(source = %name, error = %e, "cannot read the saved cursor; following BullMQ queues from now");
                None
            });
        let follower = BullMqFollower::new(config, saved.as_deref())?;
        tracing::info!(source = %name, url = %follower.shown_url(), resumed = saved.is_some(), "starting BullMQ source");
        let (tx, rx) = mpsc::channel(QUEUE_BATCHES);
        let cancel = self.cancel_token();
        let task_name = name.clone();
        self.spawn_source(&name, async move {
            if let Err(e) = follower.run(tx, cancel).await {
                tracing::warn!(source = %task_name, error = %e, "BullMQ source stopped");
            }
        });
        let pump = BullMqPump {
            history: Reader::open(self.hub().db_path()).ok(),
            name,
            states: self.source_states().clone(),
            ingest: self.hub().sender(),
        };
        self.tracker().spawn(pump.run(rx));
        Ok(())
    }
}

struct BullMqPump {
    name: String,
    /// To skip restored final states that history already shows (see `restorable`).
    history: Option<Reader>,
    states: SourceStates,
    ingest: IngestSender,
}

impl BullMqPump {
    async fn run(self, mut rx: mpsc::Receiver<BullMqUpdate>) {
        // Ends when the follower drops its sender, after storing everything it sent.
        while let Some(update) = rx.recv().await {
            let batch = match update {
                BullMqUpdate::Batch { mut events, cursor } => {
                    events.retain(|e| self.restorable(e));
                    let data = events
                        .iter()
                        .filter(|e| e.kind != EntityKind::Source)
                        .count();
                    if data > 0 {
                        self.states.count_events(&self.name, data as u64);
                    }
                    let mut b = Ingest::new(self.name.clone(), events);
                    b.cursor = cursor;
                    b
                }
                BullMqUpdate::State(state) => {
                    self.record_state(&state);
                    match state.notice(&self.name) {
                        Some(e) => Ingest::new(self.name.clone(), vec![e]),
                        None => continue,
                    }
                }
            };
            if self.ingest.send(batch).await.is_err() {
                tracing::warn!(source = %self.name, "hub stopped; BullMQ events after this point are not stored (they stay in the stream)");
                return;
            }
        }
    }

    /// A final state restored after a trim is stored unless the job's history already
    /// ends that way: the finished sets are scored on worker clocks, so the restore
    /// window can overlap jobs whose stream entries were read before the trim.
    fn restorable(&self, e: &Event) -> bool {
        if !is_restored(e) {
            return true;
        }
        let Some(history) = &self.history else {
            return true;
        };
        match history.timeline(Some(EntityKind::Job), &e.entity, 100_000) {
            // Info events (progress, "retries exhausted") do not change how a job ended.
            Ok(past) => past
                .iter()
                .rev()
                .find(|p| p.status != Status::Info)
                .is_none_or(|last| last.status != e.status),
            Err(_) => true,
        }
    }

    fn record_state(&self, state: &BullMqState) {
        let (health, reason, next) = match state {
            BullMqState::Connecting => (SourceHealth::Connecting, None, None),
            BullMqState::Connected { .. } => (SourceHealth::Live, None, None),
            BullMqState::Reconnecting {
                next_in, reason, ..
            } => (
                SourceHealth::Reconnecting,
                Some(reason.clone()),
                Some(now_millis() + next_in.as_millis() as i64),
            ),
            BullMqState::Stopped { reason, .. } => {
                (SourceHealth::Stopped, Some(reason.clone()), None)
            }
        };
        self.states.set(&self.name, health, reason, next);
    }
}
