//! The per-packet interpreter of [`CompiledActions`] (≈ `do_execute_actions`).

use userdp_protocol::errno::{EAFNOSUPPORT, EINVAL, ENOMEM, EPROTO};
use userdp_protocol::ovs::key::{FlowKey, MAC_PROTO_ETHERNET, MAC_PROTO_NONE};
use userdp_protocol::wire::ethernet::{is_mpls, is_vlan, ETH_P_802_2, ETH_P_802_3_MIN};
use userdp_protocol::wire::ethernet::{ETH_P_IP, ETH_P_IPV6};
use userdp_protocol::wire::ipv6::walk_ext_headers;
use userdp_protocol::wire::{checksum, ipv4, ipv6, sctp};
use userdp_protocol::wire::{IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP};

use super::nsh;
use super::{
    CompiledActions, EthSet, ExecContext, ExecError, Ipv4Set, Ipv6Set, NshSet, Op, OutputMeta,
    Span, Upcall, L4,
};
use crate::port::batch::Packet;

/// `EPROTONOSUPPORT`: `push_eth` on a frame that already has a MAC header.
const EPROTONOSUPPORT: i32 = 93;
/// Bytes of an Ethernet header.
const ETH_HLEN: usize = 14;
/// The CFI/DEI bit: marks a present tag in keys and actions, written as 0 into frames.
const VLAN_CFI_MASK: u16 = 0x1000;

/// Per-packet state the kernel keeps in the skb and `OVS_CB(skb)`.
#[derive(Debug, Clone, Copy)]
struct State {
    /// False once the frame's shape changed under the key (`SW_FLOW_KEY_INVALID`).
    valid: bool,
    /// `MAC_PROTO_ETHERNET` or `MAC_PROTO_NONE`.
    mac_proto: u8,
    /// `skb->protocol` for frames without Ethernet (Ethernet frames carry it in-line).
    l3_proto: u16,
    /// `OVS_CB(skb)->cutlen`: bytes the next output or upcall leaves off.
    cutlen: u32,
    /// The tunnel set by `set(tunnel(...))` (`skb_dst`), an index into the tunnel table.
    tunnel: Option<u32>,
}

/// Whether the list goes on after an action.
enum Flow {
    /// Run the next action.
    Continue,
    /// The packet was consumed (last output, meter drop, explicit drop, …).
    Stop,
}

type Step = Result<Flow, ExecError>;

fn fail(errno: i32) -> ExecError {
    ExecError { errno }
}

/// Runs `ops` on `pkt`, whose headers `key` describes, sending the results through `ctx`.
///
/// A tag AF_PACKET stripped (`pkt.vlan`) is put back into the frame first. `key` is updated
/// as the kernel updates its flow key. `Err` means the packet was dropped by a failing action
/// (the kernel's `kfree_skb` path); meter drops, explicit drops and the empty list are `Ok`.
/// Nothing is allocated unless a nested list needs a copy ([`ExecContext::copy_packet`]).
pub fn execute(
    ops: &CompiledActions,
    pkt: &mut Packet,
    key: &mut FlowKey,
    ctx: &mut dyn ExecContext,
) -> Result<(), ExecError> {
    if pkt.vlan.is_some() && !pkt.restore_vlan() {
        return Err(fail(ENOMEM));
    }
    let mut st = State {
        valid: true,
        mac_proto: if key.mac_proto() == MAC_PROTO_ETHERNET {
            MAC_PROTO_ETHERNET
        } else {
            MAC_PROTO_NONE
        },
        l3_proto: key.eth_type(),
        cutlen: 0,
        tunnel: None,
    };
    run(ops, ops.top, pkt, key, &mut st, ctx).map(|_| ())
}

fn run(
    c: &CompiledActions,
    span: Span,
    pkt: &mut Packet,
    key: &mut FlowKey,
    st: &mut State,
    ctx: &mut dyn ExecContext,
) -> Step {
    let ops = c.ops.get(span.range()).unwrap_or(&[]);
    let n = ops.len();
    for (i, op) in ops.iter().enumerate() {
        if let Flow::Stop = step(c, op, i + 1 == n, pkt, key, st, ctx)? {
            return Ok(Flow::Stop);
        }
    }
    Ok(Flow::Continue)
}

fn cont(last: bool) -> Flow {
    if last {
        Flow::Stop
    } else {
        Flow::Continue
    }
}

#[allow(clippy::too_many_arguments)]
fn step(
    c: &CompiledActions,
    op: &Op,
    last: bool,
    pkt: &mut Packet,
    key: &mut FlowKey,
    st: &mut State,
    ctx: &mut dyn ExecContext,
) -> Step {
    match op {
        Op::Output(port) => {
            let meta = OutputMeta {
                len: output_len(pkt, st),
                mac_proto: st.mac_proto,
                tunnel: st.tunnel.and_then(|i| c.tunnels.get(i as usize)),
                priority: key.priority(),
                skb_mark: key.skb_mark(),
            };
            if last {
                ctx.output_last(*port, pkt, &meta);
            } else {
                ctx.output(*port, pkt, &meta);
            }
            st.cutlen = 0;
            return Ok(cont(last));
        }
        Op::Userspace {
            pid,
            userdata,
            egress_tun_port,
            actions,
        } => {
            let bytes = |s: &Option<Span>| s.and_then(|s| c.bytes.get(s.range()));
            let up = Upcall {
                pid: *pid,
                userdata: bytes(userdata),
                egress_tun_port: *egress_tun_port,
                actions: bytes(actions),
                len: pkt.len().saturating_sub(st.cutlen as usize),
            };
            ctx.userspace(&up, pkt, key);
            st.cutlen = 0;
        }
        Op::Trunc(max) => {
            // Only a shorter limit sets the cut: a frame already within it keeps any cut a
            // previous trunc set.
            let len = skb_len(pkt, st) as u64;
            if len > u64::from(*max) {
                st.cutlen = (len - u64::from(*max)) as u32;
            }
        }
        Op::Priority { value, mask } => key.set_priority((key.priority() & !mask) | value),
        Op::SkbMark { value, mask } => key.set_skb_mark((key.skb_mark() & !mask) | value),
        Op::Tunnel(i) => st.tunnel = Some(*i),
        Op::Eth(s) => set_eth(s, pkt, key)?,
        Op::Ipv4(s) => set_ipv4(s, pkt, key, st)?,
        Op::Ipv6(s) => set_ipv6(s, pkt, key, st)?,
        Op::Ports {
            l4,
            src,
            src_mask,
            dst,
            dst_mask,
        } => set_ports(*l4, [*src, *src_mask, *dst, *dst_mask], pkt, key, st)?,
        Op::Mpls { lse, mask } => {
            let off = l2_len(pkt, st);
            let f = pkt.data_mut().get_mut(off..off + 4).ok_or(fail(ENOMEM))?;
            let old = u32::from_be_bytes([f[0], f[1], f[2], f[3]]);
            let new = (old & !mask) | lse;
            f.copy_from_slice(&new.to_be_bytes());
            key.set_mpls_lse(0, new);
        }
        Op::Nsh(s) => set_nsh(s, pkt, key, st)?,
        Op::PushVlan { tpid, tci } => {
            let tagged = outer_tag(pkt, st);
            let h = pkt.insert(12, 4).ok_or(fail(ENOMEM))?;
            h[..2].copy_from_slice(&tpid.to_be_bytes());
            h[2..].copy_from_slice(&(tci & !VLAN_CFI_MASK).to_be_bytes());
            if tagged {
                // The kernel moves the old accelerated tag into the frame: the key's tag
                // fields no longer describe the frame.
                st.valid = false;
            } else {
                key.set_vlan_tci(*tci);
                key.set_vlan_tpid(*tpid);
            }
        }
        Op::PopVlan => {
            if outer_tag(pkt, st) && !pkt.remove(12, 4) {
                return Err(fail(ENOMEM));
            }
            if outer_tag(pkt, st) {
                // An inner tag became the outer one (`skb_vlan_pop` re-accelerates it).
                st.valid = false;
            } else {
                key.set_vlan_tci(0);
                key.set_vlan_tpid(0);
            }
        }
        Op::PushMpls {
            lse,
            ethertype,
            at_l2_end,
        } => {
            let mac_len = if *at_l2_end { l2_len(pkt, st) } else { 0 };
            let h = pkt.insert(mac_len, 4).ok_or(fail(ENOMEM))?;
            h.copy_from_slice(&lse.to_be_bytes());
            if st.mac_proto == MAC_PROTO_ETHERNET && mac_len >= ETH_HLEN {
                put_be16(pkt.data_mut(), mac_len - 2, *ethertype);
            } else {
                // Label in front of everything: the frame is now an L3 MPLS packet.
                st.mac_proto = MAC_PROTO_NONE;
                key.set_mac_proto(MAC_PROTO_NONE);
                st.l3_proto = *ethertype;
            }
            st.valid = false;
        }
        Op::PopMpls(next) => {
            if is_mpls(net_proto(pkt, st)) {
                let mac_len = l2_len(pkt, st);
                if pkt.len() < mac_len + 4 || !pkt.remove(mac_len, 4) {
                    return Err(fail(ENOMEM));
                }
                if st.mac_proto == MAC_PROTO_ETHERNET && mac_len >= ETH_HLEN {
                    put_be16(pkt.data_mut(), mac_len - 2, *next);
                } else {
                    st.l3_proto = *next;
                }
            }
            if *next == nsh::ETH_P_TEB {
                st.mac_proto = MAC_PROTO_ETHERNET;
                key.set_mac_proto(MAC_PROTO_ETHERNET);
            }
            st.valid = false;
        }
        Op::PushEth { src, dst } => {
            if st.mac_proto == MAC_PROTO_ETHERNET {
                return Err(fail(EPROTONOSUPPORT));
            }
            let h = pkt.insert(0, ETH_HLEN).ok_or(fail(ENOMEM))?;
            h[..6].copy_from_slice(dst);
            h[6..12].copy_from_slice(src);
            h[12..].copy_from_slice(&st.l3_proto.to_be_bytes());
            st.mac_proto = MAC_PROTO_ETHERNET;
            key.set_mac_proto(MAC_PROTO_ETHERNET);
            st.valid = false;
        }
        Op::PopEth => {
            let d = pkt.data();
            let tagged = d.len() >= ETH_HLEN && is_vlan(be16(d, 12));
            if st.mac_proto != MAC_PROTO_ETHERNET || d.len() < ETH_HLEN || tagged {
                return Err(fail(EPROTO));
            }
            st.l3_proto = be16(d, 12);
            if !pkt.remove(0, ETH_HLEN) {
                return Err(fail(EPROTO));
            }
            st.mac_proto = MAC_PROTO_NONE;
            key.set_mac_proto(MAC_PROTO_NONE);
            st.valid = false;
        }
        Op::PushNsh(span) => {
            let hdr = c.bytes.get(span.range()).ok_or(fail(EINVAL))?;
            let np = if l2_len(pkt, st) != 0 {
                nsh::TUN_P_ETHERNET
            } else {
                nsh::ethertype_to_np(st.l3_proto)
            };
            if np == 0 {
                return Err(fail(EAFNOSUPPORT));
            }
            let h = pkt.insert(0, hdr.len()).ok_or(fail(ENOMEM))?;
            h.copy_from_slice(hdr);
            if let Some(b) = h.get_mut(3) {
                *b = np;
            }
            st.mac_proto = MAC_PROTO_NONE;
            key.set_mac_proto(MAC_PROTO_NONE);
            st.l3_proto = nsh::ETH_P_NSH;
            st.valid = false;
        }
        Op::PopNsh => {
            let d = pkt.data();
            if d.len() < nsh::BASE_LEN {
                return Err(fail(ENOMEM));
            }
            let (_, _, len) = nsh::split_word0(be16(d, 0));
            if len < nsh::BASE_LEN {
                return Err(fail(EINVAL));
            }
            let inner = nsh::np_to_ethertype(d[3]);
            if d.len() < len {
                return Err(fail(ENOMEM));
            }
            if inner == 0 {
                return Err(fail(EAFNOSUPPORT));
            }
            if !pkt.remove(0, len) {
                return Err(fail(ENOMEM));
            }
            st.l3_proto = inner;
            st.mac_proto = if inner == nsh::ETH_P_TEB {
                MAC_PROTO_ETHERNET
            } else {
                MAC_PROTO_NONE
            };
            key.set_mac_proto(st.mac_proto);
            st.valid = false;
        }
        Op::Recirc(id) => {
            if !st.valid {
                if st.mac_proto != MAC_PROTO_ETHERNET {
                    key.set_eth_type(st.l3_proto);
                }
                if !ctx.update_key(pkt, key) {
                    return Err(fail(EINVAL));
                }
                st.valid = true;
            }
            let mut k = key.clone();
            k.set_recirc_id(*id);
            ctx.recirc(*id, pkt, &k);
            return Ok(cont(last));
        }
        Op::Hash { basis } => {
            let h = jhash_1word(l4_hash(key, ctx.hash_seed()), *basis);
            key.set_dp_hash(if h == 0 { 1 } else { h });
        }
        Op::Meter(id) => {
            if ctx.meter(*id, skb_len(pkt, st)) {
                return Ok(Flow::Stop);
            }
        }
        Op::CtClear => {
            key.set_ct_state(0);
            key.set_ct_zone(0);
            key.set_ct_mark(0);
            key.set_ct_labels(0);
            key.set_ct_orig_proto(0);
            key.set_ct_src(0);
            key.set_ct_dst(0);
            key.set_ct_tp_src(0);
            key.set_ct_tp_dst(0);
        }
        Op::Sample { probability, body } => {
            // `probability` is the fraction of u32::MAX; u32::MAX itself skips the draw.
            if *probability != u32::MAX && (*probability == 0 || ctx.random_u32() > *probability) {
                return Ok(cont(last));
            }
            return nested(c, *body, last, pkt, key, st, ctx);
        }
        Op::Clone(body) => return nested(c, *body, last, pkt, key, st, ctx),
        Op::CheckPktLen {
            pkt_len,
            if_greater,
            if_less_equal,
        } => {
            let max = usize::from(*pkt_len);
            let le = gso_seg_len(pkt, st).is_some_and(|l| l <= max) || skb_len(pkt, st) <= max;
            let body = if le { *if_less_equal } else { *if_greater };
            return nested(c, body, last, pkt, key, st, ctx);
        }
        Op::DecTtl(body) => {
            if dec_ttl(pkt, key, st)? {
                // TTL would expire: the nested list (or nothing) gets the packet, and the rest
                // of this list is skipped.
                if !body.is_empty() {
                    run(c, *body, pkt, key, st, ctx)?;
                }
                return Ok(Flow::Stop);
            }
        }
        Op::Drop => return Ok(Flow::Stop),
        Op::Fail(e) => return Err(fail(*e)),
    }
    Ok(Flow::Continue)
}

/// Runs a nested list: in place when it is the last action (the kernel does not clone then),
/// otherwise on a copy of the packet, key and state, so the original is untouched.
#[allow(clippy::too_many_arguments)]
fn nested(
    c: &CompiledActions,
    body: Span,
    last: bool,
    pkt: &mut Packet,
    key: &mut FlowKey,
    st: &mut State,
    ctx: &mut dyn ExecContext,
) -> Step {
    if last {
        run(c, body, pkt, key, st, ctx)?;
        return Ok(Flow::Stop);
    }
    let Some(mut copy) = ctx.copy_packet(pkt) else {
        return Ok(Flow::Continue);
    };
    let mut k = key.clone();
    let mut s = *st;
    let r = run(c, body, &mut copy, &mut k, &mut s, ctx);
    ctx.free_packet(copy);
    r?;
    Ok(Flow::Continue)
}

fn be16(d: &[u8], at: usize) -> u16 {
    match d.get(at..at + 2) {
        Some(b) => u16::from_be_bytes([b[0], b[1]]),
        None => 0,
    }
}

fn put_be16(d: &mut [u8], at: usize, v: u16) {
    if let Some(b) = d.get_mut(at..at + 2) {
        b.copy_from_slice(&v.to_be_bytes());
    }
}

/// Whether the frame's outer tag is one the kernel would hold in `skb->vlan_tci`.
fn outer_tag(pkt: &Packet, st: &State) -> bool {
    let d = pkt.data();
    st.mac_proto == MAC_PROTO_ETHERNET && d.len() >= 18 && is_vlan(be16(d, 12))
}

/// The kernel's `skb->len`: the frame without an outer (accelerated) tag.
fn skb_len(pkt: &Packet, st: &State) -> usize {
    pkt.len() - if outer_tag(pkt, st) { 4 } else { 0 }
}

/// Length of the MAC header: 0 without Ethernet, else 14 plus up to two VLAN tags (what
/// `key_extract` parses, and so `skb->mac_len` plus an accelerated tag).
fn l2_len(pkt: &Packet, st: &State) -> usize {
    if st.mac_proto != MAC_PROTO_ETHERNET {
        return 0;
    }
    let d = pkt.data();
    let mut at = 12;
    for _ in 0..2 {
        if d.len() >= at + 6 && is_vlan(be16(d, at)) {
            at += 4;
        } else {
            break;
        }
    }
    at + 2
}

/// `skb->protocol`: the ethertype after the tags, or the tracked L3 protocol.
fn net_proto(pkt: &Packet, st: &State) -> u16 {
    if st.mac_proto != MAC_PROTO_ETHERNET {
        return st.l3_proto;
    }
    let at = l2_len(pkt, st) - 2;
    match pkt.data().get(at..at + 2) {
        Some(b) => match u16::from_be_bytes([b[0], b[1]]) {
            t if t < ETH_P_802_3_MIN => ETH_P_802_2,
            t => t,
        },
        None => 0,
    }
}

/// Bytes an output sends after a `trunc`: `do_output` trims `cutlen` but never below the MAC
/// header, and an unsigned wrap (the frame shrank below the cut) trims nothing.
fn output_len(pkt: &Packet, st: &State) -> usize {
    if st.cutlen == 0 {
        return pkt.len();
    }
    let tag = pkt.len() - skb_len(pkt, st);
    let base = skb_len(pkt, st) as u32;
    let mac_hdr = if st.mac_proto == MAC_PROTO_ETHERNET {
        ETH_HLEN as u32
    } else {
        0
    };
    let rem = base.wrapping_sub(st.cutlen);
    let keep = if rem > mac_hdr {
        rem.min(base)
    } else {
        mac_hdr
    };
    (keep as usize + tag).min(pkt.len())
}

/// For a GSO super-frame, the length of each segment on the wire (`skb_gso_mac_seglen`).
fn gso_seg_len(pkt: &Packet, st: &State) -> Option<usize> {
    if !pkt.vnet.is_gso() {
        return None;
    }
    let l4 = usize::from(pkt.vnet.csum_start);
    let d = pkt.data();
    let l4_hdr = match pkt.vnet.gso_type & 0x7f {
        // UDP fragmentation offload and USO replicate an 8-byte UDP header.
        3 | 5 => 8,
        _ => usize::from(d.get(l4 + 12)? >> 4) * 4,
    };
    let tag = pkt.len() - skb_len(pkt, st);
    Some((l4 + l4_hdr + usize::from(pkt.vnet.gso_size)).saturating_sub(tag))
}

fn set_eth(s: &EthSet, pkt: &mut Packet, key: &mut FlowKey) -> Result<(), ExecError> {
    let h = pkt.data_mut().get_mut(..12).ok_or(fail(ENOMEM))?;
    for i in 0..6 {
        h[i] = (h[i] & !s.dst_mask[i]) | s.dst[i];
        h[6 + i] = (h[6 + i] & !s.src_mask[i]) | s.src[i];
    }
    let mut dst = [0u8; 6];
    let mut src = [0u8; 6];
    dst.copy_from_slice(&h[..6]);
    src.copy_from_slice(&h[6..12]);
    key.set_eth_dst(dst);
    key.set_eth_src(src);
    Ok(())
}

fn masked<const N: usize>(old: [u8; N], v: &[u8; N], m: &[u8; N]) -> [u8; N] {
    let mut out = old;
    for ((o, v), m) in out.iter_mut().zip(v).zip(m) {
        *o = (*o & !m) | v;
    }
    out
}

/// Updates a transport checksum field holding a partial (pseudo-header only, not inverted)
/// sum, as `inet_proto_csum_replace*` does for `CHECKSUM_PARTIAL`: the device completes it.
fn partial_update(l4: &mut [u8], at: usize, old: &[u8], new: &[u8], udp: bool) {
    let Some(f) = l4.get_mut(at..at + 2) else {
        return;
    };
    let c = u16::from_be_bytes([f[0], f[1]]);
    let mut n = !checksum::update_bytes(!c, old, new);
    if udp && n == 0 {
        n = 0xffff;
    }
    f.copy_from_slice(&n.to_be_bytes());
}

fn set_ipv4(s: &Ipv4Set, pkt: &mut Packet, key: &mut FlowKey, st: &State) -> Result<(), ExecError> {
    let off = l2_len(pkt, st);
    let partial = pkt.vnet.needs_csum();
    let d = pkt.data_mut().get_mut(off..).ok_or(fail(ENOMEM))?;
    let mut ip = ipv4::Packet::new_checked_header(d).map_err(|_| fail(ENOMEM))?;
    for is_src in [true, false] {
        let (v, m) = if is_src {
            (&s.src, &s.src_mask)
        } else {
            (&s.dst, &s.dst_mask)
        };
        if *m == [0; 4] {
            continue;
        }
        let old = if is_src { ip.src_addr() } else { ip.dst_addr() };
        let new = masked(old, v, m);
        if new == old {
            continue;
        }
        match (partial, is_src) {
            (false, true) => ip.rewrite_src_addr(new),
            (false, false) => ip.rewrite_dst_addr(new),
            (true, _) => {
                if is_src {
                    ip.set_src_addr(new);
                } else {
                    ip.set_dst_addr(new);
                }
                ip.set_checksum(checksum::update_addr_v4(ip.checksum(), &old, &new));
                if ip.frag_offset() == 0 {
                    let proto = ip.protocol();
                    let l4 = ip.payload_mut();
                    match proto {
                        IPPROTO_TCP if l4.len() >= 20 => partial_update(l4, 16, &old, &new, false),
                        IPPROTO_UDP if l4.len() >= 8 => partial_update(l4, 6, &old, &new, true),
                        _ => {}
                    }
                }
            }
        }
        let a = u128::from(u32::from_be_bytes(new));
        if is_src {
            key.set_ip_src(a);
        } else {
            key.set_ip_dst(a);
        }
    }
    if s.tos_mask != 0 {
        let tos = (ip.tos() & !s.tos_mask) | s.tos;
        ip.rewrite_tos(tos);
        key.set_ip_tos(tos);
    }
    if s.ttl_mask != 0 {
        let ttl = (ip.ttl() & !s.ttl_mask) | s.ttl;
        ip.rewrite_ttl(ttl);
        key.set_ip_ttl(ttl);
    }
    Ok(())
}

/// The partial-checksum counterpart of `ipv6::Packet::rewrite_*_addr`'s transport fix-up.
fn v6_partial_fix(b: &mut [u8], old: &[u8; 16], new: &[u8; 16], is_dst: bool) {
    let nh = match b.get(6) {
        Some(n) => *n,
        None => return,
    };
    let Ok(e) = walk_ext_headers(b, ipv6::HEADER_LEN, nh) else {
        return;
    };
    if is_dst && e.active_routing {
        return;
    }
    let (at, min, udp) = match e.next_header {
        IPPROTO_TCP => (16, 20, false),
        IPPROTO_UDP => (6, 8, true),
        IPPROTO_ICMPV6 => (2, 4, false),
        _ => return,
    };
    match b.get_mut(e.l4_offset..) {
        Some(l4) if l4.len() >= min => partial_update(l4, at, old, new, udp),
        _ => {}
    }
}

fn set_ipv6(s: &Ipv6Set, pkt: &mut Packet, key: &mut FlowKey, st: &State) -> Result<(), ExecError> {
    let off = l2_len(pkt, st);
    let partial = pkt.vnet.needs_csum();
    let d = pkt.data_mut().get_mut(off..).ok_or(fail(ENOMEM))?;
    if d.len() < ipv6::HEADER_LEN {
        return Err(fail(ENOMEM));
    }
    for is_src in [true, false] {
        let (v, m) = if is_src {
            (&s.src, &s.src_mask)
        } else {
            (&s.dst, &s.dst_mask)
        };
        if *m == [0; 16] {
            continue;
        }
        let mut ip = ipv6::Packet::new_checked_header(&mut *d).map_err(|_| fail(ENOMEM))?;
        let old = if is_src { ip.src_addr() } else { ip.dst_addr() };
        let new = masked(old, v, m);
        if new == old {
            continue;
        }
        match (partial, is_src) {
            (false, true) => ip.rewrite_src_addr(new),
            (false, false) => ip.rewrite_dst_addr(new),
            (true, true) => ip.set_src_addr(new),
            (true, false) => ip.set_dst_addr(new),
        }
        if partial {
            v6_partial_fix(d, &old, &new, !is_src);
        }
        let a = u128::from_be_bytes(new);
        if is_src {
            key.set_ip_src(a);
        } else {
            key.set_ip_dst(a);
        }
    }
    let mut ip = ipv6::Packet::new_checked_header(d).map_err(|_| fail(ENOMEM))?;
    if s.tclass_mask != 0 {
        let tc = (ip.traffic_class() & !s.tclass_mask) | s.tclass;
        ip.set_traffic_class(tc);
        key.set_ip_tos(tc);
    }
    if s.label_mask != 0 {
        let fl = (ip.flow_label() & !s.label_mask) | s.label;
        ip.set_flow_label(fl);
        key.set_ipv6_label(ip.flow_label());
    }
    if s.hlimit_mask != 0 {
        let hl = (ip.hop_limit() & !s.hlimit_mask) | s.hlimit;
        ip.set_hop_limit(hl);
        key.set_ip_ttl(hl);
    }
    Ok(())
}

/// Offset of the transport header (`skb_transport_offset`) of an IPv4 or IPv6 packet.
fn l4_offset(pkt: &Packet, st: &State) -> Option<usize> {
    let off = l2_len(pkt, st);
    let b = pkt.data().get(off..)?;
    match net_proto(pkt, st) {
        ETH_P_IP if b.len() >= ipv4::MIN_HEADER_LEN => Some(off + usize::from(b[0] & 0x0f) * 4),
        ETH_P_IPV6 if b.len() >= ipv6::HEADER_LEN => {
            let e = walk_ext_headers(b, ipv6::HEADER_LEN, b[6]).ok()?;
            Some(off + e.l4_offset)
        }
        _ => None,
    }
}

/// `set_tcp` / `set_udp` / `set_sctp`. `v` = [src, src_mask, dst, dst_mask].
fn set_ports(
    l4: L4,
    v: [u16; 4],
    pkt: &mut Packet,
    key: &mut FlowKey,
    st: &State,
) -> Result<(), ExecError> {
    let at = l4_offset(pkt, st).ok_or(fail(ENOMEM))?;
    let partial = pkt.vnet.needs_csum();
    let hdr_len = match l4 {
        L4::Tcp => 20,
        L4::Udp => 8,
        L4::Sctp => sctp::HEADER_LEN,
    };
    let d = pkt.data_mut();
    if d.len() < at + hdr_len {
        return Err(fail(ENOMEM));
    }
    let b = d.get_mut(at..).ok_or(fail(ENOMEM))?;
    let old = [be16(b, 0), be16(b, 2)];
    let new = [(old[0] & !v[1]) | v[0], (old[1] & !v[3]) | v[2]];
    match l4 {
        L4::Sctp => {
            let mut p = sctp::Packet::new_checked(b).map_err(|_| fail(ENOMEM))?;
            p.rewrite_ports(new[0], new[1]);
        }
        L4::Tcp | L4::Udp => {
            let check_at = if l4 == L4::Tcp { 16 } else { 6 };
            let mut check = be16(b, check_at);
            // A partial checksum covers only the pseudo-header, which holds no ports; a UDP
            // checksum of 0 means "none" and stays so.
            let fix = !partial && (l4 == L4::Tcp || check != 0);
            for i in 0..2 {
                if new[i] != old[i] {
                    put_be16(b, 2 * i, new[i]);
                    if fix {
                        check = checksum::update16(check, old[i], new[i]);
                    }
                }
            }
            if fix {
                if l4 == L4::Udp && check == 0 {
                    check = 0xffff;
                }
                put_be16(b, check_at, check);
            }
        }
    }
    key.set_tp_src(new[0]);
    key.set_tp_dst(new[1]);
    Ok(())
}

fn set_nsh(s: &NshSet, pkt: &mut Packet, key: &mut FlowKey, st: &State) -> Result<(), ExecError> {
    let off = l2_len(pkt, st);
    let d = pkt.data_mut().get_mut(off..).ok_or(fail(ENOMEM))?;
    if d.len() < nsh::BASE_LEN {
        return Err(fail(ENOMEM));
    }
    let w0 = be16(d, 0);
    let (flags, ttl, len) = nsh::split_word0(w0);
    if d.len() < len {
        return Err(fail(ENOMEM));
    }
    let flags = (flags & !s.flags_mask) | s.flags;
    let ttl = (ttl & !s.ttl_mask) | s.ttl;
    put_be16(d, 0, nsh::with_flags_ttl(w0, flags, ttl));
    key.set_nsh_flags(flags & 0x3);
    key.set_nsh_ttl(ttl & 0x3f);
    let path = u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
    let path = (path & !s.path_hdr_mask) | s.path_hdr;
    d[4..8].copy_from_slice(&path.to_be_bytes());
    key.set_nsh_path_hdr(path);
    match d[2] {
        1 => {
            let ctx = d.get_mut(8..24).ok_or(fail(ENOMEM))?;
            for i in 0..4 {
                let f = &mut ctx[4 * i..4 * i + 4];
                let old = u32::from_be_bytes([f[0], f[1], f[2], f[3]]);
                let new = (old & !s.context_mask[i]) | s.context[i];
                f.copy_from_slice(&new.to_be_bytes());
                key.set_nsh_context(i, new);
            }
        }
        2 => {
            for i in 0..4 {
                key.set_nsh_context(i, 0);
            }
        }
        _ => return Err(fail(EINVAL)),
    }
    Ok(())
}

/// `execute_dec_ttl`: `Ok(true)` when the TTL would expire (≤ 1), leaving it unchanged.
fn dec_ttl(pkt: &mut Packet, key: &mut FlowKey, st: &State) -> Result<bool, ExecError> {
    let off = l2_len(pkt, st);
    match net_proto(pkt, st) {
        ETH_P_IPV6 => {
            let d = pkt.data_mut().get_mut(off..).ok_or(fail(ENOMEM))?;
            let mut ip = ipv6::Packet::new_checked_header(d).map_err(|_| fail(ENOMEM))?;
            let hl = ip.hop_limit();
            if hl <= 1 {
                return Ok(true);
            }
            ip.set_hop_limit(hl - 1);
            key.set_ip_ttl(hl - 1);
        }
        ETH_P_IP => {
            let d = pkt.data_mut().get_mut(off..).ok_or(fail(ENOMEM))?;
            let mut ip = ipv4::Packet::new_checked_header(d).map_err(|_| fail(ENOMEM))?;
            let ttl = ip.ttl();
            if ttl <= 1 {
                return Ok(true);
            }
            ip.rewrite_ttl(ttl - 1);
            key.set_ip_ttl(ttl - 1);
        }
        _ => {}
    }
    Ok(false)
}

/// The flow hash `skb_get_hash` stands for: the 5-tuple (plus ethertype) of the current key,
/// mixed under the process seed. Later fragments have zero ports in the key, as the kernel's
/// flow dissector leaves them out.
fn l4_hash(key: &FlowKey, seed: u32) -> u32 {
    let (s, d) = (key.ip_src(), key.ip_dst());
    let words = [
        (s >> 96) as u32,
        (s >> 64) as u32,
        (s >> 32) as u32,
        s as u32,
        (d >> 96) as u32,
        (d >> 64) as u32,
        (d >> 32) as u32,
        d as u32,
        (u32::from(key.tp_src()) << 16) | u32::from(key.tp_dst()),
        (u32::from(key.eth_type()) << 16) | u32::from(key.ip_proto()),
    ];
    let mut h = seed;
    for w in words {
        h = jhash_1word(w, h);
    }
    h
}

/// Bob Jenkins' lookup3 final mix of three words.
fn jhash_final(mut a: u32, mut b: u32, mut c: u32) -> u32 {
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(14));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(11));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(25));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(16));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(4));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(14));
    c ^= b;
    c.wrapping_sub(b.rotate_left(24))
}

/// `jhash_1word(a, initval)`: how `execute_hash` folds the basis into the flow hash.
fn jhash_1word(a: u32, initval: u32) -> u32 {
    let init = 0xdead_beef_u32.wrapping_add(4).wrapping_add(initval);
    jhash_final(a.wrapping_add(init), init, init)
}
