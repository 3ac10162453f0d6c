//! wrk2 (giltene/wrk2) output layout.

pub mod report;
pub mod stdev;
