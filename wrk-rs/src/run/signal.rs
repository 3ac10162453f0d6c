//! SIGINT/SIGPIPE handling (spec §2.1, §2.5).
//!
//! wrk ignores SIGPIPE, ignores SIGINT until the banner, then a SIGINT sets
//! the stop flag and cuts the main thread's sleep short. The handler only
//! writes one byte to a self-pipe; the main thread waits in `poll` on it.

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// Read end of the self-pipe (created before the worker threads start).
static READ_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_sigint(_: libc::c_int) {
    let fd = WAKE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = 1u8;
        // SAFETY: write(2) is async-signal-safe; a full pipe just drops it.
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
}

/// Start-up: ignore SIGPIPE and SIGINT (like wrk before the run), and
/// create the self-pipe that a SIGINT or [`wake`] writes to.
pub fn ignore_during_setup() {
    // SAFETY: installing SIG_IGN dispositions takes no pointers.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        libc::signal(libc::SIGINT, libc::SIG_IGN);
    }
    if READ_FD.load(Ordering::SeqCst) >= 0 {
        return;
    }
    let mut fds = [-1i32; 2];
    // SAFETY: pipe2 writes two descriptors into the 2-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } == 0 {
        READ_FD.store(fds[0], Ordering::SeqCst);
        WAKE_FD.store(fds[1], Ordering::SeqCst);
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
        // SAFETY: a zeroed sigaction is a valid empty one; we install a
        // plain handler that only does an async-signal-safe write.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigint as *const () as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
        }
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
            let mut pfd = libc::pollfd {
                fd: self.read_fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
            if rc > 0 {
                return true;
            }
        }
    }
}
