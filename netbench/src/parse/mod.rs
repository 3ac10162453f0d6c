//! Parsers for the standard output of `qperf` and `wrk`.
//!
//! netbench drives the tools exactly as a user would and reads the same text
//! a user's script sees, so these parsers take the captured stdout (and
//! stderr for error lines) and never touch processes. Unit tables live in
//! [`units`]; each tool has its own module.

pub mod qperf;
pub mod units;
pub mod wrk;
