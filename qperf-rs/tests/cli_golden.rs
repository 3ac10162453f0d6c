//! Command line fidelity of our `qperf` binary: byte-exact golden files
//! (version, unknown test), every deterministic argument error compared
//! with the stock binary run on the same words, and the help topics
//! (same topics, same options and tests listed as stock).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use testkit::proc::run;

const OURS: &str = env!("CARGO_BIN_EXE_qperf");

fn golden(name: &str) -> String {
    compat::golden(&format!("qperf/{name}"))
}

/// Runs a qperf binary; returns (exit code, stdout, stderr).
fn exec(bin: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let f = run(Command::new(bin).args(args), Duration::from_secs(10)).expect("spawn");
    assert!(!f.timed_out, "{} {args:?} timed out", bin.display());
    (f.code(), f.stdout_str(), f.stderr_str())
}

fn ours(args: &[&str]) -> (Option<i32>, String, String) {
    exec(Path::new(OURS), args)
}

#[test]
fn version_golden() {
    let (code, out, err) = ours(&["--version"]);
    assert_eq!(
        (code, out, err),
        (Some(0), golden("version.txt"), String::new())
    );
    assert_eq!(ours(&["-V", "ignored"]).1, golden("version.txt"));
}

#[test]
fn unknown_test_golden() {
    let (code, out, err) = ours(&["127.0.0.1", "-lp", "29767", "foo_bar"]);
    assert_eq!(
        (code, out, err),
        (Some(1), golden("unknown_test.txt"), String::new())
    );
}

/// Argument errors and their exact texts, checked against the spec's
/// catalogue without needing the stock binary.
#[test]
fn error_texts() {
    let cases: &[(&[&str], &str)] = &[
        (&["-t", "1"], "you used a client-only option but did not specify the server name.\nDo you want to be a client or server?\n"),
        (&["127.0.0.1"], "must specify a test type; try: qperf --help\n"),
        (&["tcp_bw"], "must specify host name first; try: qperf --help\n"),
        (&["-lm", "5"], "-lm: bad option; try: qperf --help options\n"),
        (&["--msg_size=5"], "--msg_size=5: bad option; try: qperf --help options\n"),
        (&["h", "-t"], "missing argument to -t\n"),
        (&["h", "-oo"], "-oo: missing argument\n"),
        (&["h", "-m", "64KiB"], "-m: bad size: 64KiB\n"),
        (&["h", "-m", "nan"], "-m requires a non-negative number\n"),
        (&["h", "-t", "5sec"], "bad argument: 5sec\n"),
        (&["h", "-ip", "5x"], "bad argument: 5x\n"),
        (&["h", "-sl", "16"], "service level must be between 0 and 15: 16 given\n"),
        (&["h", "-oo", "msg_size"], "-oo: bad size: msg_size\n"),
        (&["h", "--loop", "x:1:2"], "--loop: x: no such variable\n"),
        (&["h", "-oo", "msg_size:1::"], "-oo: must specify limit\n"),
        (&["h", "-oo", "::5:*0"], "-oo: 0: increment must be positive\n"),
        (&["--help", "nope"], "cannot find help category nope; try: qperf --help categories\n"),
        (&["-a", "-1"], "warning: obsolete option: -a; use -ca instead\n-a requires a non-negative number\n"),
    ];
    for (args, want) in cases {
        let (code, out, err) = ours(args);
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (Some(1), *want, ""),
            "{args:?}"
        );
    }
    let long = "a".repeat(64);
    assert_eq!(ours(&["h", "-i", &long]).1, format!("{long}: too long\n"));
}

/// Every deterministic argument error: ours and stock print the same
/// stdout and exit status (none of these connects anywhere).
#[test]
fn argument_errors_match_stock() {
    let Some(stock) = testkit::stock::require("qperf") else {
        return;
    };
    let long64 = "x".repeat(64);
    let name221 = "t".repeat(221);
    let cases: Vec<Vec<&str>> = vec![
        vec!["--version"],
        vec!["-V"],
        vec!["127.0.0.1", "foo_bar"],
        vec!["127.0.0.1", "xrc_bw"],
        vec!["127.0.0.1", "TCP_BW"],
        vec!["-t", "1"],
        vec!["-vu"],
        vec!["127.0.0.1"],
        vec!["127.0.0.1", "-t", "1"],
        vec!["tcp_bw"],
        vec!["tcp_bw", "-v"],
        vec!["-lm", "5"],
        vec!["-ln", "5"],
        vec!["-rm", "5"],
        vec!["-lt", "5"],
        vec!["--msg_size=5"],
        vec!["-"],
        vec!["--"],
        vec!["127.0.0.1", "-t"],
        vec!["127.0.0.1", "-m"],
        vec!["127.0.0.1", "-i"],
        vec!["127.0.0.1", "-H"],
        vec!["127.0.0.1", "-lp"],
        vec!["127.0.0.1", "-e"],
        vec!["127.0.0.1", "-ws"],
        vec!["127.0.0.1", "-sl"],
        vec!["127.0.0.1", "-oo"],
        vec!["127.0.0.1", "--loop"],
        vec!["h", "-m", "5x"],
        vec!["h", "-m", "64KiB"],
        vec!["h", "-m", "12KB"],
        vec!["h", "-m", "12Kib"],
        vec!["h", "-m", "1 k"],
        vec!["h", "-m", "-1"],
        vec!["h", "-m", "nan"],
        vec!["h", "-m", "-inf"],
        vec!["h", "-sb", "-0.5k"],
        vec!["h", "-t", "5sec"],
        vec!["h", "-t", "5x"],
        vec!["h", "-t", "-1"],
        vec!["h", "-t", "-5x"],
        vec!["h", "-to", "nan"],
        vec!["h", "-ip", "5x"],
        vec!["h", "-ip", "-5"],
        vec!["h", "-ip", "5 "],
        vec!["h", "-lp", "x"],
        vec!["h", "-e", "-1"],
        vec!["h", "-ws", "1y"],
        vec!["h", "-sl", "16"],
        vec!["h", "-lsl", "99"],
        vec!["h", "-rsl", "4294967297"],
        vec!["h", "-sl", "-1"],
        vec!["h", "-i", &long64],
        vec!["h", "-rsr", &long64],
        vec!["h", "-oo", "msg_size"],
        vec!["h", "-oo", "x:1:2"],
        vec!["h", "--loop", "x:1:2"],
        vec!["h", "-oo", "msg_size:1::"],
        vec!["h", "-oo", "msg_size:1:5:*0"],
        vec!["h", "-oo", "msg_size:1:5:-1"],
        vec!["h", "-oo", "msg_size:1:5:2x"],
        vec!["h", "-oo", "msg_size:x:5:2"],
        vec!["h", "-oo", "msg_size:1:y:2"],
        vec!["-a", "-1"],
        vec!["-W", "1x"],
        vec!["-u", "-vC"],
        vec!["--help", "nope"],
        vec!["-h", "Main"],
        vec!["h", &name221],
    ];
    for args in &cases {
        let want = exec(&stock, args);
        let got = ours(args);
        assert_eq!(got, want, "qperf {args:?}");
    }
}

fn tokens(text: &str, prefix: &str) -> BTreeSet<String> {
    text.split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .filter(|w| w.starts_with(prefix) && w.len() > prefix.len())
        .map(String::from)
        .collect()
}

fn first_words(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| l.starts_with("    "))
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect()
}

#[test]
fn help_topics_cover_stock() {
    let dir = format!("{}/../compat/golden/qperf/help", env!("CARGO_MANIFEST_DIR"));
    let mut topics: Vec<String> = std::fs::read_dir(&dir)
        .expect("help dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".txt").map(String::from))
        .collect();
    topics.sort();
    assert_eq!(topics.len(), 44);
    for t in &topics {
        let want = golden(&format!("help/{t}.txt"));
        let (code, got, err) = ours(&["--help", t]);
        assert_eq!((code, err.as_str()), (Some(0), ""), "--help {t}");
        assert!(!got.is_empty(), "--help {t}");
        match t.as_str() {
            "tests" => assert_eq!(first_words(&got), first_words(&want), "tests"),
            "categories" => {
                assert_eq!(first_words(&got), first_words(&want), "categories")
            }
            "opts" | "options" => {
                let have = tokens(&got, "-");
                let missing: Vec<_> = tokens(&want, "--").difference(&have).cloned().collect();
                assert!(missing.is_empty(), "{t} misses {missing:?}");
            }
            "main" | "author" | "bugs" | "examples" => {}
            _ => {
                // A test topic: same section headings, same options listed.
                for head in ["Purpose", "Common Options", "Description"] {
                    assert!(got.contains(&format!("{head}\n")), "{t}: {head}");
                }
                assert_eq!(tokens(&got, "--"), tokens(&want, "--"), "{t}: options");
            }
        }
    }
    // -h with no topic is the main topic.
    assert_eq!(ours(&["-h"]).1, ours(&["--help", "main"]).1);
}

/// The per-test parameter bookkeeping: with many options set, every test
/// of the build prints the same header and "set but not used" warnings as
/// stock (no server is listening; `-ws 0` fails right after the warnings).
#[test]
fn unused_option_warnings_match_stock_for_every_test() {
    let Some(stock) = testkit::stock::require("qperf") else {
        return;
    };
    let dead = testkit::ports::RefusingPort::new();
    let port = dead.port.to_string();
    let opts =
        "-t 1 -ar1 -n 5 -nr 2 -cp1 -i x -sl 1 -sr 2 -sp 1 -mt 1024 -sb 5 -ip 5 -f1 -ap 2 -m 8";
    let keep = |out: &str| -> String {
        out.lines()
            .filter(|l| l.starts_with("warning") || l.ends_with(':'))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    for t in qperf_rs::tests_table::TESTS {
        for extra in [&[][..], &["-cm1"][..]] {
            let mut args = vec!["127.0.0.1", "-lp", &port, "-ws", "0"];
            args.extend(opts.split_whitespace());
            args.extend(extra);
            args.push(t.name);
            let (_, want, _) = exec(&stock, &args);
            let (_, got, _) = ours(&args);
            assert_eq!(keep(&got), keep(&want), "{args:?}");
        }
    }
}
