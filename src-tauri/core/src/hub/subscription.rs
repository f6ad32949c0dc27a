//! A subscriber's view of the event sequence: replay from the store, then live, and
//! back to the store whenever it falls behind the broadcast. Lag costs latency, never
//! data.

use std::path::PathBuf;

use tokio::sync::broadcast::{self, error::RecvError};

use super::{EventBatch, LiveBatch};
use crate::model::Event;
use crate::store::{EventFilter, Reader, StoreError};

/// Events read from the store per catch-up step.
const CATCH_UP_PAGE: usize = 5_000;

pub struct Subscription {
    live: broadcast::Receiver<LiveBatch>,
    db: PathBuf,
    reader: Option<Reader>,
    filter: EventFilter,
    /// Every event with seq ≤ this has been considered (delivered or filtered out).
    horizon: u64,
    /// Still replaying from the store.
    catching_up: bool,
}

impl Subscription {
    pub(super) fn new(
        live: broadcast::Receiver<LiveBatch>,
        db: PathBuf,
        after: u64,
        filter: EventFilter,
    ) -> Self {
        Subscription {
            live,
            db,
            reader: None,
            filter,
            horizon: after,
            catching_up: true,
        }
    }

    pub(super) fn skip_replay(&mut self) {
        self.catching_up = false;
    }

    /// The highest seq this subscription has passed (its resume point).
    pub fn position(&self) -> u64 {
        self.horizon
    }

    pub fn is_catching_up(&self) -> bool {
        self.catching_up
    }

    /// The next events in seq order (never empty), or `None` when the hub has stopped.
    pub async fn next_batch(&mut self) -> Result<Option<EventBatch>, StoreError> {
        loop {
            if self.catching_up {
                let page = self.read_store().await?;
                if !page.is_empty() {
                    return Ok(Some(EventBatch::owned(page)));
                }
                continue;
            }
            match self.live.recv().await {
                Ok(batch) => {
                    let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
                        continue;
                    };
                    if last.seq <= self.horizon {
                        continue; // already replayed from the store
                    }
                    if first.seq > self.horizon + 1 {
                        // Something was broadcast before we were listening and after
                        // our last read: fetch it from the store first.
                        self.catching_up = true;
                        continue;
                    }
                    let horizon = self.horizon;
                    self.horizon = last.seq;
                    let out = if self.filter.is_empty() {
                        // Seqs within a batch are consecutive and ascending.
                        let start = batch.partition_point(|e| e.seq <= horizon);
                        EventBatch::tail(batch, start)
                    } else {
                        let filter = &self.filter;
                        EventBatch::picked(batch, |e| e.seq > horizon && filter.matches(e))
                    };
                    if !out.is_empty() {
                        return Ok(Some(out));
                    }
                }
                Err(RecvError::Lagged(_)) => self.catching_up = true,
                Err(RecvError::Closed) => return Ok(None),
            }
        }
    }

    /// One page from the store. Switches back to live once the store has nothing
    /// newer than what the broadcast will bring.
    async fn read_store(&mut self) -> Result<Vec<Event>, StoreError> {
        let reader = match self.reader.take() {
            Some(r) => r,
            None => {
                let db = self.db.clone();
                tokio::task::spawn_blocking(move || Reader::open(&db))
                    .await
                    .map_err(|e| StoreError::BadQuery(format!("reader task: {e}")))??
            }
        };
        let after = self.horizon;
        let filter = self.filter.clone();
        let (reader, result) = tokio::task::spawn_blocking(move || {
            // Read the horizon first: everything up to it is committed, so a filtered
            // page that returns nothing still proves nothing below it is missing.
            let r = reader.max_seq().and_then(|upto| {
                reader
                    .between(after, upto, &filter, CATCH_UP_PAGE)
                    .map(|page| (upto, page))
            });
            (reader, r)
        })
        .await
        .map_err(|e| StoreError::BadQuery(format!("reader task: {e}")))?;
        let (upto, page) = result?;
        if page.len() == CATCH_UP_PAGE {
            self.horizon = page.last().map(|e| e.seq).unwrap_or(upto);
            self.reader = Some(reader);
        } else {
            self.horizon = self.horizon.max(upto);
            // Live batches queued meanwhile that we already read are skipped by seq.
            self.catching_up = false;
            // Caught up: give the connection back. An idle live subscriber must cost
            // kilobytes, not a SQLite connection and its page cache.
            drop(reader);
        }
        Ok(page)
    }
}
