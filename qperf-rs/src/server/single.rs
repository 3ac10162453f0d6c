//! Single-port mode (our extension, qperf-rs/README.md "qperf through a
//! Service"): a REQ with port 0 gets the listen port announced as its data
//! port, and the TCP data connection is taken from the listening socket.
//! This is the socket glue; the decision itself is [`super::classify`].

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use socket2::Socket;

use super::classify::{Classifier, Decision};
use super::session::Test;
use super::{spawn_conn, Ctx};
use crate::clock::Deadline;
use crate::control::CtlError;
use crate::sys::{self, pollfd, strerror};

/// A connection the accept loop parked while a test waits for its data.
pub(super) struct Arrival {
    stream: TcpStream,
    peer: SocketAddr,
    at: Instant,
}

impl Arrival {
    pub(super) fn new(stream: TcpStream, peer: SocketAddr, at: Instant) -> Arrival {
        Arrival { stream, peer, at }
    }
}

/// Longest single poll, so arrivals parked by the accept loop are seen soon.
const TICK: Duration = Duration::from_millis(10);

/// The open lobby: new connections are parked for us until dropped, when
/// every parked connection goes to the control path.
pub(super) struct Lobby<'a> {
    ctx: &'a Ctx,
}

impl<'a> Lobby<'a> {
    /// Opens the lobby (before the port is announced, so that the data
    /// connection cannot be taken for a control connection).
    pub(super) fn open(ctx: &'a Ctx) -> Lobby<'a> {
        *ctx.shared.lobby.lock().unwrap_or_else(|e| e.into_inner()) = Some(Vec::new());
        Lobby { ctx }
    }

    /// The listen port number as bound (the announced data port).
    pub(super) fn port(&self) -> u16 {
        self.ctx.listener.local_addr().map_or(0, |a| a.port())
    }

    /// Everything parked so far plus what waits in the accept queue (under
    /// the lock the accept loop accepts under: nothing is in between).
    fn take(&self) -> Vec<Arrival> {
        let mut lobby = self
            .ctx
            .shared
            .lobby
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut got = std::mem::take(lobby.get_or_insert_with(Vec::new));
        while let Ok((s, peer)) = self.ctx.listener.accept() {
            got.push(Arrival::new(s, peer, self.ctx.clock.now()));
        }
        got
    }

    fn release(&self, stream: TcpStream) {
        spawn_conn(self.ctx, stream);
    }
}

impl Drop for Lobby<'_> {
    fn drop(&mut self) {
        let rest = self
            .ctx
            .shared
            .lobby
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        for a in rest.into_iter().flatten() {
            self.release(a.stream);
        }
    }
}

/// `poll()` on `fds` from `now` until `until` (at most [`TICK`]; at once
/// when past).
fn poll_in(fds: &mut [libc::pollfd], now: Instant, until: Instant) {
    let ms = until.saturating_duration_since(now).min(TICK).as_millis() as i32;
    sys::poll(fds, ms);
}

impl Test<'_> {
    /// Waits (until `deadline`) for the data connection of this test on the
    /// listen socket: see [`super::classify`] for how it is told apart.
    pub(super) fn accept_on_listener(
        &mut self,
        lobby: &Lobby,
        deadline: Deadline,
    ) -> Result<Socket, CtlError> {
        let local = |m: String| CtlError::Local(m);
        let peer = self
            .ctl
            .stream()
            .peer_addr()
            .map_err(|e| local(strerror(&e)))?;
        let mut cls = Classifier::new(peer.ip());
        let mut held: HashMap<u64, TcpStream> = HashMap::new();
        let mut next_id = 0u64;
        let mut synced = false;
        let ctl_fd = self.ctl.stream().as_raw_fd();
        loop {
            let now = self.ctl.now();
            if let Some(e) = self.ctl.poll_urgent() {
                return Err(e);
            }
            // The client's sync first: it comes after its data connect()
            // returned, so the take() below then sees the data connection.
            if !synced {
                let mut p = [pollfd(ctl_fd, libc::POLLIN)];
                poll_in(&mut p, now, now);
                if p[0].revents != 0 {
                    if sys::peer_gone(ctl_fd) {
                        return Err(local(
                            "failed to accept TCP connection: client not responding".into(),
                        ));
                    }
                    synced = true;
                    cls.client_synced(self.ctl.now());
                }
            }
            for a in lobby.take() {
                next_id += 1;
                if cls.arrived(next_id, a.peer.ip(), a.at) {
                    held.insert(next_id, a.stream);
                } else {
                    lobby.release(a.stream);
                }
            }
            // Readable (bytes or EOF) before our sync: a control connection.
            let ids: Vec<u64> = cls.held().collect();
            let mut fds: Vec<libc::pollfd> = ids
                .iter()
                .filter_map(|id| held.get(id))
                .map(|s| pollfd(s.as_raw_fd(), libc::POLLIN))
                .collect();
            poll_in(&mut fds, now, now);
            for (id, p) in ids.iter().zip(&fds) {
                if p.revents != 0 {
                    cls.spoke(*id);
                    if let Some(s) = held.remove(id) {
                        lobby.release(s);
                    }
                }
            }
            let now = self.ctl.now();
            match cls.decide(now) {
                Decision::Data(id) => {
                    let s = held
                        .remove(&id)
                        .ok_or_else(|| local("lost data connection".into()))?;
                    for (_, other) in held.drain() {
                        lobby.release(other);
                    }
                    s.set_nonblocking(false).map_err(|e| local(strerror(&e)))?;
                    return Ok(Socket::from(s));
                }
                Decision::Missing => {
                    return Err(local(format!(
                        "the data connection for this test did not arrive on port {}: \
                         behind a Service with several qperf server replicas, \
                         set sessionAffinity: ClientIP",
                        lobby.port()
                    )))
                }
                Decision::Wait(until) => {
                    if deadline.passed(now) {
                        return Err(local("failed to accept TCP connection: timed out".into()));
                    }
                    // Sleep until something can change: a parked arrival,
                    // bytes on a candidate, the client's sync, or `until`.
                    let mut fds: Vec<libc::pollfd> = held
                        .values()
                        .map(|s| pollfd(s.as_raw_fd(), libc::POLLIN))
                        .collect();
                    let ctl_events = if synced {
                        libc::POLLPRI
                    } else {
                        libc::POLLIN | libc::POLLPRI
                    };
                    fds.push(pollfd(ctl_fd, ctl_events));
                    fds.push(pollfd(self.ctx.listener.as_raw_fd(), libc::POLLIN));
                    poll_in(&mut fds, now, until.min(deadline.at()));
                }
            }
        }
    }
}
