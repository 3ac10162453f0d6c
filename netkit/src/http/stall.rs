//! Server-wide stall windows (for coordinated-omission tests of wrk2-style
//! constant-rate runs): with `every = 5s, length = 1s` the server answers
//! nothing during [5s, 6s), [10s, 11s), ... after start; a response due
//! inside a window is held until the window ends. Time is a parameter.

use std::time::Duration;

/// A periodic stall schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stall {
    /// Period: windows start at `every`, `2 * every`, ...
    pub every: Duration,
    /// Length of each window (clamped to `every`).
    pub length: Duration,
}

impl Stall {
    /// How long a response due at `elapsed` (since server start) must wait;
    /// zero outside a window.
    pub fn hold(&self, elapsed: Duration) -> Duration {
        let every = self.every.as_nanos();
        if every == 0 || self.length.is_zero() {
            return Duration::ZERO;
        }
        let t = elapsed.as_nanos();
        if t < every {
            return Duration::ZERO;
        }
        let into = t % every;
        let length = self.length.as_nanos().min(every);
        if into < length {
            // `length - into` is below `every`, which came from a Duration.
            Duration::from_nanos(u64::try_from(length - into).unwrap_or(u64::MAX))
        } else {
            Duration::ZERO
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn windows() {
        let st = Stall {
            every: s(5000),
            length: s(1000),
        };
        assert_eq!(st.hold(s(0)), s(0));
        assert_eq!(st.hold(s(999)), s(0), "no stall before the first period");
        assert_eq!(st.hold(s(4999)), s(0));
        assert_eq!(st.hold(s(5000)), s(1000));
        assert_eq!(st.hold(s(5400)), s(600));
        assert_eq!(st.hold(s(6000)), s(0));
        assert_eq!(st.hold(s(10_250)), s(750));
        let degenerate = Stall {
            every: s(0),
            length: s(1000),
        };
        assert_eq!(degenerate.hold(s(12_345)), s(0));
    }
}
