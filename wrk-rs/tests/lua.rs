//! The Lua layer end to end: our `wrk -s` against the golden captures and,
//! side by side, against stock wrk on the same local server (issue 5).
//!
//! Error cases compare stderr byte for byte. Live runs compare what scripts
//! print (numbers masked where they are run-specific) and check that the
//! numbers scripts print are consistent with the report.

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use testkit::{http::HttpTarget, proc, stock};

const OURS: &str = env!("CARGO_BIN_EXE_wrk");
const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../compat/golden/wrk/");

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(bin: &str, args: &[&str]) -> Out {
    let f = proc::run(
        Command::new(bin).arg0("wrk").args(args).current_dir(GOLDEN),
        Duration::from_secs(60),
    )
    .expect("ran");
    assert!(!f.timed_out, "{bin} {args:?} timed out");
    Out {
        code: f.code(),
        stdout: f.stdout_str(),
        stderr: f.stderr_str(),
    }
}

fn golden(name: &str) -> String {
    std::fs::read_to_string(format!("{GOLDEN}{name}")).unwrap_or_default()
}

/// The report lines of a run (from `Running` to `Transfer/sec`).
fn report_span(stdout: &str) -> (usize, usize) {
    let lines: Vec<&str> = stdout.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("Running "))
        .unwrap_or(0);
    let end = lines
        .iter()
        .position(|l| l.starts_with("Transfer/sec:"))
        .unwrap_or(lines.len().saturating_sub(1));
    (start, end)
}

/// Lines printed before the banner and after the report (script output).
fn script_lines(stdout: &str) -> (Vec<String>, Vec<String>) {
    let lines: Vec<String> = stdout.lines().map(str::to_string).collect();
    let (s, e) = report_span(stdout);
    (
        lines[..s].to_vec(),
        lines[(e + 1).min(lines.len())..].to_vec(),
    )
}

// ---- error paths: byte-exact against the golden captures ----

#[test]
fn golden_33_init_error_panics() {
    let t = HttpTarget::start();
    let o = run(
        OURS,
        &["-t1", "-c1", "-d1s", "-s", "init_error.lua", &t.url("/")],
    );
    assert_eq!(o.code, Some(1));
    assert_eq!(o.stderr, golden("33-lua-init-error-panic.stderr"));
    assert_eq!(o.stdout, "");
}

#[test]
fn golden_34_invalid_method() {
    let t = HttpTarget::start();
    let o = run(
        OURS,
        &["-t1", "-c1", "-d1s", "-s", "bad_method.lua", &t.url("/")],
    );
    assert_eq!(o.code, Some(1));
    assert_eq!(o.stderr, golden("34-invalid-method.stderr"));
    assert_eq!(o.stdout, "");
}

#[test]
fn golden_32_syntax_error_once_per_state_then_runs() {
    let t = HttpTarget::start();
    let o = run(
        OURS,
        &["-t2", "-c2", "-d1s", "-s", "syntax_error.lua", &t.url("/")],
    );
    assert_eq!(o.code, Some(0));
    assert_eq!(o.stderr, golden("32-lua-syntax-error.stderr"));
    assert!(o.stdout.starts_with("Running 1s test @ "), "{}", o.stdout);
}

#[test]
fn golden_35_missing_script_once_per_state_then_runs() {
    let t = HttpTarget::start();
    let o = run(
        OURS,
        &[
            "-t1",
            "-c1",
            "-d1s",
            "-s",
            "does_not_exist.lua",
            &t.url("/"),
        ],
    );
    assert_eq!(o.code, Some(0));
    assert_eq!(o.stderr, golden("35-missing-script-file.stderr"));
    assert!(o.stdout.starts_with("Running 1s test @ "), "{}", o.stdout);
}

#[test]
fn golden_28_init_args_before_banner() {
    let t = HttpTarget::start();
    let url = t.url("/small.txt");
    let o = run(
        OURS,
        &[
            "-t2",
            "-c2",
            "-d1s",
            "-s",
            "args_init.lua",
            &url,
            "extra1",
            "--",
            "-c",
            "99",
            "--flag",
        ],
    );
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let (before, _) = script_lines(&o.stdout);
    // Golden 28 with the port and URL of this server substituted.
    let want: Vec<String> = golden("28-script-args.stdout")
        .lines()
        .take(4)
        .map(|l| {
            l.replace("http://127.0.0.1:8089/small.txt", &url)
                .replace("8089", &t.addr().port().to_string())
        })
        .collect();
    assert_eq!(before, want);
}

/// Runtime errors raised by our thread objects carry wrk's texts.
#[test]
fn thread_object_errors_match_stock() {
    let Some(wrk) = stock::require("wrk") else {
        return;
    };
    let t = HttpTarget::start();
    let dir = testkit::tmp::TempDir::new("wrk-lua").unwrap();
    for (name, text) in [
        ("set_field.lua", "function setup(t) t.foo = 1 end\n"),
        ("set_addr.lua", "function setup(t) t.addr = 1 end\n"),
        ("xfer.lua", "function setup(t) t:set('f', print) end\n"),
        (
            "req_err.lua",
            "function request() error('in request') end\n",
        ),
        ("nil_req.lua", "function request() return nil end\n"),
        (
            "bad_hdr.lua",
            "function request() return 'GET / HTTP/1.1\\r\\nBad Name: v\\r\\n\\r\\n' end\n",
        ),
        ("garbage.lua", "function request() return 'GARBAGE' end\n"),
        (
            "no_blank.lua",
            "function request() return 'GET / HTTP/1.1\\r\\nHost: x\\r\\n' end\n",
        ),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        let p = p.to_string_lossy().into_owned();
        let args = ["-t1", "-c1", "-d1s", "-s", &p, &t.url("/")];
        let ours = run(OURS, &args);
        let theirs = run(wrk.to_str().unwrap(), &args);
        assert_eq!(ours.stderr, theirs.stderr, "{name}");
        assert_eq!(ours.code, theirs.code, "{name}");
    }
}
