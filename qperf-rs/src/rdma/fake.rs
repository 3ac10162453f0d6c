//! An in-memory pair of connected queue pairs implementing [`Verbs`], for
//! testing the loops without a device.  Semantics kept close to verbs:
//! a send consumes one posted receive of the peer; without one, RC keeps it
//! until a receive is posted (RNR retry), UC and UD drop it (the sender
//! still completes); RDMA write/read and atomics act on the peer's buffer
//! start; the queues refuse more outstanding requests than they were sized
//! for (`Cannot allocate memory`, as providers do).  Faults: a completion
//! status for the n-th completion of a side.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use super::setup::{Qp, GRH_SIZE};
use super::verbs::{Fin, Op, Verbs, Wc, WC_SUCCESS, WRID_RECV};

#[derive(Default)]
struct Side {
    buf: Vec<u8>,
    max_send: usize,
    max_recv: usize,
    /// Posted, not yet consumed receives.
    recvs: usize,
    /// Send-queue requests not yet polled.
    sends_out: usize,
    /// Completions, each with whether it came from the receive queue.
    cq: VecDeque<(Wc, bool)>,
    /// RC messages waiting for a receive: (sender's wr_id, bytes).
    waiting: VecDeque<(u64, Vec<u8>)>,
    completions: usize,
    /// (n, status): the n-th completion (1-based) of this side fails.
    fail_at: Option<(usize, u32)>,
}

struct Shared {
    qp: Qp,
    sides: [Side; 2],
}

/// One end of a fake connection.
pub struct FakeVerbs {
    me: usize,
    shared: Arc<(Mutex<Shared>, Condvar)>,
    /// Completion events waited for (event mode).
    pub events: Arc<AtomicUsize>,
}

/// Queue sizes and buffer size of one end.
#[derive(Clone, Copy, Debug)]
pub struct End {
    pub max_send_wr: u32,
    pub max_recv_wr: u32,
    pub buf: usize,
}

/// Two connected ends (client, server).
pub fn pair(qp: Qp, client: End, server: End) -> (FakeVerbs, FakeVerbs) {
    let side = |e: End| Side {
        buf: vec![0; e.buf.max(1) + if qp == Qp::Ud { GRH_SIZE } else { 0 }],
        max_send: e.max_send_wr as usize,
        max_recv: e.max_recv_wr as usize,
        ..Side::default()
    };
    let shared = Arc::new((
        Mutex::new(Shared {
            qp,
            sides: [side(client), side(server)],
        }),
        Condvar::new(),
    ));
    let end = |me| FakeVerbs {
        me,
        shared: shared.clone(),
        events: Arc::new(AtomicUsize::new(0)),
    };
    (end(0), end(1))
}

fn complete(side: &mut Side, wr_id: u64) {
    push(side, wr_id, false);
}

fn complete_recv(side: &mut Side) {
    push(side, WRID_RECV, true);
}

fn push(side: &mut Side, wr_id: u64, recv: bool) {
    side.completions += 1;
    let status = match side.fail_at {
        Some((n, st)) if n == side.completions => st,
        _ => WC_SUCCESS,
    };
    side.cq.push_back((Wc { wr_id, status }, recv));
}

impl FakeVerbs {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the `n`-th completion (1-based) of this end carry `status`.
    pub fn fail_completion(&self, n: usize, status: u32) {
        self.lock().sides[self.me].fail_at = Some((n, status));
    }

    /// A copy of this end's buffer.
    pub fn buffer(&self) -> Vec<u8> {
        self.lock().sides[self.me].buf.clone()
    }

    /// A message (or write with immediate) reaching `to`: a receive consumes
    /// it, RC keeps it until one is posted, UC/UD lose it.
    fn deliver(g: &mut Shared, from: usize, to: usize, wr_id: u64, data: Vec<u8>) {
        let qp = g.qp;
        let peer = &mut g.sides[to];
        if peer.recvs > 0 {
            peer.recvs -= 1;
            let at = if qp == Qp::Ud { GRH_SIZE } else { 0 };
            let n = data.len().min(peer.buf.len().saturating_sub(at));
            peer.buf[at..at + n].copy_from_slice(&data[..n]);
            complete_recv(peer);
            complete(&mut g.sides[from], wr_id);
        } else if qp == Qp::Rc {
            peer.waiting.push_back((wr_id, data));
        } else {
            complete(&mut g.sides[from], wr_id);
        }
    }
}

impl Verbs for FakeVerbs {
    fn post_send(&mut self, wr_id: u64, op: Op, offset: usize, len: usize) -> Result<(), String> {
        let (me, peer) = (self.me, 1 - self.me);
        let mut g = self.lock();
        let s = &mut g.sides[me];
        if s.sends_out >= s.max_send {
            return Err(format!(
                "failed to post {}: Cannot allocate memory",
                op.post_name()
            ));
        }
        s.sends_out += 1;
        let end = (offset + len).min(s.buf.len());
        let data = s.buf[offset.min(end)..end].to_vec();
        match op {
            Op::Send => Self::deliver(&mut g, me, peer, wr_id, data),
            Op::RdmaWrite | Op::RdmaWriteImm => {
                let p = &mut g.sides[peer];
                let n = data.len().min(p.buf.len());
                p.buf[..n].copy_from_slice(&data[..n]);
                if op == Op::RdmaWriteImm {
                    Self::deliver(&mut g, me, peer, wr_id, Vec::new());
                } else {
                    complete(&mut g.sides[me], wr_id);
                }
            }
            Op::RdmaRead => {
                let src = g.sides[peer].buf.clone();
                let s = &mut g.sides[me];
                let n = len.min(src.len()).min(s.buf.len().saturating_sub(offset));
                s.buf[offset..offset + n].copy_from_slice(&src[..n]);
                complete(s, wr_id);
            }
            Op::CompareSwap { .. } | Op::FetchAdd { .. } => {
                if g.sides[peer].buf.len() < 8 || g.sides[me].buf.len() < offset + 8 {
                    // Remote access error, as a too-small region gives.
                    complete(&mut g.sides[me], wr_id);
                    if let Some((w, _)) = g.sides[me].cq.back_mut() {
                        w.status = 10;
                    }
                    self.shared.1.notify_all();
                    return Ok(());
                }
                let p = &mut g.sides[peer];
                let mut w = [0u8; 8];
                w.copy_from_slice(&p.buf[..8]);
                let old = u64::from_ne_bytes(w);
                let new = match op {
                    Op::CompareSwap { compare, swap } if old == compare => swap,
                    Op::FetchAdd { add } => old.wrapping_add(add),
                    _ => old,
                };
                p.buf[..8].copy_from_slice(&new.to_ne_bytes());
                let s = &mut g.sides[me];
                s.buf[offset..offset + 8].copy_from_slice(&old.to_ne_bytes());
                complete(s, wr_id);
            }
        }
        self.shared.1.notify_all();
        Ok(())
    }

    fn post_recv(&mut self) -> Result<(), String> {
        let (me, peer) = (self.me, 1 - self.me);
        let mut g = self.lock();
        let s = &mut g.sides[me];
        if s.recvs >= s.max_recv {
            return Err("failed to post receive: Cannot allocate memory".into());
        }
        s.recvs += 1;
        if let Some((wr_id, data)) = s.waiting.pop_front() {
            Self::deliver(&mut g, peer, me, wr_id, data);
        }
        self.shared.1.notify_all();
        Ok(())
    }

    fn wait_event(&mut self, fin: Fin) -> Result<bool, String> {
        let mut g = self.lock();
        loop {
            if !g.sides[self.me].cq.is_empty() {
                self.events.fetch_add(1, Ordering::Relaxed);
                return Ok(true);
            }
            if fin() {
                return Ok(false);
            }
            g = self
                .shared
                .1
                .wait_timeout(g, Duration::from_millis(5))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn poll_cq(&mut self, wc: &mut [Wc]) -> Result<usize, String> {
        let mut g = self.lock();
        let s = &mut g.sides[self.me];
        let mut n = 0;
        while n < wc.len() {
            let Some((w, recv)) = s.cq.pop_front() else {
                break;
            };
            if !recv {
                s.sends_out = s.sends_out.saturating_sub(1);
            }
            wc[n] = w;
            n += 1;
        }
        Ok(n)
    }

    fn load(&self, off: usize) -> u8 {
        // Callers spin on this: let the peer's thread at the lock.
        std::thread::yield_now();
        self.lock().sides[self.me]
            .buf
            .get(off)
            .copied()
            .unwrap_or(0)
    }

    fn store(&mut self, off: usize, v: u8) {
        if let Some(b) = self.lock().sides[self.me].buf.get_mut(off) {
            *b = v;
        }
    }

    fn load_u64(&self, slot: usize) -> u64 {
        let g = self.lock();
        let b = &g.sides[self.me].buf;
        let mut w = [0u8; 8];
        match b.get(slot * 8..slot * 8 + 8) {
            Some(s) => w.copy_from_slice(s),
            None => return 0,
        }
        u64::from_ne_bytes(w)
    }

    fn touch(&self, len: usize) {
        let g = self.lock();
        let b = &g.sides[self.me].buf;
        std::hint::black_box(b.iter().take(len).fold(0u8, |a, &x| a ^ x));
    }
}
