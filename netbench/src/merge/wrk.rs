//! wrk workers as one run: our `wrk --json` documents
//! (`schemas/wrk.schema.json`), both modes.
//!
//! - **wrk mode** (closed loop): counters (requests, bytes, every
//!   socket-error class, non-2xx) are summed, the raw latency histograms
//!   (`wrk_latency_raw`, before wrk's coordinated-omission correction) and
//!   the Req/Sec samples are added bucket by bucket, then wrk's own
//!   correction is applied once with the merged figures and `common`'s wrk
//!   renderer prints wrk's text.
//! - **wrk2 mode** (`-R`): the corrected and uncorrected HdrHistograms (V2,
//!   base64) are added losslessly and `common`'s wrk2 renderer prints
//!   wrk2's text: Thread Stats from the merged histograms, the `--latency`
//!   block with its detailed percentile spectrum when a worker ran with
//!   `--latency` (`-U`: also the uncorrected block), the calibration lines
//!   wrk2 would have printed for each worker's threads.
//!
//! Merged banner: threads and connections are the sums; the runtime is the
//! longest worker's (they run side by side). The per-worker table and the
//! skew of their measurement windows (start and end wall clocks) go to the
//! second writer (stderr), so stdout stays exactly the tool's format.

use std::io::{self, Write};

use common::hdr::Recorder;
use common::wrk::report::{render_banner, render_report, Errors, Report};
use common::wrk::stats::{SparseStats, Stats};
use common::wrk2::report::{self as wrk2, Distribution, Model, Row};
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
    /// Per-thread figures (wrk2's calibration lines come from them).
    #[serde(default)]
    pub threads: Vec<DocThread>,
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
    /// floor(c / t).
    #[serde(default)]
    pub connections_per_thread: u64,
    /// `-d` in seconds.
    pub duration_s: u64,
    /// `--latency`.
    pub latency: bool,
    /// `-U` (wrk2 mode).
    #[serde(default)]
    pub u_latency: bool,
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

/// `histograms`.
#[derive(Clone, Debug, Deserialize)]
pub struct DocHistograms {
    /// wrk mode: latency before wrk's correction.
    pub wrk_latency_raw: Option<SparseStats>,
    /// Req/Sec samples (both modes).
    pub wrk_requests: SparseStats,
    /// wrk2 mode: corrected latency, V2 base64.
    #[serde(default)]
    pub hdr_corrected: Option<String>,
    /// wrk2 mode: uncorrected latency, V2 base64.
    #[serde(default)]
    pub hdr_uncorrected: Option<String>,
}

/// One entry of `threads`.
#[derive(Clone, Debug, Deserialize)]
pub struct DocThread {
    /// wrk2 mode: this thread's corrected latency, V2 base64.
    #[serde(default)]
    pub hdr_corrected: Option<String>,
}

/// Parses one document; `origin` names it in errors.
pub fn parse_doc(text: &str, origin: &str) -> Result<WrkDoc, String> {
    let doc: WrkDoc = super::parse_v1(text, origin, "wrk", |d: &WrkDoc| d.format_version)?;
    let h = &doc.histograms;
    match doc.mode.as_str() {
        "wrk" if h.wrk_latency_raw.is_none() => {
            Err(format!("{origin}: no wrk_latency_raw histogram"))
        }
        "wrk2" if h.hdr_corrected.is_none() || h.hdr_uncorrected.is_none() => Err(format!(
            "{origin}: -R run without hdr_corrected/hdr_uncorrected histograms"
        )),
        "wrk" | "wrk2" => Ok(doc),
        other => Err(format!("{origin}: unknown mode {other:?}")),
    }
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

/// Adds V2 base64 HdrHistograms losslessly; `None` entries are skipped.
pub fn merge_hdr<'a>(parts: impl IntoIterator<Item = Option<&'a str>>) -> Result<Recorder, String> {
    let mut all = Recorder::new();
    for p in parts.into_iter().flatten() {
        all.merge(&Recorder::from_base64(p)?);
    }
    Ok(all)
}

fn sum(docs: &[WrkDoc], f: fn(&WrkDoc) -> u64) -> u64 {
    docs.iter().map(f).fold(0u64, u64::saturating_add)
}

fn sum_errors(docs: &[WrkDoc]) -> Errors {
    Errors {
        connect: sum(docs, |d| d.totals.errors.connect),
        read: sum(docs, |d| d.totals.errors.read),
        write: sum(docs, |d| d.totals.errors.write),
        status: sum(docs, |d| d.totals.non_2xx_3xx),
        timeout: sum(docs, |d| d.totals.errors.timeout),
    }
}

fn longest_runtime(docs: &[WrkDoc]) -> u64 {
    docs.iter().map(|d| d.window.runtime_us).max().unwrap_or(0)
}

fn merged_requests(docs: &[WrkDoc]) -> Result<Stats, String> {
    let reqs: Vec<Stats> = docs
        .iter()
        .map(|d| d.histograms.wrk_requests.to_stats())
        .collect();
    merge_stats(&reqs).ok_or_else(|| "merge: no Req/Sec histogram".into())
}

/// The merged wrk-mode run as wrk's report model (latency corrected as wrk does).
pub fn merge(docs: &[WrkDoc]) -> Result<Report, String> {
    let first = docs.first().ok_or("merge: no documents")?;
    let raw: Vec<Stats> = docs
        .iter()
        .filter_map(|d| {
            d.histograms
                .wrk_latency_raw
                .as_ref()
                .map(SparseStats::to_stats)
        })
        .collect();
    if raw.iter().any(|s| s.limit() != raw[0].limit()) {
        return Err("merge: the runs have different --timeout (histogram limits differ)".into());
    }
    let mut latency = merge_stats(&raw).ok_or("merge: no latency histogram")?;
    let requests = merged_requests(docs)?;
    let complete = sum(docs, |d| d.totals.requests);
    let connections = sum(docs, |d| d.settings.connections);
    let runtime_us = longest_runtime(docs);
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
        threads: sum(docs, |d| d.settings.threads),
        connections,
        latency,
        requests,
        print_latency_distribution: docs.iter().any(|d| d.settings.latency),
        complete,
        runtime_us,
        bytes: sum(docs, |d| d.totals.bytes),
        errors: sum_errors(docs),
    })
}

/// When wrk2 prints a thread's calibration line: 10 s after the thread
/// starts plus its 5 ms connect stagger per connection (as our wrk does).
fn calibrates(d: &WrkDoc) -> bool {
    let at =
        10_000_000u64.saturating_add(5_000u64.saturating_mul(d.settings.connections_per_thread));
    d.window.runtime_us >= at
}

/// The merged `-R` run as wrk2's report model.
pub fn merge_wrk2(docs: &[WrkDoc]) -> Result<Model, String> {
    let corrected = merge_hdr(docs.iter().map(|d| d.histograms.hdr_corrected.as_deref()))?;
    let h = corrected.histogram();
    let requests = merged_requests(docs)?;
    // wrk2's Req/Sec row: the rate samples in an HdrHistogram, max = the
    // largest raw sample.
    let mut rates = Recorder::new().histogram().clone();
    for (value, count) in requests.values() {
        let _ = rates.record_n(value.min(common::hdr::MAX_VALUE_US), count);
    }
    let mut distributions = Vec::new();
    if docs
        .iter()
        .any(|d| d.settings.latency || d.settings.u_latency)
    {
        distributions.push(Distribution::from_recorder(wrk2::RECORDED, &corrected));
    }
    if docs.iter().any(|d| d.settings.u_latency) {
        let uncorrected = merge_hdr(docs.iter().map(|d| d.histograms.hdr_uncorrected.as_deref()))?;
        distributions.push(Distribution::from_recorder(wrk2::UNCORRECTED, &uncorrected));
    }
    let mut calibration = Vec::new();
    for d in docs.iter().filter(|d| calibrates(d)) {
        for t in &d.threads {
            let Some(text) = t.hdr_corrected.as_deref() else {
                continue;
            };
            let r = Recorder::from_base64(text)?;
            if r.count() > 0 {
                // wrk2 keeps the mean as whole µs and prints it in ms.
                let mean_us = common::wrk2::stdev::mean(r.histogram()) as u64;
                calibration.push((mean_us as f64 / 1000.0, 100));
            }
        }
    }
    Ok(Model {
        calibration,
        latency: Row::from_histogram(h, common::wrk2::stdev::max(h) as f64),
        requests: Row::from_histogram(&rates, requests.max() as f64),
        distributions,
        complete: sum(docs, |d| d.totals.requests),
        runtime_us: longest_runtime(docs),
        bytes: sum(docs, |d| d.totals.bytes),
        errors: sum_errors(docs),
    })
}

/// The merged run in wrk's text (banner, report), as one wrk prints it.
pub fn render(r: &Report, w: &mut impl Write) -> io::Result<()> {
    render_banner(w, r.duration_secs, &r.url, r.threads, r.connections)?;
    render_report(w, r)
}

/// The merged `-R` run in wrk2's text (banner, report).
pub fn render_wrk2(docs: &[WrkDoc], m: &Model, w: &mut impl Write) -> io::Result<()> {
    let Some(first) = docs.first() else {
        return Ok(());
    };
    render_banner(
        w,
        docs.iter()
            .map(|d| d.settings.duration_s)
            .max()
            .unwrap_or(0),
        &first.settings.url,
        sum(docs, |d| d.settings.threads),
        sum(docs, |d| d.settings.connections),
    )?;
    wrk2::render(w, m)
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
            d.window.start_unix_us.saturating_sub(start0) as f64 / 1e3,
            d.window.end_unix_us.saturating_sub(end0) as f64 / 1e3,
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

/// Merges the documents `texts` (read from `files`): the tool's text into
/// `out`, the workers into `workers`. Returns the exit status.
pub fn run(
    files: &[String],
    texts: &[String],
    out: &mut impl Write,
    workers: &mut impl Write,
) -> Result<i32, String> {
    let docs = super::parse_all(files, texts, parse_doc)?;
    let first = docs.first().ok_or("merge: no documents")?;
    if let Some((f, d)) = files.iter().zip(&docs).find(|(_, d)| d.mode != first.mode) {
        return Err(format!(
            "{f}: mode {} beside {} ({}): -R and closed-loop runs do not add up",
            d.mode, first.mode, files[0]
        ));
    }
    if let Some(d) = docs.iter().find(|d| d.settings.url != first.settings.url) {
        let _ = writeln!(
            workers,
            "netbench: merge: workers measured different URLs ({} and {}); the banner shows the first",
            first.settings.url, d.settings.url
        );
    }
    let io = |e: io::Error| e.to_string();
    if first.mode == "wrk2" {
        let model = merge_wrk2(&docs)?;
        render_wrk2(&docs, &model, out).map_err(io)?;
    } else {
        render(&merge(&docs)?, out).map_err(io)?;
    }
    render_workers(files, &docs, workers).map_err(io)?;
    Ok(0)
}
