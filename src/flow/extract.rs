//! Flow key extraction: a received frame and its metadata → the fixed-layout [`FlowKey`].
//!
//! ≈ `ovs_flow_key_extract`, `key_extract` and `key_extract_l3l4` in
//! `net/openvswitch/flow.c` (Linux 6.x), built on the header views of
//! [`userdp_protocol::wire`].
//!
//! The rule the kernel follows, and so this module: a malformed or truncated header never
//! fails extraction; the fields it would have filled are zero (e.g. an IPv4 header with IHL < 5
//! keys as `ipv4(src=0.0.0.0,...,proto=0,...)`, a TCP header cut short as `tcp(src=0,dst=0)`
//! with no flags). The only packets the kernel drops at this stage are reported as a
//! [`DropReason`]: frames shorter than an Ethernet header, L3 packets whose protocol is a VLAN
//! TPID, and NSH packets with a bad base header.
//!
//! Every call overwrites the whole key, fields the packet does not have included (they are
//! zero, where the kernel leaves stale bytes that its masks never look at), so a key can be
//! reused packet after packet and compared word by word. Nothing here allocates.
//!
//! Not reproduced: `SKB_GSO_UDP` marking a UDP packet a first fragment (frames read from a
//! socket carry no GSO type), and the kernel's sharing of storage between the IPv6 ND fields
//! and the conntrack original tuple (separate words here).

use userdp_protocol::ovs::key::{
    FlowKey, ETH_P_802_2, MAC_PROTO_ETHERNET, MAC_PROTO_NONE, NSH_M_TYPE1, OVS_FRAG_TYPE_FIRST,
    OVS_FRAG_TYPE_LATER, OVS_FRAG_TYPE_NONE,
};
use userdp_protocol::ovs::DP_MAX_PORTS;
use userdp_protocol::wire::icmpv6::{self, NdPacket};
use userdp_protocol::wire::ipv6::{
    self, ExtHeaderIter, MAX_EXT_HEADERS, NEXTHDR_AUTH, NEXTHDR_DEST, NEXTHDR_FRAGMENT,
    NEXTHDR_HOP, NEXTHDR_NONE, NEXTHDR_ROUTING,
};
use userdp_protocol::wire::{arp, ethernet, icmp, ipv4, mpls, sctp, tcp, udp, vlan, Frag};
use userdp_protocol::wire::{IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP};

/// `ETH_P_NSH`: Network Service Header (RFC 8300).
pub const ETH_P_NSH: u16 = 0x894f;

/// The conntrack original-direction tuple a packet carries after `ct()` (IPv4 addresses in the
/// low 32 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CtOrig {
    /// IP protocol of the tuple (non-zero for a present tuple).
    pub proto: u8,
    /// Original source address.
    pub src: u128,
    /// Original destination address.
    pub dst: u128,
    /// Original source port (ICMP: type).
    pub tp_src: u16,
    /// Original destination port (ICMP: code).
    pub tp_dst: u16,
}

/// Per-packet metadata that is not in the frame (`struct sw_flow_key`'s `phy`, `ct`, `tun_key`
/// and recirculation fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata<'a> {
    /// Input port (`DP_MAX_PORTS` = none, the default).
    pub in_port: u32,
    /// skb priority (0 for packets from a NIC).
    pub priority: u32,
    /// skb mark (0 for packets from a NIC).
    pub skb_mark: u32,
    /// Recirculation id (0 on the first pass).
    pub recirc_id: u32,
    /// Datapath hash (0 = not computed).
    pub dp_hash: u32,
    /// Conntrack state bits (`OVS_CS_F_*`).
    pub ct_state: u8,
    /// Conntrack zone.
    pub ct_zone: u16,
    /// Conntrack mark.
    pub ct_mark: u32,
    /// Conntrack labels (the 16 label bytes as a little-endian number, as [`FlowKey`]).
    pub ct_labels: u128,
    /// Conntrack original-direction tuple, if the packet went through `ct()`.
    pub ct_orig: Option<CtOrig>,
    /// Tunnel metadata: the tunnel fields of this key are copied (packets from tunnel ports).
    pub tunnel: Option<&'a FlowKey>,
}

impl Default for Metadata<'_> {
    fn default() -> Self {
        Metadata {
            in_port: DP_MAX_PORTS,
            priority: 0,
            skb_mark: 0,
            recirc_id: 0,
            dp_hash: 0,
            ct_state: 0,
            ct_zone: 0,
            ct_mark: 0,
            ct_labels: 0,
            ct_orig: None,
            tunnel: None,
        }
    }
}

impl<'a> Metadata<'a> {
    /// The metadata a key already carries, for re-extracting a packet that actions changed
    /// (recirculation: the kernel's `ovs_flow_key_update` keeps these fields).
    pub fn from_key(key: &'a FlowKey) -> Metadata<'a> {
        Metadata {
            in_port: key.in_port(),
            priority: key.priority(),
            skb_mark: key.skb_mark(),
            recirc_id: key.recirc_id(),
            dp_hash: key.dp_hash(),
            ct_state: key.ct_state(),
            ct_zone: key.ct_zone(),
            ct_mark: key.ct_mark(),
            ct_labels: key.ct_labels(),
            ct_orig: (key.ct_orig_proto() != 0).then(|| CtOrig {
                proto: key.ct_orig_proto(),
                src: key.ct_src(),
                dst: key.ct_dst(),
                tp_src: key.ct_tp_src(),
                tp_dst: key.ct_tp_dst(),
            }),
            tunnel: (key.tun_proto() != 0).then_some(key),
        }
    }
}

/// Why the kernel would drop a packet instead of keying it (the key is still fully written).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// An Ethernet frame shorter than 14 bytes (the kernel never keys one: `OVS_PACKET_ATTR_PACKET`
    /// needs `ETH_HLEN` bytes and devices do not deliver shorter frames).
    TooShort,
    /// An L3 packet whose protocol is a VLAN TPID (`key_extract`: `EINVAL`).
    VlanWithoutEthernet,
    /// An NSH packet whose base header is truncated, not version 0, or has a bad MD type or
    /// length (`parse_nsh` errors propagate and drop the packet).
    BadNsh,
}

/// Extracts the key of an Ethernet frame (`MAC_PROTO_ETHERNET`), overwriting all of `key`.
///
/// VLAN tags must be inline: an AF_PACKET receiver reinserts an offloaded tag first.
#[inline]
pub fn extract(frame: &[u8], md: &Metadata<'_>, key: &mut FlowKey) -> Result<(), DropReason> {
    put_metadata(md, key);
    key.set_mac_proto(MAC_PROTO_ETHERNET);
    let Ok(l2) = ethernet::parse_l2(frame) else {
        key.set_eth_type(ETH_P_802_2);
        return Err(DropReason::TooShort);
    };
    key.set_eth_src(l2.src_addr);
    key.set_eth_dst(l2.dst_addr);
    // The key's TCI has the CFI/DEI bit set for every parsed tag: it doubles as "tag present"
    // (`parse_vlan_tag` ORs `VLAN_CFI_MASK` in). A TPID without room for TCI and next type is
    // no tag: it stays the ethertype, with both tag fields zero.
    if let Some(t) = l2.vlan {
        key.set_vlan_tpid(t.tpid);
        key.set_vlan_tci(t.tci | vlan::VLAN_CFI_MASK);
    }
    if let Some(t) = l2.cvlan {
        key.set_cvlan_tpid(t.tpid);
        key.set_cvlan_tci(t.tci | vlan::VLAN_CFI_MASK);
    }
    key.set_eth_type(l2.ethertype);
    let l3 = frame.get(l2.l3_offset..).unwrap_or(&[]);
    l3l4(l3, l2.ethertype, key)
}

/// Extracts the key of a packet without an Ethernet header (`MAC_PROTO_NONE`) whose network
/// protocol is `ethertype` (e.g. from an L3 tunnel), overwriting all of `key`.
#[inline]
pub fn extract_l3(
    packet: &[u8],
    ethertype: u16,
    md: &Metadata<'_>,
    key: &mut FlowKey,
) -> Result<(), DropReason> {
    put_metadata(md, key);
    key.set_mac_proto(MAC_PROTO_NONE);
    key.set_eth_type(ethertype);
    if ethernet::is_vlan(ethertype) {
        return Err(DropReason::VlanWithoutEthernet);
    }
    l3l4(packet, ethertype, key)
}

/// The TCP flags a packet contributes to its flow's statistics: the low 8 bits of the key's
/// 12 flag bits, which is all `OVS_FLOW_ATTR_TCP_FLAGS` (a `u8`) reports; 0 for non-TCP
/// packets and for TCP headers too short to key.
#[inline]
pub fn stats_tcp_flags(key: &FlowKey) -> u8 {
    key.tcp_flags() as u8
}

/// Clears `key` and writes the metadata fields.
#[inline]
fn put_metadata(md: &Metadata<'_>, key: &mut FlowKey) {
    key.w = [0; userdp_protocol::ovs::key::FLOW_KEY_WORDS];
    key.set_in_port(md.in_port);
    key.set_priority(md.priority);
    key.set_skb_mark(md.skb_mark);
    key.set_recirc_id(md.recirc_id);
    key.set_dp_hash(md.dp_hash);
    key.set_ct_state(md.ct_state);
    key.set_ct_zone(md.ct_zone);
    key.set_ct_mark(md.ct_mark);
    key.set_ct_labels(md.ct_labels);
    if let Some(o) = md.ct_orig {
        key.set_ct_orig_proto(o.proto);
        key.set_ct_src(o.src);
        key.set_ct_dst(o.dst);
        key.set_ct_tp_src(o.tp_src);
        key.set_ct_tp_dst(o.tp_dst);
    }
    if let Some(t) = md.tunnel {
        key.copy_tunnel_from(t);
    }
}

/// `key_extract_l3l4`: `l3` starts at the network header.
#[inline]
fn l3l4(l3: &[u8], ethertype: u16, key: &mut FlowKey) -> Result<(), DropReason> {
    match ethertype {
        ethernet::ETH_P_IP => ipv4(l3, key),
        ethernet::ETH_P_IPV6 => ipv6(l3, key),
        ethernet::ETH_P_ARP | ethernet::ETH_P_RARP => arp(l3, key),
        t if ethernet::is_mpls(t) => mpls(l3, key),
        ETH_P_NSH => return nsh(l3, key),
        _ => {}
    }
    Ok(())
}

#[inline]
fn v4(a: [u8; 4]) -> u128 {
    u128::from(u32::from_be_bytes(a))
}

#[inline]
fn ipv4(l3: &[u8], key: &mut FlowKey) {
    // `check_iphdr`: 20 bytes, IHL ≥ 5 and the options in the packet, or every IP field is
    // zero. The total length is not checked (frames keep their Ethernet padding here).
    let Ok(ip) = ipv4::Packet::new_checked_header(l3) else {
        return;
    };
    key.set_ip_src(v4(ip.src_addr()));
    key.set_ip_dst(v4(ip.dst_addr()));
    key.set_ip_proto(ip.protocol());
    key.set_ip_tos(ip.tos());
    key.set_ip_ttl(ip.ttl());
    match ip.frag() {
        Frag::Later => {
            key.set_ip_frag(OVS_FRAG_TYPE_LATER);
            return;
        }
        Frag::First => key.set_ip_frag(OVS_FRAG_TYPE_FIRST),
        Frag::None => key.set_ip_frag(OVS_FRAG_TYPE_NONE),
    }
    let l4 = l3.get(ip.header_len()..).unwrap_or(&[]);
    match ip.protocol() {
        IPPROTO_ICMP => {
            if let Ok(m) = icmp::Packet::new_checked(l4) {
                key.set_tp_src(u16::from(m.msg_type()));
                key.set_tp_dst(u16::from(m.code()));
            }
        }
        p => ports(p, l4, key),
    }
}

/// TCP, UDP and SCTP ports (and TCP flags); a header too short leaves them zero.
#[inline]
fn ports(proto: u8, l4: &[u8], key: &mut FlowKey) {
    let (src, dst) = match proto {
        IPPROTO_TCP => match tcp::Packet::new_checked(l4) {
            Ok(t) => {
                key.set_tcp_flags(t.flags());
                (t.src_port(), t.dst_port())
            }
            Err(_) => return,
        },
        IPPROTO_UDP => match udp::Packet::new_checked_header(l4) {
            Ok(u) => (u.src_port(), u.dst_port()),
            Err(_) => return,
        },
        IPPROTO_SCTP => match sctp::Packet::new_checked(l4) {
            Ok(s) => (s.src_port(), s.dst_port()),
            Err(_) => return,
        },
        _ => return,
    };
    key.set_tp_src(src);
    key.set_tp_dst(dst);
}

/// Where the kernel's `ipv6_find_hdr` (target -1) ends on a packet.
#[derive(Default)]
struct V6Walk {
    /// A fragment header was reached (`IP6_FH_F_FRAG`), even one cut short after 2 bytes.
    frag_seen: bool,
    /// A later fragment whose next header is an upper-layer protocol or "none".
    later: bool,
    /// The upper-layer protocol and its offset; `None` when the walk failed.
    upper: Option<(u8, usize)>,
}

/// Reproduces `ipv6_find_hdr` over the whole buffer (the kernel bounds the walk by the skb,
/// not by the payload length field) with the wire module's extension header iterator.
#[inline]
fn find_upper(l3: &[u8], first: u8) -> V6Walk {
    let mut out = V6Walk::default();
    let mut it = ExtHeaderIter::new(l3, ipv6::HEADER_LEN, first);
    let mut walked = 0;
    loop {
        match it.next() {
            None => {
                out.upper = Some((it.next_header(), it.offset()));
                return out;
            }
            Some(Ok(h)) => {
                walked += 1;
                // The kernel reads a routing header's first 4 bytes (segments left) before
                // skipping it; fewer is `-EBADMSG`.
                if h.kind == NEXTHDR_ROUTING && h.bytes.len() < 4 {
                    return out;
                }
                if let Some(f) = h.fragment {
                    out.frag_seen = true;
                    if f.word & !7 != 0 {
                        // A later fragment ends the walk: with an upper-layer next header it
                        // is one; with another extension header next, `ipv6_find_hdr` gives
                        // `-ENOENT` without a fragment offset, which keys as a first fragment
                        // of protocol "none".
                        out.later = !ipv6::is_ext_header(f.next_header);
                        return out;
                    }
                }
            }
            Some(Err(_)) if walked == MAX_EXT_HEADERS => {
                // The iterator's bound on chain length; the kernel has none (the buffer
                // bounds it), so walk on from where it stopped.
                it = ExtHeaderIter::new(l3, it.offset(), it.next_header());
                walked = 0;
            }
            Some(Err(_)) => {
                // A header cut short. The kernel flags a fragment header as soon as its first
                // two bytes are there, before reading the offset word.
                if it.next_header() == NEXTHDR_FRAGMENT
                    && it.offset().checked_add(2).is_some_and(|e| e <= l3.len())
                {
                    out.frag_seen = true;
                }
                return out;
            }
        }
    }
}

#[inline]
fn ipv6(l3: &[u8], key: &mut FlowKey) {
    // `parse_ipv6hdr` → `-EINVAL` for fewer than 40 bytes: every IP field zero.
    let Ok(ip) = ipv6::Packet::new_checked_header(l3) else {
        return;
    };
    key.set_ipv6_exthdrs(exthdrs_bitmap(l3, ip.next_header()));
    key.set_ip_src(u128::from_be_bytes(ip.src_addr()));
    key.set_ip_dst(u128::from_be_bytes(ip.dst_addr()));
    key.set_ipv6_label(ip.flow_label());
    key.set_ip_tos(ip.traffic_class());
    key.set_ip_ttl(ip.hop_limit());
    key.set_ip_proto(NEXTHDR_NONE);
    let w = find_upper(l3, ip.next_header());
    if w.later {
        // Since Linux 5.19 (and stable): later fragments key as protocol 44, not the
        // fragment's next header, so they cannot match a flow meant for first fragments.
        key.set_ip_frag(OVS_FRAG_TYPE_LATER);
        key.set_ip_proto(NEXTHDR_FRAGMENT);
        return;
    }
    key.set_ip_frag(if w.frag_seen {
        OVS_FRAG_TYPE_FIRST
    } else {
        OVS_FRAG_TYPE_NONE
    });
    // A failed walk (`-EPROTO`) keeps the addresses, protocol "none" and no L4 fields.
    let Some((proto, off)) = w.upper else {
        return;
    };
    key.set_ip_proto(proto);
    let l4 = l3.get(off..).unwrap_or(&[]);
    if proto == IPPROTO_ICMPV6 {
        if let Ok(m) = icmpv6::Packet::new_checked(l4) {
            key.set_tp_src(u16::from(m.msg_type()));
            key.set_tp_dst(u16::from(m.code()));
            if m.is_nd() {
                // Shorter than `struct nd_msg`: type and code only.
                if let Ok(nd) = NdPacket::new_checked(l4) {
                    let (target, sll, tll) = nd.key_fields();
                    key.set_nd_target(u128::from_be_bytes(target));
                    key.set_l2addr_a(sll);
                    key.set_l2addr_b(tll);
                }
            }
        }
    } else {
        ports(proto, l4, key);
    }
}

/// `OFPIEH12_*` bits of the kernel's `get_ipv6_ext_hdrs` (Linux ≥ 5.18), stored in the key but
/// not emitted to OVS 3.1, which does not know `OVS_KEY_ATTR_IPV6_EXTHDRS`.
const OFPIEH12_NONEXT: u16 = 1 << 0;
const OFPIEH12_AUTH: u16 = 1 << 2;
const OFPIEH12_DEST: u16 = 1 << 3;
const OFPIEH12_FRAG: u16 = 1 << 4;
const OFPIEH12_ROUTER: u16 = 1 << 5;
const OFPIEH12_HOP: u16 = 1 << 6;
const OFPIEH12_UNREP: u16 = 1 << 7;
const OFPIEH12_UNSEQ: u16 = 1 << 8;

/// The IPv6 extension header bitmap as `get_ipv6_ext_hdrs` computes it. This is its own walk
/// because the kernel's differs from `ipv6_find_hdr`: every header, fragment and AH included,
/// is skipped by `(len + 1) * 8`, a later fragment does not stop it, and the AH rule masks
/// with the protocol number 44 where the FRAG bit was meant (so AH after a fragment header
/// counts as out of sequence). ESP is never reached: it is not an `ipv6_ext_hdr`.
fn exthdrs_bitmap(l3: &[u8], first: u8) -> u16 {
    let mut bits = 0u16;
    let mut dest_count = 0u32;
    let mut next = first;
    let mut at = ipv6::HEADER_LEN;
    loop {
        match next {
            NEXTHDR_NONE => return bits | OFPIEH12_NONEXT,
            NEXTHDR_AUTH => {
                if bits & OFPIEH12_AUTH != 0 {
                    bits |= OFPIEH12_UNREP;
                }
                let allowed = OFPIEH12_HOP
                    | OFPIEH12_DEST
                    | OFPIEH12_ROUTER
                    | u16::from(NEXTHDR_FRAGMENT)
                    | OFPIEH12_UNREP;
                if bits & !allowed != 0 || dest_count >= 2 {
                    bits |= OFPIEH12_UNSEQ;
                }
                bits |= OFPIEH12_AUTH;
            }
            NEXTHDR_DEST => {
                match dest_count {
                    0 => {
                        if bits & !(OFPIEH12_HOP | OFPIEH12_UNREP) != 0 {
                            bits |= OFPIEH12_UNSEQ;
                        }
                        bits |= OFPIEH12_DEST;
                    }
                    1 => {
                        // Every known bit but NONEXT is allowed before the second one; the
                        // kernel lists ESP (1 << 1) here too.
                        let allowed = OFPIEH12_HOP
                            | OFPIEH12_DEST
                            | OFPIEH12_ROUTER
                            | OFPIEH12_FRAG
                            | OFPIEH12_AUTH
                            | (1 << 1)
                            | OFPIEH12_UNREP;
                        if bits & !allowed != 0 {
                            bits |= OFPIEH12_UNSEQ;
                        }
                    }
                    _ => bits |= OFPIEH12_UNREP,
                }
                dest_count += 1;
            }
            NEXTHDR_FRAGMENT => {
                if bits & OFPIEH12_FRAG != 0 {
                    bits |= OFPIEH12_UNREP;
                }
                let allowed = OFPIEH12_HOP | OFPIEH12_DEST | OFPIEH12_ROUTER | OFPIEH12_UNREP;
                if bits & !allowed != 0 || dest_count >= 2 {
                    bits |= OFPIEH12_UNSEQ;
                }
                bits |= OFPIEH12_FRAG;
            }
            NEXTHDR_ROUTING => {
                if bits & OFPIEH12_ROUTER != 0 {
                    bits |= OFPIEH12_UNREP;
                }
                let allowed = OFPIEH12_HOP | OFPIEH12_DEST | OFPIEH12_UNREP;
                if bits & !allowed != 0 || dest_count >= 2 {
                    bits |= OFPIEH12_UNSEQ;
                }
                bits |= OFPIEH12_ROUTER;
            }
            NEXTHDR_HOP => {
                if bits & OFPIEH12_HOP != 0 {
                    bits |= OFPIEH12_UNREP;
                }
                bits |= if bits == 0 {
                    OFPIEH12_HOP
                } else {
                    OFPIEH12_UNSEQ
                };
            }
            _ => return bits,
        }
        let (Some(&nh), Some(&len)) = (l3.get(at), at.checked_add(1).and_then(|i| l3.get(i)))
        else {
            return bits;
        };
        next = nh;
        at += (usize::from(len) + 1) * 8;
    }
}

#[inline]
fn arp(l3: &[u8], key: &mut FlowKey) {
    // Only Ethernet/IPv4 ARP of at least 28 bytes is keyed; anything else keys as zeros.
    let Ok(p) = arp::Packet::new_checked(l3) else {
        return;
    };
    let Ok(a) = arp::Repr::parse(&p) else {
        return;
    };
    // The key keeps opcodes up to 255 only (`OVS_KEY_ATTR_ARP` validation rejects more).
    key.set_arp_op(if a.operation <= 0xff { a.operation } else { 0 });
    key.set_ip_src(v4(a.sender_protocol_addr));
    key.set_ip_dst(v4(a.target_protocol_addr));
    key.set_l2addr_a(a.sender_hardware_addr);
    key.set_l2addr_b(a.target_hardware_addr);
}

#[inline]
fn mpls(l3: &[u8], key: &mut FlowKey) {
    let st = mpls::parse_stack(l3);
    for (i, lse) in st.lses.iter().enumerate().take(st.count) {
        key.set_mpls_lse(i, *lse);
    }
    // A stack that runs off the packet before its bottom entry keeps the entries read but no
    // label count (the kernel returns before setting `num_labels_mask`).
    if st.complete {
        key.set_mpls_lse_mask(((1u16 << st.count) - 1) as u8);
    }
}

/// NSH base header fields (RFC 8300 §2.2) and the kernel's `nsh.h` masks.
const NSH_BASE_HDR_LEN: usize = 8;
const NSH_M_TYPE1_LEN: usize = 24;
const NSH_M_TYPE2: u8 = 2;

/// `parse_nsh`. The wire module has no NSH view; the base header is two words.
#[inline]
fn nsh(l3: &[u8], key: &mut FlowKey) -> Result<(), DropReason> {
    let Some(base) = l3.get(..NSH_BASE_HDR_LEN) else {
        return Err(DropReason::BadNsh);
    };
    let w0 = u16::from_be_bytes([base[0], base[1]]);
    let version = w0 >> 14;
    let len = usize::from(w0 & 0x3f) * 4;
    if version != 0 || l3.len() < len {
        return Err(DropReason::BadNsh);
    }
    let mdtype = base[2];
    key.set_nsh_flags(((w0 >> 12) & 0x3) as u8);
    key.set_nsh_ttl(((w0 >> 6) & 0x3f) as u8);
    key.set_nsh_mdtype(mdtype);
    key.set_nsh_np(base[3]);
    key.set_nsh_path_hdr(u32::from_be_bytes([base[4], base[5], base[6], base[7]]));
    match mdtype {
        NSH_M_TYPE1 => {
            let Some(ctx) = l3.get(NSH_BASE_HDR_LEN..NSH_M_TYPE1_LEN) else {
                return Err(DropReason::BadNsh);
            };
            if len != NSH_M_TYPE1_LEN {
                return Err(DropReason::BadNsh);
            }
            for (i, c) in ctx.chunks_exact(4).enumerate() {
                key.set_nsh_context(i, u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
            }
            Ok(())
        }
        NSH_M_TYPE2 => Ok(()),
        _ => Err(DropReason::BadNsh),
    }
}
