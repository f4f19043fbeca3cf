//! Kernel validation of a key and its mask (`ovs_nla_get_match` and `match_validate`).
//!
//! The kernel flattens the key: the contents of each `ENCAP` are merged into one attribute
//! table with the outer level (so a type may appear only once across all levels), after the
//! VLAN rules of `validate_vlan_from_nlattrs` have been checked. A mask is flattened the same
//! way, except that fixed-size attributes whose bytes are all zero count as absent.

use super::*;
use crate::{Error, Result};

const ETH_P_IP: u16 = 0x0800;
const ETH_P_ARP: u16 = 0x0806;
const ETH_P_RARP: u16 = 0x8035;
const ETH_P_IPV6: u16 = 0x86dd;
const ETH_P_MPLS_UC: u16 = 0x8847;
const ETH_P_MPLS_MC: u16 = 0x8848;
const ETH_P_NSH: u16 = 0x894f;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88a8;
const ETH_P_802_3_MIN: u16 = 0x0600;
/// `VLAN_CFI_MASK` (a.k.a. `VLAN_TAG_PRESENT` in the key encoding).
const VLAN_CFI_MASK: u16 = 0x1000;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_SCTP: u8 = 132;
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_ICMPV6: u8 = 58;
const NDISC_NEIGHBOUR_SOLICITATION: u8 = 135;
const NDISC_NEIGHBOUR_ADVERTISEMENT: u8 = 136;

/// Whether `t` is a VLAN TPID (`eth_type_vlan`).
pub fn is_vlan_tpid(t: u16) -> bool {
    t == ETH_P_8021Q || t == ETH_P_8021AD
}

/// A validated key with its mask (the exact mask the kernel builds when none was sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// The key as sent.
    pub key: Key,
    /// The mask as sent, or [`exact_mask`] of the key.
    pub mask: Key,
    /// Whether the mask was built because none was sent.
    pub mask_was_absent: bool,
}

/// Decodes and validates `OVS_FLOW_ATTR_KEY` (and `OVS_FLOW_ATTR_MASK` if present) as
/// `ovs_nla_get_match` does. `key_base`/`mask_base` are the offsets of the attribute payloads
/// in the enclosing message, so errors point into it.
pub fn parse_match(key_buf: &[u8], key_base: usize, mask: Option<(&[u8], usize)>) -> Result<Match> {
    let key = Key::parse(key_buf, key_base)?;
    let (mask, absent) = match mask {
        Some((buf, base)) => {
            let mask = Key::parse(buf, base)?;
            validate_inner(&key, key_base, Some(&mask), base)?;
            (mask, false)
        }
        None => {
            let mask = exact_mask(&key);
            validate_inner(&key, key_base, Some(&mask), key_base)
                .map_err(|e| mask_error_in_key(e, &key, &mask, key_base))?;
            (mask, true)
        }
    };
    Ok(Match {
        key,
        mask,
        mask_was_absent: absent,
    })
}

/// Moves an error about the built exact mask onto the key attribute it was built from. The
/// exact mask can be longer than the key (a tunnel mask has every field), so its offsets may
/// point past the key that was sent.
fn mask_error_in_key(e: Error, key: &Key, mask: &Key, base: usize) -> Error {
    fn pairs(key: &Key, mask: &Key, kbase: usize, out: &mut Vec<(usize, usize)>) {
        // `exact_mask` keeps order and types, so the i-th attributes correspond.
        for ((koff, k), (moff, m)) in key.offsets().zip(mask.offsets()) {
            out.push((kbase + moff, kbase + koff));
            if let (KeyAttr::Encap(ki), KeyAttr::Encap(mi)) = (k, m) {
                let mut inner = Vec::new();
                pairs(ki, mi, 0, &mut inner);
                out.extend(inner.into_iter().map(|(mo, ko)| {
                    (
                        kbase + moff + crate::nl::attr::NLA_HDRLEN + mo,
                        kbase + koff + crate::nl::attr::NLA_HDRLEN + ko,
                    )
                }));
            }
        }
    }
    let mut map = Vec::new();
    pairs(key, mask, base, &mut map);
    let at = map
        .iter()
        .filter(|(m, _)| *m <= e.offset)
        .max_by_key(|(m, _)| *m)
        .map_or(base, |(_, k)| *k);
    Error { offset: at, ..e }
}

/// Validates a decoded key and optional mask with the kernel's rules. Error offsets are
/// relative to the start of the key's (or, for mask problems, the mask's) attribute stream.
/// A missing mask is validated as the exact mask the kernel would build.
pub fn validate_match(key: &Key, mask: Option<&Key>) -> Result<()> {
    match mask {
        Some(m) => validate_inner(key, 0, Some(m), 0),
        None => validate_inner(key, 0, Some(&exact_mask(key)), 0),
    }
}

/// The mask the kernel builds for a key sent without one: every byte of every attribute
/// present in the key set to 0xff (`mask_set_nlattr`), plus the whole tunnel key when the key
/// has a tunnel, even fields the key leaves out.
pub fn exact_mask(key: &Key) -> Key {
    Key(key.0.iter().map(exact_attr_mask).collect())
}

fn exact_attr_mask(a: &KeyAttr) -> KeyAttr {
    let ip4 = std::net::Ipv4Addr::BROADCAST;
    let ip6 = std::net::Ipv6Addr::from([0xffu8; 16]);
    match a {
        KeyAttr::Encap(k) => KeyAttr::Encap(exact_mask(k)),
        KeyAttr::Priority(_) => KeyAttr::Priority(u32::MAX),
        KeyAttr::InPort(_) => KeyAttr::InPort(u32::MAX),
        KeyAttr::Ethernet(_) => KeyAttr::Ethernet(EthernetKey {
            src: [0xff; 6],
            dst: [0xff; 6],
        }),
        KeyAttr::Vlan(_) => KeyAttr::Vlan(u16::MAX),
        KeyAttr::Ethertype(_) => KeyAttr::Ethertype(u16::MAX),
        KeyAttr::Ipv4(_) => KeyAttr::Ipv4(Ipv4Key {
            src: ip4,
            dst: ip4,
            proto: 0xff,
            tos: 0xff,
            ttl: 0xff,
            frag: 0xff,
        }),
        KeyAttr::Ipv6(_) => KeyAttr::Ipv6(Ipv6Key {
            src: ip6,
            dst: ip6,
            label: u32::MAX,
            proto: 0xff,
            tclass: 0xff,
            hlimit: 0xff,
            frag: 0xff,
        }),
        KeyAttr::Tcp(_) => KeyAttr::Tcp(PortsKey {
            src: 0xffff,
            dst: 0xffff,
        }),
        KeyAttr::Udp(_) => KeyAttr::Udp(PortsKey {
            src: 0xffff,
            dst: 0xffff,
        }),
        KeyAttr::Sctp(_) => KeyAttr::Sctp(PortsKey {
            src: 0xffff,
            dst: 0xffff,
        }),
        KeyAttr::Icmp(_) => KeyAttr::Icmp(IcmpKey {
            type_: 0xff,
            code: 0xff,
        }),
        KeyAttr::Icmpv6(_) => KeyAttr::Icmpv6(IcmpKey {
            type_: 0xff,
            code: 0xff,
        }),
        KeyAttr::Arp(_) => KeyAttr::Arp(ArpKey {
            sip: ip4,
            tip: ip4,
            op: 0xffff,
            sha: [0xff; 6],
            tha: [0xff; 6],
        }),
        KeyAttr::Nd(_) => KeyAttr::Nd(NdKey {
            target: ip6,
            sll: [0xff; 6],
            tll: [0xff; 6],
        }),
        KeyAttr::SkbMark(_) => KeyAttr::SkbMark(u32::MAX),
        KeyAttr::Tunnel(t) => KeyAttr::Tunnel(exact_tunnel_mask(t)),
        KeyAttr::TcpFlags(_) => KeyAttr::TcpFlags(u16::MAX),
        KeyAttr::DpHash(_) => KeyAttr::DpHash(u32::MAX),
        KeyAttr::RecircId(_) => KeyAttr::RecircId(u32::MAX),
        KeyAttr::Mpls(l) => KeyAttr::Mpls(vec![u32::MAX; l.len()]),
        KeyAttr::CtState(_) => KeyAttr::CtState(u32::MAX),
        KeyAttr::CtZone(_) => KeyAttr::CtZone(u16::MAX),
        KeyAttr::CtMark(_) => KeyAttr::CtMark(u32::MAX),
        KeyAttr::CtLabels(_) => KeyAttr::CtLabels([0xff; 16]),
        KeyAttr::CtOrigTupleIpv4(_) => KeyAttr::CtOrigTupleIpv4(CtTupleIpv4 {
            src: ip4,
            dst: ip4,
            src_port: 0xffff,
            dst_port: 0xffff,
            proto: 0xff,
        }),
        KeyAttr::CtOrigTupleIpv6(_) => KeyAttr::CtOrigTupleIpv6(CtTupleIpv6 {
            src: ip6,
            dst: ip6,
            src_port: 0xffff,
            dst_port: 0xffff,
            proto: 0xff,
        }),
        KeyAttr::Nsh(n) => KeyAttr::Nsh(NshKey {
            base: n.base.map(|_| NshBase {
                flags: 0xff,
                ttl: 0xff,
                mdtype: 0xff,
                np: 0xff,
                path_hdr: u32::MAX,
            }),
            md1: n.md1.map(|_| [u32::MAX; 4]),
            md2: n.md2.as_ref().map(|m| vec![0xff; m.len()]),
        }),
        KeyAttr::PacketType(_) => KeyAttr::PacketType(u32::MAX),
        KeyAttr::Ipv6Exthdrs(_) => KeyAttr::Ipv6Exthdrs(u16::MAX),
        KeyAttr::Unknown(t, b) => KeyAttr::Unknown(*t, vec![0xff; b.len()]),
    }
}

/// The kernel exact-matches the whole tunnel key, including fields the key omits (zero).
fn exact_tunnel_mask(t: &TunnelKey) -> TunnelKey {
    let v6 = t.ipv6_src.is_some() || t.ipv6_dst.is_some();
    let ip4 = std::net::Ipv4Addr::BROADCAST;
    let ip6 = std::net::Ipv6Addr::from([0xffu8; 16]);
    TunnelKey {
        id: Some(u64::MAX),
        ipv4_src: (!v6).then_some(ip4),
        ipv4_dst: (!v6).then_some(ip4),
        ipv6_src: v6.then_some(ip6),
        ipv6_dst: v6.then_some(ip6),
        tos: Some(0xff),
        ttl: Some(0xff),
        dont_fragment: true,
        csum: true,
        oam: true,
        tp_src: Some(0xffff),
        tp_dst: Some(0xffff),
        geneve_opts: t.geneve_opts.as_ref().map(|o| vec![0xff; o.len()]),
        vxlan_gbp: t.vxlan_gbp.map(|_| u32::MAX),
        erspan_opts: t.erspan_opts.as_ref().map(|o| vec![0xff; o.len()]),
        ipv4_info_bridge: false,
    }
}

/// One level-flattened attribute table: `a[type]` = (attribute, offset of its header).
struct Table<'k> {
    a: [Option<(&'k KeyAttr, usize)>; 33],
    bits: u64,
}

impl<'k> Table<'k> {
    fn new() -> Self {
        Table {
            a: [None; 33],
            bits: 0,
        }
    }
    fn get(&self, t: u16) -> Option<(&'k KeyAttr, usize)> {
        self.a.get(usize::from(t)).copied().flatten()
    }
    fn has(&self, t: u16) -> bool {
        self.bits & (1u64 << t) != 0
    }
    fn remove(&mut self, t: u16) {
        self.bits &= !(1u64 << t);
        if let Some(s) = self.a.get_mut(usize::from(t)) {
            *s = None;
        }
    }
    /// Adds one level of attributes; `nz` drops all-zero fixed-size attributes (mask rule).
    fn add_level(&mut self, key: &'k Key, base: usize, nz: bool) -> Result<()> {
        for (off, attr) in key.offsets() {
            let off = base + off;
            let t = attr.type_id();
            if t > OVS_KEY_ATTR_MAX
                || matches!(
                    t,
                    OVS_KEY_ATTR_UNSPEC
                        | OVS_KEY_ATTR_PACKET_TYPE
                        | OVS_KEY_ATTR_ND_EXTENSIONS
                        | OVS_KEY_ATTR_TUNNEL_INFO
                )
            {
                return Err(Error::inval(off, "unknown key attribute type"));
            }
            if self.has(t) {
                return Err(Error::inval(off, "duplicate key attribute"));
            }
            if nz && is_all_zero(attr) {
                continue;
            }
            self.bits |= 1u64 << t;
            if let Some(s) = self.a.get_mut(usize::from(t)) {
                *s = Some((attr, off));
            }
        }
        Ok(())
    }
}

/// Whether a fixed-size mask attribute is all zero. Nested and variable-size attributes never
/// are: the kernel's test runs over a negative "length" for them and stops at the first
/// non-zero byte beyond.
fn is_all_zero(a: &KeyAttr) -> bool {
    match a {
        KeyAttr::Encap(_) | KeyAttr::Tunnel(_) | KeyAttr::Nsh(_) | KeyAttr::Mpls(_) => false,
        a => a.payload_bytes().is_some_and(|b| b.iter().all(|&x| x == 0)),
    }
}

fn be16_of(a: Option<(&KeyAttr, usize)>) -> Option<u16> {
    match a {
        Some((KeyAttr::Vlan(v), _)) | Some((KeyAttr::Ethertype(v), _)) => Some(*v),
        _ => None,
    }
}

/// VLAN tags seen in the key, outer first (`eth.vlan.tci`, `eth.cvlan.tci`).
struct Tags {
    tci: [u16; 2],
}

fn flatten_key_vlans<'k>(t: &mut Table<'k>) -> Result<Tags> {
    let mut tags = Tags { tci: [0; 2] };
    for slot in tags.tci.iter_mut() {
        if !(t.has(OVS_KEY_ATTR_ETHERNET)
            && be16_of(t.get(OVS_KEY_ATTR_ETHERTYPE)).is_some_and(is_vlan_tpid))
        {
            break;
        }
        let (Some(vlan), Some(encap)) = (t.get(OVS_KEY_ATTR_VLAN), t.get(OVS_KEY_ATTR_ENCAP))
        else {
            let off = t.get(OVS_KEY_ATTR_ETHERTYPE).map_or(0, |(_, o)| o);
            return Err(Error::inval(off, "VLAN frame without both VLAN and ENCAP"));
        };
        let tci = be16_of(Some(vlan)).unwrap_or(0);
        let KeyAttr::Encap(inner) = encap.0 else {
            return Err(Error::inval(encap.1, "bad encap"));
        };
        if tci & VLAN_CFI_MASK == 0 {
            if tci != 0 {
                return Err(Error::inval(
                    vlan.1,
                    "VLAN TCI does not have the CFI bit set",
                ));
            }
            if !inner.is_empty() {
                return Err(Error::inval(
                    encap.1,
                    "truncated VLAN header has a non-empty encap",
                ));
            }
        }
        *slot = tci;
        t.remove(OVS_KEY_ATTR_ENCAP);
        t.remove(OVS_KEY_ATTR_VLAN);
        t.remove(OVS_KEY_ATTR_ETHERTYPE);
        t.add_level(inner, encap.1 + 4, false)?;
        if tci & VLAN_CFI_MASK == 0 {
            break;
        }
    }
    Ok(tags)
}

fn flatten_mask_vlans<'k>(m: &mut Table<'k>, tags: &Tags) -> Result<()> {
    for tci in tags.tci {
        let Some(encap) = m.get(OVS_KEY_ATTR_ENCAP) else {
            return Ok(());
        };
        if tci & VLAN_CFI_MASK == 0 {
            return Err(Error::inval(
                encap.1,
                "encap mask attribute set for a non-VLAN frame",
            ));
        }
        let tpid = be16_of(m.get(OVS_KEY_ATTR_ETHERTYPE)).unwrap_or(0);
        let tci_mask = be16_of(m.get(OVS_KEY_ATTR_VLAN)).unwrap_or(0);
        if tpid != 0xffff {
            return Err(Error::inval(encap.1, "VLAN TPID mask must be exact"));
        }
        if tci_mask & VLAN_CFI_MASK == 0 {
            return Err(Error::inval(
                encap.1,
                "VLAN TCI mask must match the CFI bit exactly",
            ));
        }
        let KeyAttr::Encap(inner) = encap.0 else {
            return Err(Error::inval(encap.1, "bad encap"));
        };
        m.remove(OVS_KEY_ATTR_ENCAP);
        m.remove(OVS_KEY_ATTR_VLAN);
        m.remove(OVS_KEY_ATTR_ETHERTYPE);
        m.add_level(inner, encap.1 + 4, true)?;
    }
    Ok(())
}

fn key_value_checks(t: &Table<'_>) -> Result<()> {
    for (attr, off) in t.a.iter().flatten() {
        let off = *off;
        match attr {
            KeyAttr::InPort(p) if *p >= crate::ovs::DP_MAX_PORTS => {
                return Err(Error::inval(off, "in_port exceeds the maximum port number"));
            }
            KeyAttr::Ethertype(e) if *e < ETH_P_802_3_MIN => {
                return Err(Error::inval(off, "ethertype below 0x0600"));
            }
            KeyAttr::Ipv4(k) if k.frag > OVS_FRAG_TYPE_LATER => {
                return Err(Error::inval(off, "ipv4 frag type out of range"));
            }
            KeyAttr::Ipv6(k) if k.frag > OVS_FRAG_TYPE_LATER => {
                return Err(Error::inval(off, "ipv6 frag type out of range"));
            }
            KeyAttr::Ipv6(k) if k.label & 0xfff0_0000 != 0 => {
                return Err(Error::inval(off, "ipv6 flow label out of range"));
            }
            KeyAttr::Arp(k) if k.op & 0xff00 != 0 => {
                return Err(Error::inval(off, "unknown ARP opcode"));
            }
            KeyAttr::CtState(s) if s & !CT_SUPPORTED_STATE_FLAGS != 0 => {
                return Err(Error::inval(off, "unsupported ct_state bits"));
            }
            KeyAttr::Tunnel(tun) => tun.validate_key(off)?,
            KeyAttr::Nsh(n) => {
                let mdtype = n.base.map_or(0, |b| b.mdtype);
                if (n.md1.is_some() && mdtype != NSH_M_TYPE1)
                    || (n.md2.is_some() && mdtype != NSH_M_TYPE2)
                {
                    return Err(Error::inval(off, "nsh metadata does not match its md type"));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn mask_value_checks(m: &Table<'_>, k: &Table<'_>) -> Result<()> {
    if let Some((KeyAttr::Tunnel(tm), off)) = m.get(OVS_KEY_ATTR_TUNNEL) {
        let v4 = tm.ipv4_src.is_some() || tm.ipv4_dst.is_some() || tm.ipv4_info_bridge;
        let v6 = tm.ipv6_src.is_some() || tm.ipv6_dst.is_some();
        if v4 && v6 {
            return Err(Error::inval(off, "mixed IPv4 and IPv6 tunnel attributes"));
        }
        if let Some(opts) = &tm.geneve_opts {
            let key_len = match k.get(OVS_KEY_ATTR_TUNNEL) {
                Some((KeyAttr::Tunnel(tk), _)) => tk
                    .geneve_opts
                    .as_ref()
                    .or(tk.erspan_opts.as_ref())
                    .map_or(if tk.vxlan_gbp.is_some() { 4 } else { 0 }, Vec::len),
                _ => 0,
            };
            if opts.len() != key_len {
                return Err(Error::inval(
                    off,
                    "geneve option mask length differs from key",
                ));
            }
        }
    }
    Ok(())
}

fn validate_inner(key: &Key, kbase: usize, mask: Option<&Key>, mbase: usize) -> Result<()> {
    let mut k = Table::new();
    k.add_level(key, kbase, false)?;
    let tags = flatten_key_vlans(&mut k)?;
    if let Some((_, off)) = k.get(OVS_KEY_ATTR_VLAN) {
        return Err(Error::inval(off, "unexpected VLAN attribute"));
    }
    if let Some((_, off)) = k.get(OVS_KEY_ATTR_ENCAP) {
        return Err(Error::inval(off, "unexpected encap attribute"));
    }
    let eth_type = be16_of(k.get(OVS_KEY_ATTR_ETHERTYPE));
    if !k.has(OVS_KEY_ATTR_ETHERNET) && eth_type.is_none() {
        return Err(Error::inval(
            kbase,
            "either Ethernet header or EtherType is required",
        ));
    }
    key_value_checks(&k)?;

    let mut m = Table::new();
    if let Some(mask) = mask {
        m.add_level(mask, mbase, true)?;
        flatten_mask_vlans(&mut m, &tags)?;
        if let Some((_, off)) = m.get(OVS_KEY_ATTR_VLAN) {
            return Err(Error::inval(off, "unexpected VLAN mask attribute"));
        }
        if let Some((_, off)) = m.get(OVS_KEY_ATTR_ENCAP) {
            return Err(Error::inval(off, "unexpected encap mask attribute"));
        }
        mask_value_checks(&m, &k)?;
    }

    // match_validate()
    let bit = |t: u16| 1u64 << t;
    let mut expected = 0u64;
    let mut allowed = k.bits
        & !(bit(OVS_KEY_ATTR_IPV4)
            | bit(OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV4)
            | bit(OVS_KEY_ATTR_IPV6)
            | bit(OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6)
            | bit(OVS_KEY_ATTR_TCP)
            | bit(OVS_KEY_ATTR_TCP_FLAGS)
            | bit(OVS_KEY_ATTR_UDP)
            | bit(OVS_KEY_ATTR_SCTP)
            | bit(OVS_KEY_ATTR_ICMP)
            | bit(OVS_KEY_ATTR_ICMPV6)
            | bit(OVS_KEY_ATTR_ARP)
            | bit(OVS_KEY_ATTR_ND)
            | bit(OVS_KEY_ATTR_MPLS)
            | bit(OVS_KEY_ATTR_NSH));
    allowed |= bit(OVS_KEY_ATTR_TUNNEL) | bit(OVS_KEY_ATTR_IN_PORT) | bit(OVS_KEY_ATTR_ETHERTYPE);

    let have_mask = mask.is_some();
    let mask_eth_exact = have_mask && m.has(OVS_KEY_ATTR_ETHERTYPE);
    let (proto, frag, l3) = match (k.get(OVS_KEY_ATTR_IPV4), k.get(OVS_KEY_ATTR_IPV6)) {
        (Some((KeyAttr::Ipv4(v), _)), _) if eth_type == Some(ETH_P_IP) => (v.proto, v.frag, 4),
        (_, Some((KeyAttr::Ipv6(v), _))) if eth_type == Some(ETH_P_IPV6) => (v.proto, v.frag, 6),
        _ => (0, 0, 0),
    };
    let mask_proto = match (m.get(OVS_KEY_ATTR_IPV4), m.get(OVS_KEY_ATTR_IPV6)) {
        (Some((KeyAttr::Ipv4(v), _)), _) => v.proto,
        (_, Some((KeyAttr::Ipv6(v), _))) => v.proto,
        _ => 0,
    };
    let proto_exact = have_mask && mask_proto == 0xff;
    let l4 = |e: &mut u64, a: &mut u64, bits: u64| {
        *e |= bits;
        if proto_exact {
            *a |= bits;
        }
    };
    match eth_type {
        Some(ETH_P_ARP) | Some(ETH_P_RARP) => {
            expected |= bit(OVS_KEY_ATTR_ARP);
            if mask_eth_exact {
                allowed |= bit(OVS_KEY_ATTR_ARP);
            }
        }
        Some(ETH_P_MPLS_UC) | Some(ETH_P_MPLS_MC) => {
            expected |= bit(OVS_KEY_ATTR_MPLS);
            if mask_eth_exact {
                allowed |= bit(OVS_KEY_ATTR_MPLS);
            }
        }
        Some(ETH_P_NSH) => {
            expected |= bit(OVS_KEY_ATTR_NSH);
            if mask_eth_exact {
                allowed |= bit(OVS_KEY_ATTR_NSH);
            }
        }
        Some(ETH_P_IP) | Some(ETH_P_IPV6) => {
            let v6 = eth_type == Some(ETH_P_IPV6);
            let (l3bit, ctbit) = if v6 {
                (bit(OVS_KEY_ATTR_IPV6), bit(OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6))
            } else {
                (bit(OVS_KEY_ATTR_IPV4), bit(OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV4))
            };
            expected |= l3bit;
            if mask_eth_exact {
                allowed |= l3bit | ctbit;
            }
            // Without the L3 attribute the kernel's proto/frag are zero: no L4 expectations.
            if l3 != 0 && frag != OVS_FRAG_TYPE_LATER {
                match proto {
                    IPPROTO_UDP => l4(&mut expected, &mut allowed, bit(OVS_KEY_ATTR_UDP)),
                    IPPROTO_SCTP => l4(&mut expected, &mut allowed, bit(OVS_KEY_ATTR_SCTP)),
                    IPPROTO_TCP => l4(
                        &mut expected,
                        &mut allowed,
                        bit(OVS_KEY_ATTR_TCP) | bit(OVS_KEY_ATTR_TCP_FLAGS),
                    ),
                    IPPROTO_ICMP if !v6 => l4(&mut expected, &mut allowed, bit(OVS_KEY_ATTR_ICMP)),
                    IPPROTO_ICMPV6 if v6 => {
                        l4(&mut expected, &mut allowed, bit(OVS_KEY_ATTR_ICMPV6));
                        let ty = match k.get(OVS_KEY_ATTR_ICMPV6) {
                            Some((KeyAttr::Icmpv6(i), _)) => i.type_,
                            _ => 0,
                        };
                        if ty == NDISC_NEIGHBOUR_SOLICITATION || ty == NDISC_NEIGHBOUR_ADVERTISEMENT
                        {
                            expected |= bit(OVS_KEY_ATTR_ND);
                            // The original-direction tuple shares storage with ND fields.
                            allowed &= !bit(OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6);
                            let type_mask = match m.get(OVS_KEY_ATTR_ICMPV6) {
                                Some((KeyAttr::Icmpv6(i), _)) => i.type_,
                                _ => 0,
                            };
                            if have_mask && type_mask == 0xff {
                                allowed |= bit(OVS_KEY_ATTR_ND);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    if k.bits & expected != expected {
        return Err(Error::inval(
            kbase,
            "key is missing an attribute its protocol requires",
        ));
    }
    let extra = m.bits & !allowed;
    if extra != 0 {
        let t = extra.trailing_zeros() as u16;
        let off = m.get(t).map_or(mbase, |(_, o)| o);
        return Err(Error::inval(off, "mask attribute not allowed by the key"));
    }
    Ok(())
}
