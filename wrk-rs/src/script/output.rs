//! One ordered stdout stream for Lua's C stdio output and our Rust report.

use std::io::Write;
use std::sync::Once;

extern "C" {
    static mut stdout: *mut libc::FILE;
}

/// Makes C stdout line buffered (once, before Lua writes anything).
pub(crate) fn line_buffer_c_stdout() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: glibc's stdout stream; setvbuf before any output on it.
        unsafe {
            libc::setvbuf(stdout, std::ptr::null_mut(), libc::_IOLBF, 0);
        }
    });
}

/// Flushes Rust's stdout (before calling into Lua).
pub(crate) fn flush_rust() {
    let _ = std::io::stdout().flush();
}

/// Flushes C stdio (after Lua may have written).
pub fn flush_c_stdout() {
    // SAFETY: fflush(NULL) flushes every C output stream.
    unsafe {
        libc::fflush(std::ptr::null_mut());
    }
}
