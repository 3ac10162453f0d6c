//! Stream data paths (tcp, sctp, sdp; spec §4.8): exactly `msg_size` bytes
//! per message, looping on partial reads and writes; a message counts only
//! when it completed before the timer fired.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};

use super::roundtrip::RoundTrips;
use super::{count, Measured};
use crate::sys;

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
        let n = sys::write(fd, &buf[off..]);
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
        let n = sys::read(fd, &mut buf[off..]);
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

/// tcp/sctp/sdp `_bw` client: whole messages back to back. A failed write
/// counts an error and the loop goes on until the timer, as stock's does
/// (a reset connection shows as millions of `loc_send_errors`).
pub(super) fn bw_client(fd: RawFd, buf: &[u8], fin: &AtomicBool, m: &mut Measured) {
    while !fin.load(Ordering::Relaxed) {
        match send_full(fd, buf, fin) {
            Step::Done(n) => count(&mut m.s, n),
            Step::Error => m.s.errs += 1,
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
///
/// On a failed call the client counts the error and starts its next round
/// with a write, until the timer, like stock. The server ends its loop
/// instead: a hostile client must not keep it spinning for a REQ's `time`.
pub(super) fn lat<R: RoundTrips>(
    fd: RawFd,
    buf: &mut [u8],
    fin: &AtomicBool,
    m: &mut Measured,
    client: bool,
    rt: &mut R,
) {
    let mut send_turn = client;
    while !fin.load(Ordering::Relaxed) {
        let (step, c) = if send_turn {
            (send_full(fd, buf, fin), &mut m.s)
        } else {
            (recv_full(fd, buf, fin), &mut m.r)
        };
        match step {
            Step::Done(n) => {
                count(c, n);
                if !send_turn {
                    rt.received();
                }
            }
            Step::Error => {
                c.errs += 1;
                rt.broken();
                if !client {
                    break;
                }
                send_turn = true;
                continue;
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

#[cfg(test)]
mod tests {
    use super::super::{run, sock::Net, Pattern, Role, Spec};
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    fn spec(pattern: Pattern, role: Role, msg_size: usize) -> Spec {
        Spec {
            net: Net::Tcp,
            pattern,
            role,
            msg_size,
            time: 1,
            access_recv: true,
            ctl_fd: None,
        }
    }

    #[test]
    fn bw_counts_whole_messages() {
        let (a, b) = UnixStream::pair().unwrap();
        let srv =
            std::thread::spawn(move || run(&spec(Pattern::Bw, Role::Server, 1000), b.as_raw_fd()));
        let c = run(&spec(Pattern::Bw, Role::Client, 1000), a.as_raw_fd());
        drop(a);
        let s = srv.join().unwrap();
        assert!(c.s.msgs > 100, "{c:?}");
        assert_eq!(c.s.bytes, c.s.msgs * 1000);
        assert_eq!(s.r.bytes, s.r.msgs * 1000);
        assert!(s.r.msgs <= c.s.msgs + 1);
        assert!(c.time_e.real >= c.time_s.real + 90);
    }

    #[test]
    fn lat_alternates() {
        let (a, b) = UnixStream::pair().unwrap();
        let srv =
            std::thread::spawn(move || run(&spec(Pattern::Lat, Role::Server, 7), b.as_raw_fd()));
        let c = run(&spec(Pattern::Lat, Role::Client, 7), a.as_raw_fd());
        drop(a);
        let s = srv.join().unwrap();
        assert!(c.s.msgs > 100);
        assert!(c.r.msgs <= c.s.msgs && c.s.msgs <= c.r.msgs + 1);
        assert!(s.s.msgs <= s.r.msgs && s.r.msgs <= s.s.msgs + 1);
    }

    #[test]
    fn client_counts_failed_writes_until_the_timer() {
        // Peer gone: every write fails with EPIPE. Stock's client counts each
        // failure and keeps going until its timer, so must ours.
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        let c = run(&spec(Pattern::Bw, Role::Client, 100), a.as_raw_fd());
        assert_eq!(c.s.msgs, 0, "{c:?}");
        assert!(c.s.errs > 1000, "{c:?}");
        assert!(c.time_e.real >= c.time_s.real + 90, "{c:?}");
        let l = run(&spec(Pattern::Lat, Role::Client, 100), a.as_raw_fd());
        assert_eq!((l.s.msgs, l.r.msgs, l.r.errs), (0, 0, 0), "{l:?}");
        assert!(l.s.errs > 1000, "{l:?}");
    }

    #[test]
    fn peer_close_ends_a_test_without_timer() {
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        let mut sp = spec(Pattern::Bw, Role::Server, 10);
        sp.time = 0;
        let m = run(&sp, a.as_raw_fd());
        assert_eq!((m.r.msgs, m.idle), (0, false));
    }
}
