//! The io_uring back end of the worker loop ([`Shell`]): completion-driven
//! I/O for the per-connection machines, the twin of the mio back end in
//! [`crate::engine::worker`] (same loop, machine, events and counting).
//!
//! Each loop turn handles every completion the last `io_uring_enter`
//! brought, queues the sends and receives they lead to, and submits them
//! all with the next enter, which also waits for the next completions (or
//! the next timer). A connection's receive is one multishot `recv` into the
//! provided buffer ring, armed once per socket; a batch is one `send`. So in
//! the keep-alive steady state a turn costs one syscall for however many
//! connections made progress in it.
//!
//! Connects are what the epoll engine does (non-blocking `connect`, then a
//! writability wait; `SO_ERROR` is not checked, so a refused connect is
//! the first send's error). TLS runs through the same [`TlsSession`] over an
//! in-memory pipe: received records are fed from the buffer, records to
//! send are collected and submitted as one send.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use super::ring::{Completion, Driver, Op, Sizes, Token};
use crate::engine::clock::now_us;
use crate::engine::conn::{open, Stream};
use crate::engine::core::ThreadCore;
use crate::engine::machine::{Action, Event};
use crate::engine::shell::{Conn, Io, Shell};
use crate::engine::{EngineConfig, ThreadResult};
use crate::error_detail::Cause;
use crate::tls::{Handshake, ReadOutcome, TlsClient, TlsSession};

/// Plaintext buffer for decrypted TLS records.
const PLAIN_BUF: usize = 64 * 1024;

/// A TLS session and its records in flight.
struct TlsLink {
    session: TlsSession,
    handshaking: bool,
    /// Records produced and not yet submitted.
    out: Vec<u8>,
    /// Records being sent (the kernel reads them until the send completes).
    inflight: Vec<u8>,
    /// Bytes of `inflight` already sent.
    pos: usize,
}

/// One connection's I/O state.
#[derive(Default)]
pub struct UringConn {
    sock: Option<OwnedFd>,
    tls: Option<Box<TlsLink>>,
    /// Which socket of this slot the operations belong to.
    epoch: u32,
    /// The writability wait of the connect is armed.
    connecting: bool,
    /// The multishot receive is armed.
    recv_armed: bool,
    /// The multishot receive ended and must be armed again.
    rearm: bool,
    /// A send is in flight.
    sending: bool,
    /// Listed in the turn's follow-ups.
    marked: bool,
}

impl UringConn {
    fn token(&self, op: Op, i: usize) -> Token {
        Token::new(op, i as u32, self.epoch)
    }

    fn owns(&self, t: Token) -> bool {
        self.sock.is_some() && self.epoch & 0xff_ffff == t.epoch
    }

    /// Queues the cancellation of every operation in flight, each by its
    /// own token (a hashed lookup in the kernel).
    fn cancel_all(&self, i: usize, driver: &mut Driver) {
        let ops = [
            (self.recv_armed, Op::Recv),
            (self.connecting, Op::Connect),
            (self.sending, Op::Send),
        ];
        for (armed, op) in ops {
            if armed {
                let _ = driver.cancel(self.token(op, i));
            }
        }
    }
}

/// An in-memory socket for [`TlsSession`]: reads take from `input` (then
/// would block), writes append to `output`.
struct Pipe<'a, 'b> {
    input: &'a mut &'b [u8],
    output: &'a mut Vec<u8>,
}

impl Read for Pipe<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.input.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.input.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        *self.input = &self.input[n..];
        Ok(n)
    }
}

impl Write for Pipe<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A worker thread's state before its ring exists (the ring is built in
/// the thread that uses it).
pub struct Prepared {
    core: ThreadCore,
    tls: Option<TlsClient>,
}

fn errno_cause(res: i32) -> Cause {
    Cause::io(&io::Error::from_raw_os_error(res.saturating_neg()))
}

impl Prepared {
    pub fn new(core: ThreadCore) -> io::Result<Prepared> {
        let tls = core.tls_client()?;
        Ok(Prepared { core, tls })
    }

    /// Builds the ring in this thread and runs; if the ring cannot be set
    /// up here after all (e.g. a locked-memory limit hit by the many rings
    /// of a large `-t`), the thread runs the epoll worker instead.
    pub fn run(self) -> ThreadResult {
        let sizes = Sizes::for_connections(self.core.cfg.connections);
        match Driver::new(sizes) {
            Ok(driver) => {
                let io = Uring {
                    plain: vec![0u8; if self.tls.is_some() { PLAIN_BUF } else { 0 }]
                        .into_boxed_slice(),
                    followups: Vec::new(),
                    graveyard: Vec::new(),
                    driver,
                    tls: self.tls,
                };
                Shell::new(io, self.core).run()
            }
            Err(_) => {
                let empty = ThreadResult::empty(&self.core.cfg, None);
                match crate::engine::worker::Mio::worker(self.core) {
                    Ok(w) => w.run(),
                    // No event loop at all (the epoll one failed too): no load.
                    Err(_) => empty,
                }
            }
        }
    }
}

/// The io_uring back end's state.
pub struct Uring {
    // Dropped first: the ring goes before the memory its operations use.
    driver: Driver,
    tls: Option<TlsClient>,
    plain: Box<[u8]>,
    /// Slots to look at once the turn's completions are handled.
    followups: Vec<u32>,
    /// Records of closed TLS sockets whose send is still in flight.
    graveyard: Vec<(u64, Vec<u8>)>,
}

/// Connections per thread from which the closed loop batches its waits.
///
/// Measured on the 2-CPU VM of `compat/bench/README.md` (pinned, against
/// one nginx worker): with thousands of connections a thread that wakes
/// for every completion feeds nginx a trickle of requests and loses
/// requests/sec (−10 % against stock wrk at -c10000), while waiting a few
/// µs for a batch sends them in bursts, as stock's slower loop does. Below
/// that, the wait's timer costs more CPU than the wake-ups it saves (at
/// -c50 0.95× stock's CPU per request with it, 0.85× without; -c1000
/// 0.89× and 0.83×), with the same requests/sec as stock either way.
const BATCH_FROM_CONNECTIONS: usize = 4096;

/// [`Uring::batching`] for a thread with `conns` connections whose send
/// times are `paced` (`-R`, `delay()`) or not.
fn wait_policy(paced: bool, conns: usize) -> (usize, u32) {
    if paced || conns < BATCH_FROM_CONNECTIONS {
        return (1, 0);
    }
    (32, 20)
}

impl Uring {
    /// How many completions to wait for, and for how long at most once one
    /// is there (µs). From [`BATCH_FROM_CONNECTIONS`] connections on, in
    /// the closed loop, 32 completions for at most 20 µs: nothing a latency
    /// of the milliseconds such a load sees can show. Otherwise, and always
    /// with `-R` pacing or `delay()` (where send times matter), the first
    /// completion wakes us.
    fn batching(core: &ThreadCore, conns: usize) -> (usize, u32) {
        wait_policy(core.cfg.rate.is_some() || core.policy.has_delay, conns)
    }

    /// Submits the TLS records produced so far, unless a send is in flight
    /// (its completion submits the rest).
    fn flush_records(&mut self, i: usize, conn: &mut UringConn) -> io::Result<()> {
        let (Some(link), Some(sock)) = (conn.tls.as_mut(), conn.sock.as_ref()) else {
            return Ok(());
        };
        if conn.sending || link.out.is_empty() {
            return Ok(());
        }
        std::mem::swap(&mut link.inflight, &mut link.out);
        link.out.clear();
        link.pos = 0;
        let token = Token::new(Op::Send, i as u32, conn.epoch);
        let len = u32::try_from(link.inflight.len()).unwrap_or(u32::MAX);
        // SAFETY: `inflight` is not touched until this send completes; a
        // closed socket's buffer is kept in the graveyard until then.
        unsafe {
            self.driver
                .send(sock.as_raw_fd(), link.inflight.as_ptr(), len, token)
        }?;
        conn.sending = true;
        Ok(())
    }
}

impl Io for Uring {
    type Conn = UringConn;

    /// Opens the socket and waits for the connect.
    fn open(&mut self, cfg: &EngineConfig, i: usize, conn: &mut UringConn) -> io::Result<()> {
        let fd = open(cfg.addr, cfg.unix_socket.as_deref()).map(|s| match s {
            Stream::Tcp(s) => OwnedFd::from(s),
            Stream::Unix(s) => OwnedFd::from(s),
        });
        conn.epoch = conn.epoch.wrapping_add(1);
        let fd = fd?;
        self.driver
            .poll_writable(fd.as_raw_fd(), conn.token(Op::Connect, i))?;
        conn.sock = Some(fd);
        conn.connecting = true;
        Ok(())
    }

    /// Its operations are cancelled (the socket itself goes once they
    /// are), TLS sends close_notify first.
    fn close(&mut self, i: usize, conn: &mut UringConn) {
        if conn.sock.is_some() {
            conn.cancel_all(i, &mut self.driver);
            if conn.sending {
                let ud = conn.token(Op::Send, i).encode();
                if let Some(link) = conn.tls.as_mut() {
                    self.graveyard
                        .push((ud, std::mem::take(&mut link.inflight)));
                }
            }
        }
        close_now(conn);
    }

    /// Plain TCP as one send that points at `out`, TLS through the session
    /// into records.
    fn send(&mut self, i: usize, conn: &mut UringConn, out: &[u8]) -> Option<Event<'static>> {
        let fd = conn.sock.as_ref()?.as_raw_fd();
        if conn.sending && conn.tls.is_none() {
            return None;
        }
        if let Some(link) = conn.tls.as_mut() {
            let mut none: &[u8] = &[];
            let mut pipe = Pipe {
                input: &mut none,
                output: &mut link.out,
            };
            let ev = match link.session.write(&mut pipe, out) {
                // The session's buffer is full: resumed when records drain.
                Ok(0) => None,
                Ok(n) => Some(Event::Sent(n)),
                Err(e) => Some(Event::WriteFailed(Cause::io(&e))),
            };
            if let Err(e) = self.flush_records(i, conn) {
                return Some(Event::WriteFailed(Cause::io(&e)));
            }
            return ev;
        }
        if out.is_empty() {
            return Some(Event::Sent(0));
        }
        let token = conn.token(Op::Send, i);
        let len = u32::try_from(out.len()).unwrap_or(u32::MAX);
        // SAFETY: `out` is the machine's batch (or the policy's static
        // request, held for the thread's life); the machine leaves it
        // unchanged until we report `Sent`, and a closed socket's send is
        // cancelled before the memory could go (`close`, `shutdown`).
        match unsafe { self.driver.send(fd, out.as_ptr(), len, token) } {
            Ok(()) => {
                conn.sending = true;
                None
            }
            Err(e) => Some(Event::WriteFailed(Cause::io(&e))),
        }
    }

    /// Submits the queued sends and receives and waits, in one
    /// `io_uring_enter`; then handles the completions.
    fn turn(sh: &mut Shell<Uring>, wake: u64) -> io::Result<()> {
        let wait = Duration::from_micros(wake.saturating_sub(now_us()));
        let (want, min_wait) = Uring::batching(&sh.core, sh.conns.len());
        sh.io
            .driver
            .submit_and_wait_batch(Some(wait), want, min_wait)?;
        sh.complete_all();
        Ok(())
    }

    /// Nothing the kernel still does may touch our memory once it is
    /// dropped: every operation in flight is cancelled by its own token
    /// (one cancel-any would scan every armed receive per match, quadratic
    /// at 10,000 connections) and the ring closed before the sockets.
    fn shutdown(mut self, conns: Vec<Conn<UringConn>>) -> Box<dyn FnOnce() + Send> {
        for (i, c) in conns.iter().enumerate() {
            c.io.cancel_all(i, &mut self.driver);
        }
        let _ = self.driver.submit_and_wait(None);
        let driver = self.driver;
        Box::new(move || {
            drop(driver);
            for mut c in conns {
                close_now(&mut c.io);
            }
        })
    }
}

impl Shell<Uring> {
    /// [`Uring::flush_records`]; a failed submission is a write error.
    fn flush_tls(&mut self, i: usize) {
        if let Err(e) = self.io.flush_records(i, &mut self.conns[i].io) {
            self.drive(i, Event::WriteFailed(Cause::io(&e)));
        }
    }

    fn arm_recv(&mut self, i: usize) {
        let slot = &mut self.conns[i].io;
        let Some(sock) = slot.sock.as_ref() else {
            return;
        };
        if slot.recv_armed || slot.connecting {
            return;
        }
        match self
            .io
            .driver
            .recv_multi(sock.as_raw_fd(), slot.token(Op::Recv, i))
        {
            Ok(()) => slot.recv_armed = true,
            Err(e) => self.drive(i, Event::ReadFailed(Cause::io(&e))),
        }
    }

    fn follow_up(&mut self, i: usize) {
        let slot = &mut self.conns[i].io;
        if !slot.marked {
            slot.marked = true;
            self.io.followups.push(i as u32);
        }
    }

    /// Handles the turn's completions: sends first, so a response is never
    /// seen before its request's send completed; then the rest in order.
    fn complete_all(&mut self) {
        let done = self.io.driver.take_completions();
        let is_send =
            |c: &&Completion| Token::decode(c.user_data).is_some_and(|t| t.op == Op::Send);
        for c in done.iter().filter(is_send) {
            self.complete(c);
        }
        for c in done.iter().filter(|c| !is_send(c)) {
            self.complete(c);
        }
        self.io.driver.restore(done);
        self.io.driver.buffers_mut().publish();
        let list = std::mem::take(&mut self.io.followups);
        for &i in &list {
            let i = i as usize;
            let slot = &mut self.conns[i].io;
            slot.marked = false;
            if slot.sock.is_none() || slot.connecting {
                continue;
            }
            if std::mem::take(&mut slot.rearm) {
                self.arm_recv(i);
            }
            let conn = &self.conns[i];
            if !conn.io.sending && conn.machine.wants_send() {
                self.drive(i, Event::CanSend);
            }
        }
        self.io.followups = list;
        self.io.followups.clear();
    }

    fn complete(&mut self, c: &Completion) {
        let Some(t) = Token::decode(c.user_data) else {
            self.recycle(c);
            return;
        };
        let i = t.slot as usize;
        let current = self.conns.get(i).is_some_and(|s| s.io.owns(t));
        match t.op {
            Op::Cancel => {}
            Op::Send if !current => self.io.graveyard.retain(|(ud, _)| *ud != c.user_data),
            Op::Send => self.on_sent(i, c.result),
            Op::Connect if current => {
                self.conns[i].io.connecting = false;
                self.on_connected(i);
            }
            Op::Connect => {}
            Op::Recv => {
                if current {
                    self.on_recv(i, c);
                }
                self.recycle(c);
            }
        }
    }

    fn recycle(&mut self, c: &Completion) {
        if let Some(bid) = c.buffer() {
            self.io.driver.buffers_mut().recycle(bid);
        }
    }

    fn on_sent(&mut self, i: usize, res: i32) {
        self.conns[i].io.sending = false;
        if res < 0 {
            self.socket_failed(i, Event::WriteFailed(errno_cause(res)));
            return;
        }
        let n = res as usize;
        let slot = &mut self.conns[i].io;
        let Some(link) = slot.tls.as_mut() else {
            self.drive(i, Event::Sent(n));
            return;
        };
        link.pos += n;
        if link.pos < link.inflight.len() {
            // Short send: the rest goes first, the new records after it.
            let rest = link.inflight.split_off(link.pos);
            link.inflight.clear();
            let mut pending = std::mem::replace(&mut link.out, rest);
            link.out.append(&mut pending);
        } else {
            link.inflight.clear();
        }
        self.flush_tls(i);
        self.follow_up(i);
    }

    /// A socket error or EOF; during a TLS handshake it is the handshake's
    /// failure, a connect error (as the epoll worker's handshake step).
    fn socket_failed(&mut self, i: usize, ev: Event<'static>) {
        let handshaking = self.conns[i].io.tls.as_ref().is_some_and(|l| l.handshaking);
        if handshaking {
            self.drive(i, Event::ConnectFailed(Cause::Tls));
        } else {
            self.drive(i, ev);
        }
    }

    /// The connect's wait ended: plain TCP counts as connected without
    /// looking at `SO_ERROR` (wrk); https starts its handshake.
    fn on_connected(&mut self, i: usize) {
        let epoch = self.conns[i].io.epoch;
        match &self.io.tls {
            Some(client) => match client.session() {
                Ok(session) => {
                    self.conns[i].io.tls = Some(Box::new(TlsLink {
                        session,
                        handshaking: true,
                        out: Vec::new(),
                        inflight: Vec::new(),
                        pos: 0,
                    }));
                    self.tls_input(i, &[]);
                }
                Err(_) => self.drive(i, Event::ConnectFailed(Cause::Tls)),
            },
            None => self.drive(i, Event::Connected),
        }
        // After the first send was queued: a refused connect is then the
        // send's error, as in the epoll engine.
        if self.conns[i].io.epoch == epoch {
            self.arm_recv(i);
        }
    }

    fn on_recv(&mut self, i: usize, c: &Completion) {
        let slot = &mut self.conns[i].io;
        if !c.more() {
            slot.recv_armed = false;
        }
        let epoch = slot.epoch;
        match c.result {
            n if n > 0 => {
                let Some(bid) = c.buffer() else { return };
                if slot.tls.is_some() {
                    // Copied out: the handshake or a hook may reconnect.
                    let data = self.io.driver.buffers().get(bid, n as usize).to_vec();
                    self.tls_input(i, &data);
                } else {
                    let data = self.io.driver.buffers().get(bid, n as usize);
                    let action = self
                        .core
                        .feed(&mut self.conns[i].machine, Event::Received(data));
                    if let Some(a) = action {
                        self.perform(i, a);
                    }
                }
            }
            0 => {
                self.socket_failed(i, Event::Eof);
                return;
            }
            e if e == -libc::ENOBUFS => {}
            e => {
                self.socket_failed(i, Event::ReadFailed(errno_cause(e)));
                return;
            }
        }
        let slot = &mut self.conns[i].io;
        if slot.epoch == epoch && slot.sock.is_some() {
            if !slot.recv_armed {
                slot.rearm = true;
            }
            self.follow_up(i);
        }
    }

    /// TLS bytes arrived (or, empty, the connection is up): handshake
    /// steps, then plaintext to the machine.
    fn tls_input(&mut self, i: usize, data: &[u8]) {
        let epoch = self.conns[i].io.epoch;
        let mut input = data;
        let Some(link) = self.conns[i].io.tls.as_mut() else {
            return;
        };
        if link.handshaking {
            let step = link.session.handshake(&mut Pipe {
                input: &mut input,
                output: &mut link.out,
            });
            match step {
                Handshake::Pending => {
                    self.flush_tls(i);
                    return;
                }
                Handshake::Failed => {
                    self.flush_tls(i);
                    self.drive(i, Event::ConnectFailed(Cause::Tls));
                    return;
                }
                Handshake::Done => {
                    link.handshaking = false;
                    self.flush_tls(i);
                    self.drive(i, Event::Connected);
                    if self.conns[i].io.epoch != epoch || input.is_empty() {
                        return;
                    }
                }
            }
        }
        loop {
            let conn = &mut self.conns[i];
            let Some(link) = conn.io.tls.as_mut() else {
                return;
            };
            let outcome = link.session.read(
                &mut Pipe {
                    input: &mut input,
                    output: &mut link.out,
                },
                &mut self.io.plain,
            );
            let ev = match outcome {
                ReadOutcome::Data(0) | ReadOutcome::WouldBlock => break,
                ReadOutcome::Data(n) => {
                    let action = self
                        .core
                        .feed(&mut conn.machine, Event::Received(&self.io.plain[..n]));
                    match action {
                        Some(Action::Idle) => continue,
                        Some(a) => {
                            self.perform(i, a);
                            return;
                        }
                        None => return,
                    }
                }
                ReadOutcome::Eof => Event::Eof,
                ReadOutcome::Error(cause) => Event::ReadFailed(cause),
            };
            self.flush_tls(i);
            self.drive(i, ev);
            return;
        }
        // Key updates or tickets may want a reply.
        self.flush_tls(i);
    }
}

/// Closes a slot's socket at once (TLS: close_notify first, best effort,
/// unless records are still in flight) and forgets its operations.
fn close_now(slot: &mut UringConn) {
    if let (Some(link), Some(sock)) = (slot.tls.as_mut(), slot.sock.as_ref()) {
        if !slot.sending && link.out.is_empty() {
            let mut none: &[u8] = &[];
            link.session.close(&mut Pipe {
                input: &mut none,
                output: &mut link.out,
            });
            // SAFETY: a non-blocking send from our own buffer on our own
            // descriptor; the result does not matter (best effort).
            unsafe {
                libc::send(
                    sock.as_raw_fd(),
                    link.out.as_ptr().cast(),
                    link.out.len(),
                    libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
                )
            };
        }
    }
    slot.sock = None;
    slot.tls = None;
    slot.connecting = false;
    slot.recv_armed = false;
    slot.rearm = false;
    slot.sending = false;
}

#[cfg(test)]
mod wait_policy_tests {
    use super::{wait_policy, BATCH_FROM_CONNECTIONS};

    #[test]
    fn the_first_completion_wakes_below_the_threshold_and_when_paced() {
        for conns in [1, 50, 1000, BATCH_FROM_CONNECTIONS - 1] {
            assert_eq!(wait_policy(false, conns), (1, 0), "-c{conns}");
        }
        for conns in [1, 50, BATCH_FROM_CONNECTIONS, 20_000] {
            assert_eq!(wait_policy(true, conns), (1, 0), "paced -c{conns}");
        }
    }

    #[test]
    fn many_connections_wait_briefly_for_a_batch() {
        assert_eq!(wait_policy(false, BATCH_FROM_CONNECTIONS), (32, 20));
        assert_eq!(wait_policy(false, 10_000), (32, 20));
    }
}
