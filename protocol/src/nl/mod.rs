//! Netlink framing: message headers, attributes, errors and acknowledgements.
//!
//! ≈ `include/uapi/linux/netlink.h` and `net/netlink/af_netlink.c` (`netlink_ack`,
//! `netlink_dump_done`) in Linux; `lib/netlink.c` and `lib/netlink-socket.c` in OVS.

pub mod attr;
pub mod msg;

pub use attr::{align, Nla, NlaIter, NlaWriter};
pub use msg::*;
