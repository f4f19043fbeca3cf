//! UDP header (RFC 768) and its checksum, where 0 means "no checksum" over IPv4.
//!
//! ≈ `struct udphdr`, `udphdr_ok` in `net/openvswitch/flow.c`; `set_udp` in
//! `net/openvswitch/actions.c`.

use super::checksum::{self, mangle_zero};
use super::{be16, emit_room, put_be16, IPPROTO_UDP};
use crate::{Error, Result};

/// Length of the header.
pub const HEADER_LEN: usize = 8;

/// A read/write view of a UDP datagram (header and payload).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` after checking the header and the length field: `8 ≤ length ≤ buffer`.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_checked_header(buffer)?;
        let len = usize::from(p.len());
        if len < HEADER_LEN {
            return Err(Error::inval(4, "UDP length shorter than header"));
        }
        if len > p.buffer.as_ref().len() {
            return Err(Error::inval(4, "UDP length beyond the packet"));
        }
        Ok(p)
    }

    /// Wraps `buffer` checking only that the 8-byte header is there, as the kernel's
    /// `udphdr_ok` does before keying on the ports. [`Packet::payload`] is clamped.
    #[inline]
    pub fn new_checked_header(buffer: T) -> Result<Self> {
        super::need(buffer.as_ref(), HEADER_LEN, "truncated UDP header")?;
        Ok(Packet { buffer })
    }

    /// Returns the wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 0)
    }

    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    /// Length field (header and payload).
    #[inline]
    pub fn len(&self) -> u16 {
        be16(self.buffer.as_ref(), 4)
    }

    /// True if the length field says the datagram has no payload.
    #[inline]
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= HEADER_LEN
    }

    /// Checksum field (0: none was computed).
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), 6)
    }

    #[inline]
    fn end(&self) -> usize {
        usize::from(self.len()).clamp(HEADER_LEN, self.buffer.as_ref().len())
    }

    /// The payload: after the header up to the length field, clamped to the buffer.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.end()]
    }

    /// True if the checksum is correct over the datagram (up to the length field) and the IPv4
    /// pseudo-header, or absent (0).
    #[inline]
    pub fn verify_checksum_v4(&self, src: &[u8; 4], dst: &[u8; 4]) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        checksum::verify_v4(src, dst, IPPROTO_UDP, &self.buffer.as_ref()[..self.end()])
    }

    /// True if the checksum is correct over the datagram and the IPv6 pseudo-header (where it
    /// is mandatory, RFC 8200 §8.1: 0 is wrong).
    #[inline]
    pub fn verify_checksum_v6(&self, src: &[u8; 16], dst: &[u8; 16]) -> bool {
        let d = &self.buffer.as_ref()[..self.end()];
        self.checksum() != 0 && checksum::verify_v6(src, dst, IPPROTO_UDP, d)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the source port (no checksum update).
    #[inline]
    pub fn set_src_port(&mut self, p: u16) {
        put_be16(self.buffer.as_mut(), 0, p);
    }

    /// Sets the destination port (no checksum update).
    #[inline]
    pub fn set_dst_port(&mut self, p: u16) {
        put_be16(self.buffer.as_mut(), 2, p);
    }

    /// Sets the length field.
    #[inline]
    pub fn set_len(&mut self, len: u16) {
        put_be16(self.buffer.as_mut(), 4, len);
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, c: u16) {
        put_be16(self.buffer.as_mut(), 6, c);
    }

    /// Sets the source port, updating a present checksum (an absent one stays 0).
    #[inline]
    pub fn rewrite_src_port(&mut self, p: u16) {
        let old = self.src_port();
        self.set_src_port(p);
        self.fix(old, p);
    }

    /// Sets the destination port, updating a present checksum (an absent one stays 0).
    #[inline]
    pub fn rewrite_dst_port(&mut self, p: u16) {
        let old = self.dst_port();
        self.set_dst_port(p);
        self.fix(old, p);
    }

    #[inline]
    fn fix(&mut self, old: u16, new: u16) {
        let c = self.checksum();
        if c != 0 {
            self.set_checksum(mangle_zero(checksum::update16(c, old, new)));
        }
    }

    /// Computes the checksum over the datagram (up to the length field) with the IPv4
    /// pseudo-header.
    #[inline]
    pub fn fill_checksum_v4(&mut self, src: &[u8; 4], dst: &[u8; 4]) {
        self.set_checksum(0);
        let d = &self.buffer.as_ref()[..self.end()];
        let ph = checksum::pseudo_header_v4(src, dst, IPPROTO_UDP, d.len() as u16);
        let c = mangle_zero(checksum::transport_checksum(ph, d));
        self.set_checksum(c);
    }

    /// Computes the checksum over the datagram with the IPv6 pseudo-header.
    #[inline]
    pub fn fill_checksum_v6(&mut self, src: &[u8; 16], dst: &[u8; 16]) {
        self.set_checksum(0);
        let d = &self.buffer.as_ref()[..self.end()];
        let ph = checksum::pseudo_header_v6(src, dst, IPPROTO_UDP, d.len() as u32);
        let c = mangle_zero(checksum::transport_checksum(ph, d));
        self.set_checksum(c);
    }
}

/// An owned UDP header; the checksum is filled by the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Repr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Payload length (length field minus 8).
    pub payload_len: u16,
}

impl Repr {
    /// Reads a checked datagram's header.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Self> {
        Ok(Repr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            payload_len: p.payload().len() as u16,
        })
    }

    /// Bytes [`Repr::emit`] writes.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header at the start of `buf` with a zero (absent) checksum.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let len = self
            .payload_len
            .checked_add(HEADER_LEN as u16)
            .ok_or(Error::inval(4, "UDP length overflows"))?;
        let b = emit_room(buf, HEADER_LEN)?;
        put_be16(b, 0, self.src_port);
        put_be16(b, 2, self.dst_port);
        put_be16(b, 4, len);
        put_be16(b, 6, 0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: [u8; 4] = [192, 0, 2, 1];
    const DST: [u8; 4] = [198, 51, 100, 2];

    /// A UDP datagram 5353 → 53 with payload "hello", checksummed for SRC → DST.
    const DGRAM: [u8; 13] = [
        0x14, 0xe9, // source port 5353
        0x00, 0x35, // destination port 53
        0x00, 0x0d, // length 13
        0xba, 0xac, // checksum
        b'h', b'e', b'l', b'l', b'o',
    ];

    #[test]
    fn golden_decode_and_emit() {
        let p = Packet::new_checked(&DGRAM[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port(), p.len()), (5353, 53, 13));
        assert_eq!((p.checksum(), p.payload()), (0xbaac, &b"hello"[..]));
        assert!(p.verify_checksum_v4(&SRC, &DST));
        assert!(!p.verify_checksum_v4(&SRC, &[1, 2, 3, 4]));
        let r = Repr::parse(&p).unwrap();
        assert_eq!(r.payload_len, 5);
        let mut out = [0u8; 13];
        r.emit(&mut out).unwrap();
        out[8..].copy_from_slice(b"hello");
        let mut q = Packet::new_checked(&mut out[..]).unwrap();
        q.fill_checksum_v4(&SRC, &DST);
        assert_eq!(out, DGRAM);
    }

    #[test]
    fn zero_checksum_stays_zero() {
        let mut b = DGRAM;
        b[6..8].copy_from_slice(&[0, 0]);
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        assert!(p.verify_checksum_v4(&SRC, &DST));
        p.rewrite_src_port(1234);
        p.rewrite_dst_port(4321);
        assert_eq!(p.checksum(), 0);
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        assert!(!p.verify_checksum_v6(&v6, &v6));
    }

    #[test]
    fn rewrite_keeps_valid_and_never_yields_zero() {
        let mut b = DGRAM;
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.rewrite_dst_port(5353);
        assert!(p.verify_checksum_v4(&SRC, &DST));
        // Pick a new source port that makes the true checksum 0: the sum must then be 0xffff,
        // so the header carries 0xffff instead.
        let base = p.checksum();
        let target = checksum::update16(base, p.src_port(), 0);
        // With port 0 the checksum would be `target`; adding `target` to the port turns it into 0.
        let port = target;
        p.rewrite_src_port(0);
        p.rewrite_src_port(port);
        assert_eq!(p.checksum(), 0xffff);
        assert!(p.verify_checksum_v4(&SRC, &DST));
        p.fill_checksum_v4(&SRC, &DST);
        assert_eq!(p.checksum(), 0xffff);
    }

    #[test]
    fn malformed() {
        for n in 0..HEADER_LEN {
            assert_eq!(Packet::new_checked(&DGRAM[..n]).unwrap_err().offset, n);
        }
        let mut b = DGRAM;
        b[4..6].copy_from_slice(&[0, 14]);
        assert_eq!(Packet::new_checked(&b[..]).unwrap_err().offset, 4);
        assert_eq!(
            Packet::new_checked_header(&b[..]).unwrap().payload(),
            b"hello"
        );
        b[4..6].copy_from_slice(&[0, 7]);
        assert!(Packet::new_checked(&b[..]).is_err());
        assert!(Packet::new_checked_header(&b[..])
            .unwrap()
            .payload()
            .is_empty());
        assert!(Repr {
            payload_len: 65535,
            ..Repr::default()
        }
        .emit(&mut [0; 8])
        .is_err());
    }
}
