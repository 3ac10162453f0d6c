//! `netbench merge`: a property test that merging two workers' histograms
//! is the histogram of all their samples, and a live run of 3 local `wrk
//! --json` processes against one nginx, merged by `netbench merge` and by
//! netbench's own `--wrk-workers` runner (`workers::local`).

use std::process::Command;
use std::time::Duration;

use common::wrk::stats::SparseStats as Sparse;
use common::wrk::stats::Stats;
use netbench::merge;
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
    assert_union_percentiles(&docs, &text, 12);
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

fn recorder(samples: &[u64]) -> common::hdr::Recorder {
    let mut r = common::hdr::Recorder::new();
    for v in samples {
        r.record(*v);
    }
    r
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// `-R` documents: merging the base64 HdrHistograms of two workers is
    /// the histogram of a ∪ b, and so is wrk2's whole latency block.
    #[test]
    fn wrk2_merge_is_the_histogram_of_the_union(
        a in proptest::collection::vec(1u64..86_400_000_000, 0..200),
        b in proptest::collection::vec(1u64..86_400_000_000, 0..200),
    ) {
        let (ra, rb) = (recorder(&a), recorder(&b));
        let merged = merge::wrk::merge_hdr([Some(ra.to_base64().as_str()), None, Some(rb.to_base64().as_str())]).unwrap();
        let all: Vec<u64> = a.iter().chain(&b).copied().collect();
        let union = recorder(&all);
        prop_assert_eq!(merged.histogram(), union.histogram());
        let label = common::wrk2::report::RECORDED;
        prop_assert_eq!(
            common::wrk2::report::Distribution::from_recorder(label, &merged),
            common::wrk2::report::Distribution::from_recorder(label, &union)
        );
    }

    /// qperf `--percentiles` histograms (ns) add up to the union too.
    #[test]
    fn qperf_merge_is_the_histogram_of_the_union(
        a in proptest::collection::vec(1u64..3_600_000_000_000, 1..100),
        b in proptest::collection::vec(1u64..3_600_000_000_000, 1..100),
    ) {
        let ns = |v: &[u64]| {
            let mut h = common::hdr::NsHistogram::new();
            for x in v {
                h.record(*x);
            }
            h
        };
        let docs = [qperf_doc(1000.0, 5.0, 100, Some(&ns(&a))), qperf_doc(3000.0, 7.0, 300, Some(&ns(&b)))];
        let parsed: Vec<_> = docs.iter().map(|d| merge::qperf::parse_doc(d, "q").unwrap()).collect();
        let lat: Vec<_> = parsed.iter().map(|d| &d.tests[1]).collect();
        let m = merge::qperf::merge_test(&lat).unwrap();
        let all: Vec<u64> = a.iter().chain(&b).copied().collect();
        let (local, _) = m.latency.clone().unwrap();
        prop_assert_eq!(local.unwrap(), ns(&all));
    }
}

/// A qperf `--json` document with one tcp_bw (`bw` bytes/s, `msgs`
/// messages) and one tcp_lat (`lat_us`, msg_rate 1000/s) test.
fn qperf_doc(bw: f64, lat_us: f64, msgs: u64, h: Option<&common::hdr::NsHistogram>) -> String {
    let params = serde_json::json!({"local": {"msg_size": 64, "time": 2, "timeout": 5, "port": 0, "sock_buf_size": 0},
        "remote": {"msg_size": 64, "time": 2, "timeout": 5, "port": 0, "sock_buf_size": 0}});
    let hist = h.map(|h| serde_json::json!({"hdr_v2_deflate_base64": h.to_base64()}));
    serde_json::json!({
        "format_version": 1, "tool": "qperf-rs", "qperf_version": "0.4.11",
        "command_line": ["qperf", "h", "-t", "2", "-vvs", "-vu", "tcp_bw", "tcp_lat"], "host": "h",
        "tests": [
            {"test": "tcp_bw", "status": "ok", "error": null, "parameters": params,
             "extensions": {"percentiles": false, "streams": 1, "cgroup_cpu": false},
             "figures": [{"name": "bw", "value": bw, "unit": "bytes/sec"},
                         {"name": "msg_rate", "value": bw / 64.0, "unit": "/sec"},
                         {"name": "send_cpus_used", "value": 50.0, "unit": "% cpus"},
                         {"name": "send_bytes", "value": (msgs * 64) as f64, "unit": "bytes"},
                         {"name": "send_msgs", "value": msgs as f64, "unit": ""}]},
            {"test": "tcp_lat", "status": "ok", "error": null, "parameters": params,
             "extensions": {"percentiles": h.is_some(), "streams": 1, "cgroup_cpu": false},
             "figures": [{"name": "latency", "value": lat_us * 1000.0, "unit": "ns"},
                         {"name": "msg_rate", "value": msgs as f64, "unit": "/sec"},
                         {"name": "loc_real_time", "value": 2e9, "unit": "ns"}],
             "latency": {"local": hist, "remote": null}}
        ]
    })
    .to_string()
}

#[test]
fn qperf_merge_sums_bandwidth_and_counters_and_weights_latency() {
    let dir = TempDir::new("qmerge").expect("tmp");
    let mut a = common::hdr::NsHistogram::new();
    a.record(5_000);
    let mut b = common::hdr::NsHistogram::new();
    b.record(7_000);
    let files: Vec<String> = [(1e6, 5.0, 100, &a), (3e6, 7.0, 300, &b)]
        .iter()
        .enumerate()
        .map(|(i, (bw, lat, msgs, h))| {
            let p = dir.join(format!("q{i}.json"));
            std::fs::write(&p, qperf_doc(*bw, *lat, *msgs, Some(h))).unwrap();
            p.display().to_string()
        })
        .collect();
    let mut out = Vec::new();
    let mut workers = Vec::new();
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let status = merge::qperf::run(&files, &texts, &mut out, &mut workers).unwrap();
    assert_eq!(status, 0);
    let out = String::from_utf8(out).unwrap();
    // bw 1 MB/s + 3 MB/s; counters summed (-vvs); latency weighted by
    // messages: (5·100 + 7·300) / 400 = 6.5 µs; percentiles of {5, 7} µs.
    assert_eq!(
        out,
        "tcp_bw:\n    bw          =     4 MB/sec\n    msg_rate    =  62.5 K/sec\n    send_bytes  =    25 KiB (25,600)\n    send_msgs   =   400 \n    msg_size    =    64 bytes\n    time        =     2 sec\n\
         tcp_lat:\n    latency   =  6.5 us\n    msg_rate  =  400 /sec\n    msg_size  =   64 bytes\n    time      =    2 sec\n\
         \x20   loc_latency_p50    =  5 us\n    loc_latency_p90    =  7 us\n    loc_latency_p99    =  7 us\n    loc_latency_p99.9  =  7 us\n    loc_latency_max    =  7 us\n",
        "{out}"
    );
    let parsed = netbench::parse::qperf::parse(&out);
    assert!(parsed.messages.is_empty(), "{out}");
    let bw = parsed.find("tcp_bw", 64).and_then(|b| b.bw.clone());
    assert_eq!(bw.map(|f| f.text), Some("4 MB/sec".to_string()), "{out}");
    assert!(parsed
        .find("tcp_lat", 64)
        .is_some_and(|b| b.latency.is_some()));
    let workers = String::from_utf8(workers).unwrap();
    assert_eq!(
        workers
            .lines()
            .filter(|l| l.contains("q0.json") || l.contains("q1.json"))
            .count(),
        4,
        "{workers}"
    );
    // Different tests do not merge.
    let other = texts[0].replace("tcp_lat", "udp_lat");
    let err = merge::qperf::run(
        &files,
        &[texts[0].clone(), other],
        &mut Vec::new(),
        &mut Vec::new(),
    )
    .unwrap_err();
    assert!(err.contains("not the same tests"), "{err}");
}

/// 3 `wrk -R` processes at once against one nginx; the merge adds the
/// counters exactly, its latency block is that of the union of the
/// workers' HdrHistograms, and the text parses like one wrk2 run.
#[test]
fn three_local_rate_workers_against_nginx() {
    let Some(wrk) = testkit::ours::binary("wrk") else {
        eprintln!(
            "skipping: our wrk is not built next to the tests (cargo test --workspace builds it)"
        );
        return;
    };
    let Some(nginx) = testkit::nginx::Nginx::start(testkit::nginx::Options::default()) else {
        return;
    };
    let dir = TempDir::new("merge-r").expect("tmp");
    let url = nginx.http_url("/");
    let files: Vec<String> = (0..3)
        .map(|i| dir.join(format!("r{i}.json")).display().to_string())
        .collect();
    // The start barrier: every worker waits for one common instant.
    let start_at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 1500;
    let start_at = start_at_ms.to_string();
    let workers: Vec<ChildGuard> = files
        .iter()
        .map(|f| {
            ChildGuard::spawn(Command::new(&wrk).args([
                "-t1",
                "-c2",
                "-d1s",
                "-R200",
                "--latency",
                "--start-at",
                &start_at,
                "--json",
                f,
                &url,
            ]))
            .expect("spawn wrk")
        })
        .collect();
    for w in workers {
        let done = w.finish(Duration::from_secs(60)).expect("wrk finishes");
        assert_eq!(done.code(), Some(0), "{}", done.stderr_str());
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
    let parsed =
        netbench::parse::wrk::parse(&text).unwrap_or_else(|| panic!("unparsable:\n{text}"));
    assert_eq!(parsed.requests, Some(total), "{text}");
    assert_eq!((parsed.threads, parsed.connections), (Some(3), Some(6)));
    for d in &docs {
        assert!(
            d.window.start_unix_us >= start_at_ms * 1000,
            "a worker started before --start-at"
        );
    }
    let union =
        merge::wrk::merge_hdr(docs.iter().map(|d| d.histograms.hdr_corrected.as_deref())).unwrap();
    assert_eq!(union.count(), total, "every response recorded once");
    let block =
        common::wrk2::report::Distribution::from_recorder(common::wrk2::report::RECORDED, &union);
    assert!(text.contains("  Detailed Percentile spectrum:\n"), "{text}");
    assert!(
        text.contains(&format!("Total count    = {:>12}]", block.total_count)),
        "{text}"
    );
    assert!(done.stderr_str().contains("window skew: starts within"));
}

/// `--wrk-workers 3`'s path: 3 local wrk processes with one `--start-at`,
/// run and merged by netbench itself into one cell. Requests add up, the
/// percentiles are those of one histogram of every sample, the cell's text
/// parses with the single-run parser, no worker starts before the instant.
#[test]
fn local_multi_worker_cell_against_nginx() {
    let Some(wrk) = testkit::ours::binary("wrk") else {
        eprintln!("skipping: our wrk is not built next to the tests");
        return;
    };
    let Some(nginx) = testkit::nginx::Nginx::start(testkit::nginx::Options::default()) else {
        return;
    };
    let wrk = wrk.display().to_string();
    let args: Vec<String> = ["-t1", "-c4", "-d1s", "--latency", &nginx.http_url("/")]
        .map(String::from)
        .to_vec();
    let ran = netbench::workers::local::run_workers(&wrk, &args, Duration::from_secs(30), 3);
    assert_eq!(ran.workers.len(), 3);
    let docs: Vec<merge::WrkDoc> = ran
        .workers
        .iter()
        .map(|w| {
            assert_eq!(w.outcome.exit_code, Some(0), "{}", w.outcome.stderr);
            merge::parse_doc(w.json.as_deref().expect("document"), &w.name).unwrap()
        })
        .collect();
    for d in &docs {
        assert!(
            d.window.start_unix_us >= ran.start_at_ms * 1000,
            "a worker started before --start-at"
        );
    }
    let (run, rep) = netbench::workers::combine_wrk(
        "nginx",
        ran.command.clone(),
        &ran.workers,
        Some(ran.start_at_ms),
    );
    assert!(rep.problems.is_empty(), "{:?}", rep.problems);
    assert!(rep.table.contains("| worker 2 |"), "{}", rep.table);
    assert!(rep.table.contains("window skew: starts within"));
    let total: u64 = docs.iter().map(|d| d.totals.requests).sum();
    assert!(total > 0);
    let text = &run.outcome.stdout;
    let r = run
        .report
        .as_ref()
        .unwrap_or_else(|| panic!("unparsable:\n{text}"));
    assert_eq!(r.requests, Some(total), "{text}");
    assert_eq!((r.threads, r.connections), (Some(3), Some(12)), "{text}");
    assert_union_percentiles(&docs, text, 12);
}

/// The merged text's Latency Distribution is that of one histogram of
/// every worker's samples, corrected as wrk does with the merged figures
/// (`connections` in total).
fn assert_union_percentiles(docs: &[merge::WrkDoc], text: &str, connections: u64) {
    let raw: Vec<Stats> = docs
        .iter()
        .map(|d| d.histograms.wrk_latency_raw.as_ref().unwrap().to_stats())
        .collect();
    let mut all = merge::merge_stats(&raw).unwrap();
    let total: u64 = docs.iter().map(|d| d.totals.requests).sum();
    let runtime = docs.iter().map(|d| d.window.runtime_us).max().unwrap();
    if let Some(i) = runtime.checked_div(total / connections) {
        all.correct(i);
    }
    crate::support::assert_percentile_lines(text, &all);
}

/// `bench::run` with 2 wrk workers: a failing worker makes the cell an
/// error with wrk's message and is named in the notes and Workers section.
#[test]
fn local_multi_worker_failure_is_the_cell() {
    let Some(wrk) = testkit::ours::binary("wrk") else {
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let plan = [netbench::bench::Planned {
        target: netbench::config::Target {
            name: "refused".into(),
            qperf: None,
            wrk_url: Some(format!("http://127.0.0.1:{port}/")),
            overrides: Default::default(),
        },
        settings: netbench::settings::Settings {
            duration: "1s".into(),
            threads: 1,
            connections: 1,
            ..netbench::settings::Settings::short()
        },
    }];
    let tools = netbench::tools::Tools {
        qperf: "/nonexistent/qperf".into(),
        wrk,
    };
    let r = netbench::bench::run(
        &plan,
        &tools,
        Vec::new(),
        2,
        &mut netbench::progress::Progress::new(false),
    );
    let w = r.targets[0].wrk.as_ref().unwrap();
    assert!(w.report.is_none());
    assert!(w.error().contains("Connection refused"), "{}", w.error());
    assert_eq!(r.workers.len(), 1);
    assert!(
        r.notes.iter().any(|n| n.contains("wrk worker 0 failed")),
        "{:?}",
        r.notes
    );
}
