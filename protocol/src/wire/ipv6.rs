//! IPv6 header (RFC 8200), the extension header walk (hop-by-hop, routing, fragment,
//! destination options, AH) and address rewrites with transport checksum fix-ups.
//!
//! ≈ `struct ipv6hdr`, `parse_ipv6hdr` in `net/openvswitch/flow.c`, `ipv6_skip_exthdr` in
//! `net/ipv6/exthdrs_core.c`, and `set_ipv6`/`update_ipv6_checksum` in
//! `net/openvswitch/actions.c`.

use super::{array, be16, be32, checksum, emit_room, put_be16, put_be32, Frag};
use super::{IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP};
use crate::{Error, Result};

/// Length of the fixed header.
pub const HEADER_LEN: usize = 40;
/// `NEXTHDR_HOP`: hop-by-hop options.
pub const NEXTHDR_HOP: u8 = 0;
/// `NEXTHDR_ROUTING`: routing header.
pub const NEXTHDR_ROUTING: u8 = 43;
/// `NEXTHDR_FRAGMENT`: fragment header.
pub const NEXTHDR_FRAGMENT: u8 = 44;
/// `NEXTHDR_AUTH`: authentication header (RFC 4302), whose length unit is 4 bytes.
pub const NEXTHDR_AUTH: u8 = 51;
/// `NEXTHDR_NONE`: no next header.
pub const NEXTHDR_NONE: u8 = 59;
/// `NEXTHDR_DEST`: destination options.
pub const NEXTHDR_DEST: u8 = 60;
/// Most extension headers walked before giving up (`IP6_MAX_EXT_HDRS_CNT` in Linux ≥ 6.x),
/// bounding the work a hostile chain can cause.
pub const MAX_EXT_HEADERS: usize = 12;
/// Flow label bits of the first word.
pub const FLOW_LABEL_MASK: u32 = 0x000f_ffff;

/// True for the extension headers the walk skips (`ipv6_ext_hdr` minus "no next header").
#[inline]
pub fn is_ext_header(next_header: u8) -> bool {
    matches!(
        next_header,
        NEXTHDR_HOP | NEXTHDR_ROUTING | NEXTHDR_FRAGMENT | NEXTHDR_AUTH | NEXTHDR_DEST
    )
}

/// A read/write view of an IPv6 header and its payload.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` after checking the fixed header and that the payload length fits the
    /// buffer (trailing bytes, e.g. Ethernet padding, are allowed and ignored). Jumbograms
    /// (payload length 0 with a jumbo option) are not supported: their payload reads empty.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_checked_header(buffer)?;
        if HEADER_LEN + usize::from(p.payload_len()) > p.buffer.as_ref().len() {
            return Err(Error::inval(4, "IPv6 payload length beyond the packet"));
        }
        Ok(p)
    }

    /// Wraps `buffer` checking only that the 40-byte header is there, as the kernel's
    /// `parse_ipv6hdr` does; [`Packet::payload`] is clamped to the buffer.
    #[inline]
    pub fn new_checked_header(buffer: T) -> Result<Self> {
        super::need(buffer.as_ref(), HEADER_LEN, "truncated IPv6 header")?;
        Ok(Packet { buffer })
    }

    /// Returns the wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Version field (6 for IPv6; not checked by the view).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    /// Traffic class (DSCP and ECN), as the flow key's `ipv6_tclass`.
    #[inline]
    pub fn traffic_class(&self) -> u8 {
        (be16(self.buffer.as_ref(), 0) >> 4) as u8
    }

    /// Flow label (20 bits).
    #[inline]
    pub fn flow_label(&self) -> u32 {
        be32(self.buffer.as_ref(), 0) & FLOW_LABEL_MASK
    }

    /// Payload length (extension headers included).
    #[inline]
    pub fn payload_len(&self) -> u16 {
        be16(self.buffer.as_ref(), 4)
    }

    /// Next header of the fixed header.
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[6]
    }

    /// Hop limit.
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[7]
    }

    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> [u8; 16] {
        array(self.buffer.as_ref(), 8)
    }

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> [u8; 16] {
        array(self.buffer.as_ref(), 24)
    }

    #[inline]
    fn end(&self) -> usize {
        let len = self.buffer.as_ref().len();
        (HEADER_LEN + usize::from(self.payload_len())).min(len)
    }

    /// The payload after the fixed header, up to the payload length, clamped to the buffer.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.end()]
    }

    /// Iterates over the extension headers of the payload; offsets are from the start of the
    /// IPv6 header.
    #[inline]
    pub fn ext_header_iter(&self) -> ExtHeaderIter<'_> {
        ExtHeaderIter::new(
            &self.buffer.as_ref()[..self.end()],
            HEADER_LEN,
            self.next_header(),
        )
    }

    /// Walks the extension headers of the payload (see [`walk_ext_headers`]).
    #[inline]
    pub fn ext_headers(&self) -> Result<ExtHeaders> {
        walk_ext_headers(
            &self.buffer.as_ref()[..self.end()],
            HEADER_LEN,
            self.next_header(),
        )
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets version 6, traffic class and flow label (the whole first word).
    #[inline]
    pub fn set_version_tc_label(&mut self, traffic_class: u8, flow_label: u32) {
        let w = (6 << 28) | (u32::from(traffic_class) << 20) | (flow_label & FLOW_LABEL_MASK);
        put_be32(self.buffer.as_mut(), 0, w);
    }

    /// Sets the traffic class, keeping version and flow label.
    #[inline]
    pub fn set_traffic_class(&mut self, tc: u8) {
        let w = (be32(self.buffer.as_ref(), 0) & 0xf00f_ffff) | (u32::from(tc) << 20);
        put_be32(self.buffer.as_mut(), 0, w);
    }

    /// Sets the flow label (low 20 bits of `label`), keeping version and traffic class.
    #[inline]
    pub fn set_flow_label(&mut self, label: u32) {
        let w = (be32(self.buffer.as_ref(), 0) & !FLOW_LABEL_MASK) | (label & FLOW_LABEL_MASK);
        put_be32(self.buffer.as_mut(), 0, w);
    }

    /// Sets the payload length.
    #[inline]
    pub fn set_payload_len(&mut self, len: u16) {
        put_be16(self.buffer.as_mut(), 4, len);
    }

    /// Sets the next header.
    #[inline]
    pub fn set_next_header(&mut self, nh: u8) {
        self.buffer.as_mut()[6] = nh;
    }

    /// Sets the hop limit.
    #[inline]
    pub fn set_hop_limit(&mut self, h: u8) {
        self.buffer.as_mut()[7] = h;
    }

    /// Sets the source address (no checksum update).
    #[inline]
    pub fn set_src_addr(&mut self, a: [u8; 16]) {
        self.buffer.as_mut()[8..24].copy_from_slice(&a);
    }

    /// Sets the destination address (no checksum update).
    #[inline]
    pub fn set_dst_addr(&mut self, a: [u8; 16]) {
        self.buffer.as_mut()[24..40].copy_from_slice(&a);
    }

    /// The payload, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = self.end();
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    /// Sets the source address and updates the TCP, UDP or ICMPv6 checksum found after the
    /// extension headers.
    #[inline]
    pub fn rewrite_src_addr(&mut self, a: [u8; 16]) {
        let old = self.src_addr();
        self.set_src_addr(a);
        self.fix_l4(&old, &a, false);
    }

    /// Sets the destination address and updates the transport checksum, unless a routing
    /// header with segments left is present: the pseudo-header then uses the final
    /// destination, not this one (RFC 8200 §8.1), as the kernel's `set_ipv6` also reasons.
    #[inline]
    pub fn rewrite_dst_addr(&mut self, a: [u8; 16]) {
        let old = self.dst_addr();
        self.set_dst_addr(a);
        self.fix_l4(&old, &a, true);
    }

    fn fix_l4(&mut self, old: &[u8; 16], new: &[u8; 16], is_dst: bool) {
        let Ok(ext) = self.ext_headers() else {
            return;
        };
        if is_dst && ext.active_routing {
            return;
        }
        let end = self.end();
        let Some(l4) = self.buffer.as_mut().get_mut(ext.l4_offset..end) else {
            return;
        };
        let (at, min, udp) = match ext.next_header {
            IPPROTO_TCP => (16, super::tcp::HEADER_LEN, false),
            IPPROTO_UDP => (6, super::udp::HEADER_LEN, true),
            IPPROTO_ICMPV6 => (2, super::icmpv6::HEADER_LEN, false),
            _ => return,
        };
        if l4.len() < min {
            return;
        }
        let check = be16(l4, at);
        if udp && check == 0 {
            // Over IPv6 a zero UDP checksum is invalid anyway; the kernel leaves it as is.
            return;
        }
        let c = checksum::update_addr_v6(check, old, new);
        put_be16(l4, at, if udp { checksum::mangle_zero(c) } else { c });
    }
}

/// The fragment header's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FragHeader {
    /// Next header of the fragmented part.
    pub next_header: u8,
    /// Fragment offset in 8-byte units.
    pub offset: u16,
    /// More-fragments flag.
    pub more: bool,
    /// Identification (0 if the header is cut off before it).
    pub ident: u32,
    /// The raw offset/flags word, reserved bits included.
    pub word: u16,
}

impl FragHeader {
    /// The fragment class the kernel derives from the raw word: any non-zero word is a
    /// fragment, later if the offset is non-zero. An "atomic fragment" (offset 0, M 0) is
    /// therefore not a fragment at all.
    #[inline]
    pub fn frag(&self) -> Frag {
        if self.word & !7 != 0 {
            Frag::Later
        } else if self.word != 0 {
            Frag::First
        } else {
            Frag::None
        }
    }
}

/// One extension header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtHeader<'a> {
    /// Its type (`NEXTHDR_*`).
    pub kind: u8,
    /// The next header it names.
    pub next_header: u8,
    /// Its offset in the walked buffer.
    pub offset: usize,
    /// Its length from its length byte (8 for a fragment header).
    pub len: usize,
    /// Its bytes, clamped to the buffer (shorter than `len` if the buffer ends inside it).
    pub bytes: &'a [u8],
    /// The parsed fields, for a fragment header.
    pub fragment: Option<FragHeader>,
}

impl ExtHeader<'_> {
    /// Segments left, for a routing header with at least 4 bytes.
    #[inline]
    pub fn segments_left(&self) -> Option<u8> {
        if self.kind == NEXTHDR_ROUTING {
            self.bytes.get(3).copied()
        } else {
            None
        }
    }
}

/// Iterates over a chain of extension headers the way `ipv6_skip_exthdr` skips them.
///
/// Each header needs only its first 2 bytes (4 for a fragment header) in the buffer; its
/// declared length may run past the end, in which case the walk ends at the next header.
/// A fragment header with a non-zero offset ends the walk *at* the fragment header: the rest
/// is not parsable, and [`ExtHeaderIter::next_header`] stays `NEXTHDR_FRAGMENT`, which is the
/// protocol the kernel's flow key reports for later fragments. `NEXTHDR_NONE` ends the walk.
/// A header cut off before its length byte, or a 13th header, is `EINVAL`.
#[derive(Debug, Clone)]
pub struct ExtHeaderIter<'a> {
    buf: &'a [u8],
    offset: usize,
    next_header: u8,
    count: usize,
    done: bool,
}

impl<'a> ExtHeaderIter<'a> {
    /// Starts a walk over `buf` at `offset`, where a header of type `next_header` begins.
    #[inline]
    pub fn new(buf: &'a [u8], offset: usize, next_header: u8) -> Self {
        ExtHeaderIter {
            buf,
            offset,
            next_header,
            count: 0,
            done: false,
        }
    }

    /// The header type where the walk stands: after exhaustion, the upper-layer protocol.
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.next_header
    }

    /// The offset where the walk stands: after exhaustion, the upper-layer header (which may
    /// lie beyond the buffer if the last extension header was cut off).
    #[inline]
    pub fn offset(&self) -> usize {
        self.offset
    }

    fn fail(&mut self, msg: &'static str) -> Option<Result<ExtHeader<'a>>> {
        self.done = true;
        Some(Err(Error::inval(self.offset, msg)))
    }
}

impl<'a> Iterator for ExtHeaderIter<'a> {
    type Item = Result<ExtHeader<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || !is_ext_header(self.next_header) {
            return None;
        }
        if self.count >= MAX_EXT_HEADERS {
            return self.fail("too many IPv6 extension headers");
        }
        self.count += 1;
        let kind = self.next_header;
        let rest = self.buf.get(self.offset..).unwrap_or(&[]);
        let (Some(&nh), Some(&hdrlen)) = (rest.first(), rest.get(1)) else {
            return self.fail("truncated IPv6 extension header");
        };
        let mut fragment = None;
        let len = match kind {
            NEXTHDR_FRAGMENT => {
                let Some(w) = rest.get(2..4) else {
                    return self.fail("truncated IPv6 fragment header");
                };
                let word = u16::from_be_bytes([w[0], w[1]]);
                let ident = rest
                    .get(4..8)
                    .map_or(0, |i| u32::from_be_bytes([i[0], i[1], i[2], i[3]]));
                fragment = Some(FragHeader {
                    next_header: nh,
                    offset: word >> 3,
                    more: word & 1 != 0,
                    ident,
                    word,
                });
                8
            }
            NEXTHDR_AUTH => (usize::from(hdrlen) + 2) * 4,
            _ => (usize::from(hdrlen) + 1) * 8,
        };
        let hdr = ExtHeader {
            kind,
            next_header: nh,
            offset: self.offset,
            len,
            bytes: &rest[..len.min(rest.len())],
            fragment,
        };
        if fragment.is_some_and(|f| f.word & !7 != 0) {
            // A later fragment: nothing after it can be parsed; stay on the fragment header.
            self.done = true;
        } else {
            self.next_header = nh;
            self.offset += len;
        }
        Some(Ok(hdr))
    }
}

/// What the extension header walk found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ExtHeaders {
    /// The upper-layer protocol (`NEXTHDR_FRAGMENT` for a later fragment, `NEXTHDR_NONE` for
    /// none): the flow key's `ipv6_proto`.
    pub next_header: u8,
    /// Offset of the upper-layer header (may be beyond the buffer if the last extension
    /// header was cut off; the transport view then fails).
    pub l4_offset: usize,
    /// Fragment class from the last fragment header (`Frag::None` without one).
    pub frag: Frag,
    /// The last fragment header seen.
    pub frag_header: Option<FragHeader>,
    /// A routing header with segments left ≠ 0 was seen.
    pub active_routing: bool,
    /// Number of extension headers walked.
    pub count: usize,
}

/// Walks the extension headers in `buf` from `offset` (where a header of type `next_header`
/// starts) to the upper-layer header. See [`ExtHeaderIter`] for the rules; errors are those of
/// the iterator. To reproduce the kernel on a packet whose walk fails, iterate instead: the
/// kernel still classifies the fragment from headers seen before the failure.
pub fn walk_ext_headers(buf: &[u8], offset: usize, next_header: u8) -> Result<ExtHeaders> {
    let mut it = ExtHeaderIter::new(buf, offset, next_header);
    let mut out = ExtHeaders::default();
    for h in it.by_ref() {
        let h = h?;
        out.count += 1;
        if let Some(f) = h.fragment {
            out.frag = f.frag();
            out.frag_header = Some(f);
        }
        if h.segments_left().is_some_and(|s| s != 0) {
            out.active_routing = true;
        }
    }
    out.next_header = it.next_header();
    out.l4_offset = it.offset();
    Ok(out)
}

/// An owned IPv6 fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Repr {
    /// Traffic class.
    pub traffic_class: u8,
    /// Flow label (20 bits).
    pub flow_label: u32,
    /// Payload length.
    pub payload_len: u16,
    /// Next header.
    pub next_header: u8,
    /// Hop limit.
    pub hop_limit: u8,
    /// Source address.
    pub src_addr: [u8; 16],
    /// Destination address.
    pub dst_addr: [u8; 16],
}

impl Repr {
    /// Reads a checked packet's fixed header; a version other than 6 is `EINVAL`.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Self> {
        if p.version() != 6 {
            return Err(Error::inval(0, "IPv6 version is not 6"));
        }
        Ok(Repr {
            traffic_class: p.traffic_class(),
            flow_label: p.flow_label(),
            payload_len: p.payload_len(),
            next_header: p.next_header(),
            hop_limit: p.hop_limit(),
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
        })
    }

    /// Bytes [`Repr::emit`] writes.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the fixed header at the start of `buf`; a flow label above 20 bits is `EINVAL`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        if self.flow_label > FLOW_LABEL_MASK {
            return Err(Error::inval(1, "IPv6 flow label above 20 bits"));
        }
        let b = emit_room(buf, HEADER_LEN)?;
        let w = (6 << 28) | (u32::from(self.traffic_class) << 20) | self.flow_label;
        put_be32(b, 0, w);
        put_be16(b, 4, self.payload_len);
        b[6] = self.next_header;
        b[7] = self.hop_limit;
        b[8..24].copy_from_slice(&self.src_addr);
        b[24..40].copy_from_slice(&self.dst_addr);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
