//! Error counting against misbehaving servers, ours vs stock wrk class by
//! class (golden 20–23, 38, 43): each `Socket errors` class must be zero in
//! ours exactly when it is zero in stock's, and of the same order otherwise.
//! Each tool gets a fresh server; runs are serialized.

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use testkit::misbehave::{Behavior, MisbehavingServer};
use testkit::{proc, stock};

const OURS: &str = env!("CARGO_BIN_EXE_wrk");
static SERIAL: Mutex<()> = Mutex::new(());

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    requests: u64,
    connect: u64,
    read: u64,
    write: u64,
    timeout: u64,
    non2xx: u64,
}

fn parse(out: &str) -> Counts {
    let mut c = Counts::default();
    for l in out.lines() {
        let nums: Vec<u64> = l
            .split(|ch: char| !ch.is_ascii_digit())
            .filter_map(|t| t.parse().ok())
            .collect();
        if l.contains(" requests in ") {
            c.requests = nums[0];
        } else if l.starts_with("  Socket errors:") {
            (c.connect, c.read, c.write, c.timeout) = (nums[0], nums[1], nums[2], nums[3]);
        } else if l.starts_with("  Non-2xx or 3xx responses:") {
            c.non2xx = nums.last().copied().unwrap_or(0);
        }
    }
    c
}

fn run(
    bin: &str,
    behavior: Behavior,
    args: &[&str],
    stop_after: Option<Duration>,
    server: Option<&MisbehavingServer>,
) -> (Counts, String) {
    let own;
    let server = match server {
        Some(s) => s,
        None => {
            own = MisbehavingServer::start(behavior);
            &own
        }
    };
    let url = server.url();
    let child = proc::ChildGuard::spawn(Command::new(bin).arg0("wrk").args(args).arg(&url))
        .expect("spawn wrk");
    if let Some(d) = stop_after {
        std::thread::sleep(d);
        server.stop();
    }
    let f = child.finish(Duration::from_secs(30)).expect("wrk finished");
    assert!(!f.timed_out, "{bin} timed out");
    assert_eq!(f.code(), Some(0), "{bin}: {}", f.stderr_str());
    let out = f.stdout_str();
    (parse(&out), out)
}

/// Zero in one exactly when zero in the other; else within `factor`.
fn same_order(what: &str, ours: u64, stock: u64, factor: u64) {
    assert_eq!(ours == 0, stock == 0, "{what}: ours {ours}, stock {stock}");
    if ours > 0 {
        let (lo, hi) = (ours.min(stock), ours.max(stock));
        assert!(
            hi <= lo.saturating_mul(factor).max(10),
            "{what}: ours {ours}, stock {stock}"
        );
    }
}

fn compare(
    behavior: Behavior,
    args: &[&str],
    stop_after: Option<Duration>,
    factor: u64,
) -> (Counts, Counts) {
    compare_classes(behavior, args, stop_after, factor, true)
}

/// [`compare`], optionally without comparing request counts.
fn compare_classes(
    behavior: Behavior,
    args: &[&str],
    stop_after: Option<Duration>,
    factor: u64,
    requests: bool,
) -> (Counts, Counts) {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(stock) = stock::require("wrk") else {
        return (Counts::default(), Counts::default());
    };
    let (o, oout) = run(OURS, behavior, args, stop_after, None);
    let (s, sout) = run(&stock.to_string_lossy(), behavior, args, stop_after, None);
    let ctx = format!("{behavior:?} {args:?}\n--- ours\n{oout}--- stock\n{sout}");
    eprintln!("{behavior:?}: ours {o:?}\n{behavior:?}: stock {s:?}");
    if requests {
        same_order(&format!("requests {ctx}"), o.requests, s.requests, factor);
    }
    same_order(&format!("connect {ctx}"), o.connect, s.connect, factor);
    if behavior == Behavior::Reset {
        // Whether a reset surfaces on the write or on the read depends on
        // timing (golden 23 was mostly write errors, runs here mostly read
        // errors, for stock wrk itself): compare the sum.
        same_order(
            &format!("read+write {ctx}"),
            o.read + o.write,
            s.read + s.write,
            factor,
        );
    } else {
        same_order(&format!("read {ctx}"), o.read, s.read, factor);
        same_order(&format!("write {ctx}"), o.write, s.write, factor);
    }
    same_order(&format!("timeout {ctx}"), o.timeout, s.timeout, factor);
    same_order(&format!("non2xx {ctx}"), o.non2xx, s.non2xx, factor);
    (o, s)
}

/// Golden 21: every server close after a complete response is a read error.
#[test]
fn silent_close_is_read_error() {
    let (o, _) = compare(Behavior::SilentClose, &["-t1", "-c2", "-d2s"], None, 20);
    assert!(o.read + 2 >= o.requests, "{o:?}");
}

/// Golden 22: EOF-delimited bodies count as requests and as read errors.
#[test]
fn http10_eof_counts_both() {
    let (o, _) = compare(Behavior::Http10Eof, &["-t1", "-c2", "-d2s"], None, 20);
    assert!(o.requests > 0 && o.read + 2 >= o.requests, "{o:?}");
}

/// Golden 23: immediate resets give read/write errors and no requests.
#[test]
fn reset_gives_read_write_errors() {
    let (o, _) = compare(Behavior::Reset, &["-t1", "-c2", "-d2s"], None, 50);
    assert_eq!(o.requests, 0);
}

/// Golden 20: responses slower than --timeout are timeouts. Stock counts
/// each when its late response arrives (4 here, all requests, latency all
/// zero); ours abandons the batch and reconnects at --timeout + 100 ms (our
/// request timeout, README), so it counts about one per 1.1–1.2 s and per
/// connection (6) and completes none.
#[test]
fn slow_response_beyond_timeout() {
    let (o, s) = compare_classes(
        Behavior::SlowResponse(Duration::from_millis(1500)),
        &["-t1", "-c2", "-d4s", "--timeout", "1", "--latency"],
        None,
        3,
        false,
    );
    assert!((4..=8).contains(&o.timeout), "{o:?} {s:?}");
    assert_eq!(o.requests, 0, "{o:?}");
}

/// Golden 38: outstanding requests at the end are not errors.
#[test]
fn never_responding_server_is_not_an_error() {
    let (o, _) = compare(Behavior::NeverRespond, &["-t1", "-c2", "-d2s"], None, 2);
    assert_eq!(o, Counts::default());
}

/// A server that never answers: stock's connections hang for the whole run
/// without an error (spec §8 item 5); ours count one timeout per
/// --timeout + 100 ms and per connection and go on with fresh connections.
#[test]
fn never_responding_server_times_out_and_reconnects() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(stock) = stock::require("wrk") else {
        return;
    };
    let args = ["-t1", "-c2", "-d4s", "--timeout", "1"];
    let mut seen = Vec::new();
    for bin in [OURS.to_string(), stock.to_string_lossy().into_owned()] {
        let server = MisbehavingServer::start(Behavior::NeverRespond);
        let (c, out) = run(&bin, Behavior::NeverRespond, &args, None, Some(&server));
        seen.push((c, server.connections(), out));
    }
    let (ours, stock) = (&seen[0], &seen[1]);
    eprintln!(
        "ours {:?} conns {}; stock {:?} conns {}",
        ours.0, ours.1, stock.0, stock.1
    );
    assert_eq!(stock.0, Counts::default(), "{}", stock.2);
    // Both probe the target once before the run (spec §1.4), then open 2.
    assert_eq!(stock.1, 3, "stock keeps its hung connections");
    // Per connection aborts at ~1.1, 2.2, 3.3 s (4.4 s is past the end).
    // (The range allows for late ticks on a loaded machine.)
    assert!((3..=8).contains(&ours.0.timeout), "{}", ours.2);
    assert_eq!(ours.1, 3 + ours.0.timeout, "{}", ours.2);
    assert_eq!(
        (ours.0.requests, ours.0.read, ours.0.write, ours.0.connect),
        (0, 0, 0, 0)
    );
}

/// Golden 43: the server stops mid-run; reconnects fail as write/read errors.
#[test]
fn server_stops_mid_run() {
    compare(
        Behavior::NotFound,
        &["-t1", "-c5", "-d3s"],
        Some(Duration::from_secs(1)),
        50,
    );
}

#[test]
fn parses_report_lines() {
    let c = parse("  11052 requests in 2.00s, 431.72KB read\n  Socket errors: connect 0, read 11050, write 0, timeout 3\n  Non-2xx or 3xx responses: 7\n");
    assert_eq!(
        c,
        Counts {
            requests: 11052,
            connect: 0,
            read: 11050,
            write: 0,
            timeout: 3,
            non2xx: 7
        }
    );
}

/// Golden 24: a TLS listener the client cannot negotiate with (TLSv1.0 only):
/// every handshake failure is a connect error, retried in a tight loop.
#[test]
fn tls_handshake_failure_is_connect_error() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(stock) = stock::require("wrk") else {
        return;
    };
    let Some(nginx) = testkit::nginx::Nginx::start(testkit::nginx::Options {
        tls: true,
        extra_server: "ssl_protocols TLSv1; ssl_ciphers ALL:@SECLEVEL=0;".into(),
        ..Default::default()
    }) else {
        return;
    };
    let url = nginx.https_url("/");
    let mut counts = Vec::new();
    for bin in [OURS.to_string(), stock.to_string_lossy().into_owned()] {
        let f = proc::run(
            Command::new(&bin)
                .arg0("wrk")
                .args(["-t1", "-c1", "-d2s", &url]),
            Duration::from_secs(30),
        )
        .expect("ran");
        assert_eq!(f.code(), Some(0), "{bin}: {}", f.stderr_str());
        counts.push((parse(&f.stdout_str()), f.stdout_str()));
    }
    let ((o, oout), (s, sout)) = (&counts[0], &counts[1]);
    let ctx = format!("--- ours\n{oout}--- stock\n{sout}");
    assert_eq!((o.requests, s.requests), (0, 0), "{ctx}");
    assert!(o.connect > 0 && s.connect > 0, "{ctx}");
    assert_eq!((o.read, o.write, o.timeout), (0, 0, 0), "{ctx}");
    // The count is a tight retry loop's speed (ours ~5x stock's here, far
    // apart on a loaded machine): only the classes are compared.
    eprintln!(
        "tls handshake failures: ours {}, stock {}",
        o.connect, s.connect
    );
}
