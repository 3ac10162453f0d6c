//! The qperf 0.4.11 wire messages as plain Rust values (spec qperf.md §4.3,
//! §4.6, §4.7). Encoding and decoding live in [`crate::wire`]; this module
//! only names the fields, so the command line, the client and the server all
//! share one vocabulary.

/// REQ: what the client asks the server to run (200 bytes on the wire).
/// Also used for the client's *local* copy of the parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Req {
    pub ver_maj: u16,
    pub ver_min: u16,
    pub ver_inc: u16,
    pub req_index: u16,
    pub access_recv: u32,
    pub affinity: u32,
    pub alt_port: u32,
    pub flip: u32,
    pub msg_size: u32,
    pub mtu_size: u32,
    pub no_msgs: u32,
    pub poll_mode: u32,
    pub port: u32,
    pub rd_atomic: u32,
    pub sl: u32,
    pub sock_buf_size: u32,
    pub src_path_bits: u32,
    pub time: u32,
    pub timeout: u32,
    pub use_cm: u32,
    /// `-i` / `-ri` string (at most 63 bytes are sent, NUL-padded to 64).
    pub id: String,
    /// `-sr` / `-rsr` string (at most 63 bytes are sent, NUL-padded to 64).
    pub static_rate: String,
}

/// CPU counters in clock ticks: `times()` then the first eight numbers of
/// the `cpu ` line of `/proc/stat`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ticks {
    pub real: u64,
    pub user: u64,
    pub nice: u64,
    pub kernel: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
}

/// Bytes, messages and errors of one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub bytes: u64,
    pub msgs: u64,
    pub errs: u64,
}

/// STAT: one side's measurements (the server sends its own, 256 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    pub no_cpus: u32,
    pub no_ticks: u32,
    pub max_cqes: u32,
    pub time_s: Ticks,
    pub time_e: Ticks,
    pub s: Counters,
    pub r: Counters,
    pub rem_s: Counters,
    pub rem_r: Counters,
}

/// CONF: the answer to the `conf` test (256 bytes, four 64-byte strings).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conf {
    pub node: String,
    pub cpu: String,
    pub os: String,
    pub qperf: String,
}
