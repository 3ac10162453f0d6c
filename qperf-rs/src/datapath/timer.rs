//! The per-side test timer (spec §4.9).
//!
//! Stock arms a real-time interval timer: first expiry after `time` seconds,
//! then every 10 ms, with a signal handler installed without SA_RESTART so a
//! blocked read/write returns EINTR.  We do the same for the one data-path
//! thread: a helper thread sleeps until the deadline, records the end CPU
//! counters, sets the "finished" flag and then sends SIGALRM to the data
//! thread every 10 ms until the loop has noticed.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cpu;
use crate::proto::Ticks;

/// Installs the no-op SIGALRM handler without SA_RESTART (once per process).
fn install_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| crate::sys::interrupt_on(libc::SIGALRM));
}

#[derive(Default)]
struct Shared {
    stop: bool,
    end: Option<Ticks>,
}

/// A running test timer.
pub struct TestTimer {
    finished: Arc<AtomicBool>,
    shared: Arc<(Mutex<Shared>, Condvar)>,
    thread: Option<JoinHandle<()>>,
    start: Ticks,
    /// Not `Send`: the helper signals the thread that started the timer,
    /// so the timer must be stopped (and its helper joined) on that thread.
    _on_this_thread: PhantomData<*const ()>,
}

impl TestTimer {
    /// Samples the start counters and, unless `secs` is 0 (no timer, the
    /// loop ends only when the peer closes), arms the timer for the calling
    /// thread.
    pub fn start(secs: u32) -> TestTimer {
        install_handler();
        let finished = Arc::new(AtomicBool::new(false));
        let shared = Arc::new((Mutex::new(Shared::default()), Condvar::new()));
        let start = cpu::sample();
        let thread = (secs > 0).then(|| {
            // SAFETY: pthread_self has no preconditions.
            let target = unsafe { libc::pthread_self() };
            let deadline = Instant::now() + Duration::from_secs(u64::from(secs));
            let (f, s) = (finished.clone(), shared.clone());
            std::thread::spawn(move || run(target, deadline, &f, &s))
        });
        TestTimer {
            finished,
            shared,
            thread,
            start,
            _on_this_thread: PhantomData,
        }
    }

    /// The flag the data loop checks after every call.
    pub fn finished(&self) -> &AtomicBool {
        &self.finished
    }

    /// Stops the timer; returns (start, end) counters.  Without an expiry
    /// the end counters are taken now.
    pub fn stop(mut self) -> (Ticks, Ticks) {
        self.halt();
        let (m, _) = &*self.shared;
        let end = m.lock().unwrap_or_else(|e| e.into_inner()).end;
        (self.start, end.unwrap_or_else(cpu::sample))
    }

    /// Tells the helper thread to stop and joins it, so it never signals
    /// the data thread again (idempotent).
    fn halt(&mut self) {
        {
            let (m, c) = &*self.shared;
            let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
            g.stop = true;
            c.notify_all();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.finished.store(true, Ordering::SeqCst);
    }
}

impl Drop for TestTimer {
    /// A data loop that panics drops its timer while unwinding: the helper
    /// is joined here, before the data thread (whose id it signals) can
    /// exit.
    fn drop(&mut self) {
        self.halt();
    }
}

fn run(
    target: libc::pthread_t,
    deadline: Instant,
    finished: &AtomicBool,
    shared: &(Mutex<Shared>, Condvar),
) {
    let (m, c) = shared;
    let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
    // Sleep until the deadline unless stopped early.
    loop {
        if g.stop {
            return;
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        g = c
            .wait_timeout(g, deadline - now)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    g.end = Some(cpu::sample());
    finished.store(true, Ordering::SeqCst);
    // Interrupt the data thread every 10 ms until it has stopped the timer.
    while !g.stop {
        // SAFETY: `target` is the thread that owns the `TestTimer`; it
        // joins this thread (`stop` or `Drop`, also when unwinding) before
        // it can exit, so the id names a live thread here.
        unsafe { libc::pthread_kill(target, libc::SIGALRM) };
        g = c
            .wait_timeout(g, Duration::from_millis(10))
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrupts_a_blocking_read() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let t0 = Instant::now();
        let timer = TestTimer::start(1);
        let mut buf = [0u8; 1];
        use std::os::fd::AsRawFd;
        let r = crate::sys::read(a.as_raw_fd(), &mut buf);
        assert_eq!(r, -1);
        assert!(timer.finished().load(Ordering::SeqCst));
        let (s, e) = timer.stop();
        assert!(e.real >= s.real + 90, "{s:?} {e:?}");
        let el = t0.elapsed();
        assert!(el >= Duration::from_millis(990) && el < Duration::from_secs(3));
    }

    #[test]
    fn a_panicking_loop_joins_the_helper() {
        // The helper holds a clone of `shared` until it returns: after the
        // unwind it must be gone, not left signalling a thread that exits.
        let mut shared = None;
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let t = TestTimer::start(1);
            shared = Some(t.shared.clone());
            panic!("data loop failed");
        }));
        assert!(r.is_err());
        let shared = shared.unwrap();
        assert_eq!(Arc::strong_count(&shared), 1);
    }

    #[test]
    fn zero_means_no_timer() {
        let timer = TestTimer::start(0);
        std::thread::sleep(Duration::from_millis(20));
        assert!(!timer.finished().load(Ordering::SeqCst));
        let _ = timer.stop();
    }
}
