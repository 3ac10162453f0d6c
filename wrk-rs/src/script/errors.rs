//! Turning Lua errors into wrk's fatal messages (`PANIC: ...`, exit 1).

use crate::script_api::ScriptFailure;

use super::addr;

/// The message of a Lua error without mlua's decorations.
pub(crate) fn error_text(e: &mlua::Error) -> String {
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

pub(crate) fn lookup_failure(e: &mlua::Error) -> Option<String> {
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
pub(crate) fn failure(e: mlua::Error) -> ScriptFailure {
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
