//! The `ovs_flow` family: install, modify, query, dump and delete datapath flows.
//!
//! ≈ `ovs_flow_cmd_*`, `ovs_flow_cmd_fill_info` and `flow_policy` in
//! `net/openvswitch/datapath.c` (Linux 6.1); `dpif_netlink_flow_*` in OVS `lib/dpif-netlink.c`.
//!
//! Keys, masks and actions stay raw ([`RawAttrs`]): `ovs::key` and `ovs::action` decode them,
//! and replies echo exactly the bytes that were installed. The daemon rejects unknown commands
//! and missing privileges before calling [`FlowMsg::parse`]; a flow *dump* parses its request
//! itself (`genlmsg_parse_deprecated`) and reports a failure inside `NLMSG_DONE`, so the daemon
//! calls `parse` there too but routes the error differently.

use crate::nl::attr::nla_size;
use crate::ovs::common::{begin, c_enum, get_u32, get_u64, parse_msg, Pol, RawAttrs, FIXED_LEN};
use crate::ovs::OVS_FLOW_VERSION;
use crate::Result;

pub use crate::ovs::common::OvsFlowStats;

c_enum! {
    /// `enum ovs_flow_cmd`.
    pub enum OvsFlowCmd: u8 {
        /// Never valid in a request.
        OVS_FLOW_CMD_UNSPEC = 0,
        /// Install (or, without `NLM_F_CREATE`/`NLM_F_EXCL`, modify) a flow.
        OVS_FLOW_CMD_NEW = 1,
        /// Delete one flow, or flush the table.
        OVS_FLOW_CMD_DEL = 2,
        /// Query one flow, or dump all.
        OVS_FLOW_CMD_GET = 3,
        /// Replace a flow's actions and/or clear its statistics.
        OVS_FLOW_CMD_SET = 4,
    }
}

c_enum! {
    /// `enum ovs_flow_attr`.
    pub enum OvsFlowAttr: u16 {
        /// Unused type 0.
        OVS_FLOW_ATTR_UNSPEC = 0,
        /// Flow key, nested `OVS_KEY_ATTR_*`.
        OVS_FLOW_ATTR_KEY = 1,
        /// Actions, nested `OVS_ACTION_ATTR_*`.
        OVS_FLOW_ATTR_ACTIONS = 2,
        /// `struct ovs_flow_stats`.
        OVS_FLOW_ATTR_STATS = 3,
        /// OR of the TCP flags seen (`u8`).
        OVS_FLOW_ATTR_TCP_FLAGS = 4,
        /// Last use, monotonic milliseconds (`u64`).
        OVS_FLOW_ATTR_USED = 5,
        /// SET: clear statistics (flag).
        OVS_FLOW_ATTR_CLEAR = 6,
        /// Flow mask, nested `OVS_KEY_ATTR_*`.
        OVS_FLOW_ATTR_MASK = 7,
        /// Suppress error logging (flag).
        OVS_FLOW_ATTR_PROBE = 8,
        /// Unique flow identifier, 1–16 bytes.
        OVS_FLOW_ATTR_UFID = 9,
        /// `OVS_UFID_F_*` (`u32`).
        OVS_FLOW_ATTR_UFID_FLAGS = 10,
        /// 64-bit alignment padding (never emitted on x86-64).
        OVS_FLOW_ATTR_PAD = 11,
    }
}

/// `OVS_FLOW_ATTR_MAX`.
pub const OVS_FLOW_ATTR_MAX: u16 = 11;

/// Leave the key out of replies.
pub const OVS_UFID_F_OMIT_KEY: u32 = 1 << 0;
/// Leave the mask out of replies.
pub const OVS_UFID_F_OMIT_MASK: u32 = 1 << 1;
/// Leave the actions out of replies.
pub const OVS_UFID_F_OMIT_ACTIONS: u32 = 1 << 2;
/// `MAX_UFID_LENGTH`: a longer (or empty) UFID is logged and treated as absent.
pub const MAX_UFID_LENGTH: usize = 16;

/// One `ovs_flow` message, request or reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowMsg {
    /// Command.
    pub cmd: OvsFlowCmd,
    /// `ovs_header.dp_ifindex`.
    pub dp_ifindex: i32,
    /// `OVS_FLOW_ATTR_UFID`, 1 or more bytes (see [`FlowMsg::ufid`]).
    pub ufid: Option<Vec<u8>>,
    /// `OVS_FLOW_ATTR_KEY`.
    pub key: Option<RawAttrs>,
    /// `OVS_FLOW_ATTR_MASK`.
    pub mask: Option<RawAttrs>,
    /// `OVS_FLOW_ATTR_USED` (replies; a short payload decodes as `None`).
    pub used: Option<u64>,
    /// `OVS_FLOW_ATTR_STATS` (replies; as `used`).
    pub stats: Option<OvsFlowStats>,
    /// `OVS_FLOW_ATTR_TCP_FLAGS` (replies; as `used`).
    pub tcp_flags: Option<u8>,
    /// `OVS_FLOW_ATTR_ACTIONS`.
    pub actions: Option<RawAttrs>,
    /// `OVS_FLOW_ATTR_UFID_FLAGS`.
    pub ufid_flags: Option<u32>,
    /// `OVS_FLOW_ATTR_CLEAR`.
    pub clear: bool,
    /// `OVS_FLOW_ATTR_PROBE`.
    pub probe: bool,
}

const POLICY: [Pol; OVS_FLOW_ATTR_MAX as usize + 1] = [
    Pol::Any,       // UNSPEC
    Pol::Nested,    // KEY
    Pol::Nested,    // ACTIONS
    Pol::Any,       // STATS
    Pol::Any,       // TCP_FLAGS
    Pol::Any,       // USED
    Pol::Flag,      // CLEAR
    Pol::Nested,    // MASK
    Pol::Flag,      // PROBE
    Pol::MinLen(1), // UFID
    Pol::U32,       // UFID_FLAGS
    Pol::Any,       // PAD
];

fn attr(a: OvsFlowAttr) -> u16 {
    a.into()
}

impl FlowMsg {
    /// A message with no attributes.
    pub fn new(cmd: OvsFlowCmd, dp_ifindex: i32) -> Self {
        FlowMsg {
            cmd,
            dp_ifindex,
            ufid: None,
            key: None,
            mask: None,
            used: None,
            stats: None,
            tcp_flags: None,
            actions: None,
            ufid_flags: None,
            clear: false,
            probe: false,
        }
    }

    /// Decodes a netlink payload (genl header onwards); error offsets count from the
    /// `nlmsghdr`.
    pub fn parse(payload: &[u8]) -> Result<Self> {
        let (f, a) = parse_msg(payload, &POLICY)?;
        let mut m = FlowMsg::new(OvsFlowCmd::from(f.genl.cmd), f.dp_ifindex);
        let get = |k: OvsFlowAttr| a[usize::from(attr(k))];
        m.ufid = get(OvsFlowAttr::OVS_FLOW_ATTR_UFID).map(|n| n.payload.to_vec());
        m.key = get(OvsFlowAttr::OVS_FLOW_ATTR_KEY).map(|n| RawAttrs::from_nla(&n));
        m.mask = get(OvsFlowAttr::OVS_FLOW_ATTR_MASK).map(|n| RawAttrs::from_nla(&n));
        m.used = get(OvsFlowAttr::OVS_FLOW_ATTR_USED)
            .filter(|n| n.payload.len() >= 8)
            .map(|n| get_u64(&n));
        m.stats =
            get(OvsFlowAttr::OVS_FLOW_ATTR_STATS).and_then(|n| OvsFlowStats::parse(n.payload));
        m.tcp_flags =
            get(OvsFlowAttr::OVS_FLOW_ATTR_TCP_FLAGS).and_then(|n| n.payload.first().copied());
        m.actions = get(OvsFlowAttr::OVS_FLOW_ATTR_ACTIONS).map(|n| RawAttrs::from_nla(&n));
        m.ufid_flags = get(OvsFlowAttr::OVS_FLOW_ATTR_UFID_FLAGS).map(|n| get_u32(&n));
        m.clear = get(OvsFlowAttr::OVS_FLOW_ATTR_CLEAR).is_some();
        m.probe = get(OvsFlowAttr::OVS_FLOW_ATTR_PROBE).is_some();
        Ok(m)
    }

    /// The UFID as the kernel uses it (`ovs_nla_get_ufid`): present only if 1–16 bytes long.
    pub fn ufid(&self) -> Option<&[u8]> {
        self.ufid
            .as_deref()
            .filter(|u| !u.is_empty() && u.len() <= MAX_UFID_LENGTH)
    }

    /// `UFID_FLAGS`, 0 when absent (`ovs_nla_get_ufid_flags`).
    pub fn ufid_flags(&self) -> u32 {
        self.ufid_flags.unwrap_or(0)
    }

    /// Size of the whole message [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        let raw = |r: &Option<RawAttrs>| r.as_ref().map_or(0, |r| nla_size(r.bytes.len()));
        FIXED_LEN
            + self.ufid.as_ref().map_or(0, |u| nla_size(u.len()))
            + raw(&self.key)
            + raw(&self.mask)
            + self.used.map_or(0, |_| nla_size(8))
            + self.stats.map_or(0, |_| nla_size(OvsFlowStats::SIZE))
            + self.tcp_flags.map_or(0, |_| nla_size(1))
            + raw(&self.actions)
            + self.ufid_flags.map_or(0, |_| nla_size(4))
            + usize::from(self.clear) * nla_size(0)
            + usize::from(self.probe) * nla_size(0)
    }

    /// Appends the whole message in `ovs_flow_cmd_fill_info` order: `UFID`, `KEY`, `MASK`,
    /// `USED`, `STATS`, `TCP_FLAGS`, `ACTIONS`; then the request-only `UFID_FLAGS`, `CLEAR`,
    /// `PROBE`.
    ///
    /// A reply for a flow without UFID carries its unmasked key as `KEY`; one with a UFID
    /// carries the masked key unless `OMIT_KEY`. Choosing which is the daemon's job.
    pub fn emit(&self, buf: &mut Vec<u8>, family_id: u16, flags: u16, seq: u32, pid: u32) {
        buf.reserve(self.buffer_len());
        let mut m = begin(
            buf,
            family_id,
            flags,
            seq,
            pid,
            self.cmd.into(),
            OVS_FLOW_VERSION,
            self.dp_ifindex,
        );
        let mut w = m.attrs();
        if let Some(u) = &self.ufid {
            w.put(attr(OvsFlowAttr::OVS_FLOW_ATTR_UFID), u);
        }
        if let Some(k) = &self.key {
            w.put(attr(OvsFlowAttr::OVS_FLOW_ATTR_KEY), &k.bytes);
        }
        if let Some(k) = &self.mask {
            w.put(attr(OvsFlowAttr::OVS_FLOW_ATTR_MASK), &k.bytes);
        }
        if let Some(v) = self.used {
            w.put_u64(attr(OvsFlowAttr::OVS_FLOW_ATTR_USED), v);
        }
        if let Some(s) = &self.stats {
            w.put(attr(OvsFlowAttr::OVS_FLOW_ATTR_STATS), &s.to_bytes());
        }
        if let Some(v) = self.tcp_flags {
            w.put_u8(attr(OvsFlowAttr::OVS_FLOW_ATTR_TCP_FLAGS), v);
        }
        if let Some(k) = &self.actions {
            w.put(attr(OvsFlowAttr::OVS_FLOW_ATTR_ACTIONS), &k.bytes);
        }
        if let Some(v) = self.ufid_flags {
            w.put_u32(attr(OvsFlowAttr::OVS_FLOW_ATTR_UFID_FLAGS), v);
        }
        if self.clear {
            w.put_flag(attr(OvsFlowAttr::OVS_FLOW_ATTR_CLEAR));
        }
        if self.probe {
            w.put_flag(attr(OvsFlowAttr::OVS_FLOW_ATTR_PROBE));
        }
        m.finish();
    }
}
