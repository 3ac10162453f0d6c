//! The `kube` client code of `netbench k8s` against the in-process fake API
//! server ([`crate::k8s_fake`]): create, watch to Ready, logs, delete, and
//! the error paths (forbidden, image pull failure, never Ready), each of
//! which must end with a clear message and nothing left behind. Then the
//! binary itself, finding the fake through KUBECONFIG, also on Ctrl-C.

use std::process::Command;
use std::time::{Duration, Instant};

use netbench::k8s::{self, config, manifests};
use testkit::proc::ChildGuard;
use testkit::tmp::TempDir;

use crate::k8s_fake::{FakeApi, Scenario};
use crate::k8s_manifests::CONFIG;

pub fn run(scenario: Scenario, extra: &str) -> (FakeApi, k8s::run::Collected, Option<String>) {
    let api = FakeApi::start(scenario);
    let cfg = config::parse(&format!("{CONFIG}{extra}"), "k8s.toml").expect("config");
    let plan = manifests::build(&cfg, "t1");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (collected, fatal) = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(120),
            k8s::run_on(api.client(), &cfg, &plan),
        )
        .await
        .expect("run_on finishes")
    });
    (api, collected, fatal)
}

#[test]
fn full_run_creates_waits_reads_logs_and_deletes() {
    let (api, got, fatal) = run(Scenario::Ok, "");
    assert_eq!(fatal, None);
    let names: Vec<&str> = got.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["host", "runc", "kata"]);
    for t in &got.targets {
        let q = t.qperf.as_ref().expect("qperf run");
        assert_eq!(q.outcome.exit_code, Some(0));
        assert_eq!(
            q.cell("tcp_bw", 1),
            netbench::results::Cell::Value("1.21 MB/sec".into(), 1.21e6)
        );
        let w = t.wrk.as_ref().expect("wrk run");
        assert!(w.report.is_some(), "wrk log parsed");
        assert!(q
            .outcome
            .command
            .join(" ")
            .starts_with("qperf --json /tmp/netbench-result.json netbench-"));
    }
    // 1 qperf + 2 wrk workers per target, and the wrk pods' documents.
    let logs = got.logs.iter().filter(|(n, _)| n.ends_with(".log")).count();
    assert_eq!((logs, got.logs.len()), (9, 15));
    assert!(got.logs.iter().any(|(n, _)| n == "netbench-kata-wrk-1.log"));
    let seen = api.seen.lock().unwrap();
    assert_eq!(seen.left_behind(), Vec::<(String, String)>::new());
    let kinds = |k: &str| seen.created.iter().filter(|(kind, ..)| kind == k).count();
    assert_eq!(
        (kinds("Deployment"), kinds("Service"), kinds("Job")),
        (3, 3, 6)
    );
    // Watched, not only listed; Jobs one at a time: each deleted before the next.
    assert!(seen.requests.iter().any(|r| r.contains("watch=true")));
    let job_events: Vec<String> = seen
        .requests
        .iter()
        .filter(|r| r.contains("/jobs"))
        .map(|r| r.split('?').next().unwrap_or("").to_string())
        .collect();
    for pair in job_events.chunks(2) {
        assert!(
            pair[0].starts_with("POST") && pair[1].starts_with("DELETE"),
            "{pair:?}"
        );
    }
}

#[test]
fn forbidden_is_clear_and_cleans_up() {
    let (api, got, fatal) = run(Scenario::ForbiddenServices, "");
    let e = fatal.expect("fails");
    assert!(e.contains("forbidden"), "{e}");
    assert!(e.contains("cannot create resource \"services\""), "{e}");
    assert!(e.contains("in namespace bench"), "{e}");
    assert!(got.targets.is_empty());
    let seen = api.seen.lock().unwrap();
    assert_eq!(seen.created.len(), 1, "the Deployment before the Service");
    assert_eq!(seen.left_behind(), Vec::<(String, String)>::new());
}

#[test]
fn image_pull_failure_is_clear_and_cleans_up() {
    let (api, _, fatal) = run(Scenario::ImagePull, "");
    let e = fatal.expect("fails");
    assert!(
        e.contains("cannot pull image registry.example/netbench:0.1: ErrImagePull"),
        "{e}"
    );
    assert!(e.contains("server netbench-host"), "{e}");
    assert_eq!(
        api.seen.lock().unwrap().left_behind(),
        Vec::<(String, String)>::new()
    );
}

#[test]
fn never_ready_times_out_with_the_reason_and_cleans_up() {
    let started = Instant::now();
    let (api, _, fatal) = run(Scenario::NeverReady, "ready_timeout = \"2s\"\n");
    let e = fatal.expect("fails");
    assert!(e.contains("not Ready after 2 s"), "{e}");
    assert!(e.contains("unschedulable: 0/3 nodes are available"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(60));
    let seen = api.seen.lock().unwrap();
    assert_eq!(seen.created.len(), 6);
    assert_eq!(seen.left_behind(), Vec::<(String, String)>::new());
}

fn netbench(api: &FakeApi, dir: &TempDir, extra: &str, args: &[&str]) -> ChildGuard {
    let cfg = dir.join("k8s.toml");
    std::fs::write(&cfg, format!("{CONFIG}{extra}")).expect("config");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_netbench"));
    cmd.arg("k8s")
        .args(args)
        .arg("-o")
        .arg(dir.join("out"))
        .arg(&cfg)
        .env("KUBECONFIG", api.kubeconfig(dir.path()))
        .env_remove("KUBERNETES_SERVICE_HOST");
    ChildGuard::spawn(&mut cmd).expect("spawn netbench")
}

#[test]
fn binary_finds_the_cluster_through_kubeconfig() {
    let api = FakeApi::start(Scenario::Ok);
    let dir = TempDir::new("k8s-e2e").expect("tmp");
    let done = netbench(&api, &dir, "", &[])
        .finish(Duration::from_secs(120))
        .expect("finish");
    assert_eq!(done.code(), Some(0), "{}", done.stderr_str());
    let out = done.stdout_str();
    assert!(
        out.contains("| tcp_bw host | tcp_bw runc | tcp_bw kata |"),
        "{out}"
    );
    assert!(out.contains("1.21 MB/sec"), "{out}");
    let report = std::fs::read_to_string(dir.join("out/report.md")).expect("report.md");
    assert!(
        report
            .contains("`qperf --json /tmp/netbench-result.json netbench-runc -lp 4000 -oo msg_size:1:256K:*64 -vu tcp_bw tcp_lat`"),
        "{report}"
    );
    assert!(dir.join("out/k8s-logs/netbench-runc-wrk-1.log").is_file());
    assert!(dir.join("out/k8s-logs/netbench-runc-wrk-1.json").is_file());
    // Two wrk pods per target: merged cells, and their workers in the report.
    assert!(report.contains("## Workers"), "{report}");
    assert!(report.contains("| pod netbench-kata-wrk-1 |"), "{report}");
    assert_eq!(
        api.seen.lock().unwrap().left_behind(),
        Vec::<(String, String)>::new()
    );
}

#[test]
fn binary_cleans_up_on_ctrl_c() {
    let api = FakeApi::start(Scenario::NeverReady);
    let dir = TempDir::new("k8s-int").expect("tmp");
    let mut child = netbench(&api, &dir, "ready_timeout = \"90s\"\n", &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while api.seen.lock().unwrap().created.len() < 6 {
        assert!(Instant::now() < deadline, "servers never created");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.signal(libc::SIGINT).expect("SIGINT");
    let done = child.finish(Duration::from_secs(60)).expect("finish");
    assert_eq!(done.code(), Some(130), "{}", done.stderr_str());
    assert!(
        done.stderr_str().contains("deleting the 6 objects"),
        "{}",
        done.stderr_str()
    );
    assert_eq!(
        api.seen.lock().unwrap().left_behind(),
        Vec::<(String, String)>::new()
    );
}

#[test]
fn binary_dry_run_prints_the_manifests() {
    let dir = TempDir::new("k8s-dry").expect("tmp");
    let cfg = dir.join("k8s.toml");
    std::fs::write(&cfg, CONFIG).expect("config");
    let done = ChildGuard::spawn(
        Command::new(env!("CARGO_BIN_EXE_netbench"))
            .args(["k8s", "--dry-run", "--run-id", "golden"])
            .arg(&cfg)
            .env("KUBECONFIG", "/nonexistent"),
    )
    .expect("spawn")
    .finish(Duration::from_secs(30))
    .expect("finish");
    assert_eq!(done.code(), Some(0), "{}", done.stderr_str());
    let want = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/k8s.yaml"
    ))
    .expect("golden");
    assert!(
        done.stdout_str() == want,
        "dry-run output differs from tests/golden/k8s.yaml"
    );
}
