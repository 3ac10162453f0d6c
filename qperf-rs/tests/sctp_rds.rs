//! SCTP, SDP and RDS on a kernel without them (this host, CI), against the
//! stock binary as oracle: scripted fake peers drive each client and each
//! server through the protocol-specific exchange (the data port for SCTP,
//! the RDS helper exchange of spec §4.11) up to the point where the kernel
//! refuses the socket, and what the peer sees — REQ bytes, address fields,
//! error text — must be the same from stock and from ours.  Plus the golden
//! `rds_bw_race` lines of whole runs.  Where the kernel does have the
//! protocol, the tests only check that nothing hangs.

use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use qperf_rs::control::{Control, CtlError, Side};
use qperf_rs::proto::Req;
use qperf_rs::tests_table;
use qperf_rs::wire;
use testkit::ports::free_port;
use testkit::proc::{run, ChildGuard, Finished};

const OURS: &str = env!("CARGO_BIN_EXE_qperf");

fn kernel_has_sctp() -> bool {
    // SAFETY: socket/close have no memory preconditions.
    let fd = unsafe { libc::socket(libc::AF_INET6, libc::SOCK_STREAM, libc::IPPROTO_SCTP) };
    if fd >= 0 {
        // SAFETY: we own fd.
        unsafe { libc::close(fd) };
    }
    fd >= 0
}

fn kernel_has_rds() -> bool {
    // SAFETY: as above.
    let fd = unsafe { libc::socket(libc::AF_RDS, libc::SOCK_SEQPACKET, 0) };
    if fd >= 0 {
        // SAFETY: we own fd.
        unsafe { libc::close(fd) };
    }
    fd >= 0
}

fn golden(name: &str) -> String {
    compat::golden(&format!("qperf/{name}"))
}

fn client(bin: &str, port: u16, args: &[&str]) -> Finished {
    let mut cmd = Command::new(bin);
    cmd.args(["127.0.0.1", "-lp", &port.to_string()]).args(args);
    let f = run(&mut cmd, Duration::from_secs(30)).expect("spawn client");
    assert!(!f.timed_out, "{bin} {args:?} timed out");
    f
}

/// What a fake server saw of one client.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    req: Vec<u8>,
    /// RDS: the "server IP" field's text.
    server_ip: Option<String>,
    /// The client's error text (urgent channel).
    error: Option<String>,
}

/// How the fake server answers the REQ.
#[derive(Clone, Copy)]
enum Script {
    /// Reports data port `port` (the client then makes its data socket).
    Port(u16),
    /// The server half of the RDS helper exchange (listening before it
    /// announces the port, so there is no race).
    RdsHelper,
}

/// A one-shot fake server on a free port; `join` returns what it saw.
fn fake_server(script: Script) -> (u16, std::thread::JoinHandle<Seen>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let mut ctl = Control::new(s, Side::Server).unwrap();
        let req = ctl.recv("request", wire::REQ_LEN, 10).unwrap();
        let mut server_ip = None;
        match script {
            Script::Port(p) => ctl.send("port", &wire::encode_port(p.into()), 5).unwrap(),
            Script::RdsHelper => {
                let h = TcpListener::bind("127.0.0.1:0").unwrap();
                let hp = h.local_addr().unwrap().port();
                ctl.send("TCP server port", &wire::encode_port(hp.into()), 5)
                    .unwrap();
                let (_conn, peer) = h.accept().unwrap();
                let ip = peer.ip().to_string();
                ctl.send("client IP", &wire::encode_host(&ip), 5).unwrap();
                let f = ctl.recv("server IP", wire::HOST_LEN, 5).unwrap();
                server_ip = Some(wire::cstr(&f));
            }
        }
        let error = match ctl.recv("error", 1, 10) {
            Err(CtlError::Peer(t)) => Some(t),
            _ => None,
        };
        Seen {
            req,
            server_ip,
            error,
        }
    });
    (port, t)
}

/// Runs client `bin` with `args` against a fake server.
fn against_fake(bin: &str, script: Script, args: &[&str]) -> (Finished, Seen) {
    let (port, t) = fake_server(script);
    let f = client(bin, port, args);
    (f, t.join().expect("fake server"))
}

/// Stock and our client against the same fake server script: same exit
/// code, stdout, stderr, REQ bytes and everything the server saw.
fn same_as_stock(script: Script, args: &[&str]) -> Option<(Finished, Seen)> {
    let stock = testkit::stock::require("qperf")?;
    let (sf, sseen) = against_fake(&stock.to_string_lossy(), script, args);
    let (of, oseen) = against_fake(OURS, script, args);
    assert_eq!(of.code(), sf.code(), "{args:?}");
    assert_eq!(of.stdout_str(), sf.stdout_str(), "{args:?}");
    assert_eq!(of.stderr_str(), sf.stderr_str(), "{args:?}");
    assert_eq!(oseen, sseen, "{args:?}");
    Some((of, oseen))
}

#[test]
fn sctp_and_sdp_clients_without_kernel_support_fail_like_stock() {
    for test in ["sctp_bw", "sctp_lat", "sdp_bw", "sdp_lat"] {
        if test.starts_with("sctp") && kernel_has_sctp() {
            continue;
        }
        // Port 1: nothing may actually be reached.
        let Some((f, seen)) = same_as_stock(Script::Port(1), &["-t", "1", test]) else {
            return;
        };
        let text = "setsockopt 1 2 to 1 failed: Bad file descriptor";
        assert_eq!(f.stdout_str(), format!("{test}:\n{text}\n"));
        assert_eq!(seen.error.as_deref(), Some(text));
    }
}

#[test]
fn rds_clients_without_kernel_support_fail_like_stock() {
    if kernel_has_rds() {
        return;
    }
    for args in [
        &["-t", "1", "rds_bw"][..],
        &["-t", "1", "-m", "100", "rds_lat"],
    ] {
        let Some((f, seen)) = same_as_stock(Script::RdsHelper, args) else {
            return;
        };
        let text = "socket failed: Address family not supported by protocol";
        assert_eq!(
            f.stdout_str(),
            format!("{}:\n{text}\n", args[args.len() - 1])
        );
        assert_eq!(seen.server_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(seen.error.as_deref(), Some(text));
    }
}

/// A server (stock or ours) on a free port, killed on drop.
fn server(bin: &str) -> (ChildGuard, u16) {
    let port = free_port();
    let mut g = ChildGuard::spawn(Command::new(bin).args(["-lp", &port.to_string()]))
        .expect("spawn server");
    g.wait_for_port(([127, 0, 0, 1], port).into(), Duration::from_secs(5))
        .expect("server listening");
    (g, port)
}

fn rds_req(test: &str) -> Req {
    let t = tests_table::find(test).unwrap();
    Req {
        ver_maj: 0,
        ver_min: 4,
        ver_inc: 11,
        req_index: t.index(),
        msg_size: t.default_msg_size.unwrap_or(1),
        time: 1,
        timeout: 5,
        ..Req::default()
    }
}

/// A fake client doing the client half of the RDS helper exchange against
/// the server on `port`: returns the "client IP" field and the server's
/// error text.
fn fake_rds_client(port: u16, test: &str) -> (String, Option<String>) {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut ctl = Control::new(s, Side::Client).unwrap();
    ctl.send("request data", &wire::encode_req(&rds_req(test)), 5)
        .unwrap();
    let hp = wire::decode_port(&ctl.recv("TCP IPv4 server port", 4, 5).unwrap()).unwrap();
    // Stock announces the port before it listens: retry a refused connect.
    let mut helper = None;
    for _ in 0..250 {
        match TcpStream::connect(("127.0.0.1", hp as u16)) {
            Ok(c) => {
                helper = Some(c);
                break;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    assert!(helper.is_some(), "helper connection");
    let field = ctl.recv("client IP", wire::HOST_LEN, 5).unwrap();
    ctl.send("server IP", &wire::encode_host("127.0.0.1"), 5)
        .unwrap();
    let error = match ctl.recv("RDS port", 4, 10) {
        Err(CtlError::Peer(t)) => Some(t),
        other => panic!("expected the server's error, got {other:?}"),
    };
    (wire::cstr(&field), error)
}

#[test]
fn rds_servers_without_kernel_support_fail_like_stock() {
    if kernel_has_rds() {
        return;
    }
    let Some(stock) = testkit::stock::require("qperf") else {
        return;
    };
    let stock = stock.to_string_lossy().into_owned();
    for test in ["rds_bw", "rds_lat"] {
        let mut seen = vec![];
        for bin in [stock.as_str(), OURS] {
            let (_g, port) = server(bin);
            seen.push(fake_rds_client(port, test));
        }
        assert_eq!(seen[0], seen[1], "{test}");
        assert_eq!(
            seen[1],
            (
                "127.0.0.1".to_string(),
                Some("socket failed: Address family not supported by protocol".to_string())
            )
        );
    }
}

/// Whole runs: the golden `rds_bw_race` stdout.  Both sides fail at about
/// the same moment and each tells the other, so between two stock binaries
/// the outcome is a race too (15 runs here: 11 × golden stdout with
/// `server: ` + none/part/all of the text on stderr, 4 × only `rds_bw:` on
/// stdout and the whole server text on stderr).  Our client fails at its
/// own socket before it looks at the control connection, so it always
/// prints the golden stdout; the stock client against our server shows
/// stock's outcomes, and sometimes its stdio bug of printing its buffered
/// stdout twice when the server's SIGURG lands during its exit.
#[test]
fn rds_bw_whole_runs_match_the_golden_stdout() {
    if kernel_has_rds() {
        return;
    }
    let Some(stock) = testkit::stock::require("qperf") else {
        return;
    };
    let stock = stock.to_string_lossy().into_owned();
    let want = golden("rds_bw_race.txt");
    let server_text = "server: socket failed: Address family not supported by protocol\n";
    for (srv, cli) in [(stock.as_str(), OURS), (OURS, stock.as_str()), (OURS, OURS)] {
        let (_g, port) = server(srv);
        let f = client(cli, port, &["-t", "1", "rds_bw"]);
        assert_eq!(f.code(), Some(1), "{cli} -> {srv}");
        let (out, err) = (f.stdout_str(), f.stderr_str());
        assert!(
            err.is_empty() || server_text.starts_with(&err[..err.len() - 1]),
            "{cli} -> {srv}: {err:?}"
        );
        if cli == OURS {
            assert_eq!(out, want, "{cli} -> {srv}");
        } else {
            let only_server = out == "rds_bw:\n" && err == server_text;
            assert!(
                out == want || out == want.repeat(2) || only_server,
                "{cli} -> {srv}: {out:?} {err:?}"
            );
        }
    }
}

/// Our server after hostile RDS clients: a zero time is refused, a client
/// that never opens the helper connection or goes silent after it holds
/// the server only for its bounded waits; a normal client is then served.
#[test]
fn our_server_survives_hostile_rds_clients() {
    let (_g, port) = server(OURS);
    let ctl = || {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        Control::new(s, Side::Client).unwrap()
    };
    // Time 0: datagram tests would never end.
    let mut c = ctl();
    let mut r = rds_req("rds_bw");
    r.time = 0;
    c.send("request data", &wire::encode_req(&r), 5).unwrap();
    assert_eq!(
        c.recv("TCP IPv4 server port", 4, 5).unwrap_err(),
        CtlError::Peer("bad time: 0; RDS tests need a time limit".into())
    );
    // Never connects to the helper port.
    let mut c = ctl();
    c.send("request data", &wire::encode_req(&rds_req("rds_lat")), 5)
        .unwrap();
    c.recv("TCP IPv4 server port", 4, 5).unwrap();
    let t0 = std::time::Instant::now();
    assert!(matches!(
        c.recv("client IP", wire::HOST_LEN, 10),
        Err(CtlError::Peer(t)) if t == "accept failed: timed out"
    ));
    assert!(t0.elapsed() < Duration::from_secs(5));
    // Connects, then says nothing.
    let mut c = ctl();
    c.send("request data", &wire::encode_req(&rds_req("rds_bw")), 5)
        .unwrap();
    let hp = wire::decode_port(&c.recv("TCP IPv4 server port", 4, 5).unwrap()).unwrap();
    let _h = TcpStream::connect(("127.0.0.1", hp as u16)).unwrap();
    c.recv("client IP", wire::HOST_LEN, 5).unwrap();
    assert!(matches!(
        c.recv("RDS port", 4, 10),
        Err(CtlError::Peer(t)) if t == "failed to receive server IP: timed out"
    ));
    // A normal client right after.
    let t0 = std::time::Instant::now();
    let f = client(OURS, port, &["-t", "1", "tcp_lat"]);
    assert_eq!(f.code(), Some(0), "{}", f.stdout_str());
    assert!(t0.elapsed() < Duration::from_secs(10));
}
