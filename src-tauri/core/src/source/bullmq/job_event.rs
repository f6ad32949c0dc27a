//! BullMQ's event-stream entries as Telltale events.
//!
//! BullMQ's Lua scripts write entries such as `event=active jobId=7 prev=waiting`,
//! `event=progress jobId=7 data=40`, `event=completed jobId=7 returnvalue=... prev=active`,
//! `event=failed jobId=7 failedReason=... prev=active`. A job that fails and will be
//! retried gets no `failed` entry: it goes back with `event=waiting prev=active` (or
//! `delayed` with a backoff), which is shown as `retrying`.
//!
//! Jobs are named `<queue>:<jobId>` (ids are only unique within a queue), with the
//! queue as parent. The job's own hash, when read, adds what the entry lacks: its name,
//! attempts and final progress. It reflects the job now, not at the entry's time, so it
//! is only used for what the entry's moment cannot contradict.

use std::collections::BTreeMap;

use serde_json::Value;

use super::keys::QueueKeys;
use super::stream_id::StreamId;
use crate::model::{EntityKind, Event, Millis, Status};

/// Longest text kept from a reason or progress object in `error` / `message`.
const MAX_TEXT: usize = 2_000;

/// Fields of a job's hash the mapping can use (`HMGET`, read-only).
pub const JOB_FIELDS: [&str; 7] = [
    "name",
    "atm",
    "ats",
    "attemptsMade",
    "progress",
    "failedReason",
    "finishedOn",
];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobInfo {
    pub name: Option<String>,
    /// Attempts finished (BullMQ 5+: `atm`; older: `attemptsMade`).
    pub attempts_made: Option<u64>,
    /// Attempts started (`ats`).
    pub attempts_started: Option<u64>,
    /// The job's progress as BullMQ stores it (JSON text).
    pub progress: Option<String>,
    pub failed_reason: Option<String>,
    pub finished_on: Option<Millis>,
}

impl JobInfo {
    /// From `HMGET key` + [`JOB_FIELDS`] (missing job: every value nil).
    pub fn from_hmget(values: &[Option<String>]) -> Option<JobInfo> {
        if values.iter().all(Option::is_none) {
            return None;
        }
        let get = |i: usize| values.get(i).cloned().flatten().filter(|s| !s.is_empty());
        let num = |i: usize| get(i).and_then(|s| s.parse::<u64>().ok());
        Some(JobInfo {
            name: get(0),
            attempts_made: num(1).or_else(|| num(3)),
            attempts_started: num(2),
            progress: get(4),
            failed_reason: get(5),
            finished_on: get(6).and_then(|s| s.parse().ok()),
        })
    }
}

/// Which entries are worth a look at the job's hash.
pub fn wants_job_info(fields: &BTreeMap<String, String>) -> bool {
    matches!(
        fields.get("event").map(String::as_str),
        Some("active" | "completed" | "failed" | "waiting" | "delayed" | "added")
    ) && fields.contains_key("jobId")
}

/// One stream entry as an event. `entry_id` is the stream id; it dates the event and,
/// with the queue, is its remote id (so a re-read entry is stored once).
pub fn entry_event(
    source: &str,
    keys: &QueueKeys,
    entry_id: &str,
    fields: &BTreeMap<String, String>,
    job: Option<&JobInfo>,
) -> Event {
    let event_name = fields.get("event").map(String::as_str).unwrap_or("");
    let get = |k: &str| fields.get(k).map(String::as_str);
    let mut e = match get("jobId") {
        Some(job_id) => {
            let mut e = Event::new(
                source,
                EntityKind::Job,
                format!("{}:{job_id}", keys.queue),
                Status::Info,
            );
            e.parent = Some(keys.queue.clone());
            job_status(&mut e, event_name, &get, job);
            e
        }
        None => {
            let mut e = Event::new(source, EntityKind::Queue, keys.queue.clone(), Status::Info);
            queue_status(&mut e, event_name, &get);
            e
        }
    };
    e.occurred_at = StreamId::parse(entry_id).map(StreamId::millis);
    e.channel = Some(keys.events());
    e.remote_id = Some(format!("{}/{entry_id}", keys.queue));
    e.raw = serde_json::to_string(fields).unwrap_or_default();
    e
}

fn job_status<'a>(
    e: &mut Event,
    event_name: &str,
    get: &impl Fn(&str) -> Option<&'a str>,
    job: Option<&JobInfo>,
) {
    let prev = get("prev");
    e.stage = get("name")
        .map(str::to_string)
        .or_else(|| job.and_then(|j| j.name.clone()));
    match event_name {
        "added" => e.status = Status::Queued,
        "waiting" if matches!(prev, Some("active" | "failed")) => {
            e.status = Status::Retrying;
            e.message = Some(match job.and_then(|j| j.attempts_made) {
                Some(n) => format!("attempt {n} failed; waiting to retry"),
                None => "failed; waiting to retry".into(),
            });
            e.error = job.and_then(|j| j.failed_reason.as_deref()).map(bounded);
        }
        "waiting" | "waiting-children" => e.status = Status::Queued,
        "active" => {
            e.status = Status::Running;
            if let Some(n) = job.and_then(|j| j.attempts_started) {
                e.message = Some(format!("attempt {n}"));
            }
        }
        "progress" => {
            e.status = Status::Info;
            apply_progress(e, get("data"));
        }
        "completed" => {
            e.status = Status::Completed;
            // BullMQ keeps the last reported progress on a completed job; show the same.
            apply_progress(e, job.and_then(|j| j.progress.as_deref()));
        }
        "failed" => {
            e.status = Status::Failed;
            e.error = get("failedReason").map(bounded);
            apply_progress(e, job.and_then(|j| j.progress.as_deref()));
            if let Some(n) = job.and_then(|j| j.attempts_made) {
                e.message = Some(format!("failed after {n} attempts"));
            }
        }
        "delayed" => {
            e.status =
                if prev == Some("active") || job.and_then(|j| j.attempts_made).unwrap_or(0) > 0 {
                    Status::Retrying
                } else {
                    Status::Delayed
                };
            if let Some(until) = get("delay").and_then(|d| d.parse::<i64>().ok()) {
                e.message = Some(format!("delayed until {}", show_time(until)));
            }
        }
        "stalled" => e.status = Status::Stalled,
        "retries-exhausted" => {
            e.status = Status::Info;
            e.message = Some(match get("attemptsMade") {
                Some(n) => format!("retries exhausted after {n} attempts"),
                None => "retries exhausted".into(),
            });
        }
        "removed" => match prev {
            // Removing a finished job does not change how it ended.
            Some(p @ ("completed" | "failed")) => {
                e.status = Status::Info;
                e.message = Some(format!("removed from Redis (was {p})"));
            }
            _ => {
                e.status = Status::Cancelled;
                e.message = Some("removed before it finished".into());
            }
        },
        "duplicated" | "deduplicated" | "debounced" => {
            e.status = Status::Info;
            e.message = Some(format!("{event_name}: not added again"));
        }
        other => e.status = Status::Unknown(other.to_string()),
    }
}

fn queue_status<'a>(e: &mut Event, event_name: &str, get: &impl Fn(&str) -> Option<&'a str>) {
    match event_name {
        "paused" => e.status = Status::Paused,
        "resumed" => {
            e.status = Status::Info;
            e.message = Some("resumed".into());
        }
        "drained" => {
            e.status = Status::Info;
            e.message = Some("drained: no more waiting jobs".into());
        }
        "cleaned" => {
            e.status = Status::Info;
            e.message = Some(format!("cleaned {} jobs", get("count").unwrap_or("?")));
        }
        other => e.status = Status::Unknown(other.to_string()),
    }
}

/// BullMQ progress is any JSON: a number is a percentage; anything else is shown.
fn apply_progress(e: &mut Event, data: Option<&str>) {
    let Some(data) = data else { return };
    match serde_json::from_str::<Value>(data) {
        Ok(Value::Number(n)) => {
            e.progress = n
                .as_f64()
                .filter(|p| p.is_finite())
                .map(|p| p.clamp(0.0, 100.0))
        }
        Ok(Value::Object(o)) => {
            if let Some(p) = ["progress", "percent", "percentage"]
                .iter()
                .find_map(|k| o.get(*k).and_then(Value::as_f64))
            {
                e.progress = Some(p.clamp(0.0, 100.0));
            }
            if e.message.is_none() {
                e.message = Some(bounded(data));
            }
        }
        _ => {
            if e.message.is_none() && !data.is_empty() {
                e.message = Some(bounded(data));
            }
        }
    }
}

fn bounded(s: &str) -> String {
    if s.len() <= MAX_TEXT {
        return s.to_string();
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn show_time(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn ev(pairs: &[(&str, &str)], job: Option<&JobInfo>) -> Event {
        entry_event(
            "s",
            &QueueKeys::new("bull", "q"),
            "1700000000000-3",
            &fields(pairs),
            job,
        )
    }

    #[test]
    fn lifecycle() {
        let added = ev(
            &[("event", "added"), ("jobId", "7"), ("name", "resize")],
            None,
        );
        assert_eq!(
            (added.kind, added.entity.as_str(), &added.status),
            (EntityKind::Job, "q:7", &Status::Queued)
        );
        assert_eq!(added.parent.as_deref(), Some("q"));
        assert_eq!(added.stage.as_deref(), Some("resize"));
        assert_eq!(added.remote_id.as_deref(), Some("q/1700000000000-3"));
        assert_eq!(added.occurred_at, Some(1_700_000_000_000));
        assert_eq!(added.channel.as_deref(), Some("bull:q:events"));
        let info = JobInfo {
            attempts_started: Some(2),
            attempts_made: Some(1),
            progress: Some("60".into()),
            failed_reason: Some("boom".into()),
            ..JobInfo::default()
        };
        let active = ev(
            &[("event", "active"), ("jobId", "7"), ("prev", "waiting")],
            Some(&info),
        );
        assert_eq!(active.status, Status::Running);
        assert_eq!(active.message.as_deref(), Some("attempt 2"));
        let p = ev(
            &[("event", "progress"), ("jobId", "7"), ("data", "40")],
            None,
        );
        assert_eq!((p.status.clone(), p.progress), (Status::Info, Some(40.0)));
        let p = ev(
            &[
                ("event", "progress"),
                ("jobId", "7"),
                ("data", r#"{"percent":20,"step":"ocr"}"#),
            ],
            None,
        );
        assert_eq!(p.progress, Some(20.0));
        let retry = ev(
            &[("event", "waiting"), ("jobId", "7"), ("prev", "active")],
            Some(&info),
        );
        assert_eq!(retry.status, Status::Retrying);
        assert_eq!(retry.error.as_deref(), Some("boom"));
        let done = ev(
            &[
                ("event", "completed"),
                ("jobId", "7"),
                ("returnvalue", "{}"),
                ("prev", "active"),
            ],
            Some(&info),
        );
        assert_eq!(
            (done.status.clone(), done.progress),
            (Status::Completed, Some(60.0))
        );
        let failed = ev(
            &[
                ("event", "failed"),
                ("jobId", "7"),
                ("failedReason", "disk full"),
                ("prev", "active"),
            ],
            None,
        );
        assert_eq!(
            (failed.status.clone(), failed.error.as_deref()),
            (Status::Failed, Some("disk full"))
        );
        let gone = ev(
            &[("event", "removed"), ("jobId", "7"), ("prev", "completed")],
            None,
        );
        assert_eq!(gone.status, Status::Info);
        let cancelled = ev(
            &[("event", "removed"), ("jobId", "7"), ("prev", "wait")],
            None,
        );
        assert_eq!(cancelled.status, Status::Cancelled);
        let odd = ev(&[("event", "teleported"), ("jobId", "7")], None);
        assert_eq!(odd.status, Status::Unknown("teleported".into()));
        let drained = ev(&[("event", "drained")], None);
        assert_eq!(
            (drained.kind, drained.entity.as_str()),
            (EntityKind::Queue, "q")
        );
        let raw: BTreeMap<String, String> = serde_json::from_str(&failed.raw).unwrap();
        assert_eq!(raw["failedReason"], "disk full");
    }

    #[test]
    fn job_info_from_hmget() {
        let v = |s: &str| Some(s.to_string());
        let j = JobInfo::from_hmget(&[v("n"), v("2"), v("2"), None, v("100"), None, v("1700")])
            .unwrap();
        assert_eq!(j.attempts_made, Some(2));
        assert_eq!(j.finished_on, Some(1700));
        let old = JobInfo::from_hmget(&[None, None, None, v("3"), None, None, None]).unwrap();
        assert_eq!(old.attempts_made, Some(3));
        assert_eq!(
            JobInfo::from_hmget(&[None, None, None, None, None, None, None]),
            None
        );
    }
}
