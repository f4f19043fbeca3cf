//! IEEE 802.1Q (C-tag, TPID 0x8100) and 802.1ad (S-tag, TPID 0x88a8) VLAN tags.
//!
//! ≈ `struct vlan_head` in `net/openvswitch/flow.h` and `include/linux/if_vlan.h`.
//!
//! A tag is the 4 bytes `push_vlan` inserts after the MAC addresses: the TPID, which sits where
//! the ethertype was, then the TCI. The encapsulated ethertype follows the tag.

use super::{be16, emit_room, ethernet, need, put_be16};
use crate::Result;

/// Length of a tag: TPID and TCI.
pub const HEADER_LEN: usize = 4;
/// Priority code point bits of the TCI.
pub const VLAN_PCP_MASK: u16 = 0xe000;
/// Shift of the priority code point in the TCI.
pub const VLAN_PCP_SHIFT: u16 = 13;
/// Drop-eligible indicator (formerly CFI). The OVS flow key reuses this bit to mean "a tag is
/// present" (`VLAN_CFI_MASK`), so a key's TCI has it set for every tagged frame.
pub const VLAN_CFI_MASK: u16 = 0x1000;
/// VLAN identifier bits of the TCI.
pub const VLAN_VID_MASK: u16 = 0x0fff;

/// A read/write view of a VLAN tag (TPID, TCI) at the start of a buffer.
#[derive(Debug, Clone)]
pub struct Tag<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Tag<T> {
    /// Wraps `buffer` after checking it holds a whole tag.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        need(buffer.as_ref(), HEADER_LEN, "truncated VLAN tag")?;
        Ok(Tag { buffer })
    }

    /// Returns the wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Tag protocol identifier (0x8100 or 0x88a8 for tags OVS parses).
    #[inline]
    pub fn tpid(&self) -> u16 {
        be16(self.buffer.as_ref(), 0)
    }

    /// The whole tag control information field.
    #[inline]
    pub fn tci(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    /// Priority code point (0–7).
    #[inline]
    pub fn pcp(&self) -> u8 {
        ((self.tci() & VLAN_PCP_MASK) >> VLAN_PCP_SHIFT) as u8
    }

    /// Drop-eligible indicator.
    #[inline]
    pub fn dei(&self) -> bool {
        self.tci() & VLAN_CFI_MASK != 0
    }

    /// VLAN identifier (0–4095).
    #[inline]
    pub fn vid(&self) -> u16 {
        self.tci() & VLAN_VID_MASK
    }

    /// Everything after the tag, starting with the encapsulated type field.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Tag<T> {
    /// Sets the TPID.
    #[inline]
    pub fn set_tpid(&mut self, tpid: u16) {
        put_be16(self.buffer.as_mut(), 0, tpid);
    }

    /// Sets the whole TCI.
    #[inline]
    pub fn set_tci(&mut self, tci: u16) {
        put_be16(self.buffer.as_mut(), 2, tci);
    }

    /// Sets the VLAN identifier, keeping PCP and DEI.
    #[inline]
    pub fn set_vid(&mut self, vid: u16) {
        let tci = (self.tci() & !VLAN_VID_MASK) | (vid & VLAN_VID_MASK);
        self.set_tci(tci);
    }

    /// Sets the priority code point, keeping DEI and VID.
    #[inline]
    pub fn set_pcp(&mut self, pcp: u8) {
        let tci =
            (self.tci() & !VLAN_PCP_MASK) | ((u16::from(pcp) << VLAN_PCP_SHIFT) & VLAN_PCP_MASK);
        self.set_tci(tci);
    }
}

/// An owned VLAN tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Repr {
    /// Tag protocol identifier.
    pub tpid: u16,
    /// Tag control information as on the wire.
    pub tci: u16,
}

impl Repr {
    /// Reads a checked tag.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(tag: &Tag<T>) -> Result<Self> {
        Ok(Repr {
            tpid: tag.tpid(),
            tci: tag.tci(),
        })
    }

    /// True if the TPID is one OVS parses as a tag (802.1Q or 802.1ad).
    #[inline]
    pub fn is_known_tpid(&self) -> bool {
        ethernet::is_vlan(self.tpid)
    }

    /// Bytes [`Repr::emit`] writes.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the tag at the start of `buf`.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let b = emit_room(buf, HEADER_LEN)?;
        put_be16(b, 0, self.tpid);
        put_be16(b, 2, self.tci);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ethernet::{parse_l2, ETH_P_8021AD, ETH_P_8021Q, ETH_P_802_2, ETH_P_IP};

    /// A QinQ frame: 802.1ad S-tag, 802.1Q C-tag, IPv4.
    const QINQ: [u8; 23] = [
        0x02, 0, 0, 0, 0, 0x02, // dst
        0x02, 0, 0, 0, 0, 0x01, // src
        0x88, 0xa8, // TPID 802.1ad
        0xa0, 0x64, // TCI: PCP 5, DEI 0, VID 100
        0x81, 0x00, // TPID 802.1Q
        0x30, 0x0a, // TCI: PCP 1, DEI 1, VID 10
        0x08, 0x00, // ethertype IPv4
        0x45, // start of the IPv4 header
    ];

    #[test]
    fn golden_tag() {
        let t = Tag::new_checked(&QINQ[12..]).unwrap();
        assert_eq!(t.tpid(), ETH_P_8021AD);
        assert_eq!((t.pcp(), t.dei(), t.vid()), (5, false, 100));
        let inner = Tag::new_checked(t.payload()).unwrap();
        assert_eq!(inner.tpid(), ETH_P_8021Q);
        assert_eq!((inner.pcp(), inner.dei(), inner.vid()), (1, true, 10));
        let repr = Repr::parse(&inner).unwrap();
        assert_eq!(
            repr,
            Repr {
                tpid: 0x8100,
                tci: 0x300a
            }
        );
        let mut out = [0u8; 4];
        repr.emit(&mut out).unwrap();
        assert_eq!(out, QINQ[16..20]);
    }

    #[test]
    fn setters_keep_other_bits() {
        let mut b = [0x81, 0x00, 0x30, 0x0a];
        let mut t = Tag::new_checked(&mut b[..]).unwrap();
        t.set_vid(0xfff);
        t.set_pcp(7);
        assert_eq!(t.tci(), 0xffff);
        t.set_pcp(0);
        t.set_tpid(ETH_P_8021AD);
        assert_eq!(b, [0x88, 0xa8, 0x1f, 0xff]);
    }

    #[test]
    fn truncated() {
        for n in 0..HEADER_LEN {
            assert_eq!(Tag::new_checked(&QINQ[12..12 + n]).unwrap_err().offset, n);
        }
    }

    #[test]
    fn l2_two_tags() {
        let l2 = parse_l2(&QINQ).unwrap();
        assert_eq!(
            l2.vlan,
            Some(Repr {
                tpid: 0x88a8,
                tci: 0xa064
            })
        );
        assert_eq!(
            l2.cvlan,
            Some(Repr {
                tpid: 0x8100,
                tci: 0x300a
            })
        );
        assert_eq!((l2.ethertype, l2.l3_offset), (ETH_P_IP, 22));
    }

    #[test]
    fn l2_third_tag_stays_in_payload() {
        let mut f = QINQ.to_vec();
        // Insert a third 802.1Q tag before the IPv4 ethertype.
        f.splice(20..20, [0x81, 0x00, 0x00, 0x05]);
        let l2 = parse_l2(&f).unwrap();
        assert_eq!((l2.ethertype, l2.l3_offset), (ETH_P_8021Q, 22));
    }

    #[test]
    fn l2_short_tag_is_not_a_tag() {
        // TPID 0x8100 followed by only a TCI: not enough for the next type field.
        let f = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0x00, 0x00, 0x05];
        let l2 = parse_l2(&f).unwrap();
        assert_eq!(
            (l2.vlan, l2.ethertype, l2.l3_offset),
            (None, ETH_P_8021Q, 14)
        );
    }

    #[test]
    fn l2_llc() {
        // 802.3 length 0x0026, STP LLC: 802.2 with the LLC left for the network layer.
        let mut f = vec![1, 0x80, 0xc2, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0x00, 0x26];
        f.extend_from_slice(&[0x42, 0x42, 0x03, 0, 0, 0, 0, 0]);
        let l2 = parse_l2(&f).unwrap();
        assert_eq!((l2.ethertype, l2.l3_offset), (ETH_P_802_2, 14));
        // A SNAP header with OUI 0 carrying IPv4 after a VLAN tag.
        let mut g = vec![
            1, 0, 0x5e, 0, 0, 1, 2, 0, 0, 0, 0, 1, 0x81, 0x00, 0x00, 0x07, 0x00, 0x30,
        ];
        g.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
        let l2 = parse_l2(&g).unwrap();
        assert_eq!(
            l2.vlan,
            Some(Repr {
                tpid: 0x8100,
                tci: 7
            })
        );
        assert_eq!((l2.ethertype, l2.l3_offset), (ETH_P_IP, 26));
        assert!(parse_l2(&g[..13]).is_err());
    }
}
