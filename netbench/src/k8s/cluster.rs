//! The few API calls `netbench k8s` makes, through the `kube` client:
//! create, watch pods until Ready or finished, read logs, delete.
//!
//! Every object created is remembered, so [`Cluster::cleanup`] deletes
//! exactly those (also after an error or Ctrl-C). Waiting is list + watch
//! (re-listing whenever a watch ends) with a deadline; pods stuck on an
//! image pull or a crash loop fail the wait at once with the kubelet's
//! reason instead of running into the deadline.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod, Service};
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams, WatchEvent, WatchParams};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::time::Instant;

/// Kinds of object netbench creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// apps/v1 Deployment.
    Deployment,
    /// v1 Service.
    Service,
    /// batch/v1 Job.
    Job,
}

/// Kubelet reasons that mean the image will not come.
const IMAGE_PULL: [&str; 5] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "RegistryUnavailable",
];
/// Kubelet reasons that mean the container will not run.
const WONT_RUN: [&str; 4] = [
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// What a wait is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Goal {
    /// `want` pods with condition Ready.
    Ready,
    /// `want` pods Succeeded or Failed (a Job's pods, logs wanted either way).
    Finished,
}

/// A connection to the cluster and what was created through it.
pub struct Cluster {
    client: Client,
    namespace: String,
    created: Vec<(Kind, String)>,
    /// Pause before re-listing when a watch ended early.
    pub relist_pause: Duration,
}

impl Cluster {
    /// Uses `client` in `namespace`.
    pub fn new(client: Client, namespace: &str) -> Cluster {
        Cluster {
            client,
            namespace: namespace.to_string(),
            created: Vec::new(),
            relist_pause: Duration::from_secs(1),
        }
    }

    fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Objects created and not yet deleted, oldest first.
    pub fn created(&self) -> &[(Kind, String)] {
        &self.created
    }

    async fn create<K>(&mut self, kind: Kind, obj: &K) -> Result<(), String>
    where
        K: Resource<Scope = NamespaceResourceScope> + Clone + Debug + Serialize + DeserializeOwned,
        K::DynamicType: Default,
    {
        let name = obj.meta().name.clone().unwrap_or_default();
        let what = format!("create {kind:?} {}/{name}", self.namespace);
        self.api::<K>()
            .create(&PostParams::default(), obj)
            .await
            .map_err(|e| explain(&what, &self.namespace, e))?;
        self.created.push((kind, name));
        Ok(())
    }

    /// Creates a Deployment.
    pub async fn create_deployment(&mut self, d: &Deployment) -> Result<(), String> {
        self.create(Kind::Deployment, d).await
    }

    /// Creates a Service.
    pub async fn create_service(&mut self, s: &Service) -> Result<(), String> {
        self.create(Kind::Service, s).await
    }

    /// Creates a Job.
    pub async fn create_job(&mut self, j: &Job) -> Result<(), String> {
        self.create(Kind::Job, j).await
    }

    /// Waits until `want` pods matching `selector` reach `goal`, or fails
    /// with the reason (image pull, crash loop, deadline with the last
    /// state seen). Returns those pods sorted by name.
    pub async fn wait_pods(
        &self,
        selector: &str,
        want: usize,
        goal: Goal,
        timeout: Duration,
        what: &str,
    ) -> Result<Vec<Pod>, String> {
        let api = self.api::<Pod>();
        let deadline = Instant::now() + timeout;
        let mut last = "no pod yet".to_string();
        let expired = |last: &str| {
            format!(
                "{what}: not {} after {:.0} s: {last}",
                match goal {
                    Goal::Ready => "Ready",
                    Goal::Finished => "finished",
                },
                timeout.as_secs_f64()
            )
        };
        loop {
            let list = match tokio::time::timeout_at(
                deadline,
                api.list(&ListParams::default().labels(selector)),
            )
            .await
            {
                Err(_) => return Err(expired(&last)),
                Ok(r) => {
                    r.map_err(|e| explain(&format!("{what}: list pods"), &self.namespace, e))?
                }
            };
            let mut pods: BTreeMap<String, Pod> = list
                .items
                .into_iter()
                .map(|p| (p.metadata.name.clone().unwrap_or_default(), p))
                .collect();
            match check(&pods, want, goal) {
                Check::Done(p) => return Ok(p),
                Check::Failed(e) => return Err(format!("{what}: {e}")),
                Check::Pending(p) => last = p,
            }
            let rv = list.metadata.resource_version.unwrap_or_default();
            let left = deadline.saturating_duration_since(Instant::now()).as_secs();
            let wp = WatchParams::default()
                .labels(selector)
                .timeout(u32::try_from(left.clamp(1, 290)).unwrap_or(290));
            let started = Instant::now();
            match tokio::time::timeout_at(deadline, api.watch(&wp, &rv)).await {
                Err(_) => return Err(expired(&last)),
                Ok(Err(e)) => {
                    return Err(explain(&format!("{what}: watch pods"), &self.namespace, e))
                }
                Ok(Ok(stream)) => {
                    use futures_util::StreamExt;
                    let mut stream = std::pin::pin!(stream);
                    loop {
                        let ev = match tokio::time::timeout_at(deadline, stream.next()).await {
                            Err(_) => return Err(expired(&last)),
                            Ok(None) => break,
                            Ok(Some(ev)) => ev,
                        };
                        match ev {
                            Ok(WatchEvent::Added(p) | WatchEvent::Modified(p)) => {
                                pods.insert(p.metadata.name.clone().unwrap_or_default(), p);
                            }
                            Ok(WatchEvent::Deleted(p)) => {
                                pods.remove(&p.metadata.name.clone().unwrap_or_default());
                            }
                            Ok(WatchEvent::Bookmark(_)) => continue,
                            // 410 Gone and the like: start again from a list.
                            Ok(WatchEvent::Error(_)) | Err(_) => break,
                        }
                        match check(&pods, want, goal) {
                            Check::Done(p) => return Ok(p),
                            Check::Failed(e) => return Err(format!("{what}: {e}")),
                            Check::Pending(p) => last = p,
                        }
                    }
                }
            }
            // A watch that ended at once must not make this a busy loop.
            if started.elapsed() < self.relist_pause {
                tokio::time::sleep_until((started + self.relist_pause).min(deadline)).await;
            }
        }
    }

    /// The log of a pod's only container.
    pub async fn logs(&self, pod: &str) -> Result<String, String> {
        self.api::<Pod>()
            .logs(pod, &LogParams::default())
            .await
            .map_err(|e| explain(&format!("logs of pod {pod}"), &self.namespace, e))
    }

    /// Deletes one created object now (a finished Job and its pods).
    pub async fn delete(&mut self, kind: Kind, name: &str) -> Result<(), String> {
        let r = self.delete_one(kind, name).await;
        self.created.retain(|(k, n)| !(*k == kind && n == name));
        r
    }

    async fn delete_one(&self, kind: Kind, name: &str) -> Result<(), String> {
        // Background propagation: the Deployment's ReplicaSet and pods and
        // the Job's pods go with them.
        let dp = DeleteParams::background();
        let r = match kind {
            Kind::Deployment => self.api::<Deployment>().delete(name, &dp).await.map(drop),
            Kind::Service => self.api::<Service>().delete(name, &dp).await.map(drop),
            Kind::Job => self.api::<Job>().delete(name, &dp).await.map(drop),
        };
        match r {
            Ok(()) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(explain(
                &format!("delete {kind:?} {}/{name}", self.namespace),
                &self.namespace,
                e,
            )),
        }
    }

    /// Deletes everything created, newest first; returns what failed (with
    /// the `kubectl delete` to run by hand).
    pub async fn cleanup(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        while let Some((kind, name)) = self.created.pop() {
            let r = tokio::time::timeout(Duration::from_secs(30), self.delete_one(kind, &name))
                .await
                .unwrap_or_else(|_| Err(format!("delete {kind:?} {name}: timed out")));
            if let Err(e) = r {
                problems.push(format!(
                    "{e}; remove it with: kubectl -n {} delete {} {name}",
                    self.namespace,
                    format!("{kind:?}").to_lowercase()
                ));
            }
        }
        problems
    }
}

/// A kube error as one clear line; 403 says which permissions are needed.
pub fn explain(what: &str, namespace: &str, e: kube::Error) -> String {
    match e {
        kube::Error::Api(s) if s.code == 403 => format!(
            "{what}: forbidden: {} (netbench needs create, get, list, watch and delete on \
             deployments, services, jobs and pods, and get on pods/log, in namespace {namespace})",
            s.message
        ),
        kube::Error::Api(s) if s.code == 404 && s.message.contains("namespaces") => format!(
            "{what}: {} (create it with: kubectl create namespace {namespace})",
            s.message
        ),
        kube::Error::Api(s) => format!("{what}: {} ({} {})", s.message, s.code, s.reason),
        other => format!("{what}: {other}"),
    }
}

enum Check {
    Done(Vec<Pod>),
    Failed(String),
    Pending(String),
}

fn statuses(p: &Pod) -> impl Iterator<Item = &ContainerStatus> {
    let s = p.status.as_ref();
    s.and_then(|s| s.init_container_statuses.as_ref())
        .into_iter()
        .flatten()
        .chain(
            s.and_then(|s| s.container_statuses.as_ref())
                .into_iter()
                .flatten(),
        )
}

fn phase(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

fn is_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Why a pod is not there yet, in kubectl's words.
fn pending_reason(p: &Pod) -> String {
    let name = p.metadata.name.as_deref().unwrap_or("?");
    let waiting = statuses(p)
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone())
        .next();
    let unschedulable = p
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| {
            c.iter()
                .find(|c| c.type_ == "PodScheduled" && c.status == "False")
        })
        .map(|c| c.message.clone().unwrap_or_default());
    match (waiting, unschedulable) {
        (_, Some(m)) => format!("pod {name}: unschedulable: {m}"),
        (Some(w), None) => format!("pod {name}: {} ({w})", phase(p)),
        (None, None) => format!("pod {name}: {}", phase(p)),
    }
}

fn check(pods: &BTreeMap<String, Pod>, want: usize, goal: Goal) -> Check {
    for p in pods.values() {
        let name = p.metadata.name.as_deref().unwrap_or("?");
        for c in statuses(p) {
            let Some(w) = c.state.as_ref().and_then(|s| s.waiting.as_ref()) else {
                continue;
            };
            let reason = w.reason.as_deref().unwrap_or("");
            let msg = w.message.as_deref().unwrap_or("");
            if IMAGE_PULL.contains(&reason) {
                return Check::Failed(format!(
                    "pod {name}: cannot pull image {}: {reason}: {msg}",
                    c.image
                ));
            }
            if WONT_RUN.contains(&reason) {
                return Check::Failed(format!(
                    "pod {name}: container {} will not run: {reason}: {msg}",
                    c.name
                ));
            }
        }
        if goal == Goal::Ready && matches!(phase(p), "Failed" | "Succeeded") {
            return Check::Failed(format!("pod {name}: server exited ({})", phase(p)));
        }
    }
    let done: Vec<Pod> = pods
        .values()
        .filter(|p| match goal {
            Goal::Ready => is_ready(p),
            Goal::Finished => matches!(phase(p), "Succeeded" | "Failed"),
        })
        .cloned()
        .collect();
    if done.len() >= want {
        return Check::Done(done);
    }
    let waiting: Vec<String> = pods
        .values()
        .filter(|p| !done.iter().any(|d| d.metadata.name == p.metadata.name))
        .map(pending_reason)
        .collect();
    Check::Pending(if waiting.is_empty() {
        format!("{} of {want} pods exist", pods.len())
    } else {
        waiting.join("; ")
    })
}

/// Exit code of a finished pod's first container.
pub fn exit_code(p: &Pod) -> Option<i32> {
    statuses(p)
        .find_map(|c| c.state.as_ref()?.terminated.as_ref())
        .map(|t| t.exit_code)
}

/// Completion index of an Indexed Job's pod.
pub fn completion_index(p: &Pod) -> Option<u32> {
    p.metadata
        .annotations
        .as_ref()?
        .get("batch.kubernetes.io/job-completion-index")?
        .parse()
        .ok()
}
