//! `ovs_datapath`: create, destroy, query, dump and change datapaths.
//!
//! ≈ `ovs_dp_cmd_new`, `ovs_dp_cmd_del`, `ovs_dp_cmd_get`, `ovs_dp_cmd_dump`, `ovs_dp_cmd_set`
//! and `ovs_dp_cmd_fill_info` in `net/openvswitch/datapath.c`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use userdp_protocol::errno::{EEXIST, ENODEV};
use userdp_protocol::nl::NlMsg;
use userdp_protocol::ovs::datapath::{
    DatapathMsg, OvsDpCmd, OvsDpMegaflowStats, OvsDpStats, OVS_DP_F_DISPATCH_UPCALL_PER_CPU,
};
use userdp_protocol::ovs::vport::OvsVportType;
use userdp_protocol::ovs::OVSP_LOCAL;
use userdp_protocol::{Error, Result};

use super::flow::FlowTable;
use super::meter::Meter;
use super::vport::Vport;
use super::{missing, Ctx, Outcome, Registry, State, FAMILY_DATAPATH, GROUP_DATAPATH};
use crate::pmd::{Dispatch, DpShared};
use crate::transport::{Dump, DumpStep, Responder};
use arc_swap::ArcSwap;

/// The kernel's default per-CPU masks cache size (`MC_DEFAULT_HASH_ENTRIES`).
pub const MC_DEFAULT_HASH_ENTRIES: u32 = 256;

/// Datapath-wide counters, written by packet threads with relaxed atomics.
#[derive(Debug, Default)]
pub struct DpCounters {
    /// Packets that matched a flow.
    pub n_hit: AtomicU64,
    /// Packets that missed and were sent up.
    pub n_missed: AtomicU64,
    /// Upcalls that could not be delivered.
    pub n_lost: AtomicU64,
    /// Subtables visited by all lookups.
    pub n_mask_hit: AtomicU64,
    /// Lookups answered by a cache before the classifier.
    pub n_cache_hit: AtomicU64,
}

/// One datapath: its local port, ports, flows and meters.
#[derive(Debug)]
pub struct Datapath {
    /// `OVS_DP_ATTR_NAME`, also the local port's name.
    pub name: String,
    /// ifindex of the local port's device: the `dp_ifindex` of every message about it.
    pub ifindex: i32,
    /// `OVS_DP_ATTR_USER_FEATURES`.
    pub user_features: u32,
    /// `OVS_DP_ATTR_MASKS_CACHE_SIZE`.
    pub masks_cache_size: u32,
    /// `OVS_DP_ATTR_PER_CPU_PIDS` (empty unless per-CPU dispatch is on).
    pub per_cpu_pids: Vec<u32>,
    /// Ports by number; port 0 is the local port.
    pub ports: BTreeMap<u32, Vport>,
    /// The flow table.
    pub flows: FlowTable,
    /// Meters by id.
    pub meters: HashMap<u32, Arc<Meter>>,
    /// Packet counters.
    pub counters: Arc<DpCounters>,
    /// What packet threads read of this datapath.
    pub shared: Arc<DpShared>,
}

impl Datapath {
    /// The reply/notification message describing this datapath.
    pub fn to_msg(&self, cmd: OvsDpCmd) -> DatapathMsg {
        let c = &self.counters;
        let mut m = DatapathMsg::new(cmd, self.ifindex);
        m.name = Some(self.name.clone());
        m.stats = Some(OvsDpStats {
            n_hit: c.n_hit.load(Ordering::Relaxed),
            n_missed: c.n_missed.load(Ordering::Relaxed),
            n_lost: c.n_lost.load(Ordering::Relaxed),
            n_flows: self.flows.len() as u64,
        });
        m.megaflow_stats = Some(OvsDpMegaflowStats {
            n_mask_hit: c.n_mask_hit.load(Ordering::Relaxed),
            n_masks: self.flows.n_masks() as u32,
            pad0: 0,
            n_cache_hit: c.n_cache_hit.load(Ordering::Relaxed),
            pad1: 0,
        });
        m.user_features = Some(self.user_features);
        m.masks_cache_size = Some(self.masks_cache_size);
        if self.user_features & OVS_DP_F_DISPATCH_UPCALL_PER_CPU != 0
            && !self.per_cpu_pids.is_empty()
        {
            m.per_cpu_pids = Some(self.per_cpu_pids.clone());
        }
        m
    }

    /// Encodes [`to_msg`](Self::to_msg) as a whole message addressed to `pid`/`seq`.
    pub fn encode(&self, cmd: OvsDpCmd, flags: u16, seq: u32, pid: u32) -> Vec<u8> {
        let m = self.to_msg(cmd);
        let mut buf = Vec::with_capacity(m.buffer_len());
        m.emit(&mut buf, FAMILY_DATAPATH, flags, seq, pid);
        buf
    }

    /// Publishes the dispatch settings and meters for packet threads.
    pub fn publish(&self) {
        self.shared.dispatch.store(Arc::new(Dispatch {
            user_features: self.user_features,
            per_cpu_pids: self.per_cpu_pids.clone(),
        }));
        self.shared.meters.store(Arc::new(self.meters.clone()));
    }

    /// Applies features, masks-cache size and per-CPU pids as `ovs_dp_change` does: an absent
    /// `USER_FEATURES` resets the features to 0.
    fn change(&mut self, req: &DatapathMsg) {
        self.user_features = req.user_features.unwrap_or(0);
        if let Some(size) = req.masks_cache_size {
            self.masks_cache_size = size;
        }
        if self.user_features & OVS_DP_F_DISPATCH_UPCALL_PER_CPU != 0 {
            if let Some(pids) = &req.per_cpu_pids {
                self.per_cpu_pids = pids.clone();
            }
        } else {
            self.per_cpu_pids.clear();
        }
        self.publish();
    }
}

/// Dispatches a non-dump `ovs_datapath` request.
pub fn handle(reg: &Registry, ctx: &Ctx<'_>, msg: &NlMsg<'_>) -> Result<Outcome> {
    let req = DatapathMsg::parse(msg.payload)?;
    match req.cmd {
        OvsDpCmd::OVS_DP_CMD_NEW => dp_cmd_new(reg, ctx, &req),
        OvsDpCmd::OVS_DP_CMD_DEL => dp_cmd_del(reg, ctx, &req),
        OvsDpCmd::OVS_DP_CMD_GET => dp_cmd_get(reg, ctx, &req),
        OvsDpCmd::OVS_DP_CMD_SET => dp_cmd_set(reg, ctx, &req),
        _ => Err(Error::new(
            userdp_protocol::errno::EOPNOTSUPP,
            0,
            "unknown datapath command",
        )),
    }
}

fn lookup<'a>(st: &'a mut State, req: &DatapathMsg) -> Result<&'a mut Datapath> {
    st.dp_lookup(req.dp_ifindex, req.name.as_deref())
        .ok_or(Error::new(ENODEV, 0, "no such datapath"))
}

/// Replies only when asked to echo; notifies the group either way.
fn publish(reg: &Registry, ctx: &Ctx<'_>, msg: Vec<u8>) -> Outcome {
    reg.notify(GROUP_DATAPATH, &msg, ctx);
    if ctx.echo() {
        Outcome::Reply(msg)
    } else {
        Outcome::Silent
    }
}

/// OVS_DP_CMD_NEW: a datapath with its local port, an internal device named after it.
pub fn dp_cmd_new(reg: &Registry, ctx: &Ctx<'_>, req: &DatapathMsg) -> Result<Outcome> {
    let name = req
        .name
        .as_deref()
        .ok_or_else(|| missing("datapath NEW needs NAME"))?;
    let upcall_pid = req
        .upcall_pid
        .ok_or_else(|| missing("datapath NEW needs UPCALL_PID"))?;
    req.validate_change()?;
    let msg = reg.with_state(|st| -> Result<Vec<u8>> {
        if st.dps.values().any(|dp| dp.name == name) {
            return Err(Error::new(EEXIST, 0, "a datapath with that name exists"));
        }
        let (local, queues) = Vport::create(
            reg,
            st,
            OVSP_LOCAL,
            OvsVportType::OVS_VPORT_TYPE_INTERNAL,
            name,
            vec![upcall_pid],
            None,
        )?;
        let ifindex = local.device.ifindex() as i32;
        let counters: Arc<DpCounters> = Arc::default();
        let flows = FlowTable::default();
        let shared = Arc::new(DpShared {
            ifindex,
            counters: counters.clone(),
            flows: flows.cls.clone(),
            dispatch: ArcSwap::from_pointee(Dispatch::default()),
            meters: ArcSwap::from_pointee(HashMap::new()),
            notifier: reg.notifier().cloned(),
            hash_seed: reg.hash_seed(),
        });
        let mut dp = Datapath {
            name: name.to_owned(),
            ifindex,
            user_features: 0,
            masks_cache_size: MC_DEFAULT_HASH_ENTRIES,
            per_cpu_pids: Vec::new(),
            ports: BTreeMap::new(),
            flows,
            meters: HashMap::new(),
            counters,
            shared,
        };
        dp.change(req);
        local.attach(reg, &dp.shared, queues);
        dp.ports.insert(OVSP_LOCAL, local);
        let msg = dp.encode(OvsDpCmd::OVS_DP_CMD_NEW, 0, ctx.seq, ctx.peer.portid);
        st.dps.insert(ifindex, dp);
        Ok(msg)
    })?;
    tracing::info!(datapath = name, "created datapath");
    Ok(publish(reg, ctx, msg))
}

/// OVS_DP_CMD_DEL: destroys every port (non-local first), flows and meters.
pub fn dp_cmd_del(reg: &Registry, ctx: &Ctx<'_>, req: &DatapathMsg) -> Result<Outcome> {
    let (msg, dp) = reg.with_state(|st| -> Result<_> {
        let ifindex = lookup(st, req)?.ifindex;
        let mut dp = st
            .dps
            .remove(&ifindex)
            .ok_or(Error::new(ENODEV, 0, "no such datapath"))?;
        let msg = dp.encode(OvsDpCmd::OVS_DP_CMD_DEL, 0, ctx.seq, ctx.peer.portid);
        // Non-local ports first, then the local port, as the kernel tears a datapath down.
        let order: Vec<u32> = dp
            .ports
            .keys()
            .copied()
            .filter(|&p| p != OVSP_LOCAL)
            .chain([OVSP_LOCAL])
            .collect();
        for port_no in order {
            if let Some(v) = dp.ports.remove(&port_no) {
                v.detach(reg, ifindex);
            }
        }
        dp.flows.flush();
        Ok((msg, dp))
    })?;
    tracing::info!(datapath = dp.name, "deleted datapath");
    drop(dp);
    Ok(publish(reg, ctx, msg))
}

/// OVS_DP_CMD_GET: always answers.
pub fn dp_cmd_get(reg: &Registry, ctx: &Ctx<'_>, req: &DatapathMsg) -> Result<Outcome> {
    reg.with_state(|st| {
        let dp = lookup(st, req)?;
        Ok(Outcome::Reply(dp.encode(
            OvsDpCmd::OVS_DP_CMD_GET,
            0,
            ctx.seq,
            ctx.peer.portid,
        )))
    })
}

/// OVS_DP_CMD_SET: features, masks-cache size, per-CPU pids.
pub fn dp_cmd_set(reg: &Registry, ctx: &Ctx<'_>, req: &DatapathMsg) -> Result<Outcome> {
    let msg = reg.with_state(|st| -> Result<Vec<u8>> {
        let dp = lookup(st, req)?;
        req.validate_change()?;
        dp.change(req);
        Ok(dp.encode(OvsDpCmd::OVS_DP_CMD_SET, 0, ctx.seq, ctx.peer.portid))
    })?;
    Ok(publish(reg, ctx, msg))
}

/// Every datapath, one message each, in ifindex order.
struct DpDump<'r> {
    reg: &'r Registry,
    after: Option<i32>,
}

impl Dump for DpDump<'_> {
    fn fill(&mut self, buf: &mut Vec<u8>, budget: usize) -> DumpStep {
        self.reg.with_state(|st| {
            let from = self
                .after
                .map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
            for (&ifindex, dp) in st.dps.range((from, std::ops::Bound::Unbounded)) {
                let m = dp.to_msg(OvsDpCmd::OVS_DP_CMD_GET);
                if !buf.is_empty() && buf.len() + m.buffer_len() > budget {
                    return DumpStep::More;
                }
                m.emit(buf, FAMILY_DATAPATH, 0, 0, 0);
                self.after = Some(ifindex);
            }
            DumpStep::Done(0)
        })
    }
}

/// OVS_DP_CMD_GET with `NLM_F_DUMP`.
pub fn dp_cmd_dump(reg: &Registry, _ctx: &Ctx<'_>, _msg: &NlMsg<'_>, out: &mut Responder<'_>) {
    out.dump(&mut DpDump { reg, after: None });
}
