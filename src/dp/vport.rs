//! `ovs_vport`: add, remove, query, dump and change ports.
//!
//! ≈ `ovs_vport_cmd_*`, `lookup_vport` and `ovs_vport_cmd_fill_info` in
//! `net/openvswitch/datapath.c`, `ovs_vport_add` in `vport.c`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use userdp_protocol::errno::{EAFNOSUPPORT, EBUSY, EEXIST, EFBIG, EINVAL, ENODEV, EOPNOTSUPP};
use userdp_protocol::nl::NlMsg;
use userdp_protocol::ovs::datapath::OVS_DP_F_VPORT_PIDS;
use userdp_protocol::ovs::vport::{
    OvsVportCmd, OvsVportStats, OvsVportType, VportMsg, VportOptions,
};
use userdp_protocol::ovs::{DP_MAX_PORTS, OVSP_LOCAL};
use userdp_protocol::{Error, Result};

use super::datapath::Datapath;
use super::{missing, Ctx, Outcome, PortBackend, Registry, State, FAMILY_VPORT, GROUP_VPORT};
use crate::pmd::{DpShared, PortShared};
use crate::port::Device;
use crate::transport::{Dump, DumpStep, Responder};
use arc_swap::ArcSwap;

/// How long a port delete waits for the host to drop a TAP device we closed.
pub(crate) const DEVICE_GONE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Counters the datapath keeps itself (dummy ports; drops on any port).
#[derive(Debug, Default)]
pub struct VportCounters {
    /// Frames the datapath received from the port.
    pub rx_packets: AtomicU64,
    /// Bytes of those frames.
    pub rx_bytes: AtomicU64,
    /// Frames the datapath sent out of the port.
    pub tx_packets: AtomicU64,
    /// Bytes of those frames.
    pub tx_bytes: AtomicU64,
    /// Frames that could not be sent.
    pub tx_dropped: AtomicU64,
    /// Frames the device delivered that the datapath lost (its socket's queue was full, or
    /// they were malformed).
    pub rx_dropped: AtomicU64,
}

/// One port of a datapath.
#[derive(Debug)]
pub struct Vport {
    /// `OVS_VPORT_ATTR_PORT_NO`.
    pub port_no: u32,
    /// `OVS_VPORT_ATTR_TYPE`.
    pub kind: OvsVportType,
    /// `OVS_VPORT_ATTR_NAME`.
    pub name: String,
    /// `OVS_VPORT_ATTR_UPCALL_PID`: where misses from this port go.
    pub upcall_pids: Vec<u32>,
    /// What packet threads read of this port (pids, counters).
    pub shared: Arc<PortShared>,
    /// `OVS_VPORT_ATTR_OPTIONS` as given at creation.
    pub options: Option<VportOptions>,
    /// The device behind the port.
    pub device: Device,
    /// Counters kept by the datapath.
    pub counters: Arc<VportCounters>,
}

/// The queues of a port being created, before packet threads take them.
pub type NewQueues = crate::port::Queues;

fn io_errno(e: std::io::Error, what: &'static str) -> Error {
    Error::new(e.raw_os_error().unwrap_or(EINVAL), 0, what)
}

impl Vport {
    /// Creates the device for a new port with the kernel's per-type checks.
    pub fn create(
        reg: &Registry,
        st: &mut State,
        port_no: u32,
        kind: OvsVportType,
        name: &str,
        upcall_pids: Vec<u32>,
        options: Option<VportOptions>,
    ) -> Result<(Vport, NewQueues)> {
        let n = reg.n_threads();
        let attached = st
            .dps
            .values()
            .flat_map(|dp| dp.ports.values())
            .find(|p| p.name == name);
        let (device, queues) = match (kind, reg.config().backend) {
            (OvsVportType::OVS_VPORT_TYPE_INTERNAL, PortBackend::System) => {
                Device::internal(name, n)
                    .map_err(|e| io_errno(e, "cannot create the internal device"))?
            }
            (OvsVportType::OVS_VPORT_TYPE_NETDEV, PortBackend::System) => {
                if let Some(p) = attached {
                    // An internal port of ours is a device we own, never a netdev to attach;
                    // anything else is already enslaved to a datapath.
                    return Err(if p.kind == OvsVportType::OVS_VPORT_TYPE_INTERNAL {
                        Error::new(EINVAL, 0, "device is a datapath internal port")
                    } else {
                        Error::new(EBUSY, 0, "device is already attached to a datapath")
                    });
                }
                Device::netdev(name, n, &reg.config().netdev_options())
                    .map_err(|e| io_errno(e, "cannot attach to the device"))?
            }
            (
                OvsVportType::OVS_VPORT_TYPE_INTERNAL | OvsVportType::OVS_VPORT_TYPE_NETDEV,
                PortBackend::Dummy,
            ) => {
                if attached.is_some() {
                    return Err(Error::new(EEXIST, 0, "a device with that name exists"));
                }
                st.next_dummy_ifindex += 1;
                Device::dummy(st.next_dummy_ifindex, n)
                    .map_err(|e| io_errno(e, "cannot create a memory port"))?
            }
            _ => return Err(Error::new(EAFNOSUPPORT, 0, "unsupported vport type")),
        };
        let counters: Arc<VportCounters> = Arc::default();
        let shared = Arc::new(PortShared {
            port_no,
            upcall_pids: ArcSwap::from_pointee(upcall_pids.clone()),
            counters: counters.clone(),
        });
        let vport = Vport {
            port_no,
            kind,
            name: name.to_owned(),
            upcall_pids,
            shared,
            options,
            device,
            counters,
        };
        Ok((vport, queues))
    }

    /// Hands the port's queues to the packet threads, queue `i` to thread `i`.
    pub fn attach(&self, reg: &Registry, dp: &Arc<DpShared>, queues: NewQueues) {
        reg.with_pmd(|pmd| {
            for (i, q) in queues.into_iter().enumerate() {
                pmd.add_port(i, dp.clone(), self.shared.clone(), q);
            }
        });
    }

    /// Takes the port's queues back from the packet threads, which closes the device.
    pub fn detach(self, reg: &Registry, dp_ifindex: i32) {
        reg.with_pmd(|pmd| pmd.remove_port(dp_ifindex, self.port_no));
        if !self.device.wait_gone(DEVICE_GONE_WAIT) {
            tracing::warn!(port = self.name, "the port's device outlived its removal");
        }
    }

    /// Sets new upcall pids and publishes them.
    pub fn set_upcall_pids(&mut self, pids: Vec<u32>) {
        self.shared.upcall_pids.store(Arc::new(pids.clone()));
        self.upcall_pids = pids;
    }

    /// Statistics as `ovs_vport_get_stats` reports them: the device's own counters for real
    /// devices (what `ip -s link` shows), the datapath's for memory ports.
    pub fn stats(&self) -> OvsVportStats {
        if let Some(mut s) = self.device.sysfs_stats(&self.name) {
            // The device counted them as received; for whoever reads the port they are lost,
            // as a kernel rx handler never loses them.
            s.rx_dropped += self.counters.rx_dropped.load(Ordering::Relaxed);
            return s;
        }
        let c = &self.counters;
        OvsVportStats {
            rx_packets: c.rx_packets.load(Ordering::Relaxed),
            tx_packets: c.tx_packets.load(Ordering::Relaxed),
            rx_bytes: c.rx_bytes.load(Ordering::Relaxed),
            tx_bytes: c.tx_bytes.load(Ordering::Relaxed),
            rx_errors: 0,
            tx_errors: 0,
            rx_dropped: c.rx_dropped.load(Ordering::Relaxed),
            tx_dropped: c.tx_dropped.load(Ordering::Relaxed),
        }
    }

    /// The reply/notification message describing this port of `dp`.
    pub fn to_msg(&self, dp: &Datapath, cmd: OvsVportCmd) -> VportMsg {
        let mut m = VportMsg::new(cmd, dp.ifindex);
        m.port_no = Some(self.port_no);
        m.kind = Some(self.kind);
        m.name = Some(self.name.clone());
        m.ifindex = Some(self.device.ifindex());
        m.stats = Some(self.stats());
        // Without VPORT_PIDS the kernel reports only the first pid, as a plain u32.
        m.upcall_pids = Some(if dp.user_features & OVS_DP_F_VPORT_PIDS != 0 {
            self.upcall_pids.clone()
        } else {
            self.upcall_pids.iter().take(1).copied().collect()
        });
        if matches!(
            self.kind,
            OvsVportType::OVS_VPORT_TYPE_VXLAN
                | OvsVportType::OVS_VPORT_TYPE_GENEVE
                | OvsVportType::OVS_VPORT_TYPE_GRE
        ) {
            m.options = self.options.clone();
        }
        m
    }

    /// Encodes [`to_msg`](Self::to_msg) as a whole message.
    pub fn encode(&self, dp: &Datapath, cmd: OvsVportCmd, seq: u32, pid: u32) -> Vec<u8> {
        let m = self.to_msg(dp, cmd);
        let mut buf = Vec::with_capacity(m.buffer_len());
        m.emit(&mut buf, FAMILY_VPORT, 0, seq, pid);
        buf
    }
}

/// Dispatches a non-dump `ovs_vport` request.
pub fn handle(reg: &Registry, ctx: &Ctx<'_>, msg: &NlMsg<'_>) -> Result<Outcome> {
    let req = VportMsg::parse(msg.payload)?;
    match req.cmd {
        OvsVportCmd::OVS_VPORT_CMD_NEW => vport_cmd_new(reg, ctx, req),
        OvsVportCmd::OVS_VPORT_CMD_DEL => vport_cmd_del(reg, ctx, &req),
        OvsVportCmd::OVS_VPORT_CMD_GET => vport_cmd_get(reg, ctx, &req),
        OvsVportCmd::OVS_VPORT_CMD_SET => vport_cmd_set(reg, ctx, &req),
        _ => Err(Error::new(EOPNOTSUPP, 0, "unknown vport command")),
    }
}

/// `lookup_vport`: by name across datapaths, else by number in `dp_ifindex`'s datapath.
/// Returns the datapath's ifindex and the port number.
fn lookup(st: &State, req: &VportMsg) -> Result<(i32, u32)> {
    if req.ifindex.is_some() {
        return Err(Error::new(
            EOPNOTSUPP,
            0,
            "ports cannot be looked up by ifindex",
        ));
    }
    if let Some(name) = &req.name {
        let found = st.dps.values().find_map(|dp| {
            dp.ports
                .values()
                .find(|p| &p.name == name)
                .map(|p| (dp.ifindex, p.port_no))
        });
        return match found {
            Some((ifindex, _)) if req.dp_ifindex != 0 && req.dp_ifindex != ifindex => {
                Err(Error::new(ENODEV, 0, "port belongs to another datapath"))
            }
            Some(found) => Ok(found),
            None => Err(Error::new(ENODEV, 0, "no such port")),
        };
    }
    if let Some(port_no) = req.port_no {
        if port_no >= DP_MAX_PORTS {
            return Err(Error::new(EFBIG, 0, "port number out of range"));
        }
        let dp = st
            .dps
            .get(&req.dp_ifindex)
            .ok_or(Error::new(ENODEV, 0, "no such datapath"))?;
        return match dp.ports.contains_key(&port_no) {
            true => Ok((dp.ifindex, port_no)),
            false => Err(Error::new(ENODEV, 0, "no such port")),
        };
    }
    Err(Error::new(EINVAL, 0, "port lookup needs NAME or PORT_NO"))
}

fn publish(reg: &Registry, ctx: &Ctx<'_>, msg: Vec<u8>) -> Outcome {
    reg.notify(GROUP_VPORT, &msg, ctx);
    if ctx.echo() {
        Outcome::Reply(msg)
    } else {
        Outcome::Silent
    }
}

/// OVS_VPORT_CMD_NEW.
pub fn vport_cmd_new(reg: &Registry, ctx: &Ctx<'_>, req: VportMsg) -> Result<Outcome> {
    let name = req
        .name
        .as_deref()
        .ok_or_else(|| missing("vport NEW needs NAME"))?;
    let kind = req.kind.ok_or_else(|| missing("vport NEW needs TYPE"))?;
    let pids = req
        .upcall_pids
        .clone()
        .ok_or_else(|| missing("vport NEW needs UPCALL_PID"))?;
    if req.ifindex.is_some() && kind != OvsVportType::OVS_VPORT_TYPE_INTERNAL {
        return Err(Error::new(
            EOPNOTSUPP,
            0,
            "only internal ports take an ifindex",
        ));
    }
    let msg = reg.with_state(|st| -> Result<Vec<u8>> {
        let dp = st
            .dps
            .get(&req.dp_ifindex)
            .ok_or(Error::new(ENODEV, 0, "no such datapath"))?;
        let port_no = match req.port_no.unwrap_or(0) {
            0 => (1..DP_MAX_PORTS)
                .find(|n| !dp.ports.contains_key(n))
                .ok_or(Error::new(EFBIG, 0, "no free port number"))?,
            n if n >= DP_MAX_PORTS => return Err(Error::new(EFBIG, 0, "port number out of range")),
            n if dp.ports.contains_key(&n) => {
                return Err(Error::new(EBUSY, 0, "port number in use"))
            }
            n => n,
        };
        let dp_ifindex = dp.ifindex;
        let (vport, queues) =
            Vport::create(reg, st, port_no, kind, name, pids, req.options.clone())?;
        let dp = st
            .dps
            .get_mut(&dp_ifindex)
            .ok_or(Error::new(ENODEV, 0, "no such datapath"))?;
        let msg = vport.encode(dp, OvsVportCmd::OVS_VPORT_CMD_NEW, ctx.seq, ctx.peer.portid);
        vport.attach(reg, &dp.shared, queues);
        dp.ports.insert(port_no, vport);
        Ok(msg)
    })?;
    tracing::info!(port = name, "added port");
    Ok(publish(reg, ctx, msg))
}

/// OVS_VPORT_CMD_DEL: the local port cannot be removed.
pub fn vport_cmd_del(reg: &Registry, ctx: &Ctx<'_>, req: &VportMsg) -> Result<Outcome> {
    let (msg, name) = reg.with_state(|st| -> Result<_> {
        let (dp_ifindex, port_no) = lookup(st, req)?;
        if port_no == OVSP_LOCAL {
            return Err(Error::new(EINVAL, 0, "the local port cannot be deleted"));
        }
        let dp = st
            .dps
            .get_mut(&dp_ifindex)
            .ok_or(Error::new(ENODEV, 0, "no such datapath"))?;
        let vport = dp
            .ports
            .remove(&port_no)
            .ok_or(Error::new(ENODEV, 0, "no such port"))?;
        let msg = vport.encode(dp, OvsVportCmd::OVS_VPORT_CMD_DEL, ctx.seq, ctx.peer.portid);
        let name = vport.name.clone();
        vport.detach(reg, dp_ifindex);
        Ok((msg, name))
    })?;
    tracing::info!(port = name, "deleted port");
    Ok(publish(reg, ctx, msg))
}

/// OVS_VPORT_CMD_GET.
pub fn vport_cmd_get(reg: &Registry, ctx: &Ctx<'_>, req: &VportMsg) -> Result<Outcome> {
    reg.with_state(|st| {
        let (dp_ifindex, port_no) = lookup(st, req)?;
        let dp = st
            .dps
            .get(&dp_ifindex)
            .ok_or(Error::new(ENODEV, 0, "no such datapath"))?;
        let vport = dp
            .ports
            .get(&port_no)
            .ok_or(Error::new(ENODEV, 0, "no such port"))?;
        Ok(Outcome::Reply(vport.encode(
            dp,
            OvsVportCmd::OVS_VPORT_CMD_GET,
            ctx.seq,
            ctx.peer.portid,
        )))
    })
}

/// OVS_VPORT_CMD_SET: only the upcall pids can change.
pub fn vport_cmd_set(reg: &Registry, ctx: &Ctx<'_>, req: &VportMsg) -> Result<Outcome> {
    let msg = reg.with_state(|st| -> Result<Vec<u8>> {
        let (dp_ifindex, port_no) = lookup(st, req)?;
        let dp = st
            .dps
            .get_mut(&dp_ifindex)
            .ok_or(Error::new(ENODEV, 0, "no such datapath"))?;
        let vport = dp
            .ports
            .get_mut(&port_no)
            .ok_or(Error::new(ENODEV, 0, "no such port"))?;
        if req.kind.is_some_and(|k| k != vport.kind) {
            return Err(Error::new(EINVAL, 0, "a port's type cannot change"));
        }
        if req.options.is_some() {
            return Err(Error::new(EOPNOTSUPP, 0, "port options cannot change"));
        }
        if let Some(pids) = &req.upcall_pids {
            vport.set_upcall_pids(pids.clone());
        }
        let vport = dp
            .ports
            .get(&port_no)
            .ok_or(Error::new(ENODEV, 0, "no such port"))?;
        Ok(vport.encode(dp, OvsVportCmd::OVS_VPORT_CMD_SET, ctx.seq, ctx.peer.portid))
    })?;
    Ok(publish(reg, ctx, msg))
}

/// The ports of one datapath in ascending number.
struct VportDump<'r> {
    reg: &'r Registry,
    dp_ifindex: i32,
    after: Option<u32>,
}

impl Dump for VportDump<'_> {
    fn fill(&mut self, buf: &mut Vec<u8>, budget: usize) -> DumpStep {
        self.reg.with_state(|st| {
            let Some(dp) = st.dps.get(&self.dp_ifindex) else {
                // The dump callback's error travels inside NLMSG_DONE.
                return DumpStep::Done(-ENODEV);
            };
            let from = self
                .after
                .map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
            for (&port_no, vport) in dp.ports.range((from, std::ops::Bound::Unbounded)) {
                let m = vport.to_msg(dp, OvsVportCmd::OVS_VPORT_CMD_GET);
                if !buf.is_empty() && buf.len() + m.buffer_len() > budget {
                    return DumpStep::More;
                }
                m.emit(buf, FAMILY_VPORT, 0, 0, 0);
                self.after = Some(port_no);
            }
            DumpStep::Done(0)
        })
    }
}

/// OVS_VPORT_CMD_GET with `NLM_F_DUMP`: every port of `dp_ifindex`'s datapath.
pub fn vport_cmd_dump(reg: &Registry, _ctx: &Ctx<'_>, msg: &NlMsg<'_>, out: &mut Responder<'_>) {
    let dp_ifindex =
        userdp_protocol::ovs::OvsHeader::parse(msg.payload).map_or(0, |h| h.dp_ifindex);
    out.dump(&mut VportDump {
        reg,
        dp_ifindex,
        after: None,
    });
}
