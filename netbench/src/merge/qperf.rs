//! qperf clients as one run: our `qperf --json` documents
//! (`schemas/qperf.schema.json`), one per client that ran the same tests at
//! the same time (e.g. the pods of an Indexed Job against one server).
//!
//! Tests are matched by position and must agree on name and `msg_size`.
//! Per test:
//! - bandwidth (`bw`, or `send_bw`/`recv_bw`) and `msg_rate`: the sums;
//! - `latency`: the mean over every message of every client (each
//!   client's mean weighted by its message count, `msg_rate × real_time`);
//!   with `--percentiles` the one-way latency HdrHistograms (V2, base64)
//!   are added losslessly and the percentile block is that of the merged
//!   histogram;
//! - counters (`*_bytes`, `*_msgs`, `*_errors`): the sums.
//!
//! The text is qperf's: the `TEST:` header, stock's aligned block with the
//! lines the first client's `-v…` flags showed (the figure, `msg_rate` at
//! `-vs`, the counters at `-vvs`, `msg_size` and `time` at `-vu`) in its
//! `-e`/`-uu`/`-ub` units, then the extension block (`loc_latency_p50` …
//! `rem_latency_max`). CPU and cost figures are per machine and are not
//! merged. qperf documents carry no wall-clock window, so no skew is shown.

use std::collections::BTreeMap;
use std::io::{self, Write};

use common::hdr::NsHistogram;
use common::qperf::{render_block, render_lines, Line, Units, Value};
use serde::Deserialize;

/// The parts of a qperf `--json` document a merge reads.
#[derive(Clone, Debug, Deserialize)]
pub struct QperfDoc {
    /// `1`.
    pub format_version: u32,
    /// The client's arguments (for its verbosity and units).
    pub command_line: Vec<String>,
    /// The server.
    pub host: Option<String>,
    /// Every test, in order.
    pub tests: Vec<TestDoc>,
}

/// One test.
#[derive(Clone, Debug, Deserialize)]
pub struct TestDoc {
    /// `tcp_bw`, `tcp_lat`, ...
    pub test: String,
    /// `ok`, `error` or `quit`.
    pub status: String,
    /// Why it failed.
    pub error: Option<TestError>,
    /// The parameters of both sides.
    pub parameters: Parameters,
    /// Every figure in base units.
    #[serde(default)]
    pub figures: Vec<Figure>,
    /// `--percentiles`: the one-way latency histograms.
    #[serde(default)]
    pub latency: Option<Sides>,
}

/// `error`.
#[derive(Clone, Debug, Deserialize)]
pub struct TestError {
    /// `local` or `server`.
    pub side: String,
    /// The message qperf printed.
    pub text: String,
}

/// `parameters`.
#[derive(Clone, Debug, Deserialize)]
pub struct Parameters {
    /// The client's.
    pub local: BTreeMap<String, serde_json::Value>,
}

impl Parameters {
    fn number(&self, name: &str) -> u64 {
        self.local
            .get(name)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    }
}

/// One figure.
#[derive(Clone, Debug, Deserialize)]
pub struct Figure {
    /// The name it prints as.
    pub name: String,
    /// `null` when not finite.
    pub value: Option<f64>,
    /// Base unit.
    pub unit: String,
}

/// `latency`: both sides' histograms.
#[derive(Clone, Debug, Deserialize)]
pub struct Sides {
    /// The client's.
    pub local: Option<Histogram>,
    /// The server's (our server only).
    pub remote: Option<Histogram>,
}

/// One histogram entry.
#[derive(Clone, Debug, Deserialize)]
pub struct Histogram {
    /// V2 compressed, base64.
    pub hdr_v2_deflate_base64: String,
}

/// Parses one document; `origin` names it in errors.
pub fn parse_doc(text: &str, origin: &str) -> Result<QperfDoc, String> {
    super::parse_v1(text, origin, "qperf", |d: &QperfDoc| d.format_version)
}

/// The display settings a client's command line asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Display {
    /// `-e`, `-uu`, `-ub`.
    pub units: Units,
    /// `-vs` / `-vvs` level.
    pub stat: u8,
    /// `-vu` / `-vvu` level.
    pub used: u8,
    /// `-t` given (qperf shows `time` at `-vu` only when it was set).
    pub time_set: bool,
}

/// Reads the flags qperf's text depends on from its arguments.
pub fn display(args: &[String]) -> Display {
    let mut d = Display::default();
    let mut it = args.iter().skip(1).peekable();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-v" | "--verbose" => {
                d.stat = d.stat.max(1);
                d.used = d.used.max(1);
            }
            "-vv" | "--verbose_more" => {
                d.stat = 2;
                d.used = 2;
            }
            "-vs" | "--verbose_stat" => d.stat = d.stat.max(1),
            "-vvs" | "-vS" | "--verbose_more_stat" => d.stat = 2,
            "-vu" | "--verbose_used" => d.used = d.used.max(1),
            "-vvu" | "-vU" | "--verbose_more_used" => d.used = 2,
            "-uu" | "--unify_units" => d.units.unify_units = true,
            "-ub" | "--use_bits_per_sec" => d.units.bits_per_sec = true,
            "-t" | "--time" => d.time_set = true,
            "-e" | "--precision" => {
                if let Some(n) = it.peek().and_then(|n| n.parse().ok()) {
                    d.units.precision = n;
                }
            }
            _ => {}
        }
    }
    d
}

/// Whether the test's main figure is one a merge can add up.
fn mergeable(t: &TestDoc) -> bool {
    t.figures
        .first()
        .is_some_and(|f| matches!(f.name.as_str(), "bw" | "send_bw" | "latency" | "msg_rate"))
}

fn figure(t: &TestDoc, name: &str) -> Option<f64> {
    t.figures
        .iter()
        .find(|f| f.name == name)
        .and_then(|f| f.value)
}

fn total(parts: &[&TestDoc], name: &str) -> f64 {
    parts.iter().filter_map(|t| figure(t, name)).sum()
}

/// One merged test: the figures in base units by name, in the order of the
/// first client's document, and the merged histograms.
#[derive(Clone, Debug, Default)]
pub struct Merged {
    /// Test name.
    pub test: String,
    /// `msg_size` in bytes.
    pub msg_size: u64,
    /// `time` in seconds.
    pub time: u64,
    /// `(name, value, unit)`: main figures, msg_rate and counters.
    pub figures: Vec<(String, f64, String)>,
    /// Merged `--percentiles` histograms (client side, server side).
    pub latency: Option<(Option<NsHistogram>, Option<NsHistogram>)>,
}

fn is_counter(name: &str) -> bool {
    name.ends_with("_bytes") || name.ends_with("_msgs") || name.ends_with("_errors")
}

fn merge_histograms(
    parts: &[&TestDoc],
    side: fn(&Sides) -> Option<&Histogram>,
) -> Result<Option<NsHistogram>, String> {
    let mut acc: Option<NsHistogram> = None;
    for t in parts {
        let Some(h) = t.latency.as_ref().and_then(side) else {
            // One client without the histogram: no merged one (a partial
            // one would claim to be all of them).
            return Ok(None);
        };
        let h = NsHistogram::from_base64(&h.hdr_v2_deflate_base64)?;
        acc.get_or_insert_with(NsHistogram::new).merge(&h);
    }
    Ok(acc)
}

/// Merges one test of every client; `parts` are in worker order.
pub fn merge_test(parts: &[&TestDoc]) -> Result<Merged, String> {
    let first = parts.first().ok_or("merge: no documents")?;
    if !mergeable(first) {
        return Err(format!("{}: no figures to merge", first.test));
    }
    let mut m = Merged {
        test: first.test.clone(),
        msg_size: first.parameters.number("msg_size"),
        time: first.parameters.number("time"),
        ..Merged::default()
    };
    for f in &first.figures {
        let name = f.name.as_str();
        let value = match name {
            "bw" | "send_bw" | "recv_bw" | "msg_rate" => total(parts, name),
            "latency" => {
                // Each client's mean weighted by its number of messages.
                let weight = |t: &TestDoc| {
                    let n = figure(t, "msg_rate").unwrap_or(0.0)
                        * figure(t, "loc_real_time").unwrap_or(1e9)
                        / 1e9;
                    if n > 0.0 {
                        n
                    } else {
                        1.0
                    }
                };
                let w: f64 = parts.iter().map(|t| weight(t)).sum();
                parts
                    .iter()
                    .map(|t| figure(t, "latency").unwrap_or(0.0) * weight(t))
                    .sum::<f64>()
                    / w
            }
            _ if is_counter(name) => total(parts, name),
            _ => continue,
        };
        m.figures.push((name.to_string(), value, f.unit.clone()));
    }
    if parts.iter().all(|t| t.latency.is_some()) {
        m.latency = Some((
            merge_histograms(parts, |s| s.local.as_ref())?,
            merge_histograms(parts, |s| s.remote.as_ref())?,
        ));
    }
    Ok(m)
}

fn value(u: &Units, value: f64, unit: &str) -> Value {
    match unit {
        "bytes/sec" => u.bandwidth(value),
        "/sec" => u.rate(value),
        "ns" => u.time(value / 1e9),
        "bytes" => u.size(value),
        _ => u.count(value),
    }
}

/// The lines of stock's block for a merged test at `d`'s verbosity.
pub fn block_lines(m: &Merged, d: &Display) -> Vec<Line> {
    let mut lines = Vec::new();
    let visible = |v: f64| v.is_finite() && v > 0.0;
    for (name, v, unit) in &m.figures {
        let show = match name.as_str() {
            "bw" | "send_bw" | "recv_bw" | "latency" => true,
            "msg_rate" => {
                // The main figure of a message-rate test; else `-vs`.
                m.figures.first().is_some_and(|f| f.0 == "msg_rate") || d.stat >= 1 && visible(*v)
            }
            _ => d.stat >= 2 && visible(*v),
        };
        if show {
            lines.push(Line::new(name.clone(), value(&d.units, *v, unit)));
        }
    }
    if d.used >= 1 {
        lines.push(Line::new("msg_size", d.units.size(m.msg_size as f64)));
        if d.time_set || d.used >= 2 {
            lines.push(Line::new("time", d.units.time(m.time as f64)));
        }
    }
    lines
}

/// The extension block: percentiles of the merged histograms.
pub fn percentile_lines(m: &Merged, d: &Display) -> Vec<Line> {
    let mut lines = Vec::new();
    let Some((local, remote)) = &m.latency else {
        return lines;
    };
    for (pre, h) in [("loc_", local), ("rem_", remote)] {
        let Some(h) = h else { continue };
        for (p, n) in [(50.0, "p50"), (90.0, "p90"), (99.0, "p99"), (99.9, "p99.9")] {
            let ns = h.percentile(p) as f64;
            lines.push(Line::new(
                format!("{pre}latency_{n}"),
                d.units.time(ns / 1e9),
            ));
        }
        lines.push(Line::new(
            format!("{pre}latency_max"),
            d.units.time(h.max() as f64 / 1e9),
        ));
    }
    lines
}

/// Per-worker table: each client's main figure per test.
pub fn render_workers(
    names: &[String],
    docs: &[QperfDoc],
    d: &Display,
    w: &mut impl Write,
) -> io::Result<()> {
    writeln!(w, "| worker | test | msg_size | figure |")?;
    writeln!(w, "|---|---|---|---|")?;
    for (name, doc) in names.iter().zip(docs) {
        for t in &doc.tests {
            let cell = match (&t.error, t.figures.first()) {
                (Some(e), _) => format!("error ({}): {}", e.side, e.text),
                (None, Some(f)) => {
                    let v = value(&d.units, f.value.unwrap_or(f64::NAN), &f.unit);
                    format!("{} = {} {}", f.name, v.text, v.unit.unwrap_or_default())
                }
                (None, None) => t.status.clone(),
            };
            writeln!(
                w,
                "| {name} | {} | {} | {} |",
                t.test,
                t.parameters.number("msg_size"),
                cell.trim_end()
            )?;
        }
    }
    Ok(())
}

/// Merges the documents `texts` (read from `files`): qperf's text into
/// `out`, the workers into `workers`. Exit status 1 when a test failed on
/// some client (its block is left out, as qperf leaves out a failed test's).
pub fn run(
    files: &[String],
    texts: &[String],
    out: &mut impl Write,
    workers: &mut impl Write,
) -> Result<i32, String> {
    let docs = super::parse_all(files, texts, parse_doc)?;
    let first = docs.first().ok_or("merge: no documents")?;
    for (f, d) in files.iter().zip(&docs) {
        let same = d.tests.len() == first.tests.len()
            && d.tests.iter().zip(&first.tests).all(|(a, b)| {
                a.test == b.test
                    && a.parameters.number("msg_size") == b.parameters.number("msg_size")
            });
        if !same {
            return Err(format!(
                "{f}: not the same tests and message sizes as {}",
                files[0]
            ));
        }
    }
    let d = display(&first.command_line);
    let io = |e: io::Error| e.to_string();
    let mut status = 0;
    for i in 0..first.tests.len() {
        let parts: Vec<&TestDoc> = docs.iter().map(|doc| &doc.tests[i]).collect();
        if let Some((f, t)) = files.iter().zip(&parts).find(|(_, t)| t.status != "ok") {
            let why = t.error.as_ref().map_or(t.status.as_str(), |e| &e.text);
            let _ = writeln!(workers, "netbench: merge: {f}: {} failed: {why}", t.test);
            status = 1;
            continue;
        }
        let m = merge_test(&parts).map_err(|e| format!("{}: {e}", files[0]))?;
        render_block(out, &m.test, &block_lines(&m, &d)).map_err(io)?;
        let extra = percentile_lines(&m, &d);
        if !extra.is_empty() {
            render_lines(out, &extra).map_err(io)?;
        }
    }
    render_workers(files, &docs, &d, workers).map_err(io)?;
    Ok(status)
}
