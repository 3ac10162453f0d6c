//! Stream data paths (tcp, sctp, sdp; spec §4.8): exactly `msg_size` bytes
//! per message, looping on partial reads and writes; a message counts only
//! when it completed before the timer fired.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{count, Measured};

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

pub(super) fn errno_kind() -> io::ErrorKind {
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

/// tcp/sctp/sdp `_bw` client: whole messages back to back.
pub(super) fn bw_client(fd: RawFd, buf: &[u8], fin: &AtomicBool, m: &mut Measured) {
    while !fin.load(Ordering::Relaxed) {
        match send_full(fd, buf, fin) {
            Step::Done(n) => count(&mut m.s, n),
            Step::Error => {
                m.s.errs += 1;
                break;
            }
            _ => break,
        }
    }
}

/// `_bw` server: whole messages read (and touched with `-ar`).
pub(super) fn bw_server(
    fd: RawFd,
    buf: &mut [u8],
    fin: &AtomicBool,
    m: &mut Measured,
    access_recv: bool,
) {
    while !fin.load(Ordering::Relaxed) {
        match recv_full(fd, buf, fin) {
            Step::Done(n) => {
                count(&mut m.r, n);
                if access_recv {
                    access(buf);
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

/// `_lat` ping-pong: the client writes first, the server reads first.
pub(super) fn lat(fd: RawFd, buf: &mut [u8], fin: &AtomicBool, m: &mut Measured, client: bool) {
    let mut send_turn = client;
    while !fin.load(Ordering::Relaxed) {
        let (step, c) = if send_turn {
            (send_full(fd, buf, fin), &mut m.s)
        } else {
            (recv_full(fd, buf, fin), &mut m.r)
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
