//! The narrow verbs interface the test loops are written against: post a
//! work request, post a receive, wait for a completion event, poll the CQ,
//! and look at the registered buffer.  [`super::ibv`] implements it over
//! libibverbs (feature `rdma`), [`super::fake`] in memory for the tests.

/// Work-request ids, as stock tags them.
pub const WRID_SEND: u64 = 1;
pub const WRID_RECV: u64 = 2;
pub const WRID_RDMA: u64 = 3;

/// Completion status `IBV_WC_SUCCESS`.
pub const WC_SUCCESS: u32 = 0;

/// A send-queue operation.  RDMA and atomics target the peer's buffer start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Send,
    RdmaWrite,
    RdmaWriteImm,
    RdmaRead,
    CompareSwap { compare: u64, swap: u64 },
    FetchAdd { add: u64 },
}

impl Op {
    /// What stock's "failed to post ..." error names.
    pub fn post_name(self) -> &'static str {
        match self {
            Op::Send => "send",
            Op::RdmaWrite => "rdma write",
            Op::RdmaWriteImm => "rdma write with immediate",
            Op::RdmaRead => "rdma read",
            Op::CompareSwap { .. } => "compare and swap",
            Op::FetchAdd { .. } => "fetch and add",
        }
    }
}

/// One work completion: which request, and its `ibv_wc_status`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Wc {
    pub wr_id: u64,
    pub status: u32,
}

/// Tells a blocking call that the test timer has expired.
pub type Fin<'a> = &'a dyn Fn() -> bool;

/// One opened, connected queue pair with its CQ and registered buffer.
/// Errors are stock's message texts (e.g. `failed to post send: ...`).
pub trait Verbs {
    /// Posts one signalled request of `len` bytes at buffer `offset`.
    fn post_send(&mut self, wr_id: u64, op: Op, offset: usize, len: usize) -> Result<(), String>;
    /// Posts one receive of the whole buffer (`WRID_RECV`).
    fn post_recv(&mut self) -> Result<(), String>;
    /// Event mode: blocks until the CQ signals a completion (then re-arms
    /// the notification) and returns true, or returns false once `fin`.
    fn wait_event(&mut self, fin: Fin) -> Result<bool, String>;
    /// Takes up to `wc.len()` completions without blocking.
    fn poll_cq(&mut self, wc: &mut [Wc]) -> Result<usize, String>;
    /// Reads one byte of the buffer as the device may have written it.
    fn load(&self, off: usize) -> u8;
    /// Writes one byte of the buffer.
    fn store(&mut self, off: usize, v: u8);
    /// Reads the `slot`-th native-endian u64 of the buffer (0 past its end).
    fn load_u64(&self, slot: usize) -> u64;
    /// Reads the first `len` bytes (`-ar`, stock's `touch_data`).
    fn touch(&self, len: usize);
}
