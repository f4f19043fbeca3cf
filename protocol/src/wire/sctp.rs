//! SCTP common header (RFC 9260 §3.1) and its CRC32c checksum.
//!
//! ≈ `struct sctphdr`, `sctphdr_ok` in `net/openvswitch/flow.c`; `set_sctp` in
//! `net/openvswitch/actions.c`; `sctp_compute_cksum` in `include/net/sctp/checksum.h`.
//!
//! The CRC32c is transmitted least significant byte first (RFC 9260 appendix A), unlike every
//! other field: [`Packet::checksum`] returns the CRC value itself.

use super::{be16, be32, checksum, emit_room, need, put_be16, put_be32};
use crate::Result;

/// Length of the common header.
pub const HEADER_LEN: usize = 12;

/// A read/write view of an SCTP packet (common header and chunks).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` after checking it holds the common header.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        need(buffer.as_ref(), HEADER_LEN, "truncated SCTP header")?;
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

    /// Verification tag.
    #[inline]
    pub fn verification_tag(&self) -> u32 {
        be32(self.buffer.as_ref(), 4)
    }

    /// The CRC32c in the checksum field (read little-endian).
    #[inline]
    pub fn checksum(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_le_bytes([b[8], b[9], b[10], b[11]])
    }

    /// The chunks after the common header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// CRC32c of the whole buffer with the checksum field read as zero.
    #[inline]
    pub fn compute_checksum(&self) -> u32 {
        let b = self.buffer.as_ref();
        let crc = checksum::crc32c_update(!0, &b[..8]);
        let crc = checksum::crc32c_update(crc, &[0; 4]);
        !checksum::crc32c_update(crc, &b[HEADER_LEN..])
    }

    /// True if the checksum field matches the packet.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        self.compute_checksum() == self.checksum()
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

    /// Sets the verification tag.
    #[inline]
    pub fn set_verification_tag(&mut self, t: u32) {
        put_be32(self.buffer.as_mut(), 4, t);
    }

    /// Sets the checksum field (written little-endian).
    #[inline]
    pub fn set_checksum(&mut self, c: u32) {
        self.buffer.as_mut()[8..12].copy_from_slice(&c.to_le_bytes());
    }

    /// Recomputes the checksum.
    #[inline]
    pub fn fill_checksum(&mut self) {
        let c = self.compute_checksum();
        self.set_checksum(c);
    }

    /// Sets both ports and recomputes the CRC, carrying any error of the old checksum into the
    /// new one (as the kernel's `set_sctp`), so a corrupt packet stays detectably corrupt.
    pub fn rewrite_ports(&mut self, src: u16, dst: u16) {
        let old = self.checksum();
        let old_correct = self.compute_checksum();
        self.set_src_port(src);
        self.set_dst_port(dst);
        let new = self.compute_checksum();
        self.set_checksum(old ^ old_correct ^ new);
    }
}

/// An owned SCTP common header; the checksum is filled by the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Repr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Verification tag.
    pub verification_tag: u32,
}

impl Repr {
    /// Reads a checked packet's common header.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Self> {
        Ok(Repr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            verification_tag: p.verification_tag(),
        })
    }

    /// Bytes [`Repr::emit`] writes.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the common header at the start of `buf` with a zero checksum.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let b = emit_room(buf, HEADER_LEN)?;
        put_be16(b, 0, self.src_port);
        put_be16(b, 2, self.dst_port);
        put_be32(b, 4, self.verification_tag);
        put_be32(b, 8, 0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An SCTP packet with one INIT chunk; CRC32c 0xed30c8ce stored least significant first.
    const INIT: [u8; 32] = [
        0x13, 0x88, // source port 5000
        0x00, 0x07, // destination port 7
        0x01, 0x02, 0x03, 0x04, // verification tag
        0xce, 0xc8, 0x30, 0xed, // checksum (little-endian CRC32c)
        0x01, // chunk type INIT
        0x00, // chunk flags
        0x00, 0x14, // chunk length 20
        0xde, 0xad, 0xbe, 0xef, // initiate tag
        0x00, 0x01, 0x00, 0x00, // a_rwnd 65536
        0x00, 0x0a, // outbound streams 10
        0x00, 0x0a, // inbound streams 10
        0x00, 0x00, 0x00, 0x01, // initial TSN 1
    ];

    #[test]
    fn golden_decode_and_emit() {
        let p = Packet::new_checked(&INIT[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port()), (5000, 7));
        assert_eq!(p.verification_tag(), 0x0102_0304);
        assert_eq!(p.checksum(), 0xed30_c8ce);
        assert!(p.verify_checksum());
        assert_eq!(p.payload(), &INIT[12..]);
        let r = Repr::parse(&p).unwrap();
        let mut out = INIT;
        out[..12].fill(0xaa);
        r.emit(&mut out).unwrap();
        Packet::new_checked(&mut out[..]).unwrap().fill_checksum();
        assert_eq!(out, INIT);
    }

    #[test]
    fn port_rewrite_recomputes_and_carries_errors() {
        let mut b = INIT;
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.rewrite_ports(80, 8080);
        assert!(p.verify_checksum());
        assert_eq!((p.src_port(), p.dst_port()), (80, 8080));
        // A packet with a wrong CRC keeps exactly the same error after the rewrite.
        let mut b = INIT;
        b[8] ^= 0x5a;
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        let err = p.checksum() ^ p.compute_checksum();
        p.rewrite_ports(1, 2);
        assert_eq!(p.checksum() ^ p.compute_checksum(), err);
    }

    #[test]
    fn truncated() {
        for n in 0..HEADER_LEN {
            assert_eq!(Packet::new_checked(&INIT[..n]).unwrap_err().offset, n);
        }
        // A bare common header is a valid view; its CRC covers 12 bytes.
        let p = Packet::new_checked(&INIT[..12]).unwrap();
        assert!(!p.verify_checksum());
    }
}
