//! When to reconnect.
//!
//! Two regimes, as issue 3 asks:
//! - After a connection that delivered at least one event, wait exactly the
//!   reconnection time (the last valid `retry:`, or the configured default), as a
//!   browser does. The server chose that pace; it had a working stream.
//! - Across consecutive failures (network errors, 5xx, 429, streams that end before
//!   any event), grow the wait exponentially with jitter up to a cap, but never below
//!   the reconnection time, and never below the server's `Retry-After`. A monitor runs
//!   for days: it must keep trying, but a fleet of monitors must not stampede a server
//!   that is down, hence the jitter.

use std::time::Duration;

use rand::Rng;

/// Anything longer is treated as this: an hour is already "come back much later", and
/// it keeps arithmetic and timers far from overflow.
pub const MAX_SANE_DELAY: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct Backoff {
    reconnection_time: Duration,
    max_backoff: Duration,
    /// Consecutive failures since the last connection that delivered events.
    failures: u32,
}

impl Backoff {
    pub fn new(initial_retry: Duration, max_backoff: Duration) -> Self {
        Backoff {
            reconnection_time: initial_retry.min(MAX_SANE_DELAY),
            max_backoff: max_backoff.min(MAX_SANE_DELAY),
            failures: 0,
        }
    }

    /// A valid `retry:` field arrived.
    pub fn set_reconnection_time_ms(&mut self, ms: u64) {
        self.reconnection_time = Duration::from_millis(ms).min(MAX_SANE_DELAY);
    }

    pub fn reconnection_time(&self) -> Duration {
        self.reconnection_time
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The connection that just ended delivered events: reset the failure run and wait
    /// exactly the reconnection time.
    pub fn after_success(&mut self) -> Duration {
        self.failures = 0;
        self.reconnection_time
    }

    /// One more failure in a row. `retry_after` is the server's `Retry-After`, if any.
    pub fn after_failure(&mut self, retry_after: Option<Duration>) -> Duration {
        self.after_failure_with(retry_after, &mut rand::rng())
    }

    /// [`Backoff::after_failure`] with a caller's random source (tests).
    pub fn after_failure_with<R: Rng + ?Sized>(
        &mut self,
        retry_after: Option<Duration>,
        rng: &mut R,
    ) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let (low, high) = self.failure_bounds(self.failures);
        let delay = if high > low {
            rng.random_range(low..=high)
        } else {
            low
        };
        match retry_after {
            Some(ra) => delay.max(ra.min(MAX_SANE_DELAY)),
            None => delay,
        }
    }

    /// The range the n-th consecutive failure's delay is drawn from (before
    /// `Retry-After`): exponential `rt * 2^(n-1)` capped at the maximum, jittered down
    /// to half of that, and never below the reconnection time `rt`.
    pub fn failure_bounds(&self, n: u32) -> (Duration, Duration) {
        let rt = self.reconnection_time;
        let exp = rt
            .checked_mul(
                1u32.checked_shl(n.saturating_sub(1).min(31))
                    .unwrap_or(u32::MAX),
            )
            .unwrap_or(MAX_SANE_DELAY);
        let high = exp.min(self.max_backoff).max(rt);
        let low = (high / 2).max(rt);
        (low, high)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn success_waits_exactly_the_reconnection_time() {
        let mut b = Backoff::new(S(3), S(60));
        assert_eq!(b.after_success(), S(3));
        b.set_reconnection_time_ms(1500);
        assert_eq!(b.after_success(), Duration::from_millis(1500));
    }

    #[test]
    fn failures_grow_exponentially_with_jitter_up_to_the_cap_never_below_rt() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut b = Backoff::new(S(1), S(30));
        let mut prev_high = Duration::ZERO;
        for n in 1..=40u32 {
            let d = b.after_failure_with(None, &mut rng);
            let (low, high) = b.failure_bounds(n);
            assert!(
                d >= low && d <= high,
                "failure {n}: {d:?} not in {low:?}..={high:?}"
            );
            assert!(d >= S(1) && d <= S(30));
            assert!(high >= prev_high);
            prev_high = high;
        }
        assert_eq!(b.failure_bounds(1), (S(1), S(1)));
        assert_eq!(b.failure_bounds(3), (S(2), S(4)));
        assert_eq!(b.failure_bounds(40), (S(15), S(30)));
        // A success resets the run.
        b.after_success();
        assert_eq!(b.after_failure_with(None, &mut rng), S(1));
    }

    #[test]
    fn reconnection_time_is_a_floor_even_above_the_cap() {
        let mut b = Backoff::new(S(3), S(10));
        b.set_reconnection_time_ms(20_000);
        for _ in 0..5 {
            assert_eq!(b.after_failure(None), S(20));
        }
    }

    #[test]
    fn retry_after_is_honoured_and_bounded() {
        let mut b = Backoff::new(S(1), S(60));
        assert_eq!(b.after_failure(Some(S(7))), S(7));
        assert_eq!(b.after_failure(Some(S(1_000_000))), MAX_SANE_DELAY);
        b.set_reconnection_time_ms(u64::MAX);
        assert_eq!(b.after_success(), MAX_SANE_DELAY);
    }
}
