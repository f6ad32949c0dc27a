//! Status words as backends spell them → the closed [`Status`] set.
//!
//! One table for every kind, because the seeds share most words; the few words whose
//! meaning depends on what is being described ("active" is a running job but a busy
//! worker, "stopped" is a cancelled job but a stopped source) are resolved by kind.

use crate::model::{EntityKind, Status};

/// Longer than any status word we know; longer input is not a status word, and
/// comparing it would only cost time on hostile payloads.
const LONGEST_WORD: usize = 40;

/// The canonical spelling of a status word: trimmed, lower case, `-` and spaces as `_`,
/// so `In-Progress`, `in progress` and `IN_PROGRESS` compare equal.
pub(super) fn canonical(text: &str) -> Option<String> {
    let t = text.trim();
    if t.is_empty() || t.len() > LONGEST_WORD {
        return None;
    }
    Some(
        t.chars()
            .map(|c| match c {
                '-' | ' ' => '_',
                c => c.to_ascii_lowercase(),
            })
            .collect(),
    )
}

/// The status a word names for an entity of `kind`, or `None` if we do not know it
/// (the caller then keeps the word in `Status::Unknown`).
pub(super) fn from_text(text: &str, kind: EntityKind) -> Option<Status> {
    let word = canonical(text)?;
    let word = word.as_str();
    if kind == EntityKind::Worker {
        if let Some(st) = worker_word(word) {
            return Some(st);
        }
    }
    if kind == EntityKind::Source {
        if let Some(st) = source_word(word) {
            return Some(st);
        }
    }
    // Seed 000's batch result ("partially_completed" and its spellings): the batch is
    // finished; the jobs that failed inside it were already reported one by one.
    if word.starts_with("partial") {
        return Some(Status::Completed);
    }
    let st = match word {
        "queued" | "waiting" | "wait" | "added" | "pending" | "created" | "new" | "enqueued"
        | "submitted" | "waiting_children" | "prioritized" | "prioritised" => Status::Queued,
        "delayed" | "scheduled" | "deferred" => Status::Delayed,
        "running" | "started" | "start" | "in_progress" | "inprogress" | "active"
        | "processing" | "progress" | "working" | "executing" | "resumed" => Status::Running,
        "completed" | "complete" | "passed" | "pass" | "done" | "success" | "succeeded"
        | "successful" | "finished" | "ok" | "completion" => Status::Completed,
        // Seed 003's server marks runs it lost on restart as "interrupted": they did
        // not finish, and the operator should hear about it like any failure.
        "failed" | "fail" | "failure" | "error" | "errored" | "crashed" | "timeout"
        | "timed_out" | "retries_exhausted" | "interrupted" => Status::Failed,
        "retrying" | "retry" | "retried" | "requeued" => Status::Retrying,
        "stalled" | "stuck" => Status::Stalled,
        "cancelled" | "canceled" | "aborted" | "killed" | "removed" | "stopped" => {
            Status::Cancelled
        }
        "busy" => Status::Busy,
        "idle" => Status::Idle,
        "paused" => Status::Paused,
        "gone" => Status::Gone,
        "connected" => Status::Connected,
        "reconnecting" => Status::Reconnecting,
        "gap" => Status::Gap,
        "info" => Status::Info,
        _ => return None,
    };
    Some(st)
}

/// Seed 004's `worker_status`: `active` means working on a job, not "alive".
fn worker_word(word: &str) -> Option<Status> {
    Some(match word {
        "active" | "busy" | "running" | "processing" | "working" => Status::Busy,
        "idle" | "ready" | "waiting" | "available" => Status::Idle,
        "paused" => Status::Paused,
        "gone" | "offline" | "stopped" | "closed" | "closing" | "disconnected" | "dead"
        | "exited" | "terminated" => Status::Gone,
        _ => return None,
    })
}

/// A source that says it stopped has stopped; it did not cancel a job.
fn source_word(word: &str) -> Option<Status> {
    Some(match word {
        "stopped" | "closed" => Status::Stopped,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_compare_equal() {
        for w in ["in_progress", "In-Progress", " in progress ", "IN_PROGRESS"] {
            assert_eq!(from_text(w, EntityKind::Job), Some(Status::Running), "{w}");
        }
    }

    #[test]
    fn every_named_status_maps_to_itself() {
        // Guarantees that `Unknown(text)` never carries a stored name, so a stored
        // status always reads back as what it was.
        for name in [
            "queued",
            "delayed",
            "running",
            "completed",
            "failed",
            "retrying",
            "stalled",
            "cancelled",
            "busy",
            "idle",
            "paused",
            "gone",
            "connected",
            "reconnecting",
            "gap",
            "info",
        ] {
            let st = from_text(name, EntityKind::Job).expect(name);
            assert_eq!(st.as_str(), name);
        }
        assert_eq!(
            from_text("stopped", EntityKind::Source),
            Some(Status::Stopped)
        );
    }

    #[test]
    fn words_that_depend_on_kind() {
        assert_eq!(from_text("active", EntityKind::Job), Some(Status::Running));
        assert_eq!(from_text("active", EntityKind::Worker), Some(Status::Busy));
        assert_eq!(
            from_text("stopped", EntityKind::Job),
            Some(Status::Cancelled)
        );
        assert_eq!(from_text("stopped", EntityKind::Worker), Some(Status::Gone));
    }

    #[test]
    fn unknown_and_oversized_words_are_not_guessed() {
        assert_eq!(from_text("half-baked", EntityKind::Job), None);
        assert_eq!(from_text("", EntityKind::Job), None);
        assert_eq!(from_text(&"failed".repeat(100), EntityKind::Job), None);
    }
}
