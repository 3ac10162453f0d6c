//! The opt-in extensions of issue 12 end to end: `--percentiles` (ours ↔
//! ours, against a stock server, against a server that delays a known
//! share of its replies), `-P N` (four data connections on the server,
//! summed bytes = per-stream sum, refusal by a stock server), `--json`
//! (schema-valid, same figures as the text) and `--cgroup_cpu`.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::qperf::format_number;
use serde_json::Value;
use support::{OurServer, StockServer};
use testkit::proc::run;
use testkit::tmp::TempDir;

const OURS: &str = env!("CARGO_BIN_EXE_qperf");

/// Runs our client; returns (exit code, stdout, stderr).
fn client(args: &[&str]) -> (Option<i32>, String, String) {
    let f = run(Command::new(OURS).args(args), Duration::from_secs(60)).expect("spawn");
    assert!(!f.timed_out, "qperf {args:?} timed out");
    (f.code(), f.stdout_str(), f.stderr_str())
}

fn read_json(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).expect("json file");
    serde_json::from_str(&text).expect("valid JSON")
}

fn schema() -> jsonschema::Validator {
    let p = format!(
        "{}/../schemas/qperf.schema.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let s: Value = serde_json::from_str(&std::fs::read_to_string(p).expect("schema")).unwrap();
    jsonschema::validator_for(&s).expect("schema compiles")
}

fn assert_valid(doc: &Value) {
    let v = schema();
    let errors: Vec<String> = v.iter_errors(doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "schema errors: {errors:?}\n{doc:#}");
}

/// The `name = value` lines of one test's block in the text output.
fn text_lines<'a>(out: &'a str, test: &str) -> Vec<(&'a str, &'a str)> {
    let head = format!("{test}:\n");
    let start = out
        .find(&head)
        .unwrap_or_else(|| panic!("no {test} in {out}"))
        + head.len();
    out[start..]
        .lines()
        .take_while(|l| l.starts_with("    "))
        .filter_map(|l| {
            let (n, v) = l.split_once(" = ")?;
            Some((n.trim(), v.trim()))
        })
        .collect()
}

fn figure(test: &Value, name: &str) -> f64 {
    test["figures"]
        .as_array()
        .expect("figures")
        .iter()
        .find(|f| f["name"] == name)
        .and_then(|f| f["value"].as_f64())
        .unwrap_or_else(|| panic!("no figure {name}"))
}

fn test_entry<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .find(|t| t["test"] == name)
        .unwrap_or_else(|| panic!("no {name} in {doc:#}"))
}

#[test]
fn percentiles_ours_to_ours_and_json_equals_text() {
    let srv = OurServer::start();
    let dir = TempDir::new("qperf-ext").unwrap();
    let json = dir.join("run.json");
    let port = srv.port.to_string();
    let (code, out, err) = client(&[
        "127.0.0.1",
        "-lp",
        &port,
        "-t",
        "1",
        "-uu",
        "-e",
        "15",
        "-vv",
        "--json",
        json.to_str().unwrap(),
        "--percentiles",
        "--cgroup_cpu",
        "tcp_lat",
        "udp_lat",
        "tcp_bw",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    let doc = read_json(&json);
    assert_valid(&doc);
    assert_eq!(doc["format_version"], 1);
    for t in ["tcp_lat", "udp_lat"] {
        let lines = text_lines(&out, t);
        // Stock's block first, unchanged in form; ours after it.
        assert_eq!(lines[0].0, "latency", "{out}");
        for side in ["loc", "rem"] {
            let mut last = 0.0;
            for p in ["p50", "p90", "p99", "p99.9", "max"] {
                let name = format!("{side}_latency_{p}");
                let (_, v) = lines
                    .iter()
                    .find(|(n, _)| *n == name)
                    .unwrap_or_else(|| panic!("{name} missing: {out}"));
                assert!(v.ends_with(" ns"), "{name} = {v}");
                let ns: f64 = v.trim_end_matches(" ns").parse().unwrap();
                assert!(ns > 0.0 && ns >= last, "{name} = {ns} after {last}");
                last = ns;
            }
        }
        let e = test_entry(&doc, t);
        assert_eq!(e["status"], "ok");
        assert_eq!(e["server"], "qperf-rs");
        let h = &e["latency"]["local"];
        assert!(h["count"].as_u64().unwrap() > 100, "{h}");
        // The histogram travels losslessly: decoding it gives the figures.
        let back =
            common::hdr::NsHistogram::from_base64(h["hdr_v2_deflate_base64"].as_str().unwrap())
                .unwrap();
        assert_eq!(back.count(), h["count"].as_u64().unwrap());
        assert_eq!(back.percentile(99.0), h["p99"].as_u64().unwrap());
        assert_eq!(back.max() as f64, figure(e, "loc_latency_max"));
        assert!(e["latency"]["remote"]["count"].as_u64().unwrap() > 100);
    }
    // Every printed figure equals the JSON one (same number at -e 15).
    for t in ["tcp_lat", "udp_lat", "tcp_bw"] {
        let e = test_entry(&doc, t);
        for (name, shown) in text_lines(&out, t) {
            let Some(f) = e["figures"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["name"] == name)
            else {
                // Parameter lines of -vv (they are under "parameters").
                assert!(
                    [
                        "msg_size",
                        "time",
                        "timeout",
                        "sock_buf_size",
                        "port",
                        "affinity"
                    ]
                    .iter()
                    .any(|p| name.ends_with(p))
                        || shown.starts_with("unavailable"),
                    "{t}: {name} = {shown} not in JSON"
                );
                continue;
            };
            let want = format_number(f["value"].as_f64().unwrap(), 15);
            let unit = f["unit"].as_str().unwrap();
            let got = shown.strip_suffix(unit).unwrap_or(shown).trim_end();
            assert_eq!(got, want, "{t}: {name}");
        }
    }
    assert!(
        test_entry(&doc, "tcp_bw")["extensions"]["percentiles"] == false,
        "--percentiles applies to _lat tests only"
    );
    assert!(out.contains("warning: --percentiles set but not used in test tcp_bw"));
    drop(srv);
}

#[test]
fn percentiles_against_a_stock_server() {
    let Some(srv) = StockServer::start() else {
        return;
    };
    let port = srv.port.to_string();
    let dir = TempDir::new("qperf-ext").unwrap();
    let json = dir.join("stock.json");
    let (code, out, err) = client(&[
        "127.0.0.1",
        "-lp",
        &port,
        "-t",
        "1",
        "--json",
        json.to_str().unwrap(),
        "--percentiles",
        "tcp_lat",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.starts_with("tcp_lat:\n    latency  =  "), "{out}");
    assert!(out.contains("loc_latency_p99"), "{out}");
    assert!(!out.contains("rem_latency_p"), "{out}");
    let lines = text_lines(&out, "tcp_lat");
    let note: Vec<_> = lines.iter().filter(|l| l.0 == "rem_latency").collect();
    assert_eq!(
        note,
        [&("rem_latency", "unavailable: the server is not qperf-rs")],
        "{out}"
    );
    let doc = read_json(&json);
    assert_valid(&doc);
    let e = test_entry(&doc, "tcp_lat");
    assert_eq!(e["server"], "stock");
    assert!(e["latency"]["remote"].is_null());
}

/// A stock-protocol tcp_lat server that delays every `every`-th reply by
/// `delay`; one test, then it stops.
fn delaying_server(every: usize, delay: Duration) -> (u16, std::thread::JoinHandle<usize>) {
    use qperf_rs::proto::{Stat, Ticks};
    use qperf_rs::wire;
    let ctl = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = ctl.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (mut c, _) = ctl.accept().unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut req = [0u8; wire::REQ_LEN];
        c.read_exact(&mut req).unwrap();
        let data = TcpListener::bind("127.0.0.1:0").unwrap();
        let dport = data.local_addr().unwrap().port();
        c.write_all(&wire::encode_port(u32::from(dport))).unwrap();
        let (mut d, _) = data.accept().unwrap();
        c.write_all(wire::SYNC_BEFORE).unwrap();
        let mut sync = vec![0u8; wire::SYNC_BEFORE.len()];
        c.read_exact(&mut sync).unwrap();
        d.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let start = Instant::now();
        let mut n = 0usize;
        let mut b = [0u8; 1];
        // Bounded: the client stops after its 1 s; we after 10 s at most.
        while start.elapsed() < Duration::from_secs(10) && d.read_exact(&mut b).is_ok() {
            n += 1;
            if n.is_multiple_of(every) {
                std::thread::sleep(delay);
            }
            if d.write_all(&b).is_err() {
                break;
            }
        }
        let stat = Stat {
            no_cpus: 1,
            no_ticks: 100,
            time_e: Ticks {
                real: 100,
                ..Ticks::default()
            },
            r: qperf_rs::proto::Counters {
                bytes: n as u64,
                msgs: n as u64,
                errs: 0,
            },
            s: qperf_rs::proto::Counters {
                bytes: n as u64,
                msgs: n as u64,
                errs: 0,
            },
            ..Stat::default()
        };
        let _ = c.write_all(&wire::encode_stat(&stat));
        let mut after = vec![0u8; wire::SYNC_AFTER.len()];
        let _ = c.read_exact(&mut after);
        n
    });
    (port, h)
}

#[test]
fn percentiles_land_where_a_delaying_server_puts_them() {
    // Every 20th reply (5 %) waits 6 ms: at least 3 ms one-way for those.
    let (port, srv) = delaying_server(20, Duration::from_millis(6));
    let dir = TempDir::new("qperf-ext").unwrap();
    let json = dir.join("delay.json");
    let port = port.to_string();
    let (code, out, err) = client(&[
        "127.0.0.1",
        "-lp",
        &port,
        "-t",
        "1",
        "--json",
        json.to_str().unwrap(),
        "--percentiles",
        "tcp_lat",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    let served = srv.join().unwrap();
    let doc = read_json(&json);
    assert_valid(&doc);
    let e = test_entry(&doc, "tcp_lat");
    let h = &e["latency"]["local"];
    let get = |k: &str| h[k].as_u64().unwrap() as f64;
    assert!(served >= 40, "only {served} round trips");
    // p90 is a fast reply (95 % are), p99 and max are delayed ones; a
    // delayed reply can take longer under load, never shorter.
    assert!(get("p90") < 3e6, "p90 {h}");
    assert!(get("p99") >= 3e6, "p99 {h}");
    assert!(get("max") >= 3e6 && get("max") < 1e9, "max {h}");
    assert!(get("p50") <= get("p90"));
    // Consistent with the mean: the round trips fill the client's second,
    // so the histogram's mean is stock's latency (1 s / messages).
    let mean = h["mean"].as_f64().unwrap();
    let latency = figure(e, "latency");
    assert!(
        (mean - latency).abs() < 0.2 * latency,
        "histogram mean {mean} ns vs latency {latency} ns"
    );
}

/// Largest number of established server-side TCP connections on local
/// `port`, sampled from /proc/net/tcp6 until `stop` (our server's data
/// sockets are IPv6; clients of 127.0.0.1 are IPv4, so another test's
/// client that got `port` as its ephemeral port is not counted).
/// Inodes of the sockets this process holds (the in-process server's).
fn own_socket_inodes() -> std::collections::HashSet<String> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return Default::default();
    };
    dir.flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect()
}

/// Counts, while the test runs, the established connections on `port` held
/// by this process (so another process's IPv6 socket whose ephemeral port
/// happens to equal `port` is not counted).
fn watch_connections(port: u16, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let most = AtomicUsize::new(0);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
            // By inode: /proc/net/tcp6 is produced in chunks, so one read
            // can list a socket twice while the table changes.
            let mut seen = std::collections::HashSet::new();
            let ours = own_socket_inodes();
            for f in ["/proc/net/tcp6"] {
                let text = std::fs::read_to_string(f).unwrap_or_default();
                for l in text.lines().skip(1) {
                    let w: Vec<&str> = l.split_whitespace().collect();
                    let local_port = w
                        .get(1)
                        .and_then(|a| a.rsplit(':').next())
                        .and_then(|p| u16::from_str_radix(p, 16).ok());
                    let inode = w.get(9).filter(|i| ours.contains(**i));
                    if local_port == Some(port) && w.get(3) == Some(&"01") {
                        seen.extend(inode.map(|i| i.to_string()));
                    }
                }
            }
            let n = seen.len();
            most.fetch_max(n, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
        }
        most.load(Ordering::SeqCst)
    })
}

#[test]
fn four_streams_ours_to_ours() {
    let srv = OurServer::start();
    let dir = TempDir::new("qperf-ext").unwrap();
    let json = dir.join("p4.json");
    let port = srv.port.to_string();
    let data_port = testkit::ports::free_port();
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_connections(data_port, stop.clone());
    let (code, out, err) = client(&[
        "127.0.0.1",
        "-lp",
        &port,
        "-ip",
        &data_port.to_string(),
        "-t",
        "1",
        "--json",
        json.to_str().unwrap(),
        "-P",
        "4",
        "tcp_bw",
        "--streams",
        "3",
        "udp_bw",
    ]);
    stop.store(true, Ordering::SeqCst);
    let most = watcher.join().unwrap();
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(most, 4, "server-side data connections on port {data_port}");
    // Stock's lines for the sum first, then one line per stream.
    let lines = text_lines(&out, "tcp_bw");
    assert_eq!(lines[0].0, "bw", "{out}");
    let names: Vec<&str> = lines.iter().map(|l| l.0).collect();
    assert_eq!(
        &names[1..],
        ["stream1_bw", "stream2_bw", "stream3_bw", "stream4_bw"],
        "{out}"
    );
    let doc = read_json(&json);
    assert_valid(&doc);
    for (t, n, side, dir) in [
        ("tcp_bw", 4, "remote", "recv"),
        ("udp_bw", 3, "remote", "recv"),
    ] {
        let e = test_entry(&doc, t);
        let streams = e["streams"].as_array().unwrap();
        assert_eq!(streams.len(), n, "{t}");
        let sum = |s: &str, d: &str| -> u64 {
            streams
                .iter()
                .map(|x| x[s][d]["bytes"].as_u64().unwrap())
                .sum()
        };
        for x in streams {
            assert!(x[side][dir]["bytes"].as_u64().unwrap() > 0, "{t}: {x}");
        }
        // Summed figures (stock's STAT counters) = the per-stream sums.
        assert_eq!(
            figure(e, "r_r_no_bytes") as u64,
            sum("remote", "recv"),
            "{t}"
        );
        assert_eq!(
            figure(e, "l_s_no_bytes") as u64,
            sum("local", "send"),
            "{t}"
        );
    }
    drop(srv);
}

#[test]
fn streams_refused_by_a_stock_server() {
    let Some(srv) = StockServer::start() else {
        return;
    };
    let port = srv.port.to_string();
    let (code, out, _) = client(&["127.0.0.1", "-lp", &port, "-t", "1", "-P", "2", "tcp_bw"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        out,
        "tcp_bw:\n-P 2: parallel streams need a qperf-rs server; 127.0.0.1 runs stock qperf\n"
    );
    // The stock server is still fine afterwards.
    let (code, out, err) = client(&["127.0.0.1", "-lp", &port, "-t", "1", "tcp_lat"]);
    assert_eq!(code, Some(0), "{out}{err}");
}

#[test]
fn option_errors() {
    let cases: &[(&[&str], &str)] = &[
        (&["h", "-P"], "missing argument to -P\n"),
        (
            &["h", "-P", "0"],
            "-P: bad stream count: 0; must be 1 to 64\n",
        ),
        (
            &["h", "--streams", "65"],
            "--streams: bad stream count: 65; must be 1 to 64\n",
        ),
        (&["h", "-P", "x"], "bad argument: x\n"),
        (&["h", "--json"], "missing argument to --json\n"),
    ];
    for (args, want) in cases {
        let (code, out, _) = client(args);
        assert_eq!((code, out.as_str()), (Some(1), *want), "{args:?}");
    }
    // The options are in the help topics.
    for topic in ["opts", "options"] {
        let (_, out, _) = client(&["--help", topic]);
        for o in ["--percentiles", "--streams", "-P", "--cgroup_cpu", "--json"] {
            assert!(out.contains(o), "{topic}: {o}");
        }
    }
}

#[test]
fn json_records_errors() {
    let dir = TempDir::new("qperf-ext").unwrap();
    let json = dir.join("err.json");
    let dead = testkit::ports::RefusingPort::new();
    let port = dead.port.to_string();
    let (code, out, _) = client(&[
        "127.0.0.1",
        "-lp",
        &port,
        "-ws",
        "0",
        "--json",
        json.to_str().unwrap(),
        "tcp_lat",
    ]);
    assert_eq!(code, Some(1));
    // stdout is stock's.
    assert_eq!(out, "tcp_lat:\n127.0.0.1: failed to connect\n");
    let doc = read_json(&json);
    assert_valid(&doc);
    let e = test_entry(&doc, "tcp_lat");
    assert_eq!(e["status"], "error");
    assert_eq!(e["error"]["text"], "127.0.0.1: failed to connect");
    assert_eq!(e["error"]["side"], "local");
}
