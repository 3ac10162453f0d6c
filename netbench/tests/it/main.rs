//! netbench integration tests, one binary with a module per area.

mod e2e;
mod golden_parse;
mod proptests;
mod support;
mod tables;
