//! The seam between the load engine and the Lua script layer.
//!
//! The engine never touches Lua: it talks to these traits. With no `-s`
//! option there is no script object at all, so plain runs pay nothing.
//! `crate::script` implements them on LuaJIT (mlua); tests may implement
//! them with plain Rust.
//!
//! Order of calls (mirrors wrk 4.1.0, spec §2.1 and §4):
//! 1. `MainScript` is created (script top level runs once in the main state).
//! 2. `resolve(host, service)` gives the addresses every thread uses unless
//!    `setup()` changes `thread.addr`.
//! 3. For each thread i in order: `create_thread(i, addr)` creates the thread
//!    state (top level runs again), calls `setup(thread)` in the main state and
//!    `init(args)` in the thread state. For i == 0 the engine then calls
//!    `ThreadScript::validate()` once (the extra `request()` call) to learn the
//!    pipeline depth and which hooks exist; those decisions apply to all threads.
//! 4. Each `ThreadScript` is moved to its worker thread and used there only.
//! 5. After the report, `done(...)` runs in the main state.

use std::net::SocketAddr;

/// A fatal script failure. The engine prints `message` on stderr and exits
/// with `exit_code` (wrk: `PANIC: unprotected error in call to Lua API (...)`, 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptFailure {
    pub message: String,
    pub exit_code: i32,
}

/// What thread 0's validation call found (spec §2.1 step 6.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptShape {
    /// Requests contained in the first request() result (pipeline depth, ≥ 1).
    pub pipeline: usize,
    /// A global `request` function exists: call it before every batch.
    pub dynamic: bool,
    /// A global `delay` function exists.
    pub delay: bool,
    /// A global `response` function exists: collect headers and bodies.
    pub response: bool,
}

/// Counters handed to `done()` as the `summary` table (spec §4.8).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub duration_us: u64,
    pub requests: u64,
    pub bytes: u64,
    pub connect: u64,
    pub read: u64,
    pub write: u64,
    pub status: u64,
    pub timeout: u64,
}

/// The main Lua state.
pub trait MainScript: Send {
    /// `wrk.resolve`: lookup + blocking connect probe; the addresses that
    /// passed. On lookup failure the error text is what wrk prints
    /// (`unable to resolve HOST:SERVICE MSG`), exit 1.
    fn resolve(&mut self, host: &str, service: &str) -> Result<Vec<SocketAddr>, ScriptFailure>;
    /// Creates thread `index`'s state with `addr` as its default target, runs
    /// `setup(thread)` (main state) then `init(args)` (thread state).
    fn create_thread(
        &mut self,
        index: usize,
        addr: SocketAddr,
    ) -> Result<Box<dyn ThreadScript>, ScriptFailure>;
    /// Whether a global `done` function exists.
    fn has_done(&self) -> bool;
    /// Calls `done(summary, latency, requests)`. `latency` and `requests` are
    /// the wrk histograms after the post-run correction.
    fn done(
        &mut self,
        summary: &Summary,
        latency: &common::wrk::stats::Stats,
        requests: &common::wrk::stats::Stats,
    ) -> Result<(), ScriptFailure>;
    /// `-R` (wrk2) mode: `done()` with HdrHistogram stats objects (spec §6.7).
    fn done_hdr(
        &mut self,
        summary: &Summary,
        latency: &common::hdr::Recorder,
        requests: &common::hdr::Recorder,
    ) -> Result<(), ScriptFailure> {
        let _ = (summary, latency, requests);
        Ok(())
    }
}

/// One worker thread's Lua state. Used only on its own worker thread.
pub trait ThreadScript: Send {
    /// The address this thread connects to (after `setup()` may have changed it).
    fn addr(&self) -> SocketAddr;
    /// Thread 0 only, once, before the run: the validation `request()` call.
    /// Returns the shape, or the validation error (`invalid HTTP method at 1:1`).
    fn validate(&mut self) -> Result<ScriptShape, ScriptFailure>;
    /// Writes the next batch into `out` (cleared by the callee). Static
    /// scripts return the request built at init every time.
    fn request(&mut self, out: &mut Vec<u8>) -> Result<(), ScriptFailure>;
    /// `delay()` in milliseconds.
    fn delay(&mut self) -> Result<u64, ScriptFailure>;
    /// `response(status, headers, body)`; headers in arrival order.
    fn response(
        &mut self,
        status: u16,
        headers: &[(&[u8], &[u8])],
        body: &[u8],
    ) -> Result<(), ScriptFailure>;
    /// `thread:stop()` was called from Lua in this thread.
    fn stop_requested(&self) -> bool;
}
