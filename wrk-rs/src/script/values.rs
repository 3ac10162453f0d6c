//! Conversions between Lua values and text as the C API does them
//! (`luaL_typename`, `lua_tostring`).

use mlua::Value;

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

/// A number the way a hook's result or a stats index is read: numbers as
/// they are, a numeric string (blanks around allowed) as its value, else 0.
pub(crate) fn number_or_zero(v: &Value) -> f64 {
    match v {
        Value::Integer(i) => *i as f64,
        Value::Number(n) => *n,
        Value::String(s) => s
            .to_str()
            .ok()
            .and_then(|t| t.trim().parse::<f64>().ok())
            .unwrap_or(0.0),
        _ => 0.0,
    }
}

/// Lua 5.1's number to string conversion (`%.14g`).
pub(crate) fn lua_number_text(n: f64) -> String {
    crate::sys::format_g14(n)
}

/// `lua_tostring` semantics for an error value: strings and numbers, else "(null)".
pub(crate) fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
        Value::Integer(i) => i.to_string(),
        Value::Number(n) => lua_number_text(*n),
        _ => "(null)".to_string(),
    }
}

/// `lua_tostring` for an argument: strings and numbers, else none (C NULL).
pub(crate) fn opt_text(v: &Value) -> Option<String> {
    match v {
        Value::String(_) | Value::Integer(_) | Value::Number(_) => Some(value_text(v)),
        _ => None,
    }
}
