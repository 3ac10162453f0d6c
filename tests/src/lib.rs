//! Test kit shared by every end-to-end test in the workspace.
//!
//! Tests own their peers: they bind port 0, start servers in-process or as
//! child processes, and stop them by handle. This crate provides those peers
//! and the plumbing around them, one job per module:
//!
//! The product-side pieces (child-process guard, HTTP target, network
//! namespaces, binary lookup, ports, libc calls) live in the `netkit` crate,
//! which netbench runs on; the modules below re-export them, adding only the
//! conveniences that panic when a test cannot run.
//!
//! | module | what it is for |
//! |---|---|
//! | [`ports`] | free loopback ports (`free_port`, `free_port_pair`, IPv6 probe): `netkit::ports`, unwrapped |
//! | [`sys`] | `netkit::sys`: raise the open-file limit, send a signal to a child |
//! | [`tmp`] | self-deleting temporary directories |
//! | [`proc`] | `netkit::proc`: [`proc::ChildGuard`]: spawn, capture output, wait with a deadline, kill by PID on drop |
//! | [`ours`] | find our own built binaries (`target/<profile>/wrk`); `require_binary` fails the test when missing |
//! | [`stock`] | find the real `qperf` / `wrk` / `nginx`; skip or fail (`NETBENCH_REQUIRE_STOCK=1`) when absent |
//! | [`client`] | a minimal blocking HTTP/1.1 client to check servers in tests |
//! | [`http`] | [`http::HttpTarget`]: `netkit`'s in-process hyper HTTP/1.1 server, with panicking `start`/`start_with` |
//! | [`misbehave`] | [`misbehave::MisbehavingServer`]: raw-socket servers that break HTTP on purpose |
//! | [`netns`] | `netkit::netns`, root only: [`netns::Pod`] (namespace + veth) and [`netns::Service`] (kube-proxy-like DNAT), removed on drop |
//! | [`nginx`] | [`nginx::Nginx`]: the system nginx in a temporary prefix, killed on drop |
//!
//! Typical use in a test that compares with a stock tool:
//!
//! ```no_run
//! use std::process::Command;
//! use std::time::Duration;
//! use testkit::{http::HttpTarget, proc, stock};
//!
//! // Prints "skipping: wrk not installed" (or fails in CI) when absent.
//! let Some(wrk) = stock::require("wrk") else { return };
//! let target = HttpTarget::start(); // 127.0.0.1:<free port>, stops on drop
//! let out = proc::run(
//!     Command::new(wrk).args(["-t1", "-c10", "-d1s"]).arg(target.url("/")),
//!     Duration::from_secs(30),
//! )
//! .expect("wrk ran");
//! assert!(out.stdout_str().contains("requests in"));
//! ```
//!
//! Everything listens on loopback only. Helpers that cannot work without
//! loopback sockets (binding `127.0.0.1:0`) panic with a clear message: this
//! is a test library, and such a failure means the test cannot run at all.

pub mod client;
pub mod http;
pub mod misbehave;
pub mod netns;
pub mod nginx;
pub mod ours;
pub mod ports;
pub mod proc;
pub mod stock;
pub mod sys;
pub mod tmp;
