//! Sans-IO parts of opening an RDMA device (spec §4.14 step 1) and of
//! stock's error texts: the MTU, `-i DEVICE:PORT` and `-sr` checks in
//! stock's order, the rd_atomic choice, completion-status and opcode names,
//! and the `-D` node lines.

use crate::proto::Req;

use super::node::Node;

/// QP transport of a test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Qp {
    Rc,
    Uc,
    Ud,
}

/// What `ib_open` derives from the REQ before touching a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IbParams {
    /// `enum ibv_mtu` value (1 = 256 ... 5 = 4096).
    pub mtu: u32,
    /// Device name (None = the first device).
    pub device: Option<String>,
    /// Port number as stock keeps it (an `int`, truncated to u8 at use).
    pub port: i32,
    /// `enum ibv_rate` value.
    pub rate: u32,
}

/// The UD queue key stock uses.
pub const QKEY: u32 = 0x1111_1111;
/// Completion-queue entries and outstanding requests of the bandwidth loops.
pub const NCQE: usize = 1024;
/// Bytes of GRH in front of every UD receive.
pub const GRH_SIZE: usize = 40;
/// RC retry counts, RNR timer and ACK timeout (stock's constants).
pub const RETRY_CNT: u8 = 7;
pub const RNR_RETRY_CNT: u8 = 7;
pub const MIN_RNR_TIMER: u8 = 12;
pub const LOCAL_ACK_TIMEOUT: u8 = 14;

/// `-sr` names and their `enum ibv_rate` values (verbs.h ABI).
const RATES: &[(&str, u32)] = &[
    ("", 0),
    ("max", 0),
    ("1xSDR", 2),
    ("1xDDR", 5),
    ("1xQDR", 3),
    ("4xSDR", 3),
    ("4xDDR", 6),
    ("4xQDR", 7),
    ("8xSDR", 6),
    ("8xDDR", 7),
    ("8xQDR", 9),
    ("2.5", 2),
    ("5", 5),
    ("10", 3),
    ("20", 6),
    ("30", 4),
    ("40", 7),
    ("60", 8),
    ("80", 9),
    ("120", 10),
];

/// C `atoi`: optional blanks and sign, then digits; anything else ends it.
fn atoi(s: &str) -> i32 {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut v: i64 = 0;
    for c in digits.bytes().take_while(u8::is_ascii_digit) {
        v = (v * 10 + i64::from(c - b'0')).min(i64::from(u32::MAX) + 1);
    }
    (if neg { -v } else { v }) as i32
}

/// The checks of stock's `ib_open`, in its order: MTU, port, static rate.
pub fn ib_params(req: &Req) -> Result<IbParams, String> {
    let mtu = match req.mtu_size {
        256 => 1,
        512 => 2,
        1024 => 3,
        2048 => 4,
        4096 => 5,
        m => return Err(format!("bad MTU: {m}; must be 256/512/1K/2K/4K")),
    };
    let (name, port) = match req.id.split_once(':') {
        Some((name, p)) => {
            let port = atoi(p);
            if port < 1 {
                return Err(format!("bad IB port: {port}; must be at least 1"));
            }
            (name, port)
        }
        None => (req.id.as_str(), 1),
    };
    let rate = RATES
        .iter()
        .find(|(n, _)| *n == req.static_rate)
        .map(|&(_, r)| r)
        .ok_or_else(|| format!("bad static rate: {}", req.static_rate))?;
    Ok(IbParams {
        mtu,
        device: (!name.is_empty()).then(|| name.to_string()),
        port,
        rate,
    })
}

/// The rd_atomic this side advertises: the device maximum unless `-nr`
/// asks for less.
pub fn rd_atomic(requested: u32, device_max: i32) -> Result<u32, String> {
    let max = device_max.max(0) as u32;
    match requested {
        0 => Ok(max),
        n if n <= max => Ok(n),
        n => Err(format!(
            "device only supports {device_max} (< {n}) RDMA reads or atomics"
        )),
    }
}

/// Stock's name of a work-completion status (`enum ibv_wc_status`).
pub fn wc_status_name(status: u32) -> Option<&'static str> {
    const NAMES: [&str; 22] = [
        "Success",
        "Local length error",
        "Local QP operation failure",
        "Local EEC operation failure",
        "Local protection error",
        "WR flush failure",
        "Memory window bind failure",
        "Bad response",
        "Local access failure",
        "Remote invalid request",
        "Remote access failure",
        "Remote operation failure",
        "Retries exceeded",
        "RNR retry exceeded",
        "Local RDD violation",
        "Remote invalid read request",
        "Remote abort",
        "Invalid EECN",
        "Invalid EEC state",
        "Fatal error",
        "Responder timeout",
        "General error",
    ];
    NAMES.get(status as usize).copied()
}

/// The error that ends a test on a failed completion.
pub fn cq_error(test: &str, status: u32) -> String {
    match wc_status_name(status) {
        Some(n) => format!("{test} failed: {n}"),
        None => format!("{test} failed: CQ error {status}"),
    }
}

/// `-D` lines describing both nodes (stock's `show_node_info`).
pub fn node_lines(l: &Node, r: &Node, use_cm: bool) -> [String; 2] {
    let line = |tag: &str, n: &Node| {
        if use_cm {
            format!("{tag}: rkey={:08x} vaddr={:010x}", n.rkey, n.vaddr)
        } else {
            format!(
                "{tag}: lid={:04x} qpn={:06x} psn={:06x} rkey={:08x} vaddr={:010x}",
                n.lid, n.qpn, n.psn, n.rkey, n.vaddr
            )
        }
    };
    [line("L", l), line("R", r)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(mtu: u32, id: &str, sr: &str) -> Req {
        Req {
            mtu_size: mtu,
            id: id.into(),
            static_rate: sr.into(),
            ..Req::default()
        }
    }

    #[test]
    fn checks_come_in_stock_order_with_stock_texts() {
        // Captured from /usr/bin/qperf: MTU first, then port, then rate.
        let e = |r: Req| ib_params(&r).unwrap_err();
        assert_eq!(
            e(req(100, "x:0", "foo")),
            "bad MTU: 100; must be 256/512/1K/2K/4K"
        );
        assert_eq!(
            e(req(2048, "x:0", "foo")),
            "bad IB port: 0; must be at least 1"
        );
        assert_eq!(
            e(req(2048, "mlx:abc", "")),
            "bad IB port: 0; must be at least 1"
        );
        assert_eq!(
            e(req(2048, ":-3", "")),
            "bad IB port: -3; must be at least 1"
        );
        assert_eq!(e(req(2048, "", "foo")), "bad static rate: foo");
        assert_eq!(e(req(0, "", "")), "bad MTU: 0; must be 256/512/1K/2K/4K");
    }

    #[test]
    fn accepted_values_map_to_verbs_enums() {
        let p = ib_params(&req(4096, "mlx5_0:2", "4xQDR")).unwrap();
        assert_eq!(
            p,
            IbParams {
                mtu: 5,
                device: Some("mlx5_0".into()),
                port: 2,
                rate: 7
            }
        );
        let p = ib_params(&req(256, "", "")).unwrap();
        assert_eq!(
            p,
            IbParams {
                mtu: 1,
                device: None,
                port: 1,
                rate: 0
            }
        );
        assert_eq!(ib_params(&req(2048, "rxe0", "2.5")).unwrap().rate, 2);
        assert_eq!(ib_params(&req(2048, "rxe0:1x", "120")).unwrap().port, 1);
        assert_eq!(ib_params(&req(2048, "rxe0", "120")).unwrap().rate, 10);
    }

    #[test]
    fn rd_atomic_choice() {
        assert_eq!(rd_atomic(0, 16), Ok(16));
        assert_eq!(rd_atomic(4, 16), Ok(4));
        assert_eq!(rd_atomic(16, 16), Ok(16));
        assert_eq!(
            rd_atomic(17, 16).unwrap_err(),
            "device only supports 16 (< 17) RDMA reads or atomics"
        );
    }

    #[test]
    fn completion_error_texts() {
        assert_eq!(cq_error("rc_bw", 12), "rc_bw failed: Retries exceeded");
        assert_eq!(cq_error("ud_lat", 5), "ud_lat failed: WR flush failure");
        assert_eq!(cq_error("rc_lat", 21), "rc_lat failed: General error");
        assert_eq!(cq_error("rc_lat", 22), "rc_lat failed: CQ error 22");
    }

    #[test]
    fn debug_node_lines() {
        let n = Node {
            vaddr: 0x1234000,
            lid: 3,
            qpn: 0x11,
            psn: 0xabcdef,
            rkey: 0x99,
            ..Node::default()
        };
        let [l, r] = node_lines(&n, &Node::default(), false);
        assert_eq!(
            l,
            "L: lid=0003 qpn=000011 psn=abcdef rkey=00000099 vaddr=0001234000"
        );
        assert_eq!(
            r,
            "R: lid=0000 qpn=000000 psn=000000 rkey=00000000 vaddr=0000000000"
        );
        assert_eq!(
            node_lines(&n, &n, true)[0],
            "L: rkey=00000099 vaddr=0001234000"
        );
    }
}
