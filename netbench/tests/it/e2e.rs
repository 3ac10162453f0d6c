//! End-to-end runs of the netbench binary on loopback: the embedded default
//! (our servers, `--no-netns`) and a targets file with a broken target.
//! Short durations; our qperf and wrk when built, else the stock ones
//! (see `support::tools`).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use testkit::http::HttpTarget;
use testkit::proc::{self, ChildGuard};
use testkit::tmp::TempDir;

use crate::support::tools;

const NETBENCH: &str = env!("CARGO_BIN_EXE_netbench");

fn run_netbench(qperf: &Path, wrk: &Path, out: &Path, extra: &[&str]) -> proc::Finished {
    let mut cmd = Command::new(NETBENCH);
    cmd.arg("--qperf")
        .arg(qperf)
        .arg("--wrk")
        .arg(wrk)
        .arg("-o")
        .arg(out);
    cmd.args(["-d", "1s", "--qperf-time", "1", "-t", "1", "-c", "4"])
        .args(extra);
    let done = proc::run(&mut cmd, Duration::from_secs(90)).expect("netbench runs");
    assert!(
        !done.timed_out,
        "netbench hung; stderr:\n{}",
        done.stderr_str()
    );
    done
}

/// The table rows (`| ... |` lines after the separator) of one section.
fn table_rows<'a>(md: &'a str, heading: &str) -> Vec<Vec<&'a str>> {
    let section = md
        .split("## ")
        .find(|s| s.starts_with(heading))
        .expect("section");
    section
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("|---"))
        .skip(1)
        .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect()
}

#[test]
fn embedded_loopback_run_fills_every_cell() {
    let Some((qperf, wrk)) = tools() else { return };
    let dir = TempDir::new("netbench-e2e").expect("tmp");
    let out = dir.join("out");
    let done = run_netbench(&qperf, &wrk, &out, &["--no-netns"]);
    assert_eq!(done.code(), Some(0), "stderr:\n{}", done.stderr_str());
    let md = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert_eq!(md, done.stdout_str(), "stdout shows the same tables");
    let qrows = table_rows(&md, "qperf");
    let labels: Vec<&str> = qrows.iter().map(|r| r[0]).collect();
    assert_eq!(labels, ["1 B", "64 B", "4 KiB", "256 KiB"], "{md}");
    let wrows = table_rows(&md, "wrk");
    assert_eq!(wrows.len(), 4, "{md}");
    // qperf rows: size, tcp_bw, tcp_lat; wrk rows: metric, value.
    let widths = qrows
        .iter()
        .map(|r| (r, 3))
        .chain(wrows.iter().map(|r| (r, 2)));
    for (row, width) in widths {
        assert_eq!(row.len(), width, "{row:?}");
        for cell in &row[1..] {
            assert!(
                !cell.is_empty() && !cell.starts_with("error") && *cell != "-",
                "{row:?}\n{md}"
            );
        }
    }
    assert!(
        qrows[0][1].ends_with("/sec") && qrows[0][2].ends_with("s"),
        "{:?}",
        qrows[0]
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).expect("json"))
            .expect("valid");
    assert!(json["targets"][0]["wrk"]["report"]["requests_per_sec"]["value"].as_f64() > Some(0.0));
    for svg in [
        "qperf_bw.svg",
        "qperf_lat.svg",
        "wrk_qps.svg",
        "wrk_latency.svg",
    ] {
        let text = std::fs::read_to_string(out.join(svg)).expect(svg);
        assert!(text.contains("loopback"), "{svg}");
    }
}

#[test]
fn file_targets_with_a_broken_target() {
    let Some((qperf, wrk)) = tools() else { return };
    let lp = testkit::ports::free_port();
    let mut server = ChildGuard::spawn(Command::new(&qperf).args(["-lp", &lp.to_string()]))
        .expect("qperf server");
    server
        .wait_for_port(([127, 0, 0, 1], lp).into(), Duration::from_secs(10))
        .expect("qperf server up");
    let http = HttpTarget::start();
    let refusing = testkit::ports::RefusingPort::new();
    let dead = refusing.port; // nothing can listen there
    let dir = TempDir::new("netbench-e2e-file").expect("tmp");
    let file = dir.join("targets.toml");
    let toml = format!(
        "[defaults]\nmsg_sizes = \"1:64:*64\"\n\n[[target]]\nname = \"good\"\nqperf_host = \"127.0.0.1\"\nlp = {lp}\nwrk_url = \"{}\"\n\n[[target]]\nname = \"bad\"\nqperf_host = \"127.0.0.1\"\nlp = {dead}\nwrk_url = \"http://127.0.0.1:{dead}/\"\n",
        http.url("/")
    );
    std::fs::write(&file, toml).expect("write toml");
    let out = dir.join("out");
    let done = run_netbench(&qperf, &wrk, &out, &[file.to_str().expect("utf-8 path")]);
    assert_eq!(done.code(), Some(0), "stderr:\n{}", done.stderr_str());
    let md = done.stdout_str();
    let qrows = table_rows(&md, "qperf");
    assert_eq!(qrows.len(), 2, "{md}");
    for row in &qrows {
        // msg size | bw good | bw bad | bw ratio | lat good | lat bad | lat ratio
        assert!(row[1].ends_with("/sec") && row[4].ends_with("s"), "{row:?}");
        assert_eq!(row[2], "error: 127.0.0.1: failed to connect", "{row:?}");
        assert_eq!((row[3], row[6]), ("-", "-"), "{row:?}");
    }
    for row in table_rows(&md, "wrk") {
        assert!(!row[1].starts_with("error"), "{row:?}");
        assert!(
            row[2].starts_with("error: unable to connect to 127.0.0.1:"),
            "{row:?}"
        );
    }
    assert!(
        md.contains(&format!(
            "- good: `qperf 127.0.0.1 -lp {lp} -t 1 -oo msg_size:1:64:*64 -vu tcp_bw tcp_lat`"
        )),
        "{md}"
    );
    drop(server);
}

#[test]
fn malformed_file_names_line_and_field() {
    let dir = TempDir::new("netbench-e2e-bad").expect("tmp");
    let file = dir.join("t.toml");
    std::fs::write(
        &file,
        "[[target]]\nname = \"a\"\nqperf_host = \"h\"\nthreads = \"many\"\n",
    )
    .expect("write");
    let done = proc::run(
        Command::new(NETBENCH)
            .args(["--qperf", "/bin/true", "--wrk", "/bin/true"])
            .arg(&file),
        Duration::from_secs(30),
    )
    .expect("runs");
    assert_eq!(done.code(), Some(2));
    let err = done.stderr_str();
    assert!(
        err.contains("t.toml: line 4, field `threads`: invalid type"),
        "{err}"
    );
}

#[test]
fn netns_is_created_and_removed() {
    use netkit::netns::{pod_unavailable, Pod};
    if let Some(why) = pod_unavailable() {
        eprintln!("skipping: no network namespaces here ({why})");
        return;
    }
    let ns = Pod::create().expect("create namespace");
    let (name, host_if) = (ns.name.clone(), ns.host_if.clone());
    let list = |args: &[&str]| {
        let o = Command::new("ip").args(args).output().expect("ip");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(list(&["netns", "list"]).contains(&name));
    assert!(list(&["route"]).contains(&format!("{} dev {host_if}", ns.addr)));
    drop(ns);
    assert!(!list(&["netns", "list"]).contains(&name));
    assert!(!list(&["link"]).contains(&host_if));
}

#[test]
fn ctrl_c_stops_everything_and_keeps_the_report() {
    let Some((qperf, wrk)) = tools() else { return };
    let dir = TempDir::new("netbench-e2e-int").expect("tmp");
    let out = dir.join("out");
    let mut cmd = Command::new(NETBENCH);
    cmd.arg("--qperf")
        .arg(&qperf)
        .arg("--wrk")
        .arg(&wrk)
        .arg("-o")
        .arg(&out);
    cmd.args(["-d", "30s", "--qperf-time", "5"]);
    let mut child = ChildGuard::spawn(&mut cmd).expect("netbench starts");
    // Wait until the servers are up (the loopback line is printed).
    let started = std::time::Instant::now();
    while !child.stderr_str().contains("target loopback:") {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no start: {}",
            child.stderr_str()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(2));
    child.signal(libc::SIGINT).expect("SIGINT");
    let done = child
        .finish(Duration::from_secs(30))
        .expect("netbench exits");
    let err = done.stderr_str();
    assert!(!done.timed_out, "{err}");
    assert_eq!(done.code(), Some(130), "{err}");
    let md = std::fs::read_to_string(out.join("report.md")).expect("report written");
    assert!(md.contains("error: interrupted"), "{md}");
    // Every loopback server we saw announced is gone (only loopback: other
    // addresses may be answered by whatever routes them once the namespace
    // is deleted).
    for word in err.split_whitespace() {
        let addr = word
            .trim_start_matches("http://")
            .trim_end_matches(['/', ',']);
        if let Ok(addr) = addr.parse::<std::net::SocketAddr>() {
            if !addr.ip().is_loopback() {
                continue;
            }
            assert!(
                std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_err(),
                "{addr} still listens"
            );
        }
    }
    let lp = err
        .split("-lp ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|p| p.trim().parse::<u16>().ok())
        .expect("loopback qperf port in stderr");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", lp)).is_err(),
        "qperf server still listens"
    );
    if let Some(ns) = err
        .split_whitespace()
        .find(|w| w.starts_with("nk") && w.ends_with(':'))
    {
        let ns = ns.trim_end_matches(':');
        let list = Command::new("ip")
            .args(["netns", "list"])
            .output()
            .expect("ip");
        assert!(
            !String::from_utf8_lossy(&list.stdout).contains(ns),
            "{ns} not deleted"
        );
    }
}

/// As root the embedded run has the pod twice: directly (`netns`) and
/// through an emulated ClusterIP (`service`, DNAT to the same pod, qperf
/// without `-ip`), and leaves no namespace or iptables rule behind.
#[test]
fn embedded_run_as_root_measures_the_pod_through_a_service() {
    if let Some(why) = testkit::netns::unavailable() {
        eprintln!("skipping: {why}");
        return;
    }
    let Some((qperf, wrk)) = tools() else { return };
    if testkit::stock::find("qperf").as_deref() == Some(qperf.as_path()) {
        eprintln!("skipping: the service target needs our qperf server (single-port data)");
        return;
    }
    let dir = TempDir::new("netbench-e2e-svc").expect("tmp");
    let out = dir.join("out");
    let done = run_netbench(&qperf, &wrk, &out, &["--msg-sizes", "64:64:*2"]);
    let err = done.stderr_str();
    assert_eq!(done.code(), Some(0), "stderr:\n{err}");
    let md = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(md.contains("| tcp_bw service |"), "{md}");
    assert!(
        md.contains("qperf 198.1") && md.contains(" -lp 4000 -t 1 "),
        "{md}"
    );
    // size, 3 × tcp_bw, 2 ratios, 3 × tcp_lat, 2 ratios; wrk: metric, 3, 2.
    let qrows = table_rows(&md, "qperf");
    let wrows = table_rows(&md, "wrk");
    assert_eq!(qrows.len(), 1, "{md}");
    assert_eq!(qrows[0].len(), 11, "{md}");
    for row in qrows.iter().chain(&wrows[..3]) {
        for cell in &row[1..] {
            assert!(!cell.starts_with("error") && *cell != "-", "{row:?}\n{md}");
        }
    }
    let vip = err
        .split("service ")
        .nth(1)
        .and_then(|s| s.split(':').next())
        .expect("service line on stderr")
        .to_string();
    let nat = Command::new("iptables")
        .args(["-t", "nat", "-S"])
        .output()
        .expect("iptables");
    assert!(
        !String::from_utf8_lossy(&nat.stdout).contains(&vip),
        "rules for {vip} left behind"
    );
}
