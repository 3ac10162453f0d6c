//! The tests of the Debian qperf 0.4.11 build (RDMA compiled in, XRC not):
//! names, wire indices, transports, per-test parameter defaults and the kind
//! of headline result (spec qperf.md §3).
//!
//! The index of a test is its position in [`TESTS`]; it is what travels in
//! `REQ.req_index`, so the order must never change. The three XRC tests are
//! not part of the table (a stock Debian build rejects them as tests) but
//! still have help topics, see [`HELP_ONLY`].

/// How a test moves its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// `conf` and `quit`: control connection only.
    Control,
    Rds,
    Sctp,
    Sdp,
    Tcp,
    Udp,
    /// InfiniBand reliable connection.
    Rc,
    /// InfiniBand unreliable connection.
    Uc,
    /// InfiniBand unreliable datagram.
    Ud,
    /// InfiniBand extended reliable connection (XRC builds only).
    Xrc,
}

impl Transport {
    /// RDMA (verbs) tests.
    pub fn is_rdma(self) -> bool {
        matches!(self, Self::Rc | Self::Uc | Self::Ud | Self::Xrc)
    }
}

/// Which headline lines a test prints (spec §6.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultKind {
    /// `latency` (+ `msg_rate` at `-vs`).
    Latency,
    /// `bw` (the receive bandwidth) (+ `msg_rate`).
    Bandwidth,
    /// `send_bw` and `recv_bw` (+ `msg_rate`).
    BandwidthSr,
    /// `msg_rate` only.
    MsgRate,
}

/// What the client consumes and defaults before sending the request; this
/// decides the "set but not used" warnings and the `-vu` lines (spec §2.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setup {
    /// `conf`: nothing, and no unused-option check.
    Conf,
    /// `quit`: nothing, but the unused-option check runs.
    Quit,
    /// Socket tests: msg_size default, port, sock_buf_size (+ access_recv).
    Socket { access_recv: bool },
    /// RDMA tests (mirrors the stock per-test parameter routine).
    Rdma {
        access_recv: bool,
        no_msgs: bool,
        /// rd_atomic is consumed (atomics and RDMA read bandwidth).
        rd_atomic: bool,
        /// poll_mode is consumed (all but rc_rdma_write_poll_lat).
        poll: bool,
    },
}

/// One entry of the test table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestInfo {
    pub name: &'static str,
    pub transport: Transport,
    /// Message size applied when the user did not set one; `None` when the
    /// test leaves msg_size alone (conf, quit, the two `_mr` atomics).
    pub default_msg_size: Option<u32>,
    /// `None` for conf and quit, which print no measurement.
    pub kind: Option<ResultKind>,
    pub setup: Setup,
}

impl TestInfo {
    /// The wire index (`REQ.req_index`).
    pub fn index(&self) -> u16 {
        // The table has 33 entries; the position always fits.
        TESTS
            .iter()
            .position(|t| t.name == self.name)
            .map_or(u16::MAX, |i| i as u16)
    }
}

const K2: u32 = 2 * 1024;
const K8: u32 = 8 * 1024;
const K32: u32 = 32 * 1024;
const K64: u32 = 64 * 1024;

const fn ctl(name: &'static str, setup: Setup) -> TestInfo {
    TestInfo {
        name,
        transport: Transport::Control,
        default_msg_size: None,
        kind: None,
        setup,
    }
}

const fn sock(name: &'static str, transport: Transport, msg: u32, kind: ResultKind) -> TestInfo {
    let access_recv = !matches!(kind, ResultKind::Latency);
    TestInfo {
        name,
        transport,
        default_msg_size: Some(msg),
        kind: Some(kind),
        setup: Setup::Socket { access_recv },
    }
}

/// Flags for [`rdma`]: access_recv, no_msgs, rd_atomic, poll.
const AR: u8 = 1;
const NM: u8 = 2;
const RA: u8 = 4;
const PO: u8 = 8;

const fn rdma(
    name: &'static str,
    transport: Transport,
    msg: u32,
    kind: ResultKind,
    flags: u8,
) -> TestInfo {
    TestInfo {
        name,
        transport,
        default_msg_size: if msg == 0 { None } else { Some(msg) },
        kind: Some(kind),
        setup: Setup::Rdma {
            access_recv: flags & AR != 0,
            no_msgs: flags & NM != 0,
            rd_atomic: flags & RA != 0,
            poll: flags & PO != 0,
        },
    }
}

use ResultKind::{Bandwidth as BW, BandwidthSr as BWSR, Latency as LAT, MsgRate as MR};
use Transport::{Rc, Rds, Sctp, Sdp, Tcp, Uc, Ud, Udp, Xrc};

/// Every test of this build, in wire-index order (0..=32).
pub const TESTS: &[TestInfo] = &[
    ctl("conf", Setup::Conf),
    ctl("quit", Setup::Quit),
    sock("rds_bw", Rds, K8, BW),
    sock("rds_lat", Rds, 1, LAT),
    sock("sctp_bw", Sctp, K32, BW),
    sock("sctp_lat", Sctp, 1, LAT),
    sock("sdp_bw", Sdp, K64, BW),
    sock("sdp_lat", Sdp, 1, LAT),
    sock("tcp_bw", Tcp, K64, BW),
    sock("tcp_lat", Tcp, 1, LAT),
    sock("udp_bw", Udp, K32, BWSR),
    sock("udp_lat", Udp, 1, LAT),
    rdma("rc_bi_bw", Rc, K64, BW, AR | PO),
    rdma("rc_bw", Rc, K64, BW, AR | NM | PO),
    rdma("rc_compare_swap_mr", Rc, 0, MR, RA | PO),
    rdma("rc_fetch_add_mr", Rc, 0, MR, RA | PO),
    rdma("rc_lat", Rc, 1, LAT, PO),
    rdma("rc_rdma_read_bw", Rc, K64, BW, AR | RA | PO),
    rdma("rc_rdma_read_lat", Rc, 1, LAT, PO),
    // Stock does not consume access_recv here although the help lists it.
    rdma("rc_rdma_write_bw", Rc, K64, BW, PO),
    rdma("rc_rdma_write_lat", Rc, 1, LAT, PO),
    rdma("rc_rdma_write_poll_lat", Rc, 1, LAT, 0),
    rdma("uc_bi_bw", Uc, K64, BWSR, AR | PO),
    rdma("uc_bw", Uc, K64, BWSR, AR | NM | PO),
    rdma("uc_lat", Uc, 1, LAT, PO),
    rdma("uc_rdma_write_bw", Uc, K64, BWSR, PO),
    rdma("uc_rdma_write_lat", Uc, 1, LAT, PO),
    // Stock consumes poll_mode in the UC polling test (unlike the RC one).
    rdma("uc_rdma_write_poll_lat", Uc, 1, LAT, PO),
    rdma("ud_bi_bw", Ud, K2, BWSR, AR | PO),
    rdma("ud_bw", Ud, K2, BWSR, AR | NM | PO),
    rdma("ud_lat", Ud, 1, LAT, PO),
    rdma("ver_rc_compare_swap", Rc, K64, MR, RA | PO),
    rdma("ver_rc_fetch_add", Rc, K64, MR, RA | PO),
];

/// Tests of XRC builds: they have help topics but are not runnable here.
pub const HELP_ONLY: &[TestInfo] = &[
    rdma("xrc_bi_bw", Xrc, K64, BW, AR | PO),
    rdma("xrc_bw", Xrc, K64, BW, AR | NM | PO),
    rdma("xrc_lat", Xrc, 1, LAT, PO),
];

/// Looks a test word up (exact, case-sensitive match).
pub fn find(name: &str) -> Option<&'static TestInfo> {
    TESTS.iter().find(|t| t.name == name)
}

/// The test with wire index `index`, if this build has it.
pub fn by_index(index: u16) -> Option<&'static TestInfo> {
    TESTS.get(usize::from(index))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_match_the_debian_build() {
        assert_eq!(TESTS.len(), 33);
        let expect = [
            (0, "conf"),
            (1, "quit"),
            (8, "tcp_bw"),
            (9, "tcp_lat"),
            (10, "udp_bw"),
            (11, "udp_lat"),
            (12, "rc_bi_bw"),
            (13, "rc_bw"),
            (14, "rc_compare_swap_mr"),
            (16, "rc_lat"),
            (21, "rc_rdma_write_poll_lat"),
            (27, "uc_rdma_write_poll_lat"),
            (29, "ud_bw"),
            (30, "ud_lat"),
            (31, "ver_rc_compare_swap"),
            (32, "ver_rc_fetch_add"),
        ];
        for (i, name) in expect {
            assert_eq!(find(name).map(TestInfo::index), Some(i), "{name}");
            assert_eq!(by_index(i).map(|t| t.name), Some(name));
        }
        assert!(by_index(33).is_none());
        assert!(find("xrc_bw").is_none());
        assert!(find("TCP_BW").is_none());
    }

    #[test]
    fn socket_defaults() {
        let size = |n| find(n).and_then(|t| t.default_msg_size);
        assert_eq!(size("tcp_bw"), Some(65536));
        assert_eq!(size("udp_bw"), Some(32768));
        assert_eq!(size("sctp_bw"), Some(32768));
        assert_eq!(size("rds_bw"), Some(8192));
        assert_eq!(size("ud_bw"), Some(2048));
        assert_eq!(size("tcp_lat"), Some(1));
        assert_eq!(size("rc_fetch_add_mr"), None);
        assert_eq!(size("conf"), None);
    }
}
