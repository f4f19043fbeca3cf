//! The `nlctrl` family: CTRL_CMD_GETFAMILY requests, NEWFAMILY replies, family dumps.
//!
//! ≈ `ctrl_getfamily`/`ctrl_fill_info` in `net/netlink/genetlink.c`.
