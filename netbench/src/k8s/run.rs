//! One cluster run: create the servers, wait for them, run each target's
//! qperf Job then wrk Job (one at a time, as the runbook), parse their logs
//! into the usual [`TargetResult`]s. The caller deletes what was created
//! ([`Cluster::cleanup`]), whatever this returns.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;

use crate::exec::Outcome;
use crate::k8s::cluster::{self, Cluster, Goal, Kind};
use crate::k8s::config::K8sConfig;
use crate::k8s::manifests::{self, ClientJob, Plan, Tool};
use crate::parse::{qperf, wrk};
use crate::results::{QperfRun, TargetResult, WrkRun};

/// What the run collected so far (kept when it stops early).
#[derive(Debug, Default)]
pub struct Collected {
    /// One per target whose Jobs ran, in column order.
    pub targets: Vec<TargetResult>,
    /// Every client pod's log: (`<job>-<index>.log`, text).
    pub logs: Vec<(String, String)>,
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
            let outcome = run_job(cluster, plan, &t.target.name, job, out).await?;
            match job.tool {
                Tool::Qperf => {
                    let parsed = qperf::parse(&outcome.stdout);
                    result.qperf = Some(QperfRun { outcome, parsed });
                }
                Tool::Wrk => {
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

/// Creates the Job, waits for its pods, reads their logs, deletes it.
/// `Err` only for API failures that make going on pointless (forbidden...).
async fn run_job(
    cluster: &mut Cluster,
    plan: &Plan,
    target: &str,
    job: &ClientJob,
    out: &mut Collected,
) -> Result<Outcome, String> {
    let name = manifests::job_name(target, job.tool);
    let command = job
        .job
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.containers.first())
        .and_then(|c| c.command.clone())
        .unwrap_or_default();
    say(&format!("running Job {name}: {}", command.join(" ")));
    let started = Instant::now();
    cluster.create_job(&job.job).await?;
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
    let mut outcome = Outcome {
        command,
        ..Outcome::default()
    };
    match waited {
        Ok(mut pods) => {
            pods.sort_by_key(|p| cluster::completion_index(p).unwrap_or(u32::MAX));
            for (i, p) in pods.iter().enumerate() {
                let log = pod_log(cluster, p).await;
                let index = cluster::completion_index(p).unwrap_or(i as u32);
                out.logs.push((format!("{name}-{index}.log"), log.clone()));
                // The table shows worker 0 (`netbench merge` adds workers up).
                if i == 0 {
                    outcome.exit_code = cluster::exit_code(p);
                    if outcome.exit_code != Some(0) {
                        // Pod logs mix stdout and stderr: let the error cell
                        // show the tool's own message.
                        outcome.stderr = log.clone();
                    }
                    outcome.stdout = log;
                }
            }
        }
        Err(e) if e.contains("forbidden") => return Err(e),
        Err(e) => outcome.spawn_error = Some(e),
    }
    outcome.elapsed_secs = started.elapsed().as_secs_f64();
    if let Err(e) = cluster.delete(Kind::Job, &name).await {
        say(&e);
    }
    Ok(outcome)
}

async fn pod_log(cluster: &Cluster, p: &Pod) -> String {
    let name = p.metadata.name.as_deref().unwrap_or_default();
    cluster
        .logs(name)
        .await
        .unwrap_or_else(|e| format!("netbench: {e}\n"))
}
