//! The search thread: fills the full-text index (its own file, see
//! `store::SearchIndex`) from the stored events, beside the writer thread and never
//! in its way.
//!
//! It looks for new events a few times a second rather than after every commit:
//! FTS5 pays per transaction (a new segment, merges), so a few thousand rows a step
//! cost far less per row than a few. Searches scan the not-yet-indexed tail, so the
//! delay hides nothing.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::HubHealth;
use crate::store::{SearchIndex, StoreError};

/// How often the thread looks for events to index when it has caught up.
const LOOK_EVERY: Duration = Duration::from_millis(200);
/// Most events indexed in one transaction.
const STEP: u64 = 20_000;
/// How long to wait before trying again after the index could not be opened or
/// written (a full disk, a locked file).
const RETRY_AFTER: Duration = Duration::from_secs(5);

pub(super) struct SearchThread {
    forget: flume::Sender<Vec<u64>>,
    stop: Arc<AtomicBool>,
    /// Bytes of index pages in use, for size-based retention.
    used_bytes: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl SearchThread {
    pub(super) fn start(db: &Path, health: Arc<Mutex<HubHealth>>) -> Result<Self, StoreError> {
        let (forget, forgotten) = flume::unbounded();
        let stop = Arc::new(AtomicBool::new(false));
        let used_bytes = Arc::new(AtomicU64::new(0));
        let mut run = Run {
            db: db.to_path_buf(),
            index: None,
            forgotten,
            pending_forget: Vec::new(),
            stop: stop.clone(),
            used_bytes: used_bytes.clone(),
            health,
        };
        // Opened here first so that a broken index shows at start in the log; the
        // thread retries on its own when it fails.
        run.open();
        let thread = std::thread::Builder::new()
            .name("telltale-search".into())
            .spawn(move || run.run())
            .map_err(|e| StoreError::Io {
                path: db.to_path_buf(),
                source: e,
            })?;
        Ok(SearchThread {
            forget,
            stop,
            used_bytes,
            thread: Some(thread),
        })
    }

    /// Drops deleted events from the index (retention).
    pub(super) fn forget(&self, seqs: Vec<u64>) {
        if !seqs.is_empty() {
            let _ = self.forget.send(seqs);
        }
    }

    pub(super) fn used_bytes(&self) -> u64 {
        self.used_bytes.load(Ordering::Relaxed)
    }

    /// Indexes what is stored, then stops. Call after the writer thread has stopped.
    pub(super) fn finish(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the thread if it is waiting.
        let _ = self.forget.send(Vec::new());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SearchThread {
    fn drop(&mut self) {
        self.finish();
    }
}

struct Run {
    db: PathBuf,
    index: Option<SearchIndex>,
    forgotten: flume::Receiver<Vec<u64>>,
    /// Deleted seqs not yet dropped from the index (kept across failures).
    pending_forget: Vec<u64>,
    stop: Arc<AtomicBool>,
    used_bytes: Arc<AtomicU64>,
    health: Arc<Mutex<HubHealth>>,
}

impl Run {
    fn open(&mut self) -> bool {
        if self.index.is_some() {
            return true;
        }
        match SearchIndex::open(&self.db) {
            Ok(index) => {
                report(&index, &self.used_bytes, &self.health);
                self.index = Some(index);
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the search index; searches scan the history meanwhile, retrying");
                false
            }
        }
    }

    fn run(mut self) {
        lower_priority();
        loop {
            let stopping = self.stop.load(Ordering::SeqCst);
            let wait = if !self.open() {
                RETRY_AFTER
            } else {
                match self.step(stopping) {
                    Ok(true) => Duration::ZERO, // more to do
                    Ok(false) => LOOK_EVERY,
                    Err(e) => {
                        tracing::warn!(error = %e, "search indexing failed; will retry");
                        RETRY_AFTER
                    }
                }
            };
            if stopping && (wait == LOOK_EVERY || wait == RETRY_AFTER) {
                break;
            }
            if wait.is_zero() {
                continue;
            }
            match self.forgotten.recv_timeout(wait) {
                Ok(seqs) => self.pending_forget.extend(seqs),
                Err(flume::RecvTimeoutError::Timeout) => {}
                Err(flume::RecvTimeoutError::Disconnected) => break,
            }
        }
        tracing::debug!("search thread stopped");
    }

    /// One step: deletions first, then up to `STEP` events. True when more is due.
    fn step(&mut self, stopping: bool) -> Result<bool, StoreError> {
        self.pending_forget.extend(self.forgotten.drain().flatten());
        let Some(index) = self.index.as_mut() else {
            return Ok(false);
        };
        let forgot = !self.pending_forget.is_empty();
        if forgot {
            index.forget(&self.pending_forget)?;
            self.pending_forget.clear();
        }
        let done = index.index(STEP)?;
        // A quiet index has nothing new to report (its size included).
        if done > 0 || forgot {
            report(index, &self.used_bytes, &self.health);
        }
        // When stopping, everything stored is indexed before the thread ends.
        Ok(done == STEP || (stopping && done > 0))
    }
}

fn report(index: &SearchIndex, used_bytes: &AtomicU64, health: &Mutex<HubHealth>) {
    if let Ok(bytes) = index.used_bytes() {
        used_bytes.store(bytes, Ordering::Relaxed);
    }
    if let Ok(mut h) = health.lock() {
        h.search_indexed_seq = index.indexed_upto();
    }
}

/// Indexing only ever needs spare CPU: under a burst it must not take a core from
/// the reader, the normaliser, the writer and the relay, which decide what is lost
/// and how late it arrives (at the maximum rate it took as much CPU as the writer,
/// issue 8). A lagging index costs searches a longer tail scan, nothing else.
///
/// SCHED_IDLE rather than a nice value: the kernel counts a CPU that runs only
/// SCHED_IDLE threads as idle when it places a waking thread, so the hub and the
/// relay land on it at once. At nice 10 they queued on the other, busy core while
/// the indexer held this one: with 1 client at 10k events/s, 900 events a run were
/// over 4 ms, 750 with SCHED_IDLE (and 400 with no indexing at all).
#[cfg(target_os = "linux")]
fn lower_priority() {
    // On Linux the policy belongs to the thread, and 0 names the calling one.
    // SAFETY: sched_setscheduler reads the param struct only during the call.
    let param = libc::sched_param { sched_priority: 0 };
    let r = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    if r != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "cannot lower the search thread's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}
