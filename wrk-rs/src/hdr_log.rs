//! HdrHistogram interchange (`--hdr FILE`, and the histograms inside
//! `--json`): V2 compressed histograms, base64, and the standard interval
//! log (`#[Histogram log format version 1.3]`, StartTime/BaseTime headers,
//! the legend line, one line per histogram) that HdrHistogram's Java, C and
//! Python log readers and the `hdrhistogram` crate's `IntervalLogIterator`
//! read.
//!
//! Values are microseconds. With `-R` the log holds wrk2's histograms
//! exactly as the report printed them: the corrected one untagged (what log
//! tools read by default) and the uncorrected one tagged `uncorrected`. In
//! wrk mode it holds wrk's own µs histogram after its correction (every
//! stored count, so also the correction's samples below `min` that wrk's
//! scans skip) at HdrHistogram's 3 significant digits; the JSON carries
//! wrk's exact counts.

use std::io::{self, Write};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use common::wrk::stats::Stats;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

/// Tag of the uncorrected histogram (`-R`).
pub const UNCORRECTED_TAG: &str = "uncorrected";

/// The legend line of the Java log writer (readers skip it).
const LEGEND: &str =
    "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n";

/// `h` as a V2 compressed histogram in standard base64 (the encoding of
/// interval log lines).
pub fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    match V2DeflateSerializer::new().serialize(h, &mut bytes) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(bytes),
        // Only fails for histograms the crate cannot represent; an empty
        // string is rejected by every reader rather than misread.
        Err(_) => String::new(),
    }
}

/// The inverse of [`encode`].
pub fn decode(s: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| format!("bad base64: {e}"))?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("bad histogram: {e:?}"))
}

/// wrk's µs histogram as an HdrHistogram (wrk2's bounds: 1 µs .. 24 h, 3
/// significant digits), every stored count included.
pub fn from_wrk_stats(s: &Stats) -> Histogram<u64> {
    let mut h = common::hdr::Recorder::new().histogram().clone();
    for (v, k) in s.counts() {
        let _ = h.record_n(v.min(common::hdr::MAX_VALUE_US), k);
    }
    h
}

/// One histogram of the log: its tag (`None` = the default histogram).
pub struct Entry<'a> {
    pub tag: Option<&'a str>,
    pub histogram: &'a Histogram<u64>,
}

/// Writes an interval log with one interval (the measurement window,
/// starting at `start`, `length` long) per entry.
pub fn write_log<W: Write>(
    w: &mut W,
    start: SystemTime,
    length: Duration,
    entries: &[Entry],
) -> io::Result<()> {
    let mut buf = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    IntervalLogWriterBuilder::new()
        .add_comment("[Histogram log format version 1.3]")
        .add_comment(
            "[wrk-rs: latency in microseconds; the untagged histogram is the one the report printed]",
        )
        .with_start_time(start)
        .with_base_time(start)
        .begin_log_with(&mut buf, &mut serializer)?;
    buf.extend_from_slice(LEGEND.as_bytes());
    {
        // A writer without headers continues the same log after the legend.
        let mut log = IntervalLogWriterBuilder::new().begin_log_with(&mut buf, &mut serializer)?;
        for e in entries {
            let tag = e.tag.and_then(Tag::new);
            log.write_histogram(e.histogram, Duration::ZERO, length, tag)
                .map_err(|e| io::Error::other(e.to_string()))?;
        }
    }
    w.write_all(&buf)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

    #[test]
    fn log_round_trips_through_the_crate_reader() {
        let mut a = common::hdr::Recorder::new();
        let mut b = common::hdr::Recorder::new();
        for i in 1..=5000u64 {
            a.record(100 + i * 3);
            b.record(90 + i);
        }
        let start = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let mut out = Vec::new();
        write_log(
            &mut out,
            start,
            Duration::from_millis(2500),
            &[
                Entry {
                    tag: None,
                    histogram: a.histogram(),
                },
                Entry {
                    tag: Some(UNCORRECTED_TAG),
                    histogram: b.histogram(),
                },
            ],
        )
        .unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(
            text.starts_with("#[Histogram log format version 1.3]\n"),
            "{text}"
        );
        assert!(text.contains("#[StartTime: 1700000000.123 "), "{text}");
        assert!(text.contains(LEGEND), "{text}");
        let mut seen = Vec::new();
        let mut start_time = None;
        for e in IntervalLogIterator::new(&out) {
            match e.expect("parses") {
                LogEntry::StartTime(t) => start_time = Some(t),
                LogEntry::BaseTime(_) => {}
                LogEntry::Interval(h) => {
                    assert_eq!(h.duration(), Duration::from_millis(2500));
                    let hist = decode(h.encoded_histogram()).unwrap();
                    seen.push((h.tag().map(|t| t.as_str().to_string()), hist));
                }
            }
        }
        assert_eq!(start_time, Some(Duration::from_millis(1_700_000_000_123)));
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].0, None);
        assert_eq!(&seen[0].1, a.histogram());
        assert_eq!(seen[1].0.as_deref(), Some(UNCORRECTED_TAG));
        assert_eq!(&seen[1].1, b.histogram());
    }

    #[test]
    fn wrk_stats_keep_every_count() {
        let mut s = Stats::new(2_000_001);
        for v in [0, 5, 5, 1500, 1_999_999] {
            s.record(v);
        }
        let h = from_wrk_stats(&s);
        assert_eq!(h.len(), 5);
        assert_eq!(h.count_at(5), 2);
        assert_eq!(h.count_at(1500), 1);
        assert!(h.equivalent(h.max(), 1_999_999));
        assert_eq!(decode(&encode(&h)).unwrap(), h);
        assert!(decode("not base64!").is_err());
        assert!(decode("AAAA").is_err());
    }
}
