//! A timerfd for µs-precise wake-ups in `-R` mode.
//!
//! epoll_wait only takes whole milliseconds (mio rounds up), which would make
//! paced sends up to 1 ms late (wrk2's behaviour). In rate mode the loop arms
//! this timerfd at the next due time instead; it is registered once
//! (edge-triggered) and re-armed only when the earliest due time changes.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

/// A CLOCK_MONOTONIC timerfd.
#[derive(Debug)]
pub struct PreciseTimer {
    fd: OwnedFd,
    armed_us: Option<u64>,
}

impl PreciseTimer {
    pub fn new(registry: &Registry, token: Token) -> io::Result<PreciseTimer> {
        // SAFETY: plain syscall; the result is checked before use.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        registry.register(&mut SourceFd(&fd.as_raw_fd()), token, Interest::READABLE)?;
        Ok(PreciseTimer { fd, armed_us: None })
    }

    /// Makes the timer fire at `due_us` (engine clock), given `now_us`.
    /// No syscall if it is already armed for that time.
    pub fn arm(&mut self, due_us: u64, now_us: u64) {
        if self.armed_us == Some(due_us) {
            return;
        }
        let wait = due_us.saturating_sub(now_us).max(1);
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: (wait / 1_000_000) as libc::time_t,
                tv_nsec: ((wait % 1_000_000) * 1000) as libc::c_long,
            },
        };
        // SAFETY: valid fd and a fully initialised itimerspec.
        let rc =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc == 0 {
            self.armed_us = Some(due_us);
        }
    }

    /// The timer fired (or was superseded): forget the armed time.
    pub fn fired(&mut self) {
        self.armed_us = None;
    }
}
