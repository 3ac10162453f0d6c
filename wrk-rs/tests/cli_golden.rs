//! Byte-exact command-line behaviour against the golden captures of stock
//! wrk 4.1.0 (compat/golden/wrk, cases 03, 07–19, 41, 46) and, where stock
//! wrk is installed, against the live binary for extra cases.
//!
//! Both binaries are started with `argv[0] = "wrk"` so getopt's message
//! prefix matches the captures. The version line is compared by shape (the
//! Debian build prints `debian/4.1.0-3+b2` where we print `4.1.0`).

mod support;

use std::path::Path;
use std::time::Duration;

use support::{run_within, Out, GOLDEN, OURS};
use testkit::{http::HttpTarget, ports, stock};

fn run(bin: &str, args: &[&str]) -> Out {
    run_within(bin, args, Duration::from_secs(30))
}

fn golden(name: &str, ext: &str) -> String {
    let p = format!("{GOLDEN}{name}.{ext}");
    if Path::new(&p).exists() {
        std::fs::read_to_string(&p).expect("read golden")
    } else {
        String::new()
    }
}

fn is_version_line(l: &str) -> bool {
    l.starts_with("wrk ") && l.ends_with(" [epoll] Copyright (C) 2012 Will Glozer")
}

/// Compares ours with a golden case byte for byte (version lines by shape).
fn check(name: &str, args: &[&str], code: i32) {
    let o = run(OURS, args);
    assert_eq!(
        o.code,
        Some(code),
        "{name}: exit status; stderr {:?}",
        o.stderr
    );
    let want_out = golden(name, "stdout");
    let (ov, wv): (Vec<_>, Vec<_>) = (o.stdout.lines().collect(), want_out.lines().collect());
    assert_eq!(ov.len(), wv.len(), "{name}: stdout\n{}", o.stdout);
    for (a, b) in ov.iter().zip(&wv) {
        if is_version_line(b) {
            assert!(is_version_line(a), "{name}: {a:?}");
        } else {
            assert_eq!(a, b, "{name}");
        }
    }
    if !want_out.contains("Copyright") {
        assert_eq!(o.stdout, want_out, "{name}: stdout bytes");
    }
    assert_eq!(o.stderr, golden(name, "stderr"), "{name}: stderr");
}

#[test]
fn golden_usage_and_option_errors() {
    check("07-usage-bad-option", &["-x", "http://127.0.0.1/"], 1);
    check(
        "08-connections-lt-threads",
        &["-c", "1", "-t", "2", "http://127.0.0.1/"],
        1,
    );
    check("09-no-arguments", &[], 1);
    check("10-version-only", &["-v"], 1);
    check("12-invalid-url", &["127.0.0.1:80/"], 1);
    check("13-missing-option-argument", &["-t"], 1);
    check(
        "15-ambiguous-long-option",
        &["--t", "2", "http://127.0.0.1/"],
        1,
    );
    check("16-bad-number", &["-c", "10x", "http://127.0.0.1/"], 1);
    check("17-bad-time-unit", &["-d", "500ms", "http://127.0.0.1/"], 1);
    check("18-help-long", &["--help"], 1);
}

/// Golden 14 (stock wrk rejecting `--rate`) no longer applies: `-R/--rate`
/// is wrk2's option here. Its argument follows the metric grammar; 0 gives
/// wrk2's message; a missing argument gives getopt's.
#[test]
fn rate_option_replaces_golden_14() {
    let usage = golden("09-no-arguments", "stdout");
    let o = run(OURS, &["--rate", "0", "http://127.0.0.1/"]);
    assert_eq!(o.code, Some(1));
    assert_eq!(
        o.stderr,
        "Throughput MUST be specified with the --rate or -R option\n"
    );
    assert_eq!(o.stdout, usage);
    let o = run(OURS, &["-R", "10x", "http://127.0.0.1/"]);
    assert_eq!(
        (o.code, o.stderr.as_str(), o.stdout == usage),
        (Some(1), "", true)
    );
    let o = run(OURS, &["http://127.0.0.1/", "--rate"]);
    assert_eq!(o.stderr, "wrk: option '--rate' requires an argument\n");
    // Accepted: goes on to resolve (nothing listens on this port).
    let dead = ports::RefusingPort::new();
    let port = dead.port.to_string();
    let url = format!("http://127.0.0.1:{port}/");
    let o = run(OURS, &["--rate", "1k", "-t1", "-c1", "-d1", &url]);
    assert_eq!(o.code, Some(1));
    assert_eq!(
        o.stderr,
        format!("unable to connect to 127.0.0.1:{port} Connection refused\n")
    );
}

#[test]
fn golden_resolution_errors() {
    check(
        "19-unknown-service",
        &["-t1", "-c1", "-d1s", "foo://127.0.0.1/"],
        1,
    );
    let o = run(OURS, &["-t1", "-c1", "-d1s", "http://nosuchhost.invalid/"]);
    assert_eq!(o.code, Some(1));
    let nx = golden("41-unresolvable-host-nxdomain", "stderr");
    let nodns = "unable to resolve nosuchhost.invalid:http Temporary failure in name resolution\n";
    assert!(o.stderr == nx || o.stderr == nodns, "{:?}", o.stderr);
    assert_eq!(o.stdout, "");
    // 03: nothing listening.
    let dead = ports::RefusingPort::new();
    let port = dead.port.to_string();
    let o = run(
        OURS,
        &["-t1", "-c1", "-d2s", &format!("http://127.0.0.1:{port}/")],
    );
    assert_eq!(o.code, Some(1));
    assert_eq!(
        o.stderr,
        golden("03-connection-refused", "stderr").replace("9999", &port)
    );
    assert_eq!(o.stdout, "");
}

#[test]
fn golden_46_bad_header_name() {
    let target = HttpTarget::start();
    let o = run(
        OURS,
        &["-t1", "-c1", "-d1s", "-H", "Bad Name: v", &target.url("/")],
    );
    assert_eq!(o.code, Some(1));
    assert_eq!(o.stderr, golden("46-bad-header-name", "stderr"));
    assert_eq!(o.stdout, "");
}

/// Extra cases compared live with stock wrk (same argv[0], same cwd).
#[test]
fn same_as_stock_wrk() {
    let Some(stock) = stock::require("wrk") else {
        return;
    };
    let stock = stock.to_string_lossy().into_owned();
    let dead = ports::RefusingPort::new();
    let port = dead.port.to_string();
    let refused = format!("http://127.0.0.1:{port}/");
    let cases: Vec<Vec<&str>> = vec![
        vec!["-h"],
        vec!["-?"],
        vec!["-r", "http://127.0.0.1/"],
        vec!["--latency=1", "http://127.0.0.1/"],
        vec!["--h", "http://127.0.0.1/"],
        vec!["--foo=1", "http://127.0.0.1/"],
        vec!["http://127.0.0.1/", "--threads"],
        vec!["http://127.0.0.1/", "--conn"],
        vec!["-t0", "badurl"],
        vec!["-d0", "http://127.0.0.1/"],
        vec!["-c0", "-t1", "http://127.0.0.1/"],
        vec!["-c", "1k", "-t", "2k", "http://127.0.0.1/"],
        vec!["--timeout", "1.5", "http://127.0.0.1/"],
        vec!["-d", "10sec", "http://127.0.0.1/"],
        vec!["-v", "-x"],
        vec!["-Lv", "-t"],
        vec!["http://"],
        vec!["http://h:/"],
        vec!["http://h:99999/"],
        vec!["/path"],
        vec!["http://my_host/"],
        vec!["-t1", "-c1", "-d1", "HTTP://127.0.0.1/"],
        vec!["-t1", "-c1", "-d1", &refused],
        vec!["--", "-t1", "http://127.0.0.1/"],
    ];
    for args in cases {
        let (a, b) = (run(OURS, &args), run(&stock, &args));
        assert_eq!(a.code, b.code, "{args:?}");
        assert_eq!(a.stderr, b.stderr, "{args:?}");
        let strip = |s: &str| {
            s.lines()
                .filter(|l| !is_version_line(l))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(strip(&a.stdout), strip(&b.stdout), "{args:?}");
    }
}
