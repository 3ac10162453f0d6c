//! Markdown rendering from fixed parsed results against a golden file.
//! Regenerate after an intended change with `NETBENCH_BLESS=1`.

use netbench::report::markdown;

use crate::support::fixed_results;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/tables.md");

#[test]
fn tables_match_golden_markdown() {
    let mut out = Vec::new();
    markdown::render(&fixed_results(), &mut out).expect("render");
    let out = String::from_utf8(out).expect("utf-8");
    if std::env::var_os("NETBENCH_BLESS").is_some() {
        std::fs::write(GOLDEN, &out).expect("write golden");
    }
    let want = std::fs::read_to_string(GOLDEN).expect("golden tables.md");
    assert_eq!(out, want);
}

const GOLDEN_SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/tables-seed.md");

/// `--layout seed`: the runbook's own report layout, from the same results.
#[test]
fn seed_layout_matches_golden() {
    let mut out = Vec::new();
    netbench::report::seed::render(&fixed_results(), &mut out).expect("render");
    let out = String::from_utf8(out).expect("utf-8");
    if std::env::var_os("NETBENCH_BLESS").is_some() {
        std::fs::write(GOLDEN_SEED, &out).expect("write golden");
    }
    let want = std::fs::read_to_string(GOLDEN_SEED).expect("golden tables-seed.md");
    assert_eq!(out, want);
    // The shape the runbook asks for, independent of the golden file.
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"| msg_size | host | runc | kata |"));
    for size in ["1bytes", "64bytes", "4KiB", "256KiB"] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("| {size} | tcp_lat "))),
            "{size}"
        );
    }
    assert!(lines.contains(&"| target | QPS | TPS (Transfer/sec) | Latency(avg) | error |"));
    let runc = lines
        .iter()
        .find(|l| l.starts_with("| runc |"))
        .expect("runc wrk row");
    assert!(
        runc.ends_with("| read 11050, write 0, timeout 0 |"),
        "{runc}"
    );
}

#[test]
fn ratios() {
    assert_eq!(markdown::ratio(Some(2.0), Some(1.0)), "0.50");
    assert_eq!(markdown::ratio(Some(0.0), Some(1.0)), "-");
    assert_eq!(markdown::ratio(None, Some(1.0)), "-");
    assert_eq!(markdown::ratio(Some(1.0), None), "-");
}

#[test]
fn charts_and_json_render() {
    let r = fixed_results();
    for (name, svg) in netbench::report::charts::render_all(&r) {
        let svg = svg.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(svg.starts_with("<svg") && svg.contains("</svg>"), "{name}");
        assert!(
            svg.contains("host") && svg.contains("runc"),
            "{name}: legend/labels"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&netbench::report::json::render(&r)).expect("valid JSON");
    let bw = &json["targets"][0]["qperf"]["parsed"]["blocks"][0]["bw"];
    assert_eq!(bw["text"], "1.21 MB/sec");
    assert_eq!(bw["value"], 1.21e6);
    assert_eq!(
        json["targets"][1]["wrk"]["report"]["socket_errors"]["read"],
        11050
    );
}
