//! The interop matrix on loopback, through the real binaries: every cell
//! {our client -> stock server, stock client -> our server, ours -> ours} x
//! {tcp_bw, tcp_lat, udp_bw, udp_lat, conf, quit, the seed's -oo sweep,
//! pinned -lp/-ip ports, -uu, -ub, -vv, -t 1, IPv6 ::1} is one test. Each
//! cell first runs the stock client against a stock server (the reference),
//! then the cell's pair with the same arguments: exit code and stderr must
//! be equal, and stdout must have the same blocks, lines, order, units and
//! layout, equal parameter values and measured numbers within a factor of
//! 1000 (the machine is shared, so only sanity is checked). The reference
//! run of a command line is shared by its three cells. A few more tests
//! cover display options, remote errors, a missing or broken server, `-ip` above
//! 65535 and the `-D` traces of both sides.

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use testkit::ports::{free_port, ipv6_loopback_available};
use testkit::proc::{run, ChildGuard, Finished};
use Impl::{Ours, Stock};

const OURS: &str = env!("CARGO_BIN_EXE_qperf");

/// A server (stock or ours) on a free port, killed on drop.
struct Server {
    guard: ChildGuard,
    port: u16,
}

/// Which implementation plays a role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Impl {
    Stock,
    Ours,
}

fn bin(i: Impl) -> String {
    match i {
        Impl::Stock => stock_bin(),
        Impl::Ours => OURS.to_string(),
    }
}

fn start(i: Impl) -> Server {
    let port = free_port();
    let mut guard = ChildGuard::spawn(Command::new(bin(i)).args(["-lp", &port.to_string()]))
        .expect("spawn server");
    guard
        .wait_for_port(([127, 0, 0, 1], port).into(), Duration::from_secs(5))
        .expect("server listening");
    Server { guard, port }
}

fn stock_server() -> Option<Server> {
    testkit::stock::require("qperf")?;
    Some(start(Impl::Stock))
}

fn client(bin: &str, host: &str, port: u16, args: &str) -> Finished {
    let mut cmd = Command::new(bin);
    cmd.arg(host).args(["-lp", &port.to_string()]);
    cmd.args(args.split_whitespace());
    let f = run(&mut cmd, Duration::from_secs(60)).expect("spawn client");
    assert!(!f.timed_out, "{bin} {args} timed out");
    f
}

fn stock_bin() -> String {
    testkit::stock::find("qperf")
        .expect("stock qperf")
        .to_string_lossy()
        .into_owned()
}

/// One parsed output line.
#[derive(Debug, Clone, PartialEq)]
enum Row {
    Header(String),
    Entry {
        name: String,
        value: String,
        unit: Option<String>,
        alt: Option<String>,
    },
    Other(String),
}

fn parse(out: &str) -> Vec<Row> {
    out.lines()
        .map(|l| {
            if let Some(body) = l.strip_prefix("    ") {
                if let Some((name, rest)) = body.split_once("  =  ") {
                    let rest = rest.trim_start();
                    let (rest, alt) = match rest.split_once(" (") {
                        Some((a, b)) => (a, Some(b.trim_end_matches(')').to_string())),
                        None => (rest, None),
                    };
                    let (value, unit) = match rest.split_once(' ') {
                        Some((v, u)) => (v.to_string(), Some(u.to_string())),
                        None => (rest.to_string(), None),
                    };
                    return Row::Entry {
                        name: name.trim_end().to_string(),
                        value,
                        unit,
                        alt,
                    };
                }
            }
            if l.ends_with(':') && !l.contains(' ') {
                Row::Header(l.to_string())
            } else {
                Row::Other(l.to_string())
            }
        })
        .collect()
}

/// Lines that stock itself shows or hides depending on the run (a zero
/// value is hidden): the CPU breakdown, errors, completion counts.
fn optional(name: &str) -> bool {
    (name.contains("cpus_") && !name.ends_with("cpus_used"))
        || name.contains("errors")
        || name.contains("max_cqe")
}

fn number(v: &str) -> Option<f64> {
    v.replace(',', "").parse().ok()
}

/// A unit's family and multiplier (`KB/sec` = bandwidth × 1000).
fn unit_info(unit: &str) -> (&'static str, f64) {
    const TABLE: &[(&str, &str, f64)] = &[
        ("bytes/sec", "bw", 1.0),
        ("KB/sec", "bw", 1e3),
        ("MB/sec", "bw", 1e6),
        ("GB/sec", "bw", 1e9),
        ("TB/sec", "bw", 1e12),
        ("bits/sec", "bits", 1.0),
        ("Kb/sec", "bits", 1e3),
        ("Mb/sec", "bits", 1e6),
        ("Gb/sec", "bits", 1e9),
        ("Tb/sec", "bits", 1e12),
        ("/sec", "rate", 1.0),
        ("K/sec", "rate", 1e3),
        ("M/sec", "rate", 1e6),
        ("G/sec", "rate", 1e9),
        ("ns", "time", 1.0),
        ("us", "time", 1e3),
        ("ms", "time", 1e6),
        ("sec", "time", 1e9),
        ("ns/GB", "cost", 1.0),
        ("us/GB", "cost", 1e3),
        ("ms/GB", "cost", 1e6),
        ("sec/GB", "cost", 1e9),
        ("", "count", 1.0),
        ("thousand", "count", 1e3),
        ("million", "count", 1e6),
        ("billion", "count", 1e9),
        ("bytes", "size", 1.0),
        ("KB", "size", 1e3),
        ("MB", "size", 1e6),
        ("GB", "size", 1e9),
        ("KiB", "size", 1024.0),
        ("MiB", "size", 1048576.0),
        ("GiB", "size", 1073741824.0),
        ("% cpus", "cpus", 1.0),
    ];
    TABLE
        .iter()
        .find(|(u, _, _)| *u == unit)
        .map_or(("?", 1.0), |(_, f, m)| (*f, *m))
}

/// Layout of one block: `=` aligned, values with units right-aligned.
fn check_layout(out: &str) {
    let mut block: Vec<&str> = Vec::new();
    let flush = |b: &mut Vec<&str>| {
        if let Some(first) = b.first() {
            let eq = first.find("  =  ").expect("=");
            for l in b.iter() {
                assert_eq!(l.find("  =  "), Some(eq), "misaligned: {l:?}");
            }
        }
        b.clear();
    };
    for l in out.lines() {
        if l.starts_with("    ") && l.contains("  =  ") {
            block.push(l);
        } else {
            flush(&mut block);
        }
    }
    flush(&mut block);
}

/// Compares the output shape of ours with stock's.
fn same_shape(stock: &str, ours: &str, what: &str) {
    check_layout(ours);
    let keep = |r: &Row| !matches!(r, Row::Entry { name, .. } if optional(name));
    let s: Vec<Row> = parse(stock).into_iter().filter(keep).collect();
    let o: Vec<Row> = parse(ours).into_iter().filter(keep).collect();
    let names = |v: &[Row]| {
        v.iter()
            .map(|r| match r {
                Row::Header(h) => h.clone(),
                Row::Entry { name, .. } => name.clone(),
                Row::Other(t) => t.clone(),
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(&o),
        names(&s),
        "{what}: lines\nstock:\n{stock}\nours:\n{ours}"
    );
    for (a, b) in s.iter().zip(&o) {
        let (
            Row::Entry {
                name,
                value: sv,
                unit: su,
                alt: sa,
            },
            Row::Entry {
                value: ov,
                unit: ou,
                alt: oa,
                ..
            },
        ) = (a, b)
        else {
            continue;
        };
        let parameter = ["msg_size", "port", "time", "timeout"].contains(&name.as_str())
            || name.ends_with("sock_buf_size")
            || name.ends_with("affinity");
        let measured = !parameter && su.is_some();
        if !measured {
            assert_eq!((sv, su, sa), (ov, ou, oa), "{what}: {name}");
            continue;
        }
        let (su, ou) = (su.as_deref().unwrap_or(""), ou.as_deref().unwrap_or(""));
        let ((sf, sm), (of, om)) = (unit_info(su), unit_info(ou));
        assert_eq!(sf, of, "{what}: {name} units {su} vs {ou}");
        assert_ne!(sf, "?", "{what}: {name} unknown unit {su}");
        let (Some(x), Some(y)) = (number(sv), number(ov)) else {
            panic!("{what}: {name}: {sv} / {ov}");
        };
        let (x, y) = (x * sm, y * om);
        if x == 0.0 || y == 0.0 {
            continue;
        }
        let r = y / x;
        assert!(
            // Broad on purpose: the 2-core test machine is shared, and a
            // loaded run can be 50 times slower than an idle one.
            (1e-3..1e3).contains(&r),
            "{what}: {name} stock {sv} {su} ours {ov} {ou}"
        );
    }
}

/// Runs `args` with the stock client then ours against `srv`.
fn compare(srv: &Server, host: &str, args: &str) {
    // Both at once: the stock server forks a child per client.
    let stock = {
        let (h, p, a) = (host.to_string(), srv.port, args.to_string());
        std::thread::spawn(move || client(&stock_bin(), &h, p, &a))
    };
    let o = client(OURS, host, srv.port, args);
    let s = stock
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
    assert_eq!(o.code(), s.code(), "{args}: exit\n{}", o.stdout_str());
    assert_eq!(o.stderr_str(), s.stderr_str(), "{args}: stderr");
    same_shape(&s.stdout_str(), &o.stdout_str(), args);
}

#[test]
fn display_options() {
    let Some(srv) = stock_server() else { return };
    compare(
        &srv,
        "127.0.0.1",
        "-t 1 -vvs -vvu -lca 1 -rsb 100000 tcp_lat",
    );
    compare(&srv, "127.0.0.1", "-t 1 -un -vvt -e 5 tcp_bw");
}

/// A remote error: ours prints exactly the captured stock output; the
/// stock client run now may hit its own race and print `server: ` alone.
fn remote_error(srv: &Server, args: &str, want_out: &str, want_err: &str) {
    let s = client(&stock_bin(), "127.0.0.1", srv.port, args);
    let o = client(OURS, "127.0.0.1", srv.port, args);
    assert_eq!(s.code(), Some(1), "stock {args}");
    assert_eq!(s.stdout_str(), want_out, "stock {args}");
    assert!(
        [want_err, "server: \n"].contains(&s.stderr_str().as_str()),
        "stock {args}: {}",
        s.stderr_str()
    );
    assert_eq!(
        (o.code(), o.stdout_str().as_str(), o.stderr_str().as_str()),
        (Some(1), want_out, want_err),
        "ours {args}"
    );
}

#[test]
fn remote_errors() {
    let Some(srv) = stock_server() else { return };
    // The server cannot bind its own listen port as data port.
    remote_error(
        &srv,
        &format!("-t 1 -ip {} tcp_bw", srv.port),
        "tcp_bw:\n",
        "server: unable to make TCP socket\n",
    );
    // No SCTP in this kernel.
    remote_error(
        &srv,
        "-t 1 sctp_bw",
        "sctp_bw:\n",
        "server: unable to make SCTP socket\n",
    );
}

/// A fake server that reads the REQ, raises the urgent error byte and then
/// neither sends text nor closes for `hold`.
fn mute_error_server(hold: Duration) -> (u16, std::thread::JoinHandle<()>) {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let t = std::thread::spawn(move || {
        let Ok((mut s, _)) = l.accept() else { return };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let mut req = [0u8; 64];
        let _ = s.read(&mut req);
        let b = [b'?'];
        // SAFETY: `b` is a valid 1-byte buffer; `s` is an open socket.
        unsafe { libc::send(s.as_raw_fd(), b.as_ptr().cast(), 1, libc::MSG_OOB) };
        std::thread::sleep(hold);
    });
    (port, t)
}

#[test]
fn server_error_text_never_arrives() {
    // The text must end (EOF) within 3 s, else `server failure` (§4.12, §7.2).
    let mut bins = vec![OURS.to_string()];
    if testkit::stock::require("qperf").is_some() {
        bins.push(stock_bin());
    }
    let runs: Vec<_> = bins
        .into_iter()
        .map(|bin| {
            std::thread::spawn(move || {
                let (port, srv) = mute_error_server(Duration::from_secs(8));
                let t = std::time::Instant::now();
                let f = client(&bin, "127.0.0.1", port, "-t 1 tcp_bw");
                let took = t.elapsed();
                drop(srv);
                (bin, f, took)
            })
        })
        .collect();
    for r in runs {
        let (bin, f, took) = r.join().expect("client thread");
        let (code, out, err) = (f.code(), f.stdout_str(), f.stderr_str());
        assert_eq!((code, out.as_str()), (Some(1), "tcp_bw:\n"), "{bin}");
        if bin == OURS {
            assert_eq!(err, "server failure\n");
            assert!(
                took >= Duration::from_millis(2900) && took < Duration::from_secs(8),
                "{took:?}"
            );
        } else {
            // Stock stops at the first "would block" of its non-blocking
            // socket and so mostly prints `server: ` at once (§4.12 race).
            assert!(
                ["server failure\n", "server: \n"].contains(&err.as_str()),
                "stock: {err:?}"
            );
        }
    }
}

#[test]
fn server_not_running() {
    let dead = testkit::ports::RefusingPort::new();
    let port = dead.port;
    let o = client(OURS, "127.0.0.1", port, "-ws 0 tcp_bw");
    assert_eq!(o.code(), Some(1));
    assert_eq!(o.stdout_str(), "tcp_bw:\n127.0.0.1: failed to connect\n");
    assert_eq!(o.stderr_str(), "");
}

#[test]
fn shape_parser_self_check() {
    let rows = parse("tcp_bw:\n    bw        =  1.8 MB/sec\n    msg_size  =    4 KiB (4,096)\n    port      =  29,766 \n");
    assert_eq!(rows[0], Row::Header("tcp_bw:".into()));
    assert_eq!(
        rows[2],
        Row::Entry {
            name: "msg_size".into(),
            value: "4".into(),
            unit: Some("KiB".into()),
            alt: Some("4,096".into()),
        }
    );
    assert_eq!(
        rows[3],
        Row::Entry {
            name: "port".into(),
            value: "29,766".into(),
            unit: Some(String::new()),
            alt: None,
        }
    );
    assert_eq!(unit_info("MB/sec"), ("bw", 1e6));
    same_shape(
        "t:\n    bw  =  1.8 MB/sec\n",
        "t:\n    bw  =  2.1 MB/sec\n",
        "self",
    );
    let bad = std::panic::catch_unwind(|| {
        same_shape(
            "t:\n    bw  =  1.8 MB/sec\n",
            "t:\n    bw  =  1.8 Mb/sec\n",
            "x",
        )
    });
    assert!(bad.is_err());
}

/// The two conf outputs agree: same lines; the cpu lines may differ only
/// when per-core frequency scaling changed /proc/cpuinfo between reads.
fn same_conf(want: &str, got: &str) {
    assert_eq!(want.lines().count(), 9, "{want}");
    assert_eq!(got.lines().count(), 9, "{got}");
    for (a, b) in want.lines().zip(got.lines()) {
        if a.contains("_cpu ") {
            let core = |l: &str| {
                l.rsplit_once(' ')
                    .map_or(l.to_string(), |x| x.0.to_string())
            };
            assert!(
                a == b || core(a) == core(b) || a.contains("Mixed") || b.contains("Mixed"),
                "{a:?} vs {b:?}"
            );
        } else {
            assert_eq!(a, b);
        }
    }
}

/// What a client run printed: exit code, stdout, stderr.
type Printed = (Option<i32>, String, String);

/// `args` with `{ip}` replaced by a free port and `{wip}` by a free port
/// plus 65536 (stock wraps it modulo 65536 when binding); returns the
/// substituted port as printed by `-vu` (`29,766`), if any.
fn with_ports(args: &str) -> (String, Option<String>) {
    for (key, add) in [("{ip}", 0u32), ("{wip}", 65536)] {
        if args.contains(key) {
            let ip = (u32::from(free_port()) + add).to_string();
            return (args.replace(key, &ip), Some(thousands(&ip)));
        }
    }
    (args.to_string(), None)
}

/// `29766` → `29,766` (qperf's comma grouping).
fn thousands(n: &str) -> String {
    let mut out = String::new();
    for (i, c) in n.chars().enumerate() {
        if i > 0 && (n.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The reference for one command line: the stock client against a stock
/// server, run once and shared by the cells of that line (they run on
/// threads of this process), with the `-ip` port it used.
fn reference(stock: &str, host: &str, args: &str) -> Arc<(Printed, Option<String>)> {
    type Cache = Mutex<HashMap<String, Arc<OnceLock<Arc<(Printed, Option<String>)>>>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let slot = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(format!("{host} {args}"))
        .or_default()
        .clone();
    slot.get_or_init(|| {
        let (args, ip) = with_ports(args);
        let mut srv = start(Stock);
        let f = client(stock, host, srv.port, &args);
        if args.starts_with("quit") {
            server_exits(&mut srv, "stock server");
        }
        Arc::new(((f.code(), f.stdout_str(), f.stderr_str()), ip))
    })
    .clone()
}

/// `quit` must stop the server with exit code 0.
fn server_exits(srv: &mut Server, what: &str) {
    let status = srv
        .guard
        .wait_timeout(Duration::from_secs(10))
        .expect("wait")
        .unwrap_or_else(|| panic!("{what}: server still running"));
    assert_eq!(status.code(), Some(0), "{what}: server exit");
}

/// One matrix cell: `client` against `server` with `args` (see
/// [`with_ports`]), compared with stock against stock.
fn cell(server: Impl, client_impl: Impl, host: &str, args: &str) {
    let Some(stock) = testkit::stock::require("qperf") else {
        return;
    };
    let stock = stock.to_string_lossy().into_owned();
    if host == "::1" && !ipv6_loopback_available() {
        testkit::stock::missing("IPv6 loopback");
        return;
    }
    let template = args;
    let (args, ip) = with_ports(template);
    let mut srv = start(server);
    // The cell's own run goes on while the reference is (if not yet) made.
    let run = {
        let (b, h, a, p) = (bin(client_impl), host.to_string(), args.clone(), srv.port);
        std::thread::spawn(move || client(&b, &h, p, &a))
    };
    let want = reference(&stock, host, template);
    let ((want_code, want_out, want_err), want_ip) = &*want;
    let got = run.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
    let what = format!("{client_impl:?} client -> {server:?} server: {args}");
    assert_eq!(got.code(), *want_code, "{what}: exit\n{}", got.stdout_str());
    assert_eq!(&got.stderr_str(), want_err, "{what}: stderr");
    let mut got_out = got.stdout_str();
    if let (Some(a), Some(b)) = (&ip, want_ip) {
        // Each run pins its own free port; compare the rest.
        assert!(got_out.contains(a.as_str()), "{what}: port\n{got_out}");
        got_out = got_out.replace(a.as_str(), b);
    }
    if args == "conf" {
        same_conf(want_out, &got_out);
    } else {
        same_shape(want_out, &got_out, &what);
    }
    if args.starts_with("quit") {
        assert_eq!(got_out, "quit:\n");
        server_exits(&mut srv, &what);
    }
}

macro_rules! matrix {
    ($($name:ident: $host:literal, $args:literal;)*) => {
        mod ours_to_stock {
            use super::*;
            $(#[test] fn $name() { cell(Stock, Ours, $host, $args) })*
        }
        mod stock_to_ours {
            use super::*;
            $(#[test] fn $name() { cell(Ours, Stock, $host, $args) })*
        }
        mod ours_to_ours {
            use super::*;
            $(#[test] fn $name() { cell(Ours, Ours, $host, $args) })*
        }
    };
}

// Every test word costs one second per run (`-t 1`); each line runs four
// times (reference + three cells), so keep the lists short.
matrix! {
    tcp_bw: "127.0.0.1", "-t 1 tcp_bw";
    tcp_lat: "127.0.0.1", "-t 1 tcp_lat";
    udp_bw: "127.0.0.1", "-t 1 udp_bw";
    udp_lat: "127.0.0.1", "-t 1 udp_lat";
    conf: "127.0.0.1", "conf";
    quit: "127.0.0.1", "quit tcp_bw";
    seed_sweep: "127.0.0.1", "-t 1 -oo msg_size:1:256K:*64 -vu tcp_bw tcp_lat";
    pinned_ports: "127.0.0.1", "-t 1 -ip {ip} -vu tcp_bw udp_lat";
    unify_units: "127.0.0.1", "-t 1 -uu -vv tcp_lat";
    bits_per_sec: "127.0.0.1", "-t 1 -ub udp_bw";
    very_verbose: "127.0.0.1", "-t 1 -vv tcp_bw";
    time_1_verbose: "127.0.0.1", "-t 1 -v udp_lat";
    ipv6: "::1", "-t 1 tcp_bw udp_lat";
}

/// `-ip` above 65535 against a stock server: stock's client passes the
/// number on unchanged, the stock server wraps it when binding, and `-vu`
/// shows it unwrapped (golden tcp_bw_t1_ip_70000_vu.txt, taken with a
/// fixed port; here a free port + 65536).  Our server refuses such ports
/// (hostile.rs), so only our client against the stock server is a cell.
#[test]
fn ours_to_stock_wrapped_data_port() {
    cell(Stock, Ours, "127.0.0.1", "-t 1 -ip {wip} -vu tcp_bw");
    let golden = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../compat/golden/qperf/tcp_bw_t1_ip_70000_vu.txt"
    ));
    let Some(stock) = testkit::stock::require("qperf") else {
        return;
    };
    let want = reference(
        &stock.to_string_lossy(),
        "127.0.0.1",
        "-t 1 -ip {wip} -vu tcp_bw",
    );
    let ip = want.1.clone().expect("port");
    // The reference printed the golden lines (its port in place of 70,000).
    same_shape(
        &golden.replace("70,000", &ip),
        &want.0 .1,
        "golden vs stock",
    );
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

/// The server's stderr once it has stopped growing for 500 ms (at most 5 s).
fn settled_stderr(g: &ChildGuard) -> String {
    let mut last = g.stderr_str();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = g.stderr_str();
        if now == last || std::time::Instant::now() >= deadline {
            return now;
        }
        last = now;
    }
}

/// `-D` on both sides: (client stderr, server stderr) for one tcp_lat.
fn traces(bin: &str) -> (String, String) {
    let port = free_port();
    let mut g =
        ChildGuard::spawn(Command::new(bin).args(["-lp", &port.to_string(), "-D"])).unwrap();
    g.wait_for_port(([127, 0, 0, 1], port).into(), Duration::from_secs(5))
        .unwrap();
    // wait_for_port's probe connection shows up in the server trace.
    let before = settled_stderr(&g).len();
    let c = client(bin, "127.0.0.1", port, "-t 1 -D tcp_lat");
    let srv = settled_stderr(&g)[before..].to_string();
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

/// How a scripted fake server answers after reading the REQ.
#[derive(Clone, Copy, Debug)]
enum Fake {
    /// Closes the control connection.
    Close,
    /// Sends half a port message, then closes.
    HalfPort,
    /// Sends the port of a listener that is already closed, then waits.
    DeadPort,
    /// Accepts the data connection and answers the sync with wrong text.
    BadSync,
    /// Runs the test, then sends STAT as 256 bytes of 0xff.
    JunkStat,
}

/// A fake server on loopback playing `how` once.
fn fake_server(how: Fake) -> (u16, std::thread::JoinHandle<()>) {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let t = std::thread::spawn(move || {
        let Ok((mut s, _)) = l.accept() else { return };
        let _ = s.set_read_timeout(Some(Duration::from_secs(8)));
        let mut req = [0u8; 200];
        if s.read_exact(&mut req).is_err() {
            return;
        }
        let data = TcpListener::bind("127.0.0.1:0").expect("bind data");
        let dport = u32::from(data.local_addr().expect("addr").port());
        match how {
            Fake::Close => {}
            Fake::HalfPort => {
                let _ = s.write_all(&[1, 2]);
            }
            Fake::DeadPort => {
                drop(data);
                let _ = s.write_all(&dport.to_le_bytes());
                std::thread::sleep(Duration::from_secs(1));
            }
            Fake::BadSync | Fake::JunkStat => {
                let _ = s.write_all(&dport.to_le_bytes());
                let Ok((mut d, _)) = data.accept() else {
                    return;
                };
                let mut sync = [0u8; 27];
                let _ = s.read_exact(&mut sync);
                if matches!(how, Fake::BadSync) {
                    let _ = s.write_all(b"synchronization before tesT");
                    std::thread::sleep(Duration::from_secs(1));
                    return;
                }
                let _ = s.write_all(&sync);
                let _ = d.set_read_timeout(Some(Duration::from_millis(500)));
                let mut buf = vec![0u8; 65536];
                while matches!(d.read(&mut buf), Ok(n) if n > 0) {}
                let _ = s.write_all(&[0xff; 256]);
                let mut after = [0u8; 26];
                let _ = s.read_exact(&mut after);
            }
        }
    });
    (port, t)
}

#[test]
fn broken_servers_answered_like_stock() {
    let Some(stock) = testkit::stock::require("qperf") else {
        return;
    };
    let stock = stock.to_string_lossy().into_owned();
    let runs: Vec<_> = [
        Fake::Close,
        Fake::HalfPort,
        Fake::DeadPort,
        Fake::BadSync,
        Fake::JunkStat,
    ]
    .into_iter()
    .map(|how| {
        let pair: Vec<_> = [stock.clone(), OURS.to_string()]
            .into_iter()
            .map(|bin| {
                std::thread::spawn(move || {
                    let (port, srv) = fake_server(how);
                    let f = client(&bin, "127.0.0.1", port, "-t 1 tcp_bw");
                    let _ = srv.join();
                    (f.code(), f.stdout_str(), f.stderr_str())
                })
            })
            .collect();
        (how, pair)
    })
    .collect();
    for (how, pair) in runs {
        let got: Vec<_> = pair
            .into_iter()
            .map(|t| t.join().expect("client thread"))
            .collect();
        eprintln!("{how:?}: {:?}", got[1]);
        if matches!(how, Fake::JunkStat) {
            // Absurd numbers: same exit and line names, values are garbage.
            assert_eq!(got[1].0, got[0].0, "{how:?}: {got:?}");
            let names = |o: &str| {
                o.lines()
                    .map(|l| l.split('=').next().unwrap_or("").trim().to_string())
                    .collect::<Vec<_>>()
            };
            assert_eq!(names(&got[1].1), names(&got[0].1), "{how:?}: {got:?}");
        } else if matches!(how, Fake::DeadPort) {
            // Stock's text first, then our one-line hint (issue 10).
            let (code, out, err) = &got[1];
            assert_eq!((code, err), (&got[0].0, &got[0].2), "{how:?}");
            let hint = out.strip_prefix(got[0].1.as_str()).unwrap_or_default();
            assert!(hint.starts_with("qperf: tried TCP 127.0.0.1:"), "{out}");
            assert!(
                hint.contains("--single_port") && hint.ends_with('\n'),
                "{out}"
            );
            assert_eq!(hint.lines().count(), 1, "{out}");
        } else {
            assert_eq!(got[1], got[0], "{how:?}");
        }
    }
}
