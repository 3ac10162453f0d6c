//! One RDMA test on either side (spec §4.14 steps 1–5), generic over the
//! device backend: open (with or without the connection manager), register
//! the buffer, NODE exchange, connect the QP, arm events, the pre-sync
//! posts, sync, the timed loop, then the caller's STAT exchange while the
//! QP is still open.

use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::control::{Control, CtlError};
use crate::datapath::timer::TestTimer;
use crate::datapath::Role;
use crate::debug::Trace;
use crate::proto::{Req, Stat};
use crate::sys::peer_gone as fd_peer_gone;
use crate::{cpu, dbg_line};

use super::loops::{plan, verify_slots, Cfg, Kind, Plan, Runner};
use super::node::{decode_node, encode_node, Node, NODE_LEN};
use super::setup::{node_lines, Qp, GRH_SIZE};
use super::verbs::Verbs;

/// Largest buffer a REQ may ask our server for (as for the socket tests).
pub const MAX_MSG_SIZE: u32 = 1 << 30;

/// What opening needs: the control connection (the CM port travels on
/// it), the REQ values this side uses, and where the server is.
pub struct Open<'a> {
    pub ctl: &'a mut Control,
    pub req: &'a Req,
    pub role: Role,
    pub plan: Plan,
    /// Server host name as the user typed it (client, CM only).
    pub host: &'a str,
    /// Control-message timeout in seconds.
    pub timeout: u32,
}

/// A device backend: the real verbs ([`super::ibv`]) or none.
pub trait Backend: Verbs + Sized {
    /// Opens the device and creates the QP (stock's `ib_open` / `cm_open`).
    fn open(o: &mut Open) -> Result<Self, CtlError>;
    /// Allocates and registers a zeroed, page-aligned buffer of `size`
    /// bytes; returns this side's complete NODE.
    fn register(&mut self, size: usize, msg_size: usize) -> Result<Node, String>;
    /// Moves the QP to RTR/RTS towards `peer` (nothing to do under CM).
    fn connect(&mut self, peer: &Node) -> Result<(), String>;
    /// Requests completion events (event mode).
    fn arm_events(&mut self) -> Result<(), String>;
}

fn local(m: String) -> CtlError {
    CtlError::Local(m)
}

/// Runs test `name` on this side; `exchange` sends/receives the STATs
/// before the device is closed.
pub fn run<B: Backend, T>(
    mut o: Open,
    name: &str,
    trace: &Trace,
    exchange: impl FnOnce(&mut Control, Stat) -> Result<T, CtlError>,
) -> Result<T, CtlError> {
    let req = o.req;
    let (role, p, to) = (o.role, o.plan, o.timeout);
    if role == Role::Server && req.msg_size > MAX_MSG_SIZE {
        return Err(local(format!(
            "bad message size: {}; must be between 1 and {MAX_MSG_SIZE}",
            req.msg_size
        )));
    }
    let mut dev = B::open(&mut o)?;
    let ctl = o.ctl;
    if let Kind::VerifyAtomic(_) = p.kind {
        verify_slots(req.msg_size as usize).map_err(local)?;
    }
    let (buf, msg_size) = match p.fixed_buf {
        Some(n) => (n, 0),
        None => (req.msg_size as usize, req.msg_size as usize),
    };
    let size = (buf + if p.qp == Qp::Ud { GRH_SIZE } else { 0 }).max(1);
    let lnode = dev.register(size, msg_size).map_err(local)?;
    ctl.send("node information", &encode_node(&lnode), to)?;
    let b = ctl.recv("node information", NODE_LEN, to)?;
    let rnode =
        decode_node(&b).ok_or_else(|| local("failed to receive node information".into()))?;
    dev.connect(&rnode).map_err(local)?;
    let poll_mode = req.poll_mode != 0;
    if !poll_mode {
        dev.arm_events().map_err(local)?;
    }
    for l in node_lines(&lnode, &rnode, req.use_cm != 0) {
        dbg_line!(trace, "{l}");
    }
    let cfg = Cfg {
        test: name,
        role,
        msg_size,
        no_msgs: req.no_msgs,
        access_recv: req.access_recv != 0,
        poll_mode,
    };
    let never = || false;
    Runner::new(&mut dev, cfg, &never)
        .before_sync(p.kind)
        .map_err(local)?;
    ctl.sync_before(to)?;
    dbg_line!(trace, "starting timer for {} seconds", req.time);
    let timer = TestTimer::start(req.time);
    let flag = timer.finished();
    // Our server also ends when the client's control connection is gone
    // (stock would wait for a timer that may never come with -t 0).
    let ctl_fd = std::os::fd::AsRawFd::as_raw_fd(ctl.stream());
    let next_check = Cell::new(Instant::now());
    let fin = || {
        if flag.load(Ordering::SeqCst) {
            return true;
        }
        if role == Role::Server && Instant::now() >= next_check.get() {
            next_check.set(Instant::now() + Duration::from_millis(100));
            return fd_peer_gone(ctl_fd);
        }
        false
    };
    let counts = Runner::new(&mut dev, cfg, &fin).run(p.kind);
    let (time_s, time_e) = timer.stop();
    dbg_line!(trace, "stopping timer");
    let c = counts.map_err(local)?;
    let stat = Stat {
        max_cqes: c.max_cqes,
        rem_s: c.rem_s,
        rem_r: c.rem_r,
        ..cpu::local_stat([time_s, time_e], [c.s, c.r])
    };
    let out = exchange(ctl, stat)?;
    drop(dev);
    Ok(out)
}

/// The plan of an RDMA test, or the error of a test this build lacks.
pub fn plan_of(name: &str, role: Role) -> Result<Plan, CtlError> {
    plan(name, role).ok_or_else(|| local(format!("{name}: not supported")))
}

/// The backend of builds without the `rdma` feature: it fails exactly as
/// stock fails on a host without devices (golden `rdma_no_device`).
pub enum NoDevice {}

impl Backend for NoDevice {
    fn open(o: &mut Open) -> Result<Self, CtlError> {
        Err(local(no_device_error(o.req)))
    }
    fn register(&mut self, _: usize, _: usize) -> Result<Node, String> {
        match *self {}
    }
    fn connect(&mut self, _: &Node) -> Result<(), String> {
        match *self {}
    }
    fn arm_events(&mut self) -> Result<(), String> {
        match *self {}
    }
}

impl Verbs for NoDevice {
    fn post_send(&mut self, _: u64, _: super::verbs::Op, _: usize, _: usize) -> Result<(), String> {
        match *self {}
    }
    fn post_recv(&mut self) -> Result<(), String> {
        match *self {}
    }
    fn wait_event(&mut self, _: super::verbs::Fin) -> Result<bool, String> {
        match *self {}
    }
    fn poll_cq(&mut self, _: &mut [super::verbs::Wc]) -> Result<usize, String> {
        match *self {}
    }
    fn load(&self, _: usize) -> u8 {
        match *self {}
    }
    fn store(&mut self, _: usize, _: u8) {
        match *self {}
    }
    fn load_u64(&self, _: usize) -> u64 {
        match *self {}
    }
    fn touch(&self, _: usize) {
        match *self {}
    }
}

/// Stock's first error on a host without RDMA devices: the CM channel
/// under `-cm1`, else the parameter checks, then the device list.
fn no_device_error(req: &Req) -> String {
    if req.use_cm != 0 {
        return "rdma_create_event_channel failed".into();
    }
    match super::setup::ib_params(req) {
        Err(e) => e,
        Ok(_) => "failed to find any InfiniBand devices: Function not implemented".into(),
    }
}
