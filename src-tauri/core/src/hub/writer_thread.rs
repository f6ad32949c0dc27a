//! The writer thread's loop.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, oneshot};

use super::health::HealthError;
use super::ingest::HubMsg;
use super::search_thread::SearchThread;
use super::slice_size::SliceSize;
use super::{HubHealth, HubOptions, Ingest, LiveBatch, IDLE_TICK};
use crate::board::{Board, EntityKey};
use crate::model::now_millis;
use crate::store::{Checkpointer, StoreError, Writer};

pub(super) struct WriterThread {
    pub writer: Writer,
    pub inbox: flume::Receiver<HubMsg>,
    pub live: broadcast::Sender<LiveBatch>,
    pub board: Arc<RwLock<Board>>,
    pub health: Arc<Mutex<HubHealth>>,
    pub stop: Arc<AtomicBool>,
    pub opts: HubOptions,
    /// Entities changed since their row was last written, each with the first seq
    /// that changed it: the entities table is current up to just below the smallest.
    /// Ordered like the table's primary key, so that a slice of writes covers a run
    /// of neighbouring rows (a few pages) instead of rows spread over the whole
    /// table: in hash order every slice rewrote most of the table's pages, ten times
    /// the WAL traffic of one big write, and each second's flush stalled events
    /// arriving meanwhile by about 10 ms (issue 8).
    pub dirty: BTreeMap<EntityKey, u64>,
    /// Full-text indexing, on a thread and in a file of its own; stopped (after
    /// indexing what is stored) when this thread ends.
    pub search: SearchThread,
    /// Copies the WAL back on its own thread; dropped with this one, after the final
    /// checkpoint.
    pub checkpointer: Checkpointer,
}

pub(super) fn spawn(t: WriterThread) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("telltale-hub".into())
        .spawn(move || t.run())
}

/// Sorts one inbox message; returns how many events it brought.
fn take(m: HubMsg, batches: &mut Vec<Ingest>, acks: &mut Vec<oneshot::Sender<u64>>) -> usize {
    match m {
        HubMsg::Ingest(i) => {
            let n = i.events.len();
            batches.push(i);
            n
        }
        HubMsg::Flush(a) => {
            acks.push(a);
            0
        }
    }
}

/// Entity states are written at most this long after their events...
const ENTITY_FLUSH_EVERY: Duration = Duration::from_secs(1);
/// ...or sooner when this many entities changed.
const ENTITY_FLUSH_AT: usize = 50_000;

/// A piece of work behind ingestion takes about this long while it keeps up, so it
/// adds at most about this much to the latency of an event that arrives meanwhile.
const SLICE_BUDGET: Duration = Duration::from_millis(1);
/// When the entity states have fallen too far behind, they take this fraction of the
/// time the last commit took (at least [`SLICE_BUDGET`]): ingestion slows a little
/// and the backlog stays bounded.
const BEHIND_SHARE: u32 = 4;

const RETENTION_STEP: u64 = 5_000;

/// A quiet stream gives the writer's page cache back this often (see
/// [`Writer::release_cache`]); a busy one never reaches the idle branch and keeps it.
const RELEASE_CACHE_EVERY: Duration = Duration::from_secs(30);

impl WriterThread {
    fn run(mut self) {
        let mut batches: Vec<Ingest> = Vec::new();
        let mut acks: Vec<oneshot::Sender<u64>> = Vec::new();
        let mut last_retention = Instant::now() - Duration::from_secs(3600);
        let mut last_entity_flush = Instant::now();
        let mut last_release = Instant::now();
        // The size of the entity-state pieces, learnt as they run.
        let mut entity_slice = SliceSize::new(50, 20_000);
        loop {
            let stopping = self.stop.load(Ordering::SeqCst);
            let first = if stopping {
                self.inbox.try_recv().ok()
            } else {
                match self.inbox.recv_timeout(super::IDLE_TICK) {
                    Ok(m) => Some(m),
                    Err(flume::RecvTimeoutError::Timeout) => None,
                    Err(flume::RecvTimeoutError::Disconnected) => None,
                }
            };
            let Some(first) = first else {
                if stopping {
                    break;
                }
                // A quiet stream still gets its latest states written.
                if !self.dirty.is_empty() && last_entity_flush.elapsed() >= ENTITY_FLUSH_EVERY {
                    self.flush_entities(usize::MAX);
                    last_entity_flush = Instant::now();
                }
                self.idle_work(&mut last_retention);
                if last_release.elapsed() >= RELEASE_CACHE_EVERY {
                    if let Err(e) = self.writer.release_cache() {
                        tracing::debug!(error = %e, "releasing the page cache skipped");
                    }
                    last_release = Instant::now();
                }
                continue;
            };
            let mut events = take(first, &mut batches, &mut acks);
            while events < self.opts.max_batch_events {
                match self.inbox.try_recv() {
                    Ok(m) => events += take(m, &mut batches, &mut acks),
                    Err(_) => break,
                }
            }
            let started = Instant::now();
            self.commit(&mut batches);
            let commit_took = started.elapsed();
            if !acks.is_empty() {
                // `flush()` promises everything is stored, entity states included.
                self.flush_entities(usize::MAX);
                last_entity_flush = Instant::now();
            }
            let last = self.writer.next_seq() - 1;
            for a in acks.drain(..) {
                let _ = a.send(last);
            }
            if self.checkpointer.take_finished_pass() {
                if let Err(e) = self.writer.finish_checkpoint() {
                    tracing::debug!(error = %e, "finishing the checkpoint skipped");
                }
            }
            // Behind ingestion, in slices between commits: one big write of every
            // changed entity would stall the next batch for tens of milliseconds;
            // slices keep each pause short and still keep up. Far behind, a slice may
            // take a share of what the commit just took.
            if !self.dirty.is_empty()
                && (last_entity_flush.elapsed() >= ENTITY_FLUSH_EVERY
                    || self.dirty.len() >= ENTITY_FLUSH_AT)
            {
                let budget = if self.dirty.len() >= ENTITY_FLUSH_AT {
                    SLICE_BUDGET.max(commit_took / BEHIND_SHARE)
                } else {
                    SLICE_BUDGET
                };
                let started = Instant::now();
                let done = self.flush_entities(entity_slice.rows(budget));
                entity_slice.observe(done, started.elapsed());
                if self.dirty.is_empty() {
                    last_entity_flush = Instant::now();
                }
            }
        }
        // Shutting down: everything queued is committed above; fold the WAL back.
        self.flush_entities(usize::MAX);
        if let Err(e) = self.writer.checkpoint() {
            tracing::warn!(error = %e, "checkpoint at shutdown failed; the WAL is replayed at next start");
        }
        self.search.finish();
        tracing::debug!("hub stopped");
    }

    /// Appends the batches, retrying while the store refuses (disk full, locked):
    /// nothing is dropped; the inbox fills and sources wait meanwhile.
    fn commit(&mut self, batches: &mut Vec<Ingest>) {
        let mut delay = Duration::from_millis(100);
        loop {
            match self.writer.append(batches) {
                Ok(outcome) => {
                    let events: Vec<_> = batches.drain(..).flat_map(|b| b.events).collect();
                    {
                        let mut board = self.board.write().unwrap_or_else(|p| p.into_inner());
                        for e in &events {
                            self.dirty.entry(board.apply(e)).or_insert(e.seq);
                        }
                    }
                    if let Ok(mut h) = self.health.lock() {
                        h.last_seq = self.writer.next_seq() - 1;
                        h.stored += outcome.stored as u64;
                        h.duplicates += outcome.duplicates as u64;
                        h.pending = 0;
                        if h.error.is_some() {
                            tracing::info!("history writes work again");
                        }
                        h.error = None;
                    }
                    if !events.is_empty() {
                        // No subscriber is fine: the events are stored.
                        let _ = self.live.send(Arc::new(events));
                    }
                    return;
                }
                Err(e) => {
                    let pending: usize = batches.iter().map(|b| b.events.len()).sum();
                    self.record_error(&e, pending as u64);
                    if self.stop.load(Ordering::SeqCst) && delay >= Duration::from_secs(2) {
                        tracing::error!(error = %e, lost = pending, "giving up on unstored events at shutdown");
                        if let Ok(mut h) = self.health.lock() {
                            h.lost += pending as u64;
                        }
                        batches.clear();
                        return;
                    }
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    fn record_error(&self, e: &StoreError, pending: u64) {
        if let Ok(mut h) = self.health.lock() {
            if h.error.is_none() {
                tracing::error!(error = %e, pending, "cannot write the history; retrying");
            }
            h.pending = pending;
            h.error = Some(HealthError {
                code: e.code().into(),
                message: e.to_string(),
                since: h.error.as_ref().map(|x| x.since).unwrap_or_else(now_millis),
            });
        }
    }

    /// Writes up to `limit` changed entity states behind ingestion, and moves the
    /// table's watermark to just below the oldest change still unwritten (replay from
    /// there at start is idempotent). On failure they stay dirty and are retried; the
    /// events they derive from are already stored.
    /// Returns how many it wrote.
    fn flush_entities(&mut self, limit: usize) -> usize {
        if self.dirty.is_empty() {
            return 0;
        }
        let taken: Vec<(EntityKey, u64)> = std::iter::from_fn(|| self.dirty.pop_first())
            .take(limit)
            .collect();
        let states = {
            let board = self.board.read().unwrap_or_else(|p| p.into_inner());
            board.states(taken.iter().map(|(k, _)| k))
        };
        let upto = match self.dirty.values().min() {
            Some(oldest) => oldest.saturating_sub(1),
            None => self.writer.next_seq() - 1,
        };
        match self.writer.write_entities(states.iter(), upto) {
            Ok(_) => taken.len(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot write entity states; will retry");
                self.dirty.extend(taken);
                0
            }
        }
    }

    /// Retention, in steps, when nothing arrives.
    fn idle_work(&mut self, last_retention: &mut Instant) {
        if self.opts.retention.is_unbounded() || last_retention.elapsed() < IDLE_TICK * 20 {
            return;
        }
        // Retention decides what to drop from the entities table: make it current.
        self.flush_entities(usize::MAX);
        match self.writer.retention_step(
            &self.opts.retention,
            now_millis(),
            RETENTION_STEP,
            self.search.used_bytes(),
        ) {
            Ok(step) => {
                self.search.forget(step.deleted_seqs);
                if !step.removed_entities.is_empty() {
                    let mut board = self.board.write().unwrap_or_else(|p| p.into_inner());
                    for (k, e) in &step.removed_entities {
                        board.remove(*k, e);
                    }
                }
                if step.deleted_events > 0 {
                    tracing::debug!(deleted = step.deleted_events, "retention");
                }
                if !step.more {
                    *last_retention = Instant::now();
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "retention step failed; will retry");
                *last_retention = Instant::now();
            }
        }
    }
}
