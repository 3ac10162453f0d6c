//! The qperf server (spec §1, §4.4–4.13, §9.2/9.3): listens on `[::]:port`,
//! serves one control connection (one test) at a time, and answers with
//! STAT or CONF.  Stock forks a child per test; we serve in-process, which
//! keeps the same strictly serial behaviour, and we add the hardening of
//! §9.2/9.3: every wait is bounded, hostile REQ values are refused with a
//! clear error, and the next client is served after any misbehaving one.

mod classify;
mod ext;
mod pin;
mod rds;
mod session;
mod single;

use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

use crate::clock::{self, SharedClock};
use crate::control::{Control, CtlError, Side};
use crate::dbg_line;
use crate::debug::{self, Sink, Trace};
use crate::sys::{self, strerror};
use session::Test;

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
    /// `Some` while a test waits for its data connection on the listen
    /// socket (single-port mode): the accept loop parks new connections
    /// here for that test to classify instead of serving them.
    lobby: Mutex<Option<Vec<single::Arrival>>>,
}

/// Runs the server until a `quit` request; returns the process exit code.
///
/// Stock forks one child per connection and waits for it before accepting
/// the next.  We accept at once and read each REQ on its own thread (so a
/// slow or silent peer cannot delay the others), but run the tests
/// themselves strictly one at a time under a lock, so measurements never
/// overlap.
pub fn serve(cfg: &ServerConfig) -> i32 {
    let output = Output::stdio();
    match bind(cfg.listen_port) {
        Ok(listener) => serve_with(cfg, listener, clock::system(), output),
        Err(msg) => {
            output.say(&msg);
            1
        }
    }
}

/// Where the server writes: its messages on `out` (stock prints them on
/// stdout, flushed at once), the `-D` trace and the client's errors (with
/// `-D`) on `err`.  Connection threads share them, one line at a time.
#[derive(Clone)]
pub struct Output {
    pub out: Sink,
    pub err: Sink,
}

impl Output {
    /// stdout and stderr, as stock.
    pub fn stdio() -> Output {
        Output {
            out: Arc::new(Mutex::new(std::io::stdout())),
            err: debug::stderr_sink(),
        }
    }

    /// Prints a server message right away.
    fn say(&self, msg: &str) {
        debug::write_line(&self.out, format_args!("{msg}"));
    }
}

/// [`serve`] on a listener bound already (e.g. [`bind`] to port 0 in
/// tests: no race for a free port); `cfg.listen_port` is not used.
pub fn serve_on(cfg: &ServerConfig, listener: TcpListener) -> i32 {
    serve_with(cfg, listener, clock::system(), Output::stdio())
}

/// [`serve_on`] deciding every timeout on `clock`, writing to `output`.
pub fn serve_with(
    cfg: &ServerConfig,
    listener: TcpListener,
    clock: SharedClock,
    output: Output,
) -> i32 {
    if let Err(e) = listener.set_nonblocking(true) {
        output.say(&format!("listen failed: {}", strerror(&e)));
        return 1;
    }
    let trace = if cfg.debug {
        Trace::to(output.err.clone())
    } else {
        Trace::off()
    };
    dbg_line!(trace, "ready for requests");
    let shared = Arc::new(Shared::default());
    let ctx = Ctx {
        cfg: cfg.clone(),
        shared: shared.clone(),
        listener: Arc::new(listener),
        clock,
        output,
        trace,
    };
    let listener = ctx.listener.clone();
    loop {
        if shared.quit.load(Ordering::SeqCst) {
            return 0;
        }
        if shared.in_flight.load(Ordering::SeqCst) >= MAX_IN_FLIGHT {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        if sys::poll(&mut [sys::pollfd(listener.as_raw_fd(), libc::POLLIN)], 100) <= 0 {
            continue;
        }
        // Accept under the lobby lock, so a waiting test that takes the
        // lobby sees every connection accepted so far (none in between).
        let mut lobby = shared.lobby.lock().unwrap_or_else(|e| e.into_inner());
        let (stream, peer) = match listener.accept() {
            Ok(a) => a,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => {
                drop(lobby);
                ctx.output.say(&format!("accept failed: {}", strerror(&e)));
                continue;
            }
        };
        if let Some(parked) = lobby.as_mut() {
            parked.push(single::Arrival::new(stream, peer, ctx.clock.now()));
            continue;
        }
        drop(lobby);
        spawn_conn(&ctx, stream);
    }
}

/// What a connection thread needs besides its stream.
#[derive(Clone)]
struct Ctx {
    cfg: ServerConfig,
    shared: Arc<Shared>,
    listener: Arc<TcpListener>,
    /// Every timeout of the server is decided on this clock.
    clock: SharedClock,
    output: Output,
    /// The `-D` trace (on `output.err`) or off.
    trace: Trace,
}

/// Serves control connection `stream` on its own thread.
fn spawn_conn(ctx: &Ctx, stream: TcpStream) {
    let ctx2 = ctx.clone();
    ctx.shared.in_flight.fetch_add(1, Ordering::SeqCst);
    let spawned = std::thread::Builder::new()
        .name("qperf-conn".into())
        .spawn(move || {
            let ctx = ctx2;
            let quit = std::panic::catch_unwind(|| serve_one(&ctx, stream)).unwrap_or(false);
            if quit {
                ctx.shared.quit.store(true, Ordering::SeqCst);
            } else {
                dbg_line!(ctx.trace, "ready for requests");
            }
            ctx.shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    if spawned.is_err() {
        ctx.shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Binds and listens on `[::]:port` (dual-stack, like stock), with stock's
/// error texts.
pub fn bind(port: u16) -> Result<TcpListener, String> {
    let fail = || "unable to bind to listen port".to_string();
    let s = Socket::new(Domain::IPV6, Type::STREAM, None).map_err(|_| fail())?;
    s.set_reuse_address(true).map_err(|_| fail())?;
    let addr = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0));
    s.bind(&addr.into()).map_err(|_| fail())?;
    s.listen(5)
        .map_err(|e| format!("listen failed: {}", strerror(&e)))?;
    Ok(s.into())
}

/// One test on one control connection.  Returns true for `quit`.
fn serve_one(ctx: &Ctx, stream: TcpStream) -> bool {
    let cfg = &ctx.cfg;
    if stream.set_nonblocking(false).is_err() {
        return false;
    }
    let Ok(mut ctl) = Control::with_clock(stream, Side::Server, ctx.clock.clone()) else {
        return false;
    };
    let mut t = Test {
        ctl: &mut ctl,
        trace: ctx.trace.clone(),
        timeout: 0,
        ctx,
        report: None,
    };
    let result = t.read_req(cfg).and_then(|req| {
        let _guard = ctx
            .shared
            .test_slot
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        t.run(&req)
    });
    match result {
        Ok(quit) => quit,
        Err(CtlError::Local(msg)) => {
            ctx.output.say(&msg);
            t.ctl.send_error_linger(&msg, ERROR_LINGER);
            false
        }
        Err(CtlError::Peer(msg)) => {
            if cfg.debug {
                debug::write_line(&ctx.output.err, format_args!("client: {msg}"));
            }
            false
        }
        Err(CtlError::PeerFailure) => {
            if cfg.debug {
                debug::write_line(&ctx.output.err, format_args!("client failure"));
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{self, Outcome, Target};
    use crate::datapath::PANIC_MSG_SIZE;
    use crate::proto::Req;
    use crate::tests_table;

    fn req(test: &str, msg_size: u32) -> Req {
        let t = tests_table::find(test).unwrap();
        Req {
            ver_maj: 0,
            ver_min: 4,
            ver_inc: 11,
            req_index: t.index(),
            msg_size,
            time: 1,
            timeout: 5,
            ..Req::default()
        }
    }

    /// Our server on a port of its own (bound here) on its own thread.
    fn start(debug: bool, output: Output) -> (Target, std::thread::JoinHandle<i32>) {
        let listener = bind(0).unwrap();
        let port = listener.local_addr().unwrap().port();
        let cfg = ServerConfig {
            listen_port: 0,
            loc_timeout_secs: 5,
            debug,
        };
        let server =
            std::thread::spawn(move || serve_with(&cfg, listener, clock::system(), output));
        let target = Target {
            host: "127.0.0.1".into(),
            listen_port: port,
            wait_secs: 5,
            debug: false,
            single_port: false,
        };
        (target, server)
    }

    /// Stops the server with `quit`; its exit code.
    fn quit(target: &Target, server: std::thread::JoinHandle<i32>) -> i32 {
        let quit = req("quit", 0);
        assert!(matches!(
            client::run_test(target, &quit, &quit),
            Ok(Outcome::Quit)
        ));
        server.join().unwrap()
    }

    #[test]
    fn messages_and_the_trace_go_to_the_output() {
        let out = Arc::new(Mutex::new(Vec::<u8>::new()));
        let err = Arc::new(Mutex::new(Vec::<u8>::new()));
        let output = Output {
            out: out.clone(),
            err: err.clone(),
        };
        let (target, server) = start(true, output);
        let bad = req("tcp_bw", 0);
        let text = format!("bad message size: 0; must be between 1 and {MAX_MSG_SIZE}");
        assert_eq!(
            client::run_test(&target, &bad, &bad).err(),
            Some(client::ClientError::Remote(text.clone()))
        );
        assert_eq!(quit(&target, server), 0);
        let out = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        assert_eq!(out, format!("{text}\n"));
        let err = String::from_utf8(err.lock().unwrap().clone()).unwrap();
        assert!(
            err.starts_with("ready for requests\nwaiting for request version\n"),
            "{err}"
        );
        assert!(err.contains("received request: tcp_bw\n"), "{err}");
    }

    #[test]
    fn serves_the_next_client_after_a_data_loop_panics() {
        let (target, server) = start(false, Output::stdio());
        let boom = req("tcp_bw", PANIC_MSG_SIZE as u32);
        let r = client::run_test(&target, &boom, &boom);
        assert!(
            matches!(r, Err(client::ClientError::Local(_))),
            "the panicking test cannot succeed: {r:?}"
        );
        let next = req("tcp_lat", 1);
        match client::run_test(&target, &next, &next) {
            Ok(Outcome::Stats { remote, .. }) => {
                assert!(remote.r.msgs > 0 && remote.s.msgs > 0, "{remote:?}")
            }
            other => panic!("the next client was not served: {other:?}"),
        }
        assert_eq!(quit(&target, server), 0);
    }
}
