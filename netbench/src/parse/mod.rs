//! Parsers for the standard output of `qperf` and `wrk`.
//!
//! netbench drives the tools exactly as a user would and reads the same text
//! a user's script sees, so these parsers take the captured stdout (and
//! stderr for error lines) and never touch processes. Unit tables live in
//! [`units`]; each tool has its own module.

pub mod qperf;
pub mod units;
pub mod wrk;

use serde::Serialize;

/// One figure as the tool printed it, plus its value in base units
/// (bytes/s, seconds, requests/s, bytes).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Figure {
    /// The text as printed, e.g. `1.21 MB/sec`, `1.96ms`, `42.92MB`.
    pub text: String,
    /// The value in base units.
    pub value: f64,
}
