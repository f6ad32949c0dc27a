//! A token bucket over all requests. Every peer is loopback, so per-address limits
//! would be one bucket anyway; the point is that a runaway local script (a reconnect
//! loop, a scraper) cannot starve the UI or the hub's readers.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Sustained requests per second and the burst allowed on top.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: f64,
}

impl Default for RateLimit {
    /// Generous: the UI makes a handful of requests per view and benchmarks open a
    /// thousand SSE clients at once.
    fn default() -> Self {
        RateLimit {
            per_second: 500.0,
            burst: 2_000.0,
        }
    }
}

pub(crate) struct RateLimiter {
    limit: RateLimit,
    state: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        RateLimiter {
            limit,
            state: Mutex::new((limit.burst, Instant::now())),
        }
    }

    /// Takes one request's token, or says how long until one is available.
    pub fn check(&self) -> Result<(), Duration> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let refill = now.duration_since(st.1).as_secs_f64() * self.limit.per_second;
        st.0 = (st.0 + refill).min(self.limit.burst);
        st.1 = now;
        if st.0 >= 1.0 {
            st.0 -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - st.0) / self.limit.per_second.max(f64::MIN_POSITIVE);
            Err(Duration::from_secs_f64(wait.min(3600.0)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refusal() {
        let r = RateLimiter::new(RateLimit {
            per_second: 0.001,
            burst: 3.0,
        });
        assert!(r.check().is_ok());
        assert!(r.check().is_ok());
        assert!(r.check().is_ok());
        assert!(r.check().is_err());
    }
}
