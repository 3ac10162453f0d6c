//! The `-D` trace (spec §6.8): one diagnostic line per protocol event on
//! stderr (or any writer, for the server's tests).  Exact reproduction of
//! stock's wording is optional; we follow it where we emit the same events.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// A shared line writer (several connection threads write to one).
pub type Sink = Arc<Mutex<dyn Write + Send>>;

/// A sink for stderr.
pub fn stderr_sink() -> Sink {
    Arc::new(Mutex::new(std::io::stderr()))
}

/// Writes `args` and a newline to `sink` as one line, then flushes.
pub fn write_line(sink: &Sink, args: std::fmt::Arguments) {
    let mut w = sink.lock().unwrap_or_else(|e| e.into_inner());
    let _ = writeln!(w, "{args}");
    let _ = w.flush();
}

/// A trace sink that is either on (writes to its sink) or off.
#[derive(Clone, Default)]
pub struct Trace(Option<Sink>);

impl Trace {
    /// The trace on stderr when `on`.
    pub fn stderr(on: bool) -> Trace {
        Trace(on.then(stderr_sink))
    }

    /// No trace.
    pub fn off() -> Trace {
        Trace(None)
    }

    /// The trace on `sink`.
    pub fn to(sink: Sink) -> Trace {
        Trace(Some(sink))
    }

    /// Writes one trace line when enabled.
    pub fn line(&self, args: std::fmt::Arguments) {
        if let Some(s) = &self.0 {
            write_line(s, args);
        }
    }
}

impl std::fmt::Debug for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Trace({})", if self.0.is_some() { "on" } else { "off" })
    }
}

/// `dbg_line!(trace, "fmt", args..)`: one `-D` trace line.
#[macro_export]
macro_rules! dbg_line {
    ($t:expr, $($arg:tt)*) => { $t.line(format_args!($($arg)*)) };
}
