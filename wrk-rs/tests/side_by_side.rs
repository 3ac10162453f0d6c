//! Live side-by-side runs of our `wrk` and stock wrk 4.1.0 against the same
//! local server (nginx from the test kit, or the in-process HttpTarget).
//! Both must print the same lines in the same order with the same layout;
//! numbers are compared only for sanity (request counts within a factor).
//! Runs are serialized (2-core machine: concurrent load would skew both).

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use testkit::nginx::{Nginx, Options};
use testkit::{proc, stock, sys};

const OURS: &str = env!("CARGO_BIN_EXE_wrk");
static SERIAL: Mutex<()> = Mutex::new(());

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn wrk(bin: &str, args: &[&str]) -> Run {
    let f = proc::run(
        Command::new(bin).arg0("wrk").args(args),
        Duration::from_secs(60),
    )
    .expect("wrk ran");
    assert!(!f.timed_out, "{bin} {args:?} timed out");
    Run {
        code: f.code(),
        stdout: f.stdout_str(),
        stderr: f.stderr_str(),
    }
}

/// A token that is a printed number (with or without unit, `%` or `B`).
fn is_number(t: &str) -> bool {
    let core = t.trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == '%' || c == ',');
    t == "-nan%" || (!core.is_empty() && core.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// Each line with numbers replaced by `N` (units may legitimately differ).
fn shape(out: &str) -> Vec<String> {
    out.lines()
        .map(|l| {
            l.split_whitespace()
                .map(|t| if is_number(t) { "N" } else { t })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// Fixed-width table rows: same length in both outputs.
fn row_lengths(out: &str) -> Vec<usize> {
    out.lines()
        .filter(|l| {
            l.starts_with("    Latency")
                || l.starts_with("    Req/Sec")
                || l.trim_start().starts_with(|c: char| c.is_ascii_digit()) && l.contains('%')
        })
        .map(str::len)
        .collect()
}

fn requests(out: &str) -> u64 {
    out.lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no totals line in\n{out}"))
}

/// Runs both with `args`; asserts identical shape; returns (ours, stock).
fn compare(stock_bin: &str, args: &[&str]) -> (Run, Run) {
    let ours = wrk(OURS, args);
    let theirs = wrk(stock_bin, args);
    assert_eq!(ours.code, Some(0), "ours {args:?}: {}", ours.stderr);
    assert_eq!(theirs.code, Some(0), "stock {args:?}: {}", theirs.stderr);
    assert_eq!(
        shape(&ours.stdout),
        shape(&theirs.stdout),
        "{args:?}\n--- ours\n{}--- stock\n{}",
        ours.stdout,
        theirs.stdout
    );
    assert_eq!(
        row_lengths(&ours.stdout),
        row_lengths(&theirs.stdout),
        "{args:?}\n{}",
        ours.stdout
    );
    (ours, theirs)
}

fn within_factor(a: u64, b: u64, f: u64, what: &str) {
    assert!(a > 0 && b > 0, "{what}: ours {a}, stock {b}");
    assert!(a * f >= b && b * f >= a, "{what}: ours {a}, stock {b}");
}

fn setup(tls: bool) -> Option<(String, Nginx)> {
    let stock = stock::require("wrk")?;
    sys::raise_fd_limit();
    let nginx = Nginx::start(Options {
        tls,
        ..Options::default()
    })?;
    Some((stock.to_string_lossy().into_owned(), nginx))
}

#[test]
fn t2_c100_latency() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some((stock, nginx)) = setup(false) else {
        return;
    };
    let url = nginx.http_url("/");
    let (o, s) = compare(&stock, &["-t2", "-c100", "-d3s", "--latency", &url]);
    assert!(o.stdout.contains("  Latency Distribution\n     50%"));
    within_factor(requests(&o.stdout), requests(&s.stdout), 5, "requests");
}

#[test]
fn t1_c1_and_404() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some((stock, nginx)) = setup(false) else {
        return;
    };
    let (o, s) = compare(&stock, &["-t1", "-c1", "-d2s", &nginx.http_url("/")]);
    within_factor(requests(&o.stdout), requests(&s.stdout), 5, "t1c1 requests");
    let (o, s) = compare(
        &stock,
        &["-t2", "-c10", "-d2s", &nginx.http_url("/no-such-page")],
    );
    assert!(
        o.stdout.contains("  Non-2xx or 3xx responses: "),
        "{}",
        o.stdout
    );
    within_factor(requests(&o.stdout), requests(&s.stdout), 5, "404 requests");
}

#[test]
fn tls_listener() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some((stock, nginx)) = setup(true) else {
        return;
    };
    let url = nginx.https_url("/small.txt");
    let (o, s) = compare(&stock, &["-t2", "-c10", "-d2s", "--latency", &url]);
    within_factor(
        requests(&o.stdout),
        requests(&s.stdout),
        5,
        "https requests",
    );
}

#[test]
fn ten_thousand_connections() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some((stock, nginx)) = setup(false) else {
        return;
    };
    let url = nginx.http_url("/small.txt");
    // 10,000 simultaneous connects overflow the listen backlog (511): some
    // connections are only established after SYN retransmits (1 s, 3 s),
    // and on a loaded machine their first batch can exceed the default 2 s
    // timeout in one tool and not in the other (a `Socket errors: ...
    // timeout N` line in one output only). With --timeout 10 no batch of a
    // 3 s run can time out, in either tool; everything else is compared.
    let (o, s) = compare(&stock, &["-t2", "-c10000", "-d3s", "--timeout", "10", &url]);
    // Most of a 3 s run goes into setting up 10,000 connections; on a loaded
    // machine stock's share of it varies a lot (seen: ours 25,568 vs stock
    // 1,379 requests), so only gross differences count here.
    within_factor(
        requests(&o.stdout),
        requests(&s.stdout),
        40,
        "c10000 requests",
    );
}

/// Golden 40: SIGINT ends a long run early with a full report.
#[test]
fn sigint_early_report() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some((_, nginx)) = setup(false) else {
        return;
    };
    let mut child = proc::ChildGuard::spawn(Command::new(OURS).args([
        "-t1",
        "-c1",
        "-d90s",
        &nginx.http_url("/"),
    ]))
    .expect("spawn");
    std::thread::sleep(Duration::from_millis(1500));
    child.signal(libc::SIGINT).expect("SIGINT");
    let f = child.finish(Duration::from_secs(10)).expect("finished");
    assert_eq!(f.code(), Some(0), "{}", f.stderr_str());
    let out = f.stdout_str();
    assert!(out.starts_with("Running 2m test @ "), "{out}");
    let totals = out
        .lines()
        .find(|l| l.contains(" requests in "))
        .expect("totals");
    assert!(
        totals.contains(" requests in 1.5") || totals.contains(" requests in 1.6"),
        "{out}"
    );
    assert!(out.contains("Transfer/sec:"), "{out}");

    // Golden 45: hours never appear in the banner.
    let mut child = proc::ChildGuard::spawn(Command::new(OURS).args([
        "-t1",
        "-c1",
        "-d2h",
        &nginx.http_url("/"),
    ]))
    .expect("spawn");
    std::thread::sleep(Duration::from_millis(1200));
    child.signal(libc::SIGINT).expect("SIGINT");
    let f = child.finish(Duration::from_secs(10)).expect("finished");
    assert_eq!(f.code(), Some(0), "{}", f.stderr_str());
    assert!(
        f.stdout_str().starts_with("Running 120m test @ "),
        "{}",
        f.stdout_str()
    );
}

#[test]
fn shape_normalizer() {
    assert_eq!(
        shape("    Latency     1.96ms    1.33ms  10.25ms   73.98%\n  5 requests in 2.00s, 684.00B read"),
        vec!["Latency N N N N", "N requests in N N read"]
    );
    assert_eq!(
        shape("    Req/Sec     0.00      0.00     0.00      -nan%"),
        vec!["Req/Sec N N N N"]
    );
}

/// Accepts connections on 127.0.0.1 and keeps the first request it reads;
/// answers nothing (wrk just waits), closes when dropped.
struct Capture {
    addr: std::net::SocketAddr,
    first: std::sync::Arc<Mutex<Option<Vec<u8>>>>,
}

impl Capture {
    fn start() -> Capture {
        use std::io::Read;
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let first = std::sync::Arc::new(Mutex::new(None));
        let slot = first.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for s in l.incoming().take(1000) {
                let Ok(mut s) = s else { break };
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let mut g = slot.lock().unwrap_or_else(|e| e.into_inner());
                if g.is_none() && !buf.is_empty() {
                    *g = Some(buf);
                }
                held.push(s);
            }
        });
        Capture { addr, first }
    }

    /// The first request since the last call.
    fn take(&self) -> Vec<u8> {
        self.first
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_default()
    }
}

/// Request line first, then the header lines as a set (wrk's order is Lua
/// hash order), then the blank line.
fn request_shape(req: &[u8]) -> (String, Vec<String>, bool) {
    let text = String::from_utf8_lossy(req).into_owned();
    let mut lines: Vec<String> = text.split("\r\n").map(String::from).collect();
    let first = lines.remove(0);
    let ends_blank = text.ends_with("\r\n\r\n");
    let mut headers: Vec<String> = lines.into_iter().filter(|l| !l.is_empty()).collect();
    headers.sort();
    (first, headers, ends_blank)
}

/// The default request on the wire is the same as stock wrk's.
#[test]
fn request_bytes_match_stock() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(stock) = stock::require("wrk") else {
        return;
    };
    let stock = stock.to_string_lossy().into_owned();
    let cases: &[(&[&str], &str)] = &[
        (&[], "/"),
        (
            &["-H", "X-A: 1", "-H", "X-B:  two words"],
            "/path/x.txt?q=1&r=2",
        ),
        (&["-H", "Host: example.test", "-H", "Accept: */*"], "/"),
        (&["-H", "X-A: 1", "-H", "X-A: 2"], "/a"),
    ];
    let cap = Capture::start();
    for (extra, path) in cases {
        let mut seen = Vec::new();
        for bin in [OURS, stock.as_str()] {
            let url = format!("http://127.0.0.1:{}{path}", cap.addr.port());
            let mut args = vec!["-t1", "-c1", "-d1s"];
            args.extend_from_slice(extra);
            args.push(&url);
            let r = wrk(bin, &args);
            assert_eq!(r.code, Some(0), "{bin} {args:?}: {}", r.stderr);
            seen.push(request_shape(&cap.take()));
        }
        assert_eq!(seen[0], seen[1], "{extra:?} {path}");
        assert!(seen[0].2, "{:?}", seen[0]);
    }
}

/// Golden 39 and 47: IPv6 literal URL, `1k` connections.
#[test]
fn ipv6_literal_and_1k_connections() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(stock) = stock::require("wrk") else {
        return;
    };
    let stock = stock.to_string_lossy().into_owned();
    sys::raise_fd_limit();
    let Some(nginx) = Nginx::start(Options {
        ipv6: true,
        ..Options::default()
    }) else {
        return;
    };
    let (o, _) = compare(
        &stock,
        &["-t2", "-c1k", "-d2s", &nginx.http_url("/small.txt")],
    );
    assert!(
        o.stdout.contains("  2 threads and 1000 connections\n"),
        "{}",
        o.stdout
    );
    match nginx.http6_url("/small.txt") {
        Some(url) => {
            let (o, s) = compare(&stock, &["-t1", "-c2", "-d1s", &url]);
            within_factor(requests(&o.stdout), requests(&s.stdout), 5, "ipv6 requests");
        }
        None => stock::missing("IPv6 loopback"),
    }
}

/// Too few descriptors (hard limit 300, `-c500`): ours says so on stderr
/// before the run; both count the slots that got no socket as connect errors.
#[test]
fn fd_limit_warning_and_connect_errors() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some((stock, nginx)) = setup(false) else {
        return;
    };
    let url = nginx.http_url("/small.txt");
    let mut runs = Vec::new();
    for bin in [OURS, stock.as_str()] {
        let mut cmd = Command::new(bin);
        cmd.arg0("wrk").args(["-t1", "-c500", "-d1s", &url]);
        // SAFETY: setrlimit is async-signal-safe; runs in the forked child.
        unsafe {
            cmd.pre_exec(|| {
                let lim = libc::rlimit {
                    rlim_cur: 300,
                    rlim_max: 300,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let f = proc::run(&mut cmd, Duration::from_secs(30)).expect("ran");
        assert_eq!(f.code(), Some(0), "{bin}: {}", f.stderr_str());
        runs.push((f.stdout_str(), f.stderr_str()));
    }
    let ((oout, oerr), (sout, serr)) = (&runs[0], &runs[1]);
    assert_eq!(
        oerr,
        "wrk: open file limit (300) is too low for 500 connections: about 208 will fail \
         to connect (raise the hard limit: ulimit -Hn)\n"
    );
    assert_eq!(serr, "");
    assert_eq!(
        shape(oout),
        shape(sout),
        "--- ours\n{oout}--- stock\n{sout}"
    );
    let connect = |out: &str| -> u64 {
        out.lines()
            .find_map(|l| l.strip_prefix("  Socket errors: connect "))
            .and_then(|r| r.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let (o, s) = (connect(oout), connect(sout));
    assert!(
        o.abs_diff(s) <= 10 && o > 150,
        "ours {o}, stock {s}\n{oout}{sout}"
    );
}

/// Golden 36 against nginx: with `wrk.method = "HEAD"` stock stalls on the
/// announced body (0 requests) or, pipelined, misparses; ours ends each response after its headers
/// (README: chosen difference), keep-alive and without errors. Plain and
/// through `request()` (dynamic batches), pipelined with GETs in between.
#[test]
fn head_requests_complete() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some((stock, nginx)) = setup(false) else {
        return;
    };
    let dir = testkit::tmp::TempDir::new("wrk-head").expect("temp dir");
    let scripts = [
        ("static.lua", "wrk.method = \"HEAD\"\n"),
        (
            "pipeline.lua",
            "function init() req = wrk.format(\"HEAD\") .. wrk.format(\"GET\") .. wrk.format(\"HEAD\") end\n\
             function request() return req end\n",
        ),
    ];
    let url = nginx.http_url("/");
    for (name, text) in scripts {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("script");
        let script = p.to_string_lossy().into_owned();
        let args = ["-t1", "-c2", "-d1s", "-s", script.as_str(), url.as_str()];
        let ours = wrk(OURS, &args);
        let theirs = wrk(&stock, &args);
        assert_eq!(ours.code, Some(0), "{}", ours.stderr);
        assert_eq!(theirs.code, Some(0), "{}", theirs.stderr);
        // Stock: a lone HEAD stalls (0 requests); in a pipeline the next
        // responses are taken for the announced body, then fail to parse
        // (a read error and a reconnect per batch).
        let stalled = requests(&theirs.stdout) == 0;
        let misparsed = theirs.stdout.contains("Socket errors: connect 0, read ");
        assert!(stalled || misparsed, "{name}: stock\n{}", theirs.stdout);
        assert!(
            requests(&ours.stdout) > 100,
            "{name}: ours\n{}",
            ours.stdout
        );
        assert!(!ours.stdout.contains("Socket errors"), "{}", ours.stdout);
    }
}
