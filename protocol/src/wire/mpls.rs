//! MPLS label stack entries (RFC 3032).
//!
//! ≈ the MPLS branch of `key_extract` in `net/openvswitch/flow.c` and `set_mpls`/`push_mpls`
//! in `net/openvswitch/actions.c`.

use super::{be32, emit_room, need, put_be32};
use crate::{Error, Result};

/// Length of one label stack entry.
pub const HEADER_LEN: usize = 4;
/// Label bits of an LSE.
pub const MPLS_LS_LABEL_MASK: u32 = 0xffff_f000;
/// Shift of the label.
pub const MPLS_LS_LABEL_SHIFT: u32 = 12;
/// Traffic class bits.
pub const MPLS_LS_TC_MASK: u32 = 0x0000_0e00;
/// Shift of the traffic class.
pub const MPLS_LS_TC_SHIFT: u32 = 9;
/// Bottom-of-stack bit.
pub const MPLS_LS_S_MASK: u32 = 0x0000_0100;
/// TTL bits.
pub const MPLS_LS_TTL_MASK: u32 = 0x0000_00ff;
/// How many LSEs the flow key holds (`MPLS_LABEL_DEPTH`).
pub const MPLS_LABEL_DEPTH: usize = 3;

/// A read/write view of one label stack entry.
#[derive(Debug, Clone)]
pub struct Lse<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Lse<T> {
    /// Wraps `buffer` after checking it holds one LSE.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        need(
            buffer.as_ref(),
            HEADER_LEN,
            "truncated MPLS label stack entry",
        )?;
        Ok(Lse { buffer })
    }

    /// Returns the wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The whole entry as a host-order word (`OVS_KEY_ATTR_MPLS` carries it big-endian).
    #[inline]
    pub fn value(&self) -> u32 {
        be32(self.buffer.as_ref(), 0)
    }

    /// Label (20 bits).
    #[inline]
    pub fn label(&self) -> u32 {
        (self.value() & MPLS_LS_LABEL_MASK) >> MPLS_LS_LABEL_SHIFT
    }

    /// Traffic class (3 bits).
    #[inline]
    pub fn tc(&self) -> u8 {
        ((self.value() & MPLS_LS_TC_MASK) >> MPLS_LS_TC_SHIFT) as u8
    }

    /// Bottom-of-stack flag.
    #[inline]
    pub fn bos(&self) -> bool {
        self.value() & MPLS_LS_S_MASK != 0
    }

    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        (self.value() & MPLS_LS_TTL_MASK) as u8
    }

    /// Everything after this entry.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Lse<T> {
    /// Sets the whole entry.
    #[inline]
    pub fn set_value(&mut self, v: u32) {
        put_be32(self.buffer.as_mut(), 0, v);
    }

    /// Sets the TTL, keeping the other fields.
    #[inline]
    pub fn set_ttl(&mut self, ttl: u8) {
        self.set_value((self.value() & !MPLS_LS_TTL_MASK) | u32::from(ttl));
    }

    /// Sets the label (20 bits), keeping the other fields.
    #[inline]
    pub fn set_label(&mut self, label: u32) {
        let v = (self.value() & !MPLS_LS_LABEL_MASK)
            | ((label << MPLS_LS_LABEL_SHIFT) & MPLS_LS_LABEL_MASK);
        self.set_value(v);
    }
}

/// An owned label stack entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Repr {
    /// Label (20 bits).
    pub label: u32,
    /// Traffic class (3 bits).
    pub tc: u8,
    /// Bottom of stack.
    pub bos: bool,
    /// Time to live.
    pub ttl: u8,
}

impl Repr {
    /// Reads a checked entry.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(l: &Lse<T>) -> Result<Self> {
        Ok(Repr {
            label: l.label(),
            tc: l.tc(),
            bos: l.bos(),
            ttl: l.ttl(),
        })
    }

    /// The entry as a host-order word; `EINVAL` if the label or TC is out of range.
    #[inline]
    pub fn value(&self) -> Result<u32> {
        if self.label > 0xf_ffff || self.tc > 7 {
            return Err(Error::inval(0, "MPLS label or TC out of range"));
        }
        Ok((self.label << MPLS_LS_LABEL_SHIFT)
            | (u32::from(self.tc) << MPLS_LS_TC_SHIFT)
            | if self.bos { MPLS_LS_S_MASK } else { 0 }
            | u32::from(self.ttl))
    }

    /// Bytes [`Repr::emit`] writes.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the entry at the start of `buf`.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let v = self.value()?;
        put_be32(emit_room(buf, HEADER_LEN)?, 0, v);
        Ok(())
    }
}

/// A label stack as the flow key sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Stack {
    /// The first [`MPLS_LABEL_DEPTH`] entries (host-order words), zero past `count`.
    pub lses: [u32; MPLS_LABEL_DEPTH],
    /// Entries stored in `lses` (1–3; 0 only for an empty buffer).
    pub count: usize,
    /// True if an entry with the bottom-of-stack bit was reached; false if the buffer ended
    /// first (the kernel then keeps the entries read but leaves the label count mask at 0).
    pub complete: bool,
    /// Offset just past the last entry read: the inner network header when `complete`.
    pub l3_offset: usize,
}

/// Walks the label stack at the start of `buf` until the bottom-of-stack bit, storing the
/// first three entries. Never fails: a truncated stack is reported through `complete`.
pub fn parse_stack(buf: &[u8]) -> Stack {
    let mut st = Stack::default();
    for (i, lse) in buf.chunks_exact(HEADER_LEN).enumerate() {
        let v = u32::from_be_bytes([lse[0], lse[1], lse[2], lse[3]]);
        if let Some(slot) = st.lses.get_mut(i) {
            *slot = v;
            st.count = i + 1;
        }
        st.l3_offset = (i + 1) * HEADER_LEN;
        if v & MPLS_LS_S_MASK != 0 {
            st.complete = true;
            break;
        }
    }
    st
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two labels: 100 (TC 5, TTL 64) then 200 (bottom of stack, TTL 63), then IPv4.
    const STACK: [u8; 9] = [
        0x00, 0x06, 0x4a, 0x40, // label 100, TC 5, S 0, TTL 64
        0x00, 0x0c, 0x81, 0x3f, // label 200, TC 0, S 1, TTL 63
        0x45, // IPv4
    ];

    #[test]
    fn golden_decode_and_emit() {
        let l = Lse::new_checked(&STACK[..]).unwrap();
        assert_eq!((l.label(), l.tc(), l.bos(), l.ttl()), (100, 5, false, 64));
        assert_eq!(l.value(), 0x0006_4a40);
        let l2 = Lse::new_checked(l.payload()).unwrap();
        assert_eq!(
            (l2.label(), l2.tc(), l2.bos(), l2.ttl()),
            (200, 0, true, 63)
        );
        let mut out = [0u8; 8];
        Repr::parse(&l).unwrap().emit(&mut out[..4]).unwrap();
        Repr::parse(&l2).unwrap().emit(&mut out[4..]).unwrap();
        assert_eq!(out, STACK[..8]);
    }

    #[test]
    fn setters() {
        let mut b = [0x00, 0x06, 0x4a, 0x40];
        let mut l = Lse::new_checked(&mut b[..]).unwrap();
        l.set_ttl(1);
        l.set_label(0xfffff);
        assert_eq!(b, [0xff, 0xff, 0xfa, 0x01]);
        let r = Repr {
            label: 1 << 20,
            ..Repr::default()
        };
        assert!(r.emit(&mut [0; 4]).is_err());
        let r = Repr {
            tc: 8,
            ..Repr::default()
        };
        assert!(r.value().is_err());
    }

    #[test]
    fn stack_walk() {
        let st = parse_stack(&STACK);
        assert_eq!(st.lses, [0x0006_4a40, 0x000c_813f, 0]);
        assert_eq!((st.count, st.complete, st.l3_offset), (2, true, 8));
        // Five entries: the key keeps three, the network header is after the fifth.
        let mut five = Vec::new();
        for i in 1..=5u32 {
            five.extend_from_slice(&((i << 12) | if i == 5 { 0x100 } else { 0 }).to_be_bytes());
        }
        let st = parse_stack(&five);
        assert_eq!(st.lses, [0x1000, 0x2000, 0x3000]);
        assert_eq!((st.count, st.complete, st.l3_offset), (3, true, 20));
        // No bottom-of-stack before the end.
        let st = parse_stack(&STACK[..6]);
        assert_eq!((st.count, st.complete, st.l3_offset), (1, false, 4));
        assert_eq!(parse_stack(&[]), Stack::default());
    }

    #[test]
    fn truncated() {
        for n in 0..HEADER_LEN {
            assert_eq!(Lse::new_checked(&STACK[..n]).unwrap_err().offset, n);
        }
    }
}
