//! Queue counts (wait, active, completed, failed, delayed, prioritized, paused) for
//! every followed queue in one pipelined round trip of read-only commands: the same
//! numbers BullMQ's `getJobCounts` gives, without running its Lua (which may write).

use super::keys::QueueKeys;
use crate::model::{EntityKind, Event, QueueCounts, Status};

/// Commands per queue in [`counts_pipeline`].
const PER_QUEUE: usize = 8;

pub fn counts_pipeline(queues: &[QueueKeys]) -> redis::Pipeline {
    let mut p = redis::pipe();
    for q in queues {
        p.cmd("LLEN").arg(q.key("wait"));
        p.cmd("LLEN").arg(q.key("active"));
        p.cmd("ZCARD").arg(q.key("completed"));
        p.cmd("ZCARD").arg(q.key("failed"));
        p.cmd("ZCARD").arg(q.key("delayed"));
        p.cmd("ZCARD").arg(q.key("prioritized"));
        p.cmd("LLEN").arg(q.key("paused"));
        // BullMQ 5+ pauses a queue with a flag in its meta hash.
        p.cmd("HEXISTS").arg(q.key("meta")).arg("paused");
    }
    p
}

/// Counts, and whether the queue is paused, per queue, in `queues` order.
pub fn parse_counts(values: &[u64], queues: usize) -> Vec<(QueueCounts, bool)> {
    values
        .chunks(PER_QUEUE)
        .take(queues)
        .map(|v| {
            let at = |i: usize| v.get(i).copied();
            let paused_list = at(6).unwrap_or(0);
            let paused_flag = at(7).unwrap_or(0) == 1;
            (
                QueueCounts {
                    waiting: at(0),
                    active: at(1),
                    completed: at(2),
                    failed: at(3),
                    delayed: at(4),
                    prioritized: at(5),
                    paused: Some(paused_list),
                },
                paused_flag || paused_list > 0,
            )
        })
        .collect()
}

pub fn queue_event(source: &str, keys: &QueueKeys, counts: &QueueCounts, paused: bool) -> Event {
    let status = if paused { Status::Paused } else { Status::Info };
    let mut e = Event::new(source, EntityKind::Queue, keys.queue.clone(), status);
    e.counts = Some(counts.clone());
    e.channel = Some(keys.key("counts"));
    e.raw = serde_json::to_string(counts).unwrap_or_default();
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_queue() {
        let v = [1, 2, 3, 4, 5, 6, 0, 0, 9, 0, 0, 0, 0, 0, 0, 1];
        let c = parse_counts(&v, 2);
        assert_eq!(c[0].0.waiting, Some(1));
        assert_eq!(c[0].0.prioritized, Some(6));
        assert!(!c[0].1);
        assert!(c[1].1, "meta paused flag");
        assert_eq!(
            counts_pipeline(&[QueueKeys::new("bull", "a")]).len(),
            PER_QUEUE
        );
        let e = queue_event("s", &QueueKeys::new("bull", "a"), &c[1].0, true);
        assert_eq!((e.kind, e.status), (EntityKind::Queue, Status::Paused));
    }
}
