//! golden/05: the done() dump (done_stats.lua) carries the histogram figures
//! wrk printed; rebuild the report from them and compare byte for byte.
//!
//! The dump has no per-value counts, so the Stats itself cannot be rebuilt;
//! the numbers the dump does carry (summary, min/max/mean/stdev, p50/p90/p99)
//! drive the render, and the two figures it lacks (+/- Stdev, p75) are taken
//! from the report lines.

use common::wrk::report::{render_summary, Errors, Row, Summary};

fn field(line: &str, key: &str) -> f64 {
    line.split_whitespace()
        .find_map(|t| t.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{key} in {line}"))
}

#[test]
fn golden_05_report_from_done_dump() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../compat/golden/wrk/05-done-stats.stdout"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let find = |prefix: &str| *lines.iter().find(|l| l.starts_with(prefix)).unwrap();
    let summary = find("summary:");
    let errors = find("errors:");
    let lat = find("latency: min=");
    let req = find("requests: min=");
    let pct = |name: &str, p: &str| field(find(&format!("{name}: p{p}=")), &format!("p{p}")) as u64;
    let within = |row: &str| -> f64 {
        let l = find(row);
        l.split_whitespace()
            .last()
            .unwrap()
            .trim_end_matches('%')
            .parse()
            .unwrap()
    };
    let p75 = find("     75%").split_whitespace().nth(1).unwrap();
    let p75: u64 = p75.trim_end_matches("us").parse::<f64>().unwrap() as u64;
    let s = Summary {
        latency: Row {
            mean: field(lat, "mean"),
            stdev: field(lat, "stdev"),
            max: field(lat, "max"),
            within: within("    Latency"),
        },
        requests: Row {
            mean: field(req, "mean"),
            stdev: field(req, "stdev"),
            max: field(req, "max"),
            within: within("    Req/Sec"),
        },
        distribution: Some([
            pct("latency", "50"),
            p75,
            pct("latency", "90"),
            pct("latency", "99"),
        ]),
        complete: field(summary, "requests") as u64,
        runtime_us: field(summary, "duration") as u64,
        bytes: field(summary, "bytes") as u64,
        errors: Errors {
            connect: field(errors, "connect") as u64,
            read: field(errors, "read") as u64,
            write: field(errors, "write") as u64,
            status: field(errors, "status") as u64,
            timeout: field(errors, "timeout") as u64,
        },
    };
    let mut out = Vec::new();
    render_summary(&mut out, &s).unwrap();
    let out = String::from_utf8(out).unwrap();
    let start = text.find("  Thread Stats").unwrap();
    let end = text.find("summary:").unwrap();
    assert_eq!(out, text[start..end]);
    // The dump's own quirk: p100 is 0 (rank beyond the visible total).
    assert_eq!(pct("latency", "100"), 0);
}
