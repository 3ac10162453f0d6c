//! A fake Kubernetes API server for the `kube` client code: a small hyper
//! server on 127.0.0.1 answering the few calls `netbench k8s` makes (create
//! Deployments/Services/Jobs, list and watch pods by label, pod logs,
//! delete) with the API's JSON. Pods are made up from the created objects;
//! how they behave is the [`Scenario`].

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
            let text = if pod.contains("-qperf-") {
                golden("qperf/tcp_bw_tcp_lat_oo_vu.txt")
            } else {
                golden("wrk/01-t2-c100-d3s-latency.stdout")
            };
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
