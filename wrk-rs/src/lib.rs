//! `wrk` — a drop-in reimplementation of wrk 4.1.0 with wrk2's `-R` mode.
//!
//! Module map:
//! - [`cli`] command line, [`url`] target URL, [`request`] pre-serialized requests and the
//!   one request validator ([`request::validate`], also for script `request()` results),
//!   [`resolve`] address lookup, [`limits`] open-file limits.
//! - [`engine`] per-thread loops: the pure per-connection machine
//!   ([`engine::machine`]) driven by a back end shell ([`engine::worker`], mio); [`http`]
//!   the sans-IO response parser; [`tls`] rustls glue; [`rate`] the constant-rate schedule
//!   (`-R`).
//! - [`sys`] the libc calls (getaddrinfo with gai texts, thread-safe strerror, rlimit,
//!   timerfd), each `unsafe` block with its SAFETY reason.
//! - [`run`] orchestrates threads, timing and signals; [`report`] / [`report_wrk2`] render output.
//! - [`script_api`] is the seam to the Lua layer in [`script`].
//! - Opt-in extensions (issue 12): [`json_report`] (`--json`), [`hdr_log`]
//!   (`--hdr`, HdrHistogram V2/base64 and interval logs), [`error_detail`]
//!   (`--errors detail`); `--unix-socket` is [`engine::conn::Stream`].

pub mod cli;
pub mod engine;
pub mod error_detail;
pub mod hdr_log;
pub mod http;
pub mod json_report;
pub mod limits;
pub mod rate;
pub mod report;
pub mod report_wrk2;
pub mod request;
pub mod resolve;
pub mod run;
pub mod script;
pub mod script_api;
pub mod sys;
pub mod tls;
pub mod url;
