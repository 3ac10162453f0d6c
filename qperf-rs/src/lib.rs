//! `qperf` — a wire-compatible reimplementation of qperf 0.4.11.
//!
//! Module map:
//! - [`cli`], [`params`], [`help`], [`tests_table`]: command line, parameters, help topics, test table.
//! - [`proto`] (message types), [`wire`] (sans-IO codec), [`control`] (control connection I/O).
//! - [`clock`]: time as a parameter (the clock every timeout is decided on, pure deadlines, a
//!   fake clock for tests).
//! - [`client`], [`server`], [`datapath`]: running tests; [`cpu`] tick counters; [`conf`] the conf test.
//!   [`server::serve_on`] takes a bound listener, [`server::Output`] is where the server writes.
//! - [`results`] (result maths, spec §5) and [`report`] (output, spec §6); [`debug`] the `-D` trace.
//! - [`rdma`]: the RDMA tests (§4.14), over libibverbs with the `rdma` feature.
//! - [`ext`]: our opt-in extensions (percentiles, parallel streams, cgroup CPU, JSON).
//! - [`sys`]: every plain libc call behind a safe function (data-path syscalls, poll, urgent
//!   data, affinity, `strerror`/`gai_strerror` texts, resolution); the only other `unsafe` is
//!   the RDMA FFI (`rdma::ibv`) and the timer's signal to its data thread (`datapath::timer`).

pub mod cli;
pub mod client;
pub mod clock;
pub mod conf;
pub mod control;
pub mod cpu;
pub mod datapath;
pub mod debug;
pub mod ext;
pub mod help;
pub mod params;
pub mod proto;
pub mod rdma;
pub mod report;
pub mod results;
pub mod server;
pub mod sys;
pub mod tests_table;
pub mod wire;
