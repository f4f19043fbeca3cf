//! Netlink attributes (`struct nlattr`): a nom-based iterator and a nest-patching writer.
//!
//! ≈ `lib/netlink.c` (`nl_attr_*`) in OVS and `include/net/netlink.h` in Linux.

use nom::number::complete::le_u16;

use crate::errno::{EINVAL, ERANGE};
use crate::{Error, Result};

/// Size of `struct nlattr`.
pub const NLA_HDRLEN: usize = 4;
/// Bit 15 of `nla_type`: the payload is itself a stream of attributes.
pub const NLA_F_NESTED: u16 = 1 << 15;
/// Bit 14 of `nla_type`: the payload is in network byte order.
pub const NLA_F_NET_BYTEORDER: u16 = 1 << 14;
/// Mask that strips both flag bits from `nla_type`.
pub const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);

/// Rounds `len` up to the 4-byte netlink alignment.
pub const fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// One attribute, borrowed from the buffer it was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nla<'a> {
    /// Attribute type with the flag bits stripped.
    pub kind: u16,
    /// `NLA_F_NESTED` was set.
    pub nested: bool,
    /// `NLA_F_NET_BYTEORDER` was set.
    pub net_byteorder: bool,
    /// The payload, without padding.
    pub payload: &'a [u8],
    /// Offset of the attribute header from the start of the iterated buffer.
    pub offset: usize,
}

impl<'a> Nla<'a> {
    /// Offset of the payload from the start of the iterated buffer.
    pub fn payload_offset(&self) -> usize {
        self.offset + NLA_HDRLEN
    }

    fn exact<const N: usize>(&self, what: &'static str) -> Result<[u8; N]> {
        self.payload.try_into().map_err(|_| {
            Error::new(
                if self.payload.len() < N {
                    ERANGE
                } else {
                    EINVAL
                },
                self.offset,
                what,
            )
        })
    }

    /// The payload as a `u8`; exactly one byte.
    pub fn u8(&self) -> Result<u8> {
        Ok(self.exact::<1>("attribute must be a u8")?[0])
    }
    /// The payload as a host-order `u16`; exactly two bytes.
    pub fn u16(&self) -> Result<u16> {
        Ok(u16::from_ne_bytes(self.exact("attribute must be a u16")?))
    }
    /// The payload as a host-order `u32`; exactly four bytes.
    pub fn u32(&self) -> Result<u32> {
        Ok(u32::from_ne_bytes(self.exact("attribute must be a u32")?))
    }
    /// The payload as a host-order `i32`; exactly four bytes.
    pub fn i32(&self) -> Result<i32> {
        Ok(i32::from_ne_bytes(self.exact("attribute must be an s32")?))
    }
    /// The payload as a host-order `u64`; exactly eight bytes.
    pub fn u64(&self) -> Result<u64> {
        Ok(u64::from_ne_bytes(self.exact("attribute must be a u64")?))
    }
    /// The payload as a network-order `u16`; exactly two bytes.
    pub fn be16(&self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.exact("attribute must be a be16")?))
    }
    /// The payload as a network-order `u32`; exactly four bytes.
    pub fn be32(&self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.exact("attribute must be a be32")?))
    }
    /// The payload as a network-order `u64`; exactly eight bytes.
    pub fn be64(&self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.exact("attribute must be a be64")?))
    }
    /// The payload as a fixed-size array of exactly `N` bytes.
    pub fn array<const N: usize>(&self) -> Result<[u8; N]> {
        self.exact("attribute has the wrong length")
    }
    /// The payload as a NUL-terminated string (`NLA_NUL_STRING`) of at most `max` characters.
    ///
    /// Like the kernel's policy check: the terminating NUL is required, and nothing but NULs may
    /// follow the first one.
    pub fn str(&self, max: usize) -> Result<&'a str> {
        let p = self.payload;
        let Some(nul) = p.iter().position(|&b| b == 0) else {
            return Err(Error::inval(
                self.offset,
                "string attribute is not NUL-terminated",
            ));
        };
        if nul > max {
            return Err(Error::new(
                ERANGE,
                self.offset,
                "string attribute is too long",
            ));
        }
        std::str::from_utf8(&p[..nul])
            .map_err(|_| Error::inval(self.offset, "string attribute is not UTF-8"))
    }
    /// The nested attributes inside this one's payload; offsets stay relative to the outer buffer.
    pub fn nested(&self) -> NlaIter<'a> {
        NlaIter::with_base(self.payload, self.payload_offset())
    }
}

/// Iterates over the attributes of a buffer; yields an error (and then stops) on a malformed one.
///
/// Follows `nla_ok`: a trailing fragment shorter than an attribute header is ignored, as the
/// kernel does; a header whose length is below 4 or beyond the buffer is `EINVAL`.
#[derive(Debug, Clone)]
pub struct NlaIter<'a> {
    rest: &'a [u8],
    offset: usize,
    failed: bool,
}

impl<'a> NlaIter<'a> {
    /// Iterates over `buf`, reporting offsets from its start.
    pub fn new(buf: &'a [u8]) -> Self {
        Self::with_base(buf, 0)
    }
    /// Iterates over `buf`, reporting offsets as `base` + position in `buf`.
    pub fn with_base(buf: &'a [u8], base: usize) -> Self {
        NlaIter {
            rest: buf,
            offset: base,
            failed: false,
        }
    }
}

fn nla_header(input: &[u8]) -> nom::IResult<&[u8], (u16, u16)> {
    let (input, len) = le_u16(input)?;
    let (input, kind) = le_u16(input)?;
    Ok((input, (len, kind)))
}

/// Host byte order: netlink headers are native-endian; every platform we build for is little-endian.
const _: () = assert!(
    cfg!(target_endian = "little"),
    "netlink headers are parsed as little-endian"
);

impl<'a> Iterator for NlaIter<'a> {
    type Item = Result<Nla<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.len() < NLA_HDRLEN {
            return None;
        }
        let Ok((_, (len, kind))) = nla_header(self.rest) else {
            return None;
        };
        let len = usize::from(len);
        if len < NLA_HDRLEN || len > self.rest.len() {
            self.failed = true;
            return Some(Err(Error::inval(
                self.offset,
                "attribute length out of bounds",
            )));
        }
        let nla = Nla {
            kind: kind & NLA_TYPE_MASK,
            nested: kind & NLA_F_NESTED != 0,
            net_byteorder: kind & NLA_F_NET_BYTEORDER != 0,
            payload: &self.rest[NLA_HDRLEN..len],
            offset: self.offset,
        };
        let step = align(len).min(self.rest.len());
        self.rest = &self.rest[step..];
        self.offset += step;
        Some(Ok(nla))
    }
}

/// Parses every attribute of `buf` into a slot table indexed by type, as `nla_parse` does.
///
/// Types above `MAX` are ignored (the OVS families parse non-strictly); a type seen twice keeps
/// the last occurrence, like the kernel's generic parser. Families that must reject duplicates
/// (flow keys) iterate with [`NlaIter`] instead.
pub fn parse_table<'a, const MAX: usize>(
    buf: &'a [u8],
    base: usize,
) -> Result<[Option<Nla<'a>>; MAX]> {
    let mut table = [None; MAX];
    for nla in NlaIter::with_base(buf, base) {
        let nla = nla?;
        if let Some(slot) = table.get_mut(usize::from(nla.kind)) {
            *slot = Some(nla);
        }
    }
    Ok(table)
}

/// Appends attributes to a byte buffer; nests are opened, filled, then their length patched.
///
/// Callers that know the final size (`buffer_len` of a `Repr`) reserve it up front so the whole
/// message is written once without reallocation.
#[derive(Debug)]
pub struct NlaWriter<'b> {
    buf: &'b mut Vec<u8>,
}

/// A nest opened by [`NlaWriter::begin_nested`]; hand it back to [`NlaWriter::end_nested`].
#[derive(Debug)]
#[must_use = "a nest must be closed with end_nested"]
pub struct Nest(usize);

impl<'b> NlaWriter<'b> {
    /// A writer appending to `buf` (which should already be 4-byte aligned).
    pub fn new(buf: &'b mut Vec<u8>) -> Self {
        NlaWriter { buf }
    }
    /// The buffer written so far.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        self.buf
    }
    fn pad(&mut self) {
        let padded = align(self.buf.len());
        self.buf.resize(padded, 0);
    }
    /// Appends one attribute with a raw payload, padded to 4 bytes.
    pub fn put(&mut self, kind: u16, payload: &[u8]) {
        let len = NLA_HDRLEN + payload.len();
        debug_assert!(
            len <= usize::from(u16::MAX),
            "netlink attribute over 64 KiB"
        );
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.pad();
    }
    /// Appends a flag attribute (no payload).
    pub fn put_flag(&mut self, kind: u16) {
        self.put(kind, &[]);
    }
    /// Appends a `u8` attribute.
    pub fn put_u8(&mut self, kind: u16, v: u8) {
        self.put(kind, &[v]);
    }
    /// Appends a host-order `u16` attribute.
    pub fn put_u16(&mut self, kind: u16, v: u16) {
        self.put(kind, &v.to_ne_bytes());
    }
    /// Appends a host-order `u32` attribute.
    pub fn put_u32(&mut self, kind: u16, v: u32) {
        self.put(kind, &v.to_ne_bytes());
    }
    /// Appends a host-order `i32` attribute.
    pub fn put_i32(&mut self, kind: u16, v: i32) {
        self.put(kind, &v.to_ne_bytes());
    }
    /// Appends a host-order `u64` attribute.
    pub fn put_u64(&mut self, kind: u16, v: u64) {
        self.put(kind, &v.to_ne_bytes());
    }
    /// Appends a network-order `u16` attribute.
    pub fn put_be16(&mut self, kind: u16, v: u16) {
        self.put(kind, &v.to_be_bytes());
    }
    /// Appends a network-order `u32` attribute.
    pub fn put_be32(&mut self, kind: u16, v: u32) {
        self.put(kind, &v.to_be_bytes());
    }
    /// Appends a network-order `u64` attribute.
    pub fn put_be64(&mut self, kind: u16, v: u64) {
        self.put(kind, &v.to_be_bytes());
    }
    /// Appends a NUL-terminated string attribute.
    pub fn put_str(&mut self, kind: u16, s: &str) {
        let len = NLA_HDRLEN + s.len() + 1;
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
        self.pad();
    }
    /// Opens a nested attribute (the caller decides whether `kind` carries `NLA_F_NESTED`; the
    /// OVS families never set it).
    pub fn begin_nested(&mut self, kind: u16) -> Nest {
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        Nest(start)
    }
    /// Closes a nest: patches its length to cover everything written since it was opened.
    pub fn end_nested(&mut self, nest: Nest) {
        let len = self.buf.len() - nest.0;
        debug_assert!(len <= usize::from(u16::MAX), "netlink nest over 64 KiB");
        self.buf[nest.0..nest.0 + 2].copy_from_slice(&(len as u16).to_ne_bytes());
    }
    /// Writes a nested attribute whose contents `f` emits.
    pub fn nested(&mut self, kind: u16, f: impl FnOnce(&mut NlaWriter<'_>)) {
        let nest = self.begin_nested(kind);
        f(&mut NlaWriter { buf: self.buf });
        self.end_nested(nest);
    }
}

/// The encoded size of an attribute with a `payload_len`-byte payload, padding included.
pub const fn nla_size(payload_len: usize) -> usize {
    align(NLA_HDRLEN + payload_len)
}

/// Returns `EINVAL` at `offset` if `ok` is false: a compact guard for validation code.
pub fn ensure(ok: bool, offset: usize, msg: &'static str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::new(EINVAL, offset, msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterates_with_alignment_and_flags() {
        // u8 attr type 1 = 7 (padded to 8 bytes), then a nested attr type 2|NESTED holding u32 type 3.
        let buf = [
            5, 0, 1, 0, 7, 0, 0, 0, 12, 0, 2, 0x80, 8, 0, 3, 0, 0xaa, 0xbb, 0xcc, 0xdd,
        ];
        let attrs: Vec<_> = NlaIter::new(&buf).collect::<Result<_>>().unwrap();
        assert_eq!(attrs.len(), 2);
        assert_eq!(
            (attrs[0].kind, attrs[0].u8().unwrap(), attrs[0].offset),
            (1, 7, 0)
        );
        assert!(attrs[1].nested && attrs[1].kind == 2 && attrs[1].offset == 8);
        let inner: Vec<_> = attrs[1].nested().collect::<Result<_>>().unwrap();
        assert_eq!(
            (inner[0].kind, inner[0].u32().unwrap(), inner[0].offset),
            (3, 0xddccbbaa, 12)
        );
    }

    #[test]
    fn rejects_bad_lengths() {
        let short = [3, 0, 1, 0];
        assert_eq!(
            NlaIter::new(&short).next().unwrap().unwrap_err().errno,
            EINVAL
        );
        let long = [9, 0, 1, 0, 0, 0, 0, 0];
        assert_eq!(
            NlaIter::new(&long).next().unwrap().unwrap_err().errno,
            EINVAL
        );
        // A trailing fragment shorter than a header is ignored, as nla_ok does.
        assert!(NlaIter::new(&[1, 2]).next().is_none());
        let nla = NlaIter::new(&[6, 0, 1, 0, 1, 2]).next().unwrap().unwrap();
        assert_eq!(nla.u32().unwrap_err().errno, ERANGE);
        assert_eq!(nla.u8().unwrap_err().errno, EINVAL);
    }

    #[test]
    fn strings_follow_the_nul_string_policy() {
        let mut buf = Vec::new();
        NlaWriter::new(&mut buf).put_str(1, "br0");
        assert_eq!(buf, [8, 0, 1, 0, b'b', b'r', b'0', 0]);
        let nla = NlaIter::new(&buf).next().unwrap().unwrap();
        assert_eq!(nla.str(15).unwrap(), "br0");
        assert_eq!(nla.str(2).unwrap_err().errno, ERANGE);
        let unterminated = [7, 0, 1, 0, b'a', b'b', b'c', 0];
        assert_eq!(
            NlaIter::new(&unterminated)
                .next()
                .unwrap()
                .unwrap()
                .str(15)
                .unwrap_err()
                .errno,
            EINVAL
        );
    }

    #[test]
    fn writer_patches_nest_lengths() {
        let mut buf = Vec::new();
        let mut w = NlaWriter::new(&mut buf);
        w.nested(4, |w| {
            w.put_u16(1, 0x1234);
            w.nested(2, |w| w.put_flag(9));
        });
        assert_eq!(
            buf,
            [20, 0, 4, 0, 6, 0, 1, 0, 0x34, 0x12, 0, 0, 8, 0, 2, 0, 4, 0, 9, 0]
        );
    }

    #[test]
    fn parse_table_keeps_last_and_ignores_unknown() {
        let mut buf = Vec::new();
        let mut w = NlaWriter::new(&mut buf);
        w.put_u32(1, 1);
        w.put_u32(1, 2);
        w.put_u32(40, 3);
        let t = parse_table::<4>(&buf, 0).unwrap();
        assert_eq!(t[1].unwrap().u32().unwrap(), 2);
        assert!(t[2].is_none());
    }
}
