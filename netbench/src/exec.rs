//! Running one benchmark command: spawn, wait with a deadline, stop early on
//! Ctrl-C, capture everything it printed.
//!
//! On Ctrl-C the tool gets SIGINT first (wrk then prints its report for the
//! time run so far), and SIGKILL if it has not exited two seconds later.

use std::process::Command;
use std::time::{Duration, Instant};

use netkit::proc::ChildGuard;
use serde::Serialize;

use crate::sys;

/// What a finished command left behind.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Outcome {
    /// Program and arguments as run.
    pub command: Vec<String>,
    /// Exit code (`None`: killed by a signal or never started).
    pub exit_code: Option<i32>,
    /// Wall-clock time.
    pub elapsed_secs: f64,
    /// Captured stdout.
    pub stdout: String,
    /// Captured stderr.
    pub stderr: String,
    /// Killed after the deadline.
    pub timed_out: bool,
    /// Stopped because of Ctrl-C.
    pub interrupted: bool,
    /// The command could not be started.
    pub spawn_error: Option<String>,
}

impl Outcome {
    /// The command line as a shell-like string.
    pub fn command_line(&self) -> String {
        self.command.join(" ")
    }
}

/// Runs `program args` with a deadline.
pub fn run(program: &str, args: &[String], timeout: Duration) -> Outcome {
    let mut out = Outcome {
        command: std::iter::once(program.to_string())
            .chain(args.iter().cloned())
            .collect(),
        ..Outcome::default()
    };
    let start = Instant::now();
    let mut child = match ChildGuard::spawn(Command::new(program).args(args)) {
        Ok(c) => c,
        Err(e) => {
            out.spawn_error = Some(e.to_string());
            return out;
        }
    };
    let deadline = start + timeout;
    loop {
        match child.wait_timeout(Duration::from_millis(100)) {
            Ok(Some(_)) | Err(_) => break,
            Ok(None) => {}
        }
        if sys::interrupted() {
            out.interrupted = true;
            let _ = child.signal(libc::SIGINT);
            let _ = child.wait_timeout(Duration::from_secs(2));
            break;
        }
        if Instant::now() >= deadline {
            out.timed_out = true;
            break;
        }
    }
    match child.finish(Duration::ZERO) {
        Ok(f) => {
            out.exit_code = f.code();
            out.stdout = f.stdout_str();
            out.stderr = f.stderr_str();
        }
        Err(e) => out.spawn_error = Some(format!("waiting for the command: {e}")),
    }
    out.elapsed_secs = start.elapsed().as_secs_f64();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_and_times_out() {
        let o = run(
            "sh",
            &["-c".into(), "echo hi; echo err >&2; exit 3".into()],
            Duration::from_secs(10),
        );
        assert_eq!(
            (o.stdout.as_str(), o.stderr.as_str(), o.exit_code),
            ("hi\n", "err\n", Some(3))
        );
        let o = run("sleep", &["5".into()], Duration::from_millis(300));
        assert!(o.timed_out && o.elapsed_secs < 4.0);
        let o = run("/nonexistent/tool", &[], Duration::from_secs(1));
        assert!(o.spawn_error.is_some());
    }
}
