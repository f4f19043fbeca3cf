//! `libuserdp_compat.so`: the LD_PRELOAD shim that lets unmodified programs (ovs-vswitchd,
//! ovs-dpctl, anything speaking Generic Netlink) talk to `userdpd` instead of the kernel's
//! `openvswitch` module.
//!
//! `socket(AF_NETLINK, SOCK_RAW|SOCK_DGRAM, NETLINK_GENERIC)` returns a `SOCK_SEQPACKET`
//! connection to the daemon (`USERDP_SOCKET`, default `/run/userdp/userdp.sock`); the socket
//! calls made on that fd are emulated so the program sees netlink semantics (reference
//! `ovs-datapath-protocol.md` §1.12, wire in `protocol/PROTOCOL.md`). If the daemon cannot be
//! reached, a real netlink socket is returned, so the program behaves as on a host without
//! the kernel module. `NETLINK_ROUTE` sockets stay real; their sends are watched for OVS's
//! out-of-tree tunnel probe (`route.rs`). Every other descriptor passes straight through.
//!
//! The exported functions exist only in the cdylib (not in this crate's unit-test build, which
//! would otherwise interpose its own test harness).

// Without the hooks (test build) most of the plumbing is unused.
#![cfg_attr(test, allow(dead_code))]

#[cfg(not(test))]
mod hooks;
mod real;
mod route;
mod sock;
mod table;
