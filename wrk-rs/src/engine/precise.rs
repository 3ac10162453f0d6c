//! A timerfd for µs-precise wake-ups in `-R` mode.
//!
//! epoll_wait only takes whole milliseconds (mio rounds up), which would make
//! paced sends up to 1 ms late (wrk2's behaviour). In rate mode the loop arms
//! this timerfd at the next due time instead; it is registered once
//! (edge-triggered) and re-armed only when the earliest due time changes.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

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
        let fd = crate::sys::timerfd()?;
        registry.register(&mut SourceFd(&fd.as_raw_fd()), token, Interest::READABLE)?;
        Ok(PreciseTimer { fd, armed_us: None })
    }

    /// Makes the timer fire at `due_us` (engine clock), given `now_us`.
    /// No syscall if it is already armed for that time.
    pub fn arm(&mut self, due_us: u64, now_us: u64) {
        if self.armed_us == Some(due_us) {
            return;
        }
        if crate::sys::timerfd_arm(&self.fd, due_us.saturating_sub(now_us)).is_ok() {
            self.armed_us = Some(due_us);
        }
    }

    /// The timer fired (or was superseded): forget the armed time.
    pub fn fired(&mut self) {
        self.armed_us = None;
    }
}
