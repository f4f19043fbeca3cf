//! Flow keys and masks: the `OVS_KEY_ATTR_*` attribute stream and its validation.
//!
//! ≈ `net/openvswitch/flow_netlink.c` (`ovs_nla_get_match`, `ovs_nla_put_key`,
//! `match_validate`) in Linux and the key half of `lib/odp-util.c` in OVS.
//!
//! A [`Key`] is the owned, ordered form of a nested key attribute list; a mask is a `Key` of the
//! same shape whose field values are mask bits. [`FlowKey`] / [`FlowMask`] are the fixed-layout
//! forms the classifier compares word by word.

mod codec;
mod flow;
mod tunnel;
mod validate;

use std::net::{Ipv4Addr, Ipv6Addr};

pub use codec::NSH_CTX_HDRS_MAX_LEN;
pub use flow::*;
pub use tunnel::*;
pub use validate::{exact_mask, is_vlan_tpid, parse_match, validate_match, Match};

/// `OVS_KEY_ATTR_UNSPEC`.
pub const OVS_KEY_ATTR_UNSPEC: u16 = 0;
/// `OVS_KEY_ATTR_ENCAP`: nested key attributes inside a VLAN tag.
pub const OVS_KEY_ATTR_ENCAP: u16 = 1;
/// `OVS_KEY_ATTR_PRIORITY`: u32 skb->priority.
pub const OVS_KEY_ATTR_PRIORITY: u16 = 2;
/// `OVS_KEY_ATTR_IN_PORT`: u32 datapath input port.
pub const OVS_KEY_ATTR_IN_PORT: u16 = 3;
/// `OVS_KEY_ATTR_ETHERNET`: `struct ovs_key_ethernet`.
pub const OVS_KEY_ATTR_ETHERNET: u16 = 4;
/// `OVS_KEY_ATTR_VLAN`: be16 TCI.
pub const OVS_KEY_ATTR_VLAN: u16 = 5;
/// `OVS_KEY_ATTR_ETHERTYPE`: be16 ethertype.
pub const OVS_KEY_ATTR_ETHERTYPE: u16 = 6;
/// `OVS_KEY_ATTR_IPV4`: `struct ovs_key_ipv4`.
pub const OVS_KEY_ATTR_IPV4: u16 = 7;
/// `OVS_KEY_ATTR_IPV6`: `struct ovs_key_ipv6`.
pub const OVS_KEY_ATTR_IPV6: u16 = 8;
/// `OVS_KEY_ATTR_TCP`: `struct ovs_key_tcp`.
pub const OVS_KEY_ATTR_TCP: u16 = 9;
/// `OVS_KEY_ATTR_UDP`: `struct ovs_key_udp`.
pub const OVS_KEY_ATTR_UDP: u16 = 10;
/// `OVS_KEY_ATTR_ICMP`: `struct ovs_key_icmp`.
pub const OVS_KEY_ATTR_ICMP: u16 = 11;
/// `OVS_KEY_ATTR_ICMPV6`: `struct ovs_key_icmpv6`.
pub const OVS_KEY_ATTR_ICMPV6: u16 = 12;
/// `OVS_KEY_ATTR_ARP`: `struct ovs_key_arp`.
pub const OVS_KEY_ATTR_ARP: u16 = 13;
/// `OVS_KEY_ATTR_ND`: `struct ovs_key_nd`.
pub const OVS_KEY_ATTR_ND: u16 = 14;
/// `OVS_KEY_ATTR_SKB_MARK`: u32 skb->mark.
pub const OVS_KEY_ATTR_SKB_MARK: u16 = 15;
/// `OVS_KEY_ATTR_TUNNEL`: nested `OVS_TUNNEL_KEY_ATTR_*`.
pub const OVS_KEY_ATTR_TUNNEL: u16 = 16;
/// `OVS_KEY_ATTR_SCTP`: `struct ovs_key_sctp`.
pub const OVS_KEY_ATTR_SCTP: u16 = 17;
/// `OVS_KEY_ATTR_TCP_FLAGS`: be16 TCP flags.
pub const OVS_KEY_ATTR_TCP_FLAGS: u16 = 18;
/// `OVS_KEY_ATTR_DP_HASH`: u32 datapath hash.
pub const OVS_KEY_ATTR_DP_HASH: u16 = 19;
/// `OVS_KEY_ATTR_RECIRC_ID`: u32 recirculation id.
pub const OVS_KEY_ATTR_RECIRC_ID: u16 = 20;
/// `OVS_KEY_ATTR_MPLS`: array of `struct ovs_key_mpls`.
pub const OVS_KEY_ATTR_MPLS: u16 = 21;
/// `OVS_KEY_ATTR_CT_STATE`: u32 `OVS_CS_F_*` bits.
pub const OVS_KEY_ATTR_CT_STATE: u16 = 22;
/// `OVS_KEY_ATTR_CT_ZONE`: u16 conntrack zone.
pub const OVS_KEY_ATTR_CT_ZONE: u16 = 23;
/// `OVS_KEY_ATTR_CT_MARK`: u32 conntrack mark.
pub const OVS_KEY_ATTR_CT_MARK: u16 = 24;
/// `OVS_KEY_ATTR_CT_LABELS`: 16-byte conntrack labels.
pub const OVS_KEY_ATTR_CT_LABELS: u16 = 25;
/// `OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV4`: `struct ovs_key_ct_tuple_ipv4`.
pub const OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV4: u16 = 26;
/// `OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6`: `struct ovs_key_ct_tuple_ipv6`.
pub const OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6: u16 = 27;
/// `OVS_KEY_ATTR_NSH`: nested `OVS_NSH_KEY_ATTR_*`.
pub const OVS_KEY_ATTR_NSH: u16 = 28;
/// `OVS_KEY_ATTR_PACKET_TYPE`: be32, OVS userspace only (the kernel rejects it).
pub const OVS_KEY_ATTR_PACKET_TYPE: u16 = 29;
/// `OVS_KEY_ATTR_ND_EXTENSIONS`: OVS userspace only (the kernel rejects it).
pub const OVS_KEY_ATTR_ND_EXTENSIONS: u16 = 30;
/// `OVS_KEY_ATTR_TUNNEL_INFO`: kernel-internal, never valid on the wire.
pub const OVS_KEY_ATTR_TUNNEL_INFO: u16 = 31;
/// `OVS_KEY_ATTR_IPV6_EXTHDRS`: u16 bitmap of IPv6 extension headers (newer kernels only).
pub const OVS_KEY_ATTR_IPV6_EXTHDRS: u16 = 32;

/// `OVS_FRAG_TYPE_NONE`.
pub const OVS_FRAG_TYPE_NONE: u8 = 0;
/// `OVS_FRAG_TYPE_FIRST`: first fragment (MF set, offset 0).
pub const OVS_FRAG_TYPE_FIRST: u8 = 1;
/// `OVS_FRAG_TYPE_LATER`: any fragment with a non-zero offset.
pub const OVS_FRAG_TYPE_LATER: u8 = 2;

/// `OVS_CS_F_NEW`.
pub const OVS_CS_F_NEW: u32 = 0x01;
/// `OVS_CS_F_ESTABLISHED`.
pub const OVS_CS_F_ESTABLISHED: u32 = 0x02;
/// `OVS_CS_F_RELATED`.
pub const OVS_CS_F_RELATED: u32 = 0x04;
/// `OVS_CS_F_REPLY_DIR`.
pub const OVS_CS_F_REPLY_DIR: u32 = 0x08;
/// `OVS_CS_F_INVALID`.
pub const OVS_CS_F_INVALID: u32 = 0x10;
/// `OVS_CS_F_TRACKED`.
pub const OVS_CS_F_TRACKED: u32 = 0x20;
/// `OVS_CS_F_SRC_NAT`.
pub const OVS_CS_F_SRC_NAT: u32 = 0x40;
/// `OVS_CS_F_DST_NAT`.
pub const OVS_CS_F_DST_NAT: u32 = 0x80;
/// Every `OVS_CS_F_*` bit the kernel accepts in a `CT_STATE` key.
pub const CT_SUPPORTED_STATE_FLAGS: u32 = 0xff;

/// `OVS_NSH_KEY_ATTR_BASE`: `struct ovs_nsh_key_base`.
pub const OVS_NSH_KEY_ATTR_BASE: u16 = 1;
/// `OVS_NSH_KEY_ATTR_MD1`: `struct ovs_nsh_key_md1`.
pub const OVS_NSH_KEY_ATTR_MD1: u16 = 2;
/// `OVS_NSH_KEY_ATTR_MD2`: variable-length MD type 2 TLVs.
pub const OVS_NSH_KEY_ATTR_MD2: u16 = 3;

/// `NSH_M_TYPE1`: fixed-length metadata.
pub const NSH_M_TYPE1: u8 = 1;
/// `NSH_M_TYPE2`: variable-length metadata.
pub const NSH_M_TYPE2: u8 = 2;

/// Highest key attribute type the kernel knows (`OVS_KEY_ATTR_MAX`).
pub const OVS_KEY_ATTR_MAX: u16 = OVS_KEY_ATTR_IPV6_EXTHDRS;

/// `enum ovs_key_attr`, lossless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OvsKeyAttr {
    /// `OVS_KEY_ATTR_UNSPEC`.
    Unspec,
    /// `OVS_KEY_ATTR_ENCAP`.
    Encap,
    /// `OVS_KEY_ATTR_PRIORITY`.
    Priority,
    /// `OVS_KEY_ATTR_IN_PORT`.
    InPort,
    /// `OVS_KEY_ATTR_ETHERNET`.
    Ethernet,
    /// `OVS_KEY_ATTR_VLAN`.
    Vlan,
    /// `OVS_KEY_ATTR_ETHERTYPE`.
    Ethertype,
    /// `OVS_KEY_ATTR_IPV4`.
    Ipv4,
    /// `OVS_KEY_ATTR_IPV6`.
    Ipv6,
    /// `OVS_KEY_ATTR_TCP`.
    Tcp,
    /// `OVS_KEY_ATTR_UDP`.
    Udp,
    /// `OVS_KEY_ATTR_ICMP`.
    Icmp,
    /// `OVS_KEY_ATTR_ICMPV6`.
    Icmpv6,
    /// `OVS_KEY_ATTR_ARP`.
    Arp,
    /// `OVS_KEY_ATTR_ND`.
    Nd,
    /// `OVS_KEY_ATTR_SKB_MARK`.
    SkbMark,
    /// `OVS_KEY_ATTR_TUNNEL`.
    Tunnel,
    /// `OVS_KEY_ATTR_SCTP`.
    Sctp,
    /// `OVS_KEY_ATTR_TCP_FLAGS`.
    TcpFlags,
    /// `OVS_KEY_ATTR_DP_HASH`.
    DpHash,
    /// `OVS_KEY_ATTR_RECIRC_ID`.
    RecircId,
    /// `OVS_KEY_ATTR_MPLS`.
    Mpls,
    /// `OVS_KEY_ATTR_CT_STATE`.
    CtState,
    /// `OVS_KEY_ATTR_CT_ZONE`.
    CtZone,
    /// `OVS_KEY_ATTR_CT_MARK`.
    CtMark,
    /// `OVS_KEY_ATTR_CT_LABELS`.
    CtLabels,
    /// `OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV4`.
    CtOrigTupleIpv4,
    /// `OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6`.
    CtOrigTupleIpv6,
    /// `OVS_KEY_ATTR_NSH`.
    Nsh,
    /// `OVS_KEY_ATTR_PACKET_TYPE`.
    PacketType,
    /// `OVS_KEY_ATTR_ND_EXTENSIONS`.
    NdExtensions,
    /// `OVS_KEY_ATTR_TUNNEL_INFO`.
    TunnelInfo,
    /// `OVS_KEY_ATTR_IPV6_EXTHDRS`.
    Ipv6Exthdrs,
    /// Any other type number.
    Unknown(u16),
}

impl From<u16> for OvsKeyAttr {
    fn from(n: u16) -> Self {
        use OvsKeyAttr::*;
        match n {
            OVS_KEY_ATTR_UNSPEC => Unspec,
            OVS_KEY_ATTR_ENCAP => Encap,
            OVS_KEY_ATTR_PRIORITY => Priority,
            OVS_KEY_ATTR_IN_PORT => InPort,
            OVS_KEY_ATTR_ETHERNET => Ethernet,
            OVS_KEY_ATTR_VLAN => Vlan,
            OVS_KEY_ATTR_ETHERTYPE => Ethertype,
            OVS_KEY_ATTR_IPV4 => Ipv4,
            OVS_KEY_ATTR_IPV6 => Ipv6,
            OVS_KEY_ATTR_TCP => Tcp,
            OVS_KEY_ATTR_UDP => Udp,
            OVS_KEY_ATTR_ICMP => Icmp,
            OVS_KEY_ATTR_ICMPV6 => Icmpv6,
            OVS_KEY_ATTR_ARP => Arp,
            OVS_KEY_ATTR_ND => Nd,
            OVS_KEY_ATTR_SKB_MARK => SkbMark,
            OVS_KEY_ATTR_TUNNEL => Tunnel,
            OVS_KEY_ATTR_SCTP => Sctp,
            OVS_KEY_ATTR_TCP_FLAGS => TcpFlags,
            OVS_KEY_ATTR_DP_HASH => DpHash,
            OVS_KEY_ATTR_RECIRC_ID => RecircId,
            OVS_KEY_ATTR_MPLS => Mpls,
            OVS_KEY_ATTR_CT_STATE => CtState,
            OVS_KEY_ATTR_CT_ZONE => CtZone,
            OVS_KEY_ATTR_CT_MARK => CtMark,
            OVS_KEY_ATTR_CT_LABELS => CtLabels,
            OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV4 => CtOrigTupleIpv4,
            OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6 => CtOrigTupleIpv6,
            OVS_KEY_ATTR_NSH => Nsh,
            OVS_KEY_ATTR_PACKET_TYPE => PacketType,
            OVS_KEY_ATTR_ND_EXTENSIONS => NdExtensions,
            OVS_KEY_ATTR_TUNNEL_INFO => TunnelInfo,
            OVS_KEY_ATTR_IPV6_EXTHDRS => Ipv6Exthdrs,
            n => Unknown(n),
        }
    }
}

impl From<OvsKeyAttr> for u16 {
    fn from(a: OvsKeyAttr) -> u16 {
        use OvsKeyAttr::*;
        match a {
            Unspec => OVS_KEY_ATTR_UNSPEC,
            Encap => OVS_KEY_ATTR_ENCAP,
            Priority => OVS_KEY_ATTR_PRIORITY,
            InPort => OVS_KEY_ATTR_IN_PORT,
            Ethernet => OVS_KEY_ATTR_ETHERNET,
            Vlan => OVS_KEY_ATTR_VLAN,
            Ethertype => OVS_KEY_ATTR_ETHERTYPE,
            Ipv4 => OVS_KEY_ATTR_IPV4,
            Ipv6 => OVS_KEY_ATTR_IPV6,
            Tcp => OVS_KEY_ATTR_TCP,
            Udp => OVS_KEY_ATTR_UDP,
            Icmp => OVS_KEY_ATTR_ICMP,
            Icmpv6 => OVS_KEY_ATTR_ICMPV6,
            Arp => OVS_KEY_ATTR_ARP,
            Nd => OVS_KEY_ATTR_ND,
            SkbMark => OVS_KEY_ATTR_SKB_MARK,
            Tunnel => OVS_KEY_ATTR_TUNNEL,
            Sctp => OVS_KEY_ATTR_SCTP,
            TcpFlags => OVS_KEY_ATTR_TCP_FLAGS,
            DpHash => OVS_KEY_ATTR_DP_HASH,
            RecircId => OVS_KEY_ATTR_RECIRC_ID,
            Mpls => OVS_KEY_ATTR_MPLS,
            CtState => OVS_KEY_ATTR_CT_STATE,
            CtZone => OVS_KEY_ATTR_CT_ZONE,
            CtMark => OVS_KEY_ATTR_CT_MARK,
            CtLabels => OVS_KEY_ATTR_CT_LABELS,
            CtOrigTupleIpv4 => OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV4,
            CtOrigTupleIpv6 => OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6,
            Nsh => OVS_KEY_ATTR_NSH,
            PacketType => OVS_KEY_ATTR_PACKET_TYPE,
            NdExtensions => OVS_KEY_ATTR_ND_EXTENSIONS,
            TunnelInfo => OVS_KEY_ATTR_TUNNEL_INFO,
            Ipv6Exthdrs => OVS_KEY_ATTR_IPV6_EXTHDRS,
            Unknown(n) => n,
        }
    }
}

/// `struct ovs_key_ethernet` (12 bytes, **source first**).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EthernetKey {
    /// Source MAC.
    pub src: [u8; 6],
    /// Destination MAC.
    pub dst: [u8; 6],
}

/// `struct ovs_key_ipv4` (12 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Key {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// IP protocol number.
    pub proto: u8,
    /// The whole DSCP+ECN byte.
    pub tos: u8,
    /// Time to live.
    pub ttl: u8,
    /// `OVS_FRAG_TYPE_*`.
    pub frag: u8,
}

impl Default for Ipv4Key {
    fn default() -> Self {
        Ipv4Key {
            src: Ipv4Addr::UNSPECIFIED,
            dst: Ipv4Addr::UNSPECIFIED,
            proto: 0,
            tos: 0,
            ttl: 0,
            frag: 0,
        }
    }
}

/// `struct ovs_key_ipv6` (40 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Key {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// Flow label (20 bits in a key; be32 on the wire).
    pub label: u32,
    /// Next header after the extension headers.
    pub proto: u8,
    /// Traffic class.
    pub tclass: u8,
    /// Hop limit.
    pub hlimit: u8,
    /// `OVS_FRAG_TYPE_*`.
    pub frag: u8,
}

impl Default for Ipv6Key {
    fn default() -> Self {
        Ipv6Key {
            src: Ipv6Addr::UNSPECIFIED,
            dst: Ipv6Addr::UNSPECIFIED,
            label: 0,
            proto: 0,
            tclass: 0,
            hlimit: 0,
            frag: 0,
        }
    }
}

/// `struct ovs_key_tcp` / `ovs_key_udp` / `ovs_key_sctp` (4 bytes, be16 each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PortsKey {
    /// Source port.
    pub src: u16,
    /// Destination port.
    pub dst: u16,
}

/// `struct ovs_key_icmp` / `ovs_key_icmpv6` (2 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct IcmpKey {
    /// ICMP type.
    pub type_: u8,
    /// ICMP code.
    pub code: u8,
}

/// `struct ovs_key_arp` (24 bytes with 2 bytes of padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArpKey {
    /// Sender protocol address.
    pub sip: Ipv4Addr,
    /// Target protocol address.
    pub tip: Ipv4Addr,
    /// Opcode (the kernel accepts only values ≤ 0xff in keys).
    pub op: u16,
    /// Sender hardware address.
    pub sha: [u8; 6],
    /// Target hardware address.
    pub tha: [u8; 6],
}

impl Default for ArpKey {
    fn default() -> Self {
        ArpKey {
            sip: Ipv4Addr::UNSPECIFIED,
            tip: Ipv4Addr::UNSPECIFIED,
            op: 0,
            sha: [0; 6],
            tha: [0; 6],
        }
    }
}

/// `struct ovs_key_nd` (28 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NdKey {
    /// Target address of a neighbour solicitation/advertisement.
    pub target: Ipv6Addr,
    /// Source link-layer address option.
    pub sll: [u8; 6],
    /// Target link-layer address option.
    pub tll: [u8; 6],
}

impl Default for NdKey {
    fn default() -> Self {
        NdKey {
            target: Ipv6Addr::UNSPECIFIED,
            sll: [0; 6],
            tll: [0; 6],
        }
    }
}

/// `struct ovs_key_ct_tuple_ipv4` (16 bytes with 3 bytes of padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CtTupleIpv4 {
    /// Original-direction source address.
    pub src: Ipv4Addr,
    /// Original-direction destination address.
    pub dst: Ipv4Addr,
    /// Original-direction source port (or ICMP type in the high byte).
    pub src_port: u16,
    /// Original-direction destination port (or ICMP code).
    pub dst_port: u16,
    /// IP protocol.
    pub proto: u8,
}

impl Default for CtTupleIpv4 {
    fn default() -> Self {
        CtTupleIpv4 {
            src: Ipv4Addr::UNSPECIFIED,
            dst: Ipv4Addr::UNSPECIFIED,
            src_port: 0,
            dst_port: 0,
            proto: 0,
        }
    }
}

/// `struct ovs_key_ct_tuple_ipv6` (40 bytes with 3 bytes of padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CtTupleIpv6 {
    /// Original-direction source address.
    pub src: Ipv6Addr,
    /// Original-direction destination address.
    pub dst: Ipv6Addr,
    /// Original-direction source port.
    pub src_port: u16,
    /// Original-direction destination port.
    pub dst_port: u16,
    /// IP protocol.
    pub proto: u8,
}

impl Default for CtTupleIpv6 {
    fn default() -> Self {
        CtTupleIpv6 {
            src: Ipv6Addr::UNSPECIFIED,
            dst: Ipv6Addr::UNSPECIFIED,
            src_port: 0,
            dst_port: 0,
            proto: 0,
        }
    }
}

/// `struct ovs_nsh_key_base` (8 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NshBase {
    /// NSH flags (2 bits used).
    pub flags: u8,
    /// NSH TTL (6 bits).
    pub ttl: u8,
    /// `NSH_M_TYPE1` or `NSH_M_TYPE2`.
    pub mdtype: u8,
    /// Next protocol.
    pub np: u8,
    /// Service path header: SPI (24 bits) << 8 | SI (8 bits).
    pub path_hdr: u32,
}

impl NshBase {
    /// Service path identifier: the upper 24 bits of the path header.
    pub fn spi(&self) -> u32 {
        self.path_hdr >> 8
    }
    /// Service index: the low 8 bits of the path header.
    pub fn si(&self) -> u8 {
        (self.path_hdr & 0xff) as u8
    }
}

/// Nested `OVS_KEY_ATTR_NSH`: base header plus MD type 1 context (or raw MD2 TLVs).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct NshKey {
    /// `OVS_NSH_KEY_ATTR_BASE`.
    pub base: Option<NshBase>,
    /// `OVS_NSH_KEY_ATTR_MD1`: four be32 context headers.
    pub md1: Option<[u32; 4]>,
    /// `OVS_NSH_KEY_ATTR_MD2`: raw TLVs (only meaningful in `push_nsh`).
    pub md2: Option<Vec<u8>>,
}

/// One `OVS_KEY_ATTR_*` attribute with its typed payload.
///
/// Multi-byte fields hold numeric values; the codec converts to and from the uapi byte order
/// (`__be` fields in network order, in_port/priority/mark/recirc/dp_hash/ct_* in host order).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyAttr {
    /// `OVS_KEY_ATTR_ENCAP`: the key inside a VLAN tag.
    Encap(Key),
    /// `OVS_KEY_ATTR_PRIORITY`.
    Priority(u32),
    /// `OVS_KEY_ATTR_IN_PORT`.
    InPort(u32),
    /// `OVS_KEY_ATTR_ETHERNET`.
    Ethernet(EthernetKey),
    /// `OVS_KEY_ATTR_VLAN`: TCI, CFI bit 0x1000 set for a present tag.
    Vlan(u16),
    /// `OVS_KEY_ATTR_ETHERTYPE`.
    Ethertype(u16),
    /// `OVS_KEY_ATTR_IPV4`.
    Ipv4(Ipv4Key),
    /// `OVS_KEY_ATTR_IPV6`.
    Ipv6(Ipv6Key),
    /// `OVS_KEY_ATTR_TCP`.
    Tcp(PortsKey),
    /// `OVS_KEY_ATTR_UDP`.
    Udp(PortsKey),
    /// `OVS_KEY_ATTR_ICMP`.
    Icmp(IcmpKey),
    /// `OVS_KEY_ATTR_ICMPV6`.
    Icmpv6(IcmpKey),
    /// `OVS_KEY_ATTR_ARP`.
    Arp(ArpKey),
    /// `OVS_KEY_ATTR_ND`.
    Nd(NdKey),
    /// `OVS_KEY_ATTR_SKB_MARK`.
    SkbMark(u32),
    /// `OVS_KEY_ATTR_TUNNEL`.
    Tunnel(TunnelKey),
    /// `OVS_KEY_ATTR_SCTP`.
    Sctp(PortsKey),
    /// `OVS_KEY_ATTR_TCP_FLAGS`.
    TcpFlags(u16),
    /// `OVS_KEY_ATTR_DP_HASH`.
    DpHash(u32),
    /// `OVS_KEY_ATTR_RECIRC_ID`.
    RecircId(u32),
    /// `OVS_KEY_ATTR_MPLS`: label stack entries, outermost first.
    Mpls(Vec<u32>),
    /// `OVS_KEY_ATTR_CT_STATE`.
    CtState(u32),
    /// `OVS_KEY_ATTR_CT_ZONE`.
    CtZone(u16),
    /// `OVS_KEY_ATTR_CT_MARK`.
    CtMark(u32),
    /// `OVS_KEY_ATTR_CT_LABELS`: 128 bits in memory order.
    CtLabels([u8; 16]),
    /// `OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV4`.
    CtOrigTupleIpv4(CtTupleIpv4),
    /// `OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6`.
    CtOrigTupleIpv6(CtTupleIpv6),
    /// `OVS_KEY_ATTR_NSH`.
    Nsh(NshKey),
    /// `OVS_KEY_ATTR_PACKET_TYPE`: be32 `ns << 16 | type` (OVS userspace only).
    PacketType(u32),
    /// `OVS_KEY_ATTR_IPV6_EXTHDRS`: u16 bitmap.
    Ipv6Exthdrs(u16),
    /// Any attribute this crate does not model, kept raw so decoding is lossless.
    Unknown(u16, Vec<u8>),
}

/// An ordered list of key attributes: a flow key, or a mask of the same shape.
///
/// Order is kept so keys echo byte for byte and print in the order they were given.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Key(pub Vec<KeyAttr>);

impl Key {
    /// The first attribute of the given type at this level (not inside `encap`).
    pub fn get(&self, kind: OvsKeyAttr) -> Option<&KeyAttr> {
        self.0.iter().find(|a| a.kind() == kind)
    }
    /// Mutable access to the first attribute of the given type at this level.
    pub fn get_mut(&mut self, kind: OvsKeyAttr) -> Option<&mut KeyAttr> {
        self.0.iter_mut().find(|a| a.kind() == kind)
    }
    /// Whether this level has an attribute of the given type.
    pub fn contains(&self, kind: OvsKeyAttr) -> bool {
        self.get(kind).is_some()
    }
    /// Appends an attribute.
    pub fn push(&mut self, attr: KeyAttr) {
        self.0.push(attr);
    }
    /// Whether the key has no attributes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Number of attributes at this level.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl KeyAttr {
    /// The attribute's type.
    pub fn kind(&self) -> OvsKeyAttr {
        OvsKeyAttr::from(self.type_id())
    }
}
