//! Req/Sec sampling every 100 ms per thread (wrk.md §2.10).
//!
//! Pure: the caller passes the time. A tick with no completed requests
//! records nothing and keeps the window open, as wrk does.

use common::wrk::stats::Stats;

/// wrk's RECORD_INTERVAL_MS.
pub const INTERVAL_US: u64 = 100_000;
/// Rate histogram bound (wrk's MAX_THREAD_RATE_S, inclusive).
pub const MAX_RATE: u64 = 10_000_000;

/// Counts responses between ticks and turns them into rate samples.
#[derive(Debug, Clone)]
pub struct RateSampler {
    last_us: u64,
    requests: u64,
}

impl RateSampler {
    /// Window starts at `now_us` (thread enters its loop).
    pub fn new(now_us: u64) -> RateSampler {
        RateSampler {
            last_us: now_us,
            requests: 0,
        }
    }

    /// One response completed.
    pub fn count(&mut self) {
        self.requests += 1;
    }

    /// The 100 ms tick: records `trunc(requests / elapsed_ms × 1000)`.
    pub fn tick(&mut self, now_us: u64, into: &mut Stats) {
        if self.requests == 0 {
            return;
        }
        let elapsed_ms = now_us.saturating_sub(self.last_us) / 1000;
        let rate = self.requests as f64 / elapsed_ms as f64 * 1000.0;
        // Float → int casts saturate (inf → u64::MAX, dropped by the bound).
        into.record(rate as u64);
        self.requests = 0;
        self.last_us = now_us;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(s: &Stats) -> (u64, u64, u64) {
        (s.count(), s.min(), s.max())
    }

    #[test]
    fn wrk_rate_formula() {
        let mut st = Stats::new(MAX_RATE + 1);
        let mut r = RateSampler::new(1_000);
        for _ in 0..1234 {
            r.count();
        }
        r.tick(101_900, &mut st); // 100.9 ms → 100 ms → 12340/s
        assert_eq!(samples(&st), (1, 12340, 12340));
    }

    #[test]
    fn empty_tick_keeps_window() {
        let mut st = Stats::new(MAX_RATE + 1);
        let mut r = RateSampler::new(0);
        r.tick(100_000, &mut st);
        assert_eq!(st.count(), 0);
        r.count();
        r.tick(1_500_000, &mut st); // 1 request in 1.5 s → 0.67 → 0
        assert_eq!(samples(&st), (1, 0, 0));
    }

    #[test]
    fn zero_elapsed_is_dropped() {
        let mut st = Stats::new(MAX_RATE + 1);
        let mut r = RateSampler::new(5);
        r.count();
        r.tick(5, &mut st);
        assert_eq!(st.count(), 0);
    }
}
