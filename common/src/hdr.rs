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
        Recorder {
            h: bounded(MAX_VALUE_US),
        }
    }

    /// Records one value (clamped into the trackable range).
    pub fn record(&mut self, us: u64) {
        let v = us.clamp(1, MAX_VALUE_US);
        let _ = self.h.record(v);
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

    /// V2 compressed, standard base64: the form of wrk's `--json`
    /// (`hdr_corrected`, `hdr_uncorrected`) and of HdrHistogram logs.
    pub fn to_base64(&self) -> String {
        use base64::Engine;
        use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
        let mut out = Vec::new();
        // Writing into a Vec cannot fail for a valid histogram.
        let _ = V2DeflateSerializer::new().serialize(&self.h, &mut out);
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    /// Reads [`Self::to_base64`]'s text (or any V2 µs histogram) into a
    /// recorder with wrk2's bounds, losslessly.
    pub fn from_base64(text: &str) -> Result<Recorder, String> {
        use base64::Engine;
        use hdrhistogram::serialization::Deserializer;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| format!("bad base64: {e}"))?;
        let h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| format!("bad histogram: {e:?}"))?;
        let mut r = Recorder::new();
        r.h.add(&h).map_err(|e| format!("bad histogram: {e:?}"))?;
        Ok(r)
    }
}

/// 1..=`max`, 3 significant digits. The bounds are constants known to be
/// valid; should the crate ever reject them, an auto-resizing histogram.
fn bounded(max: u64) -> Histogram<u64> {
    Histogram::new_with_bounds(1, max, 3)
        .or_else(|_| Histogram::new(3))
        .unwrap_or_else(|_| unreachable_histogram())
}

fn unreachable_histogram() -> Histogram<u64> {
    // new(3) with 3 significant digits cannot fail; this keeps the
    // constructor panic-free in signature. Use the smallest valid config.
    match Histogram::new(1) {
        Ok(h) => h,
        Err(_) => std::process::abort(),
    }
}

/// Highest trackable value of [`NsHistogram`]: one hour in ns.
pub const MAX_VALUE_NS: u64 = 3_600 * 1_000_000_000;

/// A nanosecond latency histogram (qperf `--percentiles`): 1 ns .. 1 h at
/// 3 significant digits, so loopback round trips of a few µs keep their
/// resolution. Serialises losslessly (V2 compressed, base64) for merging.
#[derive(Clone, Debug)]
pub struct NsHistogram {
    h: Histogram<u64>,
}

impl Default for NsHistogram {
    fn default() -> NsHistogram {
        NsHistogram::new()
    }
}

impl PartialEq for NsHistogram {
    fn eq(&self, other: &NsHistogram) -> bool {
        self.h == other.h
    }
}

impl NsHistogram {
    /// Empty histogram.
    pub fn new() -> NsHistogram {
        NsHistogram {
            h: bounded(MAX_VALUE_NS),
        }
    }

    /// Records one value in ns (clamped into the trackable range).
    #[inline]
    pub fn record(&mut self, ns: u64) {
        let _ = self.h.record(ns.clamp(1, MAX_VALUE_NS));
    }

    /// Lossless merge of another histogram.
    pub fn merge(&mut self, other: &NsHistogram) {
        let _ = self.h.add(&other.h);
    }

    /// Number of recorded values.
    pub fn count(&self) -> u64 {
        self.h.len()
    }

    /// Mean, ns.
    pub fn mean(&self) -> f64 {
        self.h.mean()
    }

    /// Smallest recorded value (lowest equivalent), ns; 0 when empty.
    pub fn min(&self) -> u64 {
        if self.h.is_empty() {
            0
        } else {
            self.h.min()
        }
    }

    /// Largest recorded value (highest equivalent), ns; 0 when empty.
    pub fn max(&self) -> u64 {
        if self.h.is_empty() {
            0
        } else {
            self.h.max()
        }
    }

    /// Value at percentile `p` (0..=100), ns; 0 when empty.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.h.is_empty() {
            0
        } else {
            self.h.value_at_percentile(p)
        }
    }

    /// The V2 compressed (deflate) serialisation, as HdrHistogram's
    /// Java/C/Python tools read it.
    pub fn to_v2_compressed(&self) -> Vec<u8> {
        use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
        let mut out = Vec::new();
        // Writing into a Vec cannot fail for a valid histogram.
        let _ = V2DeflateSerializer::new().serialize(&self.h, &mut out);
        out
    }

    /// Reads a V2 (compressed or not) serialisation.
    pub fn from_v2(bytes: &[u8]) -> Result<NsHistogram, String> {
        use hdrhistogram::serialization::Deserializer;
        let mut r = bytes;
        let h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut r)
            .map_err(|e| format!("bad histogram: {e:?}"))?;
        let mut out = NsHistogram::new();
        out.h.add(&h).map_err(|e| format!("bad histogram: {e:?}"))?;
        Ok(out)
    }

    /// [`Self::to_v2_compressed`] in standard base64 (the form of HdrHistogram logs).
    pub fn to_base64(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.to_v2_compressed())
    }

    /// Reads [`Self::to_base64`]'s text back.
    pub fn from_base64(text: &str) -> Result<NsHistogram, String> {
        use base64::Engine;
        let b = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| format!("bad base64: {e}"))?;
        NsHistogram::from_v2(&b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ns_histogram_round_trips_losslessly() {
        let mut h = NsHistogram::new();
        for v in [1u64, 7_000, 7_100, 2_000_000, MAX_VALUE_NS + 5] {
            h.record(v);
        }
        let back = NsHistogram::from_base64(&h.to_base64()).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.count(), 5);
        assert_eq!(back.percentile(50.0), h.percentile(50.0));
        assert!(NsHistogram::from_base64("not base64!").is_err());
        assert!(NsHistogram::from_v2(b"\x1c\x84\x93\x14junk").is_err());
    }

    #[test]
    fn recorder_round_trips_losslessly() {
        let mut r = Recorder::new();
        for v in [1u64, 999, 1_000_000, MAX_VALUE_US] {
            r.record(v);
        }
        let back = Recorder::from_base64(&r.to_base64()).unwrap();
        assert_eq!(back.histogram(), r.histogram());
        assert!(Recorder::from_base64("@@").is_err());
    }

    #[test]
    fn empty_ns_histogram_reads_zero() {
        let h = NsHistogram::new();
        assert_eq!(
            (h.min(), h.max(), h.percentile(99.0), h.count()),
            (0, 0, 0, 0)
        );
    }
}
