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
mod stats;
mod thread;
mod verify;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Once};

use mlua::{Function, Lua, LuaOptions, StdLib, Table, Value};

use crate::script_api::{MainScript, ScriptFailure, ScriptShape, Summary, ThreadScript};
use thread::{ThreadObj, ThreadShared};

pub use addr::{addr_text, lookup};
pub use stats::{call_index, percentile};
pub use verify::verify as verify_request;

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

const PRELUDE: &str = include_str!("prelude.lua");

/// Runs a script file like `luaL_dofile`: returns the error value text, if any.
const DOFILE: &str = r#"
local loadfile, pcall = loadfile, pcall
return function(path)
   local chunk, err = loadfile(path)
   if not chunk then return false, err end
   return pcall(chunk)
end
"#;

/// Calls a function so that its error value reaches Rust the way LuaJIT's
/// panic handler would print it: strings as is, numbers converted, other
/// values as `?`; Rust-side failures (lookup) pass through untouched.
const PROTECT: &str = r#"
local pcall, type, tostring, error = pcall, type, tostring, error
local function finish(ok, ...)
   if ok then return ... end
   local e = ...
   local t = type(e)
   if t == "number" then e = tostring(e) elseif t ~= "string" and t ~= "userdata" then e = "?" end
   error(e, 0)
end
return function(f, ...)
   return finish(pcall(f, ...))
end
"#;

/// Lua's name of a value's type (`luaL_typename`).
pub(crate) fn lua_type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::LightUserData(_) => "userdata",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        Value::UserData(_) => "userdata",
        _ => "userdata",
    }
}

/// Lua 5.1's number to string conversion (`%.14g`).
pub(crate) fn lua_number_text(n: f64) -> String {
    let mut buf = [0u8; 64];
    // SAFETY: buffer and length are valid; the format takes one double.
    let len = unsafe {
        libc::snprintf(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            c"%.14g".as_ptr(),
            n,
        )
    };
    let len = usize::try_from(len).unwrap_or(0).min(buf.len() - 1);
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

/// `lua_tostring` semantics for an error value: strings and numbers, else "(null)".
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
        Value::Integer(i) => i.to_string(),
        Value::Number(n) => lua_number_text(*n),
        _ => "(null)".to_string(),
    }
}

/// `lua_tostring` for an argument: strings and numbers, else none (C NULL).
fn opt_text(v: &Value) -> Option<String> {
    match v {
        Value::String(_) | Value::Integer(_) | Value::Number(_) => Some(value_text(v)),
        _ => None,
    }
}

/// The message of a Lua error without mlua's decorations.
fn error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::RuntimeError(s) | mlua::Error::MemoryError(s) => {
            match s.find("\nstack traceback:") {
                Some(i) => s[..i].to_string(),
                None => s.clone(),
            }
        }
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::CallbackError { cause, .. } => error_text(cause),
        mlua::Error::WithContext { cause, .. } => error_text(cause),
        mlua::Error::ExternalError(x) => x.to_string(),
        other => other.to_string(),
    }
}

fn lookup_failure(e: &mlua::Error) -> Option<String> {
    match e {
        mlua::Error::CallbackError { cause, .. } | mlua::Error::WithContext { cause, .. } => {
            lookup_failure(cause)
        }
        mlua::Error::ExternalError(x) => {
            x.downcast_ref::<addr::LookupFailed>().map(|l| l.0.clone())
        }
        _ => None,
    }
}

/// A hook error: wrk's LuaJIT panic text and exit 1 (lookup failures exit 1 with their own text).
fn failure(e: mlua::Error) -> ScriptFailure {
    let message = lookup_failure(&e).unwrap_or_else(|| {
        format!(
            "PANIC: unprotected error in call to Lua API ({})",
            error_text(&e)
        )
    });
    ScriptFailure {
        message,
        exit_code: 1,
    }
}

extern "C" {
    static mut stdout: *mut libc::FILE;
}

/// Makes C stdout line buffered (once, before Lua writes anything).
fn line_buffer_c_stdout() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: glibc's stdout stream; setvbuf before any output on it.
        unsafe {
            libc::setvbuf(stdout, std::ptr::null_mut(), libc::_IOLBF, 0);
        }
    });
}

/// Flushes Rust's stdout (before calling into Lua).
fn flush_rust() {
    let _ = std::io::stdout().flush();
}

/// Flushes C stdio (after Lua may have written).
pub fn flush_c_stdout() {
    // SAFETY: fflush(NULL) flushes every C output stream.
    unsafe {
        libc::fflush(std::ptr::null_mut());
    }
}

/// Calls `f` through [`PROTECT`], flushing stdout around it (cold paths:
/// setup, init, done, resolve).
fn call_protected<R: mlua::FromLuaMulti>(
    lua: &Lua,
    f: &Function,
    args: impl mlua::IntoLuaMulti,
) -> Result<R, ScriptFailure> {
    let protect: Function = lua
        .named_registry_value("wrk-rs.protect")
        .map_err(failure)?;
    let mut all = args.into_lua_multi(lua).map_err(failure)?;
    all.push_front(Value::Function(f.clone()));
    flush_rust();
    let r = protect.call(all);
    flush_c_stdout();
    r.map_err(failure)
}

/// Creates one state: libraries, the `wrk` module and fields, then the script file.
fn new_state(path: &str, env: &ScriptEnv) -> mlua::Result<Lua> {
    // SAFETY: wrk opens every library, including ffi; scripts are trusted input.
    let lua = unsafe { Lua::unsafe_new_with(StdLib::ALL, LuaOptions::new()) };
    let wrk: Table = lua.load(PRELUDE).set_name("=wrk").eval()?;
    let globals = lua.globals();
    globals.set("wrk", &wrk)?;
    let package: Table = globals.get("package")?;
    let loaded: Table = package.get("loaded")?;
    loaded.set("wrk", &wrk)?;

    wrk.set(
        "lookup",
        lua.create_function(|lua, (host, service): (Value, Value)| {
            let host = opt_text(&host);
            let service = opt_text(&service);
            let addrs = addr::lookup_opt(host.as_deref(), service.as_deref())
                .map_err(mlua::Error::external)?;
            let t = lua.create_table()?;
            for (i, a) in addrs.into_iter().enumerate() {
                t.raw_set(i + 1, lua.create_userdata(addr::Addr(a))?)?;
            }
            Ok(t)
        })?,
    )?;
    let connect = lua.create_function(|lua, v: Value| {
        let a = match &v {
            Value::UserData(ud) => ud.borrow::<addr::Addr>().ok().map(|a| a.0),
            _ => None,
        };
        match a {
            Some(a) => thread::ok(Value::Boolean(addr::connect_probe(&a))),
            None => thread::fail(
                lua,
                format!(
                    "bad argument #2 to '?' (wrk.addr expected, got {})",
                    lua_type_name(&v)
                ),
            ),
        }
    })?;
    wrk.set("connect", thread::shim_at(&lua, connect, 0)?)?;
    if env.rate_mode {
        wrk.set(
            "time_us",
            lua.create_function(|_, ()| {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_micros() as f64)
                    .unwrap_or(0.0);
                Ok(now)
            })?,
        )?;
    }

    wrk.set("scheme", env.scheme.as_str())?;
    wrk.set("host", env.host.as_str())?;
    if !env.port.is_empty() {
        wrk.set("port", env.port.as_str())?;
    }
    wrk.set("path", env.path.as_str())?;
    if !env.method.is_empty() {
        wrk.set("method", env.method.as_str())?;
    }
    if let Some(body) = &env.body {
        wrk.set("body", lua.create_string(body)?)?;
    }
    let headers: Table = wrk.get("headers")?;
    for (name, value) in &env.headers {
        headers.set(name.as_str(), value.as_str())?;
    }

    let protect: Function = lua.load(PROTECT).set_name("=wrk").eval()?;
    lua.set_named_registry_value("wrk-rs.protect", protect)?;
    let dofile: Function = lua.load(DOFILE).set_name("=wrk").eval()?;
    flush_rust();
    let (ok, err): (bool, Value) = dofile.call(path)?;
    flush_c_stdout();
    if !ok {
        eprintln!("{path}: {}", value_text(&err));
    }
    Ok(lua)
}

/// Creates the main state and runs the script file in it.
pub fn load(path: &str, env: &ScriptEnv) -> Result<Box<dyn MainScript>, ScriptFailure> {
    line_buffer_c_stdout();
    let lua = new_state(path, env).map_err(failure)?;
    Ok(Box::new(LuaMain {
        lua,
        path: path.to_string(),
        env: env.clone(),
    }))
}

/// The main state.
struct LuaMain {
    lua: Lua,
    path: String,
    env: ScriptEnv,
}

impl LuaMain {
    fn wrk(&self) -> mlua::Result<Table> {
        self.lua.globals().get("wrk")
    }

    fn call_main<R: mlua::FromLuaMulti>(
        &self,
        f: &Function,
        args: impl mlua::IntoLuaMulti,
    ) -> Result<R, ScriptFailure> {
        call_protected(&self.lua, f, args)
    }

    fn done_with(
        &self,
        summary: &Summary,
        latency: Value,
        requests: Value,
    ) -> Result<(), ScriptFailure> {
        let lua = &self.lua;
        let build = || -> mlua::Result<(Function, Table)> {
            let f: Function = lua.globals().get("done")?;
            let t = lua.create_table()?;
            t.set("duration", summary.duration_us as f64)?;
            t.set("requests", summary.requests as f64)?;
            t.set("bytes", summary.bytes as f64)?;
            let e = lua.create_table()?;
            e.set("connect", summary.connect as f64)?;
            e.set("read", summary.read as f64)?;
            e.set("write", summary.write as f64)?;
            e.set("status", summary.status as f64)?;
            e.set("timeout", summary.timeout as f64)?;
            t.set("errors", e)?;
            Ok((f, t))
        };
        let (f, t) = build().map_err(failure)?;
        self.call_main::<()>(&f, (t, latency, requests))
    }
}

impl MainScript for LuaMain {
    fn resolve(&mut self, host: &str, service: &str) -> Result<Vec<SocketAddr>, ScriptFailure> {
        let f: Function = self.wrk().and_then(|w| w.get("resolve")).map_err(failure)?;
        self.call_main::<()>(&f, (host, service))?;
        let addrs: Value = self.wrk().and_then(|w| w.get("addrs")).map_err(failure)?;
        let mut out = Vec::new();
        if let Value::Table(t) = addrs {
            for v in t.sequence_values::<Value>() {
                if let Ok(Value::UserData(ud)) = v {
                    if let Ok(a) = ud.borrow::<addr::Addr>() {
                        out.push(a.0);
                    }
                }
            }
        }
        if out.is_empty() {
            return Err(ScriptFailure {
                message: format!(
                    "unable to connect to {host}:{service} {}",
                    addr::last_connect_error()
                ),
                exit_code: 1,
            });
        }
        Ok(out)
    }

    fn create_thread(
        &mut self,
        index: usize,
        addr: SocketAddr,
    ) -> Result<Box<dyn ThreadScript>, ScriptFailure> {
        let _ = index;
        let tl = new_state(&self.path, &self.env).map_err(failure)?;
        let shared = ThreadShared::new(addr);
        let wrk_t: Table = tl.globals().get("wrk").map_err(failure)?;
        let own = tl
            .create_userdata(ThreadObj {
                shared: shared.clone(),
                remote: None,
            })
            .map_err(failure)?;
        wrk_t.set("thread", own).map_err(failure)?;

        // wrk.setup assigns wrk.addrs[1]; without a prior resolve() use `addr`.
        let wrk_m = self.wrk().map_err(failure)?;
        if matches!(wrk_m.get::<Value>("addrs"), Ok(Value::Nil)) {
            let t = self.lua.create_table().map_err(failure)?;
            t.raw_set(
                1,
                self.lua
                    .create_userdata(addr::Addr(addr))
                    .map_err(failure)?,
            )
            .map_err(failure)?;
            wrk_m.set("addrs", t).map_err(failure)?;
        }
        let setup: Function = wrk_m.get("setup").map_err(failure)?;
        let obj = self
            .lua
            .create_userdata(ThreadObj {
                shared: shared.clone(),
                remote: Some(tl.clone()),
            })
            .map_err(failure)?;
        self.call_main::<()>(&setup, obj)?;

        let init: Function = wrk_t.get("init").map_err(failure)?;
        let args = tl.create_table().map_err(failure)?;
        for (i, a) in self.env.args.iter().enumerate() {
            args.raw_set(i, a.as_str()).map_err(failure)?;
        }
        call_protected::<()>(&tl, &init, args)?;
        // thread:stop() before the run has no effect in wrk (the loop resets it).
        shared.stop.store(false, Ordering::Relaxed);
        let globals = tl.globals();
        let keys = HookKeys::new(&tl).map_err(failure)?;
        Ok(Box::new(LuaThread {
            lua: tl,
            globals,
            shared,
            static_req: None,
            keys,
        }))
    }

    fn has_done(&self) -> bool {
        matches!(
            self.lua.globals().get::<Value>("done"),
            Ok(Value::Function(_))
        )
    }

    fn done(
        &mut self,
        summary: &Summary,
        latency: &common::wrk::stats::Stats,
        requests: &common::wrk::stats::Stats,
    ) -> Result<(), ScriptFailure> {
        let mk = |s: &common::wrk::stats::Stats| -> Result<Value, ScriptFailure> {
            self.lua
                .create_userdata(stats::WrkStats(Arc::new(s.clone())))
                .map(Value::UserData)
                .map_err(failure)
        };
        let (l, r) = (mk(latency)?, mk(requests)?);
        self.done_with(summary, l, r)
    }

    fn done_hdr(
        &mut self,
        summary: &Summary,
        latency: &common::hdr::Recorder,
        requests: &common::hdr::Recorder,
    ) -> Result<(), ScriptFailure> {
        let mk = |s: &common::hdr::Recorder| -> Result<Value, ScriptFailure> {
            self.lua
                .create_userdata(stats::HdrStats(Arc::new(s.clone())))
                .map(Value::UserData)
                .map_err(failure)
        };
        let (l, r) = (mk(latency)?, mk(requests)?);
        self.done_with(summary, l, r)
    }
}

/// One worker thread's state.
struct LuaThread {
    lua: Lua,
    globals: Table,
    shared: Arc<ThreadShared>,
    /// The frozen request of static mode (no `request` global).
    static_req: Option<Vec<u8>>,
    /// Interned hook names (saves a string lookup per call).
    keys: HookKeys,
}

struct HookKeys {
    request: mlua::String,
    response: mlua::String,
    delay: mlua::String,
}

impl HookKeys {
    fn new(lua: &Lua) -> mlua::Result<HookKeys> {
        Ok(HookKeys {
            request: lua.create_string("request")?,
            response: lua.create_string("response")?,
            delay: lua.create_string("delay")?,
        })
    }
}

impl LuaThread {
    fn global_fn(&self, name: &mlua::String) -> Option<Function> {
        match self.globals.get::<Value>(name) {
            Ok(Value::Function(f)) => Some(f),
            _ => None,
        }
    }

    /// `script_request`: the global `request()` if defined, else `wrk.request()`.
    fn fetch_request(&mut self, out: &mut Vec<u8>) -> mlua::Result<()> {
        out.clear();
        if let Some(s) = &self.static_req {
            out.extend_from_slice(s);
            return Ok(());
        }
        let (f, dynamic) = match self.global_fn(&self.keys.request) {
            Some(f) => (f, true),
            None => {
                let wrk: Table = self.globals.get("wrk")?;
                (wrk.get::<Function>("request")?, false)
            }
        };
        match f.call::<Value>(())? {
            Value::String(s) => out.extend_from_slice(&s.as_bytes()),
            Value::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
            Value::Number(n) => out.extend_from_slice(lua_number_text(n).as_bytes()),
            _ => {}
        }
        if !dynamic {
            self.static_req = Some(out.clone());
        }
        Ok(())
    }
}

impl ThreadScript for LuaThread {
    fn addr(&self) -> SocketAddr {
        self.shared.addr()
    }

    fn validate(&mut self) -> Result<ScriptShape, ScriptFailure> {
        let mut buf = Vec::new();
        self.fetch_request(&mut buf).map_err(failure)?;
        let pipeline = verify::verify(&buf).map_err(|message| ScriptFailure {
            message,
            exit_code: 1,
        })?;
        Ok(ScriptShape {
            pipeline,
            dynamic: self.global_fn(&self.keys.request).is_some(),
            delay: self.global_fn(&self.keys.delay).is_some(),
            response: self.global_fn(&self.keys.response).is_some(),
        })
    }

    fn request(&mut self, out: &mut Vec<u8>) -> Result<(), ScriptFailure> {
        self.fetch_request(out).map_err(failure)
    }

    fn delay(&mut self) -> Result<u64, ScriptFailure> {
        let Some(f) = self.global_fn(&self.keys.delay) else {
            return Ok(0);
        };
        let v: Value = f.call(()).map_err(failure)?;
        let n = match v {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            Value::String(s) => s
                .to_str()
                .ok()
                .and_then(|t| t.trim().parse::<f64>().ok())
                .unwrap_or(0.0),
            _ => 0.0,
        };
        Ok(delay_ms(n))
    }

    fn response(
        &mut self,
        status: u16,
        headers: &[(&[u8], &[u8])],
        body: &[u8],
    ) -> Result<(), ScriptFailure> {
        let Some(f) = self.global_fn(&self.keys.response) else {
            return Ok(());
        };
        let lua = &self.lua;
        let args = || -> mlua::Result<(Table, mlua::String)> {
            let t = lua.create_table_with_capacity(0, headers.len())?;
            for (name, value) in headers {
                t.raw_set(lua.create_string(name)?, lua.create_string(value)?)?;
            }
            Ok((t, lua.create_string(body)?))
        };
        let (t, b) = args().map_err(failure)?;
        f.call::<()>((status, t, b)).map_err(failure)
    }

    fn stop_requested(&self) -> bool {
        self.shared.stop.load(Ordering::Relaxed)
    }
}

/// Longest delay we honour (ms). wrk converts negative delays to huge
/// unsigned values (the connection then idles to the end); we cap there.
pub const MAX_DELAY_MS: u64 = u32::MAX as u64;

/// `delay()` result → milliseconds (fraction truncated).
pub fn delay_ms(n: f64) -> u64 {
    if n.is_nan() {
        return 0;
    }
    if n < 0.0 {
        return if n > -1.0 { 0 } else { MAX_DELAY_MS };
    }
    (n as u64).min(MAX_DELAY_MS)
}

#[cfg(test)]
mod tests;
