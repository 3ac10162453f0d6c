//! `netbench k8s` manifests: golden YAML, round trip through the typed API
//! structs, and what each target kind must look like. Regenerate the golden
//! file after an intended change with `NETBENCH_BLESS=1`.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PodSpec, Service};
use netbench::k8s::config::{self, TargetKind};
use netbench::k8s::manifests::{self, Plan, Tool};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/k8s.yaml");

pub const CONFIG: &str = r#"
namespace = "bench"
image = "registry.example/netbench:0.1"
server_node = "node-a"
client_nodes = ["node-b", "node-c"]
runtime_classes = ["runc", "kata"]
"#;

fn plan() -> Plan {
    let cfg = config::parse(CONFIG, "k8s.toml").expect("config");
    manifests::build(&cfg, "golden")
}

#[test]
fn yaml_matches_golden() {
    let yaml = manifests::to_yaml(&plan()).expect("yaml");
    if std::env::var_os("NETBENCH_BLESS").is_some() {
        std::fs::write(GOLDEN, &yaml).expect("write golden");
    }
    let want = std::fs::read_to_string(GOLDEN).expect("golden k8s.yaml");
    assert_eq!(yaml, want);
}

/// Every YAML document parses back into its typed struct, equal to the
/// object it came from (nothing lost or renamed on the way to kubectl).
#[test]
fn every_object_round_trips() {
    let p = plan();
    let yaml = manifests::to_yaml(&p).expect("yaml");
    let docs: Vec<&str> = yaml.split("\n---\n").skip(1).collect();
    let mut want = Vec::new();
    for t in &p.targets {
        want.push(("Deployment", serde_json::to_value(&t.deployment).unwrap()));
        want.push(("Service", serde_json::to_value(&t.service).unwrap()));
        for j in &t.jobs {
            want.push(("Job", serde_json::to_value(&j.job).unwrap()));
        }
    }
    assert_eq!(docs.len(), want.len(), "one document per object");
    for (doc, (kind, json)) in docs.iter().zip(&want) {
        assert!(doc.contains(&format!("kind: {kind}\n")), "{doc}");
        let back = match *kind {
            "Deployment" => {
                let d: Deployment = serde_saphyr::from_str(doc).expect("deployment");
                serde_json::to_value(d).unwrap()
            }
            "Service" => {
                let s: Service = serde_saphyr::from_str(doc).expect("service");
                serde_json::to_value(s).unwrap()
            }
            _ => {
                let j: Job = serde_saphyr::from_str(doc).expect("job");
                serde_json::to_value(j).unwrap()
            }
        };
        assert_eq!(&back, json, "{kind} changed on the round trip");
    }
    // And through JSON, as the kube client sends them.
    for t in &p.targets {
        let d: Deployment =
            serde_json::from_str(&serde_json::to_string(&t.deployment).unwrap()).unwrap();
        assert_eq!(d, t.deployment);
        let s: Service = serde_json::from_str(&serde_json::to_string(&t.service).unwrap()).unwrap();
        assert_eq!(s, t.service);
    }
}

fn pod(d: &Deployment) -> &PodSpec {
    d.spec.as_ref().unwrap().template.spec.as_ref().unwrap()
}

fn job_pod(j: &Job) -> &PodSpec {
    j.spec.as_ref().unwrap().template.spec.as_ref().unwrap()
}

#[test]
fn per_target_kind() {
    let p = plan();
    let names: Vec<&str> = p.targets.iter().map(|t| t.target.name.as_str()).collect();
    assert_eq!(names, ["host", "runc", "kata"]);
    for t in &p.targets {
        let spec = pod(&t.deployment);
        match &t.target.kind {
            TargetKind::Host => {
                assert_eq!(spec.host_network, Some(true));
                assert_eq!(spec.runtime_class_name, None);
            }
            TargetKind::Runtime(class) => {
                assert_eq!(spec.host_network, None);
                assert_eq!(spec.runtime_class_name.as_deref(), Some(class.as_str()));
            }
        }
        assert_eq!(
            spec.node_selector.as_ref().unwrap()["kubernetes.io/hostname"],
            "node-a"
        );
        // One qperf port (TCP and UDP) and the HTTP port, port == targetPort.
        let svc = t.service.spec.as_ref().unwrap();
        let ports: Vec<(i32, &str)> = svc
            .ports
            .as_ref()
            .unwrap()
            .iter()
            .map(|sp| {
                assert_eq!(
                    sp.target_port,
                    Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(sp.port))
                );
                (sp.port, sp.protocol.as_deref().unwrap())
            })
            .collect();
        assert_eq!(ports, [(4000, "TCP"), (4000, "UDP"), (8080, "TCP")]);
        assert_eq!(svc.cluster_ip, None);
        // The Service selects exactly the server pod.
        let pod_labels = t
            .deployment
            .spec
            .as_ref()
            .unwrap()
            .template
            .metadata
            .as_ref()
            .unwrap()
            .labels
            .as_ref()
            .unwrap();
        for (k, v) in svc.selector.as_ref().unwrap() {
            assert_eq!(pod_labels.get(k), Some(v), "selector {k}");
        }
        let server_cmd: Vec<_> = spec
            .containers
            .iter()
            .map(|c| c.command.as_ref().unwrap().join(" "))
            .collect();
        assert_eq!(
            server_cmd,
            ["qperf -lp 4000", "netbench serve-http 0.0.0.0:8080"]
        );
        // Client Jobs: Indexed, the seed's command lines against the Service
        // plus --json, under the wrapper that prints the document.
        let svc_name = format!("netbench-{}", t.target.name);
        for j in &t.jobs {
            let js = j.job.spec.as_ref().unwrap();
            assert_eq!(js.completion_mode.as_deref(), Some("Indexed"));
            assert_eq!(js.backoff_limit, Some(0));
            let c = &job_pod(&j.job).containers[0];
            let full = c.command.as_ref().unwrap();
            assert_eq!(&full[..2], ["sh", "-c"]);
            let cmd = manifests::tool_command(&j.job).join(" ");
            assert!(full.join(" ").ends_with(cmd_tail(&j.job).as_str()));
            // qperf takes --json before its tests (an option after them
            // applies to no test), wrk anywhere: after the seed's words.
            let (want, pods) = match j.tool {
                Tool::Qperf => (
                    format!(
                        "qperf --json /tmp/netbench-result.json \
                         {svc_name} -lp 4000 -oo msg_size:1:256K:*64 -vu tcp_bw tcp_lat"
                    ),
                    1,
                ),
                Tool::Wrk => (
                    format!(
                        "wrk -t64 -c20000 -d3m http://{svc_name}:8080/ \
                         --json /tmp/netbench-result.json"
                    ),
                    2,
                ),
            };
            assert_eq!(cmd, want);
            assert_eq!((js.completions, js.parallelism), (Some(pods), Some(pods)));
            assert_eq!(c.image.as_deref(), Some("registry.example/netbench:0.1"));
            let ps = job_pod(&j.job);
            assert_eq!(ps.host_network, Some(true));
            assert_eq!(ps.dns_policy.as_deref(), Some("ClusterFirstWithHostNet"));
            assert_eq!(ps.restart_policy.as_deref(), Some("Never"));
        }
    }
}

#[test]
fn headless_and_pod_network_clients() {
    let cfg = config::parse(
        &format!("{CONFIG}headless = true\nclient_host_network = false\nwrk_workers = 3\nthreads = 2\nduration = \"10s\"\n"),
        "k8s.toml",
    )
    .expect("config");
    let p = manifests::build(&cfg, "x");
    let t = &p.targets[1];
    assert_eq!(
        t.service.spec.as_ref().unwrap().cluster_ip.as_deref(),
        Some("None")
    );
    let wrk = &t.jobs[1];
    let ps = job_pod(&wrk.job);
    assert_eq!((ps.host_network, ps.dns_policy.as_ref()), (None, None));
    assert_eq!(wrk.pods, 3);
    assert_eq!(
        manifests::tool_command(&wrk.job).join(" "),
        "wrk -t2 -c20000 -d10s http://netbench-runc:8080/ --json /tmp/netbench-result.json"
    );
    // A common start, handed out at creation, after everything else.
    let started = manifests::with_start_at(&wrk.job, 1_700_000_000_000);
    assert_eq!(
        manifests::tool_command(&started).join(" "),
        "wrk -t2 -c20000 -d10s http://netbench-runc:8080/ --json /tmp/netbench-result.json \
         --start-at 1700000000000"
    );
    // The Job waits for the start as well as for the run and the image.
    let one = config::parse(
        &format!("{CONFIG}wrk_workers = 1\nduration = \"10s\"\n"),
        "k8s.toml",
    )
    .expect("config");
    let single = &manifests::build(&one, "x").targets[1].jobs[1];
    assert_eq!(
        wrk.deadline_secs,
        single.deadline_secs + config::DEFAULT_START_LEAD_SECS as u64
    );
}

/// The tool's words at the end of the container command.
fn cmd_tail(job: &Job) -> String {
    manifests::tool_command(job).join(" ")
}
