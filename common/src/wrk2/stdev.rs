//! wrk2's HdrHistogram statistics, computed the way its bundled C
//! HdrHistogram does (wrk.md §6.3, §6.6), on a `hdrhistogram::Histogram`.
//!
//! The Rust crate's own helpers differ from that old C code in small ways
//! that show in the printed digits: its `max()` is the *highest* equivalent
//! value (wrk2 prints the lowest), its percentile rounds the rank up (wrk2
//! rounds half up), its mean divides term by term, and its quantile iterator
//! follows the newer Java rules. Hence this module: one bucket walk in index
//! order, and every statistic wrk2 prints derived from it — including the
//! `+/- Stdev` bucket walk this file is named after.

use hdrhistogram::Histogram;

/// One histogram index as the C iterator visits it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Bucket {
    /// Lowest value of the index (`value_from_index`).
    lowest: u64,
    /// Highest equivalent value of the index.
    highest: u64,
    /// Median equivalent value (used for mean and stdev).
    median: u64,
    count: u64,
    /// Cumulative count up to and including this index.
    cumulative: u64,
}

/// Every index from value 0 upwards, ending with the one whose cumulative
/// count reaches the total (the C iterator stops there); nothing when empty.
fn buckets(h: &Histogram<u64>) -> impl Iterator<Item = Bucket> + '_ {
    let total = h.len();
    let mut value = 0u64;
    let mut cumulative = 0u64;
    std::iter::from_fn(move || {
        if cumulative >= total {
            return None;
        }
        let count = h.count_at(value);
        cumulative = cumulative.saturating_add(count);
        let lowest = h.lowest_equivalent(value);
        let next = h.next_non_equivalent(value);
        let b = Bucket {
            lowest,
            highest: next.saturating_sub(1),
            median: h.median_equivalent(value),
            count,
            cumulative,
        };
        if next <= value || next == u64::MAX {
            // End of the value space: stop after this index.
            cumulative = total;
        }
        value = next;
        Some(b)
    })
}

/// Mean of the median-equivalent values (integer sum, then one division as
/// in C). NaN when empty (C divides 0 by 0; printed `-nan`).
pub fn mean(h: &Histogram<u64>) -> f64 {
    let total: u128 = buckets(h)
        .filter(|b| b.count != 0)
        .map(|b| b.count as u128 * b.median as u128)
        .sum();
    total as f64 / h.len() as f64
}

/// Population standard deviation of the median-equivalent values. NaN when
/// empty.
pub fn stdev(h: &Histogram<u64>) -> f64 {
    let m = mean(h);
    let mut dev_total = 0.0f64;
    for b in buckets(h).filter(|b| b.count != 0) {
        let dev = b.median as f64 - m;
        dev_total += (dev * dev) * b.count as f64;
    }
    (dev_total / h.len() as f64).sqrt()
}

/// Largest value as wrk2 prints it: the *lowest* equivalent value of the
/// highest non-empty index; 0 when empty.
pub fn max(h: &Histogram<u64>) -> u64 {
    buckets(h)
        .filter(|b| b.count != 0)
        .last()
        .map_or(0, |b| b.lowest)
}

/// Value at percentile `p` (0..=100): the highest equivalent value of the
/// first index whose cumulative count reaches `trunc(p/100·N + 0.5)` (at
/// least 1); 0 when empty.
pub fn value_at_percentile(h: &Histogram<u64>, p: f64) -> u64 {
    let p = if p < 100.0 { p } else { 100.0 };
    let rank = ((p / 100.0) * h.len() as f64 + 0.5) as i64;
    let rank = rank.max(1) as u64;
    buckets(h)
        .find(|b| b.cumulative >= rank)
        .map_or(0, |b| b.highest)
}

/// Percentage of samples within one standard deviation of the mean, by
/// wrk2's bucket walk: `lower` = cumulative count of the last index whose
/// lowest value is below `trunc(mean − stdev)`, `upper` = cumulative count of
/// the first index whose highest equivalent value exceeds `trunc(mean +
/// stdev)` (the total if none); `100·(upper − lower)/N`, 0 when empty.
pub fn within_stdev(h: &Histogram<u64>, mean: f64, stdev: f64) -> f64 {
    let total = h.len();
    if total == 0 {
        return 0.0;
    }
    // Float → int casts saturate (NaN → 0) like a well-behaved C cast.
    let upper_value = (mean + stdev) as i64;
    let lower_value = (mean - stdev) as i64;
    let mut lower_count = 0u64;
    let mut upper_count = None;
    for b in buckets(h) {
        if lower_value > b.lowest as i64 {
            lower_count = b.cumulative;
        }
        if upper_value < b.highest as i64 {
            upper_count = Some(b.cumulative);
            break;
        }
    }
    let upper_count = upper_count.unwrap_or(total);
    100.0 * (upper_count as f64 - lower_count as f64) / total as f64
}

/// One row of the detailed percentile spectrum.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tick {
    /// Highest equivalent value of the index the row was emitted at.
    pub value: u64,
    /// The target percentile (0..=100) the row stands for.
    pub percentile: f64,
    /// Cumulative count at that index.
    pub total_count: u64,
}

/// The detailed percentile spectrum with `ticks_per_half_distance` rows per
/// halving of the remaining distance to 100 % (wrk2 uses 5).
///
/// Targets start at 0 %; an index emits a row whenever it is non-empty and
/// its cumulative percentage reaches the current target, and is examined
/// again after each row, so one index can emit several rows. The index that
/// reaches the total emits at most one row; then a final row at exactly
/// 100 % closes the list. An empty histogram yields just that final row
/// (value 0, count 0).
pub fn spectrum(h: &Histogram<u64>, ticks_per_half_distance: u32) -> Vec<Tick> {
    let total = h.len();
    let ticks = f64::from(ticks_per_half_distance.max(1));
    let mut rows = Vec::new();
    let mut target = 0.0f64;
    let mut last = Bucket {
        lowest: 0,
        highest: 0,
        median: 0,
        count: 0,
        cumulative: 0,
    };
    for b in buckets(h) {
        last = b;
        let reached = 100.0 * b.cumulative as f64 / total as f64;
        while b.count != 0 && target <= reached {
            rows.push(Tick {
                value: b.highest,
                percentile: target,
                total_count: b.cumulative,
            });
            // Halvings of the remaining distance so far, computed as in C
            // (natural logs, truncated), then one more for the step size.
            let halvings = ((100.0 / (100.0 - target)).ln() / 2f64.ln()) as i64;
            let half_distance = 2f64.powi((halvings + 1).clamp(0, 1023) as i32);
            target += 100.0 / (ticks * half_distance);
            if b.cumulative >= total {
                break;
            }
        }
    }
    rows.push(Tick {
        value: last.highest,
        percentile: 100.0,
        total_count: last.cumulative,
    });
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(values: &[(u64, u64)]) -> Histogram<u64> {
        let mut h = Histogram::new_with_bounds(1, crate::hdr::MAX_VALUE_US, 3).unwrap();
        for &(v, n) in values {
            h.record_n(v, n).unwrap();
        }
        h
    }

    #[test]
    fn empty_histogram_matches_c() {
        let h = hist(&[]);
        assert!(mean(&h).is_nan());
        assert!(stdev(&h).is_nan());
        assert_eq!(max(&h), 0);
        assert_eq!(value_at_percentile(&h, 50.0), 0);
        assert_eq!(within_stdev(&h, f64::NAN, f64::NAN), 0.0);
        assert_eq!(
            spectrum(&h, 5),
            vec![Tick {
                value: 0,
                percentile: 100.0,
                total_count: 0
            }]
        );
    }

    #[test]
    fn max_is_lowest_equivalent() {
        // 2994 and 2995 share one index (width 2 above 2048).
        let h = hist(&[(100, 1), (2995, 1)]);
        assert_eq!(max(&h), 2994);
        assert_eq!(h.max(), 2995);
        assert_eq!(value_at_percentile(&h, 100.0), 2995);
    }

    #[test]
    fn percentile_rank_rounds_half_up() {
        // N = 3: p=50 → trunc(1.5 + 0.5) = 2 → second value (ceil would also
        // give 2); p=16.7 → trunc(0.501+0.5)=1; p=83 → trunc(2.49+0.5)=2.
        let h = hist(&[(10, 1), (20, 1), (30, 1)]);
        assert_eq!(value_at_percentile(&h, 50.0), 20);
        assert_eq!(value_at_percentile(&h, 83.0), 20);
        assert_eq!(h.value_at_percentile(83.0), 30);
        assert_eq!(value_at_percentile(&h, 0.0), 10);
        assert_eq!(value_at_percentile(&h, 250.0), 30);
    }

    #[test]
    fn mean_and_stdev_use_median_equivalents() {
        let h = hist(&[(3000, 2), (1000, 2)]);
        // 3000 lies in [3000, 3001], median 3001.
        assert_eq!(mean(&h), 2000.5);
        assert_eq!(stdev(&h), 1000.5);
    }

    #[test]
    fn within_stdev_walk() {
        // Values 1..=100 once each: mean 50.5, stdev ≈ 28.87 → lower 21,
        // upper 79: lower_count = 20 (indexes < 21), upper_count = 80 (first
        // index above 79) → 60 %.
        let values: Vec<(u64, u64)> = (1..=100).map(|v| (v, 1)).collect();
        let h = hist(&values);
        let (m, s) = (mean(&h), stdev(&h));
        assert_eq!(m, 50.5);
        assert_eq!(within_stdev(&h, m, s), 60.0);
        // Upper bound beyond the maximum: everything up to the total.
        assert_eq!(within_stdev(&h, 50.0, 1000.0), 100.0);
    }

    #[test]
    fn within_stdev_counts_an_empty_index_as_upper() {
        // Values 10 and 20: mean 15, stdev 5 → upper 20: index 21 exceeds it
        // but the walk stops at 20 which reaches the total → upper = total;
        // with stdev 2 → upper 17: the first index above is the empty 18,
        // cumulative 1, lower 13 → lower_count 1 → 0 %.
        let h = hist(&[(10, 1), (20, 1)]);
        assert_eq!(within_stdev(&h, 15.0, 5.0), 100.0);
        assert_eq!(within_stdev(&h, 15.0, 2.0), 0.0);
    }

    #[test]
    fn spectrum_ticks_and_repeats() {
        // One value: row at 0 %, one more at the same index? No: the index
        // reaching the total emits one row, then the final 100 % row.
        let h = hist(&[(500, 10)]);
        let s = spectrum(&h, 5);
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].value, s[0].percentile, s[0].total_count),
            (500, 0.0, 10)
        );
        assert_eq!(
            (s[1].value, s[1].percentile, s[1].total_count),
            (500, 100.0, 10)
        );

        // Two values, 90 % at 1 and 10 % at 2: index 1 emits 0,10,…,50,55…
        // up to ≤ 90 %, index 2 emits one row, then 100 %.
        let h = hist(&[(1, 9), (2, 1)]);
        let s = spectrum(&h, 5);
        let ps: Vec<f64> = s
            .iter()
            .map(|t| (t.percentile * 1e6).round() / 1e6)
            .collect();
        assert_eq!(
            ps,
            vec![
                0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 55.0, 60.0, 65.0, 70.0, 75.0, 77.5, 80.0, 82.5,
                85.0, 87.5, 88.75, 90.0, 91.25, 100.0
            ]
        );
        assert!(s[..18].iter().all(|t| t.value == 1 && t.total_count == 9));
        assert_eq!((s[18].value, s[18].total_count), (2, 10));
    }
}
