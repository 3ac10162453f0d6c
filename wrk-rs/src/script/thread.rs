//! Thread objects (`setup(thread)`, `wrk.thread`) and value transfer between
//! Lua states (spec §4.7).
//!
//! The main state's thread object holds a handle on the thread's Lua state,
//! so `thread:get/set` work in `setup()` and again in `done()` after the run.
//! The thread's own `wrk.thread` acts on the state that calls it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use mlua::{AnyUserData, Lua, MetaMethod, UserData, UserDataMethods, Value};

use super::addr::Addr;
use super::{lua_error, lua_type_name};

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
pub fn copy_value(v: &Value, dst: &Lua, caller: &Lua, depth: usize) -> mlua::Result<Value> {
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
                let k2 = copy_value(&k, dst, caller, depth + 1)?;
                let v2 = copy_value(&val, dst, caller, depth + 1)?;
                out.raw_set(k2, v2)?;
            }
            Value::Table(out)
        }
        other => {
            return Err(lua_error(
                caller,
                &format!("cannot transfer '{}' to thread", lua_type_name(other)),
            ))
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
        Value::Number(n) => Some(super::lua_number_text(*n)),
        _ => None,
    }
}

impl UserData for ThreadObj {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_meta_method(MetaMethod::Index, |lua, this, key: Value| {
            let name = key_text(&key);
            match name.as_deref() {
                Some("addr") => {
                    let ud = lua.create_userdata(Addr(this.shared.addr()))?;
                    Ok(Value::UserData(ud))
                }
                Some("get") => Ok(Value::Function(lua.create_function(
                    |lua, (ud, name): (AnyUserData, Value)| {
                        let this = ud.borrow::<ThreadObj>()?;
                        let Some(name) = key_text(&name) else {
                            return Ok(Value::Nil);
                        };
                        let src = this.target(lua);
                        let v: Value = src.globals().get(name)?;
                        copy_value(&v, lua, lua, 0)
                    },
                )?)),
                Some("set") => Ok(Value::Function(lua.create_function(
                    |lua, (ud, name, v): (AnyUserData, Value, Value)| {
                        let this = ud.borrow::<ThreadObj>()?;
                        let Some(name) = key_text(&name) else {
                            return Ok(());
                        };
                        let dst = this.target(lua);
                        let copy = copy_value(&v, dst, lua, 0)?;
                        dst.globals().set(name, copy)
                    },
                )?)),
                Some("stop") => Ok(Value::Function(lua.create_function(
                    |_, ud: AnyUserData| {
                        let this = ud.borrow::<ThreadObj>()?;
                        this.shared.stop.store(true, Ordering::Relaxed);
                        Ok(())
                    },
                )?)),
                Some(n) => Ok(Value::String(lua.create_string(n)?)),
                None => Ok(key),
            }
        });
        methods.add_meta_method(
            MetaMethod::NewIndex,
            |lua, this, (key, v): (Value, Value)| {
                if key_text(&key).as_deref() == Some("addr") {
                    let addr = match &v {
                        Value::UserData(ud) => ud.borrow::<Addr>().ok().map(|a| a.0),
                        _ => None,
                    };
                    let Some(addr) = addr else {
                        return Err(lua_error(
                            lua,
                            &format!(
                                "bad argument #4 to '__newindex' (wrk.addr expected, got {})",
                                lua_type_name(&v)
                            ),
                        ));
                    };
                    this.shared.set_addr(addr);
                    Ok(())
                } else {
                    Err(lua_error(
                        lua,
                        &format!("cannot set '{}' on thread", lua_type_name(&v)),
                    ))
                }
            },
        );
    }
}
