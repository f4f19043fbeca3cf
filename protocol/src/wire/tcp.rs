//! TCP header (RFC 9293): ports, sequence numbers, the 12 flag bits OVS keys on, options, and
//! checksums over the IPv4/IPv6 pseudo-headers.
//!
//! ≈ `struct tcphdr`, `tcphdr_ok` and `TCP_FLAGS_BE16` in `net/openvswitch/flow.c`; `set_tcp`
//! in `net/openvswitch/actions.c`.

use super::{be16, be32, checksum, emit_room, put_be16, put_be32, IPPROTO_TCP};
use crate::{Error, Result};

/// Length of a header without options.
pub const HEADER_LEN: usize = 20;
/// Longest header: data offset 15.
pub const MAX_HEADER_LEN: usize = 60;
/// Longest options area.
pub const MAX_OPTIONS_LEN: usize = MAX_HEADER_LEN - HEADER_LEN;
/// FIN flag.
pub const TCP_FIN: u16 = 0x001;
/// SYN flag.
pub const TCP_SYN: u16 = 0x002;
/// RST flag.
pub const TCP_RST: u16 = 0x004;
/// PSH flag.
pub const TCP_PSH: u16 = 0x008;
/// ACK flag.
pub const TCP_ACK: u16 = 0x010;
/// URG flag.
pub const TCP_URG: u16 = 0x020;
/// ECE flag (RFC 3168).
pub const TCP_ECE: u16 = 0x040;
/// CWR flag (RFC 3168).
pub const TCP_CWR: u16 = 0x080;
/// NS flag (RFC 3540, historic) — the lowest reserved bit, still part of OVS's 12 flag bits.
pub const TCP_NS: u16 = 0x100;
/// The flag bits OVS keys on: the low 12 bits of the offset/flags word (`OVS_KEY_ATTR_TCP_FLAGS`).
pub const TCP_FLAGS_MASK: u16 = 0x0fff;

/// A read/write view of a TCP segment (header and payload).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` after the kernel's `tcphdr_ok` checks: 20 bytes, a data offset ≥ 5, and
    /// the options within the buffer.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::inval(b.len(), "truncated TCP header"));
        }
        let hlen = usize::from(b[12] >> 4) * 4;
        if hlen < HEADER_LEN {
            return Err(Error::inval(12, "TCP data offset below 5"));
        }
        if hlen > b.len() {
            return Err(Error::inval(12, "TCP options beyond the segment"));
        }
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

    /// Sequence number.
    #[inline]
    pub fn seq_number(&self) -> u32 {
        be32(self.buffer.as_ref(), 4)
    }

    /// Acknowledgement number.
    #[inline]
    pub fn ack_number(&self) -> u32 {
        be32(self.buffer.as_ref(), 8)
    }

    /// Header length in bytes (data offset × 4).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[12] >> 4) * 4
    }

    /// The 12 flag bits (`TCP_FIN` … `TCP_NS` and the three reserved bits above them).
    #[inline]
    pub fn flags(&self) -> u16 {
        be16(self.buffer.as_ref(), 12) & TCP_FLAGS_MASK
    }

    /// Receive window.
    #[inline]
    pub fn window(&self) -> u16 {
        be16(self.buffer.as_ref(), 14)
    }

    /// Checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), 16)
    }

    /// Urgent pointer.
    #[inline]
    pub fn urgent(&self) -> u16 {
        be16(self.buffer.as_ref(), 18)
    }

    /// The options area.
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// The data after the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    /// True if the checksum over the whole buffer and the IPv4 pseudo-header is correct.
    #[inline]
    pub fn verify_checksum_v4(&self, src: &[u8; 4], dst: &[u8; 4]) -> bool {
        checksum::verify_v4(src, dst, IPPROTO_TCP, self.buffer.as_ref())
    }

    /// True if the checksum over the whole buffer and the IPv6 pseudo-header is correct.
    #[inline]
    pub fn verify_checksum_v6(&self, src: &[u8; 16], dst: &[u8; 16]) -> bool {
        checksum::verify_v6(src, dst, IPPROTO_TCP, self.buffer.as_ref())
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

    /// Sets the sequence number.
    #[inline]
    pub fn set_seq_number(&mut self, n: u32) {
        put_be32(self.buffer.as_mut(), 4, n);
    }

    /// Sets the acknowledgement number.
    #[inline]
    pub fn set_ack_number(&mut self, n: u32) {
        put_be32(self.buffer.as_mut(), 8, n);
    }

    /// Sets the 12 flag bits, keeping the data offset.
    #[inline]
    pub fn set_flags(&mut self, flags: u16) {
        let w = (be16(self.buffer.as_ref(), 12) & !TCP_FLAGS_MASK) | (flags & TCP_FLAGS_MASK);
        put_be16(self.buffer.as_mut(), 12, w);
    }

    /// Sets the window.
    #[inline]
    pub fn set_window(&mut self, w: u16) {
        put_be16(self.buffer.as_mut(), 14, w);
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, c: u16) {
        put_be16(self.buffer.as_mut(), 16, c);
    }

    /// Sets the urgent pointer.
    #[inline]
    pub fn set_urgent(&mut self, u: u16) {
        put_be16(self.buffer.as_mut(), 18, u);
    }

    /// Sets the source port and updates the checksum incrementally.
    #[inline]
    pub fn rewrite_src_port(&mut self, p: u16) {
        let c = checksum::update16(self.checksum(), self.src_port(), p);
        self.set_src_port(p);
        self.set_checksum(c);
    }

    /// Sets the destination port and updates the checksum incrementally.
    #[inline]
    pub fn rewrite_dst_port(&mut self, p: u16) {
        let c = checksum::update16(self.checksum(), self.dst_port(), p);
        self.set_dst_port(p);
        self.set_checksum(c);
    }

    /// Computes the checksum over the whole buffer with the IPv4 pseudo-header.
    pub fn fill_checksum_v4(&mut self, src: &[u8; 4], dst: &[u8; 4]) -> Result<()> {
        let len = u16::try_from(self.buffer.as_ref().len())
            .map_err(|_| Error::inval(0, "TCP segment longer than 65535"))?;
        self.set_checksum(0);
        let ph = checksum::pseudo_header_v4(src, dst, IPPROTO_TCP, len);
        let c = checksum::transport_checksum(ph, self.buffer.as_ref());
        self.set_checksum(c);
        Ok(())
    }

    /// Computes the checksum over the whole buffer with the IPv6 pseudo-header.
    pub fn fill_checksum_v6(&mut self, src: &[u8; 16], dst: &[u8; 16]) -> Result<()> {
        let len = u32::try_from(self.buffer.as_ref().len())
            .map_err(|_| Error::inval(0, "TCP segment longer than 2^32"))?;
        self.set_checksum(0);
        let ph = checksum::pseudo_header_v6(src, dst, IPPROTO_TCP, len);
        let c = checksum::transport_checksum(ph, self.buffer.as_ref());
        self.set_checksum(c);
        Ok(())
    }
}

/// An owned TCP header (options as raw bytes); the checksum is filled by the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq_number: u32,
    /// Acknowledgement number.
    pub ack_number: u32,
    /// The 12 flag bits.
    pub flags: u16,
    /// Window.
    pub window: u16,
    /// Urgent pointer.
    pub urgent: u16,
    /// Options area, the first `options_len` bytes used.
    pub options: [u8; MAX_OPTIONS_LEN],
    /// Bytes of options: a multiple of 4, at most 40.
    pub options_len: u8,
}

impl Repr {
    /// Reads a checked segment's header.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Self> {
        let opts = p.options();
        let mut options = [0; MAX_OPTIONS_LEN];
        options[..opts.len()].copy_from_slice(opts);
        Ok(Repr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            seq_number: p.seq_number(),
            ack_number: p.ack_number(),
            flags: p.flags(),
            window: p.window(),
            urgent: p.urgent(),
            options,
            options_len: opts.len() as u8,
        })
    }

    /// Header length [`Repr::emit`] writes.
    #[inline]
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + usize::from(self.options_len)
    }

    /// Writes the header at the start of `buf` with a zero checksum (fill it once the payload
    /// is in place with `fill_checksum_v4`/`_v6`).
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let olen = usize::from(self.options_len);
        if olen % 4 != 0 || olen > MAX_OPTIONS_LEN {
            return Err(Error::inval(HEADER_LEN, "TCP options length invalid"));
        }
        let hlen = HEADER_LEN + olen;
        let b = emit_room(buf, hlen)?;
        put_be16(b, 0, self.src_port);
        put_be16(b, 2, self.dst_port);
        put_be32(b, 4, self.seq_number);
        put_be32(b, 8, self.ack_number);
        put_be16(
            b,
            12,
            ((hlen as u16 / 4) << 12) | (self.flags & TCP_FLAGS_MASK),
        );
        put_be16(b, 14, self.window);
        put_be16(b, 16, 0);
        put_be16(b, 18, self.urgent);
        b[HEADER_LEN..hlen].copy_from_slice(&self.options[..olen]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: [u8; 4] = [192, 0, 2, 1];
    const DST: [u8; 4] = [198, 51, 100, 2];

    /// The TCP segment of `ipv4::tests::TCP_PACKET`.
    fn segment() -> [u8; 28] {
        crate::wire::ipv4::tests::TCP_PACKET[24..]
            .try_into()
            .unwrap()
    }

    #[test]
    fn golden_decode_and_emit() {
        let seg = segment();
        let p = Packet::new_checked(&seg[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port()), (49152, 80));
        assert_eq!((p.seq_number(), p.ack_number()), (0x0102_0304, 0));
        assert_eq!((p.header_len(), p.flags()), (24, TCP_SYN));
        assert_eq!((p.window(), p.checksum(), p.urgent()), (64240, 0x27dd, 0));
        assert_eq!(p.options(), &[2, 4, 5, 0xb4]);
        assert_eq!(p.payload(), b"abcd");
        assert!(p.verify_checksum_v4(&SRC, &DST));
        assert!(!p.verify_checksum_v4(&SRC, &[198, 51, 100, 3]));

        let r = Repr::parse(&p).unwrap();
        let mut out = [0u8; 28];
        r.emit(&mut out).unwrap();
        out[24..].copy_from_slice(b"abcd");
        let mut q = Packet::new_checked(&mut out[..]).unwrap();
        q.fill_checksum_v4(&SRC, &DST).unwrap();
        assert_eq!(out, seg);
    }

    #[test]
    fn all_twelve_flag_bits() {
        let mut seg = segment();
        seg[12] = 0x6f; // data offset 6, three reserved bits and NS set
        seg[13] = 0xff;
        let p = Packet::new_checked(&seg[..]).unwrap();
        assert_eq!(p.flags(), 0x0fff);
        let mut p = Packet::new_checked(&mut seg[..]).unwrap();
        p.set_flags(TCP_ACK | TCP_PSH);
        assert_eq!(&seg[12..14], &[0x60, 0x18]);
    }

    #[test]
    fn port_rewrites_keep_checksum_valid() {
        let mut seg = segment();
        let mut p = Packet::new_checked(&mut seg[..]).unwrap();
        p.rewrite_src_port(1);
        p.rewrite_dst_port(65535);
        assert!(p.verify_checksum_v4(&SRC, &DST));
        let c = p.checksum();
        p.fill_checksum_v4(&SRC, &DST).unwrap();
        assert_eq!(c, p.checksum());
    }

    #[test]
    fn malformed() {
        let seg = segment();
        for n in 0..24 {
            assert!(Packet::new_checked(&seg[..n]).is_err(), "{n}");
        }
        for off in 0..5u8 {
            let mut b = seg;
            b[12] = off << 4;
            assert_eq!(Packet::new_checked(&b[..]).unwrap_err().offset, 12);
        }
        let mut b = seg;
        b[12] = 0x80; // 32-byte header in a 28-byte segment
        assert_eq!(Packet::new_checked(&b[..]).unwrap_err().offset, 12);
    }

    #[test]
    fn emit_rejects_bad_options() {
        let mut r = Repr::parse(&Packet::new_checked(&segment()[..]).unwrap()).unwrap();
        r.options_len = 2;
        assert!(r.emit(&mut [0; 60]).is_err());
        r.options_len = 4;
        assert!(r.emit(&mut [0; 23]).is_err());
    }
}
