//! The load engine: one OS thread per `-t`, each driving `connections`
//! HTTP/1.1 connections (wrk.md §2).
//!
//! Module map:
//! - [`machine`]: the pure per-connection machine (wrk's connection policy:
//!   batches, pipelining, latency, timeouts, reconnects, HEAD, Lua hooks,
//!   `-R` pacing). Events and bytes in, actions out; no syscalls, the clock
//!   is a parameter, so the policy is tested with a virtual clock.
//! - [`core`]: what every back end's thread loop shares (policy, tally,
//!   script, timers, the 100 ms tick, stop flag, result and failure
//!   hand-back).
//! - [`shell`]: the thread loop itself, written once: open, turn, feed
//!   events to the machines and perform their actions, close. Generic over
//!   the back end's I/O primitives ([`shell::Io`]: open, send, close, wait
//!   and handle events, shut down).
//! - [`worker`]: the mio (epoll) back end; [`conn`] its sockets (TCP,
//!   AF_UNIX for `--unix-socket`, TLS).
//! - [`uring`]: the io_uring back end (issue 14). [`start_thread`] runs it
//!   where the kernel allows it and epoll otherwise;
//!   `WRK_ENGINE=epoll|uring` forces one ([`uring::backend`]).
//! - [`timers`] per-connection one-shot timers, [`precise`] the `-R` timerfd,
//!   [`sampler`] Req/Sec sampling, [`clock`] the engine clock.
//! - This file: the contract with `run.rs` ([`EngineConfig`],
//!   [`start_thread`], [`ThreadResult`]) and [`FatalSlot`], through which a
//!   script failure reaches the main thread (no worker ends the process).
//!
//! Every socket error is counted in one place (`Tally::fail`) with its
//! cause for `--errors detail` and `--json` ([`crate::error_detail`]).
//!
//! Deliberate differences from wrk 4.1.0 that change what is counted (spec
//! §8 items 5 and 7, listed in the README):
//! - A batch outstanding longer than `--timeout` + 100 ms counts one timeout
//!   and its connection is reopened (wrk keeps waiting forever).
//! - Responses to `HEAD` requests have no body (wrk stalls on them).
//!
//! Deliberate differences from wrk 4.1.0 (nothing counted or printed changes):
//! - Sockets are registered once, edge-triggered for read and write; a batch
//!   is written directly when allowed instead of after a writability event.
//!   ~2.1–2.3 syscalls per keep-alive request instead of wrk's ~4.2.
//! - Monotonic clock instead of `gettimeofday` (NTP steps cannot distort
//!   latencies).
//! - 64 KiB read buffer instead of 8 KiB (fewer reads for big bodies).
//! - After a connection-ending response followed by extra bytes, wrk
//!   reconnects twice (once in the callback, once for the parse error); we
//!   count the same read error but open only one new connection. Likewise
//!   after an EOF-delimited body.
//! - TLS via rustls (TLS 1.2/1.3, no verification like wrk); no SNI for IP
//!   literals (rustls never sends one).
//! - Sockets are closed by a helper thread after the run (wrk leaves them to
//!   process exit) so the join, and thus the measured runtime, is not
//!   stretched by thousands of close() calls.
//! - `-R`: each connection follows `rate::Schedule`; sends are timed with a
//!   timerfd (µs) instead of wrk2's ms timers; a server close keeps wrk 4's
//!   rule (read error + reconnect) rather than wrk2's dead connection;
//!   timeouts are counted per batch like wrk 4.

pub mod clock;
pub mod conn;
pub mod core;
pub mod machine;
pub mod precise;
pub mod sampler;
pub mod shell;
pub mod timers;
pub mod uring;
pub mod worker;

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use common::wrk::report::Errors;
use common::wrk::stats::Stats;

use crate::script_api::{ScriptFailure, ThreadScript};

/// `-R` (wrk2 mode): the total rate shared by all connections of all threads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateConfig {
    /// Requests per second over the whole run (all threads).
    pub total_rate: f64,
    /// Connections over all threads.
    pub total_connections: usize,
    /// Global index of this thread's first connection.
    pub first_connection: usize,
    /// `-B/--batch_latency`: record the corrected/uncorrected latency once
    /// per pipelined batch (at its last response) instead of per response.
    pub batch_latency: bool,
}

/// Everything one worker thread needs.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Thread number.
    pub index: usize,
    pub addr: SocketAddr,
    /// `--unix-socket`: connect here instead of `addr`.
    pub unix_socket: Option<Arc<std::path::Path>>,
    /// `Some(host)` for https (SNI).
    pub tls_server_name: Option<String>,
    /// Connections of this thread (floor(c/t)).
    pub connections: usize,
    /// `--timeout` in milliseconds.
    pub timeout_ms: u64,
    /// Static pre-serialized batch (used when no dynamic script).
    pub request: Arc<Vec<u8>>,
    /// Requests per batch (≥ 1).
    pub pipeline: usize,
    /// `-R` (wrk2 mode); `None` = closed loop like wrk.
    pub rate: Option<RateConfig>,
    /// What thread 0's validation found (which hooks exist); `None` without
    /// a script. Decides whether `request()`/`delay()`/`response()` are called
    /// and whether bodies are collected. (Addition to the split contract: the
    /// engine cannot learn this from `ThreadScript` without an extra call.)
    pub script_shape: Option<crate::script_api::ScriptShape>,
}

/// What a worker thread hands back when it ends.
pub struct ThreadResult {
    pub complete: u64,
    pub bytes: u64,
    pub errors: Errors,
    /// The same errors by class and cause.
    pub error_detail: crate::error_detail::ErrorDetail,
    /// Latency in µs, limit = timeout in µs like wrk.
    pub latency: Stats,
    /// Req/Sec samples every 100 ms.
    pub requests: Stats,
    /// `-R`: latency from the intended send time.
    pub corrected: Option<common::hdr::Recorder>,
    /// `-R`: latency from the actual send time.
    pub uncorrected: Option<common::hdr::Recorder>,
    /// The thread's script, handed back for `done()`.
    pub script: Option<Box<dyn ThreadScript>>,
    /// A script hook failed and ended the thread (the run is void).
    pub failure: Option<ScriptFailure>,
}

impl ThreadResult {
    /// An empty result shaped like wrk's per-thread histograms.
    pub fn empty(cfg: &EngineConfig, script: Option<Box<dyn ThreadScript>>) -> ThreadResult {
        ThreadResult {
            complete: 0,
            bytes: 0,
            errors: Errors::default(),
            error_detail: Default::default(),
            latency: Stats::new(cfg.timeout_ms.saturating_mul(1000).saturating_add(1)),
            requests: Stats::new(sampler::MAX_RATE + 1),
            corrected: cfg.rate.map(|_| common::hdr::Recorder::new()),
            uncorrected: cfg.rate.map(|_| common::hdr::Recorder::new()),
            script,
            failure: None,
        }
    }
}

/// A running worker thread.
pub struct ThreadHandle {
    inner: std::thread::JoinHandle<ThreadResult>,
}

impl ThreadHandle {
    /// Waits for the thread to finish and returns its counters.
    pub fn join(self) -> ThreadResult {
        match self.inner.join() {
            Ok(r) => r,
            Err(p) => std::panic::resume_unwind(p),
        }
    }
}

/// The first script failure of any worker thread, for the main thread
/// (which prints it and exits like wrk's LuaJIT panic); `wake` interrupts
/// the main thread's wait.
pub struct FatalSlot {
    failure: Mutex<Option<ScriptFailure>>,
    wake: fn(),
}

impl FatalSlot {
    pub fn new(wake: fn()) -> FatalSlot {
        FatalSlot {
            failure: Mutex::new(None),
            wake,
        }
    }

    /// A slot nobody waits on (tests, embedders that join and look at
    /// [`ThreadResult::failure`]).
    pub fn detached() -> Arc<FatalSlot> {
        Arc::new(FatalSlot::new(|| {}))
    }

    /// Keeps the first failure and wakes the main thread.
    pub fn set(&self, f: ScriptFailure) {
        if let Ok(mut slot) = self.failure.lock() {
            slot.get_or_insert(f);
        }
        (self.wake)();
    }

    /// The failure, if a worker reported one.
    pub fn get(&self) -> Option<ScriptFailure> {
        self.failure.lock().ok().and_then(|s| s.clone())
    }
}

/// A worker thread could not be created (wrk: `unable to create thread N:
/// <reason>`, exit 2).
#[derive(Debug)]
pub struct CannotCreate {
    pub index: usize,
    pub error: std::io::Error,
}

impl std::fmt::Display for CannotCreate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let msg = match self.error.raw_os_error() {
            Some(n) => crate::sys::strerror(n),
            None => self.error.to_string(),
        };
        write!(f, "unable to create thread {}: {msg}", self.index)
    }
}

/// Spawns the OS thread with its own event loop. `stop` set → the thread
/// finishes and returns; a script failure is also left in `fatal`.
pub fn start_thread(
    cfg: EngineConfig,
    script: Option<Box<dyn ThreadScript>>,
    stop: Arc<AtomicBool>,
    fatal: Arc<FatalSlot>,
) -> Result<ThreadHandle, CannotCreate> {
    let index = cfg.index;
    let cannot = |error| CannotCreate { index, error };
    let backend = uring::backend().map_err(|msg| cannot(std::io::Error::other(msg)))?;
    let core = core::ThreadCore::new(cfg, script, stop, fatal);
    let body: Box<dyn FnOnce() -> ThreadResult + Send> = match backend {
        uring::Backend::Uring => {
            let prepared = uring::io::Prepared::new(core).map_err(cannot)?;
            // A ring that cannot be set up in the thread after all: epoll.
            Box::new(move || prepared.run())
        }
        uring::Backend::Epoll => {
            let worker = worker::Mio::worker(core).map_err(cannot)?;
            Box::new(move || worker.run())
        }
    };
    std::thread::Builder::new()
        .name(format!("wrk-{index}"))
        .spawn(body)
        .map(|inner| ThreadHandle { inner })
        .map_err(cannot)
}
