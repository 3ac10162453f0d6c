//! Several wrk generators behind one table cell: N local processes
//! (`--wrk-workers N`) or the N pods of a client Indexed Job.
//!
//! | module | job |
//! |---|---|
//! | [`pod`] | the pod command (tool, then its `--json` after a marker line) and the log splitter |
//! | [`local`] | N local wrk processes with one `--start-at` |
//!
//! Every worker runs the same command plus `--json FILE` and a common
//! `--start-at MS`; [`combine_wrk`] merges their documents with
//! [`crate::merge`] (histograms and counters added losslessly) into the
//! cell's run, printed in wrk's own text and parsed by the same parser as a
//! single run, and returns the per-worker table with the measured skew of
//! their windows. A worker that started after the common instant is named
//! in the problems (merged, but not as if aligned); one that failed or left
//! no document makes the cell an error with its message.

pub mod local;
pub mod pod;

use crate::exec::Outcome;
use crate::merge;
use crate::parse::wrk;
use crate::results::{WorkerReport, WrkRun};

/// A worker's window may open this long after the common start and still
/// count as started on time (threads and connections being set up).
pub const LATE_AFTER_MS: u64 = 1000;

/// One worker's run.
#[derive(Clone, Debug, Default)]
pub struct Worker {
    /// Its name in the per-worker table (`worker 0`, `pod netbench-host-wrk-2`).
    pub name: String,
    /// The command as it ran and what it printed (text before the document).
    pub outcome: Outcome,
    /// Its `--json` document, when it wrote one.
    pub json: Option<String>,
}

/// The lead time before the common start, from a config duration.
pub fn start_at_ms(lead_secs: f64) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    u64::try_from(now).unwrap_or(u64::MAX) + (lead_secs.max(0.0) * 1000.0) as u64
}

/// wrk's warning for a `--start-at` already past: `Some(ms)` late.
fn late_warning(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.split("--start-at is ").nth(1)?;
        rest.split(" ms in the past").next()?.trim().parse().ok()
    })
}

/// Why `w` has no mergeable run, if it has none.
fn failure(w: &Worker) -> Option<String> {
    let o = &w.outcome;
    let why = if let Some(e) = &o.spawn_error {
        format!("cannot run: {e}")
    } else if o.timed_out {
        format!("timed out after {:.0} s", o.elapsed_secs)
    } else if o.exit_code != Some(0) && !o.interrupted {
        wrk::error_text(&o.stdout, &o.stderr).unwrap_or_else(|| match o.exit_code {
            Some(c) => format!("exit status {c}"),
            None => "killed by a signal".into(),
        })
    } else if w.json.as_deref().is_none_or(|j| j.trim().is_empty()) {
        "no --json document".into()
    } else {
        return None;
    };
    Some(why)
}

/// Merges the workers of one cell. `command` is what the cell shows as
/// run; `start_at_ms` the common start handed out (late workers are named).
pub fn combine_wrk(
    target: &str,
    command: Vec<String>,
    workers: &[Worker],
    start_at_ms: Option<u64>,
) -> (WrkRun, WorkerReport) {
    let mut report = WorkerReport {
        target: target.to_string(),
        tool: "wrk".into(),
        ..WorkerReport::default()
    };
    let elapsed = workers
        .iter()
        .map(|w| w.outcome.elapsed_secs)
        .fold(0.0, f64::max);
    // A failed worker: its own outcome is the cell (the tool's message).
    for w in workers {
        if let Some(why) = failure(w) {
            report
                .problems
                .push(format!("{target}: wrk {} failed: {why}", w.name));
            let outcome = Outcome {
                stdout: String::new(),
                stderr: format!("{}: {}", w.name, w.outcome.stderr),
                command: command.clone(),
                ..w.outcome.clone()
            };
            let run = WrkRun {
                outcome,
                report: None,
            };
            return (run, report);
        }
    }
    let names: Vec<String> = workers.iter().map(|w| w.name.clone()).collect();
    let texts: Vec<String> = workers
        .iter()
        .map(|w| w.json.clone().unwrap_or_default())
        .collect();
    let mut text = Vec::new();
    let mut table = Vec::new();
    let merged = merge::wrk::run(&names, &texts, &mut text, &mut table);
    let outcome = |stdout: String, stderr: String, code: i32| Outcome {
        command: command.clone(),
        exit_code: Some(code),
        elapsed_secs: elapsed,
        stdout,
        stderr,
        interrupted: workers.iter().any(|w| w.outcome.interrupted),
        ..Outcome::default()
    };
    if let Err(e) = merged {
        report.problems.push(format!("{target}: wrk merge: {e}"));
        let run = WrkRun {
            outcome: outcome(String::new(), format!("merge: {e}"), 1),
            report: None,
        };
        return (run, report);
    }
    report.table = String::from_utf8_lossy(&table).into_owned();
    if let Some(at) = start_at_ms {
        for w in workers {
            report.problems.extend(late(target, w, at));
        }
    }
    let stdout = String::from_utf8_lossy(&text).into_owned();
    let stderr: String = workers
        .iter()
        .filter(|w| !w.outcome.stderr.is_empty())
        .map(|w| format!("{}: {}", w.name, w.outcome.stderr))
        .collect();
    let parsed = wrk::parse(&stdout);
    let run = WrkRun {
        outcome: outcome(stdout, stderr, 0),
        report: parsed,
    };
    (run, report)
}

/// The line naming `w` when it started after `at` (ms since the epoch):
/// from wrk's own warning, or its window opening over [`LATE_AFTER_MS`]
/// after `at`.
fn late(target: &str, w: &Worker, at: u64) -> Option<String> {
    let warned = late_warning(&w.outcome.stdout).or_else(|| late_warning(&w.outcome.stderr));
    let start_ms = w
        .json
        .as_deref()
        .and_then(|j| merge::parse_doc(j, &w.name).ok())
        .map(|d| d.window.start_unix_us / 1000);
    let opened = start_ms.map(|s| s.saturating_sub(at));
    let by = match (warned, opened) {
        (Some(ms), _) => ms,
        (None, Some(ms)) if ms > LATE_AFTER_MS => ms,
        _ => return None,
    };
    Some(format!(
        "{target}: wrk {} started {by} ms after the common start time; its window is not aligned \
         with the others (merged all the same, see the window skew)",
        w.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrks_late_warning() {
        assert_eq!(
            late_warning("x\nwrk: --start-at is 1234 ms in the past; starting now\n"),
            Some(1234)
        );
        assert_eq!(late_warning("Running 1s test @ http://a/\n"), None);
    }

    #[test]
    fn a_failed_worker_is_the_cell() {
        let ok = Worker {
            name: "worker 0".into(),
            outcome: Outcome {
                exit_code: Some(0),
                ..Outcome::default()
            },
            json: Some("{}".into()),
        };
        let bad = Worker {
            name: "worker 1".into(),
            outcome: Outcome {
                exit_code: Some(1),
                stderr: "unable to connect to a:1 Connection refused\n".into(),
                ..Outcome::default()
            },
            json: None,
        };
        let (run, rep) = combine_wrk("host", vec!["wrk".into()], &[ok, bad], None);
        assert!(run.report.is_none());
        assert!(
            run.error().contains("Connection refused"),
            "{}",
            run.error()
        );
        assert!(rep.problems[0].contains("worker 1 failed"), "{rep:?}");
    }
}
