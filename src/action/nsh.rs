//! NSH (RFC 8300) header layout for `push_nsh`, `pop_nsh` and `set(nsh(...))`.
//!
//! ≈ `include/net/nsh.h` and `net/nsh/nsh.c`. First word: version (2 bits), O and U flags
//! (the key's 2 `flags` bits), TTL (6 bits), length in 4-byte words (6 bits), then the MD type
//! byte and the next-protocol byte; then the service path header (SPI << 8 | SI).

use userdp_protocol::ovs::action::NshPush;

/// Bytes of the base header and service path header.
pub(crate) const BASE_LEN: usize = 8;
/// Largest NSH header (`NSH_HDR_MAX_LEN`): the 6-bit length field counts 4-byte words.
pub(crate) const MAX_LEN: usize = 256;
/// `ETH_P_NSH`.
pub(crate) const ETH_P_NSH: u16 = 0x894f;
/// `ETH_P_TEB`: transparent Ethernet bridging, an Ethernet frame as payload.
pub(crate) const ETH_P_TEB: u16 = 0x6558;
/// `TUN_P_ETHERNET`: next protocol "Ethernet".
pub(crate) const TUN_P_ETHERNET: u8 = 3;

const FLAGS_SHIFT: u16 = 12;
const FLAGS_MASK: u16 = 0x3000;
const TTL_SHIFT: u16 = 6;
const TTL_MASK: u16 = 0x0fc0;
const LEN_MASK: u16 = 0x003f;

/// NSH next protocol → ethertype (`tun_p_to_eth_p`); 0 = unsupported.
pub(crate) fn np_to_ethertype(np: u8) -> u16 {
    match np {
        1 => 0x0800,
        2 => 0x86dd,
        3 => ETH_P_TEB,
        4 => ETH_P_NSH,
        5 => 0x8847,
        _ => 0,
    }
}

/// Ethertype → NSH next protocol (`tun_p_from_eth_p`); 0 = unsupported.
pub(crate) fn ethertype_to_np(t: u16) -> u8 {
    match t {
        0x0800 => 1,
        0x86dd => 2,
        ETH_P_TEB => 3,
        ETH_P_NSH => 4,
        0x8847 => 5,
        _ => 0,
    }
}

/// The flags, TTL and length-in-bytes of a header's first 16 bits.
pub(crate) fn split_word0(w: u16) -> (u8, u8, usize) {
    (
        ((w & FLAGS_MASK) >> FLAGS_SHIFT) as u8,
        ((w & TTL_MASK) >> TTL_SHIFT) as u8,
        usize::from(w & LEN_MASK) * 4,
    )
}

/// The first 16 bits with new flags and TTL, keeping the version and length bits.
pub(crate) fn with_flags_ttl(w: u16, flags: u8, ttl: u8) -> u16 {
    (w & !(FLAGS_MASK | TTL_MASK))
        | ((u16::from(flags) << FLAGS_SHIFT) & FLAGS_MASK)
        | ((u16::from(ttl) << TTL_SHIFT) & TTL_MASK)
}

/// The header `push_nsh` prepends (`nsh_hdr_from_nlattr`); the next-protocol byte is
/// overwritten at push time. `None` when the metadata does not fit (`ENOBUFS`).
pub(crate) fn header(n: &NshPush) -> Option<Vec<u8>> {
    let mut md: Vec<u8> = Vec::new();
    if let Some(c) = n.md1 {
        for w in c {
            md.extend_from_slice(&w.to_be_bytes());
        }
    }
    // As in the kernel, the last metadata attribute decides the length.
    if let Some(m) = &n.md2 {
        md.clone_from(m);
    }
    let len = BASE_LEN + md.len();
    if len > MAX_LEN {
        return None;
    }
    // The 6-bit length wraps for a 256-byte header, as `nsh_set_flags_ttl_len` lets it.
    let w0 = with_flags_ttl(0, n.flags, n.ttl) | ((len / 4) as u16 & LEN_MASK);
    let mut h = Vec::with_capacity(len);
    h.extend_from_slice(&w0.to_be_bytes());
    h.push(n.mdtype);
    h.push(n.np);
    h.extend_from_slice(&((n.spi << 8) | u32::from(n.si)).to_be_bytes());
    h.extend_from_slice(&md);
    Some(h)
}
