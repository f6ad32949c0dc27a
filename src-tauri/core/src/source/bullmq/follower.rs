//! The BullMQ loop: per queue, `XREAD BLOCK` on `<prefix>:<queue>:events` from the
//! saved stream id, with a trim check before each read, queue counts and workers at
//! an interval, and reconnects with backoff and jitter. The stream is replayable, so
//! an outage costs no events: reading resumes at the saved id. Only trimming loses
//! entries, and that is detected and reported (see [`super::trim`]).
//!
//! Read-only by construction: the commands sent are XREAD (no GROUP), XINFO STREAM,
//! XREVRANGE, HMGET, LLEN, ZCARD, ZRANGEBYSCORE, HEXISTS, SCAN and CLIENT LIST. No
//! consumer group, no acknowledgement, no client name.
//!
//! Two connections: one parked in `XREAD BLOCK`, one for everything else, so a
//! blocked read never delays the counts.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::streams::StreamReadReply;
use redis::AsyncConnectionConfig;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::config::BullMqConfig;
use super::counts::{counts_pipeline, parse_counts, queue_event};
use super::cursor::StreamCursors;
use super::job_event::{entry_event, wants_job_info, JobInfo, JOB_FIELDS};
use super::keys::{discovery_patterns, queue_of_key, QueueKeys};
use super::stream_id::StreamId;
use super::trim::{
    detect, finished_jobs_pipeline, gap_event, job_hashes_pipeline, restored_event, StreamInfo,
    Trimmed,
};
use super::update::{BullMqState, BullMqUpdate};
use super::workers::{parse_client_list, WorkerTracker};
use crate::model::{Event, QueueCounts, Status};
use crate::source::redis::{redis_client, RedisSourceError};
use crate::source::sse::backoff::Backoff;

/// What an ACL user needs for this source (said when Redis answers NOPERM).
const NEEDS: &str =
    "read-only access: +xread +xinfo +xrevrange +hmget +llen +zcard +zrangebyscore +hexists +scan \
                     (+client|list for workers) on the BullMQ keys";

pub struct BullMqFollower {
    config: BullMqConfig,
    client: redis::Client,
    shown_url: String,
    cursors: StreamCursors,
}

/// Why following stopped.
enum Broken {
    /// Cancelled, or nobody reads the updates any more.
    Done,
    Fatal(RedisSourceError),
    Retry(String),
}

impl From<redis::RedisError> for Broken {
    fn from(e: redis::RedisError) -> Self {
        Broken::Retry(e.to_string())
    }
}

/// One connected session's state.
struct Session {
    cmd: MultiplexedConnection,
    read: MultiplexedConnection,
    queues: Vec<QueueKeys>,
    last_counts: HashMap<String, (QueueCounts, bool)>,
    workers: WorkerTracker,
    workers_allowed: bool,
    next_counts: Instant,
    next_discovery: Instant,
}

impl BullMqFollower {
    /// `saved_cursor` is what the store holds for this source (the engine reads it).
    pub fn new(config: BullMqConfig, saved_cursor: Option<&str>) -> Result<Self, RedisSourceError> {
        let shown_url = config.target.display_url();
        let client = redis_client(&config.target, &config.trust)?;
        let cursors = match saved_cursor.map(StreamCursors::parse) {
            Some(Ok(c)) => c,
            Some(Err(problem)) => {
                tracing::warn!(source = %config.name, %problem, "starting BullMQ queues from now");
                StreamCursors::default()
            }
            None => StreamCursors::default(),
        };
        Ok(BullMqFollower {
            config,
            client,
            shown_url,
            cursors,
        })
    }

    pub fn shown_url(&self) -> &str {
        &self.shown_url
    }

    /// Runs until cancelled, until the receiver is dropped, or until Redis refuses the
    /// credentials or a permission (returned as the error, after a `Stopped` state).
    /// It never touches a database: the caller stores each batch with its cursor.
    pub async fn run(
        mut self,
        tx: mpsc::Sender<BullMqUpdate>,
        cancel: CancellationToken,
    ) -> Result<(), RedisSourceError> {
        let mut backoff = Backoff::new(self.config.initial_backoff, self.config.max_backoff);
        let result = loop {
            if send(&tx, &cancel, BullMqUpdate::State(BullMqState::Connecting))
                .await
                .is_err()
            {
                break Ok(());
            }
            let reason = match self.connect(&cancel).await {
                Ok(mut session) => {
                    backoff.after_success();
                    match self.follow(&mut session, &tx, &cancel).await {
                        Broken::Done => break Ok(()),
                        Broken::Fatal(e) => break Err(e),
                        Broken::Retry(reason) => reason,
                    }
                }
                Err(Broken::Done) => break Ok(()),
                Err(Broken::Fatal(e)) => break Err(e),
                Err(Broken::Retry(reason)) => reason,
            };
            let delay = backoff.after_failure(None);
            tracing::info!(source = %self.config.name, url = %self.shown_url, %reason, next_in = ?delay, "BullMQ source reconnecting");
            let state = BullMqState::Reconnecting {
                attempt: backoff.failures(),
                next_in: delay,
                reason,
            };
            if send(&tx, &cancel, BullMqUpdate::State(state))
                .await
                .is_err()
            {
                break Ok(());
            }
            tokio::select! {
                _ = cancel.cancelled() => break Ok(()),
                _ = tokio::time::sleep(delay) => {}
            }
        };
        let state = match &result {
            Ok(()) => BullMqState::Stopped {
                reason: "stopped on request".into(),
                clean: true,
            },
            Err(e) => BullMqState::Stopped {
                reason: e.to_string(),
                clean: false,
            },
        };
        // Not through `send`: after cancellation the consumer still takes this.
        let _ =
            tokio::time::timeout(Duration::from_secs(5), tx.send(BullMqUpdate::State(state))).await;
        result
    }

    async fn connect(&self, cancel: &CancellationToken) -> Result<Session, Broken> {
        let timeout = self.config.connect_timeout;
        let reads = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(self.config.block + timeout));
        let cmds = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        let attempt = async {
            let read = self
                .client
                .get_multiplexed_async_connection_with_config(&reads)
                .await?;
            let cmd = self
                .client
                .get_multiplexed_async_connection_with_config(&cmds)
                .await?;
            Ok::<_, redis::RedisError>((read, cmd))
        };
        let (read, cmd) = tokio::select! {
            _ = cancel.cancelled() => return Err(Broken::Done),
            r = tokio::time::timeout(timeout + timeout, attempt) => match r {
                Err(_) => return Err(Broken::Retry(format!("no connection within {timeout:?}"))),
                Ok(Err(e)) => return Err(self.classify(e)),
                Ok(Ok(c)) => c,
            },
        };
        let now = Instant::now();
        Ok(Session {
            cmd,
            read,
            queues: Vec::new(),
            last_counts: HashMap::new(),
            workers: WorkerTracker::default(),
            workers_allowed: self.config.workers,
            next_counts: now,
            next_discovery: now,
        })
    }

    fn classify(&self, e: redis::RedisError) -> Broken {
        match RedisSourceError::fatal_from(&e, &self.shown_url, NEEDS) {
            Some(fatal) => Broken::Fatal(fatal),
            None => Broken::Retry(e.to_string()),
        }
    }

    async fn follow(
        &mut self,
        s: &mut Session,
        tx: &mpsc::Sender<BullMqUpdate>,
        cancel: &CancellationToken,
    ) -> Broken {
        match self.follow_inner(s, tx, cancel).await {
            Ok(()) => Broken::Done,
            Err(Broken::Retry(reason)) => {
                // A permission error surfaces as a plain command error: classify it.
                if reason.contains("NOPERM") {
                    Broken::Fatal(RedisSourceError::Permission {
                        url: self.shown_url.clone(),
                        reason,
                        needs: NEEDS,
                    })
                } else {
                    Broken::Retry(reason)
                }
            }
            Err(other) => other,
        }
    }

    async fn follow_inner(
        &mut self,
        s: &mut Session,
        tx: &mpsc::Sender<BullMqUpdate>,
        cancel: &CancellationToken,
    ) -> Result<(), Broken> {
        self.refresh_queues(s).await?;
        let queues = s.queues.iter().map(|q| q.queue.clone()).collect();
        send(
            tx,
            cancel,
            BullMqUpdate::State(BullMqState::Connected { queues }),
        )
        .await?;
        tracing::info!(source = %self.config.name, url = %self.shown_url, queues = s.queues.len(), "BullMQ source connected");
        self.start_positions(s, tx, cancel, true).await?;
        loop {
            if cancel.is_cancelled() {
                return Ok(());
            }
            if self.config.queues.is_empty() && Instant::now() >= s.next_discovery {
                let before = s.queues.len();
                self.refresh_queues(s).await?;
                if s.queues.len() != before {
                    self.start_positions(s, tx, cancel, false).await?;
                }
            }
            self.check_trims(s, tx, cancel).await?;
            if Instant::now() >= s.next_counts {
                self.poll_counts(s, tx, cancel).await?;
                s.next_counts = Instant::now() + self.config.counts_interval;
            }
            let wait = self
                .config
                .block
                .min(s.next_counts.saturating_duration_since(Instant::now()))
                .max(Duration::from_millis(1));
            if s.queues.is_empty() {
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(wait) => continue,
                }
            }
            let reply = tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                r = self.xread(s, wait) => r?,
            };
            if let Some(reply) = reply {
                self.deliver(s, reply, tx, cancel).await?;
            }
        }
    }

    /// The configured queues, or every queue found under the prefix.
    async fn refresh_queues(&self, s: &mut Session) -> Result<(), Broken> {
        let prefix = &self.config.prefix;
        let mut names: Vec<String> = self.config.queues.clone();
        if names.is_empty() {
            for pattern in discovery_patterns(prefix) {
                let mut cursor: u64 = 0;
                loop {
                    let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(1000)
                        .query_async(&mut s.cmd)
                        .await?;
                    names.extend(keys.iter().filter_map(|k| queue_of_key(prefix, k)));
                    if next == 0 {
                        break;
                    }
                    cursor = next;
                }
            }
            s.next_discovery = Instant::now() + self.config.discover_interval;
        }
        names.sort();
        names.dedup();
        s.queues = names.iter().map(|q| QueueKeys::new(prefix, q)).collect();
        Ok(())
    }

    /// Queues with no saved position start from the stream's current end (what `$`
    /// means to XREAD, made concrete so it can be saved), and history says so. A queue
    /// discovered while running is new, so it is read from its beginning.
    async fn start_positions(
        &mut self,
        s: &mut Session,
        tx: &mpsc::Sender<BullMqUpdate>,
        cancel: &CancellationToken,
        at_start: bool,
    ) -> Result<(), Broken> {
        let fresh: Vec<QueueKeys> = s
            .queues
            .iter()
            .filter(|q| self.cursors.get(&q.queue).is_none())
            .cloned()
            .collect();
        if fresh.is_empty() {
            return Ok(());
        }
        let mut notices = Vec::new();
        if at_start {
            let mut p = redis::pipe();
            for q in &fresh {
                p.cmd("XREVRANGE")
                    .arg(q.events())
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(1);
            }
            let lasts: Vec<Vec<(String, BTreeMap<String, redis::Value>)>> =
                p.query_async(&mut s.cmd).await?;
            for (q, last) in fresh.iter().zip(lasts) {
                let id = last
                    .first()
                    .and_then(|(id, _)| StreamId::parse(id))
                    .unwrap_or(StreamId::ZERO);
                self.cursors.advance(&q.queue, id);
                let message = if id == StreamId::ZERO {
                    format!(
                        "queue {}: no saved position and no events yet; following from the start",
                        q.queue
                    )
                } else {
                    format!(
                        "queue {}: no saved position; following new events after {id} (like XREAD $); earlier events were not imported",
                        q.queue
                    )
                };
                notices.push(Event::source_notice(
                    &self.config.name,
                    Status::Info,
                    message,
                ));
            }
        } else {
            for q in &fresh {
                self.cursors.advance(&q.queue, StreamId::ZERO);
                notices.push(Event::source_notice(
                    &self.config.name,
                    Status::Info,
                    format!(
                        "found new queue {}; following it from its first event",
                        q.queue
                    ),
                ));
            }
        }
        let batch = BullMqUpdate::Batch {
            events: notices,
            cursor: Some(self.cursors.encode()),
        };
        send(tx, cancel, batch).await
    }

    /// One round trip of XINFO STREAM for every queue; each trimmed one is restored.
    async fn check_trims(
        &mut self,
        s: &mut Session,
        tx: &mpsc::Sender<BullMqUpdate>,
        cancel: &CancellationToken,
    ) -> Result<(), Broken> {
        if s.queues.is_empty() {
            return Ok(());
        }
        let mut p = redis::pipe();
        p.ignore_errors();
        for q in &s.queues {
            p.cmd("XINFO").arg("STREAM").arg(q.events());
        }
        let replies: Vec<redis::RedisResult<redis::Value>> = p.query_async(&mut s.cmd).await?;
        let mut found = Vec::new();
        for (q, reply) in s.queues.iter().zip(replies) {
            let info = StreamInfo::from_reply(reply)?;
            let cursor = self.cursors.get(&q.queue).unwrap_or(StreamId::ZERO);
            if let Some(t) = detect(cursor, &info) {
                found.push((q.clone(), t));
            }
        }
        for (q, t) in found {
            let events = self.restore(s, &q, &t).await?;
            self.cursors.advance(&q.queue, t.resume_after);
            let batch = BullMqUpdate::Batch {
                events,
                cursor: Some(self.cursors.encode()),
            };
            send(tx, cancel, batch).await?;
        }
        Ok(())
    }

    async fn restore(
        &self,
        s: &mut Session,
        q: &QueueKeys,
        t: &Trimmed,
    ) -> Result<Vec<Event>, Broken> {
        let (completed, failed): (Vec<String>, Vec<String>) =
            finished_jobs_pipeline(q, t).query_async(&mut s.cmd).await?;
        tracing::warn!(source = %self.config.name, queue = %q.queue, cursor = %t.cursor, completed = completed.len(), failed = failed.len(), "BullMQ events stream trimmed past our position; restoring final states");
        let ids: Vec<String> = completed.iter().chain(&failed).cloned().collect();
        let hashes: Vec<Vec<Option<String>>> = if ids.is_empty() {
            Vec::new()
        } else {
            job_hashes_pipeline(q, &ids).query_async(&mut s.cmd).await?
        };
        let name = &self.config.name;
        let mut events = vec![gap_event(name, q, t, completed.len(), failed.len())];
        for (i, id) in ids.iter().enumerate() {
            let info = hashes.get(i).and_then(|h| JobInfo::from_hmget(h));
            events.push(restored_event(
                name,
                q,
                id,
                i < completed.len(),
                info.as_ref(),
            ));
        }
        Ok(events)
    }

    async fn poll_counts(
        &self,
        s: &mut Session,
        tx: &mpsc::Sender<BullMqUpdate>,
        cancel: &CancellationToken,
    ) -> Result<(), Broken> {
        if s.queues.is_empty() {
            return Ok(());
        }
        let values: Vec<u64> = counts_pipeline(&s.queues).query_async(&mut s.cmd).await?;
        let mut events = Vec::new();
        let all = parse_counts(&values, s.queues.len());
        for (q, (counts, paused)) in s.queues.iter().zip(&all) {
            let now = (counts.clone(), *paused);
            if s.last_counts.get(&q.queue) != Some(&now) {
                events.push(queue_event(&self.config.name, q, counts, *paused));
                s.last_counts.insert(q.queue.clone(), now);
            }
        }
        if s.workers_allowed {
            let listed: redis::RedisResult<String> = redis::cmd("CLIENT")
                .arg("LIST")
                .query_async(&mut s.cmd)
                .await;
            match listed {
                Ok(text) => {
                    let clients = parse_client_list(&text);
                    for (q, (counts, _)) in s.queues.iter().zip(&all) {
                        events.extend(s.workers.update(
                            &self.config.name,
                            q,
                            &clients,
                            counts.active.unwrap_or(0),
                        ));
                    }
                }
                Err(e) if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() => {
                    return Err(e.into())
                }
                Err(e) => {
                    s.workers_allowed = false;
                    tracing::info!(source = %self.config.name, error = %e, "CLIENT LIST refused; workers are not shown");
                    events.push(Event::source_notice(
                        &self.config.name,
                        Status::Info,
                        format!("workers are not shown: this server refuses CLIENT LIST ({e}); jobs, queues and counts are unaffected"),
                    ));
                }
            }
        }
        if events.is_empty() {
            return Ok(());
        }
        send(
            tx,
            cancel,
            BullMqUpdate::Batch {
                events,
                cursor: None,
            },
        )
        .await
    }

    async fn xread(
        &self,
        s: &mut Session,
        wait: Duration,
    ) -> Result<Option<StreamReadReply>, Broken> {
        let mut c = redis::cmd("XREAD");
        c.arg("COUNT")
            .arg(self.config.batch.max(1))
            .arg("BLOCK")
            .arg(wait.as_millis().max(1) as u64)
            .arg("STREAMS");
        for q in &s.queues {
            c.arg(q.events());
        }
        for q in &s.queues {
            c.arg(
                self.cursors
                    .get(&q.queue)
                    .unwrap_or(StreamId::ZERO)
                    .to_string(),
            );
        }
        Ok(c.query_async(&mut s.read).await?)
    }

    /// Maps entries to events (with one pipelined HMGET for the jobs that need it) and
    /// sends them with the advanced cursor.
    async fn deliver(
        &mut self,
        s: &mut Session,
        reply: StreamReadReply,
        tx: &mpsc::Sender<BullMqUpdate>,
        cancel: &CancellationToken,
    ) -> Result<(), Broken> {
        let by_key: HashMap<String, QueueKeys> =
            s.queues.iter().map(|q| (q.events(), q.clone())).collect();
        let mut entries = Vec::new();
        for stream in reply.keys {
            let Some(q) = by_key.get(&stream.key) else {
                continue;
            };
            for entry in stream.ids {
                let fields: BTreeMap<String, String> = entry
                    .map
                    .iter()
                    .map(|(k, v)| (k.clone(), value_text(v)))
                    .collect();
                entries.push((q.clone(), entry.id, fields));
            }
        }
        let mut wanted: Vec<(QueueKeys, String)> = entries
            .iter()
            .filter(|(_, _, f)| wants_job_info(f))
            .filter_map(|(q, _, f)| f.get("jobId").map(|j| (q.clone(), j.clone())))
            .collect();
        wanted.sort();
        wanted.dedup();
        let mut infos: HashMap<(String, String), JobInfo> = HashMap::new();
        if !wanted.is_empty() {
            let mut p = redis::pipe();
            for (q, job) in &wanted {
                p.cmd("HMGET").arg(q.job(job)).arg(&JOB_FIELDS[..]);
            }
            let hashes: Vec<Vec<Option<String>>> = p.query_async(&mut s.cmd).await?;
            for ((q, job), h) in wanted.into_iter().zip(hashes) {
                if let Some(info) = JobInfo::from_hmget(&h) {
                    infos.insert((q.queue, job), info);
                }
            }
        }
        let mut events = Vec::with_capacity(entries.len());
        for (q, id, fields) in &entries {
            let info = fields
                .get("jobId")
                .and_then(|j| infos.get(&(q.queue.clone(), j.clone())));
            events.push(entry_event(&self.config.name, q, id, fields, info));
            if let Some(sid) = StreamId::parse(id) {
                self.cursors.advance(&q.queue, sid);
            }
        }
        let batch = BullMqUpdate::Batch {
            events,
            cursor: Some(self.cursors.encode()),
        };
        send(tx, cancel, batch).await
    }
}

/// Sends an update, waiting for room (the stream waits for us: back-pressure, not
/// loss). Cancellation and a gone receiver both end the source.
async fn send(
    tx: &mpsc::Sender<BullMqUpdate>,
    cancel: &CancellationToken,
    update: BullMqUpdate,
) -> Result<(), Broken> {
    tokio::select! {
        _ = cancel.cancelled() => Err(Broken::Done),
        r = tx.send(update) => r.map_err(|_| Broken::Done),
    }
}

fn value_text(v: &redis::Value) -> String {
    match v {
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        redis::Value::SimpleString(s) => s.clone(),
        redis::Value::Int(i) => i.to_string(),
        other => format!("{other:?}"),
    }
}
