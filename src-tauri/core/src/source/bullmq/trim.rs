//! Noticing that BullMQ's events stream was trimmed past our position, and what we can
//! restore.
//!
//! BullMQ caps its events stream (`MAXLEN ~ 10000` by default), and an operator may
//! trim it; if Telltale was stopped or slow, entries it never read are gone. Trimming
//! removes the oldest entries, so `XINFO STREAM` tells:
//!
//! - the stream is empty but its last id is beyond our position: everything after our
//!   position was deleted (certain);
//! - `max-deleted-entry-id` (Redis 7, set by `XDEL`) is beyond our position: certain;
//! - the first surviving entry is beyond our position: entries between may have been
//!   deleted. Ids do not say whether any existed, so this is reported as possible. (It
//!   only happens when the trim cut at or after our position, i.e. we were a whole
//!   MAXLEN behind.)
//! - we never read anything (a new queue) and `entries-added` exceeds `length`:
//!   entries we never saw were deleted.
//!
//! The final states of jobs that finished meanwhile are still in the `completed` and
//! `failed` sorted sets (scored by finish time) and in the job hashes: those are
//! restored as events, and a `gap` event says what was lost and what was restored.
//! Intermediate steps (progress, retries) cannot be recovered. The window is taken
//! exactly (our position's time to the end of the loss), so nothing we already stored
//! is restored again; the sets are scored on the workers' clocks and stream ids on
//! Redis's, so a worker clock far off Redis's can move a job across the window's edge.

use std::collections::BTreeMap;

use super::job_event::{JobInfo, JOB_FIELDS};
use super::keys::QueueKeys;
use super::stream_id::StreamId;
use crate::model::{now_millis, EntityKind, Event, Millis, Status};

/// Most jobs restored per set per gap: memory stays bounded after a very long outage.
pub const MAX_BACKFILL: usize = 10_000;

/// What `XINFO STREAM` says that matters here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamInfo {
    pub exists: bool,
    pub length: u64,
    pub first: Option<StreamId>,
    pub last_generated: Option<StreamId>,
    pub max_deleted: Option<StreamId>,
    /// Redis 7: entries ever added (deleted ones included).
    pub entries_added: Option<u64>,
}

impl StreamInfo {
    /// From `XINFO STREAM` (an error reply means the stream does not exist).
    pub fn from_reply(
        reply: Result<redis::Value, redis::RedisError>,
    ) -> Result<StreamInfo, redis::RedisError> {
        let value = match reply {
            Ok(v) => v,
            Err(e) if e.code() == Some("ERR") && e.to_string().contains("no such key") => {
                return Ok(StreamInfo::default());
            }
            Err(e) => return Err(e),
        };
        let map = as_map(&value);
        let first = map
            .get("first-entry")
            .and_then(|v| match v {
                redis::Value::Array(a) => a.first().and_then(text),
                _ => None,
            })
            .and_then(|s| StreamId::parse(&s));
        let max_deleted = map
            .get("max-deleted-entry-id")
            .and_then(text)
            .and_then(|s| StreamId::parse(&s))
            .filter(|id| *id > StreamId::ZERO);
        let id_of = |k: &str| map.get(k).and_then(text).and_then(|s| StreamId::parse(&s));
        let num = |k: &str| {
            map.get(k)
                .and_then(text)
                .and_then(|s| s.parse::<u64>().ok())
        };
        Ok(StreamInfo {
            exists: true,
            length: num("length").unwrap_or(0),
            first,
            last_generated: id_of("last-generated-id"),
            max_deleted,
            entries_added: num("entries-added"),
        })
    }
}

/// Entries after our position were deleted before we read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trimmed {
    /// Our position when the loss was found.
    pub cursor: StreamId,
    /// Where to continue reading: nothing at or before it is left to read.
    pub resume_after: StreamId,
    /// Upper end (ms) of the lost window, for restoring final states.
    pub lost_until_ms: Millis,
    /// Redis 7's `max-deleted-entry-id` proved it; otherwise it is a possibility.
    pub certain: bool,
}

/// Compares the stream with our position.
pub fn detect(cursor: StreamId, info: &StreamInfo) -> Option<Trimmed> {
    if !info.exists {
        // A stream that vanished after we read from it (obliterated, or deleted by
        // hand): anything written to it since our position is gone.
        return (cursor > StreamId::ZERO).then(|| Trimmed {
            cursor,
            resume_after: cursor,
            lost_until_ms: now_millis(),
            certain: true,
        });
    }
    if info.length == 0 {
        return match info.last_generated {
            Some(last) if last > cursor => Some(Trimmed {
                cursor,
                resume_after: last,
                lost_until_ms: last.millis(),
                certain: true,
            }),
            _ => None,
        };
    }
    if let Some(max_deleted) = info.max_deleted.filter(|d| *d > cursor) {
        return Some(Trimmed {
            cursor,
            resume_after: max_deleted,
            lost_until_ms: max_deleted.millis(),
            certain: true,
        });
    }
    let first = info.first?;
    if first <= cursor {
        return None;
    }
    if cursor == StreamId::ZERO {
        // Nothing read yet: only a deletion of entries we never saw is a loss.
        let deleted = info.entries_added.map(|a| a > info.length).unwrap_or(false);
        return deleted.then(|| Trimmed {
            cursor,
            resume_after: first.predecessor(),
            lost_until_ms: first.millis(),
            certain: true,
        });
    }
    Some(Trimmed {
        cursor,
        resume_after: first.predecessor(),
        lost_until_ms: first.millis(),
        certain: false,
    })
}

/// Commands (one round trip) listing the jobs that finished in the lost window.
pub fn finished_jobs_pipeline(keys: &QueueKeys, t: &Trimmed) -> redis::Pipeline {
    let mut p = redis::pipe();
    for set in ["completed", "failed"] {
        p.cmd("ZRANGEBYSCORE")
            .arg(keys.key(set))
            .arg(t.cursor.millis())
            .arg(t.lost_until_ms)
            .arg("LIMIT")
            .arg(0)
            .arg(MAX_BACKFILL);
    }
    p
}

/// Commands (one round trip) reading those jobs' hashes.
pub fn job_hashes_pipeline(keys: &QueueKeys, job_ids: &[String]) -> redis::Pipeline {
    let mut p = redis::pipe();
    for id in job_ids {
        p.cmd("HMGET").arg(keys.job(id)).arg(&JOB_FIELDS[..]);
    }
    p
}

/// The restored final state of one job.
pub fn restored_event(
    source: &str,
    keys: &QueueKeys,
    job_id: &str,
    completed: bool,
    job: Option<&JobInfo>,
) -> Event {
    let status = if completed {
        Status::Completed
    } else {
        Status::Failed
    };
    let mut e = Event::new(
        source,
        EntityKind::Job,
        format!("{}:{job_id}", keys.queue),
        status,
    );
    e.parent = Some(keys.queue.clone());
    e.stage = job.and_then(|j| j.name.clone());
    let finished = job.and_then(|j| j.finished_on);
    e.occurred_at = finished;
    if let Some(p) = job
        .and_then(|j| j.progress.as_deref())
        .and_then(|p| p.parse::<f64>().ok())
    {
        e.progress = Some(p.clamp(0.0, 100.0));
    }
    if !completed {
        e.error = job.and_then(|j| j.failed_reason.clone());
    }
    let set = if completed { "completed" } else { "failed" };
    e.message = Some(format!(
        "restored from the {set} set: the events stream was trimmed"
    ));
    e.channel = Some(keys.events());
    // Stable, so restoring the same job twice stores it once.
    e.remote_id = Some(format!(
        "{}/restored/{job_id}/{}",
        keys.queue,
        finished.unwrap_or(0)
    ));
    e.raw = serde_json::json!({
        "restored": set,
        "jobId": job_id,
        "finishedOn": finished,
        "progress": job.and_then(|j| j.progress.clone()),
        "failedReason": job.and_then(|j| j.failed_reason.clone()),
        "attemptsMade": job.and_then(|j| j.attempts_made),
    })
    .to_string();
    e
}

/// Whether an event is a restored final state (see [`restored_event`]).
pub fn is_restored(e: &Event) -> bool {
    e.remote_id
        .as_deref()
        .is_some_and(|id| id.contains("/restored/"))
}

/// The gap event: what was lost, and what was restored.
pub fn gap_event(
    source: &str,
    keys: &QueueKeys,
    t: &Trimmed,
    completed: usize,
    failed: usize,
) -> Event {
    let certainty = if t.certain { "was" } else { "may have been" };
    let capped = if completed >= MAX_BACKFILL || failed >= MAX_BACKFILL {
        format!(" (at most {MAX_BACKFILL} per set)")
    } else {
        String::new()
    };
    let message = format!(
        "the events stream of queue {} {certainty} trimmed past Telltale's position {}: events up to {} are missing; \
         found {completed} completed and {failed} failed jobs in the completed/failed sets for that time{capped} and restored \
         the final states history did not already have; \
         progress and retries of those jobs are not recoverable",
        keys.queue, t.cursor, t.resume_after
    );
    let mut e = Event::source_notice(source, Status::Gap, message);
    e.occurred_at = Some(t.cursor.millis());
    e.raw = serde_json::json!({
        "gap": "stream-trimmed",
        "queue": keys.queue,
        "from": t.cursor.millis(),
        "to": t.lost_until_ms,
        "cursor": t.cursor.to_string(),
        "resumeAfter": t.resume_after.to_string(),
        "certain": t.certain,
        "restoredCompleted": completed,
        "restoredFailed": failed,
    })
    .to_string();
    e
}

fn as_map(v: &redis::Value) -> BTreeMap<String, redis::Value> {
    let mut out = BTreeMap::new();
    match v {
        redis::Value::Map(pairs) => {
            for (k, v) in pairs {
                if let Some(k) = text(k) {
                    out.insert(k, v.clone());
                }
            }
        }
        redis::Value::Array(items) => {
            for pair in items.chunks(2) {
                if let [k, v] = pair {
                    if let Some(k) = text(k) {
                        out.insert(k, v.clone());
                    }
                }
            }
        }
        _ => {}
    }
    out
}

fn text(v: &redis::Value) -> Option<String> {
    match v {
        redis::Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        redis::Value::SimpleString(s) => Some(s.clone()),
        redis::Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> StreamId {
        StreamId::parse(s).unwrap()
    }

    #[test]
    fn detection() {
        let info = |first: Option<&str>, del: Option<&str>| StreamInfo {
            exists: true,
            length: 5,
            first: first.map(id),
            last_generated: Some(id("40-0")),
            max_deleted: del.map(id),
            entries_added: Some(9),
        };
        // Deletions only up to what we read: no gap.
        assert_eq!(detect(id("10-0"), &info(Some("10-0"), Some("9-0"))), None);
        assert_eq!(detect(id("10-0"), &info(Some("10-0"), None)), None);
        // XDEL past our position (Redis 7): certain.
        let t = detect(id("10-0"), &info(Some("30-0"), Some("29-5"))).unwrap();
        assert_eq!(
            (t.resume_after, t.lost_until_ms, t.certain),
            (id("29-5"), 29, true)
        );
        // The first surviving entry after our position: possible.
        let t = detect(id("10-0"), &info(Some("30-0"), None)).unwrap();
        assert_eq!(
            (t.resume_after, t.certain),
            (id("29-18446744073709551615"), false)
        );
        // Trimmed to nothing after we read up to 10-0: certain, resume at the end.
        let empty = StreamInfo {
            length: 0,
            first: None,
            ..info(None, None)
        };
        let t = detect(id("10-0"), &empty).unwrap();
        assert_eq!((t.resume_after, t.certain), (id("40-0"), true));
        assert_eq!(detect(id("40-0"), &empty), None);
        // Never read: a loss only if something was deleted.
        assert!(
            detect(StreamId::ZERO, &info(Some("30-0"), None))
                .unwrap()
                .certain
        );
        let untouched = StreamInfo {
            entries_added: Some(5),
            ..info(Some("30-0"), None)
        };
        assert_eq!(detect(StreamId::ZERO, &untouched), None);
        // A stream that disappeared after we read from it.
        assert!(detect(id("10-0"), &StreamInfo::default()).is_some());
        assert_eq!(detect(StreamId::ZERO, &StreamInfo::default()), None);
    }

    #[test]
    fn xinfo_reply_parses() {
        use redis::Value::{Array, BulkString, Int};
        let b = |s: &str| BulkString(s.as_bytes().to_vec());
        let reply = Array(vec![
            b("length"),
            Int(2),
            b("max-deleted-entry-id"),
            b("5-1"),
            b("first-entry"),
            Array(vec![b("6-0"), Array(vec![b("event"), b("added")])]),
        ]);
        let info = StreamInfo::from_reply(Ok(reply)).unwrap();
        assert_eq!(info.first, Some(id("6-0")));
        assert_eq!(info.max_deleted, Some(id("5-1")));
        let zero = Array(vec![b("max-deleted-entry-id"), b("0-0")]);
        assert_eq!(StreamInfo::from_reply(Ok(zero)).unwrap().max_deleted, None);
    }

    #[test]
    fn restored_events_are_stable() {
        let keys = QueueKeys::new("bull", "q");
        let job = JobInfo {
            progress: Some("80".into()),
            failed_reason: Some("boom".into()),
            finished_on: Some(1234),
            ..JobInfo::default()
        };
        let e = restored_event("s", &keys, "9", false, Some(&job));
        assert_eq!(
            (e.status.clone(), e.progress, e.error.as_deref()),
            (Status::Failed, Some(80.0), Some("boom"))
        );
        assert_eq!(e.remote_id.as_deref(), Some("q/restored/9/1234"));
        let t = Trimmed {
            cursor: id("10-0"),
            resume_after: id("20-0"),
            lost_until_ms: 20,
            certain: true,
        };
        let g = gap_event("s", &keys, &t, 3, 1);
        assert_eq!(g.status, Status::Gap);
        assert!(g.message.unwrap().contains("3 completed and 1 failed"));
    }
}
