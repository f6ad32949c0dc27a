//! Runs an SSE source inside the engine: the client's updates become normalised
//! events, batched to the hub with the source's cursor (its last event id), and the
//! connection state becomes both a source notice in history and the live state the
//! overview shows.
//!
//! Id-less job messages: some per-run streams name their run once per connection and
//! then stop naming it (seed 003 sends `{type: "snapshot", run: {id, ...}}`, then
//! `log` and `done` messages with no id). The normaliser, seeing one message at a
//! time, can only name such a message after the source. The pump sees the whole
//! connection, so it gives an id-less job message the job the same connection named
//! before it — but only while that connection has named exactly one job. On a stream
//! about several jobs an id-less message is ambiguous, and guessing would put it on
//! the wrong job's timeline; there it keeps the source's name, as before. The memory
//! starts empty on every connection because a server that names its subject once per
//! connection does so on each of them, and the next connection may be about a new run.

use tokio::sync::mpsc;

use super::{Engine, SourceHealth};
use crate::hub::Ingest;
use crate::model::{now_millis, EntityKind, Event};
use crate::normalize::{normalize, FieldOverrides};
use crate::source::sse::{
    to_raw_message, ConnectionState, SseClient, SseError, SseSourceConfig, SseUpdate,
};
use crate::store::Reader;

/// Updates taken from the client per hub batch. Large enough to amortise the
/// transaction, small enough to keep latency low.
const MAX_BATCH: usize = 2_000;

impl Engine {
    /// Starts an SSE source. It resumes from the stored cursor (sent as
    /// `Last-Event-ID`), unless the config already names one.
    pub fn add_sse_source(
        &self,
        mut config: SseSourceConfig,
        overrides: FieldOverrides,
    ) -> Result<(), SseError> {
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
            named: NamedJobs::None,
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
    /// The jobs the current connection has named so far (see the module docs).
    named: NamedJobs,
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
                        // Saved whenever it changes, including to empty: an `id:`
                        // with no value tells clients to send no `Last-Event-ID`, and
                        // a restart must not send the stale one instead.
                        if ev.last_event_id != self.previous_id {
                            cursor = Some(ev.last_event_id.clone());
                        }
                        self.previous_id = ev.last_event_id;
                        let mut event = normalize(&msg, &self.overrides);
                        self.attribute(&mut event);
                        events.push(event);
                    }
                    SseUpdate::State(state) => {
                        if state == ConnectionState::Connected {
                            self.named = NamedJobs::None;
                        }
                        self.record_state(&state);
                        if let Some(notice) = state.notice(&self.name) {
                            events.push(notice);
                        }
                    }
                    SseUpdate::Discarded { limit } => {
                        let notice = SseUpdate::discarded_notice(&self.name, limit);
                        self.engine_states
                            .set_reason(&self.name, notice.message.clone());
                        events.push(notice);
                    }
                }
            }
            let data_events = events
                .iter()
                .filter(|e: &&Event| e.kind != crate::model::EntityKind::Source)
                .count();
            if data_events > 0 {
                self.engine_states
                    .count_events(&self.name, data_events as u64);
            }
            let mut batch = Ingest::new(self.name.clone(), events);
            batch.cursor = cursor;
            if self.ingest.send(batch).await.is_err() {
                tracing::warn!(source = %self.name, "hub stopped; SSE events after this point are not stored");
                return;
            }
        }
    }

    /// Remembers the job a message names, or names an id-less job message after the
    /// one job this connection has named (see the module docs).
    fn attribute(&mut self, event: &mut Event) {
        if event.kind != EntityKind::Job {
            return;
        }
        // The normaliser names a job message that carries no id after the source; any
        // other entity was named by the message (payload, channel or override).
        if event.entity != self.name {
            self.named = match std::mem::replace(&mut self.named, NamedJobs::None) {
                NamedJobs::None => NamedJobs::One(event.entity.clone()),
                NamedJobs::One(job) if job == event.entity => NamedJobs::One(job),
                _ => NamedJobs::Several,
            };
        } else if let NamedJobs::One(job) = &self.named {
            event.entity = job.clone();
        }
    }

    fn record_state(&self, state: &ConnectionState) {
        let (health, reason, next) = match state {
            ConnectionState::Connecting => (SourceHealth::Connecting, None, None),
            ConnectionState::Connected => (SourceHealth::Live, None, None),
            ConnectionState::Reconnecting {
                next_in, reason, ..
            } => (
                SourceHealth::Reconnecting,
                Some(reason.clone()),
                Some(now_millis() + next_in.as_millis() as i64),
            ),
            ConnectionState::Stopped { reason, .. } => {
                (SourceHealth::Stopped, Some(reason.clone()), None)
            }
        };
        self.engine_states.set(&self.name, health, reason, next);
    }
}

/// Which jobs the current connection has named.
#[derive(Debug, Clone, PartialEq, Eq)]
enum NamedJobs {
    None,
    One(String),
    Several,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RawMessage;

    fn pump() -> SsePump {
        SsePump {
            name: "runs".into(),
            overrides: FieldOverrides::default(),
            previous_id: String::new(),
            named: NamedJobs::None,
            engine_states: super::super::SourceStates::default(),
            ingest: crate::hub::IngestSender {
                tx: flume::bounded(1).0,
            },
        }
    }

    fn entity_of(p: &mut SsePump, payload: &str) -> String {
        let mut e = normalize(&RawMessage::new("runs", payload.to_string()), &p.overrides);
        p.attribute(&mut e);
        e.entity
    }

    #[test]
    fn id_less_job_messages_join_the_one_job_the_connection_named() {
        let mut p = pump();
        // Before anything names a job, the source's name is all we have.
        assert_eq!(entity_of(&mut p, r#"{"status":"waiting"}"#), "runs");
        let snapshot = r#"{"type":"snapshot","run":{"id":"run-7","status":"running"}}"#;
        assert_eq!(entity_of(&mut p, snapshot), "run-7");
        assert_eq!(
            entity_of(&mut p, r#"{"type":"log","message":"step 1"}"#),
            "run-7"
        );
        assert_eq!(
            entity_of(&mut p, r#"{"type":"done","status":"failed"}"#),
            "run-7"
        );
        // Notices are about the source, never a job.
        assert_eq!(entity_of(&mut p, r#"{"type":"connected"}"#), "runs");
        // A new connection forgets: it may be about another run.
        p.named = NamedJobs::None;
        assert_eq!(
            entity_of(&mut p, r#"{"type":"done","status":"completed"}"#),
            "runs"
        );
    }

    #[test]
    fn a_stream_about_several_jobs_keeps_id_less_messages_on_the_source() {
        let mut p = pump();
        assert_eq!(
            entity_of(&mut p, r#"{"jobId":"a","status":"running"}"#),
            "a"
        );
        assert_eq!(entity_of(&mut p, r#"{"jobId":"a","progress":50}"#), "a");
        assert_eq!(entity_of(&mut p, r#"{"status":"completed"}"#), "a");
        assert_eq!(
            entity_of(&mut p, r#"{"jobId":"b","status":"running"}"#),
            "b"
        );
        assert_eq!(entity_of(&mut p, r#"{"status":"completed"}"#), "runs");
    }
}
