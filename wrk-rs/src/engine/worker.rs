//! One worker thread's event loop (wrk.md §2.2–2.10).
//!
//! Every socket is registered once, edge-triggered, for both read and write
//! readiness; nothing is re-registered per request. A batch is written as
//! soon as the connection may send (after connect, after the previous batch
//! completed, when a delay/pacing timer fires); writability events only matter
//! while a write is incomplete. A read that returns less than the buffer means
//! the socket is drained (Linux epoll reports every later arrival), so the
//! keep-alive steady state costs one write, one read and a share of
//! epoll_wait per request.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::hdr::Recorder;
use common::wrk::report::Errors;
use common::wrk::stats::Stats;
use mio::{Events, Interest, Poll, Token};

use super::clock::now_us;
use super::conn::{open, Conn, Phase};
use super::precise::PreciseTimer;
use super::sampler::{RateSampler, INTERVAL_US, MAX_RATE};
use super::timers::Timers;
use super::{EngineConfig, ThreadResult};
use crate::error_detail::{Cause, ErrorClass, ErrorDetail};
use crate::http::batch::{head_mask, is_head, HeadMask};
use crate::http::Complete;
use crate::rate::Schedule;
use crate::script_api::{ScriptFailure, ThreadScript};
use crate::tls::{Handshake, ReadOutcome, TlsClient};

/// Read buffer size (wrk's RECVBUF is 8192; larger means fewer reads for
/// big bodies and changes nothing that is counted).
const RECV_BUF: usize = 64 * 1024;
/// Token of the precise timer (connections use their index).
const TIMER_TOKEN: Token = Token(usize::MAX - 1);

/// Outcome of parsing one read.
enum Parsed {
    /// All bytes parsed; the connection stays.
    Ok,
    /// All bytes parsed; a response ended the connection (reconnected).
    Closed,
    /// Parse error, or bytes after a connection-ending response: counted as
    /// a read error, reconnected, the chunk's bytes are not counted.
    Failed,
}

/// Per-thread engine state.
pub struct Worker {
    cfg: EngineConfig,
    poll: Poll,
    conns: Vec<Conn>,
    tls: Option<TlsClient>,
    script: Option<Box<dyn ThreadScript>>,
    dynamic: bool,
    has_delay: bool,
    has_response: bool,
    pipeline: u64,
    timers: Timers,
    precise: Option<PreciseTimer>,
    buf: Box<[u8]>,
    stop: Arc<AtomicBool>,
    // Results.
    complete: u64,
    bytes: u64,
    errors: Errors,
    /// The same errors by class and cause (`--errors detail`, JSON).
    error_detail: ErrorDetail,
    latency: Stats,
    requests: Stats,
    corrected: Option<Recorder>,
    uncorrected: Option<Recorder>,
    sampler: RateSampler,
    timeout_us: u64,
    /// Start (µs, ≥ 1) of each connection's outstanding batch, 0 when none:
    /// scanned at every 100 ms tick for batches older than `--timeout`.
    busy_since: Vec<u64>,
    /// `HEAD` requests of the static batch.
    static_head: HeadMask,
    /// `-B`: one corrected/uncorrected sample per batch.
    batch_latency: bool,
    /// `-R`: when this thread's schedules start (µs).
    origin: Option<u64>,
}

impl Worker {
    pub fn new(
        cfg: EngineConfig,
        script: Option<Box<dyn ThreadScript>>,
        stop: Arc<AtomicBool>,
    ) -> io::Result<Worker> {
        let poll = Poll::new()?;
        let shape = cfg.script_shape.clone();
        let dynamic = script.is_some() && shape.as_ref().is_some_and(|s| s.dynamic);
        let has_delay = script.is_some() && shape.as_ref().is_some_and(|s| s.delay);
        let has_response = script.is_some() && shape.as_ref().is_some_and(|s| s.response);
        let tls = match &cfg.tls_server_name {
            Some(host) => Some(TlsClient::new(host, cfg.addr.ip()).map_err(io::Error::other)?),
            None => None,
        };
        // Each run's schedule starts when its threads are created (threads of
        // one run start within moments of each other; the global spread of
        // `rate::Schedule` keeps the total rate either way).
        let origin = cfg.rate.map(|_| now_us());
        let precise = match cfg.rate {
            Some(_) => PreciseTimer::new(poll.registry(), TIMER_TOKEN).ok(),
            None => None,
        };
        let timeout_us = cfg.timeout_ms.saturating_mul(1000);
        Ok(Worker {
            pipeline: cfg.pipeline.max(1) as u64,
            timers: Timers::with_capacity(cfg.connections),
            latency: Stats::new(timeout_us.saturating_add(1)),
            requests: Stats::new(MAX_RATE + 1),
            corrected: cfg.rate.map(|_| Recorder::new()),
            uncorrected: cfg.rate.map(|_| Recorder::new()),
            sampler: RateSampler::new(now_us()),
            timeout_us,
            busy_since: Vec::new(),
            origin,
            static_head: head_mask(&cfg.request),
            batch_latency: cfg.rate.is_some_and(|r| r.batch_latency),
            poll,
            conns: Vec::new(),
            tls,
            script,
            dynamic,
            has_delay,
            has_response,
            precise,
            buf: vec![0u8; RECV_BUF].into_boxed_slice(),
            stop,
            complete: 0,
            bytes: 0,
            errors: Errors::default(),
            error_detail: ErrorDetail::default(),
            cfg,
        })
    }

    /// Runs until the stop flag is seen at a 100 ms tick (or the script
    /// stops the thread), then hands back the counters.
    pub fn run(mut self) -> ThreadResult {
        self.open_all();
        let mut events = Events::with_capacity(self.conns.len().clamp(16, 1024) + 1);
        let start = now_us();
        self.sampler = RateSampler::new(start);
        let mut next_tick = start + INTERVAL_US;
        loop {
            let now = now_us();
            if now >= next_tick {
                self.sampler.tick(now, &mut self.requests);
                if self.stop.load(Ordering::Relaxed) {
                    break;
                }
                self.expire_batches(now);
                // Repeating timer re-armed after processing: drifts like wrk's.
                next_tick = now + INTERVAL_US;
            }
            self.fire_timers(now);
            if self.script_stopped() {
                break;
            }
            let wake = self
                .timers
                .next_due()
                .map_or(next_tick, |t| t.min(next_tick));
            let now = now_us();
            let wait = wake.saturating_sub(now);
            let timeout = match self.precise.as_mut() {
                Some(p) if wait > 0 => {
                    p.arm(wake, now);
                    // The timerfd wakes us; the poll timeout is only a backstop.
                    Duration::from_micros(wait + 2000)
                }
                _ => Duration::from_micros(wait),
            };
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
            for ev in events.iter() {
                if ev.token() == TIMER_TOKEN {
                    if let Some(p) = self.precise.as_mut() {
                        p.fired();
                    }
                    continue;
                }
                let closed = ev.is_read_closed() || ev.is_error();
                let readable = ev.is_readable() || closed;
                self.on_event(ev.token().0, readable, closed, ev.is_writable());
            }
            if self.script_stopped() {
                break;
            }
        }
        // wrk leaves its sockets to process exit; closing thousands of them
        // here would delay the join and stretch the measured runtime, so a
        // helper thread closes them (inline if it cannot be spawned).
        let conns = std::mem::take(&mut self.conns);
        if conns.len() > 64 {
            // If the thread cannot be spawned the closure is dropped here,
            // which closes the sockets inline.
            let _ = std::thread::Builder::new()
                .name("wrk-close".into())
                .spawn(move || close_all(conns));
        } else {
            close_all(conns);
        }
        ThreadResult {
            complete: self.complete,
            bytes: self.bytes,
            errors: self.errors,
            error_detail: self.error_detail,
            latency: self.latency,
            requests: self.requests,
            corrected: self.corrected,
            uncorrected: self.uncorrected,
            script: self.script,
        }
    }

    /// Opens every connection slot once. A slot whose socket cannot even be
    /// created (fd limit) counts a connect error and is dead for the run, as
    /// in wrk; we do not keep its state, so `-c1m` under a 20,000-descriptor
    /// limit holds memory only for the connections that exist.
    fn open_all(&mut self) {
        for k in 0..self.cfg.connections {
            let schedule = self.cfg.rate.zip(self.origin).map(|(r, start)| {
                Schedule::new(
                    r.total_rate,
                    r.total_connections,
                    r.first_connection + k,
                    start,
                )
            });
            self.conns.push(Conn::new(self.has_response, schedule));
            self.busy_since.push(0);
            let i = self.conns.len() - 1;
            self.connect(i);
            if self.conns[i].phase == Phase::Dead {
                self.conns.pop();
                self.busy_since.pop();
            }
        }
        self.conns.shrink_to_fit();
        self.busy_since.shrink_to_fit();
    }

    /// Our request timeout (wrk has none, spec §8 item 5): a batch that has
    /// waited longer than `--timeout` plus one 100 ms tick counts one timeout
    /// — as wrk counts a batch whose response comes later than `--timeout` —
    /// and its connection is closed and reopened so that it carries load
    /// again. The extra tick keeps a hung request at the very end of a run
    /// as wrk reports it (no error, golden 38). `--timeout 0` (every
    /// response is a timeout) aborts nothing.
    fn expire_batches(&mut self, now: u64) {
        if self.timeout_us == 0 {
            return;
        }
        let limit = self.timeout_us.saturating_add(INTERVAL_US);
        for i in 0..self.busy_since.len() {
            let since = self.busy_since[i];
            if since != 0 && now.saturating_sub(since) > limit {
                self.fail(ErrorClass::Timeout, Cause::NoResponse);
                self.reconnect(i);
            }
        }
    }

    /// Counts one socket error in wrk's counter and in the detail.
    fn fail(&mut self, class: ErrorClass, cause: Cause) {
        let counter = match class {
            ErrorClass::Connect => &mut self.errors.connect,
            ErrorClass::Read => &mut self.errors.read,
            ErrorClass::Write => &mut self.errors.write,
            ErrorClass::Timeout => &mut self.errors.timeout,
        };
        *counter = counter.wrapping_add(1);
        self.error_detail.add(class, cause, 1);
    }

    fn script_stopped(&self) -> bool {
        self.script.as_ref().is_some_and(|s| s.stop_requested())
    }

    /// Fires due delay/pacing timers.
    fn fire_timers(&mut self, now: u64) {
        while let Some(t) = self.timers.pop_due(now) {
            let i = t.conn as usize;
            let Some(c) = self.conns.get_mut(i) else {
                continue;
            };
            if c.generation != t.generation || !c.waiting {
                continue;
            }
            c.waiting = false;
            c.delayed = false;
            if c.phase == Phase::Ready {
                c.want_write = true;
                self.send(i);
            }
        }
    }

    /// Opens connection `i`; synchronous failure kills the slot (wrk).
    fn connect(&mut self, i: usize) {
        let addr = self.cfg.addr;
        self.busy_since[i] = 0;
        let c = &mut self.conns[i];
        c.generation = c.generation.wrapping_add(1);
        c.waiting = false;
        c.written = 0;
        c.want_write = false;
        let unix = self.cfg.unix_socket.as_deref();
        let registered = open(addr, unix).and_then(|mut sock| {
            self.poll
                .registry()
                .register(&mut sock, Token(i), Interest::READABLE | Interest::WRITABLE)
                .map(|()| sock)
        });
        match registered {
            Ok(sock) => {
                c.sock = Some(sock);
                c.phase = Phase::Connecting;
            }
            Err(e) => {
                c.sock = None;
                c.phase = Phase::Dead;
                self.fail(ErrorClass::Connect, Cause::io(&e));
            }
        }
    }

    fn reconnect(&mut self, i: usize) {
        self.conns[i].close();
        self.connect(i);
    }

    fn on_event(&mut self, i: usize, readable: bool, closed: bool, writable: bool) {
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        match c.phase {
            Phase::Dead => {}
            Phase::Connecting => self.on_connected(i),
            Phase::Handshake => self.handshake(i),
            Phase::Ready => {
                let generation = c.generation;
                if readable {
                    self.on_readable(i, closed);
                }
                let c = &mut self.conns[i];
                if writable && c.generation == generation && c.phase == Phase::Ready {
                    if let (Some(tls), Some(sock)) = (c.tls.as_mut(), c.sock.as_mut()) {
                        if tls.wants_write() {
                            if let Err(e) = tls.flush(sock) {
                                self.fail(ErrorClass::Write, Cause::io(&e));
                                self.reconnect(i);
                                return;
                            }
                        }
                    }
                    if c.want_write {
                        self.send(i);
                    }
                }
            }
        }
    }

    /// First event after connect: plain TCP counts as connected without
    /// checking SO_ERROR (wrk), so async failures surface as write errors.
    fn on_connected(&mut self, i: usize) {
        let c = &mut self.conns[i];
        c.parser.reset();
        c.written = 0;
        match &self.tls {
            Some(tls) => match tls.session() {
                Ok(s) => {
                    c.tls = Some(Box::new(s));
                    c.phase = Phase::Handshake;
                    self.handshake(i);
                }
                Err(_) => {
                    self.fail(ErrorClass::Connect, Cause::Tls);
                    self.reconnect(i);
                }
            },
            None => {
                c.phase = Phase::Ready;
                c.want_write = true;
                self.send(i);
            }
        }
    }

    fn handshake(&mut self, i: usize) {
        let c = &mut self.conns[i];
        let (Some(tls), Some(sock)) = (c.tls.as_mut(), c.sock.as_mut()) else {
            return;
        };
        match tls.handshake(sock) {
            Handshake::Done => {
                c.phase = Phase::Ready;
                c.want_write = true;
                self.send(i);
            }
            Handshake::Pending => {}
            Handshake::Failed => {
                self.fail(ErrorClass::Connect, Cause::Tls);
                self.reconnect(i);
            }
        }
    }

    /// Starts or continues the current batch on connection `i`.
    fn send(&mut self, i: usize) {
        let c = &mut self.conns[i];
        if c.phase != Phase::Ready || c.waiting || !c.want_write {
            return;
        }
        if c.written == 0 {
            // thread:stop() ends the loop after this event: no new batch
            // (and no delay()/request() call) in between.
            if self.script.as_ref().is_some_and(|s| s.stop_requested()) {
                return;
            }
            if c.delayed {
                let ms = match self.script.as_mut().map(|s| s.delay()) {
                    Some(Ok(ms)) => ms,
                    Some(Err(f)) => fatal(f),
                    None => 0,
                };
                c.delayed = false;
                c.waiting = true;
                let due = now_us().saturating_add(ms.saturating_mul(1000));
                self.timers.arm(due, i as u32, c.generation);
                return;
            }
            let now = now_us();
            if let Some(s) = c.schedule.as_mut() {
                let due = s.next_due_us();
                if due > now {
                    if due != u64::MAX {
                        c.waiting = true;
                        self.timers.arm(due, i as u32, c.generation);
                    }
                    return;
                }
                c.intended_us = due;
                s.advance_by(self.pipeline);
            }
            if self.dynamic {
                if let Some(script) = self.script.as_mut() {
                    if let Err(f) = script.request(&mut c.req) {
                        fatal(f);
                    }
                    c.head = head_mask(&c.req);
                }
            }
            c.start_us = now_us();
            c.pending = self.pipeline;
            self.busy_since[i] = c.start_us.max(1);
        }
        loop {
            let c = &mut self.conns[i];
            let len = if self.dynamic {
                c.req.len()
            } else {
                self.cfg.request.len()
            };
            if c.written >= len {
                c.written = 0;
                c.want_write = false;
                return;
            }
            let res = if self.dynamic {
                // Move the buffer out for the call (pointer swap, no copy).
                let req = std::mem::take(&mut c.req);
                let r = c.write(&req[c.written..]);
                c.req = req;
                r
            } else {
                c.write(&self.cfg.request[c.written..])
            };
            match res {
                // TLS buffer full: wait for writability (flush, then resume).
                Ok(0) => return,
                Ok(n) => {
                    c.written += n;
                    if c.written >= len {
                        c.written = 0;
                        c.want_write = false;
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.fail(ErrorClass::Write, Cause::io(&e));
                    self.reconnect(i);
                    return;
                }
            }
        }
    }

    /// Drains readable data into the parser (wrk's socket_readable).
    ///
    /// A short read means the socket is empty: later arrivals raise a new
    /// edge. Not so for an EOF that arrived before the read, so when the
    /// event says the peer closed (`closed`), read on until EOF.
    fn on_readable(&mut self, i: usize, closed: bool) {
        let generation = self.conns[i].generation;
        loop {
            let c = &mut self.conns[i];
            let n = match c.read(&mut self.buf) {
                ReadOutcome::Data(n) => n,
                ReadOutcome::WouldBlock => break,
                ReadOutcome::Error(cause) => {
                    self.fail(ErrorClass::Read, cause);
                    self.reconnect(i);
                    return;
                }
                ReadOutcome::Eof => {
                    if let Some(done) = c.parser.eof() {
                        self.on_response(i, done);
                    }
                    // Every EOF is a read error in wrk (also after an
                    // EOF-delimited body, which already reconnected).
                    self.fail(ErrorClass::Read, Cause::Eof);
                    if self.conns[i].generation == generation {
                        self.reconnect(i);
                    }
                    return;
                }
            };
            match self.parse(i, n, generation) {
                Parsed::Ok => self.bytes += n as u64,
                Parsed::Closed => {
                    self.bytes += n as u64;
                    return;
                }
                Parsed::Failed => return,
            }
            let is_tls = self.conns[i].tls.is_some();
            if !is_tls && !closed && n < self.buf.len() {
                break;
            }
        }
        if self.conns[i].want_write {
            self.send(i);
        }
    }

    /// Feeds `n` buffered bytes to the parser.
    fn parse(&mut self, i: usize, n: usize, generation: u32) -> Parsed {
        let mut pos = 0;
        while pos < n {
            let c = &mut self.conns[i];
            let mask = if self.dynamic {
                c.head
            } else {
                self.static_head
            };
            c.parser
                .set_head(is_head(mask, self.pipeline.wrapping_sub(c.pending)));
            let res = c.parser.feed(&self.buf[pos..n]);
            match res {
                Err(_) => {
                    self.fail(ErrorClass::Read, Cause::HttpParse);
                    self.reconnect(i);
                    return Parsed::Failed;
                }
                Ok(p) => {
                    pos += p.consumed;
                    let Some(done) = p.complete else { break };
                    self.on_response(i, done);
                    if self.conns[i].generation != generation {
                        // Not keep-alive: reconnected. Leftover bytes are a
                        // parse error on the finished stream (wrk).
                        if pos < n {
                            self.fail(ErrorClass::Read, Cause::HttpParse);
                            return Parsed::Failed;
                        }
                        return Parsed::Closed;
                    }
                }
            }
        }
        Parsed::Ok
    }

    /// A response completed (wrk's response_complete).
    fn on_response(&mut self, i: usize, done: Complete) {
        let now = now_us();
        self.complete += 1;
        self.sampler.count();
        if done.status > 399 {
            self.errors.status += 1;
        }
        if self.has_response {
            if let Some(script) = self.script.as_mut() {
                let p = &self.conns[i].parser;
                let headers: Vec<(&[u8], &[u8])> = p.headers().collect();
                if let Err(f) = script.response(done.status, &headers, p.body()) {
                    fatal(f);
                }
            }
        }
        let c = &mut self.conns[i];
        // wrk2: every response, or with -B only a batch's last one.
        if !self.batch_latency || c.pending == 1 {
            if let Some(h) = self.corrected.as_mut() {
                h.record(now.saturating_sub(c.intended_us));
            }
            if let Some(h) = self.uncorrected.as_mut() {
                h.record(now.saturating_sub(c.start_us));
            }
        }
        c.pending = c.pending.wrapping_sub(1);
        if c.pending == 0 {
            let latency = now.saturating_sub(c.start_us);
            c.delayed = self.has_delay;
            c.want_write = true;
            self.busy_since[i] = 0;
            if latency > self.timeout_us || !self.latency.record(latency) {
                self.fail(ErrorClass::Timeout, Cause::LateResponse);
            }
        }
        if !done.keep_alive {
            self.reconnect(i);
        }
    }
}

/// Closes every socket (TLS: close_notify first).
fn close_all(conns: Vec<Conn>) {
    for mut c in conns {
        c.close();
    }
}

/// A script hook failed: wrk's LuaJIT PANIC ends the process.
fn fatal(f: ScriptFailure) -> ! {
    let _ = io::stdout().flush();
    eprintln!("{}", f.message);
    std::process::exit(f.exit_code)
}
