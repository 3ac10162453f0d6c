//! qperf's command line (spec qperf.md §2): a table-driven parser for its
//! multi-letter single-dash options, processed strictly left to right.
//!
//! - [`cnum`], [`value`]: C number conversions and value syntax.
//! - [`options`]: the option table and obsolete spellings.
//! - [`loops`]: the `-oo` loop option.
//! - [`session`]: the interpreter that runs tests as their words are reached.

pub mod cnum;
pub mod loops;
pub mod options;
pub mod session;
pub mod value;
