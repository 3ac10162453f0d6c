//! Time as a parameter: the [`Clock`] the control connection and the
//! client/server sequence read, and [`Deadline`], the pure decision of
//! when a wait has timed out and how long the next `poll()` may block.
//! Tests drive the decisions with a [`FakeClock`] instead of real time.

use std::panic::RefUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where "now" comes from (unwind-safe: the server keeps serving after a
/// test that panicked).
pub trait Clock: Send + Sync + RefUnwindSafe {
    fn now(&self) -> Instant;
}

/// The monotonic system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// The system clock as a [`SharedClock`].
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock for tests: starts at the real "now" and moves forward by `step`
/// every time it is read, plus whatever [`FakeClock::advance`] adds.
#[derive(Debug)]
pub struct FakeClock {
    base: Instant,
    offset_ns: AtomicU64,
    step_ns: u64,
}

impl FakeClock {
    pub fn new(step: Duration) -> FakeClock {
        FakeClock {
            base: Instant::now(),
            offset_ns: AtomicU64::new(0),
            step_ns: step.as_nanos() as u64,
        }
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.offset_ns
            .fetch_add(d.as_nanos() as u64, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Instant {
        let ns = self.offset_ns.fetch_add(self.step_ns, Ordering::SeqCst);
        self.base + Duration::from_nanos(ns)
    }
}

/// The end of a bounded wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline(Instant);

impl Deadline {
    /// `d` from `now`.
    pub fn after(now: Instant, d: Duration) -> Deadline {
        Deadline(now + d)
    }

    /// `secs` seconds from `now` (stock's message timeouts; 0 has passed
    /// already, so a wait with timeout 0 fails at once, as in stock).
    pub fn after_secs(now: Instant, secs: u32) -> Deadline {
        Deadline::after(now, Duration::from_secs(u64::from(secs)))
    }

    /// The instant itself.
    pub fn at(self) -> Instant {
        self.0
    }

    /// Whether the wait is over at `now`.
    pub fn passed(self, now: Instant) -> bool {
        now >= self.0
    }

    /// The `poll()` timeout for a wait at `now`: `None` when the deadline
    /// has passed, otherwise the remaining milliseconds, at least 1 (so
    /// a sub-millisecond rest is not a busy loop) and at most `cap`.
    pub fn poll_ms(self, now: Instant, cap: Duration) -> Option<i32> {
        if self.passed(now) {
            return None;
        }
        let ms = (self.0 - now).min(cap).as_millis();
        Some(ms.clamp(1, i32::MAX as u128) as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_CAP: Duration = Duration::MAX;

    #[test]
    fn timeout_zero_has_passed_at_once() {
        let now = Instant::now();
        let d = Deadline::after_secs(now, 0);
        assert!(d.passed(now));
        assert_eq!(d.poll_ms(now, NO_CAP), None);
    }

    #[test]
    fn poll_time_is_the_rest_rounded_up_to_a_millisecond_and_capped() {
        let now = Instant::now();
        let d = Deadline::after_secs(now, 5);
        assert_eq!(d.poll_ms(now, NO_CAP), Some(5000));
        assert_eq!(
            d.poll_ms(now + Duration::from_micros(4_999_700), NO_CAP),
            Some(1)
        );
        assert_eq!(d.poll_ms(now, Duration::from_millis(10)), Some(10));
        assert_eq!(d.poll_ms(now + Duration::from_secs(5), NO_CAP), None);
        assert!(!d.passed(now + Duration::from_millis(4999)));
    }

    #[test]
    fn a_huge_rest_fits_poll() {
        let now = Instant::now();
        let d = Deadline::after_secs(now, u32::MAX);
        assert_eq!(d.poll_ms(now, NO_CAP), Some(i32::MAX));
    }

    #[test]
    fn fake_clock_steps_on_every_read() {
        let c = FakeClock::new(Duration::from_secs(2));
        let a = c.now();
        let b = c.now();
        assert_eq!(b - a, Duration::from_secs(2));
        c.advance(Duration::from_secs(10));
        assert_eq!(c.now() - b, Duration::from_secs(12));
    }
}
