//! One ordered stdout stream for Lua's C stdio output and our Rust report.

use std::io::Write;
use std::sync::Once;

/// Makes C stdout line buffered (once, before Lua writes anything).
pub(crate) fn line_buffer_c_stdout() {
    static ONCE: Once = Once::new();
    ONCE.call_once(crate::sys::line_buffer_c_stdout);
}

/// Flushes Rust's stdout (before calling into Lua).
pub(crate) fn flush_rust() {
    let _ = std::io::stdout().flush();
}

/// Flushes C stdio (after Lua may have written).
pub fn flush_c_stdout() {
    crate::sys::flush_c_stdio();
}
