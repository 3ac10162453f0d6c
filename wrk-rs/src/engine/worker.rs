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
//! The back end does the I/O (sockets, TLS records, the timerfd) and
//! nothing else: the loop is [`Shell`]'s, what is counted is decided by the
//! machine.

use std::io;
use std::time::Duration;

use mio::{Events, Interest, Poll, Token};

use super::clock::now_us;
use super::conn::{open, Link};
use super::core::ThreadCore;
use super::machine::{Action, Event};
use super::precise::PreciseTimer;
use super::shell::{Conn, Io, Shell};
use super::EngineConfig;
use crate::error_detail::Cause;
use crate::tls::{Handshake, ReadOutcome, TlsClient};

/// Read buffer size (wrk's RECVBUF is 8192; larger means fewer reads for
/// big bodies and changes nothing that is counted).
const RECV_BUF: usize = 64 * 1024;
/// Token of the precise timer (connections use their index).
const TIMER_TOKEN: Token = Token(usize::MAX - 1);

/// The mio back end's state.
pub struct Mio {
    poll: Poll,
    events: Events,
    tls: Option<TlsClient>,
    precise: Option<PreciseTimer>,
    buf: Box<[u8]>,
}

/// A worker thread on mio.
pub type Worker = Shell<Mio>;

impl Mio {
    /// The epoll worker over an existing core (also the io_uring shell's
    /// fallback when its ring cannot be set up).
    pub fn worker(core: ThreadCore) -> io::Result<Worker> {
        let cfg = &core.cfg;
        let poll = Poll::new()?;
        let tls = core.tls_client()?;
        let precise = match cfg.rate {
            Some(_) => PreciseTimer::new(poll.registry(), TIMER_TOKEN).ok(),
            None => None,
        };
        let events = Events::with_capacity(cfg.connections.clamp(16, 1024) + 1);
        let io = Mio {
            poll,
            events,
            tls,
            precise,
            buf: vec![0u8; RECV_BUF].into_boxed_slice(),
        };
        Ok(Shell::new(io, core))
    }
}

impl Io for Mio {
    type Conn = Link;

    fn open(&mut self, cfg: &EngineConfig, i: usize, link: &mut Link) -> io::Result<()> {
        let mut sock = open(cfg.addr, cfg.unix_socket.as_deref())?;
        self.poll.registry().register(
            &mut sock,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        link.sock = Some(sock);
        Ok(())
    }

    fn close(&mut self, _: usize, link: &mut Link) {
        link.close();
    }

    fn send(&mut self, _: usize, link: &mut Link, out: &[u8]) -> Option<Event<'static>> {
        loop {
            return match link.write(out) {
                // TLS buffer full: wait for writability (flush, then resume).
                Ok(0) => None,
                Ok(n) => Some(Event::Sent(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Some(Event::WriteFailed(Cause::io(&e))),
            };
        }
    }

    fn turn(sh: &mut Worker, wake: u64) -> io::Result<()> {
        let now = now_us();
        let wait = wake.saturating_sub(now);
        let timeout = match sh.io.precise.as_mut() {
            Some(p) if wait > 0 => {
                p.arm(wake, now);
                // The timerfd wakes us; the poll timeout is only a backstop.
                Duration::from_micros(wait + 2000)
            }
            _ => Duration::from_micros(wait),
        };
        // Taken out for the loop below (a pointer swap, no allocation).
        let mut events = std::mem::replace(&mut sh.io.events, Events::with_capacity(0));
        let res = match sh.io.poll.poll(&mut events, Some(timeout)) {
            Ok(()) => {
                sh.on_events(&events);
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(e),
        };
        sh.io.events = events;
        res
    }

    fn shutdown(self, conns: Vec<Conn<Link>>) -> Box<dyn FnOnce() + Send> {
        let links: Vec<Link> = conns.into_iter().map(|c| c.io).collect();
        Box::new(move || {
            for mut l in links {
                l.close();
            }
        })
    }
}

impl Shell<Mio> {
    fn on_events(&mut self, events: &Events) {
        for ev in events.iter() {
            if ev.token() == TIMER_TOKEN {
                if let Some(p) = self.io.precise.as_mut() {
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
    }

    fn on_event(&mut self, i: usize, readable: bool, closed: bool, writable: bool) {
        let Some(conn) = self.conns.get_mut(i) else {
            return;
        };
        if conn.machine.is_dead() || conn.io.sock.is_none() {
            return;
        }
        if conn.io.handshaking {
            self.handshake(i);
            return;
        }
        if !conn.machine.is_connected() {
            self.on_connected(i);
            return;
        }
        let generation = conn.machine.generation();
        if readable && !self.on_readable(i, closed) {
            return;
        }
        let conn = &mut self.conns[i];
        if writable && conn.machine.generation() == generation {
            if let (Some(tls), Some(sock)) = (conn.io.tls.as_mut(), conn.io.sock.as_mut()) {
                if tls.wants_write() {
                    if let Err(e) = tls.flush(sock) {
                        self.drive(i, Event::WriteFailed(Cause::io(&e)));
                        return;
                    }
                }
            }
            if self.conns[i].machine.wants_send() {
                self.drive(i, Event::CanSend);
            }
        }
    }

    /// First event after connect: plain TCP counts as connected without
    /// checking SO_ERROR (wrk), so async failures surface as read/write errors.
    fn on_connected(&mut self, i: usize) {
        match &self.io.tls {
            Some(tls) => match tls.session() {
                Ok(s) => {
                    let link = &mut self.conns[i].io;
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
        let link = &mut self.conns[i].io;
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
            let link = &mut self.conns[i].io;
            let ev = match link.read(&mut self.io.buf) {
                ReadOutcome::Data(n) => {
                    let short = link.tls.is_none() && !closed && n < self.io.buf.len();
                    let action = self.core.feed(
                        &mut self.conns[i].machine,
                        Event::Received(&self.io.buf[..n]),
                    );
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
        if self.conns[i].machine.wants_send() {
            self.drive(i, Event::CanSend);
        }
        !self.core.failed()
    }
}

#[cfg(test)]
mod tests {
    /// Per-connection state stays small (`-c` in the hundreds of
    /// thousands); a TLS session inline would add ~1 KB.
    #[test]
    fn connection_state_is_small() {
        assert!(std::mem::size_of::<super::Conn<super::Link>>() <= 320);
    }
}
