//! The pure per-connection machine (wrk.md §2.3–2.9): wrk's connection
//! policy without sockets, syscalls or a clock of its own.
//!
//! A back end (the mio loop in [`super::worker`], or a completion-based one)
//! owns the socket, the TLS session and the timers; it feeds [`Event`]s and
//! performs the returned [`Action`]. Everything that decides what is counted
//! lives here: batch start and pipelining depth, latency from the batch's
//! first write to its last response, status errors, HEAD responses, the
//! reconnect after EOF/errors/`Connection: close`, our batch timeout, the
//! script hooks in wrk's order, and `-R` pacing with the corrected and
//! uncorrected recorders. Results go into the thread's [`Tally`].
//!
//! Time comes from [`Env::clock`], read at the points where wrk reads it
//! (so a slow Lua hook is timed as in wrk); tests pass a virtual clock.

use std::sync::Arc;

use common::hdr::Recorder;
use common::wrk::report::Errors;
use common::wrk::stats::Stats;

use super::sampler::{RateSampler, INTERVAL_US, MAX_RATE};
use crate::error_detail::{Cause, ErrorClass, ErrorDetail};
use crate::http::batch::{head_mask, is_head, HeadMask};
use crate::http::{Complete, ResponseParser};
use crate::rate::Schedule;
use crate::script_api::{ScriptFailure, ThreadScript};

/// The engine clock in µs (all threads share one epoch).
pub trait Clock {
    fn now_us(&self) -> u64;
}

/// The thread's monotonic clock ([`super::clock::now_us`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct MonotonicClock;

impl Clock for MonotonicClock {
    fn now_us(&self) -> u64 {
        super::clock::now_us()
    }
}

/// What a thread's connections share and never change during the run.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Requests per batch (≥ 1).
    pub pipeline: u64,
    /// `--timeout` in µs.
    pub timeout_us: u64,
    /// The static batch (used unless `dynamic`).
    pub request: Arc<Vec<u8>>,
    /// `HEAD` requests of the static batch.
    pub static_head: HeadMask,
    /// Script `request()` builds every batch.
    pub dynamic: bool,
    /// Script `delay()` is called before every batch but the first.
    pub has_delay: bool,
    /// Script `response()` sees every response (bodies are collected).
    pub has_response: bool,
    /// `-B`: one corrected/uncorrected sample per batch.
    pub batch_latency: bool,
}

impl Policy {
    /// The policy of a run without script hooks.
    pub fn new(request: Arc<Vec<u8>>, pipeline: usize, timeout_ms: u64) -> Policy {
        Policy {
            pipeline: pipeline.max(1) as u64,
            timeout_us: timeout_ms.saturating_mul(1000),
            static_head: head_mask(&request),
            request,
            dynamic: false,
            has_delay: false,
            has_response: false,
            batch_latency: false,
        }
    }
}

/// One thread's counters and histograms (what wrk keeps per thread).
pub struct Tally {
    pub complete: u64,
    pub bytes: u64,
    pub errors: Errors,
    /// The same errors by class and cause (`--errors detail`, JSON).
    pub error_detail: ErrorDetail,
    /// Latency in µs, bounded by the timeout like wrk's.
    pub latency: Stats,
    /// Req/Sec samples.
    pub requests: Stats,
    /// `-R`: latency from the intended send time.
    pub corrected: Option<Recorder>,
    /// `-R`: latency from the actual send time.
    pub uncorrected: Option<Recorder>,
    sampler: RateSampler,
}

impl Tally {
    /// Empty results; `rate` adds the `-R` recorders; the Req/Sec window
    /// starts at `now_us`.
    pub fn new(timeout_us: u64, rate: bool, now_us: u64) -> Tally {
        Tally {
            complete: 0,
            bytes: 0,
            errors: Errors::default(),
            error_detail: ErrorDetail::default(),
            latency: Stats::new(timeout_us.saturating_add(1)),
            requests: Stats::new(MAX_RATE + 1),
            corrected: rate.then(Recorder::new),
            uncorrected: rate.then(Recorder::new),
            sampler: RateSampler::new(now_us),
        }
    }

    /// Restarts the Req/Sec window (the loop starts).
    pub fn start_sampling(&mut self, now_us: u64) {
        self.sampler = RateSampler::new(now_us);
    }

    /// The 100 ms Req/Sec tick.
    pub fn sample(&mut self, now_us: u64) {
        self.sampler.tick(now_us, &mut self.requests);
    }

    /// Counts one socket error in wrk's counter and in the detail.
    pub fn fail(&mut self, class: ErrorClass, cause: Cause) {
        let counter = match class {
            ErrorClass::Connect => &mut self.errors.connect,
            ErrorClass::Read => &mut self.errors.read,
            ErrorClass::Write => &mut self.errors.write,
            ErrorClass::Timeout => &mut self.errors.timeout,
        };
        *counter = counter.wrapping_add(1);
        self.error_detail.add(class, cause, 1);
    }
}

/// What the caller hands to every [`Machine::handle`] call.
pub struct Env<'a> {
    pub policy: &'a Policy,
    pub tally: &'a mut Tally,
    pub script: Option<&'a mut (dyn ThreadScript + 'static)>,
    pub clock: &'a dyn Clock,
}

/// Something happened on the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// Connected (https: handshake done). Plain TCP does not check SO_ERROR
    /// (wrk), so a refused connect surfaces later as a read/write error.
    Connected,
    /// Failed after the open, before `Connected` (TLS): connect error, reconnect.
    ConnectFailed(Cause),
    /// The socket could not be opened: connect error, the slot is dead.
    OpenFailed(Cause),
    /// Plaintext response bytes.
    Received(&'a [u8]),
    /// The peer closed.
    Eof,
    ReadFailed(Cause),
    /// The shell may write now (writable, or a read was drained).
    CanSend,
    /// `n` bytes of [`Machine::outgoing`] were written.
    Sent(usize),
    WriteFailed(Cause),
    /// The timer armed under this generation fired.
    Timer(u32),
    /// The thread's 100 ms tick.
    Tick,
}

/// What the shell must do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Wait for the next event.
    Idle,
    /// Write [`Machine::outgoing`], then report `Sent(n)` or `WriteFailed`.
    Send,
    /// Arm the connection's one-shot timer at this engine time (µs); fire it
    /// as `Timer(generation())`.
    Arm(u64),
    /// Close the socket and open a new one (the machine has reset itself).
    Reconnect,
}

/// Where a connection is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Opened, waiting for `Connected`.
    Connecting,
    /// Sending batches and reading responses.
    Ready,
    /// Could not be opened: never retried (wrk).
    Dead,
}

/// One connection's policy state.
pub struct Machine {
    phase: Phase,
    parser: ResponseParser,
    /// Dynamic request bytes (script `request()`), reused across batches.
    req: Vec<u8>,
    /// A batch has been started and is not fully written.
    writing: bool,
    /// Bytes of the current batch already written.
    written: usize,
    /// Responses still expected for the current batch (wraps like wrk's).
    pending: u64,
    /// When the batch's first byte was written (µs).
    start_us: u64,
    /// `-R`: when the batch should have been sent (µs).
    intended_us: u64,
    /// Start (µs, ≥ 1) of the outstanding batch, 0 when none (timeouts).
    busy_since: u64,
    /// A new batch may be sent (wrk: writable interest registered).
    want_write: bool,
    /// Next batch waits for `delay()` first.
    delayed: bool,
    /// A delay or pacing timer is armed.
    waiting: bool,
    /// Bumped on every reconnect; stale timers are ignored.
    generation: u32,
    /// `-R` pacing.
    schedule: Option<Schedule>,
    /// `HEAD` requests of the current dynamic batch.
    head: HeadMask,
}

impl Machine {
    /// A connection being opened; `collect` keeps headers and bodies for
    /// `response()`.
    pub fn new(collect: bool, schedule: Option<Schedule>) -> Machine {
        Machine {
            phase: Phase::Connecting,
            parser: ResponseParser::new(collect),
            req: Vec::new(),
            writing: false,
            written: 0,
            pending: 0,
            start_us: 0,
            intended_us: 0,
            busy_since: 0,
            want_write: false,
            delayed: false,
            waiting: false,
            generation: 0,
            schedule,
            head: 0,
        }
    }

    /// Timers armed under another generation are stale.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// The slot could not be opened and is out of the run.
    pub fn is_dead(&self) -> bool {
        self.phase == Phase::Dead
    }

    /// `Connected` was fed since the last (re)open.
    pub fn is_connected(&self) -> bool {
        self.phase == Phase::Ready
    }

    /// A batch is being written or may start (feed `CanSend` when writable).
    pub fn wants_send(&self) -> bool {
        self.phase == Phase::Ready && self.want_write && !self.waiting
    }

    /// The unwritten rest of the current batch (empty when none).
    pub fn outgoing<'p>(&'p self, policy: &'p Policy) -> &'p [u8] {
        if !self.writing {
            return &[];
        }
        let batch = if policy.dynamic {
            &self.req[..]
        } else {
            &policy.request[..]
        };
        batch.get(self.written..).unwrap_or_default()
    }

    /// Feeds one event; returns what the shell must do.
    pub fn handle(&mut self, ev: Event<'_>, env: &mut Env<'_>) -> Result<Action, ScriptFailure> {
        if self.phase == Phase::Dead {
            return Ok(Action::Idle);
        }
        match ev {
            Event::Connected => {
                self.parser.reset();
                self.written = 0;
                self.writing = false;
                self.phase = Phase::Ready;
                self.want_write = true;
                self.resume(env)
            }
            Event::ConnectFailed(cause) => {
                env.tally.fail(ErrorClass::Connect, cause);
                Ok(self.reconnect())
            }
            Event::OpenFailed(cause) => {
                env.tally.fail(ErrorClass::Connect, cause);
                self.phase = Phase::Dead;
                Ok(Action::Idle)
            }
            Event::Received(bytes) if self.phase == Phase::Ready => self.received(bytes, env),
            Event::Eof if self.phase == Phase::Ready => self.eof(env),
            Event::ReadFailed(cause) if self.phase == Phase::Ready => {
                env.tally.fail(ErrorClass::Read, cause);
                Ok(self.reconnect())
            }
            Event::CanSend => self.resume(env),
            Event::Sent(n) => Ok(self.sent(n, env.policy)),
            Event::WriteFailed(cause) if self.phase == Phase::Ready => {
                env.tally.fail(ErrorClass::Write, cause);
                Ok(self.reconnect())
            }
            Event::Timer(generation) => {
                if generation != self.generation || !self.waiting {
                    return Ok(Action::Idle);
                }
                self.waiting = false;
                self.delayed = false;
                if self.phase != Phase::Ready {
                    return Ok(Action::Idle);
                }
                self.want_write = true;
                self.resume(env)
            }
            Event::Tick => Ok(self.tick(env)),
            // Socket events of a connection that is not connected yet.
            Event::Received(_) | Event::Eof | Event::ReadFailed(_) | Event::WriteFailed(_) => {
                Ok(Action::Idle)
            }
        }
    }

    /// Resets for a new socket; the shell closes and reopens.
    fn reconnect(&mut self) -> Action {
        self.generation = self.generation.wrapping_add(1);
        self.phase = Phase::Connecting;
        self.waiting = false;
        self.writing = false;
        self.written = 0;
        self.want_write = false;
        self.busy_since = 0;
        Action::Reconnect
    }

    /// Our request timeout (wrk has none, spec §8 item 5): a batch that has
    /// waited longer than `--timeout` plus one 100 ms tick counts one timeout
    /// — as wrk counts a batch whose response comes later than `--timeout` —
    /// and its connection is reopened so that it carries load again. The
    /// extra tick keeps a hung request at the very end of a run as wrk
    /// reports it (no error, golden 38). `--timeout 0` (every response is a
    /// timeout) aborts nothing.
    fn tick(&mut self, env: &mut Env<'_>) -> Action {
        let timeout = env.policy.timeout_us;
        if timeout == 0 || self.busy_since == 0 {
            return Action::Idle;
        }
        let now = env.clock.now_us();
        if now.saturating_sub(self.busy_since) > timeout.saturating_add(INTERVAL_US) {
            env.tally.fail(ErrorClass::Timeout, Cause::NoResponse);
            return self.reconnect();
        }
        Action::Idle
    }

    /// Continues the current batch or starts the next one (wrk's
    /// socket_writeable).
    fn resume(&mut self, env: &mut Env<'_>) -> Result<Action, ScriptFailure> {
        if self.phase != Phase::Ready || self.waiting || !self.want_write {
            return Ok(Action::Idle);
        }
        if self.writing {
            return Ok(Action::Send);
        }
        // thread:stop() ends the loop after this event: no new batch (and no
        // delay()/request() call) in between.
        if env.script.as_ref().is_some_and(|s| s.stop_requested()) {
            return Ok(Action::Idle);
        }
        if self.delayed {
            let ms = match env.script.as_mut() {
                Some(s) => s.delay()?,
                None => 0,
            };
            self.delayed = false;
            self.waiting = true;
            let due = env.clock.now_us().saturating_add(ms.saturating_mul(1000));
            return Ok(Action::Arm(due));
        }
        if let Some(s) = self.schedule.as_mut() {
            let now = env.clock.now_us();
            let due = s.next_due_us();
            if due > now {
                if due == u64::MAX {
                    return Ok(Action::Idle);
                }
                self.waiting = true;
                return Ok(Action::Arm(due));
            }
            self.intended_us = due;
            s.advance_by(env.policy.pipeline);
        }
        if env.policy.dynamic {
            if let Some(script) = env.script.as_mut() {
                script.request(&mut self.req)?;
                self.head = head_mask(&self.req);
            }
        }
        self.start_us = env.clock.now_us();
        self.pending = env.policy.pipeline;
        self.busy_since = self.start_us.max(1);
        self.writing = true;
        self.written = 0;
        Ok(self.sent(0, env.policy))
    }

    /// `n` more bytes of the batch were written.
    fn sent(&mut self, n: usize, policy: &Policy) -> Action {
        if !self.writing {
            return Action::Idle;
        }
        self.written = self.written.saturating_add(n);
        if self.outgoing(policy).is_empty() {
            self.writing = false;
            self.written = 0;
            // Responses may complete the batch before its last write is
            // reported (an early answer, or a completion back end's order):
            // then the next batch may start.
            self.want_write = self.busy_since == 0;
            return Action::Idle;
        }
        Action::Send
    }

    /// Parses one read's bytes (wrk's socket_readable + parser callbacks).
    fn received(&mut self, data: &[u8], env: &mut Env<'_>) -> Result<Action, ScriptFailure> {
        let generation = self.generation;
        let mut pos = 0;
        while pos < data.len() {
            let mask = if env.policy.dynamic {
                self.head
            } else {
                env.policy.static_head
            };
            let index = env.policy.pipeline.wrapping_sub(self.pending);
            self.parser.set_head(is_head(mask, index));
            match self.parser.feed(&data[pos..]) {
                Err(_) => {
                    env.tally.fail(ErrorClass::Read, Cause::HttpParse);
                    return Ok(self.reconnect());
                }
                Ok(p) => {
                    pos += p.consumed;
                    let Some(done) = p.complete else { break };
                    self.response(done, env)?;
                    if self.generation != generation {
                        // Not keep-alive: reconnected. Leftover bytes are a
                        // parse error on the finished stream (wrk); the
                        // chunk's bytes are then not counted.
                        if pos < data.len() {
                            env.tally.fail(ErrorClass::Read, Cause::HttpParse);
                        } else {
                            env.tally.bytes += data.len() as u64;
                        }
                        return Ok(Action::Reconnect);
                    }
                }
            }
        }
        env.tally.bytes += data.len() as u64;
        Ok(Action::Idle)
    }

    /// The peer closed: completes an EOF-delimited body, then counts the
    /// read error wrk counts for every close, and reconnects once.
    fn eof(&mut self, env: &mut Env<'_>) -> Result<Action, ScriptFailure> {
        let generation = self.generation;
        if let Some(done) = self.parser.eof() {
            self.response(done, env)?;
        }
        env.tally.fail(ErrorClass::Read, Cause::Eof);
        if self.generation == generation {
            self.reconnect();
        }
        Ok(Action::Reconnect)
    }

    /// A response completed (wrk's response_complete).
    fn response(&mut self, done: Complete, env: &mut Env<'_>) -> Result<(), ScriptFailure> {
        let now = env.clock.now_us();
        let tally = &mut *env.tally;
        tally.complete += 1;
        tally.sampler.count();
        if done.status > 399 {
            tally.errors.status += 1;
        }
        if env.policy.has_response {
            if let Some(script) = env.script.as_mut() {
                let headers: Vec<(&[u8], &[u8])> = self.parser.headers().collect();
                script.response(done.status, &headers, self.parser.body())?;
            }
        }
        let tally = &mut *env.tally;
        // wrk2: every response, or with -B only a batch's last one.
        if !env.policy.batch_latency || self.pending == 1 {
            if let Some(h) = tally.corrected.as_mut() {
                h.record(now.saturating_sub(self.intended_us));
            }
            if let Some(h) = tally.uncorrected.as_mut() {
                h.record(now.saturating_sub(self.start_us));
            }
        }
        self.pending = self.pending.wrapping_sub(1);
        if self.pending == 0 {
            let latency = now.saturating_sub(self.start_us);
            self.delayed = env.policy.has_delay;
            self.want_write = true;
            self.busy_since = 0;
            if latency > env.policy.timeout_us || !tally.latency.record(latency) {
                tally.fail(ErrorClass::Timeout, Cause::LateResponse);
            }
        }
        if !done.keep_alive {
            self.reconnect();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
