//! The `ovs_ct_limit` family: per-zone conntrack connection limits.
//!
//! ≈ `ovs_ct_limit_cmd_*`, `ovs_ct_limit_{set,del,get}_zone_limit` and `ct_limit_policy` in
//! `net/openvswitch/conntrack.c` (Linux 6.1); `dpif_netlink_ct_*_limits` in OVS
//! `lib/dpif-netlink.c`.

use crate::nl::attr::{align, nla_size};
use crate::ovs::common::{begin, c_enum, parse_msg, uapi_struct, Pol, FIXED_LEN};
use crate::ovs::OVS_CT_LIMIT_VERSION;
use crate::Result;

c_enum! {
    /// `enum ovs_ct_limit_cmd`.
    pub enum OvsCtLimitCmd: u8 {
        /// Never valid.
        OVS_CT_LIMIT_CMD_UNSPEC = 0,
        /// Set the default and/or per-zone limits.
        OVS_CT_LIMIT_CMD_SET = 1,
        /// Remove per-zone limits, or reset the default.
        OVS_CT_LIMIT_CMD_DEL = 2,
        /// Report limits and current connection counts.
        OVS_CT_LIMIT_CMD_GET = 3,
    }
}

c_enum! {
    /// `enum ovs_ct_limit_attr`.
    pub enum OvsCtLimitAttr: u16 {
        /// Unused type 0.
        OVS_CT_LIMIT_ATTR_UNSPEC = 0,
        /// Packed array of `struct ovs_zone_limit` (not nested attributes).
        OVS_CT_LIMIT_ATTR_ZONE_LIMIT = 1,
    }
}

/// `OVS_CT_LIMIT_ATTR_MAX`.
pub const OVS_CT_LIMIT_ATTR_MAX: u16 = 1;
/// `OVS_ZONE_LIMIT_DEFAULT_ZONE`: the record that carries the default limit.
pub const OVS_ZONE_LIMIT_DEFAULT_ZONE: i32 = -1;

uapi_struct! {
    /// `struct ovs_zone_limit`: one record of `ZONE_LIMIT`.
    pub struct OvsZoneLimit {
        /// Zone 0..=65535, or [`OVS_ZONE_LIMIT_DEFAULT_ZONE`].
        pub zone_id: i32,
        /// Connection limit; 0 = unlimited.
        pub limit: u32,
        /// Current connections (GET replies; 0 for the default record).
        pub count: u32,
    }
}

/// One `ovs_ct_limit` message, request or reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtLimitMsg {
    /// Command.
    pub cmd: OvsCtLimitCmd,
    /// `ovs_header.dp_ifindex` (ignored by the kernel, echoed in replies).
    pub dp_ifindex: i32,
    /// `OVS_CT_LIMIT_ATTR_ZONE_LIMIT`.
    ///
    /// Decoded as the kernel walks it: 12-byte records in order over the padded payload;
    /// trailing bytes that do not make a record are only logged by the kernel and dropped here.
    pub zone_limits: Option<Vec<OvsZoneLimit>>,
}

const POLICY: [Pol; OVS_CT_LIMIT_ATTR_MAX as usize + 1] = [
    Pol::Any,    // UNSPEC
    Pol::Nested, // ZONE_LIMIT
];

impl CtLimitMsg {
    /// A message with no attributes.
    pub fn new(cmd: OvsCtLimitCmd, dp_ifindex: i32) -> Self {
        CtLimitMsg {
            cmd,
            dp_ifindex,
            zone_limits: None,
        }
    }

    /// Decodes a netlink payload (genl header onwards); error offsets count from the
    /// `nlmsghdr`.
    pub fn parse(payload: &[u8]) -> Result<Self> {
        let (f, a) = parse_msg(payload, &POLICY)?;
        let mut m = CtLimitMsg::new(OvsCtLimitCmd::from(f.genl.cmd), f.dp_ifindex);
        m.zone_limits = a[usize::from(u16::from(OvsCtLimitAttr::OVS_CT_LIMIT_ATTR_ZONE_LIMIT))]
            .map(|n| {
                // The kernel walks NLA_ALIGN(nla_len) bytes, reading into the attribute's
                // padding (zeros on the wire), in records NLA_ALIGN(12) = 12 bytes apart.
                let mut p = n.payload.to_vec();
                p.resize(align(p.len()), 0);
                p.chunks_exact(align(OvsZoneLimit::SIZE))
                    .filter_map(OvsZoneLimit::parse)
                    .collect()
            });
        Ok(m)
    }

    /// Size of the whole message [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        FIXED_LEN
            + self
                .zone_limits
                .as_ref()
                .map_or(0, |z| nla_size(z.len() * OvsZoneLimit::SIZE))
    }

    /// Appends the whole message: the only attribute is `ZONE_LIMIT`, records back to back
    /// (`nla_put_nohdr` inside a nest, as the GET reply builds it).
    pub fn emit(&self, buf: &mut Vec<u8>, family_id: u16, flags: u16, seq: u32, pid: u32) {
        buf.reserve(self.buffer_len());
        let mut m = begin(
            buf,
            family_id,
            flags,
            seq,
            pid,
            self.cmd.into(),
            OVS_CT_LIMIT_VERSION,
            self.dp_ifindex,
        );
        if let Some(z) = &self.zone_limits {
            let bytes: Vec<u8> = z.iter().flat_map(|r| r.to_bytes()).collect();
            m.attrs()
                .put(OvsCtLimitAttr::OVS_CT_LIMIT_ATTR_ZONE_LIMIT.into(), &bytes);
        }
        m.finish();
    }
}
