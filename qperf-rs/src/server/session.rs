//! One control connection on the server: reading and checking the REQ
//! (§4.4), refusing hostile values (§9.3), and running the requested test
//! (conf, quit, socket tests, and the stock errors of RDS/RDMA here).

use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::Socket;

use super::pin::Pin;
use super::single::Lobby;
use super::{Ctx, ServerConfig, MAX_MSG_SIZE, MAX_WAIT_SECS, RDMA_GRACE};
use crate::clock::Deadline;
use crate::control::{Control, CtlError};
use crate::datapath::{self, sock, sock::Net, Role, Spec};
use crate::debug::Trace;
use crate::proto::{Counters, Req, Stat, Ticks};
use crate::sys::{self, strerror};
use crate::tests_table::{self, Transport};
use crate::{conf, cpu, dbg_line, wire};

/// Where the data connection or datagrams of a socket test come in.
enum Endpoint<'a> {
    /// Single-port mode: the TCP data connection on the listening socket.
    Listener(Lobby<'a>),
    /// A socket of our own: stock's data port, or UDP/SCTP/SDP.
    Own(Socket),
}

/// The server side of one test.
pub(super) struct Test<'a> {
    pub(super) ctl: &'a mut Control,
    pub(super) trace: Trace,
    /// Bounded REQ timeout for control messages after the REQ.
    pub(super) timeout: u32,
    /// The server's listener and shared state (single-port mode).
    pub(super) ctx: &'a Ctx,
    /// Our extension report, sent right after the STAT (ours ↔ ours only).
    pub(super) report: Option<Vec<u8>>,
}

pub(super) fn local_error(msg: impl Into<String>) -> CtlError {
    local(msg)
}

fn local(msg: impl Into<String>) -> CtlError {
    CtlError::Local(msg.into())
}

impl Test<'_> {
    /// Reads and checks the REQ (version first, then the rest, §4.4).
    pub(super) fn read_req(&mut self, cfg: &ServerConfig) -> Result<Req, CtlError> {
        // Stock: `-lto` (0 = 5 s) applies while reading the REQ.  Each REQ
        // is read on its own thread, so a slow peer only delays itself.
        let lto = if cfg.loc_timeout_secs == 0 {
            5
        } else {
            cfg.loc_timeout_secs
        };
        dbg_line!(self.trace, "waiting for request version");
        let v = self
            .ctl
            .recv("request version", wire::REQ_VERSION_LEN, lto)?;
        let (maj, min, inc) = wire::decode_req_version(&v).map_err(|e| local(e.to_string()))?;
        if let Some(msg) = wire::version_error(maj, min, inc) {
            return Err(local(msg));
        }
        dbg_line!(self.trace, "waiting for request data");
        let d = self.ctl.recv("request data", wire::REQ_DATA_LEN, lto)?;
        let mut req = Req {
            ver_maj: maj,
            ver_min: min,
            ver_inc: inc,
            ..Req::default()
        };
        wire::decode_req_data(&d, &mut req).map_err(|e| local(e.to_string()))?;
        Ok(req)
    }

    /// Runs the test `req` asks for.  Returns true for `quit`.
    pub(super) fn run(&mut self, req: &Req) -> Result<bool, CtlError> {
        let Some(test) = tests_table::by_index(req.req_index) else {
            return Err(local(format!("bad request index: {}", req.req_index)));
        };
        dbg_line!(self.trace, "received request: {}", test.name);
        self.timeout = req.timeout.min(MAX_WAIT_SECS);
        let _pin = Pin::apply(req.affinity)?;
        match test.transport {
            Transport::Control if test.name == "conf" => {
                let c = wire::encode_conf(&conf::local());
                self.ctl.send("configuration", &c, self.timeout)?;
                Ok(false)
            }
            Transport::Control => {
                self.ctl.sync_before(self.timeout)?;
                // Give the client a moment to close first, like stock's read.
                self.ctl.drain(Duration::from_millis(100));
                Ok(true)
            }
            Transport::Tcp => self.socket_test(req, Net::Tcp, test.name),
            Transport::Udp => self.socket_test(req, Net::Udp, test.name),
            Transport::Sctp => self.socket_test(req, Net::Sctp, test.name),
            Transport::Sdp => self.socket_test(req, Net::Sdp, test.name),
            Transport::Rds => self.rds_test(req, test.name),
            _ => self.rdma_test(req, test.name),
        }
    }

    /// RDMA tests (§4.14) through [`crate::rdma`].
    fn rdma_test(&mut self, req: &Req, name: &str) -> Result<bool, CtlError> {
        use crate::rdma::session::{self, Open};
        let (trace, to) = (self.trace.clone(), self.timeout);
        let open = Open {
            ctl: self.ctl,
            req,
            role: Role::Server,
            plan: session::plan_of(name, Role::Server)?,
            host: "",
            timeout: to,
        };
        let r = session::run::<crate::rdma::Device, _>(open, name, &trace, |ctl, stat| {
            send_results(ctl, &trace, to, &stat)
        });
        match r {
            Ok(()) => Ok(false),
            Err(CtlError::Local(e)) => {
                // A client without a device fails at once and tells us; a
                // stock server is slower to fail than that (it opens the
                // verbs library first), so the client's own error is what
                // its user sees (golden rdma_no_device).  Keep that order.
                if let Some(pe) = self.ctl.wait_peer_error(RDMA_GRACE) {
                    return Err(pe);
                }
                Err(local(e))
            }
            Err(e) => Err(e),
        }
    }

    /// Refuses REQ values that would wedge or exhaust us (§9.3).
    pub(super) fn validate(req: &Req, net: Net) -> Result<(), CtlError> {
        if req.msg_size == 0 || req.msg_size > MAX_MSG_SIZE {
            return Err(local(format!(
                "bad message size: {}; must be between 1 and {MAX_MSG_SIZE}",
                req.msg_size
            )));
        }
        if req.port > 65535 {
            return Err(local(format!(
                "bad port: {}; must be at most 65535",
                req.port
            )));
        }
        if req.timeout == 0 {
            return Err(local("bad timeout: 0; must be at least 1 second"));
        }
        if req.time == 0 && net == Net::Udp {
            return Err(local("bad time: 0; UDP tests need a time limit"));
        }
        Ok(())
    }

    fn socket_test(&mut self, req: &Req, net: Net, name: &str) -> Result<bool, CtlError> {
        if req.ver_inc == crate::ext::wire::ASK_VER_INC {
            return self.socket_test_ext(req, net, name);
        }
        Self::validate(req, net)?;
        // Single-port mode (our extension) when the client left the data
        // port to us: TCP on the listening socket, other kinds on the
        // same number of their own protocol (the stock ephemeral port if
        // that number is taken).  `-ip P` binds P, as stock.
        let ep = if req.port == 0 && net == Net::Tcp {
            Endpoint::Listener(Lobby::open(self.ctx))
        } else if req.port == 0 {
            let same = self.ctx.listener.local_addr().map_or(0, |a| a.port());
            let s = sock::server_endpoint(net, same, req.sock_buf_size)
                .or_else(|_| sock::server_endpoint(net, 0, req.sock_buf_size))
                .map_err(local)?;
            Endpoint::Own(s)
        } else {
            let s =
                sock::server_endpoint(net, req.port as u16, req.sock_buf_size).map_err(local)?;
            Endpoint::Own(s)
        };
        let port = match &ep {
            Endpoint::Listener(l) => l.port(),
            Endpoint::Own(s) => sock::local_port(s),
        };
        dbg_line!(self.trace, "sending port");
        self.ctl
            .send("port", &wire::encode_port(u32::from(port)), self.timeout)?;
        let deadline = self.accept_deadline();
        let data = match ep {
            Endpoint::Own(ep) if !net.is_stream() => ep,
            ep => {
                let s = match ep {
                    Endpoint::Listener(lobby) => self.accept_on_listener(&lobby, deadline)?,
                    Endpoint::Own(ep) => self.accept(&ep, net, deadline)?,
                };
                sock::set_buf_size(&s, req.sock_buf_size).map_err(local)?;
                dbg_line!(self.trace, "accepted {} connection", net.name());
                s
            }
        };
        dbg_line!(self.trace, "receiving to {} port {}", net.name(), port);
        // A silent peer must not hold us: bound every blocking data read.
        sock::set_idle_timeout(&data, Duration::from_secs(u64::from(MAX_WAIT_SECS)));
        self.ctl.sync_before_traced(&self.trace, self.timeout)?;
        let spec = Spec::server(net, name, req, self.ctl.stream().as_raw_fd());
        dbg_line!(self.trace, "starting timer for {} seconds", req.time);
        let m = datapath::run(&spec, data.as_raw_fd());
        dbg_line!(self.trace, "stopping timer");
        if m.idle {
            // Our hardening: a peer silent for MAX_WAIT_SECS mid-test is gone.
            return Err(local("failed to receive data: client not responding"));
        }
        self.exchange_results([m.time_s, m.time_e], [m.s, m.r])?;
        drop(data);
        Ok(false)
    }

    /// After the data phase: send our STAT, then wait for the client's
    /// sync-after-test (spec §4.5, §4.6). Callers keep the data socket open
    /// until this returns, as stock does.
    pub(super) fn exchange_results(
        &mut self,
        times: [Ticks; 2],
        counters: [Counters; 2],
    ) -> Result<(), CtlError> {
        let stat = cpu::local_stat(times, counters);
        let report = self.report.take();
        send_results_with(
            self.ctl,
            &self.trace,
            self.timeout,
            &stat,
            report.as_deref(),
        )
    }

    /// When accepting the data connection(s) gives up: the bounded REQ
    /// timeout from now, at least a second.
    pub(super) fn accept_deadline(&self) -> Deadline {
        self.ctl.deadline_secs(self.timeout.max(1))
    }

    /// Accepts the data connection, bounded in time, giving up early when
    /// the client reports an error or closes the control connection.
    pub(super) fn accept(
        &mut self,
        ep: &Socket,
        net: Net,
        deadline: Deadline,
    ) -> Result<Socket, CtlError> {
        let mut fds = [
            sys::pollfd(ep.as_raw_fd(), libc::POLLIN),
            sys::pollfd(self.ctl.stream().as_raw_fd(), libc::POLLIN | libc::POLLPRI),
        ];
        loop {
            let Some(ms) = deadline.poll_ms(self.ctl.now(), Duration::from_secs(60)) else {
                return Err(local(format!(
                    "failed to accept {} connection: timed out",
                    net.name()
                )));
            };
            if sys::poll(&mut fds, ms) <= 0 {
                continue;
            }
            if fds[1].revents & libc::POLLPRI != 0 {
                if let Some(e) = self.ctl.poll_urgent() {
                    return Err(e);
                }
            }
            if fds[1].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0
                && self.ctl.peer_gone()
            {
                return Err(local(format!(
                    "failed to accept {} connection: client not responding",
                    net.name()
                )));
            }
            if fds[0].revents & libc::POLLIN != 0 {
                match ep.accept() {
                    Ok((s, _)) => {
                        s.set_nonblocking(false).map_err(|e| local(strerror(&e)))?;
                        return Ok(s);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(local(format!("accept failed: {}", strerror(&e)))),
                }
            }
            // Avoid spinning on a readable control socket with pending data.
            if fds[1].revents & libc::POLLIN != 0 {
                fds[1].events = libc::POLLPRI;
            }
        }
    }
}

/// Sends our STAT, then waits for the client's sync-after-test (§4.5, §4.6).
fn send_results(ctl: &mut Control, trace: &Trace, to: u32, stat: &Stat) -> Result<(), CtlError> {
    send_results_with(ctl, trace, to, stat, None)
}

/// [`send_results`]; `report` (our extension report, only to a client
/// that asked for it) goes right after the STAT.
fn send_results_with(
    ctl: &mut Control,
    trace: &Trace,
    to: u32,
    stat: &Stat,
    report: Option<&[u8]>,
) -> Result<(), CtlError> {
    dbg_line!(trace, "sending results");
    ctl.send("results", &wire::encode_stat(stat), to)?;
    if let Some(r) = report {
        ctl.send("qperf-rs results", r, to)?;
    }
    dbg_line!(trace, "waiting for synchronization after test");
    let got = ctl.recv("synchronization after test", wire::SYNC_AFTER.len(), to)?;
    if got != wire::SYNC_AFTER {
        return Err(local(
            "synchronize synchronization after test failure: data does not match",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{FakeClock, SharedClock};
    use crate::control::Side;
    use std::net::{TcpListener, TcpStream};
    use std::sync::Arc;

    /// Accepts a data connection nobody makes, with the REQ timeout
    /// `timeout` (seconds) and every timeout decided on `clock`; the answer
    /// within 30 s (real time), and the client end of the control
    /// connection (`close_ctl`: closed before the accept).
    fn accept_nothing(clock: SharedClock, timeout: u32, close_ctl: bool) -> CtlError {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let ctx = Ctx {
                cfg: ServerConfig {
                    listen_port: 0,
                    loc_timeout_secs: 5,
                    debug: false,
                },
                shared: Arc::default(),
                listener: Arc::new(super::super::bind(0).unwrap()),
                clock: clock.clone(),
                output: super::super::Output::stdio(),
                trace: Trace::off(),
            };
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
            let mut ctl = Control::with_clock(l.accept().unwrap().0, Side::Server, clock).unwrap();
            if close_ctl {
                drop(client);
            }
            let mut t = Test {
                ctl: &mut ctl,
                trace: Trace::off(),
                timeout,
                ctx: &ctx,
                report: None,
            };
            let ep = sock::server_endpoint(Net::Tcp, 0, 0).unwrap();
            let deadline = t.accept_deadline();
            let _ = tx.send(t.accept(&ep, Net::Tcp, deadline).err());
        });
        rx.recv_timeout(Duration::from_secs(30))
            .expect("the accept did not follow its clock")
            .expect("nobody connected, yet accepted")
    }

    #[test]
    fn the_data_accept_times_out_on_the_clock() {
        // A REQ timeout of an hour on a clock that moves 2 h per read.
        let clock = Arc::new(FakeClock::new(Duration::from_secs(7200)));
        assert_eq!(
            accept_nothing(clock, 3600, false),
            local("failed to accept TCP connection: timed out")
        );
    }

    #[test]
    fn the_data_accept_gives_up_when_the_client_has_gone() {
        let clock = Arc::new(FakeClock::new(Duration::from_millis(1)));
        assert_eq!(
            accept_nothing(clock, 3600, true),
            local("failed to accept TCP connection: client not responding")
        );
    }
}
