//! The `-R` (wrk2 mode) report: merges the per-thread results into
//! `common::wrk2::report::Model` and renders it in wrk2's layout (wrk.md §6.6).
//!
//! Statistics follow wrk2's C HdrHistogram (`common::wrk2::stdev`). Two
//! deliberate differences from wrk2, both because wrk2 throws data away:
//! - wrk2 discards the first ~10 s ("calibration") and samples Req/Sec only
//!   after it, so short runs print `-nan`. We keep every sample: latency
//!   histograms cover the whole run and Req/Sec uses the engine's 100 ms
//!   samples from the start.
//! - The `Thread calibration` lines keep wrk2's layout and appear exactly when
//!   wrk2 would print them (runs reaching 10 s + 5 ms × connections per
//!   thread), one per thread with data; they show that thread's mean
//!   corrected latency over the run and our fixed 100 ms sampling interval.

use std::io::{self, Write};

use common::hdr::Recorder;
use common::wrk::report::Errors;
use common::wrk::stats::Stats;
use common::wrk2::report::{self, Distribution, Model, Row};
use common::wrk2::stdev;

use crate::engine::ThreadResult;

/// Req/Sec sampling interval of the engine, printed on calibration lines.
pub const SAMPLE_INTERVAL_MS: u64 = 100;

/// When wrk2 calibrates: 10 s after the thread starts plus its 5 ms connect stagger per connection.
const CALIBRATE_BASE_US: u64 = 10_000_000;
const CONNECT_STAGGER_US: u64 = 5_000;

/// What the command line asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `-L/--latency`: the corrected HdrHistogram block.
    pub latency: bool,
    /// `-U/--u_latency`: also the uncorrected block (implies `latency`).
    pub u_latency: bool,
    /// Connections per thread (decides when wrk2 would have calibrated).
    pub connections_per_thread: usize,
}

/// One thread's share of the report, borrowed from its [`ThreadResult`].
#[derive(Clone, Copy)]
pub struct ThreadView<'a> {
    pub complete: u64,
    pub bytes: u64,
    pub errors: Errors,
    pub requests: &'a Stats,
    pub corrected: Option<&'a Recorder>,
    pub uncorrected: Option<&'a Recorder>,
}

impl<'a> From<&'a ThreadResult> for ThreadView<'a> {
    fn from(t: &'a ThreadResult) -> ThreadView<'a> {
        ThreadView {
            complete: t.complete,
            bytes: t.bytes,
            errors: t.errors,
            requests: &t.requests,
            corrected: t.corrected.as_ref(),
            uncorrected: t.uncorrected.as_ref(),
        }
    }
}

/// Lossless merge of one recorder kind over all threads.
pub fn merge<'a>(parts: impl IntoIterator<Item = Option<&'a Recorder>>) -> Recorder {
    let mut all = Recorder::new();
    for r in parts.into_iter().flatten() {
        all.merge(r);
    }
    all
}

/// Merged corrected latency (for the report and Lua's `done()` in rate mode).
pub fn merged_corrected(threads: &[ThreadResult]) -> Recorder {
    merge(threads.iter().map(|t| t.corrected.as_ref()))
}

/// Merged uncorrected latency.
pub fn merged_uncorrected(threads: &[ThreadResult]) -> Recorder {
    merge(threads.iter().map(|t| t.uncorrected.as_ref()))
}

/// The Req/Sec samples as an HdrHistogram (for Lua's `done()` in rate mode).
pub fn requests_recorder(requests: &Stats) -> Recorder {
    let mut r = Recorder::new();
    for (value, count) in requests.values() {
        for _ in 0..count.min(1 << 24) {
            r.record(value);
        }
    }
    r
}

/// Sum of the error counters.
fn sum_errors(views: &[ThreadView]) -> Errors {
    let mut e = Errors::default();
    for v in views {
        e.connect += v.errors.connect;
        e.read += v.errors.read;
        e.write += v.errors.write;
        e.status += v.errors.status;
        e.timeout += v.errors.timeout;
    }
    e
}

/// Req/Sec row: the rate samples of all threads in an HdrHistogram (as wrk2
/// does), max = largest raw sample; no samples → `-nan`, `0.00`, `0.00%`.
fn requests_row(views: &[ThreadView]) -> Row {
    let mut h = Recorder::new().histogram().clone();
    let mut max = 0u64;
    for v in views {
        for (value, count) in v.requests.values() {
            // Values beyond 24 h/s cannot occur; drop rather than fail.
            let _ = h.record_n(value.min(common::hdr::MAX_VALUE_US), count);
            max = max.max(value);
        }
    }
    Row::from_histogram(&h, max as f64)
}

/// Calibration lines wrk2 would have printed by `runtime_us`.
fn calibration(views: &[ThreadView], runtime_us: u64, opts: &Options) -> Vec<(f64, u64)> {
    let at = CALIBRATE_BASE_US
        .saturating_add(CONNECT_STAGGER_US.saturating_mul(opts.connections_per_thread as u64));
    if runtime_us < at {
        return Vec::new();
    }
    views
        .iter()
        .filter_map(|v| v.corrected)
        .filter(|r| r.count() > 0)
        .map(|r| {
            // wrk2 keeps the mean as whole µs and prints it in ms.
            let mean_us = stdev::mean(r.histogram()) as u64;
            (mean_us as f64 / 1000.0, SAMPLE_INTERVAL_MS)
        })
        .collect()
}

/// The whole model, from per-thread views.
pub fn model_from_views(views: &[ThreadView], runtime_us: u64, opts: &Options) -> Model {
    let corrected = merge(views.iter().map(|v| v.corrected));
    let h = corrected.histogram();
    let latency = Row::from_histogram(h, stdev::max(h) as f64);
    let mut distributions = Vec::new();
    if opts.latency || opts.u_latency {
        distributions.push(Distribution::from_recorder(report::RECORDED, &corrected));
    }
    if opts.u_latency {
        let uncorrected = merge(views.iter().map(|v| v.uncorrected));
        distributions.push(Distribution::from_recorder(
            report::UNCORRECTED,
            &uncorrected,
        ));
    }
    Model {
        calibration: calibration(views, runtime_us, opts),
        latency,
        requests: requests_row(views),
        distributions,
        complete: views.iter().map(|v| v.complete).sum(),
        runtime_us,
        bytes: views.iter().map(|v| v.bytes).sum(),
        errors: sum_errors(views),
    }
}

/// The model from the joined threads.
pub fn build_model(threads: &[ThreadResult], runtime_us: u64, opts: &Options) -> Model {
    let views: Vec<ThreadView> = threads.iter().map(ThreadView::from).collect();
    model_from_views(&views, runtime_us, opts)
}

/// Renders everything after the banner (calibration lines … `Transfer/sec:`).
pub fn report_wrk2<W: Write>(
    w: &mut W,
    threads: &[ThreadResult],
    runtime_us: u64,
    opts: &Options,
) -> io::Result<()> {
    report::render(w, &build_model(threads, runtime_us, opts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view<'a>(
        requests: &'a Stats,
        corrected: &'a Recorder,
        uncorrected: &'a Recorder,
    ) -> ThreadView<'a> {
        ThreadView {
            complete: 100,
            bytes: 1000,
            errors: Errors {
                timeout: 1,
                ..Errors::default()
            },
            requests,
            corrected: Some(corrected),
            uncorrected: Some(uncorrected),
        }
    }

    fn render_views(views: &[ThreadView], runtime_us: u64, opts: &Options) -> String {
        let mut out = Vec::new();
        report::render(&mut out, &model_from_views(views, runtime_us, opts)).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn no_samples_print_like_wrk2() {
        let empty = Stats::new(10_000_000);
        let r = Recorder::new();
        let out = render_views(&[view(&empty, &r, &r)], 3_000_000, &Options::default());
        assert!(
            out.contains("    Req/Sec       -nan      -nan   0.00      0.00%\n"),
            "{out}"
        );
        assert!(out.contains("  Socket errors: connect 0, read 0, write 0, timeout 1\n"));
        assert!(!out.contains("Latency Distribution"));
        assert!(!out.contains("calibration"));
    }

    #[test]
    fn blocks_follow_options() {
        let mut req = Stats::new(10_000_000);
        let mut c = Recorder::new();
        let mut u = Recorder::new();
        for i in 1..=1000u64 {
            c.record(700 + i);
            u.record(90 + i % 7);
            if i % 100 == 0 {
                req.record(1000 + i);
            }
        }
        let v = [view(&req, &c, &u), view(&req, &c, &u)];
        let plain = render_views(&v, 3_000_000, &Options::default());
        assert!(!plain.contains("HdrHistogram"));
        let l = render_views(
            &v,
            3_000_000,
            &Options {
                latency: true,
                ..Options::default()
            },
        );
        assert_eq!(l.matches("HdrHistogram").count(), 1);
        assert!(
            l.contains("#[Max     =        1.700, Total count    =         2000]\n"),
            "{l}"
        );
        let lu = render_views(
            &v,
            3_000_000,
            &Options {
                u_latency: true,
                ..Options::default()
            },
        );
        assert!(lu.contains("----------------------------------------------------------\n\n  Latency Distribution (HdrHistogram - Uncorrected Latency"));
        assert!(
            lu.contains("  200 requests in 3.00s, 1.95KB read\n"),
            "{lu}"
        );
        // Req/Sec: 20 samples 1100..2000 (twice), max 2000.
        assert!(
            lu.contains("    Req/Sec     1.55k   287.23     2.00k    60.00%\n"),
            "{lu}"
        );
    }

    #[test]
    fn calibration_lines_only_when_wrk2_would_calibrate() {
        let req = Stats::new(10_000_000);
        let mut c = Recorder::new();
        c.record(759);
        c.record(760);
        let empty = Recorder::new();
        let v = [view(&req, &c, &c), view(&req, &empty, &empty)];
        let opts = Options {
            connections_per_thread: 5,
            ..Options::default()
        };
        assert!(render_views(&v, 10_024_999, &opts).starts_with("  Thread Stats"));
        let out = render_views(&v, 10_025_000, &opts);
        assert!(
            out.starts_with(
                "  Thread calibration: mean lat.: 0.759ms, rate sampling interval: 100ms\n  Thread Stats"
            ),
            "{out}"
        );
    }
}
