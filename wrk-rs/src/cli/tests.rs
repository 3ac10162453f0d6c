//! Unit tests of the parser; byte-exact golden comparisons of the binary are
//! in `tests/cli_golden.rs`.

use super::*;

fn run(args: &[&str]) -> (Parsed, String, String) {
    let argv: Vec<String> = std::iter::once("wrk")
        .chain(args.iter().copied())
        .map(String::from)
        .collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let p = parse(&argv, &mut out, &mut err);
    (
        p,
        String::from_utf8(out).expect("utf8"),
        String::from_utf8(err).expect("utf8"),
    )
}

fn cfg(args: &[&str]) -> Config {
    match run(args).0 {
        Parsed::Run(c) => *c,
        Parsed::Exit(c) => panic!("{args:?} exited {c}"),
    }
}

fn usage_err(args: &[&str]) -> String {
    let (p, out, err) = run(args);
    assert_eq!(p, Parsed::Exit(1), "{args:?}");
    assert!(out.ends_with(USAGE), "{args:?}");
    err
}

#[test]
fn usage_layout() {
    let lines: Vec<&str> = USAGE.lines().collect();
    assert_eq!(lines.len(), 14);
    for l in &lines[..13] {
        assert_eq!(l.len(), 54, "{l:?}");
    }
    assert_eq!(lines[13].len(), 53);
    let golden = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../compat/golden/wrk/09-no-arguments.stdout"
    ));
    assert_eq!(USAGE, golden);
}

#[test]
fn defaults_and_permutation() {
    let c = cfg(&["http://h/"]);
    assert_eq!(
        (c.threads, c.connections, c.duration_s, c.timeout_ms),
        (2, 10, 10, 2000)
    );
    assert!(!c.latency && c.rate.is_none() && c.script.is_none());
    let c = cfg(&[
        "http://h/",
        "-t",
        "3",
        "-c30",
        "--dur=2m",
        "--lat",
        "extra",
        "--timeout",
        "5",
    ]);
    assert_eq!(
        (c.threads, c.connections, c.duration_s, c.timeout_ms),
        (3, 30, 120, 5000)
    );
    assert!(c.latency);
    assert_eq!(c.script_args, vec!["http://h/", "extra"]);
    let c = cfg(&[
        "-t1",
        "-c1",
        "-s",
        "x.lua",
        "http://h/",
        "extra1",
        "--",
        "-c",
        "99",
        "--flag",
    ]);
    assert_eq!(
        c.script_args,
        vec!["http://h/", "extra1", "-c", "99", "--flag"]
    );
    assert_eq!(c.connections, 1);
    let c = cfg(&["-H", "A: 1", "--header=B: 2", "-HC: 3", "-LT3", "http://h/"]);
    assert_eq!(c.headers, vec!["A: 1", "B: 2", "C: 3"]);
    assert_eq!(c.timeout_ms, 3000);
    assert!(c.latency);
}

#[test]
fn wrk2_flags() {
    let c = cfg(&["-R", "2k", "-U", "-B", "http://h/"]);
    assert_eq!(c.rate, Some(2000));
    assert!(c.u_latency && c.latency && c.batch_latency);
    let c = cfg(&["--rate", "100", "--u_lat", "--batch", "http://h/"]);
    assert_eq!(c.rate, Some(100));
    assert!(c.u_latency && c.batch_latency);
    assert_eq!(
        usage_err(&["-R", "0", "http://h/"]),
        format!("{RATE_REQUIRED}\n")
    );
    assert_eq!(usage_err(&["-R", "x", "http://h/"]), "");
}

#[test]
fn errors() {
    assert_eq!(
        usage_err(&["-x", "http://h/"]),
        "wrk: invalid option -- 'x'\n"
    );
    assert_eq!(usage_err(&["-h"]), "wrk: invalid option -- 'h'\n");
    assert_eq!(
        usage_err(&["-t"]),
        "wrk: option requires an argument -- 't'\n"
    );
    assert_eq!(
        usage_err(&["http://h/", "--threads"]),
        "wrk: option '--threads' requires an argument\n"
    );
    assert_eq!(
        usage_err(&["--foo=1", "http://h/"]),
        "wrk: unrecognized option '--foo=1'\n"
    );
    assert_eq!(
        usage_err(&["--t", "2", "http://h/"]),
        "wrk: option '--t' is ambiguous; possibilities: '--threads' '--timeout'\n"
    );
    assert_eq!(
        usage_err(&["--h", "http://h/"]),
        "wrk: option '--h' is ambiguous; possibilities: '--header' '--help'\n"
    );
    assert_eq!(
        usage_err(&["--latency=1", "http://h/"]),
        "wrk: option '--latency' doesn't allow an argument\n"
    );
    for silent in [
        &["--help"][..],
        &["-?"],
        &["-r", "http://h/"],
        &[],
        &["-c", "10x", "http://h/"],
        &["-d", "500ms", "http://h/"],
        &["-t0", "badurl"],
        &["-d0", "http://h/"],
        &["--timeout", "1.5", "http://h/"],
    ] {
        assert_eq!(usage_err(silent), "", "{silent:?}");
    }
    assert_eq!(
        usage_err(&["127.0.0.1:80/"]),
        "invalid URL: 127.0.0.1:80/\n"
    );
    assert_eq!(
        usage_err(&["-c", "1", "-t", "2", "http://h/"]),
        "number of connections must be >= threads\n"
    );
    assert_eq!(
        usage_err(&["-c", "0", "-t", "1", "http://h/"]),
        "number of connections must be >= threads\n"
    );
}

#[test]
fn version_does_not_exit() {
    let (p, out, _) = run(&["-v"]);
    assert_eq!(p, Parsed::Exit(1));
    assert_eq!(out, format!("{VERSION_LINE}{USAGE}"));
    let (p, out, _) = run(&["-v", "-t1", "-c1", "-d1s", "http://h/"]);
    assert!(matches!(p, Parsed::Run(_)));
    assert_eq!(out, VERSION_LINE);
}

mod props {
    use super::super::*;
    use proptest::prelude::*;

    fn arg() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("--".to_string()),
            Just("-".to_string()),
            "-[tcdsHTLrvRUBx?h]{1,3}[0-9kmsKMGh ]{0,3}",
            "--[a-z_]{0,14}(=[0-9a-z]{0,3})?",
            "[0-9]{0,4}[kmsh]?",
            "(http|https|ws|HTTP)://[a-z0-9.:\\[\\]@]{0,12}(/[ -~]{0,8})?",
            ".{0,6}",
        ]
    }

    proptest! {
        /// Any argument vector: no panic, and a run config is always valid.
        #[test]
        fn never_panics(args in proptest::collection::vec(arg(), 0..8)) {
            let argv: Vec<String> = std::iter::once("wrk".to_string()).chain(args).collect();
            let (mut out, mut err) = (Vec::new(), Vec::new());
            match parse(&argv, &mut out, &mut err) {
                Parsed::Run(c) => {
                    prop_assert!(c.threads > 0 && c.duration_s > 0);
                    prop_assert!(c.connections >= c.threads);
                    prop_assert_eq!(&c.script_args[0], &c.url);
                    prop_assert!(c.target.path.starts_with('/'));
                }
                Parsed::Exit(code) => {
                    prop_assert_eq!(code, 1);
                    prop_assert!(String::from_utf8_lossy(&out).ends_with(USAGE));
                }
            }
        }

        #[test]
        fn numbers_never_panic(s in ".{0,12}") {
            let _ = scan_metric(&s);
            let _ = scan_time(&s);
        }

        #[test]
        fn plain_numbers_round_trip(n in 0u64..1_000_000_000, unit in prop_oneof![Just(""), Just("k"), Just("M")]) {
            let mult = match unit { "k" => 1000, "M" => 1_000_000, _ => 1 };
            prop_assert_eq!(scan_metric(&format!("{n}{unit}")), Some(n * mult));
        }
    }
}

#[test]
fn extensions_need_their_full_names() {
    let c = cfg(&[
        "--json",
        "r.json",
        "--hdr=r.hlog",
        "--errors",
        "detail",
        "--unix-socket",
        "/run/s.sock",
        "--start-at",
        "1700000000123",
        "http://h/",
    ]);
    assert_eq!(
        c.ext,
        Extensions {
            json: Some("r.json".into()),
            hdr: Some("r.hlog".into()),
            errors_detail: true,
            unix_socket: Some("/run/s.sock".into()),
            start_at_ms: Some(1_700_000_000_123),
        }
    );
    assert_eq!(
        usage_err(&["--start-at", "soon", "http://h/"]),
        "wrk: invalid --start-at value 'soon' (expected ms since the Unix epoch)\n"
    );
    assert_eq!(cfg(&["http://h/"]).ext, Extensions::default());
    // Abbreviations keep stock's diagnostics (no prefix matching).
    assert_eq!(
        usage_err(&["--js", "x", "http://h/"]),
        "wrk: unrecognized option '--js'\n"
    );
    assert_eq!(
        usage_err(&["--h", "http://h/"]),
        "wrk: option '--h' is ambiguous; possibilities: '--header' '--help'\n"
    );
    assert!(cfg(&["--u", "http://h/"]).u_latency);
    assert_eq!(
        usage_err(&["--errors", "all", "http://h/"]),
        "wrk: invalid --errors value 'all' (expected 'detail' or 'summary')\n"
    );
    assert_eq!(
        usage_err(&["http://h/", "--json"]),
        "wrk: option '--json' requires an argument\n"
    );
    assert_eq!(
        usage_err(&["--hdr=x", "--errors=detail=1", "http://h/"]),
        "wrk: invalid --errors value 'detail=1' (expected 'detail' or 'summary')\n"
    );
}
