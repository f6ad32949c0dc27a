//! WAL checkpoints on their own connection and thread.
//!
//! With `wal_autocheckpoint` on, the writer would copy the WAL back into the database
//! in the middle of a commit, holding up ingestion; here the copy happens on the
//! other core while the writer goes on. PASSIVE never waits for readers or the writer.
//!
//! A background pass alone never lets the WAL start over: under a steady stream the
//! writer has always appended frames since the pass began, and SQLite only rewinds
//! the WAL when a write begins on a fully copied one. At 10k events/s it grew to 1 GB
//! in 10 s, every append then allocated fresh page cache and ext4 blocks (a fifth of
//! the writer's time, issue 8). So after each pass the writer copies the few frames
//! it appended meanwhile ([`Checkpointer::take_finished_pass`] tells it when), and its
//! next write starts the WAL over.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::{open, StoreError};

pub struct Checkpointer {
    stop: Arc<AtomicBool>,
    /// Set by the thread after each pass, cleared by the writer when it finishes it.
    pass_finished: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    pub fn start(path: &Path, every: Duration) -> Result<Self, StoreError> {
        let conn = open(path)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let pass_finished = Arc::new(AtomicBool::new(false));
        let finished = pass_finished.clone();
        let thread = std::thread::Builder::new()
            .name("telltale-checkpoint".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(every);
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::debug!(error = %e, "checkpoint skipped");
                    }
                    finished.store(true, Ordering::Release);
                }
            })
            .map_err(|e| StoreError::Io {
                path: path.to_path_buf(),
                source: e,
            })?;
        Ok(Checkpointer {
            stop,
            pass_finished,
            thread: Some(thread),
        })
    }
}

impl Checkpointer {
    /// Whether a background pass finished since the last call: the moment for the
    /// writer to copy what it appended during the pass (see the module comment).
    pub fn take_finished_pass(&self) -> bool {
        self.pass_finished.swap(false, Ordering::Acquire)
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
