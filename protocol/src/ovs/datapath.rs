//! The `ovs_datapath` family: create, delete, query and configure datapaths.
//!
//! ≈ `ovs_dp_cmd_*`, `ovs_dp_cmd_fill_info` and `datapath_policy` in
//! `net/openvswitch/datapath.c` (Linux 6.1); `dpif_netlink_dp_*` in OVS `lib/dpif-netlink.c`.
//!
//! [`DatapathMsg::parse`] applies what the kernel checks before a handler runs (the attribute
//! policy) plus the stateless checks of `ovs_dp_change` that depend only on the request. The
//! daemon checks the command (`EOPNOTSUPP`) and permission (`EPERM`) first, as
//! `genl_family_rcv_msg` does, and does not parse the attributes of a dump at all
//! (`GENL_DONT_VALIDATE_DUMP`).

use crate::errno::{EINVAL, EOPNOTSUPP};
use crate::nl::attr::nla_size;
use crate::ovs::common::{
    begin, c_enum, get_str, get_u32, get_u32_array, parse_msg, put_u32_array, str_size,
    uapi_struct, Pol, IFNAME_MAX,
};
use crate::ovs::OVS_DATAPATH_VERSION;
use crate::{Error, Result};

c_enum! {
    /// `enum ovs_datapath_cmd`.
    pub enum OvsDpCmd: u8 {
        /// Never valid in a request.
        OVS_DP_CMD_UNSPEC = 0,
        /// Create a datapath.
        OVS_DP_CMD_NEW = 1,
        /// Destroy a datapath.
        OVS_DP_CMD_DEL = 2,
        /// Query one datapath, or dump all.
        OVS_DP_CMD_GET = 3,
        /// Change features, masks-cache size or per-CPU pids.
        OVS_DP_CMD_SET = 4,
    }
}

c_enum! {
    /// `enum ovs_datapath_attr`.
    pub enum OvsDpAttr: u16 {
        /// Unused type 0.
        OVS_DP_ATTR_UNSPEC = 0,
        /// Datapath name (NUL-terminated, at most 15 characters).
        OVS_DP_ATTR_NAME = 1,
        /// Upcall pid of the local port (NEW only).
        OVS_DP_ATTR_UPCALL_PID = 2,
        /// `struct ovs_dp_stats`.
        OVS_DP_ATTR_STATS = 3,
        /// `struct ovs_dp_megaflow_stats`.
        OVS_DP_ATTR_MEGAFLOW_STATS = 4,
        /// `OVS_DP_F_*` bitmap.
        OVS_DP_ATTR_USER_FEATURES = 5,
        /// 64-bit alignment padding (never emitted on x86-64).
        OVS_DP_ATTR_PAD = 6,
        /// Masks-cache size (0 or a power of two up to 4096).
        OVS_DP_ATTR_MASKS_CACHE_SIZE = 7,
        /// Per-CPU upcall pids (`u32` array).
        OVS_DP_ATTR_PER_CPU_PIDS = 8,
        /// Desired ifindex of the local port's netdev (NEW only, Linux ≥ 6.1).
        OVS_DP_ATTR_IFINDEX = 9,
    }
}

/// `OVS_DP_ATTR_MAX` in Linux 6.1.
pub const OVS_DP_ATTR_MAX: u16 = 9;

/// Upcall `PACKET` attributes are not padded to 4 bytes.
pub const OVS_DP_F_UNALIGNED: u32 = 1 << 0;
/// A vport's `UPCALL_PID` may be an array and is reported as one.
pub const OVS_DP_F_VPORT_PIDS: u32 = 1 << 1;
/// Recirculation ids are shared with tc.
pub const OVS_DP_F_TC_RECIRC_SHARING: u32 = 1 << 2;
/// Upcalls go to a per-CPU pid table instead of per-vport pids.
pub const OVS_DP_F_DISPATCH_UPCALL_PER_CPU: u32 = 1 << 3;
/// Every feature bit Linux 6.1 accepts; any other bit is `EOPNOTSUPP`.
pub const OVS_DP_F_ALL: u32 = OVS_DP_F_UNALIGNED
    | OVS_DP_F_VPORT_PIDS
    | OVS_DP_F_TC_RECIRC_SHARING
    | OVS_DP_F_DISPATCH_UPCALL_PER_CPU;
/// `OVS_DP_VER_FEATURES`: a `DP_NEW` with a lower genl version on an existing datapath drops
/// its user features (an old userspace that does not know them).
pub const OVS_DP_VER_FEATURES: u8 = 2;
/// Largest masks-cache size the policy allows: `PCPU_MIN_UNIT_SIZE / sizeof(mask_cache_entry)`.
pub const OVS_DP_MASKS_CACHE_SIZE_MAX: u32 = 32 * 1024 / 8;

uapi_struct! {
    /// `struct ovs_dp_stats`: datapath-wide packet counters.
    pub struct OvsDpStats {
        /// Packets that matched a flow.
        pub n_hit: u64,
        /// Packets that missed and were sent up.
        pub n_missed: u64,
        /// Upcalls that could not be delivered.
        pub n_lost: u64,
        /// Flows in the table.
        pub n_flows: u64,
    }
}

uapi_struct! {
    /// `struct ovs_dp_megaflow_stats`: classifier counters (the pads are zero on the wire).
    pub struct OvsDpMegaflowStats {
        /// Masks visited by all lookups.
        pub n_mask_hit: u64,
        /// Masks in the classifier.
        pub n_masks: u32,
        /// Padding.
        pub pad0: u32,
        /// Lookups answered by the masks cache.
        pub n_cache_hit: u64,
        /// Padding.
        pub pad1: u64,
    }
}

/// One `ovs_datapath` message, request or reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatapathMsg {
    /// Command.
    pub cmd: OvsDpCmd,
    /// genl version (OVS sends 2; below [`OVS_DP_VER_FEATURES`] triggers the reset quirk).
    pub version: u8,
    /// `ovs_header.dp_ifindex`.
    pub dp_ifindex: i32,
    /// `OVS_DP_ATTR_NAME`.
    pub name: Option<String>,
    /// `OVS_DP_ATTR_UPCALL_PID`.
    pub upcall_pid: Option<u32>,
    /// `OVS_DP_ATTR_STATS` (replies; a short payload is ignored, the kernel never reads it).
    pub stats: Option<OvsDpStats>,
    /// `OVS_DP_ATTR_MEGAFLOW_STATS` (replies; as `stats`).
    pub megaflow_stats: Option<OvsDpMegaflowStats>,
    /// `OVS_DP_ATTR_USER_FEATURES`.
    pub user_features: Option<u32>,
    /// `OVS_DP_ATTR_MASKS_CACHE_SIZE`.
    pub masks_cache_size: Option<u32>,
    /// `OVS_DP_ATTR_PER_CPU_PIDS`.
    ///
    /// The kernel reads this only in NEW/SET whose `USER_FEATURES` include
    /// [`OVS_DP_F_DISPATCH_UPCALL_PER_CPU`]; there a length that is not a non-zero multiple of
    /// 4 is `EINVAL`. Elsewhere a malformed array is ignored and decodes as `None`.
    pub per_cpu_pids: Option<Vec<u32>>,
    /// `OVS_DP_ATTR_IFINDEX`.
    pub ifindex: Option<u32>,
}

const POLICY: [Pol; OVS_DP_ATTR_MAX as usize + 1] = [
    Pol::Any,                                 // UNSPEC
    Pol::NulStr(IFNAME_MAX),                  // NAME
    Pol::U32,                                 // UPCALL_PID
    Pol::Any,                                 // STATS
    Pol::Any,                                 // MEGAFLOW_STATS
    Pol::U32,                                 // USER_FEATURES
    Pol::Any,                                 // PAD
    Pol::U32Max(OVS_DP_MASKS_CACHE_SIZE_MAX), // MASKS_CACHE_SIZE
    Pol::Any,                                 // PER_CPU_PIDS
    Pol::U32,                                 // IFINDEX
];

fn attr(a: OvsDpAttr) -> u16 {
    a.into()
}

impl DatapathMsg {
    /// A message with no attributes, at the family's version.
    pub fn new(cmd: OvsDpCmd, dp_ifindex: i32) -> Self {
        DatapathMsg {
            cmd,
            version: OVS_DATAPATH_VERSION,
            dp_ifindex,
            name: None,
            upcall_pid: None,
            stats: None,
            megaflow_stats: None,
            user_features: None,
            masks_cache_size: None,
            per_cpu_pids: None,
            ifindex: None,
        }
    }

    /// Decodes a netlink payload (genl header onwards); error offsets count from the
    /// `nlmsghdr`.
    pub fn parse(payload: &[u8]) -> Result<Self> {
        let (f, a) = parse_msg(payload, &POLICY)?;
        let mut m = DatapathMsg::new(OvsDpCmd::from(f.genl.cmd), f.dp_ifindex);
        m.version = f.genl.version;
        let get = |k: OvsDpAttr| a[usize::from(attr(k))];
        if let Some(n) = get(OvsDpAttr::OVS_DP_ATTR_NAME) {
            m.name = Some(get_str(&n)?);
        }
        m.upcall_pid = get(OvsDpAttr::OVS_DP_ATTR_UPCALL_PID).map(|n| get_u32(&n));
        m.stats = get(OvsDpAttr::OVS_DP_ATTR_STATS).and_then(|n| OvsDpStats::parse(n.payload));
        m.megaflow_stats = get(OvsDpAttr::OVS_DP_ATTR_MEGAFLOW_STATS)
            .and_then(|n| OvsDpMegaflowStats::parse(n.payload));
        m.user_features = get(OvsDpAttr::OVS_DP_ATTR_USER_FEATURES).map(|n| get_u32(&n));
        m.masks_cache_size = get(OvsDpAttr::OVS_DP_ATTR_MASKS_CACHE_SIZE).map(|n| get_u32(&n));
        m.ifindex = get(OvsDpAttr::OVS_DP_ATTR_IFINDEX).map(|n| get_u32(&n));
        if let Some(n) = get(OvsDpAttr::OVS_DP_ATTR_PER_CPU_PIDS) {
            m.per_cpu_pids = get_u32_array(&n);
            if m.per_cpu_pids.is_none() && m.honours_per_cpu_pids() {
                return Err(Error::inval(
                    n.offset,
                    "per-CPU pid array must be a non-zero multiple of 4 bytes",
                ));
            }
        }
        Ok(m)
    }

    /// True when `ovs_dp_change` would install `PER_CPU_PIDS`: a NEW or SET whose features are
    /// all known and include per-CPU dispatch (unknown bits fail earlier with `EOPNOTSUPP`).
    fn honours_per_cpu_pids(&self) -> bool {
        matches!(
            self.cmd,
            OvsDpCmd::OVS_DP_CMD_NEW | OvsDpCmd::OVS_DP_CMD_SET
        ) && self
            .user_features
            .is_some_and(|f| f & !OVS_DP_F_ALL == 0 && f & OVS_DP_F_DISPATCH_UPCALL_PER_CPU != 0)
    }

    /// The request-only checks `ovs_dp_change` makes before touching state, in its order:
    /// unknown feature bits (`EOPNOTSUPP`), then a masks-cache size that is not 0 or a power of
    /// two (`EINVAL`). The daemon calls this after finding the datapath (SET) or right away
    /// (NEW), as the kernel does. (`TC_RECIRC_SHARING` needs `CONFIG_NET_TC_SKB_EXT`, which
    /// Debian enables, so it is accepted.)
    pub fn validate_change(&self) -> Result<()> {
        if let Some(f) = self.user_features {
            if f & !OVS_DP_F_ALL != 0 {
                return Err(Error::new(
                    EOPNOTSUPP,
                    0,
                    "unsupported datapath user features",
                ));
            }
        }
        if let Some(size) = self.masks_cache_size {
            if size & size.wrapping_sub(1) != 0 {
                return Err(Error::new(
                    EINVAL,
                    0,
                    "masks cache size must be 0 or a power of two",
                ));
            }
        }
        Ok(())
    }

    /// Size of the whole message [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        let mut n = crate::ovs::common::FIXED_LEN;
        if let Some(s) = &self.name {
            n += str_size(s);
        }
        n += self.upcall_pid.map_or(0, |_| nla_size(4));
        n += self.stats.map_or(0, |_| nla_size(OvsDpStats::SIZE));
        n += self
            .megaflow_stats
            .map_or(0, |_| nla_size(OvsDpMegaflowStats::SIZE));
        n += self.user_features.map_or(0, |_| nla_size(4));
        n += self.masks_cache_size.map_or(0, |_| nla_size(4));
        n += self
            .per_cpu_pids
            .as_ref()
            .map_or(0, |p| nla_size(4 * p.len()));
        n += self.ifindex.map_or(0, |_| nla_size(4));
        n
    }

    /// Appends the whole message, attributes in `ovs_dp_cmd_fill_info` order (`NAME`, `STATS`,
    /// `MEGAFLOW_STATS`, `USER_FEATURES`, `MASKS_CACHE_SIZE`, `PER_CPU_PIDS`; the request-only
    /// `UPCALL_PID` after `NAME` and `IFINDEX` last).
    pub fn emit(&self, buf: &mut Vec<u8>, family_id: u16, flags: u16, seq: u32, pid: u32) {
        buf.reserve(self.buffer_len());
        let mut m = begin(
            buf,
            family_id,
            flags,
            seq,
            pid,
            self.cmd.into(),
            self.version,
            self.dp_ifindex,
        );
        let mut w = m.attrs();
        if let Some(s) = &self.name {
            w.put_str(attr(OvsDpAttr::OVS_DP_ATTR_NAME), s);
        }
        if let Some(v) = self.upcall_pid {
            w.put_u32(attr(OvsDpAttr::OVS_DP_ATTR_UPCALL_PID), v);
        }
        if let Some(s) = &self.stats {
            w.put(attr(OvsDpAttr::OVS_DP_ATTR_STATS), &s.to_bytes());
        }
        if let Some(s) = &self.megaflow_stats {
            w.put(attr(OvsDpAttr::OVS_DP_ATTR_MEGAFLOW_STATS), &s.to_bytes());
        }
        if let Some(v) = self.user_features {
            w.put_u32(attr(OvsDpAttr::OVS_DP_ATTR_USER_FEATURES), v);
        }
        if let Some(v) = self.masks_cache_size {
            w.put_u32(attr(OvsDpAttr::OVS_DP_ATTR_MASKS_CACHE_SIZE), v);
        }
        if let Some(p) = &self.per_cpu_pids {
            put_u32_array(&mut w, attr(OvsDpAttr::OVS_DP_ATTR_PER_CPU_PIDS), p);
        }
        if let Some(v) = self.ifindex {
            w.put_u32(attr(OvsDpAttr::OVS_DP_ATTR_IFINDEX), v);
        }
        m.finish();
    }
}
