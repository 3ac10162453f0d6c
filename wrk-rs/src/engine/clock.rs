//! The engine's monotonic microsecond clock.
//!
//! wrk reads `gettimeofday`; we use the monotonic clock (vDSO, no syscall) so
//! NTP steps cannot distort latencies. All threads share one epoch, so times
//! from different threads (and the `-R` schedule origin) compare directly.

use std::sync::OnceLock;
use std::time::Instant;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Microseconds since the process-wide epoch (first call).
pub fn now_us() -> u64 {
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// Origin of the `-R` timeline shared by all threads (set by the first
/// thread that asks).
pub fn rate_origin_us() -> u64 {
    static ORIGIN: OnceLock<u64> = OnceLock::new();
    *ORIGIN.get_or_init(now_us)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic() {
        let a = now_us();
        let b = now_us();
        assert!(b >= a);
        assert_eq!(rate_origin_us(), rate_origin_us());
    }
}
