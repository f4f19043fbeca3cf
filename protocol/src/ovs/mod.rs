//! The six Open vSwitch datapath families, their flow keys and their actions.
//!
//! ≈ `include/uapi/linux/openvswitch.h`, `net/openvswitch/datapath.c` and `flow_netlink.c`.
//! Every family message is `nlmsghdr | genlmsghdr | ovs_header | attributes`.

pub mod action;
pub mod common;
pub mod ct_limit;
pub mod datapath;
pub mod flow;
pub mod key;
pub mod meter;
pub mod packet;
pub mod vport;

use crate::genl::GENL_HDRLEN;
use crate::nl::NLMSG_HDRLEN;
use crate::{Error, Result};

/// Size of `struct ovs_header`.
pub const OVS_HEADER_LEN: usize = 4;
/// Offset of the first attribute of an OVS family message from the start of the message.
pub const OVS_ATTRS_OFFSET: usize = NLMSG_HDRLEN + GENL_HDRLEN + OVS_HEADER_LEN;

/// `OVS_DATAPATH_FAMILY`.
pub const OVS_DATAPATH_FAMILY: &str = "ovs_datapath";
/// `OVS_VPORT_FAMILY`.
pub const OVS_VPORT_FAMILY: &str = "ovs_vport";
/// `OVS_FLOW_FAMILY`.
pub const OVS_FLOW_FAMILY: &str = "ovs_flow";
/// `OVS_PACKET_FAMILY`.
pub const OVS_PACKET_FAMILY: &str = "ovs_packet";
/// `OVS_METER_FAMILY`.
pub const OVS_METER_FAMILY: &str = "ovs_meter";
/// `OVS_CT_LIMIT_FAMILY`.
pub const OVS_CT_LIMIT_FAMILY: &str = "ovs_ct_limit";

/// `OVS_DATAPATH_VERSION`.
pub const OVS_DATAPATH_VERSION: u8 = 2;
/// `OVS_VPORT_VERSION`.
pub const OVS_VPORT_VERSION: u8 = 1;
/// `OVS_FLOW_VERSION`.
pub const OVS_FLOW_VERSION: u8 = 1;
/// `OVS_PACKET_VERSION`.
pub const OVS_PACKET_VERSION: u8 = 1;
/// `OVS_METER_VERSION`.
pub const OVS_METER_VERSION: u8 = 1;
/// `OVS_CT_LIMIT_VERSION`.
pub const OVS_CT_LIMIT_VERSION: u8 = 1;

/// `OVSP_LOCAL`: the datapath's own port.
pub const OVSP_LOCAL: u32 = 0;
/// `DP_MAX_PORTS` in the kernel: port numbers are below this.
pub const DP_MAX_PORTS: u32 = 65535;

/// `struct ovs_header`: which datapath a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct OvsHeader {
    /// ifindex of the datapath's local port; 0 = not datapath specific.
    pub dp_ifindex: i32,
}

impl OvsHeader {
    /// Decodes the `ovs_header` that follows the genl header in `payload` (the nlmsg payload).
    pub fn parse(payload: &[u8]) -> Result<Self> {
        match payload.get(GENL_HDRLEN..GENL_HDRLEN + OVS_HEADER_LEN) {
            Some(b) => Ok(OvsHeader {
                dp_ifindex: i32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
            }),
            None => Err(Error::inval(
                NLMSG_HDRLEN,
                "message shorter than genl + ovs headers",
            )),
        }
    }
    /// The 4 header bytes.
    pub fn to_bytes(&self) -> [u8; OVS_HEADER_LEN] {
        self.dp_ifindex.to_ne_bytes()
    }
}
