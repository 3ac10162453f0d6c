//! SIGINT/SIGPIPE handling (spec §2.1, §2.5).
//!
//! wrk ignores SIGPIPE, ignores SIGINT until the banner, then a SIGINT sets
//! the stop flag and cuts the main thread's sleep short. The handler only
//! writes one byte to a self-pipe; the main thread waits in `poll` on it.

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use crate::sys;

static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// Read end of the self-pipe (created before the worker threads start).
static READ_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_sigint(_: libc::c_int) {
    let fd = WAKE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        sys::write_byte(fd);
    }
}

/// Start-up: ignore SIGPIPE and SIGINT (like wrk before the run), and
/// create the self-pipe that a SIGINT or [`wake`] writes to.
pub fn ignore_during_setup() {
    sys::ignore_signal(libc::SIGPIPE);
    sys::ignore_signal(libc::SIGINT);
    if READ_FD.load(Ordering::SeqCst) >= 0 {
        return;
    }
    if let Ok((read, write)) = sys::pipe() {
        READ_FD.store(read, Ordering::SeqCst);
        WAKE_FD.store(write, Ordering::SeqCst);
    }
}

/// Cuts the main thread's wait short (a worker thread failed).
pub fn wake() {
    on_sigint(0);
}

/// The armed SIGINT: wait for the run's end or an interrupt.
pub struct Interrupt {
    read_fd: i32,
}

impl Interrupt {
    /// Installs the handler (the self-pipe exists since setup).
    pub fn arm() -> Interrupt {
        // The handler only does an async-signal-safe write.
        sys::install_handler(libc::SIGINT, on_sigint);
        Interrupt {
            read_fd: READ_FD.load(Ordering::SeqCst),
        }
    }

    /// Sleeps until `deadline` or a SIGINT; true if interrupted.
    pub fn wait_until(&self, deadline: Instant) -> bool {
        loop {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let left = deadline - now;
            // Round up so we never wake a millisecond early and spin.
            let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
            if self.read_fd < 0 {
                std::thread::sleep(left.min(Duration::from_millis(ms as u64)));
                continue;
            }
            if sys::poll_readable(self.read_fd, ms) {
                return true;
            }
        }
    }
}
