//! The `nlctrl` family: `CTRL_CMD_GETFAMILY` requests, `CTRL_CMD_NEWFAMILY` replies, dumps,
//! and the table of families the OVS kernel module registers.
//!
//! ≈ `ctrl_getfamily`, `ctrl_dumpfamily`, `ctrl_fill_info` and `ctrl_policy_family` in
//! `net/netlink/genetlink.c`; `include/uapi/linux/genetlink.h`; `nl_lookup_genl_family` in OVS
//! `lib/netlink-socket.c`.

use crate::errno::{EINVAL, ENOENT};
use crate::genl::{GenlHdr, GENL_HDRLEN, GENL_ID_CTRL};
use crate::nl::attr::nla_size;
use crate::nl::{MsgBuilder, Nla, NLMSG_HDRLEN};
use crate::ovs::common::{c_enum, get_str, get_u16, parse_liberal, str_size, Pol};
use crate::ovs::{
    OVS_CT_LIMIT_FAMILY, OVS_CT_LIMIT_VERSION, OVS_DATAPATH_FAMILY, OVS_DATAPATH_VERSION,
    OVS_FLOW_FAMILY, OVS_FLOW_VERSION, OVS_METER_FAMILY, OVS_METER_VERSION, OVS_PACKET_FAMILY,
    OVS_PACKET_VERSION, OVS_VPORT_FAMILY, OVS_VPORT_VERSION,
};
use crate::{Error, Result};

c_enum! {
    /// The `CTRL_CMD_*` enum of `genetlink.h`.
    pub enum CtrlCmd: u8 {
        /// Never valid.
        CTRL_CMD_UNSPEC = 0,
        /// A family's description (the GETFAMILY reply, and a registration event).
        CTRL_CMD_NEWFAMILY = 1,
        /// A family went away (event).
        CTRL_CMD_DELFAMILY = 2,
        /// Look up one family by name or id, or dump all.
        CTRL_CMD_GETFAMILY = 3,
        /// Unused.
        CTRL_CMD_NEWOPS = 4,
        /// Unused.
        CTRL_CMD_DELOPS = 5,
        /// Unused.
        CTRL_CMD_GETOPS = 6,
        /// A multicast group appeared (event).
        CTRL_CMD_NEWMCAST_GRP = 7,
        /// A multicast group went away (event).
        CTRL_CMD_DELMCAST_GRP = 8,
        /// Unused.
        CTRL_CMD_GETMCAST_GRP = 9,
        /// Dump a family's attribute policies.
        CTRL_CMD_GETPOLICY = 10,
    }
}

c_enum! {
    /// The `CTRL_ATTR_*` enum of `genetlink.h`.
    pub enum CtrlAttr: u16 {
        /// Unused type 0.
        CTRL_ATTR_UNSPEC = 0,
        /// Family id (`u16`).
        CTRL_ATTR_FAMILY_ID = 1,
        /// Family name (NUL-terminated, at most 15 characters).
        CTRL_ATTR_FAMILY_NAME = 2,
        /// Family version (`u32`).
        CTRL_ATTR_VERSION = 3,
        /// Size of the family's fixed header (`u32`).
        CTRL_ATTR_HDRSIZE = 4,
        /// Family's `maxattr` (`u32`).
        CTRL_ATTR_MAXATTR = 5,
        /// Nested list of operations.
        CTRL_ATTR_OPS = 6,
        /// Nested list of multicast groups.
        CTRL_ATTR_MCAST_GROUPS = 7,
        /// Policy dump contents.
        CTRL_ATTR_POLICY = 8,
        /// Per-op policy indexes.
        CTRL_ATTR_OP_POLICY = 9,
        /// GETPOLICY: one op.
        CTRL_ATTR_OP = 10,
    }
}

/// `CTRL_ATTR_OP_ID`: inside an `OPS` entry, the command (`u32`).
pub const CTRL_ATTR_OP_ID: u16 = 1;
/// `CTRL_ATTR_OP_FLAGS`: inside an `OPS` entry, `GENL_*` flags (`u32`).
pub const CTRL_ATTR_OP_FLAGS: u16 = 2;
/// `CTRL_ATTR_MCAST_GRP_NAME`: inside a `MCAST_GROUPS` entry, the group name.
pub const CTRL_ATTR_MCAST_GRP_NAME: u16 = 1;
/// `CTRL_ATTR_MCAST_GRP_ID`: inside a `MCAST_GROUPS` entry, the group id (`u32`).
pub const CTRL_ATTR_MCAST_GRP_ID: u16 = 2;

/// `GENL_ADMIN_PERM`: the op needs `CAP_NET_ADMIN` in the initial user namespace.
pub const GENL_ADMIN_PERM: u32 = 0x01;
/// `GENL_CMD_CAP_DO`: the op has a `doit` handler.
pub const GENL_CMD_CAP_DO: u32 = 0x02;
/// `GENL_CMD_CAP_DUMP`: the op has a `dumpit` handler.
pub const GENL_CMD_CAP_DUMP: u32 = 0x04;
/// `GENL_CMD_CAP_HASPOL`: the op validates attributes against a policy.
pub const GENL_CMD_CAP_HASPOL: u32 = 0x08;
/// `GENL_UNS_ADMIN_PERM`: the op needs `CAP_NET_ADMIN` in the netns's user namespace.
pub const GENL_UNS_ADMIN_PERM: u32 = 0x10;
/// `GENL_NAMSIZ`: family and group names are at most 15 characters plus NUL.
pub const GENL_NAMSIZ: usize = 16;
/// Version of the `nlctrl` family, carried in every controller reply's genl header.
pub const CTRL_VERSION: u8 = 2;
/// The genl version OVS (`nl_lookup_genl_family`) puts in its GETFAMILY requests.
pub const CTRL_REQUEST_VERSION: u8 = 1;

const POLICY: [Pol; 3] = [
    Pol::Any,                     // UNSPEC
    Pol::U16,                     // FAMILY_ID
    Pol::NulStr(GENL_NAMSIZ - 1), // FAMILY_NAME
];

/// A `CTRL_CMD_GETFAMILY` request: look a family up by id and/or name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GetFamily {
    /// `CTRL_ATTR_FAMILY_ID`.
    pub id: Option<u16>,
    /// `CTRL_ATTR_FAMILY_NAME`.
    pub name: Option<String>,
}

impl GetFamily {
    /// A lookup by name, as OVS sends it.
    pub fn by_name(name: &str) -> Self {
        GetFamily {
            id: None,
            name: Some(name.to_owned()),
        }
    }

    /// A lookup by id.
    pub fn by_id(id: u16) -> Self {
        GetFamily {
            id: Some(id),
            name: None,
        }
    }

    /// Decodes the payload (genl header onwards) of a GETFAMILY request, with the liberal
    /// policy check of `ctrl_policy_family`; offsets count from the `nlmsghdr`.
    ///
    /// A dump (`NLM_F_DUMP`) is not validated by the kernel (`GENL_DONT_VALIDATE_DUMP`) and
    /// lists every family regardless of attributes: do not call this for dumps.
    pub fn parse(payload: &[u8]) -> Result<Self> {
        GenlHdr::parse(payload)?;
        let attrs = payload.get(GENL_HDRLEN..).unwrap_or(&[]);
        let t = parse_liberal(attrs, NLMSG_HDRLEN + GENL_HDRLEN, &POLICY)?;
        Ok(GetFamily {
            id: t[1].map(|n| get_u16(&n)),
            name: t[2].map(|n| get_str(&n)).transpose()?,
        })
    }

    /// The family `ctrl_getfamily` answers with: by id (`ENOENT` if unknown), then by name,
    /// which takes precedence when both are given (`ENOENT` if unknown); neither is `EINVAL`.
    /// Errors carry offset 0: the kernel names no attribute.
    pub fn resolve<'a>(&self, families: &'a [FamilyInfo]) -> Result<&'a FamilyInfo> {
        let mut found = Err(Error::new(EINVAL, 0, "no family id or name"));
        if let Some(id) = self.id {
            found = families.iter().find(|f| f.id == id).ok_or(Error::new(
                ENOENT,
                0,
                "unknown family id",
            ));
        }
        if let Some(name) = &self.name {
            found = families.iter().find(|f| &f.name == name).ok_or(Error::new(
                ENOENT,
                0,
                "unknown family name",
            ));
        }
        found
    }

    /// Size of the whole request [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        NLMSG_HDRLEN
            + GENL_HDRLEN
            + self.id.map_or(0, |_| nla_size(2))
            + self.name.as_deref().map_or(0, str_size)
    }

    /// Appends the whole request (type `GENL_ID_CTRL`, genl version 1 as OVS sends it); pass
    /// `NLM_F_REQUEST`, or `NLM_F_REQUEST | NLM_F_DUMP` for a family dump, in `flags`.
    pub fn emit(&self, buf: &mut Vec<u8>, flags: u16, seq: u32, pid: u32) {
        buf.reserve(self.buffer_len());
        let mut m = MsgBuilder::new(buf, GENL_ID_CTRL, flags, seq, pid);
        m.push(
            &GenlHdr {
                cmd: CtrlCmd::CTRL_CMD_GETFAMILY.into(),
                version: CTRL_REQUEST_VERSION,
                reserved: 0,
            }
            .to_bytes(),
        );
        let mut w = m.attrs();
        if let Some(id) = self.id {
            w.put_u16(CtrlAttr::CTRL_ATTR_FAMILY_ID.into(), id);
        }
        if let Some(n) = &self.name {
            w.put_str(CtrlAttr::CTRL_ATTR_FAMILY_NAME.into(), n);
        }
        m.finish();
    }
}

/// A family as `ctrl_fill_info` describes it: the GETFAMILY reply and each entry of a dump.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FamilyInfo {
    /// `CTRL_ATTR_FAMILY_NAME`.
    pub name: String,
    /// `CTRL_ATTR_FAMILY_ID`.
    pub id: u16,
    /// `CTRL_ATTR_VERSION`.
    pub version: u32,
    /// `CTRL_ATTR_HDRSIZE`.
    pub hdrsize: u32,
    /// `CTRL_ATTR_MAXATTR`.
    pub maxattr: u32,
    /// `CTRL_ATTR_OPS`: `(command, GENL_* flags)` in registration order; omitted when empty.
    pub ops: Vec<(u32, u32)>,
    /// `CTRL_ATTR_MCAST_GROUPS`: `(name, group id)`; omitted when empty.
    pub mcast_groups: Vec<(String, u32)>,
}

fn ctrl(a: CtrlAttr) -> u16 {
    a.into()
}

fn exact_u32(n: &Nla<'_>) -> Result<u32> {
    n.u32()
}

impl FamilyInfo {
    /// Size of the whole message [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        let ops = if self.ops.is_empty() {
            0
        } else {
            nla_size(self.ops.len() * nla_size(2 * nla_size(4)))
        };
        let groups = if self.mcast_groups.is_empty() {
            0
        } else {
            nla_size(
                self.mcast_groups
                    .iter()
                    .map(|(n, _)| nla_size(nla_size(4) + str_size(n)))
                    .sum(),
            )
        };
        NLMSG_HDRLEN
            + GENL_HDRLEN
            + str_size(&self.name)
            + nla_size(2)
            + 3 * nla_size(4)
            + ops
            + groups
    }

    /// Appends a whole `CTRL_CMD_NEWFAMILY` message (genl version 2) in `ctrl_fill_info`
    /// order: `FAMILY_NAME`, `FAMILY_ID`, `VERSION`, `HDRSIZE`, `MAXATTR`, `OPS` (entries typed
    /// 1, 2, … holding `OP_ID`, `OP_FLAGS`), `MCAST_GROUPS` (entries typed 1, 2, … holding
    /// `GRP_ID` then `GRP_NAME`). Use flags 0 for a GETFAMILY reply and `NLM_F_MULTI` in dumps.
    pub fn emit(&self, buf: &mut Vec<u8>, flags: u16, seq: u32, pid: u32) {
        buf.reserve(self.buffer_len());
        let mut m = MsgBuilder::new(buf, GENL_ID_CTRL, flags, seq, pid);
        m.push(
            &GenlHdr {
                cmd: CtrlCmd::CTRL_CMD_NEWFAMILY.into(),
                version: CTRL_VERSION,
                reserved: 0,
            }
            .to_bytes(),
        );
        let mut w = m.attrs();
        w.put_str(ctrl(CtrlAttr::CTRL_ATTR_FAMILY_NAME), &self.name);
        w.put_u16(ctrl(CtrlAttr::CTRL_ATTR_FAMILY_ID), self.id);
        w.put_u32(ctrl(CtrlAttr::CTRL_ATTR_VERSION), self.version);
        w.put_u32(ctrl(CtrlAttr::CTRL_ATTR_HDRSIZE), self.hdrsize);
        w.put_u32(ctrl(CtrlAttr::CTRL_ATTR_MAXATTR), self.maxattr);
        if !self.ops.is_empty() {
            w.nested(ctrl(CtrlAttr::CTRL_ATTR_OPS), |w| {
                for (i, (id, flags)) in self.ops.iter().enumerate() {
                    w.nested(index_type(i), |w| {
                        w.put_u32(CTRL_ATTR_OP_ID, *id);
                        w.put_u32(CTRL_ATTR_OP_FLAGS, *flags);
                    });
                }
            });
        }
        if !self.mcast_groups.is_empty() {
            w.nested(ctrl(CtrlAttr::CTRL_ATTR_MCAST_GROUPS), |w| {
                for (i, (name, id)) in self.mcast_groups.iter().enumerate() {
                    w.nested(index_type(i), |w| {
                        w.put_u32(CTRL_ATTR_MCAST_GRP_ID, *id);
                        w.put_str(CTRL_ATTR_MCAST_GRP_NAME, name);
                    });
                }
            });
        }
        m.finish();
    }

    /// Decodes a NEWFAMILY payload (genl header onwards) as a client such as OVS reads it:
    /// fixed-size attributes must have their exact size (`EINVAL`/`ERANGE`), `FAMILY_NAME` and a
    /// non-zero `FAMILY_ID` are required (`EINVAL`), each group needs a name and an id.
    /// Offsets count from the `nlmsghdr`.
    pub fn parse(payload: &[u8]) -> Result<Self> {
        GenlHdr::parse(payload)?;
        let base = NLMSG_HDRLEN + GENL_HDRLEN;
        let attrs = payload.get(GENL_HDRLEN..).unwrap_or(&[]);
        let mut f = FamilyInfo::default();
        let mut have_name = false;
        for nla in crate::nl::NlaIter::with_base(attrs, base) {
            let nla = nla?;
            match CtrlAttr::from(nla.kind) {
                CtrlAttr::CTRL_ATTR_FAMILY_NAME => {
                    f.name = nla.str(GENL_NAMSIZ - 1)?.to_owned();
                    have_name = true;
                }
                CtrlAttr::CTRL_ATTR_FAMILY_ID => f.id = nla.u16()?,
                CtrlAttr::CTRL_ATTR_VERSION => f.version = exact_u32(&nla)?,
                CtrlAttr::CTRL_ATTR_HDRSIZE => f.hdrsize = exact_u32(&nla)?,
                CtrlAttr::CTRL_ATTR_MAXATTR => f.maxattr = exact_u32(&nla)?,
                CtrlAttr::CTRL_ATTR_OPS => {
                    f.ops.clear();
                    for entry in nla.nested() {
                        let entry = entry?;
                        let (mut id, mut flags) = (0, 0);
                        for a in entry.nested() {
                            let a = a?;
                            match a.kind {
                                CTRL_ATTR_OP_ID => id = a.u32()?,
                                CTRL_ATTR_OP_FLAGS => flags = a.u32()?,
                                _ => {}
                            }
                        }
                        f.ops.push((id, flags));
                    }
                }
                CtrlAttr::CTRL_ATTR_MCAST_GROUPS => {
                    f.mcast_groups.clear();
                    for entry in nla.nested() {
                        let entry = entry?;
                        let (mut name, mut id) = (None, None);
                        for a in entry.nested() {
                            let a = a?;
                            match a.kind {
                                CTRL_ATTR_MCAST_GRP_NAME => {
                                    name = Some(a.str(GENL_NAMSIZ - 1)?.to_owned())
                                }
                                CTRL_ATTR_MCAST_GRP_ID => id = Some(a.u32()?),
                                _ => {}
                            }
                        }
                        match (name, id) {
                            (Some(n), Some(i)) => f.mcast_groups.push((n, i)),
                            _ => {
                                return Err(Error::inval(
                                    entry.offset,
                                    "multicast group without name or id",
                                ))
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        if !have_name || f.id == 0 {
            return Err(Error::inval(base, "family reply without name or id"));
        }
        Ok(f)
    }
}

/// Nest type of the `i`-th (0-based) entry of `OPS` or `MCAST_GROUPS`: 1-based.
fn index_type(i: usize) -> u16 {
    u16::try_from(i + 1).unwrap_or(u16::MAX)
}

/// A family as a kernel module registers it; ids are assigned when it is registered, so the
/// daemon supplies them through [`FamilySpec::info`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FamilySpec {
    /// Family name.
    pub name: &'static str,
    /// `genl_family.version`.
    pub version: u32,
    /// `genl_family.hdrsize`.
    pub hdrsize: u32,
    /// `genl_family.maxattr`.
    pub maxattr: u32,
    /// `(command, flags)` as `ctrl_fill_info` reports them, in registration order.
    pub ops: &'static [(u32, u32)],
    /// Multicast group names, in registration order.
    pub mcast_groups: &'static [&'static str],
}

impl FamilySpec {
    /// The family's description with its assigned id and group ids (`group_ids[i]` belongs to
    /// `mcast_groups[i]`; surplus names or ids are dropped).
    pub fn info(&self, id: u16, group_ids: &[u32]) -> FamilyInfo {
        FamilyInfo {
            name: self.name.to_owned(),
            id,
            version: self.version,
            hdrsize: self.hdrsize,
            maxattr: self.maxattr,
            ops: self.ops.to_vec(),
            mcast_groups: self
                .mcast_groups
                .iter()
                .zip(group_ids)
                .map(|(n, i)| ((*n).to_owned(), *i))
                .collect(),
        }
    }
}

/// A modifying op: needs `CAP_NET_ADMIN` in the netns's user namespace.
const UNS_DO: u32 = GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO | GENL_CMD_CAP_HASPOL;
/// A modifying op that needs `CAP_NET_ADMIN` in the initial user namespace (ct_limit).
const ADMIN_DO: u32 = GENL_ADMIN_PERM | GENL_CMD_CAP_DO | GENL_CMD_CAP_HASPOL;
/// An unprivileged query.
const DO: u32 = GENL_CMD_CAP_DO | GENL_CMD_CAP_HASPOL;
/// An unprivileged query that can also dump.
const DO_DUMP: u32 = GENL_CMD_CAP_DO | GENL_CMD_CAP_DUMP | GENL_CMD_CAP_HASPOL;

/// NEW, DEL, GET (+dump), SET: the op table shared by datapath, vport and flow.
const NEW_DEL_GET_SET: [(u32, u32); 4] = [(1, UNS_DO), (2, UNS_DO), (3, DO_DUMP), (4, UNS_DO)];

static OVS_FAMILIES: [FamilySpec; 6] = [
    FamilySpec {
        name: OVS_DATAPATH_FAMILY,
        version: OVS_DATAPATH_VERSION as u32,
        hdrsize: 4,
        maxattr: 9, // OVS_DP_ATTR_IFINDEX
        ops: &NEW_DEL_GET_SET,
        mcast_groups: &[OVS_DATAPATH_FAMILY],
    },
    FamilySpec {
        name: OVS_VPORT_FAMILY,
        version: OVS_VPORT_VERSION as u32,
        hdrsize: 4,
        maxattr: 9, // OVS_VPORT_ATTR_NETNSID (6.12: 10, UPCALL_STATS)
        ops: &NEW_DEL_GET_SET,
        mcast_groups: &[OVS_VPORT_FAMILY],
    },
    FamilySpec {
        name: OVS_FLOW_FAMILY,
        version: OVS_FLOW_VERSION as u32,
        hdrsize: 4,
        maxattr: 11, // OVS_FLOW_ATTR_PAD
        ops: &NEW_DEL_GET_SET,
        mcast_groups: &[OVS_FLOW_FAMILY],
    },
    FamilySpec {
        name: OVS_PACKET_FAMILY,
        version: OVS_PACKET_VERSION as u32,
        hdrsize: 4,
        maxattr: 11,         // OVS_PACKET_ATTR_HASH
        ops: &[(3, UNS_DO)], // EXECUTE
        mcast_groups: &[],
    },
    FamilySpec {
        name: OVS_METER_FAMILY,
        version: OVS_METER_VERSION as u32,
        hdrsize: 4,
        maxattr: 9, // OVS_METER_ATTR_PAD
        // FEATURES, SET, GET, DEL: the order of dp_meter_genl_ops.
        ops: &[(1, DO), (2, UNS_DO), (4, DO), (3, UNS_DO)],
        mcast_groups: &[OVS_METER_FAMILY],
    },
    FamilySpec {
        name: OVS_CT_LIMIT_FAMILY,
        version: OVS_CT_LIMIT_VERSION as u32,
        hdrsize: 4,
        maxattr: 1, // OVS_CT_LIMIT_ATTR_ZONE_LIMIT
        ops: &[(1, ADMIN_DO), (2, ADMIN_DO), (3, DO)],
        mcast_groups: &[OVS_CT_LIMIT_FAMILY],
    },
];

/// The six families as Linux 6.1's `openvswitch` module registers them, in registration order
/// (`dp_genl_families`).
///
/// `maxattr` takes the 6.1 values (Debian 12's kernel, the one its OVS 3.1 runs on), not
/// 6.12's: the daemon answers with 6.1-shaped messages (no `OVS_VPORT_ATTR_UPCALL_STATS`), and
/// advertising vport `maxattr` 10 would promise an attribute its replies never carry. OVS does
/// not read `MAXATTR`, so nothing depends on the choice beyond honesty. Op flags are what
/// `ctrl_fill_info` reports: the op's own `GENL_ADMIN_PERM`/`GENL_UNS_ADMIN_PERM`, plus
/// `CAP_DO`/`CAP_DUMP` for its handlers and `CAP_HASPOL` because each family has a policy.
pub fn ovs_families() -> &'static [FamilySpec] {
    &OVS_FAMILIES
}

static NLCTRL: FamilySpec = FamilySpec {
    name: "nlctrl",
    version: CTRL_VERSION as u32,
    hdrsize: 0,
    // Since Linux 5.10 the controller has per-op policies only, so its family maxattr is 0.
    maxattr: 0,
    ops: &[
        (3, DO_DUMP),                                  // GETFAMILY
        (10, GENL_CMD_CAP_DUMP | GENL_CMD_CAP_HASPOL), // GETPOLICY
    ],
    mcast_groups: &["notify"],
};

/// The controller itself, as a family dump lists it first (id [`GENL_ID_CTRL`], its
/// `notify` group has id [`NLCTRL_NOTIFY_GROUP`]).
pub fn nlctrl_family() -> &'static FamilySpec {
    &NLCTRL
}

/// Multicast group id of `nlctrl`'s `notify` group (`GENL_ID_CTRL`, fixed by the kernel).
pub const NLCTRL_NOTIFY_GROUP: u32 = GENL_ID_CTRL as u32;
