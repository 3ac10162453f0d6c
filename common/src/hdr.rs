//! HdrHistogram-backed latency recorder (wrk2 `-R` mode, extensions).
//!
//! Matches wrk2's histogram setup: values 1 µs .. 24 h, 3 significant
//! digits (27 buckets × 2048 sub-buckets).

use hdrhistogram::Histogram;

/// Highest trackable value: one day in µs, as wrk2.
pub const MAX_VALUE_US: u64 = 24 * 60 * 60 * 1_000_000;

/// Sub-buckets per bucket at 3 significant digits (printed by wrk2).
pub const SUB_BUCKETS: u32 = 2048;

/// One row of the detailed percentile spectrum.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpectrumRow {
    /// Highest equivalent value of the bucket, µs.
    pub value_us: u64,
    /// Percentile as a fraction 0..=1.
    pub quantile: f64,
    /// Cumulative count up to this bucket.
    pub total_count: u64,
}

/// A µs latency recorder.
#[derive(Clone, Debug)]
pub struct Recorder {
    h: Histogram<u64>,
}

impl Default for Recorder {
    fn default() -> Recorder {
        Recorder::new()
    }
}

impl Recorder {
    /// Empty recorder with wrk2's bounds.
    pub fn new() -> Recorder {
        // Bounds are constants known to be valid; fall back to an
        // auto-resizing histogram should the crate ever reject them.
        let h = Histogram::new_with_bounds(1, MAX_VALUE_US, 3)
            .or_else(|_| Histogram::new(3))
            .unwrap_or_else(|_| unreachable_histogram());
        Recorder { h }
    }

    /// Records one value (clamped into the trackable range).
    pub fn record(&mut self, us: u64) {
        let v = us.clamp(1, MAX_VALUE_US);
        let _ = self.h.record(v);
    }

    /// Records `v` with wrk2-style correction for an expected interval.
    pub fn record_corrected(&mut self, us: u64, expected_interval_us: u64) {
        let v = us.clamp(1, MAX_VALUE_US);
        let _ = self.h.record_correct(v, expected_interval_us);
    }

    /// Lossless merge of another recorder.
    pub fn merge(&mut self, other: &Recorder) {
        let _ = self.h.add(&other.h);
    }

    /// Number of recorded samples.
    pub fn count(&self) -> u64 {
        self.h.len()
    }

    /// Mean (median-equivalent values), µs.
    pub fn mean(&self) -> f64 {
        self.h.mean()
    }

    /// Population standard deviation, µs.
    pub fn stdev(&self) -> f64 {
        self.h.stdev()
    }

    /// Largest value (highest-equivalent), µs.
    pub fn max(&self) -> u64 {
        self.h.max()
    }

    /// Value at percentile `p` (0..=100), µs.
    pub fn percentile(&self, p: f64) -> u64 {
        self.h.value_at_percentile(p)
    }

    /// The detailed percentile spectrum as wrk2 prints it (5 ticks per
    /// half distance).
    pub fn spectrum(&self) -> Vec<SpectrumRow> {
        let mut total = 0u64;
        self.h
            .iter_quantiles(5)
            .map(|v| {
                total += v.count_since_last_iteration();
                SpectrumRow {
                    value_us: v.value_iterated_to(),
                    quantile: v.quantile_iterated_to(),
                    total_count: total,
                }
            })
            .collect()
    }

    /// The underlying histogram.
    pub fn histogram(&self) -> &Histogram<u64> {
        &self.h
    }
}

fn unreachable_histogram() -> Histogram<u64> {
    // new(3) with 3 significant digits cannot fail; this keeps the
    // constructor panic-free in signature. Use the smallest valid config.
    match Histogram::new(1) {
        Ok(h) => h,
        Err(_) => std::process::abort(),
    }
}
