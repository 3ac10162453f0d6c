//! The qperf-rs wire extension (sans-IO codec), ours ↔ ours only.
//!
//! Negotiation, so that a stock peer never sees a byte it does not know:
//!
//! 1. Only a client given an extension option asks, and only by the REQ's
//!    `ver_inc` field ([`ASK_VER_INC`]): stock's server compares major and
//!    minor only and ignores `ver_inc` (spec §4.4), so a stock server runs
//!    the test as usual and answers with its 4-byte port.
//! 2. Our server, seeing the ask, answers with [`HELLO`] instead of the
//!    port. A stock client never sets the ask, so it never gets a HELLO.
//! 3. The client reads 4 bytes: a port (bytes 2–3 are zero, ports are below
//!    65536) means a stock server: no extension, the test goes on as
//!    stock's (or the client refuses `-P`). A HELLO proves the server is ours:
//!    only then the client sends its [`ClientAsk`] (12 bytes).
//! 4. The server answers with one 4-byte port per stream, then the test
//!    runs; after its STAT the server sends its [`SideReport`]
//!    ([`RESULTS_MAGIC`], length, payload) and the client sends
//!    sync-after-test as usual.

use common::hdr::NsHistogram;

use super::{CgroupUse, SideExtras, StreamCounters};
use crate::proto::Counters;
use crate::wire::{enc_counters, Enc};

/// `ver_inc` of a REQ that asks for the extensions (stock sends 11).
pub const ASK_VER_INC: u16 = 0x5158;
/// The server's proof, in place of the first port.
pub const HELLO_MAGIC: &[u8; 4] = b"QPX1";
/// HELLO: magic, capability bits, largest stream count.
pub const HELLO_LEN: usize = PAIR_LEN;
/// The client's ask after a HELLO.
pub const ASK_MAGIC: &[u8; 4] = b"QPXC";
pub const ASK_LEN: usize = PAIR_LEN;
/// HELLO and ASK: magic and two u32.
const PAIR_LEN: usize = 12;
/// Header of the server's report after its STAT: magic + u32 length.
pub const RESULTS_MAGIC: &[u8; 4] = b"QPXS";
pub const RESULTS_HEAD_LEN: usize = 8;
/// Largest report payload accepted (a histogram is a few KiB).
pub const MAX_RESULTS_LEN: u32 = 1 << 20;

/// Capability / request bits.
pub const PERCENTILES: u32 = 1;
pub const STREAMS: u32 = 2;
pub const CGROUP_CPU: u32 = 4;
pub const ALL: u32 = PERCENTILES | STREAMS | CGROUP_CPU;

/// What the server supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    pub caps: u32,
    pub max_streams: u32,
}

/// What the client wants for this test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAsk {
    pub flags: u32,
    pub streams: u32,
}

/// A malformed extension message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadMessage(pub String);

impl std::fmt::Display for BadMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad(what: &str) -> BadMessage {
    BadMessage(format!("bad qperf-rs extension message: {what}"))
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(a)
}

/// What the first 4 bytes after the REQ are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum First {
    /// A stock server's port (or ours without the ask).
    Port(u32),
    /// Our HELLO: read the remaining `HELLO_LEN - 4` bytes.
    Hello,
}

/// Classifies the first 4 bytes the server sent.
pub fn classify_first(b: &[u8; 4]) -> First {
    if b == HELLO_MAGIC {
        First::Hello
    } else {
        First::Port(u32::from_le_bytes(*b))
    }
}

/// HELLO and ASK alike: 4 magic bytes, two u32 (12 bytes).
fn encode_pair(magic: &[u8; 4], a: u32, b: u32) -> Vec<u8> {
    let mut e = Enc(magic.to_vec());
    e.u32(a);
    e.u32(b);
    e.0
}

/// The two u32 of a 12-byte message that starts with `magic`.
fn decode_pair(b: &[u8], magic: &[u8; 4], what: &str) -> Result<(u32, u32), BadMessage> {
    if b.len() != PAIR_LEN || &b[..4] != magic {
        return Err(bad(what));
    }
    Ok((u32_at(b, 4), u32_at(b, 8)))
}

pub fn encode_hello(h: &Hello) -> Vec<u8> {
    encode_pair(HELLO_MAGIC, h.caps, h.max_streams)
}

/// Decodes a whole HELLO (magic included).
pub fn decode_hello(b: &[u8]) -> Result<Hello, BadMessage> {
    let (caps, max_streams) = decode_pair(b, HELLO_MAGIC, "hello")?;
    Ok(Hello { caps, max_streams })
}

pub fn encode_ask(a: &ClientAsk) -> Vec<u8> {
    encode_pair(ASK_MAGIC, a.flags, a.streams)
}

pub fn decode_ask(b: &[u8]) -> Result<ClientAsk, BadMessage> {
    let (flags, streams) = decode_pair(b, ASK_MAGIC, "request")?;
    Ok(ClientAsk { flags, streams })
}

/// Sans-IO reader of little-endian fields (the writer is `wire::Enc`).
struct In<'a>(&'a [u8]);

impl In<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], BadMessage> {
        if self.0.len() < n {
            return Err(bad("results cut short"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u32(&mut self) -> Result<u32, BadMessage> {
        Ok(u32_at(self.take(4)?, 0))
    }
    fn u64(&mut self) -> Result<u64, BadMessage> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn counters(&mut self) -> Result<Counters, BadMessage> {
        Ok(Counters {
            bytes: self.u64()?,
            msgs: self.u64()?,
            errs: self.u64()?,
        })
    }
}

/// Marks a missing cgroup figure.
const NO_CGROUP: u64 = u64::MAX;

/// The server's report after its STAT: header + payload.
pub fn encode_report(x: &SideExtras) -> Vec<u8> {
    let mut p = Enc(Vec::new());
    match x.cgroup {
        Some(c) => {
            p.u64(c.usage_usec);
            p.u64(c.elapsed_ns);
        }
        None => {
            p.u64(NO_CGROUP);
            p.u64(0);
        }
    }
    p.u32(x.streams.len() as u32);
    for s in &x.streams {
        enc_counters(&mut p, &s.s);
        enc_counters(&mut p, &s.r);
        p.u64(s.real_s);
        p.u64(s.real_e);
    }
    let h = x
        .latency
        .as_ref()
        .map(NsHistogram::to_v2_compressed)
        .unwrap_or_default();
    p.u32(h.len() as u32);
    p.0.extend_from_slice(&h);
    let mut out = RESULTS_MAGIC.to_vec();
    out.extend_from_slice(&(p.0.len() as u32).to_le_bytes());
    out.extend_from_slice(&p.0);
    out
}

/// The payload length announced by a report header.
pub fn decode_report_head(b: &[u8]) -> Result<usize, BadMessage> {
    if b.len() != RESULTS_HEAD_LEN || &b[..4] != RESULTS_MAGIC {
        return Err(bad("results header"));
    }
    let n = u32_at(b, 4);
    if n > MAX_RESULTS_LEN {
        return Err(bad("results too long"));
    }
    Ok(n as usize)
}

/// Decodes a report payload (after its header).
pub fn decode_report(b: &[u8]) -> Result<SideExtras, BadMessage> {
    let mut r = In(b);
    let usage = r.u64()?;
    let elapsed = r.u64()?;
    let cgroup = (usage != NO_CGROUP).then_some(CgroupUse {
        usage_usec: usage,
        elapsed_ns: elapsed,
    });
    let n = r.u32()?;
    if n > super::MAX_STREAMS {
        return Err(bad("too many streams"));
    }
    let mut streams = Vec::with_capacity(n as usize);
    for _ in 0..n {
        streams.push(StreamCounters {
            s: r.counters()?,
            r: r.counters()?,
            real_s: r.u64()?,
            real_e: r.u64()?,
        });
    }
    let hl = r.u32()? as usize;
    let latency = if hl == 0 {
        None
    } else {
        Some(NsHistogram::from_v2(r.take(hl)?).map_err(|e| bad(&e))?)
    };
    if !r.0.is_empty() {
        return Err(bad("trailing bytes"));
    }
    Ok(SideExtras {
        latency,
        cgroup,
        streams,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_stock_port_is_never_a_hello() {
        for port in [0u32, 1, 19765, 65535] {
            assert_eq!(classify_first(&port.to_le_bytes()), First::Port(port));
        }
        assert_eq!(classify_first(HELLO_MAGIC), First::Hello);
        // The ask differs from every stock version increment we send.
        assert_ne!(ASK_VER_INC, crate::wire::VER_INC);
    }

    #[test]
    fn hello_and_ask_round_trip() {
        let h = Hello {
            caps: ALL,
            max_streams: 64,
        };
        assert_eq!(decode_hello(&encode_hello(&h)), Ok(h));
        assert!(decode_hello(b"QPX1short").is_err());
        let a = ClientAsk {
            flags: STREAMS,
            streams: 4,
        };
        assert_eq!(decode_ask(&encode_ask(&a)), Ok(a));
        assert!(decode_ask(&[0; ASK_LEN]).is_err());
    }

    fn counters() -> impl Strategy<Value = Counters> {
        (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(bytes, msgs, errs)| Counters {
            bytes,
            msgs,
            errs,
        })
    }

    fn stream() -> impl Strategy<Value = StreamCounters> {
        (counters(), counters(), any::<u64>(), any::<u64>()).prop_map(|(s, r, a, b)| {
            StreamCounters {
                s,
                r,
                real_s: a,
                real_e: b,
            }
        })
    }

    proptest! {
        #[test]
        fn report_round_trips(
            usage in proptest::option::of((0u64..u64::MAX, any::<u64>())),
            streams in proptest::collection::vec(stream(), 0..6),
            lat in proptest::option::of(proptest::collection::vec(1u64..10_000_000_000, 1..50)),
        ) {
            let latency = lat.map(|v| {
                let mut h = NsHistogram::new();
                v.into_iter().for_each(|x| h.record(x));
                h
            });
            let x = SideExtras {
                latency,
                cgroup: usage.map(|(u, e)| CgroupUse { usage_usec: u, elapsed_ns: e }),
                streams,
            };
            let b = encode_report(&x);
            let n = decode_report_head(&b[..RESULTS_HEAD_LEN]).unwrap();
            prop_assert_eq!(n, b.len() - RESULTS_HEAD_LEN);
            prop_assert_eq!(decode_report(&b[RESULTS_HEAD_LEN..]).unwrap(), x);
        }

        /// A hostile peer's report never panics the decoder.
        #[test]
        fn any_bytes_decode_without_panic(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_report(&b);
            let _ = decode_report_head(&b);
            let _ = decode_hello(&b);
            let _ = decode_ask(&b);
        }
    }
}
