//! Redis stream entry ids (`<ms>-<seq>`): parsing, ordering, and the id just before.

use std::cmp::Ordering;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const ZERO: StreamId = StreamId { ms: 0, seq: 0 };

    /// Parses `ms-seq` (or a bare `ms`, meaning seq 0).
    pub fn parse(s: &str) -> Option<StreamId> {
        let (ms, seq) = match s.split_once('-') {
            Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
            None => (s.parse().ok()?, 0),
        };
        Some(StreamId { ms, seq })
    }

    /// The greatest id below this one: reading after it starts exactly at `self`.
    pub fn predecessor(self) -> StreamId {
        match (self.ms, self.seq) {
            (0, 0) => self,
            (ms, 0) => StreamId {
                ms: ms - 1,
                seq: u64::MAX,
            },
            (ms, seq) => StreamId { ms, seq: seq - 1 },
        }
    }

    pub fn millis(self) -> i64 {
        i64::try_from(self.ms).unwrap_or(i64::MAX)
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Compares two id strings; unparsable ones sort first.
pub fn cmp_ids(a: &str, b: &str) -> Ordering {
    StreamId::parse(a).cmp(&StreamId::parse(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_order_and_predecessor() {
        let a = StreamId::parse("1700000000000-5").unwrap();
        assert_eq!(a.to_string(), "1700000000000-5");
        assert!(StreamId::parse("10-0").unwrap() > StreamId::parse("9-99").unwrap());
        assert_eq!(StreamId::parse("7").unwrap(), StreamId { ms: 7, seq: 0 });
        assert_eq!(StreamId::parse("x-1"), None);
        assert_eq!(a.predecessor().to_string(), "1700000000000-4");
        assert_eq!(
            StreamId::parse("5-0").unwrap().predecessor().to_string(),
            format!("4-{}", u64::MAX)
        );
        assert_eq!(StreamId::ZERO.predecessor(), StreamId::ZERO);
        assert_eq!(cmp_ids("2-0", "10-0"), Ordering::Less);
    }
}
