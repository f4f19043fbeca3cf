//! Pieces shared by the six family codecs: the kernel's liberal attribute parse with its
//! policy checks, raw attribute streams, and the message frame.
//!
//! ≈ `__nla_validate_parse`/`validate_nla` in `lib/nlattr.c` as called by
//! `genl_family_rcv_msg_attrs_parse` for ops marked `GENL_DONT_VALIDATE_STRICT`.
//!
//! The OVS families are parsed *liberally*: attribute types of 0 or above the family's
//! `maxattr` are skipped, payloads longer than the policy's size are accepted (the kernel only
//! warns), and a malformed attribute header simply ends the walk (the kernel logs "bytes
//! leftover" and carries on). What the policy does reject is a payload *shorter* than its type
//! (`ERANGE`), a flag with a payload (`ERANGE`), a nest of 1–3 bytes (`ERANGE`), a string
//! without a NUL in its first `len + 1` bytes (`EINVAL`) or longer than `len` (`ERANGE`), and
//! an integer outside an `NLA_POLICY_RANGE` (`ERANGE`). Every occurrence of a type is checked,
//! in message order, and the last one wins.

use crate::errno::{EINVAL, ERANGE};
use crate::genl::{GenlHdr, GENL_HDRLEN};
use crate::nl::attr::{nla_size, NLA_HDRLEN};
use crate::nl::{MsgBuilder, Nla, NlaIter, NlaWriter, NLMSG_HDRLEN};
use crate::ovs::{OvsHeader, OVS_ATTRS_OFFSET, OVS_HEADER_LEN};
use crate::{Error, Result};

/// The extack text `validate_nla` attaches to any policy failure.
pub const POLICY_MSG: &str = "Attribute failed policy validation";
/// The extack text `nla_validate_int_range` attaches to an out-of-range integer.
pub const RANGE_MSG: &str = "integer out of range";
/// `IFNAMSIZ - 1`: the longest datapath or port name the policies accept.
pub const IFNAME_MAX: usize = 15;
/// Largest payload one attribute can carry (`u16` length minus the header).
pub const NLA_MAX_PAYLOAD: usize = u16::MAX as usize - NLA_HDRLEN;

/// Declares a C enum as a Rust enum with an `Unknown` arm and lossless conversions.
macro_rules! c_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident : $ty:ty {
            $( $(#[$vmeta:meta])* $var:ident = $val:expr, )*
        }
    ) => {
        $(#[$meta])*
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $var, )*
            /// A value this crate does not name; kept so decoding is lossless.
            Unknown($ty),
        }

        impl From<$ty> for $name {
            fn from(v: $ty) -> Self {
                match v {
                    $( $val => $name::$var, )*
                    other => $name::Unknown(other),
                }
            }
        }

        impl From<$name> for $ty {
            fn from(v: $name) -> $ty {
                match v {
                    $( $name::$var => $val, )*
                    $name::Unknown(other) => other,
                }
            }
        }
    };
}
pub(crate) use c_enum;

/// An attribute stream kept byte for byte, with where it sat in the message it came from.
///
/// Flow keys, masks and actions travel this way so that the key and action codecs can decode
/// them separately and so that replies echo exactly what was installed. Equality compares the
/// bytes only: `offset` is provenance (for error offsets), not content.
#[derive(Debug, Clone, Default, Eq)]
pub struct RawAttrs {
    /// The nest's payload: a stream of attributes, without the enclosing header.
    pub bytes: Vec<u8>,
    /// Offset of `bytes` from the start of the whole netlink message (0 when built locally).
    pub offset: usize,
}

impl PartialEq for RawAttrs {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl RawAttrs {
    /// A stream built locally (offset 0).
    pub fn new(bytes: Vec<u8>) -> Self {
        RawAttrs { bytes, offset: 0 }
    }
    /// The payload of `nla`, remembering its offset.
    pub fn from_nla(nla: &Nla<'_>) -> Self {
        RawAttrs {
            bytes: nla.payload.to_vec(),
            offset: nla.payload_offset(),
        }
    }
    /// Iterates over the attributes, reporting offsets within the original message.
    pub fn iter(&self) -> NlaIter<'_> {
        NlaIter::with_base(&self.bytes, self.offset)
    }
    /// True if the stream holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// What one policy entry demands of an attribute's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pol {
    /// Not in the policy: anything goes.
    Any,
    /// `NLA_U16`: at least 2 bytes.
    U16,
    /// `NLA_U32` / `NLA_S32`: at least 4 bytes.
    U32,
    /// `NLA_U64`: at least 8 bytes.
    U64,
    /// `NLA_FLAG`: no payload.
    Flag,
    /// `NLA_NESTED`: empty, or at least one attribute header.
    Nested,
    /// `NLA_NUL_STRING` with `.len`: a NUL within `len + 1` bytes, at most `len` characters.
    NulStr(usize),
    /// `{ .len = n }` on an `NLA_UNSPEC`: at least `n` bytes.
    MinLen(usize),
    /// `NLA_POLICY_RANGE(NLA_U32, 0, max)`: a `U32` whose value is at most `max`.
    U32Max(u32),
}

/// Checks one attribute against its policy entry, as `validate_nla` does.
pub fn check(pol: Pol, nla: &Nla<'_>) -> Result<()> {
    let len = nla.payload.len();
    let short = |min: usize| {
        if len < min {
            Err(Error::new(ERANGE, nla.offset, POLICY_MSG))
        } else {
            Ok(())
        }
    };
    match pol {
        Pol::Any => Ok(()),
        Pol::U16 => short(2),
        Pol::U32 => short(4),
        Pol::U64 => short(8),
        Pol::MinLen(n) => short(n),
        Pol::Flag if len > 0 => Err(Error::new(ERANGE, nla.offset, POLICY_MSG)),
        Pol::Flag => Ok(()),
        Pol::Nested if len == 0 => Ok(()),
        Pol::Nested => short(NLA_HDRLEN),
        Pol::NulStr(max) => {
            let p = nla.payload;
            let window = p.get(..len.min(max + 1)).unwrap_or(p);
            if window.is_empty() || !window.contains(&0) {
                return Err(Error::new(EINVAL, nla.offset, POLICY_MSG));
            }
            let chars = if p.last() == Some(&0) { len - 1 } else { len };
            if chars > max {
                return Err(Error::new(ERANGE, nla.offset, POLICY_MSG));
            }
            Ok(())
        }
        Pol::U32Max(max) => {
            short(4)?;
            if get_u32(nla) > max {
                return Err(Error::new(ERANGE, nla.offset, RANGE_MSG));
            }
            Ok(())
        }
    }
}

/// The leading `u16` of a payload already checked to be long enough (0 otherwise).
pub fn get_u16(nla: &Nla<'_>) -> u16 {
    match nla.payload {
        [a, b, ..] => u16::from_ne_bytes([*a, *b]),
        _ => 0,
    }
}

/// The leading `u32` of a payload already checked to be long enough (0 otherwise), as
/// `nla_get_u32` reads it: extra bytes are ignored.
pub fn get_u32(nla: &Nla<'_>) -> u32 {
    match nla.payload {
        [a, b, c, d, ..] => u32::from_ne_bytes([*a, *b, *c, *d]),
        _ => 0,
    }
}

/// The leading `u64` of a payload already checked to be long enough (0 otherwise).
pub fn get_u64(nla: &Nla<'_>) -> u64 {
    match nla.payload.get(..8) {
        Some(b) => {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_ne_bytes(a)
        }
        None => 0,
    }
}

/// The string of an attribute that passed [`Pol::NulStr`]: the bytes before the first NUL.
///
/// Linux accepts any bytes in a name; this crate keeps names as `String`, so a name that is not
/// UTF-8 is refused with `EINVAL` (no OVS tool can create one).
pub fn get_str(nla: &Nla<'_>) -> Result<String> {
    let p = nla.payload;
    let end = p.iter().position(|&b| b == 0).unwrap_or(p.len());
    std::str::from_utf8(&p[..end])
        .map(str::to_owned)
        .map_err(|_| Error::inval(nla.offset, "string attribute is not UTF-8"))
}

/// A payload as host-order `u32`s; `None` unless its length is a non-zero multiple of 4.
pub fn get_u32_array(nla: &Nla<'_>) -> Option<Vec<u32>> {
    let p = nla.payload;
    if p.is_empty() || p.len() & 3 != 0 {
        return None;
    }
    Some(
        p.chunks_exact(4)
            .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

/// A `u32` array checked as `ovs_vport_set_upcall_portids` / `ovs_dp_set_upcall_portids` do.
pub fn checked_u32_array(nla: &Nla<'_>) -> Result<Vec<u32>> {
    get_u32_array(nla).ok_or(Error::inval(
        nla.offset,
        "upcall pid array must be a non-zero multiple of 4 bytes",
    ))
}

/// The fixed part of every OVS family message.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// The genl header.
    pub genl: GenlHdr,
    /// `ovs_header.dp_ifindex`.
    pub dp_ifindex: i32,
    /// The attribute bytes; their offset in the message is [`OVS_ATTRS_OFFSET`].
    pub attrs: &'a [u8],
}

/// Splits a message payload (after the `nlmsghdr`) into its headers and attribute bytes.
///
/// A payload shorter than `genlmsghdr` + `ovs_header` is `EINVAL`, as `genl_family_rcv_msg`
/// answers before even looking at the command.
pub fn frame(payload: &[u8]) -> Result<Frame<'_>> {
    let genl = GenlHdr::parse(payload)?;
    let hdr = OvsHeader::parse(payload)?;
    Ok(Frame {
        genl,
        dp_ifindex: hdr.dp_ifindex,
        attrs: payload.get(GENL_HDRLEN + OVS_HEADER_LEN..).unwrap_or(&[]),
    })
}

/// Walks `attrs` liberally, checks each attribute with `policy` (indexed by type; types beyond
/// the slice are ignored), and returns the last occurrence of each type.
pub fn parse_liberal<'a, const N: usize>(
    attrs: &'a [u8],
    base: usize,
    policy: &[Pol; N],
) -> Result<[Option<Nla<'a>>; N]> {
    let mut table = [None; N];
    for nla in NlaIter::with_base(attrs, base) {
        // A malformed header ends the walk silently, as the kernel's liberal parse does.
        let Ok(nla) = nla else { break };
        let kind = usize::from(nla.kind);
        if kind == 0 {
            continue;
        }
        if let (Some(pol), Some(slot)) = (policy.get(kind), table.get_mut(kind)) {
            check(*pol, &nla)?;
            *slot = Some(nla);
        }
    }
    Ok(table)
}

/// [`frame`] and [`parse_liberal`] together, offsets relative to the whole message.
pub fn parse_msg<'a, const N: usize>(
    payload: &'a [u8],
    policy: &[Pol; N],
) -> Result<(Frame<'a>, [Option<Nla<'a>>; N])> {
    let f = frame(payload)?;
    let table = parse_liberal(f.attrs, OVS_ATTRS_OFFSET, policy)?;
    Ok((f, table))
}

/// Starts an OVS family message: `nlmsghdr`, `genlmsghdr` (reserved 0) and `ovs_header`.
#[allow(clippy::too_many_arguments)]
pub fn begin<'b>(
    buf: &'b mut Vec<u8>,
    family_id: u16,
    flags: u16,
    seq: u32,
    pid: u32,
    cmd: u8,
    version: u8,
    dp_ifindex: i32,
) -> MsgBuilder<'b> {
    let mut m = MsgBuilder::new(buf, family_id, flags, seq, pid);
    m.push(
        &GenlHdr {
            cmd,
            version,
            reserved: 0,
        }
        .to_bytes(),
    );
    m.push(&OvsHeader { dp_ifindex }.to_bytes());
    m
}

/// Size of the fixed headers of an OVS family message.
pub const FIXED_LEN: usize = NLMSG_HDRLEN + GENL_HDRLEN + OVS_HEADER_LEN;

/// Encoded size of a NUL-terminated string attribute.
pub const fn str_size(s: &str) -> usize {
    nla_size(s.len() + 1)
}

/// Appends a `u32` array attribute.
pub fn put_u32_array(w: &mut NlaWriter<'_>, kind: u16, v: &[u32]) {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_ne_bytes()).collect();
    w.put(kind, &bytes);
}

/// Defines a fixed uapi struct of host-order integers with `SIZE`, `parse` and `to_bytes`.
macro_rules! uapi_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty, )* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
        pub struct $name { $( $(#[$fmeta])* pub $field: $ty, )* }

        impl $name {
            /// Size of the C struct in bytes.
            pub const SIZE: usize = 0 $( + std::mem::size_of::<$ty>() )*;

            /// Decodes the struct from the first `SIZE` bytes of `b`; `None` if `b` is shorter.
            pub fn parse(b: &[u8]) -> Option<Self> {
                let mut at = 0usize;
                $(
                    let n = std::mem::size_of::<$ty>();
                    let $field = <$ty>::from_ne_bytes(b.get(at..at + n)?.try_into().ok()?);
                    at += n;
                )*
                let _ = at;
                Some($name { $( $field, )* })
            }

            /// The struct's bytes in host order.
            pub fn to_bytes(&self) -> Vec<u8> {
                let mut v = Vec::with_capacity(Self::SIZE);
                $( v.extend_from_slice(&self.$field.to_ne_bytes()); )*
                v
            }
        }
    };
}
pub(crate) use uapi_struct;

uapi_struct! {
    /// `struct ovs_flow_stats`: packet and byte counters of a flow, meter or band.
    pub struct OvsFlowStats {
        /// Packets matched.
        pub n_packets: u64,
        /// Bytes matched.
        pub n_bytes: u64,
    }
}
