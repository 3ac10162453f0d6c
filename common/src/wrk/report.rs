//! wrk 4.1.0 banner and report renderer (wrk.md §3).

use std::io::{self, Write};

use super::stats::Stats;
use super::units::{fixed, format_binary, format_metric, format_time_s, format_time_us, pad_cell};

/// Error counters (wrk.md §2.6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Errors {
    pub connect: u64,
    pub read: u64,
    pub write: u64,
    pub status: u64,
    pub timeout: u64,
}

/// Everything the report prints, after the run and the CO correction.
#[derive(Clone, Debug)]
pub struct Report {
    /// Target URL as given on the command line.
    pub url: String,
    /// Requested duration in seconds (banner).
    pub duration_secs: u64,
    pub threads: u64,
    pub connections: u64,
    /// Latency histogram (µs), already corrected.
    pub latency: Stats,
    /// Req/Sec samples histogram.
    pub requests: Stats,
    /// `--latency` given.
    pub print_latency_distribution: bool,
    /// Completed responses.
    pub complete: u64,
    /// Measured run time in µs.
    pub runtime_us: u64,
    /// Bytes read.
    pub bytes: u64,
    pub errors: Errors,
}

/// Prints the two banner lines (§3.2).
pub fn render_banner<W: Write>(
    w: &mut W,
    duration_secs: u64,
    url: &str,
    threads: u64,
    connections: u64,
) -> io::Result<()> {
    writeln!(
        w,
        "Running {} test @ {}",
        format_time_s(duration_secs as f64, 0),
        url
    )?;
    writeln!(w, "  {threads} threads and {connections} connections")
}

/// The numbers of one `Thread Stats` row.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Row {
    pub mean: f64,
    pub stdev: f64,
    pub max: f64,
    /// Percent within ±1 stdev; NaN prints `-nan`.
    pub within: f64,
}

impl Row {
    /// Computes a row from a histogram with wrk's formulas (§2.11).
    pub fn from_stats(s: &Stats) -> Row {
        let mean = s.mean();
        let stdev = s.stdev(mean);
        Row {
            mean,
            stdev,
            max: s.max() as f64,
            within: s.within_stdev(mean, stdev, 1),
        }
    }
}

/// Everything the report prints, as numbers (what [`Report`] reduces to).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    pub latency: Row,
    pub requests: Row,
    /// (50, 75, 90, 99) percentile values in µs, when `--latency` is given.
    pub distribution: Option<[u64; 4]>,
    pub complete: u64,
    pub runtime_us: u64,
    pub bytes: u64,
    pub errors: Errors,
}

impl Summary {
    /// Reduces a report to the numbers it prints.
    pub fn from_report(r: &Report) -> Summary {
        let l = &r.latency;
        Summary {
            latency: Row::from_stats(l),
            requests: Row::from_stats(&r.requests),
            distribution: r.print_latency_distribution.then(|| {
                [
                    l.percentile(50.0),
                    l.percentile(75.0),
                    l.percentile(90.0),
                    l.percentile(99.0),
                ]
            }),
            complete: r.complete,
            runtime_us: r.runtime_us,
            bytes: r.bytes,
            errors: r.errors,
        }
    }
}

/// One `Thread Stats` row: name, avg, stdev, max, within ±1 stdev.
pub fn render_row<W: Write>(
    w: &mut W,
    name: &str,
    r: &Row,
    fmt: fn(f64) -> String,
) -> io::Result<()> {
    writeln!(
        w,
        "    {name:<10}{}{}{}{:>8}%",
        pad_cell(&fmt(r.mean), 8),
        pad_cell(&fmt(r.stdev), 10),
        pad_cell(&fmt(r.max), 9),
        fixed(r.within, 2)
    )
}

/// Prints the totals, error and rate lines (§3.6), shared with wrk2.
pub fn render_totals<W: Write>(
    w: &mut W,
    complete: u64,
    runtime_us: u64,
    bytes: u64,
    e: &Errors,
) -> io::Result<()> {
    let runtime_s = runtime_us as f64 / 1_000_000.0;
    writeln!(
        w,
        "  {} requests in {}, {}B read",
        complete,
        format_time_us(runtime_us as f64),
        format_binary(bytes as f64)
    )?;
    if e.connect != 0 || e.read != 0 || e.write != 0 || e.timeout != 0 {
        writeln!(
            w,
            "  Socket errors: connect {}, read {}, write {}, timeout {}",
            e.connect, e.read, e.write, e.timeout
        )?;
    }
    if e.status != 0 {
        writeln!(w, "  Non-2xx or 3xx responses: {}", e.status)?;
    }
    writeln!(
        w,
        "Requests/sec: {:>9}",
        fixed(complete as f64 / runtime_s, 2)
    )?;
    writeln!(
        w,
        "Transfer/sec: {:>10}B",
        format_binary(bytes as f64 / runtime_s)
    )
}

/// Renders from `  Thread Stats` through `Transfer/sec:` (§3.3–3.6).
pub fn render_report<W: Write>(w: &mut W, r: &Report) -> io::Result<()> {
    render_summary(w, &Summary::from_report(r))
}

/// Same as [`render_report`] from already computed numbers.
pub fn render_summary<W: Write>(w: &mut W, s: &Summary) -> io::Result<()> {
    writeln!(w, "  Thread Stats   Avg      Stdev     Max   +/- Stdev")?;
    render_row(w, "Latency", &s.latency, format_time_us)?;
    render_row(w, "Req/Sec", &s.requests, format_metric)?;
    if let Some(d) = s.distribution {
        writeln!(w, "  Latency Distribution")?;
        for (p, v) in [50.0, 75.0, 90.0, 99.0].iter().zip(d) {
            writeln!(w, "{:>7.0}%{}", p, pad_cell(&format_time_us(v as f64), 10))?;
        }
    }
    render_totals(w, s.complete, s.runtime_us, s.bytes, &s.errors)
}
