//! The hub's inbox: what sources send, and the handle they send it with.

use crate::model::Event;

/// What a source hands the hub: events and the resume point they bring the source to.
/// The cursor is committed in the same transaction as the events, so after a crash a
/// resumable source continues exactly where the stored history ends.
#[derive(Debug, Clone, Default)]
pub struct Ingest {
    pub source: String,
    pub events: Vec<Event>,
    pub cursor: Option<String>,
}

impl Ingest {
    pub fn new(source: impl Into<String>, events: Vec<Event>) -> Self {
        Ingest {
            source: source.into(),
            events,
            cursor: None,
        }
    }

    pub fn with_cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }
}

pub(crate) enum HubMsg {
    Ingest(Ingest),
    /// Answered with the last stored seq once everything sent before it is committed.
    Flush(tokio::sync::oneshot::Sender<u64>),
}

/// The hub has shut down; nothing more can be stored.
#[derive(Debug, thiserror::Error)]
#[error("the hub has stopped: telltale is shutting down")]
pub struct HubClosed;

/// A cloneable handle sources use to hand batches to the hub. Sending waits when the
/// hub's bounded inbox is full: back-pressure instead of unbounded memory.
#[derive(Clone)]
pub struct IngestSender {
    pub(crate) tx: flume::Sender<HubMsg>,
}

impl IngestSender {
    pub async fn send(&self, ingest: Ingest) -> Result<(), HubClosed> {
        self.tx
            .send_async(HubMsg::Ingest(ingest))
            .await
            .map_err(|_| HubClosed)
    }

    /// For threads outside the async runtime.
    pub fn send_blocking(&self, ingest: Ingest) -> Result<(), HubClosed> {
        self.tx.send(HubMsg::Ingest(ingest)).map_err(|_| HubClosed)
    }

    /// Waits until everything sent before this call is stored; returns the last seq.
    pub async fn flush(&self) -> Result<u64, HubClosed> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.tx
            .send_async(HubMsg::Flush(tx))
            .await
            .map_err(|_| HubClosed)?;
        rx.await.map_err(|_| HubClosed)
    }

    /// Batches waiting in the inbox (for health and benchmarks).
    pub fn queued(&self) -> usize {
        self.tx.len()
    }
}
