//! UDP data paths (spec §4.8): one `write`/`recv` (bw) or `write`+`read` /
//! `recvfrom`+`sendto` (lat) of `msg_size` per datagram; failed sends are
//! counted as errors and the loop goes on, like stock.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};

use super::roundtrip::RoundTrips;
use super::stream::errno_kind;
use super::{count, Measured};

/// After an idle UDP receive: is the client gone?
fn client_gone(ctl_fd: Option<RawFd>) -> bool {
    ctl_fd.is_none_or(crate::control::fd_peer_gone)
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

pub(super) fn bw_client(fd: RawFd, buf: &[u8], fin: &AtomicBool, m: &mut Measured) {
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

pub(super) fn bw_server(
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

pub(super) fn lat_client<R: RoundTrips>(
    fd: RawFd,
    buf: &mut [u8],
    fin: &AtomicBool,
    m: &mut Measured,
    rt: &mut R,
) {
    while !fin.load(Ordering::Relaxed) {
        // SAFETY: valid buffer.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        match dg(n, fin) {
            Dg::Ok(n) => count(&mut m.s, n),
            Dg::Err => {
                m.s.errs += 1;
                rt.broken();
                continue;
            }
            _ => break,
        }
        // SAFETY: valid buffer.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        match dg(n, fin) {
            Dg::Ok(n) => {
                count(&mut m.r, n);
                rt.received();
            }
            Dg::Err => {
                m.r.errs += 1;
                rt.broken();
            }
            _ => break,
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
            Dg::Ok(n) => {
                count(&mut m.r, n);
                rt.received();
            }
            Dg::Err => {
                m.r.errs += 1;
                rt.broken();
                continue;
            }
            Dg::Idle if client_gone(ctl_fd) => {
                m.idle = true;
                break;
            }
            Dg::Idle => {
                rt.broken();
                continue;
            }
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
