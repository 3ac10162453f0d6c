//! Free loopback ports: [`netkit::ports`], with the lookups that cannot fail
//! in a working test environment unwrapped.
//!
//! Prefer binding port 0 directly wherever the code under test allows it;
//! use these for tools that need a number up front (`qperf -lp`, nginx).

pub use netkit::ports::{free_port_dual, ipv6_loopback_available};

/// A TCP port on 127.0.0.1 that was free a moment ago.
///
/// # Panics
/// When no loopback port can be bound at all (the test cannot run).
pub fn free_port() -> u16 {
    netkit::ports::free_port().expect("testkit: cannot bind 127.0.0.1:0 (no loopback?)")
}

/// Two distinct free ports (for tools taking a control and a data port).
///
/// # Panics
/// When no loopback port can be bound at all.
pub fn free_port_pair() -> (u16, u16) {
    netkit::ports::free_port_pair().expect("testkit: cannot bind 127.0.0.1:0 (no loopback?)")
}

/// A loopback port where connections are refused for as long as this lives.
///
/// A number from [`free_port`] is not enough for "nothing listens there":
/// tests running beside it start servers on port 0, and the kernel may hand
/// them the number just released.  This holds a socket bound (without
/// `SO_REUSEADDR`) but never listening, so nobody else can take the port and
/// every connect to it is refused.
pub struct RefusingPort {
    _holder: socket2::Socket,
    /// The port number (on 127.0.0.1).
    pub port: u16,
}

impl RefusingPort {
    /// Binds a fresh port on 127.0.0.1.
    ///
    /// # Panics
    /// When no loopback port can be bound at all.
    pub fn new() -> Self {
        use socket2::{Domain, Socket, Type};
        let holder = Socket::new(Domain::IPV4, Type::STREAM, None).expect("testkit: socket");
        holder
            .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .expect("testkit: cannot bind 127.0.0.1:0 (no loopback?)");
        let port = holder
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map(|a| a.port())
            .expect("testkit: bound socket has an inet address");
        RefusingPort {
            _holder: holder,
            port,
        }
    }
}

impl Default for RefusingPort {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusing_port_refuses_and_cannot_be_taken() {
        let p = RefusingPort::new();
        let err = std::net::TcpStream::connect(("127.0.0.1", p.port)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
        assert!(std::net::TcpListener::bind(("127.0.0.1", p.port)).is_err());
    }
}
