//! ICMPv6 (RFC 4443) and Neighbor Discovery solicitations/advertisements (RFC 4861 §4.3–4.4)
//! with their link-layer address options.
//!
//! ≈ `struct icmp6hdr`, `struct nd_msg` and `parse_icmpv6` in `net/openvswitch/flow.c`.

use super::IPPROTO_ICMPV6;
use super::{array, be16, be32, checksum, emit_room, ethernet, need, put_be16, put_be32};
use crate::{Error, Result};

/// Length of the ICMPv6 header: type, code, checksum and 4 type-specific bytes.
pub const HEADER_LEN: usize = 8;
/// Length of an NS/NA message before options (`struct nd_msg`).
pub const ND_LEN: usize = 24;
/// Echo request.
pub const ICMPV6_ECHO_REQUEST: u8 = 128;
/// Echo reply.
pub const ICMPV6_ECHO_REPLY: u8 = 129;
/// `NDISC_ROUTER_SOLICITATION`.
pub const NDISC_ROUTER_SOLICITATION: u8 = 133;
/// `NDISC_ROUTER_ADVERTISEMENT`.
pub const NDISC_ROUTER_ADVERTISEMENT: u8 = 134;
/// `NDISC_NEIGHBOUR_SOLICITATION`.
pub const NDISC_NEIGHBOUR_SOLICITATION: u8 = 135;
/// `NDISC_NEIGHBOUR_ADVERTISEMENT`.
pub const NDISC_NEIGHBOUR_ADVERTISEMENT: u8 = 136;
/// ND option: source link-layer address.
pub const ND_OPT_SOURCE_LL_ADDR: u8 = 1;
/// ND option: target link-layer address.
pub const ND_OPT_TARGET_LL_ADDR: u8 = 2;
/// NA flag: sender is a router.
pub const ND_NA_ROUTER: u32 = 0x8000_0000;
/// NA flag: sent in response to a solicitation.
pub const ND_NA_SOLICITED: u32 = 0x4000_0000;
/// NA flag: override an existing cache entry.
pub const ND_NA_OVERRIDE: u32 = 0x2000_0000;

/// A read/write view of an ICMPv6 message.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` after checking it holds the 8-byte header (`icmp6hdr_ok`).
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        need(buffer.as_ref(), HEADER_LEN, "truncated ICMPv6 header")?;
        Ok(Packet { buffer })
    }

    /// Returns the wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Message type.
    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    /// Message code.
    #[inline]
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// Checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    /// The 4 type-specific header bytes (NA flags, echo identifier and sequence, MTU…).
    #[inline]
    pub fn rest_of_header(&self) -> u32 {
        be32(self.buffer.as_ref(), 4)
    }

    /// The data after the 8-byte header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// True for the messages the flow key parses ND fields from: NS or NA with code 0.
    #[inline]
    pub fn is_nd(&self) -> bool {
        self.code() == 0
            && matches!(
                self.msg_type(),
                NDISC_NEIGHBOUR_SOLICITATION | NDISC_NEIGHBOUR_ADVERTISEMENT
            )
    }

    /// True if the checksum over the whole buffer and the IPv6 pseudo-header is correct.
    #[inline]
    pub fn verify_checksum(&self, src: &[u8; 16], dst: &[u8; 16]) -> bool {
        checksum::verify_v6(src, dst, IPPROTO_ICMPV6, self.buffer.as_ref())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the type (no checksum update).
    #[inline]
    pub fn set_msg_type(&mut self, t: u8) {
        self.buffer.as_mut()[0] = t;
    }

    /// Sets the code (no checksum update).
    #[inline]
    pub fn set_code(&mut self, c: u8) {
        self.buffer.as_mut()[1] = c;
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, c: u16) {
        put_be16(self.buffer.as_mut(), 2, c);
    }

    /// Sets the 4 type-specific header bytes.
    #[inline]
    pub fn set_rest_of_header(&mut self, r: u32) {
        put_be32(self.buffer.as_mut(), 4, r);
    }

    /// Computes the checksum over the whole buffer with the IPv6 pseudo-header.
    pub fn fill_checksum(&mut self, src: &[u8; 16], dst: &[u8; 16]) -> Result<()> {
        let len = u32::try_from(self.buffer.as_ref().len())
            .map_err(|_| Error::inval(0, "ICMPv6 message longer than 2^32"))?;
        self.set_checksum(0);
        let ph = checksum::pseudo_header_v6(src, dst, IPPROTO_ICMPV6, len);
        let c = checksum::transport_checksum(ph, self.buffer.as_ref());
        self.set_checksum(c);
        Ok(())
    }
}

/// An owned ICMPv6 header; the checksum is filled by the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Repr {
    /// Message type.
    pub msg_type: u8,
    /// Message code.
    pub code: u8,
    /// The 4 type-specific header bytes.
    pub rest_of_header: u32,
}

impl Repr {
    /// Reads a checked message's header.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Self> {
        Ok(Repr {
            msg_type: p.msg_type(),
            code: p.code(),
            rest_of_header: p.rest_of_header(),
        })
    }

    /// Bytes [`Repr::emit`] writes.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header at the start of `buf` with a zero checksum.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let b = emit_room(buf, HEADER_LEN)?;
        b[0] = self.msg_type;
        b[1] = self.code;
        put_be16(b, 2, 0);
        put_be32(b, 4, self.rest_of_header);
        Ok(())
    }
}

/// A read view of a Neighbor Solicitation or Advertisement (ICMPv6 header included).
#[derive(Debug, Clone)]
pub struct NdPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> NdPacket<T> {
    /// Wraps `buffer` after checking it is an NS or NA (any code) of at least 24 bytes.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        need(b, ND_LEN, "truncated neighbor discovery message")?;
        if !matches!(
            b[0],
            NDISC_NEIGHBOUR_SOLICITATION | NDISC_NEIGHBOUR_ADVERTISEMENT
        ) {
            return Err(Error::inval(
                0,
                "not a neighbor solicitation or advertisement",
            ));
        }
        Ok(NdPacket { buffer })
    }

    /// Returns the wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Message type: NS (135) or NA (136).
    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    /// The flags word (`ND_NA_*` for an NA; reserved in an NS).
    #[inline]
    pub fn flags(&self) -> u32 {
        be32(self.buffer.as_ref(), 4)
    }

    /// Target address.
    #[inline]
    pub fn target(&self) -> [u8; 16] {
        array(self.buffer.as_ref(), 8)
    }

    /// Iterates over the options after the target.
    #[inline]
    pub fn option_iter(&self) -> NdOptionIter<'_> {
        NdOptionIter {
            rest: &self.buffer.as_ref()[ND_LEN..],
            offset: ND_LEN,
        }
    }

    /// The ND fields of the flow key (`OVS_KEY_ATTR_ND`): target, source and target
    /// link-layer addresses, zero where absent, exactly as the kernel's `parse_icmpv6`.
    ///
    /// Options are walked while 8 bytes remain; a zero or overlong length stops the walk
    /// keeping what was found. Only 8-byte SLL/TLL options count. A second SLL (or TLL) after
    /// a non-zero first one invalidates the message: all three fields are zeroed.
    pub fn key_fields(&self) -> ([u8; 16], ethernet::Addr, ethernet::Addr) {
        let target = self.target();
        let (mut sll, mut tll) = ([0u8; 6], [0u8; 6]);
        let mut rest = &self.buffer.as_ref()[ND_LEN..];
        while rest.len() >= 8 {
            let opt_len = usize::from(rest[1]) * 8;
            if opt_len == 0 || opt_len > rest.len() {
                break;
            }
            if opt_len == 8 {
                let slot = match rest[0] {
                    ND_OPT_SOURCE_LL_ADDR => Some(&mut sll),
                    ND_OPT_TARGET_LL_ADDR => Some(&mut tll),
                    _ => None,
                };
                if let Some(slot) = slot {
                    if *slot != [0; 6] {
                        return ([0; 16], [0; 6], [0; 6]);
                    }
                    *slot = array(rest, 2);
                }
            }
            rest = &rest[opt_len..];
        }
        (target, sll, tll)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> NdPacket<T> {
    /// Sets the target address (no checksum update).
    #[inline]
    pub fn set_target(&mut self, t: [u8; 16]) {
        self.buffer.as_mut()[8..24].copy_from_slice(&t);
    }

    /// Sets the target address and updates the ICMPv6 checksum incrementally.
    #[inline]
    pub fn rewrite_target(&mut self, t: [u8; 16]) {
        let old = self.target();
        self.set_target(t);
        let b = self.buffer.as_mut();
        let c = checksum::update_addr_v6(be16(b, 2), &old, &t);
        put_be16(b, 2, c);
    }
}

/// One ND option: type and the bytes after the type and length bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NdOpt<'a> {
    /// Option type.
    pub kind: u8,
    /// Option data (length × 8 − 2 bytes).
    pub data: &'a [u8],
}

/// Iterates over ND options (RFC 4861 §4.6); a zero length or one past the end yields `EINVAL`
/// and ends the walk, as do 1–7 trailing bytes.
#[derive(Debug, Clone)]
pub struct NdOptionIter<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> Iterator for NdOptionIter<'a> {
    type Item = Result<NdOpt<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let len = self.rest.get(1).map_or(0, |&l| usize::from(l) * 8);
        if len == 0 || len > self.rest.len() {
            self.rest = &[];
            return Some(Err(Error::inval(self.offset, "bad ND option length")));
        }
        let opt = NdOpt {
            kind: self.rest[0],
            data: &self.rest[2..len],
        };
        self.rest = &self.rest[len..];
        self.offset += len;
        Some(Ok(opt))
    }
}

/// An owned NS or NA with its optional link-layer address options; the checksum is filled by
/// [`Packet::fill_checksum`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NdRepr {
    /// NS (135) or NA (136).
    pub msg_type: u8,
    /// Flags word (`ND_NA_*`; 0 for an NS).
    pub flags: u32,
    /// Target address.
    pub target: [u8; 16],
    /// Source link-layer address option.
    pub source_ll: Option<ethernet::Addr>,
    /// Target link-layer address option.
    pub target_ll: Option<ethernet::Addr>,
}

impl NdRepr {
    /// Reads a checked NS/NA; options other than one SLL and one TLL are `EINVAL`, so the
    /// representation re-emits to the same bytes.
    pub fn parse<T: AsRef<[u8]>>(p: &NdPacket<T>) -> Result<Self> {
        let b = p.buffer.as_ref();
        if b[1] != 0 {
            return Err(Error::inval(1, "ND code is not 0"));
        }
        let mut r = NdRepr {
            msg_type: p.msg_type(),
            flags: p.flags(),
            target: p.target(),
            ..NdRepr::default()
        };
        let mut at = ND_LEN;
        for opt in p.option_iter() {
            let opt = opt?;
            let slot = match opt.kind {
                ND_OPT_SOURCE_LL_ADDR if r.source_ll.is_none() => &mut r.source_ll,
                ND_OPT_TARGET_LL_ADDR if r.target_ll.is_none() => &mut r.target_ll,
                _ => return Err(Error::inval(at, "unexpected ND option")),
            };
            let Ok(addr) = <[u8; 6]>::try_from(opt.data) else {
                return Err(Error::inval(at, "ND link-layer option is not 8 bytes"));
            };
            *slot = Some(addr);
            at += 8;
        }
        Ok(r)
    }

    /// Bytes [`NdRepr::emit`] writes: 24 plus 8 per option.
    #[inline]
    pub fn buffer_len(&self) -> usize {
        ND_LEN + 8 * (usize::from(self.source_ll.is_some()) + usize::from(self.target_ll.is_some()))
    }

    /// Writes the message (source option first) with a zero checksum.
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let b = emit_room(buf, self.buffer_len())?;
        b[0] = self.msg_type;
        b[1] = 0;
        put_be16(b, 2, 0);
        put_be32(b, 4, self.flags);
        b[8..24].copy_from_slice(&self.target);
        let mut at = ND_LEN;
        for (kind, addr) in [
            (ND_OPT_SOURCE_LL_ADDR, self.source_ll),
            (ND_OPT_TARGET_LL_ADDR, self.target_ll),
        ] {
            if let Some(a) = addr {
                b[at] = kind;
                b[at + 1] = 1;
                b[at + 2..at + 8].copy_from_slice(&a);
                at += 8;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FE80_1: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const FE80_2: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    /// ff02::1:ff00:2, the solicited-node group of fe80::2.
    const SNMA: [u8; 16] = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 2];

    /// NS from fe80::1 to ff02::1:ff00:2 for fe80::2, with a source link-layer address option.
    const NS: [u8; 32] = [
        0x87, // type 135 neighbor solicitation
        0x00, // code
        0x7a, 0x97, // checksum
        0x00, 0x00, 0x00, 0x00, // reserved
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, // target fe80::2
        0x01, // option: source link-layer address
        0x01, // length 1 (8 bytes)
        0x02, 0, 0, 0, 0, 0x01, // 02:00:00:00:00:01
    ];

    /// NA from fe80::2 to fe80::1, flags solicited+override, with a target link-layer address.
    const NA: [u8; 32] = [
        0x88, // type 136 neighbor advertisement
        0x00, // code
        0x18, 0x1a, // checksum
        0x60, 0x00, 0x00, 0x00, // flags S, O
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, // target fe80::2
        0x02, // option: target link-layer address
        0x01, // length 1
        0x02, 0, 0, 0, 0, 0x02, // 02:00:00:00:00:02
    ];

    #[test]
    fn golden_ns() {
        let p = Packet::new_checked(&NS[..]).unwrap();
        assert_eq!((p.msg_type(), p.code(), p.checksum()), (135, 0, 0x7a97));
        assert!(p.is_nd());
        assert!(p.verify_checksum(&FE80_1, &SNMA));
        let nd = NdPacket::new_checked(&NS[..]).unwrap();
        assert_eq!((nd.flags(), nd.target()), (0, FE80_2));
        assert_eq!(nd.key_fields(), (FE80_2, [2, 0, 0, 0, 0, 1], [0; 6]));
        let r = NdRepr::parse(&nd).unwrap();
        assert_eq!(r.source_ll, Some([2, 0, 0, 0, 0, 1]));
        let mut out = [0u8; 32];
        r.emit(&mut out).unwrap();
        Packet::new_checked(&mut out[..])
            .unwrap()
            .fill_checksum(&FE80_1, &SNMA)
            .unwrap();
        assert_eq!(out, NS);
    }

    #[test]
    fn golden_na() {
        let nd = NdPacket::new_checked(&NA[..]).unwrap();
        assert_eq!(nd.flags(), ND_NA_SOLICITED | ND_NA_OVERRIDE);
        assert_eq!(nd.key_fields(), (FE80_2, [0; 6], [2, 0, 0, 0, 0, 2]));
        let r = NdRepr::parse(&nd).unwrap();
        assert_eq!(r.buffer_len(), 32);
        let mut out = [0u8; 32];
        r.emit(&mut out).unwrap();
        let mut p = Packet::new_checked(&mut out[..]).unwrap();
        p.fill_checksum(&FE80_2, &FE80_1).unwrap();
        assert_eq!(out, NA);
        let p = Packet::new_checked(&NA[..]).unwrap();
        assert_eq!(Repr::parse(&p).unwrap().rest_of_header, 0x6000_0000);
    }

    #[test]
    fn key_fields_kernel_quirks() {
        let mut b = NA.to_vec();
        // A second TLL after a non-zero one: everything zeroed.
        b.extend_from_slice(&[2, 1, 9, 9, 9, 9, 9, 9]);
        let nd = NdPacket::new_checked(&b[..]).unwrap();
        assert_eq!(nd.key_fields(), ([0; 16], [0; 6], [0; 6]));
        // An overlong option stops the walk but keeps what was found before it.
        b.truncate(32);
        b.extend_from_slice(&[1, 2, 1, 1, 1, 1, 1, 1]);
        let nd = NdPacket::new_checked(&b[..]).unwrap();
        assert_eq!(nd.key_fields(), (FE80_2, [0; 6], [2, 0, 0, 0, 0, 2]));
        assert!(NdRepr::parse(&nd).is_err());
        // A 16-byte SLL option is skipped, not stored; 7 trailing bytes are ignored.
        let mut c = NS[..24].to_vec();
        c.extend_from_slice(&[1, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        c.extend_from_slice(&[1, 1, 5, 5, 5, 5, 5]);
        let nd = NdPacket::new_checked(&c[..]).unwrap();
        assert_eq!(nd.key_fields(), (FE80_2, [0; 6], [0; 6]));
        let opts: Vec<_> = nd.option_iter().collect();
        assert_eq!(opts.len(), 2);
        assert!(opts[1].is_err());
    }

    #[test]
    fn target_rewrite_keeps_checksum() {
        let mut b = NS;
        let mut nd = NdPacket::new_checked(&mut b[..]).unwrap();
        nd.rewrite_target([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
        assert!(Packet::new_checked(&b[..])
            .unwrap()
            .verify_checksum(&FE80_1, &SNMA));
    }

    #[test]
    fn malformed() {
        for n in 0..HEADER_LEN {
            assert_eq!(Packet::new_checked(&NS[..n]).unwrap_err().offset, n);
        }
        for n in 0..ND_LEN {
            assert!(NdPacket::new_checked(&NS[..n]).is_err());
        }
        let mut b = NS;
        b[0] = ICMPV6_ECHO_REQUEST;
        assert_eq!(NdPacket::new_checked(&b[..]).unwrap_err().offset, 0);
        assert!(!Packet::new_checked(&b[..]).unwrap().is_nd());
        let mut b = NS;
        b[1] = 1;
        assert!(!Packet::new_checked(&b[..]).unwrap().is_nd());
        assert_eq!(
            NdRepr::parse(&NdPacket::new_checked(&b[..]).unwrap())
                .unwrap_err()
                .offset,
            1
        );
        // A zero-length option is an error for the iterator at its offset.
        let mut b = NS;
        b[25] = 0;
        let nd = NdPacket::new_checked(&b[..]).unwrap();
        assert_eq!(nd.option_iter().next().unwrap().unwrap_err().offset, 24);
    }
}
