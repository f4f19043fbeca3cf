//! The conntrack action (`OVS_ACTION_ATTR_CT`) and its NAT nest.
//!
//! ≈ `parse_ct` / `parse_nat` in `net/openvswitch/conntrack.c`. Decoding enforces attribute
//! types and sizes; the rules that need the flow key or cross-check attributes (mask zero,
//! commit required, helper known, address family) are in [`CtAction::check`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::errno::{EINVAL, ERANGE};
use crate::nl::attr::nla_size;
use crate::nl::{Nla, NlaWriter};
use crate::{Error, Result};

/// `OVS_CT_ATTR_COMMIT`.
pub const OVS_CT_ATTR_COMMIT: u16 = 1;
/// `OVS_CT_ATTR_ZONE`.
pub const OVS_CT_ATTR_ZONE: u16 = 2;
/// `OVS_CT_ATTR_MARK`.
pub const OVS_CT_ATTR_MARK: u16 = 3;
/// `OVS_CT_ATTR_LABELS`.
pub const OVS_CT_ATTR_LABELS: u16 = 4;
/// `OVS_CT_ATTR_HELPER`.
pub const OVS_CT_ATTR_HELPER: u16 = 5;
/// `OVS_CT_ATTR_NAT`.
pub const OVS_CT_ATTR_NAT: u16 = 6;
/// `OVS_CT_ATTR_FORCE_COMMIT`.
pub const OVS_CT_ATTR_FORCE_COMMIT: u16 = 7;
/// `OVS_CT_ATTR_EVENTMASK`.
pub const OVS_CT_ATTR_EVENTMASK: u16 = 8;
/// `OVS_CT_ATTR_TIMEOUT`.
pub const OVS_CT_ATTR_TIMEOUT: u16 = 9;
/// `OVS_NAT_ATTR_SRC`.
pub const OVS_NAT_ATTR_SRC: u16 = 1;
/// `OVS_NAT_ATTR_DST`.
pub const OVS_NAT_ATTR_DST: u16 = 2;
/// `OVS_NAT_ATTR_IP_MIN`.
pub const OVS_NAT_ATTR_IP_MIN: u16 = 3;
/// `OVS_NAT_ATTR_IP_MAX`.
pub const OVS_NAT_ATTR_IP_MAX: u16 = 4;
/// `OVS_NAT_ATTR_PROTO_MIN`.
pub const OVS_NAT_ATTR_PROTO_MIN: u16 = 5;
/// `OVS_NAT_ATTR_PROTO_MAX`.
pub const OVS_NAT_ATTR_PROTO_MAX: u16 = 6;
/// `OVS_NAT_ATTR_PERSISTENT`.
pub const OVS_NAT_ATTR_PERSISTENT: u16 = 7;
/// `OVS_NAT_ATTR_PROTO_HASH`.
pub const OVS_NAT_ATTR_PROTO_HASH: u16 = 8;
/// `OVS_NAT_ATTR_PROTO_RANDOM`.
pub const OVS_NAT_ATTR_PROTO_RANDOM: u16 = 9;
/// `NF_CT_HELPER_NAME_LEN`: helper attribute payload limit, NUL included.
pub const NF_CT_HELPER_NAME_LEN: usize = 16;
/// `CTNL_TIMEOUT_NAME_MAX`: timeout attribute payload limit, NUL included.
pub const CTNL_TIMEOUT_NAME_MAX: usize = 32;
/// Conntrack helpers this datapath knows (what OVS 3.1 can ask for with `alg=`).
pub const KNOWN_CT_HELPERS: &[&str] = &["ftp", "tftp"];

/// Source or destination NAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NatKind {
    /// `OVS_NAT_ATTR_SRC`.
    Src,
    /// `OVS_NAT_ATTR_DST`.
    Dst,
}

/// `OVS_CT_ATTR_NAT`: a NAT nest. No kind means "apply the connection's existing NAT".
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct Nat {
    /// SNAT or DNAT.
    pub kind: Option<NatKind>,
    /// Lowest address of the range.
    pub ip_min: Option<IpAddr>,
    /// Highest address of the range.
    pub ip_max: Option<IpAddr>,
    /// Lowest L4 port.
    pub proto_min: Option<u16>,
    /// Highest L4 port.
    pub proto_max: Option<u16>,
    /// `OVS_NAT_ATTR_PERSISTENT`.
    pub persistent: bool,
    /// `OVS_NAT_ATTR_PROTO_HASH`.
    pub proto_hash: bool,
    /// `OVS_NAT_ATTR_PROTO_RANDOM`.
    pub proto_random: bool,
}

/// `OVS_ACTION_ATTR_CT`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct CtAction {
    /// `OVS_CT_ATTR_COMMIT`.
    pub commit: bool,
    /// `OVS_CT_ATTR_FORCE_COMMIT` (implies commit in the kernel).
    pub force_commit: bool,
    /// `OVS_CT_ATTR_ZONE`.
    pub zone: Option<u16>,
    /// `OVS_CT_ATTR_MARK`: value, mask (host order).
    pub mark: Option<(u32, u32)>,
    /// `OVS_CT_ATTR_LABELS`: value, mask (raw 16 bytes each, host-order u128).
    pub labels: Option<([u8; 16], [u8; 16])>,
    /// `OVS_CT_ATTR_HELPER`.
    pub helper: Option<String>,
    /// `OVS_CT_ATTR_NAT`.
    pub nat: Option<Nat>,
    /// `OVS_CT_ATTR_EVENTMASK`.
    pub eventmask: Option<u32>,
    /// `OVS_CT_ATTR_TIMEOUT`: a cttimeout policy name.
    pub timeout: Option<String>,
}

fn ip_from(nla: &Nla<'_>) -> Result<IpAddr> {
    match nla.payload.len() {
        4 => {
            let b: [u8; 4] = nla.array()?;
            Ok(IpAddr::V4(Ipv4Addr::from(b)))
        }
        16 => {
            let b: [u8; 16] = nla.array()?;
            Ok(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => Err(Error::inval(
            nla.offset,
            "NAT address must be 4 or 16 bytes",
        )),
    }
}

fn ip_size(ip: &IpAddr) -> usize {
    match ip {
        IpAddr::V4(_) => 4,
        IpAddr::V6(_) => 16,
    }
}

fn put_ip(w: &mut NlaWriter<'_>, kind: u16, ip: &IpAddr) {
    match ip {
        IpAddr::V4(a) => w.put(kind, &a.octets()),
        IpAddr::V6(a) => w.put(kind, &a.octets()),
    }
}

/// A NUL-terminated name of `1..=max` payload bytes; the kernel only insists on a NUL.
fn name(nla: &Nla<'_>, max: usize) -> Result<String> {
    let p = nla.payload;
    if p.is_empty() || p.len() > max {
        return Err(Error::inval(nla.offset, "conntrack name has a bad length"));
    }
    let nul = p
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| Error::inval(nla.offset, "conntrack name is not NUL-terminated"))?;
    String::from_utf8(p[..nul].to_vec())
        .map_err(|_| Error::inval(nla.offset, "conntrack name is not UTF-8"))
}

impl Nat {
    /// Decodes the payload of `OVS_CT_ATTR_NAT`.
    pub fn parse(nla: &Nla<'_>) -> Result<Nat> {
        let mut n = Nat::default();
        let mut consumed = 0usize;
        for sub in nla.nested() {
            let sub = sub?;
            consumed = sub.offset - nla.payload_offset() + nla_size(sub.payload.len());
            let flag = |sub: &Nla<'_>| -> Result<bool> {
                if sub.payload.is_empty() {
                    Ok(true)
                } else {
                    Err(Error::inval(sub.offset, "NAT flag with a payload"))
                }
            };
            match sub.kind {
                OVS_NAT_ATTR_SRC | OVS_NAT_ATTR_DST => {
                    flag(&sub)?;
                    if n.kind.is_some() {
                        return Err(Error::new(ERANGE, sub.offset, "only one type of NAT"));
                    }
                    n.kind = Some(if sub.kind == OVS_NAT_ATTR_SRC {
                        NatKind::Src
                    } else {
                        NatKind::Dst
                    });
                }
                OVS_NAT_ATTR_IP_MIN => n.ip_min = Some(ip_from(&sub)?),
                OVS_NAT_ATTR_IP_MAX => n.ip_max = Some(ip_from(&sub)?),
                OVS_NAT_ATTR_PROTO_MIN => n.proto_min = Some(sub.u16()?),
                OVS_NAT_ATTR_PROTO_MAX => n.proto_max = Some(sub.u16()?),
                OVS_NAT_ATTR_PERSISTENT => n.persistent = flag(&sub)?,
                OVS_NAT_ATTR_PROTO_HASH => n.proto_hash = flag(&sub)?,
                OVS_NAT_ATTR_PROTO_RANDOM => n.proto_random = flag(&sub)?,
                _ => return Err(Error::inval(sub.offset, "unknown NAT attribute")),
            }
        }
        if consumed < nla.payload.len() {
            return Err(Error::inval(nla.offset, "trailing bytes in NAT attribute"));
        }
        Ok(n)
    }

    /// True when any range or flag attribute is present.
    pub fn has_range(&self) -> bool {
        self.ip_min.is_some()
            || self.ip_max.is_some()
            || self.proto_min.is_some()
            || self.proto_max.is_some()
            || self.persistent
            || self.proto_hash
            || self.proto_random
    }

    fn payload_len(&self) -> usize {
        let flag = |b: bool| if b { nla_size(0) } else { 0 };
        flag(self.kind.is_some())
            + self.ip_min.as_ref().map_or(0, |ip| nla_size(ip_size(ip)))
            + self.ip_max.as_ref().map_or(0, |ip| nla_size(ip_size(ip)))
            + self.proto_min.map_or(0, |_| nla_size(2))
            + self.proto_max.map_or(0, |_| nla_size(2))
            + flag(self.persistent)
            + flag(self.proto_hash)
            + flag(self.proto_random)
    }

    fn emit_nested(&self, w: &mut NlaWriter<'_>) {
        match self.kind {
            Some(NatKind::Src) => w.put_flag(OVS_NAT_ATTR_SRC),
            Some(NatKind::Dst) => w.put_flag(OVS_NAT_ATTR_DST),
            None => {}
        }
        if let Some(ip) = &self.ip_min {
            put_ip(w, OVS_NAT_ATTR_IP_MIN, ip);
        }
        if let Some(ip) = &self.ip_max {
            put_ip(w, OVS_NAT_ATTR_IP_MAX, ip);
        }
        if let Some(p) = self.proto_min {
            w.put_u16(OVS_NAT_ATTR_PROTO_MIN, p);
        }
        if let Some(p) = self.proto_max {
            w.put_u16(OVS_NAT_ATTR_PROTO_MAX, p);
        }
        if self.persistent {
            w.put_flag(OVS_NAT_ATTR_PERSISTENT);
        }
        if self.proto_hash {
            w.put_flag(OVS_NAT_ATTR_PROTO_HASH);
        }
        if self.proto_random {
            w.put_flag(OVS_NAT_ATTR_PROTO_RANDOM);
        }
    }
}

impl CtAction {
    /// Decodes the payload of an `OVS_ACTION_ATTR_CT` attribute.
    pub fn parse(nla: &Nla<'_>) -> Result<CtAction> {
        let mut ct = CtAction::default();
        let mut consumed = 0usize;
        for sub in nla.nested() {
            let sub = sub?;
            consumed = sub.offset - nla.payload_offset() + nla_size(sub.payload.len());
            let empty = |sub: &Nla<'_>| -> Result<bool> {
                if sub.payload.is_empty() {
                    Ok(true)
                } else {
                    Err(Error::inval(sub.offset, "conntrack flag with a payload"))
                }
            };
            let exact = |sub: &Nla<'_>, n: usize| -> Result<()> {
                if sub.payload.len() == n {
                    Ok(())
                } else {
                    Err(Error::inval(
                        sub.offset,
                        "conntrack attribute has the wrong length",
                    ))
                }
            };
            match sub.kind {
                OVS_CT_ATTR_COMMIT => ct.commit = empty(&sub)?,
                OVS_CT_ATTR_FORCE_COMMIT => ct.force_commit = empty(&sub)?,
                OVS_CT_ATTR_ZONE => {
                    exact(&sub, 2)?;
                    ct.zone = Some(sub.u16()?);
                }
                OVS_CT_ATTR_MARK => {
                    exact(&sub, 8)?;
                    let b: [u8; 8] = sub.array()?;
                    ct.mark = Some((
                        u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
                        u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
                    ));
                }
                OVS_CT_ATTR_LABELS => {
                    exact(&sub, 32)?;
                    let b: [u8; 32] = sub.array()?;
                    let mut v = [0u8; 16];
                    let mut m = [0u8; 16];
                    v.copy_from_slice(&b[..16]);
                    m.copy_from_slice(&b[16..]);
                    ct.labels = Some((v, m));
                }
                OVS_CT_ATTR_HELPER => ct.helper = Some(name(&sub, NF_CT_HELPER_NAME_LEN)?),
                OVS_CT_ATTR_NAT => ct.nat = Some(Nat::parse(&sub)?),
                OVS_CT_ATTR_EVENTMASK => {
                    exact(&sub, 4)?;
                    ct.eventmask = Some(sub.u32()?);
                }
                OVS_CT_ATTR_TIMEOUT => ct.timeout = Some(name(&sub, CTNL_TIMEOUT_NAME_MAX)?),
                _ => return Err(Error::inval(sub.offset, "unknown conntrack attribute")),
            }
        }
        if consumed < nla.payload.len() {
            return Err(Error::inval(
                nla.offset,
                "trailing bytes in conntrack action",
            ));
        }
        Ok(ct)
    }

    /// The kernel's `parse_ct`/`parse_nat` cross-checks; `ipv6` is the flow's address family.
    /// `offset` is where the action starts, for the error.
    pub fn check(&self, ipv6: bool, offset: usize) -> Result<()> {
        let committing = self.commit || self.force_commit;
        if let Some((_, mask)) = self.mark {
            if mask == 0 {
                return Err(Error::inval(offset, "ct_mark mask cannot be 0"));
            }
            if !committing {
                return Err(Error::inval(offset, "setting ct_mark requires commit"));
            }
        }
        if let Some((_, mask)) = self.labels {
            if mask == [0; 16] {
                return Err(Error::inval(offset, "ct_labels mask cannot be 0"));
            }
            if !committing {
                return Err(Error::inval(offset, "setting ct_labels requires commit"));
            }
        }
        if let Some(nat) = &self.nat {
            for ip in [nat.ip_min, nat.ip_max].iter().flatten() {
                if matches!(ip, IpAddr::V6(_)) != ipv6 {
                    return Err(Error::inval(
                        offset,
                        "NAT address family differs from the flow's",
                    ));
                }
            }
            if nat.kind.is_none() {
                if nat.has_range() {
                    return Err(Error::inval(offset, "NAT flags need src or dst"));
                }
            } else if !committing {
                return Err(Error::inval(offset, "NAT src/dst requires commit"));
            }
        }
        if let Some(h) = &self.helper {
            if !KNOWN_CT_HELPERS.contains(&h.as_str()) {
                return Err(Error::new(EINVAL, offset, "unknown conntrack helper"));
            }
        }
        Ok(())
    }

    pub(super) fn payload_len(&self) -> usize {
        let flag = |b: bool| if b { nla_size(0) } else { 0 };
        flag(self.commit)
            + flag(self.force_commit)
            + self.zone.map_or(0, |_| nla_size(2))
            + self.mark.map_or(0, |_| nla_size(8))
            + self.labels.map_or(0, |_| nla_size(32))
            + self.helper.as_ref().map_or(0, |h| nla_size(h.len() + 1))
            + self.timeout.as_ref().map_or(0, |t| nla_size(t.len() + 1))
            + self.eventmask.map_or(0, |_| nla_size(4))
            + self.nat.as_ref().map_or(0, |n| nla_size(n.payload_len()))
    }

    /// Emits the nested `OVS_CT_ATTR_*` in the order OVS's action parser writes them.
    pub(super) fn emit_nested(&self, w: &mut NlaWriter<'_>) {
        if self.commit {
            w.put_flag(OVS_CT_ATTR_COMMIT);
        }
        if self.force_commit {
            w.put_flag(OVS_CT_ATTR_FORCE_COMMIT);
        }
        if let Some(z) = self.zone {
            w.put_u16(OVS_CT_ATTR_ZONE, z);
        }
        if let Some((v, m)) = self.mark {
            let mut b = [0u8; 8];
            b[..4].copy_from_slice(&v.to_ne_bytes());
            b[4..].copy_from_slice(&m.to_ne_bytes());
            w.put(OVS_CT_ATTR_MARK, &b);
        }
        if let Some((v, m)) = &self.labels {
            let mut b = [0u8; 32];
            b[..16].copy_from_slice(v);
            b[16..].copy_from_slice(m);
            w.put(OVS_CT_ATTR_LABELS, &b);
        }
        if let Some(h) = &self.helper {
            w.put_str(OVS_CT_ATTR_HELPER, h);
        }
        if let Some(t) = &self.timeout {
            w.put_str(OVS_CT_ATTR_TIMEOUT, t);
        }
        if let Some(e) = self.eventmask {
            w.put_u32(OVS_CT_ATTR_EVENTMASK, e);
        }
        if let Some(n) = &self.nat {
            w.nested(OVS_CT_ATTR_NAT, |w| n.emit_nested(w));
        }
    }
}
