//! netbench: the seed's runbook in one command.
//!
//! It runs `qperf <host> -oo msg_size:1:256K:*64 -vu tcp_bw tcp_lat` and
//! `wrk -tT -cC -dD <url>` against each target as child processes (so it
//! measures exactly what the runbook measures), parses their standard
//! output, and writes the comparison tables (Markdown), every raw figure
//! (JSON) and charts (SVG).
//!
//! | module | job |
//! |---|---|
//! | [`cli`] | command line → plain options |
//! | [`config`] | targets file (TOML) → targets, errors with line and field |
//! | [`settings`] | duration/threads/connections/qperf time/sweep layering |
//! | [`sweep`] | the `-oo msg_size:` sweep and size labels |
//! | [`tools`] | find our `qperf`/`wrk` (or build them, or `--qperf`/`--wrk`) |
//! | [`local`] | embedded targets: loopback, a network namespace, a Service (on [`netkit`]) |
//! | [`serve`] | `netbench serve-http`: the HTTP target process |
//! | [`exec`] | run one command with a deadline, stop on Ctrl-C |
//! | [`bench`] | the command lines and the run over all targets |
//! | [`parse`] | qperf and wrk output parsers |
//! | [`results`] | result model and table cells |
//! | [`report`] | Markdown, JSON, SVG |
//! | [`progress`] | progress line on a terminal |
//! | [`sys`] | Ctrl-C flag, parent-death signal (the only `unsafe`) |
//! | [`app`] | one run from arguments to files |
//! | [`merge`] | `netbench merge`: wrk (`-R` too) / qperf `--json` workers → one run in the tool's text |
//! | [`k8s`] | `netbench k8s`: manifests, the cluster run, clean-up |
//! | [`workers`] | several wrk generators (local processes, a Job's pods) → one merged cell |

pub mod app;
pub mod bench;
pub mod cli;
pub mod config;
pub mod exec;
pub mod k8s;
pub mod local;
pub mod merge;
pub mod parse;
pub mod progress;
pub mod report;
pub mod results;
pub mod serve;
pub mod settings;
pub mod sweep;
pub mod sys;
pub mod tools;
pub mod workers;
