//! Shared helpers: golden files of the real tools, fixed results built from
//! them, and the qperf/wrk binaries to drive.

use std::path::PathBuf;

use netbench::exec::Outcome;
use netbench::parse::{qperf, wrk};
use netbench::results::{QperfRun, Results, TargetResult, WrkRun};
use netbench::settings::Settings;

/// A file under compat/golden/.
pub fn golden(rel: &str) -> String {
    compat::golden(rel)
}

fn outcome(cmd: &str, stdout: String, stderr: String, code: i32) -> Outcome {
    Outcome {
        command: cmd.split_whitespace().map(String::from).collect(),
        exit_code: Some(code),
        elapsed_secs: 1.0,
        stdout,
        stderr,
        ..Outcome::default()
    }
}

fn qperf_run(file: &str, code: i32) -> QperfRun {
    let outcome = outcome(
        "qperf 127.0.0.1 -oo msg_size:1:256K:*64 -vu tcp_bw tcp_lat",
        golden(&format!("qperf/{file}")),
        String::new(),
        code,
    );
    let parsed = qperf::parse(&outcome.stdout);
    QperfRun { outcome, parsed }
}

fn wrk_run(stdout: &str, stderr: &str, code: i32) -> WrkRun {
    let read = |f: &str| {
        if f.is_empty() {
            String::new()
        } else {
            golden(&format!("wrk/{f}"))
        }
    };
    let outcome = outcome(
        "wrk -t64 -c20000 -d3m http://127.0.0.1/",
        read(stdout),
        read(stderr),
        code,
    );
    let report = wrk::parse(&outcome.stdout);
    WrkRun { outcome, report }
}

/// Three targets from real captures: a clean one, one with socket errors
/// and a fixed data port, and one whose servers are not running.
pub fn fixed_results() -> Results {
    let target = |name: &str, q: QperfRun, w: WrkRun| TargetResult {
        name: name.into(),
        settings: Settings::seed(),
        qperf: Some(q),
        wrk: Some(w),
    };
    Results {
        msg_sizes: vec![1, 64, 4096, 262144],
        targets: vec![
            target(
                "host",
                qperf_run("tcp_bw_tcp_lat_oo_vu.txt", 0),
                wrk_run("01-t2-c100-d3s-latency.stdout", "", 0),
            ),
            target(
                "runc",
                qperf_run("tcp_bw_tcp_lat_oo_vu_ip.txt", 0),
                wrk_run("21-read-errors-server-closes.stdout", "", 0),
            ),
            target(
                "kata",
                qperf_run("server_not_running.txt", 1),
                wrk_run("", "03-connection-refused.stderr", 1),
            ),
        ],
        notes: vec!["fixed results from compat/golden".into()],
        workers: Vec::new(),
    }
}

/// (qperf, wrk) to drive: ours when both are built next to the tests
/// (`cargo test --workspace` builds them), else the stock tools;
/// `NETBENCH_E2E_STOCK=1` forces the stock ones. `None`: skipped.
pub fn tools() -> Option<(PathBuf, PathBuf)> {
    if std::env::var_os("NETBENCH_E2E_STOCK").is_none() {
        if let (Some(q), Some(w)) = (testkit::ours::binary("qperf"), testkit::ours::binary("wrk")) {
            eprintln!("e2e: driving our {} and {}", q.display(), w.display());
            return Some((q, w));
        }
    }
    Some((
        testkit::stock::require("qperf")?,
        testkit::stock::require("wrk")?,
    ))
}

/// Asserts that wrk's Latency Distribution in `text` (its 50/75/90/99 %
/// lines) prints the percentiles of `stats`.
pub fn assert_percentile_lines(text: &str, stats: &common::wrk::stats::Stats) {
    for p in [50.0, 75.0, 90.0, 99.0] {
        let want = common::wrk::units::format_time_us(stats.percentile(p) as f64);
        let label = format!("{p:.0}%");
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&label))
            .unwrap_or_else(|| panic!("no {label} line:\n{text}"));
        assert!(line.ends_with(want.as_str()), "{line} vs {want}");
    }
}
