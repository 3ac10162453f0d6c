//! The result model: every command run, its raw output, what was parsed,
//! and the cell view the tables and charts are drawn from.
//!
//! Cells are computed, not stored: a qperf cell is the figure for (test,
//! size) if the output has it, else `error: <why>`, so a failing target
//! still fills its column and the other targets are unaffected.

use serde::Serialize;

use crate::exec::Outcome;
use crate::parse::{qperf, wrk, Figure};
use crate::settings::Settings;

/// The two qperf tests of the runbook.
pub const QPERF_TESTS: [&str; 2] = ["tcp_bw", "tcp_lat"];

/// Everything one netbench run produced.
#[derive(Clone, Debug, Serialize)]
pub struct Results {
    /// Message sizes (table rows), in sweep order.
    pub msg_sizes: Vec<u64>,
    /// Targets in column order; ratios are relative to the first.
    pub targets: Vec<TargetResult>,
    /// Notes shown under the tables (e.g. no namespace target).
    pub notes: Vec<String>,
    /// Per-worker tables of cells measured by several generators (empty:
    /// every cell is one process's run, and the report is as before).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workers: Vec<WorkerReport>,
}

/// How the generators behind one merged cell did, one row per worker.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct WorkerReport {
    /// Target (column) name.
    pub target: String,
    /// `wrk` (the tool whose workers were merged).
    pub tool: String,
    /// The per-worker Markdown table and the window-skew line, as
    /// `netbench merge` prints them.
    pub table: String,
    /// Workers that started after the common start time (or failed): one
    /// line each, also in the report's notes.
    pub problems: Vec<String>,
}

/// One target's runs.
#[derive(Clone, Debug, Serialize)]
pub struct TargetResult {
    /// Column name.
    pub name: String,
    /// Settings used.
    pub settings: Settings,
    /// The qperf run (`None`: target has no qperf host).
    pub qperf: Option<QperfRun>,
    /// The wrk run (`None`: target has no URL).
    pub wrk: Option<WrkRun>,
}

/// A qperf command and its parsed output.
#[derive(Clone, Debug, Serialize)]
pub struct QperfRun {
    /// The command and its raw output.
    pub outcome: Outcome,
    /// Parsed stdout.
    pub parsed: qperf::Output,
}

/// A wrk command and its parsed report.
#[derive(Clone, Debug, Serialize)]
pub struct WrkRun {
    /// The command and its raw output.
    pub outcome: Outcome,
    /// Parsed report, `None` when wrk printed none.
    pub report: Option<wrk::Report>,
}

/// A table cell.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// A figure: text as the tool printed it, value in base units.
    Value(String, f64),
    /// The cell could not be measured.
    Error(String),
    /// The target does not have this tool configured.
    NotConfigured,
}

impl Cell {
    /// The numeric value, if any.
    pub fn value(&self) -> Option<f64> {
        match self {
            Cell::Value(_, v) => Some(*v),
            _ => None,
        }
    }
}

/// Why a run failed as a whole (`None` when it exited cleanly).
fn run_failure(o: &Outcome, tool_error: Option<String>) -> Option<String> {
    if let Some(e) = &o.spawn_error {
        return Some(format!(
            "cannot run {}: {e}",
            o.command.first().map_or("", String::as_str)
        ));
    }
    if o.interrupted {
        return Some("interrupted".into());
    }
    if o.timed_out {
        return Some(format!("timed out after {:.0} s", o.elapsed_secs));
    }
    match o.exit_code {
        Some(0) => None,
        code => Some(tool_error.unwrap_or_else(|| match code {
            Some(c) => format!("exit status {c}"),
            None => "killed by a signal".into(),
        })),
    }
}

impl QperfRun {
    /// Error text for cells without a figure.
    pub fn error(&self) -> String {
        let messages: Vec<&str> = self
            .parsed
            .errors()
            .chain(
                self.outcome
                    .stderr
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty()),
            )
            .collect();
        let tool = (!messages.is_empty()).then(|| messages.join("; "));
        run_failure(&self.outcome, tool.clone())
            .or(tool)
            .unwrap_or_else(|| "no result in qperf output".into())
    }

    /// Cell for `test` (`tcp_bw` or `tcp_lat`) at `size`.
    pub fn cell(&self, test: &str, size: u64) -> Cell {
        let fig = self.parsed.find(test, size).and_then(|b| match test {
            "tcp_bw" => b.bw.as_ref(),
            _ => b.latency.as_ref(),
        });
        match fig {
            Some(f) => Cell::Value(f.text.clone(), f.value),
            None => Cell::Error(self.error()),
        }
    }
}

/// The rows of the wrk table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WrkMetric {
    /// `Requests/sec:`.
    Qps,
    /// `Transfer/sec:`.
    Transfer,
    /// Average latency.
    AvgLatency,
    /// Socket errors (sum, with the breakdown as text).
    SocketErrors,
}

impl WrkMetric {
    /// All rows in table order.
    pub const ALL: [WrkMetric; 4] = [
        WrkMetric::Qps,
        WrkMetric::Transfer,
        WrkMetric::AvgLatency,
        WrkMetric::SocketErrors,
    ];

    /// Row label.
    pub fn label(self) -> &'static str {
        match self {
            WrkMetric::Qps => "QPS (Requests/sec)",
            WrkMetric::Transfer => "Transfer/sec",
            WrkMetric::AvgLatency => "Avg latency",
            WrkMetric::SocketErrors => "Socket errors",
        }
    }
}

impl WrkRun {
    /// Error text when there is no report (or it is partial).
    pub fn error(&self) -> String {
        let tool = wrk::error_text(&self.outcome.stdout, &self.outcome.stderr);
        run_failure(&self.outcome, tool.clone())
            .or(tool)
            .unwrap_or_else(|| "no report in wrk output".into())
    }

    /// Cell for one metric.
    pub fn cell(&self, m: WrkMetric) -> Cell {
        let Some(r) = &self.report else {
            return Cell::Error(self.error());
        };
        let fig = |f: Option<&Figure>| match f {
            Some(f) => Cell::Value(f.text.clone(), f.value),
            None => Cell::Error("not in wrk report".into()),
        };
        match m {
            WrkMetric::Qps => fig(Some(&r.requests_per_sec)),
            WrkMetric::Transfer => fig(r.transfer_per_sec.as_ref()),
            WrkMetric::AvgLatency => fig(r.latency.as_ref().map(|l| &l.avg)),
            WrkMetric::SocketErrors => {
                let e = r.socket_errors;
                let text = if e.total() == 0 {
                    "0".to_string()
                } else {
                    format!(
                        "{} (connect {}, read {}, write {}, timeout {})",
                        e.total(),
                        e.connect,
                        e.read,
                        e.write,
                        e.timeout
                    )
                };
                Cell::Value(text, e.total() as f64)
            }
        }
    }
}

impl TargetResult {
    /// qperf cell, `NotConfigured` without a qperf host.
    pub fn qperf_cell(&self, test: &str, size: u64) -> Cell {
        self.qperf
            .as_ref()
            .map_or(Cell::NotConfigured, |q| q.cell(test, size))
    }

    /// wrk cell, `NotConfigured` without a URL.
    pub fn wrk_cell(&self, m: WrkMetric) -> Cell {
        self.wrk.as_ref().map_or(Cell::NotConfigured, |w| w.cell(m))
    }
}
