//! The `latency` / `requests` objects handed to `done()` (spec §4.8, §6.7).
//!
//! wrk mode wraps a [`Stats`] copy with wrk's quirks: unknown keys (and
//! numeric indexes) evaluate to the key as a string, `#s` is the number of
//! distinct values, `s(i)` gives the i-th distinct value and its count and
//! `percentile(100)` is 0. wrk2 mode (`-R`) wraps an HdrHistogram recorder:
//! `#s` is the sample count, `s[i]` the value at percentile `100·i/#s`;
//! max, mean, stdev and percentiles follow wrk2's C HdrHistogram
//! (`common::wrk2::stdev`), so scripts print the digits wrk2 prints.

use std::sync::Arc;

use common::hdr::Recorder;
use common::wrk::stats::Stats;
use common::wrk2::stdev;
use mlua::{Lua, MetaMethod, UserData, UserDataMethods, Value};

use super::values::number_or_zero;

/// wrk's stats object.
#[derive(Clone)]
pub struct WrkStats(pub Arc<Stats>);

/// wrk's `stats_percentile` with C's conversion of the rank to an unsigned
/// integer: a negative or NaN rank never matches, so the result is 0.
pub fn percentile(s: &Stats, p: f64) -> u64 {
    let rank = (p / 100.0 * s.count() as f64 + 0.5).round();
    if !(0.0..18_446_744_073_709_551_616.0).contains(&rank) {
        return 0;
    }
    s.percentile(p)
}

/// `s(i)`: 1-based i-th distinct visible value and its count. Out of range
/// (including `s(0)`) wrk returns 0 and, as a side effect of its counting
/// loop, the number of distinct values.
pub fn call_index(s: &Stats, i: f64) -> (u64, u64) {
    let found = if (1.0..18_446_744_073_709_551_616.0).contains(&i) {
        s.value_at(i as u64 - 1)
    } else {
        (0, 0)
    };
    if found.1 == 0 {
        (0, s.popcount())
    } else {
        found
    }
}

/// Key echo of wrk's index handler: numbers become strings, strings stay.
fn echo_key(lua: &Lua, key: Value) -> mlua::Result<Value> {
    Ok(match key {
        Value::Integer(i) => Value::String(lua.create_string(i.to_string())?),
        Value::Number(n) => Value::String(lua.create_string(super::values::lua_number_text(n))?),
        other => other,
    })
}

impl UserData for WrkStats {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_meta_method(MetaMethod::Index, |lua, this, key: Value| {
            let s = &this.0;
            if let Value::String(name) = &key {
                match name.as_bytes().as_ref() {
                    b"min" => return Ok(Value::Number(s.min() as f64)),
                    b"max" => return Ok(Value::Number(s.max() as f64)),
                    b"mean" => return Ok(Value::Number(s.mean())),
                    b"stdev" => return Ok(Value::Number(s.stdev(s.mean()))),
                    b"percentile" => {
                        let f = lua.create_function(|_, (ud, p): (mlua::AnyUserData, f64)| {
                            let this = ud.borrow::<WrkStats>()?;
                            Ok(percentile(&this.0, p) as f64)
                        })?;
                        return Ok(Value::Function(f));
                    }
                    _ => {}
                }
            }
            echo_key(lua, key)
        });
        methods.add_meta_method(MetaMethod::Len, |_, this, ()| Ok(this.0.popcount() as f64));
        methods.add_meta_method(MetaMethod::Call, |_, this, i: Value| {
            let (v, c) = call_index(&this.0, number_or_zero(&i));
            Ok((v as f64, c as f64))
        });
    }
}

/// wrk2's stats object over an HdrHistogram.
#[derive(Clone)]
pub struct HdrStats(pub Arc<Recorder>);

impl HdrStats {
    fn at_index(&self, i: f64) -> f64 {
        let total = self.0.count();
        let p = 100.0 * i.trunc() / total as f64;
        if total == 0 || p.is_nan() {
            return 0.0;
        }
        stdev::value_at_percentile(self.0.histogram(), p.clamp(0.0, 100.0)) as f64
    }
}

impl UserData for HdrStats {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_meta_method(MetaMethod::Index, |lua, this, key: Value| {
            let r = &this.0;
            match &key {
                Value::Integer(i) => return Ok(Value::Number(this.at_index(*i as f64))),
                Value::Number(n) => return Ok(Value::Number(this.at_index(*n))),
                Value::String(name) => {
                    if let Some(n) = name
                        .to_str()
                        .ok()
                        .and_then(|t| t.trim().parse::<f64>().ok())
                    {
                        return Ok(Value::Number(this.at_index(n)));
                    }
                    match name.as_bytes().as_ref() {
                        b"min" => return Ok(Value::Number(r.histogram().min() as f64)),
                        b"max" => return Ok(Value::Number(stdev::max(r.histogram()) as f64)),
                        b"mean" => return Ok(Value::Number(stdev::mean(r.histogram()))),
                        b"stdev" => return Ok(Value::Number(stdev::stdev(r.histogram()))),
                        b"percentile" => {
                            let f =
                                lua.create_function(|_, (ud, p): (mlua::AnyUserData, f64)| {
                                    let this = ud.borrow::<HdrStats>()?;
                                    Ok(stdev::value_at_percentile(
                                        this.0.histogram(),
                                        p.clamp(0.0, 100.0),
                                    ) as f64)
                                })?;
                            return Ok(Value::Function(f));
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
            echo_key(lua, key)
        });
        methods.add_meta_method(MetaMethod::Len, |_, this, ()| Ok(this.0.count() as f64));
    }
}
