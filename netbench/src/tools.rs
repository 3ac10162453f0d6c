//! Finding the `qperf` and `wrk` binaries netbench drives.
//!
//! Order: `--qperf` / `--wrk`; else our own builds next to netbench's
//! executable (`target/<profile>/qperf`), or in `target/release`; else, when
//! run through cargo (`$CARGO` set), build them with
//! `$CARGO build --release -p qperf-rs -p wrk-rs` (announced on stderr).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The two tools.
#[derive(Clone, Debug)]
pub struct Tools {
    /// qperf client and server.
    pub qperf: PathBuf,
    /// wrk.
    pub wrk: PathBuf,
}

/// Resolves both tools (see the module docs).
pub fn locate(qperf: Option<PathBuf>, wrk: Option<PathBuf>) -> Result<Tools, String> {
    let find = |name: &str, given: &Option<PathBuf>| given.clone().or_else(|| ours(name));
    let (mut q, mut w) = (find("qperf", &qperf), find("wrk", &wrk));
    if q.is_none() || w.is_none() {
        if let Some(cargo) = std::env::var_os("CARGO") {
            eprintln!(
                "netbench: our qperf/wrk are not built yet; running `{} build --release -p qperf-rs -p wrk-rs`",
                Path::new(&cargo).display()
            );
            let status = Command::new(&cargo)
                .args(["build", "--release", "-p", "qperf-rs", "-p", "wrk-rs"])
                .stdout(Stdio::null())
                .status()
                .map_err(|e| format!("cannot run cargo: {e}"))?;
            if !status.success() {
                return Err(format!(
                    "building qperf-rs/wrk-rs failed ({status}); pass --qperf PATH --wrk PATH to use other binaries"
                ));
            }
            q = find("qperf", &qperf);
            w = find("wrk", &wrk);
        }
    }
    let missing = |name: &str| {
        format!("cannot find our `{name}` binary next to netbench; build it (cargo build --release -p {name}-rs) or pass --{name} PATH")
    };
    let tools = Tools {
        qperf: q.ok_or_else(|| missing("qperf"))?,
        wrk: w.ok_or_else(|| missing("wrk"))?,
    };
    Ok(Tools {
        qperf: resolve(tools.qperf)?,
        wrk: resolve(tools.wrk)?,
    })
}

/// A path as given, or a bare name looked up in `$PATH` (like a shell).
fn resolve(p: PathBuf) -> Result<PathBuf, String> {
    if p.components().count() == 1 && !p.is_file() {
        let found = std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join(&p))
                .find(|c| c.is_file())
        });
        if let Some(f) = found {
            return Ok(f);
        }
    }
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!("{}: no such file", p.display()))
    }
}

/// `target/<profile>/<name>` next to our executable ([`netkit::ours`]),
/// or `target/release/<name>` (where the cargo build above puts them).
fn ours(name: &str) -> Option<PathBuf> {
    netkit::ours::binary(name).or_else(|| {
        let exe = std::env::current_exe().ok()?;
        let release = exe.parent()?.parent()?.join("release").join(name);
        release.is_file().then_some(release)
    })
}
