//! The RDS helper exchange (spec §4.11 steps 1–3): before an RDS socket
//! can be bound, each side learns its own IP address from the other over a
//! helper TCP connection and two 1025-byte text fields on the control
//! connection.  Unlike stock, the server listens *before* announcing the
//! helper port (stock's race gives `connect failed: Connection refused`).

use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use crate::control::{Control, CtlError};
use crate::dbg_line;
use crate::debug::Trace;
use crate::sys::strerror;
use crate::wire;

fn local(msg: String) -> CtlError {
    CtlError::Local(msg)
}

/// Text form of an address as stock prints it (IPv4-mapped → dotted IPv4).
fn ip_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or_else(|| v6.to_string(), |v4| v4.to_string()),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// Text of a peer address: [`ip_text`], plus `%SCOPE` for scoped IPv6
/// addresses (getnameinfo gives the interface; its index resolves the same).
fn addr_text(a: SocketAddr) -> String {
    match a {
        SocketAddr::V6(v6) if v6.scope_id() != 0 && v6.ip().to_ipv4_mapped().is_none() => {
            format!("{}%{}", v6.ip(), v6.scope_id())
        }
        _ => ip_text(a.ip()),
    }
}

/// Server side: returns (own IP, client IP).
pub fn server_hosts(
    ctl: &mut Control,
    timeout: u32,
    trace: &Trace,
) -> Result<(String, String), CtlError> {
    let sys = |what: &str, e: std::io::Error| local(format!("{what}: {}", strerror(&e)));
    let l = Socket::new(Domain::IPV6, Type::STREAM, None).map_err(|e| sys("socket failed", e))?;
    let _ = l.set_reuse_address(true);
    let any = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 0, 0, 0));
    l.bind(&any.into())
        .map_err(|e| sys("bind INET6 failed", e))?;
    l.listen(1).map_err(|e| sys("listen failed", e))?;
    let port = super::super::sock::local_port(&l);
    dbg_line!(trace, "sending TCP server port");
    ctl.send(
        "TCP server port",
        &wire::encode_port(u32::from(port)),
        timeout,
    )?;
    // Bounded accept (stock blocks forever).
    l.set_nonblocking(true)
        .map_err(|e| sys("accept failed", e))?;
    let deadline = Instant::now() + Duration::from_secs(u64::from(timeout.max(1)));
    let (fd, peer) = loop {
        match l.accept() {
            Ok(x) => break x,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(local("accept failed: timed out".into()));
                }
                if let Some(e) = ctl.poll_urgent() {
                    return Err(e);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(sys("accept failed", e)),
        }
    };
    drop(l);
    let rhost = peer.as_socket().map(addr_text).unwrap_or_default();
    let hosts = swap_hosts(ctl, rhost, ["client IP", "server IP"], timeout, trace)?;
    drop(fd);
    Ok(hosts)
}

/// Sends `rhost`, the peer's address as we see it, as `names[0]`, then
/// reads ours as the peer sees it as `names[1]`; returns (ours, `rhost`).
fn swap_hosts(
    ctl: &mut Control,
    rhost: String,
    names: [&'static str; 2],
    timeout: u32,
    trace: &Trace,
) -> Result<(String, String), CtlError> {
    dbg_line!(trace, "sending {}", names[0]);
    ctl.send(names[0], &wire::encode_host(&rhost), timeout)?;
    dbg_line!(trace, "waiting for {}", names[1]);
    let lhost = wire::cstr(&ctl.recv(names[1], wire::HOST_LEN, timeout)?);
    Ok((lhost, rhost))
}

/// Connects to the helper port.  A stock server announces the port before
/// it listens, so a refused connect is retried (every 10 ms, within the
/// control timeout, unless the server reports an error meanwhile) where
/// stock's client fails at once with `connect failed: Connection refused`
/// whenever it wins that race.
fn connect_retrying(
    ctl: &mut Control,
    addr: SocketAddr,
    timeout: u32,
) -> Result<TcpStream, CtlError> {
    let deadline = Instant::now() + Duration::from_secs(u64::from(timeout));
    loop {
        match TcpStream::connect(addr) {
            Ok(s) => return Ok(s),
            Err(e)
                if e.kind() == std::io::ErrorKind::ConnectionRefused
                    && Instant::now() < deadline =>
            {
                if let Some(e) = ctl.poll_urgent() {
                    return Err(e);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(local(format!("connect failed: {}", strerror(&e)))),
        }
    }
}

/// Client side: returns (own IP, server IP).
pub fn client_hosts(
    ctl: &mut Control,
    host: &str,
    timeout: u32,
    trace: &Trace,
) -> Result<(String, String), CtlError> {
    dbg_line!(trace, "waiting for TCP IPv4 server port");
    let port = wire::decode_port(&ctl.recv("TCP IPv4 server port", wire::PORT_LEN, timeout)?)
        .map_err(|e| local(e.to_string()))?;
    let addr = (host, port as u16)
        .to_socket_addrs()
        .map_err(|e| local(format!("getaddrinfo failed: {}", crate::sys::gai_text(&e))))?
        .next()
        .ok_or_else(|| local("connect_tcp failed".into()))?;
    let fd = connect_retrying(ctl, addr, timeout)?;
    let hosts = swap_hosts(
        ctl,
        addr_text(addr),
        ["server IP", "client IP"],
        timeout,
        trace,
    )?;
    drop(fd);
    Ok(hosts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_addresses_print_as_ipv4() {
        let ip: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(ip_text(ip), "127.0.0.1");
        assert_eq!(ip_text("::1".parse().unwrap()), "::1");
        let scoped = SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 9, 0, 3));
        assert_eq!(addr_text(scoped), "fe80::1%3");
        assert_eq!(addr_text("127.0.0.1:5".parse().unwrap()), "127.0.0.1");
    }

    use crate::control::loopback_pair as controls;

    fn unused_addr() -> SocketAddr {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    }

    #[test]
    fn helper_connect_waits_for_a_late_listener() {
        let (mut c, _s) = controls();
        let addr = unused_addr();
        let late = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            let l = std::net::TcpListener::bind(addr).unwrap();
            l.accept().map(|_| ())
        });
        assert!(connect_retrying(&mut c, addr, 5).is_ok());
        late.join().unwrap().unwrap();
    }

    #[test]
    fn helper_connect_gives_up_like_stock() {
        let (mut c, mut s) = controls();
        let addr = unused_addr();
        let e = connect_retrying(&mut c, addr, 0).err();
        assert_eq!(e, Some(local("connect failed: Connection refused".into())));
        // A server error while we wait ends the wait with that error.
        let peer = std::thread::spawn(move || s.send_error("socket failed: nope"));
        let t0 = Instant::now();
        let e = connect_retrying(&mut c, addr, 5).err();
        assert_eq!(e, Some(CtlError::Peer("socket failed: nope".into())));
        assert!(t0.elapsed() < Duration::from_secs(4));
        drop(c);
        peer.join().unwrap();
    }
}
