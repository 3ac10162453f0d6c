//! Address objects (`wrk.addr` userdata), `wrk.lookup` and `wrk.connect` (spec §4.3).
//!
//! Lookup goes through libc `getaddrinfo` so the failure texts are glibc's
//! `gai_strerror` messages, exactly what wrk prints.

use std::ffi::CString;
use std::net::{SocketAddr, TcpStream};
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
    crate::sys::getaddrinfo(c_host.as_deref(), c_service.as_deref()).map_err(|e| fail(&e.0))
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
    crate::sys::strerror(LAST_CONNECT_ERRNO.load(Ordering::Relaxed))
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
