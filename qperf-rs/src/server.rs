//! The qperf server (spec §1, §4.4–4.13, §9.2/9.3): listens on `[::]:port`,
//! serves one control connection (one test) at a time, and answers with
//! STAT or CONF.  Stock forks a child per test; we serve in-process, which
//! keeps the same strictly serial behaviour, and we add the hardening of
//! §9.2/9.3: every wait is bounded, hostile REQ values are refused with a
//! clear error, and the next client is served after any misbehaving one.

use std::io::Write;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use crate::control::{strerror, Control, CtlError, Side};
use crate::datapath::{self, sock, sock::Net, Pattern, Role, Spec};
use crate::debug::Trace;
use crate::proto::{Req, Stat};
use crate::tests_table::{self, Transport};
use crate::{conf, cpu, dbg_line, wire};

/// Server settings from the command line.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// `-lp` listen port (stock default 19765).
    pub listen_port: u16,
    /// `-lt` local timeout in seconds (0 means the default 5).
    pub loc_timeout_secs: u32,
    /// `-D` debug trace.
    pub debug: bool,
}

/// Largest message size we accept (stock trusts any value; §9.3).
pub const MAX_MSG_SIZE: u32 = 1 << 30;
/// Upper bound for every server-side wait after the REQ (our hardening:
/// stock waits REQ.timeout, and forever in the data-port accept).  A peer
/// that answers promptly never notices; a silent one holds the test slot at
/// most this long (+ [`ERROR_LINGER`]), less than a queued stock client's
/// default 5 s wait for its port.
pub const MAX_WAIT_SECS: u32 = 3;
/// How long we wait for the peer to close after sending it our error.
pub const ERROR_LINGER: Duration = Duration::from_secs(1);
/// How long an RDMA request waits for the client's own error first.
const RDMA_GRACE: Duration = Duration::from_millis(500);
/// Connections whose REQ is being read or which wait for the test slot.
const MAX_IN_FLIGHT: usize = 32;

/// State shared by the accept loop and the connection threads.
#[derive(Default)]
struct Shared {
    quit: AtomicBool,
    /// Held while a test runs: tests are strictly one at a time, as in stock.
    test_slot: Mutex<()>,
    in_flight: AtomicUsize,
}

/// Runs the server until a `quit` request; returns the process exit code.
///
/// Stock forks one child per connection and waits for it before accepting
/// the next.  We accept at once and read each REQ on its own thread (so a
/// slow or silent peer cannot delay the others), but run the tests
/// themselves strictly one at a time under a lock, so measurements never
/// overlap.
pub fn serve(cfg: &ServerConfig) -> i32 {
    let trace = Trace(cfg.debug);
    let listener = match listen(cfg.listen_port) {
        Ok(l) => l,
        Err(msg) => {
            say(&msg);
            return 1;
        }
    };
    dbg_line!(trace, "ready for requests");
    let shared = Arc::new(Shared::default());
    loop {
        if shared.quit.load(Ordering::SeqCst) {
            return 0;
        }
        if shared.in_flight.load(Ordering::SeqCst) >= MAX_IN_FLIGHT {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        let mut p = libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut p, 1, 100) } <= 0 {
            continue;
        }
        let stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => {
                say(&format!("accept failed: {}", strerror(&e)));
                continue;
            }
        };
        let (cfg, sh) = (cfg.clone(), shared.clone());
        sh.in_flight.fetch_add(1, Ordering::SeqCst);
        let spawned = std::thread::Builder::new()
            .name("qperf-conn".into())
            .spawn(move || {
                let quit = std::panic::catch_unwind(|| serve_one(&cfg, stream, &sh.test_slot))
                    .unwrap_or(false);
                if quit {
                    sh.quit.store(true, Ordering::SeqCst);
                } else {
                    dbg_line!(Trace(cfg.debug), "ready for requests");
                }
                sh.in_flight.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Prints a server message on stdout (stock's error stream) right away.
fn say(msg: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{msg}");
    let _ = out.flush();
}

fn listen(port: u16) -> Result<TcpListener, String> {
    let fail = || "unable to bind to listen port".to_string();
    let s = Socket::new(Domain::IPV6, Type::STREAM, None).map_err(|_| fail())?;
    s.set_reuse_address(true).map_err(|_| fail())?;
    let addr = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0));
    s.bind(&addr.into()).map_err(|_| fail())?;
    s.listen(5)
        .map_err(|e| format!("listen failed: {}", strerror(&e)))?;
    s.set_nonblocking(true).map_err(|_| fail())?;
    Ok(s.into())
}

/// One test on one control connection.  Returns true for `quit`.
fn serve_one(cfg: &ServerConfig, stream: TcpStream, slot: &Mutex<()>) -> bool {
    let trace = Trace(cfg.debug);
    if stream.set_nonblocking(false).is_err() {
        return false;
    }
    let Ok(mut ctl) = Control::new(stream, Side::Server) else {
        return false;
    };
    let mut t = Test {
        ctl: &mut ctl,
        trace,
        timeout: 0,
    };
    let result = t.read_req(cfg).and_then(|req| {
        let _guard = slot.lock().unwrap_or_else(|e| e.into_inner());
        t.run(&req)
    });
    match result {
        Ok(quit) => quit,
        Err(CtlError::Local(msg)) => {
            say(&msg);
            t.ctl.send_error_linger(&msg, ERROR_LINGER);
            false
        }
        Err(CtlError::Peer(msg)) => {
            if cfg.debug {
                let _ = writeln!(std::io::stderr(), "client: {msg}");
            }
            false
        }
    }
}

struct Test<'a> {
    ctl: &'a mut Control,
    trace: Trace,
    /// Bounded REQ timeout for control messages after the REQ.
    timeout: u32,
}

fn local(msg: impl Into<String>) -> CtlError {
    CtlError::Local(msg.into())
}

impl Test<'_> {
    /// Reads and checks the REQ (version first, then the rest, §4.4).
    fn read_req(&mut self, cfg: &ServerConfig) -> Result<Req, CtlError> {
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
    fn run(&mut self, req: &Req) -> Result<bool, CtlError> {
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
                self.ctl.drain(Instant::now() + Duration::from_millis(100));
                Ok(true)
            }
            Transport::Tcp => self.socket_test(req, Net::Tcp, test.name),
            Transport::Udp => self.socket_test(req, Net::Udp, test.name),
            Transport::Sctp => self.socket_test(req, Net::Sctp, test.name),
            Transport::Sdp => self.socket_test(req, Net::Sdp, test.name),
            Transport::Rds => {
                datapath::rds::server_hosts(self.ctl, self.timeout)?;
                datapath::rds::rds_socket().map(|()| false)
            }
            _ => {
                // A client without a device fails at once and tells us; a
                // stock server is slower to fail than that (it opens the
                // verbs library first), so the client's own error is what
                // its user sees (golden rdma_no_device).  Keep that order.
                if let Some(e) = self.ctl.wait_peer_error(RDMA_GRACE) {
                    return Err(e);
                }
                Err(local(rdma_error(req)))
            }
        }
    }

    /// Refuses REQ values that would wedge or exhaust us (§9.3).
    fn validate(req: &Req, net: Net) -> Result<(), CtlError> {
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
        Self::validate(req, net)?;
        let ep = sock::server_endpoint(net, req.port as u16, req.sock_buf_size).map_err(local)?;
        let port = sock::local_port(&ep);
        dbg_line!(self.trace, "sending port");
        self.ctl
            .send("port", &wire::encode_port(u32::from(port)), self.timeout)?;
        let data = if net.is_stream() {
            let s = self.accept(&ep, net)?;
            sock::set_buf_size(&s, req.sock_buf_size).map_err(local)?;
            drop(ep);
            dbg_line!(self.trace, "accepted {} connection", net.name());
            s
        } else {
            ep
        };
        dbg_line!(self.trace, "receiving to {} port {}", net.name(), port);
        // A silent peer must not hold us: bound every blocking data read.
        sock::set_idle_timeout(&data, Duration::from_secs(u64::from(MAX_WAIT_SECS)));
        dbg_line!(self.trace, "sending synchronization before test");
        dbg_line!(self.trace, "waiting for synchronization before test");
        self.ctl.sync_before(self.timeout)?;
        dbg_line!(self.trace, "synchronization complete");
        let pattern = if name.ends_with("_lat") {
            Pattern::Lat
        } else {
            Pattern::Bw
        };
        let spec = Spec {
            net,
            pattern,
            role: Role::Server,
            msg_size: req.msg_size as usize,
            time: req.time,
            access_recv: req.access_recv != 0,
            ctl_fd: Some(self.ctl.stream().as_raw_fd()),
        };
        dbg_line!(self.trace, "starting timer for {} seconds", req.time);
        let m = datapath::run(&spec, data.as_raw_fd());
        dbg_line!(self.trace, "stopping timer");
        if m.idle {
            // Our hardening: a peer silent for MAX_WAIT_SECS mid-test is gone.
            return Err(local("failed to receive data: client not responding"));
        }
        let stat = Stat {
            no_cpus: cpu::online_cpus(),
            no_ticks: cpu::ticks_per_sec(),
            time_s: m.time_s,
            time_e: m.time_e,
            s: m.s,
            r: m.r,
            ..Stat::default()
        };
        dbg_line!(self.trace, "sending results");
        self.ctl
            .send("results", &wire::encode_stat(&stat), self.timeout)?;
        dbg_line!(self.trace, "waiting for synchronization after test");
        let got = self.ctl.recv(
            "synchronization after test",
            wire::SYNC_AFTER.len(),
            self.timeout,
        )?;
        if got != wire::SYNC_AFTER {
            return Err(local(
                "synchronize synchronization after test failure: data does not match",
            ));
        }
        drop(data);
        Ok(false)
    }

    /// Accepts the data connection, bounded in time, giving up early when
    /// the client reports an error or closes the control connection.
    fn accept(&mut self, ep: &Socket, net: Net) -> Result<Socket, CtlError> {
        let deadline = Instant::now() + Duration::from_secs(u64::from(self.timeout.max(1)));
        let mut fds = [
            libc::pollfd {
                fd: ep.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.ctl.stream().as_raw_fd(),
                events: libc::POLLIN | libc::POLLPRI,
                revents: 0,
            },
        ];
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(local(format!(
                    "failed to accept {} connection: timed out",
                    net.name()
                )));
            }
            let ms = (deadline - now).as_millis().clamp(1, 60_000) as i32;
            // SAFETY: two valid pollfds.
            let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
            if r <= 0 {
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

/// The error of an RDMA test on a build/host without InfiniBand (§4.14).
pub fn rdma_error(req: &Req) -> String {
    if req.use_cm == 0 && ![256, 512, 1024, 2048, 4096].contains(&req.mtu_size) {
        return format!("bad MTU: {}; must be 256/512/1K/2K/4K", req.mtu_size);
    }
    "failed to find any InfiniBand devices: Function not implemented".into()
}

/// CPU pinning of the serving thread for one test (REQ.affinity), undone on drop.
struct Pin(Option<libc::cpu_set_t>);

impl Pin {
    fn apply(affinity: u32) -> Result<Pin, CtlError> {
        if affinity == 0 {
            return Ok(Pin(None));
        }
        let cpu = affinity - 1;
        // SAFETY: cpu_set_t is plain old data; the calls get valid pointers.
        unsafe {
            let mut old: libc::cpu_set_t = std::mem::zeroed();
            libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut old);
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            let ok = (cpu as usize) < 8 * std::mem::size_of::<libc::cpu_set_t>() && {
                libc::CPU_SET(cpu as usize, &mut set);
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
            };
            if !ok {
                return Err(local(format!(
                    "cannot set processor affinity (cpu {cpu}): Invalid argument"
                )));
            }
            Ok(Pin(Some(old)))
        }
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        if let Some(old) = self.0 {
            // SAFETY: restoring a mask obtained from sched_getaffinity.
            unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &old) };
        }
    }
}
