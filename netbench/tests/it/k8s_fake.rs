//! A fake Kubernetes API server for the `kube` client code: a small hyper
//! server on 127.0.0.1 answering the few calls `netbench k8s` makes (create
//! Deployments/Services/Jobs, list and watch pods by label, pod logs,
//! delete) with the API's JSON. Pods are made up from the created objects;
//! how they behave is the [`Scenario`]. A wrk pod's log is a real wrk
//! capture, the pod wrapper's marker and a made-up `--json` document
//! ([`fake_wrk_doc`]) whose window opens at the Job's `--start-at`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

use crate::support::golden;

/// How the fake cluster behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Pods come up (after one watch event); Jobs succeed with real captures as logs.
    Ok,
    /// Creating a Service is forbidden (after the Deployment was created).
    ForbiddenServices,
    /// Server pods fail to pull their image.
    ImagePull,
    /// Server pods stay Pending (unschedulable) forever.
    NeverReady,
    /// As `Ok`, but wrk pod index 2 opens its window [`LATE_MS`] after the
    /// common start.
    LateWorker,
}

/// How late the late worker starts.
pub const LATE_MS: u64 = 5000;

/// Latency samples (µs) of wrk worker `index`: distinct per worker, so the
/// merged percentiles differ from any one worker's.
pub fn fake_wrk_samples(index: u64) -> Vec<u64> {
    (0..200 * (index + 1))
        .map(|k| 100 + (k * 37 + index * 1500) % (3000 + index * 2000))
        .collect()
}

/// wrk's histogram limit for the default 2 s timeout.
pub const FAKE_LIMIT: u64 = 2_000_001;

/// The `--json` document of wrk worker `index`, window from `start_ms`.
pub fn fake_wrk_doc(index: u64, start_ms: u64) -> String {
    use common::wrk::stats::{SparseStats, Stats};
    let samples = fake_wrk_samples(index);
    let mut lat = Stats::new(FAKE_LIMIT);
    for v in &samples {
        lat.record(*v);
    }
    let mut rps = Stats::new(10_000_001);
    for v in [40 + index, 50, 60 + 2 * index] {
        rps.record(v);
    }
    let start_us = start_ms * 1000 + index * 2000;
    json!({"format_version": 1, "tool": "wrk-rs", "mode": "wrk",
        "settings": {"url": "http://fake:8080/", "threads": 2, "connections": 10,
                     "connections_per_thread": 5, "duration_s": 3, "latency": true},
        "window": {"start_unix_us": start_us, "end_unix_us": start_us + 3_000_000 + index * 500,
                   "runtime_us": 3_000_000},
        "totals": {"requests": samples.len(), "bytes": 100 * samples.len() as u64,
                   "errors": {"connect": 0, "read": index, "write": 0, "timeout": 0},
                   "non_2xx_3xx": 0},
        "histograms": {"wrk_latency_raw": SparseStats::from_stats(&lat),
                       "wrk_requests": SparseStats::from_stats(&rps)}})
    .to_string()
}

/// The pod log of `pod` (`<job>-<index>`), from the Job that made it.
fn pod_log(scenario: Scenario, seen: &Seen, pod: &str) -> String {
    if pod.contains("-qperf-") {
        return golden("qperf/tcp_bw_tcp_lat_oo_vu.txt");
    }
    let text = golden("wrk/01-t2-c100-d3s-latency.stdout");
    let (job, index) = pod.rsplit_once('-').unwrap_or((pod, "0"));
    let index: u64 = index.parse().unwrap_or(0);
    let command: Vec<String> = seen
        .created
        .iter()
        .find(|(k, n, _)| k == "Job" && n == job)
        .and_then(|(_, _, b)| {
            serde_json::from_value(
                b["spec"]["template"]["spec"]["containers"][0]["command"].clone(),
            )
            .ok()
        })
        .unwrap_or_default();
    let start_at = command
        .iter()
        .position(|w| w == "--start-at")
        .and_then(|i| command.get(i + 1)?.parse::<u64>().ok());
    let late = if scenario == Scenario::LateWorker && index == 2 {
        LATE_MS
    } else {
        0
    };
    let start = start_at.unwrap_or(1_700_000_000_000) + late;
    format!(
        "{text}\n{}\n{}\n",
        netbench::workers::pod::MARKER,
        fake_wrk_doc(index, start)
    )
}

/// What the fake saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// (kind, name, body) of every successful create.
    pub created: Vec<(String, String, Value)>,
    /// (kind, name) of every delete.
    pub deleted: Vec<(String, String)>,
    /// `METHOD path?query` of every request.
    pub requests: Vec<String>,
}

impl Seen {
    /// Created objects that were not deleted.
    pub fn left_behind(&self) -> Vec<(String, String)> {
        self.created
            .iter()
            .map(|(k, n, _)| (k.clone(), n.clone()))
            .filter(|o| !self.deleted.contains(o))
            .collect()
    }
}

/// A running fake API server (stops with the test process).
pub struct FakeApi {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it saw so far.
    pub seen: Arc<Mutex<Seen>>,
}

impl FakeApi {
    /// Starts one on a free loopback port, in its own thread and runtime.
    pub fn start(scenario: Scenario) -> FakeApi {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (tx, rx) = std::sync::mpsc::channel();
        let shared = seen.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                tx.send(l.local_addr().expect("addr")).expect("send addr");
                loop {
                    let Ok((sock, _)) = l.accept().await else {
                        continue;
                    };
                    let seen = shared.clone();
                    tokio::spawn(async move {
                        let svc = hyper::service::service_fn(move |req| {
                            handle(scenario, seen.clone(), req)
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(sock), svc)
                            .await;
                    });
                }
            });
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("fake API up");
        FakeApi { addr, seen }
    }

    /// The base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kube client for it.
    pub fn client(&self) -> kube::Client {
        let cfg = kube::Config::new(self.url().parse().expect("url"));
        kube::Client::try_from(cfg).expect("client")
    }

    /// A kubeconfig file naming it, as kubectl would read it.
    pub fn kubeconfig(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let p = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\n\
             contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: bench\n\
             current-context: fake\nusers:\n- name: fake\n  user:\n    token: not-a-secret\n",
            self.url()
        );
        std::fs::write(&p, text).expect("write kubeconfig");
        p
    }
}

type Resp = Response<Full<Bytes>>;

fn reply(code: StatusCode, body: Value) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = code;
    r.headers_mut()
        .insert("content-type", "application/json".parse().expect("header"));
    r
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

fn query(q: &str) -> BTreeMap<String, String> {
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn selector(s: &str) -> BTreeMap<String, String> {
    s.split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Pods the created (and not deleted) objects would have, matching `sel`;
/// `settled` gives their final state, else the first one (Pending).
fn pods(
    scenario: Scenario,
    seen: &Seen,
    sel: &BTreeMap<String, String>,
    settled: bool,
) -> Vec<Value> {
    let mut out = Vec::new();
    for (kind, name, body) in &seen.created {
        if seen.deleted.contains(&(kind.clone(), name.clone())) {
            continue;
        }
        let (count, is_job) = match kind.as_str() {
            "Deployment" => (body["spec"]["replicas"].as_u64().unwrap_or(1), false),
            "Job" => (body["spec"]["completions"].as_u64().unwrap_or(1), true),
            _ => continue,
        };
        let tmpl = &body["spec"]["template"];
        let labels = tmpl["metadata"]["labels"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        if !sel
            .iter()
            .all(|(k, v)| labels.get(k).and_then(Value::as_str) == Some(v))
        {
            continue;
        }
        let image = tmpl["spec"]["containers"][0]["image"].clone();
        for i in 0..count {
            let pod_name = format!("{name}-{i}");
            let pending = json!({"phase": "Pending", "containerStatuses": [{"name": "c", "image": image,
                "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ContainerCreating"}}}]});
            let st = match (settled, is_job, scenario) {
                (false, _, _) => pending,
                (true, true, _) => json!({"phase": "Succeeded", "containerStatuses": [{"name": "c",
                    "image": image, "imageID": "", "ready": false, "restartCount": 0,
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
                (true, false, Scenario::ImagePull) => {
                    json!({"phase": "Pending", "containerStatuses": [{
                    "name": "qperf", "image": image, "imageID": "", "ready": false, "restartCount": 0,
                    "state": {"waiting": {"reason": "ErrImagePull",
                        "message": "failed to pull and unpack image: not found"}}}]})
                }
                (true, false, Scenario::NeverReady) => json!({"phase": "Pending", "conditions": [{
                    "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                    "message": "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."}]}),
                (true, false, _) => {
                    json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                    "containerStatuses": [{"name": "qperf", "image": image, "imageID": "", "ready": true,
                    "restartCount": 0, "state": {"running": {}}}]})
                }
            };
            let mut annotations = json!({});
            if is_job {
                annotations = json!({"batch.kubernetes.io/job-completion-index": i.to_string()});
            }
            out.push(json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": pod_name, "namespace": "bench", "labels": labels,
                             "annotations": annotations, "resourceVersion": "2"},
                "spec": {"containers": tmpl["spec"]["containers"]},
                "status": st}));
        }
    }
    out
}

fn kind_of(resource: &str) -> &'static str {
    match resource {
        "deployments" => "Deployment",
        "services" => "Service",
        "jobs" => "Job",
        "pods" => "Pod",
        _ => "?",
    }
}

async fn handle(
    scenario: Scenario,
    seen: Arc<Mutex<Seen>>,
    req: Request<Incoming>,
) -> Result<Resp, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let q = query(req.uri().query().unwrap_or(""));
    seen.lock().unwrap().requests.push(format!(
        "{method} {path}?{}",
        req.uri().query().unwrap_or("")
    ));
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    // /api/v1/namespaces/NS/RES[/NAME[/SUB]] or /apis/G/V/namespaces/NS/RES[/NAME]
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let Some(ns_at) = parts.iter().position(|p| *p == "namespaces") else {
        return Ok(reply(
            StatusCode::NOT_FOUND,
            status(404, "NotFound", "no such path"),
        ));
    };
    let rest = &parts[ns_at + 2..];
    let (resource, name, sub) = (
        rest.first().copied().unwrap_or(""),
        rest.get(1).copied(),
        rest.get(2).copied(),
    );
    let kind = kind_of(resource);
    Ok(match (method, name, sub) {
        (Method::POST, None, _) => {
            if scenario == Scenario::ForbiddenServices && resource == "services" {
                return Ok(reply(StatusCode::FORBIDDEN, status(403, "Forbidden",
                    "services is forbidden: User \"ci\" cannot create resource \"services\" in API group \"\" in the namespace \"bench\"")));
            }
            let mut obj: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
            obj["metadata"]["uid"] = json!(format!("uid-{name}"));
            obj["metadata"]["resourceVersion"] = json!("1");
            seen.lock()
                .unwrap()
                .created
                .push((kind.to_string(), name, obj.clone()));
            reply(StatusCode::CREATED, obj)
        }
        (Method::GET, None, _) if resource == "pods" => {
            let sel = selector(q.get("labelSelector").map_or("", String::as_str));
            if q.get("watch").map(String::as_str) == Some("true") {
                // One MODIFIED event per pod with its final state, then the
                // stream ends (the client re-lists); nothing for pods that
                // never change.
                tokio::time::sleep(Duration::from_millis(100)).await;
                let items = pods(scenario, &seen.lock().unwrap(), &sel, true);
                let mut text = String::new();
                for p in items {
                    text.push_str(&json!({"type": "MODIFIED", "object": p}).to_string());
                    text.push('\n');
                }
                let mut r = Response::new(Full::new(Bytes::from(text)));
                r.headers_mut()
                    .insert("content-type", "application/json".parse().unwrap());
                r
            } else {
                let items = pods(scenario, &seen.lock().unwrap(), &sel, false);
                reply(
                    StatusCode::OK,
                    json!({"apiVersion": "v1", "kind": "PodList",
                    "metadata": {"resourceVersion": "1"}, "items": items}),
                )
            }
        }
        (Method::GET, Some(pod), Some("log")) => {
            let text = pod_log(scenario, &seen.lock().unwrap(), pod);
            let mut r = Response::new(Full::new(Bytes::from(text)));
            r.headers_mut()
                .insert("content-type", "text/plain".parse().unwrap());
            r
        }
        (Method::DELETE, Some(name), None) => {
            seen.lock()
                .unwrap()
                .deleted
                .push((kind.to_string(), name.to_string()));
            reply(
                StatusCode::OK,
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
                "status": "Success", "code": 200}),
            )
        }
        _ => reply(StatusCode::NOT_FOUND, status(404, "NotFound", "not faked")),
    })
}

/// The union of every worker's samples, corrected as wrk (and the merge)
/// does with the merged figures: what one generator would have printed.
fn union_of(workers: u64) -> common::wrk::stats::Stats {
    let mut all = common::wrk::stats::Stats::new(FAKE_LIMIT);
    let mut complete = 0u64;
    for i in 0..workers {
        for v in fake_wrk_samples(i) {
            all.record(v);
            complete += 1;
        }
    }
    let per_conn = complete / (10 * workers);
    all.correct(3_000_000 / per_conn);
    all
}

/// A wrk Job of 3 pods (completion indexes 0..2) whose logs carry their
/// `--json` documents: one cell with the sum of the requests and the
/// percentiles of the union of the samples; a common `--start-at` in
/// every wrk Job, none in the one-pod qperf Jobs.
#[test]
fn three_wrk_pods_are_merged_into_the_cell() {
    let before_ms = netbench::workers::start_at_ms(0.0);
    let (api, got, fatal) = crate::k8s_cluster::run(Scenario::Ok, "wrk_workers = 3\n");
    assert_eq!(fatal, None);
    let total: u64 = (0..3).map(|i| fake_wrk_samples(i).len() as u64).sum();
    let union = union_of(3);
    assert_eq!(got.workers.len(), 3, "one per target");
    for (t, rep) in got.targets.iter().zip(&got.workers) {
        assert_eq!(rep.target, t.name);
        let w = t.wrk.as_ref().expect("wrk run");
        let r = w
            .report
            .as_ref()
            .expect("merged text parses as one wrk run");
        assert_eq!(r.requests, Some(total));
        assert_eq!((r.threads, r.connections), (Some(6), Some(30)));
        assert_eq!(r.socket_errors.read, 3);
        crate::support::assert_percentile_lines(&w.outcome.stdout, &union);
        // Not any single worker's figure: the merge really added them.
        let single = union_of(1).percentile(90.0);
        assert_ne!(single, union.percentile(90.0));
        assert!(w.outcome.command.join(" ").contains(" --start-at "));
        for i in 0..3 {
            let row = format!("| pod netbench-{}-wrk-{i} |", t.name);
            assert!(rep.table.contains(&row), "{}", rep.table);
        }
        assert!(
            rep.table
                .contains("window skew: starts within 4.0 ms, ends within 5.0 ms"),
            "{}",
            rep.table
        );
        assert!(rep.problems.is_empty(), "{:?}", rep.problems);
    }
    let jsons = got
        .logs
        .iter()
        .filter(|(n, _)| n.ends_with(".json"))
        .count();
    assert_eq!(jsons, 9, "every wrk pod's document is kept");
    let seen = api.seen.lock().unwrap();
    for (kind, name, body) in &seen.created {
        if kind != "Job" {
            continue;
        }
        let cmd: Vec<String> = serde_json::from_value(
            body["spec"]["template"]["spec"]["containers"][0]["command"].clone(),
        )
        .expect("command");
        let at = cmd
            .iter()
            .position(|w| w == "--start-at")
            .map(|i| cmd[i + 1].parse::<u64>().expect("ms"));
        if name.ends_with("-wrk") {
            let at = at.expect("wrk Job has --start-at");
            let lead = netbench::k8s::config::DEFAULT_START_LEAD_SECS as u64 * 1000;
            assert!(at >= before_ms + lead, "{at} vs {before_ms}");
            assert!(cmd.contains(&"--json".to_string()));
        } else {
            assert_eq!(at, None, "{name}: qperf has one pod and no barrier");
        }
    }
}

/// A pod whose window opens after the common start is named in the
/// problems (and the report's notes), not silently merged as aligned.
#[test]
fn a_late_pod_is_reported() {
    let (_api, got, fatal) = crate::k8s_cluster::run(Scenario::LateWorker, "wrk_workers = 3\n");
    assert_eq!(fatal, None);
    let rep = &got.workers[0];
    assert_eq!(rep.problems.len(), 1, "{:?}", rep.problems);
    let want = format!(
        "host: wrk pod netbench-host-wrk-2 started {} ms after the common start time",
        LATE_MS + 4
    );
    assert!(rep.problems[0].starts_with(&want), "{}", rep.problems[0]);
    assert!(
        rep.table.contains("starts within 5004.0 ms"),
        "{}",
        rep.table
    );
    assert!(got.targets[0].wrk.as_ref().unwrap().report.is_some());
}
