//! The ring itself: setup with graceful flag fallbacks, batched submission
//! and one `io_uring_enter` per loop turn, completions copied out so they
//! can be handled while new entries are queued.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use io_uring::{cqueue, opcode, squeue, types, IoUring};

use super::bufring::BufRing;

/// What an operation was, in the top byte of its user data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Op {
    /// The wait for a connect to complete (a writability poll).
    Connect = 1,
    Recv = 2,
    Send = 3,
    Cancel = 4,
}

/// An operation's identity: which slot, which socket of that slot (the
/// shell's epoch, so completions of a closed socket are recognised), which
/// operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub op: Op,
    pub slot: u32,
    /// Only the low 24 bits are kept.
    pub epoch: u32,
}

impl Token {
    pub fn new(op: Op, slot: u32, epoch: u32) -> Token {
        Token {
            op,
            slot,
            epoch: epoch & 0xff_ffff,
        }
    }

    pub fn encode(self) -> u64 {
        (self.op as u64) << 56 | (u64::from(self.epoch) & 0xff_ffff) << 32 | u64::from(self.slot)
    }

    /// `None` for user data we did not produce.
    pub fn decode(ud: u64) -> Option<Token> {
        let op = match (ud >> 56) as u8 {
            1 => Op::Connect,
            2 => Op::Recv,
            3 => Op::Send,
            4 => Op::Cancel,
            _ => return None,
        };
        Some(Token {
            op,
            slot: ud as u32,
            epoch: ((ud >> 32) & 0xff_ffff) as u32,
        })
    }
}

/// One completion, copied out of the ring.
#[derive(Debug, Clone, Copy)]
pub struct Completion {
    pub user_data: u64,
    pub result: i32,
    pub flags: u32,
}

impl Completion {
    /// The provided buffer this completion filled.
    pub fn buffer(&self) -> Option<u16> {
        cqueue::buffer_select(self.flags)
    }

    /// A multishot operation stays armed.
    pub fn more(&self) -> bool {
        cqueue::more(self.flags)
    }
}

/// Ring sizes for a thread with `connections` connections.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub sq_entries: u32,
    pub cq_entries: u32,
    pub buffers: u16,
    pub buf_size: u32,
}

impl Sizes {
    /// Room for a send and a receive completion per connection per turn
    /// (up to a cap; a fuller queue is flushed, an overflowing CQ is kept by
    /// the kernel), and buffers enough for the receives of one turn.
    ///
    /// Buffers are recycled as each completion is handled, so one turn's
    /// receives bound how many are needed: ~40 requests a turn at -c10000
    /// (-t1, loopback nginx), and 128 buffers saw no `ENOBUFS` at -c1000 or
    /// -c10000 (64 did, a few dozen times). Every buffer the ring cycles
    /// through stays resident (a page at least), so 512 cost ~2.5 MB of
    /// RSS at -c10000 more than 128 (11.3 vs 8.8 MB measured).
    pub fn for_connections(connections: usize) -> Sizes {
        let c = connections.max(1);
        let sq = (2 * c).next_power_of_two().clamp(64, 4096) as u32;
        Sizes {
            sq_entries: sq,
            cq_entries: (4 * sq).min(16384),
            buffers: c.next_power_of_two().clamp(16, 128) as u16,
            buf_size: 16 * 1024,
        }
    }
}

/// The group id of the receive buffers.
pub const BUF_GROUP: u16 = 0;

/// A ring with its receive buffers.
pub struct Driver {
    // Field order matters: the ring is dropped (closing it and releasing
    // every buffer the kernel holds) before the buffers are unmapped.
    ring: IoUring,
    bufs: BufRing,
    done: Vec<Completion>,
    /// The kernel takes a minimum wait (`IORING_FEAT_MIN_TIMEOUT`, 6.12).
    min_timeout: bool,
}

/// Builds a ring, with the cheapest setup flags the kernel accepts.
///
/// `SINGLE_ISSUER | DEFER_TASKRUN` (6.1) run completion work only when we
/// enter to wait, in our thread, which suits a loop that always does; older
/// kernels fall back to `COOP_TASKRUN` (5.19), then to no flags.
/// The ring must be used by the thread that built it.
fn build_ring(sizes: Sizes) -> io::Result<IoUring> {
    let attempts: [fn(&mut io_uring::Builder); 3] = [
        |b| {
            b.setup_single_issuer().setup_defer_taskrun();
        },
        |b| {
            b.setup_coop_taskrun();
        },
        |_| {},
    ];
    let mut last = io::Error::from(io::ErrorKind::Unsupported);
    for set in attempts {
        let mut b = IoUring::builder();
        b.setup_cqsize(sizes.cq_entries).setup_submit_all();
        set(&mut b);
        match b.build(sizes.sq_entries) {
            Ok(r) => return Ok(r),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

impl Driver {
    /// Sets up the ring and its receive buffers. Errors mean: use epoll.
    pub fn new(sizes: Sizes) -> io::Result<Driver> {
        let ring = build_ring(sizes)?;
        let bufs = BufRing::register(&ring, BUF_GROUP, sizes.buffers, sizes.buf_size)?;
        Ok(Driver {
            min_timeout: ring.params().is_feature_min_timeout(),
            ring,
            bufs,
            done: Vec::with_capacity(sizes.cq_entries as usize),
        })
    }

    /// Whether the kernel knows every opcode the engine uses.
    pub fn supports_engine_opcodes(&self) -> io::Result<bool> {
        let mut probe = io_uring::Probe::new();
        self.ring.submitter().register_probe(&mut probe)?;
        Ok([
            opcode::PollAdd::CODE,
            opcode::Send::CODE,
            opcode::RecvMulti::CODE,
            opcode::AsyncCancel::CODE,
        ]
        .iter()
        .all(|&c| probe.is_supported(c)))
    }

    /// Queues one entry; a full queue is submitted first (without waiting).
    ///
    /// # Safety
    /// Every buffer or address the entry points at must stay valid until
    /// its completion has been reaped.
    pub unsafe fn push(&mut self, entry: squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: forwarded to the caller (see above).
            if unsafe { self.ring.submission().push(&entry) }.is_ok() {
                return Ok(());
            }
            match self.ring.submit() {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    // CQ overflow backlog: make room by reaping.
                    self.reap();
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Submits what is queued and waits for at least one completion or
    /// `timeout` (`None`: do not wait), in one `io_uring_enter`; then the
    /// completions are in [`Driver::take_completions`]. A timeout or signal
    /// is not an error.
    pub fn submit_and_wait(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.submit_and_wait_batch(timeout, 1, 0)
    }

    /// Like [`Driver::submit_and_wait`], but waits for `want` completions,
    /// or once `min_wait_us` has passed for at least one (kernel 6.12's
    /// minimum timeout; older kernels wait for one). Batching the wake-ups
    /// is what saves CPU: each sleep and wake-up costs a context switch.
    pub fn submit_and_wait_batch(
        &mut self,
        timeout: Option<Duration>,
        want: usize,
        min_wait_us: u32,
    ) -> io::Result<()> {
        let res = match timeout {
            None => self.ring.submit(),
            Some(t) => {
                let ts = types::Timespec::new()
                    .sec(t.as_secs())
                    .nsec(t.subsec_nanos());
                let mut args = types::SubmitArgs::new().timespec(&ts);
                let mut want = want.max(1);
                if want > 1 && self.min_timeout {
                    args = args.min_wait_usec(min_wait_us);
                } else {
                    want = 1;
                }
                self.ring.submitter().submit_with_args(want, &args)
            }
        };
        match res {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN)
                ) => {}
            Err(e) => return Err(e),
        }
        self.reap();
        Ok(())
    }

    /// Moves the ring's completions into our list (appending).
    fn reap(&mut self) {
        let cq = self.ring.completion();
        self.done.extend(cq.map(|c| Completion {
            user_data: c.user_data(),
            result: c.result(),
            flags: c.flags(),
        }));
    }

    /// Takes the completions reaped so far (the list is handed back with
    /// [`Driver::restore`] to keep its allocation).
    pub fn take_completions(&mut self) -> Vec<Completion> {
        std::mem::take(&mut self.done)
    }

    /// Returns the (emptied) list taken by [`Driver::take_completions`];
    /// completions reaped meanwhile are kept.
    pub fn restore(&mut self, mut list: Vec<Completion>) {
        list.clear();
        if self.done.is_empty() {
            self.done = list;
        }
    }

    pub fn buffers(&self) -> &BufRing {
        &self.bufs
    }

    pub fn buffers_mut(&mut self) -> &mut BufRing {
        &mut self.bufs
    }

    /// Queues a multishot receive into the buffer group.
    pub fn recv_multi(&mut self, fd: RawFd, token: Token) -> io::Result<()> {
        let e = opcode::RecvMulti::new(types::Fd(fd), BUF_GROUP)
            .build()
            .user_data(token.encode());
        // SAFETY: a provided-buffer receive points at no memory of ours.
        unsafe { self.push(e) }
    }

    /// Queues a send of `len` bytes at `buf`.
    ///
    /// # Safety
    /// `buf..buf+len` must stay valid and unchanged until the send's
    /// completion has been reaped.
    pub unsafe fn send(
        &mut self,
        fd: RawFd,
        buf: *const u8,
        len: u32,
        token: Token,
    ) -> io::Result<()> {
        let e = opcode::Send::new(types::Fd(fd), buf, len)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(token.encode());
        // SAFETY: forwarded to the caller.
        unsafe { self.push(e) }
    }

    /// Queues a one-shot wait for `fd` to be writable (or in error): how
    /// the completion of a non-blocking `connect` is learnt. Its result is
    /// the poll mask; `SO_ERROR` is left for the first send to report.
    pub fn poll_writable(&mut self, fd: RawFd, token: Token) -> io::Result<()> {
        let e = opcode::PollAdd::new(types::Fd(fd), libc::POLLOUT as u32)
            .build()
            .user_data(token.encode());
        // SAFETY: a poll points at no memory of ours.
        unsafe { self.push(e) }
    }

    /// Queues the cancellation of the operation with this token (its
    /// completion arrives with `-ECANCELED`, or not at all if it had ended).
    pub fn cancel(&mut self, target: Token) -> io::Result<()> {
        let e = opcode::AsyncCancel::new(target.encode())
            .build()
            .user_data(Token::new(Op::Cancel, target.slot, target.epoch).encode());
        // SAFETY: a cancel points at no memory of ours.
        unsafe { self.push(e) }
    }
}
