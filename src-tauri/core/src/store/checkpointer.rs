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
//!
//! "Few" has to be true for the writer's copy to stay a short pause: at 50k events/s a
//! 250 ms pass leaves thousands of frames behind, and copying them in the writer
//! stalled ingestion for tens of milliseconds (p99 52 ms). So the thread runs passes
//! back to back, each copying what was appended during the last, until one had little
//! to copy, and only then hands over.

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
                    catch_up(&conn);
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

/// A pass that copied at most this many frames (1 MiB of 4 KiB pages) shows the
/// writer appends little during one: what it leaves for the writer is as small.
const SMALL_PASS: i64 = 256;
/// Passes in a row at most before handing over anyway, so the WAL still starts over
/// when the writer appends faster than a pass copies.
const MAX_PASSES: usize = 8;

/// Background passes until one copies little (see the module comment).
fn catch_up(conn: &rusqlite::Connection) {
    let mut copied_before = None;
    for _ in 0..MAX_PASSES {
        let pass = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        });
        match pass {
            Ok((log, copied)) if another_pass(copied_before, log, copied) => {
                copied_before = Some(copied)
            }
            Ok(_) => return,
            Err(e) => {
                tracing::debug!(error = %e, "checkpoint skipped");
                return;
            }
        }
    }
}

/// Whether a pass that left `copied` of the WAL's `log` frames copied (after a pass
/// that had copied `copied_before`) calls for another one before handing over.
fn another_pass(copied_before: Option<i64>, log: i64, copied: i64) -> bool {
    if copied < log {
        // A reader's snapshot (or a checkpoint already running: -1) stopped the copy
        // short; another pass now would copy no more.
        return false;
    }
    match copied_before {
        // Fewer than before: the WAL started over in between.
        Some(before) => copied > before && copied - before > SMALL_PASS,
        None => log > SMALL_PASS,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_repeat_until_one_copies_little() {
        // A big first pass, then one that copied what a fast writer appended.
        assert!(another_pass(None, 10_000, 10_000));
        assert!(another_pass(Some(10_000), 12_000, 12_000));
        // The writer appended little during the last pass: hand over.
        assert!(!another_pass(Some(12_000), 12_100, 12_100));
        assert!(!another_pass(None, SMALL_PASS, SMALL_PASS));
    }

    #[test]
    fn a_pass_stopped_short_or_a_restarted_wal_hands_over() {
        // A reader holds an older snapshot: the rest cannot be copied yet.
        assert!(!another_pass(None, 10_000, 4_000));
        // Another checkpoint was running (SQLite reports -1, -1).
        assert!(!another_pass(Some(5_000), -1, -1));
        // The WAL started over between passes.
        assert!(!another_pass(Some(9_000), 3_000, 3_000));
    }
}
