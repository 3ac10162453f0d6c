//! The control connection (spec §4.1, §4.10, §4.12): whole-message sends and
//! receives with a per-message deadline, and the TCP-urgent error channel.
//!
//! The socket is non-blocking (like stock) and every wait is a `poll()` on
//! readability *and* urgent data, so a peer's `?` error byte is noticed
//! wherever we happen to be waiting, without SIGURG.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::clock::{self, Clock, Deadline, SharedClock};
use crate::debug::Trace;
use crate::sys::{self, strerror};
use crate::{dbg_line, wire};

/// How long the error text (and the peer's close after our error) may take.
pub const ERROR_GRACE: Duration = Duration::from_secs(3);

/// Which end we are; decides the "not responding" wording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

impl Side {
    fn peer(self) -> &'static str {
        match self {
            Side::Client => "server",
            Side::Server => "client",
        }
    }
}

/// Why a control operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CtlError {
    /// Our own failure, with stock's text (`failed to receive port: timed out`).
    Local(String),
    /// The peer reported an error through the urgent channel (its text, may be empty).
    Peer(String),
    /// The peer raised the urgent byte but its text did not end (EOF) within
    /// [`ERROR_GRACE`]: stock prints `server failure` / `client failure`.
    PeerFailure,
}

/// Outcome of waiting on the control socket.
enum Ready {
    In,
    Urgent,
    Out,
    Timeout,
}

/// `poll()` one fd for `events` (plus POLLPRI) until `deadline` on `clock`.
fn wait(fd: i32, out: bool, deadline: Deadline, clock: &dyn Clock) -> io::Result<Ready> {
    loop {
        let Some(ms) = deadline.poll_ms(clock.now(), Duration::MAX) else {
            return Ok(Ready::Timeout);
        };
        let events = libc::POLLPRI | if out { libc::POLLOUT } else { libc::POLLIN };
        let mut fds = [sys::pollfd(fd, events)];
        let r = sys::poll(&mut fds, ms);
        let p = fds[0];
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if r == 0 {
            continue;
        }
        if p.revents & libc::POLLPRI != 0 {
            return Ok(Ready::Urgent);
        }
        if out && p.revents & (libc::POLLOUT | libc::POLLERR | libc::POLLHUP) != 0 {
            return Ok(Ready::Out);
        }
        return Ok(Ready::In);
    }
}

/// One control connection.
pub struct Control {
    stream: TcpStream,
    side: Side,
    /// Every timeout of this connection (and of the test run over it) is
    /// decided on this clock.
    clock: SharedClock,
}

impl Control {
    /// Wraps a connected stream, making it non-blocking.
    pub fn new(stream: TcpStream, side: Side) -> io::Result<Control> {
        Control::with_clock(stream, side, clock::system())
    }

    /// [`Control::new`] deciding its timeouts on `clock`.
    pub fn with_clock(stream: TcpStream, side: Side, clock: SharedClock) -> io::Result<Control> {
        stream.set_nonblocking(true)?;
        Ok(Control {
            stream,
            side,
            clock,
        })
    }

    /// Now, on this connection's clock.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The deadline `secs` seconds from now on this connection's clock.
    pub fn deadline_secs(&self, secs: u32) -> Deadline {
        Deadline::after_secs(self.now(), secs)
    }

    fn wait(&self, out: bool, deadline: Deadline) -> io::Result<Ready> {
        wait(self.fd(), out, deadline, &*self.clock)
    }

    /// The underlying stream (for addresses).
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    fn fd(&self) -> i32 {
        self.stream.as_raw_fd()
    }

    /// Sends all of `data` within `timeout_secs` (0 fails at once, like stock).
    pub fn send(&mut self, item: &str, data: &[u8], timeout_secs: u32) -> Result<(), CtlError> {
        let fail = |why: String| CtlError::Local(format!("failed to send {item}: {why}"));
        let deadline = self.deadline_secs(timeout_secs);
        if timeout_secs == 0 {
            return Err(fail("timed out".into()));
        }
        let mut off = 0;
        while off < data.len() {
            match self.stream.write(&data[off..]) {
                Ok(0) => return Err(fail(format!("{} not responding", self.side.peer()))),
                Ok(n) => off += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    match self.wait(true, deadline).map_err(|e| fail(strerror(&e)))? {
                        Ready::Timeout => return Err(fail("timed out".into())),
                        Ready::Urgent => return Err(self.read_urgent()),
                        _ => {}
                    }
                }
                Err(e) => return Err(fail(strerror(&e))),
            }
        }
        Ok(())
    }

    /// Receives exactly `len` bytes within `timeout_secs`.
    pub fn recv(&mut self, item: &str, len: usize, timeout_secs: u32) -> Result<Vec<u8>, CtlError> {
        let fail = |why: String| CtlError::Local(format!("failed to receive {item}: {why}"));
        let deadline = self.deadline_secs(timeout_secs);
        if timeout_secs == 0 {
            return Err(fail("timed out".into()));
        }
        let mut buf = vec![0u8; len];
        let mut off = 0;
        while off < len {
            // An urgent byte may be pending; bytes before its mark are
            // still the peer's regular messages, so take those first.
            match self.wait(false, deadline).map_err(|e| fail(strerror(&e)))? {
                Ready::Timeout => return Err(fail("timed out".into())),
                Ready::Urgent if self.at_mark() => return Err(self.read_urgent()),
                _ => {}
            }
            match self.stream.read(&mut buf[off..]) {
                Ok(0) => return Err(fail(format!("{} not responding", self.side.peer()))),
                Ok(n) => off += n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                    ) => {}
                Err(e) => return Err(fail(strerror(&e))),
            }
        }
        Ok(buf)
    }

    /// Sends `synchronization before test`, then reads and checks the peer's.
    pub fn sync_before(&mut self, timeout_secs: u32) -> Result<(), CtlError> {
        let item = std::str::from_utf8(wire::SYNC_BEFORE).unwrap_or_default();
        self.send(item, wire::SYNC_BEFORE, timeout_secs)?;
        let got = self.recv(item, wire::SYNC_BEFORE.len(), timeout_secs)?;
        if got != wire::SYNC_BEFORE {
            return Err(CtlError::Local(format!(
                "synchronize {item} failure: data does not match"
            )));
        }
        Ok(())
    }

    /// [`Control::sync_before`] with the `-D` trace lines around it.
    pub fn sync_before_traced(&mut self, trace: &Trace, timeout_secs: u32) -> Result<(), CtlError> {
        dbg_line!(trace, "sending synchronization before test");
        dbg_line!(trace, "waiting for synchronization before test");
        self.sync_before(timeout_secs)?;
        dbg_line!(trace, "synchronization complete");
        Ok(())
    }

    /// Whether the next in-band byte is at the urgent mark.
    fn at_mark(&self) -> bool {
        sys::at_mark(self.fd())
    }

    /// Non-blocking check for a pending urgent error from the peer.
    pub fn poll_urgent(&mut self) -> Option<CtlError> {
        match self.wait(false, Deadline::after(self.now(), Duration::from_millis(1))) {
            Ok(Ready::Urgent) => Some(self.read_urgent()),
            _ => None,
        }
    }

    /// Waits up to `d` for the peer to report an error or go away; `None`
    /// when it did neither.
    pub fn wait_peer_error(&mut self, d: Duration) -> Option<CtlError> {
        let deadline = Deadline::after(self.now(), d);
        loop {
            match self.wait(false, deadline) {
                Ok(Ready::Urgent) => return Some(self.read_urgent()),
                Ok(Ready::In) if self.peer_gone() => return Some(CtlError::Peer(String::new())),
                Ok(Ready::In) => std::thread::sleep(Duration::from_millis(5)),
                _ => return None,
            }
        }
    }

    /// Whether the peer has closed or reset the connection (without urgent data).
    pub fn peer_gone(&self) -> bool {
        sys::peer_gone(self.fd())
    }

    /// Reads the urgent byte and the error text that follows it (§4.12).
    /// A `.` ("peer finished") is not an error in stock either; we report it
    /// as an empty peer error only if no text follows.
    fn read_urgent(&mut self) -> CtlError {
        let deadline = Deadline::after(self.now(), ERROR_GRACE);
        let fd = self.fd();
        // 1. The urgent byte itself.
        loop {
            if sys::recv_urgent(fd).is_some() {
                break;
            }
            if deadline.passed(self.now()) {
                return CtlError::PeerFailure;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // 2. Discard in-band bytes before the mark, then read the text to EOF.
        let mut text = Vec::new();
        let mut at_mark = false;
        let mut chunk = [0u8; 512];
        // Like stock, the text must end (EOF, an error, or a full buffer)
        // before the deadline, otherwise it is a "failure".
        while text.len() < wire::ERROR_TEXT_MAX {
            if deadline.passed(self.now()) {
                return CtlError::PeerFailure;
            }
            if !at_mark {
                at_mark = self.at_mark();
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) if at_mark => text.extend_from_slice(&chunk[..n]),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if let Ok(Ready::Timeout) = self.wait(false, deadline) {
                        return CtlError::PeerFailure;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        CtlError::Peer(wire::decode_error_text(&text))
    }

    /// Reports `text` to the peer: `?` as urgent data, the text in-band,
    /// FIN, then waits (at most 3 s) for the peer to close.
    pub fn send_error(&mut self, text: &str) {
        self.send_error_linger(text, ERROR_GRACE);
    }

    /// [`Control::send_error`] with a chosen wait for the peer's close.
    pub fn send_error_linger(&mut self, text: &str, linger: Duration) {
        let fd = self.fd();
        // Like stock: the urgent byte, then the text in its own write.  A
        // stock peer may print just `server: ` when its SIGURG handler runs
        // before the text is queued (its race, §4.12; stock↔stock too).
        sys::send_urgent(fd, wire::URGENT_ERROR);
        let text = wire::bound_error_text(text);
        let _ = self.send("error", text.as_bytes(), ERROR_GRACE.as_secs() as u32);
        let _ = self.stream.shutdown(Shutdown::Write);
        self.drain(linger);
    }

    /// Reads and discards until EOF, an error, or `d` has passed.
    pub fn drain(&mut self, d: Duration) {
        let deadline = Deadline::after(self.now(), d);
        let mut chunk = [0u8; 512];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    match self.wait(false, deadline) {
                        Ok(Ready::Timeout) | Err(_) => return,
                        Ok(Ready::Urgent) => {
                            sys::recv_urgent(self.fd());
                        }
                        _ => {}
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }
}

/// A connected loopback pair for tests: (client side, server side).
#[cfg(test)]
pub(crate) fn loopback_pair() -> (Control, Control) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (
        Control::new(c, Side::Client).unwrap(),
        Control::new(s, Side::Server).unwrap(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FakeClock;
    use std::sync::Arc;

    use super::loopback_pair as pair;

    /// A pair whose client side decides its timeouts on `clock`.
    fn pair_on(clock: SharedClock) -> (Control, Control) {
        let (c, s) = pair();
        (
            Control::with_clock(c.stream, Side::Client, clock).unwrap(),
            s,
        )
    }

    /// Runs `f` on its own thread; its answer, or a panic after 30 s (a
    /// wait decided on real time instead of the fake clock takes hours).
    fn soon<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(f()));
        rx.recv_timeout(Duration::from_secs(30))
            .expect("the wait did not follow its clock")
    }

    const HOURS: Duration = Duration::from_secs(7200);

    #[test]
    fn recv_timeout_is_decided_on_the_clock() {
        let (mut c, s) = pair_on(Arc::new(FakeClock::new(HOURS)));
        let got = soon(move || c.recv("port", 4, 3600));
        assert_eq!(
            got,
            Err(CtlError::Local("failed to receive port: timed out".into()))
        );
        drop(s);
    }

    #[test]
    fn send_timeout_is_decided_on_the_clock() {
        // A peer that never reads: the buffers fill, then the wait for
        // room ends when the clock says so.
        let (mut c, s) = pair_on(Arc::new(FakeClock::new(HOURS)));
        let got = soon(move || c.send("request data", &vec![0u8; 64 << 20], 3600));
        assert_eq!(
            got,
            Err(CtlError::Local(
                "failed to send request data: timed out".into()
            ))
        );
        drop(s);
    }

    #[test]
    fn data_before_the_deadline_is_received() {
        // The clock moves 1 s per read and the timeout is 10 s: the bytes
        // already there are taken, not a timeout.
        let (mut c, mut s) = pair_on(Arc::new(FakeClock::new(Duration::from_secs(1))));
        s.send("port", &[0, 0, 0, 7], 5).unwrap();
        assert_eq!(c.recv("port", 4, 10).unwrap(), [0, 0, 0, 7]);
    }

    #[test]
    fn error_text_grace_is_decided_on_the_clock() {
        // The urgent byte without text or close: `server failure` once
        // ERROR_GRACE has passed on the clock (1 s per read), not in 3 s.
        let (mut c, s) = pair_on(Arc::new(FakeClock::new(Duration::from_secs(1))));
        assert!(sys::send_urgent(s.fd(), wire::URGENT_ERROR));
        let got = soon(move || c.recv("port", 4, 3600));
        assert_eq!(got, Err(CtlError::PeerFailure));
        drop(s);
    }

    #[test]
    fn message_round_trip() {
        let (mut c, mut s) = pair();
        c.send("request data", b"hello", 5).unwrap();
        assert_eq!(s.recv("request data", 5, 5).unwrap(), b"hello");
    }

    #[test]
    fn timeout_zero_fails_at_once() {
        let (mut c, _s) = pair();
        assert_eq!(
            c.send("request data", b"x", 0),
            Err(CtlError::Local(
                "failed to send request data: timed out".into()
            ))
        );
        assert_eq!(
            c.recv("port", 4, 0),
            Err(CtlError::Local("failed to receive port: timed out".into()))
        );
    }

    #[test]
    fn recv_times_out() {
        let (mut c, _s) = pair();
        let t = Instant::now();
        assert_eq!(
            c.recv("port", 4, 1),
            Err(CtlError::Local("failed to receive port: timed out".into()))
        );
        assert!(t.elapsed() >= Duration::from_millis(990));
    }

    #[test]
    fn eof_texts_name_the_peer() {
        let (mut c, s) = pair();
        drop(s);
        assert_eq!(
            c.recv("port", 4, 5),
            Err(CtlError::Local(
                "failed to receive port: server not responding".into()
            ))
        );
        let (c, mut s) = pair();
        drop(c);
        assert_eq!(
            s.recv("request version", 6, 5),
            Err(CtlError::Local(
                "failed to receive request version: client not responding".into()
            ))
        );
    }

    #[test]
    fn urgent_error_reaches_the_peer() {
        let (mut c, mut s) = pair();
        let t = std::thread::spawn(move || {
            s.send_error_linger("unable to make TCP socket", ERROR_GRACE)
        });
        assert_eq!(
            c.recv("port", 4, 5),
            Err(CtlError::Peer("unable to make TCP socket".into()))
        );
        drop(c);
        t.join().unwrap();
    }

    #[test]
    fn urgent_without_text_is_a_peer_failure() {
        // The peer raises its error but neither sends text nor closes:
        // stock gives up after 3 s with "server failure".
        let (mut c, s) = pair();
        assert!(sys::send_urgent(s.fd(), wire::URGENT_ERROR));
        let t = Instant::now();
        assert_eq!(c.recv("port", 4, 10), Err(CtlError::PeerFailure));
        assert!(t.elapsed() >= ERROR_GRACE - Duration::from_millis(10));
        assert!(t.elapsed() < ERROR_GRACE + Duration::from_secs(2));
        drop(s);
    }

    #[test]
    fn urgent_then_close_is_an_empty_text() {
        // Text readable (empty, then EOF): stock prints "server: " alone.
        let (mut c, s) = pair();
        assert!(sys::send_urgent(s.fd(), wire::URGENT_ERROR));
        drop(s);
        assert_eq!(c.recv("port", 4, 10), Err(CtlError::Peer(String::new())));
    }

    #[test]
    fn bytes_before_the_mark_are_still_delivered() {
        let (mut c, mut s) = pair();
        s.send("port", &[1, 2, 3, 4], 5).unwrap();
        let t = std::thread::spawn(move || s.send_error_linger("late failure", ERROR_GRACE));
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(c.recv("port", 4, 5).unwrap(), [1, 2, 3, 4]);
        assert_eq!(
            c.recv("results", 256, 5),
            Err(CtlError::Peer("late failure".into()))
        );
        drop(c);
        t.join().unwrap();
    }

    #[test]
    fn sync_mismatch_text() {
        let (mut c, mut s) = pair();
        s.send("x", b"synchronization before tesT", 5).unwrap();
        assert_eq!(
            c.sync_before(5),
            Err(CtlError::Local(
                "synchronize synchronization before test failure: data does not match".into()
            ))
        );
    }
}
