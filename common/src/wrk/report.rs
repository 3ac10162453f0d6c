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

/// One `Thread Stats` row: name, avg, stdev, max, within ±1 stdev.
fn stats_row<W: Write>(w: &mut W, name: &str, s: &Stats, fmt: fn(f64) -> String) -> io::Result<()> {
    let mean = s.mean();
    let stdev = s.stdev(mean);
    let within = s.within_stdev(mean, stdev, 1);
    writeln!(
        w,
        "    {name:<10}{}{}{}{:>8}%",
        pad_cell(&fmt(mean), 8),
        pad_cell(&fmt(stdev), 10),
        pad_cell(&fmt(s.max() as f64), 9),
        fixed(within, 2)
    )
}

/// Renders from `  Thread Stats` through `Transfer/sec:` (§3.3–3.6).
pub fn render_report<W: Write>(w: &mut W, r: &Report) -> io::Result<()> {
    writeln!(w, "  Thread Stats   Avg      Stdev     Max   +/- Stdev")?;
    stats_row(w, "Latency", &r.latency, format_time_us)?;
    stats_row(w, "Req/Sec", &r.requests, format_metric)?;
    if r.print_latency_distribution {
        writeln!(w, "  Latency Distribution")?;
        for p in [50.0, 75.0, 90.0, 99.0] {
            let v = r.latency.percentile(p);
            writeln!(w, "{:>7.0}%{}", p, pad_cell(&format_time_us(v as f64), 10))?;
        }
    }
    let runtime_s = r.runtime_us as f64 / 1_000_000.0;
    writeln!(
        w,
        "  {} requests in {}, {}B read",
        r.complete,
        format_time_us(r.runtime_us as f64),
        format_binary(r.bytes as f64)
    )?;
    let e = &r.errors;
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
    let req_per_s = r.complete as f64 / runtime_s;
    let bytes_per_s = r.bytes as f64 / runtime_s;
    writeln!(w, "Requests/sec: {:>9}", fixed(req_per_s, 2))?;
    writeln!(w, "Transfer/sec: {:>10}B", format_binary(bytes_per_s))
}
