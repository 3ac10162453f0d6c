//! Finding the stock tools (the oracles): `qperf`, `wrk`, `nginx`, ...
//!
//! Lookup order: an explicit override in `NETBENCH_STOCK_<TOOL>` (tool name
//! upper-cased, `-` as `_`), then `/usr/bin`, `/usr/sbin`, then `$PATH`.
//! System directories come first, and `$PATH` entries under a `.cargo/bin`
//! or a `target/` build directory are skipped, so our own `qperf`/`wrk`
//! (installed with `cargo install` or just built) is never taken for the
//! stock one.
//!
//! Tests call [`require`]: when the tool is missing it prints
//! `skipping: <tool> not installed` and returns `None`, unless
//! `NETBENCH_REQUIRE_STOCK=1` is set (CI), in which case it panics.

use std::path::{Path, PathBuf};

/// Env var that turns "skip when missing" into "fail when missing".
pub const REQUIRE_ENV: &str = "NETBENCH_REQUIRE_STOCK";

const SYSTEM_DIRS: &[&str] = &["/usr/bin", "/usr/sbin"];

/// Where `tool` is installed, if anywhere (see the module docs for the order).
pub fn find(tool: &str) -> Option<PathBuf> {
    if let Some(p) = override_path(tool) {
        return Some(p);
    }
    let system = SYSTEM_DIRS.iter().map(PathBuf::from);
    let path_dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|d| !is_build_dir(d));
    system
        .chain(path_dirs)
        .map(|d| d.join(tool))
        .find(|p| is_executable(p))
}

/// The stock `qperf` (0.4.11 expected).
pub fn stock_qperf() -> Option<PathBuf> {
    find("qperf")
}

/// The stock `wrk` (4.1.0 expected).
pub fn stock_wrk() -> Option<PathBuf> {
    find("wrk")
}

/// The system `nginx`.
pub fn stock_nginx() -> Option<PathBuf> {
    find("nginx")
}

/// Whether `NETBENCH_REQUIRE_STOCK=1` is set.
pub fn stock_required() -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| v.trim() == "1")
}

/// Find `tool` for a test that needs it.
///
/// Missing tool: prints `skipping: <tool> not installed` and returns `None`
/// (the caller returns early), or panics when `NETBENCH_REQUIRE_STOCK=1`.
pub fn require(tool: &str) -> Option<PathBuf> {
    let found = find(tool);
    if found.is_none() {
        missing(tool);
    }
    found
}

/// Report a missing prerequisite the same way [`require`] does: print the
/// skip line, or panic under `NETBENCH_REQUIRE_STOCK=1`. For prerequisites
/// other than a binary (say, IPv6 loopback), pass a short description.
pub fn missing(what: &str) {
    if stock_required() {
        panic!(
            "{what} is required ({REQUIRE_ENV}=1) but was not found \
             (looked in $NETBENCH_STOCK_*, /usr/bin, /usr/sbin, $PATH); \
             install it (see .ci/run) or unset {REQUIRE_ENV} to skip"
        );
    }
    eprintln!("skipping: {what} not installed");
}

fn override_path(tool: &str) -> Option<PathBuf> {
    let var = format!(
        "NETBENCH_STOCK_{}",
        tool.to_ascii_uppercase().replace('-', "_")
    );
    let p = PathBuf::from(std::env::var_os(var)?);
    is_executable(&p).then_some(p)
}

/// `.cargo/bin` and cargo `target/<profile>` directories hold our builds.
fn is_build_dir(dir: &Path) -> bool {
    let comps: Vec<_> = dir.components().map(|c| c.as_os_str()).collect();
    comps.windows(2).any(|w| w[0] == ".cargo" && w[1] == "bin")
        || comps.contains(&std::ffi::OsStr::new("target"))
        || std::env::var_os("CARGO_TARGET_DIR").is_some_and(|t| dir.starts_with(t))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sh_and_not_nonsense() {
        let sh = find("sh").expect("sh is always installed");
        assert!(sh.is_absolute());
        assert!(find("definitely-not-a-tool-xyz").is_none());
    }

    #[test]
    fn build_dirs_are_skipped() {
        assert!(is_build_dir(Path::new("/root/.cargo/bin")));
        assert!(is_build_dir(Path::new("/work/main/target/debug")));
        assert!(!is_build_dir(Path::new("/usr/local/bin")));
    }

    #[test]
    fn require_missing_skips_or_panics() {
        let r = std::panic::catch_unwind(|| require("definitely-not-a-tool-xyz"));
        if stock_required() {
            let msg = r.expect_err("must panic under NETBENCH_REQUIRE_STOCK=1");
            let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
            assert!(msg.contains("definitely-not-a-tool-xyz"), "{msg}");
        } else {
            assert_eq!(r.expect("no panic without the env var"), None);
        }
    }

    #[test]
    fn stock_tools_are_system_binaries() {
        for (tool, found) in [
            ("qperf", stock_qperf()),
            ("wrk", stock_wrk()),
            ("nginx", stock_nginx()),
        ] {
            match found {
                Some(p) => assert!(p.ends_with(tool) && !is_build_dir(p.parent().unwrap_or(&p))),
                None => missing(tool),
            }
        }
    }
}
