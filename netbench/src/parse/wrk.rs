//! Parser for the wrk 4.1.0 report (wrk.md §3.1).
//!
//! Every figure keeps the text wrk printed (shown in the Markdown table) and
//! its value in base units (used for ratios, JSON and charts). A report is
//! recognised by its `Requests/sec:` line; without it the run failed and the
//! caller reports wrk's stderr instead.

use serde::Serialize;

use super::{units, Figure};

/// `Thread Stats` row (`Latency` or `Req/Sec`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatsRow {
    /// Average.
    pub avg: Figure,
    /// Standard deviation.
    pub stdev: Figure,
    /// Maximum.
    pub max: Figure,
    /// `+/- Stdev` column as printed (`73.98%`, `-nan%`).
    pub within_stdev: String,
}

/// `Socket errors:` counters (all zero when wrk did not print the line).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SocketErrors {
    /// Failed connects.
    pub connect: u64,
    /// Read errors (wrk counts every EOF).
    pub read: u64,
    /// Write errors.
    pub write: u64,
    /// Requests that timed out.
    pub timeout: u64,
}

impl SocketErrors {
    /// Sum of the four counters.
    pub fn total(&self) -> u64 {
        self.connect + self.read + self.write + self.timeout
    }
}

/// A parsed wrk report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// Thread count from the banner.
    pub threads: Option<u64>,
    /// Connection count from the banner.
    pub connections: Option<u64>,
    /// Latency row (seconds).
    pub latency: Option<StatsRow>,
    /// Req/Sec row (requests per second per thread).
    pub req_per_thread: Option<StatsRow>,
    /// Completed requests.
    pub requests: Option<u64>,
    /// Run time (seconds).
    pub runtime: Option<Figure>,
    /// Bytes read (bytes).
    pub bytes_read: Option<Figure>,
    /// Socket error counters.
    pub socket_errors: SocketErrors,
    /// `Non-2xx or 3xx responses:` count.
    pub non_2xx_3xx: u64,
    /// `Requests/sec:` (the QPS).
    pub requests_per_sec: Figure,
    /// `Transfer/sec:` (bytes per second).
    pub transfer_per_sec: Option<Figure>,
}

/// Parses wrk's stdout; `None` when there is no `Requests/sec:` line.
pub fn parse(stdout: &str) -> Option<Report> {
    let mut report = Report {
        threads: None,
        connections: None,
        latency: None,
        req_per_thread: None,
        requests: None,
        runtime: None,
        bytes_read: None,
        socket_errors: SocketErrors::default(),
        non_2xx_3xx: 0,
        requests_per_sec: Figure {
            text: String::new(),
            value: f64::NAN,
        },
        transfer_per_sec: None,
    };
    let mut have_rps = false;
    for line in stdout.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [t, "threads", "and", c, "connections"] => {
                report.threads = t.parse().ok();
                report.connections = c.parse().ok();
            }
            ["Latency", a, s, m, p] => report.latency = stats_row(a, s, m, p, units::wrk_time),
            ["Req/Sec", a, s, m, p] => {
                report.req_per_thread = stats_row(a, s, m, p, units::wrk_metric)
            }
            [n, "requests", "in", t, b, "read"] => {
                report.requests = n.parse().ok();
                let t = t.trim_end_matches(',');
                report.runtime = figure(t, units::wrk_time);
                report.bytes_read = figure(b, units::wrk_bytes);
            }
            ["Socket", "errors:", "connect", c, "read", r, "write", w, "timeout", t] => {
                let n = |s: &str| s.trim_end_matches(',').parse().unwrap_or(0);
                report.socket_errors = SocketErrors {
                    connect: n(c),
                    read: n(r),
                    write: n(w),
                    timeout: n(t),
                };
            }
            ["Non-2xx", "or", "3xx", "responses:", n] => {
                report.non_2xx_3xx = n.parse().unwrap_or(0)
            }
            ["Requests/sec:", r] => {
                if let Some(f) = figure(r, |s| s.parse().ok()) {
                    report.requests_per_sec = f;
                    have_rps = true;
                }
            }
            ["Transfer/sec:", x] => report.transfer_per_sec = figure(x, units::wrk_bytes),
            _ => {}
        }
    }
    have_rps.then_some(report)
}

fn figure(text: &str, conv: impl Fn(&str) -> Option<f64>) -> Option<Figure> {
    conv(text).map(|value| Figure {
        text: text.to_string(),
        value,
    })
}

fn stats_row(
    avg: &str,
    stdev: &str,
    max: &str,
    pct: &str,
    conv: fn(&str) -> Option<f64>,
) -> Option<StatsRow> {
    Some(StatsRow {
        avg: figure(avg, conv)?,
        stdev: figure(stdev, conv)?,
        max: figure(max, conv)?,
        within_stdev: pct.to_string(),
    })
}

/// The error wrk reported: its first non-empty stderr line, else stdout's.
pub fn error_text(stdout: &str, stderr: &str) -> Option<String> {
    stderr
        .lines()
        .chain(stdout.lines())
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_report() {
        let text = "Running 2s test @ http://127.0.0.1/\n  1 threads and 1 connections\n  Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency    66.87us   90.94us   3.07ms   99.49%\n    Req/Sec    15.91k     2.50k   24.20k    80.95%\n  33228 requests in 2.10s, 27.03MB read\nRequests/sec:  15823.99\nTransfer/sec:     12.87MB\n";
        let r = parse(text).expect("report");
        assert_eq!(r.requests, Some(33228));
        assert_eq!(r.requests_per_sec.text, "15823.99");
        assert_eq!(r.latency.as_ref().unwrap().avg.text, "66.87us");
        assert_eq!(r.socket_errors.total(), 0);
        assert_eq!(r.connections, Some(1));
    }

    #[test]
    fn no_report_and_garbage() {
        assert!(parse("").is_none());
        assert!(parse("Requests/sec: abc\n").is_none());
        assert!(parse("  x requests in , read\nSocket errors: connect\n").is_none());
        assert_eq!(
            error_text(
                "",
                "\nunable to connect to 127.0.0.1:9 Connection refused\n"
            )
            .as_deref(),
            Some("unable to connect to 127.0.0.1:9 Connection refused")
        );
    }
}
