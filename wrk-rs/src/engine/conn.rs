//! One connection's state (wrk.md §2.3) and its socket plumbing.
//!
//! The state machine itself is driven by `worker.rs`; this file keeps the
//! per-connection fields and the socket-level operations (open, read, write,
//! close) for plain TCP and TLS behind one small interface.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::Path;

use mio::event::Source;
use mio::net::{TcpStream, UnixStream};
use mio::{Interest, Registry, Token};
use socket2::{Domain, Protocol, Socket, Type};

use crate::error_detail::Cause;
use crate::http::batch::HeadMask;
use crate::http::ResponseParser;
use crate::rate::Schedule;
use crate::tls::{ReadOutcome, TlsSession};

/// Where a connection is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Non-blocking connect issued, waiting for the first event.
    Connecting,
    /// TLS handshake in progress.
    Handshake,
    /// Connected: sending batches and reading responses.
    Ready,
    /// Synchronous connect/registration failure: never retried (wrk).
    Dead,
}

/// One connection slot.
pub struct Conn {
    pub sock: Option<Stream>,
    /// Boxed: a rustls session is ~1 KB and most runs are plain TCP.
    pub tls: Option<Box<TlsSession>>,
    pub phase: Phase,
    pub parser: ResponseParser,
    /// Dynamic request bytes (script `request()`), reused across batches.
    pub req: Vec<u8>,
    /// Bytes of the current batch already written (0 = no batch started).
    pub written: usize,
    /// Responses still expected for the current batch (wraps like wrk's).
    pub pending: u64,
    /// When the batch's first byte was written (µs).
    pub start_us: u64,
    /// `-R`: when the batch should have been sent (µs).
    pub intended_us: u64,
    /// A new batch may be sent (wrk: writable interest registered).
    pub want_write: bool,
    /// Next batch waits for `delay()` first.
    pub delayed: bool,
    /// A delay or pacing timer is armed.
    pub waiting: bool,
    /// Bumped on every reconnect; stale timers are ignored.
    pub generation: u32,
    /// `-R` pacing.
    pub schedule: Option<Schedule>,
    /// `HEAD` requests of the current dynamic batch (`request()`).
    pub head: HeadMask,
}

impl Conn {
    pub fn new(collect: bool, schedule: Option<Schedule>) -> Conn {
        Conn {
            sock: None,
            tls: None,
            phase: Phase::Connecting,
            parser: ResponseParser::new(collect),
            req: Vec::new(),
            written: 0,
            pending: 0,
            start_us: 0,
            intended_us: 0,
            want_write: false,
            delayed: false,
            waiting: false,
            generation: 0,
            schedule,
            head: 0,
        }
    }

    /// Closes the socket (TLS: close_notify first). Closing the fd also
    /// removes it from the event loop.
    pub fn close(&mut self) {
        if let (Some(tls), Some(sock)) = (self.tls.as_mut(), self.sock.as_mut()) {
            tls.close(sock);
        }
        self.tls = None;
        self.sock = None;
    }

    /// Writes batch bytes: plain TCP directly, TLS through the session.
    pub fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let Some(sock) = self.sock.as_mut() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        match self.tls.as_mut() {
            Some(tls) => tls.write(sock, data),
            None => sock.write(data),
        }
    }

    /// Reads response bytes into `buf`.
    pub fn read(&mut self, buf: &mut [u8]) -> ReadOutcome {
        let Some(sock) = self.sock.as_mut() else {
            return ReadOutcome::Error(Cause::Other);
        };
        if let Some(tls) = self.tls.as_mut() {
            return tls.read(sock, buf);
        }
        loop {
            return match sock.read(buf) {
                Ok(0) => ReadOutcome::Eof,
                Ok(n) => ReadOutcome::Data(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => ReadOutcome::WouldBlock,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => ReadOutcome::Error(Cause::io(&e)),
            };
        }
    }
}

/// A connection's socket: TCP, or AF_UNIX with `--unix-socket`.
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
        }
    }
}

impl Source for Stream {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.register(r, t, i),
            Stream::Unix(s) => s.register(r, t, i),
        }
    }

    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.reregister(r, t, i),
            Stream::Unix(s) => s.reregister(r, t, i),
        }
    }

    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(r),
            Stream::Unix(s) => s.deregister(r),
        }
    }
}

/// Opens a connection to `unix` when given (`--unix-socket`; a non-blocking
/// AF_UNIX connect, which completes or fails at once), else to `addr`.
pub fn open(addr: SocketAddr, unix: Option<&Path>) -> io::Result<Stream> {
    match unix {
        Some(path) => UnixStream::connect(path).map(Stream::Unix),
        None => open_tcp(addr).map(Stream::Tcp),
    }
}

/// socket + TCP_NODELAY + non-blocking connect (EINPROGRESS is success).
fn open_tcp(addr: SocketAddr) -> io::Result<TcpStream> {
    let sock = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )?;
    sock.set_nodelay(true)?;
    match sock.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(TcpStream::from_std(sock.into()))
}

#[cfg(test)]
mod tests {
    /// Per-connection state stays small (`-c` in the hundreds of
    /// thousands): 264 bytes now; a TLS session inline would add ~1 KB.
    #[test]
    fn connection_state_is_small() {
        assert!(std::mem::size_of::<super::Conn>() <= 320);
    }
}
