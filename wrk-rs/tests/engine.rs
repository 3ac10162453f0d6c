//! Engine tests: drive `engine::start_thread` directly against local servers
//! from the test kit and check what wrk would count (wrk.md §2.3–2.10).
//! Every run is bounded (a few hundred ms) and loopback-only.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use testkit::http::HttpTarget;
use testkit::misbehave::{Behavior, MisbehavingServer};
use wrk_rs::engine::{start_thread, EngineConfig, FatalSlot, RateConfig, ThreadResult};
use wrk_rs::script_api::{ScriptFailure, ScriptShape, ThreadScript};

fn get(addr: SocketAddr, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes()
}

fn config(addr: SocketAddr, request: Vec<u8>, connections: usize) -> EngineConfig {
    EngineConfig {
        index: 0,
        addr,
        unix_socket: None,
        tls_server_name: None,
        connections,
        timeout_ms: 2000,
        request: Arc::new(request),
        pipeline: 1,
        rate: None,
        script_shape: None,
    }
}

/// Runs one thread for `ms`, then stops it.
fn run(cfg: EngineConfig, script: Option<Box<dyn ThreadScript>>, ms: u64) -> ThreadResult {
    let stop = Arc::new(AtomicBool::new(false));
    let h = start_thread(cfg, script, stop.clone(), FatalSlot::detached()).expect("thread");
    std::thread::sleep(Duration::from_millis(ms));
    stop.store(true, Ordering::Relaxed);
    h.join()
}

#[test]
fn keep_alive_counts_and_samples() {
    let srv = HttpTarget::start();
    let r = run(config(srv.addr(), get(srv.addr(), "/"), 4), None, 600);
    assert!(r.complete > 100, "complete {}", r.complete);
    assert_eq!(r.errors, Default::default());
    // One latency sample per completed batch (minus those in flight).
    assert_eq!(r.latency.count(), r.complete);
    assert!(
        r.requests.count() >= 3,
        "rate samples {}",
        r.requests.count()
    );
    assert!(r.bytes > r.complete * 19);
    // Keep-alive: 4 connections served everything.
    assert_eq!(srv.connections(), 4);
    assert!(srv.requests() >= r.complete);
}

#[test]
fn status_errors_above_399() {
    let srv = MisbehavingServer::start(Behavior::NotFound);
    let r = run(config(srv.addr(), get(srv.addr(), "/"), 2), None, 300);
    assert!(r.complete > 0);
    assert_eq!(r.errors.status, r.complete);
    assert_eq!(r.errors.read + r.errors.write + r.errors.connect, 0);
}

#[test]
fn silent_close_is_read_error_per_response() {
    let srv = MisbehavingServer::start(Behavior::SilentClose);
    let r = run(config(srv.addr(), get(srv.addr(), "/"), 2), None, 400);
    assert!(r.complete > 10, "{:?} {}", r.errors, r.complete);
    // golden/21: read errors ≈ requests (the last in-flight ones aside).
    assert!(
        r.errors.read + 2 >= r.complete && r.errors.read <= r.complete + 2,
        "{:?} {}",
        r.errors,
        r.complete
    );
    assert_eq!(r.errors.connect, 0);
}

#[test]
fn http10_eof_body_counts_and_is_read_error() {
    let srv = MisbehavingServer::start(Behavior::Http10Eof);
    let r = run(config(srv.addr(), get(srv.addr(), "/"), 2), None, 400);
    assert!(r.complete > 10, "{:?} {}", r.errors, r.complete);
    // golden/22: every response is counted AND is a read error.
    assert!(
        r.errors.read.abs_diff(r.complete) <= 2,
        "{:?} {}",
        r.errors,
        r.complete
    );
}

#[test]
fn refused_connects_are_write_errors_not_connect_errors() {
    let dead = testkit::ports::RefusingPort::new();
    let port = dead.port;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let r = run(config(addr, get(addr, "/"), 2), None, 300);
    assert_eq!(r.complete, 0);
    assert_eq!(r.errors.connect, 0);
    assert!(r.errors.write + r.errors.read > 100, "{:?}", r.errors);
}

/// A batch waiting longer than --timeout counts one timeout (as wrk counts a
/// late response) and its connection is replaced (wrk has no request timeout,
/// spec §8 item 5; our chosen difference). Requests still in flight at the
/// end are not errors (golden 38).
#[test]
fn slow_responses_beyond_timeout_are_timeouts() {
    let srv = MisbehavingServer::start(Behavior::SlowResponse(Duration::from_millis(1600)));
    let mut cfg = config(srv.addr(), get(srv.addr(), "/"), 1);
    cfg.timeout_ms = 1000;
    // Aborted at the first tick after 1.1 s, long before the answer.
    let r = run(cfg, None, 1500);
    assert_eq!(r.errors.timeout, 1, "{:?}", r.errors);
    assert_eq!(r.complete, 0);
    assert_eq!(r.latency.count(), 0);
    assert_eq!(r.errors.read + r.errors.write + r.errors.connect, 0);
    assert_eq!(srv.connections(), 2, "aborted connection replaced");
}

#[test]
fn never_answered_requests_are_not_errors() {
    let srv = MisbehavingServer::start(Behavior::NeverRespond);
    let r = run(config(srv.addr(), get(srv.addr(), "/"), 2), None, 300);
    assert_eq!(r.complete, 0);
    assert_eq!(r.errors, Default::default());
}

/// A hung connection is not stuck for the rest of the run: every --timeout
/// it counts one timeout and sends again on a fresh connection.
#[test]
fn hung_connections_time_out_and_reconnect() {
    let srv = MisbehavingServer::start(Behavior::NeverRespond);
    let mut cfg = config(srv.addr(), get(srv.addr(), "/"), 2);
    cfg.timeout_ms = 1000;
    let r = run(cfg, None, 2600);
    // Per connection: aborted at ~1.1–1.2 s and ~2.2–2.4 s (wider range:
    // ticks may be late on a loaded machine).
    assert!(
        (2..=6).contains(&r.errors.timeout),
        "timeouts {:?}",
        r.errors
    );
    assert_eq!(r.errors.read + r.errors.write + r.errors.connect, 0);
    assert_eq!(r.complete, 0);
    assert_eq!(srv.connections(), 2 + r.errors.timeout);
}

/// Responses to HEAD end after their headers even when they announce a body
/// (wrk stalls, spec §8 item 7): static and pipelined batches.
#[test]
fn head_responses_have_no_body() {
    let srv = HttpTarget::start();
    let head = format!("HEAD / HTTP/1.1\r\nHost: {}\r\n\r\n", srv.addr()).into_bytes();
    let r = run(config(srv.addr(), head.clone(), 2), None, 400);
    assert!(r.complete > 10, "complete {} {:?}", r.complete, r.errors);
    assert_eq!(r.errors, Default::default());
    assert_eq!(srv.connections(), 2, "keep-alive after HEAD");

    let srv = HttpTarget::start();
    let mut batch = get(srv.addr(), "/bytes/100");
    batch.extend_from_slice(&head);
    batch.extend(get(srv.addr(), "/bytes/5"));
    batch.extend_from_slice(&head);
    let mut cfg = config(srv.addr(), batch, 2);
    cfg.pipeline = 4;
    let r = run(cfg, None, 400);
    assert!(r.complete > 40, "complete {} {:?}", r.complete, r.errors);
    assert_eq!(r.errors, Default::default());
    assert_eq!(srv.connections(), 2);
}

#[test]
fn pipeline_records_one_latency_per_batch() {
    let srv = HttpTarget::start();
    let one = get(srv.addr(), "/");
    let mut cfg = config(srv.addr(), [one.clone(), one.clone(), one].concat(), 2);
    cfg.pipeline = 3;
    let r = run(cfg, None, 300);
    assert!(r.complete > 30);
    assert_eq!(r.complete % 3, 0);
    assert_eq!(r.latency.count() * 3, r.complete);
}

#[test]
fn rate_mode_paces_total_rate() {
    let srv = HttpTarget::start();
    let mut cfg = config(srv.addr(), get(srv.addr(), "/"), 4);
    cfg.rate = Some(RateConfig {
        total_rate: 400.0,
        total_connections: 4,
        first_connection: 0,
        batch_latency: false,
    });
    let r = run(cfg, None, 1000);
    // 400/s for ~1 s (+ the stop tick).
    assert!((380..=460).contains(&r.complete), "complete {}", r.complete);
    let c = r.corrected.expect("corrected");
    let u = r.uncorrected.expect("uncorrected");
    assert_eq!(c.count(), r.complete);
    assert_eq!(u.count(), r.complete);
    // Idle loopback server: sends on time, so corrected ≈ uncorrected.
    assert!(
        c.percentile(50.0) < 2000,
        "p50 corrected {}",
        c.percentile(50.0)
    );
}

/// What `FakeScript::delay` asks for before each batch but the first.
const DELAY_MS: u64 = 20;

/// A Rust stand-in for a Lua thread state.
struct FakeScript {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
    responses: Arc<AtomicU64>,
    body_bytes: Arc<AtomicU64>,
    delays: Arc<AtomicU64>,
    stop_after: u64,
}

impl ThreadScript for FakeScript {
    fn addr(&self) -> SocketAddr {
        self.addr
    }
    fn validate(&mut self) -> Result<ScriptShape, ScriptFailure> {
        Ok(ScriptShape {
            pipeline: 1,
            dynamic: true,
            delay: true,
            response: true,
        })
    }
    fn request(&mut self, out: &mut Vec<u8>) -> Result<(), ScriptFailure> {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        out.clear();
        out.extend_from_slice(
            format!("GET /bytes/{} HTTP/1.1\r\nHost: x\r\n\r\n", n % 7).as_bytes(),
        );
        Ok(())
    }
    fn delay(&mut self) -> Result<u64, ScriptFailure> {
        self.delays.fetch_add(1, Ordering::Relaxed);
        Ok(DELAY_MS)
    }
    fn response(
        &mut self,
        status: u16,
        headers: &[(&[u8], &[u8])],
        body: &[u8],
    ) -> Result<(), ScriptFailure> {
        assert_eq!(status, 200);
        assert!(!headers.is_empty());
        self.responses.fetch_add(1, Ordering::Relaxed);
        self.body_bytes
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        Ok(())
    }
    fn stop_requested(&self) -> bool {
        self.responses.load(Ordering::Relaxed) >= self.stop_after
    }
}

#[test]
fn script_hooks_request_response_delay_and_stop() {
    let srv = HttpTarget::start();
    let requests = Arc::new(AtomicU64::new(0));
    let responses = Arc::new(AtomicU64::new(0));
    let body_bytes = Arc::new(AtomicU64::new(0));
    let delays = Arc::new(AtomicU64::new(0));
    let script = FakeScript {
        addr: srv.addr(),
        requests: requests.clone(),
        responses: responses.clone(),
        body_bytes: body_bytes.clone(),
        delays: delays.clone(),
        stop_after: 20,
    };
    let mut cfg = config(srv.addr(), Vec::new(), 1);
    cfg.script_shape = Some(ScriptShape {
        pipeline: 1,
        dynamic: true,
        delay: true,
        response: true,
    });
    let stop = Arc::new(AtomicBool::new(false));
    let started = std::time::Instant::now();
    // thread:stop() ends the thread by itself, without the stop flag.
    let r = start_thread(cfg, Some(Box::new(script)), stop, FatalSlot::detached())
        .expect("thread")
        .join();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(r.complete, 20);
    assert_eq!(responses.load(Ordering::Relaxed), 20);
    assert_eq!(requests.load(Ordering::Relaxed), 20);
    // Delay before every batch but the first.
    assert_eq!(delays.load(Ordering::Relaxed), 19);
    // Bodies of /bytes/0..6: sum over 20 requests of n % 7.
    let expect: u64 = (0..20u64).map(|n| n % 7).sum();
    assert_eq!(body_bytes.load(Ordering::Relaxed), expect);
    // Latency excludes the delays: were they included, every sample would
    // be ≥ 20 ms (on a loaded machine single samples may be, not all).
    assert!(r.latency.count() >= 19, "{}", r.latency.count());
    assert!(
        r.latency.min() < DELAY_MS * 1000,
        "min latency {} µs",
        r.latency.min()
    );
    assert!(r.script.is_some());
}

#[test]
fn connection_close_reconnects_without_errors() {
    let srv = HttpTarget::start();
    let req = format!(
        "GET / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        srv.addr()
    );
    let r = run(config(srv.addr(), req.into_bytes(), 2), None, 400);
    assert!(r.complete > 10, "{:?} {}", r.errors, r.complete);
    assert_eq!(r.errors, Default::default());
    // One connection per response (plus the ones open at the end).
    assert!(
        srv.connections() >= r.complete,
        "{} conns for {}",
        srv.connections(),
        r.complete
    );
}

#[test]
fn tls_against_nginx() {
    let Some(ngx) = testkit::nginx::Nginx::start(testkit::nginx::Options {
        tls: true,
        ..Default::default()
    }) else {
        return;
    };
    let addr = ngx.https_addr().expect("https listener");
    let mut cfg = config(addr, get(addr, "/"), 2);
    cfg.tls_server_name = Some("localhost".to_string());
    let r = run(cfg, None, 500);
    assert!(r.complete > 10, "{:?} {}", r.errors, r.complete);
    assert_eq!(
        r.errors.connect + r.errors.read + r.errors.write,
        0,
        "{:?}",
        r.errors
    );
    // An IP literal as the server name works too (no SNI then).
    let mut cfg = config(addr, get(addr, "/"), 1);
    cfg.tls_server_name = Some(addr.ip().to_string());
    let r = run(cfg, None, 300);
    assert!(r.complete > 0, "{:?}", r.errors);
}

#[test]
fn tls_handshake_failure_is_connect_error() {
    // A server resetting every connection: the handshake fails every time,
    // counted as connect errors (golden/24), never read/write errors.
    let srv = MisbehavingServer::start(Behavior::Reset);
    let mut cfg = config(srv.addr(), get(srv.addr(), "/"), 1);
    cfg.tls_server_name = Some("localhost".to_string());
    let r = run(cfg, None, 300);
    assert_eq!(r.complete, 0);
    assert!(r.errors.connect > 5, "{:?}", r.errors);
    assert_eq!(r.errors.read + r.errors.write, 0, "{:?}", r.errors);
}

/// Precise timers: the send lag (corrected − uncorrected p50) stays well
/// under wrk2's ~1 ms timer granularity. A loaded machine can delay any
/// timer by a scheduler slice, so the best of three short runs counts
/// (ms-granular timers would fail all three).
#[test]
fn rate_mode_sends_on_time() {
    let mut lags = Vec::new();
    for _ in 0..3 {
        let srv = HttpTarget::start();
        let mut cfg = config(srv.addr(), get(srv.addr(), "/"), 2);
        cfg.rate = Some(RateConfig {
            total_rate: 1000.0,
            total_connections: 2,
            first_connection: 0,
            batch_latency: false,
        });
        let r = run(cfg, None, 700);
        let c = r.corrected.expect("corrected");
        let u = r.uncorrected.expect("uncorrected");
        let lag = c.percentile(50.0).saturating_sub(u.percentile(50.0));
        eprintln!(
            "p50 corrected {} uncorrected {} lag {lag}",
            c.percentile(50.0),
            u.percentile(50.0)
        );
        lags.push(lag);
        if lag < 500 {
            return;
        }
    }
    panic!("send lag µs in three runs: {lags:?}");
}

#[test]
fn ipv6_loopback() {
    if !testkit::ports::ipv6_loopback_available() {
        eprintln!("skipping: no IPv6 loopback");
        return;
    }
    let Ok(srv) = HttpTarget::start_on("[::1]:0".parse().expect("addr")) else {
        eprintln!("skipping: cannot listen on [::1]");
        return;
    };
    let r = run(config(srv.addr(), get(srv.addr(), "/"), 2), None, 300);
    assert!(r.complete > 10, "{:?} {}", r.errors, r.complete);
    assert_eq!(r.errors, Default::default());
}

#[test]
fn large_requests_partial_writes_plain_and_tls() {
    let body = vec![b'x'; 300 * 1024];
    let post = |addr: SocketAddr| {
        let mut r = format!(
            "POST /echo HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        r.extend_from_slice(&body);
        r
    };
    // Plain: the echo server returns the body; every byte must arrive.
    let srv = HttpTarget::start();
    let r = run(config(srv.addr(), post(srv.addr()), 2), None, 500);
    assert!(r.complete > 5, "{:?} {}", r.errors, r.complete);
    assert_eq!(r.errors, Default::default());
    assert!(r.bytes >= r.complete * body.len() as u64);
    // TLS: larger than rustls' plaintext buffer (64 KiB), so writes resume
    // on writability. nginx answers POST to a static file with 405.
    let Some(ngx) = testkit::nginx::Nginx::start(testkit::nginx::Options {
        tls: true,
        ..Default::default()
    }) else {
        return;
    };
    let addr = ngx.https_addr().expect("https listener");
    let mut cfg = config(addr, post(addr), 2);
    cfg.tls_server_name = Some("localhost".to_string());
    let r = run(cfg, None, 800);
    assert!(r.complete > 5, "{:?} {}", r.errors, r.complete);
    assert_eq!(
        r.errors.connect + r.errors.read + r.errors.write,
        0,
        "{:?}",
        r.errors
    );
}

#[test]
fn stops_at_next_tick_with_ten_samples_per_second() {
    let srv = HttpTarget::start();
    let stop = Arc::new(AtomicBool::new(false));
    let h = start_thread(
        config(srv.addr(), get(srv.addr(), "/"), 2),
        None,
        stop.clone(),
        FatalSlot::detached(),
    )
    .expect("thread");
    std::thread::sleep(Duration::from_millis(1000));
    let asked = std::time::Instant::now();
    stop.store(true, Ordering::Relaxed);
    let r = h.join();
    let took = asked.elapsed();
    // The flag is seen at the next 100 ms tick (slack for a loaded machine).
    assert!(took < Duration::from_millis(600), "stop took {took:?}");
    // One Req/Sec sample per 100 ms tick with responses: ~10 in 1 s.
    assert!(
        (7..=12).contains(&r.requests.count()),
        "samples {}",
        r.requests.count()
    );
}

/// A tiny server answering every request with `reply`, then closing the
/// connection if `close`. Stops (and its threads end) when dropped.
struct Canned {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Canned {
    fn start(reply: &'static [u8], close: bool) -> Canned {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let requests = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (req2, stop2) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                let Ok((mut s, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                };
                let (req3, stop3) = (req2.clone(), stop2.clone());
                std::thread::spawn(move || {
                    let _ = s.set_nonblocking(false);
                    let _ = s.set_read_timeout(Some(Duration::from_millis(50)));
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !stop3.load(Ordering::Relaxed) {
                        match s.read(&mut chunk) {
                            Ok(0) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            Err(_) => continue,
                        }
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            buf.drain(..end + 4);
                            req3.fetch_add(1, Ordering::Relaxed);
                            if s.write_all(reply).is_err() || close {
                                return;
                            }
                        }
                    }
                });
            }
        });
        Canned {
            addr,
            requests,
            stop,
        }
    }
}

impl Drop for Canned {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[test]
fn interim_100_counts_as_a_response() {
    let srv = Canned::start(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        false,
    );
    let r = run(config(srv.addr, get(srv.addr, "/"), 1), None, 300);
    let served = srv.requests.load(Ordering::Relaxed);
    assert!(served > 10, "served {served}");
    // wrk: every response counts, the 100 included (twice the requests).
    assert!(
        r.complete.abs_diff(2 * served) <= 2,
        "complete {} served {served}",
        r.complete
    );
    assert_eq!(r.errors, Default::default());
}

#[test]
fn bytes_after_a_closing_response_are_a_read_error() {
    let srv = Canned::start(
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nokJUNK",
        true,
    );
    let r = run(config(srv.addr, get(srv.addr, "/"), 1), None, 300);
    assert!(r.complete > 5, "{:?} {}", r.errors, r.complete);
    // Each response completes, then the extra bytes are a parse error.
    assert!(
        r.errors.read.abs_diff(r.complete) <= 1,
        "{:?} {}",
        r.errors,
        r.complete
    );
    assert_eq!(r.errors.connect + r.errors.write, 0);
}

#[test]
fn tls_connection_close_reconnects_cleanly() {
    let Some(ngx) = testkit::nginx::Nginx::start(testkit::nginx::Options {
        tls: true,
        ..Default::default()
    }) else {
        return;
    };
    let addr = ngx.https_addr().expect("https listener");
    let req = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut cfg = config(addr, req.into_bytes(), 2);
    cfg.tls_server_name = Some("localhost".to_string());
    let r = run(cfg, None, 600);
    // A handshake per request; close_notify on our side, no errors counted.
    assert!(r.complete > 5, "{:?} {}", r.errors, r.complete);
    assert_eq!(
        r.errors.connect + r.errors.read + r.errors.write,
        0,
        "{:?}",
        r.errors
    );
}

/// wrk2's `-B`: with a pipeline of 3 the HdrHistograms get one sample per
/// batch instead of one per response.
#[test]
fn batch_latency_records_once_per_batch() {
    for batch_latency in [false, true] {
        let srv = HttpTarget::start();
        let one = get(srv.addr(), "/");
        let mut cfg = config(srv.addr(), one.repeat(3), 2);
        cfg.pipeline = 3;
        cfg.rate = Some(RateConfig {
            total_rate: 600.0,
            total_connections: 2,
            first_connection: 0,
            batch_latency,
        });
        let r = run(cfg, None, 600);
        assert!(r.complete >= 150, "complete {}", r.complete);
        let (c, u) = (r.corrected.unwrap(), r.uncorrected.unwrap());
        assert_eq!(c.count(), u.count());
        // Responses of a batch still in flight at the stop are not all in.
        if batch_latency {
            assert!(
                c.count().abs_diff(r.complete / 3) <= 2,
                "{} {}",
                c.count(),
                r.complete
            );
        } else {
            assert_eq!(c.count(), r.complete);
        }
    }
}
