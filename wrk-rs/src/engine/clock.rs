//! The engine's monotonic microsecond clock.
//!
//! wrk reads `gettimeofday`; we use the monotonic clock (vDSO, no syscall) so
//! NTP steps cannot distort latencies. All threads share one epoch, so times
//! from different threads compare directly.

use std::sync::OnceLock;
use std::time::Instant;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Microseconds since the process-wide epoch (first call).
pub fn now_us() -> u64 {
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic() {
        let a = now_us();
        let b = now_us();
        assert!(b >= a);
    }
}
