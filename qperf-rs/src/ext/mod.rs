//! qperf-rs extensions (issue 12), all opt-in: `--percentiles`, `-P N` /
//! `--streams N`, `--cgroup_cpu` and `--json FILE`. Without these options
//! nothing here runs and the output and wire bytes are stock's.
//!
//! - [`wire`]: the negotiation and the extra messages (ours ↔ ours only).
//! - [`cgroup`]: the CPU use of this process's cgroup.
//! - [`lines`]: the extra output lines after stock's block.
//! - [`json`]: the `--json` document.

pub mod cgroup;
pub mod json;
pub mod lines;
pub mod wire;

use common::hdr::NsHistogram;

use crate::proto::Counters;

/// Largest `-P` accepted (by both sides).
pub const MAX_STREAMS: u32 = 64;

/// What the user asked for beyond stock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extensions {
    pub percentiles: bool,
    /// Parallel data connections; 0 or 1 = stock's single one.
    pub streams: u32,
    pub cgroup_cpu: bool,
}

impl Extensions {
    /// Whether any extension changes how a test runs.
    pub fn any(&self) -> bool {
        self.percentiles || self.streams > 1 || self.cgroup_cpu
    }

    /// The part of `self` that applies to `test` (a socket test of the
    /// given pattern); the rest is reported as "set but not used".
    pub fn for_test(&self, socket: bool, lat: bool, bw_tcp_udp: bool) -> Extensions {
        Extensions {
            percentiles: self.percentiles && socket && lat,
            streams: if bw_tcp_udp { self.streams } else { 0 },
            cgroup_cpu: self.cgroup_cpu && socket,
        }
    }

    /// Stream count to run (at least 1).
    pub fn stream_count(&self) -> u32 {
        self.streams.max(1)
    }
}

/// CPU use of a cgroup over one test.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CgroupUse {
    /// CPU time used by the cgroup during the test, µs.
    pub usage_usec: u64,
    /// Wall time between the two samples, ns.
    pub elapsed_ns: u64,
}

impl CgroupUse {
    /// CPUs used (1.0 = one CPU busy all the time).
    pub fn cpus_used(&self) -> f64 {
        if self.elapsed_ns == 0 {
            0.0
        } else {
            self.usage_usec as f64 * 1e3 / self.elapsed_ns as f64
        }
    }
}

/// One data connection's counters and real-time ticks (start, end).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamCounters {
    pub s: Counters,
    pub r: Counters,
    pub real_s: u64,
    pub real_e: u64,
}

/// What one side reports beyond its STAT.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SideExtras {
    pub latency: Option<NsHistogram>,
    pub cgroup: Option<CgroupUse>,
    /// Per stream; empty for a single-stream test.
    pub streams: Vec<StreamCounters>,
}

/// Why the server's figures are missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Remote {
    /// The server is qperf-rs and answered.
    Ours,
    /// The server did not prove it is qperf-rs (a stock qperf).
    Stock,
    /// Not asked (`--single_port`): the client's own figures only.
    NotAsked,
}

/// The extensions' results of one test.
#[derive(Clone, Debug, PartialEq)]
pub struct Extras {
    /// What was asked for this test.
    pub asked: Extensions,
    pub local: SideExtras,
    pub remote: SideExtras,
    pub server: Remote,
}

/// Sums the streams of one side into stock's figures (counters added, CPU
/// and real-time ticks of the first stream: `/proc/stat` and `times()` are
/// host- and process-wide, so they cover the whole test), and keeps the
/// per-stream counters and the merged latency histogram.
pub fn combine(
    runs: Vec<crate::datapath::StreamRun>,
    cgroup: Option<CgroupUse>,
) -> (crate::datapath::Measured, SideExtras) {
    let mut total = crate::datapath::Measured::default();
    let mut x = SideExtras {
        cgroup,
        ..SideExtras::default()
    };
    let many = runs.len() > 1;
    for (i, run) in runs.into_iter().enumerate() {
        let m = run.m;
        if i == 0 {
            total.time_s = m.time_s;
            total.time_e = m.time_e;
        }
        for (t, c) in [(&mut total.s, &m.s), (&mut total.r, &m.r)] {
            t.bytes = t.bytes.wrapping_add(c.bytes);
            t.msgs = t.msgs.wrapping_add(c.msgs);
            t.errs = t.errs.wrapping_add(c.errs);
        }
        total.idle |= m.idle;
        if many {
            x.streams.push(StreamCounters {
                s: m.s,
                r: m.r,
                real_s: m.time_s.real,
                real_e: m.time_e.real,
            });
        }
        if let Some(h) = run.latency {
            x.latency.get_or_insert_with(NsHistogram::new).merge(&h);
        }
    }
    (total, x)
}
