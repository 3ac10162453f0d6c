//! One cluster run: create the servers, wait for them, run each target's
//! qperf Job then wrk Job (one at a time, as the runbook), parse their logs
//! into the usual [`TargetResult`]s. The caller deletes what was created
//! ([`Cluster::cleanup`]), whatever this returns.
//!
//! Every client pod's log is the tool's text, then its `--json` document
//! ([`crate::workers::pod`]). A Job of one pod fills the cell with that
//! pod's text, as the runbook's single client; the pods of a multi-pod wrk
//! Job, started together by a common `--start-at`, are merged
//! ([`crate::workers::combine_wrk`]) and their per-worker table kept. qperf
//! Jobs have one pod: qperf has no start barrier, and the runbook's latency
//! is one client's.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;

use crate::exec::Outcome;
use crate::k8s::cluster::{self, Cluster, Goal, Kind};
use crate::k8s::config::K8sConfig;
use crate::k8s::manifests::{self, ClientJob, Plan, Tool};
use crate::parse::{qperf, wrk};
use crate::results::{QperfRun, TargetResult, WorkerReport, WrkRun};
use crate::workers::{self, pod, Worker};

/// What the run collected so far (kept when it stops early).
#[derive(Debug, Default)]
pub struct Collected {
    /// One per target whose Jobs ran, in column order.
    pub targets: Vec<TargetResult>,
    /// Every client pod's log and document: (`<job>-<index>.log` or
    /// `.json`, text).
    pub logs: Vec<(String, String)>,
    /// The per-worker tables of merged wrk Jobs.
    pub workers: Vec<WorkerReport>,
}

/// Runs `plan`; a server that does not come up is fatal, a client Job that
/// fails becomes error cells and the run goes on.
pub async fn run(
    cluster: &mut Cluster,
    cfg: &K8sConfig,
    plan: &Plan,
    out: &mut Collected,
) -> Result<(), String> {
    for t in &plan.targets {
        say(&format!(
            "creating server and Service netbench-{}",
            t.target.name
        ));
        cluster.create_deployment(&t.deployment).await?;
        cluster.create_service(&t.service).await?;
    }
    let ready = Duration::from_secs_f64(cfg.ready_timeout_secs);
    for t in &plan.targets {
        say(&format!("waiting for server pod of {}", t.target.name));
        cluster
            .wait_pods(
                &t.server_selector(&plan.run_id),
                1,
                Goal::Ready,
                ready,
                &format!("server {}", manifests::server_name(&t.target.name)),
            )
            .await?;
    }
    for t in &plan.targets {
        let mut result = TargetResult {
            name: t.target.name.clone(),
            settings: cfg.settings.clone(),
            qperf: None,
            wrk: None,
        };
        for job in &t.jobs {
            let ran = run_job(cluster, cfg, plan, &t.target.name, job, out).await?;
            match job.tool {
                Tool::Qperf => {
                    let outcome = ran.single();
                    let parsed = qperf::parse(&outcome.stdout);
                    result.qperf = Some(QperfRun { outcome, parsed });
                }
                Tool::Wrk if ran.workers.len() > 1 => {
                    let (run, rep) = workers::combine_wrk(
                        &t.target.name,
                        ran.command,
                        &ran.workers,
                        ran.start_at_ms,
                    );
                    result.wrk = Some(run);
                    out.workers.push(rep);
                }
                Tool::Wrk => {
                    let outcome = ran.single();
                    let report = wrk::parse(&outcome.stdout);
                    result.wrk = Some(WrkRun { outcome, report });
                }
            }
        }
        out.targets.push(result);
    }
    Ok(())
}

fn say(line: &str) {
    eprintln!("netbench: k8s: {line}");
}

/// What one client Job left: its pods as workers, in index order.
struct Ran {
    /// The tool's command line as every pod ran it.
    command: Vec<String>,
    /// The common start handed out (multi-pod Jobs).
    start_at_ms: Option<u64>,
    /// One per pod (none when the Job never finished: see `failed`).
    workers: Vec<Worker>,
    /// Why no pod finished.
    failed: Option<String>,
    /// Creation to the last pod's end.
    elapsed_secs: f64,
}

impl Ran {
    /// The cell of a one-pod Job: that pod's text and exit code.
    fn single(self) -> Outcome {
        let mut outcome = match self.workers.into_iter().next() {
            Some(w) => w.outcome,
            None => Outcome::default(),
        };
        outcome.command = self.command;
        outcome.spawn_error = outcome.spawn_error.or(self.failed);
        outcome.elapsed_secs = self.elapsed_secs;
        outcome
    }
}

/// Creates the Job (a multi-pod one with a common `--start-at`), waits for
/// its pods, reads their logs, deletes it. `Err` only for API failures that
/// make going on pointless (forbidden...).
async fn run_job(
    cluster: &mut Cluster,
    cfg: &K8sConfig,
    plan: &Plan,
    target: &str,
    job: &ClientJob,
    out: &mut Collected,
) -> Result<Ran, String> {
    let name = manifests::job_name(target, job.tool);
    let (object, start_at_ms) = if job.pods > 1 {
        let at = workers::start_at_ms(cfg.start_lead_secs);
        (manifests::with_start_at(&job.job, at), Some(at))
    } else {
        (job.job.clone(), None)
    };
    let command = manifests::tool_command(&object);
    say(&format!("running Job {name}: {}", command.join(" ")));
    if let Some(at) = start_at_ms {
        say(&format!(
            "its {} pods start measuring together at {at} ms since the epoch (in {:.0} s)",
            job.pods, cfg.start_lead_secs
        ));
    }
    let started = Instant::now();
    cluster.create_job(&object).await?;
    let selector = manifests::selector(&manifests::job_pod_labels(&plan.run_id, target, job.tool));
    let waited = cluster
        .wait_pods(
            &selector,
            job.pods as usize,
            Goal::Finished,
            Duration::from_secs(job.deadline_secs + 30),
            &format!("Job {name}"),
        )
        .await;
    let mut ran = Ran {
        command: command.clone(),
        start_at_ms,
        workers: Vec::new(),
        failed: None,
        elapsed_secs: 0.0,
    };
    match waited {
        Ok(mut pods) => {
            pods.sort_by_key(|p| cluster::completion_index(p).unwrap_or(u32::MAX));
            for (i, p) in pods.iter().enumerate() {
                let log = pod_log(cluster, p).await;
                let index = cluster::completion_index(p).unwrap_or(i as u32);
                out.logs.push((format!("{name}-{index}.log"), log.clone()));
                let (text, json) = pod::split_log(&log);
                if let Some(j) = &json {
                    out.logs
                        .push((format!("{name}-{index}.json"), format!("{j}\n")));
                }
                let exit_code = cluster::exit_code(p);
                // Pod logs mix stdout and stderr: let the error cell show
                // the tool's own message.
                let stderr = if exit_code == Some(0) {
                    String::new()
                } else {
                    text.clone()
                };
                ran.workers.push(Worker {
                    name: format!("pod {}", p.metadata.name.as_deref().unwrap_or("?")),
                    outcome: Outcome {
                        command: command.clone(),
                        exit_code,
                        stdout: text,
                        stderr,
                        ..Outcome::default()
                    },
                    json,
                });
            }
        }
        Err(e) if e.contains("forbidden") => return Err(e),
        Err(e) => ran.failed = Some(e),
    }
    ran.elapsed_secs = started.elapsed().as_secs_f64();
    for w in &mut ran.workers {
        w.outcome.elapsed_secs = ran.elapsed_secs;
    }
    if ran.workers.is_empty() {
        // The merge path needs a worker to show the failure.
        ran.workers.push(Worker {
            name: format!("Job {name}"),
            outcome: Outcome {
                command,
                spawn_error: ran.failed.clone(),
                ..Outcome::default()
            },
            json: None,
        });
    }
    if let Err(e) = cluster.delete(Kind::Job, &name).await {
        say(&e);
    }
    Ok(ran)
}

async fn pod_log(cluster: &Cluster, p: &Pod) -> String {
    let name = p.metadata.name.as_deref().unwrap_or_default();
    cluster
        .logs(name)
        .await
        .unwrap_or_else(|e| format!("netbench: {e}\n"))
}
