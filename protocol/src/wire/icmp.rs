//! ICMP for IPv4 (RFC 792): type, code and the checksum over the whole message.
//!
//! ≈ `struct icmphdr` and `icmphdr_ok` in `net/openvswitch/flow.c` (the key takes type and code
//! only).

use super::{be16, be32, checksum, emit_room, need, put_be16, put_be32};
use crate::Result;

/// Length of the header: type, code, checksum and the 4-byte rest of header.
pub const HEADER_LEN: usize = 8;
/// Echo reply.
pub const ICMP_ECHOREPLY: u8 = 0;
/// Destination unreachable.
pub const ICMP_DEST_UNREACH: u8 = 3;
/// Echo request.
pub const ICMP_ECHO: u8 = 8;
/// Time exceeded.
pub const ICMP_TIME_EXCEEDED: u8 = 11;

/// A read/write view of an ICMP message.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` after checking it holds the 8-byte header (`struct icmphdr`).
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        need(buffer.as_ref(), HEADER_LEN, "truncated ICMP header")?;
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

    /// The 4 type-specific header bytes (identifier and sequence for echo).
    #[inline]
    pub fn rest_of_header(&self) -> u32 {
        be32(self.buffer.as_ref(), 4)
    }

    /// Echo identifier (upper half of the rest of header).
    #[inline]
    pub fn echo_ident(&self) -> u16 {
        be16(self.buffer.as_ref(), 4)
    }

    /// Echo sequence number (lower half of the rest of header).
    #[inline]
    pub fn echo_seq(&self) -> u16 {
        be16(self.buffer.as_ref(), 6)
    }

    /// The data after the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// True if the checksum over the whole buffer is correct.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::sum(self.buffer.as_ref()) == 0xffff
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

    /// Sets the rest of header.
    #[inline]
    pub fn set_rest_of_header(&mut self, r: u32) {
        put_be32(self.buffer.as_mut(), 4, r);
    }

    /// Recomputes the checksum over the whole buffer.
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(c);
    }
}

/// An owned ICMP header; the checksum is filled by the view.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Echo request, identifier 0x1234, sequence 1, data "ping".
    const ECHO: [u8; 12] = [
        0x08, // type echo request
        0x00, // code
        0x06, 0xfa, // checksum
        0x12, 0x34, // identifier
        0x00, 0x01, // sequence
        b'p', b'i', b'n', b'g',
    ];

    #[test]
    fn golden_decode_and_emit() {
        let p = Packet::new_checked(&ECHO[..]).unwrap();
        assert_eq!(
            (p.msg_type(), p.code(), p.checksum()),
            (ICMP_ECHO, 0, 0x06fa)
        );
        assert_eq!((p.echo_ident(), p.echo_seq()), (0x1234, 1));
        assert_eq!(p.rest_of_header(), 0x1234_0001);
        assert_eq!(p.payload(), b"ping");
        assert!(p.verify_checksum());
        let r = Repr::parse(&p).unwrap();
        let mut out = [0u8; 12];
        r.emit(&mut out).unwrap();
        out[8..].copy_from_slice(b"ping");
        let mut q = Packet::new_checked(&mut out[..]).unwrap();
        q.fill_checksum();
        assert_eq!(out, ECHO);
    }

    #[test]
    fn setters_and_reply() {
        let mut b = ECHO;
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.set_msg_type(ICMP_ECHOREPLY);
        p.set_code(0);
        p.set_rest_of_header(0x1234_0002);
        assert!(!p.verify_checksum());
        p.fill_checksum();
        assert!(p.verify_checksum());
        assert_eq!(&b[..8], &[0, 0, 0x0e, 0xf9, 0x12, 0x34, 0, 2]);
    }

    #[test]
    fn truncated() {
        for n in 0..HEADER_LEN {
            assert_eq!(Packet::new_checked(&ECHO[..n]).unwrap_err().offset, n);
        }
    }
}
