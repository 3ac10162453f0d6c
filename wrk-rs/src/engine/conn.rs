//! One connection's socket plumbing for the mio back end: open, read,
//! write and close for plain TCP, AF_UNIX and TLS behind one small
//! interface. The connection's policy lives in [`super::machine`].

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::Path;

use mio::event::Source;
use mio::net::{TcpStream, UnixStream};
use mio::{Interest, Registry, Token};
use socket2::{Domain, Protocol, Socket, Type};

use crate::error_detail::Cause;
use crate::tls::{ReadOutcome, TlsSession};

/// One connection's socket and, for https, its TLS session; the policy
/// state is the connection's [`super::machine::Machine`].
#[derive(Default)]
pub struct Link {
    pub sock: Option<Stream>,
    /// Boxed: a rustls session is ~1 KB and most runs are plain TCP.
    pub tls: Option<Box<TlsSession>>,
    /// The TLS handshake is in progress (the machine is not `Connected` yet).
    pub handshaking: bool,
}

impl Link {
    /// Closes the socket (TLS: close_notify first). Closing the fd also
    /// removes it from the event loop.
    pub fn close(&mut self) {
        if let (Some(tls), Some(sock)) = (self.tls.as_mut(), self.sock.as_mut()) {
            tls.close(sock);
        }
        self.tls = None;
        self.sock = None;
        self.handshaking = false;
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
