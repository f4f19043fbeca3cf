//! Datapath actions (`OVS_ACTION_ATTR_*`): the typed list a flow or an `execute` carries.
//!
//! ≈ `include/uapi/linux/openvswitch.h` (`enum ovs_action_attr` and friends) and the structural
//! half of `__ovs_nla_copy_actions` in `net/openvswitch/flow_netlink.c`. Decoding here checks
//! what the kernel checks *while walking the bytes* (types, lengths, nested-attribute shapes);
//! the rules that need the flow key live in [`validate`].
//!
//! Numbering follows the kernel header: `DEC_TTL` 23, `DROP` 24, `PSAMPLE` 25. OVS 3.1's own
//! header gives 23..26 to its userspace-only actions (`TUNNEL_PUSH`, `TUNNEL_POP`, `DROP`,
//! `LB_OUTPUT`), which it never sends to a netlink datapath, so the clash is harmless on the wire.

pub mod ct;
pub mod validate;

pub use ct::{CtAction, Nat, NatKind};
pub use validate::{validate_actions, FlowFacts, MacProto};

use crate::errno::{EOVERFLOW, ERANGE};
use crate::nl::attr::{nla_size, NLA_HDRLEN};
use crate::nl::{Nla, NlaIter, NlaWriter};
use crate::{Error, Result};

pub use crate::ovs::key::KeyAttr;

/// `OVS_KEY_ATTR_NSH`: the one nested key attribute a masked set splits per sub-attribute.
const KEY_ATTR_NSH: u16 = 28;
/// `OVS_KEY_ATTR_ENCAP`.
const KEY_ATTR_ENCAP: u16 = 1;
/// `OVS_KEY_ATTR_TUNNEL`.
const KEY_ATTR_TUNNEL: u16 = 16;

/// `OVS_COPY_ACTIONS_MAX_DEPTH`: nested action lists (sample, clone, check_pkt_len, dec_ttl)
/// deeper than this are refused with `EOVERFLOW`.
pub const OVS_COPY_ACTIONS_MAX_DEPTH: usize = 16;

/// `enum ovs_action_attr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum OvsActionAttr {
    /// `OVS_ACTION_ATTR_OUTPUT`: u32 port.
    OVS_ACTION_ATTR_OUTPUT,
    /// `OVS_ACTION_ATTR_USERSPACE`: nested `OVS_USERSPACE_ATTR_*`.
    OVS_ACTION_ATTR_USERSPACE,
    /// `OVS_ACTION_ATTR_SET`: one nested key attribute.
    OVS_ACTION_ATTR_SET,
    /// `OVS_ACTION_ATTR_PUSH_VLAN`: `struct ovs_action_push_vlan`.
    OVS_ACTION_ATTR_PUSH_VLAN,
    /// `OVS_ACTION_ATTR_POP_VLAN`: no argument.
    OVS_ACTION_ATTR_POP_VLAN,
    /// `OVS_ACTION_ATTR_SAMPLE`: nested `OVS_SAMPLE_ATTR_*`.
    OVS_ACTION_ATTR_SAMPLE,
    /// `OVS_ACTION_ATTR_RECIRC`: u32 recirc id.
    OVS_ACTION_ATTR_RECIRC,
    /// `OVS_ACTION_ATTR_HASH`: `struct ovs_action_hash`.
    OVS_ACTION_ATTR_HASH,
    /// `OVS_ACTION_ATTR_PUSH_MPLS`: `struct ovs_action_push_mpls`.
    OVS_ACTION_ATTR_PUSH_MPLS,
    /// `OVS_ACTION_ATTR_POP_MPLS`: be16 ethertype.
    OVS_ACTION_ATTR_POP_MPLS,
    /// `OVS_ACTION_ATTR_SET_MASKED`: one nested key attribute, value then mask.
    OVS_ACTION_ATTR_SET_MASKED,
    /// `OVS_ACTION_ATTR_CT`: nested `OVS_CT_ATTR_*`.
    OVS_ACTION_ATTR_CT,
    /// `OVS_ACTION_ATTR_TRUNC`: u32 max length.
    OVS_ACTION_ATTR_TRUNC,
    /// `OVS_ACTION_ATTR_PUSH_ETH`: `struct ovs_action_push_eth`.
    OVS_ACTION_ATTR_PUSH_ETH,
    /// `OVS_ACTION_ATTR_POP_ETH`: no argument.
    OVS_ACTION_ATTR_POP_ETH,
    /// `OVS_ACTION_ATTR_CT_CLEAR`: no argument.
    OVS_ACTION_ATTR_CT_CLEAR,
    /// `OVS_ACTION_ATTR_PUSH_NSH`: nested `OVS_NSH_KEY_ATTR_*`.
    OVS_ACTION_ATTR_PUSH_NSH,
    /// `OVS_ACTION_ATTR_POP_NSH`: no argument.
    OVS_ACTION_ATTR_POP_NSH,
    /// `OVS_ACTION_ATTR_METER`: u32 meter id.
    OVS_ACTION_ATTR_METER,
    /// `OVS_ACTION_ATTR_CLONE`: the nested action list itself.
    OVS_ACTION_ATTR_CLONE,
    /// `OVS_ACTION_ATTR_CHECK_PKT_LEN`: nested `OVS_CHECK_PKT_LEN_ATTR_*`.
    OVS_ACTION_ATTR_CHECK_PKT_LEN,
    /// `OVS_ACTION_ATTR_ADD_MPLS`: `struct ovs_action_add_mpls`.
    OVS_ACTION_ATTR_ADD_MPLS,
    /// `OVS_ACTION_ATTR_DEC_TTL`: nested `OVS_DEC_TTL_ATTR_*` (Linux 5.13+).
    OVS_ACTION_ATTR_DEC_TTL,
    /// `OVS_ACTION_ATTR_DROP`: u32 reason (Linux 6.4+).
    OVS_ACTION_ATTR_DROP,
    /// `OVS_ACTION_ATTR_PSAMPLE`: nested `OVS_PSAMPLE_ATTR_*` (Linux 6.11+).
    OVS_ACTION_ATTR_PSAMPLE,
    /// Any other number, including 0.
    Unknown(u16),
}

impl From<u16> for OvsActionAttr {
    fn from(n: u16) -> Self {
        use OvsActionAttr::*;
        match n {
            1 => OVS_ACTION_ATTR_OUTPUT,
            2 => OVS_ACTION_ATTR_USERSPACE,
            3 => OVS_ACTION_ATTR_SET,
            4 => OVS_ACTION_ATTR_PUSH_VLAN,
            5 => OVS_ACTION_ATTR_POP_VLAN,
            6 => OVS_ACTION_ATTR_SAMPLE,
            7 => OVS_ACTION_ATTR_RECIRC,
            8 => OVS_ACTION_ATTR_HASH,
            9 => OVS_ACTION_ATTR_PUSH_MPLS,
            10 => OVS_ACTION_ATTR_POP_MPLS,
            11 => OVS_ACTION_ATTR_SET_MASKED,
            12 => OVS_ACTION_ATTR_CT,
            13 => OVS_ACTION_ATTR_TRUNC,
            14 => OVS_ACTION_ATTR_PUSH_ETH,
            15 => OVS_ACTION_ATTR_POP_ETH,
            16 => OVS_ACTION_ATTR_CT_CLEAR,
            17 => OVS_ACTION_ATTR_PUSH_NSH,
            18 => OVS_ACTION_ATTR_POP_NSH,
            19 => OVS_ACTION_ATTR_METER,
            20 => OVS_ACTION_ATTR_CLONE,
            21 => OVS_ACTION_ATTR_CHECK_PKT_LEN,
            22 => OVS_ACTION_ATTR_ADD_MPLS,
            23 => OVS_ACTION_ATTR_DEC_TTL,
            24 => OVS_ACTION_ATTR_DROP,
            25 => OVS_ACTION_ATTR_PSAMPLE,
            n => Unknown(n),
        }
    }
}

impl From<OvsActionAttr> for u16 {
    fn from(a: OvsActionAttr) -> u16 {
        use OvsActionAttr::*;
        match a {
            OVS_ACTION_ATTR_OUTPUT => 1,
            OVS_ACTION_ATTR_USERSPACE => 2,
            OVS_ACTION_ATTR_SET => 3,
            OVS_ACTION_ATTR_PUSH_VLAN => 4,
            OVS_ACTION_ATTR_POP_VLAN => 5,
            OVS_ACTION_ATTR_SAMPLE => 6,
            OVS_ACTION_ATTR_RECIRC => 7,
            OVS_ACTION_ATTR_HASH => 8,
            OVS_ACTION_ATTR_PUSH_MPLS => 9,
            OVS_ACTION_ATTR_POP_MPLS => 10,
            OVS_ACTION_ATTR_SET_MASKED => 11,
            OVS_ACTION_ATTR_CT => 12,
            OVS_ACTION_ATTR_TRUNC => 13,
            OVS_ACTION_ATTR_PUSH_ETH => 14,
            OVS_ACTION_ATTR_POP_ETH => 15,
            OVS_ACTION_ATTR_CT_CLEAR => 16,
            OVS_ACTION_ATTR_PUSH_NSH => 17,
            OVS_ACTION_ATTR_POP_NSH => 18,
            OVS_ACTION_ATTR_METER => 19,
            OVS_ACTION_ATTR_CLONE => 20,
            OVS_ACTION_ATTR_CHECK_PKT_LEN => 21,
            OVS_ACTION_ATTR_ADD_MPLS => 22,
            OVS_ACTION_ATTR_DEC_TTL => 23,
            OVS_ACTION_ATTR_DROP => 24,
            OVS_ACTION_ATTR_PSAMPLE => 25,
            Unknown(n) => n,
        }
    }
}

/// `OVS_USERSPACE_ATTR_PID`.
pub const OVS_USERSPACE_ATTR_PID: u16 = 1;
/// `OVS_USERSPACE_ATTR_USERDATA`.
pub const OVS_USERSPACE_ATTR_USERDATA: u16 = 2;
/// `OVS_USERSPACE_ATTR_EGRESS_TUN_PORT`.
pub const OVS_USERSPACE_ATTR_EGRESS_TUN_PORT: u16 = 3;
/// `OVS_USERSPACE_ATTR_ACTIONS`.
pub const OVS_USERSPACE_ATTR_ACTIONS: u16 = 4;
/// `OVS_SAMPLE_ATTR_PROBABILITY`.
pub const OVS_SAMPLE_ATTR_PROBABILITY: u16 = 1;
/// `OVS_SAMPLE_ATTR_ACTIONS`.
pub const OVS_SAMPLE_ATTR_ACTIONS: u16 = 2;
/// `OVS_CHECK_PKT_LEN_ATTR_PKT_LEN`.
pub const OVS_CHECK_PKT_LEN_ATTR_PKT_LEN: u16 = 1;
/// `OVS_CHECK_PKT_LEN_ATTR_ACTIONS_IF_GREATER`.
pub const OVS_CHECK_PKT_LEN_ATTR_ACTIONS_IF_GREATER: u16 = 2;
/// `OVS_CHECK_PKT_LEN_ATTR_ACTIONS_IF_LESS_EQUAL`.
pub const OVS_CHECK_PKT_LEN_ATTR_ACTIONS_IF_LESS_EQUAL: u16 = 3;
/// `OVS_DEC_TTL_ATTR_ACTION`.
pub const OVS_DEC_TTL_ATTR_ACTION: u16 = 1;
/// `OVS_PSAMPLE_ATTR_GROUP`.
pub const OVS_PSAMPLE_ATTR_GROUP: u16 = 1;
/// `OVS_PSAMPLE_ATTR_COOKIE`.
pub const OVS_PSAMPLE_ATTR_COOKIE: u16 = 2;
/// `OVS_PSAMPLE_COOKIE_MAX_SIZE`.
pub const OVS_PSAMPLE_COOKIE_MAX_SIZE: usize = 16;
/// `OVS_HASH_ALG_L4`.
pub const OVS_HASH_ALG_L4: u32 = 0;
/// `OVS_HASH_ALG_SYM_L4` (accepted by Linux 6.5+, refused by 6.1).
pub const OVS_HASH_ALG_SYM_L4: u32 = 1;
/// `OVS_MPLS_L3_TUNNEL_FLAG_MASK`: `ADD_MPLS` inserts the label at the L3 header.
pub const OVS_MPLS_L3_TUNNEL_FLAG_MASK: u16 = 1;
/// `OVS_NSH_KEY_ATTR_BASE`.
pub const OVS_NSH_KEY_ATTR_BASE: u16 = 1;
/// `OVS_NSH_KEY_ATTR_MD1`.
pub const OVS_NSH_KEY_ATTR_MD1: u16 = 2;
/// `OVS_NSH_KEY_ATTR_MD2`.
pub const OVS_NSH_KEY_ATTR_MD2: u16 = 3;
/// NSH metadata type 1 (four fixed context words).
pub const NSH_M_TYPE1: u8 = 1;
/// NSH metadata type 2 (variable TLVs).
pub const NSH_M_TYPE2: u8 = 2;

/// The header `PUSH_NSH` pushes: the `OVS_NSH_KEY_ATTR_*` attributes it nests.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct NshPush {
    /// Base header flags (2 bits used).
    pub flags: u8,
    /// TTL (6 bits used).
    pub ttl: u8,
    /// Metadata type: 1 or 2.
    pub mdtype: u8,
    /// Next protocol (1 IPv4, 2 IPv6, 3 Ethernet, …).
    pub np: u8,
    /// Service path identifier (24 bits).
    pub spi: u32,
    /// Service index.
    pub si: u8,
    /// `MD1` context words, present for mdtype 1.
    pub md1: Option<[u32; 4]>,
    /// `MD2` TLV bytes, present for mdtype 2.
    pub md2: Option<Vec<u8>>,
}

/// One datapath action, typed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// Send a copy to a port.
    Output(u32),
    /// Send a copy to a netlink listener as `OVS_PACKET_CMD_ACTION`.
    Userspace {
        /// Netlink port id of the listener.
        pid: u32,
        /// Opaque cookie echoed back as `OVS_PACKET_ATTR_USERDATA`.
        userdata: Option<Vec<u8>>,
        /// Port whose egress tunnel info is sent along.
        egress_tun_port: Option<u32>,
        /// `OVS_USERSPACE_ATTR_ACTIONS`: include the flow's actions in the upcall.
        actions: bool,
    },
    /// Overwrite a header with a full value.
    Set(KeyAttr),
    /// Overwrite the masked bits of a header: value, mask.
    SetMasked(KeyAttr, KeyAttr),
    /// Push an 802.1Q/802.1ad tag; `tci` carries the CFI bit as "present" marker.
    PushVlan {
        /// Tag protocol id.
        tpid: u16,
        /// Tag control info.
        tci: u16,
    },
    /// Pop the outermost VLAN tag.
    PopVlan,
    /// Run a nested list with a probability (`u32::MAX` = always).
    Sample {
        /// Fraction of `u32::MAX`.
        probability: u32,
        /// Nested actions.
        actions: Vec<Action>,
    },
    /// Re-run the lookup with `RECIRC_ID` set.
    Recirc(u32),
    /// Compute `DP_HASH`.
    Hash {
        /// `OVS_HASH_ALG_*`.
        alg: u32,
        /// Hash basis.
        basis: u32,
    },
    /// Push an MPLS label stack entry.
    PushMpls {
        /// The label stack entry.
        lse: u32,
        /// New ethertype (0x8847 or 0x8848).
        ethertype: u16,
    },
    /// Pop an MPLS label stack entry; the argument is the next ethertype.
    PopMpls(u16),
    /// Connection tracking.
    Ct(CtAction),
    /// Truncate the next output to this many bytes.
    Trunc(u32),
    /// Push an Ethernet header on an L3 packet.
    PushEth {
        /// Source MAC.
        src: [u8; 6],
        /// Destination MAC.
        dst: [u8; 6],
    },
    /// Pop the Ethernet header.
    PopEth,
    /// Forget the conntrack state.
    CtClear,
    /// Push an NSH header.
    PushNsh(NshPush),
    /// Pop the NSH header.
    PopNsh,
    /// Run the packet through a meter.
    Meter(u32),
    /// Run a nested list on a copy of the packet.
    Clone(Vec<Action>),
    /// Branch on the packet length.
    CheckPktLen {
        /// Threshold in bytes (non-zero).
        pkt_len: u16,
        /// Actions for longer packets.
        if_greater: Vec<Action>,
        /// Actions for packets no longer than `pkt_len`.
        if_less_equal: Vec<Action>,
    },
    /// Insert an MPLS label at L2 or L3.
    AddMpls {
        /// The label stack entry.
        lse: u32,
        /// New ethertype.
        ethertype: u16,
        /// `OVS_MPLS_L3_TUNNEL_FLAG_MASK` etc.
        tun_flags: u16,
    },
    /// Decrement the IP TTL; the list runs when it would reach 0 or 1.
    DecTtl(Vec<Action>),
    /// Explicit drop with an `xlate_error` reason (Linux 6.4+).
    Drop(u32),
    /// Send a sample to psample (Linux 6.11+).
    Psample {
        /// psample group.
        group: u32,
        /// Up to 16 bytes of cookie.
        cookie: Option<Vec<u8>>,
    },
    /// An action type this crate does not know; kept for lossless decoding.
    Unknown {
        /// Attribute type.
        kind: u16,
        /// Raw payload.
        payload: Vec<u8>,
    },
}

/// A list of actions: the payload of `OVS_FLOW_ATTR_ACTIONS` / `OVS_PACKET_ATTR_ACTIONS`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct Actions(pub Vec<Action>);

fn einval(offset: usize, msg: &'static str) -> Error {
    Error::inval(offset, msg)
}

/// Reads a fixed-size argument; the kernel's `action_lens` table demands the exact size.
fn fixed<const N: usize>(nla: &Nla<'_>) -> Result<[u8; N]> {
    nla.payload
        .try_into()
        .map_err(|_| einval(nla.offset, "action argument has the wrong length"))
}

/// An `NLA_U32`/`NLA_U16` policy read: short is `ERANGE`, longer is accepted (the kernel's
/// deprecated-strict parse only warns) and the leading bytes are used.
fn policy_u32(nla: &Nla<'_>) -> Result<u32> {
    match nla.payload.get(..4) {
        Some(b) => Ok(u32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(Error::new(ERANGE, nla.offset, "attribute shorter than u32")),
    }
}

fn policy_u16(nla: &Nla<'_>) -> Result<u16> {
    match nla.payload.get(..2) {
        Some(b) => Ok(u16::from_ne_bytes([b[0], b[1]])),
        None => Err(Error::new(ERANGE, nla.offset, "attribute shorter than u16")),
    }
}

/// `NLA_NESTED` policy: empty is fine, 1..3 bytes cannot hold a header.
fn policy_nested(nla: &Nla<'_>) -> Result<()> {
    if !nla.payload.is_empty() && nla.payload.len() < NLA_HDRLEN {
        return Err(Error::new(ERANGE, nla.offset, "nested attribute too short"));
    }
    Ok(())
}

/// The kernel's custom nested-list check for sample/clone/dec_ttl: a non-empty list shorter
/// than one header is `EINVAL`.
fn list_shape(nla: &Nla<'_>) -> Result<()> {
    if !nla.payload.is_empty() && nla.payload.len() < NLA_HDRLEN {
        return Err(einval(nla.offset, "nested action list too short"));
    }
    Ok(())
}

/// Parses a nested action list, with the kernel's trailing-bytes rule.
fn parse_list(payload: &[u8], base: usize, depth: usize) -> Result<Vec<Action>> {
    if depth > OVS_COPY_ACTIONS_MAX_DEPTH {
        return Err(Error::new(EOVERFLOW, base, "actions nested too deeply"));
    }
    let mut out = Vec::new();
    let mut consumed = 0usize;
    for nla in NlaIter::with_base(payload, base) {
        let nla = nla?;
        consumed = nla.offset - base + crate::nl::align(NLA_HDRLEN + nla.payload.len());
        out.push(Action::parse_nla(&nla, depth)?);
    }
    // `nla_for_each_nested` leaves `rem > 0` for a trailing fragment shorter than a header.
    if consumed < payload.len() {
        return Err(einval(
            base + consumed,
            "trailing bytes after the last action",
        ));
    }
    Ok(out)
}

fn list_len(list: &[Action]) -> usize {
    list.iter().map(Action::buffer_len).sum()
}

fn emit_list(list: &[Action], w: &mut NlaWriter<'_>) {
    for a in list {
        a.emit(w);
    }
}

impl Actions {
    /// Decodes an action list; `base` is the offset of `buf` in the enclosing message.
    pub fn parse(buf: &[u8], base: usize) -> Result<Actions> {
        parse_list(buf, base, 0).map(Actions)
    }
    /// Encoded size in bytes.
    pub fn buffer_len(&self) -> usize {
        list_len(&self.0)
    }
    /// Appends the encoded list (no enclosing attribute).
    pub fn emit(&self, w: &mut NlaWriter<'_>) {
        emit_list(&self.0, w);
    }
    /// The encoded list as a fresh buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.buffer_len());
        self.emit(&mut NlaWriter::new(&mut buf));
        buf
    }
    /// True for the empty list, which means "drop".
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<Action>> for Actions {
    fn from(v: Vec<Action>) -> Self {
        Actions(v)
    }
}

/// Splits a `SET_MASKED` key payload into a value attribute and a mask attribute.
///
/// Non-NSH attributes carry `value ‖ mask` of equal halves. NSH is nested, so the halving
/// happens per sub-attribute (`BASE`, `MD1`, …), each `value ‖ mask`.
fn split_masked(key: &Nla<'_>) -> Result<(KeyAttr, KeyAttr)> {
    let p = key.payload;
    if key.kind == KEY_ATTR_NSH {
        let mut vbuf = Vec::new();
        let mut mbuf = Vec::new();
        {
            let mut vw = NlaWriter::new(&mut vbuf);
            let mut mw = NlaWriter::new(&mut mbuf);
            for sub in key.nested() {
                let sub = sub?;
                if sub.payload.len() & 1 != 0 {
                    return Err(einval(sub.offset, "masked NSH attribute has an odd length"));
                }
                let (v, m) = sub.payload.split_at(sub.payload.len() / 2);
                vw.put(sub.kind, v);
                mw.put(sub.kind, m);
            }
        }
        let v = Nla {
            payload: &vbuf,
            ..*key
        };
        let m = Nla {
            payload: &mbuf,
            ..*key
        };
        let value = KeyAttr::parse(&v).map_err(|e| Error {
            offset: key.offset,
            ..e
        })?;
        let mask = KeyAttr::parse(&m).map_err(|e| Error {
            offset: key.offset,
            ..e
        })?;
        return Ok((value, mask));
    }
    // `validate_set` refuses a masked TUNNEL outright and ENCAP falls to its default case;
    // both are nested, and halves of nested streams need not re-encode to equal lengths.
    if key.kind == KEY_ATTR_TUNNEL || key.kind == KEY_ATTR_ENCAP {
        return Err(einval(key.offset, "masked set of a nested key attribute"));
    }
    if p.len() & 1 != 0 {
        return Err(einval(key.offset, "masked set payload has an odd length"));
    }
    let (v, m) = p.split_at(p.len() / 2);
    let value = KeyAttr::parse(&Nla { payload: v, ..*key })?;
    let mask = KeyAttr::parse(&Nla { payload: m, ..*key })?;
    Ok((value, mask))
}

/// The type number and payload bytes of a key attribute as it goes on the wire.
pub fn key_wire(k: &KeyAttr) -> (u16, Vec<u8>) {
    let mut buf = Vec::with_capacity(k.buffer_len());
    k.emit(&mut NlaWriter::new(&mut buf));
    let len = buf
        .get(..2)
        .map_or(0, |b| usize::from(u16::from_ne_bytes([b[0], b[1]])));
    let kind = buf
        .get(2..4)
        .map_or(0, |b| u16::from_ne_bytes([b[0], b[1]]));
    let payload = buf.get(NLA_HDRLEN..len).unwrap_or(&[]).to_vec();
    (kind & crate::nl::attr::NLA_TYPE_MASK, payload)
}

/// The masked-set payload: `value ‖ mask`, or per-sub-attribute for NSH.
fn masked_payload(value: &KeyAttr, mask: &KeyAttr) -> (u16, Vec<u8>) {
    let (kind, v) = key_wire(value);
    let (_, m) = key_wire(mask);
    if kind == KEY_ATTR_NSH {
        let mut out = Vec::new();
        let mut w = NlaWriter::new(&mut out);
        let vs: Vec<_> = NlaIter::new(&v).filter_map(Result::ok).collect();
        let ms: Vec<_> = NlaIter::new(&m).filter_map(Result::ok).collect();
        for sv in &vs {
            let sm = ms
                .iter()
                .find(|x| x.kind == sv.kind)
                .map_or(&[][..], |x| x.payload);
            let mut both = sv.payload.to_vec();
            both.extend_from_slice(sm);
            w.put(sv.kind, &both);
        }
        return (kind, out);
    }
    let mut both = v;
    both.extend_from_slice(&m);
    (kind, both)
}

fn parse_nsh_push(nla: &Nla<'_>) -> Result<NshPush> {
    let mut n = NshPush::default();
    let mut seen_base = false;
    for sub in nla.nested() {
        let sub = sub?;
        match sub.kind {
            OVS_NSH_KEY_ATTR_BASE => {
                let b: [u8; 8] = sub
                    .payload
                    .try_into()
                    .map_err(|_| einval(sub.offset, "NSH base has the wrong length"))?;
                let path = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                n.flags = b[0];
                n.ttl = b[1];
                n.mdtype = b[2];
                n.np = b[3];
                n.spi = path >> 8;
                n.si = (path & 0xff) as u8;
                seen_base = true;
            }
            OVS_NSH_KEY_ATTR_MD1 => {
                let b: [u8; 16] = sub
                    .payload
                    .try_into()
                    .map_err(|_| einval(sub.offset, "NSH MD1 has the wrong length"))?;
                let w = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
                n.md1 = Some([w(0), w(4), w(8), w(12)]);
            }
            OVS_NSH_KEY_ATTR_MD2 => n.md2 = Some(sub.payload.to_vec()),
            _ => return Err(einval(sub.offset, "unknown NSH key attribute")),
        }
    }
    if !seen_base {
        return Err(einval(nla.offset, "push_nsh without an NSH base"));
    }
    Ok(n)
}

impl NshPush {
    fn payload_len(&self) -> usize {
        nla_size(8)
            + self.md1.map_or(0, |_| nla_size(16))
            + self.md2.as_ref().map_or(0, |m| nla_size(m.len()))
    }
    fn emit_nested(&self, w: &mut NlaWriter<'_>) {
        let path = (self.spi << 8) | u32::from(self.si);
        let p = path.to_be_bytes();
        w.put(
            OVS_NSH_KEY_ATTR_BASE,
            &[
                self.flags,
                self.ttl,
                self.mdtype,
                self.np,
                p[0],
                p[1],
                p[2],
                p[3],
            ],
        );
        if let Some(md1) = self.md1 {
            let mut b = [0u8; 16];
            for (i, word) in md1.iter().enumerate() {
                b[i * 4..i * 4 + 4].copy_from_slice(&word.to_be_bytes());
            }
            w.put(OVS_NSH_KEY_ATTR_MD1, &b);
        }
        if let Some(md2) = &self.md2 {
            w.put(OVS_NSH_KEY_ATTR_MD2, md2);
        }
    }
}

impl Action {
    /// The `OVS_ACTION_ATTR_*` type this action encodes as.
    pub fn attr(&self) -> OvsActionAttr {
        use OvsActionAttr::*;
        match self {
            Action::Output(_) => OVS_ACTION_ATTR_OUTPUT,
            Action::Userspace { .. } => OVS_ACTION_ATTR_USERSPACE,
            Action::Set(_) => OVS_ACTION_ATTR_SET,
            Action::SetMasked(..) => OVS_ACTION_ATTR_SET_MASKED,
            Action::PushVlan { .. } => OVS_ACTION_ATTR_PUSH_VLAN,
            Action::PopVlan => OVS_ACTION_ATTR_POP_VLAN,
            Action::Sample { .. } => OVS_ACTION_ATTR_SAMPLE,
            Action::Recirc(_) => OVS_ACTION_ATTR_RECIRC,
            Action::Hash { .. } => OVS_ACTION_ATTR_HASH,
            Action::PushMpls { .. } => OVS_ACTION_ATTR_PUSH_MPLS,
            Action::PopMpls(_) => OVS_ACTION_ATTR_POP_MPLS,
            Action::Ct(_) => OVS_ACTION_ATTR_CT,
            Action::Trunc(_) => OVS_ACTION_ATTR_TRUNC,
            Action::PushEth { .. } => OVS_ACTION_ATTR_PUSH_ETH,
            Action::PopEth => OVS_ACTION_ATTR_POP_ETH,
            Action::CtClear => OVS_ACTION_ATTR_CT_CLEAR,
            Action::PushNsh(_) => OVS_ACTION_ATTR_PUSH_NSH,
            Action::PopNsh => OVS_ACTION_ATTR_POP_NSH,
            Action::Meter(_) => OVS_ACTION_ATTR_METER,
            Action::Clone(_) => OVS_ACTION_ATTR_CLONE,
            Action::CheckPktLen { .. } => OVS_ACTION_ATTR_CHECK_PKT_LEN,
            Action::AddMpls { .. } => OVS_ACTION_ATTR_ADD_MPLS,
            Action::DecTtl(_) => OVS_ACTION_ATTR_DEC_TTL,
            Action::Drop(_) => OVS_ACTION_ATTR_DROP,
            Action::Psample { .. } => OVS_ACTION_ATTR_PSAMPLE,
            Action::Unknown { kind, .. } => Unknown(*kind),
        }
    }

    /// Decodes one action attribute at nesting `depth` (0 = top level).
    pub fn parse_nla(nla: &Nla<'_>, depth: usize) -> Result<Action> {
        use OvsActionAttr::*;
        let off = nla.offset;
        let none = |nla: &Nla<'_>| -> Result<()> {
            if nla.payload.is_empty() {
                Ok(())
            } else {
                Err(einval(nla.offset, "action takes no argument"))
            }
        };
        Ok(match OvsActionAttr::from(nla.kind) {
            OVS_ACTION_ATTR_OUTPUT => Action::Output(u32::from_ne_bytes(fixed(nla)?)),
            OVS_ACTION_ATTR_USERSPACE => {
                let (mut pid, mut userdata, mut egress, mut acts) = (None, None, None, false);
                for sub in nla.nested() {
                    let sub = sub?;
                    match sub.kind {
                        OVS_USERSPACE_ATTR_PID => pid = Some(policy_u32(&sub)?),
                        OVS_USERSPACE_ATTR_USERDATA => userdata = Some(sub.payload.to_vec()),
                        OVS_USERSPACE_ATTR_EGRESS_TUN_PORT => egress = Some(policy_u32(&sub)?),
                        OVS_USERSPACE_ATTR_ACTIONS => acts = true,
                        0 => {}
                        _ => return Err(einval(sub.offset, "unknown userspace attribute")),
                    }
                }
                let pid = pid.ok_or_else(|| einval(off, "userspace action without a pid"))?;
                Action::Userspace {
                    pid,
                    userdata,
                    egress_tun_port: egress,
                    actions: acts,
                }
            }
            OVS_ACTION_ATTR_SET | OVS_ACTION_ATTR_SET_MASKED => {
                let masked = nla.kind == 11;
                let mut it = nla.nested();
                let key = match it.next() {
                    Some(k) => k?,
                    None => return Err(einval(off, "set action without a key attribute")),
                };
                // Exactly one key attribute, filling the action to the padded byte.
                if nla_size(key.payload.len()) != nla.payload.len() {
                    return Err(einval(
                        off,
                        "set action must hold exactly one key attribute",
                    ));
                }
                if masked {
                    let (v, m) = split_masked(&key)?;
                    Action::SetMasked(v, m)
                } else {
                    Action::Set(KeyAttr::parse(&key)?)
                }
            }
            OVS_ACTION_ATTR_PUSH_VLAN => {
                let b: [u8; 4] = fixed(nla)?;
                Action::PushVlan {
                    tpid: u16::from_be_bytes([b[0], b[1]]),
                    tci: u16::from_be_bytes([b[2], b[3]]),
                }
            }
            OVS_ACTION_ATTR_POP_VLAN => {
                none(nla)?;
                Action::PopVlan
            }
            OVS_ACTION_ATTR_SAMPLE => {
                let (mut prob, mut acts) = (None, None);
                for sub in nla.nested() {
                    let sub = sub?;
                    match sub.kind {
                        OVS_SAMPLE_ATTR_PROBABILITY if prob.is_none() => {
                            let b: [u8; 4] = sub.payload.try_into().map_err(|_| {
                                einval(sub.offset, "sample probability must be a u32")
                            })?;
                            prob = Some(u32::from_ne_bytes(b));
                        }
                        OVS_SAMPLE_ATTR_ACTIONS if acts.is_none() => acts = Some(sub),
                        _ => return Err(einval(sub.offset, "bad or duplicate sample attribute")),
                    }
                }
                let probability = prob.ok_or_else(|| einval(off, "sample without probability"))?;
                let acts = acts.ok_or_else(|| einval(off, "sample without actions"))?;
                list_shape(&acts)?;
                Action::Sample {
                    probability,
                    actions: parse_list(acts.payload, acts.payload_offset(), depth + 1)?,
                }
            }
            OVS_ACTION_ATTR_RECIRC => Action::Recirc(u32::from_ne_bytes(fixed(nla)?)),
            OVS_ACTION_ATTR_HASH => {
                let b: [u8; 8] = fixed(nla)?;
                Action::Hash {
                    alg: u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
                    basis: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
                }
            }
            OVS_ACTION_ATTR_PUSH_MPLS => {
                // struct ovs_action_push_mpls is 8 bytes: be32 lse, be16 ethertype, 2 pad.
                let b: [u8; 8] = fixed(nla)?;
                Action::PushMpls {
                    lse: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
                    ethertype: u16::from_be_bytes([b[4], b[5]]),
                }
            }
            OVS_ACTION_ATTR_POP_MPLS => Action::PopMpls(u16::from_be_bytes(fixed(nla)?)),
            OVS_ACTION_ATTR_CT => Action::Ct(CtAction::parse(nla)?),
            OVS_ACTION_ATTR_TRUNC => Action::Trunc(u32::from_ne_bytes(fixed(nla)?)),
            OVS_ACTION_ATTR_PUSH_ETH => {
                let b: [u8; 12] = fixed(nla)?;
                let mut src = [0u8; 6];
                let mut dst = [0u8; 6];
                src.copy_from_slice(&b[..6]);
                dst.copy_from_slice(&b[6..]);
                Action::PushEth { src, dst }
            }
            OVS_ACTION_ATTR_POP_ETH => {
                none(nla)?;
                Action::PopEth
            }
            OVS_ACTION_ATTR_CT_CLEAR => {
                none(nla)?;
                Action::CtClear
            }
            OVS_ACTION_ATTR_PUSH_NSH => Action::PushNsh(parse_nsh_push(nla)?),
            OVS_ACTION_ATTR_POP_NSH => {
                none(nla)?;
                Action::PopNsh
            }
            OVS_ACTION_ATTR_METER => Action::Meter(u32::from_ne_bytes(fixed(nla)?)),
            OVS_ACTION_ATTR_CLONE => {
                list_shape(nla)?;
                Action::Clone(parse_list(nla.payload, nla.payload_offset(), depth + 1)?)
            }
            OVS_ACTION_ATTR_CHECK_PKT_LEN => {
                let (mut len, mut gt, mut le) = (None, None, None);
                for sub in nla.nested() {
                    let sub = sub?;
                    match sub.kind {
                        OVS_CHECK_PKT_LEN_ATTR_PKT_LEN => len = Some(policy_u16(&sub)?),
                        OVS_CHECK_PKT_LEN_ATTR_ACTIONS_IF_GREATER => {
                            policy_nested(&sub)?;
                            gt = Some(sub);
                        }
                        OVS_CHECK_PKT_LEN_ATTR_ACTIONS_IF_LESS_EQUAL => {
                            policy_nested(&sub)?;
                            le = Some(sub);
                        }
                        0 => {}
                        _ => return Err(einval(sub.offset, "unknown check_pkt_len attribute")),
                    }
                }
                let pkt_len = match len {
                    Some(l) if l != 0 => l,
                    _ => return Err(einval(off, "check_pkt_len needs a non-zero length")),
                };
                let (Some(gt), Some(le)) = (gt, le) else {
                    return Err(einval(off, "check_pkt_len needs both action lists"));
                };
                Action::CheckPktLen {
                    pkt_len,
                    if_less_equal: parse_list(le.payload, le.payload_offset(), depth + 1)?,
                    if_greater: parse_list(gt.payload, gt.payload_offset(), depth + 1)?,
                }
            }
            OVS_ACTION_ATTR_ADD_MPLS => {
                let b: [u8; 8] = fixed(nla)?;
                Action::AddMpls {
                    lse: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
                    ethertype: u16::from_be_bytes([b[4], b[5]]),
                    tun_flags: u16::from_ne_bytes([b[6], b[7]]),
                }
            }
            OVS_ACTION_ATTR_DEC_TTL => {
                let mut acts = None;
                for sub in nla.nested() {
                    let sub = sub?;
                    match sub.kind {
                        // Unknown attributes are skipped "to be future proof".
                        k if k > OVS_DEC_TTL_ATTR_ACTION => {}
                        OVS_DEC_TTL_ATTR_ACTION if acts.is_none() => acts = Some(sub),
                        _ => return Err(einval(sub.offset, "bad or duplicate dec_ttl attribute")),
                    }
                }
                let acts = acts.ok_or_else(|| einval(off, "dec_ttl without actions"))?;
                list_shape(&acts)?;
                Action::DecTtl(parse_list(acts.payload, acts.payload_offset(), depth + 1)?)
            }
            OVS_ACTION_ATTR_DROP => Action::Drop(u32::from_ne_bytes(fixed(nla)?)),
            OVS_ACTION_ATTR_PSAMPLE => {
                let (mut group, mut cookie) = (None, None);
                for sub in nla.nested() {
                    let sub = sub?;
                    match sub.kind {
                        OVS_PSAMPLE_ATTR_GROUP => group = Some(policy_u32(&sub)?),
                        OVS_PSAMPLE_ATTR_COOKIE => {
                            if sub.payload.len() > OVS_PSAMPLE_COOKIE_MAX_SIZE {
                                return Err(Error::new(
                                    ERANGE,
                                    sub.offset,
                                    "psample cookie too long",
                                ));
                            }
                            cookie = Some(sub.payload.to_vec());
                        }
                        _ => return Err(einval(sub.offset, "unknown psample attribute")),
                    }
                }
                Action::Psample {
                    group: group.ok_or_else(|| einval(off, "psample without a group"))?,
                    cookie,
                }
            }
            Unknown(kind) => Action::Unknown {
                kind,
                payload: nla.payload.to_vec(),
            },
        })
    }

    /// Encoded size in bytes, header and padding included.
    pub fn buffer_len(&self) -> usize {
        nla_size(self.payload_len())
    }

    fn payload_len(&self) -> usize {
        match self {
            Action::Output(_)
            | Action::Recirc(_)
            | Action::Trunc(_)
            | Action::Meter(_)
            | Action::Drop(_)
            | Action::PushVlan { .. } => 4,
            Action::PopMpls(_) => 2,
            Action::Hash { .. } | Action::PushMpls { .. } | Action::AddMpls { .. } => 8,
            Action::PushEth { .. } => 12,
            Action::PopVlan | Action::PopEth | Action::CtClear | Action::PopNsh => 0,
            Action::Userspace {
                userdata,
                egress_tun_port,
                actions,
                ..
            } => {
                nla_size(4)
                    + userdata.as_ref().map_or(0, |u| nla_size(u.len()))
                    + egress_tun_port.map_or(0, |_| nla_size(4))
                    + if *actions { nla_size(0) } else { 0 }
            }
            Action::Set(k) => k.buffer_len(),
            Action::SetMasked(v, m) => nla_size(masked_payload(v, m).1.len()),
            Action::Sample { actions, .. } => nla_size(4) + nla_size(list_len(actions)),
            Action::Ct(ct) => ct.payload_len(),
            Action::PushNsh(n) => n.payload_len(),
            Action::Clone(list) => list_len(list),
            Action::CheckPktLen {
                if_greater,
                if_less_equal,
                ..
            } => nla_size(2) + nla_size(list_len(if_greater)) + nla_size(list_len(if_less_equal)),
            Action::DecTtl(list) => nla_size(list_len(list)),
            Action::Psample { cookie, .. } => {
                nla_size(4) + cookie.as_ref().map_or(0, |c| nla_size(c.len()))
            }
            Action::Unknown { payload, .. } => payload.len(),
        }
    }

    /// Appends this action as one attribute.
    pub fn emit(&self, w: &mut NlaWriter<'_>) {
        let kind = u16::from(self.attr());
        match self {
            Action::Output(v)
            | Action::Recirc(v)
            | Action::Trunc(v)
            | Action::Meter(v)
            | Action::Drop(v) => w.put_u32(kind, *v),
            Action::PushVlan { tpid, tci } => {
                let (a, b) = (tpid.to_be_bytes(), tci.to_be_bytes());
                w.put(kind, &[a[0], a[1], b[0], b[1]]);
            }
            Action::PopMpls(e) => w.put_be16(kind, *e),
            Action::Hash { alg, basis } => {
                let mut b = [0u8; 8];
                b[..4].copy_from_slice(&alg.to_ne_bytes());
                b[4..].copy_from_slice(&basis.to_ne_bytes());
                w.put(kind, &b);
            }
            Action::PushMpls { lse, ethertype } => {
                let mut b = [0u8; 8];
                b[..4].copy_from_slice(&lse.to_be_bytes());
                b[4..6].copy_from_slice(&ethertype.to_be_bytes());
                w.put(kind, &b);
            }
            Action::AddMpls {
                lse,
                ethertype,
                tun_flags,
            } => {
                let mut b = [0u8; 8];
                b[..4].copy_from_slice(&lse.to_be_bytes());
                b[4..6].copy_from_slice(&ethertype.to_be_bytes());
                b[6..].copy_from_slice(&tun_flags.to_ne_bytes());
                w.put(kind, &b);
            }
            Action::PushEth { src, dst } => {
                let mut b = [0u8; 12];
                b[..6].copy_from_slice(src);
                b[6..].copy_from_slice(dst);
                w.put(kind, &b);
            }
            Action::PopVlan | Action::PopEth | Action::CtClear | Action::PopNsh => w.put_flag(kind),
            Action::Userspace {
                pid,
                userdata,
                egress_tun_port,
                actions,
            } => w.nested(kind, |w| {
                w.put_u32(OVS_USERSPACE_ATTR_PID, *pid);
                if let Some(u) = userdata {
                    w.put(OVS_USERSPACE_ATTR_USERDATA, u);
                }
                if let Some(p) = egress_tun_port {
                    w.put_u32(OVS_USERSPACE_ATTR_EGRESS_TUN_PORT, *p);
                }
                if *actions {
                    w.put_flag(OVS_USERSPACE_ATTR_ACTIONS);
                }
            }),
            Action::Set(k) => w.nested(kind, |w| k.emit(w)),
            Action::SetMasked(v, m) => {
                let (k, payload) = masked_payload(v, m);
                w.nested(kind, |w| w.put(k, &payload));
            }
            Action::Sample {
                probability,
                actions,
            } => w.nested(kind, |w| {
                w.put_u32(OVS_SAMPLE_ATTR_PROBABILITY, *probability);
                w.nested(OVS_SAMPLE_ATTR_ACTIONS, |w| emit_list(actions, w));
            }),
            Action::Ct(ct) => w.nested(kind, |w| ct.emit_nested(w)),
            Action::PushNsh(n) => w.nested(kind, |w| n.emit_nested(w)),
            Action::Clone(list) => w.nested(kind, |w| emit_list(list, w)),
            Action::CheckPktLen {
                pkt_len,
                if_greater,
                if_less_equal,
            } => w.nested(kind, |w| {
                w.put_u16(OVS_CHECK_PKT_LEN_ATTR_PKT_LEN, *pkt_len);
                w.nested(OVS_CHECK_PKT_LEN_ATTR_ACTIONS_IF_GREATER, |w| {
                    emit_list(if_greater, w)
                });
                w.nested(OVS_CHECK_PKT_LEN_ATTR_ACTIONS_IF_LESS_EQUAL, |w| {
                    emit_list(if_less_equal, w)
                });
            }),
            Action::DecTtl(list) => w.nested(kind, |w| {
                w.nested(OVS_DEC_TTL_ATTR_ACTION, |w| emit_list(list, w))
            }),
            Action::Psample { group, cookie } => w.nested(kind, |w| {
                w.put_u32(OVS_PSAMPLE_ATTR_GROUP, *group);
                if let Some(c) = cookie {
                    w.put(OVS_PSAMPLE_ATTR_COOKIE, c);
                }
            }),
            Action::Unknown { payload, .. } => w.put(kind, payload),
        }
    }
}
