//! Where the reference material lives, for every test in the workspace.
//!
//! `compat/golden/{qperf,wrk}/` holds captures of the real tools and
//! `compat/spec/` their specifications. Tests of any package can reach them
//! through this crate instead of a relative path of their own (netbench's
//! do; some qperf-rs and common tests still join
//! `CARGO_MANIFEST_DIR/../compat/...` themselves).
//! (The capture and benchmark scripts beside it are shell; see README.md.)

use std::path::PathBuf;

/// The `compat/` directory of this checkout.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Path of a golden capture, `rel` relative to `compat/golden/`
/// (e.g. `qperf/version.txt`).
pub fn golden_path(rel: &str) -> PathBuf {
    root().join("golden").join(rel)
}

/// A golden capture's text, or `None` if there is no such file.
pub fn golden_opt(rel: &str) -> Option<String> {
    std::fs::read_to_string(golden_path(rel)).ok()
}

/// A golden capture's text. Panics naming the path when it cannot be read:
/// a test that needs a capture must not pass without it.
pub fn golden(rel: &str) -> String {
    let path = golden_path(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Path of a tool's specification (`qperf` or `wrk`).
pub fn spec_path(tool: &str) -> PathBuf {
    root().join("spec").join(format!("{tool}.md"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_captures_and_specs() {
        assert!(golden("qperf/version.txt").starts_with("qperf "));
        assert!(golden_opt("wrk/INDEX.md").is_some());
        assert!(golden_opt("wrk/no-such-file").is_none());
        assert!(spec_path("wrk").is_file() && spec_path("qperf").is_file());
    }

    #[test]
    #[should_panic(expected = "no-such-file")]
    fn a_missing_capture_fails_loudly() {
        golden("qperf/no-such-file");
    }
}
