//! The RDS socket (spec §4.11 step 4): `socket(AF_RDS, SOCK_SEQPACKET)`,
//! `SO_REUSEADDR`, bound to the side's own IP (learnt in the helper
//! exchange) and REQ.port, both buffer sizes set when non-zero; the bound
//! port read back; peer addresses made from the host text the same way.
//! Stock's order of calls and its error texts (RDS ones lower-case, §7.3).

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use socket2::{Domain, SockAddr, Socket, Type};

use crate::sys::{gai_text, strerror};

/// Address family of RDS (AF_RDS, also libc's value).
pub const AF_RDS: i32 = 21;

/// What carries the messages: RDS, or — for tests on kernels without RDS —
/// IPv4 UDP, which has the same one-message-per-call semantics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Rds,
    #[cfg(test)]
    Udp4,
}

impl Kind {
    fn socket(self) -> io::Result<Socket> {
        match self {
            Kind::Rds => Socket::new(Domain::from(AF_RDS), Type::SEQPACKET, None),
            #[cfg(test)]
            Kind::Udp4 => Socket::new(Domain::IPV4, Type::DGRAM, None),
        }
    }
}

/// `WHAT: STRERROR`, stock's system-call failure text.
fn sys(what: &str, e: &io::Error) -> String {
    format!("{what}: {}", strerror(e))
}

/// The address of `host` (numeric, as exchanged; names are resolved and
/// the first answer taken) with `port` truncated to 16 bits like `htons`.
pub fn rds_addr(host: &str, port: u32) -> Result<SockAddr, String> {
    let ip = match host.parse::<IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, 0),
        Err(_) => (host, 0)
            .to_socket_addrs()
            .map_err(|e| format!("getaddrinfo failed: {}", gai_text(&e)))?
            .next()
            .ok_or_else(|| "getaddrinfo failed".to_string())?,
    };
    let mut a = ip;
    a.set_port(port as u16);
    Ok(a.into())
}

/// Sets SO_SNDBUF and SO_RCVBUF to `size` when non-zero (lower-case texts).
pub fn set_buf_size(s: &Socket, size: u32) -> Result<(), String> {
    if size == 0 {
        return Ok(());
    }
    // As stock: the u32 travels as a C int (socket2 passes it as one).
    let n = size as usize;
    s.set_send_buffer_size(n)
        .map_err(|e| sys("failed to set send buffer size on socket", &e))?;
    s.set_recv_buffer_size(n)
        .map_err(|e| sys("failed to set receive buffer size on socket", &e))?;
    Ok(())
}

/// The message socket bound to `host`:`port` with its buffer sizes, in
/// stock's order: socket, SO_REUSEADDR, address, bind, buffers.
pub fn bind(kind: Kind, host: &str, port: u32, buf_size: u32) -> Result<Socket, String> {
    let s = kind.socket().map_err(|e| sys("socket failed", &e))?;
    s.set_reuse_address(true)
        .map_err(|e| sys("setsockopt 1 2 to 1 failed", &e))?;
    let addr = rds_addr(host, port)?;
    s.bind(&addr).map_err(|e| sys("bind RDS failed", &e))?;
    set_buf_size(&s, buf_size)?;
    Ok(s)
}

/// The port `s` is bound to (`invalid port` if none).
pub fn bound_port(s: &Socket) -> Result<u16, String> {
    let a = s.local_addr().map_err(|e| sys("getsockname failed", &e))?;
    match a.as_socket().map(|a| a.port()) {
        Some(p) if p != 0 => Ok(p),
        _ => Err("invalid port".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_keep_family_and_truncate_the_port() {
        let a = rds_addr("127.0.0.1", 70000).unwrap();
        assert_eq!(a.as_socket(), Some("127.0.0.1:4464".parse().unwrap()));
        let a = rds_addr("::1", 18515).unwrap();
        assert_eq!(a.as_socket(), Some("[::1]:18515".parse().unwrap()));
        let a = rds_addr("localhost", 1).unwrap();
        assert!(a.as_socket().unwrap().ip().is_loopback());
    }

    #[test]
    fn unresolvable_host_is_a_getaddrinfo_error() {
        let e = rds_addr("no-such-host.invalid", 1).unwrap_err();
        assert!(e.starts_with("getaddrinfo failed: "), "{e}");
        assert!(!e.contains("lookup address information"), "{e}");
    }

    /// This kernel (like the one the golden files were made on) has no RDS:
    /// the first call fails with stock's text.  With RDS, binding to
    /// loopback works and yields a port.
    #[test]
    fn rds_socket_fails_like_stock_without_rds() {
        match bind(Kind::Rds, "127.0.0.1", 0, 0) {
            Err(e) => assert_eq!(e, "socket failed: Address family not supported by protocol"),
            Ok(s) => assert!(bound_port(&s).is_ok()),
        }
    }

    #[test]
    fn bind_reads_back_the_port_and_sets_buffers() {
        let s = bind(Kind::Udp4, "127.0.0.1", 0, 65536).unwrap();
        assert!(bound_port(&s).unwrap() > 0);
        // Linux doubles the value it stores.
        assert!(s.recv_buffer_size().unwrap() >= 65536);
        assert!(s.send_buffer_size().unwrap() >= 65536);
    }

    #[test]
    fn bind_errors_are_stock_texts() {
        // An address this host does not have.
        let e = bind(Kind::Udp4, "192.0.2.1", 0, 0).unwrap_err();
        assert_eq!(e, "bind RDS failed: Cannot assign requested address");
        let e = bind(Kind::Udp4, "no-such-host.invalid", 0, 0).unwrap_err();
        assert!(e.starts_with("getaddrinfo failed: "), "{e}");
    }

    #[test]
    fn unbound_socket_has_an_invalid_port() {
        let s = Kind::Udp4.socket().unwrap();
        assert_eq!(bound_port(&s).unwrap_err(), "invalid port");
    }
}
