//! The plain libc calls of the crate, each behind a safe function: data
//! path syscalls (one call each, results as the kernel gave them so that
//! the loops read errno as stock does), `poll`, the TCP-urgent calls of the
//! control connection, CPU affinity, `sysconf`/`times`/`uname`, error texts
//! (`strerror`, `gai_strerror`) and name resolution.  The RDMA FFI stays in
//! `rdma/ibv.rs`; the timer's `pthread_kill` stays in `datapath/timer.rs`,
//! whose structure is what makes it sound.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::RawFd;

use socket2::SockAddr;

// ---- error texts -------------------------------------------------------

/// The C `strerror` text of an I/O error, without Rust's " (os error N)".
/// Thread-safe: std formats OS errors with `strerror_r`.
pub fn strerror(e: &io::Error) -> String {
    let s = e.to_string();
    match (e.raw_os_error(), s.find(" (os error ")) {
        (Some(_), Some(i)) => s[..i].to_string(),
        _ => s,
    }
}

/// glibc's `gai_strerror` text out of Rust's lookup error.
pub fn gai_text(e: &io::Error) -> String {
    let s = e.to_string();
    s.strip_prefix("failed to lookup address information: ")
        .unwrap_or(&s)
        .to_string()
}

/// Resolves `host` with `port` (getaddrinfo); the error is stock's
/// `getaddrinfo failed: TEXT`.
pub fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    (host, port)
        .to_socket_addrs()
        .map(Iterator::collect)
        .map_err(|e| format!("getaddrinfo failed: {}", gai_text(&e)))
}

// ---- data path ---------------------------------------------------------

/// `write(2)` of all of `buf` (one call; the raw result).
pub fn write(fd: RawFd, buf: &[u8]) -> isize {
    // SAFETY: the pointer/length pair describes `buf`.
    unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) }
}

/// `read(2)` into all of `buf` (one call; the raw result).
pub fn read(fd: RawFd, buf: &mut [u8]) -> isize {
    // SAFETY: the pointer/length pair describes `buf`, writable.
    unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) }
}

/// `recv(2)` into all of `buf` with `flags` (one call; the raw result).
pub fn recv(fd: RawFd, buf: &mut [u8], flags: libc::c_int) -> isize {
    // SAFETY: the pointer/length pair describes `buf`, writable.
    unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), flags) }
}

/// A socket address as the kernel hands it out (`recvfrom`) or takes it
/// (`sendto`).
#[derive(Clone, Copy)]
pub struct RawAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl RawAddr {
    /// Room for any address (for `recvfrom`).
    pub fn empty() -> RawAddr {
        RawAddr {
            // SAFETY: sockaddr_storage is plain old data; all zeroes is valid.
            storage: unsafe { std::mem::zeroed() },
            len: std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t,
        }
    }
}

impl From<&SockAddr> for RawAddr {
    fn from(a: &SockAddr) -> Self {
        let mut r = RawAddr::empty();
        let len = (a.len() as usize).min(std::mem::size_of::<libc::sockaddr_storage>());
        // SAFETY: `a` holds `a.len()` valid bytes; at most the storage's
        // size is copied into `r.storage`, which does not overlap `a`.
        unsafe {
            std::ptr::copy_nonoverlapping(
                a.as_ptr().cast::<u8>(),
                (&mut r.storage as *mut libc::sockaddr_storage).cast::<u8>(),
                len,
            );
        }
        r.len = len as libc::socklen_t;
        r
    }
}

/// `recvfrom(2)` into all of `buf`; the sender's address into `from`.
pub fn recvfrom(fd: RawFd, buf: &mut [u8], from: &mut RawAddr) -> isize {
    from.len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `buf` is writable for its length; `from.storage` is writable
    // for `from.len` bytes, and the kernel writes back the length it used.
    unsafe {
        libc::recvfrom(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            0,
            (&mut from.storage as *mut libc::sockaddr_storage).cast(),
            &mut from.len,
        )
    }
}

/// `sendto(2)` of all of `buf` to `to`.
pub fn sendto(fd: RawFd, buf: &[u8], to: &RawAddr) -> isize {
    // SAFETY: `buf` is readable for its length; `to.storage` holds
    // `to.len` (at most its size) bytes of address.
    unsafe {
        libc::sendto(
            fd,
            buf.as_ptr().cast(),
            buf.len(),
            0,
            (&to.storage as *const libc::sockaddr_storage).cast(),
            to.len,
        )
    }
}

// ---- poll and the control connection ------------------------------------

/// A `pollfd` for `fd` and `events`.
pub fn pollfd(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

/// `poll(2)` on `fds` for at most `ms` milliseconds (the raw result).
pub fn poll(fds: &mut [libc::pollfd], ms: i32) -> i32 {
    // SAFETY: `fds` is a valid, writable slice of initialised pollfds.
    unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) }
}

/// `ioctl` request: is the next read at the urgent mark? (Linux, asm-generic).
const SIOCATMARK: libc::Ioctl = 0x8905;

/// Whether the next in-band byte of socket `fd` is at the urgent mark (an
/// error counts as yes, so the caller goes on to read the urgent byte).
pub fn at_mark(fd: RawFd) -> bool {
    let mut m: libc::c_int = 0;
    // SAFETY: SIOCATMARK writes one int into `m`.
    let r = unsafe { libc::ioctl(fd, SIOCATMARK, &mut m) };
    r < 0 || m != 0
}

/// Sends `byte` as TCP urgent data (no SIGPIPE); whether it was sent.
pub fn send_urgent(fd: RawFd, byte: u8) -> bool {
    let b = [byte];
    // SAFETY: `b` is a valid 1-byte buffer.
    unsafe { libc::send(fd, b.as_ptr().cast(), 1, libc::MSG_OOB | libc::MSG_NOSIGNAL) == 1 }
}

/// Reads the pending TCP urgent byte, if there is one.
pub fn recv_urgent(fd: RawFd) -> Option<u8> {
    let mut b = [0u8; 1];
    (recv(fd, &mut b, libc::MSG_OOB) == 1).then_some(b[0])
}

/// Whether the peer of stream socket `fd` has closed or reset it (a
/// non-blocking peek; pending data or urgent data count as alive).
pub fn peer_gone(fd: RawFd) -> bool {
    let mut b = [0u8; 1];
    let r = recv(fd, &mut b, libc::MSG_PEEK | libc::MSG_DONTWAIT);
    if r == 0 {
        return true;
    }
    r < 0 && io::Error::last_os_error().kind() != io::ErrorKind::WouldBlock
}

// ---- CPU affinity --------------------------------------------------------

/// A CPU mask of this thread.
#[derive(Clone, Copy)]
pub struct CpuSet(libc::cpu_set_t);

/// The CPUs the calling thread may run on.
pub fn affinity() -> io::Result<CpuSet> {
    // SAFETY: cpu_set_t is plain old data; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a writable cpu_set_t of the size passed.
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(CpuSet(set))
}

/// Restores a mask from [`affinity`] on the calling thread.
pub fn set_affinity(set: &CpuSet) -> io::Result<()> {
    // SAFETY: `set.0` is a valid cpu_set_t of the size passed; only read.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set.0) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Pins the calling thread to `cpu` alone (EINVAL beyond the mask size).
pub fn pin_to(cpu: u32) -> io::Result<()> {
    if cpu as usize >= 8 * std::mem::size_of::<libc::cpu_set_t>() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: cpu_set_t is plain old data; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` is below the set's size in bits (checked above).
    unsafe { libc::CPU_SET(cpu as usize, &mut set) };
    set_affinity(&CpuSet(set))
}

// ---- process information -------------------------------------------------

/// `sysconf(name)`; `None` when unknown or an error.
pub fn sysconf(name: libc::c_int) -> Option<i64> {
    // SAFETY: sysconf has no memory-safety preconditions.
    let v = unsafe { libc::sysconf(name) };
    (v >= 0).then_some(v as i64)
}

/// The value of `times()` (clock ticks since an arbitrary point).
pub fn times() -> u64 {
    let mut tms = libc::tms {
        tms_utime: 0,
        tms_stime: 0,
        tms_cutime: 0,
        tms_cstime: 0,
    };
    // SAFETY: `tms` is a valid, writable struct tms.
    let t = unsafe { libc::times(&mut tms) };
    t as u64
}

/// uname(2): (nodename, sysname, release); empty texts on failure.
pub fn uname() -> (String, String, String) {
    // SAFETY: utsname is plain old data; all zeroes is a valid value.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return Default::default();
    }
    (
        c_field(&u.nodename),
        c_field(&u.sysname),
        c_field(&u.release),
    )
}

/// A C char array as text, up to its NUL (all of it without one).
fn c_field(f: &[libc::c_char]) -> String {
    let b: Vec<u8> = f
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&b).into_owned()
}

// ---- signals -------------------------------------------------------------

extern "C" fn ignore_signal(_: libc::c_int) {}

/// Installs a no-op handler for `sig` without SA_RESTART, so a blocked
/// read/write returns EINTR when `sig` arrives (stock's timer).
pub fn interrupt_on(sig: libc::c_int) {
    // SAFETY: a zeroed sigaction is valid (no flags, empty mask); the
    // handler is an `extern "C"` function that does nothing, which is
    // async-signal-safe.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = ignore_signal as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = 0;
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strerror_is_c_text() {
        let e = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(strerror(&e), "Connection refused");
        let e = io::Error::from_raw_os_error(libc::EINVAL);
        assert_eq!(strerror(&e), "Invalid argument");
        let other = io::Error::other("no os error (os error in text)");
        assert_eq!(strerror(&other), "no os error (os error in text)");
    }

    #[test]
    fn strerror_from_many_threads_at_once() {
        let codes = [libc::EPIPE, libc::ECONNRESET, libc::ETIMEDOUT, libc::EBADF];
        let want: Vec<String> = codes
            .iter()
            .map(|&c| strerror(&io::Error::from_raw_os_error(c)))
            .collect();
        std::thread::scope(|s| {
            for t in 0..4 {
                let want = &want;
                s.spawn(move || {
                    for i in 0..2000 {
                        let k = (i + t) % codes.len();
                        let e = io::Error::from_raw_os_error(codes[k]);
                        assert_eq!(strerror(&e), want[k]);
                    }
                });
            }
        });
    }

    #[test]
    fn unresolvable_host_is_a_getaddrinfo_error() {
        let e = resolve("no-such-host.invalid", 1).unwrap_err();
        assert!(e.starts_with("getaddrinfo failed: "), "{e}");
        assert!(!e.contains("lookup address information"), "{e}");
        assert_eq!(
            resolve("127.0.0.1", 7).unwrap(),
            [SocketAddr::from(([127, 0, 0, 1], 7))]
        );
    }

    #[test]
    fn pin_beyond_the_mask_is_einval() {
        let e = pin_to(1 << 20).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    }

    #[test]
    fn affinity_round_trip() {
        let old = affinity().unwrap();
        set_affinity(&old).unwrap();
    }

    #[test]
    fn uname_names_linux() {
        let (node, sys, rel) = uname();
        assert_eq!(sys, "Linux");
        assert!(!node.is_empty() && !rel.is_empty());
    }
}
