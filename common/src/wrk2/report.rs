//! wrk2 output layout (wrk.md §6.6): Thread Stats, HdrHistogram latency
//! blocks with the detailed percentile spectrum, and the summary lines.

use std::io::{self, Write};

use crate::wrk::report::{self, render_totals, Errors};
use crate::wrk::units::{fixed, format_metric, format_time_us, pad_cell};

/// One Thread Stats row as printed: avg, stdev, max, within-stdev percent.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Row {
    pub avg: f64,
    pub stdev: f64,
    pub max: f64,
    pub within: f64,
}

impl Row {
    /// The row wrk2 prints for a histogram (its C HdrHistogram mean,
    /// stdev and within-stdev share), with `max` as given.
    pub fn from_histogram(h: &hdrhistogram::Histogram<u64>, max: f64) -> Row {
        use super::stdev;
        let avg = stdev::mean(h);
        let sd = stdev::stdev(h);
        Row {
            avg,
            stdev: sd,
            max,
            within: stdev::within_stdev(h, avg, sd),
        }
    }
}

/// One spectrum row: value in ms, fraction, cumulative count.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpectrumRow {
    pub value_ms: f64,
    pub quantile: f64,
    pub total_count: u64,
}

/// One `Latency Distribution (HdrHistogram - <label>)` block.
#[derive(Clone, Debug, PartialEq)]
pub struct Distribution {
    /// `Recorded Latency` or the uncorrected label.
    pub label: String,
    /// (percentile, value µs) for 50 … 100.
    pub percentiles: Vec<(f64, f64)>,
    pub spectrum: Vec<SpectrumRow>,
    pub mean_ms: f64,
    pub stdev_ms: f64,
    pub max_ms: f64,
    pub total_count: u64,
    pub buckets: u32,
    pub sub_buckets: u32,
}

impl Distribution {
    /// Builds a block from a recorder (percentiles 50 … 100, spectrum,
    /// footer in ms) with wrk2's C HdrHistogram statistics ([`super::stdev`]).
    pub fn from_recorder(label: &str, r: &crate::hdr::Recorder) -> Distribution {
        use super::stdev;
        let h = r.histogram();
        let percentiles = [50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 99.999, 100.0]
            .iter()
            .map(|&p| (p, stdev::value_at_percentile(h, p) as f64))
            .collect();
        let spectrum = stdev::spectrum(h, 5)
            .iter()
            .map(|t| SpectrumRow {
                value_ms: t.value as f64 / 1000.0,
                quantile: t.percentile / 100.0,
                total_count: t.total_count,
            })
            .collect();
        Distribution {
            label: label.to_string(),
            percentiles,
            spectrum,
            mean_ms: stdev::mean(h) / 1000.0,
            stdev_ms: stdev::stdev(h) / 1000.0,
            max_ms: stdev::max(h) as f64 / 1000.0,
            total_count: r.count(),
            buckets: h.buckets() as u32,
            sub_buckets: crate::hdr::SUB_BUCKETS,
        }
    }
}

/// Label of the corrected block.
pub const RECORDED: &str = "Recorded Latency";
/// Label of the `-U` block.
pub const UNCORRECTED: &str =
    "Uncorrected Latency (measured without taking delayed starts into account)";

/// Everything wrk2 prints after the banner.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// Per-thread (mean latency ms, sampling interval ms).
    pub calibration: Vec<(f64, u64)>,
    /// Latency row in µs.
    pub latency: Row,
    /// Req/Sec row; NaN avg/stdev print `-nan`.
    pub requests: Row,
    pub distributions: Vec<Distribution>,
    pub complete: u64,
    pub runtime_us: u64,
    pub bytes: u64,
    pub errors: Errors,
}

/// The Thread Stats line: wrk's layout exactly.
fn row<W: Write>(w: &mut W, name: &str, r: &Row, fmt: fn(f64) -> String) -> io::Result<()> {
    let cells = report::Row {
        mean: r.avg,
        stdev: r.stdev,
        max: r.max,
        within: r.within,
    };
    report::render_row(w, name, &cells, fmt)
}

fn fmt_metric_nan(v: f64) -> String {
    if v.is_nan() {
        "-nan".to_string()
    } else {
        format_metric(v)
    }
}

fn distribution<W: Write>(w: &mut W, d: &Distribution) -> io::Result<()> {
    writeln!(w, "  Latency Distribution (HdrHistogram - {})", d.label)?;
    for &(p, v) in &d.percentiles {
        writeln!(w, "{:>7.3}%{}", p, pad_cell(&format_time_us(v), 10))?;
    }
    writeln!(w)?;
    writeln!(w, "  Detailed Percentile spectrum:")?;
    writeln!(
        w,
        "{:>12} {:>12} {:>12} {:>12}",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    )?;
    writeln!(w)?;
    for s in &d.spectrum {
        let inv = 1.0 / (1.0 - s.quantile);
        writeln!(
            w,
            "{:>12.3} {:>12.6} {:>12} {:>12}",
            s.value_ms,
            s.quantile,
            s.total_count,
            fixed_width_inv(inv)
        )?;
    }
    writeln!(
        w,
        "#[Mean    = {:>12.3}, StdDeviation   = {:>12.3}]",
        d.mean_ms, d.stdev_ms
    )?;
    writeln!(
        w,
        "#[Max     = {:>12.3}, Total count    = {:>12}]",
        d.max_ms, d.total_count
    )?;
    writeln!(
        w,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        d.buckets, d.sub_buckets
    )?;
    writeln!(w, "{}", "-".repeat(58))
}

fn fixed_width_inv(v: f64) -> String {
    fixed(v, 2)
}

/// Renders from the calibration lines through `Transfer/sec:`.
pub fn render<W: Write>(w: &mut W, m: &Model) -> io::Result<()> {
    for &(lat, interval) in &m.calibration {
        writeln!(
            w,
            "  Thread calibration: mean lat.: {lat:.3}ms, rate sampling interval: {interval}ms"
        )?;
    }
    writeln!(w, "  Thread Stats   Avg      Stdev     Max   +/- Stdev")?;
    row(w, "Latency", &m.latency, format_time_us)?;
    row(w, "Req/Sec", &m.requests, fmt_metric_nan)?;
    for (i, d) in m.distributions.iter().enumerate() {
        if i > 0 {
            writeln!(w)?;
        }
        distribution(w, d)?;
    }
    render_totals(w, m.complete, m.runtime_us, m.bytes, &m.errors)
}
