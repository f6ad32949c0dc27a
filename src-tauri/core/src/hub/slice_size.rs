//! How big a piece of behind-ingestion work (entity states, search indexing) the
//! writer thread takes between two commits.
//!
//! The writer thread is the only writer, so while it upserts entity rows or fills the
//! search index, new events wait in the inbox: the length of each piece is added to
//! the latency of whatever arrives meanwhile. Fixed row counts were wrong both ways:
//! 2,000 entity rows took 10–20 ms here (the p99 at 10k events/s was 11 ms, issue 8),
//! and a small fixed count would be too slow on a fast disk to keep up. So each piece
//! is sized from the measured cost per row to fit a time budget.

use std::time::Duration;

pub(super) struct SliceSize {
    /// Smoothed cost of one row, in nanoseconds.
    nanos_per_row: f64,
    min_rows: usize,
    max_rows: usize,
}

/// The first guess before anything is measured: a few microseconds per row is what
/// an FTS5 insert or an entity upsert costs on the project machine.
const FIRST_GUESS_NANOS: f64 = 10_000.0;
/// Weight of the newest measurement in the smoothed cost.
const SMOOTHING: f64 = 0.3;

impl SliceSize {
    pub(super) fn new(min_rows: usize, max_rows: usize) -> Self {
        SliceSize {
            nanos_per_row: FIRST_GUESS_NANOS,
            min_rows,
            max_rows,
        }
    }

    /// Rows that should take about `budget`, within the bounds.
    pub(super) fn rows(&self, budget: Duration) -> usize {
        let rows = budget.as_nanos() as f64 / self.nanos_per_row;
        (rows as usize).clamp(self.min_rows, self.max_rows)
    }

    /// Records that `rows` rows took `took`.
    pub(super) fn observe(&mut self, rows: usize, took: Duration) {
        if rows == 0 {
            return;
        }
        let per = took.as_nanos() as f64 / rows as f64;
        self.nanos_per_row = (1.0 - SMOOTHING) * self.nanos_per_row + SMOOTHING * per.max(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_measured_cost_within_bounds() {
        let mut s = SliceSize::new(50, 20_000);
        let budget = Duration::from_millis(1);
        assert_eq!(s.rows(budget), 100, "first guess: 10 µs per row");
        for _ in 0..30 {
            s.observe(100, Duration::from_micros(100)); // 1 µs per row
        }
        let fast = s.rows(budget);
        assert!((900..=1_100).contains(&fast), "{fast}");
        for _ in 0..30 {
            s.observe(100, Duration::from_millis(10)); // 100 µs per row
        }
        assert_eq!(s.rows(budget), 50, "never below the minimum");
        s.observe(0, Duration::from_secs(1)); // nothing done: no information
        assert_eq!(
            s.rows(Duration::from_secs(100)),
            20_000,
            "never above the maximum"
        );
    }
}
