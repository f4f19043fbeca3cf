//! The `ovs_vport` family: add, remove, query and configure datapath ports.
//!
//! ≈ `ovs_vport_cmd_*`, `ovs_vport_cmd_fill_info` and `vport_policy` in
//! `net/openvswitch/datapath.c`, `ovs_vport_get_options` in `vport.c` and the tunnel
//! `*_get_options` in `vport-vxlan.c` / `vport-geneve.c` (Linux 6.1); `dpif_netlink_vport_*`
//! in OVS `lib/dpif-netlink.c`.
//!
//! As for every family, the daemon rejects unknown commands (`EOPNOTSUPP`) and missing
//! privileges (`EPERM`) before calling [`VportMsg::parse`], and ignores attributes of dumps.

use crate::nl::attr::nla_size;
use crate::nl::{NlaIter, NlaWriter};
use crate::ovs::common::{
    begin, c_enum, checked_u32_array, get_str, get_u32, get_u32_array, get_u64, parse_msg,
    put_u32_array, str_size, uapi_struct, Pol, RawAttrs, FIXED_LEN, IFNAME_MAX,
};
use crate::ovs::OVS_VPORT_VERSION;
use crate::Result;

c_enum! {
    /// `enum ovs_vport_cmd`.
    pub enum OvsVportCmd: u8 {
        /// Never valid in a request.
        OVS_VPORT_CMD_UNSPEC = 0,
        /// Add a port.
        OVS_VPORT_CMD_NEW = 1,
        /// Remove a port.
        OVS_VPORT_CMD_DEL = 2,
        /// Query one port, or dump a datapath's ports.
        OVS_VPORT_CMD_GET = 3,
        /// Change a port's upcall pids (or options, which no vport type supports).
        OVS_VPORT_CMD_SET = 4,
    }
}

c_enum! {
    /// `enum ovs_vport_attr`.
    pub enum OvsVportAttr: u16 {
        /// Unused type 0.
        OVS_VPORT_ATTR_UNSPEC = 0,
        /// Port number (`u32`, below 65535).
        OVS_VPORT_ATTR_PORT_NO = 1,
        /// `OVS_VPORT_TYPE_*` (`u32`).
        OVS_VPORT_ATTR_TYPE = 2,
        /// Port (netdev) name, at most 15 characters.
        OVS_VPORT_ATTR_NAME = 3,
        /// Type-specific options, nested.
        OVS_VPORT_ATTR_OPTIONS = 4,
        /// Upcall pids (`u32` array).
        OVS_VPORT_ATTR_UPCALL_PID = 5,
        /// `struct ovs_vport_stats`.
        OVS_VPORT_ATTR_STATS = 6,
        /// 64-bit alignment padding (never emitted on x86-64).
        OVS_VPORT_ATTR_PAD = 7,
        /// ifindex of the port's netdev.
        OVS_VPORT_ATTR_IFINDEX = 8,
        /// Netns id of the netdev when it lives in another namespace.
        OVS_VPORT_ATTR_NETNSID = 9,
        /// Per-port upcall counters, nested (Linux ≥ 6.2; not in 6.1).
        OVS_VPORT_ATTR_UPCALL_STATS = 10,
    }
}

/// `OVS_VPORT_ATTR_MAX` in Linux 6.1 (`NETNSID`); 6.12 has 10 (`UPCALL_STATS`).
pub const OVS_VPORT_ATTR_MAX: u16 = 9;

c_enum! {
    /// `enum ovs_vport_type`, with the numbers OVS userspace adds for out-of-tree types.
    pub enum OvsVportType: u32 {
        /// Never valid.
        OVS_VPORT_TYPE_UNSPEC = 0,
        /// An existing network device.
        OVS_VPORT_TYPE_NETDEV = 1,
        /// A device created for the port (the datapath's local port is one).
        OVS_VPORT_TYPE_INTERNAL = 2,
        /// GRE tunnel.
        OVS_VPORT_TYPE_GRE = 3,
        /// VXLAN tunnel.
        OVS_VPORT_TYPE_VXLAN = 4,
        /// Geneve tunnel.
        OVS_VPORT_TYPE_GENEVE = 5,
        /// LISP tunnel (out-of-tree module only).
        OVS_VPORT_TYPE_LISP = 105,
        /// STT tunnel (out-of-tree module only).
        OVS_VPORT_TYPE_STT = 106,
        /// ERSPAN tunnel (out-of-tree module only).
        OVS_VPORT_TYPE_ERSPAN = 107,
        /// IPv6 ERSPAN tunnel (out-of-tree module only).
        OVS_VPORT_TYPE_IP6ERSPAN = 108,
        /// IPv6 GRE tunnel (out-of-tree module only).
        OVS_VPORT_TYPE_IP6GRE = 109,
        /// GTP-U tunnel (out-of-tree module only).
        OVS_VPORT_TYPE_GTPU = 110,
        /// Bare UDP tunnel (out-of-tree module only).
        OVS_VPORT_TYPE_BAREUDP = 111,
    }
}

c_enum! {
    /// `OVS_TUNNEL_ATTR_*`: attributes inside a tunnel port's `OPTIONS`.
    pub enum OvsTunnelAttr: u16 {
        /// Unused type 0.
        OVS_TUNNEL_ATTR_UNSPEC = 0,
        /// UDP destination port, `u16` in host order.
        OVS_TUNNEL_ATTR_DST_PORT = 1,
        /// Nested `OVS_VXLAN_EXT_*` flags.
        OVS_TUNNEL_ATTR_EXTENSION = 2,
    }
}

/// `OVS_VXLAN_EXT_GBP`: VXLAN Group Based Policy extension (flag).
pub const OVS_VXLAN_EXT_GBP: u16 = 1;
/// `OVS_VXLAN_EXT_GPE`: VXLAN Generic Protocol Extension (flag; OVS-only, unknown to Linux).
pub const OVS_VXLAN_EXT_GPE: u16 = 8;

/// `OVS_VPORT_UPCALL_ATTR_SUCCESS`: upcalls queued for this port (`u64`).
pub const OVS_VPORT_UPCALL_ATTR_SUCCESS: u16 = 0;
/// `OVS_VPORT_UPCALL_ATTR_FAIL`: upcalls that could not be queued (`u64`).
pub const OVS_VPORT_UPCALL_ATTR_FAIL: u16 = 1;

uapi_struct! {
    /// `struct ovs_vport_stats`: the netdev's own counters (`dev_get_stats`).
    pub struct OvsVportStats {
        /// Packets received.
        pub rx_packets: u64,
        /// Packets transmitted.
        pub tx_packets: u64,
        /// Bytes received.
        pub rx_bytes: u64,
        /// Bytes transmitted.
        pub tx_bytes: u64,
        /// Receive errors.
        pub rx_errors: u64,
        /// Transmit errors.
        pub tx_errors: u64,
        /// Packets dropped on receive.
        pub rx_dropped: u64,
        /// Packets dropped on transmit.
        pub tx_dropped: u64,
    }
}

/// `OVS_VPORT_ATTR_UPCALL_STATS` (Linux ≥ 6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct OvsVportUpcallStats {
    /// Upcalls queued.
    pub success: u64,
    /// Upcalls lost.
    pub fail: u64,
}

/// The options a tunnel port reports: `DST_PORT` and the VXLAN `EXTENSION` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct TunnelOptions {
    /// `OVS_TUNNEL_ATTR_DST_PORT`.
    pub dst_port: Option<u16>,
    /// `OVS_TUNNEL_ATTR_EXTENSION`, if present.
    pub extension: Option<VxlanExt>,
}

/// The flags inside `OVS_TUNNEL_ATTR_EXTENSION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct VxlanExt {
    /// `OVS_VXLAN_EXT_GBP`.
    pub gbp: bool,
    /// `OVS_VXLAN_EXT_GPE`.
    pub gpe: bool,
}

/// `OVS_VPORT_ATTR_OPTIONS`: typed when it is exactly the canonical tunnel form, raw otherwise.
///
/// The kernel interprets options only for tunnel types (and only the attributes it knows), so a
/// NEW of a `netdev` port may carry anything; keeping such options raw makes every message
/// round-trip byte for byte. Two values are equal when they encode to the same bytes.
#[derive(Debug, Clone)]
pub enum VportOptions {
    /// Options that re-encode to exactly the bytes received.
    Tunnel(TunnelOptions),
    /// Anything else, verbatim.
    Raw(RawAttrs),
}

impl TunnelOptions {
    /// Encoded size of the nest's payload.
    pub fn payload_len(&self) -> usize {
        self.dst_port.map_or(0, |_| nla_size(2))
            + self.extension.map_or(0, |e| {
                nla_size(usize::from(e.gbp) * nla_size(0) + usize::from(e.gpe) * nla_size(0))
            })
    }

    /// Writes the nest's payload: `DST_PORT`, then `EXTENSION` (`GBP`, `GPE`), as
    /// `vxlan_get_options` orders them.
    pub fn emit_payload(&self, w: &mut NlaWriter<'_>) {
        if let Some(p) = self.dst_port {
            w.put_u16(OvsTunnelAttr::OVS_TUNNEL_ATTR_DST_PORT.into(), p);
        }
        if let Some(e) = self.extension {
            w.nested(OvsTunnelAttr::OVS_TUNNEL_ATTR_EXTENSION.into(), |w| {
                if e.gbp {
                    w.put_flag(OVS_VXLAN_EXT_GBP);
                }
                if e.gpe {
                    w.put_flag(OVS_VXLAN_EXT_GPE);
                }
            });
        }
    }

    fn from_bytes(b: &[u8]) -> Option<Self> {
        let mut t = TunnelOptions::default();
        for nla in NlaIter::new(b) {
            let nla = nla.ok()?;
            match OvsTunnelAttr::from(nla.kind) {
                OvsTunnelAttr::OVS_TUNNEL_ATTR_DST_PORT if t.dst_port.is_none() => {
                    t.dst_port = Some(nla.u16().ok()?);
                }
                OvsTunnelAttr::OVS_TUNNEL_ATTR_EXTENSION if t.extension.is_none() => {
                    let mut e = VxlanExt::default();
                    for f in nla.nested() {
                        match f.ok()?.kind {
                            OVS_VXLAN_EXT_GBP => e.gbp = true,
                            OVS_VXLAN_EXT_GPE => e.gpe = true,
                            _ => return None,
                        }
                    }
                    t.extension = Some(e);
                }
                _ => return None,
            }
        }
        // Only the canonical encoding is typed, so that emitting it reproduces `b` exactly.
        let mut again = Vec::with_capacity(b.len());
        t.emit_payload(&mut NlaWriter::new(&mut again));
        (again == b).then_some(t)
    }
}

impl PartialEq for VportOptions {
    fn eq(&self, other: &Self) -> bool {
        self.to_bytes() == other.to_bytes()
    }
}

impl Eq for VportOptions {}

impl VportOptions {
    /// Classifies a received `OPTIONS` nest.
    pub fn from_raw(raw: RawAttrs) -> Self {
        match TunnelOptions::from_bytes(&raw.bytes) {
            Some(t) => VportOptions::Tunnel(t),
            None => VportOptions::Raw(raw),
        }
    }

    /// Encoded size of the nest's payload.
    pub fn payload_len(&self) -> usize {
        match self {
            VportOptions::Tunnel(t) => t.payload_len(),
            VportOptions::Raw(r) => r.bytes.len(),
        }
    }

    /// The first attribute of type `kind` in the options (`nla_find_nested` semantics), as
    /// the tunnel constructors look `DST_PORT` up.
    pub fn find(&self, kind: u16) -> Option<Vec<u8>> {
        let bytes = self.to_bytes();
        let found = NlaIter::new(&bytes)
            .map_while(|n| n.ok())
            .find(|n| n.kind == kind)
            .map(|n| n.payload.to_vec());
        found
    }

    /// The nest's payload bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            VportOptions::Tunnel(t) => {
                let mut v = Vec::with_capacity(t.payload_len());
                t.emit_payload(&mut NlaWriter::new(&mut v));
                v
            }
            VportOptions::Raw(r) => r.bytes.clone(),
        }
    }
}

/// One `ovs_vport` message, request or reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VportMsg {
    /// Command.
    pub cmd: OvsVportCmd,
    /// `ovs_header.dp_ifindex`.
    pub dp_ifindex: i32,
    /// `OVS_VPORT_ATTR_PORT_NO`.
    pub port_no: Option<u32>,
    /// `OVS_VPORT_ATTR_TYPE`.
    pub kind: Option<OvsVportType>,
    /// `OVS_VPORT_ATTR_NAME`.
    pub name: Option<String>,
    /// `OVS_VPORT_ATTR_OPTIONS`.
    pub options: Option<VportOptions>,
    /// `OVS_VPORT_ATTR_UPCALL_PID`: one pid, or one per handler with `OVS_DP_F_VPORT_PIDS`.
    ///
    /// NEW and SET use it, and there a length that is not a non-zero multiple of 4 is
    /// `EINVAL`; GET and DEL ignore it, and a malformed array decodes as `None`.
    pub upcall_pids: Option<Vec<u32>>,
    /// `OVS_VPORT_ATTR_STATS`.
    pub stats: Option<OvsVportStats>,
    /// `OVS_VPORT_ATTR_IFINDEX`.
    pub ifindex: Option<u32>,
    /// `OVS_VPORT_ATTR_NETNSID`.
    pub netnsid: Option<i32>,
    /// `OVS_VPORT_ATTR_UPCALL_STATS` (never in a Linux 6.1 reply; leave `None` to mimic it).
    pub upcall_stats: Option<OvsVportUpcallStats>,
}

const POLICY: [Pol; OVS_VPORT_ATTR_MAX as usize + 1] = [
    Pol::Any,                         // UNSPEC
    Pol::U32,                         // PORT_NO
    Pol::U32,                         // TYPE
    Pol::NulStr(IFNAME_MAX),          // NAME
    Pol::Nested,                      // OPTIONS
    Pol::Any,                         // UPCALL_PID (checked by the handlers, see `upcall_pids`)
    Pol::MinLen(OvsVportStats::SIZE), // STATS
    Pol::Any,                         // PAD
    Pol::U32,                         // IFINDEX
    Pol::U32,                         // NETNSID (NLA_S32)
];

fn attr(a: OvsVportAttr) -> u16 {
    a.into()
}

impl VportMsg {
    /// A message with no attributes.
    pub fn new(cmd: OvsVportCmd, dp_ifindex: i32) -> Self {
        VportMsg {
            cmd,
            dp_ifindex,
            port_no: None,
            kind: None,
            name: None,
            options: None,
            upcall_pids: None,
            stats: None,
            ifindex: None,
            netnsid: None,
            upcall_stats: None,
        }
    }

    /// Decodes a netlink payload (genl header onwards); error offsets count from the
    /// `nlmsghdr`.
    ///
    /// Type 10 (`UPCALL_STATS`) lies beyond Linux 6.1's `maxattr` and is skipped by the
    /// kernel's parse; it is still decoded here (leniently) so the CLI can read 6.12-style
    /// replies.
    pub fn parse(payload: &[u8]) -> Result<Self> {
        let (f, a) = parse_msg(payload, &POLICY)?;
        let mut m = VportMsg::new(OvsVportCmd::from(f.genl.cmd), f.dp_ifindex);
        let get = |k: OvsVportAttr| a.get(usize::from(attr(k))).copied().flatten();
        m.port_no = get(OvsVportAttr::OVS_VPORT_ATTR_PORT_NO).map(|n| get_u32(&n));
        m.kind = get(OvsVportAttr::OVS_VPORT_ATTR_TYPE).map(|n| get_u32(&n).into());
        if let Some(n) = get(OvsVportAttr::OVS_VPORT_ATTR_NAME) {
            m.name = Some(get_str(&n)?);
        }
        m.options = get(OvsVportAttr::OVS_VPORT_ATTR_OPTIONS)
            .map(|n| VportOptions::from_raw(RawAttrs::from_nla(&n)));
        if let Some(n) = get(OvsVportAttr::OVS_VPORT_ATTR_UPCALL_PID) {
            m.upcall_pids = match m.cmd {
                OvsVportCmd::OVS_VPORT_CMD_NEW | OvsVportCmd::OVS_VPORT_CMD_SET => {
                    Some(checked_u32_array(&n)?)
                }
                _ => get_u32_array(&n),
            };
        }
        m.stats =
            get(OvsVportAttr::OVS_VPORT_ATTR_STATS).and_then(|n| OvsVportStats::parse(n.payload));
        m.ifindex = get(OvsVportAttr::OVS_VPORT_ATTR_IFINDEX).map(|n| get_u32(&n));
        m.netnsid = get(OvsVportAttr::OVS_VPORT_ATTR_NETNSID).map(|n| get_u32(&n) as i32);
        // Beyond 6.1's maxattr: found by a separate lenient walk.
        let upcall_stats_kind = attr(OvsVportAttr::OVS_VPORT_ATTR_UPCALL_STATS);
        for n in NlaIter::with_base(f.attrs, crate::ovs::OVS_ATTRS_OFFSET).map_while(|n| n.ok()) {
            if n.kind == upcall_stats_kind {
                let mut s = OvsVportUpcallStats::default();
                for inner in n.nested().map_while(|i| i.ok()) {
                    match inner.kind {
                        OVS_VPORT_UPCALL_ATTR_SUCCESS => s.success = get_u64(&inner),
                        OVS_VPORT_UPCALL_ATTR_FAIL => s.fail = get_u64(&inner),
                        _ => {}
                    }
                }
                m.upcall_stats = Some(s);
            }
        }
        Ok(m)
    }

    /// Size of the whole message [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        let mut n = FIXED_LEN;
        n += self.port_no.map_or(0, |_| nla_size(4));
        n += self.kind.map_or(0, |_| nla_size(4));
        n += self.name.as_deref().map_or(0, str_size);
        n += self.ifindex.map_or(0, |_| nla_size(4));
        n += self.netnsid.map_or(0, |_| nla_size(4));
        n += self.stats.map_or(0, |_| nla_size(OvsVportStats::SIZE));
        n += self.upcall_stats.map_or(0, |_| nla_size(2 * nla_size(8)));
        n += self
            .upcall_pids
            .as_ref()
            .map_or(0, |p| nla_size(4 * p.len()));
        n += self
            .options
            .as_ref()
            .map_or(0, |o| nla_size(o.payload_len()));
        n
    }

    /// Appends the whole message in `ovs_vport_cmd_fill_info` order: `PORT_NO`, `TYPE`,
    /// `NAME`, `IFINDEX`, `NETNSID`, `STATS`, (`UPCALL_STATS`), `UPCALL_PID`, `OPTIONS`.
    pub fn emit(&self, buf: &mut Vec<u8>, family_id: u16, flags: u16, seq: u32, pid: u32) {
        buf.reserve(self.buffer_len());
        let mut m = begin(
            buf,
            family_id,
            flags,
            seq,
            pid,
            self.cmd.into(),
            OVS_VPORT_VERSION,
            self.dp_ifindex,
        );
        let mut w = m.attrs();
        if let Some(v) = self.port_no {
            w.put_u32(attr(OvsVportAttr::OVS_VPORT_ATTR_PORT_NO), v);
        }
        if let Some(v) = self.kind {
            w.put_u32(attr(OvsVportAttr::OVS_VPORT_ATTR_TYPE), v.into());
        }
        if let Some(s) = &self.name {
            w.put_str(attr(OvsVportAttr::OVS_VPORT_ATTR_NAME), s);
        }
        if let Some(v) = self.ifindex {
            w.put_u32(attr(OvsVportAttr::OVS_VPORT_ATTR_IFINDEX), v);
        }
        if let Some(v) = self.netnsid {
            w.put_i32(attr(OvsVportAttr::OVS_VPORT_ATTR_NETNSID), v);
        }
        if let Some(s) = &self.stats {
            w.put(attr(OvsVportAttr::OVS_VPORT_ATTR_STATS), &s.to_bytes());
        }
        if let Some(s) = self.upcall_stats {
            w.nested(attr(OvsVportAttr::OVS_VPORT_ATTR_UPCALL_STATS), |w| {
                w.put_u64(OVS_VPORT_UPCALL_ATTR_SUCCESS, s.success);
                w.put_u64(OVS_VPORT_UPCALL_ATTR_FAIL, s.fail);
            });
        }
        if let Some(p) = &self.upcall_pids {
            put_u32_array(&mut w, attr(OvsVportAttr::OVS_VPORT_ATTR_UPCALL_PID), p);
        }
        if let Some(o) = &self.options {
            let kind = attr(OvsVportAttr::OVS_VPORT_ATTR_OPTIONS);
            match o {
                VportOptions::Tunnel(t) => w.nested(kind, |w| t.emit_payload(w)),
                VportOptions::Raw(r) => w.put(kind, &r.bytes),
            }
        }
        m.finish();
    }
}
