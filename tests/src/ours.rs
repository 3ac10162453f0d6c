//! Finding our own binaries (`qperf`, `wrk`, `netbench`) from a test of
//! another package.
//!
//! Cargo tells a package's own integration tests where its binaries are
//! (`env!("CARGO_BIN_EXE_wrk")`, prefer that there). Tests in other packages
//! (compat, netbench) find them next to the test executable instead:
//! `target/<profile>/deps/<test>` → `target/<profile>/<name>`.
//! `cargo test --workspace` builds every member's binaries before running
//! any test; with `cargo test -p compat` alone, build them first
//! (`cargo build -p wrk-rs -p qperf-rs`), or the file may be missing or stale.

use std::path::PathBuf;

/// `target/<profile>/<name>` for the profile this test was built with, if
/// that file exists.
pub fn binary(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let mut dir = exe.parent()?;
    if dir.file_name().is_some_and(|d| d == "deps") {
        dir = dir.parent()?;
    }
    let candidate = dir.join(name);
    candidate.is_file().then_some(candidate)
}

/// Like [`binary`], but a missing binary is a test failure.
///
/// # Panics
/// When `target/<profile>/<name>` does not exist.
pub fn require_binary(name: &str) -> PathBuf {
    binary(name).unwrap_or_else(|| {
        panic!(
            "our `{name}` binary is not built next to this test; run `cargo test --workspace` \
             or build it first (cargo build -p <its package>)"
        )
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_files_in_the_profile_dir_only() {
        let exe = std::env::current_exe().expect("current_exe");
        let profile_dir = exe
            .parent()
            .and_then(|d| d.parent())
            .expect("target/<profile>");
        // The testkit rlib sits in target/<profile>/deps, its .d file next
        // to the profile dir: use a name that exists there on every build.
        let probe = std::fs::read_dir(profile_dir)
            .expect("read profile dir")
            .filter_map(Result::ok)
            .find(|e| e.path().is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned());
        if let Some(name) = probe {
            assert_eq!(super::binary(&name), Some(profile_dir.join(&name)));
        }
        assert_eq!(super::binary("definitely-not-built-xyz"), None);
    }
}
