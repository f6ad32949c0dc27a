//! The source's resume point: the last stream id read, per queue. It is saved as one
//! string (JSON) in the same transaction as the events it covers, so a restart
//! continues each queue exactly where the stored history ends.

use std::collections::BTreeMap;

use super::stream_id::StreamId;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamCursors {
    ids: BTreeMap<String, StreamId>,
}

impl StreamCursors {
    /// Reads a saved cursor. Anything unreadable is reported and treated as none, so
    /// the source starts from now rather than not at all.
    pub fn parse(saved: &str) -> Result<Self, String> {
        let map: BTreeMap<String, String> = serde_json::from_str(saved)
            .map_err(|e| format!("saved BullMQ cursor is not readable: {e}"))?;
        let mut ids = BTreeMap::new();
        for (queue, id) in map {
            let id = StreamId::parse(&id)
                .ok_or_else(|| format!("saved BullMQ cursor has a bad id for {queue}: {id:?}"))?;
            ids.insert(queue, id);
        }
        Ok(StreamCursors { ids })
    }

    pub fn encode(&self) -> String {
        let map: BTreeMap<&str, String> = self
            .ids
            .iter()
            .map(|(q, id)| (q.as_str(), id.to_string()))
            .collect();
        serde_json::to_string(&map).unwrap_or_default()
    }

    pub fn get(&self, queue: &str) -> Option<StreamId> {
        self.ids.get(queue).copied()
    }

    /// Moves a queue's position forward (never back).
    pub fn advance(&mut self, queue: &str, id: StreamId) {
        let e = self.ids.entry(queue.to_string()).or_insert(id);
        if id > *e {
            *e = id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_monotonic() {
        let mut c = StreamCursors::default();
        c.advance("emails", StreamId::parse("5-1").unwrap());
        c.advance("emails", StreamId::parse("4-0").unwrap());
        c.advance("pdf", StreamId::ZERO);
        let s = c.encode();
        assert_eq!(s, r#"{"emails":"5-1","pdf":"0-0"}"#);
        assert_eq!(StreamCursors::parse(&s).unwrap(), c);
        assert!(StreamCursors::parse("1700-0").is_err());
        assert!(StreamCursors::parse(r#"{"q":"nope"}"#).is_err());
    }
}
