//! The hub: one writer thread between the sources and everything that reads
//! (DESIGN §3). For each batch it (1) appends to SQLite, assigning `seq` and saving
//! cursors in the same transaction, (2) updates the board, (3) broadcasts. Persist,
//! then publish: every event anyone sees is already in history.

mod event_batch;
mod health;
mod ingest;
mod search_thread;
mod slice_size;
mod subscription;
mod writer_thread;

pub use event_batch::EventBatch;
pub use health::HubHealth;
pub use ingest::{HubClosed, Ingest, IngestSender};
pub use subscription::Subscription;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::broadcast;

use crate::board::Board;
use crate::model::Event;
use crate::store::{Checkpointer, EventFilter, Reader, Retention, StoreError, Writer};

/// A batch of stored events as broadcast to subscribers.
pub type LiveBatch = Arc<Vec<Event>>;

#[derive(Debug, Clone)]
pub struct HubOptions {
    pub db: PathBuf,
    pub retention: Retention,
    /// Batches the inbox holds before sources wait.
    pub inbox_capacity: usize,
    /// Most events committed in one transaction.
    pub max_batch_events: usize,
    /// Batches the broadcast keeps for slow subscribers before they must catch up
    /// from the store.
    pub broadcast_capacity: usize,
}

impl HubOptions {
    pub fn new(db: impl Into<PathBuf>) -> Self {
        HubOptions {
            db: db.into(),
            retention: Retention::default(),
            inbox_capacity: 1024,
            max_batch_events: 10_000,
            broadcast_capacity: 1024,
        }
    }
}

pub struct Hub {
    sender: IngestSender,
    live: broadcast::Sender<LiveBatch>,
    board: Arc<RwLock<Board>>,
    health: Arc<Mutex<HubHealth>>,
    stop: Arc<AtomicBool>,
    db: PathBuf,
    thread: Option<JoinHandle<()>>,
}

impl Hub {
    /// Opens (creating or migrating) the database, rebuilds the board from it and
    /// starts the writer thread.
    pub fn start(opts: HubOptions) -> Result<Hub, StoreError> {
        let writer = Writer::open(&opts.db)?;
        let reader = Reader::open(&opts.db)?;
        // The entities table is written behind ingestion: fold in what came after it.
        let mut board = Board::from_states(reader.all_entities()?);
        let mut dirty = std::collections::BTreeMap::new();
        let mut after = writer.entities_seq();
        loop {
            let page = reader.since(after, &EventFilter::default(), 10_000)?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for e in &page {
                dirty.entry(board.apply(e)).or_insert(e.seq);
            }
        }
        let board = Arc::new(RwLock::new(board));
        let checkpointer = Checkpointer::start(&opts.db, Duration::from_millis(250))?;
        let (tx, rx) = flume::bounded(opts.inbox_capacity);
        let (live, _) = broadcast::channel(opts.broadcast_capacity);
        let health = Arc::new(Mutex::new(HubHealth {
            last_seq: writer.next_seq() - 1,
            ..HubHealth::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let search = search_thread::SearchThread::start(&opts.db, health.clone())?;
        let thread = writer_thread::spawn(writer_thread::WriterThread {
            writer,
            inbox: rx,
            live: live.clone(),
            board: board.clone(),
            health: health.clone(),
            stop: stop.clone(),
            opts: opts.clone(),
            dirty,
            search,
            checkpointer,
        })
        .map_err(|e| StoreError::Io {
            path: opts.db.clone(),
            source: e,
        })?;
        Ok(Hub {
            sender: IngestSender { tx },
            live,
            board,
            health,
            stop,
            db: opts.db,
            thread: Some(thread),
        })
    }

    pub fn sender(&self) -> IngestSender {
        self.sender.clone()
    }

    /// Events after `after` matching `filter`: first from the store, then live, with
    /// no gap and no duplicate at the seam.
    pub fn subscribe(&self, after: u64, filter: EventFilter) -> Subscription {
        // The receiver first, then the stored horizon: a batch committed in between
        // comes through the receiver, and anything at or below `after` is skipped.
        let live = self.live.subscribe();
        let stored = self.health().last_seq;
        let mut sub = Subscription::new(live, self.db.clone(), after, filter);
        if after >= stored {
            // Nothing to replay: an idle client from "now" costs no SQLite connection
            // and no blocking thread. A seq jump still sends it to the store.
            sub.skip_replay();
        }
        sub
    }

    /// Only what is stored from now on (the rules engine: never history).
    pub fn subscribe_live(&self) -> broadcast::Receiver<LiveBatch> {
        self.live.subscribe()
    }

    pub fn board(&self) -> Arc<RwLock<Board>> {
        self.board.clone()
    }

    pub fn health(&self) -> HubHealth {
        self.health.lock().map(|h| h.clone()).unwrap_or_default()
    }

    pub fn db_path(&self) -> &Path {
        &self.db
    }

    /// Commits everything already queued, then stops the writer thread. Call after
    /// the sources are stopped. Blocking: from async code use `spawn_blocking`.
    pub fn shutdown(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.finish();
    }
}

/// How long the writer waits for input before doing idle work.
pub(crate) const IDLE_TICK: Duration = Duration::from_millis(50);

#[cfg(test)]
mod tests;
