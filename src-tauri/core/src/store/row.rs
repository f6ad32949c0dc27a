//! Mapping between rows and the model.

use rusqlite::Row;

use crate::board::EntityState;
use crate::model::{EntityKind, Event, QueueCounts, Status};

pub const EVENT_COLUMNS: &str =
    "seq, source, received_at, occurred_at, kind, entity, parent, status, \
     progress, stage, message, error, counts, channel, remote_id, raw";

pub const ENTITY_COLUMNS: &str =
    "kind, entity, source, parent, status, progress, stage, message, error, \
     counts, first_seen, started_at, finished_at, last_seen, last_seq, events";

fn kind(s: String) -> EntityKind {
    // Only this program writes the column; an unknown value would be a newer schema's
    // kind, shown as a job rather than failing the whole read.
    EntityKind::parse(&s).unwrap_or(EntityKind::Job)
}

fn counts(s: Option<String>) -> Option<QueueCounts> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

pub fn counts_json(c: &Option<QueueCounts>) -> Option<String> {
    c.as_ref().and_then(|c| serde_json::to_string(c).ok())
}

pub fn event_from_row(r: &Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        seq: r.get::<_, i64>(0)? as u64,
        source: r.get(1)?,
        received_at: r.get(2)?,
        occurred_at: r.get(3)?,
        kind: kind(r.get(4)?),
        entity: r.get(5)?,
        parent: r.get(6)?,
        status: Status::from_stored(&r.get::<_, String>(7)?),
        progress: r.get(8)?,
        stage: r.get(9)?,
        message: r.get(10)?,
        error: r.get(11)?,
        counts: counts(r.get(12)?),
        channel: r.get(13)?,
        remote_id: r.get(14)?,
        raw: r.get(15)?,
    })
}

pub fn entity_from_row(r: &Row<'_>) -> rusqlite::Result<EntityState> {
    Ok(EntityState {
        kind: kind(r.get(0)?),
        entity: r.get(1)?,
        source: r.get(2)?,
        parent: r.get(3)?,
        status: Status::from_stored(&r.get::<_, String>(4)?),
        progress: r.get(5)?,
        stage: r.get(6)?,
        message: r.get(7)?,
        error: r.get(8)?,
        counts: counts(r.get(9)?),
        first_seen: r.get(10)?,
        started_at: r.get(11)?,
        finished_at: r.get(12)?,
        last_seen: r.get(13)?,
        last_seq: r.get::<_, i64>(14)? as u64,
        events: r.get::<_, i64>(15)? as u64,
    })
}
