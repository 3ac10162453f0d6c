//! [`MisbehavingServer`]: raw-socket HTTP servers that break the protocol in
//! one specific way each ([`Behavior`]), for testing how load generators
//! count errors (wrk's read/write/timeout counters, qperf-style failures).
//!
//! Plain `std::net` threads: one accept thread plus one thread per open
//! connection, capped at [`MAX_CONNECTION_THREADS`] (further connections
//! wait in the listen backlog). [`MisbehavingServer::stop`] stops accepting
//! and closes every open socket, which simulates a server dying mid-run.

mod framing;

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub use framing::request_len;

/// Most connection threads alive at once.
pub const MAX_CONNECTION_THREADS: usize = 512;

/// The complete response [`Behavior::SilentClose`] sends before closing.
pub const SILENT_CLOSE_RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
/// The complete response [`Behavior::SlowResponse`] sends after its delay.
pub const OK_RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
/// The status line [`Behavior::SlowHeaders`] sends before pausing.
pub const SLOW_HEADERS_FIRST: &[u8] = b"HTTP/1.1 200 OK\r\n";
/// What [`Behavior::SlowHeaders`] sends after the pause.
pub const SLOW_HEADERS_REST: &[u8] = b"Content-Length: 2\r\n\r\nok";
/// The response of [`Behavior::Http10Eof`] (body ends when the socket closes).
pub const HTTP10_EOF_RESPONSE: &[u8] =
    b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nbody delimited by close\n";
/// The response [`Behavior::NotFound`] sends to every request.
pub const NOT_FOUND_RESPONSE: &[u8] =
    b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nnot found\n";
/// How many bytes [`Behavior::Garbage`] sends.
pub const GARBAGE_LEN: usize = 256;

/// How a [`MisbehavingServer`] treats each connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    /// Read a request, send [`SILENT_CLOSE_RESPONSE`] (no `Connection:
    /// close`), then close.
    SilentClose,
    /// Accept, then close with SO_LINGER 0 so the peer gets a RST.
    Reset,
    /// Read a request, send [`GARBAGE_LEN`] random non-HTTP bytes, close.
    Garbage,
    /// Per request: status line, pause, then the rest of a valid response.
    SlowHeaders(Duration),
    /// Per request: pause, then [`OK_RESPONSE`] (keep-alive).
    SlowResponse(Duration),
    /// Read a request, send [`HTTP10_EOF_RESPONSE`] (no length), close.
    Http10Eof,
    /// Answer every request with [`NOT_FOUND_RESPONSE`] (keep-alive).
    NotFound,
    /// Read and discard everything, never answer.
    NeverRespond,
}

/// A running misbehaving server; stops on drop.
#[derive(Debug)]
pub struct MisbehavingServer {
    addr: SocketAddr,
    inner: Arc<Inner>,
    acceptor: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug)]
struct Inner {
    behavior: Behavior,
    stop: AtomicBool,
    open: Mutex<HashMap<u64, TcpStream>>,
    threads: AtomicUsize,
    accepted: AtomicU64,
    requests: AtomicU64,
}

impl MisbehavingServer {
    /// Start on `127.0.0.1:<free port>`.
    ///
    /// # Panics
    /// When the server cannot start (no loopback): the test cannot run.
    pub fn start(behavior: Behavior) -> MisbehavingServer {
        Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), behavior)
            .unwrap_or_else(|e| panic!("testkit: cannot start MisbehavingServer: {e}"))
    }

    /// Start on `addr` (port 0 picks a free port).
    pub fn start_on(addr: SocketAddr, behavior: Behavior) -> io::Result<MisbehavingServer> {
        crate::sys::raise_fd_limit();
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner {
            behavior,
            stop: AtomicBool::new(false),
            open: Mutex::new(HashMap::new()),
            threads: AtomicUsize::new(0),
            accepted: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        });
        let acc_inner = Arc::clone(&inner);
        let acceptor = thread::Builder::new()
            .name(format!("testkit-misbehave-{addr}"))
            .spawn(move || accept_loop(listener, acc_inner))?;
        Ok(MisbehavingServer {
            addr,
            inner,
            acceptor: Mutex::new(Some(acceptor)),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.inner.accepted.load(Ordering::Relaxed)
    }

    /// Complete requests read so far.
    pub fn requests(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// Stop accepting (new connects are refused once this returns) and close
    /// every open connection. Idempotent; callable from another thread while
    /// a client is running against the server.
    pub fn stop(&self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        let handle = self
            .acceptor
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(h) = handle {
            let _ = h.join();
        }
        for s in lock(&self.inner.open).values() {
            let _ = s.shutdown(Shutdown::Both);
        }
        // Connection threads notice within a poll step; wait, bounded.
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.inner.threads.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for MisbehavingServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(listener: TcpListener, inner: Arc<Inner>) {
    let mut next_id = 0u64;
    while !inner.stop.load(Ordering::SeqCst) {
        if inner.threads.load(Ordering::SeqCst) >= MAX_CONNECTION_THREADS {
            thread::sleep(Duration::from_millis(5));
            continue;
        }
        match listener.accept() {
            Ok((stream, _)) => {
                inner.accepted.fetch_add(1, Ordering::Relaxed);
                next_id += 1;
                if inner.behavior == Behavior::Reset {
                    reset(stream);
                } else {
                    spawn_connection(stream, next_id, &inner);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(2));
            }
            // EMFILE and friends: back off instead of spinning.
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
    // The listener drops here: further connects are refused.
}

fn reset(stream: TcpStream) {
    // Zero linger makes close() send RST instead of FIN.
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

fn spawn_connection(stream: TcpStream, id: u64, inner: &Arc<Inner>) {
    let Ok(clone) = stream.try_clone() else {
        return;
    };
    if stream.set_nonblocking(false).is_err() {
        return;
    }
    let _ = stream.set_nodelay(true);
    lock(&inner.open).insert(id, clone);
    inner.threads.fetch_add(1, Ordering::SeqCst);
    let conn_inner = Arc::clone(inner);
    let spawned = thread::Builder::new()
        .name("testkit-misbehave-conn".into())
        .stack_size(128 * 1024)
        .spawn(move || {
            let _ = serve(stream, id, &conn_inner);
            lock(&conn_inner.open).remove(&id);
            conn_inner.threads.fetch_sub(1, Ordering::SeqCst);
        });
    if spawned.is_err() {
        lock(&inner.open).remove(&id);
        inner.threads.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One connection, according to the behaviour. Errors just end it.
fn serve(mut s: TcpStream, id: u64, inner: &Inner) -> io::Result<()> {
    let mut reader = framing::RequestReader::default();
    let mut next = |s: &mut TcpStream| -> io::Result<bool> {
        let got = reader.next_request(s)?;
        if got {
            inner.requests.fetch_add(1, Ordering::Relaxed);
        }
        Ok(got)
    };
    match inner.behavior {
        Behavior::SilentClose => {
            if next(&mut s)? {
                s.write_all(SILENT_CLOSE_RESPONSE)?;
            }
            close_gracefully(s)
        }
        Behavior::Garbage => {
            if next(&mut s)? {
                s.write_all(&garbage(id))?;
            }
            close_gracefully(s)
        }
        Behavior::Http10Eof => {
            if next(&mut s)? {
                s.write_all(HTTP10_EOF_RESPONSE)?;
            }
            close_gracefully(s)
        }
        Behavior::SlowHeaders(pause) => {
            while next(&mut s)? {
                s.write_all(SLOW_HEADERS_FIRST)?;
                if !sleep_unless_stopped(pause, &inner.stop) {
                    break;
                }
                s.write_all(SLOW_HEADERS_REST)?;
            }
            Ok(())
        }
        Behavior::SlowResponse(pause) => {
            while next(&mut s)? {
                if !sleep_unless_stopped(pause, &inner.stop) {
                    break;
                }
                s.write_all(OK_RESPONSE)?;
            }
            Ok(())
        }
        Behavior::NotFound => {
            while next(&mut s)? {
                s.write_all(NOT_FOUND_RESPONSE)?;
            }
            Ok(())
        }
        Behavior::NeverRespond => {
            let mut sink = [0u8; 4096];
            while s.read(&mut sink)? > 0 {}
            Ok(())
        }
        // Handled in the accept loop; never reaches a thread.
        Behavior::Reset => {
            reset(s);
            Ok(())
        }
    }
}

/// Send FIN, then wait (bounded) for the peer to close, so unread request
/// bytes do not turn our close into a RST.
fn close_gracefully(mut s: TcpStream) -> io::Result<()> {
    s.shutdown(Shutdown::Write)?;
    s.set_read_timeout(Some(Duration::from_secs(1)))?;
    let mut sink = [0u8; 4096];
    while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
    Ok(())
}

/// Sleep `d` in small steps; false if the server was stopped meanwhile.
fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) -> bool {
    let deadline = Instant::now() + d;
    loop {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        thread::sleep(left.min(Duration::from_millis(10)));
    }
}

/// Pseudo-random bytes (xorshift seeded per connection) that cannot be
/// mistaken for an HTTP status line.
fn garbage(seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out: Vec<u8> = (0..GARBAGE_LEN)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect();
    out[0] = 0x00;
    out
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests;
