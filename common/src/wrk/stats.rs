//! wrk's microsecond histogram (wrk.md §2.8–2.11).
//!
//! wrk keeps a flat array of counters indexed by value (`limit` slots: 16 MB
//! at the default 2 s timeout, 690 GB for `--timeout 24h`). We keep the same
//! semantics with sparse storage: pages of [`PAGE`] counters, allocated on
//! first touch and kept in an ordered map, so memory follows the values
//! actually seen, whatever the limit. Every scan visits pages in value order
//! and gives the same results as the flat array.

use std::collections::BTreeMap;

/// Counters per page.
const PAGE: usize = 4096;

/// One histogram: counts per integer value, plus count/min/max.
#[derive(Clone, Debug)]
pub struct Stats {
    limit: u64,
    count: u64,
    min: u64,
    max: u64,
    /// Page number → its counters (only touched pages).
    pages: BTreeMap<u64, Box<[u64]>>,
}

impl Stats {
    /// Histogram accepting values `0..limit` (values `>= limit` are dropped).
    pub fn new(limit: u64) -> Stats {
        Stats {
            limit,
            count: 0,
            min: u64::MAX,
            max: 0,
            pages: BTreeMap::new(),
        }
    }

    /// Heap bytes currently held (touched pages plus an estimate of the
    /// map's own nodes).
    pub fn allocated_bytes(&self) -> usize {
        self.pages.len() * (PAGE * 8 + 32)
    }

    /// The exclusive upper bound given to [`Stats::new`].
    pub fn limit(&self) -> u64 {
        self.limit
    }

    fn add(&mut self, v: u64, k: u64) {
        let p = self
            .pages
            .entry(v / PAGE as u64)
            .or_insert_with(|| vec![0u64; PAGE].into_boxed_slice());
        let c = &mut p[(v % PAGE as u64) as usize];
        *c = c.wrapping_add(k);
    }

    /// Records one value; returns false (and records nothing) if `v >= limit`.
    pub fn record(&mut self, v: u64) -> bool {
        if v >= self.limit {
            return false;
        }
        self.add(v, 1);
        self.count = self.count.wrapping_add(1);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        true
    }

    /// Adds every count of `other` (per-thread histograms merged at the end).
    pub fn merge(&mut self, other: &Stats) {
        for (&i, p) in &other.pages {
            for (j, &k) in p.iter().enumerate() {
                if k != 0 {
                    let v = i * PAGE as u64 + j as u64;
                    if v < self.limit {
                        self.add(v, k);
                    }
                }
            }
        }
        self.count = self.count.wrapping_add(other.count);
        if other.count > 0 {
            self.min = self.min.min(other.min);
            self.max = self.max.max(other.max);
        }
    }

    /// wrk's post-run coordinated-omission correction (§2.9).
    ///
    /// Quirk kept from wrk: synthetic samples raise `count` but `min`/`max`
    /// are untouched, so samples below `min` are invisible to every scan.
    pub fn correct(&mut self, expected_interval: u64) {
        let interval = expected_interval;
        if interval == 0 || self.count == 0 {
            return;
        }
        let Some(start) = interval.checked_mul(2) else {
            return;
        };
        // Values only ever move below the one being scanned, so the scan
        // can skip untouched pages: it reads the original counts.
        let (first, last) = (start / PAGE as u64, self.max / PAGE as u64);
        if first > last {
            return;
        }
        let touched: Vec<u64> = self.pages.range(first..=last).map(|(&i, _)| i).collect();
        let mut page = vec![0u64; PAGE];
        for i in touched {
            // Adds only go below the scanned value, so a copy of the page
            // taken before scanning it holds every count the scan reads.
            if let Some(p) = self.pages.get(&i) {
                page.copy_from_slice(p);
            }
            for (j, &k) in page.iter().enumerate() {
                let n = i * PAGE as u64 + j as u64;
                if k == 0 || n < start || n > self.max {
                    continue;
                }
                let mut m = n - interval;
                while m > interval {
                    self.add(m, k);
                    self.count = self.count.wrapping_add(k);
                    m -= interval;
                }
            }
        }
    }

    /// Smallest recorded value (`u64::MAX` when empty, as wrk).
    pub fn min(&self) -> u64 {
        self.min
    }

    /// Largest recorded value (0 when empty).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Stored total count (includes invisible corrected samples).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Visits each visible non-zero (value, count) in ascending order.
    fn visible(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let (lo, hi) = if self.count == 0 || self.min > self.max {
            (1, 0)
        } else {
            (self.min, self.max)
        };
        // An empty histogram scans no page (BTreeMap::range needs lo <= hi).
        let (first, last) = (lo / PAGE as u64, hi / PAGE as u64);
        let range = if lo > hi { 1..1 } else { first..last + 1 };
        self.pages.range(range).flat_map(move |(&i, p)| {
            p.iter().enumerate().filter_map(move |(j, &k)| {
                let v = i * PAGE as u64 + j as u64;
                (k != 0 && v >= lo && v <= hi).then_some((v, k))
            })
        })
    }

    /// Each visible (value, count) in ascending order, in one pass (wrk2's
    /// report feeds the Req/Sec samples into an HdrHistogram with it).
    pub fn values(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.visible()
    }

    /// Mean over visible values divided by the stored count (0 when empty).
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let sum: u128 = self.visible().map(|(v, k)| v as u128 * k as u128).sum();
        sum as f64 / self.count as f64
    }

    /// Sample standard deviation around `mean` (0 when count < 2).
    pub fn stdev(&self, mean: f64) -> f64 {
        if self.count < 2 {
            return 0.0;
        }
        let sum: f64 = self
            .visible()
            .map(|(v, k)| {
                let d = v as f64 - mean;
                d * d * k as f64
            })
            .sum();
        (sum / (self.count - 1) as f64).sqrt()
    }

    /// Percentage of samples within `mean ± n·stdev`; NaN when empty
    /// (wrk prints it as `-nan`).
    pub fn within_stdev(&self, mean: f64, stdev: f64, n: u64) -> f64 {
        let lower = mean - stdev * n as f64;
        let upper = mean + stdev * n as f64;
        let sum: u64 = self
            .visible()
            .filter(|&(v, _)| v as f64 >= lower && v as f64 <= upper)
            .map(|(_, k)| k)
            .sum();
        sum as f64 / self.count as f64 * 100.0
    }

    /// wrk's percentile: first visible value whose running total reaches
    /// `round(p/100·count + 0.5)`; 0 if never reached (so p=100 → 0).
    pub fn percentile(&self, p: f64) -> u64 {
        let rank = (p / 100.0 * self.count as f64 + 0.5).round();
        let mut total = 0u64;
        for (v, k) in self.visible() {
            total = total.wrapping_add(k);
            if total as f64 >= rank {
                return v;
            }
        }
        0
    }

    /// Every stored non-zero (value, count) in ascending order, including
    /// the correction's samples below `min` that scans skip: with
    /// [`Stats::from_parts`] this round-trips the histogram losslessly.
    pub fn counts(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.pages.iter().flat_map(|(&i, p)| {
            p.iter().enumerate().filter_map(move |(j, &k)| {
                let v = i * PAGE as u64 + j as u64;
                (k != 0).then_some((v, k))
            })
        })
    }

    /// Rebuilds a histogram from [`Stats::limit`], [`Stats::count`],
    /// [`Stats::min`], [`Stats::max`] and [`Stats::counts`] (values at or
    /// above `limit` are dropped, as [`Stats::record`] would).
    pub fn from_parts(
        limit: u64,
        count: u64,
        min: u64,
        max: u64,
        counts: impl IntoIterator<Item = (u64, u64)>,
    ) -> Stats {
        let mut s = Stats::new(limit);
        for (v, k) in counts {
            if v < limit && k != 0 {
                s.add(v, k);
            }
        }
        s.count = count;
        s.min = min;
        s.max = max;
        s
    }

    /// Number of distinct visible values.
    pub fn popcount(&self) -> u64 {
        self.visible().count() as u64
    }

    /// The `i`-th (0-based) distinct visible value and its count; (0, 0) if
    /// out of range.
    pub fn value_at(&self, i: u64) -> (u64, u64) {
        usize::try_from(i)
            .ok()
            .and_then(|i| self.visible().nth(i))
            .unwrap_or((0, 0))
    }
}

/// wrk's µs histogram as sparse `[value, count]` pairs, losslessly: the
/// form `wrk --json` writes and `netbench merge` reads back.
/// [`SparseStats::to_stats`] rebuilds the very histogram (also after wrk's
/// correction, with its samples below `min`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SparseStats {
    /// Values at or above this are not recorded (timeout in µs + 1).
    pub limit: u64,
    /// Stored count (includes the correction's samples below `min`).
    pub count: u64,
    /// `null` when empty (wrk's 2^64−1).
    pub min: Option<u64>,
    /// Largest value.
    pub max: u64,
    /// Every non-zero `[value, count]`, ascending.
    pub counts: Vec<[u64; 2]>,
}

impl SparseStats {
    /// The sparse form of `s`.
    pub fn from_stats(s: &Stats) -> SparseStats {
        SparseStats {
            limit: s.limit(),
            count: s.count(),
            min: (s.min() != u64::MAX).then_some(s.min()),
            max: s.max(),
            counts: s.counts().map(|(v, k)| [v, k]).collect(),
        }
    }

    /// The histogram again ([`Stats::from_parts`]).
    pub fn to_stats(&self) -> Stats {
        Stats::from_parts(
            self.limit,
            self.count,
            self.min.unwrap_or(u64::MAX),
            self.max,
            self.counts.iter().map(|c| (c[0], c[1])),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_round_trip_keeps_invisible_samples() {
        let mut s = Stats::new(100_000);
        for v in [500, 900, 900, 70_000] {
            s.record(v);
        }
        s.correct(200);
        let counts: Vec<(u64, u64)> = s.counts().collect();
        let r = Stats::from_parts(s.limit(), s.count(), s.min(), s.max(), counts.clone());
        assert_eq!(r.counts().collect::<Vec<_>>(), counts);
        assert_eq!((r.count(), r.min(), r.max()), (s.count(), s.min(), s.max()));
        assert_eq!(r.percentile(50.0), s.percentile(50.0));
        assert_eq!(r.mean(), s.mean());
        // Samples below min exist (invisible to scans) and survive.
        assert!(counts.iter().any(|&(v, _)| v < s.min()));
    }

    /// `--timeout 24h`: memory follows the values, not the limit; scans and
    /// the correction agree with a small-limit histogram.
    #[test]
    fn huge_limit_is_sparse() {
        let mut big = Stats::new(86_400_000_000 + 1);
        let mut small = Stats::new(2_000_001);
        for v in [5u64, 70, 70, 1_000, 1_500_000, 9_999] {
            assert!(big.record(v));
            assert!(small.record(v));
        }
        assert_eq!(big.percentile(50.0), small.percentile(50.0));
        assert!(big.record(30_000_000));
        assert!(!big.record(86_400_000_001));
        assert!(big.allocated_bytes() < 5 * (PAGE * 8 + 64));
        // One 30 s latency corrected at a 100 ms interval: ~300 synthetic
        // values, one page each at most (a flat array would be 240 MB).
        big.correct(100_000);
        assert_eq!(big.max(), 30_000_000);
        assert!(big.count() > 300);
        assert!(
            big.allocated_bytes() < 12 << 20,
            "{}",
            big.allocated_bytes()
        );
    }

    #[test]
    fn empty_scans_are_empty() {
        let s = Stats::new(10);
        assert_eq!(s.percentile(50.0), 0);
        assert_eq!(s.popcount(), 0);
        assert_eq!(s.value_at(0), (0, 0));
        assert!(s.within_stdev(0.0, 0.0, 1).is_nan());
    }
}
