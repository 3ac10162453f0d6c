//! The connection policy under a virtual clock: no sockets, no sleeps.

use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::Arc;

use super::*;
use crate::script_api::ScriptShape;

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";

/// A clock the test moves by hand.
#[derive(Default)]
struct Virtual(Cell<u64>);

impl Clock for Virtual {
    fn now_us(&self) -> u64 {
        self.0.get()
    }
}

/// A plain-Rust script: counts calls, can fail or advance the clock.
#[derive(Default)]
struct Script {
    requests: u32,
    delays: u32,
    responses: Vec<(u16, Vec<u8>)>,
    delay_ms: u64,
    fail_request_at: Option<u32>,
    stop: bool,
}

impl ThreadScript for Script {
    fn addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], 80).into()
    }
    fn validate(&mut self) -> Result<ScriptShape, ScriptFailure> {
        unreachable!("not called by the machine")
    }
    fn request(&mut self, out: &mut Vec<u8>) -> Result<(), ScriptFailure> {
        self.requests += 1;
        if self.fail_request_at == Some(self.requests) {
            return Err(ScriptFailure {
                message: "PANIC: boom".into(),
                exit_code: 1,
            });
        }
        out.clear();
        out.extend_from_slice(if self.requests.is_multiple_of(2) {
            b"HEAD / HTTP/1.1\r\n\r\n"
        } else {
            GET
        });
        Ok(())
    }
    fn delay(&mut self) -> Result<u64, ScriptFailure> {
        self.delays += 1;
        Ok(self.delay_ms)
    }
    fn response(
        &mut self,
        status: u16,
        _headers: &[(&[u8], &[u8])],
        body: &[u8],
    ) -> Result<(), ScriptFailure> {
        self.responses.push((status, body.to_vec()));
        Ok(())
    }
    fn stop_requested(&self) -> bool {
        self.stop
    }
}

/// One connection under test with its thread's policy and tally.
struct Rig {
    m: Machine,
    policy: Policy,
    tally: Tally,
    clock: Virtual,
    script: Option<Box<dyn ThreadScript>>,
}

impl Rig {
    fn new(request: &[u8], pipeline: usize, timeout_ms: u64) -> Rig {
        let policy = Policy::new(Arc::new(request.to_vec()), pipeline, timeout_ms);
        Rig {
            m: Machine::new(false, None),
            tally: Tally::new(policy.timeout_us, false, 0),
            policy,
            clock: Virtual::default(),
            script: None,
        }
    }

    fn at(&mut self, us: u64) -> &mut Rig {
        self.clock.0.set(us);
        self
    }

    fn feed(&mut self, ev: Event<'_>) -> Action {
        self.try_feed(ev).expect("no script failure")
    }

    fn try_feed(&mut self, ev: Event<'_>) -> Result<Action, ScriptFailure> {
        let mut env = Env {
            policy: &self.policy,
            tally: &mut self.tally,
            script: self.script.as_deref_mut(),
            clock: &self.clock,
        };
        self.m.handle(ev, &mut env)
    }

    /// Writes everything the machine asks for, in one go.
    fn flush(&mut self, mut action: Action) -> (Action, Vec<u8>) {
        let mut wire = Vec::new();
        while action == Action::Send {
            let out = self.m.outgoing(&self.policy).to_vec();
            wire.extend_from_slice(&out);
            action = self.feed(Event::Sent(out.len()));
        }
        (action, wire)
    }

    /// Connected, first batch written.
    fn connect(&mut self) -> Vec<u8> {
        let a = self.feed(Event::Connected);
        let (a, wire) = self.flush(a);
        assert_eq!(a, Action::Idle);
        wire
    }

    fn latencies(&self) -> Vec<u64> {
        self.tally.latency.values().map(|(v, _)| v).collect()
    }
}

#[test]
fn latency_runs_from_the_batch_start_to_its_response() {
    let mut r = Rig::new(GET, 1, 2000);
    r.at(1_000);
    assert_eq!(r.connect(), GET);
    r.at(1_750);
    assert_eq!(r.feed(Event::Received(OK)), Action::Idle);
    assert_eq!(r.tally.complete, 1);
    assert_eq!(r.tally.bytes, OK.len() as u64);
    assert_eq!(r.latencies(), [750]);
    // The next batch starts when the shell says it may send.
    r.at(2_000);
    let a = r.feed(Event::CanSend);
    assert_eq!(r.flush(a).1, GET);
    r.at(2_100);
    r.feed(Event::Received(OK));
    assert_eq!(r.latencies(), [100, 750]);
}

#[test]
fn partial_writes_resume_where_they_stopped() {
    let mut r = Rig::new(GET, 1, 2000);
    assert_eq!(r.feed(Event::Connected), Action::Send);
    assert_eq!(r.feed(Event::Sent(5)), Action::Send);
    assert_eq!(r.m.outgoing(&r.policy), &GET[5..]);
    // A writability event continues the same batch (no new start).
    r.at(500);
    assert_eq!(r.feed(Event::CanSend), Action::Send);
    assert_eq!(r.feed(Event::Sent(GET.len() - 5)), Action::Idle);
    assert!(r.m.outgoing(&r.policy).is_empty());
    r.at(800);
    r.feed(Event::Received(OK));
    assert_eq!(r.latencies(), [800]);
}

#[test]
fn pipelined_batch_is_one_latency_sample_at_its_last_response() {
    let batch: Vec<u8> = GET.repeat(3);
    let mut r = Rig::new(&batch, 3, 2000);
    assert_eq!(r.connect(), batch);
    let three = OK.repeat(3);
    r.at(100);
    r.feed(Event::Received(&three[..10]));
    r.at(200);
    r.feed(Event::Received(&three[10..50]));
    assert_eq!(r.tally.complete, 1);
    assert!(r.latencies().is_empty());
    assert!(!r.m.wants_send());
    r.at(300);
    r.feed(Event::Received(&three[50..]));
    assert_eq!(r.tally.complete, 3);
    assert_eq!(r.latencies(), [300]);
    assert!(r.m.wants_send());
}

#[test]
fn late_batches_count_timeouts_and_hung_ones_reconnect() {
    let mut r = Rig::new(GET, 1, 1);
    r.connect();
    r.at(1_001);
    r.feed(Event::Received(OK));
    assert_eq!(r.tally.errors.timeout, 1);
    assert!(r.latencies().is_empty(), "late latencies are dropped");
    // A batch without an answer: nothing until --timeout + one tick.
    r.at(2_000);
    let a = r.feed(Event::CanSend);
    r.flush(a);
    r.at(2_000 + 1_000 + INTERVAL_US);
    assert_eq!(r.feed(Event::Tick), Action::Idle);
    let generation = r.m.generation();
    r.at(2_001 + 1_000 + INTERVAL_US);
    assert_eq!(r.feed(Event::Tick), Action::Reconnect);
    assert_eq!(r.tally.errors.timeout, 2);
    assert_eq!(r.m.generation(), generation.wrapping_add(1));
    // Idle connections never time out.
    r.connect();
    r.at(10_000_000);
    r.feed(Event::Received(OK));
    assert_eq!(r.feed(Event::Tick), Action::Idle);
}

#[test]
fn zero_timeout_counts_every_response_but_aborts_nothing() {
    let mut r = Rig::new(GET, 1, 0);
    r.connect();
    r.at(10_000_000);
    assert_eq!(r.feed(Event::Tick), Action::Idle);
    r.feed(Event::Received(OK));
    assert_eq!(r.tally.errors.timeout, 1);
    assert_eq!(r.tally.complete, 1);
}

#[test]
fn eof_is_a_read_error_and_one_reconnect() {
    let mut r = Rig::new(GET, 1, 2000);
    r.connect();
    r.feed(Event::Received(OK));
    assert_eq!(r.feed(Event::Eof), Action::Reconnect);
    assert_eq!(r.tally.errors.read, 1);
    assert!(!r.m.is_connected());
    // Events of the old socket before the new one connects change nothing.
    assert_eq!(r.feed(Event::Received(OK)), Action::Idle);
    assert_eq!(r.tally.complete, 1);
    assert_eq!(r.connect(), GET);
}

#[test]
fn eof_delimited_body_is_a_response_and_a_read_error() {
    let mut r = Rig::new(GET, 1, 2000);
    r.connect();
    let generation = r.m.generation();
    r.feed(Event::Received(b"HTTP/1.0 200 OK\r\n\r\nbody"));
    assert_eq!(r.tally.complete, 0);
    assert_eq!(r.feed(Event::Eof), Action::Reconnect);
    assert_eq!(r.tally.complete, 1);
    assert_eq!(r.tally.errors.read, 1);
    assert_eq!(
        r.m.generation(),
        generation.wrapping_add(1),
        "one reconnect"
    );
}

#[test]
fn closing_response_reconnects_and_trailing_bytes_are_a_read_error() {
    let close = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    let mut r = Rig::new(GET, 1, 2000);
    r.connect();
    assert_eq!(r.feed(Event::Received(close)), Action::Reconnect);
    assert_eq!((r.tally.complete, r.tally.errors.read), (1, 0));
    assert_eq!(r.tally.bytes, close.len() as u64);
    r.connect();
    let extra = [&close[..], b"X"].concat();
    assert_eq!(r.feed(Event::Received(&extra)), Action::Reconnect);
    assert_eq!((r.tally.complete, r.tally.errors.read), (2, 1));
    assert_eq!(r.tally.bytes, close.len() as u64, "chunk not counted");
}

#[test]
fn parse_errors_and_socket_errors_reconnect() {
    let mut r = Rig::new(GET, 1, 2000);
    r.connect();
    assert_eq!(
        r.feed(Event::Received(b"garbage\r\n\r\n")),
        Action::Reconnect
    );
    assert_eq!(r.tally.errors.read, 1);
    r.connect();
    let reset = Cause::Errno(libc::ECONNRESET);
    assert_eq!(r.feed(Event::ReadFailed(reset)), Action::Reconnect);
    r.connect();
    assert_eq!(r.feed(Event::WriteFailed(reset)), Action::Reconnect);
    assert_eq!(r.tally.errors.read, 2);
    assert_eq!(r.tally.errors.write, 1);
    assert_eq!(r.tally.error_detail.total(ErrorClass::Read), 2);
    // TLS handshake failure: connect error, retried; open failure: dead.
    assert_eq!(r.feed(Event::ConnectFailed(Cause::Tls)), Action::Reconnect);
    assert_eq!(r.feed(Event::OpenFailed(reset)), Action::Idle);
    assert_eq!(r.tally.errors.connect, 2);
    assert!(r.m.is_dead());
    assert_eq!(r.feed(Event::Connected), Action::Idle);
}

#[test]
fn head_responses_have_no_body() {
    let head: &[u8] = b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n";
    let mut r = Rig::new(head, 1, 2000);
    r.connect();
    r.feed(Event::Received(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
    ));
    assert_eq!(r.tally.complete, 1);
    // Mixed pipelines: only the HEAD answer skips its body.
    let batch = [GET, head, GET].concat();
    let mut r = Rig::new(&batch, 3, 2000);
    r.connect();
    let with_body = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
    let no_body = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
    r.feed(Event::Received(
        &[&with_body[..], no_body, with_body].concat(),
    ));
    assert_eq!(r.tally.complete, 3);
    assert_eq!(r.tally.errors.read, 0);
}

#[test]
fn status_errors_are_counted() {
    let mut r = Rig::new(GET, 1, 2000);
    r.connect();
    r.feed(Event::Received(
        b"HTTP/1.1 404 No\r\nContent-Length: 0\r\n\r\n",
    ));
    assert_eq!(r.tally.errors.status, 1);
}

#[test]
fn stale_timers_are_ignored() {
    let mut r = Rig::new(GET, 1, 2000);
    r.policy.has_delay = true;
    r.script = Some(Box::new(Script {
        delay_ms: 7,
        ..Script::default()
    }));
    r.connect();
    r.at(100);
    r.feed(Event::Received(OK));
    assert_eq!(r.feed(Event::CanSend), Action::Arm(7_100));
    let old = r.m.generation();
    assert_eq!(r.feed(Event::Eof), Action::Reconnect);
    assert_eq!(r.feed(Event::Timer(old)), Action::Idle, "stale");
    // delay() was already called for this batch: the new connection sends
    // at once, and a timer of the new generation that nobody armed is void.
    assert_eq!(r.feed(Event::Connected), Action::Send);
    assert_eq!(r.feed(Event::Timer(r.m.generation())), Action::Idle);
    assert_eq!(r.feed(Event::Sent(GET.len())), Action::Idle);
    r.feed(Event::Received(OK));
    assert_eq!(r.feed(Event::CanSend), Action::Arm(7_100));
    assert_eq!(r.feed(Event::Timer(r.m.generation())), Action::Send);
}

#[test]
fn script_hooks_in_wrk_order() {
    let mut r = Rig::new(b"", 1, 2000);
    r.policy.dynamic = true;
    r.policy.has_response = true;
    r.m = Machine::new(true, None);
    r.script = Some(Box::new(Script::default()));
    assert_eq!(r.connect(), GET, "request() builds the batch");
    r.feed(Event::Received(OK));
    // The second request() returns a HEAD: its response has no body.
    let a = r.feed(Event::CanSend);
    assert_eq!(r.flush(a).1, b"HEAD / HTTP/1.1\r\n\r\n");
    r.feed(Event::Received(
        b"HTTP/1.1 200 x\r\nContent-Length: 9\r\n\r\n",
    ));
    assert_eq!(r.tally.complete, 2);
    // stop_requested(): no new batch, no request() call.
    let mut s = Script {
        stop: true,
        ..Script::default()
    };
    let mut env = Env {
        policy: &r.policy,
        tally: &mut r.tally,
        script: Some(&mut s),
        clock: &r.clock,
    };
    assert_eq!(r.m.handle(Event::CanSend, &mut env), Ok(Action::Idle));
    assert_eq!(s.requests, 0);
}

#[test]
fn script_failures_come_back_to_the_shell() {
    let mut r = Rig::new(b"", 1, 2000);
    r.policy.dynamic = true;
    r.script = Some(Box::new(Script {
        fail_request_at: Some(2),
        ..Script::default()
    }));
    r.connect();
    r.feed(Event::Received(OK));
    let e = r.try_feed(Event::CanSend).expect_err("request() failed");
    assert_eq!(e.message, "PANIC: boom");
}

/// `-R`: a connection at 10 req/s sends at 0, 100, 200 ms; a late response
/// makes the next send late, and the corrected latency counts from the
/// intended time (coordinated omission), the uncorrected from the send.
#[test]
fn rate_schedule_and_coordinated_omission() {
    let mut r = Rig::new(GET, 1, 2000);
    r.m = Machine::new(false, Some(Schedule::new(10.0, 1, 0, 0)));
    r.tally = Tally::new(r.policy.timeout_us, true, 0);
    r.connect();
    r.at(50_000);
    r.feed(Event::Received(OK));
    assert_eq!(r.feed(Event::CanSend), Action::Arm(100_000));
    r.at(100_000);
    assert_eq!(r.feed(Event::Timer(r.m.generation())), Action::Send);
    r.flush(Action::Send);
    r.at(350_000); // 250 ms: the 200 ms send is now overdue
    r.feed(Event::Received(OK));
    assert_eq!(r.feed(Event::CanSend), Action::Send, "late: at once");
    r.flush(Action::Send);
    r.at(360_000);
    r.feed(Event::Received(OK));
    let corrected = r.tally.corrected.as_ref().expect("-R");
    let uncorrected = r.tally.uncorrected.as_ref().expect("-R");
    assert_eq!(corrected.count(), 3);
    // HdrHistogram keeps 3 significant digits.
    let near = |a: u64, b: u64| a.abs_diff(b) * 1000 <= b;
    assert!(near(corrected.max(), 250_000), "{}", corrected.max());
    assert!(near(corrected.percentile(50.0), 160_000));
    assert!(near(uncorrected.percentile(50.0), 50_000));
    assert!(near(uncorrected.max(), 250_000));
    assert_eq!(r.latencies(), [10_000, 50_000, 250_000]);
    // A rate that cannot be paced never sends.
    let mut idle = Rig::new(GET, 1, 2000);
    idle.m = Machine::new(false, Some(Schedule::new(0.0, 1, 0, 0)));
    assert_eq!(idle.feed(Event::Connected), Action::Idle);
}

#[test]
fn batch_latency_records_once_per_batch() {
    let batch = GET.repeat(2);
    for (per_batch, samples) in [(false, 2), (true, 1)] {
        let mut r = Rig::new(&batch, 2, 2000);
        r.policy.batch_latency = per_batch;
        r.m = Machine::new(false, Some(Schedule::new(1000.0, 1, 0, 0)));
        r.tally = Tally::new(r.policy.timeout_us, true, 0);
        r.connect();
        r.feed(Event::Received(&OK.repeat(2)));
        let c = r.tally.corrected.as_ref().expect("-R");
        assert_eq!(c.count(), samples, "-B {per_batch}");
    }
}

#[test]
fn req_per_sec_sampling_counts_responses() {
    let mut r = Rig::new(GET, 1, 2000);
    r.connect();
    r.feed(Event::Received(OK));
    r.tally.sample(100_000);
    assert_eq!(r.tally.requests.count(), 1);
    assert_eq!(r.tally.requests.max(), 10);
}

/// A response that completes the batch before its last write is reported
/// (an early answer; a completion back end's order) does not stall the
/// connection.
#[test]
fn response_before_the_last_write_is_reported() {
    let mut r = Rig::new(GET, 1, 2000);
    assert_eq!(r.feed(Event::Connected), Action::Send);
    assert_eq!(r.feed(Event::Sent(4)), Action::Send);
    r.at(10);
    assert_eq!(r.feed(Event::Received(OK)), Action::Idle);
    assert_eq!(r.feed(Event::Sent(GET.len() - 4)), Action::Idle);
    assert!(r.m.wants_send());
    assert_eq!(r.feed(Event::CanSend), Action::Send);
    assert_eq!(r.tally.complete, 1);
}
