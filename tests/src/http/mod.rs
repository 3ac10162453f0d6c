//! [`HttpTarget`]: the in-process HTTP/1.1 server of [`netkit::http`] for the
//! load generators to hit, with the constructors a test wants: they panic
//! when no server can start, since the test cannot run then.
//!
//! Routes ([`routes`]): `/` small body, `/bytes/N`, `/status/NNN`, `/echo`,
//! `/delay/MS`; anything else 404. Optional server-wide stall windows
//! ([`stall`]) hold every response for `stall_for` once every `stall_every`.
//! Dropping it stops accepting, lets idle connections close gracefully
//! (bounded wait) and joins the thread.

use std::io;
use std::net::SocketAddr;
use std::ops::Deref;

pub use netkit::http::{routes, stall, Options, Route, Stall, SMALL_BODY};

/// A running in-process HTTP server; stops on drop. Derefs to
/// [`netkit::http::HttpTarget`] (`addr`, `url`, `requests`, `connections`).
#[derive(Debug)]
pub struct HttpTarget(netkit::http::HttpTarget);

impl HttpTarget {
    /// Start on `127.0.0.1:<free port>` with default options.
    ///
    /// # Panics
    /// When the server cannot start (no loopback): the test cannot run.
    pub fn start() -> HttpTarget {
        Self::start_with(Options::default())
    }

    /// Start with `opts`.
    ///
    /// # Panics
    /// When the server cannot start; use [`HttpTarget::try_start_with`] to
    /// handle that.
    pub fn start_with(opts: Options) -> HttpTarget {
        let addr = opts.addr;
        Self::try_start_with(opts)
            .unwrap_or_else(|e| panic!("testkit: cannot start HttpTarget on {addr}: {e}"))
    }

    /// Start on `addr` (e.g. `[::1]:0` or a fixed port inside a namespace).
    pub fn start_on(addr: SocketAddr) -> io::Result<HttpTarget> {
        netkit::http::HttpTarget::start_on(addr).map(HttpTarget)
    }

    /// Start with `opts`, reporting failures.
    pub fn try_start_with(opts: Options) -> io::Result<HttpTarget> {
        netkit::http::HttpTarget::try_start_with(opts).map(HttpTarget)
    }

    /// Stop now (same as dropping).
    pub fn stop(self) {}
}

impl Deref for HttpTarget {
    type Target = netkit::http::HttpTarget;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

#[cfg(test)]
mod tests;
