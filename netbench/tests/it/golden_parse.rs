//! The parsers on real captured outputs of stock qperf and wrk
//! (compat/golden): exact figures where the file is the runbook's command,
//! no panic and sensible results on every other capture.

use netbench::parse::{qperf, wrk};

use crate::support::golden;

const SIZES: [u64; 4] = [1, 64, 4096, 262144];

#[test]
fn qperf_runbook_output() {
    let out = qperf::parse(&golden("qperf/tcp_bw_tcp_lat_oo_vu.txt"));
    assert!(out.messages.is_empty(), "{:?}", out.messages);
    let bw: Vec<_> = SIZES
        .iter()
        .map(|s| {
            out.find("tcp_bw", *s)
                .and_then(|b| b.bw.clone())
                .expect("bw")
                .text
        })
        .collect();
    assert_eq!(
        bw,
        ["1.21 MB/sec", "112 MB/sec", "1.95 GB/sec", "4.29 GB/sec"]
    );
    let lat: Vec<f64> = SIZES
        .iter()
        .map(|s| {
            out.find("tcp_lat", *s)
                .and_then(|b| b.latency.clone())
                .expect("lat")
                .value
        })
        .collect();
    let want = [27.7e-6, 26.2e-6, 16.9e-6, 39.8e-6];
    for (got, want) in lat.iter().zip(want) {
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }
}

#[test]
fn qperf_with_data_port() {
    let out = qperf::parse(&golden("qperf/tcp_bw_tcp_lat_oo_vu_ip.txt"));
    let b = out.find("tcp_bw", 262144).expect("256 KiB block");
    assert_eq!(b.bw.as_ref().map(|f| f.value), Some(3.03e9));
    assert!(b.lines.contains(&("port".into(), "29,766".into())));
    assert_eq!(out.blocks.len(), 8);
}

#[test]
fn qperf_errors() {
    let out = qperf::parse(&golden("qperf/server_not_running.txt"));
    assert_eq!(
        out.errors().collect::<Vec<_>>(),
        ["127.0.0.1: failed to connect"]
    );
    assert_eq!(out.blocks.len(), 1);
    assert!(out.find("tcp_bw", 1).is_none());
    let out = qperf::parse(&golden("qperf/warn_set_not_used.txt"));
    assert_eq!(out.errors().count(), 0, "{:?}", out.messages);
    assert!(out.blocks[0].latency.is_some());
}

#[test]
fn qperf_bits_and_plain_units() {
    let out = qperf::parse(&golden("qperf/tcp_bw_t1_ub.txt"));
    let bw = out.blocks[0].bw.as_ref().expect("bw in bits");
    assert!(bw.text.ends_with("b/sec"), "{}", bw.text);
    let out = qperf::parse(&golden("qperf/tcp_bw_t1_vv_uu.txt"));
    let bw = out.blocks[0].bw.as_ref().expect("bw in bytes/sec");
    assert!(
        bw.text.ends_with("bytes/sec") && bw.value > 1e6,
        "{}",
        bw.text
    );
}

#[test]
fn every_qperf_capture_parses() {
    let dir = compat::golden_path("qperf");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("golden dir") {
        let p = entry.expect("entry").path();
        if p.extension().is_some_and(|e| e == "txt") {
            let text = String::from_utf8_lossy(&std::fs::read(&p).expect("read")).into_owned();
            let out = qperf::parse(&text);
            for b in &out.blocks {
                for f in b.bw.iter().chain(&b.latency) {
                    assert!(
                        f.value.is_finite() && f.value >= 0.0,
                        "{}: {f:?}",
                        p.display()
                    );
                }
            }
            n += 1;
        }
    }
    assert!(n > 20, "only {n} captures");
}

#[test]
fn wrk_standard_report() {
    let r = wrk::parse(&golden("wrk/01-t2-c100-d3s-latency.stdout")).expect("report");
    assert_eq!(r.requests_per_sec.text, "52761.62");
    assert_eq!(r.requests_per_sec.value, 52761.62);
    assert_eq!(
        r.transfer_per_sec.as_ref().map(|f| f.text.as_str()),
        Some("42.92MB")
    );
    assert_eq!(
        r.latency.as_ref().map(|l| l.avg.text.as_str()),
        Some("1.96ms")
    );
    assert_eq!(
        (r.threads, r.connections, r.requests),
        (Some(2), Some(100), Some(158812))
    );
    assert_eq!(r.socket_errors.total(), 0);
}

#[test]
fn wrk_errors_and_odd_reports() {
    let r = wrk::parse(&golden("wrk/23-read-write-errors-rst.stdout")).expect("report");
    assert_eq!((r.socket_errors.read, r.socket_errors.write), (2413, 53942));
    assert_eq!(
        r.latency.as_ref().map(|l| l.within_stdev.as_str()),
        Some("-nan%")
    );
    let r = wrk::parse(&golden("wrk/06-non2xx-404.stdout")).expect("report");
    assert!(r.non_2xx_3xx > 0);
    let r = wrk::parse(&golden("wrk/20-timeouts-slow-server.stdout")).expect("report");
    assert_eq!(r.socket_errors.timeout, 4);
    assert!(wrk::parse(&golden("wrk/09-no-arguments.stdout")).is_none());
    assert_eq!(
        wrk::error_text("", &golden("wrk/03-connection-refused.stderr")).as_deref(),
        Some("unable to connect to 127.0.0.1:9999 Connection refused")
    );
}

#[test]
fn every_wrk_capture_parses() {
    let dir = compat::golden_path("wrk");
    let mut reports = 0;
    for entry in std::fs::read_dir(dir).expect("golden dir") {
        let p = entry.expect("entry").path();
        if p.extension().is_some_and(|e| e == "stdout") {
            let text = String::from_utf8_lossy(&std::fs::read(&p).expect("read")).into_owned();
            if let Some(r) = wrk::parse(&text) {
                assert!(r.requests_per_sec.value >= 0.0, "{}", p.display());
                reports += 1;
            }
        }
    }
    assert!(reports > 20, "only {reports} reports");
}
