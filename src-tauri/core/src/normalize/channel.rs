//! What a channel name (Redis) or event name (SSE) tells us before the payload does.
//!
//! The seeds put ids in channel names (`test:{id}:status`, `sentri:run:{id}`,
//! `merchant:{id}:progress`, seed 000's `batch:{id}` inside its envelopes) and use SSE
//! event names as message types (`event: progress`, `event: job_update`).

use crate::model::EntityKind;

use super::extract::clip;
use super::extract::MAX_ID;

/// Hints from the channel; every field is optional and the payload wins over them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct ChannelHint {
    /// Set when the channel names a queue or a worker rather than a job.
    pub kind: Option<EntityKind>,
    /// The entity the channel is about.
    pub entity: Option<String>,
    /// The group the channel is about (seed 000's batch, seed 001's merchant).
    pub parent: Option<String>,
    /// A word saying what kind of message this is: an SSE event name, or a topic
    /// such as `progress` in `merchant:{id}:progress` or `complete` in
    /// `test:{id}:complete`. Only meaningful if `event_type::classify` knows it.
    pub event: Option<String>,
}

/// Last segments that name a topic rather than a part of the id, so that
/// `job:a:b:status` is job `a:b` and `job:a:b` is job `a:b`.
const TOPICS: [&str; 12] = [
    "status",
    "complete",
    "completed",
    "progress",
    "stage",
    "completion",
    "error",
    "events",
    "update",
    "updates",
    "log",
    "logs",
];

/// SSE's default event type: it says nothing about the message.
const SSE_DEFAULT_EVENT: &str = "message";

impl ChannelHint {
    pub(super) fn parse(channel: Option<&str>) -> ChannelHint {
        let Some(channel) = channel.map(str::trim).filter(|c| !c.is_empty()) else {
            return ChannelHint::default();
        };
        if !channel.contains(':') {
            // A bare word: an SSE event name (or a Redis channel such as seed 000's
            // `batch-progress`, which names no entity either).
            if channel == SSE_DEFAULT_EVENT {
                return ChannelHint::default();
            }
            return ChannelHint {
                event: Some(clip(channel, MAX_ID)),
                ..ChannelHint::default()
            };
        }
        let parts: Vec<&str> = channel.split(':').collect();
        known_naming(&parts).unwrap_or_else(|| ChannelHint {
            // A namespaced channel nobody told us about almost always names a thing;
            // the whole name is the most honest id we can derive from it.
            entity: Some(clip(channel, MAX_ID)),
            ..ChannelHint::default()
        })
    }

    /// Fills what `self` lacks from `outer` (seed 000: the envelope's channel is more
    /// specific than the Redis channel it travelled on).
    pub(super) fn or(self, outer: ChannelHint) -> ChannelHint {
        ChannelHint {
            kind: self.kind.or(outer.kind),
            entity: self.entity.or(outer.entity),
            parent: self.parent.or(outer.parent),
            event: self.event.or(outer.event),
        }
    }
}

fn known_naming(parts: &[&str]) -> Option<ChannelHint> {
    let (head, rest) = parts.split_first()?;
    match (*head, rest) {
        // seed 003: sentri:run:{runId}
        ("sentri", ["run", id @ ..]) => entity_hint(None, id),
        // seed 001: merchant:{id}:progress|stage|completion|error. The merchant groups
        // purchase orders; the order itself (poId) is in the payload.
        ("merchant", [id, topic @ ..]) if !id.is_empty() => Some(ChannelHint {
            parent: Some(clip(id, MAX_ID)),
            event: topic.last().map(|t| clip(t, MAX_ID)),
            ..ChannelHint::default()
        }),
        // seed 000's envelope channel: batch:{batchId}
        ("batch", [id]) if !id.is_empty() => Some(ChannelHint {
            parent: Some(clip(id, MAX_ID)),
            ..ChannelHint::default()
        }),
        // seed 002: test:{id}:status|complete, job:{id}:status|complete; seed 004's
        // pub/sub side: job:{id}, queue:{name}, worker:{id}.
        ("job" | "test" | "run" | "task", id) => entity_hint(None, id),
        ("queue", id) => entity_hint(Some(EntityKind::Queue), id),
        ("worker", id) => entity_hint(Some(EntityKind::Worker), id),
        _ => None,
    }
}

/// `{id}` or `{id}:{topic}`, where the id may itself contain `:`.
fn entity_hint(kind: Option<EntityKind>, segments: &[&str]) -> Option<ChannelHint> {
    let (id_parts, topic) = match segments.split_last() {
        Some((last, init)) if !init.is_empty() && TOPICS.contains(last) => (init, Some(*last)),
        _ => (segments, None),
    };
    let id = id_parts.join(":");
    if id.is_empty() {
        return None;
    }
    Some(ChannelHint {
        kind,
        entity: Some(clip(&id, MAX_ID)),
        parent: None,
        event: topic.map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(c: &str) -> ChannelHint {
        ChannelHint::parse(Some(c))
    }

    #[test]
    fn seed_channel_names() {
        let h = hint("test:t-1:complete");
        assert_eq!(h.entity.as_deref(), Some("t-1"));
        assert_eq!(h.event.as_deref(), Some("complete"));
        let h = hint("job:a:b:status");
        assert_eq!(h.entity.as_deref(), Some("a:b"));
        let h = hint("sentri:run:R9");
        assert_eq!(h.entity.as_deref(), Some("R9"));
        assert_eq!(h.event, None);
        let h = hint("merchant:M1:progress");
        assert_eq!((h.entity, h.parent.as_deref()), (None, Some("M1")));
        assert_eq!(h.event.as_deref(), Some("progress"));
        let h = hint("queue:resume-analysis");
        assert_eq!(h.kind, Some(EntityKind::Queue));
        assert_eq!(hint("batch:B1").parent.as_deref(), Some("B1"));
    }

    #[test]
    fn bare_words_are_event_names() {
        assert_eq!(hint("message"), ChannelHint::default());
        assert_eq!(hint("job_update").event.as_deref(), Some("job_update"));
        assert_eq!(hint("batch-progress").entity, None);
        assert_eq!(ChannelHint::parse(None), ChannelHint::default());
    }

    #[test]
    fn unknown_namespaced_channels_name_themselves() {
        assert_eq!(
            hint("orders:42:events").entity.as_deref(),
            Some("orders:42:events")
        );
        assert_eq!(hint("job:").entity.as_deref(), Some("job:"));
        assert_eq!(hint(":::").entity.as_deref(), Some(":::"));
    }
}
