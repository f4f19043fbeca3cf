//! Tunnel metadata: the nested `OVS_TUNNEL_KEY_ATTR_*` list used in `OVS_KEY_ATTR_TUNNEL`,
//! in `set(tunnel(...))` actions and in `OVS_PACKET_ATTR_EGRESS_TUN_KEY`.
//!
//! ≈ `ip_tun_from_nlattr` / `__ip_tun_to_nlattr` in `net/openvswitch/flow_netlink.c`.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::errno::EINVAL;
use crate::nl::attr::{nla_size, NlaIter, NlaWriter};
use crate::{Error, Result};

/// `OVS_TUNNEL_KEY_ATTR_ID`: be64 tunnel id.
pub const OVS_TUNNEL_KEY_ATTR_ID: u16 = 0;
/// `OVS_TUNNEL_KEY_ATTR_IPV4_SRC`: be32.
pub const OVS_TUNNEL_KEY_ATTR_IPV4_SRC: u16 = 1;
/// `OVS_TUNNEL_KEY_ATTR_IPV4_DST`: be32.
pub const OVS_TUNNEL_KEY_ATTR_IPV4_DST: u16 = 2;
/// `OVS_TUNNEL_KEY_ATTR_TOS`: u8.
pub const OVS_TUNNEL_KEY_ATTR_TOS: u16 = 3;
/// `OVS_TUNNEL_KEY_ATTR_TTL`: u8.
pub const OVS_TUNNEL_KEY_ATTR_TTL: u16 = 4;
/// `OVS_TUNNEL_KEY_ATTR_DONT_FRAGMENT`: flag.
pub const OVS_TUNNEL_KEY_ATTR_DONT_FRAGMENT: u16 = 5;
/// `OVS_TUNNEL_KEY_ATTR_CSUM`: flag.
pub const OVS_TUNNEL_KEY_ATTR_CSUM: u16 = 6;
/// `OVS_TUNNEL_KEY_ATTR_OAM`: flag.
pub const OVS_TUNNEL_KEY_ATTR_OAM: u16 = 7;
/// `OVS_TUNNEL_KEY_ATTR_GENEVE_OPTS`: raw Geneve option TLVs.
pub const OVS_TUNNEL_KEY_ATTR_GENEVE_OPTS: u16 = 8;
/// `OVS_TUNNEL_KEY_ATTR_TP_SRC`: be16.
pub const OVS_TUNNEL_KEY_ATTR_TP_SRC: u16 = 9;
/// `OVS_TUNNEL_KEY_ATTR_TP_DST`: be16.
pub const OVS_TUNNEL_KEY_ATTR_TP_DST: u16 = 10;
/// `OVS_TUNNEL_KEY_ATTR_VXLAN_OPTS`: nested `OVS_VXLAN_EXT_*`.
pub const OVS_TUNNEL_KEY_ATTR_VXLAN_OPTS: u16 = 11;
/// `OVS_TUNNEL_KEY_ATTR_IPV6_SRC`: 16 bytes.
pub const OVS_TUNNEL_KEY_ATTR_IPV6_SRC: u16 = 12;
/// `OVS_TUNNEL_KEY_ATTR_IPV6_DST`: 16 bytes.
pub const OVS_TUNNEL_KEY_ATTR_IPV6_DST: u16 = 13;
/// `OVS_TUNNEL_KEY_ATTR_PAD`: never valid in a key.
pub const OVS_TUNNEL_KEY_ATTR_PAD: u16 = 14;
/// `OVS_TUNNEL_KEY_ATTR_ERSPAN_OPTS`: `struct erspan_metadata`.
pub const OVS_TUNNEL_KEY_ATTR_ERSPAN_OPTS: u16 = 15;
/// `OVS_TUNNEL_KEY_ATTR_IPV4_INFO_BRIDGE`: flag (kernel numbering; OVS 3.1 userspace reuses 16
/// for GTP-U options, which it never sends to a kernel).
pub const OVS_TUNNEL_KEY_ATTR_IPV4_INFO_BRIDGE: u16 = 16;
/// Highest tunnel attribute type the kernel knows.
pub const OVS_TUNNEL_KEY_ATTR_MAX: u16 = OVS_TUNNEL_KEY_ATTR_IPV4_INFO_BRIDGE;

/// `OVS_VXLAN_EXT_GBP`: u32 `(flags << 16) | policy id`.
pub const OVS_VXLAN_EXT_GBP: u16 = 1;

/// Largest options block the kernel stores (`sizeof(sw_flow_key.tun_opts)`).
pub const TUN_OPTS_MAX_LEN: usize = 255;

/// Nested `OVS_TUNNEL_KEY_ATTR_*`: presence of each attribute is kept (a mask uses presence to
/// mean "this field is matched").
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TunnelKey {
    /// `ID`: tunnel id / VNI; present ⇔ the "key" tunnel flag.
    pub id: Option<u64>,
    /// `IPV4_SRC`.
    pub ipv4_src: Option<Ipv4Addr>,
    /// `IPV4_DST`.
    pub ipv4_dst: Option<Ipv4Addr>,
    /// `IPV6_SRC`.
    pub ipv6_src: Option<Ipv6Addr>,
    /// `IPV6_DST`.
    pub ipv6_dst: Option<Ipv6Addr>,
    /// `TOS`.
    pub tos: Option<u8>,
    /// `TTL`.
    pub ttl: Option<u8>,
    /// `DONT_FRAGMENT` flag.
    pub dont_fragment: bool,
    /// `CSUM` flag.
    pub csum: bool,
    /// `OAM` flag.
    pub oam: bool,
    /// `TP_SRC`: outer UDP source port.
    pub tp_src: Option<u16>,
    /// `TP_DST`: outer UDP destination port.
    pub tp_dst: Option<u16>,
    /// `GENEVE_OPTS`: raw option TLVs (multiple of 4, ≤ 255 bytes).
    pub geneve_opts: Option<Vec<u8>>,
    /// `VXLAN_OPTS { GBP }`: `(flags << 16) | policy id`.
    pub vxlan_gbp: Option<u32>,
    /// `ERSPAN_OPTS`: raw `struct erspan_metadata` (host-order int version, then the union).
    pub erspan_opts: Option<Vec<u8>>,
    /// `IPV4_INFO_BRIDGE` flag (kernel only).
    pub ipv4_info_bridge: bool,
}

fn exact<const N: usize>(payload: &[u8], offset: usize, what: &'static str) -> Result<[u8; N]> {
    payload.try_into().map_err(|_| Error::inval(offset, what))
}

impl TunnelKey {
    /// Decodes the nested tunnel attributes in `buf`, reporting offsets as `base` + position.
    ///
    /// Checks what the kernel checks for every tunnel key: known types, exact lengths, no
    /// duplicate options blocks, options size. With `is_mask` false it also applies the key-only
    /// rules of `ip_tun_from_nlattr` (see [`TunnelKey::validate_key`]).
    pub fn parse(buf: &[u8], base: usize) -> Result<TunnelKey> {
        let mut t = TunnelKey::default();
        let mut opts_seen = false;
        let mut end = 0usize;
        for nla in NlaIter::with_base(buf, base) {
            let nla = nla?;
            end = nla.offset - base + nla_size(nla.payload.len());
            let off = nla.offset;
            let p = nla.payload;
            let flag = |p: &[u8]| {
                if p.is_empty() {
                    Ok(true)
                } else {
                    Err(Error::inval(off, "tunnel flag attribute has a payload"))
                }
            };
            match nla.kind {
                OVS_TUNNEL_KEY_ATTR_ID => {
                    t.id = Some(u64::from_be_bytes(exact(
                        p,
                        off,
                        "tunnel id must be 8 bytes",
                    )?))
                }
                OVS_TUNNEL_KEY_ATTR_IPV4_SRC => {
                    t.ipv4_src = Some(Ipv4Addr::from(exact::<4>(
                        p,
                        off,
                        "tunnel ipv4 src must be 4 bytes",
                    )?))
                }
                OVS_TUNNEL_KEY_ATTR_IPV4_DST => {
                    t.ipv4_dst = Some(Ipv4Addr::from(exact::<4>(
                        p,
                        off,
                        "tunnel ipv4 dst must be 4 bytes",
                    )?))
                }
                OVS_TUNNEL_KEY_ATTR_TOS => {
                    t.tos = Some(exact::<1>(p, off, "tunnel tos must be 1 byte")?[0])
                }
                OVS_TUNNEL_KEY_ATTR_TTL => {
                    t.ttl = Some(exact::<1>(p, off, "tunnel ttl must be 1 byte")?[0])
                }
                OVS_TUNNEL_KEY_ATTR_DONT_FRAGMENT => t.dont_fragment = flag(p)?,
                OVS_TUNNEL_KEY_ATTR_CSUM => t.csum = flag(p)?,
                OVS_TUNNEL_KEY_ATTR_OAM => t.oam = flag(p)?,
                OVS_TUNNEL_KEY_ATTR_IPV4_INFO_BRIDGE => t.ipv4_info_bridge = flag(p)?,
                OVS_TUNNEL_KEY_ATTR_TP_SRC => {
                    t.tp_src = Some(u16::from_be_bytes(exact(
                        p,
                        off,
                        "tunnel tp_src must be 2 bytes",
                    )?))
                }
                OVS_TUNNEL_KEY_ATTR_TP_DST => {
                    t.tp_dst = Some(u16::from_be_bytes(exact(
                        p,
                        off,
                        "tunnel tp_dst must be 2 bytes",
                    )?))
                }
                OVS_TUNNEL_KEY_ATTR_IPV6_SRC => {
                    t.ipv6_src = Some(Ipv6Addr::from(exact::<16>(
                        p,
                        off,
                        "tunnel ipv6 src must be 16 bytes",
                    )?))
                }
                OVS_TUNNEL_KEY_ATTR_IPV6_DST => {
                    t.ipv6_dst = Some(Ipv6Addr::from(exact::<16>(
                        p,
                        off,
                        "tunnel ipv6 dst must be 16 bytes",
                    )?))
                }
                OVS_TUNNEL_KEY_ATTR_GENEVE_OPTS
                | OVS_TUNNEL_KEY_ATTR_VXLAN_OPTS
                | OVS_TUNNEL_KEY_ATTR_ERSPAN_OPTS => {
                    if opts_seen {
                        return Err(Error::inval(off, "multiple tunnel metadata blocks"));
                    }
                    opts_seen = true;
                    if p.len() > TUN_OPTS_MAX_LEN {
                        return Err(Error::inval(off, "tunnel options too long"));
                    }
                    match nla.kind {
                        OVS_TUNNEL_KEY_ATTR_GENEVE_OPTS => {
                            if p.len() & 3 != 0 {
                                return Err(Error::inval(
                                    off,
                                    "geneve options length is not a multiple of 4",
                                ));
                            }
                            t.geneve_opts = Some(p.to_vec());
                        }
                        OVS_TUNNEL_KEY_ATTR_ERSPAN_OPTS => t.erspan_opts = Some(p.to_vec()),
                        _ => t.vxlan_gbp = Some(parse_vxlan_opts(&nla)?),
                    }
                }
                _ => return Err(Error::inval(off, "unknown tunnel key attribute")),
            }
        }
        if end != buf.len() {
            return Err(Error::inval(
                base + end.min(buf.len()),
                "trailing bytes in tunnel key",
            ));
        }
        Ok(t)
    }

    /// The rules `ip_tun_from_nlattr` applies to a tunnel key (not a mask): IPv4 and IPv6
    /// attributes not mixed, a non-zero destination, and a TTL (unless in bridge mode).
    /// `offset` is where the error is reported (the `TUNNEL` attribute).
    pub fn validate_key(&self, offset: usize) -> Result<()> {
        let ipv4 = self.ipv4_src.is_some() || self.ipv4_dst.is_some() || self.ipv4_info_bridge;
        let ipv6 = self.ipv6_src.is_some() || self.ipv6_dst.is_some();
        if ipv4 && ipv6 {
            return Err(Error::inval(
                offset,
                "mixed IPv4 and IPv6 tunnel attributes",
            ));
        }
        if !ipv4 && !ipv6 {
            return Err(Error::inval(
                offset,
                "tunnel destination address not specified",
            ));
        }
        if ipv4 {
            if self.ipv4_info_bridge {
                if self.ipv4_src.is_some_and(|a| !a.is_unspecified())
                    || self.ipv4_dst.is_some_and(|a| !a.is_unspecified())
                {
                    return Err(Error::inval(
                        offset,
                        "IPv4 addresses not valid in bridge mode",
                    ));
                }
            } else if self.ipv4_dst.is_none_or_zero() {
                return Err(Error::inval(offset, "IPv4 tunnel dst address is zero"));
            }
        }
        if ipv6 && self.ipv6_dst.is_none_or_zero() {
            return Err(Error::inval(offset, "IPv6 tunnel dst address is zero"));
        }
        if self.ttl.is_none() && !self.ipv4_info_bridge {
            return Err(Error::inval(offset, "tunnel TTL not specified"));
        }
        Ok(())
    }

    /// Encoded size of the nested attributes (without the enclosing header).
    pub fn buffer_len(&self) -> usize {
        let mut n = 0;
        n += self.id.map_or(0, |_| nla_size(8));
        n += self.ipv4_src.map_or(0, |_| nla_size(4));
        n += self.ipv4_dst.map_or(0, |_| nla_size(4));
        n += self.ipv6_src.map_or(0, |_| nla_size(16));
        n += self.ipv6_dst.map_or(0, |_| nla_size(16));
        n += self.tos.map_or(0, |_| nla_size(1));
        n += self.ttl.map_or(0, |_| nla_size(1));
        n += [
            self.dont_fragment,
            self.csum,
            self.oam,
            self.ipv4_info_bridge,
        ]
        .iter()
        .filter(|&&b| b)
        .count()
            * nla_size(0);
        n += self.tp_src.map_or(0, |_| nla_size(2));
        n += self.tp_dst.map_or(0, |_| nla_size(2));
        n += self.geneve_opts.as_ref().map_or(0, |o| nla_size(o.len()));
        n += self.vxlan_gbp.map_or(0, |_| nla_size(nla_size(4)));
        n += self.erspan_opts.as_ref().map_or(0, |o| nla_size(o.len()));
        n
    }

    /// Writes the nested attributes in the order both the kernel and OVS use.
    pub fn emit(&self, w: &mut NlaWriter<'_>) {
        if let Some(id) = self.id {
            w.put_be64(OVS_TUNNEL_KEY_ATTR_ID, id);
        }
        if let Some(a) = self.ipv4_src {
            w.put(OVS_TUNNEL_KEY_ATTR_IPV4_SRC, &a.octets());
        }
        if let Some(a) = self.ipv4_dst {
            w.put(OVS_TUNNEL_KEY_ATTR_IPV4_DST, &a.octets());
        }
        if let Some(a) = self.ipv6_src {
            w.put(OVS_TUNNEL_KEY_ATTR_IPV6_SRC, &a.octets());
        }
        if let Some(a) = self.ipv6_dst {
            w.put(OVS_TUNNEL_KEY_ATTR_IPV6_DST, &a.octets());
        }
        if let Some(v) = self.tos {
            w.put_u8(OVS_TUNNEL_KEY_ATTR_TOS, v);
        }
        if let Some(v) = self.ttl {
            w.put_u8(OVS_TUNNEL_KEY_ATTR_TTL, v);
        }
        if self.dont_fragment {
            w.put_flag(OVS_TUNNEL_KEY_ATTR_DONT_FRAGMENT);
        }
        if self.csum {
            w.put_flag(OVS_TUNNEL_KEY_ATTR_CSUM);
        }
        if let Some(v) = self.tp_src {
            w.put_be16(OVS_TUNNEL_KEY_ATTR_TP_SRC, v);
        }
        if let Some(v) = self.tp_dst {
            w.put_be16(OVS_TUNNEL_KEY_ATTR_TP_DST, v);
        }
        if self.oam {
            w.put_flag(OVS_TUNNEL_KEY_ATTR_OAM);
        }
        if let Some(o) = &self.geneve_opts {
            w.put(OVS_TUNNEL_KEY_ATTR_GENEVE_OPTS, o);
        }
        if let Some(gbp) = self.vxlan_gbp {
            w.nested(OVS_TUNNEL_KEY_ATTR_VXLAN_OPTS, |w| {
                w.put_u32(OVS_VXLAN_EXT_GBP, gbp)
            });
        }
        if let Some(o) = &self.erspan_opts {
            w.put(OVS_TUNNEL_KEY_ATTR_ERSPAN_OPTS, o);
        }
        if self.ipv4_info_bridge {
            w.put_flag(OVS_TUNNEL_KEY_ATTR_IPV4_INFO_BRIDGE);
        }
    }

    /// The encoded nested attributes as a fresh buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.buffer_len());
        self.emit(&mut NlaWriter::new(&mut buf));
        buf
    }
}

fn parse_vxlan_opts(nla: &crate::nl::Nla<'_>) -> Result<u32> {
    let mut gbp = 0;
    for inner in nla.nested() {
        let inner = inner?;
        // The kernel parses this nest with a policy that ignores unknown types.
        if inner.kind == OVS_VXLAN_EXT_GBP {
            if inner.payload.len() != 4 {
                return Err(Error::new(EINVAL, inner.offset, "vxlan gbp must be a u32"));
            }
            gbp = inner.u32()?;
        }
    }
    Ok(gbp)
}

trait ZeroAddr {
    fn is_none_or_zero(&self) -> bool;
}
impl ZeroAddr for Option<Ipv4Addr> {
    fn is_none_or_zero(&self) -> bool {
        !matches!(self, Some(a) if !a.is_unspecified())
    }
}
impl ZeroAddr for Option<Ipv6Addr> {
    fn is_none_or_zero(&self) -> bool {
        !matches!(self, Some(a) if !a.is_unspecified())
    }
}
