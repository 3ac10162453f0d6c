//! `--json FILE`: the run as one JSON document (schema:
//! `schemas/wrk.schema.json`), written after the text report.
//!
//! The document is built from the very values the text renderer prints —
//! wrk mode from `common::wrk::report::Summary`, `-R` from wrk2's
//! `common::wrk2::report::Model` — so its figures equal the text's by
//! construction. It also carries what a lossless merge of several runs
//! (`netbench merge`) needs: every counter, per-thread figures, the
//! wall-clock measurement window, and the histograms: wrk's µs histogram as
//! sparse `[value, count]` pairs before and after wrk's correction (merge the
//! raw ones, then correct, to re-render wrk's exact text), the Req/Sec
//! samples, and with `-R` the corrected and uncorrected HdrHistograms (V2
//! compressed, base64), merged and per thread.

use std::time::{SystemTime, UNIX_EPOCH};

use common::wrk::report::{Errors, Row as WrkRow, Summary as WrkNumbers};
pub use common::wrk::stats::SparseStats;
use common::wrk::stats::Stats;
use common::wrk2::report::{Model, Row as Wrk2Row};
use serde::{Deserialize, Serialize};

use crate::cli::Config;
use crate::engine::ThreadResult;
use crate::error_detail::{ErrorClass, ErrorDetail};
use crate::hdr_log;

/// Version of this document's layout; bumped on incompatible changes.
pub const FORMAT_VERSION: u32 = 1;

/// Latency percentiles in the document (besides `max`).
pub const PERCENTILES: [f64; 6] = [50.0, 75.0, 90.0, 99.0, 99.9, 99.99];

/// The whole document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub format_version: u32,
    /// Always `wrk-rs`.
    pub tool: String,
    /// The wrk version we reproduce (`4.1.0`).
    pub wrk_version: String,
    /// `wrk` (closed loop, wrk 4 report) or `wrk2` (`-R`).
    pub mode: String,
    pub command_line: Vec<String>,
    pub settings: Settings,
    pub window: Window,
    pub totals: Totals,
    /// Socket errors by class and cause (always collected).
    pub error_detail: Vec<ErrorCount>,
    /// The Latency row and percentiles as reported (µs).
    pub latency: Latency,
    /// The Req/Sec row as reported.
    pub requests_per_sec: StatRow,
    pub histograms: Histograms,
    pub threads: Vec<ThreadFigures>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub url: String,
    pub threads: u64,
    /// `-c` as given (the banner's figure).
    pub connections: u64,
    /// Connections each thread opens, floor(c / t).
    pub connections_per_thread: u64,
    pub duration_s: u64,
    pub timeout_ms: u64,
    pub script: Option<String>,
    pub script_args: Vec<String>,
    pub headers: Vec<String>,
    pub latency: bool,
    pub rate: Option<u64>,
    pub u_latency: bool,
    pub batch_latency: bool,
    pub unix_socket: Option<String>,
    pub errors_detail: bool,
}

/// The measurement window: from the banner to the joined threads, the
/// interval wrk's `requests in …` figure covers. Wall-clock µs since the
/// Unix epoch (for the skew between merged runs) and the monotonic length.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub start_unix_us: u64,
    pub end_unix_us: u64,
    pub runtime_us: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub requests: u64,
    pub bytes: u64,
    pub requests_per_sec: f64,
    pub transfer_bytes_per_sec: f64,
    pub errors: ErrorCounters,
    /// Responses with status > 399 (the `Non-2xx or 3xx responses` line).
    pub non_2xx_3xx: u64,
}

/// wrk's socket-error counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCounters {
    pub connect: u64,
    pub read: u64,
    pub write: u64,
    pub timeout: u64,
}

impl From<Errors> for ErrorCounters {
    fn from(e: Errors) -> ErrorCounters {
        ErrorCounters {
            connect: e.connect,
            read: e.read,
            write: e.write,
            timeout: e.timeout,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCount {
    /// `connect`, `read`, `write` or `timeout`.
    pub class: String,
    /// errno name (`ECONNRESET`) or `EOF`, `HTTP_PARSE`, `TLS`,
    /// `LATE_RESPONSE`, `NO_RESPONSE`, `OTHER`.
    pub cause: String,
    pub count: u64,
}

fn error_counts(d: &ErrorDetail) -> Vec<ErrorCount> {
    ErrorClass::ALL
        .iter()
        .flat_map(|&class| {
            d.causes(class)
                .into_iter()
                .map(move |(cause, count)| ErrorCount {
                    class: class.name().to_string(),
                    cause,
                    count,
                })
        })
        .collect()
}

/// One `Thread Stats` row (`within_stdev_percent` NaN → `null`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatRow {
    pub mean: Option<f64>,
    pub stdev: Option<f64>,
    pub max: Option<f64>,
    pub within_stdev_percent: Option<f64>,
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

impl From<&WrkRow> for StatRow {
    fn from(r: &WrkRow) -> StatRow {
        StatRow {
            mean: finite(r.mean),
            stdev: finite(r.stdev),
            max: finite(r.max),
            within_stdev_percent: finite(r.within),
        }
    }
}

impl From<&Wrk2Row> for StatRow {
    fn from(r: &Wrk2Row) -> StatRow {
        StatRow {
            mean: finite(r.avg),
            stdev: finite(r.stdev),
            max: finite(r.max),
            within_stdev_percent: finite(r.within),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Always `us`.
    pub unit: String,
    #[serde(flatten)]
    pub row: StatRow,
    /// [`PERCENTILES`] by wrk's (wrk mode) or wrk2's (`-R`) rule.
    pub percentiles: Vec<Percentile>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Percentile {
    pub percentile: f64,
    pub value_us: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Histograms {
    /// wrk mode: the latency histogram the report printed (after wrk's
    /// coordinated-omission correction).
    pub wrk_latency: Option<SparseStats>,
    /// wrk mode: the same before the correction (what a merge adds up).
    pub wrk_latency_raw: Option<SparseStats>,
    /// The Req/Sec samples (one per thread per 100 ms), both modes.
    pub wrk_requests: SparseStats,
    /// `-R`: corrected latency (the printed one), V2 compressed, base64.
    pub hdr_corrected: Option<String>,
    /// `-R`: uncorrected latency, V2 compressed, base64.
    pub hdr_uncorrected: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThreadFigures {
    pub index: usize,
    pub requests: u64,
    pub bytes: u64,
    pub errors: ErrorCounters,
    pub non_2xx_3xx: u64,
    pub error_detail: Vec<ErrorCount>,
    /// Latency samples this thread recorded (wrk mode, before correction).
    pub latency_samples: u64,
    pub hdr_corrected: Option<String>,
    pub hdr_uncorrected: Option<String>,
}

/// What the run knew besides the results.
pub struct RunInfo<'a> {
    pub cfg: &'a Config,
    pub argv: &'a [String],
    pub start: SystemTime,
    pub end: SystemTime,
    pub runtime_us: u64,
}

fn unix_us(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

fn settings(cfg: &Config) -> Settings {
    Settings {
        url: cfg.url.clone(),
        threads: cfg.threads,
        connections: cfg.connections,
        connections_per_thread: cfg.connections / cfg.threads.max(1),
        duration_s: cfg.duration_s,
        timeout_ms: cfg.timeout_ms,
        script: cfg.script.clone(),
        script_args: cfg.script_args.clone(),
        headers: cfg.headers.clone(),
        latency: cfg.latency,
        rate: cfg.rate,
        u_latency: cfg.u_latency,
        batch_latency: cfg.batch_latency,
        unix_socket: cfg
            .ext
            .unix_socket
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned()),
        errors_detail: cfg.ext.errors_detail,
    }
}

fn threads(results: &[ThreadResult]) -> Vec<ThreadFigures> {
    results
        .iter()
        .enumerate()
        .map(|(index, r)| ThreadFigures {
            index,
            requests: r.complete,
            bytes: r.bytes,
            errors: r.errors.into(),
            non_2xx_3xx: r.errors.status,
            error_detail: error_counts(&r.error_detail),
            latency_samples: r.latency.count(),
            hdr_corrected: r.corrected.as_ref().map(|h| hdr_log::encode(h.histogram())),
            hdr_uncorrected: r
                .uncorrected
                .as_ref()
                .map(|h| hdr_log::encode(h.histogram())),
        })
        .collect()
}

/// The fields both modes fill the same way.
struct Common {
    complete: u64,
    bytes: u64,
    runtime_us: u64,
    errors: Errors,
    detail: ErrorDetail,
}

fn document(
    info: &RunInfo,
    results: &[ThreadResult],
    c: Common,
    mode: &str,
    latency: Latency,
    requests: StatRow,
    histograms: Histograms,
) -> Document {
    let runtime_s = c.runtime_us as f64 / 1_000_000.0;
    Document {
        format_version: FORMAT_VERSION,
        tool: "wrk-rs".into(),
        wrk_version: "4.1.0".into(),
        mode: mode.into(),
        command_line: info.argv.to_vec(),
        settings: settings(info.cfg),
        window: Window {
            start_unix_us: unix_us(info.start),
            end_unix_us: unix_us(info.end),
            runtime_us: info.runtime_us,
        },
        totals: Totals {
            requests: c.complete,
            bytes: c.bytes,
            // The text's `Requests/sec` and `Transfer/sec` formulas.
            requests_per_sec: c.complete as f64 / runtime_s,
            transfer_bytes_per_sec: c.bytes as f64 / runtime_s,
            errors: c.errors.into(),
            non_2xx_3xx: c.errors.status,
        },
        error_detail: error_counts(&c.detail),
        latency,
        requests_per_sec: requests,
        histograms,
        threads: threads(results),
    }
}

/// Merged error detail of all threads.
pub fn merged_detail(results: &[ThreadResult]) -> ErrorDetail {
    let mut d = ErrorDetail::default();
    for r in results {
        d.merge(&r.error_detail);
    }
    d
}

/// wrk mode. `numbers` is what the text printed, `latency` the corrected
/// histogram it came from, `raw` the same before the correction and
/// `requests` the Req/Sec samples.
pub fn wrk(
    info: &RunInfo,
    results: &[ThreadResult],
    numbers: &WrkNumbers,
    latency: &Stats,
    raw: &Stats,
    requests: &Stats,
) -> Document {
    let percentiles = PERCENTILES
        .iter()
        .map(|&p| Percentile {
            percentile: p,
            value_us: latency.percentile(p),
        })
        .collect();
    document(
        info,
        results,
        Common {
            complete: numbers.complete,
            bytes: numbers.bytes,
            runtime_us: numbers.runtime_us,
            errors: numbers.errors,
            detail: merged_detail(results),
        },
        "wrk",
        Latency {
            unit: "us".into(),
            row: StatRow::from(&numbers.latency),
            percentiles,
        },
        StatRow::from(&numbers.requests),
        Histograms {
            wrk_latency: Some(SparseStats::from_stats(latency)),
            wrk_latency_raw: Some(SparseStats::from_stats(raw)),
            wrk_requests: SparseStats::from_stats(requests),
            hdr_corrected: None,
            hdr_uncorrected: None,
        },
    )
}

/// `-R` mode. `model` is what the text printed; `requests` the merged
/// Req/Sec samples.
pub fn wrk2(info: &RunInfo, results: &[ThreadResult], model: &Model, requests: &Stats) -> Document {
    let corrected = crate::report_wrk2::merged_corrected(results);
    let uncorrected = crate::report_wrk2::merged_uncorrected(results);
    let h = corrected.histogram();
    let percentiles = PERCENTILES
        .iter()
        .map(|&p| Percentile {
            percentile: p,
            value_us: common::wrk2::stdev::value_at_percentile(h, p),
        })
        .collect();
    document(
        info,
        results,
        Common {
            complete: model.complete,
            bytes: model.bytes,
            runtime_us: model.runtime_us,
            errors: model.errors,
            detail: merged_detail(results),
        },
        "wrk2",
        Latency {
            unit: "us".into(),
            row: StatRow::from(&model.latency),
            percentiles,
        },
        StatRow::from(&model.requests),
        Histograms {
            wrk_latency: None,
            wrk_latency_raw: None,
            wrk_requests: SparseStats::from_stats(requests),
            hdr_corrected: Some(hdr_log::encode(h)),
            hdr_uncorrected: Some(hdr_log::encode(uncorrected.histogram())),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_stats_round_trip() {
        let mut s = Stats::new(2_000_001);
        for v in [10, 10, 250, 70_000] {
            s.record(v);
        }
        s.correct(100);
        let j = serde_json::to_string(&SparseStats::from_stats(&s)).unwrap();
        let back: SparseStats = serde_json::from_str(&j).unwrap();
        let r = back.to_stats();
        assert_eq!(
            r.counts().collect::<Vec<_>>(),
            s.counts().collect::<Vec<_>>()
        );
        assert_eq!(r.percentile(99.0), s.percentile(99.0));
        let empty = SparseStats::from_stats(&Stats::new(10));
        assert_eq!(empty.min, None);
        assert_eq!(empty.to_stats().min(), u64::MAX);
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(64))]

        /// Any histogram (also after wrk's correction, with its samples
        /// below `min`) survives JSON losslessly: same counts, same scans.
        #[test]
        fn sparse_stats_survive_json(
            values in proptest::collection::vec(0u64..300_000, 0..200),
            interval in 0u64..5_000,
        ) {
            let mut s = Stats::new(200_001);
            for v in &values {
                s.record(*v);
            }
            s.correct(interval);
            let j = serde_json::to_string(&SparseStats::from_stats(&s)).unwrap();
            let back: SparseStats = serde_json::from_str(&j).unwrap();
            let r = back.to_stats();
            proptest::prop_assert_eq!(r.counts().collect::<Vec<_>>(), s.counts().collect::<Vec<_>>());
            proptest::prop_assert_eq!((r.count(), r.min(), r.max()), (s.count(), s.min(), s.max()));
            for p in PERCENTILES {
                proptest::prop_assert_eq!(r.percentile(p), s.percentile(p));
            }
            proptest::prop_assert_eq!(r.mean().to_bits(), s.mean().to_bits());
        }

        /// HdrHistograms survive the V2/base64 encoding.
        #[test]
        fn hdr_survives_base64(values in proptest::collection::vec(1u64..86_400_000_000, 0..300)) {
            let mut r = common::hdr::Recorder::new();
            for v in &values {
                r.record(*v);
            }
            let back = hdr_log::decode(&hdr_log::encode(r.histogram())).unwrap();
            proptest::prop_assert_eq!(&back, r.histogram());
        }
    }

    #[test]
    fn nan_rows_become_null() {
        let row = StatRow::from(&WrkRow {
            mean: 1.5,
            stdev: 0.0,
            max: 3.0,
            within: f64::NAN,
        });
        let j = serde_json::to_value(&row).unwrap();
        assert_eq!(j["within_stdev_percent"], serde_json::Value::Null);
        assert_eq!(j["mean"], 1.5);
    }
}
