//! Creating a Lua state: libraries, the `wrk` module and its fields, then
//! the script file (run like `luaL_dofile`, errors printed and ignored).

use mlua::{Function, Lua, LuaOptions, StdLib, Table, Value};

use crate::script_api::ScriptFailure;

use super::errors::failure;
use super::output::{flush_c_stdout, flush_rust};
use super::values::{lua_type_name, opt_text, value_text};
use super::{addr, thread, ScriptEnv};

pub(crate) const PRELUDE: &str = include_str!("prelude.lua");

/// Runs a script file like `luaL_dofile`: returns the error value text, if any.
pub(crate) const DOFILE: &str = r#"
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
pub(crate) const PROTECT: &str = r#"
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

/// Calls `f` through [`PROTECT`], flushing stdout around it (cold paths:
/// setup, init, done, resolve).
pub(crate) fn call_protected<R: mlua::FromLuaMulti>(
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
pub(crate) fn new_state(path: &str, env: &ScriptEnv) -> mlua::Result<Lua> {
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
