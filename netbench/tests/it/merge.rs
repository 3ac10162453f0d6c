//! `netbench merge`: a property test that merging two workers' histograms
//! is the histogram of all their samples, and a live run of 3 local `wrk
//! --json` processes against one nginx, merged.

use std::process::Command;
use std::time::Duration;

use common::wrk::stats::Stats;
use netbench::merge::{self, Sparse};
use proptest::prelude::*;
use testkit::proc::ChildGuard;
use testkit::tmp::TempDir;

fn sparse(s: &Stats) -> Sparse {
    Sparse {
        limit: s.limit(),
        count: s.count(),
        min: (s.min() != u64::MAX).then_some(s.min()),
        max: s.max(),
        counts: s.counts().map(|(v, k)| [v, k]).collect(),
    }
}

fn record(limit: u64, samples: &[u64]) -> Stats {
    let mut s = Stats::new(limit);
    for v in samples {
        s.record(*v);
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// merge(a, b) == histogram of a ∪ b, also after a JSON round trip of
    /// each worker's histogram (what `netbench merge` reads).
    #[test]
    fn merge_is_the_histogram_of_the_union(
        a in proptest::collection::vec(0u64..300_000, 0..200),
        b in proptest::collection::vec(0u64..300_000, 0..200),
    ) {
        let limit = 200_001;
        let via_json = |s: &Stats| -> Stats {
            let j = serde_json::to_string(&sparse(s)).unwrap();
            serde_json::from_str::<Sparse>(&j).unwrap().to_stats()
        };
        let parts = [via_json(&record(limit, &a)), via_json(&record(limit, &b))];
        let merged = merge::merge_stats(&parts).unwrap();
        let all: Vec<u64> = a.iter().chain(&b).copied().collect();
        let union = record(limit, &all);
        prop_assert_eq!(merged.counts().collect::<Vec<_>>(), union.counts().collect::<Vec<_>>());
        prop_assert_eq!((merged.count(), merged.min(), merged.max()), (union.count(), union.min(), union.max()));
        for p in [50.0, 75.0, 90.0, 99.0, 99.9] {
            prop_assert_eq!(merged.percentile(p), union.percentile(p));
        }
    }
}

#[test]
fn refuses_what_it_cannot_merge() {
    assert!(merge::parse_doc("{}", "w.json")
        .unwrap_err()
        .starts_with("w.json: not a wrk --json document"));
    let out = Command::new(env!("CARGO_BIN_EXE_netbench"))
        .arg("merge")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: netbench merge"));
}

/// 3 wrk processes at once against one nginx, each with `--json`; the
/// merge must add up exactly and print wrk's text that our parser reads.
#[test]
fn three_local_workers_against_nginx() {
    let Some(wrk) = testkit::ours::binary("wrk") else {
        eprintln!(
            "skipping: our wrk is not built next to the tests (cargo test --workspace builds it)"
        );
        return;
    };
    let Some(nginx) = testkit::nginx::Nginx::start(testkit::nginx::Options::default()) else {
        return;
    };
    let dir = TempDir::new("merge").expect("tmp");
    let url = nginx.http_url("/");
    let files: Vec<String> = (0..3)
        .map(|i| dir.join(format!("w{i}.json")).display().to_string())
        .collect();
    let workers: Vec<ChildGuard> = files
        .iter()
        .map(|f| {
            ChildGuard::spawn(Command::new(&wrk).args([
                "-t1",
                "-c4",
                "-d1s",
                "--latency",
                "--json",
                f,
                &url,
            ]))
            .expect("spawn wrk")
        })
        .collect();
    let mut singles = Vec::new();
    for w in workers {
        let done = w.finish(Duration::from_secs(60)).expect("wrk finishes");
        assert_eq!(done.code(), Some(0), "{}", done.stderr_str());
        singles.push(done.stdout_str());
    }
    let done = ChildGuard::spawn(
        Command::new(env!("CARGO_BIN_EXE_netbench"))
            .arg("merge")
            .args(&files),
    )
    .expect("spawn merge")
    .finish(Duration::from_secs(30))
    .expect("merge finishes");
    assert_eq!(done.code(), Some(0), "{}", done.stderr_str());
    let text = done.stdout_str();
    let docs: Vec<merge::WrkDoc> = files
        .iter()
        .map(|f| merge::parse_doc(&std::fs::read_to_string(f).unwrap(), f).unwrap())
        .collect();
    let total: u64 = docs.iter().map(|d| d.totals.requests).sum();
    assert!(total > 0);
    // The same parser as for one run reads the merged text.
    let parsed =
        netbench::parse::wrk::parse(&text).unwrap_or_else(|| panic!("unparsable:\n{text}"));
    assert_eq!(parsed.requests, Some(total), "{text}");
    assert_eq!(
        (parsed.threads, parsed.connections),
        (Some(3), Some(12)),
        "{text}"
    );
    for single in &singles {
        let one = netbench::parse::wrk::parse(single).expect("single run parses");
        assert!(one.requests.is_some() && one.latency.is_some());
    }
    assert!(parsed.latency.is_some(), "{text}");
    assert!(text.contains("  Latency Distribution\n"), "{text}");
    // Percentiles are those of one histogram of every sample, corrected as wrk does.
    let raw: Vec<Stats> = docs
        .iter()
        .map(|d| d.histograms.wrk_latency_raw.as_ref().unwrap().to_stats())
        .collect();
    let mut all = merge::merge_stats(&raw).unwrap();
    let runtime = docs.iter().map(|d| d.window.runtime_us).max().unwrap();
    if let Some(i) = runtime.checked_div(total / 12) {
        all.correct(i);
    }
    let want_p50 = common::wrk::units::format_time_us(all.percentile(50.0) as f64);
    let p50_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("50%"))
        .expect("50% line");
    assert!(
        p50_line.ends_with(want_p50.as_str()),
        "{p50_line} vs {want_p50}"
    );
    let workers = done.stderr_str();
    assert!(workers.contains("window skew: starts within"), "{workers}");
    assert_eq!(
        workers
            .lines()
            .filter(|l| l.contains("w1.json") || l.contains("w0.json") || l.contains("w2.json"))
            .count(),
        3
    );
}
