//! One worker thread's mio event loop (wrk.md §2.2–2.10): a thin shell
//! over the per-connection [`Machine`]s.
//!
//! Every socket is registered once, edge-triggered, for both read and write
//! readiness; nothing is re-registered per request. A batch is written as
//! soon as the machine says so (after connect, after the previous batch
//! completed, when a delay/pacing timer fires); writability events only matter
//! while a write is incomplete. A read that returns less than the buffer means
//! the socket is drained (Linux epoll reports every later arrival), so the
//! keep-alive steady state costs one write, one read and a share of
//! epoll_wait per request.
//!
//! The shell does the I/O (sockets, TLS records, the timer heap, the
//! timerfd) and nothing else: what is counted is decided by the machine.

use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use mio::{Events, Interest, Poll, Token};

use super::clock::now_us;
use super::conn::{open, Link};
use super::core::ThreadCore;
use super::machine::{Action, Event, Machine};
use super::precise::PreciseTimer;
use super::{EngineConfig, FatalSlot, ThreadResult};
use crate::error_detail::Cause;
use crate::script_api::ThreadScript;
use crate::tls::{Handshake, ReadOutcome, TlsClient};

/// Read buffer size (wrk's RECVBUF is 8192; larger means fewer reads for
/// big bodies and changes nothing that is counted).
const RECV_BUF: usize = 64 * 1024;
/// Token of the precise timer (connections use their index).
const TIMER_TOKEN: Token = Token(usize::MAX - 1);

/// One connection slot: its socket and its policy state.
struct Slot {
    link: Link,
    machine: Machine,
}

/// Per-thread engine state.
pub struct Worker {
    core: ThreadCore,
    poll: Poll,
    slots: Vec<Slot>,
    tls: Option<TlsClient>,
    precise: Option<PreciseTimer>,
    buf: Box<[u8]>,
}

impl Worker {
    pub fn new(
        cfg: EngineConfig,
        script: Option<Box<dyn ThreadScript>>,
        stop: Arc<AtomicBool>,
        fatal: Arc<FatalSlot>,
    ) -> io::Result<Worker> {
        let poll = Poll::new()?;
        let tls = match &cfg.tls_server_name {
            Some(host) => Some(TlsClient::new(host, cfg.addr.ip()).map_err(io::Error::other)?),
            None => None,
        };
        let precise = match cfg.rate {
            Some(_) => PreciseTimer::new(poll.registry(), TIMER_TOKEN).ok(),
            None => None,
        };
        Ok(Worker {
            core: ThreadCore::new(cfg, script, stop, fatal),
            poll,
            slots: Vec::new(),
            tls,
            precise,
            buf: vec![0u8; RECV_BUF].into_boxed_slice(),
        })
    }

    /// Runs until the stop flag is seen at a 100 ms tick (or the script
    /// stops the thread, or a hook fails), then hands back the counters.
    pub fn run(mut self) -> ThreadResult {
        self.open_all();
        let mut events = Events::with_capacity(self.slots.len().clamp(16, 1024) + 1);
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
            let wake = self.core.next_wake();
            let now = now_us();
            let wait = wake.saturating_sub(now);
            let timeout = match self.precise.as_mut() {
                Some(p) if wait > 0 => {
                    p.arm(wake, now);
                    // The timerfd wakes us; the poll timeout is only a backstop.
                    Duration::from_micros(wait + 2000)
                }
                _ => Duration::from_micros(wait),
            };
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
            for ev in events.iter() {
                if ev.token() == TIMER_TOKEN {
                    if let Some(p) = self.precise.as_mut() {
                        p.fired();
                    }
                    continue;
                }
                let closed = ev.is_read_closed() || ev.is_error();
                let readable = ev.is_readable() || closed;
                self.on_event(ev.token().0, readable, closed, ev.is_writable());
                if self.core.failed() {
                    break;
                }
            }
            if self.core.finished() {
                break;
            }
        }
        // wrk leaves its sockets to process exit; closing thousands of them
        // here would delay the join and stretch the measured runtime, so a
        // helper thread closes them (inline if it cannot be spawned).
        let links: Vec<Link> = std::mem::take(&mut self.slots)
            .into_iter()
            .map(|s| s.link)
            .collect();
        if links.len() > 64 {
            // If the thread cannot be spawned the closure is dropped here,
            // which closes the sockets inline.
            let _ = std::thread::Builder::new()
                .name("wrk-close".into())
                .spawn(move || close_all(links));
        } else {
            close_all(links);
        }
        self.core.into_result()
    }

    /// Opens every connection slot once. A slot whose socket cannot even be
    /// created (fd limit) counts a connect error and is dead for the run, as
    /// in wrk; we do not keep its state, so `-c1m` under a 20,000-descriptor
    /// limit holds memory only for the connections that exist.
    fn open_all(&mut self) {
        for k in 0..self.core.cfg.connections {
            self.slots.push(Slot {
                link: Link::default(),
                machine: self.core.new_machine(k),
            });
            let i = self.slots.len() - 1;
            self.connect(i);
            if self.slots[i].machine.is_dead() {
                self.slots.pop();
            }
        }
        self.slots.shrink_to_fit();
    }

    /// Feeds one event to connection `i`'s machine and performs what it
    /// asks for.
    fn drive(&mut self, i: usize, ev: Event<'_>) {
        if let Some(action) = self.feed(i, ev) {
            self.perform(i, action);
        }
    }

    /// One machine step; `None` after a script failure.
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
                    self.slots[i].link.close();
                    self.connect(i);
                    return;
                }
                Action::Send => {
                    let slot = &mut self.slots[i];
                    let out = slot.machine.outgoing(&self.core.policy);
                    match slot.link.write(out) {
                        // TLS buffer full: wait for writability (flush, then resume).
                        Ok(0) => return,
                        Ok(n) => Event::Sent(n),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => Event::WriteFailed(Cause::io(&e)),
                    }
                }
            };
            match self.feed(i, next) {
                Some(a) => action = a,
                None => return,
            }
        }
    }

    /// Fires due delay/pacing timers.
    fn fire_timers(&mut self, now: u64) {
        while let Some(t) = self.core.due_timer(now) {
            let i = t.conn as usize;
            if i < self.slots.len() {
                self.drive(i, Event::Timer(t.generation));
            }
        }
    }

    /// Opens connection `i`'s socket; a synchronous failure kills the slot (wrk).
    fn connect(&mut self, i: usize) {
        let unix = self.core.cfg.unix_socket.as_deref();
        let registered = open(self.core.cfg.addr, unix).and_then(|mut sock| {
            self.poll
                .registry()
                .register(&mut sock, Token(i), Interest::READABLE | Interest::WRITABLE)
                .map(|()| sock)
        });
        match registered {
            Ok(sock) => self.slots[i].link.sock = Some(sock),
            Err(e) => self.drive(i, Event::OpenFailed(Cause::io(&e))),
        }
    }

    fn on_event(&mut self, i: usize, readable: bool, closed: bool, writable: bool) {
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        if slot.machine.is_dead() || slot.link.sock.is_none() {
            return;
        }
        if slot.link.handshaking {
            self.handshake(i);
            return;
        }
        if !slot.machine.is_connected() {
            self.on_connected(i);
            return;
        }
        let generation = slot.machine.generation();
        if readable && !self.on_readable(i, closed) {
            return;
        }
        let slot = &mut self.slots[i];
        if writable && slot.machine.generation() == generation {
            if let (Some(tls), Some(sock)) = (slot.link.tls.as_mut(), slot.link.sock.as_mut()) {
                if tls.wants_write() {
                    if let Err(e) = tls.flush(sock) {
                        self.drive(i, Event::WriteFailed(Cause::io(&e)));
                        return;
                    }
                }
            }
            if self.slots[i].machine.wants_send() {
                self.drive(i, Event::CanSend);
            }
        }
    }

    /// First event after connect: plain TCP counts as connected without
    /// checking SO_ERROR (wrk), so async failures surface as read/write errors.
    fn on_connected(&mut self, i: usize) {
        match &self.tls {
            Some(tls) => match tls.session() {
                Ok(s) => {
                    let link = &mut self.slots[i].link;
                    link.tls = Some(Box::new(s));
                    link.handshaking = true;
                    self.handshake(i);
                }
                Err(_) => self.drive(i, Event::ConnectFailed(Cause::Tls)),
            },
            None => self.drive(i, Event::Connected),
        }
    }

    fn handshake(&mut self, i: usize) {
        let link = &mut self.slots[i].link;
        let (Some(tls), Some(sock)) = (link.tls.as_mut(), link.sock.as_mut()) else {
            return;
        };
        match tls.handshake(sock) {
            Handshake::Done => {
                link.handshaking = false;
                self.drive(i, Event::Connected);
            }
            Handshake::Pending => {}
            Handshake::Failed => self.drive(i, Event::ConnectFailed(Cause::Tls)),
        }
    }

    /// Drains readable data into the machine (wrk's socket_readable); false
    /// when the connection was reopened (or the run failed).
    ///
    /// A short read means the socket is empty: later arrivals raise a new
    /// edge. Not so for an EOF that arrived before the read, so when the
    /// event says the peer closed (`closed`), read on until EOF.
    fn on_readable(&mut self, i: usize, closed: bool) -> bool {
        loop {
            let slot = &mut self.slots[i];
            let ev = match slot.link.read(&mut self.buf) {
                ReadOutcome::Data(n) => {
                    let short = slot.link.tls.is_none() && !closed && n < self.buf.len();
                    // The buffer is moved out for the call (pointer swap, no copy).
                    let buf = std::mem::take(&mut self.buf);
                    let action = self.feed(i, Event::Received(&buf[..n]));
                    self.buf = buf;
                    match action {
                        Some(Action::Idle) if !short => continue,
                        Some(Action::Idle) => break,
                        Some(a) => {
                            self.perform(i, a);
                            return false;
                        }
                        None => return false,
                    }
                }
                ReadOutcome::WouldBlock => break,
                ReadOutcome::Error(cause) => Event::ReadFailed(cause),
                ReadOutcome::Eof => Event::Eof,
            };
            self.drive(i, ev);
            return false;
        }
        if self.slots[i].machine.wants_send() {
            self.drive(i, Event::CanSend);
        }
        !self.core.failed()
    }
}

/// Closes every socket (TLS: close_notify first).
fn close_all(links: Vec<Link>) {
    for mut l in links {
        l.close();
    }
}

#[cfg(test)]
mod tests {
    /// Per-connection state stays small (`-c` in the hundreds of
    /// thousands); a TLS session inline would add ~1 KB.
    #[test]
    fn connection_state_is_small() {
        assert!(std::mem::size_of::<super::Slot>() <= 320);
    }
}
