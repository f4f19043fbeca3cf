//! The datapath registry and the command handlers of the six OVS families.
//!
//! ≈ `net/openvswitch/datapath.c` (`dp_genl_families`, `ovs_dp_cmd_*`, `ovs_vport_cmd_*`,
//! `ovs_flow_cmd_*`, `ovs_packet_cmd_execute`), `meter.c` and the ct_limit part of
//! `conntrack.c`, plus the `nlctrl` controller of `net/netlink/genetlink.c`.
//!
//! Locking contract (the only lock of the control plane lives here):
//! - [`Registry::state`] is the control lock. Every mutation of datapaths, ports, flows,
//!   meters and zone limits happens while holding it, and holders never block on I/O to a
//!   client (replies are built under the lock and sent after it is released; dumps take it
//!   once per chunk).
//! - Requests are parsed and their keys and actions validated *before* the lock is taken, so
//!   the critical section only looks up, mutates and publishes.
//! - Packet threads never take it: they read what the control plane publishes (the flow
//!   classifier's lock-free tables, atomics for statistics).
//! - Lock order: `state` → `pmd`. Holding `pmd`, the control plane may wait for packet
//!   threads to acknowledge a port removal; they never take either lock, so this cannot
//!   deadlock. The transport's per-connection send lock is only taken after `state` has been
//!   released.

pub mod ct_limit;
pub mod ctrl;
pub mod datapath;
pub mod flow;
pub mod meter;
pub mod monitor;
pub mod packet;
pub mod vport;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};

use std::hash::BuildHasher;

use parking_lot::Mutex;
use userdp_protocol::errno::{EINVAL, ENOENT, EOPNOTSUPP, EPERM};
use userdp_protocol::genl::ctrl::{FamilyInfo, FamilySpec, GENL_ADMIN_PERM, GENL_UNS_ADMIN_PERM};
use userdp_protocol::genl::{GenlHdr, GENL_ID_CTRL};
use userdp_protocol::nl::{NlMsg, NLM_F_ACK, NLM_F_ECHO};
use userdp_protocol::ovs::{
    OVS_CT_LIMIT_FAMILY, OVS_DATAPATH_FAMILY, OVS_FLOW_FAMILY, OVS_METER_FAMILY, OVS_PACKET_FAMILY,
    OVS_VPORT_FAMILY,
};
use userdp_protocol::Error;

use crate::pmd::Pmd;
use crate::transport::{Notifier, Peer, Responder, Service};

/// Family id of `ovs_datapath`. Ids are fixed so they stay stable across daemon restarts
/// (OVS caches them for its lifetime); the kernel allocates from 0x13 upwards, so any
/// value above `GENL_ID_CTRL` is equally valid.
pub const FAMILY_DATAPATH: u16 = 0x20;
/// Family id of `ovs_vport`.
pub const FAMILY_VPORT: u16 = 0x21;
/// Family id of `ovs_flow`.
pub const FAMILY_FLOW: u16 = 0x22;
/// Family id of `ovs_packet`.
pub const FAMILY_PACKET: u16 = 0x23;
/// Family id of `ovs_meter`.
pub const FAMILY_METER: u16 = 0x24;
/// Family id of `ovs_ct_limit`.
pub const FAMILY_CT_LIMIT: u16 = 0x25;

/// Multicast group of `ovs_datapath` (group ids are a namespace of their own; we reuse the
/// family ids so each family's only group is easy to recognise in traces).
pub const GROUP_DATAPATH: u32 = FAMILY_DATAPATH as u32;
/// Multicast group of `ovs_vport`: the one OVS listens to.
pub const GROUP_VPORT: u32 = FAMILY_VPORT as u32;
/// Multicast group of `ovs_flow`.
pub const GROUP_FLOW: u32 = FAMILY_FLOW as u32;
/// Multicast group of `ovs_meter`.
pub const GROUP_METER: u32 = FAMILY_METER as u32;
/// Multicast group of `ovs_ct_limit`.
pub const GROUP_CT_LIMIT: u32 = FAMILY_CT_LIMIT as u32;

/// The id we give each OVS family, by name.
pub fn family_id(name: &str) -> Option<u16> {
    Some(match name {
        OVS_DATAPATH_FAMILY => FAMILY_DATAPATH,
        OVS_VPORT_FAMILY => FAMILY_VPORT,
        OVS_FLOW_FAMILY => FAMILY_FLOW,
        OVS_PACKET_FAMILY => FAMILY_PACKET,
        OVS_METER_FAMILY => FAMILY_METER,
        OVS_CT_LIMIT_FAMILY => FAMILY_CT_LIMIT,
        _ => return None,
    })
}

/// Every family we serve (nlctrl first, then the six in registration order) as nlctrl
/// describes them.
pub fn families() -> Vec<FamilyInfo> {
    family_table().to_vec()
}

/// [`families`], built once: every request looks its family up here.
pub fn family_table() -> &'static [FamilyInfo] {
    static TABLE: OnceLock<Vec<FamilyInfo>> = OnceLock::new();
    TABLE.get_or_init(build_families)
}

fn build_families() -> Vec<FamilyInfo> {
    let mut v = vec![ctrl_info()];
    for spec in userdp_protocol::genl::ctrl::ovs_families() {
        v.push(info_of(spec));
    }
    v
}

fn ctrl_info() -> FamilyInfo {
    userdp_protocol::genl::ctrl::nlctrl_family().info(
        GENL_ID_CTRL,
        &[userdp_protocol::genl::ctrl::NLCTRL_NOTIFY_GROUP],
    )
}

fn info_of(spec: &FamilySpec) -> FamilyInfo {
    let id = family_id(spec.name).unwrap_or(0);
    let groups: Vec<u32> = spec.mcast_groups.iter().map(|_| u32::from(id)).collect();
    spec.info(id, &groups)
}

/// How ports are backed: real devices, or memory only (tests and benches without root).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PortBackend {
    /// Internal ports are TAP devices; netdev ports attach to existing interfaces.
    #[default]
    System,
    /// Every port is a memory queue; internal ports get synthetic ifindexes and netdev ports
    /// need no interface. Lets the control plane be tested unprivileged.
    Dummy,
}

/// Configuration of the datapath service.
#[derive(Debug, Clone)]
pub struct DpConfig {
    /// Port backing.
    pub backend: PortBackend,
    /// Packet threads.
    pub threads: usize,
    /// Packet threads spin instead of sleeping when idle.
    pub busy_poll: bool,
    /// `netdev` ports send frames that are not GSO through AF_XDP where the kernel allows.
    pub af_xdp: bool,
}

impl Default for DpConfig {
    fn default() -> Self {
        DpConfig {
            backend: PortBackend::System,
            threads: 1,
            busy_poll: false,
            af_xdp: true,
        }
    }
}

impl DpConfig {
    /// How `netdev` ports attach to their interface.
    pub fn netdev_options(&self) -> crate::port::afpacket::NetdevOptions {
        crate::port::afpacket::NetdevOptions {
            af_xdp_tx: self.af_xdp,
            ..Default::default()
        }
    }

    /// Memory-backed ports (tests), one packet thread.
    pub fn dummy() -> Self {
        DpConfig {
            backend: PortBackend::Dummy,
            ..DpConfig::default()
        }
    }
}

/// Everything the control lock protects.
#[derive(Debug, Default)]
pub struct State {
    /// Datapaths by `dp_ifindex`.
    pub dps: BTreeMap<i32, datapath::Datapath>,
    /// Connection-tracking zone limits (per network namespace in the kernel, so global here).
    pub ct_limits: ct_limit::CtLimits,
    /// Next synthetic ifindex for dummy devices.
    pub next_dummy_ifindex: u32,
}

impl State {
    /// The datapath a request addresses: by `name` if given, else by `dp_ifindex`.
    pub fn dp_lookup(
        &mut self,
        dp_ifindex: i32,
        name: Option<&str>,
    ) -> Option<&mut datapath::Datapath> {
        match name {
            Some(n) => self.dps.values_mut().find(|dp| dp.name == n),
            None => self.dps.get_mut(&dp_ifindex),
        }
    }
}

/// The datapath service: the six families and nlctrl, served to every connection.
pub struct Registry {
    cfg: DpConfig,
    state: Mutex<State>,
    notifier: OnceLock<Notifier>,
    pmd: Mutex<Option<Pmd>>,
    hash_seed: u32,
    stopping: Arc<AtomicBool>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

/// What a handler produced for one request.
#[derive(Debug)]
pub enum Outcome {
    /// Nothing to send (a silent success, e.g. a flow put without `NLM_F_ECHO`).
    Silent,
    /// One reply datagram for the requester.
    Reply(Vec<u8>),
}

/// Context a handler needs besides the message: who asked and how.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The requesting connection.
    pub peer: &'a Peer,
    /// The request's `nlmsg_flags`.
    pub flags: u16,
    /// The request's seq (notifications carry it).
    pub seq: u32,
    /// Monotonic milliseconds now.
    pub now_ms: u64,
}

impl Ctx<'_> {
    /// The request asked for an echo of the resulting notification.
    pub fn echo(&self) -> bool {
        self.flags & NLM_F_ECHO != 0
    }
}

impl Registry {
    /// A registry with no datapath.
    ///
    /// Packet threads start with it; if they cannot (no eventfd or epoll), the registry still
    /// serves the control plane and ports carry no traffic.
    pub fn new(cfg: DpConfig) -> Self {
        let pmd = match Pmd::start(cfg.threads, cfg.busy_poll) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::error!(error = %e, "cannot start packet threads");
                None
            }
        };
        let hash_seed = foldhash::fast::RandomState::default().hash_one(0x6861_7368_u64) as u32;
        Registry {
            cfg,
            state: Mutex::new(State {
                next_dummy_ifindex: 1_000_000,
                ..State::default()
            }),
            notifier: OnceLock::new(),
            pmd: Mutex::new(pmd),
            hash_seed,
            stopping: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Starts watching host links so that `netdev` ports whose interface disappears are
    /// detached and announced, as the kernel does. Only meaningful with real devices.
    pub fn watch_links(self: &Arc<Self>) {
        if self.cfg.backend != PortBackend::System {
            return;
        }
        if let Err(e) = monitor::spawn(self, self.stopping.clone()) {
            tracing::warn!(error = %e, "cannot watch host links; removed interfaces will keep their ports");
        }
    }

    /// Starts a thread `name` that runs `f` with the registry once a second, until the registry
    /// stops or is dropped.
    fn every_second(self: &Arc<Self>, name: &str, f: impl Fn(&Registry) + Send + 'static) {
        let weak = Arc::downgrade(self);
        let stop = self.stopping.clone();
        let spawned = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Acquire) {
                    std::thread::sleep(std::time::Duration::from_secs(1));
                    let Some(reg) = weak.upgrade() else { return };
                    f(&reg);
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(thread = name, error = %e, "cannot start a periodic thread");
        }
    }

    /// Starts watching for packet captures on attached interfaces, once a second: a port whose
    /// interface is captured (`tcpdump -i eth1`) sends where the capture sees outgoing frames,
    /// as the kernel module's ports do ([`crate::port::capture`]).
    pub fn watch_captures(self: &Arc<Self>) {
        if self.cfg.backend != PortBackend::System {
            return;
        }
        self.every_second("userdp-capture", |reg| {
            let Ok(scan) = crate::port::capture::scan() else {
                return;
            };
            reg.with_state(|st| {
                for v in st.dps.values().flat_map(|dp| dp.ports.values()) {
                    let crate::port::Device::Netdev { ifindex, capture } = &v.device else {
                        continue;
                    };
                    if !capture.update(*ifindex, &scan) {
                        continue;
                    }
                    if capture.is_on() {
                        tracing::info!(
                            port = v.name,
                            "a capture is open on the port's interface: frames leave through \
                             its transmit path, where the capture sees them"
                        );
                    } else {
                        tracing::info!(port = v.name, "capture closed: fast transmit");
                    }
                }
            });
        });
    }

    /// Starts the periodic re-ranking of every datapath's classifier subtables by hits, so the
    /// busiest masks are probed first (the kernel's mask cache and dpcls's ranking serve the
    /// same purpose). Runs once a second under the control lock; stops with the registry.
    pub fn rank_subtables(self: &Arc<Self>) {
        self.every_second("userdp-rank", |reg| {
            reg.with_state(|st| {
                for dp in st.dps.values() {
                    dp.flows.cls.rerank();
                }
            });
        });
    }

    /// Runs `f` with the packet threads, if they run.
    pub fn with_pmd<R>(&self, f: impl FnOnce(&Pmd) -> R) -> Option<R> {
        self.pmd.lock().as_ref().map(f)
    }

    /// Number of packet threads (the number of queues each port gets).
    pub fn n_threads(&self) -> usize {
        self.with_pmd(Pmd::n_threads).unwrap_or(1)
    }

    /// The seed of the `hash` action's L4 hash.
    pub fn hash_seed(&self) -> u32 {
        self.hash_seed
    }

    /// The configuration.
    pub fn config(&self) -> &DpConfig {
        &self.cfg
    }

    /// Runs `f` under the control lock.
    pub fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock())
    }

    /// Sends `msg` to the members of `group`, leaving out the requester when it got an echo.
    pub fn notify(&self, group: u32, msg: &[u8], ctx: &Ctx<'_>) {
        if let Some(n) = self.notifier.get() {
            let exclude = ctx.echo().then_some(ctx.peer.portid);
            n.multicast(group, msg, exclude);
        }
    }

    /// Sends a device-driven notification (seq 0, pid 0) to every member of `group`.
    pub fn notify_all(&self, group: u32, msg: &[u8]) {
        if let Some(n) = self.notifier.get() {
            n.multicast(group, msg, None);
        }
    }

    /// The transport's notifier, once attached.
    pub fn notifier(&self) -> Option<&Notifier> {
        self.notifier.get()
    }
}

/// Op flags of `cmd` in `family`, or `None` if the family has no such op.
fn op_flags(info: &FamilyInfo, cmd: u8) -> Option<u32> {
    info.ops
        .iter()
        .find(|(id, _)| *id == u32::from(cmd))
        .map(|(_, flags)| *flags)
}

impl Service for Registry {
    fn attach(&self, notifier: &Notifier) {
        let _ = self.notifier.set(notifier.clone());
    }

    fn request(&self, peer: &Peer, msg: &NlMsg<'_>, out: &mut Responder<'_>) {
        let h = msg.header;
        let genl = match GenlHdr::parse(msg.payload) {
            Ok(g) => g,
            Err(e) => return out.fail(&e),
        };
        let families = family_table();
        let Some(info) = families.iter().find(|f| f.id == h.kind) else {
            // genl_rcv_msg: an unregistered family id.
            return out.errno(ENOENT, None);
        };
        let Some(flags) = op_flags(info, genl.cmd) else {
            return out.errno(EOPNOTSUPP, None);
        };
        if flags & (GENL_ADMIN_PERM | GENL_UNS_ADMIN_PERM) != 0 && !peer.may_admin() {
            return out.errno(EPERM, None);
        }
        let ctx = Ctx {
            peer,
            flags: h.flags,
            seq: h.seq,
            now_ms: crate::sys::clock::monotonic_ms(),
        };
        if h.is_dump() {
            return match h.kind {
                GENL_ID_CTRL => ctrl::ctrl_cmd_dump(self, &ctx, msg, out),
                FAMILY_DATAPATH => datapath::dp_cmd_dump(self, &ctx, msg, out),
                FAMILY_VPORT => vport::vport_cmd_dump(self, &ctx, msg, out),
                FAMILY_FLOW => flow::flow_cmd_dump(self, &ctx, msg, out),
                // Families whose GET has no dumpit.
                _ => out.errno(EOPNOTSUPP, None),
            };
        }
        let result: Result<Outcome, Error> = match h.kind {
            GENL_ID_CTRL => ctrl::ctrl_cmd_getfamily(families, &ctx, msg),
            FAMILY_DATAPATH => datapath::handle(self, &ctx, msg),
            FAMILY_VPORT => vport::handle(self, &ctx, msg),
            FAMILY_FLOW => flow::handle(self, &ctx, msg),
            FAMILY_PACKET => packet::handle(self, &ctx, msg),
            FAMILY_METER => meter::handle(self, &ctx, msg),
            FAMILY_CT_LIMIT => ct_limit::handle(self, &ctx, msg),
            _ => Err(Error::new(ENOENT, 0, "unknown family")),
        };
        match result {
            Ok(Outcome::Silent) => {}
            Ok(Outcome::Reply(bytes)) => out.reply(bytes),
            Err(e) => return out.fail(&e),
        }
        if h.flags & NLM_F_ACK != 0 {
            out.ack();
        }
    }

    fn shutdown(&self) {
        // Stopping the packet threads drops every queue, which closes the TAP devices we
        // created (as unloading the kernel module removes its internal ports) and removes the
        // host-side drop filters of attached interfaces.
        self.stopping
            .store(true, std::sync::atomic::Ordering::Release);
        if let Some(mut pmd) = self.pmd.lock().take() {
            pmd.shutdown();
        }
        let mut st = self.state.lock();
        for v in st.dps.values().flat_map(|dp| dp.ports.values()) {
            v.device.wait_gone(vport::DEVICE_GONE_WAIT);
        }
        st.dps.clear();
    }
}

/// `EINVAL` for a request missing a required attribute.
pub(crate) fn missing(what: &'static str) -> Error {
    Error::new(EINVAL, 0, what)
}

impl Registry {
    /// The test side of a memory-backed port (`PortBackend::Dummy`), by datapath and port name.
    pub fn dummy_port(&self, port_name: &str) -> Option<crate::port::dummy::DummyPort> {
        self.with_state(|st| {
            st.dps
                .values()
                .flat_map(|dp| dp.ports.values())
                .find(|p| p.name == port_name)
                .and_then(|p| match &p.device {
                    crate::port::Device::Dummy { port, .. } => Some(port.clone()),
                    _ => None,
                })
        })
    }
}
