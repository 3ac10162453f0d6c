//! Data-socket setup for the socket tests (spec §4.8): the server's
//! AF_INET6 wildcard endpoint on REQ.port, the client's connection to HOST
//! at the reported port, and buffer sizing.  Everything through `socket2`.

use std::io;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6, ToSocketAddrs};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::control::strerror;

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
/// make X connection to server`.
pub fn client_connect(net: Net, host: &str, port: u16) -> Result<Socket, String> {
    let fail = || format!("could not make {} connection to server", net.name());
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|_| fail())?
        .collect();
    for a in addrs {
        let Ok(s) = net.socket(Domain::for_address(a)) else {
            continue;
        };
        if s.set_reuse_address(true).is_err() {
            continue;
        }
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
