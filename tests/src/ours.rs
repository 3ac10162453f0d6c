//! Finding our own binaries from a test of another package: the lookup is
//! [`netkit::ours::binary`] (re-exported); [`require_binary`] makes a missing
//! one a test failure.
//!
//! `cargo test --workspace` builds every member's binaries before running
//! any test; with `cargo test -p compat` alone, build them first
//! (`cargo build -p wrk-rs -p qperf-rs`), or the file may be missing or stale.

use std::path::PathBuf;

pub use netkit::ours::binary;

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
