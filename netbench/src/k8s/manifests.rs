//! The objects `netbench k8s` creates, built as typed `k8s-openapi` structs
//! (so a typo is a compile error, not a rejected manifest), and their YAML.
//!
//! Per target (`host`, or one per RuntimeClass):
//! - Deployment `netbench-<t>`: one pod on `server_node` with the qperf
//!   server (`qperf -lp 4000`: control and data on one port) and the HTTP
//!   server (`netbench serve-http 0.0.0.0:8080`); `hostNetwork: true` for
//!   `host`, `runtimeClassName: <t>` otherwise;
//! - Service `netbench-<t>`: port 4000 TCP and UDP (qperf), 8080 (HTTP);
//! - Indexed Jobs `netbench-<t>-qperf` (1 pod) and `netbench-<t>-wrk`
//!   (`wrk_workers` pods spread over `client_nodes`) running the seed's
//!   command lines against the Service name, plus `--json` at the end,
//!   under a `sh` wrapper that appends the document to the pod's log
//!   ([`crate::workers::pod`]). A wrk Job of several pods gets a common
//!   `--start-at MS` when netbench creates it ([`with_start_at`]); the
//!   dry-run YAML has none (nothing hands one out there).
//!
//! Everything carries `netbench.io/run=<id>` so a run's objects can be
//! told apart (and found by hand if netbench was killed).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Affinity, Container, ContainerPort, NodeAffinity, NodeSelector, NodeSelectorRequirement,
    NodeSelectorTerm, PodSpec, PodTemplateSpec, Probe, Service, ServicePort, ServiceSpec,
    TCPSocketAction, TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;

use crate::bench;
use crate::config::QperfTarget;
use crate::k8s::config::{K8sConfig, K8sTarget, TargetKind};
use crate::workers::pod;

/// qperf listen port (control and data: our server's single-port mode).
pub const QPERF_PORT: u16 = 4000;
/// HTTP server port.
pub const HTTP_PORT: u16 = 8080;
/// Label naming the run.
pub const RUN_LABEL: &str = "netbench.io/run";
/// Label naming the target.
pub const TARGET_LABEL: &str = "netbench.io/target";
/// Label naming the role (`server`, `qperf`, `wrk`).
pub const ROLE_LABEL: &str = "netbench.io/role";
/// Node label the placement uses.
const HOSTNAME: &str = "kubernetes.io/hostname";

/// A client Job's tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tool {
    /// `qperf` client.
    Qperf,
    /// `wrk`.
    Wrk,
}

impl Tool {
    /// Role label value and Job name suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            Tool::Qperf => "qperf",
            Tool::Wrk => "wrk",
        }
    }
}

/// One client Job.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientJob {
    /// Which tool it runs.
    pub tool: Tool,
    /// Pods (completions).
    pub pods: u32,
    /// Seconds netbench waits for it (also its activeDeadlineSeconds).
    pub deadline_secs: u64,
    /// The object.
    pub job: Job,
}

/// Every object of one target.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetObjects {
    /// The target.
    pub target: K8sTarget,
    /// Server Deployment.
    pub deployment: Deployment,
    /// Its Service.
    pub service: Service,
    /// qperf then wrk.
    pub jobs: Vec<ClientJob>,
}

impl TargetObjects {
    /// Label selector of the server pod.
    pub fn server_selector(&self, run_id: &str) -> String {
        selector(&server_labels(run_id, &self.target.name))
    }
}

/// The rendered plan of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Run id in every object's labels.
    pub run_id: String,
    /// Namespace.
    pub namespace: String,
    /// Per target, in column order.
    pub targets: Vec<TargetObjects>,
}

/// Builds every object for `cfg`, labelled with `run_id`.
pub fn build(cfg: &K8sConfig, run_id: &str) -> Plan {
    Plan {
        run_id: run_id.to_string(),
        namespace: cfg.namespace.clone(),
        targets: cfg
            .targets
            .iter()
            .map(|t| TargetObjects {
                target: t.clone(),
                deployment: deployment(cfg, run_id, t),
                service: service(cfg, run_id, t),
                jobs: vec![
                    client_job(cfg, run_id, t, Tool::Qperf),
                    client_job(cfg, run_id, t, Tool::Wrk),
                ],
            })
            .collect(),
    }
}

/// Server object name (Deployment and Service) of a target.
pub fn server_name(target: &str) -> String {
    format!("netbench-{target}")
}

/// Client Job name.
pub fn job_name(target: &str, tool: Tool) -> String {
    format!("netbench-{target}-{}", tool.as_str())
}

/// `k=v,k=v` for a label map.
pub fn selector(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn labels(run_id: &str, target: &str, role: &str) -> BTreeMap<String, String> {
    [
        ("app.kubernetes.io/managed-by", "netbench"),
        (RUN_LABEL, run_id),
        (TARGET_LABEL, target),
        (ROLE_LABEL, role),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn server_labels(run_id: &str, target: &str) -> BTreeMap<String, String> {
    labels(run_id, target, "server")
}

/// Pod labels of a client Job (`netbench-<t>-<tool>` pods).
pub fn job_pod_labels(run_id: &str, target: &str, tool: Tool) -> BTreeMap<String, String> {
    labels(run_id, target, tool.as_str())
}

fn meta(cfg: &K8sConfig, name: String, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(cfg.namespace.clone()),
        labels: Some(labels),
        ..ObjectMeta::default()
    }
}

fn container(cfg: &K8sConfig, name: &str, args: Vec<String>) -> Container {
    Container {
        name: name.to_string(),
        image: Some(cfg.image.clone()),
        image_pull_policy: cfg.image_pull_policy.clone(),
        command: Some(args),
        ..Container::default()
    }
}

fn port(name: &str, port: u16, protocol: &str) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_string()),
        container_port: i32::from(port),
        protocol: Some(protocol.to_string()),
        ..ContainerPort::default()
    }
}

fn deployment(cfg: &K8sConfig, run_id: &str, t: &K8sTarget) -> Deployment {
    let labels = server_labels(run_id, &t.name);
    let qperf = Container {
        ports: Some(vec![
            port("qperf-tcp", QPERF_PORT, "TCP"),
            port("qperf-udp", QPERF_PORT, "UDP"),
        ]),
        ..container(
            cfg,
            "qperf",
            vec!["qperf".into(), "-lp".into(), QPERF_PORT.to_string()],
        )
    };
    // Readiness only on the HTTP server: a probe connection to the qperf
    // port would look like a client to it.
    let http = Container {
        ports: Some(vec![port("http", HTTP_PORT, "TCP")]),
        readiness_probe: Some(Probe {
            tcp_socket: Some(TCPSocketAction {
                port: IntOrString::Int(i32::from(HTTP_PORT)),
                ..TCPSocketAction::default()
            }),
            period_seconds: Some(2),
            ..Probe::default()
        }),
        ..container(
            cfg,
            "http",
            vec![
                "netbench".into(),
                "serve-http".into(),
                format!("0.0.0.0:{HTTP_PORT}"),
            ],
        )
    };
    let (host_network, runtime_class_name) = match &t.kind {
        TargetKind::Host => (Some(true), None),
        TargetKind::Runtime(class) => (None, Some(class.clone())),
    };
    Deployment {
        metadata: meta(cfg, server_name(&t.name), labels.clone()),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![qperf, http],
                    host_network,
                    runtime_class_name,
                    node_selector: Some(BTreeMap::from([(
                        HOSTNAME.to_string(),
                        cfg.server_node.clone(),
                    )])),
                    termination_grace_period_seconds: Some(2),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

fn service(cfg: &K8sConfig, run_id: &str, t: &K8sTarget) -> Service {
    let sport = |name: &str, port: u16, protocol: &str| ServicePort {
        name: Some(name.to_string()),
        port: i32::from(port),
        protocol: Some(protocol.to_string()),
        target_port: Some(IntOrString::Int(i32::from(port))),
        ..ServicePort::default()
    };
    Service {
        metadata: meta(cfg, server_name(&t.name), server_labels(run_id, &t.name)),
        spec: Some(ServiceSpec {
            selector: Some(server_labels(run_id, &t.name)),
            cluster_ip: cfg.headless.then(|| "None".to_string()),
            // As deploy/k8s/qperf-server.yaml: a test's connections stay on one pod.
            session_affinity: Some("ClientIP".to_string()),
            ports: Some(vec![
                sport("qperf-tcp", QPERF_PORT, "TCP"),
                sport("qperf-udp", QPERF_PORT, "UDP"),
                sport("http", HTTP_PORT, "TCP"),
            ]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// The client's command line (the seed's, against the Service name; no
/// `-ip`: the server takes data on its listen port) with `--json` into the
/// file the pod wrapper prints: after wrk's arguments, but before qperf's,
/// because qperf runs each test when its word is reached and an option after
/// the tests applies to none of them (the document would have no tests).
pub fn client_args(cfg: &K8sConfig, t: &K8sTarget, tool: Tool) -> Vec<String> {
    let mut a = seed_args(cfg, t, tool);
    let json = ["--json".to_string(), pod::RESULT_FILE.to_string()];
    match tool {
        Tool::Qperf => {
            a.splice(1..1, json);
        }
        Tool::Wrk => a.extend(json),
    }
    a
}

/// The seed's command line alone.
pub fn seed_args(cfg: &K8sConfig, t: &K8sTarget, tool: Tool) -> Vec<String> {
    let host = server_name(&t.name);
    match tool {
        Tool::Qperf => {
            let q = QperfTarget {
                host,
                lp: Some(QPERF_PORT),
                ip: None,
            };
            std::iter::once("qperf".to_string())
                .chain(bench::qperf_args(&q, &cfg.settings))
                .collect()
        }
        Tool::Wrk => std::iter::once("wrk".to_string())
            .chain(bench::wrk_args(
                &format!("http://{host}:{HTTP_PORT}/"),
                &cfg.settings,
            ))
            .collect(),
    }
}

fn client_job(cfg: &K8sConfig, run_id: &str, t: &K8sTarget, tool: Tool) -> ClientJob {
    let labels = job_pod_labels(run_id, &t.name, tool);
    let pods = match tool {
        Tool::Qperf => 1,
        Tool::Wrk => cfg.wrk_workers,
    };
    let run_time = match tool {
        Tool::Qperf => bench::qperf_timeout(&cfg.settings),
        Tool::Wrk => bench::wrk_timeout(&cfg.settings),
    };
    // Pulling the image, and the wait for a common start, count against
    // the Job's deadline too.
    let lead = if pods > 1 { cfg.start_lead_secs } else { 0.0 };
    let deadline_secs = (run_time.as_secs_f64() + cfg.ready_timeout_secs + lead).ceil() as u64;
    let pods_i32 = i32::try_from(pods).unwrap_or(i32::MAX);
    let affinity = Affinity {
        node_affinity: Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_expressions: Some(vec![NodeSelectorRequirement {
                        key: HOSTNAME.to_string(),
                        operator: "In".to_string(),
                        values: Some(cfg.client_nodes.clone()),
                    }]),
                    ..NodeSelectorTerm::default()
                }],
            }),
            ..NodeAffinity::default()
        }),
        ..Affinity::default()
    };
    let spread = TopologySpreadConstraint {
        max_skew: 1,
        topology_key: HOSTNAME.to_string(),
        when_unsatisfiable: "ScheduleAnyway".to_string(),
        label_selector: Some(LabelSelector {
            match_labels: Some(labels.clone()),
            ..LabelSelector::default()
        }),
        ..TopologySpreadConstraint::default()
    };
    let host_network = cfg.client_host_network;
    let job = Job {
        metadata: meta(cfg, job_name(&t.name, tool), labels.clone()),
        spec: Some(JobSpec {
            completion_mode: Some("Indexed".to_string()),
            completions: Some(pods_i32),
            parallelism: Some(pods_i32),
            backoff_limit: Some(0),
            active_deadline_seconds: Some(i64::try_from(deadline_secs).unwrap_or(i64::MAX)),
            // A safety net if netbench is killed before its clean-up.
            ttl_seconds_after_finished: Some(3600),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container(
                        cfg,
                        tool.as_str(),
                        pod::wrap(client_args(cfg, t, tool)),
                    )],
                    restart_policy: Some("Never".to_string()),
                    host_network: host_network.then_some(true),
                    // Service names must resolve on the node's network too.
                    dns_policy: host_network.then(|| "ClusterFirstWithHostNet".to_string()),
                    affinity: Some(affinity),
                    topology_spread_constraints: Some(vec![spread]),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    };
    ClientJob {
        tool,
        pods,
        deadline_secs,
        job,
    }
}

/// The tool's command line of a client Job (without the pod wrapper).
pub fn tool_command(job: &Job) -> Vec<String> {
    job.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.containers.first())
        .and_then(|c| c.command.as_deref())
        .map(|c| pod::unwrap(c).to_vec())
        .unwrap_or_default()
}

/// `job` with `--start-at MS` after its tool's arguments: every pod waits
/// for that wall-clock instant (ms since the epoch) before measuring.
pub fn with_start_at(job: &Job, ms: u64) -> Job {
    let mut job = job.clone();
    let command = job
        .spec
        .as_mut()
        .and_then(|s| s.template.spec.as_mut())
        .and_then(|s| s.containers.first_mut())
        .and_then(|c| c.command.as_mut());
    if let Some(c) = command {
        c.extend(["--start-at".to_string(), ms.to_string()]);
    }
    job
}

/// Every object as YAML documents for `kubectl apply -f -`: per target the
/// Deployment, the Service, then the Jobs.
pub fn to_yaml(plan: &Plan) -> Result<String, String> {
    let mut out = String::new();
    out.push_str(&format!(
        "# netbench k8s run {} in namespace {}. netbench itself runs the Jobs one\n\
         # at a time after the servers are Ready, and gives a wrk Job of several pods a\n\
         # common --start-at when it creates it; `kubectl apply` starts them all at once,\n\
         # without that barrier.\n",
        plan.run_id, plan.namespace
    ));
    let mut doc = |v: &dyn erased::Yaml| -> Result<(), String> {
        out.push_str("---\n");
        out.push_str(&v.yaml()?);
        Ok(())
    };
    for t in &plan.targets {
        doc(&t.deployment)?;
        doc(&t.service)?;
        for j in &t.jobs {
            doc(&j.job)?;
        }
    }
    Ok(out)
}

mod erased {
    /// One object to YAML (object-safe wrapper over `Serialize`).
    pub trait Yaml {
        fn yaml(&self) -> Result<String, String>;
    }

    impl<T: serde::Serialize> Yaml for T {
        fn yaml(&self) -> Result<String, String> {
            serde_saphyr::to_string(self).map_err(|e| e.to_string())
        }
    }
}
