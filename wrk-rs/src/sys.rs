//! The crate's libc calls that are not sockets or event loops: address
//! lookup with glibc's `gai_strerror` texts, thread-safe `strerror`, the
//! open-file limit, the `-R` timerfd, the signal self-pipe, and the C stdio
//! calls the Lua layer needs. Every `unsafe` libc call of the crate outside
//! the io_uring driver lives here, each block with the reason it is sound.

use std::ffi::{CStr, CString};
use std::io;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{FromRawFd, OwnedFd};

/// Why a lookup failed: glibc's `gai_strerror` text for the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GaiError(pub String);

/// `getaddrinfo(host, service)` with AF_UNSPEC / SOCK_STREAM, addresses in
/// the order returned; `None` is passed as NULL (as wrk does for a nil Lua
/// argument).
pub fn getaddrinfo(
    host: Option<&CStr>,
    service: Option<&CStr>,
) -> Result<Vec<SocketAddr>, GaiError> {
    let ptr = |c: Option<&CStr>| c.map_or(std::ptr::null(), CStr::as_ptr);
    // SAFETY: an all-zero addrinfo is the documented "no hints" value (null
    // pointers, zero flags); we then set two plain integer fields.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_socktype = libc::SOCK_STREAM;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: host/service are NUL-terminated strings (or NULL) that outlive
    // the call, `hints` is initialised and `res` is a valid out pointer.
    let rc = unsafe { libc::getaddrinfo(ptr(host), ptr(service), &hints, &mut res) };
    if rc != 0 {
        // SAFETY: gai_strerror returns a pointer to a static NUL-terminated
        // string for every code.
        let msg = unsafe { CStr::from_ptr(libc::gai_strerror(rc)) };
        return Err(GaiError(msg.to_string_lossy().into_owned()));
    }
    let mut out = Vec::new();
    let mut cur = res;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getaddrinfo returned, which
        // stays allocated until the freeaddrinfo below.
        let ai = unsafe { &*cur };
        if let Some(a) = sockaddr(ai.ai_addr, ai.ai_addrlen) {
            out.push(a);
        }
        cur = ai.ai_next;
    }
    // SAFETY: `res` came from a successful getaddrinfo and is freed once;
    // no reference into the list outlives this point.
    unsafe { libc::freeaddrinfo(res) };
    Ok(out)
}

/// [`getaddrinfo`] for Rust strings; a string with a NUL byte fails like
/// glibc would for an unknown name or service.
pub fn lookup(host: &str, service: &str) -> Result<Vec<SocketAddr>, GaiError> {
    let h = CString::new(host).map_err(|_| GaiError("Name or service not known".into()))?;
    let s = CString::new(service)
        .map_err(|_| GaiError("Servname not supported for ai_socktype".into()))?;
    getaddrinfo(Some(&h), Some(&s))
}

/// A socket address from a `sockaddr` of `len` bytes (IPv4/IPv6 only).
fn sockaddr(p: *const libc::sockaddr, len: libc::socklen_t) -> Option<SocketAddr> {
    if p.is_null() {
        return None;
    }
    let len = len as usize;
    // SAFETY: `p` is non-null and points at a sockaddr of at least `len`
    // bytes (getaddrinfo's ai_addr/ai_addrlen); every sockaddr starts with
    // the family, and the family-specific struct is read only when `len`
    // covers it.
    unsafe {
        match i32::from((*p).sa_family) {
            libc::AF_INET if len >= std::mem::size_of::<libc::sockaddr_in>() => {
                let a = &*(p as *const libc::sockaddr_in);
                let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                Some(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(a.sin_port),
                )))
            }
            libc::AF_INET6 if len >= std::mem::size_of::<libc::sockaddr_in6>() => {
                let a = &*(p as *const libc::sockaddr_in6);
                Some(SocketAddr::V6(SocketAddrV6::new(
                    a.sin6_addr.s6_addr.into(),
                    u16::from_be(a.sin6_port),
                    a.sin6_flowinfo,
                    a.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }
}

/// glibc's `strerror` text for an errno, thread-safe (`strerror_r`).
pub fn strerror(errno: i32) -> String {
    let mut buf = [0 as libc::c_char; 256];
    // SAFETY: the libc crate binds the XSI strerror_r (__xpg_strerror_r),
    // which writes at most `buf.len()` bytes into our buffer.
    let rc = unsafe { libc::strerror_r(errno, buf.as_mut_ptr(), buf.len()) };
    if rc != 0 {
        return format!("Unknown error {errno}");
    }
    // SAFETY: on success the XSI strerror_r NUL-terminated `buf`.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// An I/O error as C prints it: the strerror text without Rust's
/// ` (os error N)` suffix.
pub fn io_message(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => strerror(n),
        None => e.to_string(),
    }
}

/// The open-file limit (soft, hard).
pub fn nofile_limit() -> io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into our local struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((lim.rlim_cur, lim.rlim_max))
}

/// Sets the open-file limit.
pub fn set_nofile_limit(soft: u64, hard: u64) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: setrlimit only reads our initialised local struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A non-blocking CLOCK_MONOTONIC timerfd.
pub fn timerfd() -> io::Result<OwnedFd> {
    // SAFETY: timerfd_create takes no pointers; the result is checked.
    let fd = unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Arms `fd` (a timerfd) to fire once after `wait_us` (≥ 1 µs).
pub fn timerfd_arm(fd: &OwnedFd, wait_us: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let wait = wait_us.max(1);
    let spec = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: libc::timespec {
            tv_sec: libc::time_t::try_from(wait / 1_000_000).unwrap_or(libc::time_t::MAX),
            tv_nsec: ((wait % 1_000_000) * 1000) as libc::c_long,
        },
    };
    // SAFETY: a valid descriptor, an initialised itimerspec, and a null
    // old-value pointer (allowed).
    let rc = unsafe { libc::timerfd_settime(fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sets signal `sig` to be ignored.
pub fn ignore_signal(sig: libc::c_int) {
    // SAFETY: installing SIG_IGN passes no pointers and runs no code.
    unsafe { libc::signal(sig, libc::SIG_IGN) };
}

/// Installs `handler` for `sig` (SA_RESTART). The handler must only do
/// async-signal-safe work.
pub fn install_handler(sig: libc::c_int, handler: extern "C" fn(libc::c_int)) {
    // SAFETY: an all-zero sigaction is a valid empty one (no flags, empty
    // mask); we fill in a plain handler whose body the caller keeps
    // async-signal-safe, and sigaction only reads the struct.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as *const () as libc::sighandler_t;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

/// A non-blocking close-on-exec pipe as raw (read, write) descriptors; they
/// are meant to live for the process (a signal handler writes to one).
pub fn pipe() -> io::Result<(i32, i32)> {
    let mut fds = [-1i32; 2];
    // SAFETY: pipe2 writes two descriptors into the 2-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((fds[0], fds[1]))
}

/// Writes one byte to `fd`, ignoring errors; async-signal-safe (a full
/// pipe just drops it).
pub fn write_byte(fd: i32) {
    let b = 1u8;
    // SAFETY: write(2) is async-signal-safe and reads one byte from a live
    // local; a bad descriptor only yields an error we ignore.
    unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
}

/// Waits up to `ms` milliseconds for `fd` to become readable.
pub fn poll_readable(fd: i32, ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one initialised pollfd, count 1.
    unsafe { libc::poll(&mut pfd, 1, ms) > 0 }
}

extern "C" {
    /// glibc's stdout stream.
    static mut stdout: *mut libc::FILE;
}

/// Makes C stdout line buffered (Lua's `print`/`io.write` go through it).
/// Call before anything is written to it.
pub fn line_buffer_c_stdout() {
    // SAFETY: reads glibc's initialised `stdout` pointer (never reassigned
    // by us) and calls setvbuf on it before any output, as setvbuf requires.
    unsafe {
        libc::setvbuf(stdout, std::ptr::null_mut(), libc::_IOLBF, 0);
    }
}

/// Flushes every C output stream.
pub fn flush_c_stdio() {
    // SAFETY: fflush(NULL) is defined to flush all output streams.
    unsafe {
        libc::fflush(std::ptr::null_mut());
    }
}

/// C's `%.14g` text of a double (Lua 5.1's number format).
pub fn format_g14(n: f64) -> String {
    let mut buf = [0u8; 64];
    // SAFETY: snprintf writes at most `buf.len()` bytes (NUL included) into
    // our buffer; the format is a NUL-terminated literal taking one double.
    let len = unsafe {
        libc::snprintf(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            c"%.14g".as_ptr(),
            n,
        )
    };
    let len = usize::try_from(len).unwrap_or(0).min(buf.len() - 1);
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_and_gai_texts() {
        let a = lookup("127.0.0.1", "8089").expect("numeric");
        assert_eq!(a[0], "127.0.0.1:8089".parse().expect("addr"));
        assert_eq!(lookup("127.0.0.1", "http").expect("service")[0].port(), 80);
        assert!(lookup("::1", "81").expect("v6")[0].is_ipv6());
        assert_eq!(
            lookup("127.0.0.1", "foo"),
            Err(GaiError("Servname not supported for ai_socktype".into()))
        );
        assert_eq!(
            lookup("a\0b", "80"),
            Err(GaiError("Name or service not known".into()))
        );
        assert!(getaddrinfo(None, None).is_err());
    }

    #[test]
    fn error_texts() {
        assert_eq!(strerror(libc::ECONNREFUSED), "Connection refused");
        assert_eq!(
            io_message(&io::Error::from_raw_os_error(libc::EAGAIN)),
            "Resource temporarily unavailable"
        );
        assert_eq!(io_message(&io::Error::other("x")), "x");
    }

    #[test]
    fn limits_and_timerfd() {
        let (soft, hard) = nofile_limit().expect("getrlimit");
        assert!(soft <= hard);
        set_nofile_limit(soft, hard).expect("same limit");
        let fd = timerfd().expect("timerfd");
        timerfd_arm(&fd, 1_500_000).expect("arm");
    }

    #[test]
    fn pipe_wakes_poll() {
        let (r, w) = pipe().expect("pipe");
        assert!(!poll_readable(r, 0));
        write_byte(w);
        assert!(poll_readable(r, 0));
    }

    #[test]
    fn g14() {
        assert_eq!(format_g14(0.1), "0.1");
        assert_eq!(format_g14(1e15), "1e+15");
        assert_eq!(format_g14(100.0), "100");
    }
}
