//! The io_uring back end of the engine (issue 14).
//!
//! - [`ring`]: ring setup (cheapest flags the kernel takes), batched
//!   submission — every connection's sends and receives of one loop turn go
//!   in with a single `io_uring_enter`, which also waits (with the timer's
//!   timeout) for the next completions — and the operations the engine
//!   uses: the wait for a connect, send, multishot receive, cancel.
//! - [`bufring`]: the provided buffer ring the multishot receives fill.
//! - [`io`]: the back end of the worker loop ([`crate::engine::shell`]):
//!   connect, send, receive and close as ring operations, and the handling
//!   of each turn's completions; the twin of the epoll back end.
//! - [`backend`]: which engine runs (`WRK_ENGINE=epoll|uring` forces one;
//!   by default io_uring where the probe passes, epoll otherwise).
//! - [`probe`](available): a run-time check, once per process, that the
//!   kernel lets us set all this up and that a multishot receive really
//!   delivers; anything missing means the epoll engine is used.

pub mod bufring;
pub mod io;
pub mod ring;

use std::sync::OnceLock;
use std::time::Duration;

use ring::{Driver, Op, Sizes, Token};

/// The engine that runs the worker threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Epoll,
    Uring,
}

/// The engine for this process: `WRK_ENGINE` (`epoll`, `uring`; unset or
/// empty: io_uring when [`available`], else epoll). An unknown value, or
/// `uring` where it cannot run, is an error (a forced engine must not
/// silently be the other one).
pub fn backend() -> Result<Backend, String> {
    static CHOICE: OnceLock<Result<Backend, String>> = OnceLock::new();
    CHOICE
        .get_or_init(|| {
            choose(
                std::env::var_os("WRK_ENGINE").as_deref(),
                unavailable_reason(),
            )
        })
        .clone()
}

/// [`backend`]'s rule, given the variable and the probe's answer.
pub fn choose(var: Option<&std::ffi::OsStr>, unavailable: Option<&str>) -> Result<Backend, String> {
    match var.map(|v| v.to_str()) {
        None | Some(Some("")) => Ok(match unavailable {
            None => Backend::Uring,
            Some(_) => Backend::Epoll,
        }),
        Some(Some("epoll")) => Ok(Backend::Epoll),
        Some(Some("uring")) => match unavailable {
            None => Ok(Backend::Uring),
            Some(why) => Err(format!(
                "WRK_ENGINE=uring: io_uring is not usable here: {why}"
            )),
        },
        Some(v) => Err(format!(
            "WRK_ENGINE must be epoll or uring, not {:?}",
            v.unwrap_or("(not UTF-8)")
        )),
    }
}

/// Why io_uring cannot be used here (`None`: it can), probed once.
pub fn unavailable_reason() -> Option<&'static str> {
    static PROBE: OnceLock<Option<String>> = OnceLock::new();
    PROBE.get_or_init(|| probe().err()).as_deref()
}

/// Whether the io_uring engine can run on this kernel.
pub fn available() -> bool {
    unavailable_reason().is_none()
}

/// Sets up a small ring the way the engine does and checks that a
/// multishot receive over a socket pair delivers into a provided buffer
/// and stays armed.
fn probe() -> Result<(), String> {
    let mut d = Driver::new(Sizes::for_connections(1)).map_err(|e| format!("setup: {e}"))?;
    match d.supports_engine_opcodes() {
        Ok(true) => {}
        Ok(false) => return Err("the kernel lacks an opcode (connect, send, recv, cancel)".into()),
        Err(e) => return Err(format!("probe: {e}")),
    }
    let (a, b) = std::os::unix::net::UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    let token = Token::new(Op::Recv, 0, 0);
    d.recv_multi(a.as_raw_fd(), token)
        .map_err(|e| format!("submit: {e}"))?;
    (&b).write_all(b"x").map_err(|e| format!("write: {e}"))?;
    for _ in 0..50 {
        d.submit_and_wait(Some(Duration::from_millis(20)))
            .map_err(|e| format!("enter: {e}"))?;
        let done = d.take_completions();
        if let Some(c) = done.iter().find(|c| c.user_data == token.encode()) {
            return match (c.result, c.buffer(), c.more()) {
                (1, Some(_), true) => Ok(()),
                (r, _, _) if r < 0 => Err(format!(
                    "multishot receive: {}",
                    std::io::Error::from_raw_os_error(-r)
                )),
                _ => Err("multishot receive is not supported".into()),
            };
        }
    }
    Err("multishot receive did not complete".into())
}

#[cfg(test)]
mod tests;
