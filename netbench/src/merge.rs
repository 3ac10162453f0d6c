//! `netbench merge FILES...`: several wrk workers (an Indexed Job's pods,
//! or N local processes) as one run.
//!
//! Input: the `--json` documents of our `wrk` (`schemas/wrk.schema.json`,
//! wrk mode). Counters (requests, bytes, every socket-error class, non-2xx)
//! are summed, the raw latency histograms (`wrk_latency_raw`, before wrk's
//! coordinated-omission correction) and the Req/Sec samples are added
//! bucket by bucket (lossless: the same histogram as if one wrk had seen
//! every sample), then wrk's own correction is applied with the merged
//! figures and the result is rendered by `common`'s wrk renderer: the
//! output is wrk's text, so parsers of a single run read it unchanged.
//!
//! Merged banner: threads and connections are the sums; the runtime is the
//! longest worker's (they run side by side). The per-worker table and the
//! skew of their measurement windows (start and end wall clocks) go to
//! stderr, so stdout stays exactly wrk's format.
//!
//! Not merged here: wrk2 (`-R`) documents (HdrHistograms) and qperf, whose
//! `--json` is not in this tree yet; both are refused with a clear message.

use std::io::{self, Write};

use common::wrk::report::{render_banner, render_report, Errors, Report};
use common::wrk::stats::Stats;
use serde::Deserialize;

/// The parts of a wrk `--json` document a merge reads.
#[derive(Clone, Debug, Deserialize)]
pub struct WrkDoc {
    /// `1`.
    pub format_version: u32,
    /// `wrk` or `wrk2`.
    pub mode: String,
    /// Settings of the run.
    pub settings: DocSettings,
    /// Measurement window.
    pub window: DocWindow,
    /// Counters.
    pub totals: DocTotals,
    /// Histograms.
    pub histograms: DocHistograms,
}

/// `settings`.
#[derive(Clone, Debug, Deserialize)]
pub struct DocSettings {
    /// Target URL.
    pub url: String,
    /// `-t`.
    pub threads: u64,
    /// `-c`.
    pub connections: u64,
    /// `-d` in seconds.
    pub duration_s: u64,
    /// `--latency`.
    pub latency: bool,
}

/// `window`.
#[derive(Clone, Copy, Debug, Deserialize)]
pub struct DocWindow {
    /// Wall clock at the banner, µs since the epoch.
    pub start_unix_us: u64,
    /// Wall clock when the threads were joined.
    pub end_unix_us: u64,
    /// The monotonic runtime of `requests in …`.
    pub runtime_us: u64,
}

/// `totals`.
#[derive(Clone, Copy, Debug, Deserialize)]
pub struct DocTotals {
    /// Completed requests.
    pub requests: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Socket errors.
    pub errors: DocErrors,
    /// Non-2xx/3xx responses.
    pub non_2xx_3xx: u64,
}

/// Socket-error counters.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct DocErrors {
    /// Failed connects.
    pub connect: u64,
    /// Read errors.
    pub read: u64,
    /// Write errors.
    pub write: u64,
    /// Timeouts.
    pub timeout: u64,
}

/// `histograms` (wrk mode).
#[derive(Clone, Debug, Deserialize)]
pub struct DocHistograms {
    /// Latency before wrk's correction.
    pub wrk_latency_raw: Option<Sparse>,
    /// Req/Sec samples.
    pub wrk_requests: Sparse,
}

/// wrk's µs histogram as sparse `[value, count]` pairs.
#[derive(Clone, Debug, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct Sparse {
    /// Values at or above this are not recorded.
    pub limit: u64,
    /// Stored count.
    pub count: u64,
    /// `None` when empty.
    pub min: Option<u64>,
    /// Largest value.
    pub max: u64,
    /// Non-zero `[value, count]`, ascending.
    pub counts: Vec<[u64; 2]>,
}

impl Sparse {
    /// The histogram.
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

/// Parses one document; `origin` names it in errors.
pub fn parse_doc(text: &str, origin: &str) -> Result<WrkDoc, String> {
    let doc: WrkDoc = serde_json::from_str(text)
        .map_err(|e| format!("{origin}: not a wrk --json document: {e}"))?;
    if doc.format_version != 1 {
        return Err(format!(
            "{origin}: format_version {} (this netbench reads 1)",
            doc.format_version
        ));
    }
    if doc.mode != "wrk" {
        return Err(format!(
            "{origin}: mode {:?}: only wrk-mode runs (without -R) can be merged so far",
            doc.mode
        ));
    }
    if doc.histograms.wrk_latency_raw.is_none() {
        return Err(format!("{origin}: no wrk_latency_raw histogram"));
    }
    Ok(doc)
}

/// Adds histograms bucket by bucket (wrk's own `Stats::merge`).
pub fn merge_stats<'a>(parts: impl IntoIterator<Item = &'a Stats>) -> Option<Stats> {
    let mut it = parts.into_iter();
    let mut acc = it.next()?.clone();
    for s in it {
        acc.merge(s);
    }
    Some(acc)
}

/// The merged run as wrk's report model (latency corrected as wrk does).
pub fn merge(docs: &[WrkDoc]) -> Result<Report, String> {
    let first = docs.first().ok_or("merge: no documents")?;
    let raw: Vec<Stats> = docs
        .iter()
        .filter_map(|d| d.histograms.wrk_latency_raw.as_ref().map(Sparse::to_stats))
        .collect();
    let reqs: Vec<Stats> = docs
        .iter()
        .map(|d| d.histograms.wrk_requests.to_stats())
        .collect();
    if raw.iter().any(|s| s.limit() != raw[0].limit()) {
        return Err("merge: the runs have different --timeout (histogram limits differ)".into());
    }
    let mut latency = merge_stats(&raw).ok_or("merge: no latency histogram")?;
    let requests = merge_stats(&reqs).ok_or("merge: no Req/Sec histogram")?;
    let sum = |f: fn(&WrkDoc) -> u64| docs.iter().map(f).fold(0u64, u64::saturating_add);
    let complete = sum(|d| d.totals.requests);
    let connections = sum(|d| d.settings.connections);
    let runtime_us = docs.iter().map(|d| d.window.runtime_us).max().unwrap_or(0);
    // wrk's correction with the merged figures: only when every connection
    // completed at least one request on average.
    let per_conn = complete.checked_div(connections).unwrap_or(0);
    if let Some(interval) = runtime_us.checked_div(per_conn) {
        latency.correct(interval);
    }
    Ok(Report {
        url: first.settings.url.clone(),
        duration_secs: docs
            .iter()
            .map(|d| d.settings.duration_s)
            .max()
            .unwrap_or(0),
        threads: sum(|d| d.settings.threads),
        connections,
        latency,
        requests,
        print_latency_distribution: docs.iter().any(|d| d.settings.latency),
        complete,
        runtime_us,
        bytes: sum(|d| d.totals.bytes),
        errors: Errors {
            connect: sum(|d| d.totals.errors.connect),
            read: sum(|d| d.totals.errors.read),
            write: sum(|d| d.totals.errors.write),
            status: sum(|d| d.totals.non_2xx_3xx),
            timeout: sum(|d| d.totals.errors.timeout),
        },
    })
}

/// The merged run in wrk's text (banner, report), as one wrk prints it.
pub fn render(r: &Report, w: &mut impl Write) -> io::Result<()> {
    render_banner(w, r.duration_secs, &r.url, r.threads, r.connections)?;
    render_report(w, r)
}

/// Per-worker table and window skew (the spread of the starts and of the
/// ends, in ms).
pub fn render_workers(names: &[String], docs: &[WrkDoc], w: &mut impl Write) -> io::Result<()> {
    writeln!(
        w,
        "| worker | requests | Requests/sec | runtime | errors (c/r/w/t) | start skew | end skew |"
    )?;
    writeln!(w, "|---|---|---|---|---|---|---|")?;
    let start0 = docs
        .iter()
        .map(|d| d.window.start_unix_us)
        .min()
        .unwrap_or(0);
    let end0 = docs.iter().map(|d| d.window.end_unix_us).min().unwrap_or(0);
    for (name, d) in names.iter().zip(docs) {
        let secs = d.window.runtime_us as f64 / 1e6;
        let rps = if secs > 0.0 {
            d.totals.requests as f64 / secs
        } else {
            0.0
        };
        let e = d.totals.errors;
        writeln!(
            w,
            "| {name} | {} | {rps:.2} | {secs:.2}s | {}/{}/{}/{} | +{:.1} ms | +{:.1} ms |",
            d.totals.requests,
            e.connect,
            e.read,
            e.write,
            e.timeout,
            (d.window.start_unix_us - start0) as f64 / 1e3,
            (d.window.end_unix_us - end0) as f64 / 1e3,
        )?;
    }
    let spread = |f: fn(&WrkDoc) -> u64| {
        let v: Vec<u64> = docs.iter().map(f).collect();
        (v.iter().max().unwrap_or(&0) - v.iter().min().unwrap_or(&0)) as f64 / 1e3
    };
    writeln!(
        w,
        "window skew: starts within {:.1} ms, ends within {:.1} ms",
        spread(|d| d.window.start_unix_us),
        spread(|d| d.window.end_unix_us)
    )
}

/// `netbench merge FILES...`: merged text on stdout, workers on stderr.
pub fn run(files: &[String]) -> Result<i32, String> {
    if files.is_empty() {
        return Err("usage: netbench merge WRK.json...".into());
    }
    let mut docs = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{f}: {e}"))?;
        docs.push(parse_doc(&text, f)?);
    }
    if let Some(d) = docs.iter().find(|d| d.settings.url != docs[0].settings.url) {
        eprintln!(
            "netbench: merge: workers measured different URLs ({} and {}); the banner shows the first",
            docs[0].settings.url, d.settings.url
        );
    }
    let report = merge(&docs)?;
    let mut out = Vec::new();
    render(&report, &mut out).map_err(|e| e.to_string())?;
    let mut workers = Vec::new();
    render_workers(files, &docs, &mut workers).map_err(|e| e.to_string())?;
    let _ = io::stdout().write_all(&out);
    let _ = io::stderr().write_all(&workers);
    Ok(0)
}
