//! Plain data the commands print: what the datapath replied, decoded, before any formatting.
//!
//! ≈ `struct dpif_dp_stats`, `struct dpif_port`, `struct netdev_stats` and `struct dpif_flow`
//! in OVS `lib/dpif.h` / `lib/netdev.h`.

use userdp_protocol::ovs::action::Actions;
use userdp_protocol::ovs::key::Key;
use userdp_protocol::ovs::vport::OvsVportStats;

/// The only datapath type userdpctl reaches: the kernel-compatible one, printed as `system@`.
pub const DP_TYPE: &str = "system";

/// `struct ovs_dp_stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DpStats {
    /// Packets that matched a flow.
    pub n_hit: u64,
    /// Packets that missed and went up as upcalls.
    pub n_missed: u64,
    /// Upcalls that could not be queued.
    pub n_lost: u64,
    /// Flows in the table.
    pub n_flows: u64,
}

/// `struct ovs_dp_megaflow_stats` as OVS keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MegaflowStats {
    /// Masks probed by all lookups.
    pub n_mask_hit: u64,
    /// Masks in the classifier.
    pub n_masks: u32,
    /// Lookups the masks cache answered; `None` when the datapath reported 0, which
    /// dpif-netlink reads as "old kernel, unknown".
    pub n_cache_hit: Option<u64>,
}

/// One datapath, from an `OVS_DP_CMD_GET` reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DpInfo {
    /// Name without the type prefix.
    pub name: String,
    /// `ovs_header.dp_ifindex`: the handle for every later request.
    pub dp_ifindex: i32,
    /// `OVS_DP_ATTR_STATS` (all zero when absent, as dpif-netlink does).
    pub stats: DpStats,
    /// `OVS_DP_ATTR_MEGAFLOW_STATS`.
    pub megaflow: Option<MegaflowStats>,
    /// `OVS_DP_ATTR_USER_FEATURES`.
    pub user_features: Option<u32>,
    /// `OVS_DP_ATTR_MASKS_CACHE_SIZE`: the one cache level (`masks-cache`) when present.
    pub masks_cache_size: Option<u32>,
}

impl DpInfo {
    /// `dpif_name()`: `system@NAME`.
    pub fn full_name(&self) -> String {
        format!("{DP_TYPE}@{}", self.name)
    }
}

/// One port, from an `OVS_VPORT_CMD_GET` reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortInfo {
    /// Port number.
    pub port_no: u32,
    /// Port name.
    pub name: String,
    /// Netdev type as dpif-netlink names it (`system`, `internal`, `vxlan`, …).
    pub kind: String,
    /// `OVS_VPORT_ATTR_STATS`.
    pub stats: Option<OvsVportStats>,
    /// `OVS_TUNNEL_ATTR_DST_PORT` from `OVS_VPORT_ATTR_OPTIONS`, if any.
    pub dst_port: Option<u16>,
}

/// `struct netdev_stats` as `show -s` prints it; `None` is a counter the device does not
/// provide (printed `?`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetdevStats {
    /// RX packets.
    pub rx_packets: Option<u64>,
    /// RX errors.
    pub rx_errors: Option<u64>,
    /// RX dropped.
    pub rx_dropped: Option<u64>,
    /// RX FIFO overruns.
    pub rx_over_errors: Option<u64>,
    /// RX frame errors.
    pub rx_frame_errors: Option<u64>,
    /// TX packets.
    pub tx_packets: Option<u64>,
    /// TX errors.
    pub tx_errors: Option<u64>,
    /// TX dropped.
    pub tx_dropped: Option<u64>,
    /// TX aborted.
    pub tx_aborted_errors: Option<u64>,
    /// TX carrier errors.
    pub tx_carrier_errors: Option<u64>,
    /// Collisions.
    pub collisions: Option<u64>,
    /// RX bytes.
    pub rx_bytes: Option<u64>,
    /// TX bytes.
    pub tx_bytes: Option<u64>,
}

/// A port's configuration as `show` prints it after the type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortConfig {
    /// Sorted `key=value` pairs (possibly none).
    Config(Vec<(String, String)>),
    /// `netdev_open` failed (unknown type): ` (TYPE: open failed (ERR))`.
    OpenFailed(i32),
}

/// One `port N: …` entry of `show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortShow {
    /// Port number.
    pub port_no: u32,
    /// Port name.
    pub name: String,
    /// Type; `system` is not printed.
    pub kind: String,
    /// Configuration (ignored for `system`).
    pub config: PortConfig,
    /// With `-s`: the counters, or the errno of the failed query.
    pub stats: Option<Result<NetdevStats, i32>>,
}

/// Everything `show` prints for one datapath.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpShow {
    /// The datapath; `None` stats lines when the stats query failed.
    pub dp: DpInfo,
    /// Whether the stats query succeeded (`lookups:`/`flows:` lines).
    pub have_stats: bool,
    /// Ports sorted by number.
    pub ports: Vec<PortShow>,
}

/// `struct dpif_flow_stats` plus the TCP flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowStats {
    /// Packets.
    pub n_packets: u64,
    /// Bytes.
    pub n_bytes: u64,
    /// Last use in `CLOCK_MONOTONIC` milliseconds; 0 = never.
    pub used: u64,
    /// Union of the TCP flags seen.
    pub tcp_flags: u16,
}

/// One flow, from an `OVS_FLOW_CMD_GET` reply or dump.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlowInfo {
    /// The 16-byte UFID, if the datapath reported one.
    pub ufid: Option<[u8; 16]>,
    /// The (masked) key.
    pub key: Key,
    /// The mask; `None` when absent (an exact-match flow).
    pub mask: Option<Key>,
    /// Counters.
    pub stats: FlowStats,
    /// Actions; `None` when the reply carried none.
    pub actions: Option<Actions>,
}
