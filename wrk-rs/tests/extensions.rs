//! Issue 12's wrk extensions, end to end through our binary: `--json`
//! (validated against `schemas/wrk.schema.json`; its figures equal the text
//! of the same run, and its histograms rebuild them), `--hdr` (read back
//! with the `hdrhistogram` crate's log reader, it reproduces the printed
//! percentiles), `--errors detail` against the misbehaving servers (each
//! produces its class and cause, and the breakdown adds up to the unchanged
//! `Socket errors` line), and `--unix-socket` against an AF_UNIX server.

mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::wrk::report::Row;
use common::wrk::units::{fixed, format_metric, format_time_us};
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::Histogram;
use serde_json::Value;
use support::{run_within, Out, OURS};
use testkit::http::HttpTarget;
use testkit::misbehave::{Behavior, MisbehavingServer};
use testkit::tmp::TempDir;
use wrk_rs::hdr_log;
use wrk_rs::json_report::{Document, SparseStats};

const LIMIT: Duration = Duration::from_secs(60);

fn wrk(args: &[&str]) -> Out {
    let out = run_within(OURS, args, LIMIT);
    assert_eq!(out.code, Some(0), "{args:?}\n{}{}", out.stdout, out.stderr);
    out
}

fn schema() -> jsonschema::Validator {
    let text = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../schemas/wrk.schema.json"
    ));
    let schema: Value = serde_json::from_str(text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("valid schema")
}

/// Reads, schema-validates and parses a `--json` file.
fn document(path: &std::path::Path) -> Document {
    let text = std::fs::read_to_string(path).expect("json written");
    let value: Value = serde_json::from_str(&text).expect("json parses");
    let errors: Vec<String> = schema()
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "schema violations: {errors:#?}");
    serde_json::from_value(value).expect("json is a Document")
}

/// The histograms of an interval log: (tag, histogram).
fn read_log(path: &std::path::Path) -> Vec<(Option<String>, Histogram<u64>)> {
    let bytes = std::fs::read(path).expect("hdr written");
    let mut out = Vec::new();
    for e in IntervalLogIterator::new(&bytes) {
        if let LogEntry::Interval(h) = e.expect("log parses") {
            let hist = hdr_log::decode(h.encoded_histogram()).expect("histogram decodes");
            out.push((h.tag().map(|t| t.as_str().to_string()), hist));
        }
    }
    out
}

/// The cells of a `Thread Stats` row (`Latency`, `Req/Sec`).
fn row<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(name))
        .unwrap_or_else(|| panic!("no {name} row in\n{text}"));
    line.split_whitespace().skip(1).collect()
}

fn expect_row(text: &str, name: &str, json: &wrk_rs::json_report::StatRow, fmt: fn(f64) -> String) {
    let cells = row(text, name);
    let f = |v: Option<f64>| v.map_or("-nan".to_string(), fmt);
    let within = json
        .within_stdev_percent
        .map_or("-nan%".to_string(), |w| format!("{}%", fixed(w, 2)));
    assert_eq!(
        cells,
        vec![
            f(json.mean).as_str(),
            f(json.stdev).as_str(),
            f(json.max).as_str(),
            within.as_str()
        ],
        "{name} row vs JSON\n{text}"
    );
}

/// Value cell of a `Latency Distribution` line starting with `label`.
fn distribution<'a>(lines: &[&'a str], label: &str) -> &'a str {
    let l = lines
        .iter()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label} line"));
    l.split_whitespace().nth(1).unwrap_or_default()
}

fn totals_match(text: &str, doc: &Document) {
    let requests = format!("  {} requests in ", doc.totals.requests);
    assert!(text.contains(&requests), "{requests:?}\n{text}");
    let rate = format!(
        "Requests/sec: {:>9}\n",
        fixed(doc.totals.requests_per_sec, 2)
    );
    assert!(text.contains(&rate), "{rate:?}\n{text}");
    let e = doc.totals.errors;
    let threads: u64 = doc.threads.iter().map(|t| t.requests).sum();
    assert_eq!(threads, doc.totals.requests);
    if e.connect + e.read + e.write + e.timeout > 0 {
        let line = format!(
            "  Socket errors: connect {}, read {}, write {}, timeout {}\n",
            e.connect, e.read, e.write, e.timeout
        );
        assert!(text.contains(&line), "{line:?}\n{text}");
    } else {
        assert!(!text.contains("Socket errors"), "{text}");
    }
}

#[test]
fn json_and_hdr_equal_the_text_in_wrk_mode() {
    let tmp = TempDir::new("wrk-json").expect("tmp");
    let (json, hlog) = (tmp.join("run.json"), tmp.join("run.hlog"));
    let target = HttpTarget::start();
    let url = target.url("/");
    let out = wrk(&[
        "-t2",
        "-c8",
        "-d2s",
        "--latency",
        "--json",
        json.to_str().unwrap(),
        "--hdr",
        hlog.to_str().unwrap(),
        &url,
    ]);
    let text = &out.stdout;
    let doc = document(&json);
    assert_eq!(doc.mode, "wrk");
    assert_eq!(doc.settings.threads, 2);
    assert_eq!(doc.threads.len(), 2);
    assert!(doc.totals.requests > 100, "{text}");
    assert!(doc.window.end_unix_us > doc.window.start_unix_us);
    let wall = doc.window.end_unix_us - doc.window.start_unix_us;
    assert!(
        wall.abs_diff(doc.window.runtime_us) < 500_000,
        "{:?}",
        doc.window
    );
    totals_match(text, &doc);
    expect_row(text, "Latency", &doc.latency.row, format_time_us);
    expect_row(text, "Req/Sec", &doc.requests_per_sec, format_metric);
    let lines: Vec<&str> = text.lines().collect();
    for p in &doc.latency.percentiles[..4] {
        let label = format!("{}%", p.percentile);
        assert_eq!(
            distribution(&lines, &label),
            format_time_us(p.value_us as f64),
            "{label}\n{text}"
        );
    }

    // Lossless: the histograms rebuild the printed figures, and wrk's
    // correction of the raw histogram gives the printed one (a merge adds
    // raw histograms, then corrects).
    let latency = doc.histograms.wrk_latency.as_ref().expect("wrk histogram");
    let stats = latency.to_stats();
    let r = Row::from_stats(&stats);
    assert_eq!(Some(r.mean), doc.latency.row.mean);
    assert_eq!(Some(r.max), doc.latency.row.max);
    assert_eq!(stats.percentile(99.0), doc.latency.percentiles[3].value_us);
    let mut raw = doc.histograms.wrk_latency_raw.as_ref().unwrap().to_stats();
    let per_conn = doc.totals.requests / doc.settings.connections;
    if let Some(interval) = doc.window.runtime_us.checked_div(per_conn) {
        raw.correct(interval);
    }
    assert_eq!(SparseStats::from_stats(&raw), *latency);
    let req = doc.histograms.wrk_requests.to_stats();
    assert_eq!(Some(Row::from_stats(&req).mean), doc.requests_per_sec.mean);

    // The HDR log: one default histogram, wrk's (3 significant digits).
    let log = read_log(&hlog);
    assert_eq!(log.len(), 1, "{log:?}");
    let (tag, h) = &log[0];
    assert_eq!(*tag, None);
    assert_eq!(h.len(), latency.count);
    for p in &doc.latency.percentiles {
        let v = h.value_at_percentile(p.percentile);
        let (lo, hi) = (
            h.lowest_equivalent(p.value_us) as f64,
            h.highest_equivalent(p.value_us) as f64,
        );
        // wrk's rank rule and HdrHistogram's differ by at most one sample.
        assert!(
            v as f64 >= lo * 0.99 - 2.0 && v as f64 <= hi * 1.01 + 2.0,
            "p{}: log {v}, printed {}",
            p.percentile,
            p.value_us
        );
    }
}

#[test]
fn json_and_hdr_equal_the_text_in_rate_mode() {
    let tmp = TempDir::new("wrk-json-r").expect("tmp");
    let (json, hlog) = (tmp.join("run.json"), tmp.join("run.hlog"));
    let target = HttpTarget::start();
    let url = target.url("/");
    let out = wrk(&[
        "-t2",
        "-c4",
        "-d2s",
        "-R",
        "400",
        "-U",
        "--json",
        json.to_str().unwrap(),
        "--hdr",
        hlog.to_str().unwrap(),
        &url,
    ]);
    let text = &out.stdout;
    let doc = document(&json);
    assert_eq!(doc.mode, "wrk2");
    assert_eq!(doc.settings.rate, Some(400));
    totals_match(text, &doc);
    expect_row(text, "Latency", &doc.latency.row, format_time_us);
    expect_row(text, "Req/Sec", &doc.requests_per_sec, format_metric);
    let corrected = hdr_log::decode(doc.histograms.hdr_corrected.as_deref().unwrap()).unwrap();
    let uncorrected = hdr_log::decode(doc.histograms.hdr_uncorrected.as_deref().unwrap()).unwrap();
    assert_eq!(corrected.len(), uncorrected.len());
    assert!(corrected.len() >= doc.totals.requests.saturating_sub(8));
    let per_thread: u64 = doc
        .threads
        .iter()
        .map(|t| {
            hdr_log::decode(t.hdr_corrected.as_deref().unwrap())
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(per_thread, corrected.len());

    let log = read_log(&hlog);
    assert_eq!(log.len(), 2);
    assert_eq!(log[0], (None, corrected.clone()));
    assert_eq!(log[1], (Some("uncorrected".to_string()), uncorrected));
    // Both printed distributions, from the log alone.
    let lines: Vec<&str> = text.lines().collect();
    let blocks: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("  Latency Distribution (HdrHistogram - "))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(blocks.len(), 2, "{text}");
    for ((_, h), &at) in log.iter().zip(&blocks) {
        for (k, p) in [50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 99.999, 100.0]
            .iter()
            .enumerate()
        {
            let v = common::wrk2::stdev::value_at_percentile(h, *p);
            let cell = lines[at + 1 + k].split_whitespace().nth(1).unwrap();
            assert_eq!(cell, format_time_us(v as f64), "p{p}\n{text}");
        }
    }
    for p in &doc.latency.percentiles {
        let v = common::wrk2::stdev::value_at_percentile(&corrected, p.percentile);
        assert_eq!(v, p.value_us);
    }
}

#[test]
fn json_with_a_script() {
    let tmp = TempDir::new("wrk-json-s").expect("tmp");
    let json = tmp.join("run.json");
    let script = tmp.join("post.lua");
    std::fs::write(
        &script,
        "wrk.method = \"POST\"\nwrk.body = \"abc\"\n\
         done = function(summary, latency, requests)\n\
           io.write(string.format(\"done %d %d\\n\", summary.requests, summary.errors.status))\n\
         end\n",
    )
    .unwrap();
    let target = HttpTarget::start();
    let url = target.url("/");
    let out = wrk(&[
        "-t1",
        "-c2",
        "-d1s",
        "-s",
        script.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        &url,
        "extra",
    ]);
    let doc = document(&json);
    assert_eq!(doc.settings.script.as_deref(), script.to_str());
    assert_eq!(
        doc.settings.script_args,
        vec![url.clone(), "extra".to_string()]
    );
    let done = format!("done {} {}\n", doc.totals.requests, doc.totals.non_2xx_3xx);
    assert!(out.stdout.ends_with(&done), "{done:?}\n{}", out.stdout);
    totals_match(&out.stdout, &doc);
}

#[test]
fn output_file_that_cannot_be_created_fails_before_the_run() {
    let out = run_within(
        OURS,
        &["--json", "/nonexistent-dir/x.json", "http://127.0.0.1:1/"],
        LIMIT,
    );
    assert_eq!(out.code, Some(1));
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "wrk: cannot create --json file /nonexistent-dir/x.json: No such file or directory\n"
    );
}

/// Socket-error detail of one run: `Socket errors` counters and the
/// breakdown lines below it, which must add up to them.
#[derive(Debug, Default)]
struct Detail {
    counters: [u64; 4],
    causes: Vec<(String, String, u64)>,
}

impl Detail {
    fn of(&self, class: &str) -> Vec<(&str, u64)> {
        self.causes
            .iter()
            .filter(|c| c.0 == class)
            .map(|c| (c.1.as_str(), c.2))
            .collect()
    }

    fn count(&self, class: &str, cause: &str) -> u64 {
        self.of(class)
            .iter()
            .filter(|c| c.0 == cause)
            .map(|c| c.1)
            .sum()
    }
}

fn detail(text: &str) -> Detail {
    let mut d = Detail::default();
    let lines: Vec<&str> = text.lines().collect();
    let Some(at) = lines.iter().position(|l| l.starts_with("  Socket errors:")) else {
        return d;
    };
    let nums: Vec<u64> = lines[at]
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|t| t.parse().ok())
        .collect();
    d.counters.copy_from_slice(&nums[..4]);
    for l in &lines[at + 1..] {
        let Some((class, list)) = l.strip_prefix("    ").and_then(|l| l.split_once(": ")) else {
            break;
        };
        for item in list.split(", ") {
            let (cause, n) = item.rsplit_once(' ').expect("cause count");
            d.causes.push((
                class.to_string(),
                cause.to_string(),
                n.parse().expect("count"),
            ));
        }
    }
    for (i, class) in ["connect", "read", "write", "timeout"].iter().enumerate() {
        let sum: u64 = d.of(class).iter().map(|c| c.1).sum();
        assert_eq!(
            sum, d.counters[i],
            "{class} breakdown vs Socket errors\n{text}"
        );
    }
    d
}

/// Runs ours with `--errors detail` and `--json` against `url`; checks
/// that the JSON's detail equals the printed one.
fn run_detail(args: &[&str], url: &str) -> (Detail, String) {
    let tmp = TempDir::new("wrk-errors").expect("tmp");
    let json = tmp.join("run.json");
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--errors", "detail", "--json", json.to_str().unwrap(), url]);
    let out = wrk(&all);
    let d = detail(&out.stdout);
    let doc = document(&json);
    let from_json: Vec<(String, String, u64)> = doc
        .error_detail
        .iter()
        .map(|e| (e.class.clone(), e.cause.clone(), e.count))
        .collect();
    assert_eq!(from_json, d.causes, "{}", out.stdout);
    (d, out.stdout)
}

#[test]
fn errors_detail_names_each_misbehaviour() {
    let s = MisbehavingServer::start(Behavior::SilentClose);
    let (d, text) = run_detail(&["-t1", "-c2", "-d1s"], &s.url());
    assert!(d.count("read", "EOF") > 0, "{text}");
    assert_eq!(d.of("read").len(), 1, "{text}");

    // The same below wrk2's report (-R).
    let s = MisbehavingServer::start(Behavior::SilentClose);
    let (d, text) = run_detail(&["-t1", "-c2", "-d1s", "-R", "200"], &s.url());
    assert!(d.count("read", "EOF") > 0, "{text}");

    let s = MisbehavingServer::start(Behavior::Http10Eof);
    let (d, text) = run_detail(&["-t1", "-c2", "-d1s"], &s.url());
    assert!(d.count("read", "EOF") > 0, "{text}");

    let s = MisbehavingServer::start(Behavior::Garbage);
    let (d, text) = run_detail(&["-t1", "-c2", "-d1s"], &s.url());
    assert!(d.count("read", "HTTP_PARSE") > 0, "{text}");

    let s = MisbehavingServer::start(Behavior::Reset);
    let (d, text) = run_detail(&["-t1", "-c2", "-d1s"], &s.url());
    let resets =
        d.count("read", "ECONNRESET") + d.count("write", "ECONNRESET") + d.count("write", "EPIPE");
    assert!(resets > 0, "{text}");
    for (class, cause, _) in &d.causes {
        assert!(
            ["ECONNRESET", "EPIPE", "EOF"].contains(&cause.as_str()),
            "{class}: {cause}\n{text}"
        );
    }

    // No answer within --timeout 1: our request timeout (1.1 s) fires.
    let s = MisbehavingServer::start(Behavior::NeverRespond);
    let (d, text) = run_detail(&["-t1", "-c2", "-d3s", "--timeout", "1"], &s.url());
    assert!(d.count("timeout", "NO_RESPONSE") >= 2, "{text}");
    assert_eq!(d.counters[..3], [0, 0, 0], "{text}");

    // With --timeout 0 every response is late (stock: `timeout` per batch).
    let target = HttpTarget::start();
    let (d, text) = run_detail(&["-t1", "-c1", "-d1s", "--timeout", "0"], &target.url("/"));
    assert!(d.count("timeout", "LATE_RESPONSE") > 0, "{text}");
    assert_eq!(d.of("timeout").len(), 1, "{text}");
}

/// Runs ours against a server that stops accepting after 700 ms.
fn against_stopping_server(extra: &[&str]) -> String {
    let s = MisbehavingServer::start(Behavior::NotFound);
    let child = testkit::proc::ChildGuard::spawn(
        std::process::Command::new(OURS)
            .arg0("wrk")
            .args(["-t1", "-c2", "-d2s"])
            .args(extra)
            .arg(s.url()),
    )
    .expect("spawn wrk");
    std::thread::sleep(Duration::from_millis(700));
    s.stop();
    let f = child.finish(LIMIT).expect("wrk finished");
    assert!(!f.timed_out);
    assert_eq!(f.code(), Some(0), "{}", f.stderr_str());
    f.stdout_str()
}

#[test]
fn errors_detail_tells_refused_from_closed() {
    // The server dies mid-run: open connections see EOF, reconnects are
    // refused asynchronously, which wrk counts as read/write errors; the
    // cause shows it was a refusal.
    let text = against_stopping_server(&["--errors", "detail"]);
    let d = detail(&text);
    assert!(d.count("read", "EOF") > 0, "{text}");
    let refused = d.count("read", "ECONNREFUSED") + d.count("write", "ECONNREFUSED");
    assert!(refused > 0, "{text}");
    for (class, cause, _) in &d.causes {
        assert!(
            ["EOF", "ECONNREFUSED", "ECONNRESET", "EPIPE"].contains(&cause.as_str()),
            "{class}: {cause}\n{text}"
        );
    }
    // Without the flag the same run prints stock's lines only.
    let text = against_stopping_server(&[]);
    let at = text.find("  Socket errors:").expect("errors line");
    let next = text[at..].lines().nth(1).unwrap_or_default();
    assert!(next.starts_with("  Non-2xx or 3xx responses: "), "{text}");

    // A unix socket path that does not exist fails synchronously: connect.
    let (d, text) = run_detail(
        &[
            "-t1",
            "-c2",
            "-d1s",
            "--unix-socket",
            "/nonexistent-dir/s.sock",
        ],
        "http://localhost/",
    );
    assert_eq!(
        d.causes,
        vec![("connect".into(), "ENOENT".into(), 2)],
        "{text}"
    );
}

/// A keep-alive HTTP/1.1 server on an AF_UNIX socket: answers every
/// request with `200 ok` and keeps the first request's bytes.
struct UnixServer {
    stop: Arc<AtomicBool>,
    first: Arc<Mutex<Vec<u8>>>,
    requests: Arc<AtomicU64>,
}

impl UnixServer {
    fn start(path: &std::path::Path) -> UnixServer {
        let listener = UnixListener::bind(path).expect("bind unix socket");
        listener.set_nonblocking(true).expect("nonblocking");
        let server = UnixServer {
            stop: Arc::new(AtomicBool::new(false)),
            first: Arc::new(Mutex::new(Vec::new())),
            requests: Arc::new(AtomicU64::new(0)),
        };
        let (stop, first, requests) = (
            server.stop.clone(),
            server.first.clone(),
            server.requests.clone(),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (first, requests, stop) =
                            (first.clone(), requests.clone(), stop.clone());
                        std::thread::spawn(move || serve(conn, &first, &requests, &stop));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        server
    }
}

impl Drop for UnixServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(
    mut conn: std::os::unix::net::UnixStream,
    first: &Mutex<Vec<u8>>,
    requests: &AtomicU64,
    stop: &AtomicBool,
) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(Duration::from_millis(200)));
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        let n = match conn.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
            Err(_) => return,
        };
        pending.extend_from_slice(&buf[..n]);
        while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let request: Vec<u8> = pending.drain(..end + 4).collect();
            if let Ok(mut f) = first.lock() {
                if f.is_empty() {
                    *f = request;
                }
            }
            requests.fetch_add(1, Ordering::Relaxed);
            if conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .is_err()
            {
                return;
            }
        }
    }
}

#[test]
fn unix_socket_carries_the_urls_host_and_path() {
    let tmp = TempDir::new("wrk-unix").expect("tmp");
    let sock = tmp.join("http.sock");
    let server = UnixServer::start(&sock);
    let json = tmp.join("run.json");
    let out = wrk(&[
        "-t1",
        "-c2",
        "-d1s",
        "--unix-socket",
        sock.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "http://backend.invalid:8080/p?q=1",
    ]);
    let doc = document(&json);
    assert!(doc.totals.requests > 10, "{}", out.stdout);
    assert_eq!(doc.totals.errors, Default::default(), "{}", out.stdout);
    assert_eq!(doc.settings.unix_socket.as_deref(), sock.to_str());
    assert!(server.requests.load(Ordering::Relaxed) >= doc.totals.requests);
    let first = String::from_utf8(server.first.lock().unwrap().clone()).unwrap();
    assert!(first.starts_with("GET /p?q=1 HTTP/1.1\r\n"), "{first:?}");
    assert!(
        first.contains("\r\nHost: backend.invalid:8080\r\n"),
        "{first:?}"
    );
    assert!(out.stdout.starts_with(
        "Running 1s test @ http://backend.invalid:8080/p?q=1\n  1 threads and 2 connections\n"
    ));

    // The same with -R and a script (same engine path).
    let script = tmp.join("s.lua");
    std::fs::write(&script, "wrk.path = \"/scripted\"\n").unwrap();
    let out = wrk(&[
        "-t1",
        "-c2",
        "-d1s",
        "-R",
        "100",
        "-s",
        script.to_str().unwrap(),
        "--unix-socket",
        sock.to_str().unwrap(),
        "http://backend.invalid/",
    ]);
    let counts = out
        .stdout
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(counts > 10, "{}", out.stdout);
    assert!(!out.stdout.contains("Socket errors"), "{}", out.stdout);
}

/// nginx listening on unix sockets (the sidecar/proxy baseline): plain
/// HTTP and TLS over AF_UNIX, with the same engine as TCP.
#[test]
fn unix_socket_to_nginx_plain_and_tls() {
    let tmp = TempDir::new("wrk-unix-ng").expect("tmp");
    let (plain, tls) = (tmp.join("plain.sock"), tmp.join("tls.sock"));
    let Some(nginx) = testkit::nginx::Nginx::start(testkit::nginx::Options {
        tls: true,
        extra_server: format!(
            "listen unix:{}; listen unix:{} ssl;",
            plain.display(),
            tls.display()
        ),
        ..Default::default()
    }) else {
        return;
    };
    for (sock, url) in [(&plain, "http://localhost/"), (&tls, "https://localhost/")] {
        let out = wrk(&[
            "-t1",
            "-c4",
            "-d1s",
            "--errors",
            "detail",
            "--unix-socket",
            sock.to_str().unwrap(),
            url,
        ]);
        let requests: u64 = out
            .stdout
            .lines()
            .find(|l| l.contains(" requests in "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(
            requests > 10,
            "{url}\n{}\n{}",
            out.stdout,
            nginx.error_log()
        );
        assert!(
            !out.stdout.contains("Socket errors"),
            "{url}\n{}",
            out.stdout
        );
    }
}

/// `--json` and `--hdr` leave stdout's layout as it is without them.
#[test]
fn file_outputs_leave_stdout_alone() {
    let tmp = TempDir::new("wrk-layout").expect("tmp");
    let target = HttpTarget::start();
    let url = target.url("/");
    let shape = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["-t1", "-c2", "-d1s", "--latency"];
        args.extend(extra);
        args.push(&url);
        let out = wrk(&args);
        assert_eq!(out.stderr, "");
        // Each line's words without the figures (they differ run to run).
        out.stdout
            .lines()
            .map(|l| {
                l.split_whitespace()
                    .filter(|w| !w.contains(|c: char| c.is_ascii_digit()))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    };
    let (json, hdr) = (tmp.join("r.json"), tmp.join("r.hlog"));
    let with = shape(&[
        "--json",
        json.to_str().unwrap(),
        "--hdr",
        hdr.to_str().unwrap(),
        "--errors",
        "summary",
    ]);
    assert_eq!(with, shape(&[]));
}
