//! The Lua script layer (`-s script.lua`) on LuaJIT through mlua (spec §4, §6.7).
//!
//! One main state runs the script top level, `wrk.resolve`, `setup(thread)`
//! and `done(...)`; every worker thread gets its own state (top level again,
//! `init(args)`, then `request`/`response`/`delay` during the run). States
//! share nothing but copied values (`thread:get/set`).
//!
//! Output: Lua's `print`/`io.write` use C stdio while our report uses Rust's
//! stdout. To keep one ordered stream, C stdout is made line buffered and
//! flushed after every call into the main state; Rust's stdout is flushed
//! before such calls.
//!
//! Chosen differences from wrk 4.1.0 (where wrk crashes or is accidental):
//! - `thread:set/get` copy nested tables (wrk segfaults); cyclic or deeper
//!   than 32 levels raise `cannot transfer 'table' to thread`;
//!   `thread:get("wrk")` raises `cannot transfer 'function' to thread`
//!   (wrk segfaults). Strings keep embedded NUL bytes (wrk cuts them).
//! - C stdout is line buffered (wrk's is fully buffered when not a
//!   terminal); the order of lines is the same.
//! - `delay()` results are capped at 2^32−1 ms (wrk wraps negatives to ~2^64).
//! - Header order in `wrk.format` follows `pairs()` of the embedded LuaJIT
//!   2.1 (newer than Debian's 2.1.0-beta3), so it can differ from stock.
//! - Errors raised in `request`/`response`/`delay` with a non-string value
//!   print mlua's text of it instead of LuaJIT's `?`.
//! - `-R` mode: `thread:set/get` copy tables correctly (wrk2 swaps keys and
//!   values).

mod addr;
mod errors;
mod main_state;
mod output;
mod state;
mod stats;
mod thread;
mod values;
mod worker;

use crate::script_api::{MainScript, ScriptFailure};

use errors::failure;
use main_state::LuaMain;
use output::line_buffer_c_stdout;
use state::new_state;

pub use addr::{addr_text, lookup};
pub use output::flush_c_stdout;
pub use stats::{call_index, percentile};
pub use worker::{delay_ms, MAX_DELAY_MS};

/// What the CLI knows about the run, copied into every Lua state's `wrk` table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptEnv {
    pub scheme: String,
    pub host: String,
    /// Port string as typed in the URL; empty when the URL had none (`wrk.port` = nil).
    pub port: String,
    /// Initial `wrk.method` ("GET"; empty keeps the module default).
    pub method: String,
    pub path: String,
    /// `-H` headers already filtered (only `Name: value` forms), in order;
    /// a later equal name overwrites an earlier one.
    pub headers: Vec<(String, String)>,
    /// Initial `wrk.body` (None for wrk).
    pub body: Option<Vec<u8>>,
    /// `args[0]` = URL, then the words after it.
    pub args: Vec<String>,
    /// wrk2 `-R` mode: `wrk.time_us()` and HdrHistogram stats objects.
    pub rate_mode: bool,
}

/// Creates the main state and runs the script file in it.
pub fn load(path: &str, env: &ScriptEnv) -> Result<Box<dyn MainScript>, ScriptFailure> {
    line_buffer_c_stdout();
    let lua = new_state(path, env).map_err(failure)?;
    Ok(Box::new(LuaMain::new(lua, path, env)))
}

#[cfg(test)]
mod tests;
