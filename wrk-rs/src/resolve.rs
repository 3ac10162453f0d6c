//! Target lookup and connect probe, as wrk's Lua `wrk.resolve` does it
//! without a script (spec §1.4 rows 8–9).
//!
//! getaddrinfo(host, service) with AF_UNSPEC/SOCK_STREAM, where service is
//! the URL port or else the scheme (`http`, `foo` → "Servname not supported
//! for ai_socktype"). Every address is probed with a blocking connect; the
//! ones that accept are kept. Error texts are wrk's, with glibc's messages.

use std::ffi::{CStr, CString};
use std::net::{SocketAddr, TcpStream};

/// getaddrinfo failure: `unable to resolve <host>:<service> <gai_strerror>`.
pub fn lookup(host: &str, service: &str) -> Result<Vec<SocketAddr>, String> {
    let fail = |msg: &str| format!("unable to resolve {host}:{service} {msg}");
    let (Ok(h), Ok(s)) = (CString::new(host), CString::new(service)) else {
        return Err(fail("Name or service not known"));
    };
    // SAFETY: zeroed addrinfo is a valid "no hints" value; we set two fields.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_socktype = libc::SOCK_STREAM;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: valid NUL-terminated strings, hints and out-pointer.
    let rc = unsafe { libc::getaddrinfo(h.as_ptr(), s.as_ptr(), &hints, &mut res) };
    if rc != 0 {
        // SAFETY: gai_strerror returns a static NUL-terminated string.
        let msg = unsafe { CStr::from_ptr(libc::gai_strerror(rc)) };
        return Err(fail(&msg.to_string_lossy()));
    }
    let mut out = Vec::new();
    let mut cur = res;
    while !cur.is_null() {
        // SAFETY: `cur` walks the list getaddrinfo returned, freed below.
        let ai = unsafe { &*cur };
        if let Some(a) = sockaddr(ai.ai_addr, ai.ai_addrlen) {
            out.push(a);
        }
        cur = ai.ai_next;
    }
    // SAFETY: `res` came from a successful getaddrinfo.
    unsafe { libc::freeaddrinfo(res) };
    Ok(out)
}

fn sockaddr(p: *const libc::sockaddr, len: libc::socklen_t) -> Option<SocketAddr> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the family tells which struct `p` points to; lengths checked.
    unsafe {
        match i32::from((*p).sa_family) {
            libc::AF_INET if len as usize >= std::mem::size_of::<libc::sockaddr_in>() => {
                let a = &*(p as *const libc::sockaddr_in);
                let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                Some(SocketAddr::from((ip, u16::from_be(a.sin_port))))
            }
            libc::AF_INET6 if len as usize >= std::mem::size_of::<libc::sockaddr_in6>() => {
                let a = &*(p as *const libc::sockaddr_in6);
                let ip = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
                Some(SocketAddr::V6(std::net::SocketAddrV6::new(
                    ip,
                    u16::from_be(a.sin6_port),
                    a.sin6_flowinfo,
                    a.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }
}

/// glibc's `strerror` text for an errno (no "(os error N)" suffix).
pub fn strerror(errno: i32) -> String {
    let mut buf = [0 as libc::c_char; 256];
    // SAFETY: XSI/GNU strerror_r into our buffer; libc crate binds the XSI
    // variant (__xpg_strerror_r), which fills `buf`.
    let rc = unsafe { libc::strerror_r(errno, buf.as_mut_ptr(), buf.len()) };
    if rc != 0 {
        return format!("Unknown error {errno}");
    }
    // SAFETY: strerror_r NUL-terminated the buffer on success.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// Blocking connect probe; Err(errno text) when refused etc.
pub fn probe(addr: SocketAddr) -> Result<(), String> {
    match TcpStream::connect(addr) {
        Ok(_) => Ok(()),
        Err(e) => Err(e
            .raw_os_error()
            .map(strerror)
            .unwrap_or_else(|| e.to_string())),
    }
}

/// Lookup + probe: the addresses that accepted a connection, or wrk's
/// `unable to resolve ...` / `unable to connect to <host>:<service> <err>`.
pub fn resolve(host: &str, service: &str) -> Result<Vec<SocketAddr>, String> {
    let addrs = lookup(host, service)?;
    let mut ok = Vec::new();
    let mut last = strerror(libc::ECONNREFUSED);
    for a in addrs {
        match probe(a) {
            Ok(()) => ok.push(a),
            Err(e) => last = e,
        }
    }
    if ok.is_empty() {
        return Err(format!("unable to connect to {host}:{service} {last}"));
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_and_service_names() {
        let a = lookup("127.0.0.1", "8089").expect("numeric");
        assert_eq!(a[0], "127.0.0.1:8089".parse().expect("addr"));
        let a = lookup("127.0.0.1", "http").expect("service name");
        assert_eq!(a[0].port(), 80);
        assert_eq!(
            lookup("127.0.0.1", "foo"),
            Err("unable to resolve 127.0.0.1:foo Servname not supported for ai_socktype".into())
        );
        let a = lookup("::1", "81").expect("v6");
        assert!(a[0].is_ipv6());
    }

    #[test]
    fn refused_probe() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        assert_eq!(
            resolve("127.0.0.1", &port.to_string()).expect("ok").len(),
            1
        );
        drop(l);
        assert_eq!(
            resolve("127.0.0.1", &port.to_string()),
            Err(format!(
                "unable to connect to 127.0.0.1:{port} Connection refused"
            ))
        );
        assert_eq!(strerror(libc::ECONNREFUSED), "Connection refused");
    }
}
