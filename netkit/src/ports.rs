//! Free loopback ports.
//!
//! A port is found by binding port 0 and reading what the kernel picked, then
//! releasing it. Another process could grab it before the caller binds it, so
//! bind port 0 directly (and pass the listener on) wherever the code allows;
//! use these only for tools that need a number up front (`qperf -lp`, nginx
//! configs), and be ready to retry when the tool then fails to bind.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> io::Result<u16> {
    Ok(bind_any_v4()?.local_addr()?.port())
}

/// Two distinct free ports (for tools taking a control and a data port).
///
/// Both listeners are held at once so the kernel cannot hand out the same
/// number twice.
pub fn free_port_pair() -> io::Result<(u16, u16)> {
    let a = bind_any_v4()?;
    let b = bind_any_v4()?;
    Ok((a.local_addr()?.port(), b.local_addr()?.port()))
}

/// A port free on both 127.0.0.1 and ::1 (for servers listening on both), or
/// `None` when this host has no IPv6 loopback.
pub fn free_port_dual() -> Option<u16> {
    if !ipv6_loopback_available() {
        return None;
    }
    // A few tries: the v4 pick may be taken on v6 by someone else.
    for _ in 0..20 {
        let v4 = bind_any_v4().ok()?;
        let port = v4.local_addr().ok()?.port();
        if TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))).is_ok() {
            return Some(port);
        }
    }
    None
}

/// Whether `::1` can be bound (IPv6 may be disabled in containers).
pub fn ipv6_loopback_available() -> bool {
    TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, 0))).is_ok()
}

fn bind_any_v4() -> io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_port_is_bindable() {
        let port = free_port().expect("loopback");
        assert_ne!(port, 0);
        TcpListener::bind(("127.0.0.1", port)).expect("port reported free can be bound");
    }

    #[test]
    fn pair_is_distinct_and_bindable() {
        let (a, b) = free_port_pair().expect("loopback");
        assert_ne!(a, b);
        let _la = TcpListener::bind(("127.0.0.1", a)).expect("first port bindable");
        let _lb = TcpListener::bind(("127.0.0.1", b)).expect("second port bindable");
    }

    #[test]
    fn dual_port_binds_on_both_families() {
        match free_port_dual() {
            None => eprintln!("skipping: no IPv6 loopback"),
            Some(port) => {
                let _v4 = TcpListener::bind(("127.0.0.1", port)).expect("v4");
                let _v6 = TcpListener::bind(("::1", port)).expect("v6");
            }
        }
    }
}
