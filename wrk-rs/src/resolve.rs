//! Target lookup and connect probe, as wrk's Lua `wrk.resolve` does it
//! without a script (spec §1.4 rows 8–9).
//!
//! getaddrinfo(host, service) with AF_UNSPEC/SOCK_STREAM, where service is
//! the URL port or else the scheme (`http`, `foo` → "Servname not supported
//! for ai_socktype"). Every address is probed with a blocking connect; the
//! ones that accept are kept. Error texts are wrk's, with glibc's messages.

use std::net::{SocketAddr, TcpStream};

use crate::sys::{self, strerror};

/// getaddrinfo failure: `unable to resolve <host>:<service> <gai_strerror>`.
pub fn lookup(host: &str, service: &str) -> Result<Vec<SocketAddr>, String> {
    sys::lookup(host, service).map_err(|e| format!("unable to resolve {host}:{service} {}", e.0))
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

    /// Lookups themselves are tested in `sys`; here wrk's message.
    #[test]
    fn lookup_failure_text() {
        assert_eq!(
            lookup("127.0.0.1", "foo"),
            Err("unable to resolve 127.0.0.1:foo Servname not supported for ai_socktype".into())
        );
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
    }
}
