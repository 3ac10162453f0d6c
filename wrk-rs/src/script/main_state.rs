//! The main Lua state: resolve, thread creation with `setup()`/`init()`,
//! and `done()` ([`MainScript`]).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use mlua::{Function, Lua, Table, Value};

use crate::script_api::{MainScript, ScriptFailure, Summary, ThreadScript};

use super::errors::failure;
use super::state::{call_protected, new_state};
use super::thread::{ThreadObj, ThreadShared};
use super::worker::LuaThread;
use super::{addr, stats, ScriptEnv};

/// The main state.
pub(crate) struct LuaMain {
    pub(crate) lua: Lua,
    path: String,
    env: ScriptEnv,
}

impl LuaMain {
    pub(crate) fn new(lua: Lua, path: &str, env: &ScriptEnv) -> LuaMain {
        LuaMain {
            lua,
            path: path.to_string(),
            env: env.clone(),
        }
    }

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

    /// A stats object for `done()` as a Lua value.
    fn userdata<T: mlua::UserData + mlua::MaybeSend + 'static>(
        &self,
        stats: T,
    ) -> Result<Value, ScriptFailure> {
        self.lua
            .create_userdata(stats)
            .map(Value::UserData)
            .map_err(failure)
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
        Ok(Box::new(LuaThread::new(tl, shared).map_err(failure)?))
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
        let l = self.userdata(stats::WrkStats(Arc::new(latency.clone())))?;
        let r = self.userdata(stats::WrkStats(Arc::new(requests.clone())))?;
        self.done_with(summary, l, r)
    }

    fn done_hdr(
        &mut self,
        summary: &Summary,
        latency: &common::hdr::Recorder,
        requests: &common::hdr::Recorder,
    ) -> Result<(), ScriptFailure> {
        let l = self.userdata(stats::HdrStats(Arc::new(latency.clone())))?;
        let r = self.userdata(stats::HdrStats(Arc::new(requests.clone())))?;
        self.done_with(summary, l, r)
    }
}
