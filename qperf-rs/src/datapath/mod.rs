//! Data paths of the socket tests (spec §4.8–4.9): blocking sockets driven
//! by the calling thread, one `read`/`write` (or `recv`/`sendto`...) of
//! `msg_size` per message, counters per §4.6, and the per-side timer of
//! [`timer`].  The loops use raw libc calls so that every syscall is one we
//! chose and EINTR from the timer ends them, as in stock.

pub mod rds;
pub mod sock;
pub mod timer;

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::proto::{Counters, Ticks};
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

/// After an idle UDP receive: is the client gone?
fn client_gone(ctl_fd: Option<RawFd>) -> bool {
    ctl_fd.is_none_or(crate::control::fd_peer_gone)
}

/// Result of moving one whole message.
enum Step {
    Done(usize),
    /// The timer fired (the message does not count).
    Finished,
    /// Peer closed.
    Closed,
    /// The idle timeout (server sockets only) expired.
    Idle,
    Error,
}

fn errno_kind() -> io::ErrorKind {
    io::Error::last_os_error().kind()
}

/// Writes the whole buffer, looping on partial writes.
fn send_full(fd: RawFd, buf: &[u8], fin: &AtomicBool) -> Step {
    let mut off = 0;
    while off < buf.len() || buf.is_empty() {
        // SAFETY: the pointer/length pair is within `buf`.
        let n = unsafe { libc::write(fd, buf[off..].as_ptr().cast(), buf.len() - off) };
        if fin.load(Ordering::Relaxed) {
            return Step::Finished;
        }
        match n {
            n if n > 0 => off += n as usize,
            0 if buf.is_empty() => return Step::Done(0),
            0 => return Step::Closed,
            _ if errno_kind() == io::ErrorKind::Interrupted => {}
            _ => return Step::Error,
        }
    }
    Step::Done(off)
}

/// Reads exactly `buf.len()` bytes, looping on partial reads.
fn recv_full(fd: RawFd, buf: &mut [u8], fin: &AtomicBool) -> Step {
    let mut off = 0;
    while off < buf.len() || buf.is_empty() {
        // SAFETY: the pointer/length pair is within `buf`.
        let n = unsafe { libc::read(fd, buf[off..].as_mut_ptr().cast(), buf.len() - off) };
        if fin.load(Ordering::Relaxed) {
            return Step::Finished;
        }
        match n {
            n if n > 0 => off += n as usize,
            0 => {
                return if buf.is_empty() {
                    Step::Done(0)
                } else {
                    Step::Closed
                }
            }
            _ => match errno_kind() {
                io::ErrorKind::Interrupted => {}
                io::ErrorKind::WouldBlock => return Step::Idle,
                _ => return Step::Error,
            },
        }
    }
    Step::Done(off)
}

/// Touches every 8-byte word of the received message (`-ar`).
fn access(buf: &[u8]) {
    let mut sum = 0u64;
    for w in buf.chunks_exact(8) {
        sum = sum.wrapping_add(u64::from_ne_bytes(w.try_into().unwrap_or([0; 8])));
    }
    std::hint::black_box(sum);
}

fn count(c: &mut Counters, n: usize) {
    c.msgs += 1;
    c.bytes += n as u64;
}

/// Runs the data phase on socket `fd` (blocking) from now until the timer
/// fires or the peer goes away.  Starts the timer itself (right after the
/// caller's sync).
pub fn run(spec: &Spec, fd: RawFd) -> Measured {
    let mut buf = vec![0u8; spec.msg_size];
    let timer = TestTimer::start(spec.time);
    let fin = timer.finished();
    let mut m = Measured::default();
    match (spec.net.is_stream(), spec.pattern, spec.role) {
        (true, Pattern::Bw, Role::Client) => {
            while !fin.load(Ordering::Relaxed) {
                match send_full(fd, &buf, fin) {
                    Step::Done(n) => count(&mut m.s, n),
                    Step::Error => {
                        m.s.errs += 1;
                        break;
                    }
                    _ => break,
                }
            }
        }
        (true, Pattern::Bw, Role::Server) => {
            while !fin.load(Ordering::Relaxed) {
                match recv_full(fd, &mut buf, fin) {
                    Step::Done(n) => {
                        count(&mut m.r, n);
                        if spec.access_recv {
                            access(&buf);
                        }
                    }
                    Step::Error => {
                        m.r.errs += 1;
                        break;
                    }
                    Step::Idle => {
                        m.idle = true;
                        break;
                    }
                    _ => break,
                }
            }
        }
        (true, Pattern::Lat, role) => {
            let mut send_turn = role == Role::Client;
            while !fin.load(Ordering::Relaxed) {
                let (step, c) = if send_turn {
                    (send_full(fd, &buf, fin), &mut m.s)
                } else {
                    (recv_full(fd, &mut buf, fin), &mut m.r)
                };
                match step {
                    Step::Done(n) => count(c, n),
                    Step::Error => {
                        c.errs += 1;
                        break;
                    }
                    Step::Idle => {
                        m.idle = true;
                        break;
                    }
                    _ => break,
                }
                send_turn = !send_turn;
            }
        }
        (false, Pattern::Bw, Role::Client) => udp_bw_client(fd, &buf, fin, &mut m),
        (false, Pattern::Bw, Role::Server) => udp_bw_server(fd, &mut buf, fin, &mut m, spec.ctl_fd),
        (false, Pattern::Lat, Role::Client) => udp_lat_client(fd, &mut buf, fin, &mut m),
        (false, Pattern::Lat, Role::Server) => {
            udp_lat_server(fd, &mut buf, fin, &mut m, spec.ctl_fd)
        }
    }
    let (s, e) = timer.stop();
    m.time_s = s;
    m.time_e = e;
    m
}

/// UDP call outcome: bytes, interrupted by the timer, idle timeout, or error.
enum Dg {
    Ok(usize),
    Fin,
    Idle,
    Err,
}

fn dg(n: isize, fin: &AtomicBool) -> Dg {
    if n >= 0 {
        if fin.load(Ordering::Relaxed) {
            return Dg::Fin;
        }
        return Dg::Ok(n as usize);
    }
    let k = errno_kind();
    if fin.load(Ordering::Relaxed) {
        return Dg::Fin;
    }
    match k {
        io::ErrorKind::Interrupted => Dg::Fin,
        io::ErrorKind::WouldBlock => Dg::Idle,
        _ => Dg::Err,
    }
}

fn udp_bw_client(fd: RawFd, buf: &[u8], fin: &AtomicBool, m: &mut Measured) {
    while !fin.load(Ordering::Relaxed) {
        // SAFETY: valid buffer.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        match dg(n, fin) {
            Dg::Ok(n) => count(&mut m.s, n),
            Dg::Err => m.s.errs += 1,
            Dg::Fin | Dg::Idle => {}
        }
    }
}

fn udp_bw_server(
    fd: RawFd,
    buf: &mut [u8],
    fin: &AtomicBool,
    m: &mut Measured,
    ctl_fd: Option<RawFd>,
) {
    while !fin.load(Ordering::Relaxed) {
        // SAFETY: valid buffer.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        match dg(n, fin) {
            Dg::Ok(n) => count(&mut m.r, n),
            Dg::Err => m.r.errs += 1,
            Dg::Idle if client_gone(ctl_fd) => {
                m.idle = true;
                break;
            }
            Dg::Idle | Dg::Fin => {}
        }
    }
}

fn udp_lat_client(fd: RawFd, buf: &mut [u8], fin: &AtomicBool, m: &mut Measured) {
    while !fin.load(Ordering::Relaxed) {
        // SAFETY: valid buffer.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        match dg(n, fin) {
            Dg::Ok(n) => count(&mut m.s, n),
            Dg::Err => {
                m.s.errs += 1;
                continue;
            }
            _ => break,
        }
        // SAFETY: valid buffer.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        match dg(n, fin) {
            Dg::Ok(n) => count(&mut m.r, n),
            Dg::Err => m.r.errs += 1,
            _ => break,
        }
    }
}

fn udp_lat_server(
    fd: RawFd,
    buf: &mut [u8],
    fin: &AtomicBool,
    m: &mut Measured,
    ctl_fd: Option<RawFd>,
) {
    while !fin.load(Ordering::Relaxed) {
        // SAFETY: sockaddr_storage is plain old data.
        let mut from: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: valid buffer and address storage.
        let n = unsafe {
            libc::recvfrom(
                fd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                (&mut from as *mut libc::sockaddr_storage).cast(),
                &mut len,
            )
        };
        match dg(n, fin) {
            Dg::Ok(n) => count(&mut m.r, n),
            Dg::Err => {
                m.r.errs += 1;
                continue;
            }
            Dg::Idle if client_gone(ctl_fd) => {
                m.idle = true;
                break;
            }
            Dg::Idle => continue,
            Dg::Fin => break,
        }
        // SAFETY: valid buffer and the address recvfrom filled in.
        let n = unsafe {
            libc::sendto(
                fd,
                buf.as_ptr().cast(),
                buf.len(),
                0,
                (&from as *const libc::sockaddr_storage).cast(),
                len,
            )
        };
        match dg(n, fin) {
            Dg::Ok(n) => count(&mut m.s, n),
            Dg::Err => m.s.errs += 1,
            _ => break,
        }
    }
}
