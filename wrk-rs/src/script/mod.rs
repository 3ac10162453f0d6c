//! The Lua script layer (`-s script.lua`) on LuaJIT through mlua.
//!
//! Implements [`crate::script_api::MainScript`] / [`crate::script_api::ThreadScript`]
//! with wrk's states and phases (spec §4): one main state plus one state per thread.

use crate::script_api::{MainScript, ScriptFailure};

/// What the CLI knows about the run, copied into every Lua state's `wrk` table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptEnv {
    pub scheme: String,
    pub host: String,
    /// Port string as typed in the URL; empty when the URL had none.
    pub port: String,
    pub method: String,
    pub path: String,
    /// `-H` headers already filtered (only `Name: value` forms), in order.
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// `args[0]` = URL, then the words after it.
    pub args: Vec<String>,
    /// wrk2 `-R` mode: wrk2 stats objects and `wrk.time_us()`.
    pub rate_mode: bool,
}

/// Creates the main state and runs the script file in it.
pub fn load(path: &str, env: &ScriptEnv) -> Result<Box<dyn MainScript>, ScriptFailure> {
    let _ = (path, env);
    Err(ScriptFailure {
        message: "Lua scripting is not implemented yet".into(),
        exit_code: 1,
    })
}
