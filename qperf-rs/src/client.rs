//! The qperf client side of one test (spec §4.2–4.10): control connection,
//! REQ, port, data connection, sync, timed data path, STAT, sync after test.
//! Every test uses a fresh control connection, like stock.

use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::Duration;

use crate::clock::{Clock, Deadline, SystemClock};
use crate::control::{Control, CtlError, Side};
use crate::datapath::{self, rds, sock, sock::Net, Pattern, Role, Spec};
use crate::debug::Trace;
use crate::ext::{self, Extensions, Extras};
use crate::proto::{Conf, Counters, Req, Stat, Ticks};
use crate::tests_table::{self, Transport};
use crate::{conf, cpu, dbg_line, sys, wire};

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
    Stats {
        local: Stat,
        remote: Stat,
    },
    /// A test run with extensions (`--percentiles`, `-P`, `--cgroup_cpu`).
    Extended {
        local: Stat,
        remote: Stat,
        extras: Box<Extras>,
    },
    Conf {
        local: Conf,
        remote: Conf,
    },
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
    run_test_ext(target, local, remote, Extensions::default())
}

/// [`run_test`] with the extensions `ext` (already narrowed to the test,
/// [`Extensions::for_test`]); without any it is exactly [`run_test`].
pub fn run_test_ext(
    target: &Target,
    local: &Req,
    remote: &Req,
    ext: Extensions,
) -> Result<Outcome, ClientError> {
    let trace = Trace::stderr(target.debug);
    let test = tests_table::by_index(remote.req_index)
        .ok_or_else(|| ClientError::Local(format!("bad request index: {}", remote.req_index)))?;
    dbg_line!(trace, "sending request: {}", test.name);
    dbg_line!(trace, "starting timer for {} seconds", target.wait_secs);
    let stream = connect(target, &SystemClock);
    dbg_line!(trace, "stopping timer");
    let stream = stream?;
    let mut ctl =
        Control::new(stream, Side::Client).map_err(|e| ClientError::Local(sys::strerror(&e)))?;
    let mut run = Run {
        ctl: &mut ctl,
        trace,
        target,
        local,
        ext,
        expect_report: false,
        pending_report: None,
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

/// Resolves HOST and connects, retrying every second within `-ws` (on `clock`).
fn connect(target: &Target, clock: &dyn Clock) -> Result<TcpStream, ClientError> {
    let addrs = sys::resolve(&target.host, target.listen_port).map_err(ClientError::Local)?;
    let give_up = Deadline::after_secs(clock.now(), target.wait_secs);
    loop {
        for a in &addrs {
            if let Ok(s) = TcpStream::connect(a) {
                return Ok(s);
            }
        }
        if give_up.passed(clock.now()) {
            return Err(ClientError::Local(format!(
                "{}: failed to connect",
                target.host
            )));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

struct Run<'a> {
    ctl: &'a mut Control,
    trace: Trace,
    target: &'a Target,
    local: &'a Req,
    ext: Extensions,
    /// The server is ours and sends its extension report after the STAT.
    expect_report: bool,
    pending_report: Option<ext::SideExtras>,
}

impl Run<'_> {
    fn body(
        &mut self,
        remote: &Req,
        transport: Transport,
        name: &str,
    ) -> Result<Outcome, ClientError> {
        let to = self.local.timeout;
        let socket = matches!(
            transport,
            Transport::Tcp | Transport::Udp | Transport::Sctp | Transport::Sdp
        );
        let ext_test = socket && self.ext.any();
        // --single_port data goes to the server's listener, which our
        // extension path does not use: no ask then, the client-side
        // figures only.
        let ask = ext_test && !self.target.single_port;
        let mut req = remote.clone();
        if ask {
            // The extension ask rides on the field stock's server ignores.
            req.ver_inc = ext::wire::ASK_VER_INC;
        }
        dbg_line!(self.trace, "sending request data");
        self.ctl.send("request data", &wire::encode_req(&req), to)?;
        if ext_test {
            let net = match transport {
                Transport::Tcp => Net::Tcp,
                Transport::Udp => Net::Udp,
                Transport::Sctp => Net::Sctp,
                _ => Net::Sdp,
            };
            return self.socket_test_ext(net, name, ask);
        }
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
        let (trace, to) = (self.trace.clone(), self.local.timeout);
        let open = Open {
            ctl: self.ctl,
            req: &req,
            role: Role::Client,
            plan: session::plan_of(name, Role::Client)?,
            host: &self.target.host,
            timeout: to,
        };
        let out = session::run::<crate::rdma::Device, _>(open, name, &trace, |ctl, local| {
            recv_results(ctl, &trace, to, local)
        })?;
        Ok(out)
    }

    /// RDS (§4.11): helper exchange, RDS socket bound to our own IP and
    /// `-lip`, `RDS port` exchange, sync, the message loop, results.
    fn rds(&mut self, name: &str) -> Result<Outcome, ClientError> {
        let l = self.local;
        let setup = rds::Setup {
            kind: rds::Kind::Rds,
            trace: self.trace.clone(),
            timeout: l.timeout,
            port: l.port,
            buf_size: l.sock_buf_size,
        };
        let ready = rds::client_setup(self.ctl, &self.target.host, &setup)?;
        let test = rds::Test {
            pattern: Pattern::of(name),
            role: Role::Client,
            msg_size: l.msg_size as usize,
            time: l.time,
            access_recv: false,
            idle: None,
        };
        let m = ready.run(self.ctl, &test, &self.trace)?;
        let outcome = self.exchange_results([m.time_s, m.time_e], [m.s, m.r]);
        drop(ready);
        outcome
    }

    /// After the data phase: our own STAT from the measured figures, the
    /// server's STAT, then sync-after-test (spec §4.5, §4.6). The data socket
    /// stays open until this is done, as in stock.
    fn exchange_results(
        &mut self,
        times: [Ticks; 2],
        counters: [Counters; 2],
    ) -> Result<Outcome, ClientError> {
        let local = cpu::local_stat(times, counters);
        if self.expect_report {
            let (outcome, report) =
                recv_results_with(self.ctl, &self.trace, self.local.timeout, local, true)?;
            self.pending_report = report;
            return Ok(outcome);
        }
        Ok(recv_results(
            self.ctl,
            &self.trace,
            self.local.timeout,
            local,
        )?)
    }

    /// Once the data connections are up: the sync before test, then the
    /// client's data-path parameters (the timer starts right after).
    fn sync_before_data(&mut self, net: Net, name: &str) -> Result<Spec, ClientError> {
        self.ctl
            .sync_before_traced(&self.trace, self.local.timeout)?;
        dbg_line!(self.trace, "starting timer for {} seconds", self.local.time);
        Ok(Spec::client(net, name, self.local))
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
        let spec = self.sync_before_data(net, name)?;
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
    trace: &Trace,
    to: u32,
    local: Stat,
) -> Result<Outcome, CtlError> {
    Ok(recv_results_with(ctl, trace, to, local, false)?.0)
}

/// [`recv_results`]; with `report`, also the qperf-rs server's extension
/// report that follows its STAT ([`ext::wire`], ours ↔ ours only).
fn recv_results_with(
    ctl: &mut Control,
    trace: &Trace,
    to: u32,
    local: Stat,
    report: bool,
) -> Result<(Outcome, Option<ext::SideExtras>), CtlError> {
    dbg_line!(trace, "waiting for results");
    let b = ctl.recv("results", wire::STAT_LEN, to)?;
    let remote = wire::decode_stat(&b).map_err(|e| CtlError::Local(e.to_string()))?;
    let extras = if report {
        use ext::wire as xw;
        let bad = |e: xw::BadMessage| CtlError::Local(e.to_string());
        let h = ctl.recv("qperf-rs results", xw::RESULTS_HEAD_LEN, to)?;
        let n = xw::decode_report_head(&h).map_err(bad)?;
        let p = ctl.recv("qperf-rs results", n, to)?;
        Some(xw::decode_report(&p).map_err(bad)?)
    } else {
        None
    };
    dbg_line!(trace, "sending synchronization after test");
    ctl.send("synchronization after test", wire::SYNC_AFTER, to)?;
    Ok((Outcome::Stats { local, remote }, extras))
}

impl Run<'_> {
    /// A socket test with extensions: the negotiation of
    /// [`ext::wire`], one or more data connections, the extra figures.
    fn socket_test_ext(
        &mut self,
        net: Net,
        name: &str,
        asked: bool,
    ) -> Result<Outcome, ClientError> {
        use ext::wire as xw;
        let to = self.local.timeout;
        let bad = |e: xw::BadMessage| ClientError::Local(e.to_string());
        let n = self.ext.stream_count();
        dbg_line!(self.trace, "waiting for port");
        let b = self.ctl.recv("port", wire::PORT_LEN, to)?;
        let first: [u8; 4] = [b[0], b[1], b[2], b[3]];
        let (ports, server) = match xw::classify_first(&first) {
            xw::First::Port(_) if !asked => {
                if n > 1 {
                    return Err(ClientError::Local(format!(
                        "-P {n}: parallel streams cannot be combined with --single_port"
                    )));
                }
                (
                    vec![u32::from(self.target.listen_port)],
                    ext::Remote::NotAsked,
                )
            }
            xw::First::Port(p) => {
                if n > 1 {
                    return Err(ClientError::Local(format!(
                        "-P {n}: parallel streams need a qperf-rs server; {} runs stock qperf",
                        self.target.host
                    )));
                }
                (vec![p], ext::Remote::Stock)
            }
            xw::First::Hello => {
                let rest = self
                    .ctl
                    .recv("qperf-rs hello", xw::HELLO_LEN - wire::PORT_LEN, to)?;
                let hello = xw::decode_hello(&[&first[..], &rest[..]].concat()).map_err(bad)?;
                if n > 1 && (hello.caps & xw::STREAMS == 0 || n > hello.max_streams) {
                    return Err(ClientError::Local(format!(
                        "-P {n}: the server takes at most {} streams",
                        if hello.caps & xw::STREAMS == 0 {
                            1
                        } else {
                            hello.max_streams
                        }
                    )));
                }
                let mut flags = 0;
                if self.ext.percentiles {
                    flags |= xw::PERCENTILES;
                }
                if n > 1 {
                    flags |= xw::STREAMS;
                }
                if self.ext.cgroup_cpu {
                    flags |= xw::CGROUP_CPU;
                }
                let ask = xw::ClientAsk {
                    flags: flags & hello.caps,
                    streams: n,
                };
                self.ctl
                    .send("qperf-rs request", &xw::encode_ask(&ask), to)?;
                let b = self.ctl.recv("port", wire::PORT_LEN * n as usize, to)?;
                let ports = b
                    .chunks_exact(wire::PORT_LEN)
                    .map(|c| wire::decode_port(c).map_err(|e| ClientError::Local(e.to_string())))
                    .collect::<Result<Vec<u32>, _>>()?;
                (ports, ext::Remote::Ours)
            }
        };
        let mut data = Vec::with_capacity(ports.len());
        for p in &ports {
            data.push(
                sock::client_connect(net, &self.target.host, *p as u16)
                    .map_err(ClientError::Local)?,
            );
        }
        let spec = self.sync_before_data(net, name)?;
        let fds: Vec<_> = data.iter().map(|d| d.as_raw_fd()).collect();
        let cg = ext::cgroup::Window::start(self.ext.cgroup_cpu);
        let runs = datapath::run_streams(&spec, &fds, self.ext.percentiles);
        let cgroup = cg.stop();
        dbg_line!(self.trace, "stopping timer");
        let (m, local_x) = ext::combine(runs, cgroup);
        self.expect_report = server == ext::Remote::Ours;
        let outcome = self.exchange_results([m.time_s, m.time_e], [m.s, m.r]);
        let (local, remote) = match outcome {
            Ok(Outcome::Stats { local, remote }) => (local, remote),
            Ok(o) => return Ok(o),
            Err(e) => return Err(e),
        };
        let remote_x = self.pending_report.take().unwrap_or_default();
        drop(data);
        Ok(Outcome::Extended {
            local,
            remote,
            extras: Box::new(Extras {
                asked: self.ext,
                local: local_x,
                remote: remote_x,
                server,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FakeClock;

    #[test]
    fn connect_gives_up_when_the_wait_has_passed_on_its_clock() {
        // Nothing listens on a port we bound and closed; `-ws 3600` on a
        // clock that moves 2 h per read: one round of attempts, no sleep
        // (in real time this would take an hour).
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let target = Target {
            host: "127.0.0.1".into(),
            listen_port: port,
            wait_secs: 3600,
            debug: false,
            single_port: false,
        };
        let clock = FakeClock::new(Duration::from_secs(7200));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(connect(&target, &clock).map(|_| ())));
        let got = rx.recv_timeout(Duration::from_secs(30)).expect("no answer");
        assert_eq!(
            got,
            Err(ClientError::Local("127.0.0.1: failed to connect".into()))
        );
    }

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
