//! The NODE message of the RDMA tests (spec §4.14 step 3): what each side
//! tells the other about its queue pair and buffer, 40 bytes each way (36
//! encoded little-endian, 4 bytes of never-encoded struct padding).

/// Size of a NODE message on the wire, padding included.
pub const NODE_LEN: usize = 40;
/// The encoded part; the rest is padding (zeros from us, ignored from peers).
const ENCODED_LEN: usize = 36;

/// One side's queue pair and memory region, as the peer needs them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Node {
    /// Address of the registered buffer (target of RDMA and atomics).
    pub vaddr: u64,
    /// Port LID plus path bits (0 on ports without a LID, e.g. RoCE).
    pub lid: u32,
    /// Queue pair number.
    pub qpn: u32,
    /// Initial packet sequence number (24 bits).
    pub psn: u32,
    /// XRC SRQ number (0 otherwise).
    pub srqn: u32,
    /// Remote key of the buffer.
    pub rkey: u32,
    /// LID of the alternate port (0 if none).
    pub alt_lid: u32,
    /// Outstanding RDMA reads/atomics this side accepts.
    pub rd_atomic: u32,
}

/// Encodes `n` as stock sends it.
pub fn encode_node(n: &Node) -> [u8; NODE_LEN] {
    let mut b = [0u8; NODE_LEN];
    b[0..8].copy_from_slice(&n.vaddr.to_le_bytes());
    let words = [n.lid, n.qpn, n.psn, n.srqn, n.rkey, n.alt_lid, n.rd_atomic];
    for (i, w) in words.iter().enumerate() {
        let at = 8 + 4 * i;
        b[at..at + 4].copy_from_slice(&w.to_le_bytes());
    }
    b
}

/// Decodes a NODE message; `None` when fewer than 36 bytes arrived.
pub fn decode_node(b: &[u8]) -> Option<Node> {
    if b.len() < ENCODED_LEN {
        return None;
    }
    let w = |i: usize| {
        let at = 8 + 4 * i;
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    };
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[0..8]);
    Some(Node {
        vaddr: u64::from_le_bytes(v),
        lid: w(0),
        qpn: w(1),
        psn: w(2),
        srqn: w(3),
        rkey: w(4),
        alt_lid: w(5),
        rd_atomic: w(6),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A node whose every field has distinct bytes, so a swapped or shifted
    /// field shows in the golden bytes.
    fn sample() -> Node {
        Node {
            vaddr: 0x0000_7f12_3456_7000,
            lid: 0x0012,
            qpn: 0x00ab_cdef,
            psn: 0x0065_4321,
            srqn: 0,
            rkey: 0x1122_3344,
            alt_lid: 0x0034,
            rd_atomic: 16,
        }
    }

    #[test]
    fn golden_bytes_follow_the_spec_layout() {
        let want: [u8; NODE_LEN] = [
            0x00, 0x70, 0x56, 0x34, 0x12, 0x7f, 0x00, 0x00, // vaddr
            0x12, 0x00, 0x00, 0x00, // lid
            0xef, 0xcd, 0xab, 0x00, // qpn
            0x21, 0x43, 0x65, 0x00, // psn
            0x00, 0x00, 0x00, 0x00, // srqn
            0x44, 0x33, 0x22, 0x11, // rkey
            0x34, 0x00, 0x00, 0x00, // alt_lid
            0x10, 0x00, 0x00, 0x00, // rd_atomic
            0x00, 0x00, 0x00, 0x00, // padding
        ];
        assert_eq!(encode_node(&sample()), want);
        assert_eq!(decode_node(&want), Some(sample()));
    }

    #[test]
    fn padding_from_a_peer_is_ignored_and_short_input_refused() {
        let mut b = encode_node(&sample());
        b[36..].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(decode_node(&b), Some(sample()));
        assert_eq!(decode_node(&b[..35]), None);
        assert_eq!(decode_node(&b[..36]), Some(sample()));
    }

    proptest! {
        #[test]
        fn round_trip(vaddr: u64, lid: u32, qpn: u32, psn: u32, srqn: u32,
                      rkey: u32, alt_lid: u32, rd_atomic: u32) {
            let n = Node { vaddr, lid, qpn, psn, srqn, rkey, alt_lid, rd_atomic };
            let b = encode_node(&n);
            prop_assert_eq!(&b[36..], &[0u8; 4][..]);
            prop_assert_eq!(decode_node(&b), Some(n));
        }

        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let n = decode_node(&b);
            prop_assert_eq!(n.is_some(), b.len() >= 36);
            if let Some(n) = n {
                prop_assert_eq!(&encode_node(&n)[..36], &b[..36]);
            }
        }
    }
}
