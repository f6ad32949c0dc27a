//! Runs an SSE source inside the engine: the client's updates become normalised
//! events, batched to the hub with the source's cursor (its last event id), and the
//! connection state becomes both a source notice in history and the live state the
//! overview shows.

use tokio::sync::mpsc;

use super::{Engine, SourceHealth};
use crate::hub::Ingest;
use crate::model::{now_millis, Event};
use crate::normalize::{normalize, FieldOverrides};
use crate::source::sse::{to_raw_message, ConnectionState, SseClient, SseError, SseSourceConfig, SseUpdate};
use crate::store::Reader;

/// Updates taken from the client per hub batch. Large enough to amortise the
/// transaction, small enough to keep latency low.
const MAX_BATCH: usize = 2_000;

impl Engine {
    /// Starts an SSE source. It resumes from the stored cursor (sent as
    /// `Last-Event-ID`), unless the config already names one.
    pub fn add_sse_source(&self, mut config: SseSourceConfig, overrides: FieldOverrides) -> Result<(), SseError> {
        let name = config.name.clone();
        if config.last_event_id.is_none() {
            config.last_event_id = Reader::open(self.hub().db_path())
                .and_then(|r| r.cursor(&name))
                .unwrap_or_else(|e| {
                    tracing::warn!(source = %name, error = %e, "cannot read the saved cursor; starting without Last-Event-ID");
                    None
                });
        }
        let resume_id = config.last_event_id.clone().unwrap_or_default();
        let client = SseClient::new(config)?;
        tracing::info!(source = %name, url = %client.shown_url(), "starting SSE source");
        let (tx, rx) = mpsc::channel(MAX_BATCH);
        let cancel = self.cancel_token();
        let task_name = name.clone();
        self.spawn_source(&name, async move {
            if let Err(e) = client.run(tx, cancel).await {
                tracing::warn!(source = %task_name, error = %e, "SSE source stopped");
            }
        });
        let pump = SsePump {
            name,
            overrides,
            previous_id: resume_id,
            engine_states: self.source_states().clone(),
            ingest: self.hub().sender(),
        };
        self.tracker().spawn(pump.run(rx));
        Ok(())
    }
}

struct SsePump {
    name: String,
    overrides: FieldOverrides,
    /// The last event id before the current event. SSE's last event id persists over
    /// events that carry no `id:` field, so only an id that changed identifies its
    /// event; using the persisted one would make the hub drop id-less events as
    /// duplicates.
    previous_id: String,
    engine_states: super::SourceStates,
    ingest: crate::hub::IngestSender,
}

impl SsePump {
    async fn run(mut self, mut rx: mpsc::Receiver<SseUpdate>) {
        let mut updates = Vec::with_capacity(MAX_BATCH);
        // Ends when the client stops and drops its sender; everything it sent is stored.
        while rx.recv_many(&mut updates, MAX_BATCH).await > 0 {
            let mut events = Vec::with_capacity(updates.len());
            let mut cursor = None;
            for u in updates.drain(..) {
                match u {
                    SseUpdate::Event(ev) => {
                        let mut msg = to_raw_message(&self.name, &ev);
                        if ev.last_event_id == self.previous_id {
                            msg.remote_id = None;
                        }
                        if !ev.last_event_id.is_empty() {
                            cursor = Some(ev.last_event_id.clone());
                        }
                        self.previous_id = ev.last_event_id;
                        events.push(normalize(&msg, &self.overrides));
                    }
                    SseUpdate::State(state) => {
                        self.record_state(&state);
                        if let Some(notice) = state.notice(&self.name) {
                            events.push(notice);
                        }
                    }
                }
            }
            let data_events = events.iter().filter(|e: &&Event| e.kind != crate::model::EntityKind::Source).count();
            if data_events > 0 {
                self.engine_states.count_events(&self.name, data_events as u64);
            }
            let mut batch = Ingest::new(self.name.clone(), events);
            batch.cursor = cursor;
            if self.ingest.send(batch).await.is_err() {
                tracing::warn!(source = %self.name, "hub stopped; SSE events after this point are not stored");
                return;
            }
        }
    }

    fn record_state(&self, state: &ConnectionState) {
        let (health, reason, next) = match state {
            ConnectionState::Connecting => (SourceHealth::Connecting, None, None),
            ConnectionState::Connected => (SourceHealth::Live, None, None),
            ConnectionState::Reconnecting { next_in, reason, .. } => (
                SourceHealth::Reconnecting,
                Some(reason.clone()),
                Some(now_millis() + next_in.as_millis() as i64),
            ),
            ConnectionState::Stopped { reason, .. } => (SourceHealth::Stopped, Some(reason.clone()), None),
        };
        self.engine_states.set(&self.name, health, reason, next);
    }
}
