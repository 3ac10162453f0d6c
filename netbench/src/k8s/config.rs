//! The `netbench k8s` config file (TOML): where the servers and clients run
//! and which targets to compare.
//!
//! ```toml
//! namespace = "netbench"            # must exist; netbench creates nothing else there
//! image = "registry.example/netbench:0.1"
//! server_node = "node-a"            # every server pod runs here
//! client_nodes = ["node-b"]         # client pods run here (spread, one per node)
//! host_network = true               # a `host` target (server pod with hostNetwork)
//! runtime_classes = ["runc", "kata"] # one target per RuntimeClass
//! # optional
//! image_pull_policy = "IfNotPresent"
//! wrk_workers = 1                   # pods of the wrk Indexed Job [default: len(client_nodes)]
//! start_lead = "20s"                # >1 wrk pods: common --start-at = Job creation + this
//! client_host_network = true        # clients on the node's network, as in the runbook
//! headless = false                  # Services with clusterIP: None (DNS → pod IP, no kube-proxy NAT)
//! ready_timeout = "5m"              # server pods Ready / image pulled
//! duration = "3m"                   # wrk -d, and threads, connections, qperf_time, msg_sizes as in a targets file
//! ```

use serde::Deserialize;

use crate::settings::{parse_duration, Overrides, Settings};
use crate::sweep::Sweep;

/// What a target's server pod looks like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// `hostNetwork: true`, default runtime.
    Host,
    /// A pod network pod with this `runtimeClassName`.
    Runtime(String),
}

/// One column of the report: a server Deployment, its Service, two Jobs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct K8sTarget {
    /// Column name and the object names' suffix (a DNS label).
    pub name: String,
    /// Host network or runtime class.
    pub kind: TargetKind,
}

/// A validated config.
#[derive(Clone, Debug, PartialEq)]
pub struct K8sConfig {
    /// Namespace of every object.
    pub namespace: String,
    /// Image with `qperf`, `wrk` and `netbench` on the PATH.
    pub image: String,
    /// `imagePullPolicy`, when set.
    pub image_pull_policy: Option<String>,
    /// Node (kubernetes.io/hostname) of the server pods.
    pub server_node: String,
    /// Nodes of the client pods.
    pub client_nodes: Vec<String>,
    /// Targets in column order: `host` first when enabled, then the classes.
    pub targets: Vec<K8sTarget>,
    /// Pods of each wrk Indexed Job.
    pub wrk_workers: u32,
    /// Seconds from creating a multi-pod wrk Job to its pods' common
    /// `--start-at` (time to schedule and start every pod).
    pub start_lead_secs: f64,
    /// Client pods on the node's network.
    pub client_host_network: bool,
    /// Headless Services.
    pub headless: bool,
    /// Seconds to wait for server pods to be Ready.
    pub ready_timeout_secs: f64,
    /// wrk/qperf settings (seed's by default).
    pub settings: Settings,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default = "default_namespace")]
    namespace: String,
    image: String,
    image_pull_policy: Option<String>,
    server_node: String,
    client_nodes: Vec<String>,
    #[serde(default = "yes")]
    host_network: bool,
    #[serde(default)]
    runtime_classes: Vec<String>,
    wrk_workers: Option<u32>,
    start_lead: Option<String>,
    #[serde(default = "yes")]
    client_host_network: bool,
    #[serde(default)]
    headless: bool,
    ready_timeout: Option<String>,
    duration: Option<String>,
    threads: Option<u32>,
    connections: Option<u32>,
    qperf_time: Option<String>,
    msg_sizes: Option<String>,
}

/// Default `start_lead`: long enough for pods whose image is on the node.
pub const DEFAULT_START_LEAD_SECS: f64 = 20.0;

fn default_namespace() -> String {
    "netbench".into()
}

fn yes() -> bool {
    true
}

/// Whether `s` is a DNS-1123 label of at most `max` characters.
pub fn is_dns_label(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Parses and validates the config; `origin` names the file in errors.
pub fn parse(text: &str, origin: &str) -> Result<K8sConfig, String> {
    let raw: Raw = toml::from_str(text).map_err(|e| format!("{origin}: {e}"))?;
    let err = |field: &str, msg: String| Err(format!("{origin}: field `{field}`: {msg}"));
    if !is_dns_label(&raw.namespace, 63) {
        return err(
            "namespace",
            format!("{:?} is not a DNS label", raw.namespace),
        );
    }
    if raw.image.trim().is_empty() || raw.image.contains(char::is_whitespace) {
        return err("image", "must be an image reference".into());
    }
    if let Some(p) = &raw.image_pull_policy {
        if !["Always", "IfNotPresent", "Never"].contains(&p.as_str()) {
            return err(
                "image_pull_policy",
                format!("{p:?}: expected Always, IfNotPresent or Never"),
            );
        }
    }
    if raw.server_node.trim().is_empty() {
        return err("server_node", "must name a node".into());
    }
    if raw.client_nodes.is_empty() || raw.client_nodes.iter().any(|n| n.trim().is_empty()) {
        return err("client_nodes", "must name at least one node".into());
    }
    let mut targets = Vec::new();
    if raw.host_network {
        targets.push(K8sTarget {
            name: "host".into(),
            kind: TargetKind::Host,
        });
    }
    for class in &raw.runtime_classes {
        // Object names are netbench-<target>-qperf: keep them within 63.
        if !is_dns_label(class, 40) {
            return err(
                "runtime_classes",
                format!("{class:?} is not a DNS label of at most 40 characters"),
            );
        }
        if targets.iter().any(|t| &t.name == class) {
            return err("runtime_classes", format!("{class:?} given twice"));
        }
        targets.push(K8sTarget {
            name: class.clone(),
            kind: TargetKind::Runtime(class.clone()),
        });
    }
    if targets.is_empty() {
        return err(
            "runtime_classes",
            "no targets: set host_network = true or list runtime classes".into(),
        );
    }
    let wrk_workers = match raw.wrk_workers {
        Some(0) => return err("wrk_workers", "must be at least 1".into()),
        Some(n) => n,
        None => u32::try_from(raw.client_nodes.len()).unwrap_or(u32::MAX),
    };
    let start_lead_secs = match &raw.start_lead {
        Some(t) => match parse_duration(t) {
            Some(s) => s,
            None => return err("start_lead", format!("bad duration {t:?}")),
        },
        None => DEFAULT_START_LEAD_SECS,
    };
    let ready_timeout_secs = match &raw.ready_timeout {
        Some(t) => match parse_duration(t) {
            Some(s) => s,
            None => return err("ready_timeout", format!("bad duration {t:?}")),
        },
        None => 300.0,
    };
    let mut o = Overrides {
        threads: raw.threads,
        connections: raw.connections,
        ..Overrides::default()
    };
    for (field, v, slot) in [
        ("duration", &raw.duration, &mut o.duration),
        ("qperf_time", &raw.qperf_time, &mut o.qperf_time),
    ] {
        if let Some(v) = v {
            if parse_duration(v).is_none() {
                return err(field, format!("bad duration {v:?}"));
            }
            *slot = Some(v.clone());
        }
    }
    if let Some(s) = &raw.msg_sizes {
        match Sweep::parse(s) {
            Ok(sweep) => o.sweep = Some(sweep),
            Err(e) => return err("msg_sizes", e),
        }
    }
    if o.threads == Some(0) || o.connections == Some(0) {
        return err("threads", "threads and connections must be positive".into());
    }
    Ok(K8sConfig {
        namespace: raw.namespace,
        image: raw.image,
        image_pull_policy: raw.image_pull_policy,
        server_node: raw.server_node,
        client_nodes: raw.client_nodes,
        targets,
        wrk_workers,
        start_lead_secs,
        client_host_network: raw.client_host_network,
        headless: raw.headless,
        ready_timeout_secs,
        settings: Settings::seed().with(&o),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "image = \"img:1\"\nserver_node = \"a\"\nclient_nodes = [\"b\", \"c\"]\n";

    #[test]
    fn defaults_and_targets() {
        let c = parse(
            &format!("{BASE}runtime_classes = [\"runc\", \"kata\"]\n"),
            "k.toml",
        )
        .unwrap();
        let names: Vec<_> = c.targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["host", "runc", "kata"]);
        assert_eq!(c.namespace, "netbench");
        assert_eq!(c.wrk_workers, 2);
        assert_eq!(c.start_lead_secs, DEFAULT_START_LEAD_SECS);
        assert_eq!(c.settings, Settings::seed());
        assert!(c.client_host_network && !c.headless);
    }

    #[test]
    fn errors_name_the_field() {
        for (extra, field) in [
            ("runtime_classes = [\"Kata\"]\n", "runtime_classes"),
            (
                "runtime_classes = [\"kata\", \"kata\"]\n",
                "runtime_classes",
            ),
            ("host_network = false\n", "runtime_classes"),
            ("namespace = \"a_b\"\n", "namespace"),
            ("wrk_workers = 0\n", "wrk_workers"),
            ("duration = \"3x\"\n", "duration"),
            ("start_lead = \"soon\"\n", "start_lead"),
            ("msg_sizes = \"1:2\"\n", "msg_sizes"),
            ("image_pull_policy = \"Sometimes\"\n", "image_pull_policy"),
        ] {
            let e = parse(&format!("{BASE}{extra}"), "k.toml").unwrap_err();
            assert!(e.contains(&format!("field `{field}`")), "{extra}: {e}");
        }
        let e = parse("image = \"i\"\n", "k.toml").unwrap_err();
        assert!(
            e.starts_with("k.toml: ") && e.contains("server_node"),
            "{e}"
        );
        let e = parse(&format!("{BASE}bogus = 1\n"), "k.toml").unwrap_err();
        assert!(e.contains("unknown field `bogus`"), "{e}");
    }
}
