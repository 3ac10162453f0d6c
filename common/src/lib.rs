//! Statistics, unit formatting and output renderers shared by the `qperf`
//! and `wrk` replacements.
//!
//! Module map:
//! - [`qperf`]: qperf 0.4.11 number/unit formatting and the aligned
//!   `name = value unit` result blocks (spec qperf.md §6.2–6.7).
//! - [`wrk::units`]: wrk's unit formatter and column padder (wrk.md §3.3–3.4).
//! - [`wrk::stats`]: wrk's microsecond histogram with sparse, paged storage
//!   (wrk.md §2.8–2.11).
//! - [`wrk::report`]: wrk 4.1.0 banner and report renderer (wrk.md §3).
//! - [`hdr`]: HdrHistogram-backed recorder used by wrk2 `-R` mode.
//! - [`wrk2::report`]: wrk2's output layout (wrk.md §6.6).

pub mod hdr;
pub mod qperf;
pub mod wrk;
pub mod wrk2;
