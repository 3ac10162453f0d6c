//! Data-socket setup for the socket tests (spec §4.8): the server's
//! AF_INET6 wildcard endpoint on REQ.port, the client's connection to HOST
//! at the reported port, and buffer sizing.  Everything through `socket2`.

use std::io;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6, ToSocketAddrs};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::sys::strerror;

/// The transport of a socket test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Net {
    Tcp,
    Udp,
    Sctp,
    Sdp,
}

/// Address family of SDP (AF_INET_SDP).
const AF_SDP: i32 = 27;

impl Net {
    /// The upper-case name used in error texts.
    pub fn name(self) -> &'static str {
        match self {
            Net::Tcp => "TCP",
            Net::Udp => "UDP",
            Net::Sctp => "SCTP",
            Net::Sdp => "SDP",
        }
    }

    /// Stream kinds (everything but UDP).
    pub fn is_stream(self) -> bool {
        self != Net::Udp
    }

    fn socket(self, domain: Domain) -> io::Result<Socket> {
        match self {
            Net::Tcp => Socket::new(domain, Type::STREAM, None),
            Net::Udp => Socket::new(domain, Type::DGRAM, None),
            Net::Sctp => Socket::new(
                domain,
                Type::STREAM,
                Some(Protocol::from(libc::IPPROTO_SCTP)),
            ),
            Net::Sdp => Socket::new(Domain::from(AF_SDP), Type::STREAM, None),
        }
    }
}

/// Sets SO_SNDBUF and SO_RCVBUF to `size` when non-zero (server side only).
pub fn set_buf_size(s: &Socket, size: u32) -> Result<(), String> {
    if size == 0 {
        return Ok(());
    }
    let n = size as usize;
    s.set_send_buffer_size(n)
        .map_err(|e| format!("Failed to set send buffer size on socket: {}", strerror(&e)))?;
    s.set_recv_buffer_size(n).map_err(|e| {
        format!(
            "Failed to set receive buffer size on socket: {}",
            strerror(&e)
        )
    })?;
    Ok(())
}

/// The server's data endpoint: bound to `[::]:port`, listening (backlog 1)
/// for stream kinds, buffer-sized for UDP.  Error: `unable to make X socket`.
pub fn server_endpoint(net: Net, port: u16, buf_size: u32) -> Result<Socket, String> {
    let fail = || format!("unable to make {} socket", net.name());
    let s = net.socket(Domain::IPV6).map_err(|_| fail())?;
    s.set_reuse_address(true).map_err(|_| fail())?;
    let addr = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0));
    s.bind(&addr.into()).map_err(|_| fail())?;
    if net.is_stream() {
        s.listen(1).map_err(|_| fail())?;
    } else {
        set_buf_size(&s, buf_size)?;
    }
    Ok(s)
}

/// The port `s` is bound to.
pub fn local_port(s: &Socket) -> u16 {
    s.local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .map_or(0, |a| a.port())
}

/// The client's data socket: HOST resolved with the reported port, each
/// candidate tried in order (SO_REUSEADDR, connect).  Error: `could not
/// make X connection to server`.  A socket that cannot be made (no SCTP
/// or SDP in the kernel) is fatal, with the text stock prints then: it
/// goes on with fd -1, whose SO_REUSEADDR fails with EBADF.
pub fn client_connect(net: Net, host: &str, port: u16) -> Result<Socket, String> {
    let fail = || format!("could not make {} connection to server", net.name());
    let reuse_failed = |e: &io::Error| format!("setsockopt 1 2 to 1 failed: {}", strerror(e));
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|_| fail())?
        .collect();
    for a in addrs {
        let s = net
            .socket(Domain::for_address(a))
            .map_err(|_| reuse_failed(&io::Error::from_raw_os_error(libc::EBADF)))?;
        s.set_reuse_address(true).map_err(|e| reuse_failed(&e))?;
        if s.connect(&SockAddr::from(a)).is_ok() {
            return Ok(s);
        }
    }
    Err(fail())
}

/// A receive timeout on a server data socket, so a silent peer cannot hold
/// the server (our hardening; stock blocks forever).
pub fn set_idle_timeout(s: &Socket, d: Duration) {
    let _ = s.set_read_timeout(Some(d));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datapath::{run, Pattern, Role, Spec};
    use std::os::fd::AsRawFd;

    /// Whether this kernel can make `net` sockets at all.
    fn kernel_has(net: Net) -> bool {
        net.socket(Domain::IPV6).is_ok()
    }

    #[test]
    fn server_without_kernel_support_is_unable_to_make_the_socket() {
        for net in [Net::Sctp, Net::Sdp] {
            if !kernel_has(net) {
                let e = server_endpoint(net, 0, 0).unwrap_err();
                assert_eq!(e, format!("unable to make {} socket", net.name()));
            }
        }
    }

    /// Stock's client carries on with fd -1 when socket() fails, and dies
    /// on its SO_REUSEADDR (checked against the stock client and a fake
    /// server in tests/sctp_rds.rs).
    #[test]
    fn client_without_kernel_support_fails_on_reuseaddr_like_stock() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        for net in [Net::Sctp, Net::Sdp] {
            if !kernel_has(net) {
                let e = client_connect(net, "127.0.0.1", port).unwrap_err();
                assert_eq!(e, "setsockopt 1 2 to 1 failed: Bad file descriptor");
            }
        }
    }

    #[test]
    fn client_connect_refused_is_could_not_make_connection() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let e = client_connect(Net::Tcp, "127.0.0.1", port).unwrap_err();
        assert_eq!(e, "could not make TCP connection to server");
    }

    /// Where the kernel has SCTP, sctp_bw runs the stream data path over
    /// a real SCTP association (not on this project's CI host).
    #[test]
    fn sctp_bw_over_loopback_where_the_kernel_has_sctp() {
        if !kernel_has(Net::Sctp) {
            return;
        }
        let ep = server_endpoint(Net::Sctp, 0, 0).unwrap();
        let port = local_port(&ep);
        let c = client_connect(Net::Sctp, "127.0.0.1", port).unwrap();
        let (s, _) = ep.accept().unwrap();
        let spec = |role| Spec {
            net: Net::Sctp,
            pattern: Pattern::Bw,
            role,
            msg_size: 1000,
            time: 1,
            access_recv: false,
            ctl_fd: None,
        };
        let fd = s.as_raw_fd();
        let srv = std::thread::spawn(move || run(&spec(Role::Server), fd));
        let cm = run(&spec(Role::Client), c.as_raw_fd());
        drop(c);
        let sm = srv.join().unwrap();
        assert!(cm.s.msgs > 0 && sm.r.msgs <= cm.s.msgs + 1);
        assert_eq!(sm.r.bytes, sm.r.msgs * 1000);
    }
}
