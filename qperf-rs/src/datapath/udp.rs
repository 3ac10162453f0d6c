//! UDP data paths (spec §4.8): one `write`/`recv` (bw) or `write`+`read` /
//! `recvfrom`+`sendto` (lat) of `msg_size` per datagram; failed sends are
//! counted as errors and the loop goes on, like stock.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};

use super::roundtrip::RoundTrips;
use super::stream::errno_kind;
use super::{count, Measured};
use crate::sys::{self, RawAddr};

/// After an idle UDP receive: is the client gone?
fn client_gone(ctl_fd: Option<RawFd>) -> bool {
    ctl_fd.is_none_or(crate::sys::peer_gone)
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

/// The receive half of a round trip: a datagram is counted and closes it,
/// a failed receive is counted and breaks it; anything else is handed back.
fn lat_recv<R: RoundTrips>(d: Dg, m: &mut Measured, rt: &mut R) -> Result<(), Dg> {
    match d {
        Dg::Ok(n) => {
            count(&mut m.r, n);
            rt.received();
            Ok(())
        }
        Dg::Err => {
            m.r.errs += 1;
            rt.broken();
            Err(Dg::Err)
        }
        other => Err(other),
    }
}

pub(super) fn bw_client(fd: RawFd, buf: &[u8], fin: &AtomicBool, m: &mut Measured) {
    while !fin.load(Ordering::Relaxed) {
        let n = sys::write(fd, buf);
        match dg(n, fin) {
            Dg::Ok(n) => count(&mut m.s, n),
            Dg::Err => m.s.errs += 1,
            Dg::Fin | Dg::Idle => {}
        }
    }
}

pub(super) fn bw_server(
    fd: RawFd,
    buf: &mut [u8],
    fin: &AtomicBool,
    m: &mut Measured,
    ctl_fd: Option<RawFd>,
) {
    while !fin.load(Ordering::Relaxed) {
        let n = sys::recv(fd, buf, 0);
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

pub(super) fn lat_client<R: RoundTrips>(
    fd: RawFd,
    buf: &mut [u8],
    fin: &AtomicBool,
    m: &mut Measured,
    rt: &mut R,
) {
    while !fin.load(Ordering::Relaxed) {
        let n = sys::write(fd, buf);
        match dg(n, fin) {
            Dg::Ok(n) => count(&mut m.s, n),
            Dg::Err => {
                m.s.errs += 1;
                rt.broken();
                continue;
            }
            _ => break,
        }
        let n = sys::read(fd, buf);
        match lat_recv(dg(n, fin), m, rt) {
            Ok(()) | Err(Dg::Err) => {}
            Err(_) => break,
        }
    }
}

pub(super) fn lat_server<R: RoundTrips>(
    fd: RawFd,
    buf: &mut [u8],
    fin: &AtomicBool,
    m: &mut Measured,
    ctl_fd: Option<RawFd>,
    rt: &mut R,
) {
    while !fin.load(Ordering::Relaxed) {
        let mut from = RawAddr::empty();
        let n = sys::recvfrom(fd, buf, &mut from);
        match lat_recv(dg(n, fin), m, rt) {
            Ok(()) => {}
            Err(Dg::Err) => continue,
            Err(Dg::Idle) if client_gone(ctl_fd) => {
                m.idle = true;
                break;
            }
            Err(Dg::Idle) => {
                rt.broken();
                continue;
            }
            Err(_) => break,
        }
        let n = sys::sendto(fd, buf, &from);
        match dg(n, fin) {
            Dg::Ok(n) => count(&mut m.s, n),
            Dg::Err => m.s.errs += 1,
            _ => break,
        }
    }
}
