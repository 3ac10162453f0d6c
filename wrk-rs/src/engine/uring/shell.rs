//! One worker thread on io_uring: a completion-driven shell over the
//! per-connection [`Machine`]s, the twin of the mio loop in
//! [`crate::engine::worker`] (same machine, same events, same counting).
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
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use super::ring::{Completion, Driver, Op, Sizes, Token};
use crate::engine::clock::now_us;
use crate::engine::conn::{open, Stream};
use crate::engine::core::ThreadCore;
use crate::engine::machine::{Action, Event, Machine};
use crate::engine::{EngineConfig, FatalSlot, ThreadResult};
use crate::error_detail::Cause;
use crate::script_api::ThreadScript;
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

/// One connection slot.
struct Slot {
    machine: Machine,
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

impl Slot {
    fn token(&self, op: Op, i: usize) -> Token {
        Token::new(op, i as u32, self.epoch)
    }

    fn owns(&self, t: Token) -> bool {
        self.sock.is_some() && self.epoch & 0xff_ffff == t.epoch
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
pub struct Shell {
    core: ThreadCore,
    tls: Option<TlsClient>,
    /// The core's stop flag and failure slot, for the epoll fallback.
    stop: Arc<AtomicBool>,
    fatal: Arc<FatalSlot>,
}

/// The epoll worker, for a thread whose ring could not be set up (e.g. a
/// locked-memory limit hit by the many rings of a large `-t`).
fn epoll_fallback(core: ThreadCore, stop: Arc<AtomicBool>, fatal: Arc<FatalSlot>) -> ThreadResult {
    let empty = ThreadResult::empty(&core.cfg, None);
    match crate::engine::worker::Worker::new(core.cfg, core.script, stop, fatal) {
        Ok(w) => w.run(),
        // No event loop at all (the epoll one failed too): no load.
        Err(_) => empty,
    }
}

fn errno_cause(res: i32) -> Cause {
    Cause::io(&io::Error::from_raw_os_error(res.saturating_neg()))
}

impl Shell {
    pub fn new(
        cfg: EngineConfig,
        script: Option<Box<dyn ThreadScript>>,
        stop: Arc<AtomicBool>,
        fatal: Arc<FatalSlot>,
    ) -> io::Result<Shell> {
        let tls = match &cfg.tls_server_name {
            Some(host) => Some(TlsClient::new(host, cfg.addr.ip()).map_err(io::Error::other)?),
            None => None,
        };
        Ok(Shell {
            core: ThreadCore::new(cfg, script, stop.clone(), fatal.clone()),
            tls,
            stop,
            fatal,
        })
    }

    /// Builds the ring in this thread and runs; if the ring cannot be set
    /// up here after all, the thread runs the epoll worker instead.
    pub fn run(self) -> ThreadResult {
        let sizes = Sizes::for_connections(self.core.cfg.connections);
        match Driver::new(sizes) {
            Ok(driver) => Loop {
                slots: Vec::new(),
                plain: vec![0u8; if self.tls.is_some() { PLAIN_BUF } else { 0 }].into_boxed_slice(),
                followups: Vec::new(),
                graveyard: Vec::new(),
                driver,
                tls: self.tls,
                core: self.core,
            }
            .run(),
            Err(_) => epoll_fallback(self.core, self.stop, self.fatal),
        }
    }
}

/// The running loop.
struct Loop {
    // Dropped first: the ring goes before the memory its operations use.
    driver: Driver,
    core: ThreadCore,
    tls: Option<TlsClient>,
    slots: Vec<Slot>,
    plain: Box<[u8]>,
    /// Slots to look at once the turn's completions are handled.
    followups: Vec<u32>,
    /// Records of closed TLS sockets whose send is still in flight.
    graveyard: Vec<(u64, Vec<u8>)>,
}

impl Loop {
    fn run(mut self) -> ThreadResult {
        self.open_all();
        self.core.start(now_us());
        loop {
            let now = now_us();
            match self.core.tick(now) {
                Some(false) => break,
                Some(true) => {
                    for i in 0..self.slots.len() {
                        self.drive(i, Event::Tick);
                    }
                }
                None => {}
            }
            self.fire_timers(now);
            if self.core.finished() {
                break;
            }
            let wait = Duration::from_micros(self.core.next_wake().saturating_sub(now_us()));
            let (want, min_wait) = self.batching();
            if self
                .driver
                .submit_and_wait_batch(Some(wait), want, min_wait)
                .is_err()
            {
                break;
            }
            self.complete_all();
            if self.core.finished() {
                break;
            }
        }
        self.finish()
    }

    /// How many completions to wait for, and for how long at most once one
    /// is there (µs). In the closed loop a quarter of the connections (at
    /// most 32) for at most 20 µs: far fewer sleeps and wake-ups, and
    /// nothing a latency of tens of µs or more can see. With `-R` pacing
    /// or `delay()`, where send times matter, every completion wakes us.
    fn batching(&self) -> (usize, u32) {
        if self.core.cfg.rate.is_some() || self.core.policy.has_delay {
            return (1, 0);
        }
        ((self.slots.len() / 4).clamp(1, 32), 20)
    }

    /// Hands back the counters; sockets are closed off the measured path.
    fn finish(mut self) -> ThreadResult {
        // Nothing the kernel still does may touch our memory once it is
        // dropped: cancel every operation in flight by its own token (a
        // hashed lookup each; one cancel-any would scan every armed receive
        // per match, quadratic at 10,000 connections). Poll-armed receives
        // and sends are cancelled while the submit runs.
        for i in 0..self.slots.len() {
            let slot = &self.slots[i];
            let ops = [
                (slot.recv_armed, Op::Recv),
                (slot.connecting, Op::Connect),
                (slot.sending, Op::Send),
            ];
            for (armed, op) in ops {
                if armed {
                    let _ = self.driver.cancel(slot.token(op, i));
                }
            }
        }
        let _ = self.driver.submit_and_wait(None);
        let slots = std::mem::take(&mut self.slots);
        let driver = self.driver;
        let close = move || {
            drop(driver);
            for mut s in slots {
                close_now(&mut s);
            }
        };
        // wrk leaves its sockets to process exit; closing thousands of them
        // here would stretch the measured runtime (see the epoll worker).
        if self.core.cfg.connections > 64 {
            // If the thread cannot be spawned the closure is dropped here,
            // which closes the sockets inline.
            let _ = std::thread::Builder::new()
                .name("wrk-close".into())
                .spawn(close);
        } else {
            close();
        }
        self.core.into_result()
    }

    /// Opens every slot once; a slot whose socket cannot be created is
    /// dead for the run and keeps no state (as in the epoll worker).
    fn open_all(&mut self) {
        for k in 0..self.core.cfg.connections {
            self.slots.push(Slot {
                machine: self.core.new_machine(k),
                sock: None,
                tls: None,
                epoch: 0,
                connecting: false,
                recv_armed: false,
                rearm: false,
                sending: false,
                marked: false,
            });
            let i = self.slots.len() - 1;
            self.connect(i);
            if self.slots[i].machine.is_dead() {
                self.slots.pop();
            }
        }
        self.slots.shrink_to_fit();
    }

    fn drive(&mut self, i: usize, ev: Event<'_>) {
        if let Some(a) = self.feed(i, ev) {
            self.perform(i, a);
        }
    }

    fn feed(&mut self, i: usize, ev: Event<'_>) -> Option<Action> {
        self.core.feed(&mut self.slots[i].machine, ev)
    }

    /// Performs the machine's actions until it waits for an event.
    fn perform(&mut self, i: usize, mut action: Action) {
        loop {
            let next = match action {
                Action::Idle => return,
                Action::Arm(due) => {
                    self.core.arm(due, i, &self.slots[i].machine);
                    return;
                }
                Action::Reconnect => {
                    self.close(i);
                    self.connect(i);
                    return;
                }
                Action::Send => match self.send(i) {
                    Some(ev) => ev,
                    None => return,
                },
            };
            match self.feed(i, next) {
                Some(a) => action = a,
                None => return,
            }
        }
    }

    /// Writes the machine's outgoing bytes: plain TCP as one send that
    /// points at them (the machine keeps them unchanged until `Sent`), TLS
    /// through the session into records. `Some(event)` to feed at once.
    fn send(&mut self, i: usize) -> Option<Event<'static>> {
        let slot = &mut self.slots[i];
        let fd = slot.sock.as_ref()?.as_raw_fd();
        if slot.sending && slot.tls.is_none() {
            return None;
        }
        let out = slot.machine.outgoing(&self.core.policy);
        if let Some(link) = slot.tls.as_mut() {
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
            self.flush_tls(i);
            return ev;
        }
        if out.is_empty() {
            return Some(Event::Sent(0));
        }
        let token = slot.token(Op::Send, i);
        let len = u32::try_from(out.len()).unwrap_or(u32::MAX);
        // SAFETY: `out` is the machine's batch (or the policy's static
        // request, held for the thread's life); the machine leaves it
        // unchanged until we report `Sent`, and a closed socket's send is
        // cancelled before the memory could go (`close`, `finish`).
        match unsafe { self.driver.send(fd, out.as_ptr(), len, token) } {
            Ok(()) => {
                slot.sending = true;
                None
            }
            Err(e) => Some(Event::WriteFailed(Cause::io(&e))),
        }
    }

    /// Submits the TLS records produced so far, unless a send is in flight
    /// (its completion submits the rest).
    fn flush_tls(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        let (Some(link), Some(sock)) = (slot.tls.as_mut(), slot.sock.as_ref()) else {
            return;
        };
        if slot.sending || link.out.is_empty() {
            return;
        }
        std::mem::swap(&mut link.inflight, &mut link.out);
        link.out.clear();
        link.pos = 0;
        let token = Token::new(Op::Send, i as u32, slot.epoch);
        let len = u32::try_from(link.inflight.len()).unwrap_or(u32::MAX);
        // SAFETY: `inflight` is not touched until this send completes; a
        // closed socket's buffer is kept in the graveyard until then.
        let res = unsafe {
            self.driver
                .send(sock.as_raw_fd(), link.inflight.as_ptr(), len, token)
        };
        match res {
            Ok(()) => slot.sending = true,
            Err(e) => self.drive(i, Event::WriteFailed(Cause::io(&e))),
        }
    }

    /// Opens slot `i`'s socket and waits for the connect; a synchronous
    /// failure kills the slot (wrk).
    fn connect(&mut self, i: usize) {
        let cfg = &self.core.cfg;
        let sock = open(cfg.addr, cfg.unix_socket.as_deref()).map(|s| match s {
            Stream::Tcp(s) => OwnedFd::from(s),
            Stream::Unix(s) => OwnedFd::from(s),
        });
        let slot = &mut self.slots[i];
        slot.epoch = slot.epoch.wrapping_add(1);
        let res = sock.and_then(|fd| {
            self.driver
                .poll_writable(fd.as_raw_fd(), slot.token(Op::Connect, i))
                .map(|()| fd)
        });
        match res {
            Ok(fd) => {
                slot.sock = Some(fd);
                slot.connecting = true;
            }
            Err(e) => self.drive(i, Event::OpenFailed(Cause::io(&e))),
        }
    }

    /// Closes slot `i`'s socket: its operations are cancelled (the socket
    /// itself goes once they are), TLS sends close_notify first.
    fn close(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        if slot.sock.is_some() {
            let ops = [
                (slot.recv_armed, Op::Recv),
                (slot.connecting, Op::Connect),
                (slot.sending, Op::Send),
            ];
            for (armed, op) in ops {
                if armed {
                    let _ = self.driver.cancel(slot.token(op, i));
                }
            }
            if slot.sending {
                let ud = slot.token(Op::Send, i).encode();
                if let Some(link) = slot.tls.as_mut() {
                    self.graveyard
                        .push((ud, std::mem::take(&mut link.inflight)));
                }
            }
        }
        close_now(slot);
    }

    fn arm_recv(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        let Some(sock) = slot.sock.as_ref() else {
            return;
        };
        if slot.recv_armed || slot.connecting {
            return;
        }
        match self
            .driver
            .recv_multi(sock.as_raw_fd(), slot.token(Op::Recv, i))
        {
            Ok(()) => slot.recv_armed = true,
            Err(e) => self.drive(i, Event::ReadFailed(Cause::io(&e))),
        }
    }

    fn follow_up(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        if !slot.marked {
            slot.marked = true;
            self.followups.push(i as u32);
        }
    }

    fn fire_timers(&mut self, now: u64) {
        while let Some(t) = self.core.due_timer(now) {
            let i = t.conn as usize;
            if i < self.slots.len() {
                self.drive(i, Event::Timer(t.generation));
            }
        }
    }

    /// Handles the turn's completions: sends first, so a response is never
    /// seen before its request's send completed; then the rest in order.
    fn complete_all(&mut self) {
        let done = self.driver.take_completions();
        let is_send =
            |c: &&Completion| Token::decode(c.user_data).is_some_and(|t| t.op == Op::Send);
        for c in done.iter().filter(is_send) {
            self.complete(c);
        }
        for c in done.iter().filter(|c| !is_send(c)) {
            self.complete(c);
        }
        self.driver.restore(done);
        self.driver.buffers_mut().publish();
        let list = std::mem::take(&mut self.followups);
        for &i in &list {
            let i = i as usize;
            let slot = &mut self.slots[i];
            slot.marked = false;
            if slot.sock.is_none() || slot.connecting {
                continue;
            }
            if std::mem::take(&mut slot.rearm) {
                self.arm_recv(i);
            }
            let slot = &self.slots[i];
            if !slot.sending && slot.machine.wants_send() {
                self.drive(i, Event::CanSend);
            }
        }
        self.followups = list;
        self.followups.clear();
    }

    fn complete(&mut self, c: &Completion) {
        let Some(t) = Token::decode(c.user_data) else {
            self.recycle(c);
            return;
        };
        let i = t.slot as usize;
        let current = self.slots.get(i).is_some_and(|s| s.owns(t));
        match t.op {
            Op::Cancel => {}
            Op::Send if !current => self.graveyard.retain(|(ud, _)| *ud != c.user_data),
            Op::Send => self.on_sent(i, c.result),
            Op::Connect if current => {
                self.slots[i].connecting = false;
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
            self.driver.buffers_mut().recycle(bid);
        }
    }

    fn on_sent(&mut self, i: usize, res: i32) {
        self.slots[i].sending = false;
        if res < 0 {
            self.socket_failed(i, Event::WriteFailed(errno_cause(res)));
            return;
        }
        let n = res as usize;
        let slot = &mut self.slots[i];
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
        let handshaking = self.slots[i].tls.as_ref().is_some_and(|l| l.handshaking);
        if handshaking {
            self.drive(i, Event::ConnectFailed(Cause::Tls));
        } else {
            self.drive(i, ev);
        }
    }

    /// The connect's wait ended: plain TCP counts as connected without
    /// looking at `SO_ERROR` (wrk); https starts its handshake.
    fn on_connected(&mut self, i: usize) {
        let epoch = self.slots[i].epoch;
        match &self.tls {
            Some(client) => match client.session() {
                Ok(session) => {
                    self.slots[i].tls = Some(Box::new(TlsLink {
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
        if self.slots[i].epoch == epoch {
            self.arm_recv(i);
        }
    }

    fn on_recv(&mut self, i: usize, c: &Completion) {
        let slot = &mut self.slots[i];
        if !c.more() {
            slot.recv_armed = false;
        }
        let epoch = slot.epoch;
        match c.result {
            n if n > 0 => {
                let Some(bid) = c.buffer() else { return };
                if slot.tls.is_some() {
                    // Copied out: the handshake or a hook may reconnect.
                    let data = self.driver.buffers().get(bid, n as usize).to_vec();
                    self.tls_input(i, &data);
                } else {
                    let data = self.driver.buffers().get(bid, n as usize);
                    let action = self
                        .core
                        .feed(&mut self.slots[i].machine, Event::Received(data));
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
        let slot = &mut self.slots[i];
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
        let epoch = self.slots[i].epoch;
        let mut input = data;
        let Some(link) = self.slots[i].tls.as_mut() else {
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
                    if self.slots[i].epoch != epoch || input.is_empty() {
                        return;
                    }
                }
            }
        }
        loop {
            let slot = &mut self.slots[i];
            let Some(link) = slot.tls.as_mut() else {
                return;
            };
            let outcome = link.session.read(
                &mut Pipe {
                    input: &mut input,
                    output: &mut link.out,
                },
                &mut self.plain,
            );
            let ev = match outcome {
                ReadOutcome::Data(0) | ReadOutcome::WouldBlock => break,
                ReadOutcome::Data(n) => {
                    let action = self
                        .core
                        .feed(&mut slot.machine, Event::Received(&self.plain[..n]));
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
fn close_now(slot: &mut Slot) {
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
