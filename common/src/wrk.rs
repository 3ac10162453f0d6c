//! wrk 4.1.0 building blocks: unit formatter, histogram and report.

pub mod report;
pub mod stats;
pub mod units;

pub(crate) mod ldouble;
