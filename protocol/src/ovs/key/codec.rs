//! Binary codec of key attributes: `KeyAttr::parse` / `emit` and `Key::parse` / `emit`.
//!
//! ≈ `__parse_flow_nlattrs` (length table, duplicates, trailing bytes) and `__ovs_nla_put_key`.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::*;
use crate::nl::attr::nla_size;
use crate::nl::{Nla, NlaIter, NlaWriter};
use crate::{Error, Result};

/// Deepest `encap` nesting accepted when decoding (the kernel allows two VLAN tags).
const MAX_ENCAP_DEPTH: usize = 8;

fn fixed<const N: usize>(nla: &Nla<'_>, what: &'static str) -> Result<[u8; N]> {
    nla.payload
        .try_into()
        .map_err(|_| Error::inval(nla.offset, what))
}

fn be16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}
fn be32(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}
fn v4(b: &[u8], i: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[i], b[i + 1], b[i + 2], b[i + 3])
}
fn v6(b: &[u8], i: usize) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[i..i + 16]);
    Ipv6Addr::from(a)
}
fn mac(b: &[u8], i: usize) -> [u8; 6] {
    [b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5]]
}

/// Exact payload length of a fixed-size key attribute, as in the kernel's `ovs_key_lens`.
pub(crate) fn fixed_len(kind: u16) -> Option<usize> {
    Some(match kind {
        OVS_KEY_ATTR_PRIORITY | OVS_KEY_ATTR_IN_PORT | OVS_KEY_ATTR_SKB_MARK => 4,
        OVS_KEY_ATTR_ETHERNET => 12,
        OVS_KEY_ATTR_VLAN | OVS_KEY_ATTR_ETHERTYPE | OVS_KEY_ATTR_TCP_FLAGS => 2,
        OVS_KEY_ATTR_IPV4 => 12,
        OVS_KEY_ATTR_IPV6 => 40,
        OVS_KEY_ATTR_TCP | OVS_KEY_ATTR_UDP | OVS_KEY_ATTR_SCTP => 4,
        OVS_KEY_ATTR_ICMP | OVS_KEY_ATTR_ICMPV6 => 2,
        OVS_KEY_ATTR_ARP => 24,
        OVS_KEY_ATTR_ND => 28,
        OVS_KEY_ATTR_DP_HASH | OVS_KEY_ATTR_RECIRC_ID => 4,
        OVS_KEY_ATTR_CT_STATE | OVS_KEY_ATTR_CT_MARK => 4,
        OVS_KEY_ATTR_CT_ZONE => 2,
        OVS_KEY_ATTR_CT_LABELS => 16,
        OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV4 => 16,
        OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6 => 40,
        OVS_KEY_ATTR_PACKET_TYPE => 4,
        OVS_KEY_ATTR_IPV6_EXTHDRS => 2,
        _ => return None,
    })
}

impl EthernetKey {
    /// The 12 payload bytes (source first).
    pub fn to_bytes(&self) -> [u8; 12] {
        let mut b = [0; 12];
        b[..6].copy_from_slice(&self.src);
        b[6..].copy_from_slice(&self.dst);
        b
    }
}

impl Ipv4Key {
    /// The 12 payload bytes of `struct ovs_key_ipv4`.
    pub fn to_bytes(&self) -> [u8; 12] {
        let mut b = [0; 12];
        b[..4].copy_from_slice(&self.src.octets());
        b[4..8].copy_from_slice(&self.dst.octets());
        b[8] = self.proto;
        b[9] = self.tos;
        b[10] = self.ttl;
        b[11] = self.frag;
        b
    }
}

impl Ipv6Key {
    /// The 40 payload bytes of `struct ovs_key_ipv6`.
    pub fn to_bytes(&self) -> [u8; 40] {
        let mut b = [0; 40];
        b[..16].copy_from_slice(&self.src.octets());
        b[16..32].copy_from_slice(&self.dst.octets());
        b[32..36].copy_from_slice(&self.label.to_be_bytes());
        b[36] = self.proto;
        b[37] = self.tclass;
        b[38] = self.hlimit;
        b[39] = self.frag;
        b
    }
}

impl PortsKey {
    /// The 4 payload bytes (two be16).
    pub fn to_bytes(&self) -> [u8; 4] {
        let s = self.src.to_be_bytes();
        let d = self.dst.to_be_bytes();
        [s[0], s[1], d[0], d[1]]
    }
}

impl ArpKey {
    /// The 24 payload bytes of `struct ovs_key_arp` (2 trailing pad bytes).
    pub fn to_bytes(&self) -> [u8; 24] {
        let mut b = [0; 24];
        b[..4].copy_from_slice(&self.sip.octets());
        b[4..8].copy_from_slice(&self.tip.octets());
        b[8..10].copy_from_slice(&self.op.to_be_bytes());
        b[10..16].copy_from_slice(&self.sha);
        b[16..22].copy_from_slice(&self.tha);
        b
    }
}

impl NdKey {
    /// The 28 payload bytes of `struct ovs_key_nd`.
    pub fn to_bytes(&self) -> [u8; 28] {
        let mut b = [0; 28];
        b[..16].copy_from_slice(&self.target.octets());
        b[16..22].copy_from_slice(&self.sll);
        b[22..28].copy_from_slice(&self.tll);
        b
    }
}

impl CtTupleIpv4 {
    /// The 16 payload bytes of `struct ovs_key_ct_tuple_ipv4` (3 trailing pad bytes).
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut b = [0; 16];
        b[..4].copy_from_slice(&self.src.octets());
        b[4..8].copy_from_slice(&self.dst.octets());
        b[8..10].copy_from_slice(&self.src_port.to_be_bytes());
        b[10..12].copy_from_slice(&self.dst_port.to_be_bytes());
        b[12] = self.proto;
        b
    }
}

impl CtTupleIpv6 {
    /// The 40 payload bytes of `struct ovs_key_ct_tuple_ipv6` (3 trailing pad bytes).
    pub fn to_bytes(&self) -> [u8; 40] {
        let mut b = [0; 40];
        b[..16].copy_from_slice(&self.src.octets());
        b[16..32].copy_from_slice(&self.dst.octets());
        b[32..34].copy_from_slice(&self.src_port.to_be_bytes());
        b[34..36].copy_from_slice(&self.dst_port.to_be_bytes());
        b[36] = self.proto;
        b
    }
}

impl NshBase {
    /// The 8 payload bytes of `struct ovs_nsh_key_base`.
    pub fn to_bytes(&self) -> [u8; 8] {
        let p = self.path_hdr.to_be_bytes();
        [
            self.flags,
            self.ttl,
            self.mdtype,
            self.np,
            p[0],
            p[1],
            p[2],
            p[3],
        ]
    }
}

impl NshKey {
    /// Decodes the nested `OVS_NSH_KEY_ATTR_*` list (`nsh_key_put_from_nlattr`).
    ///
    /// `allow_md2` is true only for `push_nsh`: the kernel answers `ENOTSUPP` for MD2 in a key.
    pub fn parse(buf: &[u8], base: usize, allow_md2: bool) -> Result<NshKey> {
        let mut k = NshKey::default();
        let mut end = 0;
        for nla in NlaIter::with_base(buf, base) {
            let nla = nla?;
            end = nla.offset - base + nla_size(nla.payload.len());
            match nla.kind {
                OVS_NSH_KEY_ATTR_BASE => {
                    let b: [u8; 8] = fixed(&nla, "nsh base must be 8 bytes")?;
                    k.base = Some(NshBase {
                        flags: b[0],
                        ttl: b[1],
                        mdtype: b[2],
                        np: b[3],
                        path_hdr: be32(&b, 4),
                    });
                }
                OVS_NSH_KEY_ATTR_MD1 => {
                    let b: [u8; 16] = fixed(&nla, "nsh md1 must be 16 bytes")?;
                    k.md1 = Some([be32(&b, 0), be32(&b, 4), be32(&b, 8), be32(&b, 12)]);
                }
                OVS_NSH_KEY_ATTR_MD2 => {
                    if !allow_md2 {
                        return Err(Error::new(
                            crate::errno::ENOTSUPP,
                            nla.offset,
                            "nsh md type 2 is not supported in keys",
                        ));
                    }
                    if nla.payload.is_empty() || nla.payload.len() > NSH_CTX_HDRS_MAX_LEN {
                        return Err(Error::inval(nla.offset, "bad nsh md2 length"));
                    }
                    k.md2 = Some(nla.payload.to_vec());
                }
                _ => return Err(Error::inval(nla.offset, "unknown nsh key attribute")),
            }
        }
        if end != buf.len() {
            return Err(Error::inval(
                base + end.min(buf.len()),
                "trailing bytes in nsh key",
            ));
        }
        if k.md1.is_some() && k.md2.is_some() {
            return Err(Error::inval(base, "nsh md1 and md2 are exclusive"));
        }
        Ok(k)
    }

    /// Encoded size of the nested attributes.
    pub fn buffer_len(&self) -> usize {
        self.base.map_or(0, |_| nla_size(8))
            + self.md1.map_or(0, |_| nla_size(16))
            + self.md2.as_ref().map_or(0, |m| nla_size(m.len()))
    }

    /// Writes the nested attributes: BASE, then MD1 or MD2.
    pub fn emit(&self, w: &mut NlaWriter<'_>) {
        if let Some(b) = &self.base {
            w.put(OVS_NSH_KEY_ATTR_BASE, &b.to_bytes());
        }
        if let Some(c) = &self.md1 {
            let mut b = [0u8; 16];
            for (i, v) in c.iter().enumerate() {
                b[i * 4..i * 4 + 4].copy_from_slice(&v.to_be_bytes());
            }
            w.put(OVS_NSH_KEY_ATTR_MD1, &b);
        }
        if let Some(m) = &self.md2 {
            w.put(OVS_NSH_KEY_ATTR_MD2, m);
        }
    }
}

/// `NSH_CTX_HDRS_MAX_LEN`: largest MD2 context the kernel accepts.
pub const NSH_CTX_HDRS_MAX_LEN: usize = 244;

impl KeyAttr {
    /// The attribute's type number.
    pub fn type_id(&self) -> u16 {
        match self {
            KeyAttr::Encap(_) => OVS_KEY_ATTR_ENCAP,
            KeyAttr::Priority(_) => OVS_KEY_ATTR_PRIORITY,
            KeyAttr::InPort(_) => OVS_KEY_ATTR_IN_PORT,
            KeyAttr::Ethernet(_) => OVS_KEY_ATTR_ETHERNET,
            KeyAttr::Vlan(_) => OVS_KEY_ATTR_VLAN,
            KeyAttr::Ethertype(_) => OVS_KEY_ATTR_ETHERTYPE,
            KeyAttr::Ipv4(_) => OVS_KEY_ATTR_IPV4,
            KeyAttr::Ipv6(_) => OVS_KEY_ATTR_IPV6,
            KeyAttr::Tcp(_) => OVS_KEY_ATTR_TCP,
            KeyAttr::Udp(_) => OVS_KEY_ATTR_UDP,
            KeyAttr::Icmp(_) => OVS_KEY_ATTR_ICMP,
            KeyAttr::Icmpv6(_) => OVS_KEY_ATTR_ICMPV6,
            KeyAttr::Arp(_) => OVS_KEY_ATTR_ARP,
            KeyAttr::Nd(_) => OVS_KEY_ATTR_ND,
            KeyAttr::SkbMark(_) => OVS_KEY_ATTR_SKB_MARK,
            KeyAttr::Tunnel(_) => OVS_KEY_ATTR_TUNNEL,
            KeyAttr::Sctp(_) => OVS_KEY_ATTR_SCTP,
            KeyAttr::TcpFlags(_) => OVS_KEY_ATTR_TCP_FLAGS,
            KeyAttr::DpHash(_) => OVS_KEY_ATTR_DP_HASH,
            KeyAttr::RecircId(_) => OVS_KEY_ATTR_RECIRC_ID,
            KeyAttr::Mpls(_) => OVS_KEY_ATTR_MPLS,
            KeyAttr::CtState(_) => OVS_KEY_ATTR_CT_STATE,
            KeyAttr::CtZone(_) => OVS_KEY_ATTR_CT_ZONE,
            KeyAttr::CtMark(_) => OVS_KEY_ATTR_CT_MARK,
            KeyAttr::CtLabels(_) => OVS_KEY_ATTR_CT_LABELS,
            KeyAttr::CtOrigTupleIpv4(_) => OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV4,
            KeyAttr::CtOrigTupleIpv6(_) => OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6,
            KeyAttr::Nsh(_) => OVS_KEY_ATTR_NSH,
            KeyAttr::PacketType(_) => OVS_KEY_ATTR_PACKET_TYPE,
            KeyAttr::Ipv6Exthdrs(_) => OVS_KEY_ATTR_IPV6_EXTHDRS,
            KeyAttr::Unknown(t, _) => *t,
        }
    }

    /// Decodes one key attribute, checking its length against the kernel's table.
    ///
    /// Types the kernel does not know (and 29–31, which it refuses) decode to
    /// [`KeyAttr::Unknown`]; [`Key::parse`] rejects them, [`Key::parse_lenient`] keeps them.
    pub fn parse(nla: &Nla<'_>) -> Result<KeyAttr> {
        Self::parse_depth(nla, 0)
    }

    fn parse_depth(nla: &Nla<'_>, depth: usize) -> Result<KeyAttr> {
        let p = nla.payload;
        let off = nla.offset;
        if let Some(n) = fixed_len(nla.kind) {
            if p.len() != n {
                return Err(Error::inval(off, "key attribute has the wrong length"));
            }
        }
        Ok(match nla.kind {
            OVS_KEY_ATTR_ENCAP => {
                if depth >= MAX_ENCAP_DEPTH {
                    return Err(Error::inval(off, "encap nested too deeply"));
                }
                KeyAttr::Encap(Key::parse_inner(p, nla.payload_offset(), depth + 1, false)?)
            }
            OVS_KEY_ATTR_PRIORITY => KeyAttr::Priority(nla.u32()?),
            OVS_KEY_ATTR_IN_PORT => KeyAttr::InPort(nla.u32()?),
            OVS_KEY_ATTR_ETHERNET => KeyAttr::Ethernet(EthernetKey {
                src: mac(p, 0),
                dst: mac(p, 6),
            }),
            OVS_KEY_ATTR_VLAN => KeyAttr::Vlan(be16(p, 0)),
            OVS_KEY_ATTR_ETHERTYPE => KeyAttr::Ethertype(be16(p, 0)),
            OVS_KEY_ATTR_IPV4 => KeyAttr::Ipv4(Ipv4Key {
                src: v4(p, 0),
                dst: v4(p, 4),
                proto: p[8],
                tos: p[9],
                ttl: p[10],
                frag: p[11],
            }),
            OVS_KEY_ATTR_IPV6 => KeyAttr::Ipv6(Ipv6Key {
                src: v6(p, 0),
                dst: v6(p, 16),
                label: be32(p, 32),
                proto: p[36],
                tclass: p[37],
                hlimit: p[38],
                frag: p[39],
            }),
            OVS_KEY_ATTR_TCP => KeyAttr::Tcp(PortsKey {
                src: be16(p, 0),
                dst: be16(p, 2),
            }),
            OVS_KEY_ATTR_UDP => KeyAttr::Udp(PortsKey {
                src: be16(p, 0),
                dst: be16(p, 2),
            }),
            OVS_KEY_ATTR_SCTP => KeyAttr::Sctp(PortsKey {
                src: be16(p, 0),
                dst: be16(p, 2),
            }),
            OVS_KEY_ATTR_ICMP => KeyAttr::Icmp(IcmpKey {
                type_: p[0],
                code: p[1],
            }),
            OVS_KEY_ATTR_ICMPV6 => KeyAttr::Icmpv6(IcmpKey {
                type_: p[0],
                code: p[1],
            }),
            OVS_KEY_ATTR_ARP => KeyAttr::Arp(ArpKey {
                sip: v4(p, 0),
                tip: v4(p, 4),
                op: be16(p, 8),
                sha: mac(p, 10),
                tha: mac(p, 16),
            }),
            OVS_KEY_ATTR_ND => KeyAttr::Nd(NdKey {
                target: v6(p, 0),
                sll: mac(p, 16),
                tll: mac(p, 22),
            }),
            OVS_KEY_ATTR_SKB_MARK => KeyAttr::SkbMark(nla.u32()?),
            OVS_KEY_ATTR_TUNNEL => KeyAttr::Tunnel(TunnelKey::parse(p, nla.payload_offset())?),
            OVS_KEY_ATTR_TCP_FLAGS => KeyAttr::TcpFlags(be16(p, 0)),
            OVS_KEY_ATTR_DP_HASH => KeyAttr::DpHash(nla.u32()?),
            OVS_KEY_ATTR_RECIRC_ID => KeyAttr::RecircId(nla.u32()?),
            OVS_KEY_ATTR_MPLS => {
                // The kernel takes 1..=3 label stack entries (MPLS_LABEL_DEPTH).
                if p.is_empty() || p.len() & 3 != 0 || p.len() > 12 {
                    return Err(Error::inval(off, "mpls key must hold 1 to 3 labels"));
                }
                KeyAttr::Mpls(p.chunks_exact(4).map(|c| be32(c, 0)).collect())
            }
            OVS_KEY_ATTR_CT_STATE => KeyAttr::CtState(nla.u32()?),
            OVS_KEY_ATTR_CT_ZONE => KeyAttr::CtZone(nla.u16()?),
            OVS_KEY_ATTR_CT_MARK => KeyAttr::CtMark(nla.u32()?),
            OVS_KEY_ATTR_CT_LABELS => KeyAttr::CtLabels(fixed(nla, "ct labels must be 16 bytes")?),
            OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV4 => KeyAttr::CtOrigTupleIpv4(CtTupleIpv4 {
                src: v4(p, 0),
                dst: v4(p, 4),
                src_port: be16(p, 8),
                dst_port: be16(p, 10),
                proto: p[12],
            }),
            OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6 => KeyAttr::CtOrigTupleIpv6(CtTupleIpv6 {
                src: v6(p, 0),
                dst: v6(p, 16),
                src_port: be16(p, 32),
                dst_port: be16(p, 34),
                proto: p[36],
            }),
            OVS_KEY_ATTR_NSH => KeyAttr::Nsh(NshKey::parse(p, nla.payload_offset(), false)?),
            OVS_KEY_ATTR_PACKET_TYPE => KeyAttr::PacketType(be32(p, 0)),
            OVS_KEY_ATTR_IPV6_EXTHDRS => KeyAttr::Ipv6Exthdrs(nla.u16()?),
            t => KeyAttr::Unknown(t, p.to_vec()),
        })
    }

    /// Payload length (without the attribute header and padding).
    pub fn payload_len(&self) -> usize {
        match self {
            KeyAttr::Encap(k) => k.buffer_len(),
            KeyAttr::Tunnel(t) => t.buffer_len(),
            KeyAttr::Nsh(n) => n.buffer_len(),
            KeyAttr::Mpls(l) => 4 * l.len(),
            KeyAttr::Unknown(_, b) => b.len(),
            a => fixed_len(a.type_id()).unwrap_or(0),
        }
    }

    /// Encoded size, header and padding included.
    pub fn buffer_len(&self) -> usize {
        nla_size(self.payload_len())
    }

    /// The payload bytes for fixed-layout attributes (`None` for nested ones), as they appear
    /// on the wire; `set_masked` actions concatenate the key and mask payloads.
    pub fn payload_bytes(&self) -> Option<Vec<u8>> {
        Some(match self {
            KeyAttr::Encap(_) | KeyAttr::Tunnel(_) | KeyAttr::Nsh(_) => return None,
            KeyAttr::Priority(v)
            | KeyAttr::InPort(v)
            | KeyAttr::SkbMark(v)
            | KeyAttr::DpHash(v)
            | KeyAttr::RecircId(v)
            | KeyAttr::CtState(v)
            | KeyAttr::CtMark(v) => v.to_ne_bytes().to_vec(),
            KeyAttr::Ethernet(e) => e.to_bytes().to_vec(),
            KeyAttr::Vlan(v) | KeyAttr::Ethertype(v) | KeyAttr::TcpFlags(v) => {
                v.to_be_bytes().to_vec()
            }
            KeyAttr::Ipv4(k) => k.to_bytes().to_vec(),
            KeyAttr::Ipv6(k) => k.to_bytes().to_vec(),
            KeyAttr::Tcp(k) | KeyAttr::Udp(k) | KeyAttr::Sctp(k) => k.to_bytes().to_vec(),
            KeyAttr::Icmp(k) | KeyAttr::Icmpv6(k) => vec![k.type_, k.code],
            KeyAttr::Arp(k) => k.to_bytes().to_vec(),
            KeyAttr::Nd(k) => k.to_bytes().to_vec(),
            KeyAttr::Mpls(l) => l.iter().flat_map(|v| v.to_be_bytes()).collect(),
            KeyAttr::CtZone(v) | KeyAttr::Ipv6Exthdrs(v) => v.to_ne_bytes().to_vec(),
            KeyAttr::CtLabels(b) => b.to_vec(),
            KeyAttr::CtOrigTupleIpv4(k) => k.to_bytes().to_vec(),
            KeyAttr::CtOrigTupleIpv6(k) => k.to_bytes().to_vec(),
            KeyAttr::PacketType(v) => v.to_be_bytes().to_vec(),
            KeyAttr::Unknown(_, b) => b.clone(),
        })
    }

    /// Appends the attribute.
    pub fn emit(&self, w: &mut NlaWriter<'_>) {
        let t = self.type_id();
        match self {
            KeyAttr::Encap(k) => w.nested(t, |w| k.emit(w)),
            KeyAttr::Tunnel(k) => w.nested(t, |w| k.emit(w)),
            KeyAttr::Nsh(k) => w.nested(t, |w| k.emit(w)),
            a => {
                if let Some(p) = a.payload_bytes() {
                    w.put(t, &p);
                }
            }
        }
    }
}

impl Key {
    /// Decodes a key (or mask) attribute stream as the kernel does: unknown types (including
    /// the userspace-only 29/30 and kernel-internal 31), duplicates at one level, wrong
    /// lengths and trailing bytes are `EINVAL` at the offending attribute. Offsets are
    /// reported as `base` + position in `buf`.
    pub fn parse(buf: &[u8], base: usize) -> Result<Key> {
        Self::parse_inner(buf, base, 0, true)
    }

    /// Decodes without rejecting unknown or duplicate attributes (for printing foreign keys).
    pub fn parse_lenient(buf: &[u8], base: usize) -> Result<Key> {
        Self::parse_inner(buf, base, 0, false)
    }

    fn parse_inner(buf: &[u8], base: usize, depth: usize, strict: bool) -> Result<Key> {
        let mut attrs = Vec::new();
        let mut seen: u64 = 0;
        let mut end = 0;
        for nla in NlaIter::with_base(buf, base) {
            let nla = nla?;
            end = nla.offset - base + nla_size(nla.payload.len());
            if strict {
                if nla.kind > OVS_KEY_ATTR_MAX
                    || matches!(
                        nla.kind,
                        OVS_KEY_ATTR_UNSPEC
                            | OVS_KEY_ATTR_PACKET_TYPE
                            | OVS_KEY_ATTR_ND_EXTENSIONS
                            | OVS_KEY_ATTR_TUNNEL_INFO
                    )
                {
                    return Err(Error::inval(nla.offset, "unknown key attribute type"));
                }
                let bit = 1u64 << nla.kind;
                if seen & bit != 0 {
                    return Err(Error::inval(nla.offset, "duplicate key attribute"));
                }
                seen |= bit;
            }
            let attr = KeyAttr::parse_depth(&nla, depth)?;
            attrs.push(attr);
        }
        if end != buf.len() {
            return Err(Error::inval(
                base + end.min(buf.len()),
                "trailing bytes after key attributes",
            ));
        }
        Ok(Key(attrs))
    }

    /// Encoded size of the attribute stream (without an enclosing header).
    pub fn buffer_len(&self) -> usize {
        self.0.iter().map(KeyAttr::buffer_len).sum()
    }

    /// Appends every attribute in order.
    pub fn emit(&self, w: &mut NlaWriter<'_>) {
        for a in &self.0 {
            a.emit(w);
        }
    }

    /// The encoded attribute stream as a fresh buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.buffer_len());
        self.emit(&mut NlaWriter::new(&mut buf));
        buf
    }

    /// Each top-level attribute with the offset of its header within [`Key::to_bytes`]; for a
    /// key decoded by [`Key::parse`] this is also its offset in the original buffer.
    pub fn offsets(&self) -> impl Iterator<Item = (usize, &KeyAttr)> {
        let mut off = 0;
        self.0.iter().map(move |a| {
            let here = off;
            off += a.buffer_len();
            (here, a)
        })
    }
}
