//! The `-D` trace (spec §6.8): one diagnostic line per protocol event on
//! stderr.  Exact reproduction of stock's wording is optional; we follow it
//! where we emit the same events.

/// A trace sink that is either on (writes to stderr) or off.
#[derive(Clone, Copy, Debug, Default)]
pub struct Trace(pub bool);

impl Trace {
    /// Writes one trace line when enabled.
    pub fn line(&self, args: std::fmt::Arguments) {
        if self.0 {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "{args}");
        }
    }
}

/// `dbg_line!(trace, "fmt", args..)`: one `-D` trace line.
#[macro_export]
macro_rules! dbg_line {
    ($t:expr, $($arg:tt)*) => { $t.line(format_args!($($arg)*)) };
}
