//! Kernel validation of an action list against the flow it belongs to.
//!
//! ≈ `__ovs_nla_copy_actions`, `validate_set`, `validate_and_copy_*` in
//! `net/openvswitch/flow_netlink.c` and `ovs_ct_copy_action` in `conntrack.c`, as in Linux 6.1
//! (the Debian 12 kernel OVS 3.1 was tested against): hash algorithm 1 (`SYM_L4`, 6.5+),
//! `DROP` (6.4+) and `PSAMPLE` (6.11+) are refused with `EINVAL` as unknown.
//!
//! The kernel walks the action bytes once, tracking how earlier actions change the packet
//! (ethertype after `push_mpls`, VLAN after `pop_vlan`, L2 presence after `pop_eth`), and
//! checks each action against that running state. Nested lists inherit the running ethertype,
//! VLAN and MPLS depth but restart the L2 presence from the flow key (a kernel quirk kept here).
//!
//! Offsets in errors assume the canonical encoding ([`Action::emit`]) of the list, starting at
//! 0; the caller rebases onto the message.

use super::{Action, Actions, CtAction, KeyAttr, OvsActionAttr, OVS_COPY_ACTIONS_MAX_DEPTH};
use crate::errno::{EINVAL, EMSGSIZE, EOVERFLOW};
use crate::nl::attr::{nla_size, NLA_HDRLEN};
use crate::nl::NlaIter;
use crate::ovs::key::Key;
use crate::{Error, Result};

/// `MAX_ACTIONS_BUFSIZE` in Linux 6.1: the kernel's internal copy of a list is capped at 32 KiB.
pub const MAX_ACTIONS_BUFSIZE: usize = 32 * 1024;
/// `offsetof(struct sw_flow_actions, actions)` on 64-bit: counted against the cap.
pub const SFA_HEADER_LEN: usize = 28;
/// `DP_MAX_PORTS`: output ports must be below this.
pub const DP_MAX_PORTS: u32 = 65535;
/// `ETH_HLEN`: the smallest `trunc` length.
pub const ETH_HLEN: u32 = 14;
/// Estimated `sizeof(struct ovs_conntrack_info)` (x86-64, NAT and zones enabled): what a `ct`
/// action costs in the kernel's internal copy.
pub const CT_INFO_SIZE: usize = 160;

const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const ETH_P_ARP: u16 = 0x0806;
const ETH_P_RARP: u16 = 0x8035;
const ETH_P_MPLS_UC: u16 = 0x8847;
const ETH_P_MPLS_MC: u16 = 0x8848;
const ETH_P_NSH: u16 = 0x894f;
const ETH_P_TEB: u16 = 0x6558;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88a8;
const VLAN_CFI_MASK: u16 = 0x1000;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_SCTP: u8 = 132;

/// Whether the flow's packets start with an Ethernet header (`ovs_key_mac_proto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum MacProto {
    /// Ethernet frames.
    #[default]
    Ethernet,
    /// L3 packets (no `OVS_KEY_ATTR_ETHERNET` in the key).
    None,
}

/// What validation needs from the *masked* flow key (the kernel validates against key & mask).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct FlowFacts {
    /// Ethernet or L3 packets.
    pub mac_proto: MacProto,
    /// Masked ethertype (inner type for tagged frames).
    pub eth_type: u16,
    /// Masked outer VLAN TCI; the CFI bit (0x1000) means "tagged".
    pub vlan_tci: u16,
    /// Masked IP protocol.
    pub ip_proto: u8,
    /// Masked `OVS_FRAG_TYPE_*`.
    pub ip_frag: u8,
    /// Number of MPLS labels the key matches (population count of the label mask).
    pub mpls_labels: u32,
    /// NSH next protocol from the key.
    pub nsh_np: u8,
}

#[derive(Clone, Copy)]
struct State {
    mac_proto: MacProto,
    eth_type: u16,
    vlan_tci: u16,
    mpls_labels: u32,
}

fn einval(offset: usize, msg: &'static str) -> Error {
    Error::new(EINVAL, offset, msg)
}

fn eth_p_mpls(t: u16) -> bool {
    t == ETH_P_MPLS_UC || t == ETH_P_MPLS_MC
}

/// `tun_p_from_eth_p`: ethertypes NSH can carry.
fn tun_p_from_eth_p(t: u16) -> bool {
    matches!(
        t,
        ETH_P_IP | ETH_P_IPV6 | ETH_P_NSH | ETH_P_MPLS_UC | ETH_P_TEB
    )
}

/// `tun_p_to_eth_p`: NSH next-protocol values the kernel can pop to.
fn tun_p_to_eth_p(np: u8) -> bool {
    matches!(np, 1..=5)
}

/// Validates `actions` for a flow described by `facts`; returns the size of the kernel's
/// internal copy (useful only for diagnostics).
///
/// Errors: `EINVAL` for any rule violation, `EOVERFLOW` for lists nested deeper than 16,
/// `EMSGSIZE` when the kernel's internal copy would exceed 32 KiB.
pub fn validate_actions(actions: &Actions, facts: &FlowFacts) -> Result<usize> {
    let st = State {
        mac_proto: facts.mac_proto,
        eth_type: facts.eth_type,
        vlan_tci: facts.vlan_tci,
        mpls_labels: if eth_p_mpls(facts.eth_type) {
            facts.mpls_labels
        } else {
            0
        },
    };
    let mut used = 0usize;
    walk(&actions.0, facts, st, 0, 0, &mut used)?;
    Ok(used)
}

/// Adds `n` bytes to the kernel's internal copy, failing as `reserve_sfa_size` does.
fn reserve(used: &mut usize, n: usize, offset: usize) -> Result<()> {
    *used += n;
    if SFA_HEADER_LEN + *used > MAX_ACTIONS_BUFSIZE {
        return Err(Error::new(
            EMSGSIZE,
            offset,
            "flow action size exceeds 32 KiB",
        ));
    }
    Ok(())
}

fn walk(
    list: &[Action],
    facts: &FlowFacts,
    mut st: State,
    depth: usize,
    base: usize,
    used: &mut usize,
) -> Result<()> {
    if depth > OVS_COPY_ACTIONS_MAX_DEPTH {
        return Err(Error::new(EOVERFLOW, base, "actions nested too deeply"));
    }
    // Each nested list starts from the key's L2 presence, not the parent's running state.
    st.mac_proto = facts.mac_proto;
    let mut off = base;
    for a in list {
        check(a, facts, &mut st, depth, off, used)?;
        off += a.buffer_len();
    }
    Ok(())
}

fn check(
    a: &Action,
    facts: &FlowFacts,
    st: &mut State,
    depth: usize,
    off: usize,
    used: &mut usize,
) -> Result<()> {
    let copy = nla_size(a.buffer_len() - NLA_HDRLEN);
    match a {
        Action::Unknown { .. } | Action::Drop(_) | Action::Psample { .. } => {
            return Err(einval(off, "unknown action type"));
        }
        Action::Userspace { pid, .. } => {
            if *pid == 0 {
                return Err(einval(off, "userspace action needs a non-zero pid"));
            }
            reserve(used, copy, off)?;
        }
        Action::Output(port) => {
            if *port >= DP_MAX_PORTS {
                return Err(einval(off, "output port out of range"));
            }
            reserve(used, copy, off)?;
        }
        Action::Trunc(len) => {
            if *len < ETH_HLEN {
                return Err(einval(off, "trunc length below an Ethernet header"));
            }
            reserve(used, copy, off)?;
        }
        Action::Hash { alg, .. } => {
            if *alg != super::OVS_HASH_ALG_L4 {
                return Err(einval(off, "unsupported hash algorithm"));
            }
            reserve(used, copy, off)?;
        }
        Action::PopVlan => {
            if st.mac_proto != MacProto::Ethernet {
                return Err(einval(off, "pop_vlan needs an Ethernet packet"));
            }
            st.vlan_tci = 0;
            reserve(used, copy, off)?;
        }
        Action::PushVlan { tpid, tci } => {
            if st.mac_proto != MacProto::Ethernet {
                return Err(einval(off, "push_vlan needs an Ethernet packet"));
            }
            if *tpid != ETH_P_8021Q && *tpid != ETH_P_8021AD {
                return Err(einval(off, "push_vlan TPID must be 0x8100 or 0x88a8"));
            }
            if tci & VLAN_CFI_MASK == 0 {
                return Err(einval(off, "push_vlan TCI must have the CFI bit set"));
            }
            st.vlan_tci = *tci;
            reserve(used, copy, off)?;
        }
        Action::Recirc(_) | Action::CtClear | Action::Meter(_) => reserve(used, copy, off)?,
        Action::AddMpls {
            ethertype,
            tun_flags,
            ..
        } => {
            if !eth_p_mpls(*ethertype) {
                return Err(einval(off, "add_mpls ethertype must be MPLS"));
            }
            if tun_flags & super::OVS_MPLS_L3_TUNNEL_FLAG_MASK != 0 {
                if st.vlan_tci & VLAN_CFI_MASK != 0 || !mpls_pushable(st.eth_type) {
                    return Err(einval(off, "add_mpls not allowed on this packet"));
                }
                st.mpls_labels = st.mpls_labels.wrapping_add(1);
            } else if st.mac_proto == MacProto::Ethernet {
                st.mpls_labels = 1;
                st.mac_proto = MacProto::None;
            } else {
                st.mpls_labels = st.mpls_labels.wrapping_add(1);
            }
            st.eth_type = *ethertype;
            reserve(used, copy, off)?;
        }
        Action::PushMpls { ethertype, .. } => {
            if !eth_p_mpls(*ethertype) {
                return Err(einval(off, "push_mpls ethertype must be MPLS"));
            }
            if st.vlan_tci & VLAN_CFI_MASK != 0 || !mpls_pushable(st.eth_type) {
                return Err(einval(off, "push_mpls not allowed on this packet"));
            }
            st.eth_type = *ethertype;
            st.mpls_labels = st.mpls_labels.wrapping_add(1);
            reserve(used, copy, off)?;
        }
        Action::PopMpls(proto) => {
            if st.vlan_tci & VLAN_CFI_MASK != 0 || !eth_p_mpls(st.eth_type) {
                return Err(einval(off, "pop_mpls needs an untagged MPLS packet"));
            }
            if *proto == ETH_P_TEB && st.mac_proto != MacProto::None {
                return Err(einval(off, "pop_mpls to TEB needs an L3 packet"));
            }
            // The kernel's counter is a u32: popping more labels than the key matched wraps
            // and then reads as "labels remain", so the ethertype survives. Same here.
            st.mpls_labels = st.mpls_labels.wrapping_sub(1);
            st.eth_type = if !eth_p_mpls(*proto) || st.mpls_labels == 0 {
                0
            } else {
                *proto
            };
            reserve(used, copy, off)?;
        }
        Action::Set(k) => {
            let (kind, payload) = super::key_wire(k);
            validate_set(Some(k), kind, &payload, None, facts, st, off)?;
            let internal = if kind == KEY_ATTR_TUNNEL {
                // Converted to a kernel-internal tunnel-info pointer.
                NLA_HDRLEN + nla_size(8)
            } else {
                // Converted to a masked set with an all-ones mask.
                NLA_HDRLEN + nla_size(2 * payload.len())
            };
            reserve(used, internal, off)?;
        }
        Action::SetMasked(v, m) => {
            let (kind, payload) = super::masked_payload(v, m);
            validate_set(None, kind, &payload, Some(()), facts, st, off)?;
            reserve(used, copy, off)?;
        }
        Action::Sample { actions, .. } => {
            reserve(used, NLA_HDRLEN + nla_size(8), off)?;
            // Nested list starts after the action header, the probability and the list header.
            let inner = off + NLA_HDRLEN + nla_size(4) + NLA_HDRLEN;
            walk(actions, facts, *st, depth + 1, inner, used)?;
        }
        Action::Clone(list) => {
            reserve(used, NLA_HDRLEN + nla_size(4), off)?;
            walk(list, facts, *st, depth + 1, off + NLA_HDRLEN, used)?;
        }
        Action::CheckPktLen {
            pkt_len,
            if_greater,
            if_less_equal,
        } => {
            if *pkt_len == 0 {
                return Err(einval(off, "check_pkt_len needs a non-zero length"));
            }
            reserve(used, NLA_HDRLEN + nla_size(4) + NLA_HDRLEN, off)?;
            let gt_off = off + NLA_HDRLEN + nla_size(2) + NLA_HDRLEN;
            let le_off = gt_off + super::list_len(if_greater) + NLA_HDRLEN;
            // The kernel copies "less or equal" first.
            walk(if_less_equal, facts, *st, depth + 1, le_off, used)?;
            reserve(used, NLA_HDRLEN, off)?;
            walk(if_greater, facts, *st, depth + 1, gt_off, used)?;
        }
        Action::DecTtl(list) => {
            reserve(used, 2 * NLA_HDRLEN, off)?;
            walk(list, facts, *st, depth + 1, off + 2 * NLA_HDRLEN, used)?;
        }
        Action::Ct(ct) => {
            let ipv6 = match st_family(facts) {
                Some(v6) => v6,
                None => return Err(einval(off, "ct needs an IPv4 or IPv6 flow")),
            };
            check_ct(ct, ipv6, off)?;
            reserve(used, NLA_HDRLEN + nla_size(CT_INFO_SIZE), off)?;
        }
        Action::PushEth { .. } => {
            if st.mac_proto != MacProto::None {
                return Err(einval(off, "push_eth on a packet that has Ethernet"));
            }
            st.mac_proto = MacProto::Ethernet;
            reserve(used, copy, off)?;
        }
        Action::PopEth => {
            if st.mac_proto != MacProto::Ethernet {
                return Err(einval(off, "pop_eth needs an Ethernet packet"));
            }
            if st.vlan_tci & VLAN_CFI_MASK != 0 {
                return Err(einval(off, "pop_eth on a VLAN-tagged packet"));
            }
            st.mac_proto = MacProto::None;
            reserve(used, copy, off)?;
        }
        Action::PushNsh(n) => {
            if st.mac_proto != MacProto::Ethernet && !tun_p_from_eth_p(st.eth_type) {
                return Err(einval(off, "push_nsh cannot carry this packet"));
            }
            st.mac_proto = MacProto::None;
            if !nsh_push_ok(n) {
                return Err(einval(off, "invalid NSH header for push_nsh"));
            }
            reserve(used, copy, off)?;
        }
        Action::PopNsh => {
            if st.eth_type != ETH_P_NSH {
                return Err(einval(off, "pop_nsh needs an NSH packet"));
            }
            if !tun_p_to_eth_p(facts.nsh_np) {
                return Err(einval(off, "pop_nsh to an unknown next protocol"));
            }
            st.mac_proto = if facts.nsh_np == 3 {
                MacProto::Ethernet
            } else {
                MacProto::None
            };
            reserve(used, copy, off)?;
        }
    }
    Ok(())
}

/// `key_to_nfproto`: `Some(false)` IPv4, `Some(true)` IPv6, `None` otherwise.
fn st_family(facts: &FlowFacts) -> Option<bool> {
    match facts.eth_type {
        ETH_P_IP => Some(false),
        ETH_P_IPV6 => Some(true),
        _ => None,
    }
}

fn check_ct(ct: &CtAction, ipv6: bool, off: usize) -> Result<()> {
    ct.check(ipv6, off)
}

fn mpls_pushable(eth_type: u16) -> bool {
    matches!(eth_type, ETH_P_IP | ETH_P_IPV6 | ETH_P_ARP | ETH_P_RARP) || eth_p_mpls(eth_type)
}

/// `validate_push_nsh`: mdtype 1 needs exactly MD1, mdtype 2 MD2 of at most 248 bytes; the
/// TTL is 6 bits, the SPI 24.
fn nsh_push_ok(n: &super::NshPush) -> bool {
    if n.ttl > 63 {
        return false;
    }
    match n.mdtype {
        super::NSH_M_TYPE1 => n.md1.is_some() && n.md2.is_none(),
        super::NSH_M_TYPE2 => n.md1.is_none() && n.md2.as_ref().is_some_and(|m| m.len() <= 248),
        _ => false,
    }
}

const KEY_ATTR_PRIORITY: u16 = 2;
const KEY_ATTR_ETHERNET: u16 = 4;
const KEY_ATTR_IPV4: u16 = 7;
const KEY_ATTR_IPV6: u16 = 8;
const KEY_ATTR_TCP: u16 = 9;
const KEY_ATTR_UDP: u16 = 10;
const KEY_ATTR_SKB_MARK: u16 = 15;
const KEY_ATTR_TUNNEL: u16 = 16;
const KEY_ATTR_SCTP: u16 = 17;
const KEY_ATTR_MPLS: u16 = 21;
const KEY_ATTR_CT_MARK: u16 = 24;
const KEY_ATTR_CT_LABELS: u16 = 25;
const KEY_ATTR_NSH: u16 = 28;

/// Fixed payload sizes (`ovs_key_lens`) of the settable key attributes; `None` = variable or
/// nested.
fn settable_len(kind: u16) -> Option<Option<usize>> {
    Some(match kind {
        KEY_ATTR_PRIORITY | KEY_ATTR_SKB_MARK | KEY_ATTR_CT_MARK => Some(4),
        KEY_ATTR_CT_LABELS => Some(16),
        KEY_ATTR_ETHERNET => Some(12),
        KEY_ATTR_IPV4 => Some(12),
        KEY_ATTR_IPV6 => Some(40),
        KEY_ATTR_TCP | KEY_ATTR_UDP | KEY_ATTR_SCTP => Some(4),
        KEY_ATTR_TUNNEL | KEY_ATTR_MPLS | KEY_ATTR_NSH => None,
        _ => return None,
    })
}

/// `validate_set`: `masked` is `Some` for `SET_MASKED`, whose `payload` is value ‖ mask.
fn validate_set(
    tunnel: Option<&KeyAttr>,
    kind: u16,
    payload: &[u8],
    masked: Option<()>,
    facts: &FlowFacts,
    st: &State,
    off: usize,
) -> Result<()> {
    let key_len = if masked.is_some() {
        payload.len() / 2
    } else {
        payload.len()
    };
    let Some(expected) = settable_len(kind) else {
        return Err(einval(off, "key attribute cannot be set"));
    };
    if expected.is_some_and(|n| n != key_len) {
        return Err(einval(off, "set key attribute has the wrong length"));
    }
    let (value, mask) = payload.split_at(key_len.min(payload.len()));
    if masked.is_some() && value.iter().zip(mask).any(|(v, m)| v & !m != 0) {
        return Err(einval(off, "masked set value has bits outside its mask"));
    }
    let ip_or_ip6 = st.eth_type == ETH_P_IP || st.eth_type == ETH_P_IPV6;
    match kind {
        KEY_ATTR_PRIORITY | KEY_ATTR_SKB_MARK | KEY_ATTR_CT_MARK | KEY_ATTR_CT_LABELS => {}
        KEY_ATTR_ETHERNET => {
            if st.mac_proto != MacProto::Ethernet {
                return Err(einval(off, "set(eth) needs an Ethernet packet"));
            }
        }
        KEY_ATTR_TUNNEL => {
            if masked.is_some() {
                return Err(einval(off, "masked tunnel set is not supported"));
            }
            if let Some(KeyAttr::Tunnel(t)) = tunnel {
                t.validate_key(off)?;
            }
        }
        KEY_ATTR_IPV4 => {
            if st.eth_type != ETH_P_IP {
                return Err(einval(off, "set(ipv4) needs an IPv4 flow"));
            }
            // proto at 8, frag at 11.
            if masked.is_some() {
                if mask[8] != 0 || mask[11] != 0 {
                    return Err(einval(off, "ipv4 proto and frag are not writable"));
                }
            } else if value[8] != facts.ip_proto || value[11] != facts.ip_frag {
                return Err(einval(off, "set(ipv4) must keep the flow's proto and frag"));
            }
        }
        KEY_ATTR_IPV6 => {
            if st.eth_type != ETH_P_IPV6 {
                return Err(einval(off, "set(ipv6) needs an IPv6 flow"));
            }
            // label at 32..36, proto at 36, frag at 39.
            let label = |b: &[u8]| u32::from_be_bytes([b[32], b[33], b[34], b[35]]);
            if masked.is_some() {
                if mask[36] != 0 || mask[39] != 0 {
                    return Err(einval(off, "ipv6 proto and frag are not writable"));
                }
                if label(mask) & 0xfff0_0000 != 0 {
                    return Err(einval(off, "ipv6 label mask beyond 20 bits"));
                }
            } else if value[36] != facts.ip_proto || value[39] != facts.ip_frag {
                return Err(einval(off, "set(ipv6) must keep the flow's proto and frag"));
            }
            if label(value) & 0xfff0_0000 != 0 {
                return Err(einval(off, "ipv6 label beyond 20 bits"));
            }
        }
        KEY_ATTR_TCP | KEY_ATTR_UDP | KEY_ATTR_SCTP => {
            let want = match kind {
                KEY_ATTR_TCP => IPPROTO_TCP,
                KEY_ATTR_UDP => IPPROTO_UDP,
                _ => IPPROTO_SCTP,
            };
            if !ip_or_ip6 || facts.ip_proto != want {
                return Err(einval(off, "set of an L4 header the flow does not have"));
            }
        }
        KEY_ATTR_MPLS => {
            if !eth_p_mpls(st.eth_type) {
                return Err(einval(off, "set(mpls) needs an MPLS packet"));
            }
        }
        KEY_ATTR_NSH => {
            if st.eth_type != ETH_P_NSH {
                return Err(einval(off, "set(nsh) needs an NSH packet"));
            }
            validate_set_nsh(payload, masked.is_some(), off)?;
        }
        _ => return Err(einval(off, "key attribute cannot be set")),
    }
    Ok(())
}

/// `nsh_key_put_from_nlattr` for a set: BASE required; MD1 16 bytes (32 masked); MD2 refused.
fn validate_set_nsh(payload: &[u8], masked: bool, off: usize) -> Result<()> {
    let mult = if masked { 2 } else { 1 };
    let mut base = false;
    for sub in NlaIter::new(payload) {
        let sub = sub.map_err(|e| e.rebase(off))?;
        match sub.kind {
            1 if sub.payload.len() == 8 * mult => base = true,
            2 if sub.payload.len() == 16 * mult => {}
            _ => return Err(einval(off, "invalid NSH attribute in set")),
        }
    }
    if !base {
        return Err(einval(off, "set(nsh) without a base header"));
    }
    Ok(())
}

/// Whether Linux 6.1 accepts this action type at all (`DROP`, `PSAMPLE` came later).
pub fn is_known_to_linux_6_1(a: OvsActionAttr) -> bool {
    !matches!(
        a,
        OvsActionAttr::OVS_ACTION_ATTR_DROP
            | OvsActionAttr::OVS_ACTION_ATTR_PSAMPLE
            | OvsActionAttr::Unknown(_)
    )
}

impl FlowFacts {
    /// Derives the facts from a flow key and its mask (`None` = exact match), as the kernel's
    /// masked key would present them: each field is `key & mask`, absent mask attributes
    /// wildcard their field. The L2 presence and ethertype are always exact in the kernel.
    pub fn from_key(key: &Key, mask: Option<&Key>) -> FlowFacts {
        use crate::ovs::key::OvsKeyAttr as K;
        let mut f = FlowFacts {
            mac_proto: if key.contains(K::Ethernet) {
                MacProto::Ethernet
            } else {
                MacProto::None
            },
            ..FlowFacts::default()
        };
        // For a tagged frame the L3 facts live inside the outer ENCAP.
        let (mut lvl, mut mlvl) = (key, mask);
        if let Some(KeyAttr::Vlan(tci)) = key.get(K::Vlan) {
            let m = match mask.map(|m| m.get(K::Vlan)) {
                None => 0xffff,
                Some(Some(KeyAttr::Vlan(m))) => *m,
                Some(_) => 0,
            };
            f.vlan_tci = tci & m;
            if let Some(KeyAttr::Encap(inner)) = key.get(K::Encap) {
                lvl = inner;
                mlvl = match mask.map(|m| m.get(K::Encap)) {
                    Some(Some(KeyAttr::Encap(mi))) => Some(mi),
                    _ => mask,
                };
            }
        }
        if let Some(KeyAttr::Ethertype(t)) = lvl.get(K::Ethertype) {
            f.eth_type = *t;
        }
        let mask_of = |kind: K| -> Option<Option<&KeyAttr>> { mlvl.map(|m| m.get(kind)) };
        match lvl.get(K::Ipv4) {
            Some(KeyAttr::Ipv4(k)) => {
                let (pm, fm) = match mask_of(K::Ipv4) {
                    None => (0xff, 0xff),
                    Some(Some(KeyAttr::Ipv4(m))) => (m.proto, m.frag),
                    Some(_) => (0, 0),
                };
                f.ip_proto = k.proto & pm;
                f.ip_frag = k.frag & fm;
            }
            _ => {
                if let Some(KeyAttr::Ipv6(k)) = lvl.get(K::Ipv6) {
                    let (pm, fm) = match mask_of(K::Ipv6) {
                        None => (0xff, 0xff),
                        Some(Some(KeyAttr::Ipv6(m))) => (m.proto, m.frag),
                        Some(_) => (0, 0),
                    };
                    f.ip_proto = k.proto & pm;
                    f.ip_frag = k.frag & fm;
                }
            }
        }
        if let Some(KeyAttr::Mpls(labels)) = lvl.get(K::Mpls) {
            f.mpls_labels = match mask_of(K::Mpls) {
                None => labels.len() as u32,
                Some(Some(KeyAttr::Mpls(m))) => m.iter().filter(|&&l| l != 0).count() as u32,
                Some(_) => 0,
            };
        }
        if let Some(KeyAttr::Nsh(n)) = lvl.get(K::Nsh) {
            let np = n.base.map_or(0, |b| b.np);
            let m = match mask_of(K::Nsh) {
                None => 0xff,
                Some(Some(KeyAttr::Nsh(m))) => m.base.map_or(0, |b| b.np),
                Some(_) => 0,
            };
            f.nsh_np = np & m;
        }
        f
    }
}
