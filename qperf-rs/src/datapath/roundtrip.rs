//! Per-round-trip timing of the `_lat` loops (`--percentiles`).
//!
//! The loops are generic over [`RoundTrips`]: without the option they get
//! [`Unclocked`], whose calls compile to nothing, so the stock path is the
//! same loop as before. [`Clocked`] reads the monotonic clock once per
//! completed receive (a vDSO call, no syscall) and records half the time
//! since the previous one: the one-way latency, in the same terms as stock's
//! `latency` (real time / messages received by both sides).

use std::time::Instant;

use common::hdr::NsHistogram;

/// What a `_lat` loop reports to its timing.
pub trait RoundTrips {
    /// The data phase starts now (right after the timer started).
    fn start(&mut self);
    /// A whole message was received: one round trip completed.
    fn received(&mut self);
    /// A call failed: the round trip in progress does not count.
    fn broken(&mut self);
}

/// No timing (the stock path).
pub struct Unclocked;

impl RoundTrips for Unclocked {
    #[inline(always)]
    fn start(&mut self) {}
    #[inline(always)]
    fn received(&mut self) {}
    #[inline(always)]
    fn broken(&mut self) {}
}

/// Records every round trip into an [`NsHistogram`].
pub struct Clocked {
    /// Whether the round trip starts with the phase (the client writes
    /// first; the server's first receive also includes the client's start).
    from_start: bool,
    last: Option<Instant>,
    h: NsHistogram,
}

impl Clocked {
    pub fn new(from_start: bool) -> Clocked {
        Clocked {
            from_start,
            last: None,
            h: NsHistogram::new(),
        }
    }

    pub fn into_histogram(self) -> NsHistogram {
        self.h
    }
}

impl RoundTrips for Clocked {
    fn start(&mut self) {
        if self.from_start {
            self.last = Some(Instant::now());
        }
    }

    #[inline]
    fn received(&mut self) {
        let now = Instant::now();
        if let Some(last) = self.last {
            let rtt = now.duration_since(last).as_nanos();
            self.h.record(u64::try_from(rtt / 2).unwrap_or(u64::MAX));
        }
        self.last = Some(now);
    }

    fn broken(&mut self) {
        // The next receive is not the end of a clean round trip.
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn records_half_of_each_round_trip() {
        let mut c = Clocked::new(true);
        c.start();
        std::thread::sleep(Duration::from_millis(4));
        c.received();
        c.broken();
        c.received(); // after a failure: restarts, records nothing
        std::thread::sleep(Duration::from_millis(2));
        c.received();
        let h = c.into_histogram();
        assert_eq!(h.count(), 2);
        // Sleeps only ever last longer: half of 4 ms and of 2 ms at least.
        assert!(h.max() >= 2_000_000 && h.min() >= 1_000_000, "{h:?}");
    }

    #[test]
    fn server_side_skips_the_first_receive() {
        let mut c = Clocked::new(false);
        c.start();
        c.received();
        assert_eq!(c.into_histogram().count(), 0);
    }
}
