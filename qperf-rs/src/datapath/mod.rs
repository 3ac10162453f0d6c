//! Data paths of the socket tests (spec §4.8–4.9): blocking sockets driven
//! by the calling thread, one `read`/`write` (or `recv`/`sendto`...) of
//! `msg_size` per message, counters per §4.6, and the per-side timer of
//! [`timer`].  The loops make one [`crate::sys`] call (one syscall, its raw
//! result) per step, so that every syscall is one we chose and EINTR from
//! the timer ends them, as in stock.

pub mod rds;
pub mod roundtrip;
pub mod sock;
mod stream;
pub mod timer;
mod udp;

use std::os::fd::RawFd;

use common::hdr::NsHistogram;
use roundtrip::{Clocked, RoundTrips, Unclocked};

use crate::proto::{Counters, Req, Ticks};
use sock::Net;
use timer::TestTimer;

/// Which end of the data path runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Client,
    Server,
}

/// Bandwidth (one-way) or latency (ping-pong).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    Bw,
    Lat,
}

impl Pattern {
    /// The pattern of test `name` (`tcp_lat` → latency, else bandwidth).
    pub fn of(name: &str) -> Pattern {
        if name.ends_with("_lat") {
            Pattern::Lat
        } else {
            Pattern::Bw
        }
    }
}

/// What one side measured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Measured {
    pub s: Counters,
    pub r: Counters,
    pub time_s: Ticks,
    pub time_e: Ticks,
    /// The peer stayed silent past the idle timeout (server hardening).
    pub idle: bool,
}

/// Parameters of one run.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    pub net: Net,
    pub pattern: Pattern,
    pub role: Role,
    pub msg_size: usize,
    /// Seconds; 0 = no timer.
    pub time: u32,
    pub access_recv: bool,
    /// Server only: the control socket, checked when a UDP receive has
    /// been idle for the socket's timeout; the test goes on while the
    /// client is still connected (datagrams may legitimately stop, e.g.
    /// when too big to send), and ends when it has gone.
    pub ctl_fd: Option<RawFd>,
}

impl Spec {
    /// The client's run of test `name` with its local parameters `local`.
    pub fn client(net: Net, name: &str, local: &Req) -> Spec {
        Spec {
            net,
            pattern: Pattern::of(name),
            role: Role::Client,
            msg_size: local.msg_size as usize,
            time: local.time,
            access_recv: false,
            ctl_fd: None,
        }
    }

    /// The server's run of `req` (test `name`), watching control socket `ctl_fd`.
    pub fn server(net: Net, name: &str, req: &Req, ctl_fd: RawFd) -> Spec {
        Spec {
            net,
            pattern: Pattern::of(name),
            role: Role::Server,
            msg_size: req.msg_size as usize,
            time: req.time,
            access_recv: req.access_recv != 0,
            ctl_fd: Some(ctl_fd),
        }
    }
}

/// One completed message of `n` bytes.
fn count(c: &mut Counters, n: usize) {
    c.msgs += 1;
    c.bytes += n as u64;
}

/// Runs the data phase on socket `fd` (blocking) from now until the timer
/// fires or the peer goes away.  Starts the timer itself (right after the
/// caller's sync).
pub fn run(spec: &Spec, fd: RawFd) -> Measured {
    run_with(spec, fd, &mut Unclocked)
}

/// [`run`] that also records every round trip of a `_lat` test (`--percentiles`)
/// as half the time between two completed receives, in ns. The loop reads
/// the clock once per round trip (vDSO, no syscall) and does nothing else new.
pub fn run_recording(spec: &Spec, fd: RawFd) -> (Measured, NsHistogram) {
    // The client's first round trip starts with its first write; the
    // server's first receive also waits for the client, so it starts later.
    let mut clock = Clocked::new(spec.role == Role::Client);
    let m = run_with(spec, fd, &mut clock);
    (m, clock.into_histogram())
}

/// Test hook: a server data loop of this message size panics once its timer
/// runs (the server must survive that and serve the next client).
#[cfg(test)]
pub(crate) const PANIC_MSG_SIZE: usize = 7_919;

fn run_with<R: RoundTrips>(spec: &Spec, fd: RawFd, rt: &mut R) -> Measured {
    let mut buf = vec![0u8; spec.msg_size];
    let timer = TestTimer::start(spec.time);
    let fin = timer.finished();
    let mut m = Measured::default();
    let b = &mut buf;
    rt.start();
    #[cfg(test)]
    if spec.role == Role::Server && spec.msg_size == PANIC_MSG_SIZE {
        panic!("test hook: the data loop panics");
    }
    match (spec.net.is_stream(), spec.pattern, spec.role) {
        (true, Pattern::Bw, Role::Client) => stream::bw_client(fd, b, fin, &mut m),
        (true, Pattern::Bw, Role::Server) => {
            stream::bw_server(fd, b, fin, &mut m, spec.access_recv)
        }
        (true, Pattern::Lat, role) => stream::lat(fd, b, fin, &mut m, role == Role::Client, rt),
        (false, Pattern::Bw, Role::Client) => udp::bw_client(fd, b, fin, &mut m),
        (false, Pattern::Bw, Role::Server) => udp::bw_server(fd, b, fin, &mut m, spec.ctl_fd),
        (false, Pattern::Lat, Role::Client) => udp::lat_client(fd, b, fin, &mut m, rt),
        (false, Pattern::Lat, Role::Server) => udp::lat_server(fd, b, fin, &mut m, spec.ctl_fd, rt),
    }
    let (s, e) = timer.stop();
    m.time_s = s;
    m.time_e = e;
    m
}

/// One data connection's measurements (`-P`, `--percentiles`).
pub struct StreamRun {
    pub m: Measured,
    /// Recorded round trips (`_lat` tests with `record`).
    pub latency: Option<NsHistogram>,
}

/// Runs the data phase on every socket of `fds` at once, one thread (and
/// one timer) each; a single socket runs on the calling thread. With
/// `record`, `_lat` round trips are recorded ([`run_recording`]).
pub fn run_streams(spec: &Spec, fds: &[RawFd], record: bool) -> Vec<StreamRun> {
    let one = |fd: RawFd| {
        if record && spec.pattern == Pattern::Lat {
            let (m, h) = run_recording(spec, fd);
            StreamRun {
                m,
                latency: Some(h),
            }
        } else {
            StreamRun {
                m: run(spec, fd),
                latency: None,
            }
        }
    };
    if fds.len() == 1 {
        return vec![one(fds[0])];
    }
    let one = &one;
    std::thread::scope(|sc| {
        let handles: Vec<_> = fds.iter().map(|&fd| sc.spawn(move || one(fd))).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or(StreamRun {
                    m: Measured::default(),
                    latency: None,
                })
            })
            .collect()
    })
}
