//! wrk Stats: quirks from the goldens and equivalence with a flat array.

use common::wrk::report::{render_report, Errors, Report};
use common::wrk::stats::Stats;
use proptest::prelude::*;

/// The naive flat-array model of wrk's histogram (§2.11).
struct Flat {
    data: Vec<u64>,
    count: u64,
    min: u64,
    max: u64,
}

impl Flat {
    fn new(limit: u64) -> Flat {
        Flat {
            data: vec![0; limit as usize],
            count: 0,
            min: u64::MAX,
            max: 0,
        }
    }
    fn record(&mut self, v: u64) -> bool {
        if v >= self.data.len() as u64 {
            return false;
        }
        self.data[v as usize] += 1;
        self.count += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        true
    }
    fn correct(&mut self, interval: u64) {
        if interval == 0 || self.count == 0 {
            return;
        }
        let mut n = 2 * interval;
        while n <= self.max {
            let k = self.data[n as usize];
            let mut m = n - interval;
            while m > interval {
                self.data[m as usize] += k;
                self.count += k;
                m -= interval;
            }
            n += 1;
        }
    }
    fn visible(&self) -> Vec<(u64, u64)> {
        if self.count == 0 {
            return vec![];
        }
        (self.min..=self.max)
            .filter(|&v| self.data[v as usize] != 0)
            .map(|v| (v, self.data[v as usize]))
            .collect()
    }
    fn percentile(&self, p: f64) -> u64 {
        let rank = (p / 100.0 * self.count as f64 + 0.5).round();
        let mut t = 0;
        for (v, k) in self.visible() {
            t += k;
            if t as f64 >= rank {
                return v;
            }
        }
        0
    }
}

proptest! {
    #[test]
    fn sparse_equals_flat(vals in prop::collection::vec(0u64..20_000, 0..300),
                          interval in 0u64..3000) {
        let limit = 10_000;
        let mut s = Stats::new(limit);
        let mut f = Flat::new(limit);
        for &v in &vals {
            prop_assert_eq!(s.record(v), f.record(v));
        }
        s.correct(interval);
        f.correct(interval);
        prop_assert_eq!(s.count(), f.count);
        prop_assert_eq!(s.min(), f.min);
        prop_assert_eq!(s.max(), f.max);
        let vis = f.visible();
        prop_assert_eq!(s.popcount(), vis.len() as u64);
        for (i, &pair) in vis.iter().enumerate() {
            prop_assert_eq!(s.value_at(i as u64), pair);
        }
        prop_assert_eq!(s.value_at(vis.len() as u64), (0, 0));
        for p in [0.0, 10.0, 50.0, 75.0, 90.0, 99.0, 99.9, 100.0] {
            prop_assert_eq!(s.percentile(p), f.percentile(p));
        }
    }

    #[test]
    fn merge_equals_single(a in prop::collection::vec(0u64..9000, 0..200),
                           b in prop::collection::vec(0u64..9000, 0..200)) {
        let mut one = Stats::new(10_000);
        let mut x = Stats::new(10_000);
        let mut y = Stats::new(10_000);
        for &v in &a { one.record(v); x.record(v); }
        for &v in &b { one.record(v); y.record(v); }
        x.merge(&y);
        prop_assert_eq!(x.count(), one.count());
        prop_assert_eq!(x.min(), one.min());
        prop_assert_eq!(x.max(), one.max());
        prop_assert_eq!(x.mean(), one.mean());
        prop_assert_eq!(x.popcount(), one.popcount());
    }

    #[test]
    fn percentiles_monotone(vals in prop::collection::vec(0u64..5000, 1..300),
                            p1 in 0.0f64..99.9, p2 in 0.0f64..99.9) {
        let mut s = Stats::new(10_000);
        for &v in &vals { s.record(v); }
        let (lo, hi) = if p1 <= p2 { (p1, p2) } else { (p2, p1) };
        prop_assert!(s.percentile(lo) <= s.percentile(hi));
    }
}

#[test]
fn idle_stats_is_small() {
    // 64 threads × 2 s default timeout must not allocate 16 MB each.
    let s = Stats::new(2_000_000);
    assert_eq!(s.count(), 0);
    assert_eq!(s.percentile(50.0), 0);
    // Page table only: 489 pointers.
    assert!(s.allocated_bytes() < 64 * 1024, "{}", s.allocated_bytes());
    let mut t = Stats::new(2_000_000);
    t.record(1_999_999);
    assert!(t.allocated_bytes() < 64 * 1024, "{}", t.allocated_bytes());
}

#[test]
fn percentile_100_is_zero_and_record_limit() {
    let mut s = Stats::new(100);
    assert!(s.record(5));
    assert!(s.record(99));
    assert!(!s.record(100));
    assert_eq!(s.count(), 2);
    assert_eq!(s.percentile(100.0), 0);
    assert_eq!(s.percentile(0.0), 5);
}

/// golden/44: corrected samples below the recorded min are invisible, so
/// high percentiles print `0.00us`.
#[test]
fn hidden_corrected_samples_give_zero_percentiles() {
    let mut lat = Stats::new(2_000_000);
    // Latencies 60..=130 µs, interval 30 µs: synthetic samples at n-30,
    // n-60, n-90 (> 30); 680 of the 1200 land below min=60 (invisible).
    for v in 60..=130 {
        for _ in 0..10 {
            lat.record(v);
        }
    }
    lat.correct(30);
    assert_eq!(lat.count(), 1910);
    assert_eq!(lat.min(), 60);
    assert!(lat.percentile(50.0) > 0);
    assert_eq!(lat.percentile(90.0), 0);
    assert_eq!(lat.percentile(99.0), 0);
    let mut req = Stats::new(10_000_000);
    req.record(63_000);
    let r = Report {
        url: "http://127.0.0.1:8089/".into(),
        duration_secs: 2,
        threads: 1,
        connections: 2,
        latency: lat,
        requests: req,
        print_latency_distribution: true,
        complete: 125946,
        runtime_us: 2_001_500,
        bytes: 30_230_000,
        errors: Errors::default(),
    };
    let mut out = Vec::new();
    render_report(&mut out, &r).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("\n     90%    0.00us\n     99%    0.00us\n"),
        "{out}"
    );
}
