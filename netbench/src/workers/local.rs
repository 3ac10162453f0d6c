//! `--wrk-workers N`: N local wrk processes, each with the cell's command
//! line plus `--json FILE --start-at MS` (one instant for all, a short lead
//! ahead so every process is up by then), run side by side and merged.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::exec;
use crate::results::{WorkerReport, WrkRun};
use crate::workers::{combine_wrk, start_at_ms, Worker};

/// Lead before the common start: spawning N processes takes milliseconds,
/// a loaded machine maybe a few hundred.
pub const LEAD_SECS: f64 = 1.0;

/// Runs `n` copies of `program args` (wrk) for `target` with a common
/// start and merges them; `timeout` is one run's deadline.
pub fn run_wrk(
    target: &str,
    program: &str,
    args: &[String],
    timeout: Duration,
    n: u32,
) -> (WrkRun, WorkerReport) {
    let ran = run_workers(program, args, timeout, n);
    combine_wrk(target, ran.command, &ran.workers, Some(ran.start_at_ms))
}

/// What [`run_workers`] ran.
#[derive(Clone, Debug)]
pub struct Ran {
    /// The command line shown for the cell (file names as a pattern).
    pub command: Vec<String>,
    /// The common `--start-at`.
    pub start_at_ms: u64,
    /// Each process, with its document.
    pub workers: Vec<Worker>,
}

/// Runs the `n` processes side by side and collects their documents.
pub fn run_workers(program: &str, args: &[String], timeout: Duration, n: u32) -> Ran {
    let dir = scratch_dir();
    let start_at = start_at_ms(LEAD_SECS);
    let file = |i: u32| dir.join(format!("wrk-worker-{i}.json"));
    let with_ext = |path: String| -> Vec<String> {
        args.iter()
            .cloned()
            .chain([
                "--json".into(),
                path,
                "--start-at".into(),
                start_at.to_string(),
            ])
            .collect()
    };
    let timeout = timeout + Duration::from_secs_f64(LEAD_SECS);
    let made = std::fs::create_dir_all(&dir);
    let mut workers: Vec<Worker> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let a = with_ext(file(i).display().to_string());
                s.spawn(move || exec::run(program, &a, timeout))
            })
            .collect();
        handles
            .into_iter()
            .enumerate()
            .map(|(i, h)| Worker {
                name: format!("worker {i}"),
                outcome: h.join().unwrap_or_default(),
                json: None,
            })
            .collect()
    });
    for (i, w) in (0u32..).zip(workers.iter_mut()) {
        w.json = std::fs::read_to_string(file(i)).ok();
    }
    if made.is_ok() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let command = std::iter::once(program.to_string())
        .chain(with_ext(format!(
            "wrk-worker-{{0..{}}}.json",
            n.saturating_sub(1)
        )))
        .collect();
    Ran {
        command,
        start_at_ms: start_at,
        workers,
    }
}

/// A fresh directory for the workers' documents.
fn scratch_dir() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    std::env::temp_dir().join(format!(
        "netbench-workers-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}
