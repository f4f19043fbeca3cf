//! The Internet checksum (RFC 1071), its pseudo-headers, its incremental update (RFC 1624) and
//! SCTP's CRC32c (RFC 4960 appendix B, RFC 3309).
//!
//! ≈ `include/net/checksum.h` (`csum_replace2/4`, `inet_proto_csum_replace*`) and
//! `net/sctp/checksum.c` in Linux; `lib/csum.c` and `lib/crc32c.c` in OVS.
//!
//! Sums are kept folded to 16 bits and *not* inverted ([`sum`], [`add`], the pseudo-header
//! functions); a checksum field holds the inverted sum ([`checksum`]). Values are host-order
//! `u16`s of the big-endian words on the wire.

/// Adds the big-endian 16-bit words of `data` into a wide accumulator. An odd trailing byte is
/// padded with a zero on the right, as RFC 1071 §4.1 does.
#[inline]
fn accumulate(mut acc: u64, data: &[u8]) -> u64 {
    // 32-bit words are summed at once: 2^16 ≡ 1 (mod 0xffff), so folding a sum of 32-bit words
    // gives the same one's-complement sum as adding the 16-bit halves one by one.
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        acc += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    }
    let rest = chunks.remainder();
    let mut pairs = rest.chunks_exact(2);
    for p in &mut pairs {
        acc += u64::from(u16::from_be_bytes([p[0], p[1]]));
    }
    if let [b] = pairs.remainder() {
        acc += u64::from(*b) << 8;
    }
    acc
}

/// Folds a wide accumulator into a 16-bit one's-complement sum (end-around carry).
#[inline]
fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The one's-complement sum of `data` as 16-bit big-endian words, folded, not inverted.
#[inline]
pub fn sum(data: &[u8]) -> u16 {
    fold(accumulate(0, data))
}

/// One's-complement addition of two folded sums.
#[inline]
pub fn add(a: u16, b: u16) -> u16 {
    fold(u64::from(a) + u64::from(b))
}

/// The Internet checksum of `data`: the inverted one's-complement sum (checksum field zeroed).
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !sum(data)
}

/// The sum of the IPv4 pseudo-header (RFC 793 §3.1, RFC 768): addresses, zero, protocol and
/// the length of the transport segment.
#[inline]
pub fn pseudo_header_v4(src: &[u8; 4], dst: &[u8; 4], protocol: u8, len: u16) -> u16 {
    let acc = accumulate(0, src) + accumulate(0, dst) + u64::from(protocol) + u64::from(len);
    fold(acc)
}

/// The sum of the IPv6 pseudo-header (RFC 8200 §8.1): addresses, the 32-bit upper-layer
/// length and the next header value.
#[inline]
pub fn pseudo_header_v6(src: &[u8; 16], dst: &[u8; 16], next_header: u8, len: u32) -> u16 {
    let acc = accumulate(0, src)
        + accumulate(0, dst)
        + u64::from(len >> 16)
        + u64::from(len & 0xffff)
        + u64::from(next_header);
    fold(acc)
}

/// True if `segment`, checksum field included, sums to all ones with its IPv4 pseudo-header;
/// false for a segment too long for the pseudo-header's 16-bit length.
#[inline]
pub(crate) fn verify_v4(src: &[u8; 4], dst: &[u8; 4], protocol: u8, segment: &[u8]) -> bool {
    let Ok(len) = u16::try_from(segment.len()) else {
        return false;
    };
    add(pseudo_header_v4(src, dst, protocol, len), sum(segment)) == 0xffff
}

/// True if `segment`, checksum field included, sums to all ones with its IPv6 pseudo-header;
/// false for a segment too long for the pseudo-header's 32-bit length.
#[inline]
pub(crate) fn verify_v6(src: &[u8; 16], dst: &[u8; 16], next_header: u8, segment: &[u8]) -> bool {
    let Ok(len) = u32::try_from(segment.len()) else {
        return false;
    };
    add(pseudo_header_v6(src, dst, next_header, len), sum(segment)) == 0xffff
}

/// `CSUM_MANGLED_0`: a computed UDP checksum of 0 is sent as its one's-complement twin, because
/// 0 on the wire means the sender computed none (RFC 768).
#[inline]
pub(crate) fn mangle_zero(c: u16) -> u16 {
    if c == 0 {
        0xffff
    } else {
        c
    }
}

/// The checksum field of a transport segment given its pseudo-header sum; the segment's own
/// checksum field must read zero.
#[inline]
pub fn transport_checksum(pseudo: u16, segment: &[u8]) -> u16 {
    !fold(accumulate(u64::from(pseudo), segment))
}

/// RFC 1624 eqn. 3: the checksum after one 16-bit word covered by `check` changes from `old`
/// to `new`, without summing the data again: `HC' = ~(~HC + ~m + m')`.
#[inline]
pub fn update16(check: u16, old: u16, new: u16) -> u16 {
    !fold(u64::from(!check) + u64::from(!old) + u64::from(new))
}

/// RFC 1624 eqn. 3 for a 32-bit field (two adjacent 16-bit words, e.g. a TCP sequence number).
#[inline]
pub fn update32(check: u16, old: u32, new: u32) -> u16 {
    let acc = u64::from(!check)
        + u64::from(!(old >> 16) & 0xffff)
        + u64::from(!old & 0xffff)
        + u64::from(new >> 16)
        + u64::from(new & 0xffff);
    !fold(acc)
}

/// RFC 1624 eqn. 3 for a run of 16-bit-aligned bytes replaced by another of the same length
/// (both lengths must be even; a shorter `new` is summed as if zero-padded).
#[inline]
pub fn update_bytes(check: u16, old: &[u8], new: &[u8]) -> u16 {
    // ~m summed word by word equals (0xffff * words) - sum(m): add the complement of the folded
    // sum once instead of complementing every word.
    let acc = u64::from(!check) + u64::from(!sum(old)) + u64::from(sum(new));
    !fold(acc)
}

/// The checksum after an IPv4 address it covers changes (header or pseudo-header).
#[inline]
pub fn update_addr_v4(check: u16, old: &[u8; 4], new: &[u8; 4]) -> u16 {
    update32(check, u32::from_be_bytes(*old), u32::from_be_bytes(*new))
}

/// The checksum after an IPv6 address it covers changes (pseudo-header or ND target).
#[inline]
pub fn update_addr_v6(check: u16, old: &[u8; 16], new: &[u8; 16]) -> u16 {
    update_bytes(check, old, new)
}

/// The Castagnoli polynomial, bit-reflected (RFC 3309).
const CRC32C_POLY: u32 = 0x82f6_3b78;

/// Byte-at-a-time lookup table for CRC32c, built at compile time.
const CRC32C_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ CRC32C_POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// Continues a raw (not yet inverted) CRC32c register over `data`.
#[inline]
pub fn crc32c_update(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc = CRC32C_TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

/// CRC32c of `data` (initial value and final XOR all ones): `crc32c(b"123456789") == 0xe3069283`.
#[inline]
pub fn crc32c(data: &[u8]) -> u32 {
    !crc32c_update(!0, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: words 0001 f203 f4f5 f6f7 sum to ddf2 with end-around carries.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(&data), 0xddf2);
        assert_eq!(checksum(&data), 0x220d);
        // Odd length: the last byte is the high half of a zero-padded word.
        assert_eq!(sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
    }

    #[test]
    fn crc32c_known_values() {
        // RFC 3720 appendix B.4 test vectors.
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62a8_ab43);
        let inc: Vec<u8> = (0u8..32).collect();
        assert_eq!(crc32c(&inc), 0x46dd_794e);
        assert_eq!(crc32c(&[]), 0);
    }

    #[test]
    fn pseudo_headers_by_hand() {
        // 192.0.2.1 → 198.51.100.2, TCP, 20 bytes:
        // c000 + 0201 + c633 + 6402 + 0006 + 0014 = 0x1_ec50 → fold 0xec51.
        assert_eq!(
            pseudo_header_v4(&[192, 0, 2, 1], &[198, 51, 100, 2], 6, 20),
            0xec51
        );
        // ::1 → ::2, UDP (17), length 0x1_0008: 1 + 2 + 1 + 8 + 17 = 0x1d.
        let mut a = [0u8; 16];
        let mut b = [0u8; 16];
        a[15] = 1;
        b[15] = 2;
        assert_eq!(pseudo_header_v6(&a, &b, 17, 0x1_0008), 0x1d);
    }

    #[test]
    fn update_matches_rfc1624_example() {
        // RFC 1624 §4: header checksum 0xdd2f, a word changes 0x5555 → 0x3285: new 0x0000.
        assert_eq!(update16(0xdd2f, 0x5555, 0x3285), 0x0000);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// Even-length data whose first word is non-zero: with all-zero data a full computation
    /// gives 0xffff where the incremental one gives the equivalent 0x0000 (RFC 1624 §3).
    fn data() -> impl Strategy<Value = Vec<u8>> {
        (1usize..64, any::<u16>()).prop_flat_map(|(words, first)| {
            proptest::collection::vec(any::<u8>(), words * 2 + 16).prop_map(move |mut v| {
                v[0..2].copy_from_slice(&(first | 0x4000).to_be_bytes());
                v
            })
        })
    }

    proptest! {
        #[test]
        fn update16_matches_full(d in data(), at in any::<prop::sample::Index>(), new in any::<u16>()) {
            let i = 2 + at.index((d.len() - 2) / 2) * 2;
            let i = i.min(d.len() - 2);
            let before = checksum(&d);
            let old = u16::from_be_bytes([d[i], d[i + 1]]);
            let mut d2 = d.clone();
            d2[i..i + 2].copy_from_slice(&new.to_be_bytes());
            prop_assert_eq!(update16(before, old, new), checksum(&d2));
        }

        #[test]
        fn update32_matches_full(d in data(), at in any::<prop::sample::Index>(), new in any::<u32>()) {
            let i = (2 + at.index((d.len() - 4) / 2) * 2).min(d.len() - 4);
            let before = checksum(&d);
            let old = u32::from_be_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
            let mut d2 = d.clone();
            d2[i..i + 4].copy_from_slice(&new.to_be_bytes());
            prop_assert_eq!(update32(before, old, new), checksum(&d2));
        }

        #[test]
        fn update_addr_v6_matches_full(d in data(), at in any::<prop::sample::Index>(), new in any::<[u8; 16]>()) {
            let i = (2 + at.index((d.len() - 16) / 2) * 2).min(d.len() - 16);
            let before = checksum(&d);
            let old: [u8; 16] = d[i..i + 16].try_into().unwrap();
            let mut d2 = d.clone();
            d2[i..i + 16].copy_from_slice(&new);
            prop_assert_eq!(update_addr_v6(before, &old, &new), checksum(&d2));
        }

        #[test]
        fn pseudo_header_plus_segment_verifies(
            src in any::<[u8; 4]>(), dst in any::<[u8; 4]>(), seg in proptest::collection::vec(any::<u8>(), 8..100)
        ) {
            let mut seg = seg;
            seg[6] = 0;
            seg[7] = 0;
            let ph = pseudo_header_v4(&src, &dst, 17, seg.len() as u16);
            let c = transport_checksum(ph, &seg);
            seg[6..8].copy_from_slice(&c.to_be_bytes());
            prop_assert_eq!(add(ph, sum(&seg)), 0xffff);
        }

        #[test]
        fn ipv4_rewrites_match_recompute(
            src in any::<[u8; 4]>(), dst in any::<[u8; 4]>(), ttl in any::<u8>(), tos in any::<u8>(),
            udp in any::<bool>(), payload in proptest::collection::vec(any::<u8>(), 0..40)
        ) {
            use crate::wire::{ipv4, tcp, udp as u};
            let l4_len = if udp { 8 } else { 20 } + payload.len();
            let mut b = vec![0u8; 20 + l4_len];
            let ip = ipv4::Repr {
                protocol: if udp { 17 } else { 6 },
                src_addr: [10, 0, 0, 1],
                dst_addr: [10, 0, 0, 2],
                payload_len: l4_len as u16,
                ..ipv4::Repr::default()
            };
            ip.emit(&mut b).unwrap();
            if udp {
                u::Repr { src_port: 1, dst_port: 2, payload_len: payload.len() as u16 }.emit(&mut b[20..]).unwrap();
                b[28..].copy_from_slice(&payload);
                u::Packet::new_checked(&mut b[20..]).unwrap().fill_checksum_v4(&ip.src_addr, &ip.dst_addr);
            } else {
                b[32] = 0x50;
                b[40..].copy_from_slice(&payload);
                tcp::Packet::new_checked(&mut b[20..]).unwrap().fill_checksum_v4(&ip.src_addr, &ip.dst_addr).unwrap();
            }
            let mut p = ipv4::Packet::new_checked(&mut b[..]).unwrap();
            p.rewrite_src_addr(src);
            p.rewrite_dst_addr(dst);
            p.rewrite_ttl(ttl);
            p.rewrite_tos(tos);
            prop_assert!(p.verify_checksum());
            if udp {
                let q = u::Packet::new_checked(&b[20..]).unwrap();
                prop_assert!(q.checksum() != 0);
                prop_assert!(q.verify_checksum_v4(&src, &dst));
            } else {
                prop_assert!(tcp::Packet::new_checked(&b[20..]).unwrap().verify_checksum_v4(&src, &dst));
            }
        }
    }
}
