//! qperf's command line (spec qperf.md §2): a table-driven parser for its
//! multi-letter single-dash options.

pub mod cnum;
pub mod value;
