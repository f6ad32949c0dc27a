//! Recognising the seeds' payload shapes with no configuration.
//!
//! One generic reader, not one parser per backend: the seeds agree on far more than
//! they differ (ids in `*Id` fields, `status`, `progress`, `message`, `error`), so
//! each shape only adds what is particular to it — an envelope to open, a type word
//! that implies a status, a nested object that is the real subject.

use serde_json::{Map, Value};

use crate::model::{EntityKind, Status};

use super::channel::ChannelHint;
use super::event_type::{self, EventType};
use super::extract::{self, clip, MAX_ID, MAX_TEXT};
use super::fields::{Fields, UNKNOWN};
use super::{status, timestamp};

type Obj = Map<String, Value>;

/// Where the job's id may be, most specific first. The group ids (`PARENT_IDS`) are
/// tried only after these and the channel: they name the group, and are the entity
/// only when the message is about the group itself.
const JOB_IDS: [&str; 6] = ["jobId", "runId", "testId", "poId", "taskId", "id"];
const PARENT_IDS: [&str; 2] = ["batchId", "workflowId"];
const QUEUE_IDS: [&str; 3] = ["queueName", "queue", "name"];
const WORKER_IDS: [&str; 3] = ["workerId", "worker", "id"];
const TIME_KEYS: [&str; 4] = ["timestamp", "ts", "time", "occurredAt"];

/// A JSON object payload.
pub(super) fn recognise(payload: &Obj, outer: ChannelHint) -> Fields {
    let (body, hint) = open_envelope(payload, outer);
    let type_word = body.get("type").and_then(extract::word);
    let etype = type_word
        .as_deref()
        .and_then(event_type::classify)
        .or_else(|| hint.event.as_deref().and_then(event_type::classify));

    // Without a type word, the fields decide: seed 004's queue and worker payloads
    // arriving on a channel that did not say what they are.
    let etype = etype.or_else(|| implied_by_fields(body, &hint));

    match etype {
        Some(EventType::Notice(st)) => {
            let label = type_word.as_deref().or(hint.event.as_deref());
            notice(body, st, label)
        }
        Some(EventType::Queue) => queue(body, &hint),
        Some(EventType::Worker) => worker(body, &hint),
        Some(EventType::Snapshot) => match body.get("run") {
            // Seed 003: the run object is the job; the wrapper says only "snapshot".
            Some(Value::Object(run)) => job(run, body, &hint, Some(&EventType::JobUpdate), None),
            _ => job(body, body, &hint, None, type_word.as_deref()),
        },
        other => job(body, body, &hint, other.as_ref(), type_word.as_deref()),
    }
}

/// A payload that is not a JSON object: not JSON at all, an array, a scalar, empty.
/// It still says something happened on this channel; `text` is shown as its message
/// when it is readable.
pub(super) fn unrecognised(hint: ChannelHint, text: Option<&str>) -> Fields {
    Fields {
        kind: hint.kind,
        entity: hint.entity,
        parent: hint.parent,
        status: Some(Status::Unknown(UNKNOWN.to_string())),
        message: text
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| clip(t, MAX_TEXT)),
        ..Fields::default()
    }
}

/// Seed 000 publishes `{channel: "batch:{id}", data: {...}, tenantId}` on one Redis
/// channel for every batch: the data is the message, the inner channel names the batch.
fn open_envelope(payload: &Obj, outer: ChannelHint) -> (&Obj, ChannelHint) {
    match (payload.get("channel"), payload.get("data")) {
        (Some(Value::String(ch)), Some(Value::Object(data))) => {
            (data, ChannelHint::parse(Some(ch)).or(outer))
        }
        _ => (payload, outer),
    }
}

fn implied_by_fields(body: &Obj, hint: &ChannelHint) -> Option<EventType> {
    if extract::first_id(body, &JOB_IDS[..5]).is_some() {
        return None;
    }
    match hint.kind {
        Some(EntityKind::Queue) => return Some(EventType::Queue),
        Some(EntityKind::Worker) => return Some(EventType::Worker),
        _ => {}
    }
    if body.get("workerId").and_then(extract::id).is_some() {
        return Some(EventType::Worker);
    }
    let names_queue = body.get("queueName").and_then(extract::id).is_some();
    (names_queue && extract::counts(body).is_some()).then_some(EventType::Queue)
}

/// A message about a job (or a batch, or a run: all "jobs" on the board).
///
/// `subject` is the object describing the job; `envelope` is the message around it
/// (the same object except for seed 003's snapshot), read for message-level fields
/// such as the timestamp.
fn job(
    subject: &Obj,
    envelope: &Obj,
    hint: &ChannelHint,
    etype: Option<&EventType>,
    type_word: Option<&str>,
) -> Fields {
    let is_batch = matches!(etype, Some(EventType::Batch(_)));
    let own_id = if is_batch {
        extract::first_id(subject, &["batchId"]).or_else(|| hint.parent.clone())
    } else {
        extract::first_id(subject, &JOB_IDS)
    };
    let entity = own_id
        .clone()
        .or_else(|| hint.entity.clone())
        // Seed 001 without a poId: the workflow is the most specific thing named.
        .or_else(|| extract::first_id(subject, &PARENT_IDS));
    // The closest group first: the batch or workflow the payload names, then the
    // batch or merchant the channel names, then the queue.
    let parent = PARENT_IDS
        .iter()
        .filter_map(|k| subject.get(*k).and_then(extract::id))
        .chain(hint.parent.clone())
        .chain(
            QUEUE_IDS[..2]
                .iter()
                .filter_map(|k| subject.get(*k).and_then(extract::id)),
        )
        .find(|p| Some(p) != entity.as_ref());

    let progress = ["progress", "percent", "percentage"]
        .iter()
        .find_map(|k| subject.get(*k).and_then(extract::progress));
    let status_text = ["status", "state"]
        .iter()
        .find_map(|k| subject.get(*k).and_then(extract::word));
    let status = job_status(status_text.as_deref(), etype, progress, type_word);

    let message = subject
        .get("message")
        .and_then(extract::text)
        .or_else(|| summary(subject, etype, status.as_ref(), status_text.as_deref()));
    let error = ["error", "errorDetails", "failedReason", "errorMessage"]
        .iter()
        .find_map(|k| subject.get(*k).and_then(extract::error));

    let recognised =
        etype.is_some() || status_text.is_some() || own_id.is_some() || progress.is_some();
    Fields {
        kind: None,
        entity,
        parent,
        occurred_at: occurred_at(envelope, subject, status.as_ref()),
        status,
        progress,
        stage: subject.get("stage").and_then(extract::word),
        message,
        error,
        counts: None,
        recognised,
    }
}

/// The payload's own status word wins over what the type word implies: seed 001's
/// `stage` events say `started` or `completed`, seed 003's `done` says `failed` when
/// the run failed, seed 000's `batch_completed` carries the batch's real result.
fn job_status(
    status_text: Option<&str>,
    etype: Option<&EventType>,
    progress: Option<f64>,
    type_word: Option<&str>,
) -> Option<Status> {
    if let Some(text) = status_text {
        return Some(
            status::from_text(text, EntityKind::Job)
                .unwrap_or_else(|| Status::Unknown(clip(text, MAX_ID))),
        );
    }
    match etype {
        Some(EventType::Job(st) | EventType::Batch(st)) => return Some(st.clone()),
        Some(EventType::Log) => return Some(Status::Info),
        _ => {}
    }
    if progress.is_some() {
        // Something reporting progress is running, whatever it forgot to say.
        return Some(Status::Running);
    }
    // An unknown type word is the best description of what this is.
    type_word.map(|w| Status::Unknown(clip(w, MAX_ID)))
}

/// A message for the outcomes that carry numbers instead of text.
fn summary(
    subject: &Obj,
    etype: Option<&EventType>,
    status: Option<&Status>,
    status_text: Option<&str>,
) -> Option<String> {
    match etype {
        // Seed 003's `done`: {passed, failed, total}.
        Some(EventType::Job(Status::Completed)) => counted(subject, &["passed", "failed", "total"]),
        // Seed 000's `batch_completed`: {status, summary: {...}}.
        Some(EventType::Batch(_)) => {
            let counts = match subject.get("summary") {
                Some(Value::Object(s)) => {
                    // Sorted, so the text does not depend on the JSON map's key order.
                    let mut keys: Vec<&str> = s.keys().map(String::as_str).collect();
                    keys.sort_unstable();
                    counted(s, &keys).or_else(|| extract::text(&Value::Object(s.clone())))
                }
                Some(other) => extract::text(other),
                None => None,
            };
            // "partially_completed" maps to Completed; the nuance belongs in the text.
            let nuance = status_text
                .and_then(status::canonical)
                .filter(|c| Some(c.as_str()) != status.map(Status::as_str))
                .map(|c| c.replace('_', " "));
            match (nuance, counts) {
                (Some(n), Some(c)) => Some(clip(&format!("{n}: {c}"), MAX_TEXT)),
                (n, c) => n.or(c),
            }
        }
        _ => None,
    }
}

/// "3 passed, 1 failed, 4 total" from the numeric fields among `keys`.
fn counted(obj: &Obj, keys: &[&str]) -> Option<String> {
    let parts: Vec<String> = keys
        .iter()
        .filter_map(|k| match obj.get(*k) {
            Some(Value::Number(n)) => Some(format!("{n} {k}")),
            _ => None,
        })
        .collect();
    (!parts.is_empty()).then(|| clip(&parts.join(", "), MAX_TEXT))
}

/// The message's own time; failing that, the subject's time for the state it is in
/// (seed 002 sends `startedAt` / `completedAt` but no `timestamp`).
fn occurred_at(envelope: &Obj, subject: &Obj, status: Option<&Status>) -> Option<i64> {
    let at = |obj: &Obj, keys: &[&str]| {
        keys.iter()
            .find_map(|k| obj.get(*k).and_then(timestamp::millis))
    };
    at(envelope, &TIME_KEYS)
        .or_else(|| at(subject, &TIME_KEYS))
        .or_else(|| match status {
            Some(st) if st.is_terminal() => {
                at(subject, &["completedAt", "finishedAt", "finishedOn"])
            }
            Some(Status::Running) => at(subject, &["startedAt", "processedOn"]),
            _ => None,
        })
}

/// Seed 004's `queue_update`: counts, not a state change.
fn queue(body: &Obj, hint: &ChannelHint) -> Fields {
    let status_text = body.get("status").and_then(extract::word);
    Fields {
        kind: Some(EntityKind::Queue),
        entity: extract::first_id(body, &QUEUE_IDS).or_else(|| hint.entity.clone()),
        status: Some(match status_text {
            Some(t) => status::from_text(&t, EntityKind::Queue).unwrap_or(Status::Unknown(t)),
            None => Status::Info,
        }),
        message: body.get("message").and_then(extract::text),
        counts: extract::counts(body),
        occurred_at: TIME_KEYS
            .iter()
            .find_map(|k| body.get(*k).and_then(timestamp::millis)),
        recognised: true,
        ..Fields::default()
    }
}

/// Seed 004's `worker_status`: `active` means busy.
fn worker(body: &Obj, hint: &ChannelHint) -> Fields {
    let status_text = body.get("status").and_then(extract::word);
    let current = body.get("currentJob").and_then(extract::id);
    Fields {
        kind: Some(EntityKind::Worker),
        entity: extract::first_id(body, &WORKER_IDS).or_else(|| hint.entity.clone()),
        parent: extract::first_id(body, &QUEUE_IDS[..2]),
        status: Some(match status_text {
            Some(t) => status::from_text(&t, EntityKind::Worker).unwrap_or(Status::Unknown(t)),
            None => Status::Info,
        }),
        message: body
            .get("message")
            .and_then(extract::text)
            .or_else(|| current.map(|j| format!("current job {j}"))),
        error: body.get("error").and_then(extract::error),
        occurred_at: TIME_KEYS
            .iter()
            .find_map(|k| body.get(*k).and_then(timestamp::millis)),
        recognised: true,
        ..Fields::default()
    }
}

/// `connected`, `subscribed`, `heartbeat`: about the connection, so kind `source`
/// and the source's own name as entity (left empty here, filled by the caller).
fn notice(body: &Obj, st: Status, type_word: Option<&str>) -> Fields {
    let what = type_word.unwrap_or(match st {
        Status::Connected => "connected",
        _ => "notice",
    });
    // The ids a notice carries say which connection or subscription it is about.
    // What was subscribed to says more than the connection it was subscribed on.
    let about = [
        "jobId",
        "queueName",
        "runId",
        "merchantId",
        "connectionId",
        "clientId",
    ]
    .iter()
    .find_map(|k| {
        body.get(*k)
            .and_then(extract::id)
            .map(|v| format!("{what} ({k} {v})"))
    });
    Fields {
        kind: Some(EntityKind::Source),
        status: Some(st),
        message: body
            .get("message")
            .and_then(extract::text)
            .or(about)
            .or_else(|| Some(clip(what, MAX_ID))),
        occurred_at: TIME_KEYS
            .iter()
            .find_map(|k| body.get(*k).and_then(timestamp::millis)),
        recognised: true,
        ..Fields::default()
    }
}
