//! Fixed-layout flow key for the fast path: `[u64; FLOW_KEY_WORDS]` with typed accessors, so
//! the classifier hashes and compares `key & mask` word by word.
//!
//! ≈ `struct sw_flow_key` in `net/openvswitch/flow.h`. As there, presence is encoded in values:
//! `in_port == DP_MAX_PORTS` means "no port", `eth_type == 0x0004` (`ETH_P_802_2`) means an
//! 802.2 frame without an ethertype, a zero `tun_proto` means no tunnel, a zero
//! `ct_orig_proto` means no original-direction tuple, `mac_proto` says Ethernet or L3.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::validate::is_vlan_tpid;
use super::*;
use crate::ovs::DP_MAX_PORTS;
use crate::{Error, Result};

/// Number of 64-bit words in a [`FlowKey`].
pub const FLOW_KEY_WORDS: usize = 67;

/// `MAC_PROTO_NONE`: an L3 packet without an Ethernet header.
pub const MAC_PROTO_NONE: u8 = 0;
/// `MAC_PROTO_ETHERNET`.
pub const MAC_PROTO_ETHERNET: u8 = 1;
/// `ETH_P_802_2`: the ethertype stored for 802.2/LLC frames (no `ETHERTYPE` attribute).
pub const ETH_P_802_2: u16 = 0x0004;
/// `AF_INET` in `tun_proto`.
pub const TUN_PROTO_IPV4: u8 = 2;
/// `AF_INET6` in `tun_proto`.
pub const TUN_PROTO_IPV6: u8 = 10;

/// Tunnel flag bits in [`FlowKey::tun_flags`] (kernel `TUNNEL_*` subset).
pub const TUN_F_DONT_FRAGMENT: u16 = 0x01;
/// Outer checksum.
pub const TUN_F_CSUM: u16 = 0x02;
/// OAM frame.
pub const TUN_F_OAM: u16 = 0x04;
/// Tunnel id present.
pub const TUN_F_KEY: u16 = 0x08;
/// Options are Geneve TLVs.
pub const TUN_F_GENEVE_OPT: u16 = 0x10;
/// Options are a VXLAN GBP word.
pub const TUN_F_VXLAN_OPT: u16 = 0x20;
/// Options are ERSPAN metadata.
pub const TUN_F_ERSPAN_OPT: u16 = 0x40;
/// IPv4 info bridge mode.
pub const TUN_F_INFO_BRIDGE: u16 = 0x80;

const W_PORT_RECIRC: usize = 0;
const W_HASH_MARK: usize = 1;
const W_PRIO_CTMARK: usize = 2;
const W_META: usize = 3;
const W_CT_LABELS: usize = 4;
const W_ETH_SRC: usize = 6;
const W_ETH_DST: usize = 7;
const W_L2: usize = 8;
const W_IP: usize = 9;
const W_IP_SRC: usize = 10;
const W_IP_DST: usize = 12;
const W_IP6_MISC: usize = 14;
const W_ND_TARGET: usize = 15;
const W_L2ADDR_A: usize = 17;
const W_L2ADDR_B: usize = 18;
const W_MPLS: usize = 19;
const W_CT_SRC: usize = 21;
const W_CT_DST: usize = 23;
const W_CT_PORTS: usize = 25;
const W_TUN_ID: usize = 26;
const W_TUN_SRC: usize = 27;
const W_TUN_DST: usize = 29;
const W_TUN_MISC: usize = 31;
const W_NSH: usize = 32;
const W_TUN_OPTS: usize = 35;
/// Bytes of tunnel options a key holds (as the kernel's `tun_opts`).
pub const TUN_OPTS_BYTES: usize = (FLOW_KEY_WORDS - W_TUN_OPTS) * 8;

macro_rules! field {
    ($(#[$doc:meta])* $get:ident, $set:ident, $ty:ty, $w:expr, $shift:expr, $bits:expr) => {
        $(#[$doc])*
        pub fn $get(&self) -> $ty {
            ((self.w[$w] >> $shift) & ((1u128 << $bits) - 1) as u64) as $ty
        }
        #[doc = concat!("Sets [`Self::", stringify!($get), "`].")]
        pub fn $set(&mut self, v: $ty) {
            let m = (((1u128 << $bits) - 1) as u64) << $shift;
            self.w[$w] = (self.w[$w] & !m) | ((u64::from(v) << $shift) & m);
        }
    };
}

macro_rules! wide {
    ($(#[$doc:meta])* $get:ident, $set:ident, $w:expr) => {
        $(#[$doc])*
        pub fn $get(&self) -> u128 {
            (u128::from(self.w[$w]) << 64) | u128::from(self.w[$w + 1])
        }
        #[doc = concat!("Sets [`Self::", stringify!($get), "`].")]
        pub fn $set(&mut self, v: u128) {
            self.w[$w] = (v >> 64) as u64;
            self.w[$w + 1] = v as u64;
        }
    };
}

/// The fixed-layout flow key; a [`FlowMask`] has the same layout with mask bits.
#[repr(C, align(8))]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// The raw words (compare and hash these under a mask).
    pub w: [u64; FLOW_KEY_WORDS],
}

impl Default for FlowKey {
    fn default() -> Self {
        FlowKey {
            w: [0; FLOW_KEY_WORDS],
        }
    }
}

impl std::fmt::Debug for FlowKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FlowKey(")?;
        f.debug_map()
            .entries(self.w.iter().enumerate().filter(|(_, w)| **w != 0))
            .finish()?;
        f.write_str(")")
    }
}

impl FlowKey {
    field!(/// Input port (`DP_MAX_PORTS` = none).
        in_port, set_in_port, u32, W_PORT_RECIRC, 0, 32);
    field!(/// Recirculation id.
        recirc_id, set_recirc_id, u32, W_PORT_RECIRC, 32, 32);
    field!(/// Datapath hash.
        dp_hash, set_dp_hash, u32, W_HASH_MARK, 0, 32);
    field!(/// skb mark.
        skb_mark, set_skb_mark, u32, W_HASH_MARK, 32, 32);
    field!(/// skb priority.
        priority, set_priority, u32, W_PRIO_CTMARK, 0, 32);
    field!(/// Conntrack mark.
        ct_mark, set_ct_mark, u32, W_PRIO_CTMARK, 32, 32);
    field!(/// Conntrack state (`OVS_CS_F_*`, 8 bits as in the kernel).
        ct_state, set_ct_state, u8, W_META, 0, 8);
    field!(/// Conntrack zone.
        ct_zone, set_ct_zone, u16, W_META, 8, 16);
    field!(/// Protocol of the original-direction tuple (0 = none).
        ct_orig_proto, set_ct_orig_proto, u8, W_META, 24, 8);
    field!(/// `MAC_PROTO_*`.
        mac_proto, set_mac_proto, u8, W_META, 32, 8);
    field!(/// `TUN_PROTO_*` (0 = no tunnel).
        tun_proto, set_tun_proto, u8, W_META, 40, 8);
    field!(/// Bit i set ⇔ MPLS label stack entry i is present.
        mpls_lse_mask, set_mpls_lse_mask, u8, W_META, 48, 8);
    field!(/// Length of the tunnel options.
        tun_opts_len, set_tun_opts_len, u8, W_META, 56, 8);
    field!(/// Outer VLAN TCI (CFI set for a present tag).
        vlan_tci, set_vlan_tci, u16, W_ETH_SRC, 48, 16);
    field!(/// Inner (customer) VLAN TCI.
        cvlan_tci, set_cvlan_tci, u16, W_ETH_DST, 48, 16);
    field!(/// Outer VLAN TPID.
        vlan_tpid, set_vlan_tpid, u16, W_L2, 0, 16);
    field!(/// Inner VLAN TPID.
        cvlan_tpid, set_cvlan_tpid, u16, W_L2, 16, 16);
    field!(/// Ethertype after the VLAN tags (`ETH_P_802_2` = none).
        eth_type, set_eth_type, u16, W_L2, 32, 16);
    field!(/// TCP flags (12 bits).
        tcp_flags, set_tcp_flags, u16, W_L2, 48, 16);
    field!(/// IP protocol.
        ip_proto, set_ip_proto, u8, W_IP, 0, 8);
    field!(/// IPv4 TOS / IPv6 traffic class.
        ip_tos, set_ip_tos, u8, W_IP, 8, 8);
    field!(/// IPv4 TTL / IPv6 hop limit.
        ip_ttl, set_ip_ttl, u8, W_IP, 16, 8);
    field!(/// `OVS_FRAG_TYPE_*`.
        ip_frag, set_ip_frag, u8, W_IP, 24, 8);
    field!(/// L4 source port, or ICMP type.
        tp_src, set_tp_src, u16, W_IP, 32, 16);
    field!(/// L4 destination port, or ICMP code.
        tp_dst, set_tp_dst, u16, W_IP, 48, 16);
    field!(/// IPv6 flow label.
        ipv6_label, set_ipv6_label, u32, W_IP6_MISC, 0, 32);
    field!(/// ARP opcode.
        arp_op, set_arp_op, u16, W_IP6_MISC, 32, 16);
    field!(/// IPv6 extension header bitmap.
        ipv6_exthdrs, set_ipv6_exthdrs, u16, W_IP6_MISC, 48, 16);
    field!(/// Conntrack original source port.
        ct_tp_src, set_ct_tp_src, u16, W_CT_PORTS, 0, 16);
    field!(/// Conntrack original destination port.
        ct_tp_dst, set_ct_tp_dst, u16, W_CT_PORTS, 16, 16);
    field!(/// Tunnel id.
        tun_id, set_tun_id, u64, W_TUN_ID, 0, 64);
    field!(/// Tunnel outer TOS.
        tun_tos, set_tun_tos, u8, W_TUN_MISC, 0, 8);
    field!(/// Tunnel outer TTL.
        tun_ttl, set_tun_ttl, u8, W_TUN_MISC, 8, 8);
    field!(/// Tunnel outer UDP source port.
        tun_tp_src, set_tun_tp_src, u16, W_TUN_MISC, 16, 16);
    field!(/// Tunnel outer UDP destination port.
        tun_tp_dst, set_tun_tp_dst, u16, W_TUN_MISC, 32, 16);
    field!(/// `TUN_F_*` bits.
        tun_flags, set_tun_flags, u16, W_TUN_MISC, 48, 16);
    field!(/// NSH flags.
        nsh_flags, set_nsh_flags, u8, W_NSH, 0, 8);
    field!(/// NSH TTL.
        nsh_ttl, set_nsh_ttl, u8, W_NSH, 8, 8);
    field!(/// NSH MD type.
        nsh_mdtype, set_nsh_mdtype, u8, W_NSH, 16, 8);
    field!(/// NSH next protocol.
        nsh_np, set_nsh_np, u8, W_NSH, 24, 8);
    field!(/// NSH service path header (SPI << 8 | SI).
        nsh_path_hdr, set_nsh_path_hdr, u32, W_NSH, 32, 32);
    wide!(/// Conntrack labels as a little-endian 128-bit number of the 16 label bytes.
        ct_labels, set_ct_labels, W_CT_LABELS);
    wide!(/// IP source (IPv4 in the low 32 bits), or ARP sender IP.
        ip_src, set_ip_src, W_IP_SRC);
    wide!(/// IP destination, or ARP target IP.
        ip_dst, set_ip_dst, W_IP_DST);
    wide!(/// ND target.
        nd_target, set_nd_target, W_ND_TARGET);
    wide!(/// Conntrack original source address.
        ct_src, set_ct_src, W_CT_SRC);
    wide!(/// Conntrack original destination address.
        ct_dst, set_ct_dst, W_CT_DST);
    wide!(/// Tunnel outer source address (IPv4 in the low 32 bits).
        tun_src, set_tun_src, W_TUN_SRC);
    wide!(/// Tunnel outer destination address.
        tun_dst, set_tun_dst, W_TUN_DST);

    fn mac_at(&self, w: usize) -> [u8; 6] {
        let b = self.w[w].to_be_bytes();
        [b[2], b[3], b[4], b[5], b[6], b[7]]
    }
    fn set_mac_at(&mut self, w: usize, m: [u8; 6]) {
        let v = u64::from_be_bytes([0, 0, m[0], m[1], m[2], m[3], m[4], m[5]]);
        self.w[w] = (self.w[w] & !0x0000_ffff_ffff_ffff) | v;
    }
    /// Ethernet source.
    pub fn eth_src(&self) -> [u8; 6] {
        self.mac_at(W_ETH_SRC)
    }
    /// Sets the Ethernet source.
    pub fn set_eth_src(&mut self, m: [u8; 6]) {
        self.set_mac_at(W_ETH_SRC, m)
    }
    /// Ethernet destination.
    pub fn eth_dst(&self) -> [u8; 6] {
        self.mac_at(W_ETH_DST)
    }
    /// Sets the Ethernet destination.
    pub fn set_eth_dst(&mut self, m: [u8; 6]) {
        self.set_mac_at(W_ETH_DST, m)
    }
    /// ARP sender hardware address, or ND source link-layer address.
    pub fn l2addr_a(&self) -> [u8; 6] {
        self.mac_at(W_L2ADDR_A)
    }
    /// Sets [`Self::l2addr_a`].
    pub fn set_l2addr_a(&mut self, m: [u8; 6]) {
        self.set_mac_at(W_L2ADDR_A, m)
    }
    /// ARP target hardware address, or ND target link-layer address.
    pub fn l2addr_b(&self) -> [u8; 6] {
        self.mac_at(W_L2ADDR_B)
    }
    /// Sets [`Self::l2addr_b`].
    pub fn set_l2addr_b(&mut self, m: [u8; 6]) {
        self.set_mac_at(W_L2ADDR_B, m)
    }
    /// MPLS label stack entry `i` (0..3).
    pub fn mpls_lse(&self, i: usize) -> u32 {
        match i {
            0 => self.w[W_MPLS] as u32,
            1 => (self.w[W_MPLS] >> 32) as u32,
            2 => self.w[W_MPLS + 1] as u32,
            _ => 0,
        }
    }
    /// Sets MPLS label stack entry `i` (0..3; others ignored).
    pub fn set_mpls_lse(&mut self, i: usize, v: u32) {
        let v = u64::from(v);
        match i {
            0 => self.w[W_MPLS] = (self.w[W_MPLS] & !0xffff_ffff) | v,
            1 => self.w[W_MPLS] = (self.w[W_MPLS] & 0xffff_ffff) | (v << 32),
            2 => self.w[W_MPLS + 1] = (self.w[W_MPLS + 1] & !0xffff_ffff) | v,
            _ => {}
        }
    }
    /// NSH MD1 context header `i` (0..4).
    pub fn nsh_context(&self, i: usize) -> u32 {
        match i {
            0..=3 => (self.w[W_NSH + 1 + i / 2] >> (32 * (i % 2))) as u32,
            _ => 0,
        }
    }
    /// Sets NSH context header `i` (0..4; others ignored).
    pub fn set_nsh_context(&mut self, i: usize, v: u32) {
        if i < 4 {
            let w = W_NSH + 1 + i / 2;
            let sh = 32 * (i % 2);
            self.w[w] = (self.w[w] & !(0xffff_ffffu64 << sh)) | (u64::from(v) << sh);
        }
    }
    /// The tunnel option bytes (`tun_opts_len` of them are meaningful).
    pub fn tun_opts(&self) -> Vec<u8> {
        let n = usize::from(self.tun_opts_len()).min(TUN_OPTS_BYTES);
        self.w[W_TUN_OPTS..]
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .take(n)
            .collect()
    }
    /// Stores tunnel option bytes (at most [`TUN_OPTS_BYTES`]) and their length.
    pub fn set_tun_opts(&mut self, o: &[u8]) {
        let o = &o[..o.len().min(TUN_OPTS_BYTES).min(255)];
        for w in &mut self.w[W_TUN_OPTS..] {
            *w = 0;
        }
        for (i, chunk) in o.chunks(8).enumerate() {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.w[W_TUN_OPTS + i] = u64::from_be_bytes(b);
        }
        self.set_tun_opts_len(o.len() as u8);
    }

    /// Copies the tunnel fields of `from` (addresses, id, flags, ports, options and their
    /// length, `tun_proto`) over those of `self`, leaving every other field alone.
    #[inline]
    pub fn copy_tunnel_from(&mut self, from: &FlowKey) {
        self.w[W_TUN_ID..W_NSH].copy_from_slice(&from.w[W_TUN_ID..W_NSH]);
        self.w[W_TUN_OPTS..].copy_from_slice(&from.w[W_TUN_OPTS..]);
        self.set_tun_proto(from.tun_proto());
        self.set_tun_opts_len(from.tun_opts_len());
    }

    /// `key & mask`, word by word.
    pub fn masked(&self, mask: &FlowMask) -> FlowKey {
        let mut out = self.clone();
        for (o, m) in out.w.iter_mut().zip(mask.0.w.iter()) {
            *o &= m;
        }
        out
    }

    /// Whether `self & mask == masked_key` (a packet key against a stored masked flow key).
    pub fn matches(&self, mask: &FlowMask, masked_key: &FlowKey) -> bool {
        self.w
            .iter()
            .zip(mask.0.w.iter())
            .zip(masked_key.w.iter())
            .all(|((k, m), t)| k & m == *t)
    }

    /// A 64-bit hash of `self & mask` under `seed` (a multiply-xorshift mix per word).
    pub fn hash_masked(&self, mask: &FlowMask, seed: u64) -> u64 {
        let mut h = seed ^ 0x9e37_79b9_7f4a_7c15;
        for (k, m) in self.w.iter().zip(mask.0.w.iter()) {
            h = (h ^ (k & m)).wrapping_mul(0xff51_afd7_ed55_8ccd);
            h ^= h >> 29;
        }
        h
    }

    /// Builds the fast-path form of a (validated) key, flattening `encap` levels.
    pub fn from_key(key: &Key) -> Result<FlowKey> {
        let mut k = FlowKey::default();
        k.set_in_port(DP_MAX_PORTS);
        k.set_mac_proto(MAC_PROTO_NONE);
        k.set_eth_type(ETH_P_802_2);
        fill(&mut k, key, 0, false)?;
        Ok(k)
    }

    /// The key attributes a datapath emits for this key (upcalls, dumps), in kernel order
    /// (`__ovs_nla_put_key`), without `IPV6_EXTHDRS` (unknown to OVS 3.1).
    pub fn to_key(&self) -> Key {
        let mut out = Vec::new();
        self.to_key_into(&mut out);
        Key(out)
    }

    /// [`to_key`](Self::to_key) into a caller's vector (cleared first), so a packet thread can
    /// encode upcall keys without allocating once the vector has grown.
    pub fn to_key_into(&self, out: &mut Vec<KeyAttr>) {
        out.clear();
        out.push(KeyAttr::RecircId(self.recirc_id()));
        out.push(KeyAttr::DpHash(self.dp_hash()));
        out.push(KeyAttr::Priority(self.priority()));
        if self.tun_proto() != 0 {
            out.push(KeyAttr::Tunnel(self.tunnel_key()));
        }
        if self.in_port() != DP_MAX_PORTS {
            out.push(KeyAttr::InPort(self.in_port()));
        }
        out.push(KeyAttr::SkbMark(self.skb_mark()));
        out.push(KeyAttr::CtState(u32::from(self.ct_state())));
        out.push(KeyAttr::CtZone(self.ct_zone()));
        out.push(KeyAttr::CtMark(self.ct_mark()));
        out.push(KeyAttr::CtLabels(self.ct_labels().to_le_bytes()));
        if self.ct_orig_proto() != 0 {
            if self.eth_type() == ETH_P_IPV6 {
                out.push(KeyAttr::CtOrigTupleIpv6(CtTupleIpv6 {
                    src: Ipv6Addr::from(self.ct_src()),
                    dst: Ipv6Addr::from(self.ct_dst()),
                    src_port: self.ct_tp_src(),
                    dst_port: self.ct_tp_dst(),
                    proto: self.ct_orig_proto(),
                }));
            } else if self.eth_type() == ETH_P_IP {
                out.push(KeyAttr::CtOrigTupleIpv4(CtTupleIpv4 {
                    src: Ipv4Addr::from(self.ct_src() as u32),
                    dst: Ipv4Addr::from(self.ct_dst() as u32),
                    src_port: self.ct_tp_src(),
                    dst_port: self.ct_tp_dst(),
                    proto: self.ct_orig_proto(),
                }));
            }
        }
        if self.mac_proto() == MAC_PROTO_ETHERNET {
            out.push(KeyAttr::Ethernet(EthernetKey {
                src: self.eth_src(),
                dst: self.eth_dst(),
            }));
            let tags = [
                (self.vlan_tpid(), self.vlan_tci()),
                (self.cvlan_tpid(), self.cvlan_tci()),
            ];
            if tags[0].1 != 0 || tags[0].0 != 0 {
                out.push(KeyAttr::Ethertype(tags[0].0));
                out.push(KeyAttr::Vlan(tags[0].1));
                let mut inner = Vec::new();
                if tags[0].1 & 0x1000 != 0 {
                    if tags[1].1 != 0 || tags[1].0 != 0 {
                        inner.push(KeyAttr::Ethertype(tags[1].0));
                        inner.push(KeyAttr::Vlan(tags[1].1));
                        let mut inner2 = Vec::new();
                        if tags[1].1 & 0x1000 != 0 {
                            self.put_l3(&mut inner2);
                        }
                        inner.push(KeyAttr::Encap(Key(inner2)));
                    } else {
                        self.put_l3(&mut inner);
                    }
                }
                out.push(KeyAttr::Encap(Key(inner)));
                return;
            }
        }
        self.put_l3(out);
    }

    fn tunnel_key(&self) -> TunnelKey {
        let f = self.tun_flags();
        let v6 = self.tun_proto() == TUN_PROTO_IPV6;
        let (src, dst) = (self.tun_src(), self.tun_dst());
        let opts = self.tun_opts();
        TunnelKey {
            id: (f & TUN_F_KEY != 0).then(|| self.tun_id()),
            ipv4_src: (!v6 && src != 0).then(|| Ipv4Addr::from(src as u32)),
            ipv4_dst: (!v6 && dst != 0).then(|| Ipv4Addr::from(dst as u32)),
            ipv6_src: (v6 && src != 0).then(|| Ipv6Addr::from(src)),
            ipv6_dst: (v6 && dst != 0).then(|| Ipv6Addr::from(dst)),
            tos: (self.tun_tos() != 0).then(|| self.tun_tos()),
            ttl: Some(self.tun_ttl()),
            dont_fragment: f & TUN_F_DONT_FRAGMENT != 0,
            csum: f & TUN_F_CSUM != 0,
            oam: f & TUN_F_OAM != 0,
            tp_src: (self.tun_tp_src() != 0).then(|| self.tun_tp_src()),
            tp_dst: (self.tun_tp_dst() != 0).then(|| self.tun_tp_dst()),
            geneve_opts: (f & TUN_F_GENEVE_OPT != 0).then(|| opts.clone()),
            vxlan_gbp: (f & TUN_F_VXLAN_OPT != 0).then(|| {
                let mut b = [0u8; 4];
                for (d, s) in b.iter_mut().zip(opts.iter()) {
                    *d = *s;
                }
                u32::from_ne_bytes(b)
            }),
            erspan_opts: (f & TUN_F_ERSPAN_OPT != 0).then(|| opts.clone()),
            ipv4_info_bridge: f & TUN_F_INFO_BRIDGE != 0,
        }
    }

    fn put_l3(&self, out: &mut Vec<KeyAttr>) {
        let et = self.eth_type();
        if et == ETH_P_802_2 && self.mac_proto() == MAC_PROTO_ETHERNET {
            return;
        }
        out.push(KeyAttr::Ethertype(et));
        let ip = et == ETH_P_IP || et == ETH_P_IPV6;
        match et {
            ETH_P_IP => out.push(KeyAttr::Ipv4(Ipv4Key {
                src: Ipv4Addr::from(self.ip_src() as u32),
                dst: Ipv4Addr::from(self.ip_dst() as u32),
                proto: self.ip_proto(),
                tos: self.ip_tos(),
                ttl: self.ip_ttl(),
                frag: self.ip_frag(),
            })),
            ETH_P_IPV6 => out.push(KeyAttr::Ipv6(Ipv6Key {
                src: Ipv6Addr::from(self.ip_src()),
                dst: Ipv6Addr::from(self.ip_dst()),
                label: self.ipv6_label(),
                proto: self.ip_proto(),
                tclass: self.ip_tos(),
                hlimit: self.ip_ttl(),
                frag: self.ip_frag(),
            })),
            ETH_P_ARP | ETH_P_RARP => out.push(KeyAttr::Arp(ArpKey {
                sip: Ipv4Addr::from(self.ip_src() as u32),
                tip: Ipv4Addr::from(self.ip_dst() as u32),
                op: self.arp_op(),
                sha: self.l2addr_a(),
                tha: self.l2addr_b(),
            })),
            ETH_P_MPLS_UC | ETH_P_MPLS_MC => {
                let n = (0..3)
                    .take_while(|i| self.mpls_lse_mask() & (1 << i) != 0)
                    .count()
                    .max(1);
                out.push(KeyAttr::Mpls((0..n).map(|i| self.mpls_lse(i)).collect()));
            }
            ETH_P_NSH => out.push(KeyAttr::Nsh(NshKey {
                base: Some(NshBase {
                    flags: self.nsh_flags(),
                    ttl: self.nsh_ttl(),
                    mdtype: self.nsh_mdtype(),
                    np: self.nsh_np(),
                    path_hdr: self.nsh_path_hdr(),
                }),
                md1: (self.nsh_mdtype() == NSH_M_TYPE1)
                    .then(|| [0, 1, 2, 3].map(|i| self.nsh_context(i))),
                md2: None,
            })),
            _ => {}
        }
        if !ip || self.ip_frag() == OVS_FRAG_TYPE_LATER {
            return;
        }
        let ports = PortsKey {
            src: self.tp_src(),
            dst: self.tp_dst(),
        };
        let icmp = IcmpKey {
            type_: self.tp_src() as u8,
            code: self.tp_dst() as u8,
        };
        match self.ip_proto() {
            6 => {
                out.push(KeyAttr::Tcp(ports));
                out.push(KeyAttr::TcpFlags(self.tcp_flags()));
            }
            17 => out.push(KeyAttr::Udp(ports)),
            132 => out.push(KeyAttr::Sctp(ports)),
            1 if et == ETH_P_IP => out.push(KeyAttr::Icmp(icmp)),
            58 if et == ETH_P_IPV6 => {
                out.push(KeyAttr::Icmpv6(icmp));
                if icmp.type_ == 135 || icmp.type_ == 136 {
                    out.push(KeyAttr::Nd(NdKey {
                        target: Ipv6Addr::from(self.nd_target()),
                        sll: self.l2addr_a(),
                        tll: self.l2addr_b(),
                    }));
                }
            }
            _ => {}
        }
    }
}

const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const ETH_P_ARP: u16 = 0x0806;
const ETH_P_RARP: u16 = 0x8035;
const ETH_P_MPLS_UC: u16 = 0x8847;
const ETH_P_MPLS_MC: u16 = 0x8848;
const ETH_P_NSH: u16 = 0x894f;

/// Copies one level of attributes into `k`; `depth` counts VLAN tags seen so far.
fn fill(k: &mut FlowKey, key: &Key, depth: usize, is_mask: bool) -> Result<()> {
    let vlan_level = key.contains(OvsKeyAttr::Encap)
        && key.contains(OvsKeyAttr::Vlan)
        && (is_mask
            || matches!(key.get(OvsKeyAttr::Ethertype), Some(KeyAttr::Ethertype(t)) if is_vlan_tpid(*t)));
    for (off, a) in key.offsets() {
        match a {
            KeyAttr::Encap(inner) => {
                if depth >= 2 {
                    return Err(Error::inval(off, "more than two VLAN tags"));
                }
                fill(k, inner, depth + 1, is_mask)?;
            }
            KeyAttr::Priority(v) => k.set_priority(*v),
            KeyAttr::InPort(v) => k.set_in_port(if is_mask { u32::MAX } else { *v }),
            KeyAttr::SkbMark(v) => k.set_skb_mark(*v),
            KeyAttr::DpHash(v) => k.set_dp_hash(*v),
            KeyAttr::RecircId(v) => k.set_recirc_id(*v),
            KeyAttr::CtState(v) => k.set_ct_state(*v as u8),
            KeyAttr::CtZone(v) => k.set_ct_zone(*v),
            KeyAttr::CtMark(v) => k.set_ct_mark(*v),
            KeyAttr::CtLabels(b) => k.set_ct_labels(u128::from_le_bytes(*b)),
            KeyAttr::CtOrigTupleIpv4(t) => {
                k.set_ct_src(u128::from(u32::from(t.src)));
                k.set_ct_dst(u128::from(u32::from(t.dst)));
                k.set_ct_tp_src(t.src_port);
                k.set_ct_tp_dst(t.dst_port);
                k.set_ct_orig_proto(t.proto);
            }
            KeyAttr::CtOrigTupleIpv6(t) => {
                k.set_ct_src(u128::from(t.src));
                k.set_ct_dst(u128::from(t.dst));
                k.set_ct_tp_src(t.src_port);
                k.set_ct_tp_dst(t.dst_port);
                k.set_ct_orig_proto(t.proto);
            }
            KeyAttr::Tunnel(t) => fill_tunnel(k, t, is_mask),
            KeyAttr::Ethernet(e) => {
                k.set_eth_src(e.src);
                k.set_eth_dst(e.dst);
                k.set_mac_proto(if is_mask { 0xff } else { MAC_PROTO_ETHERNET });
            }
            KeyAttr::Vlan(tci) => match depth {
                0 => k.set_vlan_tci(*tci),
                1 => k.set_cvlan_tci(*tci),
                _ => return Err(Error::inval(off, "more than two VLAN tags")),
            },
            KeyAttr::Ethertype(t) => {
                let v = if is_mask {
                    if *t == 0 {
                        continue;
                    }
                    0xffff
                } else {
                    *t
                };
                if vlan_level {
                    if depth == 0 {
                        k.set_vlan_tpid(v);
                    } else {
                        k.set_cvlan_tpid(v);
                    }
                } else {
                    k.set_eth_type(v);
                }
            }
            KeyAttr::Ipv4(i) => {
                k.set_ip_src(u128::from(u32::from(i.src)));
                k.set_ip_dst(u128::from(u32::from(i.dst)));
                k.set_ip_proto(i.proto);
                k.set_ip_tos(i.tos);
                k.set_ip_ttl(i.ttl);
                k.set_ip_frag(i.frag);
            }
            KeyAttr::Ipv6(i) => {
                k.set_ip_src(u128::from(i.src));
                k.set_ip_dst(u128::from(i.dst));
                k.set_ipv6_label(i.label);
                k.set_ip_proto(i.proto);
                k.set_ip_tos(i.tclass);
                k.set_ip_ttl(i.hlimit);
                k.set_ip_frag(i.frag);
            }
            KeyAttr::Tcp(p) | KeyAttr::Udp(p) | KeyAttr::Sctp(p) => {
                k.set_tp_src(p.src);
                k.set_tp_dst(p.dst);
            }
            KeyAttr::TcpFlags(f) => k.set_tcp_flags(*f),
            KeyAttr::Icmp(i) | KeyAttr::Icmpv6(i) => {
                k.set_tp_src(u16::from(i.type_));
                k.set_tp_dst(u16::from(i.code));
            }
            KeyAttr::Arp(a) => {
                k.set_ip_src(u128::from(u32::from(a.sip)));
                k.set_ip_dst(u128::from(u32::from(a.tip)));
                k.set_arp_op(a.op);
                k.set_l2addr_a(a.sha);
                k.set_l2addr_b(a.tha);
            }
            KeyAttr::Nd(n) => {
                k.set_nd_target(u128::from(n.target));
                k.set_l2addr_a(n.sll);
                k.set_l2addr_b(n.tll);
            }
            KeyAttr::Mpls(l) => {
                let mut present = 0u8;
                for (i, v) in l.iter().enumerate().take(3) {
                    k.set_mpls_lse(i, *v);
                    present |= 1 << i;
                }
                k.set_mpls_lse_mask(present);
            }
            KeyAttr::Nsh(n) => {
                if let Some(b) = n.base {
                    k.set_nsh_flags(b.flags);
                    k.set_nsh_ttl(b.ttl);
                    k.set_nsh_mdtype(b.mdtype);
                    k.set_nsh_np(b.np);
                    k.set_nsh_path_hdr(b.path_hdr);
                }
                if let Some(c) = n.md1 {
                    for (i, v) in c.iter().enumerate() {
                        k.set_nsh_context(i, *v);
                    }
                }
            }
            KeyAttr::Ipv6Exthdrs(h) => k.set_ipv6_exthdrs(*h),
            KeyAttr::PacketType(_) | KeyAttr::Unknown(..) => {
                return Err(Error::inval(off, "attribute has no fast-path field"));
            }
        }
    }
    Ok(())
}

fn fill_tunnel(k: &mut FlowKey, t: &TunnelKey, is_mask: bool) {
    let v6 = t.ipv6_src.is_some() || t.ipv6_dst.is_some();
    k.set_tun_proto(match (is_mask, v6) {
        (true, _) => 0xff,
        (false, true) => TUN_PROTO_IPV6,
        (false, false) => TUN_PROTO_IPV4,
    });
    let mut f = 0u16;
    if let Some(id) = t.id {
        k.set_tun_id(id);
        f |= TUN_F_KEY;
    }
    if let Some(a) = t.ipv4_src {
        k.set_tun_src(u128::from(u32::from(a)));
    }
    if let Some(a) = t.ipv4_dst {
        k.set_tun_dst(u128::from(u32::from(a)));
    }
    if let Some(a) = t.ipv6_src {
        k.set_tun_src(u128::from(a));
    }
    if let Some(a) = t.ipv6_dst {
        k.set_tun_dst(u128::from(a));
    }
    k.set_tun_tos(t.tos.unwrap_or(0));
    k.set_tun_ttl(t.ttl.unwrap_or(0));
    k.set_tun_tp_src(t.tp_src.unwrap_or(0));
    k.set_tun_tp_dst(t.tp_dst.unwrap_or(0));
    for (on, bit) in [
        (t.dont_fragment, TUN_F_DONT_FRAGMENT),
        (t.csum, TUN_F_CSUM),
        (t.oam, TUN_F_OAM),
        (t.ipv4_info_bridge, TUN_F_INFO_BRIDGE),
    ] {
        if on {
            f |= bit;
        }
    }
    if let Some(o) = &t.geneve_opts {
        k.set_tun_opts(o);
        f |= TUN_F_GENEVE_OPT;
    } else if let Some(g) = t.vxlan_gbp {
        k.set_tun_opts(&g.to_ne_bytes());
        f |= TUN_F_VXLAN_OPT;
    } else if let Some(o) = &t.erspan_opts {
        k.set_tun_opts(o);
        f |= TUN_F_ERSPAN_OPT;
    }
    if is_mask && k.tun_opts_len() != 0 {
        k.set_tun_opts_len(0xff);
    }
    k.set_tun_flags(f);
}

/// A mask in the [`FlowKey`] layout.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct FlowMask(pub FlowKey);

impl FlowMask {
    /// Builds the fast-path mask from a (validated) mask key, as `ovs_nla_get_match` fills the
    /// kernel mask: `in_port`, the ethertype and the Ethernet-vs-L3 bit are always exact, VLAN
    /// TCIs default to exact, and a present tunnel mask exact-matches its protocol.
    pub fn from_mask(mask: &Key) -> Result<FlowMask> {
        let mut m = FlowKey::default();
        m.set_mac_proto(0xff);
        m.set_vlan_tci(0xffff);
        m.set_cvlan_tci(0xffff);
        fill(&mut m, mask, 0, true)?;
        Ok(FlowMask(m))
    }
    /// The mask every field of which is exact.
    pub fn exact() -> FlowMask {
        FlowMask(FlowKey {
            w: [u64::MAX; FLOW_KEY_WORDS],
        })
    }
    /// Indices of the words that are not all zero (what a classifier needs to compare).
    pub fn nonzero_words(&self) -> impl Iterator<Item = usize> + '_ {
        self.0
            .w
            .iter()
            .enumerate()
            .filter(|(_, w)| **w != 0)
            .map(|(i, _)| i)
    }
}
