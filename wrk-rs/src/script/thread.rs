//! Thread objects (`setup(thread)`, `wrk.thread`) and value transfer between
//! Lua states (spec §4.7).
//!
//! The main state's thread object holds a handle on the thread's Lua state,
//! so `thread:get/set` work in `setup()` and again in `done()` after the run.
//! The thread's own `wrk.thread` acts on the state that calls it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use mlua::{AnyUserData, Lua, MetaMethod, UserData, UserDataFields, Value};

use super::addr::Addr;
use super::values::{lua_number_text, lua_type_name};

/// What the main state, the thread state and the engine share about one thread.
#[derive(Debug)]
pub struct ThreadShared {
    pub addr: Mutex<SocketAddr>,
    pub stop: AtomicBool,
}

impl ThreadShared {
    pub fn new(addr: SocketAddr) -> Arc<ThreadShared> {
        Arc::new(ThreadShared {
            addr: Mutex::new(addr),
            stop: AtomicBool::new(false),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        *self.addr.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_addr(&self, a: SocketAddr) {
        *self.addr.lock().unwrap_or_else(|e| e.into_inner()) = a;
    }
}

/// The Lua-visible thread object.
pub struct ThreadObj {
    pub shared: Arc<ThreadShared>,
    /// The thread's state when used from the main state; `None` = the calling state.
    pub remote: Option<Lua>,
}

/// Deepest table nesting `thread:get/set` copies (wrk itself crashes on any nesting).
const MAX_DEPTH: usize = 32;

/// Copies a transferable value (nil, boolean, number, string, tables of
/// those) from one state into another.
pub fn copy_value(v: &Value, dst: &Lua, depth: usize) -> mlua::Result<Value> {
    Ok(match v {
        Value::Nil => Value::Nil,
        Value::Boolean(b) => Value::Boolean(*b),
        Value::Integer(i) => Value::Integer(*i),
        Value::Number(n) => Value::Number(*n),
        Value::String(s) => Value::String(dst.create_string(s.as_bytes())?),
        Value::Table(t) if depth < MAX_DEPTH => {
            let out = dst.create_table()?;
            for pair in t.clone().pairs::<Value, Value>() {
                let (k, val) = pair?;
                let k2 = copy_value(&k, dst, depth + 1)?;
                let v2 = copy_value(&val, dst, depth + 1)?;
                out.raw_set(k2, v2)?;
            }
            Value::Table(out)
        }
        other => {
            return Err(mlua::Error::RuntimeError(format!(
                "cannot transfer '{}' to thread",
                lua_type_name(other)
            )))
        }
    })
}

impl ThreadObj {
    fn target<'a>(&'a self, caller: &'a Lua) -> &'a Lua {
        self.remote.as_ref().unwrap_or(caller)
    }
}

fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(String::from_utf8_lossy(&s.as_bytes()).into_owned()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Number(n) => Some(lua_number_text(*n)),
        _ => None,
    }
}

/// Wraps a Rust function returning `(ok, value_or_message)` so failures are
/// raised as plain Lua string errors at the caller's position, like
/// `luaL_error` in wrk (a `pcall` then sees `script.lua:5: cannot set ...`).
const SHIM: &str = r#"
local raw, error, level = ...
return function(...)
   local ok, v = raw(...)
   if not ok then error(v, level) end
   return v
end
"#;

pub(crate) fn shim(lua: &Lua, raw: mlua::Function) -> mlua::Result<mlua::Function> {
    shim_at(lua, raw, 2)
}

/// [`shim`] with an explicit `error()` level (0 = no position).
pub(crate) fn shim_at(lua: &Lua, raw: mlua::Function, level: u8) -> mlua::Result<mlua::Function> {
    let error: mlua::Function = lua.globals().get("error")?;
    lua.load(SHIM).set_name("=wrk").call((raw, error, level))
}

pub(crate) type Outcome = mlua::Result<(bool, Value)>;

pub(crate) fn ok(v: Value) -> Outcome {
    Ok((true, v))
}

pub(crate) fn fail(lua: &Lua, msg: String) -> Outcome {
    Ok((false, Value::String(lua.create_string(msg)?)))
}

/// Lua-visible error text of a failed copy.
fn copy_or_fail(lua: &Lua, r: mlua::Result<Value>) -> Outcome {
    match r {
        Ok(v) => ok(v),
        Err(mlua::Error::RuntimeError(m)) => fail(lua, m),
        Err(e) => Err(e),
    }
}

fn thread_get(lua: &Lua, (ud, name): (AnyUserData, Value)) -> Outcome {
    let this = ud.borrow::<ThreadObj>()?;
    let Some(name) = key_text(&name) else {
        return ok(Value::Nil);
    };
    let src = this.target(lua);
    let v: Value = src.globals().get(name)?;
    copy_or_fail(lua, copy_value(&v, lua, 0))
}

fn thread_set(lua: &Lua, (ud, name, v): (AnyUserData, Value, Value)) -> Outcome {
    let this = ud.borrow::<ThreadObj>()?;
    let Some(name) = key_text(&name) else {
        return ok(Value::Nil);
    };
    let dst = this.target(lua);
    match copy_value(&v, dst, 0) {
        Ok(copy) => {
            dst.globals().set(name, copy)?;
            ok(Value::Nil)
        }
        Err(e) => copy_or_fail(lua, Err(e)),
    }
}

fn thread_stop(_: &Lua, ud: AnyUserData) -> Outcome {
    let this = ud.borrow::<ThreadObj>()?;
    this.shared.stop.store(true, Ordering::Relaxed);
    ok(Value::Nil)
}

fn thread_index(lua: &Lua, (ud, key): (AnyUserData, Value)) -> Outcome {
    let name = key_text(&key);
    match name.as_deref() {
        Some("addr") => {
            let a = ud.borrow::<ThreadObj>()?.shared.addr();
            ok(Value::UserData(lua.create_userdata(Addr(a))?))
        }
        Some("get") => ok(Value::Function(shim(
            lua,
            lua.create_function(thread_get)?,
        )?)),
        Some("set") => ok(Value::Function(shim(
            lua,
            lua.create_function(thread_set)?,
        )?)),
        Some("stop") => ok(Value::Function(shim(
            lua,
            lua.create_function(thread_stop)?,
        )?)),
        Some(n) => ok(Value::String(lua.create_string(n)?)),
        None => ok(key),
    }
}

fn thread_newindex(lua: &Lua, (ud, key, v): (AnyUserData, Value, Value)) -> Outcome {
    let this = ud.borrow::<ThreadObj>()?;
    if key_text(&key).as_deref() != Some("addr") {
        return fail(lua, format!("cannot set '{}' on thread", lua_type_name(&v)));
    }
    let addr = match &v {
        Value::UserData(a) => a.borrow::<Addr>().ok().map(|a| a.0),
        _ => None,
    };
    match addr {
        Some(a) => {
            this.shared.set_addr(a);
            ok(Value::Nil)
        }
        None => fail(
            lua,
            format!(
                "bad argument #4 to '__newindex' (wrk.addr expected, got {})",
                lua_type_name(&v)
            ),
        ),
    }
}

impl UserData for ThreadObj {
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        fields.add_meta_field_with(MetaMethod::Index, |lua| {
            shim(lua, lua.create_function(thread_index)?)
        });
        fields.add_meta_field_with(MetaMethod::NewIndex, |lua| {
            shim(lua, lua.create_function(thread_newindex)?)
        });
    }
}
