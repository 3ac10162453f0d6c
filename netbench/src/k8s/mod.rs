//! `netbench k8s`: the runbook on a Kubernetes cluster.
//!
//! | module | job |
//! |---|---|
//! | [`config`] | the config file → targets (host network, RuntimeClasses) and settings |
//! | [`manifests`] | typed `k8s-openapi` objects (Deployments, Services, Indexed Jobs) and their YAML |
//! | [`cluster`] | the `kube` calls: create, watch pods to Ready/finished, logs, delete |
//! | [`run`] | one cluster run: servers, then each target's Jobs in turn, logs → results |
//!
//! `--dry-run` prints the YAML; otherwise the objects are applied with the
//! `kube` client, watched, their logs parsed into the usual report, and
//! deleted again.

pub mod cluster;
pub mod config;
pub mod manifests;
pub mod run;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::report;
use crate::results::Results;
use crate::sys;

/// Options of `netbench k8s`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct K8sArgs {
    /// The config file.
    pub config: PathBuf,
    /// Print the manifests instead of applying them.
    pub dry_run: bool,
    /// Output directory.
    pub out: PathBuf,
    /// Run id label (default: `dry-run`, or one from the clock).
    pub run_id: Option<String>,
    /// `--layout`.
    pub layout: report::Layout,
}

/// Help text of `netbench k8s`.
pub const USAGE: &str = "\
Usage: netbench k8s [OPTIONS] CONFIG.toml

Runs the runbook on a Kubernetes cluster: a server Deployment (qperf -lp 4000
and an HTTP server) and a Service per target (host network, one per
RuntimeClass), then per target an Indexed Job running the seed's qperf
command and one running wrk, one after the other; their logs make the usual
report, and every object netbench created is deleted at the end (also on
Ctrl-C). With wrk_workers > 1 the wrk Job's pods start together (a common
--start-at, start_lead after the Job is created) and their --json documents,
printed into the pod logs, are merged into one cell, with a per-worker table
and the skew of their windows in the report. The cluster is the one kubectl
uses (KUBECONFIG, ~/.kube/config or in-cluster).

Options:
      --dry-run          print the manifests as YAML (for kubectl apply -f -)
  -o, --out DIR          output directory [default: ./netbench-out]
      --run-id ID        value of the netbench.io/run label
      --layout seed      tables as the runbook's report (see netbench --help)
  -h, --help             this help
";

/// Parses the words after `k8s`; `Ok(None)` asks for help.
pub fn parse_args(args: &[String]) -> Result<Option<K8sArgs>, String> {
    let mut out = K8sArgs {
        out: PathBuf::from("netbench-out"),
        ..K8sArgs::default()
    };
    let mut config = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, mut value) = crate::cli::flag_value(arg, &mut it, "k8s ");
        match flag {
            "-h" | "--help" => return Ok(None),
            "--dry-run" => out.dry_run = true,
            "-o" | "--out" => out.out = PathBuf::from(value()?),
            "--layout" => out.layout = report::Layout::parse(&value()?)?,
            "--run-id" => {
                let id = value()?;
                if !config::is_dns_label(&id, 63) {
                    return Err(format!("k8s --run-id: {id:?} is not a DNS label"));
                }
                out.run_id = Some(id);
            }
            f if f.starts_with('-') && f.len() > 1 => {
                return Err(format!("unknown option {f}; try netbench k8s --help"))
            }
            _ if config.is_none() => config = Some(PathBuf::from(arg)),
            _ => {
                return Err(format!(
                    "unexpected argument {arg:?}; try netbench k8s --help"
                ))
            }
        }
    }
    out.config = config.ok_or("k8s: missing CONFIG.toml; try netbench k8s --help")?;
    Ok(Some(out))
}

/// Runs `netbench k8s`; returns the exit status or a fatal error.
pub fn run(args: K8sArgs) -> Result<i32, String> {
    let origin = args.config.display().to_string();
    let text = std::fs::read_to_string(&args.config).map_err(|e| format!("{origin}: {e}"))?;
    let cfg = config::parse(&text, &origin)?;
    if args.dry_run {
        let id = args.run_id.unwrap_or_else(|| "dry-run".into());
        let yaml = manifests::to_yaml(&manifests::build(&cfg, &id))?;
        print!("{yaml}");
        return Ok(0);
    }
    let run_id = args.run_id.unwrap_or_else(clock_run_id);
    let plan = manifests::build(&cfg, &run_id);
    sys::install_interrupt_handler();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("k8s: cannot start the async runtime: {e}"))?;
    let (collected, fatal) = rt.block_on(async {
        let client = kube::Client::try_default().await.map_err(|e| {
            format!(
                "k8s: no cluster configuration: {e} (netbench finds it as kubectl does: \
                 KUBECONFIG, ~/.kube/config, or the in-cluster service account)"
            )
        })?;
        Ok::<_, String>(run_on(client, &cfg, &plan).await)
    })?;
    finish(&cfg, collected, fatal, &args.out, args.layout)
}

/// Runs `plan` with `client` (the fake API server's in tests), deleting
/// everything it created before returning, also after an error or Ctrl-C.
pub async fn run_on(
    client: kube::Client,
    cfg: &config::K8sConfig,
    plan: &manifests::Plan,
) -> (run::Collected, Option<String>) {
    let mut cluster = cluster::Cluster::new(client, &cfg.namespace);
    let mut collected = run::Collected::default();
    let result = tokio::select! {
        r = run::run(&mut cluster, cfg, plan, &mut collected) => r,
        () = interrupted() => Err("interrupted".to_string()),
    };
    let n = cluster.created().len();
    if n > 0 {
        eprintln!("netbench: k8s: deleting the {n} objects this run created");
    }
    let problems = cluster.cleanup().await;
    let mut fatal = result.err();
    if !problems.is_empty() {
        let msg = format!("clean-up incomplete: {}", problems.join("; "));
        fatal = Some(match fatal {
            Some(f) => format!("{f}; {msg}"),
            None => msg,
        });
    }
    (collected, fatal)
}

async fn interrupted() {
    while !sys::interrupted() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A run id from the clock: distinct per run, a valid label value.
fn clock_run_id() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("r{secs:x}")
}

/// Writes the report of what ran (also when the run stopped early) and the
/// pods' logs; the exit status says how it ended.
fn finish(
    cfg: &config::K8sConfig,
    collected: run::Collected,
    fatal: Option<String>,
    out: &Path,
    layout: report::Layout,
) -> Result<i32, String> {
    let mut notes = vec![format!(
        "measured on Kubernetes (namespace {}); client Jobs against each target's Service",
        cfg.namespace
    )];
    if cfg.wrk_workers > 1 {
        notes.push(format!(
            "wrk ran as {} pods per target, started together (--start-at, {:.0} s after the Job \
             was created) and merged (histograms and counters added): the cell is their sum, \
             the Workers section shows each pod and the skew of their windows; every pod's log \
             and --json document is in k8s-logs/",
            cfg.wrk_workers, cfg.start_lead_secs
        ));
    }
    for rep in &collected.workers {
        notes.extend(rep.problems.iter().cloned());
    }
    if !collected.targets.is_empty() || !collected.logs.is_empty() {
        let results = Results {
            msg_sizes: cfg.settings.sweep.sizes().to_vec(),
            targets: collected.targets,
            notes,
            workers: collected.workers,
        };
        let (mut written, problems) = report::write_all_as(&results, out, layout)?;
        let dir = out.join("k8s-logs");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for (name, text) in &collected.logs {
            let p = dir.join(name);
            std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        written.push(dir);
        let mut md = Vec::new();
        if report::render_tables(&results, layout, &mut md).is_ok() {
            use std::io::Write;
            let _ = std::io::stdout().write_all(&md);
        }
        for p in problems {
            eprintln!("netbench: {p}");
        }
        let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        eprintln!("netbench: wrote {}", names.join(", "));
    }
    match fatal {
        Some(e) if e.starts_with("interrupted") => {
            eprintln!("netbench: k8s: {e}");
            Ok(crate::app::EXIT_INTERRUPTED)
        }
        Some(e) => Err(format!("k8s: {e}")),
        None => Ok(0),
    }
}
