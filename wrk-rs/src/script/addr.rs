//! Address objects (`wrk.addr` userdata), `wrk.lookup` and `wrk.connect` (spec §4.3).
//!
//! Lookup goes through libc `getaddrinfo` so the failure texts are glibc's
//! `gai_strerror` messages, exactly what wrk prints.

use std::ffi::{CStr, CString};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6, TcpStream};
use std::sync::atomic::{AtomicI32, Ordering};

use mlua::{MetaMethod, UserData, UserDataMethods};

/// errno of the last failed connect probe (for `unable to connect to ...`).
static LAST_CONNECT_ERRNO: AtomicI32 = AtomicI32::new(0);

/// An address object as Lua sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addr(pub SocketAddr);

impl UserData for Addr {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_meta_method(MetaMethod::ToString, |_, this, ()| Ok(addr_text(&this.0)));
    }
}

/// `tostring(addr)`: numeric host and port joined by `:`, IPv6 without brackets.
pub fn addr_text(a: &SocketAddr) -> String {
    match a {
        SocketAddr::V4(v4) => format!("{}:{}", v4.ip(), v4.port()),
        SocketAddr::V6(v6) => {
            if v6.scope_id() != 0 {
                format!("{}%{}:{}", v6.ip(), v6.scope_id(), v6.port())
            } else {
                format!("{}:{}", v6.ip(), v6.port())
            }
        }
    }
}

/// A lookup failure; the text is what wrk prints before exiting 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupFailed(pub String);

impl std::fmt::Display for LookupFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LookupFailed {}

/// getaddrinfo(host, service) with AF_UNSPEC / SOCK_STREAM, in the order returned.
pub fn lookup(host: &str, service: &str) -> Result<Vec<SocketAddr>, LookupFailed> {
    lookup_opt(Some(host), Some(service))
}

/// [`lookup`] where a missing part is passed as NULL (as wrk does for a nil
/// Lua argument; printed as `(null)` on failure).
pub fn lookup_opt(
    host: Option<&str>,
    service: Option<&str>,
) -> Result<Vec<SocketAddr>, LookupFailed> {
    let (h, s) = (host.unwrap_or("(null)"), service.unwrap_or("(null)"));
    let fail = |msg: &str| LookupFailed(format!("unable to resolve {h}:{s} {msg}"));
    let c_host = match host.map(CString::new).transpose() {
        Ok(c) => c,
        Err(_) => return Err(fail("Name or service not known")),
    };
    let c_service = match service.map(CString::new).transpose() {
        Ok(c) => c,
        Err(_) => return Err(fail("Servname not supported for ai_socktype")),
    };
    let ptr = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: zeroed addrinfo is a valid "no hints" value; we set the fields we need.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_socktype = libc::SOCK_STREAM;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: valid C strings, hints and out pointer.
    let rc = unsafe { libc::getaddrinfo(ptr(&c_host), ptr(&c_service), &hints, &mut res) };
    if rc != 0 {
        // SAFETY: gai_strerror returns a static string.
        let msg = unsafe { CStr::from_ptr(libc::gai_strerror(rc)) };
        return Err(fail(&msg.to_string_lossy()));
    }
    let mut out = Vec::new();
    let mut p = res;
    while !p.is_null() {
        // SAFETY: p walks the list getaddrinfo returned; freed below.
        let ai = unsafe { &*p };
        if let Some(a) = sockaddr_to_std(ai.ai_addr, ai.ai_addrlen) {
            out.push(a);
        }
        p = ai.ai_next;
    }
    // SAFETY: res came from getaddrinfo.
    unsafe { libc::freeaddrinfo(res) };
    Ok(out)
}

fn sockaddr_to_std(sa: *const libc::sockaddr, len: libc::socklen_t) -> Option<SocketAddr> {
    if sa.is_null() {
        return None;
    }
    // SAFETY: family is checked before reading the matching struct of sufficient length.
    unsafe {
        match i32::from((*sa).sa_family) {
            libc::AF_INET if len as usize >= std::mem::size_of::<libc::sockaddr_in>() => {
                let s = &*(sa as *const libc::sockaddr_in);
                let ip = std::net::Ipv4Addr::from(u32::from_be(s.sin_addr.s_addr));
                Some(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(s.sin_port),
                )))
            }
            libc::AF_INET6 if len as usize >= std::mem::size_of::<libc::sockaddr_in6>() => {
                let s = &*(sa as *const libc::sockaddr_in6);
                let ip = std::net::Ipv6Addr::from(s.sin6_addr.s6_addr);
                Some(SocketAddr::V6(SocketAddrV6::new(
                    ip,
                    u16::from_be(s.sin6_port),
                    s.sin6_flowinfo,
                    s.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }
}

/// Blocking connect probe (no timeout, like wrk); the socket is closed at once.
pub fn connect_probe(addr: &SocketAddr) -> bool {
    match TcpStream::connect(addr) {
        Ok(_) => true,
        Err(e) => {
            LAST_CONNECT_ERRNO.store(e.raw_os_error().unwrap_or(0), Ordering::Relaxed);
            false
        }
    }
}

/// strerror text of the last failed probe (`Connection refused`).
pub fn last_connect_error() -> String {
    strerror(LAST_CONNECT_ERRNO.load(Ordering::Relaxed))
}

/// C `strerror` text for an errno value.
pub fn strerror(errno: i32) -> String {
    // SAFETY: strerror returns a pointer to a valid C string (thread-unsafe
    // only in its buffer reuse; we copy immediately and call it rarely).
    unsafe { CStr::from_ptr(libc::strerror(errno)) }
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms() {
        assert_eq!(
            addr_text(&"127.0.0.1:8089".parse().unwrap()),
            "127.0.0.1:8089"
        );
        assert_eq!(addr_text(&"[::1]:8089".parse().unwrap()), "::1:8089");
    }

    #[test]
    fn lookup_numeric_and_failure() {
        let a = lookup("127.0.0.1", "80").unwrap();
        assert_eq!(a[0], "127.0.0.1:80".parse().unwrap());
        let e = lookup("127.0.0.1", "nosuchservice").unwrap_err();
        assert!(
            e.0.starts_with("unable to resolve 127.0.0.1:nosuchservice "),
            "{e}"
        );
    }

    #[test]
    fn probe_refused_records_errno() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        drop(l);
        assert!(!connect_probe(&a));
        assert_eq!(last_connect_error(), "Connection refused");
    }
}
