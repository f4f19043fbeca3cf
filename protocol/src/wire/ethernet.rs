//! Ethernet II / IEEE 802.3 frame header, and the ethertype rules of the OVS flow key.
//!
//! ≈ `struct ethhdr` (`include/uapi/linux/if_ether.h`) and `parse_ethertype` in
//! `net/openvswitch/flow.c`.

use super::{array, be16, emit_room, need, put_be16, vlan};
use crate::Result;

/// Length of the Ethernet header: two addresses and the ethertype/length field.
pub const HEADER_LEN: usize = 14;
/// Length of an Ethernet (MAC) address.
pub const ADDR_LEN: usize = 6;

/// `ETH_P_IP`: IPv4.
pub const ETH_P_IP: u16 = 0x0800;
/// `ETH_P_ARP`: ARP.
pub const ETH_P_ARP: u16 = 0x0806;
/// `ETH_P_RARP`: reverse ARP (keyed like ARP by OVS).
pub const ETH_P_RARP: u16 = 0x8035;
/// `ETH_P_8021Q`: 802.1Q customer VLAN tag.
pub const ETH_P_8021Q: u16 = 0x8100;
/// `ETH_P_8021AD`: 802.1ad service VLAN tag (QinQ outer tag).
pub const ETH_P_8021AD: u16 = 0x88a8;
/// `ETH_P_IPV6`: IPv6.
pub const ETH_P_IPV6: u16 = 0x86dd;
/// `ETH_P_MPLS_UC`: MPLS unicast.
pub const ETH_P_MPLS_UC: u16 = 0x8847;
/// `ETH_P_MPLS_MC`: MPLS multicast.
pub const ETH_P_MPLS_MC: u16 = 0x8848;
/// `ETH_P_802_3_MIN`: values below this in the type field are 802.3 lengths, not ethertypes.
pub const ETH_P_802_3_MIN: u16 = 0x0600;
/// `ETH_P_802_2`: the pseudo-ethertype OVS gives 802.2 LLC frames without a SNAP ethertype.
pub const ETH_P_802_2: u16 = 0x0004;

/// An Ethernet address.
pub type Addr = [u8; ADDR_LEN];

/// True for the 802.3 "length" range of the type field (`!eth_proto_is_802_3`).
#[inline]
pub fn is_length(ethertype: u16) -> bool {
    ethertype < ETH_P_802_3_MIN
}

/// True for ethertypes that introduce a VLAN tag OVS parses (`eth_type_vlan`).
#[inline]
pub fn is_vlan(ethertype: u16) -> bool {
    ethertype == ETH_P_8021Q || ethertype == ETH_P_8021AD
}

/// True for the two MPLS ethertypes (`eth_p_mpls`).
#[inline]
pub fn is_mpls(ethertype: u16) -> bool {
    ethertype == ETH_P_MPLS_UC || ethertype == ETH_P_MPLS_MC
}

/// Length of an 802.2 LLC header followed by a SNAP header (dsap, ssap, ctrl, OUI, type).
pub const LLC_SNAP_LEN: usize = 8;

/// The ethertype OVS keys a frame on whose type field is an 802.3 length, given the bytes after
/// that field; with how many of them the LLC/SNAP header took.
///
/// As the kernel's `parse_ethertype`: SAPs `0xaa`/`0xaa` with OUI 0 and an ethertype ≥ 0x600
/// yield that ethertype (8 bytes consumed); anything else is [`ETH_P_802_2`] (0 consumed; the
/// kernel does not check the control byte). A SNAP header with a non-zero OUI or a small type
/// still counts as 802.2, with the LLC header left in the payload.
#[inline]
pub fn llc_snap_ethertype(after_type: &[u8]) -> (u16, usize) {
    match after_type {
        [0xaa, 0xaa, _, 0, 0, 0, t0, t1, ..] => {
            let t = u16::from_be_bytes([*t0, *t1]);
            if is_length(t) {
                (ETH_P_802_2, 0)
            } else {
                (t, LLC_SNAP_LEN)
            }
        }
        _ => (ETH_P_802_2, 0),
    }
}

/// A read/write view of an Ethernet header at the start of a buffer.
#[derive(Debug, Clone)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps `buffer` after checking it holds a whole Ethernet header.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        need(buffer.as_ref(), HEADER_LEN, "truncated Ethernet header")?;
        Ok(Frame { buffer })
    }

    /// Returns the wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> Addr {
        array(self.buffer.as_ref(), 0)
    }

    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> Addr {
        array(self.buffer.as_ref(), 6)
    }

    /// The type/length field: an ethertype, a VLAN TPID, or an 802.3 length (< 0x600).
    #[inline]
    pub fn ethertype(&self) -> u16 {
        be16(self.buffer.as_ref(), 12)
    }

    /// Everything after the 14-byte header (VLAN tags included, if any).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Sets the destination address.
    #[inline]
    pub fn set_dst_addr(&mut self, a: Addr) {
        self.buffer.as_mut()[0..6].copy_from_slice(&a);
    }

    /// Sets the source address.
    #[inline]
    pub fn set_src_addr(&mut self, a: Addr) {
        self.buffer.as_mut()[6..12].copy_from_slice(&a);
    }

    /// Sets the type/length field.
    #[inline]
    pub fn set_ethertype(&mut self, t: u16) {
        put_be16(self.buffer.as_mut(), 12, t);
    }

    /// The bytes after the header, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

/// An owned Ethernet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Repr {
    /// Destination address.
    pub dst_addr: Addr,
    /// Source address.
    pub src_addr: Addr,
    /// Type/length field.
    pub ethertype: u16,
}

impl Repr {
    /// Reads the header of a checked frame.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(frame: &Frame<T>) -> Result<Self> {
        Ok(Repr {
            dst_addr: frame.dst_addr(),
            src_addr: frame.src_addr(),
            ethertype: frame.ethertype(),
        })
    }

    /// Bytes [`Repr::emit`] writes.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header at the start of `buf`.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let b = emit_room(buf, HEADER_LEN)?;
        b[0..6].copy_from_slice(&self.dst_addr);
        b[6..12].copy_from_slice(&self.src_addr);
        put_be16(b, 12, self.ethertype);
        Ok(())
    }
}

/// The link-layer headers of a frame as the OVS flow key sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct L2 {
    /// Destination address.
    pub dst_addr: Addr,
    /// Source address.
    pub src_addr: Addr,
    /// Outer VLAN tag (`OVS_KEY_ATTR_VLAN`/`ENCAP`), if one was parsed.
    pub vlan: Option<vlan::Repr>,
    /// Inner VLAN tag of a double-tagged frame, if one was parsed.
    pub cvlan: Option<vlan::Repr>,
    /// The ethertype after the tags, LLC/SNAP rules applied ([`ETH_P_802_2`] for plain LLC).
    pub ethertype: u16,
    /// Offset of the network header (after tags and any SNAP header).
    pub l3_offset: usize,
}

/// Parses the Ethernet header, up to two VLAN tags and an LLC/SNAP header, as the kernel's
/// `parse_vlan` and `parse_ethertype` do for a frame whose tag was not offloaded.
///
/// A third tag stays in the payload and its TPID becomes the ethertype; a TPID with fewer than
/// four bytes after it is not a tag (`parse_vlan_tag` needs TCI and the next type field). Fails
/// only when the frame is shorter than an Ethernet header.
#[inline]
pub fn parse_l2(frame: &[u8]) -> Result<L2> {
    let f = Frame::new_checked(frame)?;
    let mut l2 = L2 {
        dst_addr: f.dst_addr(),
        src_addr: f.src_addr(),
        ..L2::default()
    };
    // Offset of the current type field.
    let mut at = 12;
    for slot in 0..2 {
        let Some(tag) = frame.get(at..at + vlan::HEADER_LEN + 2) else {
            break;
        };
        let tpid = u16::from_be_bytes([tag[0], tag[1]]);
        if !is_vlan(tpid) {
            break;
        }
        let repr = vlan::Repr {
            tpid,
            tci: u16::from_be_bytes([tag[2], tag[3]]),
        };
        if slot == 0 {
            l2.vlan = Some(repr);
        } else {
            l2.cvlan = Some(repr);
        }
        at += vlan::HEADER_LEN;
    }
    let ethertype = be16(frame, at);
    at += 2;
    l2.ethertype = ethertype;
    if is_length(ethertype) {
        let (t, used) = llc_snap_ethertype(frame.get(at..).unwrap_or(&[]));
        l2.ethertype = t;
        at += used;
    }
    l2.l3_offset = at;
    Ok(l2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet header carrying IPv4, followed by two payload bytes.
    const FRAME: [u8; 16] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // dst 02:00:00:00:00:02
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // src 02:00:00:00:00:01
        0x08, 0x00, // ethertype IPv4
        0x45, 0x00, // payload
    ];

    #[test]
    fn golden_decode_and_emit() {
        let f = Frame::new_checked(&FRAME[..]).unwrap();
        assert_eq!(f.dst_addr(), [2, 0, 0, 0, 0, 2]);
        assert_eq!(f.src_addr(), [2, 0, 0, 0, 0, 1]);
        assert_eq!(f.ethertype(), ETH_P_IP);
        assert_eq!(f.payload(), &[0x45, 0x00]);
        let repr = Repr::parse(&f).unwrap();
        let mut out = [0u8; HEADER_LEN];
        repr.emit(&mut out).unwrap();
        assert_eq!(out, FRAME[..HEADER_LEN]);
        assert_eq!(
            repr.emit(&mut [0u8; 13]).unwrap_err().errno,
            crate::errno::EINVAL
        );
    }

    #[test]
    fn setters_write_in_place() {
        let mut buf = FRAME;
        let mut f = Frame::new_checked(&mut buf[..]).unwrap();
        f.set_dst_addr([0xff; 6]);
        f.set_src_addr([1, 2, 3, 4, 5, 6]);
        f.set_ethertype(ETH_P_IPV6);
        assert_eq!(
            &buf[..14],
            &[255, 255, 255, 255, 255, 255, 1, 2, 3, 4, 5, 6, 0x86, 0xdd]
        );
    }

    #[test]
    fn truncated() {
        for n in 0..HEADER_LEN {
            let e = Frame::new_checked(&FRAME[..n]).unwrap_err();
            assert_eq!((e.errno, e.offset), (crate::errno::EINVAL, n));
        }
    }

    #[test]
    fn llc_snap() {
        // LLC aa aa 03, OUI 00 00 00, type 0x0800 → IPv4 after 8 bytes.
        assert_eq!(
            llc_snap_ethertype(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00, 0x45]),
            (ETH_P_IP, 8)
        );
        // Non-zero OUI (Cisco 00:00:0c) → 802.2.
        assert_eq!(
            llc_snap_ethertype(&[0xaa, 0xaa, 0x03, 0, 0, 0x0c, 0x20, 0x00]),
            (ETH_P_802_2, 0)
        );
        // SNAP type in the length range → 802.2.
        assert_eq!(
            llc_snap_ethertype(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x05, 0xff]),
            (ETH_P_802_2, 0)
        );
        // STP's LLC (42 42 03) and anything shorter than 8 bytes → 802.2.
        assert_eq!(
            llc_snap_ethertype(&[0x42, 0x42, 0x03, 0, 0, 0, 0, 0]),
            (ETH_P_802_2, 0)
        );
        assert_eq!(
            llc_snap_ethertype(&[0xaa, 0xaa, 0x03, 0, 0, 0, 8]),
            (ETH_P_802_2, 0)
        );
        assert!(is_length(0x05dc) && !is_length(0x0600));
    }
}
