//! The data phase of every RDMA test, written once against [`Verbs`] and
//! following stock's loops (rdma.c): what is posted before the sync, what
//! each completion counts, when the loop ends.  Counting per spec §4.14:
//! sends count when posted, receives when completed, RDMA reads and atomics
//! count the server's implicit side in `rem_s` / `rem_r`.

use crate::datapath::Role;
use crate::proto::Counters;

use super::setup::{cq_error, Qp, NCQE};
use super::verbs::{Fin, Op, Verbs, Wc, WC_SUCCESS, WRID_RDMA, WRID_RECV, WRID_SEND};

/// Which loop a test runs on one side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Client of `_bw`: up to 1024 sends outstanding, `-n` honoured.
    SendBw,
    /// Server of `_bw` and `_rdma_write_bw`: 1024 receives posted.
    RecvBw,
    /// Both sides of `_bi_bw`.
    BiBw,
    /// Ping-pong with send/recv, or RDMA write with immediate.
    PingPong { rdma: bool },
    /// RDMA write, then spin on the own buffer's first and last byte.
    WritePoll,
    /// Client of `_rdma_read_bw` / `_rdma_write_bw`: 1024 outstanding.
    RdmaBw { read: bool },
    /// Client of `rc_rdma_read_lat`: one read at a time.
    ReadLat,
    /// Client of the `_mr` atomics: 1024 outstanding on the peer's word.
    Atomic(Atomic),
    /// Client of the `ver_` atomics: known value sequence, checked.
    VerifyAtomic(Atomic),
    /// Server of reads and atomics: the device answers, we wait.
    Nop,
}

/// The atomic operation of an atomics test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Atomic {
    CompareSwap,
    FetchAdd,
}

/// How one side opens its queue pair for a test (stock's `rd_open` and
/// `rd_prep` arguments).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub qp: Qp,
    pub kind: Kind,
    pub max_send_wr: u32,
    pub max_recv_wr: u32,
    /// Fixed buffer size (8 for atomics); None = msg_size, which is then
    /// also the message size (otherwise the message size is 0).
    pub fixed_buf: Option<usize>,
}

/// The plan of test `name` for `role`; None for a non-RDMA or XRC test.
pub fn plan(name: &str, role: Role) -> Option<Plan> {
    let client = role == Role::Client;
    let (qp, rest) = if let Some(r) = name.strip_prefix("ver_rc_") {
        let a = match r {
            "compare_swap" => Atomic::CompareSwap,
            "fetch_add" => Atomic::FetchAdd,
            _ => return None,
        };
        let kind = if client {
            Kind::VerifyAtomic(a)
        } else {
            Kind::Nop
        };
        return Some(sized(Qp::Rc, kind, client, (NCQE, 0), (0, 1), Some(8)));
    } else if let Some(r) = name.strip_prefix("rc_") {
        (Qp::Rc, r)
    } else if let Some(r) = name.strip_prefix("uc_") {
        (Qp::Uc, r)
    } else if let Some(r) = name.strip_prefix("ud_") {
        (Qp::Ud, r)
    } else {
        return None;
    };
    let n = NCQE;
    let p = match (qp, rest, client) {
        (_, "bw", true) => sized(qp, Kind::SendBw, true, (n, 0), (0, 0), None),
        (_, "bw", false) => sized(qp, Kind::RecvBw, true, (0, n), (0, 0), None),
        (_, "bi_bw", _) => sized(qp, Kind::BiBw, true, (n, n), (0, 0), None),
        (_, "lat", _) => sized(
            qp,
            Kind::PingPong { rdma: false },
            true,
            (1, 1),
            (0, 0),
            None,
        ),
        (Qp::Ud, ..) => return None,
        (_, "rdma_write_lat", _) => sized(
            qp,
            Kind::PingPong { rdma: true },
            true,
            (1, 1),
            (0, 0),
            None,
        ),
        (_, "rdma_write_poll_lat", _) => sized(qp, Kind::WritePoll, true, (n, 0), (0, 0), None),
        (_, "rdma_write_bw", true) => {
            sized(qp, Kind::RdmaBw { read: false }, true, (n, 0), (0, 0), None)
        }
        (_, "rdma_write_bw", false) => sized(qp, Kind::RecvBw, true, (0, n), (0, 0), None),
        (Qp::Uc, ..) => return None,
        (_, "rdma_read_bw", c) => sized(qp, Kind::RdmaBw { read: true }, c, (n, 0), (0, 1), None),
        (_, "rdma_read_lat", c) => sized(qp, Kind::ReadLat, c, (1, 0), (0, 1), None),
        (_, "compare_swap_mr", c) => sized(
            qp,
            Kind::Atomic(Atomic::CompareSwap),
            c,
            (n, 0),
            (0, 1),
            Some(8),
        ),
        (_, "fetch_add_mr", c) => sized(
            qp,
            Kind::Atomic(Atomic::FetchAdd),
            c,
            (n, 0),
            (0, 1),
            Some(8),
        ),
        _ => return None,
    };
    Some(p)
}

/// A plan; `keep` false turns it into the do-nothing server side of reads
/// and atomics with the `nop_wr` queue sizes (its receive queue of 1 is
/// stock's driver workaround).
fn sized(
    qp: Qp,
    kind: Kind,
    keep: bool,
    wr: (usize, usize),
    nop_wr: (usize, usize),
    fixed_buf: Option<usize>,
) -> Plan {
    let (kind, (s, r), fixed_buf) = if keep {
        // The ver_ client uses a msg_size buffer; its server uses 8 bytes.
        let buf = if matches!(kind, Kind::VerifyAtomic(_)) {
            None
        } else {
            fixed_buf
        };
        (kind, wr, buf)
    } else {
        (Kind::Nop, nop_wr, fixed_buf)
    };
    Plan {
        qp,
        kind,
        max_send_wr: s as u32,
        max_recv_wr: r as u32,
        fixed_buf,
    }
}

/// Parameters of one run of a loop (the REQ values this side uses).
#[derive(Clone, Copy, Debug)]
pub struct Cfg<'a> {
    pub test: &'a str,
    pub role: Role,
    /// Message size of this side (0 on the atomics' 8-byte buffers).
    pub msg_size: usize,
    pub no_msgs: u32,
    pub access_recv: bool,
    /// Busy-poll the CQ (`-cp1`) instead of waiting for completion events.
    pub poll_mode: bool,
}

/// What one side counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub s: Counters,
    pub r: Counters,
    pub rem_s: Counters,
    pub rem_r: Counters,
    /// Most completions returned by one poll.
    pub max_cqes: u32,
}

fn add(c: &mut Counters, bytes: usize) {
    c.msgs += 1;
    c.bytes += bytes as u64;
}

/// Stock's marker bytes of the write-poll test.
const CLIENT_ID: u8 = 0x55;
const SERVER_ID: u8 = 0xaa;

/// The `ver_` tests' slot count; stock's error when msg_size is too small.
pub fn verify_slots(msg_size: usize) -> Result<usize, String> {
    match msg_size / 8 {
        0 => Err("message size must be at least 8".into()),
        n => Ok(n.min(NCQE)),
    }
}

/// The value slot `i` holds after the `i`-th atomic, and the arguments
/// (compare/add, swap) of the `i`-th atomic.
pub fn atomic_seq(a: Atomic, i: u64) -> (u64, Op) {
    const MAGIC: u64 = 0x0123_4567_89ab_cdef;
    match a {
        Atomic::CompareSwap => {
            let v = if i == 0 { 0 } else { MAGIC.wrapping_add(i - 1) };
            let op = Op::CompareSwap {
                compare: v,
                swap: MAGIC.wrapping_add(i),
            };
            (v, op)
        }
        Atomic::FetchAdd => (i, Op::FetchAdd { add: 1 }),
    }
}

/// One side's loop state.
pub struct Runner<'a, V: Verbs> {
    pub v: &'a mut V,
    pub cfg: Cfg<'a>,
    pub fin: Fin<'a>,
    pub c: Counts,
}

impl<'a, V: Verbs> Runner<'a, V> {
    pub fn new(v: &'a mut V, cfg: Cfg<'a>, fin: Fin<'a>) -> Self {
        Runner {
            v,
            cfg,
            fin,
            c: Counts::default(),
        }
    }

    fn done(&self) -> bool {
        (self.fin)()
    }

    /// What stock does between the node exchange and the sync.
    pub fn before_sync(&mut self, kind: Kind) -> Result<(), String> {
        match kind {
            Kind::RecvBw | Kind::BiBw => self.post_recvs(NCQE),
            Kind::PingPong { .. } => self.post_recvs(1),
            Kind::WritePoll => {
                let id = self.own_id();
                self.mark(id);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The timed data phase, from right after the sync until the timer.
    pub fn run(&mut self, kind: Kind) -> Result<Counts, String> {
        match kind {
            Kind::SendBw => self.send_bw()?,
            Kind::RecvBw => self.recv_bw()?,
            Kind::BiBw => self.bi_bw()?,
            Kind::PingPong { rdma } => self.ping_pong(rdma)?,
            Kind::WritePoll => self.write_poll()?,
            Kind::RdmaBw { read } => self.rdma_bw(read)?,
            Kind::ReadLat => self.read_lat()?,
            Kind::Atomic(a) => self.atomic(a)?,
            Kind::VerifyAtomic(a) => self.verify_atomic(a)?,
            Kind::Nop => {
                while !self.done() {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            }
        }
        Ok(self.c)
    }

    /// Stock's `rd_poll`: in event mode wait for an event first.
    fn poll(&mut self, wc: &mut [Wc]) -> Result<usize, String> {
        if !self.cfg.poll_mode && !self.done() && !self.v.wait_event(self.fin)? {
            return Ok(0);
        }
        self.v.poll_cq(wc)
    }

    fn note_cqes(&mut self, n: usize) {
        self.c.max_cqes = self.c.max_cqes.max(n as u32);
    }

    /// A failed completion ends the test (after counting the error).
    fn failed(&self, status: u32) -> String {
        cq_error(self.cfg.test, status)
    }

    /// Ends the test on a failed send-side completion, counting the error.
    fn send_ok(&mut self, status: u32) -> Result<(), String> {
        if status == WC_SUCCESS {
            return Ok(());
        }
        self.c.s.errs += 1;
        Err(self.failed(status))
    }

    /// Ends the test on a failed receive completion, counting the error.
    fn recv_ok(&mut self, status: u32) -> Result<(), String> {
        if status == WC_SUCCESS {
            return Ok(());
        }
        self.c.r.errs += 1;
        Err(self.failed(status))
    }

    /// The next batch of completions in `wc` (their count, noted for
    /// `max_cqes`), or `None` once the test is over, before or after the poll.
    fn next_batch(&mut self, wc: &mut [Wc]) -> Result<Option<usize>, String> {
        if self.done() {
            return Ok(None);
        }
        let n = self.poll(wc)?;
        if self.done() {
            return Ok(None);
        }
        self.note_cqes(n);
        Ok(Some(n))
    }

    fn post_sends(&mut self, n: usize) -> Result<(), String> {
        for _ in 0..n {
            if self.done() {
                break;
            }
            self.v
                .post_send(WRID_SEND, Op::Send, 0, self.cfg.msg_size)?;
            add(&mut self.c.s, self.cfg.msg_size);
        }
        Ok(())
    }

    fn post_recvs(&mut self, n: usize) -> Result<(), String> {
        for _ in 0..n {
            if self.done() {
                break;
            }
            self.v.post_recv()?;
        }
        Ok(())
    }

    /// RDMA write/read of msg_size from the buffer start; writes count as sends.
    fn post_rdma(&mut self, op: Op, n: usize) -> Result<(), String> {
        for _ in 0..n {
            if self.done() {
                break;
            }
            self.v.post_send(WRID_RDMA, op, 0, self.cfg.msg_size)?;
            if op != Op::RdmaRead {
                add(&mut self.c.s, self.cfg.msg_size);
            }
        }
        Ok(())
    }

    fn post_atomic(&mut self, wr_id: u64, op: Op, offset: usize) -> Result<(), String> {
        self.v.post_send(wr_id, op, offset, 8)?;
        add(&mut self.c.s, 8);
        Ok(())
    }

    /// A successful receive of one message.
    fn received(&mut self) {
        add(&mut self.c.r, self.cfg.msg_size);
        if self.cfg.access_recv {
            self.v.touch(self.cfg.msg_size);
        }
    }

    /// How many more sends `-n` allows (stock's `left_to_send`).
    fn left_to_send(&self, sent: u64, room: usize) -> usize {
        let no_msgs = u64::from(self.cfg.no_msgs);
        if no_msgs == 0 {
            return room;
        }
        no_msgs.saturating_sub(sent).min(room as u64) as usize
    }

    fn send_bw(&mut self) -> Result<(), String> {
        let mut wc = vec![Wc::default(); NCQE];
        let first = self.left_to_send(0, NCQE);
        self.post_sends(first)?;
        // Stock counts a full window as sent here, whatever -n allowed.
        let mut sent = NCQE as u64;
        while !self.done() {
            let mut n = self.poll(&mut wc)?;
            self.note_cqes(n);
            if self.done() {
                break;
            }
            for w in &wc[..n] {
                if w.wr_id == WRID_SEND {
                    self.send_ok(w.status)?;
                }
            }
            if self.cfg.no_msgs != 0 {
                if self.c.s.msgs + self.c.s.errs >= u64::from(self.cfg.no_msgs) {
                    break;
                }
                n = self.left_to_send(sent, n);
            }
            self.post_sends(n)?;
            sent += n as u64;
        }
        Ok(())
    }

    fn recv_bw(&mut self) -> Result<(), String> {
        let mut wc = vec![Wc::default(); NCQE];
        while let Some(n) = self.next_batch(&mut wc)? {
            for w in &wc[..n] {
                self.recv_ok(w.status)?;
                self.received();
            }
            let no_msgs = u64::from(self.cfg.no_msgs);
            if no_msgs != 0 && self.c.r.msgs + self.c.r.errs >= no_msgs {
                break;
            }
            self.post_recvs(n)?;
        }
        Ok(())
    }

    fn bi_bw(&mut self) -> Result<(), String> {
        let mut wc = vec![Wc::default(); NCQE];
        self.post_sends(NCQE)?;
        while let Some(n) = self.next_batch(&mut wc)? {
            let (mut sent, mut recvd) = (0, 0);
            for w in &wc[..n] {
                match w.wr_id {
                    WRID_SEND => {
                        self.send_ok(w.status)?;
                        sent += 1;
                    }
                    WRID_RECV => {
                        self.recv_ok(w.status)?;
                        self.received();
                        recvd += 1;
                    }
                    _ => {}
                }
            }
            self.post_recvs(recvd)?;
            self.post_sends(sent)?;
        }
        Ok(())
    }

    fn ping(&mut self, rdma: bool) -> Result<(), String> {
        if rdma {
            self.post_rdma(Op::RdmaWriteImm, 1)
        } else {
            self.post_sends(1)
        }
    }

    fn ping_pong(&mut self, rdma: bool) -> Result<(), String> {
        // Bit 1: own send completed, bit 2: a message arrived.
        let mut done = 1;
        if self.cfg.role == Role::Client {
            self.ping(rdma)?;
            done = 0;
        }
        let mut wc = [Wc::default(); 2];
        while !self.done() {
            let n = self.poll(&mut wc)?;
            if self.done() {
                break;
            }
            for w in &wc[..n] {
                match w.wr_id {
                    WRID_SEND | WRID_RDMA => {
                        self.send_ok(w.status)?;
                        done |= 1;
                    }
                    WRID_RECV => {
                        self.recv_ok(w.status)?;
                        add(&mut self.c.r, self.cfg.msg_size);
                        self.post_recvs(1)?;
                        done |= 2;
                    }
                    _ => {}
                }
            }
            if done == 3 {
                self.ping(rdma)?;
                done = 0;
            }
        }
        Ok(())
    }

    fn own_id(&self) -> u8 {
        match self.cfg.role {
            Role::Client => CLIENT_ID,
            Role::Server => SERVER_ID,
        }
    }

    fn mark(&mut self, id: u8) {
        let last = self.cfg.msg_size.saturating_sub(1);
        self.v.store(0, id);
        self.v.store(last, id);
    }

    fn write_poll(&mut self) -> Result<(), String> {
        let (own, peer) = match self.cfg.role {
            Role::Client => (CLIENT_ID, SERVER_ID),
            Role::Server => (SERVER_ID, CLIENT_ID),
        };
        let last = self.cfg.msg_size.saturating_sub(1);
        let mut send = self.cfg.role == Role::Client;
        let mut wc = [Wc::default(); 2];
        while !self.done() {
            if send {
                self.post_rdma(Op::RdmaWrite, 1)?;
                if self.done() {
                    break;
                }
                // Never waits: the test polls memory, not the CQ.
                let n = self.v.poll_cq(&mut wc)?;
                for w in &wc[..n] {
                    if w.wr_id == WRID_RDMA {
                        self.send_ok(w.status)?;
                    }
                }
            }
            while !self.done() {
                if self.v.load(0) == peer && self.v.load(last) == peer {
                    break;
                }
                std::hint::spin_loop();
            }
            // Stock counts here even when the timer ended the spin.
            add(&mut self.c.r, self.cfg.msg_size);
            self.mark(own);
            send = true;
        }
        Ok(())
    }

    fn rdma_bw(&mut self, read: bool) -> Result<(), String> {
        let op = if read { Op::RdmaRead } else { Op::RdmaWriteImm };
        let mut wc = vec![Wc::default(); NCQE];
        self.post_rdma(op, NCQE)?;
        while let Some(n) = self.next_batch(&mut wc)? {
            for w in &wc[..n] {
                self.send_ok(w.status)?;
                if read {
                    add(&mut self.c.rem_s, self.cfg.msg_size);
                    self.received();
                }
            }
            self.post_rdma(op, n)?;
        }
        Ok(())
    }

    fn read_lat(&mut self) -> Result<(), String> {
        let mut wc = [Wc::default(); 1];
        self.post_rdma(Op::RdmaRead, 1)?;
        while !self.done() {
            if self.poll(&mut wc)? == 0 {
                continue;
            }
            if self.done() {
                break;
            }
            if wc[0].wr_id != WRID_RDMA {
                continue;
            }
            self.send_ok(wc[0].status)?;
            add(&mut self.c.r, self.cfg.msg_size);
            add(&mut self.c.rem_s, self.cfg.msg_size);
            self.post_rdma(Op::RdmaRead, 1)?;
        }
        Ok(())
    }

    fn atomic(&mut self, a: Atomic) -> Result<(), String> {
        let op = match a {
            Atomic::CompareSwap => Op::CompareSwap {
                compare: 0,
                swap: 0,
            },
            Atomic::FetchAdd => Op::FetchAdd { add: 0 },
        };
        for _ in 0..NCQE {
            if self.done() {
                break;
            }
            self.post_atomic(0, op, 0)?;
        }
        let mut wc = vec![Wc::default(); NCQE];
        while let Some(n) = self.next_batch(&mut wc)? {
            for w in &wc[..n] {
                self.send_ok(w.status)?;
                add(&mut self.c.rem_r, 8);
                self.post_atomic(0, op, 0)?;
            }
        }
        Ok(())
    }

    fn verify_atomic(&mut self, a: Atomic) -> Result<(), String> {
        let slots = verify_slots(self.cfg.msg_size)?;
        let (mut head, mut tail) = (0u64, 0u64);
        for i in 0..slots {
            if self.done() {
                break;
            }
            let (_, op) = atomic_seq(a, head);
            head += 1;
            self.post_atomic(i as u64, op, i * 8)?;
        }
        let mut wc = vec![Wc::default(); NCQE];
        while let Some(n) = self.next_batch(&mut wc)? {
            for w in &wc[..n] {
                self.send_ok(w.status)?;
                add(&mut self.c.rem_r, 8);
                let x = w.wr_id as usize;
                if x >= slots {
                    continue;
                }
                let (want, _) = atomic_seq(a, tail);
                tail += 1;
                let seen = self.v.load_u64(x);
                if seen != want {
                    return Err(format!(
                        "mismatch, sequence {tail}, expected {want:x}, got {seen:x}"
                    ));
                }
                let (_, op) = atomic_seq(a, head);
                head += 1;
                self.post_atomic(x as u64, op, x * 8)?;
            }
        }
        Ok(())
    }
}
