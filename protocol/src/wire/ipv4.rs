//! IPv4 header (RFC 791): fields, options, fragmentation, and address/TOS/TTL rewrites with
//! checksum fix-ups.
//!
//! ≈ `struct iphdr`, `check_iphdr` in `net/openvswitch/flow.c`, and `set_ipv4`,
//! `set_ip_addr`, `update_ip_l4_checksum` in `net/openvswitch/actions.c`.

use super::{array, be16, checksum, emit_room, put_be16, Frag, IPPROTO_TCP, IPPROTO_UDP};
use crate::{Error, Result};

/// Length of a header without options.
pub const MIN_HEADER_LEN: usize = 20;
/// Longest header: IHL 15.
pub const MAX_HEADER_LEN: usize = 60;
/// Longest options area.
pub const MAX_OPTIONS_LEN: usize = MAX_HEADER_LEN - MIN_HEADER_LEN;
/// "Don't fragment" flag in the flags/offset word.
pub const IP_DF: u16 = 0x4000;
/// "More fragments" flag in the flags/offset word.
pub const IP_MF: u16 = 0x2000;
/// Fragment offset bits (in 8-byte units) of the flags/offset word.
pub const IP_OFFSET: u16 = 0x1fff;
/// Option type: end of option list.
pub const IPOPT_END: u8 = 0;
/// Option type: no operation (padding).
pub const IPOPT_NOOP: u8 = 1;

/// A read/write view of an IPv4 header and its payload.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` after checking the header and the total length: at least 20 bytes,
    /// IHL ≥ 5, the header within the buffer, and `IHL*4 ≤ total length ≤ buffer length`
    /// (bytes past the total length, e.g. Ethernet padding, are allowed and ignored).
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_checked_header(buffer)?;
        let total = usize::from(p.total_len());
        if total < p.header_len() {
            return Err(Error::inval(2, "IPv4 total length shorter than header"));
        }
        if total > p.buffer.as_ref().len() {
            return Err(Error::inval(2, "IPv4 total length beyond the packet"));
        }
        Ok(p)
    }

    /// Wraps `buffer` checking only what the kernel's `check_iphdr` checks before keying a
    /// packet: 20 bytes, IHL ≥ 5 and the header within the buffer. The total length is not
    /// trusted; [`Packet::payload`] is clamped to the buffer.
    #[inline]
    pub fn new_checked_header(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        if b.len() < MIN_HEADER_LEN {
            return Err(Error::inval(b.len(), "truncated IPv4 header"));
        }
        let hlen = usize::from(b[0] & 0x0f) * 4;
        if hlen < MIN_HEADER_LEN {
            return Err(Error::inval(0, "IPv4 IHL below 5"));
        }
        if hlen > b.len() {
            return Err(Error::inval(0, "IPv4 options beyond the packet"));
        }
        Ok(Packet { buffer })
    }

    /// Returns the wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Version field (4 for IPv4; not checked by the view, as the kernel does not).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    /// Header length in bytes (IHL × 4).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[0] & 0x0f) * 4
    }

    /// The TOS byte: DSCP and ECN, as the flow key's `ipv4_tos`.
    #[inline]
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// Differentiated services code point (upper six bits of TOS).
    #[inline]
    pub fn dscp(&self) -> u8 {
        self.tos() >> 2
    }

    /// Explicit congestion notification (lower two bits of TOS).
    #[inline]
    pub fn ecn(&self) -> u8 {
        self.tos() & 0x03
    }

    /// Total length of header and payload.
    #[inline]
    pub fn total_len(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    /// Identification.
    #[inline]
    pub fn ident(&self) -> u16 {
        be16(self.buffer.as_ref(), 4)
    }

    /// The flags and fragment offset word as on the wire.
    #[inline]
    pub fn frag_word(&self) -> u16 {
        be16(self.buffer.as_ref(), 6)
    }

    /// Don't-fragment flag.
    #[inline]
    pub fn dont_frag(&self) -> bool {
        self.frag_word() & IP_DF != 0
    }

    /// More-fragments flag.
    #[inline]
    pub fn more_frags(&self) -> bool {
        self.frag_word() & IP_MF != 0
    }

    /// Fragment offset in 8-byte units.
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        self.frag_word() & IP_OFFSET
    }

    /// Fragment class for the flow key: later if the offset is non-zero, first if only MF is
    /// set, none otherwise.
    #[inline]
    pub fn frag(&self) -> Frag {
        if self.frag_offset() != 0 {
            Frag::Later
        } else if self.more_frags() {
            Frag::First
        } else {
            Frag::None
        }
    }

    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[8]
    }

    /// Protocol of the payload.
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[9]
    }

    /// Header checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), 10)
    }

    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> [u8; 4] {
        array(self.buffer.as_ref(), 12)
    }

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> [u8; 4] {
        array(self.buffer.as_ref(), 16)
    }

    /// The options area (between the fixed header and IHL × 4).
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[MIN_HEADER_LEN..self.header_len()]
    }

    /// Iterates over the options.
    #[inline]
    pub fn option_iter(&self) -> OptionIter<'_> {
        OptionIter {
            rest: self.options(),
            offset: MIN_HEADER_LEN,
        }
    }

    /// True if the header checksum is correct.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::sum(&self.buffer.as_ref()[..self.header_len()]) == 0xffff
    }

    #[inline]
    fn payload_range(&self) -> (usize, usize) {
        let b = self.buffer.as_ref();
        let hlen = self.header_len();
        let end = usize::from(self.total_len()).clamp(hlen, b.len());
        (hlen, end)
    }

    /// The payload: from IHL × 4 to the total length, clamped to the buffer.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let (start, end) = self.payload_range();
        &self.buffer.as_ref()[start..end]
    }

    /// The sum of this packet's pseudo-header for a transport payload of `len` bytes.
    #[inline]
    pub fn pseudo_header(&self, len: u16) -> u16 {
        checksum::pseudo_header_v4(&self.src_addr(), &self.dst_addr(), self.protocol(), len)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets version and IHL (IHL in 32-bit words). The caller keeps the buffer consistent.
    #[inline]
    pub fn set_version_ihl(&mut self, version: u8, ihl: u8) {
        self.buffer.as_mut()[0] = (version << 4) | (ihl & 0x0f);
    }

    /// Sets the TOS byte.
    #[inline]
    pub fn set_tos(&mut self, tos: u8) {
        self.buffer.as_mut()[1] = tos;
    }

    /// Sets the total length.
    #[inline]
    pub fn set_total_len(&mut self, len: u16) {
        put_be16(self.buffer.as_mut(), 2, len);
    }

    /// Sets the identification.
    #[inline]
    pub fn set_ident(&mut self, id: u16) {
        put_be16(self.buffer.as_mut(), 4, id);
    }

    /// Sets the flags and fragment offset word.
    #[inline]
    pub fn set_frag_word(&mut self, w: u16) {
        put_be16(self.buffer.as_mut(), 6, w);
    }

    /// Sets the TTL.
    #[inline]
    pub fn set_ttl(&mut self, ttl: u8) {
        self.buffer.as_mut()[8] = ttl;
    }

    /// Sets the protocol.
    #[inline]
    pub fn set_protocol(&mut self, p: u8) {
        self.buffer.as_mut()[9] = p;
    }

    /// Sets the header checksum field.
    #[inline]
    pub fn set_checksum(&mut self, c: u16) {
        put_be16(self.buffer.as_mut(), 10, c);
    }

    /// Sets the source address (no checksum update).
    #[inline]
    pub fn set_src_addr(&mut self, a: [u8; 4]) {
        self.buffer.as_mut()[12..16].copy_from_slice(&a);
    }

    /// Sets the destination address (no checksum update).
    #[inline]
    pub fn set_dst_addr(&mut self, a: [u8; 4]) {
        self.buffer.as_mut()[16..20].copy_from_slice(&a);
    }

    /// Recomputes the header checksum from scratch.
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let hlen = self.header_len();
        let c = checksum::checksum(&self.buffer.as_ref()[..hlen]);
        self.set_checksum(c);
    }

    /// The payload, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (start, end) = self.payload_range();
        &mut self.buffer.as_mut()[start..end]
    }

    /// Sets the TOS byte and updates the header checksum incrementally.
    #[inline]
    pub fn rewrite_tos(&mut self, tos: u8) {
        let old = be16(self.buffer.as_ref(), 0);
        self.set_tos(tos);
        let new = be16(self.buffer.as_ref(), 0);
        self.set_checksum(checksum::update16(self.checksum(), old, new));
    }

    /// Sets the TTL and updates the header checksum incrementally.
    #[inline]
    pub fn rewrite_ttl(&mut self, ttl: u8) {
        let old = be16(self.buffer.as_ref(), 8);
        self.set_ttl(ttl);
        let new = be16(self.buffer.as_ref(), 8);
        self.set_checksum(checksum::update16(self.checksum(), old, new));
    }

    /// Sets the source address, updating the header checksum and the TCP or UDP checksum.
    #[inline]
    pub fn rewrite_src_addr(&mut self, a: [u8; 4]) {
        let old = self.src_addr();
        self.set_src_addr(a);
        self.fix_addr_checksums(&old, &a);
    }

    /// Sets the destination address, updating the header checksum and the TCP or UDP checksum.
    #[inline]
    pub fn rewrite_dst_addr(&mut self, a: [u8; 4]) {
        let old = self.dst_addr();
        self.set_dst_addr(a);
        self.fix_addr_checksums(&old, &a);
    }

    /// The header checksum always covers the address; the transport checksum covers it through
    /// the pseudo-header, except in later fragments, which carry no transport header. As
    /// `update_ip_l4_checksum`: a segment too short for its checksum field is left alone, and a
    /// UDP checksum of 0 means "none" and stays 0, while a computed 0 is sent as 0xffff.
    fn fix_addr_checksums(&mut self, old: &[u8; 4], new: &[u8; 4]) {
        let c = checksum::update_addr_v4(self.checksum(), old, new);
        self.set_checksum(c);
        if self.frag_offset() != 0 {
            return;
        }
        let proto = self.protocol();
        let l4 = self.payload_mut();
        match proto {
            IPPROTO_TCP if l4.len() >= super::tcp::HEADER_LEN => {
                let c = checksum::update_addr_v4(be16(l4, 16), old, new);
                put_be16(l4, 16, c);
            }
            IPPROTO_UDP if l4.len() >= super::udp::HEADER_LEN => {
                let check = be16(l4, 6);
                if check != 0 {
                    let c = checksum::update_addr_v4(check, old, new);
                    put_be16(l4, 6, checksum::mangle_zero(c));
                }
            }
            _ => {}
        }
    }
}

/// One IPv4 option: its type and the bytes after the type (and length) byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opt<'a> {
    /// Option type (copied flag, class and number).
    pub kind: u8,
    /// Option data, without type and length bytes; empty for NOP.
    pub data: &'a [u8],
}

/// Iterates over IPv4 options, skipping nothing and stopping at End of Option List. A length
/// byte below 2 or past the options area yields `EINVAL` and ends the walk.
#[derive(Debug, Clone)]
pub struct OptionIter<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> Iterator for OptionIter<'a> {
    type Item = Result<Opt<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&kind, after) = self.rest.split_first()?;
        match kind {
            IPOPT_END => {
                self.rest = &[];
                None
            }
            IPOPT_NOOP => {
                self.rest = after;
                self.offset += 1;
                Some(Ok(Opt { kind, data: &[] }))
            }
            _ => {
                let len = after.first().map_or(0, |&l| usize::from(l));
                if len < 2 || len > self.rest.len() {
                    let at = self.offset;
                    self.rest = &[];
                    return Some(Err(Error::inval(at, "bad IPv4 option length")));
                }
                let data = &self.rest[2..len];
                self.rest = &self.rest[len..];
                self.offset += len;
                Some(Ok(Opt { kind, data }))
            }
        }
    }
}

/// An owned IPv4 header (options included, as raw bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    /// TOS byte (DSCP and ECN).
    pub tos: u8,
    /// Identification.
    pub ident: u16,
    /// Don't-fragment flag.
    pub dont_frag: bool,
    /// More-fragments flag.
    pub more_frags: bool,
    /// Fragment offset in 8-byte units.
    pub frag_offset: u16,
    /// Time to live.
    pub ttl: u8,
    /// Payload protocol.
    pub protocol: u8,
    /// Source address.
    pub src_addr: [u8; 4],
    /// Destination address.
    pub dst_addr: [u8; 4],
    /// Payload length (total length minus header length).
    pub payload_len: u16,
    /// Options area, the first `options_len` bytes used.
    pub options: [u8; MAX_OPTIONS_LEN],
    /// Bytes of options: a multiple of 4, at most 40.
    pub options_len: u8,
}

impl Default for Repr {
    fn default() -> Self {
        Repr {
            tos: 0,
            ident: 0,
            dont_frag: false,
            more_frags: false,
            frag_offset: 0,
            ttl: 64,
            protocol: 0,
            src_addr: [0; 4],
            dst_addr: [0; 4],
            payload_len: 0,
            options: [0; MAX_OPTIONS_LEN],
            options_len: 0,
        }
    }
}

impl Repr {
    /// Reads a checked packet; a version other than 4 or a wrong header checksum is `EINVAL`.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Self> {
        if p.version() != 4 {
            return Err(Error::inval(0, "IPv4 version is not 4"));
        }
        if !p.verify_checksum() {
            return Err(Error::inval(10, "bad IPv4 header checksum"));
        }
        let opts = p.options();
        let mut options = [0; MAX_OPTIONS_LEN];
        options[..opts.len()].copy_from_slice(opts);
        let total = usize::from(p.total_len()).max(p.header_len());
        Ok(Repr {
            tos: p.tos(),
            ident: p.ident(),
            dont_frag: p.dont_frag(),
            more_frags: p.more_frags(),
            frag_offset: p.frag_offset(),
            ttl: p.ttl(),
            protocol: p.protocol(),
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            payload_len: (total - p.header_len()) as u16,
            options,
            options_len: opts.len() as u8,
        })
    }

    /// Header length [`Repr::emit`] writes.
    #[inline]
    pub fn buffer_len(&self) -> usize {
        MIN_HEADER_LEN + usize::from(self.options_len)
    }

    /// Writes the header (with a correct checksum) at the start of `buf`. Fails if the options
    /// length is not a multiple of 4 up to 40, or the total length overflows 16 bits.
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let olen = usize::from(self.options_len);
        if olen % 4 != 0 || olen > MAX_OPTIONS_LEN {
            return Err(Error::inval(MIN_HEADER_LEN, "IPv4 options length invalid"));
        }
        let hlen = MIN_HEADER_LEN + olen;
        let total = u16::try_from(hlen + usize::from(self.payload_len))
            .map_err(|_| Error::inval(2, "IPv4 total length overflows"))?;
        let b = emit_room(buf, hlen)?;
        b[0] = 0x40 | (hlen / 4) as u8;
        b[1] = self.tos;
        put_be16(b, 2, total);
        put_be16(b, 4, self.ident);
        let mut w = self.frag_offset & IP_OFFSET;
        if self.dont_frag {
            w |= IP_DF;
        }
        if self.more_frags {
            w |= IP_MF;
        }
        put_be16(b, 6, w);
        b[8] = self.ttl;
        b[9] = self.protocol;
        put_be16(b, 10, 0);
        b[12..16].copy_from_slice(&self.src_addr);
        b[16..20].copy_from_slice(&self.dst_addr);
        b[20..hlen].copy_from_slice(&self.options[..olen]);
        let c = checksum::checksum(&b[..hlen]);
        put_be16(b, 10, c);
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::errno::EINVAL;

    /// IPv4 (with a Router Alert option) carrying a TCP SYN with an MSS option and 4 data bytes.
    pub(crate) const TCP_PACKET: [u8; 52] = [
        0x46, // version 4, IHL 6 (24 bytes)
        0xb8, // TOS: DSCP 46 (EF), ECN 0
        0x00, 0x34, // total length 52
        0x1c, 0x46, // identification
        0x40, 0x00, // flags DF, offset 0
        0x40, // TTL 64
        0x06, // protocol TCP
        0x9c, 0x8a, // header checksum
        192, 0, 2, 1, // source
        198, 51, 100, 2, // destination
        0x94, 0x04, 0x00, 0x00, // option: Router Alert (RFC 2113), value 0
        // TCP
        0xc0, 0x00, // source port 49152
        0x00, 0x50, // destination port 80
        0x01, 0x02, 0x03, 0x04, // sequence number
        0x00, 0x00, 0x00, 0x00, // acknowledgement number
        0x60, // data offset 6 (24 bytes), reserved 0
        0x02, // flags SYN
        0xfa, 0xf0, // window 64240
        0x27, 0xdd, // checksum
        0x00, 0x00, // urgent pointer
        0x02, 0x04, 0x05, 0xb4, // option: MSS 1460
        b'a', b'b', b'c', b'd', // data
    ];

    #[test]
    fn golden_decode_and_emit() {
        let p = Packet::new_checked(&TCP_PACKET[..]).unwrap();
        assert_eq!((p.version(), p.header_len()), (4, 24));
        assert_eq!((p.tos(), p.dscp(), p.ecn()), (0xb8, 46, 0));
        assert_eq!((p.total_len(), p.ident()), (52, 0x1c46));
        assert!(p.dont_frag() && !p.more_frags());
        assert_eq!((p.frag_offset(), p.frag()), (0, Frag::None));
        assert_eq!((p.ttl(), p.protocol(), p.checksum()), (64, 6, 0x9c8a));
        assert_eq!(p.src_addr(), [192, 0, 2, 1]);
        assert_eq!(p.dst_addr(), [198, 51, 100, 2]);
        assert_eq!(p.options(), &[0x94, 4, 0, 0]);
        let opts: Vec<_> = p.option_iter().collect::<Result<_>>().unwrap();
        assert_eq!(
            opts,
            [Opt {
                kind: 0x94,
                data: &[0, 0]
            }]
        );
        assert!(p.verify_checksum());
        assert_eq!(p.payload(), &TCP_PACKET[24..]);

        let r = Repr::parse(&p).unwrap();
        assert_eq!((r.payload_len, r.options_len), (28, 4));
        assert_eq!(r.buffer_len(), 24);
        let mut out = [0u8; 24];
        r.emit(&mut out).unwrap();
        assert_eq!(out, TCP_PACKET[..24]);
    }

    #[test]
    fn padding_after_total_length_is_ignored() {
        let mut b = TCP_PACKET.to_vec();
        b.extend_from_slice(&[0; 6]);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.payload().len(), 28);
    }

    #[test]
    fn fragments() {
        let mut b = TCP_PACKET;
        b[6..8].copy_from_slice(&[0x20, 0x00]); // MF, offset 0
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(
            (p.more_frags(), p.dont_frag(), p.frag()),
            (true, false, Frag::First)
        );
        b[6..8].copy_from_slice(&[0x00, 0xb9]); // offset 185 × 8 = 1480, last fragment
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.frag_offset(), p.frag()), (185, Frag::Later));
        b[6..8].copy_from_slice(&[0x3f, 0xff]); // MF and the largest offset
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.frag_offset(), p.frag()), (0x1fff, Frag::Later));
    }

    #[test]
    fn malformed() {
        // Truncated below 20 bytes.
        for n in 0..MIN_HEADER_LEN {
            let e = Packet::new_checked(&TCP_PACKET[..n]).unwrap_err();
            assert_eq!((e.errno, e.offset), (EINVAL, n));
        }
        // Options cut off: IHL 6 needs 24 bytes.
        assert!(Packet::new_checked_header(&TCP_PACKET[..23]).is_err());
        for ihl in 0..5u8 {
            let mut b = TCP_PACKET;
            b[0] = 0x40 | ihl;
            let e = Packet::new_checked(&b[..]).unwrap_err();
            assert_eq!((e.errno, e.offset, e.msg), (EINVAL, 0, "IPv4 IHL below 5"));
        }
        // IHL 15 with a 52-byte buffer: the header would run to 60 bytes.
        let mut b = TCP_PACKET;
        b[0] = 0x4f;
        assert!(Packet::new_checked_header(&b[..]).is_err());
        // Total length beyond the buffer: strict fails, header-only clamps the payload.
        let mut b = TCP_PACKET;
        b[2..4].copy_from_slice(&[0x05, 0xdc]);
        assert_eq!(Packet::new_checked(&b[..]).unwrap_err().offset, 2);
        let p = Packet::new_checked_header(&b[..]).unwrap();
        assert_eq!(p.payload().len(), 28);
        // Total length below the header length.
        b[2..4].copy_from_slice(&[0x00, 0x10]);
        assert!(Packet::new_checked(&b[..]).is_err());
        assert_eq!(
            Packet::new_checked_header(&b[..]).unwrap().payload(),
            &[] as &[u8]
        );
        // Version 6 in an IPv4 view: the view allows it, the Repr does not.
        let mut b = TCP_PACKET;
        b[0] = 0x66;
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(Repr::parse(&p).unwrap_err().offset, 0);
        // A broken checksum is visible to the Repr only.
        let mut b = TCP_PACKET;
        b[11] ^= 1;
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(!p.verify_checksum());
        assert_eq!(Repr::parse(&p).unwrap_err().offset, 10);
    }

    #[test]
    fn option_walk() {
        // NOP, Timestamp (len 8), NOP, END, garbage after END.
        let mut b = TCP_PACKET[..20].to_vec();
        b[0] = 0x48;
        b.extend_from_slice(&[1, 0x44, 8, 5, 0, 0, 0, 1, 1, 0, 0xff, 0xff]);
        let p = Packet::new_checked_header(&b[..]).unwrap();
        let opts: Vec<_> = p.option_iter().collect::<Result<_>>().unwrap();
        assert_eq!(
            opts,
            [
                Opt { kind: 1, data: &[] },
                Opt {
                    kind: 0x44,
                    data: &[5, 0, 0, 0, 1, 1]
                }
            ]
        );
        // Length 1 and length past the end are errors at the option's offset.
        b[21..23].copy_from_slice(&[0x44, 1]);
        let e = p_err(&b);
        assert_eq!(e.offset, 21);
        b[22] = 12;
        assert_eq!(p_err(&b).offset, 21);
        // A lone type byte at the end has no length byte.
        b[20..32].copy_from_slice(&[1; 12]);
        b[31] = 0x83;
        assert_eq!(p_err(&b).offset, 31);
    }

    fn p_err(b: &[u8]) -> Error {
        let p = Packet::new_checked_header(b).unwrap();
        p.option_iter().find_map(|o| o.err()).unwrap()
    }

    #[test]
    fn rewrites_fix_checksums() {
        let mut b = TCP_PACKET;
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.rewrite_src_addr([10, 1, 2, 3]);
        p.rewrite_dst_addr([172, 16, 255, 254]);
        p.rewrite_ttl(7);
        p.rewrite_tos(0x03);
        let incremental_ip = p.checksum();
        p.fill_checksum();
        assert_eq!(incremental_ip, p.checksum());
        let tcp = super::super::tcp::Packet::new_checked(&b[24..]).unwrap();
        assert!(tcp.verify_checksum_v4(&[10, 1, 2, 3], &[172, 16, 255, 254]));
    }

    #[test]
    fn later_fragment_transport_untouched() {
        let mut b = TCP_PACKET;
        b[6..8].copy_from_slice(&[0x00, 0x10]);
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.fill_checksum();
        p.rewrite_src_addr([10, 0, 0, 1]);
        assert!(p.verify_checksum());
        assert_eq!(&b[40..42], &[0x27, 0xdd]);
    }

    #[test]
    fn emit_rejects_bad_options() {
        let r = Repr {
            options_len: 3,
            ..Repr::default()
        };
        assert!(r.emit(&mut [0; 60]).is_err());
        let r = Repr {
            payload_len: 65535,
            ..Repr::default()
        };
        assert!(r.emit(&mut [0; 60]).is_err());
        assert!(Repr::default().emit(&mut [0; 19]).is_err());
    }
}
