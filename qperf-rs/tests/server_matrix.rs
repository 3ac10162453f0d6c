//! Interop matrix on the server side, through the built binaries: for each
//! command line the stock client runs against the stock server (the
//! reference), then the stock client and our client each run against *our*
//! server; every output must have the reference's lines, names, units and
//! layout, and the same exit code and stderr.

mod support;

use std::process::Command;
use std::time::Duration;

use support::shape::same_shape;
use testkit::ports::{free_port, ipv6_loopback_available};
use testkit::proc::{run, ChildGuard, Finished};

const OURS: &str = env!("CARGO_BIN_EXE_qperf");

/// A server binary on a free port, killed on drop.
struct Server {
    _guard: ChildGuard,
    port: u16,
}

fn server(bin: &str) -> Server {
    let port = free_port();
    let mut guard = ChildGuard::spawn(Command::new(bin).args(["-lp", &port.to_string()]))
        .expect("spawn server");
    guard
        .wait_for_port(([127, 0, 0, 1], port).into(), Duration::from_secs(5))
        .expect("server listening");
    Server {
        _guard: guard,
        port,
    }
}

fn client(bin: &str, host: &str, port: u16, args: &str) -> Finished {
    let mut cmd = Command::new(bin);
    cmd.arg(host).args(["-lp", &port.to_string()]);
    cmd.args(args.split_whitespace());
    let f = run(&mut cmd, Duration::from_secs(60)).expect("spawn client");
    assert!(!f.timed_out, "{bin} {args} timed out");
    f
}

/// Reference stock↔stock, then stock→ours and ours→ours.
fn cell(host: &str, args: &str) {
    let Some(stock) = testkit::stock::require("qperf") else {
        return;
    };
    let stock = stock.to_string_lossy().into_owned();
    let reference = {
        let s = server(&stock);
        client(&stock, host, s.port, args)
    };
    let ours = server(OURS);
    for (who, bin) in [("stock client", stock.as_str()), ("our client", OURS)] {
        let f = client(bin, host, ours.port, args);
        let what = format!("{who} -> our server: {args}");
        assert_eq!(f.code(), reference.code(), "{what}\n{}", f.stdout_str());
        assert_eq!(f.stderr_str(), reference.stderr_str(), "{what}: stderr");
        same_shape(&reference.stdout_str(), &f.stdout_str(), &what);
    }
}

#[test]
fn tcp_bw_tcp_lat() {
    cell("127.0.0.1", "-t 1 tcp_bw tcp_lat");
}

#[test]
fn udp_bw_udp_lat_vv() {
    cell("127.0.0.1", "-t 1 -vv udp_bw udp_lat");
}

#[test]
fn tcp_bw_vv() {
    cell("127.0.0.1", "-t 1 -vv tcp_bw");
}

#[test]
fn seed_sweep_pinned_data_port() {
    let ip = free_port();
    cell(
        "127.0.0.1",
        &format!("-t 1 -ip {ip} -oo msg_size:1:256K:*64 -vu tcp_bw tcp_lat"),
    );
}

#[test]
fn display_uu_ub() {
    cell("127.0.0.1", "-t 1 -uu tcp_lat");
    cell("127.0.0.1", "-t 1 -ub tcp_bw");
}

#[test]
fn conf() {
    cell("127.0.0.1", "conf");
}

#[test]
fn ipv6_loopback() {
    if !ipv6_loopback_available() {
        testkit::stock::missing("IPv6 loopback");
        return;
    }
    cell("::1", "-t 1 tcp_lat udp_lat");
}

#[test]
fn quit_stops_our_server() {
    let Some(stock) = testkit::stock::require("qperf") else {
        return;
    };
    for bin in [stock.to_string_lossy().into_owned(), OURS.to_string()] {
        let port = free_port();
        let mut g = ChildGuard::spawn(Command::new(OURS).args(["-lp", &port.to_string()])).unwrap();
        g.wait_for_port(([127, 0, 0, 1], port).into(), Duration::from_secs(5))
            .unwrap();
        let f = client(&bin, "127.0.0.1", port, "quit");
        assert_eq!((f.code(), f.stdout_str().as_str()), (Some(0), "quit:\n"));
        let st = g.wait_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(st.and_then(|s| s.code()), Some(0), "server exit");
    }
}

/// Masks port numbers in a `-D` trace.
fn mask_ports(trace: &str) -> String {
    trace
        .lines()
        .map(|l| match l.find(" port ") {
            Some(i) => format!("{} port N", &l[..i]),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `-D` on both sides: (client stderr, server stderr) for one tcp_lat.
fn traces(bin: &str) -> (String, String) {
    let port = free_port();
    let mut g =
        ChildGuard::spawn(Command::new(bin).args(["-lp", &port.to_string(), "-D"])).unwrap();
    g.wait_for_port(([127, 0, 0, 1], port).into(), Duration::from_secs(5))
        .unwrap();
    // wait_for_port's probe connection shows up in the server trace.
    std::thread::sleep(Duration::from_millis(300));
    let before = g.stderr_str().len();
    let c = client(bin, "127.0.0.1", port, "-t 1 -D tcp_lat");
    std::thread::sleep(Duration::from_millis(300));
    let srv = g.stderr_str()[before..].to_string();
    (mask_ports(&c.stderr_str()), mask_ports(&srv))
}

#[test]
fn debug_traces_match_stock() {
    let Some(stock) = testkit::stock::require("qperf") else {
        return;
    };
    let (sc, ss) = traces(&stock.to_string_lossy());
    let (oc, os) = traces(OURS);
    assert_eq!(oc, sc, "client -D trace");
    assert_eq!(os, ss, "server -D trace");
}
