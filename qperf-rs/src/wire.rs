//! Sans-IO codec of the qperf 0.4.11 control messages (spec §4.1–4.7, §4.12).
//!
//! Everything here is a pure function over byte slices: REQ (200 bytes, read
//! in two steps: 6 version bytes then 194), the 4-byte port message, the two
//! sync strings, STAT (252 encoded + 4 padding bytes), CONF (4 × 64-byte
//! strings), the version check and the error-channel text.  All integers are
//! little-endian; fixed string fields are used up to their first NUL.

use crate::proto::{Conf, Counters, Req, Stat, Ticks};

/// Our protocol version: 0.4.11.
pub const VER_MAJ: u16 = 0;
pub const VER_MIN: u16 = 4;
pub const VER_INC: u16 = 11;
/// The version as printed in messages and in CONF.
pub const VERSION_TEXT: &str = "0.4.11";

/// Size of a REQ on the wire.
pub const REQ_LEN: usize = 200;
/// The server reads this many bytes first (`request version`).
pub const REQ_VERSION_LEN: usize = 6;
/// ... and then the rest (`request data`).
pub const REQ_DATA_LEN: usize = REQ_LEN - REQ_VERSION_LEN;
/// Size of the port message.
pub const PORT_LEN: usize = 4;
/// Size of STAT including its 4 unencoded trailing bytes.
pub const STAT_LEN: usize = 256;
/// Size of CONF.
pub const CONF_LEN: usize = 256;
/// Width of every fixed string field (REQ id/static_rate, CONF fields).
pub const STR_LEN: usize = 64;

/// Sync text exchanged both ways before the test.
pub const SYNC_BEFORE: &[u8] = b"synchronization before test";
/// Sync text sent by the client after it received STAT.
pub const SYNC_AFTER: &[u8] = b"synchronization after test";

/// Urgent byte announcing an error (followed in-band by the text).
pub const URGENT_ERROR: u8 = b'?';
/// Urgent byte meaning "peer finished" (handled, never sent by stock).
pub const URGENT_FINISHED: u8 = b'.';
/// Stock reads at most this many bytes of error text (prefix included).
pub const ERROR_TEXT_MAX: usize = 256;

/// Size of the RDS host-address text fields (`NI_MAXHOST`, §4.11).
pub const HOST_LEN: usize = 1025;

/// Encodes an RDS host-address field: the text, NUL-padded to 1025 bytes.
pub fn encode_host(host: &str) -> Vec<u8> {
    let b = host.as_bytes();
    let n = b.len().min(HOST_LEN - 1);
    let mut v = b[..n].to_vec();
    v.resize(HOST_LEN, 0);
    v
}

/// Little-endian writer into a growing buffer (the extension's codec,
/// `ext/wire.rs`, writes its report with it too).
pub(crate) struct Enc(pub(crate) Vec<u8>);

impl Enc {
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    /// A NUL-padded fixed field; at most `STR_LEN - 1` bytes of `s` are kept.
    fn str(&mut self, s: &str) {
        let b = s.as_bytes();
        let n = b.len().min(STR_LEN - 1);
        self.0.extend_from_slice(&b[..n]);
        self.0.resize(self.0.len() + STR_LEN - n, 0);
    }
}

/// Little-endian reader over a slice whose length the caller checked.
struct Dec<'a>(&'a [u8]);

impl Dec<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let (h, t) = self.0.split_at(N);
        self.0 = t;
        h.try_into().expect("split_at gives N bytes")
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
    fn str(&mut self) -> String {
        let f: [u8; STR_LEN] = self.take();
        cstr(&f)
    }
}

/// The bytes of `field` up to its first NUL (or all of it), lossily as UTF-8.
pub fn cstr(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// A decoding error: the input had the wrong length.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: expected {expected} bytes, got {got}")]
pub struct LenError {
    pub what: &'static str,
    pub expected: usize,
    pub got: usize,
}

fn check_len(what: &'static str, b: &[u8], expected: usize) -> Result<(), LenError> {
    if b.len() == expected {
        Ok(())
    } else {
        Err(LenError {
            what,
            expected,
            got: b.len(),
        })
    }
}

/// Encodes a REQ (200 bytes).  The version fields are taken from `req`.
pub fn encode_req(req: &Req) -> Vec<u8> {
    let mut e = Enc(Vec::with_capacity(REQ_LEN));
    e.u16(req.ver_maj);
    e.u16(req.ver_min);
    e.u16(req.ver_inc);
    e.u16(req.req_index);
    for v in [
        req.access_recv,
        req.affinity,
        req.alt_port,
        req.flip,
        req.msg_size,
        req.mtu_size,
        req.no_msgs,
        req.poll_mode,
        req.port,
        req.rd_atomic,
        req.sl,
        req.sock_buf_size,
        req.src_path_bits,
        req.time,
        req.timeout,
        req.use_cm,
    ] {
        e.u32(v);
    }
    e.str(&req.id);
    e.str(&req.static_rate);
    debug_assert_eq!(e.0.len(), REQ_LEN);
    e.0
}

/// Decodes the first 6 bytes of a REQ: (major, minor, incremental).
pub fn decode_req_version(b: &[u8]) -> Result<(u16, u16, u16), LenError> {
    check_len("request version", b, REQ_VERSION_LEN)?;
    let mut d = Dec(b);
    Ok((d.u16(), d.u16(), d.u16()))
}

/// Decodes the remaining 194 bytes of a REQ into `req` (version untouched).
pub fn decode_req_data(b: &[u8], req: &mut Req) -> Result<(), LenError> {
    check_len("request data", b, REQ_DATA_LEN)?;
    let mut d = Dec(b);
    req.req_index = d.u16();
    req.access_recv = d.u32();
    req.affinity = d.u32();
    req.alt_port = d.u32();
    req.flip = d.u32();
    req.msg_size = d.u32();
    req.mtu_size = d.u32();
    req.no_msgs = d.u32();
    req.poll_mode = d.u32();
    req.port = d.u32();
    req.rd_atomic = d.u32();
    req.sl = d.u32();
    req.sock_buf_size = d.u32();
    req.src_path_bits = d.u32();
    req.time = d.u32();
    req.timeout = d.u32();
    req.use_cm = d.u32();
    req.id = d.str();
    req.static_rate = d.str();
    Ok(())
}

/// Decodes a whole 200-byte REQ.
pub fn decode_req(b: &[u8]) -> Result<Req, LenError> {
    check_len("request", b, REQ_LEN)?;
    let (ver_maj, ver_min, ver_inc) = decode_req_version(&b[..REQ_VERSION_LEN])?;
    let mut req = Req {
        ver_maj,
        ver_min,
        ver_inc,
        ..Req::default()
    };
    decode_req_data(&b[REQ_VERSION_LEN..], &mut req)?;
    Ok(req)
}

/// The server's version check (major and minor only): `None` when
/// compatible, else the stock error text.
pub fn version_error(maj: u16, min: u16, inc: u16) -> Option<String> {
    if maj == VER_MAJ && min == VER_MIN {
        return None;
    }
    let ours_newer = (maj, min) < (VER_MAJ, VER_MIN);
    Some(if ours_newer {
        format!("upgrade qperf on client from {maj}.{min}.{inc} to {VERSION_TEXT}")
    } else {
        format!("upgrade qperf on server from {VERSION_TEXT} to {maj}.{min}.{inc}")
    })
}

/// Encodes the port message.
pub fn encode_port(port: u32) -> [u8; PORT_LEN] {
    port.to_le_bytes()
}

/// Decodes the port message.
pub fn decode_port(b: &[u8]) -> Result<u32, LenError> {
    check_len("port", b, PORT_LEN)?;
    Ok(Dec(b).u32())
}

fn enc_ticks(e: &mut Enc, t: &Ticks) {
    for v in [
        t.real, t.user, t.nice, t.kernel, t.idle, t.iowait, t.irq, t.softirq, t.steal,
    ] {
        e.u64(v);
    }
}

fn dec_ticks(d: &mut Dec) -> Ticks {
    Ticks {
        real: d.u64(),
        user: d.u64(),
        nice: d.u64(),
        kernel: d.u64(),
        idle: d.u64(),
        iowait: d.u64(),
        irq: d.u64(),
        softirq: d.u64(),
        steal: d.u64(),
    }
}

pub(crate) fn enc_counters(e: &mut Enc, c: &Counters) {
    e.u64(c.bytes);
    e.u64(c.msgs);
    e.u64(c.errs);
}

fn dec_counters(d: &mut Dec) -> Counters {
    Counters {
        bytes: d.u64(),
        msgs: d.u64(),
        errs: d.u64(),
    }
}

/// Encodes STAT: 252 bytes of fields and 4 zero padding bytes.
pub fn encode_stat(s: &Stat) -> Vec<u8> {
    let mut e = Enc(Vec::with_capacity(STAT_LEN));
    e.u32(s.no_cpus);
    e.u32(s.no_ticks);
    e.u32(s.max_cqes);
    enc_ticks(&mut e, &s.time_s);
    enc_ticks(&mut e, &s.time_e);
    for c in [&s.s, &s.r, &s.rem_s, &s.rem_r] {
        enc_counters(&mut e, c);
    }
    e.0.resize(STAT_LEN, 0);
    e.0
}

/// Decodes STAT (the 4 trailing bytes are ignored).
pub fn decode_stat(b: &[u8]) -> Result<Stat, LenError> {
    check_len("results", b, STAT_LEN)?;
    let mut d = Dec(b);
    Ok(Stat {
        no_cpus: d.u32(),
        no_ticks: d.u32(),
        max_cqes: d.u32(),
        time_s: dec_ticks(&mut d),
        time_e: dec_ticks(&mut d),
        s: dec_counters(&mut d),
        r: dec_counters(&mut d),
        rem_s: dec_counters(&mut d),
        rem_r: dec_counters(&mut d),
    })
}

/// Encodes CONF: four zero-filled 64-byte fields (stock leaks stack bytes
/// after the NULs; we send zeros).
pub fn encode_conf(c: &Conf) -> Vec<u8> {
    let mut e = Enc(Vec::with_capacity(CONF_LEN));
    e.str(&c.node);
    e.str(&c.cpu);
    e.str(&c.os);
    e.str(&c.qperf);
    e.0
}

/// Decodes CONF, using each field up to its first NUL.
pub fn decode_conf(b: &[u8]) -> Result<Conf, LenError> {
    check_len("configuration", b, CONF_LEN)?;
    let mut d = Dec(b);
    Ok(Conf {
        node: d.str(),
        cpu: d.str(),
        os: d.str(),
        qperf: d.str(),
    })
}

/// Bounds an error text like stock's 256-byte buffer, without its overflow:
/// texts longer than 255 characters become 251 characters + ` ...`.
pub fn bound_error_text(text: &str) -> String {
    if text.len() < ERROR_TEXT_MAX {
        return text.to_string();
    }
    let mut cut = ERROR_TEXT_MAX - 5;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{} ...", &text[..cut])
}

/// The error text from the in-band bytes that followed the urgent byte
/// (read until EOF): at most 255 bytes, cut at a NUL, lossily as UTF-8.
pub fn decode_error_text(inband: &[u8]) -> String {
    let b = &inband[..inband.len().min(ERROR_TEXT_MAX - 1)];
    cstr(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_str() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 .:_-]{0,63}"
    }

    prop_compose! {
        fn arb_req()(v in proptest::collection::vec(any::<u32>(), 16),
                     h in proptest::collection::vec(any::<u16>(), 4),
                     id in arb_str(), sr in arb_str()) -> Req {
            Req { ver_maj: h[0], ver_min: h[1], ver_inc: h[2], req_index: h[3],
                  access_recv: v[0], affinity: v[1], alt_port: v[2], flip: v[3], msg_size: v[4],
                  mtu_size: v[5], no_msgs: v[6], poll_mode: v[7], port: v[8], rd_atomic: v[9],
                  sl: v[10], sock_buf_size: v[11], src_path_bits: v[12], time: v[13],
                  timeout: v[14], use_cm: v[15], id, static_rate: sr }
        }
    }

    fn ticks(v: &[u64]) -> Ticks {
        Ticks {
            real: v[0],
            user: v[1],
            nice: v[2],
            kernel: v[3],
            idle: v[4],
            iowait: v[5],
            irq: v[6],
            softirq: v[7],
            steal: v[8],
        }
    }

    fn counters(v: &[u64]) -> Counters {
        Counters {
            bytes: v[0],
            msgs: v[1],
            errs: v[2],
        }
    }

    prop_compose! {
        fn arb_stat()(h in proptest::collection::vec(any::<u32>(), 3),
                      v in proptest::collection::vec(any::<u64>(), 30)) -> Stat {
            Stat { no_cpus: h[0], no_ticks: h[1], max_cqes: h[2],
                   time_s: ticks(&v[0..9]), time_e: ticks(&v[9..18]),
                   s: counters(&v[18..21]), r: counters(&v[21..24]),
                   rem_s: counters(&v[24..27]), rem_r: counters(&v[27..30]) }
        }
    }

    proptest! {
        #[test]
        fn req_round_trip(req in arb_req()) {
            let b = encode_req(&req);
            prop_assert_eq!(b.len(), REQ_LEN);
            prop_assert_eq!(decode_req(&b).unwrap(), req);
        }

        #[test]
        fn stat_round_trip(stat in arb_stat()) {
            let b = encode_stat(&stat);
            prop_assert_eq!(b.len(), STAT_LEN);
            prop_assert_eq!(&b[252..], &[0u8; 4]);
            prop_assert_eq!(decode_stat(&b).unwrap(), stat);
        }

        #[test]
        fn conf_round_trip(node in arb_str(), cpu in arb_str(), os in arb_str(), q in arb_str()) {
            let c = Conf { node, cpu, os, qperf: q };
            let b = encode_conf(&c);
            prop_assert_eq!(b.len(), CONF_LEN);
            prop_assert_eq!(decode_conf(&b).unwrap(), c);
        }

        #[test]
        fn port_round_trip(p in any::<u32>()) {
            prop_assert_eq!(decode_port(&encode_port(p)).unwrap(), p);
        }

        #[test]
        fn decoders_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_req(&b);
            let _ = decode_stat(&b);
            let _ = decode_conf(&b);
            let _ = decode_port(&b);
            let _ = decode_req_version(&b);
            let _ = decode_error_text(&b);
        }

        #[test]
        fn bounded_error_text_fits(s in ".{0,400}") {
            prop_assert!(bound_error_text(&s).len() < ERROR_TEXT_MAX);
        }
    }

    #[test]
    fn host_field() {
        let b = encode_host("127.0.0.1");
        assert_eq!(b.len(), HOST_LEN);
        assert_eq!(cstr(&b), "127.0.0.1");
    }

    #[test]
    fn req_example_from_spec() {
        let req = Req {
            ver_min: 4,
            ver_inc: 11,
            req_index: 8,
            msg_size: 65536,
            port: 29766,
            time: 1,
            timeout: 5,
            ..Req::default()
        };
        let b = encode_req(&req);
        assert_eq!(&b[..8], &[0, 0, 4, 0, 11, 0, 8, 0]);
        assert_eq!(&b[24..28], &[0, 0, 1, 0]);
        assert_eq!(&b[40..44], &[0x46, 0x74, 0, 0]);
        assert!(b[72..].iter().all(|&x| x == 0));
    }

    #[test]
    fn long_strings_are_cut_to_63() {
        let req = Req {
            id: "x".repeat(100),
            ..Req::default()
        };
        let b = encode_req(&req);
        assert_eq!(b.len(), REQ_LEN);
        assert_eq!(decode_req(&b).unwrap().id.len(), 63);
    }

    #[test]
    fn version_texts() {
        assert_eq!(version_error(0, 4, 99), None);
        assert_eq!(
            version_error(0, 3, 0).unwrap(),
            "upgrade qperf on client from 0.3.0 to 0.4.11"
        );
        assert_eq!(
            version_error(0, 5, 0).unwrap(),
            "upgrade qperf on server from 0.4.11 to 0.5.0"
        );
        assert_eq!(
            version_error(1, 0, 0).unwrap(),
            "upgrade qperf on server from 0.4.11 to 1.0.0"
        );
    }

    #[test]
    fn error_text_bounds() {
        assert_eq!(bound_error_text("abc"), "abc");
        let s = "a".repeat(256);
        let b = bound_error_text(&s);
        assert_eq!(b.len(), 255);
        assert!(b.ends_with(" ..."));
        assert_eq!(decode_error_text(b"text\0junk"), "text");
    }
}
