//! ARP and RARP (RFC 826, RFC 903).
//!
//! ≈ `struct arphdr` / `struct arp_eth_header` (`include/linux/if_arp.h`) and the ARP branch
//! of `key_extract` in `net/openvswitch/flow.c`.
//!
//! The view accepts any hardware/protocol address lengths; the flow key only uses packets that
//! [`Packet::is_ethernet_ipv4`], and the owned [`Repr`] exists only for that shape.

use super::{array, be16, emit_room, ethernet, need, put_be16};
use crate::{Error, Result};

/// Length of the fixed part: htype, ptype, hlen, plen, oper.
pub const FIXED_LEN: usize = 8;
/// Length of an Ethernet/IPv4 ARP packet (`struct arp_eth_header`).
pub const ETH_IPV4_LEN: usize = 28;
/// `ARPHRD_ETHER`: hardware type Ethernet.
pub const ARPHRD_ETHER: u16 = 1;
/// `ARPOP_REQUEST`.
pub const ARPOP_REQUEST: u16 = 1;
/// `ARPOP_REPLY`.
pub const ARPOP_REPLY: u16 = 2;
/// `ARPOP_RREQUEST`: RARP request.
pub const ARPOP_RREQUEST: u16 = 3;
/// `ARPOP_RREPLY`: RARP reply.
pub const ARPOP_RREPLY: u16 = 4;

/// A read/write view of an ARP packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` after checking it holds the fixed part and all four addresses.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        need(b, FIXED_LEN, "truncated ARP header")?;
        let addrs = 2 * (usize::from(b[4]) + usize::from(b[5]));
        if b.len() < FIXED_LEN + addrs {
            return Err(Error::inval(b.len(), "ARP addresses beyond the packet"));
        }
        Ok(Packet { buffer })
    }

    /// Returns the wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Hardware type.
    #[inline]
    pub fn hardware_type(&self) -> u16 {
        be16(self.buffer.as_ref(), 0)
    }

    /// Protocol type (an ethertype).
    #[inline]
    pub fn protocol_type(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    /// Hardware address length.
    #[inline]
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[4]
    }

    /// Protocol address length.
    #[inline]
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[5]
    }

    /// Operation code. The flow key keeps only opcodes ≤ 0xff (others become 0).
    #[inline]
    pub fn operation(&self) -> u16 {
        be16(self.buffer.as_ref(), 6)
    }

    /// True for the only shape the flow key uses: Ethernet hardware, IPv4, lengths 6 and 4.
    #[inline]
    pub fn is_ethernet_ipv4(&self) -> bool {
        self.hardware_type() == ARPHRD_ETHER
            && self.protocol_type() == ethernet::ETH_P_IP
            && self.hardware_len() == 6
            && self.protocol_len() == 4
    }

    #[inline]
    fn lens(&self) -> (usize, usize) {
        (
            usize::from(self.hardware_len()),
            usize::from(self.protocol_len()),
        )
    }

    /// Sender hardware address.
    #[inline]
    pub fn sender_hardware_addr(&self) -> &[u8] {
        let (h, _) = self.lens();
        &self.buffer.as_ref()[FIXED_LEN..FIXED_LEN + h]
    }

    /// Sender protocol address.
    #[inline]
    pub fn sender_protocol_addr(&self) -> &[u8] {
        let (h, p) = self.lens();
        &self.buffer.as_ref()[FIXED_LEN + h..FIXED_LEN + h + p]
    }

    /// Target hardware address.
    #[inline]
    pub fn target_hardware_addr(&self) -> &[u8] {
        let (h, p) = self.lens();
        let at = FIXED_LEN + h + p;
        &self.buffer.as_ref()[at..at + h]
    }

    /// Target protocol address.
    #[inline]
    pub fn target_protocol_addr(&self) -> &[u8] {
        let (h, p) = self.lens();
        let at = FIXED_LEN + 2 * h + p;
        &self.buffer.as_ref()[at..at + p]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the operation code.
    #[inline]
    pub fn set_operation(&mut self, op: u16) {
        put_be16(self.buffer.as_mut(), 6, op);
    }

    /// Overwrites the sender hardware address; `a` must have [`Packet::hardware_len`] bytes.
    #[inline]
    pub fn set_sender_hardware_addr(&mut self, a: &[u8]) -> Result<()> {
        let (h, _) = self.lens();
        self.write(FIXED_LEN, h, a)
    }

    /// Overwrites the sender protocol address; `a` must have [`Packet::protocol_len`] bytes.
    #[inline]
    pub fn set_sender_protocol_addr(&mut self, a: &[u8]) -> Result<()> {
        let (h, p) = self.lens();
        self.write(FIXED_LEN + h, p, a)
    }

    /// Overwrites the target hardware address.
    #[inline]
    pub fn set_target_hardware_addr(&mut self, a: &[u8]) -> Result<()> {
        let (h, p) = self.lens();
        self.write(FIXED_LEN + h + p, h, a)
    }

    /// Overwrites the target protocol address.
    #[inline]
    pub fn set_target_protocol_addr(&mut self, a: &[u8]) -> Result<()> {
        let (h, p) = self.lens();
        self.write(FIXED_LEN + 2 * h + p, p, a)
    }

    fn write(&mut self, at: usize, len: usize, a: &[u8]) -> Result<()> {
        if a.len() != len {
            return Err(Error::inval(at, "ARP address length mismatch"));
        }
        self.buffer.as_mut()[at..at + len].copy_from_slice(a);
        Ok(())
    }
}

/// An owned Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Repr {
    /// Operation code.
    pub operation: u16,
    /// Sender hardware address.
    pub sender_hardware_addr: ethernet::Addr,
    /// Sender IPv4 address.
    pub sender_protocol_addr: [u8; 4],
    /// Target hardware address.
    pub target_hardware_addr: ethernet::Addr,
    /// Target IPv4 address.
    pub target_protocol_addr: [u8; 4],
}

impl Repr {
    /// Reads an Ethernet/IPv4 ARP packet; any other shape is `EINVAL`.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Self> {
        if !p.is_ethernet_ipv4() {
            return Err(Error::inval(0, "ARP packet is not Ethernet/IPv4"));
        }
        let b = p.buffer.as_ref();
        Ok(Repr {
            operation: p.operation(),
            sender_hardware_addr: array(b, 8),
            sender_protocol_addr: array(b, 14),
            target_hardware_addr: array(b, 18),
            target_protocol_addr: array(b, 24),
        })
    }

    /// Bytes [`Repr::emit`] writes.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        ETH_IPV4_LEN
    }

    /// Writes the packet at the start of `buf`.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let b = emit_room(buf, ETH_IPV4_LEN)?;
        put_be16(b, 0, ARPHRD_ETHER);
        put_be16(b, 2, ethernet::ETH_P_IP);
        b[4] = 6;
        b[5] = 4;
        put_be16(b, 6, self.operation);
        b[8..14].copy_from_slice(&self.sender_hardware_addr);
        b[14..18].copy_from_slice(&self.sender_protocol_addr);
        b[18..24].copy_from_slice(&self.target_hardware_addr);
        b[24..28].copy_from_slice(&self.target_protocol_addr);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errno::EINVAL;

    /// who-has 192.0.2.2 tell 192.0.2.1.
    const REQUEST: [u8; 28] = [
        0x00, 0x01, // htype Ethernet
        0x08, 0x00, // ptype IPv4
        0x06, // hlen
        0x04, // plen
        0x00, 0x01, // oper request
        0x02, 0, 0, 0, 0, 0x01, // sha
        192, 0, 2, 1, // spa
        0, 0, 0, 0, 0, 0, // tha
        192, 0, 2, 2, // tpa
    ];

    #[test]
    fn golden() {
        let p = Packet::new_checked(&REQUEST[..]).unwrap();
        assert!(p.is_ethernet_ipv4());
        assert_eq!(p.operation(), ARPOP_REQUEST);
        assert_eq!(p.sender_hardware_addr(), &[2, 0, 0, 0, 0, 1]);
        assert_eq!(p.sender_protocol_addr(), &[192, 0, 2, 1]);
        assert_eq!(p.target_hardware_addr(), &[0; 6]);
        assert_eq!(p.target_protocol_addr(), &[192, 0, 2, 2]);
        let r = Repr::parse(&p).unwrap();
        let mut out = [0u8; 28];
        r.emit(&mut out).unwrap();
        assert_eq!(out, REQUEST);
    }

    #[test]
    fn other_shapes_view_but_no_repr() {
        // htype 6 (IEEE 802), hlen 6, ptype IPv6 with plen 16 would need 52 bytes.
        let mut b = REQUEST;
        b[2..4].copy_from_slice(&[0x86, 0xdd]);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(!p.is_ethernet_ipv4());
        assert_eq!(Repr::parse(&p).unwrap_err().errno, EINVAL);
        b[5] = 16;
        assert_eq!(Packet::new_checked(&b[..]).unwrap_err().offset, 28);
    }

    #[test]
    fn setters() {
        let mut b = REQUEST;
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.set_operation(ARPOP_REPLY);
        p.set_target_hardware_addr(&[2, 0, 0, 0, 0, 2]).unwrap();
        p.set_sender_protocol_addr(&[10, 0, 0, 1]).unwrap();
        p.set_target_protocol_addr(&[10, 0, 0, 2]).unwrap();
        p.set_sender_hardware_addr(&[1; 6]).unwrap();
        assert!(p.set_sender_protocol_addr(&[1, 2, 3]).is_err());
        assert_eq!(&b[6..8], &[0, 2]);
        assert_eq!(
            &b[8..],
            &[1, 1, 1, 1, 1, 1, 10, 0, 0, 1, 2, 0, 0, 0, 0, 2, 10, 0, 0, 2]
        );
    }

    #[test]
    fn truncated() {
        for n in 0..REQUEST.len() {
            assert!(Packet::new_checked(&REQUEST[..n]).is_err(), "{n}");
        }
    }
}
