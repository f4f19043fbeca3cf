//! `dump-flows filter=F`: a subset of the OpenFlow-style exact flow syntax OVS accepts there.
//!
//! ≈ `parse_ofp_exact_flow()` (`lib/ofp-parse.c`) plus the `minimatch_matches_flow()` test in
//! `dpctl_dump_flows()`. A flow is shown if, on every bit covered both by its datapath mask
//! and by the filter's fields, the filter's value equals the flow's.
//!
//! Supported: the shorthands `eth ip ipv6 arp tcp udp sctp icmp tcp6 udp6 sctp6 icmp6` and
//! the fields `in_port` (number or port name), `dl_src`, `dl_dst`, `dl_type`, `nw_src`,
//! `nw_dst` (address, `/prefix` or `/mask`), `ipv6_src`, `ipv6_dst`, `nw_proto`, `tp_src`,
//! `tp_dst`, `icmp_type`, `icmp_code`. Anything else is `FIELD: unknown field FIELD`.

use std::net::{Ipv4Addr, Ipv6Addr};

use userdp_protocol::ovs::key::{Key, KeyAttr};

use super::format::PortNames;
use super::model::FlowInfo;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    InPort,
    DlSrc,
    DlDst,
    DlType,
    NwSrc,
    NwDst,
    Ipv6Src,
    Ipv6Dst,
    NwProto,
    TpSrc,
    TpDst,
    IcmpType,
    IcmpCode,
}

/// A parsed filter: field, value, mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    terms: Vec<(Field, u128, u128)>,
}

const ALL: u128 = u128::MAX;

fn shorthand(s: &str) -> Option<(u16, Option<u8>)> {
    Some(match s {
        "eth" => return Some((0, None)),
        "ip" => (0x0800, None),
        "ipv6" => (0x86dd, None),
        "arp" => (0x0806, None),
        "tcp" => (0x0800, Some(6)),
        "udp" => (0x0800, Some(17)),
        "sctp" => (0x0800, Some(132)),
        "icmp" => (0x0800, Some(1)),
        "tcp6" => (0x86dd, Some(6)),
        "udp6" => (0x86dd, Some(17)),
        "sctp6" => (0x86dd, Some(132)),
        "icmp6" => (0x86dd, Some(58)),
        _ => return None,
    })
}

fn field(name: &str) -> Option<Field> {
    Some(match name {
        "in_port" => Field::InPort,
        "dl_src" | "eth_src" => Field::DlSrc,
        "dl_dst" | "eth_dst" => Field::DlDst,
        "dl_type" | "eth_type" => Field::DlType,
        "nw_src" | "ip_src" => Field::NwSrc,
        "nw_dst" | "ip_dst" => Field::NwDst,
        "ipv6_src" => Field::Ipv6Src,
        "ipv6_dst" => Field::Ipv6Dst,
        "nw_proto" | "ip_proto" => Field::NwProto,
        "tp_src" => Field::TpSrc,
        "tp_dst" => Field::TpDst,
        "icmp_type" | "icmpv6_type" => Field::IcmpType,
        "icmp_code" | "icmpv6_code" => Field::IcmpCode,
        _ => return None,
    })
}

fn int(s: &str) -> Option<u128> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u128::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn mac(s: &str) -> Option<u128> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    parts.iter().try_fold(0u128, |acc, p| {
        u8::from_str_radix(p, 16)
            .ok()
            .map(|b| acc << 8 | u128::from(b))
    })
}

fn value_and_mask(f: Field, v: &str, names: &PortNames) -> Option<(u128, u128)> {
    let (val, mask) = match v.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (v, None),
    };
    let parse = |s: &str| -> Option<u128> {
        match f {
            Field::InPort => int(s).or_else(|| {
                names
                    .iter()
                    .find(|(_, n)| n.as_str() == s)
                    .map(|(no, _)| u128::from(*no))
            }),
            Field::DlSrc | Field::DlDst => mac(s),
            Field::NwSrc | Field::NwDst => {
                s.parse::<Ipv4Addr>().ok().map(|a| u128::from(u32::from(a)))
            }
            Field::Ipv6Src | Field::Ipv6Dst => s.parse::<Ipv6Addr>().ok().map(u128::from),
            _ => int(s),
        }
    };
    let value = parse(val)?;
    let mask = match mask {
        None => ALL,
        Some(m) => {
            let width = match f {
                Field::NwSrc | Field::NwDst => 32,
                Field::Ipv6Src | Field::Ipv6Dst => 128,
                _ => 0,
            };
            match m.parse::<u32>() {
                Ok(prefix) if width != 0 && !m.contains('.') && !m.contains(':') => {
                    if prefix > width {
                        return None;
                    }
                    let ones = if prefix == 0 {
                        0
                    } else {
                        ALL << (128 - prefix)
                    };
                    ones >> (128 - width)
                }
                _ => parse(m)?,
            }
        }
    };
    Some((value & mask, mask))
}

impl Filter {
    /// Parses `F`; the error is the text OVS puts in `Failed to parse filter (…)`.
    pub fn parse(s: &str, names: &PortNames) -> Result<Filter, String> {
        let mut terms = Vec::new();
        for tok in s.split([',', ' ', '\t']).filter(|t| !t.is_empty()) {
            let (name, value) = match tok.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (tok, None),
            };
            if let (Some((eth, proto)), None) = (shorthand(name), value) {
                if eth != 0 {
                    terms.push((Field::DlType, u128::from(eth), ALL));
                }
                if let Some(p) = proto {
                    terms.push((Field::NwProto, u128::from(p), ALL));
                }
                continue;
            }
            let Some(f) = field(name) else {
                return Err(format!("{name}: unknown field {name}"));
            };
            let Some(v) = value else {
                return Err(format!("field {name} missing value"));
            };
            let Some((val, mask)) = value_and_mask(f, v, names) else {
                return Err(format!("{v}: invalid value for field {name}"));
            };
            terms.push((f, val, mask));
        }
        Ok(Filter { terms })
    }

    /// Whether flow `f` passes.
    pub fn matches(&self, f: &FlowInfo) -> bool {
        self.terms.iter().all(|&(field, v, m)| {
            let Some((fv, fm)) = extract(field, &f.key, f.mask.as_ref()) else {
                return true;
            };
            (fv ^ v) & fm & m == 0
        })
    }
}

/// Every attribute of a key with the matching mask attribute, outer level then `encap`.
fn pairs<'k>(key: &'k Key, mask: Option<&'k Key>) -> Vec<(&'k KeyAttr, Option<&'k KeyAttr>)> {
    let mut out = Vec::new();
    for a in &key.0 {
        let m = mask.and_then(|m| m.0.iter().find(|x| x.kind() == a.kind()));
        if let KeyAttr::Encap(inner) = a {
            let im = match m {
                Some(KeyAttr::Encap(k)) => Some(k),
                _ => None,
            };
            out.extend(pairs(
                inner,
                im.or(if mask.is_none() { None } else { Some(&EMPTY) }),
            ));
        } else {
            out.push((a, m));
        }
    }
    out
}

static EMPTY: Key = Key(Vec::new());

fn get(field: Field, a: &KeyAttr) -> Option<u128> {
    let mac = |m: &[u8; 6]| m.iter().fold(0u128, |acc, &b| acc << 8 | u128::from(b));
    Some(match (field, a) {
        (Field::InPort, KeyAttr::InPort(p)) => u128::from(*p),
        (Field::DlSrc, KeyAttr::Ethernet(e)) => mac(&e.src),
        (Field::DlDst, KeyAttr::Ethernet(e)) => mac(&e.dst),
        (Field::DlType, KeyAttr::Ethertype(t)) => u128::from(*t),
        (Field::NwSrc, KeyAttr::Ipv4(i)) => u128::from(u32::from(i.src)),
        (Field::NwDst, KeyAttr::Ipv4(i)) => u128::from(u32::from(i.dst)),
        (Field::Ipv6Src, KeyAttr::Ipv6(i)) => u128::from(i.src),
        (Field::Ipv6Dst, KeyAttr::Ipv6(i)) => u128::from(i.dst),
        (Field::NwProto, KeyAttr::Ipv4(i)) => u128::from(i.proto),
        (Field::NwProto, KeyAttr::Ipv6(i)) => u128::from(i.proto),
        (Field::TpSrc, KeyAttr::Tcp(p) | KeyAttr::Udp(p) | KeyAttr::Sctp(p)) => u128::from(p.src),
        (Field::TpDst, KeyAttr::Tcp(p) | KeyAttr::Udp(p) | KeyAttr::Sctp(p)) => u128::from(p.dst),
        (Field::IcmpType, KeyAttr::Icmp(i) | KeyAttr::Icmpv6(i)) => u128::from(i.type_),
        (Field::IcmpCode, KeyAttr::Icmp(i) | KeyAttr::Icmpv6(i)) => u128::from(i.code),
        _ => return None,
    })
}

/// The flow's value and mask for `field`; `None` when the key lacks it (mask all zero).
fn extract(field: Field, key: &Key, mask: Option<&Key>) -> Option<(u128, u128)> {
    pairs(key, mask).into_iter().find_map(|(a, m)| {
        let v = get(field, a)?;
        // No mask attribute in a masked flow means wildcarded; no mask at all means exact.
        let m = match (mask, m) {
            (None, _) => ALL,
            (Some(_), Some(m)) => get(field, m).unwrap_or(0),
            (Some(_), None) => 0,
        };
        Some((v, m))
    })
}
