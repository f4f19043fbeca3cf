//! Zero-copy packet header views (read and in-place write) and checksums, in the style of
//! smoltcp's `wire` module: a `Packet<T: AsRef<[u8]>>` view checked once, then accessors.
//!
//! ≈ the header parsing of `net/openvswitch/flow.c` (`key_extract`) and the checksum fix-ups of
//! `net/openvswitch/actions.c` in Linux; `lib/packets.h` and `lib/csum.c` in OVS.
//!
//! Every view has one fallible constructor, `new_checked`, which validates every length the
//! getters rely on; after it the getters read fixed offsets and cannot fail or panic. Setters
//! exist when the buffer is `AsMut<[u8]>` and write in place. The `rewrite_*` setters also fix
//! the checksums that cover the field (RFC 1624 incremental update), as the kernel's
//! `set_ipv4`/`set_tcp`/… actions do. Owned `Repr`s (`parse`/`buffer_len`/`emit`) exist for the
//! fixed headers where building a packet from values is useful (tests, `push_vlan`, `push_mpls`).
//!
//! Errors are [`crate::Error`] with `EINVAL` and the byte offset, within the viewed buffer, of
//! the field that failed validation.

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod icmp;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod mpls;
pub mod sctp;
pub mod tcp;
pub mod udp;
pub mod vlan;

use crate::{Error, Result};

/// IANA protocol number of ICMP (IPv4).
pub const IPPROTO_ICMP: u8 = 1;
/// IANA protocol number of TCP.
pub const IPPROTO_TCP: u8 = 6;
/// IANA protocol number of UDP.
pub const IPPROTO_UDP: u8 = 17;
/// IANA protocol number of SCTP.
pub const IPPROTO_SCTP: u8 = 132;
/// IANA protocol number of ICMPv6.
pub const IPPROTO_ICMPV6: u8 = 58;

/// Fragment class of an IP packet, as the flow key's `OVS_FRAG_TYPE_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Frag {
    /// Not a fragment (`OVS_FRAG_TYPE_NONE`).
    #[default]
    None,
    /// The fragment at offset 0, which carries the transport header (`OVS_FRAG_TYPE_FIRST`).
    First,
    /// A fragment at a non-zero offset, with no transport header (`OVS_FRAG_TYPE_LATER`).
    Later,
}

/// Reads a big-endian `u16` at `at`; callers have validated `at + 2 <= b.len()`.
#[inline(always)]
pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Reads a big-endian `u32` at `at`; callers have validated `at + 4 <= b.len()`.
#[inline(always)]
pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Writes a big-endian `u16` at `at`; callers have validated the length.
#[inline(always)]
pub(crate) fn put_be16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Writes a big-endian `u32` at `at`; callers have validated the length.
#[inline(always)]
pub(crate) fn put_be32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// Copies `N` bytes at `at` into an array; callers have validated the length.
#[inline(always)]
pub(crate) fn array<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&b[at..at + N]);
    out
}

/// `EINVAL` unless `buf` holds at least `need` bytes; the error points at the buffer's end.
#[inline]
pub(crate) fn need(buf: &[u8], need: usize, msg: &'static str) -> Result<()> {
    if buf.len() < need {
        Err(Error::inval(buf.len(), msg))
    } else {
        Ok(())
    }
}

/// The mutable prefix of `buf` a `Repr::emit` writes to, or `EINVAL` if it is too short.
#[inline]
pub(crate) fn emit_room(buf: &mut [u8], len: usize) -> Result<&mut [u8]> {
    let have = buf.len();
    buf.get_mut(..len)
        .ok_or(Error::inval(have, "buffer too short to emit header"))
}
