//! Text for flow keys and masks, exactly as OVS 3.1 prints and parses it.
//!
//! ≈ `odp_flow_format`, `format_odp_key_attr__`, `format_odp_tun_attr` (printing) and
//! `odp_flow_from_string`, `parse_odp_key_mask_attr` (parsing) in OVS `lib/odp-util.c`.
//! The printed forms, the masks rules and the known round-trip gaps are described in
//! `reference/ovs-users.md` §1.8.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::lex::{self, fmt_ipv6, fmt_mac, hash_x, put_hex};
use crate::ovs::key::*;
use crate::{Error, Result};

/// `MAX_ODP_NESTED`: deeper `encap(...)` nesting is rejected.
const MAX_ODP_NESTED: usize = 32;

// ---------------------------------------------------------------------------------------------
// Printing
// ---------------------------------------------------------------------------------------------

/// The text name of a key attribute type (`ovs_key_attr_to_string`), `None` for unnamed ones.
pub fn key_attr_name(t: u16) -> Option<&'static str> {
    Some(match t {
        OVS_KEY_ATTR_UNSPEC => "unspec",
        OVS_KEY_ATTR_ENCAP => "encap",
        OVS_KEY_ATTR_PRIORITY => "skb_priority",
        OVS_KEY_ATTR_SKB_MARK => "skb_mark",
        OVS_KEY_ATTR_CT_STATE => "ct_state",
        OVS_KEY_ATTR_CT_ZONE => "ct_zone",
        OVS_KEY_ATTR_CT_MARK => "ct_mark",
        OVS_KEY_ATTR_CT_LABELS => "ct_label",
        OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV4 => "ct_tuple4",
        OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6 => "ct_tuple6",
        OVS_KEY_ATTR_TUNNEL => "tunnel",
        OVS_KEY_ATTR_IN_PORT => "in_port",
        OVS_KEY_ATTR_ETHERNET => "eth",
        OVS_KEY_ATTR_VLAN => "vlan",
        OVS_KEY_ATTR_ETHERTYPE => "eth_type",
        OVS_KEY_ATTR_IPV4 => "ipv4",
        OVS_KEY_ATTR_IPV6 => "ipv6",
        OVS_KEY_ATTR_TCP => "tcp",
        OVS_KEY_ATTR_TCP_FLAGS => "tcp_flags",
        OVS_KEY_ATTR_UDP => "udp",
        OVS_KEY_ATTR_SCTP => "sctp",
        OVS_KEY_ATTR_ICMP => "icmp",
        OVS_KEY_ATTR_ICMPV6 => "icmpv6",
        OVS_KEY_ATTR_ARP => "arp",
        OVS_KEY_ATTR_ND => "nd",
        OVS_KEY_ATTR_ND_EXTENSIONS => "nd_ext",
        OVS_KEY_ATTR_MPLS => "mpls",
        OVS_KEY_ATTR_DP_HASH => "dp_hash",
        OVS_KEY_ATTR_RECIRC_ID => "recirc_id",
        OVS_KEY_ATTR_PACKET_TYPE => "packet_type",
        OVS_KEY_ATTR_NSH => "nsh",
        _ => return None,
    })
}

fn ct_state_name(bit: u32) -> Option<&'static str> {
    Some(match bit {
        0x01 => "new",
        0x02 => "est",
        0x04 => "rel",
        0x08 => "rpl",
        0x10 => "inv",
        0x20 => "trk",
        0x40 => "snat",
        0x80 => "dnat",
        _ => return None,
    })
}

fn tcp_flag_name(bit: u32) -> Option<&'static str> {
    Some(match bit {
        0x001 => "fin",
        0x002 => "syn",
        0x004 => "rst",
        0x008 => "psh",
        0x010 => "ack",
        0x020 => "urg",
        0x040 => "ece",
        0x080 => "cwr",
        0x100 => "ns",
        0x200 => "[200]",
        0x400 => "[400]",
        0x800 => "[800]",
        _ => return None,
    })
}

/// Tunnel flag bits as printed inside `tunnel(...,flags(...))`.
const TNL_F_OAM: u32 = 0x1;
const TNL_F_DF: u32 = 0x2;
const TNL_F_CSUM: u32 = 0x4;
const TNL_F_KEY: u32 = 0x8;
const TNL_F_MASK: u32 = 0xf;

fn tun_flag_name(bit: u32) -> Option<&'static str> {
    Some(match bit {
        TNL_F_OAM => "oam",
        TNL_F_DF => "df",
        TNL_F_CSUM => "csum",
        TNL_F_KEY => "key",
        _ => return None,
    })
}

type BitName = fn(u32) -> Option<&'static str>;

/// `format_flags`: set bits' names joined by `|`, unnamed bits as one `0x…`, or `0`.
fn format_flags(out: &mut String, name: BitName, flags: u32) {
    if flags == 0 {
        out.push('0');
        return;
    }
    let mut bad = 0;
    let mut first = true;
    for i in 0..32 {
        let bit = 1u32 << i;
        if flags & bit == 0 {
            continue;
        }
        match name(bit) {
            Some(s) => {
                if !first {
                    out.push('|');
                }
                out.push_str(s);
                first = false;
            }
            None => bad |= bit,
        }
    }
    if bad != 0 {
        if !first {
            out.push('|');
        }
        let _ = write!(out, "0x{bad:x}");
    }
}

/// `format_flags_masked`: `+name`/`-name` per mask bit, exact as plain flags, `0/0` if none.
fn format_flags_masked(out: &mut String, name: BitName, flags: u32, mask: u32, max: u32) {
    if mask == max {
        format_flags(out, name, flags);
        return;
    }
    if mask == 0 {
        out.push_str("0/0");
        return;
    }
    for i in 0..32 {
        let bit = 1u32 << i;
        if mask & bit != 0 {
            out.push(if flags & bit != 0 { '+' } else { '-' });
            out.push_str(name(bit).unwrap_or("[Unknown]"));
        }
    }
}

/// Field printer with OVS's rules: a zero mask omits the field unless verbose, a partial mask
/// adds `/mask`, and every field ends with a comma that the caller chomps.
struct Fields<'o> {
    out: &'o mut String,
    verbose: bool,
}

impl Fields<'_> {
    fn show(&self, mask_empty: bool) -> bool {
        self.verbose || !mask_empty
    }
    /// `format_u8u` / `format_be16` (decimal) and `format_u8x` / `format_be16x` (`%#x`).
    fn num(&mut self, name: &str, v: u64, m: Option<u64>, full: u64, hex: bool) {
        if !self.show(m == Some(0)) {
            return;
        }
        let _ = write!(self.out, "{name}=");
        if hex {
            self.out.push_str(&hash_x(v));
        } else {
            let _ = write!(self.out, "{v}");
        }
        if let Some(m) = m.filter(|&m| m != full) {
            let _ = write!(self.out, "/{}", hash_x(m));
        }
        self.out.push(',');
    }
    /// `format_u8u`: a byte in decimal.
    fn u8u(&mut self, name: &str, v: u8, m: Option<u8>) {
        self.num(name, v.into(), m.map(u64::from), 0xff, false);
    }
    /// `format_u8x`: a byte as `%#x`.
    fn u8x(&mut self, name: &str, v: u8, m: Option<u8>) {
        self.num(name, v.into(), m.map(u64::from), 0xff, true);
    }
    /// `format_be16`: a 16-bit field in decimal.
    fn be16(&mut self, name: &str, v: u16, m: Option<u16>) {
        self.num(name, v.into(), m.map(u64::from), 0xffff, false);
    }
    /// `format_be16x`: a 16-bit field as `%#x`.
    fn be16x(&mut self, name: &str, v: u16, m: Option<u16>) {
        self.num(name, v.into(), m.map(u64::from), 0xffff, true);
    }
    fn be64(&mut self, name: &str, v: u64, m: Option<u64>) {
        if !self.show(m == Some(0)) {
            return;
        }
        let _ = write!(self.out, "{name}=0x{v:x}");
        if let Some(m) = m.filter(|&m| m != u64::MAX) {
            let _ = write!(self.out, "/{}", hash_x(m));
        }
        self.out.push(',');
    }
    fn ipv4(&mut self, name: &str, v: Ipv4Addr, m: Option<Ipv4Addr>) {
        if !self.show(m.is_some_and(|m| m.is_unspecified())) {
            return;
        }
        let _ = write!(self.out, "{name}={v}");
        if let Some(m) = m.filter(|m| *m != Ipv4Addr::BROADCAST) {
            let _ = write!(self.out, "/{m}");
        }
        self.out.push(',');
    }
    fn ipv6(&mut self, name: &str, v: &Ipv6Addr, m: Option<&Ipv6Addr>) {
        if !self.show(m.is_some_and(|m| m.is_unspecified())) {
            return;
        }
        let _ = write!(self.out, "{name}=");
        fmt_ipv6(self.out, v);
        if let Some(m) = m.filter(|m| m.octets() != [0xff; 16]) {
            self.out.push('/');
            fmt_ipv6(self.out, m);
        }
        self.out.push(',');
    }
    fn mac(&mut self, name: &str, v: &[u8; 6], m: Option<&[u8; 6]>) {
        if !self.show(m.is_some_and(|m| *m == [0; 6])) {
            return;
        }
        let _ = write!(self.out, "{name}=");
        fmt_mac(self.out, v);
        if let Some(m) = m.filter(|m| **m != [0xff; 6]) {
            self.out.push('/');
            fmt_mac(self.out, m);
        }
        self.out.push(',');
    }
    fn label(&mut self, name: &str, v: u32, m: Option<u32>) {
        if !self.show(m == Some(0)) {
            return;
        }
        let _ = write!(self.out, "{name}={}", hash_x(u64::from(v)));
        if let Some(m) = m.filter(|&m| m & 0xfffff != 0xfffff) {
            let _ = write!(self.out, "/{}", hash_x(u64::from(m)));
        }
        self.out.push(',');
    }
    /// `format_frag`: printed only when its mask is non-zero, even when verbose.
    fn frag(&mut self, name: &str, v: u8, m: Option<u8>) {
        match m {
            Some(0) => {}
            Some(m) if m != 0xff => {
                let _ = write!(
                    self.out,
                    "error: partial mask not supported for frag ({}),",
                    hash_x(u64::from(m))
                );
            }
            _ => {
                let s = match v {
                    OVS_FRAG_TYPE_NONE => "no",
                    OVS_FRAG_TYPE_FIRST => "first",
                    OVS_FRAG_TYPE_LATER => "later",
                    _ => "<error>",
                };
                let _ = write!(self.out, "{name}={s},");
            }
        }
    }
}

fn chomp(out: &mut String) {
    if out.ends_with(',') {
        out.pop();
    }
}

/// All-ones / all-zero tests per attribute (`odp_mask_is_constant__`).
fn mask_is_constant(a: &KeyAttr, ones: bool) -> bool {
    let byte = if ones { 0xffu8 } else { 0 };
    let all = |b: &[u8]| b.iter().all(|&x| x == byte);
    match a {
        KeyAttr::Encap(_) | KeyAttr::Tunnel(_) | KeyAttr::Nsh(_) | KeyAttr::Unknown(..) => false,
        KeyAttr::TcpFlags(m) => m & 0x0fff == if ones { 0x0fff } else { 0 },
        KeyAttr::Ipv6(m) => {
            m.label & 0xfffff == if ones { 0xfffff } else { 0 }
                && all(&[m.proto, m.tclass, m.hlimit, m.frag])
                && all(&m.src.octets())
                && all(&m.dst.octets())
        }
        KeyAttr::Arp(m) => all(&m.to_bytes()[..22]),
        KeyAttr::CtOrigTupleIpv4(m) => all(&m.to_bytes()[..13]),
        KeyAttr::CtOrigTupleIpv6(m) => all(&m.to_bytes()[..37]),
        a => a.payload_bytes().is_some_and(|b| all(&b)),
    }
}

/// A mask of the same shape as `a` with every value zero (`generate_all_wildcard_mask`); flag
/// attributes of a tunnel stay present, as the generated nest repeats them.
fn zero_mask(a: &KeyAttr) -> KeyAttr {
    match a {
        KeyAttr::Encap(k) => KeyAttr::Encap(Key(k.0.iter().map(zero_mask).collect())),
        KeyAttr::Tunnel(t) => KeyAttr::Tunnel(TunnelKey {
            id: t.id.map(|_| 0),
            ipv4_src: t.ipv4_src.map(|_| Ipv4Addr::UNSPECIFIED),
            ipv4_dst: t.ipv4_dst.map(|_| Ipv4Addr::UNSPECIFIED),
            ipv6_src: t.ipv6_src.map(|_| Ipv6Addr::UNSPECIFIED),
            ipv6_dst: t.ipv6_dst.map(|_| Ipv6Addr::UNSPECIFIED),
            tos: t.tos.map(|_| 0),
            ttl: t.ttl.map(|_| 0),
            tp_src: t.tp_src.map(|_| 0),
            tp_dst: t.tp_dst.map(|_| 0),
            geneve_opts: t.geneve_opts.as_ref().map(|o| vec![0; o.len()]),
            vxlan_gbp: t.vxlan_gbp.map(|_| 0),
            erspan_opts: t.erspan_opts.as_ref().map(|o| vec![0; o.len()]),
            ..t.clone()
        }),
        KeyAttr::Nsh(n) => KeyAttr::Nsh(NshKey {
            base: n.base.map(|_| NshBase::default()),
            md1: n.md1.map(|_| [0; 4]),
            md2: n.md2.as_ref().map(|m| vec![0; m.len()]),
        }),
        KeyAttr::Mpls(l) => KeyAttr::Mpls(vec![0; l.len()]),
        KeyAttr::Unknown(t, b) => KeyAttr::Unknown(*t, vec![0; b.len()]),
        a => {
            let b = a.payload_bytes().unwrap_or_default();
            parse_payload(a.type_id(), &vec![0; b.len()]).unwrap_or_else(|| a.clone())
        }
    }
}

/// Re-decodes a fixed-size payload (used to build zero masks of the right variant).
fn parse_payload(t: u16, payload: &[u8]) -> Option<KeyAttr> {
    let mut buf = Vec::new();
    crate::nl::NlaWriter::new(&mut buf).put(t, payload);
    let nla = crate::nl::NlaIter::new(&buf).next()?.ok()?;
    KeyAttr::parse(&nla).ok()
}

/// Prints a key with an optional mask as `odp_flow_format` does (`verbose` = `-m`).
pub fn format_key(key: &Key, mask: Option<&Key>, verbose: bool, out: &mut String) {
    if key.is_empty() {
        out.push_str("<empty>");
        return;
    }
    let mask = mask.filter(|m| !m.is_empty());
    let mut has_ethtype = false;
    let mut has_packet_type = false;
    let mut first = true;
    for a in &key.0 {
        let t = a.type_id();
        if t == OVS_KEY_ATTR_ETHERTYPE {
            has_ethtype = true;
        } else if t == OVS_KEY_ATTR_PACKET_TYPE {
            has_packet_type = true;
        }
        let nested = matches!(a, KeyAttr::Encap(_) | KeyAttr::Tunnel(_) | KeyAttr::Nsh(_));
        let mut ma = mask.and_then(|m| m.0.iter().find(|x| x.type_id() == t).cloned());
        let is_wildcard = mask.is_some() && ma.as_ref().is_none_or_wild();
        if verbose || !is_wildcard || nested {
            if is_wildcard && ma.is_none() {
                ma = Some(zero_mask(a));
            }
            if !first {
                out.push(',');
            }
            format_key_attr_verbose(a, ma.as_ref(), verbose, out);
            first = false;
        } else if t == OVS_KEY_ATTR_ETHERNET && !has_packet_type {
            // Without PACKET_TYPE, ETHERNET is what says "this is an Ethernet frame".
            if !first {
                out.push(',');
            }
            out.push_str("eth()");
            first = false;
        }
    }
    if !has_ethtype {
        if let Some(KeyAttr::Ethertype(m)) =
            mask.and_then(|m| m.get(OvsKeyAttr::Ethertype)).cloned()
        {
            let _ = write!(out, ",eth_type(0/0x{m:04x})");
        }
    }
}

trait Wild {
    fn is_none_or_wild(&self) -> bool;
}
impl Wild for Option<&KeyAttr> {
    fn is_none_or_wild(&self) -> bool {
        match self {
            None => true,
            Some(m) => mask_is_constant(m, false),
        }
    }
}

/// Prints one attribute the way `set(...)` / `set_masked` actions do: with no mask every field
/// is printed (verbose); with a mask, wildcarded fields are left out.
pub fn format_key_attr(attr: &KeyAttr, mask: Option<&KeyAttr>, out: &mut String) {
    format_key_attr_verbose(attr, mask, mask.is_none(), out);
}

/// Prints one attribute as `format_odp_key_attr__` does, with an explicit verbose flag.
pub fn format_key_attr_verbose(
    attr: &KeyAttr,
    mask: Option<&KeyAttr>,
    verbose: bool,
    out: &mut String,
) {
    let t = attr.type_id();
    match key_attr_name(t) {
        Some(n) => out.push_str(n),
        None => {
            let _ = write!(out, "key{t}");
        }
    }
    out.push('(');
    let is_exact = mask.is_none_or(|m| mask_is_constant(m, true));
    let mut f = Fields {
        out: &mut *out,
        verbose,
    };
    macro_rules! m {
        ($pat:path) => {
            match mask {
                Some($pat(x)) => Some(x),
                _ => None,
            }
        };
    }
    match attr {
        KeyAttr::Encap(k) => {
            let km = m!(KeyAttr::Encap).filter(|m| !m.is_empty());
            if !k.is_empty() {
                format_key(k, km, verbose, f.out);
            }
        }
        KeyAttr::Priority(v) | KeyAttr::SkbMark(v) | KeyAttr::DpHash(v) | KeyAttr::RecircId(v) => {
            f.out.push_str(&hash_x(u64::from(*v)));
            if !is_exact {
                let _ = write!(f.out, "/{}", hash_x(u64::from(u32_of(mask))));
            }
        }
        KeyAttr::CtMark(_) | KeyAttr::CtZone(_) => {
            if verbose || !mask.is_none_or_wild() {
                f.out.push_str(&hash_x(u64::from(u32_of(Some(attr)))));
                if !is_exact {
                    let _ = write!(f.out, "/{}", hash_x(u64::from(u32_of(mask))));
                }
            }
        }
        KeyAttr::CtState(v) => {
            let mv = m!(KeyAttr::CtState).copied().unwrap_or(0);
            if verbose {
                f.out.push_str(&hash_x(u64::from(*v)));
                if !is_exact {
                    let _ = write!(f.out, "/{}", hash_x(u64::from(mv)));
                }
            } else if !is_exact {
                format_flags_masked(f.out, ct_state_name, *v, mv, u32::MAX);
            } else {
                format_flags(f.out, ct_state_name, *v);
            }
        }
        KeyAttr::CtLabels(v) => {
            let ml = m!(KeyAttr::CtLabels);
            if verbose || ml.is_some_and(|m| *m != [0; 16]) {
                put_hex(f.out, &u128::from_le_bytes(*v).to_be_bytes());
                if let Some(ml) = ml.filter(|m| **m != [0xff; 16]) {
                    f.out.push('/');
                    put_hex(f.out, &u128::from_le_bytes(*ml).to_be_bytes());
                }
            }
        }
        KeyAttr::CtOrigTupleIpv4(k) => {
            let mk = m!(KeyAttr::CtOrigTupleIpv4);
            f.ipv4("src", k.src, mk.map(|m| m.src));
            f.ipv4("dst", k.dst, mk.map(|m| m.dst));
            f.u8u("proto", k.proto, mk.map(|m| m.proto));
            f.be16("tp_src", k.src_port, mk.map(|m| m.src_port));
            f.be16("tp_dst", k.dst_port, mk.map(|m| m.dst_port));
            chomp(f.out);
        }
        KeyAttr::CtOrigTupleIpv6(k) => {
            let mk = m!(KeyAttr::CtOrigTupleIpv6);
            f.ipv6("src", &k.src, mk.map(|m| &m.src));
            f.ipv6("dst", &k.dst, mk.map(|m| &m.dst));
            f.u8u("proto", k.proto, mk.map(|m| m.proto));
            f.be16("src_port", k.src_port, mk.map(|m| m.src_port));
            f.be16("dst_port", k.dst_port, mk.map(|m| m.dst_port));
            chomp(f.out);
        }
        KeyAttr::Tunnel(t) => format_tunnel(&mut f, t, m!(KeyAttr::Tunnel)),
        KeyAttr::InPort(v) => {
            let _ = write!(f.out, "{v}");
            if !is_exact {
                let _ = write!(f.out, "/{}", hash_x(u64::from(u32_of(mask))));
            }
        }
        KeyAttr::PacketType(v) => {
            let mv = m!(KeyAttr::PacketType).copied().unwrap_or(u32::MAX);
            // `ns` is the upper half of the word and `id` the lower: the casts split it.
            f.be16("ns", (v >> 16) as u16, Some((mv >> 16) as u16));
            f.be16x("id", *v as u16, Some(mv as u16));
            chomp(f.out);
        }
        KeyAttr::Ethernet(k) => {
            let mk = m!(KeyAttr::Ethernet);
            f.mac("src", &k.src, mk.map(|m| &m.src));
            f.mac("dst", &k.dst, mk.map(|m| &m.dst));
            chomp(f.out);
        }
        KeyAttr::Vlan(tci) => {
            let mt = m!(KeyAttr::Vlan).copied().unwrap_or(0xffff);
            let (vid, mvid) = (tci & 0xfff, mt & 0xfff);
            let (pcp, mpcp) = (tci >> 13, mt >> 13);
            if verbose || vid != 0 || mvid != 0 {
                let _ = write!(f.out, "vid={vid}");
                if mvid != 0xfff {
                    let _ = write!(f.out, "/0x{mvid:x}");
                }
                f.out.push(',');
            }
            if verbose || pcp != 0 || mpcp != 0 {
                let _ = write!(f.out, "pcp={pcp}");
                if mpcp != 7 {
                    let _ = write!(f.out, "/0x{mpcp:x}");
                }
                f.out.push(',');
            }
            if tci & 0x1000 == 0 {
                f.out.push_str("cfi=0,");
            }
            chomp(f.out);
        }
        KeyAttr::Mpls(lses) => {
            let ml = if is_exact { None } else { m!(KeyAttr::Mpls) };
            if let Some(ml) = ml.filter(|ml| ml.len() != lses.len()) {
                let _ = write!(
                    f.out,
                    "(key length {} != mask length {})",
                    lses.len() * 4,
                    ml.len() * 4
                );
            } else {
                for (i, &k) in lses.iter().enumerate() {
                    let (l, tc, ttl, bos) = (k >> 12, (k >> 9) & 7, k & 0xff, (k >> 8) & 1);
                    match ml.and_then(|ml| ml.get(i)) {
                        None => {
                            let _ = write!(f.out, "label={l},tc={tc},ttl={ttl},bos={bos}");
                        }
                        Some(&m) => {
                            let _ = write!(
                                f.out,
                                "label={l}/0x{:x},tc={tc}/{:x},ttl={ttl}/0x{:x},bos={bos}/{:x}",
                                m >> 12,
                                (m >> 9) & 7,
                                m & 0xff,
                                (m >> 8) & 1
                            );
                        }
                    }
                    f.out.push(',');
                }
                chomp(f.out);
            }
        }
        KeyAttr::Ethertype(v) => {
            let _ = write!(f.out, "0x{v:04x}");
            if !is_exact {
                let _ = write!(f.out, "/0x{:04x}", u32_of(mask));
            }
        }
        KeyAttr::Ipv4(k) => {
            let mk = m!(KeyAttr::Ipv4);
            f.ipv4("src", k.src, mk.map(|m| m.src));
            f.ipv4("dst", k.dst, mk.map(|m| m.dst));
            f.u8u("proto", k.proto, mk.map(|m| m.proto));
            f.u8x("tos", k.tos, mk.map(|m| m.tos));
            f.u8u("ttl", k.ttl, mk.map(|m| m.ttl));
            f.frag("frag", k.frag, mk.map(|m| m.frag));
            chomp(f.out);
        }
        KeyAttr::Ipv6(k) => {
            let mk = m!(KeyAttr::Ipv6);
            f.ipv6("src", &k.src, mk.map(|m| &m.src));
            f.ipv6("dst", &k.dst, mk.map(|m| &m.dst));
            f.label("label", k.label, mk.map(|m| m.label));
            f.u8u("proto", k.proto, mk.map(|m| m.proto));
            f.u8x("tclass", k.tclass, mk.map(|m| m.tclass));
            f.u8u("hlimit", k.hlimit, mk.map(|m| m.hlimit));
            f.frag("frag", k.frag, mk.map(|m| m.frag));
            chomp(f.out);
        }
        KeyAttr::Tcp(k) | KeyAttr::Udp(k) | KeyAttr::Sctp(k) => {
            let mk = match mask {
                Some(KeyAttr::Tcp(m)) | Some(KeyAttr::Udp(m)) | Some(KeyAttr::Sctp(m)) => Some(m),
                _ => None,
            };
            f.be16("src", k.src, mk.map(|m| m.src));
            f.be16("dst", k.dst, mk.map(|m| m.dst));
            chomp(f.out);
        }
        KeyAttr::TcpFlags(v) => {
            if is_exact {
                format_flags(f.out, tcp_flag_name, u32::from(*v));
            } else {
                let mv = u32::from(m!(KeyAttr::TcpFlags).copied().unwrap_or(0)) & 0x0fff;
                format_flags_masked(f.out, tcp_flag_name, u32::from(*v), mv, 0x0fff);
            }
        }
        KeyAttr::Icmp(k) | KeyAttr::Icmpv6(k) => {
            let mk = match mask {
                Some(KeyAttr::Icmp(m)) | Some(KeyAttr::Icmpv6(m)) => Some(m),
                _ => None,
            };
            f.u8u("type", k.type_, mk.map(|m| m.type_));
            f.u8u("code", k.code, mk.map(|m| m.code));
            chomp(f.out);
        }
        KeyAttr::Arp(k) => {
            let mk = m!(KeyAttr::Arp);
            f.ipv4("sip", k.sip, mk.map(|m| m.sip));
            f.ipv4("tip", k.tip, mk.map(|m| m.tip));
            f.be16("op", k.op, mk.map(|m| m.op));
            f.mac("sha", &k.sha, mk.map(|m| &m.sha));
            f.mac("tha", &k.tha, mk.map(|m| &m.tha));
            chomp(f.out);
        }
        KeyAttr::Nd(k) => {
            let mk = m!(KeyAttr::Nd);
            f.ipv6("target", &k.target, mk.map(|m| &m.target));
            f.mac("sll", &k.sll, mk.map(|m| &m.sll));
            f.mac("tll", &k.tll, mk.map(|m| &m.tll));
            chomp(f.out);
        }
        KeyAttr::Nsh(k) => format_nsh(f.out, k, m!(KeyAttr::Nsh)),
        KeyAttr::Ipv6Exthdrs(_) | KeyAttr::Unknown(..) => {
            let bytes = attr.payload_bytes().unwrap_or_default();
            put_spaced_hex(f.out, &bytes);
            if !is_exact {
                if let Some(mb) = mask.and_then(KeyAttr::payload_bytes) {
                    f.out.push('/');
                    put_spaced_hex(f.out, &mb);
                }
            }
        }
    }
    out.push(')');
}

fn put_spaced_hex(out: &mut String, b: &[u8]) {
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{x:02x}");
    }
}

fn u32_of(mask: Option<&KeyAttr>) -> u32 {
    match mask {
        Some(
            KeyAttr::Priority(v)
            | KeyAttr::SkbMark(v)
            | KeyAttr::DpHash(v)
            | KeyAttr::RecircId(v)
            | KeyAttr::CtMark(v)
            | KeyAttr::InPort(v)
            | KeyAttr::CtState(v),
        ) => *v,
        Some(KeyAttr::CtZone(v) | KeyAttr::Ethertype(v)) => u32::from(*v),
        _ => 0,
    }
}

fn format_tunnel(f: &mut Fields<'_>, t: &TunnelKey, m: Option<&TunnelKey>) {
    // With a tunnel mask, a field missing from it counts as wildcarded (zero).
    let mm = |present: bool| m.map(|_| present);
    let mut flags = 0u32;
    let mut mflags = 0u32;
    if let Some(id) = t.id {
        f.be64("tun_id", id, m.map(|m| m.id.unwrap_or(0)));
        flags |= TNL_F_KEY;
        if m.is_some() {
            mflags |= TNL_F_KEY;
        }
    }
    if let Some(a) = t.ipv4_src {
        f.ipv4(
            "src",
            a,
            m.map(|m| m.ipv4_src.unwrap_or(Ipv4Addr::UNSPECIFIED)),
        );
    }
    if let Some(a) = t.ipv4_dst {
        f.ipv4(
            "dst",
            a,
            m.map(|m| m.ipv4_dst.unwrap_or(Ipv4Addr::UNSPECIFIED)),
        );
    }
    if let Some(a) = &t.ipv6_src {
        let mv = m.map(|m| m.ipv6_src.unwrap_or(Ipv6Addr::UNSPECIFIED));
        f.ipv6("ipv6_src", a, mv.as_ref());
    }
    if let Some(a) = &t.ipv6_dst {
        let mv = m.map(|m| m.ipv6_dst.unwrap_or(Ipv6Addr::UNSPECIFIED));
        f.ipv6("ipv6_dst", a, mv.as_ref());
    }
    if let Some(v) = t.tos {
        f.u8x("tos", v, m.map(|m| m.tos.unwrap_or(0)));
    }
    if let Some(v) = t.ttl {
        f.u8u("ttl", v, m.map(|m| m.ttl.unwrap_or(0)));
    }
    if t.dont_fragment {
        flags |= TNL_F_DF;
    }
    if t.csum {
        flags |= TNL_F_CSUM;
    }
    if let Some(v) = t.tp_src {
        f.be16("tp_src", v, m.map(|m| m.tp_src.unwrap_or(0)));
    }
    if let Some(v) = t.tp_dst {
        f.be16("tp_dst", v, m.map(|m| m.tp_dst.unwrap_or(0)));
    }
    if t.oam {
        flags |= TNL_F_OAM;
    }
    if let Some(o) = &t.geneve_opts {
        f.out.push_str("geneve(");
        let mo = m.map(|m| m.geneve_opts.clone().unwrap_or_else(|| vec![0; o.len()]));
        format_geneve(f, o, mo.as_deref());
        f.out.push_str("),");
    }
    if let Some(g) = t.vxlan_gbp {
        f.out.push_str("vxlan(gbp(");
        let mg = m.map(|m| m.vxlan_gbp.unwrap_or(0));
        // Group policy id in the low 16 bits, flags in the next 8.
        f.be16("id", g as u16, mg.map(|m| m as u16));
        f.u8x("flags", (g >> 16) as u8, mg.map(|m| (m >> 16) as u8));
        chomp(f.out);
        f.out.push_str(")),");
    }
    if let Some(o) = &t.erspan_opts {
        f.out.push_str("erspan(");
        let mo = m.map(|m| m.erspan_opts.clone().unwrap_or_else(|| vec![0; o.len()]));
        format_erspan(f, o, mo.as_deref());
        f.out.push_str("),");
    }
    if let Some(m) = m {
        if m.dont_fragment {
            mflags |= TNL_F_DF;
        }
        if m.csum {
            mflags |= TNL_F_CSUM;
        }
        if m.oam {
            mflags |= TNL_F_OAM;
        }
    }
    let _ = mm;
    if f.verbose || m.is_none() || mflags != 0 {
        f.out.push_str("flags(");
        match m {
            Some(_) => {
                format_flags_masked(f.out, tun_flag_name, flags, mflags & TNL_F_MASK, TNL_F_MASK)
            }
            None => format_flags(f.out, tun_flag_name, flags),
        }
        f.out.push_str("),");
    }
    chomp(f.out);
}

fn format_geneve(f: &mut Fields<'_>, opts: &[u8], mask: Option<&[u8]>) {
    let mut i = 0;
    while i < opts.len() {
        let rest = opts.len() - i;
        if rest < 4 {
            let _ = write!(f.out, "opt len {rest} less than minimum 4");
            return;
        }
        let class = u16::from_be_bytes([opts[i], opts[i + 1]]);
        let ty = opts[i + 2];
        let data_len = usize::from(opts[i + 3] & 0x1f) * 4;
        let len = 4 + data_len;
        if len > rest {
            let _ = write!(f.out, "opt len {len} greater than remaining {rest}");
            return;
        }
        let mo = mask.and_then(|m| m.get(i..i + len));
        f.out.push('{');
        f.be16x("class", class, mo.map(|m| u16::from_be_bytes([m[0], m[1]])));
        f.u8x("type", ty, mo.map(|m| m[2]));
        let len_mask = mo.map(|m| {
            if m[3] & 0x1f == 0x1f {
                0xff
            } else {
                m[3] & 0x1f
            }
        });
        f.num("len", data_len as u64, len_mask.map(u64::from), 0xff, false);
        let data = &opts[i + 4..i + len];
        let mdata = mo.map(|m| &m[4..]);
        if data_len > 0 && (f.verbose || mdata.is_none_or(|m| m.iter().any(|&b| b != 0))) {
            put_hex(f.out, data);
            if let Some(md) = mdata.filter(|m| m.iter().any(|&b| b != 0xff)) {
                f.out.push('/');
                put_hex(f.out, md);
            }
        } else {
            chomp(f.out);
        }
        f.out.push('}');
        i += len;
    }
}

fn erspan_fields(o: &[u8]) -> (u32, u32, u8, u8) {
    let g = |i: usize| o.get(i).copied().unwrap_or(0);
    let ver = u32::from_ne_bytes([g(0), g(1), g(2), g(3)]);
    let idx = u32::from_be_bytes([g(4), g(5), g(6), g(7)]);
    // struct erspan_md2 after timestamp(4) and sgt(2): byte 10 holds hwid_upper in bits 0-1,
    // byte 11 holds dir in bit 3 and the low hwid bits in 4-7 (little-endian bitfields).
    let dir = (g(11) >> 3) & 1;
    let hwid = ((g(10) & 0x3) << 4) | (g(11) >> 4);
    (ver, idx, dir, hwid)
}

fn format_erspan(f: &mut Fields<'_>, o: &[u8], m: Option<&[u8]>) {
    let (ver, idx, dir, hwid) = erspan_fields(o);
    let mf = m.map(erspan_fields);
    f.u8u("ver", ver as u8, mf.map(|m| m.0 as u8));
    if ver == 1 {
        match mf {
            Some(mf) => {
                let _ = write!(f.out, "idx={}/{},", hash_x(idx.into()), hash_x(mf.1.into()));
            }
            None => {
                let _ = write!(f.out, "idx={},", hash_x(idx.into()));
            }
        }
    } else if ver == 2 {
        f.u8u("dir", dir, mf.map(|m| m.2));
        f.u8x("hwid", hwid, mf.map(|m| m.3));
    }
    chomp(f.out);
}

fn format_nsh(out: &mut String, k: &NshKey, m: Option<&NshKey>) {
    let base = k.base.unwrap_or_default();
    let ctx = k.md1.unwrap_or([0; 4]);
    let Some(m) = m else {
        let _ = write!(
            out,
            "flags={},ttl={},mdtype={},np={},spi=0x{:x},si={}",
            base.flags,
            base.ttl,
            base.mdtype,
            base.np,
            base.spi(),
            base.si()
        );
        if base.mdtype == NSH_M_TYPE1 {
            for (i, c) in ctx.iter().enumerate() {
                let _ = write!(out, ",c{}=0x{:x}", i + 1, c);
            }
        }
        return;
    };
    // Fields the mask does not carry start out exact, as OVS's mask buffer is all ones.
    let mb = m.base.unwrap_or(NshBase {
        flags: 0xff,
        ttl: 0xff,
        mdtype: 0xff,
        np: 0xff,
        path_hdr: u32::MAX,
    });
    let mctx = m.md1.unwrap_or([u32::MAX; 4]);
    let mut items: Vec<String> = Vec::new();
    let u8f = |items: &mut Vec<String>, name: &str, v: u8, mv: u8| match mv {
        0 => {}
        0xff => items.push(format!("{name}={v}")),
        mv => items.push(format!("{name}=0x{v:02x}/0x{mv:02x}")),
    };
    let be32f = |items: &mut Vec<String>, name: &str, v: u32, mv: u32| match mv {
        0 => {}
        u32::MAX => items.push(format!("{name}=0x{v:x}")),
        mv => items.push(format!("{name}=0x{v:x}/0x{mv:08x}")),
    };
    u8f(&mut items, "flags", base.flags, mb.flags);
    u8f(&mut items, "ttl", base.ttl, mb.ttl);
    u8f(&mut items, "mdtype", base.mdtype, mb.mdtype);
    u8f(&mut items, "np", base.np, mb.np);
    let spi_mask = match mb.spi() {
        0x00ff_ffff => u32::MAX,
        m => m,
    };
    be32f(&mut items, "spi", base.spi(), spi_mask);
    u8f(&mut items, "si", base.si(), mb.si());
    for i in 0..4 {
        be32f(&mut items, &format!("c{}", i + 1), ctx[i], mctx[i]);
    }
    out.push_str(&items.join(","));
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// Scanner state over one attribute's text; `None` from a step means "syntax error".
struct Sc<'a> {
    s: &'a str,
}

type P<T> = Option<T>;

impl<'a> Sc<'a> {
    fn eat(&mut self, lit: &str) -> bool {
        match self.s.strip_prefix(lit) {
            Some(r) => {
                self.s = r;
                true
            }
            None => false,
        }
    }
    fn next_char(&mut self) -> Option<char> {
        let c = self.s.chars().next()?;
        self.s = &self.s[c.len_utf8()..];
        Some(c)
    }
    fn run<T>(&mut self, f: impl Fn(&'a str) -> nom::IResult<&'a str, T>) -> P<T> {
        let (rest, v) = f(self.s).ok()?;
        self.s = rest;
        Some(v)
    }
    /// `V[/M]` with `full` as the mask when none is given.
    fn masked<T>(
        &mut self,
        f: impl Fn(&'a str) -> nom::IResult<&'a str, T> + Copy,
        full: T,
    ) -> P<(T, T)> {
        let v = self.run(f)?;
        if self.eat("/") {
            let m = self.run(f)?;
            Some((v, m))
        } else {
            Some((v, full))
        }
    }
    /// One `name=V[/M]` field into a key field and its mask field (`SCAN_FIELD`): `Some(true)`
    /// if `name` came next and its value scanned, `Some(false)` if `name` is not next. The
    /// `From` lets a tunnel's optional fields take the plain scanned values.
    fn field<U, T: From<U>>(
        &mut self,
        name: &str,
        scan: impl FnOnce(&mut Self) -> P<(U, U)>,
        k: &mut T,
        m: &mut T,
    ) -> P<bool> {
        if !self.eat(name) {
            return Some(false);
        }
        let (v, mv) = scan(self)?;
        (*k, *m) = (v.into(), mv.into());
        Some(true)
    }
    /// The `SCAN_BEGIN … SCAN_FINISH` loop: `name=value` fields separated by single commas,
    /// optional trailing comma, then `)`. `field` returns `Some(true)` if it consumed a field,
    /// `Some(false)` if no field name matched, `None` on a bad value.
    fn fields(&mut self, mut field: impl FnMut(&mut Self) -> P<bool>) -> P<()> {
        loop {
            let matched = field(self)?;
            match self.next_char() {
                Some(',') if matched => continue,
                Some(')') => return Some(()),
                _ => return None,
            }
        }
    }
}

fn u8m(sc: &mut Sc<'_>) -> P<(u8, u8)> {
    sc.masked(lex::u8_c, 0xff)
}
fn u16m(sc: &mut Sc<'_>) -> P<(u16, u16)> {
    sc.masked(lex::u16_c, 0xffff)
}
fn u32m(sc: &mut Sc<'_>) -> P<(u32, u32)> {
    sc.masked(lex::u32_c, u32::MAX)
}
fn ip4m(sc: &mut Sc<'_>) -> P<(Ipv4Addr, Ipv4Addr)> {
    sc.masked(lex::ipv4, Ipv4Addr::BROADCAST)
}
fn ip6m(sc: &mut Sc<'_>) -> P<(Ipv6Addr, Ipv6Addr)> {
    sc.masked(lex::ipv6, Ipv6Addr::from([0xff; 16]))
}
fn macm(sc: &mut Sc<'_>) -> P<([u8; 6], [u8; 6])> {
    sc.masked(lex::mac, [0xff; 6])
}
/// A 20-bit flow label; a wider value is an error, a wider mask is kept as given.
fn label20m(sc: &mut Sc<'_>) -> P<(u32, u32)> {
    sc.masked(lex::u32_c, 0xfffff)
        .filter(|&(v, _)| v & !0xfffff == 0)
}
fn fragm(sc: &mut Sc<'_>) -> P<(u8, u8)> {
    let w = sc.run(|s| lex::lower_word(s, 7))?;
    let v = match w {
        "no" => OVS_FRAG_TYPE_NONE,
        "first" => OVS_FRAG_TYPE_FIRST,
        "later" => OVS_FRAG_TYPE_LATER,
        _ => return None,
    };
    Some((v, 0xff))
}

/// `parse_flags`: `V/M` numbers, a `+name-name` string, or `name|name|N` (exact).
/// Stops before `)` without consuming it.
fn parse_flags(sc: &mut Sc<'_>, name: BitName, allowed: u32) -> P<(u32, u32)> {
    // Numeric masked form first.
    {
        let mut t = Sc { s: sc.s };
        if let (Some(v), true) = (t.run(lex::u32_c), t.eat("/")) {
            let m = t.run(lex::u32_c)?;
            if v & !allowed != 0 || m & !allowed != 0 {
                return None;
            }
            sc.s = t.s;
            return Some((v, m));
        }
    }
    let lookup = |tok: &str| -> P<u32> {
        (0..32)
            .map(|i| 1u32 << i)
            .find(|&b| name(b) == Some(tok))
            .filter(|b| b & allowed != 0)
    };
    if sc.s.starts_with('+') || sc.s.starts_with('-') {
        let (mut flags, mut mask) = (0u32, 0u32);
        while !sc.s.starts_with(')') {
            let set = match sc.next_char()? {
                '+' => true,
                '-' => false,
                _ => return None,
            };
            let len = sc.s.find(['+', '-', ')']).unwrap_or(sc.s.len());
            let bit = lookup(&sc.s[..len])?;
            if mask & bit != 0 {
                return None;
            }
            if set {
                flags |= bit;
            }
            mask |= bit;
            sc.s = &sc.s[len..];
        }
        return Some((flags, mask));
    }
    let mut flags = 0u32;
    while !sc.s.starts_with(')') {
        if sc.s.is_empty() {
            return None;
        }
        if let Ok((rest, v)) = lex::u64_c(sc.s) {
            if v & !u64::from(allowed) != 0 {
                return None;
            }
            flags |= v as u32;
            sc.s = rest;
        } else {
            let len = sc.s.find(['|', ')']).unwrap_or(sc.s.len());
            flags |= lookup(&sc.s[..len])?;
            sc.s = &sc.s[len..];
        }
        if !sc.s.starts_with(')') && !sc.eat("|") {
            return None;
        }
    }
    Some((flags, u32::MAX))
}

/// Parses a whole key as `odp_flow_from_string` does (what `ovs-dpctl add-flow` accepts) and
/// returns the key and its mask. Errors are `EINVAL` at the character offset of the attribute
/// that failed.
pub fn parse_key(s: &str) -> Result<(Key, Key)> {
    let total = s.len();
    let mut key = Key::default();
    let mut mask = Key::default();
    let mut rest = s;
    loop {
        rest = lex::skip_delims(rest);
        if rest.is_empty() {
            return Ok((key, mask));
        }
        if let Some(n) = ufid_len(rest) {
            rest = &rest[n..];
            continue;
        }
        let at = total - rest.len();
        let (k, m, n) = parse_attr(rest, 0).map_err(|e| e.rebase(at))?;
        key.push(k);
        mask.push(m);
        rest = &rest[n..];
    }
}

/// Parses one key attribute (as inside `set(...)`), returning key, mask and bytes consumed.
pub fn parse_key_attr(s: &str) -> Result<(KeyAttr, Option<KeyAttr>, usize)> {
    let (k, m, n) = parse_attr(s, 0)?;
    Ok((k, Some(m), n))
}

/// `ufid:` plus a 36-character UUID is skipped where an attribute may start.
fn ufid_len(s: &str) -> Option<usize> {
    let u = s.strip_prefix("ufid:")?;
    let b = u.as_bytes().get(..36)?;
    let ok = b.iter().enumerate().all(|(i, &c)| {
        if matches!(i, 8 | 13 | 18 | 23) {
            c == b'-'
        } else {
            c.is_ascii_hexdigit()
        }
    });
    ok.then_some(5 + 36)
}

fn syntax(off: usize) -> Error {
    Error::inval(off, "syntax error in flow key")
}

fn parse_attr(s: &str, depth: usize) -> Result<(KeyAttr, KeyAttr, usize)> {
    let mut sc = Sc { s };
    let r = parse_attr_inner(&mut sc, depth)?;
    match r {
        Some((k, m)) => Ok((k, m, s.len() - sc.s.len())),
        None => Err(syntax(0)),
    }
}

/// A single-value attribute `name(V[/M])`.
fn single<T>(sc: &mut Sc<'_>, f: impl FnOnce(&mut Sc<'_>) -> P<(T, T)>) -> P<(T, T)> {
    let v = f(sc)?;
    sc.eat(")").then_some(v)
}

#[allow(clippy::type_complexity)]
fn parse_attr_inner(sc: &mut Sc<'_>, depth: usize) -> Result<P<(KeyAttr, KeyAttr)>> {
    use KeyAttr as K;
    macro_rules! pair {
        ($v:ident, $e:expr) => {
            Ok($e.map(|(a, b)| (K::$v(a), K::$v(b))))
        };
    }
    if sc.eat("skb_priority(") {
        return pair!(Priority, single(sc, u32m));
    }
    if sc.eat("skb_mark(") {
        return pair!(SkbMark, single(sc, u32m));
    }
    if sc.eat("recirc_id(") {
        // Always exact: no mask is accepted.
        return pair!(
            RecircId,
            single(sc, |sc| sc.run(lex::u32_c).map(|v| (v, u32::MAX)))
        );
    }
    if sc.eat("dp_hash(") {
        return pair!(DpHash, single(sc, u32m));
    }
    if sc.eat("ct_state(") {
        return pair!(
            CtState,
            single(sc, |sc| parse_flags(
                sc,
                ct_state_name,
                CT_SUPPORTED_STATE_FLAGS
            ))
        );
    }
    if sc.eat("ct_zone(") {
        return pair!(CtZone, single(sc, u16m));
    }
    if sc.eat("ct_mark(") {
        return pair!(CtMark, single(sc, u32m));
    }
    if sc.eat("ct_label(") {
        return pair!(CtLabels, single(sc, scan_u128));
    }
    if sc.eat("ct_tuple4(") {
        let (mut k, mut m) = (CtTupleIpv4::default(), CtTupleIpv4::default());
        let r = sc.fields(|sc| {
            Some(
                sc.field("src=", ip4m, &mut k.src, &mut m.src)?
                    || sc.field("dst=", ip4m, &mut k.dst, &mut m.dst)?
                    || sc.field("proto=", u8m, &mut k.proto, &mut m.proto)?
                    || sc.field("tp_src=", u16m, &mut k.src_port, &mut m.src_port)?
                    || sc.field("tp_dst=", u16m, &mut k.dst_port, &mut m.dst_port)?,
            )
        });
        return Ok(r.map(|_| (K::CtOrigTupleIpv4(k), K::CtOrigTupleIpv4(m))));
    }
    if sc.eat("ct_tuple6(") {
        let (mut k, mut m) = (CtTupleIpv6::default(), CtTupleIpv6::default());
        let r = sc.fields(|sc| {
            Some(
                sc.field("src=", ip6m, &mut k.src, &mut m.src)?
                    || sc.field("dst=", ip6m, &mut k.dst, &mut m.dst)?
                    || sc.field("proto=", u8m, &mut k.proto, &mut m.proto)?
                    || sc.field("tp_src=", u16m, &mut k.src_port, &mut m.src_port)?
                    || sc.field("tp_dst=", u16m, &mut k.dst_port, &mut m.dst_port)?,
            )
        });
        return Ok(r.map(|_| (K::CtOrigTupleIpv6(k), K::CtOrigTupleIpv6(m))));
    }
    if sc.eat("tunnel(") {
        return Ok(parse_tunnel(sc).map(|(a, b)| (K::Tunnel(a), K::Tunnel(b))));
    }
    if sc.eat("in_port(") {
        return pair!(InPort, single(sc, u32m));
    }
    if sc.eat("packet_type(") {
        let (mut ns, mut id) = ((0u16, 0u16), (0u16, 0u16));
        let r = sc.fields(|sc| {
            Some(
                sc.field("ns=", u16m, &mut ns.0, &mut ns.1)?
                    || sc.field("id=", u16m, &mut id.0, &mut id.1)?,
            )
        });
        let join = |a: u16, b: u16| (u32::from(a) << 16) | u32::from(b);
        return Ok(r.map(|_| {
            (
                K::PacketType(join(ns.0, id.0)),
                K::PacketType(join(ns.1, id.1)),
            )
        }));
    }
    if sc.eat("eth(") {
        let (mut k, mut m) = (EthernetKey::default(), EthernetKey::default());
        let r = sc.fields(|sc| {
            Some(
                sc.field("src=", macm, &mut k.src, &mut m.src)?
                    || sc.field("dst=", macm, &mut k.dst, &mut m.dst)?,
            )
        });
        return Ok(r.map(|_| (K::Ethernet(k), K::Ethernet(m))));
    }
    if sc.eat("vlan(") {
        // Key and mask start with CFI set, so `vlan(vid=5)` means a present tag.
        let (mut k, mut m) = (0x1000u16, 0x1000u16);
        let r = sc.fields(|sc| {
            Some(if sc.eat("vid=") {
                let (v, mv) = sc.masked(lex::u16_c, 0xfff)?;
                if v > 0xfff || mv > 0xfff {
                    return None;
                }
                k |= v;
                m |= mv;
                true
            } else if sc.eat("pcp=") {
                let (v, mv) = sc.masked(lex::u16_c, 7)?;
                if v > 7 || mv > 7 {
                    return None;
                }
                k |= v << 13;
                m |= mv << 13;
                true
            } else if sc.eat("cfi=") {
                let (v, mv) = sc.masked(lex::u16_c, 1)?;
                if v > 1 || mv > 1 {
                    return None;
                }
                if v == 0 {
                    k &= !0x1000;
                }
                if mv == 0 {
                    m &= !0x1000;
                }
                true
            } else {
                false
            })
        });
        return Ok(r.map(|_| (K::Vlan(k), K::Vlan(m))));
    }
    if sc.eat("eth_type(") {
        return pair!(Ethertype, single(sc, u16m));
    }
    if sc.eat("mpls(") {
        return Ok(parse_mpls(sc).map(|(a, b)| (K::Mpls(a), K::Mpls(b))));
    }
    if sc.eat("ipv4(") {
        let (mut k, mut m) = (Ipv4Key::default(), Ipv4Key::default());
        let r = sc.fields(|sc| {
            Some(
                sc.field("src=", ip4m, &mut k.src, &mut m.src)?
                    || sc.field("dst=", ip4m, &mut k.dst, &mut m.dst)?
                    || sc.field("proto=", u8m, &mut k.proto, &mut m.proto)?
                    || sc.field("tos=", u8m, &mut k.tos, &mut m.tos)?
                    || sc.field("ttl=", u8m, &mut k.ttl, &mut m.ttl)?
                    || sc.field("frag=", fragm, &mut k.frag, &mut m.frag)?,
            )
        });
        return Ok(r.map(|_| (K::Ipv4(k), K::Ipv4(m))));
    }
    if sc.eat("ipv6(") {
        let (mut k, mut m) = (Ipv6Key::default(), Ipv6Key::default());
        let r = sc.fields(|sc| {
            Some(
                sc.field("src=", ip6m, &mut k.src, &mut m.src)?
                    || sc.field("dst=", ip6m, &mut k.dst, &mut m.dst)?
                    || sc.field("label=", label20m, &mut k.label, &mut m.label)?
                    || sc.field("proto=", u8m, &mut k.proto, &mut m.proto)?
                    || sc.field("tclass=", u8m, &mut k.tclass, &mut m.tclass)?
                    || sc.field("hlimit=", u8m, &mut k.hlimit, &mut m.hlimit)?
                    || sc.field("frag=", fragm, &mut k.frag, &mut m.frag)?,
            )
        });
        return Ok(r.map(|_| (K::Ipv6(k), K::Ipv6(m))));
    }
    for (name, mk) in [
        ("tcp(", K::Tcp as fn(PortsKey) -> KeyAttr),
        ("udp(", K::Udp),
        ("sctp(", K::Sctp),
    ] {
        if sc.eat(name) {
            let (mut k, mut m) = (PortsKey::default(), PortsKey::default());
            let r = sc.fields(|sc| {
                Some(
                    sc.field("src=", u16m, &mut k.src, &mut m.src)?
                        || sc.field("dst=", u16m, &mut k.dst, &mut m.dst)?,
                )
            });
            return Ok(r.map(|_| (mk(k), mk(m))));
        }
    }
    if sc.eat("tcp_flags(") {
        let r = single(sc, |sc| parse_flags(sc, tcp_flag_name, 0x0fff));
        return Ok(r.map(|(v, m)| (K::TcpFlags(v as u16), K::TcpFlags(m as u16))));
    }
    for (name, mk) in [
        ("icmp(", K::Icmp as fn(IcmpKey) -> KeyAttr),
        ("icmpv6(", K::Icmpv6),
    ] {
        if sc.eat(name) {
            let (mut k, mut m) = (IcmpKey::default(), IcmpKey::default());
            let r = sc.fields(|sc| {
                Some(
                    sc.field("type=", u8m, &mut k.type_, &mut m.type_)?
                        || sc.field("code=", u8m, &mut k.code, &mut m.code)?,
                )
            });
            return Ok(r.map(|_| (mk(k), mk(m))));
        }
    }
    if sc.eat("arp(") {
        let (mut k, mut m) = (ArpKey::default(), ArpKey::default());
        let r = sc.fields(|sc| {
            Some(
                sc.field("sip=", ip4m, &mut k.sip, &mut m.sip)?
                    || sc.field("tip=", ip4m, &mut k.tip, &mut m.tip)?
                    || sc.field("op=", u16m, &mut k.op, &mut m.op)?
                    || sc.field("sha=", macm, &mut k.sha, &mut m.sha)?
                    || sc.field("tha=", macm, &mut k.tha, &mut m.tha)?,
            )
        });
        return Ok(r.map(|_| (K::Arp(k), K::Arp(m))));
    }
    if sc.eat("nd(") {
        let (mut k, mut m) = (NdKey::default(), NdKey::default());
        let r = sc.fields(|sc| {
            Some(
                sc.field("target=", ip6m, &mut k.target, &mut m.target)?
                    || sc.field("sll=", macm, &mut k.sll, &mut m.sll)?
                    || sc.field("tll=", macm, &mut k.tll, &mut m.tll)?,
            )
        });
        return Ok(r.map(|_| (K::Nd(k), K::Nd(m))));
    }
    if sc.s.starts_with("encap(") {
        if depth + 1 >= MAX_ODP_NESTED {
            return Err(Error::inval(0, "flow key nested too deeply"));
        }
        sc.eat("encap(");
        let start_len = sc.s.len();
        let (mut k, mut m) = (Key::default(), Key::default());
        loop {
            sc.s = lex::skip_delims(sc.s);
            if sc.s.is_empty() {
                return Ok(None);
            }
            if sc.eat(")") {
                break;
            }
            let at = 6 + start_len - sc.s.len();
            let (a, b, n) = parse_attr(sc.s, depth + 1).map_err(|e| e.rebase(at))?;
            k.push(a);
            m.push(b);
            sc.s = &sc.s[n..];
        }
        return Ok(Some((K::Encap(k), K::Encap(m))));
    }
    // `nsh(...)` keys do not parse in OVS 3.1 (the scan falls through to its error return),
    // and every other name is unknown.
    Ok(None)
}

/// `scan_u128`: a 128-bit integer (hex above 64 bits), stored in host (little-endian) order.
fn scan_u128(sc: &mut Sc<'_>) -> P<([u8; 16], [u8; 16])> {
    let to_le = |b: Vec<u8>| -> [u8; 16] {
        let mut a = [0u8; 16];
        a.copy_from_slice(&b);
        u128::from_be_bytes(a).to_le_bytes()
    };
    let v = sc.run(|s| lex::int_string(s, 16))?;
    let m = if sc.eat("/") {
        to_le(sc.run(|s| lex::int_string(s, 16))?)
    } else {
        [0xff; 16]
    };
    Some((to_le(v), m))
}

/// `mpls(...)`: up to 3 label stack entries; repeating a field name starts the next entry.
fn parse_mpls(sc: &mut Sc<'_>) -> P<(Vec<u32>, Vec<u32>)> {
    let mut k = [0u32; 3];
    let mut m = [0u32; 3];
    let mut idx = 0usize;
    let mut seen = 0u8;
    let mut overflow = false;
    let r = sc.fields(|sc| {
        let fields: [(&str, u32, u32); 4] = [
            ("label=", 12, 0xfffff),
            ("tc=", 9, 7),
            ("ttl=", 0, 0xff),
            ("bos=", 8, 1),
        ];
        for (i, (name, shift, max)) in fields.into_iter().enumerate() {
            if sc.eat(name) {
                if seen & (1 << i) != 0 {
                    seen = 0;
                    idx += 1;
                    if idx == 3 {
                        overflow = true;
                        return None;
                    }
                }
                let (v, mv) = sc.masked(lex::u32_c, max)?;
                if v > max || mv > max {
                    return None;
                }
                k[idx] |= v << shift;
                m[idx] |= mv << shift;
                seen |= 1 << i;
                return Some(true);
            }
        }
        Some(false)
    });
    if overflow {
        return None;
    }
    r?;
    Some((k[..=idx].to_vec(), m[..=idx].to_vec()))
}

#[derive(Default)]
struct TunPair {
    k: TunnelKey,
    m: TunnelKey,
}

fn parse_tunnel(sc: &mut Sc<'_>) -> P<(TunnelKey, TunnelKey)> {
    let mut t = TunPair::default();
    sc.fields(|sc| {
        if sc.eat("flags(") {
            let (v, m) = parse_flags(sc, tun_flag_name, TNL_F_MASK)?;
            if !sc.eat(")") {
                return None;
            }
            // Only df, csum and oam become attributes; `key` comes from `tun_id=`.
            t.k.dont_fragment = v & TNL_F_DF != 0;
            t.k.csum = v & TNL_F_CSUM != 0;
            t.k.oam = v & TNL_F_OAM != 0;
            t.m.dont_fragment = m & TNL_F_DF != 0;
            t.m.csum = m & TNL_F_CSUM != 0;
            t.m.oam = m & TNL_F_OAM != 0;
            return Some(true);
        }
        let (k, m) = (&mut t.k, &mut t.m);
        let tun_id = |sc: &mut Sc<'_>| sc.masked(lex::u64_c, u64::MAX);
        Some(
            sc.field("tun_id=", tun_id, &mut k.id, &mut m.id)?
                || sc.field("src=", ip4m, &mut k.ipv4_src, &mut m.ipv4_src)?
                || sc.field("dst=", ip4m, &mut k.ipv4_dst, &mut m.ipv4_dst)?
                || sc.field("ipv6_src=", ip6m, &mut k.ipv6_src, &mut m.ipv6_src)?
                || sc.field("ipv6_dst=", ip6m, &mut k.ipv6_dst, &mut m.ipv6_dst)?
                || sc.field("tos=", u8m, &mut k.tos, &mut m.tos)?
                || sc.field("ttl=", u8m, &mut k.ttl, &mut m.ttl)?
                || sc.field("tp_src=", u16m, &mut k.tp_src, &mut m.tp_src)?
                || sc.field("tp_dst=", u16m, &mut k.tp_dst, &mut m.tp_dst)?
                || sc.field(
                    "erspan(",
                    parse_erspan,
                    &mut k.erspan_opts,
                    &mut m.erspan_opts,
                )?
                || sc.field("vxlan(gbp(", parse_gbp, &mut k.vxlan_gbp, &mut m.vxlan_gbp)?
                || sc.field(
                    "geneve(",
                    parse_geneve,
                    &mut k.geneve_opts,
                    &mut m.geneve_opts,
                )?,
        )
    })?;
    Some((t.k, t.m))
}

fn parse_gbp(sc: &mut Sc<'_>) -> P<(u32, u32)> {
    let (mut id, mut idm) = (0u16, 0u16);
    let (mut fl, mut flm) = (0u8, 0u8);
    if sc.eat("id=") {
        (id, idm) = u16m(sc)?;
    }
    sc.eat(",");
    if sc.eat("flags=") {
        (fl, flm) = u8m(sc)?;
    }
    if !sc.eat("))") {
        return None;
    }
    Some((
        (u32::from(fl) << 16) | u32::from(id),
        (u32::from(flm) << 16) | u32::from(idm),
    ))
}

fn parse_erspan(sc: &mut Sc<'_>) -> P<(Vec<u8>, Vec<u8>)> {
    let (mut ver, mut verm) = (0u8, 0xffu8);
    if sc.eat("ver=") {
        (ver, verm) = u8m(sc)?;
    }
    sc.eat(",");
    let mut k = vec![0u8; 12];
    let mut m = vec![0xffu8; 12];
    match ver {
        1 => {
            let (mut idx, mut idxm) = (0u32, u32::MAX);
            if sc.eat("idx=") {
                (idx, idxm) = u32m(sc)?;
            }
            if !sc.eat(")") {
                return None;
            }
            k[..4].copy_from_slice(&1i32.to_ne_bytes());
            k[4..8].copy_from_slice(&idx.to_be_bytes());
            m[4..8].copy_from_slice(&idxm.to_be_bytes());
            let _ = verm;
        }
        2 => {
            let (mut dir, mut dirm) = (0u8, 0xffu8);
            let (mut hwid, mut hwidm) = (0u8, 0xffu8);
            if sc.eat("dir=") {
                (dir, dirm) = u8m(sc)?;
            }
            sc.eat(",");
            if sc.eat("hwid=") {
                (hwid, hwidm) = u8m(sc)?;
            }
            if !sc.eat(")") {
                return None;
            }
            let put = |b: &mut [u8], dir: u8, hwid: u8| {
                b[10] = (b[10] & !0x3) | ((hwid >> 4) & 0x3);
                b[11] = (b[11] & 0x07) | ((dir & 1) << 3) | ((hwid & 0xf) << 4);
            };
            k[..4].copy_from_slice(&2i32.to_ne_bytes());
            put(&mut k, dir, hwid);
            m[..4].copy_from_slice(&i32::from(verm).to_ne_bytes());
            m[4..].fill(0);
            put(&mut m, dirm, hwidm);
        }
        _ => return None,
    }
    Some((k, m))
}

fn parse_geneve(sc: &mut Sc<'_>) -> P<(Vec<u8>, Vec<u8>)> {
    let (mut k, mut m) = (Vec::new(), Vec::new());
    while sc.eat("{") {
        if k.len() + 4 > TUN_OPTS_MAX_LEN {
            return None;
        }
        let (mut class, mut classm) = (0u16, 0u16);
        let (mut ty, mut tym) = (0u8, 0u8);
        let (mut len, mut lenm) = (0u8, 0u8);
        if sc.eat("class=") {
            (class, classm) = u16m(sc)?;
        }
        sc.eat(",");
        if sc.eat("type=") {
            (ty, tym) = u8m(sc)?;
        }
        sc.eat(",");
        if sc.eat("len=") {
            (len, lenm) = u8m(sc)?;
            if len > 124 || len % 4 != 0 || k.len() + 4 + usize::from(len) > TUN_OPTS_MAX_LEN {
                return None;
            }
        }
        sc.eat(",");
        let dl = usize::from(len);
        let data = if sc.s.starts_with('}') && dl == 0 {
            Vec::new()
        } else {
            sc.run(|s| lex::int_string(s, dl))?
        };
        let mdata = if sc.eat("/") {
            sc.run(|s| lex::int_string(s, dl))?
        } else {
            vec![0xff; dl]
        };
        if !sc.eat("}") {
            return None;
        }
        k.extend_from_slice(&class.to_be_bytes());
        k.push(ty);
        k.push(len / 4);
        k.extend_from_slice(&data);
        m.extend_from_slice(&classm.to_be_bytes());
        m.push(tym);
        // The 5-bit length field of the mask takes the low bits; reserved bits are cleared.
        m.push(lenm & 0x1f);
        m.extend_from_slice(&mdata);
    }
    sc.eat(")").then_some((k, m))
}
