//! Running the runbook against every target: the exact qperf and wrk
//! command lines, one after the other, into a [`Results`].
//!
//! Commands are the seed's (`qperf <host> [-lp P] [-ip P] -oo
//! msg_size:1:256K:*64 -vu tcp_bw tcp_lat`, `wrk -tT -cC -dD <url>`), with
//! `-t` for qperf only when a test time is set. A failing command is
//! recorded and the next one runs; Ctrl-C stops the run and leaves the
//! remaining cells `error: interrupted`.

use std::time::Duration;

use crate::config::{QperfTarget, Target};
use crate::exec::{self, Outcome};
use crate::parse::{qperf, wrk};
use crate::progress::Progress;
use crate::results::{QperfRun, Results, TargetResult, WrkRun};
use crate::settings::Settings;
use crate::sys;
use crate::tools::Tools;

/// A target with its effective settings.
#[derive(Clone, Debug)]
pub struct Planned {
    /// The target.
    pub target: Target,
    /// Settings after layering.
    pub settings: Settings,
}

/// `qperf` arguments for one target.
pub fn qperf_args(q: &QperfTarget, s: &Settings) -> Vec<String> {
    let mut a = vec![q.host.clone()];
    if let Some(lp) = q.lp {
        a.extend(["-lp".into(), lp.to_string()]);
    }
    if let Some(ip) = q.ip {
        a.extend(["-ip".into(), ip.to_string()]);
    }
    if let Some(t) = &s.qperf_time {
        a.extend(["-t".into(), t.clone()]);
    }
    a.extend(["-oo".into(), s.sweep.qperf_arg(), "-vu".into()]);
    a.extend(["tcp_bw".into(), "tcp_lat".into()]);
    a
}

/// `wrk` arguments for one target.
pub fn wrk_args(url: &str, s: &Settings) -> Vec<String> {
    vec![
        format!("-t{}", s.threads),
        format!("-c{}", s.connections),
        format!("-d{}", s.duration),
        url.to_string(),
    ]
}

/// Deadline for the qperf run: every test plus connect retries and slack.
pub fn qperf_timeout(s: &Settings) -> Duration {
    let tests = 2.0 * s.sweep.sizes().len() as f64;
    Duration::from_secs_f64(tests * (s.qperf_secs() + 5.0) + 15.0)
}

/// Deadline for the wrk run: the duration plus connection set-up and slack.
pub fn wrk_timeout(s: &Settings) -> Duration {
    Duration::from_secs_f64(s.duration_secs() + 15.0 + f64::from(s.connections) / 1000.0)
}

/// Runs everything; `notes` go to the report. `wrk_workers` > 1 runs that
/// many wrk processes per target side by side and merges them
/// ([`crate::workers::local`]); 1 is the single process of the runbook.
pub fn run(
    plan: &[Planned],
    tools: &Tools,
    notes: Vec<String>,
    wrk_workers: u32,
    progress: &mut Progress,
) -> Results {
    let mut msg_sizes: Vec<u64> = Vec::new();
    for p in plan {
        for s in p.settings.sweep.sizes() {
            if !msg_sizes.contains(s) {
                msg_sizes.push(*s);
            }
        }
    }
    let steps: usize = plan
        .iter()
        .map(|p| usize::from(p.target.qperf.is_some()) + usize::from(p.target.wrk_url.is_some()))
        .sum();
    progress.start(steps);
    let qperf_bin = tools.qperf.to_string_lossy().into_owned();
    let wrk_bin = tools.wrk.to_string_lossy().into_owned();
    let mut targets = Vec::new();
    let mut workers = Vec::new();
    let mut notes = notes;
    for p in plan {
        let s = &p.settings;
        let qperf = p.target.qperf.as_ref().map(|q| {
            let args = qperf_args(q, s);
            let t = qperf_timeout(s);
            progress.step(&p.target.name, "qperf", t);
            let outcome = run_or_skip(&qperf_bin, &args, t);
            let parsed = qperf::parse(&outcome.stdout);
            QperfRun { outcome, parsed }
        });
        let wrk = p.target.wrk_url.as_ref().map(|url| {
            let args = wrk_args(url, s);
            let t = wrk_timeout(s);
            progress.step(&p.target.name, "wrk", t);
            if wrk_workers > 1 && !sys::interrupted() {
                let (run, rep) =
                    crate::workers::local::run_wrk(&p.target.name, &wrk_bin, &args, t, wrk_workers);
                notes.extend(rep.problems.iter().cloned());
                workers.push(rep);
                return run;
            }
            let outcome = run_or_skip(&wrk_bin, &args, t);
            let report = wrk::parse(&outcome.stdout);
            WrkRun { outcome, report }
        });
        targets.push(TargetResult {
            name: p.target.name.clone(),
            settings: s.clone(),
            qperf,
            wrk,
        });
    }
    progress.finish();
    Results {
        msg_sizes,
        targets,
        notes,
        workers,
    }
}

/// Runs the command, or records it as interrupted without starting it.
fn run_or_skip(program: &str, args: &[String], timeout: Duration) -> Outcome {
    if sys::interrupted() {
        return Outcome {
            command: std::iter::once(program.to_string())
                .chain(args.iter().cloned())
                .collect(),
            interrupted: true,
            ..Outcome::default()
        };
    }
    exec::run(program, args, timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_command_lines() {
        let q = QperfTarget {
            host: "10.0.0.2".into(),
            lp: Some(4000),
            ip: Some(4001),
        };
        assert_eq!(
            qperf_args(&q, &Settings::seed()).join(" "),
            "10.0.0.2 -lp 4000 -ip 4001 -oo msg_size:1:256K:*64 -vu tcp_bw tcp_lat"
        );
        assert_eq!(
            wrk_args("http://10.0.0.2/", &Settings::seed()).join(" "),
            "-t64 -c20000 -d3m http://10.0.0.2/"
        );
        let short = Settings::short();
        assert!(qperf_args(&q, &short).join(" ").contains(" -t 1 -oo "));
    }
}
