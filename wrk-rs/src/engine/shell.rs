//! The worker thread's loop, written once for every back end: open the
//! connections, turn (tick, due timers, wait for and handle I/O events),
//! feed events to the [`Machine`]s and perform the actions they return,
//! then hand the sockets to be closed off the measured path.
//!
//! A back end ([`Io`]) provides only its I/O primitives: open a socket and
//! start its connect, send a batch, close, wait for events until a wake
//! time (handling them through [`Shell::drive`] and friends), and shut
//! down. The loop is generic over it (static dispatch: no dyn call or
//! allocation per request).

use std::io;

use super::clock::now_us;
use super::core::ThreadCore;
use super::machine::{Action, Event, Machine};
use super::{EngineConfig, ThreadResult};
use crate::error_detail::Cause;

/// One connection: its policy state and the back end's I/O state.
pub struct Conn<S> {
    pub machine: Machine,
    pub io: S,
}

/// What a back end provides to the loop.
pub trait Io: Sized {
    /// Per-connection I/O state (socket, TLS, operations in flight).
    type Conn: Default;

    /// Opens connection `i`'s socket and starts its connect. An error is
    /// the machine's `OpenFailed` (the slot is dead, as in wrk).
    fn open(&mut self, cfg: &EngineConfig, i: usize, conn: &mut Self::Conn) -> io::Result<()>;

    /// Closes connection `i`'s socket (before a reconnect).
    fn close(&mut self, i: usize, conn: &mut Self::Conn);

    /// Starts writing `out` (the machine keeps it unchanged until `Sent`).
    /// `Some(event)` to feed the machine at once; `None` when the outcome
    /// arrives later as an event.
    fn send(&mut self, i: usize, conn: &mut Self::Conn, out: &[u8]) -> Option<Event<'static>>;

    /// Waits for I/O events until at most `wake` (µs, engine clock) and
    /// handles them. An error ends the loop.
    fn turn(shell: &mut Shell<Self>, wake: u64) -> io::Result<()>;

    /// After the loop: what closes the connections (run on a helper thread
    /// for many of them). Nothing the kernel still does may use their
    /// memory once it has run.
    fn shutdown(self, conns: Vec<Conn<Self::Conn>>) -> Box<dyn FnOnce() + Send>;
}

/// One worker thread: the back end, the shared core, the connections.
pub struct Shell<B: Io> {
    // Dropped first: a back end's kernel operations may point into the
    // connections' memory and the core's static request.
    pub io: B,
    pub core: ThreadCore,
    pub conns: Vec<Conn<B::Conn>>,
}

impl<B: Io> Shell<B> {
    pub fn new(io: B, core: ThreadCore) -> Shell<B> {
        Shell {
            io,
            core,
            conns: Vec::new(),
        }
    }

    /// Runs until the stop flag is seen at a 100 ms tick (or the script
    /// stops the thread, or a hook fails), then hands back the counters.
    pub fn run(mut self) -> ThreadResult {
        self.open_all();
        self.core.start(now_us());
        loop {
            let now = now_us();
            match self.core.tick(now) {
                Some(false) => break,
                Some(true) => {
                    for i in 0..self.conns.len() {
                        self.drive(i, Event::Tick);
                    }
                }
                None => {}
            }
            self.fire_timers(now);
            if self.core.finished() {
                break;
            }
            let wake = self.core.next_wake();
            if B::turn(&mut self, wake).is_err() || self.core.finished() {
                break;
            }
        }
        // wrk leaves its sockets to process exit; closing thousands of them
        // here would delay the join and stretch the measured runtime, so a
        // helper thread closes them (inline if it cannot be spawned: the
        // dropped closure closes them).
        let conns = std::mem::take(&mut self.conns);
        let many = conns.len() > 64;
        let close = self.io.shutdown(conns);
        if many {
            let _ = std::thread::Builder::new()
                .name("wrk-close".into())
                .spawn(close);
        } else {
            close();
        }
        self.core.into_result()
    }

    /// Opens every connection once. One whose socket cannot even be created
    /// (fd limit) counts a connect error and is dead for the run, as in
    /// wrk; its state is not kept, so `-c1m` under a 20,000-descriptor
    /// limit holds memory only for the connections that exist.
    fn open_all(&mut self) {
        for k in 0..self.core.cfg.connections {
            self.conns.push(Conn {
                machine: self.core.new_machine(k),
                io: B::Conn::default(),
            });
            let i = self.conns.len() - 1;
            self.connect(i);
            if self.conns[i].machine.is_dead() {
                self.conns.pop();
            }
        }
        self.conns.shrink_to_fit();
    }

    /// Opens connection `i`'s socket; a synchronous failure kills the slot.
    fn connect(&mut self, i: usize) {
        let conn = &mut self.conns[i];
        if let Err(e) = self.io.open(&self.core.cfg, i, &mut conn.io) {
            self.drive(i, Event::OpenFailed(Cause::io(&e)));
        }
    }

    /// Feeds one event to connection `i`'s machine and performs what it
    /// asks for.
    pub fn drive(&mut self, i: usize, ev: Event<'_>) {
        if let Some(action) = self.feed(i, ev) {
            self.perform(i, action);
        }
    }

    /// One machine step; `None` after a script failure.
    pub fn feed(&mut self, i: usize, ev: Event<'_>) -> Option<Action> {
        self.core.feed(&mut self.conns[i].machine, ev)
    }

    /// Performs the machine's actions until it waits for an event.
    pub fn perform(&mut self, i: usize, mut action: Action) {
        loop {
            let next = match action {
                Action::Idle => return,
                Action::Arm(due) => {
                    self.core.arm(due, i, &self.conns[i].machine);
                    return;
                }
                Action::Reconnect => {
                    self.io.close(i, &mut self.conns[i].io);
                    self.connect(i);
                    return;
                }
                Action::Send => {
                    let conn = &mut self.conns[i];
                    let out = conn.machine.outgoing(&self.core.policy);
                    match self.io.send(i, &mut conn.io, out) {
                        Some(ev) => ev,
                        None => return,
                    }
                }
            };
            match self.feed(i, next) {
                Some(a) => action = a,
                None => return,
            }
        }
    }

    /// Fires due delay/pacing timers.
    fn fire_timers(&mut self, now: u64) {
        while let Some(t) = self.core.due_timer(now) {
            let i = t.conn as usize;
            if i < self.conns.len() {
                self.drive(i, Event::Timer(t.generation));
            }
        }
    }
}
