//! One worker thread's Lua state ([`ThreadScript`]): `request()`,
//! `response()`, `delay()` and the validation call.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use mlua::{Function, Lua, Table, Value};

use crate::script_api::{ScriptFailure, ScriptShape, ThreadScript};

use super::errors::failure;
use super::thread::ThreadShared;
use super::values::{lua_number_text, number_or_zero};

/// One worker thread's state.
pub(crate) struct LuaThread {
    lua: Lua,
    globals: Table,
    shared: Arc<ThreadShared>,
    /// The frozen request of static mode (no `request` global).
    static_req: Option<Vec<u8>>,
    /// Interned hook names (saves a string lookup per call).
    keys: HookKeys,
}

pub(crate) struct HookKeys {
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
    pub(crate) fn new(lua: Lua, shared: Arc<ThreadShared>) -> mlua::Result<LuaThread> {
        let globals = lua.globals();
        let keys = HookKeys::new(&lua)?;
        Ok(LuaThread {
            lua,
            globals,
            shared,
            static_req: None,
            keys,
        })
    }

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
        let pipeline = crate::request::validate(&buf).map_err(|message| ScriptFailure {
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
        Ok(delay_ms(number_or_zero(&v)))
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
