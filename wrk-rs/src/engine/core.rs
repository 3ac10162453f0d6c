//! What every back end's thread loop shares, whatever does its I/O: the
//! policy, the tally, the script, the per-connection timers, the 100 ms
//! tick, the stop flag, and the hand-back of results and script failures.
//!
//! A shell owns one [`ThreadCore`] and its connections' [`Machine`]s, feeds
//! events through [`ThreadCore::feed`] and performs the actions.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::clock::now_us;
use super::machine::{Action, Env, Event, Machine, MonotonicClock, Policy, Tally};
use super::sampler::INTERVAL_US;
use super::timers::{Timer, Timers};
use super::{EngineConfig, FatalSlot, ThreadResult};
use crate::rate::Schedule;
use crate::script_api::{ScriptFailure, ThreadScript};
use crate::tls::TlsClient;

/// One worker thread's shared state.
pub struct ThreadCore {
    pub cfg: EngineConfig,
    pub policy: Policy,
    pub tally: Tally,
    pub script: Option<Box<dyn ThreadScript>>,
    /// Delay and pacing timers (one per connection at most).
    pub timers: Timers,
    stop: Arc<AtomicBool>,
    fatal: Arc<FatalSlot>,
    /// A script hook failed: the loop ends and the run is void.
    failure: Option<ScriptFailure>,
    /// `-R`: when this thread's schedules start (µs).
    origin: Option<u64>,
    next_tick: u64,
}

impl ThreadCore {
    pub fn new(
        cfg: EngineConfig,
        script: Option<Box<dyn ThreadScript>>,
        stop: Arc<AtomicBool>,
        fatal: Arc<FatalSlot>,
    ) -> ThreadCore {
        let shape = cfg.script_shape.clone().filter(|_| script.is_some());
        let mut policy = Policy::new(cfg.request.clone(), cfg.pipeline, cfg.timeout_ms);
        policy.dynamic = shape.as_ref().is_some_and(|s| s.dynamic);
        policy.has_delay = shape.as_ref().is_some_and(|s| s.delay);
        policy.has_response = shape.as_ref().is_some_and(|s| s.response);
        policy.batch_latency = cfg.rate.is_some_and(|r| r.batch_latency);
        // Each run's schedule starts when its threads are created (threads of
        // one run start within moments of each other; the global spread of
        // `rate::Schedule` keeps the total rate either way).
        let now = now_us();
        ThreadCore {
            timers: Timers::with_capacity(cfg.connections),
            tally: Tally::new(policy.timeout_us, cfg.rate.is_some(), now),
            origin: cfg.rate.map(|_| now),
            policy,
            script,
            stop,
            fatal,
            failure: None,
            next_tick: now,
            cfg,
        }
    }

    /// The TLS client of an https run (`None` for http).
    pub fn tls_client(&self) -> std::io::Result<Option<TlsClient>> {
        let cfg = &self.cfg;
        match &cfg.tls_server_name {
            Some(host) => TlsClient::new(host, cfg.addr.ip())
                .map(Some)
                .map_err(std::io::Error::other),
            None => Ok(None),
        }
    }

    /// The machine of connection `k` (0-based within the thread).
    pub fn new_machine(&self, k: usize) -> Machine {
        let schedule = self.cfg.rate.zip(self.origin).map(|(r, start)| {
            Schedule::new(
                r.total_rate,
                r.total_connections,
                r.first_connection + k,
                start,
            )
        });
        Machine::new(self.policy.has_response, schedule)
    }

    /// One machine step on the monotonic clock; `None` once a script hook
    /// has failed (the shell ends its loop).
    pub fn feed(&mut self, m: &mut Machine, ev: Event<'_>) -> Option<Action> {
        if self.failure.is_some() {
            return None;
        }
        let mut env = Env {
            policy: &self.policy,
            tally: &mut self.tally,
            script: self.script.as_deref_mut(),
            clock: &MonotonicClock,
        };
        match m.handle(ev, &mut env) {
            Ok(a) => Some(a),
            Err(f) => {
                self.failure = Some(f);
                None
            }
        }
    }

    /// The loop starts now: Req/Sec window and the first tick.
    pub fn start(&mut self, now: u64) {
        self.tally.start_sampling(now);
        self.next_tick = now + INTERVAL_US;
    }

    /// The 100 ms tick, if due at `now`: samples Req/Sec and returns
    /// `Some(true)` (feed `Event::Tick` to every machine) or `Some(false)`
    /// when the run is over (stop flag). The next tick is 100 ms after this
    /// one was processed (drifts like wrk's repeating timer).
    pub fn tick(&mut self, now: u64) -> Option<bool> {
        if now < self.next_tick {
            return None;
        }
        self.tally.sample(now);
        if self.stop.load(Ordering::Relaxed) {
            return Some(false);
        }
        self.next_tick = now + INTERVAL_US;
        Some(true)
    }

    /// When the loop must wake next: the earliest timer or the tick.
    pub fn next_wake(&self) -> u64 {
        self.timers
            .next_due()
            .map_or(self.next_tick, |t| t.min(self.next_tick))
    }

    /// The next timer due at `now` (feed it as `Event::Timer(t.generation)`
    /// to connection `t.conn` if that connection still exists).
    pub fn due_timer(&mut self, now: u64) -> Option<Timer> {
        self.timers.pop_due(now)
    }

    /// Arms connection `conn`'s timer for `Action::Arm(due)`.
    pub fn arm(&mut self, due: u64, conn: usize, m: &Machine) {
        self.timers.arm(due, conn as u32, m.generation());
    }

    /// A hook failed, or the script called `thread:stop()`.
    pub fn finished(&self) -> bool {
        self.failed() || self.script.as_ref().is_some_and(|s| s.stop_requested())
    }

    /// A hook failed.
    pub fn failed(&self) -> bool {
        self.failure.is_some()
    }

    /// The thread's results; a script failure is also reported to the main
    /// thread.
    pub fn into_result(self) -> ThreadResult {
        if let Some(f) = &self.failure {
            self.fatal.set(f.clone());
        }
        let t = self.tally;
        ThreadResult {
            complete: t.complete,
            bytes: t.bytes,
            errors: t.errors,
            error_detail: t.error_detail,
            latency: t.latency,
            requests: t.requests,
            corrected: t.corrected,
            uncorrected: t.uncorrected,
            script: self.script,
            failure: self.failure,
        }
    }
}
