//! RDS tests (spec §4.11): the helper exchange that tells each side its
//! own IP ([`hosts`]), the RDS socket bound to it and the `RDS port`
//! exchange ([`endpoint`]), then the timed message loops ([`msgs`]).
//!
//! On kernels without RDS (like this project's CI) the set-up ends with
//! `socket failed: Address family not supported by protocol`, as stock's
//! does; the loops are tested over UDP, which has the same
//! one-message-per-call semantics.

mod endpoint;
mod hosts;
mod msgs;

use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::Socket;

use super::{Measured, Pattern, Role};
use crate::control::{Control, CtlError};
use crate::dbg_line;
use crate::debug::Trace;
use crate::sys::peer_gone as fd_peer_gone;
use crate::wire;

pub use endpoint::{Kind, AF_RDS};
pub use hosts::{client_hosts, server_hosts};
use msgs::{Phase, RawAddr, Sys};

fn local(msg: String) -> CtlError {
    CtlError::Local(msg)
}

/// How one side sets up its RDS socket.
#[derive(Clone, Debug)]
pub struct Setup {
    pub kind: Kind,
    pub trace: Trace,
    /// Control-message timeout in seconds.
    pub timeout: u32,
    /// Port to bind to (REQ.port on the server, the local one on the
    /// client; 0 = any).
    pub port: u32,
    /// SO_SNDBUF/SO_RCVBUF (0 = leave alone).
    pub buf_size: u32,
}

/// A bound RDS socket and the peer's RDS address: ready for the sync.
pub struct Ready {
    sock: Socket,
    peer: RawAddr,
    timeout: u32,
}

/// Client set-up: helper exchange with the server at `host`, socket,
/// `RDS port` exchange.
pub fn client_setup(ctl: &mut Control, host: &str, st: &Setup) -> Result<Ready, CtlError> {
    let (lhost, rhost) = client_hosts(ctl, host, st.timeout, &st.trace)?;
    finish_setup(ctl, &lhost, &rhost, st)
}

/// Server set-up: helper exchange with the client, socket, `RDS port`
/// exchange.
pub fn server_setup(ctl: &mut Control, st: &Setup) -> Result<Ready, CtlError> {
    let (lhost, rhost) = server_hosts(ctl, st.timeout, &st.trace)?;
    finish_setup(ctl, &lhost, &rhost, st)
}

/// Both sides: bind to our own IP, send our port first, then read the
/// peer's and make its address.
fn finish_setup(
    ctl: &mut Control,
    lhost: &str,
    rhost: &str,
    st: &Setup,
) -> Result<Ready, CtlError> {
    let sock = endpoint::bind(st.kind, lhost, st.port, st.buf_size).map_err(local)?;
    let port = endpoint::bound_port(&sock).map_err(local)?;
    dbg_line!(st.trace, "sending RDS port");
    ctl.send("RDS port", &wire::encode_port(u32::from(port)), st.timeout)?;
    dbg_line!(st.trace, "waiting for RDS port");
    let b = ctl.recv("RDS port", wire::PORT_LEN, st.timeout)?;
    let rport = wire::decode_port(&b).map_err(|e| local(e.to_string()))?;
    let peer = endpoint::rds_addr(rhost, rport).map_err(local)?;
    Ok(Ready {
        sock,
        peer: RawAddr::from(&peer),
        timeout: st.timeout,
    })
}

/// What the data phase does.
#[derive(Clone, Copy, Debug)]
pub struct Test {
    pub pattern: Pattern,
    pub role: Role,
    pub msg_size: usize,
    /// Seconds; 0 = no timer.
    pub time: u32,
    /// Touch received data (`-ar`; the bw server only, like stock).
    pub access_recv: bool,
    /// Server only: bound every receive by this long, and end the test
    /// when the client's control connection has gone (our hardening).
    pub idle: Option<Duration>,
}

impl Ready {
    /// Sync before test, then the timed data phase.
    pub fn run(&self, ctl: &mut Control, t: &Test, trace: &Trace) -> Result<Measured, CtlError> {
        if let Some(d) = t.idle {
            super::sock::set_idle_timeout(&self.sock, d);
        }
        ctl.sync_before_traced(trace, self.timeout)?;
        let ctl_fd = ctl.stream().as_raw_fd();
        let gone = move || t.idle.is_none() || fd_peer_gone(ctl_fd);
        let phase = Phase {
            pattern: t.pattern,
            role: t.role,
            msg_size: t.msg_size,
            time: t.time,
            access_recv: t.access_recv && t.role == Role::Server,
            peer: &self.peer,
            gone: &gone,
        };
        dbg_line!(trace, "starting timer for {} seconds", t.time);
        let m = msgs::run(&mut Sys(self.sock.as_raw_fd()), &phase);
        dbg_line!(trace, "stopping timer");
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::control::loopback_pair as controls;

    fn setup(port: u32) -> Setup {
        Setup {
            kind: Kind::Udp4,
            trace: Trace::off(),
            timeout: 5,
            port,
            buf_size: 0,
        }
    }

    fn test(pattern: Pattern, role: Role) -> Test {
        Test {
            pattern,
            role,
            msg_size: 64,
            time: 1,
            access_recv: true,
            idle: (role == Role::Server).then(|| Duration::from_secs(3)),
        }
    }

    /// The whole RDS sequence of both sides (helper exchange, bind to the
    /// learnt IPs, `RDS port` exchange, sync, loops) over UDP.
    fn both(pattern: Pattern, srv_port: u32) -> (Measured, Measured, u16) {
        let (mut cc, mut sc) = controls();
        let srv = std::thread::spawn(move || {
            let r = server_setup(&mut sc, &setup(srv_port)).unwrap();
            let port = endpoint::bound_port(&r.sock).unwrap();
            let m = r.run(&mut sc, &test(pattern, Role::Server), &Trace::off());
            (m.unwrap(), port)
        });
        let r = client_setup(&mut cc, "127.0.0.1", &setup(0)).unwrap();
        let cm = r.run(&mut cc, &test(pattern, Role::Client), &Trace::off());
        let (sm, port) = srv.join().unwrap();
        (cm.unwrap(), sm, port)
    }

    #[test]
    fn bw_sequence_over_udp() {
        let (c, s, _) = both(Pattern::Bw, 0);
        assert!(c.s.msgs > 100 && s.r.msgs > 0 && s.r.msgs <= c.s.msgs);
        assert_eq!((c.s.bytes, s.r.bytes), (c.s.msgs * 64, s.r.msgs * 64));
    }

    #[test]
    fn lat_sequence_over_udp_on_a_pinned_port() {
        let p = testkit_free_udp_port();
        let (c, s, port) = both(Pattern::Lat, u32::from(p));
        assert_eq!(port, p);
        assert!(c.s.msgs > 100 && c.r.msgs + 1 >= c.s.msgs);
        // A message sent after the sender's timer fired is not counted
        // by it but may still be by the receiver: at most one either way.
        assert!(
            s.r.msgs + 1 >= c.r.msgs && s.s.msgs + 1 >= c.r.msgs,
            "{c:?} {s:?}"
        );
    }

    /// A UDP port free right now on 127.0.0.1.
    fn testkit_free_udp_port() -> u16 {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    }

    #[test]
    fn no_rds_in_the_kernel_fails_after_the_helper_exchange() {
        let (mut cc, mut sc) = controls();
        let srv = std::thread::spawn(move || {
            let st = Setup {
                kind: Kind::Rds,
                ..setup(0)
            };
            server_setup(&mut sc, &st).err()
        });
        let st = Setup {
            kind: Kind::Rds,
            ..setup(0)
        };
        let c = client_setup(&mut cc, "127.0.0.1", &st).err();
        let s = srv.join().unwrap();
        if std::path::Path::new("/proc/sys/net/rds").exists() {
            return; // a kernel with RDS: nothing to check here
        }
        let want =
            CtlError::Local("socket failed: Address family not supported by protocol".into());
        assert_eq!(c, Some(want.clone()));
        assert_eq!(s, Some(want));
    }
}
