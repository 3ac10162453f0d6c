//! Interop on loopback through the library API: what our client and our
//! server *measure* (the STAT fields: ticks, message and byte counts) with
//! a stock or our peer, plus error cases.  The output-level matrix of all
//! directions through the binaries (with `-ip`, IPv6, display options) is
//! client_e2e.rs; pinned ports and IPv6 do not change what is measured.

mod support;

use qperf_rs::client::{run_test, ClientError, Outcome};
use qperf_rs::proto::{Req, Stat};
use support::{req, stock_client, target, OurServer, StockServer};

fn stats(o: Result<Outcome, ClientError>) -> (Stat, Stat) {
    match o {
        Ok(Outcome::Stats { local, remote }) => (local, remote),
        other => panic!("expected stats, got {other:?}"),
    }
}

/// Sanity of one side's STAT for a 1-second test.
fn check_side(s: &Stat) {
    assert!(s.no_cpus >= 1 && s.no_ticks == 100, "{s:?}");
    let real = s.time_e.real - s.time_s.real;
    // 1 s in ticks (100/s); the timer stops the test, but on a loaded
    // shared machine the thread may run late by seconds.  Still catches a
    // test running 5-10 times too long or not at all.
    assert!((95..=500).contains(&real), "real ticks {real}");
}

fn ours_run(port: u16, test: &str, edit: impl Fn(&mut Req)) -> (Stat, Stat) {
    let mut r = req(test, 1);
    edit(&mut r);
    stats(run_test(&target(port), &r, &r))
}

fn check_bw(l: &Stat, r: &Stat) {
    check_side(l);
    check_side(r);
    assert!(l.s.msgs > 10 && r.r.msgs > 10, "{l:?} {r:?}");
    // The server cannot receive more than the client sent.
    assert!(r.r.msgs <= l.s.msgs + 1);
}

fn check_lat(l: &Stat, r: &Stat) {
    check_side(l);
    check_side(r);
    assert!(l.s.msgs > 100 && r.r.msgs > 100, "{l:?} {r:?}");
    assert!(l.r.msgs <= l.s.msgs && l.s.msgs <= l.r.msgs + 1);
    assert!(r.s.msgs <= r.r.msgs && r.r.msgs <= r.s.msgs + 1);
}

// ---------- our client → stock server ----------

#[test]
fn ours_to_stock_tcp_bw() {
    let Some(s) = StockServer::start() else {
        return;
    };
    let (l, r) = ours_run(s.port, "tcp_bw", |_| {});
    check_bw(&l, &r);
    assert_eq!(r.r.bytes, r.r.msgs * 65536);
}

#[test]
fn ours_to_stock_tcp_lat() {
    let Some(s) = StockServer::start() else {
        return;
    };
    let (l, r) = ours_run(s.port, "tcp_lat", |_| {});
    check_lat(&l, &r);
}

#[test]
fn ours_to_stock_udp_bw() {
    let Some(s) = StockServer::start() else {
        return;
    };
    let (l, r) = ours_run(s.port, "udp_bw", |_| {});
    check_bw(&l, &r);
}

#[test]
fn ours_to_stock_udp_lat() {
    let Some(s) = StockServer::start() else {
        return;
    };
    let (l, r) = ours_run(s.port, "udp_lat", |_| {});
    check_lat(&l, &r);
}

#[test]
fn ours_to_stock_conf_and_quit() {
    let Some(mut s) = StockServer::start() else {
        return;
    };
    let c = req("conf", 2);
    match run_test(&target(s.port), &c, &c) {
        Ok(Outcome::Conf { local, remote }) => assert_eq!(local, remote),
        other => panic!("{other:?}"),
    }
    let q = req("quit", 2);
    assert!(matches!(
        run_test(&target(s.port), &q, &q),
        Ok(Outcome::Quit)
    ));
    let st = s
        .child
        .wait_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    assert_eq!(st.and_then(|s| s.code()), Some(0));
}

#[test]
fn ours_to_stock_server_error() {
    let Some(s) = StockServer::start() else {
        return;
    };
    // The data port is the server's own listen port: it cannot bind it.
    let mut r = req("tcp_bw", 1);
    r.port = u32::from(s.port);
    assert_eq!(
        run_test(&target(s.port), &r, &r).unwrap_err(),
        ClientError::Remote("unable to make TCP socket".into())
    );
}

// ---------- stock client → our server ----------

fn stock_vs_ours(args: &[&str]) -> Option<(i32, String, String)> {
    let s = OurServer::start();
    let port = s.port.to_string();
    let mut all = vec!["127.0.0.1", "-lp", &port];
    all.extend_from_slice(args);
    let out = stock_client(&all);
    drop(s);
    out
}

fn assert_lines(out: &str, names: &[&str]) {
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), names.len(), "{out}");
    for (l, n) in lines.iter().zip(names) {
        assert!(l.starts_with(n), "{l:?} should start with {n:?}\n{out}");
    }
}

#[test]
fn stock_to_ours_udp_silence_longer_than_idle_timeout() {
    // 64 KiB datagrams cannot be sent: nothing arrives for the whole test,
    // which must still end normally (stock prints zero bandwidth).
    let Some((code, out, err)) = stock_vs_ours(&["-t", "4", "-m", "64K", "udp_bw"]) else {
        return;
    };
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert_lines(&out, &["udp_bw:", "    send_bw  =  0", "    recv_bw  =  0"]);
}

#[test]
fn stock_to_ours_sctp_fails_like_stock() {
    let Some((code, out, err)) = stock_vs_ours(&["-t", "1", "sctp_bw"]) else {
        return;
    };
    assert_eq!(code, 1);
    assert_eq!(out, "sctp_bw:\n");
    // The stock client reads the text without waiting for it, so it prints
    // `server: ` alone in some runs (stock against stock as well, §4.12).
    assert!(
        err == "server: unable to make SCTP socket\n" || err == "server: \n",
        "{err:?}"
    );
}

#[test]
fn stock_to_ours_rdma_and_rds_fail_like_stock() {
    let Some((code, out, _)) = stock_vs_ours(&["-t", "1", "rc_bw"]) else {
        return;
    };
    assert_eq!(code, 1);
    let golden = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../compat/golden/qperf/rdma_no_device.txt"
    ));
    assert_eq!(out, golden);
    let Some((code, out, _)) = stock_vs_ours(&["-t", "1", "rds_bw"]) else {
        return;
    };
    assert_eq!(code, 1);
    assert!(out.starts_with("rds_bw:\n"), "{out}");
}

// ---------- ours → ours ----------

#[test]
fn ours_to_ours_all_socket_tests() {
    let s = OurServer::start();
    let (l, r) = ours_run(s.port, "tcp_bw", |_| {});
    check_bw(&l, &r);
    let (l, r) = ours_run(s.port, "tcp_lat", |_| {});
    check_lat(&l, &r);
    let (l, r) = ours_run(s.port, "udp_bw", |_| {});
    check_bw(&l, &r);
    let (l, r) = ours_run(s.port, "udp_lat", |_| {});
    check_lat(&l, &r);
    let c = req("conf", 2);
    assert!(matches!(
        run_test(&support::target(s.port), &c, &c),
        Ok(Outcome::Conf { .. })
    ));
    assert_eq!(s.quit(), 0);
}

#[test]
fn ours_to_ours_rds_rdma_sdp_errors() {
    let s = OurServer::start();
    let run = |name: &str| {
        let r = req(name, 1);
        run_test(&target(s.port), &r, &r).unwrap_err()
    };
    assert_eq!(
        run("rds_bw"),
        ClientError::Local("socket failed: Address family not supported by protocol".into())
    );
    let mut r = req("rc_bw", 1);
    r.mtu_size = 2048;
    assert_eq!(
        run_test(&target(s.port), &r, &r).unwrap_err(),
        ClientError::Local(
            "failed to find any InfiniBand devices: Function not implemented".into()
        )
    );
    assert_eq!(
        run("sdp_bw"),
        ClientError::Remote("unable to make SDP socket".into())
    );
}

#[test]
fn no_server_fails_to_connect() {
    let dead = testkit::ports::RefusingPort::new();
    let port = dead.port;
    let mut t = target(port);
    t.wait_secs = 0;
    let r = req("tcp_bw", 1);
    assert_eq!(
        run_test(&t, &r, &r).unwrap_err(),
        ClientError::Local("127.0.0.1: failed to connect".into())
    );
}

// ---------- syscalls per message (compat/qperf/strace_calls.sh) ----------

#[test]
fn data_path_syscalls_per_message_match_stock() {
    let Some(stock) = testkit::stock::require("qperf") else {
        return;
    };
    if testkit::stock::require("strace").is_none() {
        return;
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../compat/qperf/strace_calls.sh"
    );
    let f = testkit::proc::run(
        std::process::Command::new(script).args([
            env!("CARGO_BIN_EXE_qperf"),
            &stock.to_string_lossy(),
            "1",
        ]),
        std::time::Duration::from_secs(120),
    )
    .unwrap();
    let out = f.stdout_str();
    assert_eq!(f.code(), Some(0), "{out}\n{}", f.stderr_str());
    eprintln!("{}{out}", f.stderr_str());
    let mut seen = 0;
    for line in out.lines().filter(|l| l.contains("ratio ours/stock")) {
        let nums: Vec<f64> = line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        assert_eq!(nums.len(), 2, "{line}");
        for r in nums {
            assert!((0.8..1.25).contains(&r), "{line}");
        }
        seen += 1;
    }
    assert_eq!(seen, 2, "{out}");
}
