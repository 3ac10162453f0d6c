//! Finding our own binaries (`qperf`, `wrk`, `netbench`) next to the running
//! executable: netbench looks for the tools it drives there, and tests of
//! other packages (compat, netbench) find them the same way.
//!
//! Cargo tells a package's own integration tests where its binaries are
//! (`env!("CARGO_BIN_EXE_wrk")`, prefer that there). Everyone else looks
//! next to the executable: `target/<profile>/netbench` → `target/<profile>/<name>`,
//! and for a test `target/<profile>/deps/<test>` → `target/<profile>/<name>`.

use std::path::PathBuf;

/// `<name>` in the directory of the running executable (one level up from
/// `deps/`), if that file exists.
pub fn binary(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let mut dir = exe.parent()?;
    if dir.file_name().is_some_and(|d| d == "deps") {
        dir = dir.parent()?;
    }
    let candidate = dir.join(name);
    candidate.is_file().then_some(candidate)
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
        // The netkit rlib sits in target/<profile>/deps, its .d file next
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
