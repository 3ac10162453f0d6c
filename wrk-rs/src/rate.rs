//! Constant-rate send schedule for `-R` (wrk2 mode).
//!
//! The whole run is one global timeline: with a total rate of `R` req/s the
//! k-th request of the run (k = 0, 1, 2, …) is due at `start + k / R` s.
//! Request k belongs to connection `k mod N` (N = all connections of all
//! threads), so connection `c` sends its j-th request at
//! `start + (j·N + c) / R`. Every connection therefore runs at exactly `R / N`
//! with its phase staggered by `1 / R`; the total rate holds however small
//! `R` is compared to the thread or connection count (wrk2 divides `R` by the
//! thread count first and then paces each connection independently, which
//! loses control when `R < t`, see wrk2 issues #8 and #147).
//!
//! The due time of a request is its *intended* send time: the engine records
//! corrected latency from it. A connection that falls behind simply finds its
//! next due time in the past and sends at once (one batch outstanding per
//! connection bounds the catch-up); the due times themselves never move.
//!
//! Pure: time is a parameter (µs on the engine's monotonic clock), nothing
//! here reads a clock or sleeps.

/// Pacing state of one connection.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Origin of the global timeline (µs).
    start_us: u64,
    /// Gap between two consecutive requests of the whole run (µs, `1e6 / R`);
    /// `None` when the rate is unusable (≤ 0, NaN): the connection never sends.
    gap_us: Option<f64>,
    /// Connection count N sharing the rate (≥ 1).
    total_conns: u64,
    /// This connection's slot (`0..N`).
    conn: u64,
    /// Requests this connection has already sent (j).
    sent: u64,
}

impl Schedule {
    /// Connection `conn` (0-based, global) of `total_conns` sharing `total_rate` req/s; start_us on
    /// the engine's monotonic µs clock. Spreads remainder so the TOTAL rate holds even if
    /// total_rate < threads or per-connection rate < 1.
    ///
    /// Degenerate inputs never panic: `total_conns` 0 counts as 1, `conn` is
    /// taken modulo the connection count, and a rate that is not a positive
    /// number yields a schedule whose next due time is `u64::MAX`.
    pub fn new(total_rate: f64, total_conns: usize, conn: usize, start_us: u64) -> Schedule {
        let total_conns = total_conns.max(1) as u64;
        let gap_us = if total_rate.is_finite() && total_rate > 0.0 {
            Some(1e6 / total_rate)
        } else if total_rate == f64::INFINITY {
            Some(0.0)
        } else {
            None
        };
        Schedule {
            start_us,
            gap_us,
            total_conns,
            conn: conn as u64 % total_conns,
            sent: 0,
        }
    }

    /// Intended send time (µs) of the `j`-th request of this connection.
    pub fn due_of_us(&self, j: u64) -> u64 {
        let Some(gap) = self.gap_us else {
            return u64::MAX;
        };
        let slot = j as f64 * self.total_conns as f64 + self.conn as f64;
        // Float → int casts saturate, so absurd slots end at u64::MAX.
        let offset = (slot * gap).round() as u64;
        self.start_us.saturating_add(offset)
    }

    /// Intended send time of the next request.
    pub fn next_due_us(&self) -> u64 {
        self.due_of_us(self.sent)
    }

    /// That request was sent.
    pub fn advance(&mut self) {
        self.advance_by(1);
    }

    /// `n` requests were sent at once (a pipelined batch).
    pub fn advance_by(&mut self, n: u64) {
        self.sent = self.sent.saturating_add(n);
    }

    /// Requests sent so far on this connection.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Requests this connection should have sent by `now_us` (due strictly before or at it).
    pub fn due_count_at(&self, now_us: u64) -> u64 {
        let Some(gap) = self.gap_us else {
            return 0;
        };
        if now_us < self.start_us {
            return 0;
        }
        if gap == 0.0 {
            return u64::MAX;
        }
        // Slots k ≤ elapsed/gap with k ≡ conn (mod N); start from a float
        // estimate and correct it against due_of_us, which is authoritative.
        let elapsed = (now_us - self.start_us) as f64;
        let slots = elapsed / gap;
        let est = ((slots - self.conn as f64) / self.total_conns as f64).floor();
        let mut j = if est < 0.0 {
            0
        } else {
            (est as u64).saturating_add(1)
        };
        while j > 0 && self.due_of_us(j - 1) > now_us {
            j -= 1;
        }
        while j < u64::MAX && self.due_of_us(j) <= now_us {
            j += 1;
        }
        j
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// All due times in `[start, start + span)` of every connection, sorted.
    fn all_due(rate: f64, conns: usize, start: u64, span: u64) -> Vec<u64> {
        let mut out = Vec::new();
        for c in 0..conns {
            let mut s = Schedule::new(rate, conns, c, start);
            while s.next_due_us() < start + span {
                out.push(s.next_due_us());
                s.advance();
            }
        }
        out.sort_unstable();
        out
    }

    #[test]
    fn single_connection_is_evenly_spaced() {
        let mut s = Schedule::new(1000.0, 1, 0, 5_000);
        let mut prev = s.next_due_us();
        assert_eq!(prev, 5_000);
        for _ in 0..10_000 {
            s.advance();
            let due = s.next_due_us();
            assert_eq!(due - prev, 1_000);
            prev = due;
        }
        assert_eq!(s.sent(), 10_000);
    }

    #[test]
    fn connections_are_staggered_by_global_gap() {
        // 2000 req/s over 10 connections: global gap 500 µs, per-connection 5 ms.
        let starts: Vec<u64> = (0..10)
            .map(|c| Schedule::new(2000.0, 10, c, 0).next_due_us())
            .collect();
        assert_eq!(starts, (0..10).map(|c| c * 500).collect::<Vec<_>>());
        let mut s = Schedule::new(2000.0, 10, 3, 0);
        s.advance();
        assert_eq!(s.next_due_us(), 5_000 + 1_500);
    }

    #[test]
    fn total_rate_holds_across_many_connections() {
        for &(rate, conns) in &[
            (1000.0, 1),
            (1000.0, 7),
            (1000.0, 64),
            (10_000.0, 100),
            (50_000.0, 1000),
            (3.0, 64),   // rate below the thread count (wrk2 #8/#147)
            (0.5, 2),    // well below one per connection
            (997.0, 13), // uneven split
            (20_000.0, 20_000),
        ] {
            let span = 10_000_000; // 10 s
            let dues = all_due(rate, conns, 1_000, span);
            let expected = rate * span as f64 / 1e6;
            let got = dues.len() as f64;
            assert!(
                (got - expected).abs() <= 1.0,
                "rate {rate} conns {conns}: {got} requests, expected {expected}"
            );
        }
    }

    #[test]
    fn merged_timeline_is_uniform() {
        // The union of all connections is one evenly spaced sequence (±1 µs rounding).
        let dues = all_due(3000.0, 7, 0, 1_000_000);
        let gap = 1e6 / 3000.0;
        for (k, &d) in dues.iter().enumerate() {
            let ideal = (k as f64 * gap).round() as u64;
            assert_eq!(d, ideal, "slot {k}");
        }
    }

    #[test]
    fn rate_below_thread_count_spreads_requests() {
        // 2 req/s over 64 connections: one request every 500 ms globally,
        // each connection once every 32 s.
        let dues = all_due(2.0, 64, 0, 4_000_000);
        assert_eq!(
            dues,
            vec![0, 500_000, 1_000_000, 1_500_000, 2_000_000, 2_500_000, 3_000_000, 3_500_000]
        );
        let mut s = Schedule::new(2.0, 64, 63, 0);
        assert_eq!(s.next_due_us(), 31_500_000);
        s.advance();
        assert_eq!(s.next_due_us(), 63_500_000);
    }

    #[test]
    fn fractional_rates_do_not_drift() {
        // 3 req/s, gap 333333.33 µs: after a million requests still exact to 1 µs.
        let s = Schedule::new(3.0, 1, 0, 0);
        assert_eq!(s.due_of_us(3_000_000), 1_000_000_000_000);
        assert_eq!(s.due_of_us(1), 333_333);
        assert_eq!(s.due_of_us(2), 666_667);
    }

    #[test]
    fn due_times_never_move_when_late() {
        let mut s = Schedule::new(100.0, 1, 0, 0);
        // Falling 55 ms behind: the next five requests are due at once.
        let now = 55_000;
        assert_eq!(s.due_count_at(now), 6);
        let mut sent_late = 0;
        while s.next_due_us() <= now {
            assert!(now.saturating_sub(s.next_due_us()) > 0 || s.next_due_us() == now);
            s.advance();
            sent_late += 1;
        }
        assert_eq!(sent_late, 6);
        assert_eq!(s.next_due_us(), 60_000);
        assert_eq!(s.next_due_us().saturating_sub(now), 5_000);
        assert_eq!(now.saturating_sub(s.next_due_us()), 0);
    }

    #[test]
    fn pipelined_batches_advance_by_batch_size() {
        let mut s = Schedule::new(1000.0, 2, 1, 0);
        assert_eq!(s.next_due_us(), 1_000);
        s.advance_by(4);
        assert_eq!(s.next_due_us(), 4 * 2_000 + 1_000);
    }

    #[test]
    fn due_count_matches_due_times() {
        for &(rate, conns, conn) in &[(1000.0, 1, 0), (3000.0, 7, 5), (2.0, 64, 10), (0.3, 3, 2)] {
            let s = Schedule::new(rate, conns, conn, 777);
            for now in (0..5_000_000).step_by(12_345) {
                let n = s.due_count_at(now);
                let manual = (0..).take_while(|&j| s.due_of_us(j) <= now).count() as u64;
                assert_eq!(n, manual, "rate {rate} conns {conns} conn {conn} now {now}");
            }
        }
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        for rate in [0.0, -5.0, f64::NAN, f64::NEG_INFINITY] {
            let mut s = Schedule::new(rate, 4, 1, 10);
            assert_eq!(s.next_due_us(), u64::MAX);
            assert_eq!(s.due_count_at(u64::MAX), 0);
            s.advance();
            assert_eq!(s.next_due_us(), u64::MAX);
        }
        // Zero connections count as one; out-of-range slot wraps.
        let s = Schedule::new(1000.0, 0, 5, 0);
        assert_eq!(s.next_due_us(), 0);
        let s = Schedule::new(1000.0, 4, 6, 0);
        assert_eq!(s.next_due_us(), 2_000);
        // Infinite rate: everything is due at the start.
        let mut s = Schedule::new(f64::INFINITY, 4, 3, 9);
        s.advance_by(1_000_000);
        assert_eq!(s.next_due_us(), 9);
        // Huge slot indices and start times saturate instead of overflowing.
        let mut s = Schedule::new(1e-9, 1, 0, u64::MAX - 1);
        s.advance_by(u64::MAX);
        s.advance();
        assert_eq!(s.next_due_us(), u64::MAX);
        assert_eq!(u64::MAX.saturating_sub(s.next_due_us()), 0);
    }

    mod props {
        use super::super::Schedule;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]

            /// Any rate and connection count: per-connection due times never
            /// decrease, and over a window the connections together send the
            /// total rate (±1 per connection for the window edges).
            #[test]
            fn total_rate_and_monotonicity(
                rate in 0.1f64..200_000.0,
                conns in 1usize..300,
                start in 0u64..1_000_000_000,
            ) {
                let span = 2_000_000u64;
                let mut total = 0u64;
                for c in 0..conns {
                    let s = Schedule::new(rate, conns, c, start);
                    let n = s.due_count_at(start + span - 1);
                    let mut prev = 0;
                    for j in 0..n.min(50) {
                        let d = s.due_of_us(j);
                        prop_assert!(d >= prev && d >= start);
                        prev = d;
                    }
                    total += n;
                }
                let expected = rate * span as f64 / 1e6;
                prop_assert!((total as f64 - expected).abs() <= 1.0 + conns as f64 * 1e-9,
                    "rate {} conns {}: {} vs {}", rate, conns, total, expected);
            }
        }
    }
}
