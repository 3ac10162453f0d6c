//! The qperf client side of one test (spec §4.2–4.10): control connection,
//! REQ, port, data connection, sync, timed data path, STAT, sync after test.
//! Every test uses a fresh control connection, like stock.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::control::{Control, CtlError, Side};
use crate::datapath::{self, rds, sock, sock::Net, Pattern, Role, Spec};
use crate::debug::Trace;
use crate::proto::{Conf, Counters, Req, Stat, Ticks};
use crate::tests_table::{self, Transport};
use crate::{conf, cpu, dbg_line, wire};

/// Where the server is.
#[derive(Clone, Debug)]
pub struct Target {
    pub host: String,
    pub listen_port: u16,
    pub wait_secs: u32,
    pub debug: bool,
    /// `--single_port` (our extension): connect the data connection to
    /// `listen_port`, not to the port the server announced, so it works
    /// through a NAT that translates the port (against a qperf-rs server).
    pub single_port: bool,
}

/// What one test produced.
// The contract keeps the Stats by value; one Outcome per test is cheap.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Outcome {
    Stats { local: Stat, remote: Stat },
    Conf { local: Conf, remote: Conf },
    Quit,
}

/// Why a test failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// Printed on stdout as is, exit 1 (e.g. "127.0.0.1: failed to connect").
    Local(String),
    /// The server's text; printed on stderr as "server: TEXT", exit 1.
    Remote(String),
    /// The server raised its error but the text did not arrive within 3 s;
    /// printed on stderr as "server failure", exit 1 (spec §7.2).
    RemoteFailure,
}

impl From<CtlError> for ClientError {
    fn from(e: CtlError) -> Self {
        match e {
            CtlError::Local(m) => ClientError::Local(m),
            CtlError::Peer(m) => ClientError::Remote(m),
            CtlError::PeerFailure => ClientError::RemoteFailure,
        }
    }
}

/// Runs one test: control connection, REQ (`remote`, req_index set), port,
/// data connection, sync, the timed data path with the `local` parameters,
/// STAT, sync after test.
pub fn run_test(target: &Target, local: &Req, remote: &Req) -> Result<Outcome, ClientError> {
    let trace = Trace(target.debug);
    let test = tests_table::by_index(remote.req_index)
        .ok_or_else(|| ClientError::Local(format!("bad request index: {}", remote.req_index)))?;
    dbg_line!(trace, "sending request: {}", test.name);
    dbg_line!(trace, "starting timer for {} seconds", target.wait_secs);
    let stream = connect(target);
    dbg_line!(trace, "stopping timer");
    let stream = stream?;
    let mut ctl = Control::new(stream, Side::Client)
        .map_err(|e| ClientError::Local(crate::control::strerror(&e)))?;
    let mut run = Run {
        ctl: &mut ctl,
        trace,
        target,
        local,
    };
    // --single_port connects to -lp, where a qperf-rs server takes data
    // only when the REQ leaves the port to it: -ip does not apply then.
    let mut remote = remote.clone();
    if target.single_port && test.transport != Transport::Rds {
        remote.port = 0;
    }
    let result = run.body(&remote, test.transport, test.name);
    if let Err(ClientError::Local(msg)) = &result {
        // Tell the server, like stock's error channel (best effort); only
        // stock's text, not a hint line of ours.
        ctl.send_error(msg.lines().next().unwrap_or_default());
    }
    result
}

/// Resolves HOST and connects, retrying every second within `-ws`.
fn connect(target: &Target) -> Result<TcpStream, ClientError> {
    let addrs: Vec<SocketAddr> = (target.host.as_str(), target.listen_port)
        .to_socket_addrs()
        .map_err(|e| ClientError::Local(format!("getaddrinfo failed: {}", gai_text(&e))))?
        .collect();
    let start = Instant::now();
    loop {
        for a in &addrs {
            if let Ok(s) = TcpStream::connect(a) {
                return Ok(s);
            }
        }
        if start.elapsed() >= Duration::from_secs(u64::from(target.wait_secs)) {
            return Err(ClientError::Local(format!(
                "{}: failed to connect",
                target.host
            )));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// glibc's `gai_strerror` text out of Rust's lookup error.
fn gai_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    s.strip_prefix("failed to lookup address information: ")
        .unwrap_or(&s)
        .to_string()
}

struct Run<'a> {
    ctl: &'a mut Control,
    trace: Trace,
    target: &'a Target,
    local: &'a Req,
}

impl Run<'_> {
    fn body(
        &mut self,
        remote: &Req,
        transport: Transport,
        name: &str,
    ) -> Result<Outcome, ClientError> {
        let to = self.local.timeout;
        dbg_line!(self.trace, "sending request data");
        self.ctl
            .send("request data", &wire::encode_req(remote), to)?;
        match transport {
            Transport::Control if name == "conf" => {
                let b = self.ctl.recv("configuration", wire::CONF_LEN, to)?;
                let remote =
                    wire::decode_conf(&b).map_err(|e| ClientError::Local(e.to_string()))?;
                Ok(Outcome::Conf {
                    local: conf::local(),
                    remote,
                })
            }
            Transport::Control => {
                self.ctl.sync_before(to)?;
                Ok(Outcome::Quit)
            }
            Transport::Tcp => self.socket_test(Net::Tcp, name),
            Transport::Udp => self.socket_test(Net::Udp, name),
            Transport::Sctp => self.socket_test(Net::Sctp, name),
            Transport::Sdp => self.socket_test(Net::Sdp, name),
            Transport::Rds => self.rds(name),
            _ => self.rdma(transport, name),
        }
    }

    /// RDMA tests (§4.14) through [`crate::rdma`]; without a device (or
    /// without the `rdma` feature) stock's errors.
    fn rdma(&mut self, transport: Transport, name: &str) -> Result<Outcome, ClientError> {
        use crate::rdma::session::{self, Open};
        let mut req = self.local.clone();
        if transport != Transport::Rc {
            req.use_cm = 0; // CM is for RC only, as in stock
        }
        let (trace, to) = (self.trace, self.local.timeout);
        let open = Open {
            ctl: self.ctl,
            req: &req,
            role: Role::Client,
            plan: session::plan_of(name, Role::Client)?,
            host: &self.target.host,
            timeout: to,
        };
        let out = session::run::<crate::rdma::Device, _>(open, name, trace, |ctl, local| {
            recv_results(ctl, trace, to, local)
        })?;
        Ok(out)
    }

    /// RDS (§4.11): helper exchange, RDS socket bound to our own IP and
    /// `-lip`, `RDS port` exchange, sync, the message loop, results.
    fn rds(&mut self, name: &str) -> Result<Outcome, ClientError> {
        let l = self.local;
        let setup = rds::Setup {
            kind: rds::Kind::Rds,
            trace: self.trace,
            timeout: l.timeout,
            port: l.port,
            buf_size: l.sock_buf_size,
        };
        let ready = rds::client_setup(self.ctl, &self.target.host, &setup)?;
        let test = rds::Test {
            pattern: pattern_of(name),
            role: Role::Client,
            msg_size: l.msg_size as usize,
            time: l.time,
            access_recv: false,
            idle: None,
        };
        let m = ready.run(self.ctl, &test, self.trace)?;
        let outcome = self.exchange_results([m.time_s, m.time_e], [m.s, m.r]);
        drop(ready);
        outcome
    }

    /// After the data phase: our own STAT from the measured figures, the
    /// server's STAT, then sync-after-test (spec §4.5, §4.6). The data socket
    /// stays open until this is done, as in stock.
    fn exchange_results(
        &mut self,
        [time_s, time_e]: [Ticks; 2],
        [s, r]: [Counters; 2],
    ) -> Result<Outcome, ClientError> {
        let local = Stat {
            no_cpus: cpu::online_cpus(),
            no_ticks: cpu::ticks_per_sec(),
            time_s,
            time_e,
            s,
            r,
            ..Stat::default()
        };
        Ok(recv_results(
            self.ctl,
            self.trace,
            self.local.timeout,
            local,
        )?)
    }

    fn socket_test(&mut self, net: Net, name: &str) -> Result<Outcome, ClientError> {
        let to = self.local.timeout;
        dbg_line!(self.trace, "waiting for port");
        let b = self.ctl.recv("port", wire::PORT_LEN, to)?;
        let announced = wire::decode_port(&b).map_err(|e| ClientError::Local(e.to_string()))?;
        let port = if self.target.single_port {
            self.target.listen_port
        } else {
            announced as u16
        };
        let data = sock::client_connect(net, &self.target.host, port).map_err(|e| {
            ClientError::Local(unreachable_hint(
                &e,
                net,
                &self.target.host,
                port,
                self.target.single_port,
            ))
        })?;
        if let (Ok(a), Ok(p)) = (data.local_addr(), data.peer_addr()) {
            if let (Some(a), Some(p)) = (a.as_socket(), p.as_socket()) {
                dbg_line!(
                    self.trace,
                    "sending from {} port {} to {}",
                    net.name(),
                    a.port(),
                    p.port()
                );
            }
        }
        dbg_line!(self.trace, "sending synchronization before test");
        dbg_line!(self.trace, "waiting for synchronization before test");
        self.ctl.sync_before(to)?;
        dbg_line!(self.trace, "synchronization complete");
        let spec = Spec {
            net,
            pattern: pattern_of(name),
            role: Role::Client,
            msg_size: self.local.msg_size as usize,
            time: self.local.time,
            access_recv: false,
            ctl_fd: None,
        };
        dbg_line!(self.trace, "starting timer for {} seconds", self.local.time);
        let m = datapath::run(&spec, data.as_raw_fd());
        dbg_line!(self.trace, "stopping timer");
        let outcome = self.exchange_results([m.time_s, m.time_e], [m.s, m.r]);
        drop(data);
        outcome
    }
}

/// Stock's `could not make X connection to server`, followed by a line of
/// ours saying where we tried and why that usually fails.  Other errors
/// (no SCTP in the kernel, ...) stay as they are.
pub fn unreachable_hint(err: &str, net: Net, host: &str, port: u16, single: bool) -> String {
    if !err.starts_with("could not make") {
        return err.to_string();
    }
    let at = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let why = if single {
        "the -lp port (--single_port); the server must be qperf-rs"
    } else {
        "the data port the server announced; a Service or NAT probably does not expose it: \
         give -ip P and expose P, or use --single_port with a qperf-rs server"
    };
    format!("{err}\nqperf: tried {} {at}, {why}", net.name())
}

/// The server's STAT, then sync-after-test (spec §4.5, §4.6), given our own.
fn recv_results(
    ctl: &mut Control,
    trace: Trace,
    to: u32,
    local: Stat,
) -> Result<Outcome, CtlError> {
    dbg_line!(trace, "waiting for results");
    let b = ctl.recv("results", wire::STAT_LEN, to)?;
    let remote = wire::decode_stat(&b).map_err(|e| CtlError::Local(e.to_string()))?;
    dbg_line!(trace, "sending synchronization after test");
    ctl.send("synchronization after test", wire::SYNC_AFTER, to)?;
    Ok(Outcome::Stats { local, remote })
}

/// Bandwidth or latency, from the test name.
fn pattern_of(name: &str) -> Pattern {
    if name.ends_with("_lat") {
        Pattern::Lat
    } else {
        Pattern::Bw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_data_port_keeps_stock_text_first_and_names_the_address() {
        let e = "could not make TCP connection to server";
        let got = unreachable_hint(e, Net::Tcp, "10.96.0.10", 41234, false);
        let mut lines = got.lines();
        assert_eq!(lines.next(), Some(e));
        let hint = lines.next().unwrap();
        assert!(hint.contains("10.96.0.10:41234"), "{hint}");
        assert!(
            hint.contains("-ip") && hint.contains("--single_port"),
            "{hint}"
        );
        assert!(hint.len() < 256 && lines.next().is_none());
        let v6 = unreachable_hint(e, Net::Tcp, "fd00::1", 4000, true);
        assert!(v6.contains("[fd00::1]:4000") && v6.contains("-lp"), "{v6}");
        // Other failures are not about reachability: unchanged.
        let other = "setsockopt 1 2 to 1 failed: Bad file descriptor";
        assert_eq!(unreachable_hint(other, Net::Sctp, "h", 1, false), other);
    }
}
