//! What a message's type word says it is about: the `type` field of the seeds'
//! payloads, or the SSE event name / channel topic when the payload has no type.

use crate::model::{EntityKind, Status};

use super::status;

/// The meaning of a recognised type word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum EventType {
    /// The word itself says what happened to a job: seed 000's `job_failed`, seed
    /// 001's `progress` / `completion` / `error`, seed 003's `done`.
    Job(Status),
    /// The same about a whole batch (seed 000's `batch_completed`): the entity is the
    /// batch, not a job in it.
    Batch(Status),
    /// A job update whose status lives in the payload (seed 004's `job_update`, the
    /// `status` topic of seed 002's channels).
    JobUpdate,
    /// Seed 003's `{type: "snapshot", run: {...}}`: the run object is the job.
    Snapshot,
    /// A line of a job's log (seed 003's `log`): information, not a state change.
    Log,
    /// Seed 004's `queue_update`.
    Queue,
    /// Seed 004's `worker_status`.
    Worker,
    /// A notice about the connection itself (`connected`, `subscribed`, `heartbeat`):
    /// it belongs on the source's timeline, never on the board as a job.
    Notice(Status),
}

/// Classifies a type word; `None` for words we do not know.
pub(super) fn classify(word: &str) -> Option<EventType> {
    let w = status::canonical(word)?;
    let t = match w.as_str() {
        "job_update" | "update" | "status" | "status_update" => EventType::JobUpdate,
        "progress" | "stage" => EventType::Job(Status::Running),
        "completion" | "complete" | "completed" | "done" | "finished" => {
            EventType::Job(Status::Completed)
        }
        "error" | "failed" | "failure" => EventType::Job(Status::Failed),
        "snapshot" => EventType::Snapshot,
        "log" | "logs" => EventType::Log,
        "queue_update" | "queue_status" | "queue_stats" => EventType::Queue,
        "worker_status" | "worker_update" => EventType::Worker,
        "connected" | "connection" | "open" => EventType::Notice(Status::Connected),
        "reconnecting" => EventType::Notice(Status::Reconnecting),
        "subscribed" | "unsubscribed" | "heartbeat" | "ping" | "pong" | "keepalive" => {
            EventType::Notice(Status::Info)
        }
        other => return prefixed(other),
    };
    Some(t)
}

/// `job_started`, `run_failed`, `batch_completed`, ...: a subject and what happened.
fn prefixed(word: &str) -> Option<EventType> {
    let (subject, what) = word.split_once('_')?;
    let st = status::from_text(what, EntityKind::Job)?;
    match subject {
        "job" | "run" | "test" | "task" => Some(EventType::Job(st)),
        "batch" => Some(EventType::Batch(st)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_types() {
        assert_eq!(
            classify("job_started"),
            Some(EventType::Job(Status::Running))
        );
        assert_eq!(
            classify("job_completed"),
            Some(EventType::Job(Status::Completed))
        );
        assert_eq!(classify("job_failed"), Some(EventType::Job(Status::Failed)));
        assert_eq!(
            classify("batch_completed"),
            Some(EventType::Batch(Status::Completed))
        );
        assert_eq!(
            classify("completion"),
            Some(EventType::Job(Status::Completed))
        );
        assert_eq!(classify("job_update"), Some(EventType::JobUpdate));
        assert_eq!(classify("heartbeat"), Some(EventType::Notice(Status::Info)));
        assert_eq!(classify("custom_event"), None);
        assert_eq!(classify("message"), None);
    }
}
