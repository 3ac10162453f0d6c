//! Shared helpers of the wrk-rs integration tests that run a `wrk` binary
//! (ours or stock) as a process and compare what it prints.
#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use testkit::proc;

/// Our binary, built by cargo for these tests.
pub const OURS: &str = env!("CARGO_BIN_EXE_wrk");
/// The wrk golden captures; runs start here so scripts resolve by name.
pub const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../compat/golden/wrk/");

/// What one run printed and how it ended.
#[derive(Debug)]
pub struct Out {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `bin` as `wrk` (argv[0], as stock's messages name it) in [`GOLDEN`],
/// failing the test if it is still running after `limit`.
pub fn run_within(bin: &str, args: &[&str], limit: Duration) -> Out {
    let f = proc::run(
        Command::new(bin).arg0("wrk").args(args).current_dir(GOLDEN),
        limit,
    )
    .expect("ran");
    assert!(!f.timed_out, "{bin} {args:?} timed out");
    Out {
        code: f.code(),
        stdout: f.stdout_str(),
        stderr: f.stderr_str(),
    }
}
