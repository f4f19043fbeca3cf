//! The datapath client: builds the requests `ovs-dpctl` sends, sends them over a
//! [`Transport`], and decodes the replies into the plain structs of [`super::model`].
//!
//! ≈ `lib/dpif-netlink.c` (`dpif_netlink_dp_*`, `dpif_netlink_vport_*`,
//! `dpif_netlink_flow_*`) in OVS. Request builders are pure functions so tests can check the
//! exact bytes; [`Dpif`] adds sequence numbers, reply matching and errno mapping.
//!
//! Differences from ovs-dpctl, on purpose: opening a datapath is a plain `OVS_DP_CMD_GET`
//! (ovs-dpctl re-sends the user-feature negotiation `SET`s, which can change the dispatch
//! mode of a datapath ovs-vswitchd is using), and no netdev is touched on the host.

use std::io;

use userdp_protocol::genl::ctrl::{FamilyInfo, GetFamily};
use userdp_protocol::nl::{
    messages, ErrorMsg, NLMSG_DONE, NLMSG_ERROR, NLM_F_CREATE, NLM_F_DUMP, NLM_F_ECHO,
    NLM_F_REQUEST,
};
use userdp_protocol::ovs::action::Actions;
use userdp_protocol::ovs::common::RawAttrs;
use userdp_protocol::ovs::datapath::{
    DatapathMsg, OvsDpCmd, OVS_DP_F_UNALIGNED, OVS_DP_F_VPORT_PIDS,
};
use userdp_protocol::ovs::flow::{FlowMsg, OvsFlowCmd};
use userdp_protocol::ovs::key::Key;
use userdp_protocol::ovs::vport::{
    OvsTunnelAttr, OvsVportCmd, OvsVportType, TunnelOptions, VportMsg, VportOptions,
};
use userdp_protocol::ovs::{OVS_DATAPATH_FAMILY, OVS_FLOW_FAMILY, OVS_VPORT_FAMILY};

use super::model::{DpInfo, DpStats, FlowInfo, FlowStats, MegaflowStats, PortInfo};

/// Errors are positive errno values, as `dpif_*` functions return them.
pub type Errno = i32;

const ENODEV: Errno = libc::ENODEV;
const EPROTO: Errno = libc::EPROTO;

/// How requests reach the datapath: the daemon connection, or a test double.
pub trait Transport {
    /// Sends one request and returns every datagram received in response.
    fn transact(&mut self, request: &[u8]) -> io::Result<Vec<Vec<u8>>>;
    /// Sends a dump request; returns the messages (one netlink message each) and the
    /// `NLMSG_DONE` status (0 or a positive errno). A request refused before the dump
    /// started is an `Err`.
    fn dump(&mut self, request: &[u8]) -> io::Result<(Vec<Vec<u8>>, Errno)>;
    /// A fresh sequence number.
    fn next_seq(&mut self) -> u32;
    /// This connection's netlink portid.
    fn portid(&self) -> u32;
}

impl Transport for crate::transport::Client {
    fn transact(&mut self, request: &[u8]) -> io::Result<Vec<Vec<u8>>> {
        crate::transport::Client::transact(self, request)
    }

    fn dump(&mut self, request: &[u8]) -> io::Result<(Vec<Vec<u8>>, Errno)> {
        let mut d = crate::transport::Client::dump(self, request)?;
        let mut msgs = Vec::new();
        for m in d.by_ref() {
            msgs.push(m?);
        }
        Ok((msgs, d.status().map_or(0, |s| s.saturating_neg())))
    }

    fn next_seq(&mut self) -> u32 {
        crate::transport::Client::next_seq(self)
    }

    fn portid(&self) -> u32 {
        crate::transport::Client::portid(self)
    }
}

fn io_errno(e: &io::Error) -> Errno {
    e.raw_os_error().unwrap_or(EPROTO)
}

/// The three family ids the commands use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Families {
    /// `ovs_datapath`.
    pub datapath: u16,
    /// `ovs_vport`.
    pub vport: u16,
    /// `ovs_flow`.
    pub flow: u16,
}

/// `CTRL_CMD_GETFAMILY` for `name`.
pub fn req_get_family(name: &str, seq: u32, pid: u32) -> Vec<u8> {
    let mut b = Vec::new();
    GetFamily::by_name(name).emit(&mut b, NLM_F_REQUEST, seq, pid);
    b
}

/// `OVS_DP_CMD_GET` dump of every datapath (`dpif_netlink_dp_dump_start`).
pub fn req_dp_dump(f: &Families, seq: u32, pid: u32) -> Vec<u8> {
    let mut b = Vec::new();
    DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_GET, 0).emit(
        &mut b,
        f.datapath,
        NLM_F_REQUEST | NLM_F_ECHO | NLM_F_DUMP,
        seq,
        pid,
    );
    b
}

/// `OVS_DP_CMD_GET` by name, as `dpif_netlink_open` looks a datapath up (with the
/// `UPCALL_PID 0` it always adds).
pub fn req_dp_get(f: &Families, name: &str, seq: u32, pid: u32) -> Vec<u8> {
    let mut m = DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_GET, 0);
    m.name = Some(name.to_owned());
    m.upcall_pid = Some(0);
    let mut b = Vec::new();
    m.emit(&mut b, f.datapath, NLM_F_REQUEST | NLM_F_ECHO, seq, pid);
    b
}

/// `OVS_DP_CMD_GET` by `dp_ifindex` (`dpif_netlink_dp_get`: stats).
pub fn req_dp_stats(f: &Families, dp_ifindex: i32, seq: u32, pid: u32) -> Vec<u8> {
    let mut b = Vec::new();
    DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_GET, dp_ifindex).emit(
        &mut b,
        f.datapath,
        NLM_F_REQUEST | NLM_F_ECHO,
        seq,
        pid,
    );
    b
}

/// `OVS_DP_CMD_NEW`: name, upcall pid 0, and the features ovs-dpctl settles on with a
/// per-vport datapath (`UNALIGNED | VPORT_PIDS`).
pub fn req_dp_new(f: &Families, name: &str, seq: u32, pid: u32) -> Vec<u8> {
    let mut m = DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_NEW, 0);
    m.name = Some(name.to_owned());
    m.upcall_pid = Some(0);
    m.user_features = Some(OVS_DP_F_UNALIGNED | OVS_DP_F_VPORT_PIDS);
    let mut b = Vec::new();
    m.emit(&mut b, f.datapath, NLM_F_REQUEST | NLM_F_ECHO, seq, pid);
    b
}

/// `OVS_DP_CMD_DEL` of `dp_ifindex` (`dpif_netlink_destroy`).
pub fn req_dp_del(f: &Families, dp_ifindex: i32, seq: u32, pid: u32) -> Vec<u8> {
    let mut b = Vec::new();
    DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_DEL, dp_ifindex).emit(
        &mut b,
        f.datapath,
        NLM_F_REQUEST | NLM_F_ECHO,
        seq,
        pid,
    );
    b
}

/// `OVS_VPORT_CMD_GET` dump of one datapath's ports.
pub fn req_vport_dump(f: &Families, dp_ifindex: i32, seq: u32, pid: u32) -> Vec<u8> {
    let mut b = Vec::new();
    VportMsg::new(OvsVportCmd::OVS_VPORT_CMD_GET, dp_ifindex).emit(
        &mut b,
        f.vport,
        NLM_F_REQUEST | NLM_F_ECHO | NLM_F_DUMP,
        seq,
        pid,
    );
    b
}

/// How a port is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortKey {
    /// By number (`dpif_port_query_by_number`).
    Number(u32),
    /// By name (`dpif_port_query_by_name`).
    Name(String),
}

/// `OVS_VPORT_CMD_GET` of one port.
pub fn req_vport_get(f: &Families, dp_ifindex: i32, key: &PortKey, seq: u32, pid: u32) -> Vec<u8> {
    let mut m = VportMsg::new(OvsVportCmd::OVS_VPORT_CMD_GET, dp_ifindex);
    match key {
        PortKey::Number(n) => m.port_no = Some(*n),
        PortKey::Name(s) => m.name = Some(s.clone()),
    }
    let mut b = Vec::new();
    m.emit(&mut b, f.vport, NLM_F_REQUEST | NLM_F_ECHO, seq, pid);
    b
}

/// What `add-if` asks the datapath to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// The datapath port name (for tunnels the `*_sys[_PORT]` name).
    pub name: String,
    /// Vport type.
    pub kind: OvsVportType,
    /// Requested port number, if any.
    pub port_no: Option<u32>,
    /// Tunnel UDP destination port (`OVS_TUNNEL_ATTR_DST_PORT`).
    pub dst_port: Option<u16>,
}

/// `OVS_VPORT_CMD_NEW` (`dpif_netlink_port_add__`): upcall pid 0, as ovs-dpctl has no
/// handler sockets.
pub fn req_vport_new(
    f: &Families,
    dp_ifindex: i32,
    spec: &PortSpec,
    seq: u32,
    pid: u32,
) -> Vec<u8> {
    let mut m = VportMsg::new(OvsVportCmd::OVS_VPORT_CMD_NEW, dp_ifindex);
    m.port_no = spec.port_no;
    m.kind = Some(spec.kind);
    m.name = Some(spec.name.clone());
    m.upcall_pids = Some(vec![0]);
    if let Some(p) = spec.dst_port {
        m.options = Some(VportOptions::Tunnel(TunnelOptions {
            dst_port: Some(p),
            extension: None,
        }));
    }
    let mut b = Vec::new();
    m.emit(&mut b, f.vport, NLM_F_REQUEST | NLM_F_ECHO, seq, pid);
    b
}

/// `OVS_VPORT_CMD_DEL` by number.
pub fn req_vport_del(f: &Families, dp_ifindex: i32, port_no: u32, seq: u32, pid: u32) -> Vec<u8> {
    let mut m = VportMsg::new(OvsVportCmd::OVS_VPORT_CMD_DEL, dp_ifindex);
    m.port_no = Some(port_no);
    let mut b = Vec::new();
    m.emit(&mut b, f.vport, NLM_F_REQUEST | NLM_F_ECHO, seq, pid);
    b
}

/// `OVS_FLOW_CMD_GET` dump, non-terse (key, mask, stats, actions).
pub fn req_flow_dump(f: &Families, dp_ifindex: i32, seq: u32, pid: u32) -> Vec<u8> {
    let mut b = Vec::new();
    FlowMsg::new(OvsFlowCmd::OVS_FLOW_CMD_GET, dp_ifindex).emit(
        &mut b,
        f.flow,
        NLM_F_REQUEST | NLM_F_DUMP,
        seq,
        pid,
    );
    b
}

/// Key bytes as ovs sends them: `put_exclude_packet_type` drops `packet_type`, which only
/// the userspace datapath understands.
pub fn key_bytes(k: &Key) -> Vec<u8> {
    let mut k = k.clone();
    k.0.retain(|a| !matches!(a, userdp_protocol::ovs::key::KeyAttr::PacketType(_)));
    k.to_bytes()
}

/// `OVS_FLOW_CMD_GET` of one flow by UFID or key (`dpif_netlink_init_flow_get__`).
pub fn req_flow_get(
    f: &Families,
    dp_ifindex: i32,
    ufid: Option<&[u8; 16]>,
    key: Option<&Key>,
    seq: u32,
    pid: u32,
) -> Vec<u8> {
    let mut m = FlowMsg::new(OvsFlowCmd::OVS_FLOW_CMD_GET, dp_ifindex);
    m.ufid = ufid.map(|u| u.to_vec());
    m.key = key.map(|k| RawAttrs::new(key_bytes(k)));
    let mut b = Vec::new();
    m.emit(&mut b, f.flow, NLM_F_REQUEST | NLM_F_ECHO, seq, pid);
    b
}

/// A flow put (`struct dpif_flow_put`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowPut {
    /// UFID, if the flow text began with one.
    pub ufid: Option<[u8; 16]>,
    /// Key.
    pub key: Key,
    /// Mask.
    pub mask: Key,
    /// Actions.
    pub actions: Actions,
    /// `DPIF_FP_CREATE`.
    pub create: bool,
    /// `DPIF_FP_MODIFY`.
    pub modify: bool,
    /// `DPIF_FP_ZERO_STATS`.
    pub zero_stats: bool,
    /// Ask for the flow's stats in an echo (`-s`).
    pub want_stats: bool,
}

/// `OVS_FLOW_CMD_NEW` or `SET` (`dpif_netlink_init_flow_put`): NEW whenever `create` is
/// set, with `NLM_F_CREATE` unless `modify` is too; `ECHO` when stats are wanted.
pub fn req_flow_put(f: &Families, dp_ifindex: i32, put: &FlowPut, seq: u32, pid: u32) -> Vec<u8> {
    let cmd = if put.create {
        OvsFlowCmd::OVS_FLOW_CMD_NEW
    } else {
        OvsFlowCmd::OVS_FLOW_CMD_SET
    };
    let mut m = FlowMsg::new(cmd, dp_ifindex);
    m.ufid = put.ufid.map(|u| u.to_vec());
    let key = key_bytes(&put.key);
    if !key.is_empty() {
        m.key = Some(RawAttrs::new(key));
    }
    let mask = key_bytes(&put.mask);
    if !mask.is_empty() {
        m.mask = Some(RawAttrs::new(mask));
    }
    m.actions = Some(RawAttrs::new(put.actions.to_bytes()));
    m.clear = put.zero_stats;
    let mut flags = NLM_F_REQUEST;
    if !put.modify {
        flags |= NLM_F_CREATE;
    }
    if put.want_stats {
        flags |= NLM_F_ECHO;
    }
    let mut b = Vec::new();
    m.emit(&mut b, f.flow, flags, seq, pid);
    b
}

/// `OVS_FLOW_CMD_DEL` of one flow (by UFID if given, else by key), or of every flow when
/// both are `None` (`dpif_netlink_flow_flush`).
pub fn req_flow_del(
    f: &Families,
    dp_ifindex: i32,
    ufid: Option<&[u8; 16]>,
    key: Option<&Key>,
    want_stats: bool,
    seq: u32,
    pid: u32,
) -> Vec<u8> {
    let mut m = FlowMsg::new(OvsFlowCmd::OVS_FLOW_CMD_DEL, dp_ifindex);
    m.ufid = ufid.map(|u| u.to_vec());
    m.key = key
        .map(key_bytes)
        .filter(|k| !k.is_empty())
        .map(RawAttrs::new);
    let flags = if want_stats {
        NLM_F_REQUEST | NLM_F_ECHO
    } else {
        NLM_F_REQUEST
    };
    let mut b = Vec::new();
    m.emit(&mut b, f.flow, flags, seq, pid);
    b
}

/// Decodes a datapath reply (the message payload, genl header onwards).
pub fn parse_dp(payload: &[u8]) -> Result<DpInfo, Errno> {
    let m = DatapathMsg::parse(payload).map_err(|e| e.errno)?;
    let name = m.name.ok_or(EPROTO)?;
    let stats = m.stats.map_or(DpStats::default(), |s| DpStats {
        n_hit: s.n_hit,
        n_missed: s.n_missed,
        n_lost: s.n_lost,
        n_flows: s.n_flows,
    });
    Ok(DpInfo {
        name,
        dp_ifindex: m.dp_ifindex,
        stats,
        megaflow: m.megaflow_stats.map(|s| MegaflowStats {
            n_mask_hit: s.n_mask_hit,
            n_masks: s.n_masks,
            n_cache_hit: (s.n_cache_hit != 0).then_some(s.n_cache_hit),
        }),
        user_features: m.user_features,
        masks_cache_size: m.masks_cache_size,
    })
}

/// `get_vport_type`: the netdev type dpif-netlink reports for a vport type.
pub fn vport_type_name(t: OvsVportType) -> &'static str {
    match t {
        OvsVportType::OVS_VPORT_TYPE_NETDEV => "system",
        OvsVportType::OVS_VPORT_TYPE_INTERNAL => "internal",
        OvsVportType::OVS_VPORT_TYPE_GENEVE => "geneve",
        OvsVportType::OVS_VPORT_TYPE_GRE => "gre",
        OvsVportType::OVS_VPORT_TYPE_VXLAN => "vxlan",
        OvsVportType::OVS_VPORT_TYPE_LISP => "lisp",
        OvsVportType::OVS_VPORT_TYPE_STT => "stt",
        OvsVportType::OVS_VPORT_TYPE_ERSPAN => "erspan",
        OvsVportType::OVS_VPORT_TYPE_IP6ERSPAN => "ip6erspan",
        OvsVportType::OVS_VPORT_TYPE_IP6GRE => "ip6gre",
        OvsVportType::OVS_VPORT_TYPE_GTPU => "gtpu",
        OvsVportType::OVS_VPORT_TYPE_BAREUDP => "bareudp",
        _ => "unknown",
    }
}

/// `netdev_to_ovs_vport_type`: the vport type for a netdev type name (`None` = UNSPEC).
pub fn vport_type_from_name(t: &str) -> Option<OvsVportType> {
    Some(match t {
        "tap" | "system" => OvsVportType::OVS_VPORT_TYPE_NETDEV,
        "internal" => OvsVportType::OVS_VPORT_TYPE_INTERNAL,
        t if t.contains("stt") => OvsVportType::OVS_VPORT_TYPE_STT,
        "geneve" => OvsVportType::OVS_VPORT_TYPE_GENEVE,
        "vxlan" => OvsVportType::OVS_VPORT_TYPE_VXLAN,
        "lisp" => OvsVportType::OVS_VPORT_TYPE_LISP,
        "erspan" => OvsVportType::OVS_VPORT_TYPE_ERSPAN,
        "ip6erspan" => OvsVportType::OVS_VPORT_TYPE_IP6ERSPAN,
        "ip6gre" => OvsVportType::OVS_VPORT_TYPE_IP6GRE,
        "gre" => OvsVportType::OVS_VPORT_TYPE_GRE,
        "gtpu" => OvsVportType::OVS_VPORT_TYPE_GTPU,
        "bareudp" => OvsVportType::OVS_VPORT_TYPE_BAREUDP,
        _ => return None,
    })
}

/// Decodes a vport reply.
pub fn parse_port(payload: &[u8]) -> Result<(i32, PortInfo), Errno> {
    let m = VportMsg::parse(payload).map_err(|e| e.errno)?;
    let (Some(port_no), Some(kind), Some(name)) = (m.port_no, m.kind, m.name) else {
        return Err(EPROTO);
    };
    let dst_port = m.options.as_ref().and_then(|o| {
        o.find(OvsTunnelAttr::OVS_TUNNEL_ATTR_DST_PORT.into())
            .and_then(|b| Some(u16::from_ne_bytes([*b.first()?, *b.get(1)?])))
    });
    Ok((
        m.dp_ifindex,
        PortInfo {
            port_no,
            name,
            kind: vport_type_name(kind).to_owned(),
            stats: m.stats,
            dst_port,
        },
    ))
}

/// Decodes a flow reply. A UFID that is not 16 bytes is ignored, as OVS cannot hold it.
pub fn parse_flow(payload: &[u8]) -> Result<FlowInfo, Errno> {
    let m = FlowMsg::parse(payload).map_err(|e| e.errno)?;
    let key = match &m.key {
        Some(k) => Key::parse_lenient(&k.bytes, 0).map_err(|e| e.errno)?,
        None => Key::default(),
    };
    let mask = match &m.mask {
        Some(k) => Some(Key::parse_lenient(&k.bytes, 0).map_err(|e| e.errno)?),
        None => None,
    };
    let actions = match &m.actions {
        Some(a) => Some(Actions::parse(&a.bytes, 0).map_err(|e| e.errno)?),
        None => None,
    };
    let ufid = m.ufid.as_deref().and_then(|u| <[u8; 16]>::try_from(u).ok());
    let stats = m.stats.unwrap_or_default();
    Ok(FlowInfo {
        ufid,
        key,
        mask,
        stats: FlowStats {
            n_packets: stats.n_packets,
            n_bytes: stats.n_bytes,
            used: m.used.unwrap_or(0),
            tcp_flags: m.tcp_flags.map_or(0, u16::from),
        },
        actions,
    })
}

/// What one transaction answered: the error, or the replies' payloads (genl onwards).
fn replies(datagrams: &[Vec<u8>], seq: u32) -> Result<Vec<Vec<u8>>, Errno> {
    let mut out = Vec::new();
    for d in datagrams {
        for m in messages(d) {
            let m = m.map_err(|e| e.errno)?;
            if m.header.seq != seq {
                continue;
            }
            match m.header.kind {
                NLMSG_ERROR => {
                    let e = ErrorMsg::parse(m.header.flags, m.payload).map_err(|e| e.errno)?;
                    if e.error != 0 {
                        return Err(e.error.saturating_neg());
                    }
                }
                NLMSG_DONE => {}
                _ => out.push(m.payload.to_vec()),
            }
        }
    }
    Ok(out)
}

fn payload_of(message: &[u8]) -> Result<Vec<u8>, Errno> {
    messages(message)
        .next()
        .ok_or(EPROTO)?
        .map(|m| m.payload.to_vec())
        .map_err(|e| e.errno)
}

/// An open connection with its families resolved (`dpif_netlink_init`).
pub struct Dpif<'t> {
    t: &'t mut dyn Transport,
    families: Result<Families, Errno>,
}

impl std::fmt::Debug for Dpif<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dpif")
            .field("families", &self.families)
            .finish()
    }
}

impl<'t> Dpif<'t> {
    /// Resolves the three families. A missing family (`ENOENT`) is remembered and returned by
    /// every later call, as dpif-netlink does when the kernel module is not loaded.
    pub fn new(t: &'t mut dyn Transport) -> Self {
        let mut d = Dpif {
            t,
            families: Err(ENODEV),
        };
        d.families = d.resolve();
        d
    }

    fn resolve(&mut self) -> Result<Families, Errno> {
        let mut id = |name: &str| -> Result<u16, Errno> {
            let seq = self.t.next_seq();
            let req = req_get_family(name, seq, self.t.portid());
            let d = self.t.transact(&req).map_err(|e| io_errno(&e))?;
            let r = replies(&d, seq)?;
            let p = r.first().ok_or(EPROTO)?;
            FamilyInfo::parse(p).map(|f| f.id).map_err(|e| e.errno)
        };
        Ok(Families {
            datapath: id(OVS_DATAPATH_FAMILY)?,
            vport: id(OVS_VPORT_FAMILY)?,
            flow: id(OVS_FLOW_FAMILY)?,
        })
    }

    /// The family ids, or the errno resolving them failed with.
    pub fn families(&self) -> Result<Families, Errno> {
        self.families
    }

    fn transact<F>(&mut self, build: F) -> Result<Vec<Vec<u8>>, Errno>
    where
        F: FnOnce(&Families, u32, u32) -> Vec<u8>,
    {
        let f = self.families?;
        let seq = self.t.next_seq();
        let req = build(&f, seq, self.t.portid());
        let d = self.t.transact(&req).map_err(|e| io_errno(&e))?;
        replies(&d, seq)
    }

    fn dump<F>(&mut self, build: F) -> Result<(Vec<Vec<u8>>, Errno), Errno>
    where
        F: FnOnce(&Families, u32, u32) -> Vec<u8>,
    {
        let f = self.families?;
        let seq = self.t.next_seq();
        let req = build(&f, seq, self.t.portid());
        let (msgs, status) = self.t.dump(&req).map_err(|e| io_errno(&e))?;
        let mut out = Vec::with_capacity(msgs.len());
        for m in &msgs {
            out.push(payload_of(m)?);
        }
        Ok((out, status))
    }

    /// `dp_enumerate_names("system")`: every datapath.
    pub fn enumerate(&mut self) -> Result<Vec<DpInfo>, Errno> {
        let (msgs, status) = self.dump(req_dp_dump)?;
        if status != 0 {
            return Err(status);
        }
        msgs.iter().map(|p| parse_dp(p)).collect()
    }

    /// `dpif_open`: the datapath called `name`.
    pub fn open(&mut self, name: &str) -> Result<DpInfo, Errno> {
        let r = self.transact(|f, s, p| req_dp_get(f, name, s, p))?;
        parse_dp(r.first().ok_or(EPROTO)?)
    }

    /// `dpif_get_dp_stats`: a fresh look at `dp`.
    pub fn stats(&mut self, dp: &DpInfo) -> Result<DpInfo, Errno> {
        let r = self.transact(|f, s, p| req_dp_stats(f, dp.dp_ifindex, s, p))?;
        parse_dp(r.first().ok_or(EPROTO)?)
    }

    /// `dpif_create`: a new datapath called `name`.
    pub fn create(&mut self, name: &str) -> Result<DpInfo, Errno> {
        let r = self.transact(|f, s, p| req_dp_new(f, name, s, p))?;
        match r.first() {
            Some(p) => parse_dp(p),
            None => self.open(name),
        }
    }

    /// `dpif_delete`.
    pub fn delete(&mut self, dp: &DpInfo) -> Result<(), Errno> {
        self.transact(|f, s, p| req_dp_del(f, dp.dp_ifindex, s, p))
            .map(|_| ())
    }

    /// `DPIF_PORT_FOR_EACH`: the ports in dump order. A dump that fails ends early, as OVS
    /// treats it as the end of the list.
    pub fn ports(&mut self, dp: &DpInfo) -> Result<Vec<PortInfo>, Errno> {
        let (msgs, _status) = self.dump(|f, s, p| req_vport_dump(f, dp.dp_ifindex, s, p))?;
        let mut out = Vec::new();
        for m in &msgs {
            match parse_port(m) {
                Ok((_, port)) => out.push(port),
                Err(_) => break,
            }
        }
        Ok(out)
    }

    /// `dpif_port_query_by_number` / `_by_name`. A port of another datapath is `ENODEV`.
    pub fn port(&mut self, dp: &DpInfo, key: &PortKey) -> Result<PortInfo, Errno> {
        let r = self.transact(|f, s, p| req_vport_get(f, dp.dp_ifindex, key, s, p))?;
        let (ifindex, port) = parse_port(r.first().ok_or(EPROTO)?)?;
        if ifindex != dp.dp_ifindex {
            return Err(ENODEV);
        }
        Ok(port)
    }

    /// `dpif_port_add`: returns the port number the datapath chose.
    pub fn port_add(&mut self, dp: &DpInfo, spec: &PortSpec) -> Result<u32, Errno> {
        let r = self.transact(|f, s, p| req_vport_new(f, dp.dp_ifindex, spec, s, p))?;
        match r.first() {
            Some(m) => parse_port(m).map(|(_, p)| p.port_no),
            None => Err(EPROTO),
        }
    }

    /// `dpif_port_del`.
    pub fn port_del(&mut self, dp: &DpInfo, port_no: u32) -> Result<(), Errno> {
        self.transact(|f, s, p| req_vport_del(f, dp.dp_ifindex, port_no, s, p))
            .map(|_| ())
    }

    /// A whole flow dump: the flows, and the errno the dump ended with (0 if none). A flow
    /// whose actions did not fit in its dump message is fetched again on its own.
    pub fn flows(&mut self, dp: &DpInfo) -> Result<(Vec<FlowInfo>, Errno), Errno> {
        let (msgs, status) = self.dump(|f, s, p| req_flow_dump(f, dp.dp_ifindex, s, p))?;
        let mut out = Vec::with_capacity(msgs.len());
        for m in &msgs {
            let mut flow = match parse_flow(m) {
                Ok(f) => f,
                Err(e) => return Ok((out, e)),
            };
            if flow.actions.is_none() {
                let (ufid, key) = (flow.ufid, flow.key.clone());
                if let Ok(again) = self.flow_get(dp, ufid.as_ref(), Some(&key)) {
                    flow.actions = again.actions;
                }
            }
            out.push(flow);
        }
        Ok((out, status))
    }

    /// `dpif_flow_get` by UFID (or by key when there is none).
    pub fn flow_get(
        &mut self,
        dp: &DpInfo,
        ufid: Option<&[u8; 16]>,
        key: Option<&Key>,
    ) -> Result<FlowInfo, Errno> {
        let key = if ufid.is_some() { None } else { key };
        let r = self.transact(|f, s, p| req_flow_get(f, dp.dp_ifindex, ufid, key, s, p))?;
        parse_flow(r.first().ok_or(EPROTO)?)
    }

    /// `dpif_flow_put`; with `want_stats`, the stats from the echoed reply (zero when the
    /// reply carried none, as for a new flow).
    pub fn flow_put(&mut self, dp: &DpInfo, put: &FlowPut) -> Result<FlowStats, Errno> {
        let r = self.transact(|f, s, p| req_flow_put(f, dp.dp_ifindex, put, s, p))?;
        Ok(r.first()
            .and_then(|m| parse_flow(m).ok())
            .map_or(FlowStats::default(), |f| f.stats))
    }

    /// `dpif_flow_del`; stats as for [`Dpif::flow_put`].
    pub fn flow_del(
        &mut self,
        dp: &DpInfo,
        ufid: Option<&[u8; 16]>,
        key: &Key,
        want_stats: bool,
    ) -> Result<FlowStats, Errno> {
        let r = self.transact(|f, s, p| {
            req_flow_del(f, dp.dp_ifindex, ufid, Some(key), want_stats, s, p)
        })?;
        Ok(r.first()
            .and_then(|m| parse_flow(m).ok())
            .map_or(FlowStats::default(), |f| f.stats))
    }

    /// `dpif_flow_flush`.
    pub fn flow_flush(&mut self, dp: &DpInfo) -> Result<(), Errno> {
        self.transact(|f, s, p| req_flow_del(f, dp.dp_ifindex, None, None, false, s, p))
            .map(|_| ())
    }
}
