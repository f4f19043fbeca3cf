//! Generic Netlink: `struct genlmsghdr` and the `nlctrl` controller family.
//!
//! ≈ `include/uapi/linux/genetlink.h`, `net/netlink/genetlink.c` in Linux.

pub mod ctrl;

use crate::nl::NLMSG_HDRLEN;
use crate::{Error, Result};

/// Size of `struct genlmsghdr`.
pub const GENL_HDRLEN: usize = 4;
/// The controller's fixed family id.
pub const GENL_ID_CTRL: u16 = 0x10;

/// `struct genlmsghdr`: command, version, reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct GenlHdr {
    /// Family-specific command.
    pub cmd: u8,
    /// Family interface version.
    pub version: u8,
    /// Reserved; zero on the wire.
    pub reserved: u16,
}

impl GenlHdr {
    /// Decodes the genl header at the start of a message payload.
    pub fn parse(payload: &[u8]) -> Result<Self> {
        match payload {
            [cmd, version, r0, r1, ..] => Ok(GenlHdr {
                cmd: *cmd,
                version: *version,
                reserved: u16::from_ne_bytes([*r0, *r1]),
            }),
            _ => Err(Error::inval(
                NLMSG_HDRLEN,
                "message shorter than a genl header",
            )),
        }
    }
    /// The 4 header bytes.
    pub fn to_bytes(&self) -> [u8; GENL_HDRLEN] {
        let r = self.reserved.to_ne_bytes();
        [self.cmd, self.version, r[0], r[1]]
    }
}
