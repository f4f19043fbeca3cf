//! userdp-protocol: the sans-IO core of userdp.
//!
//! Everything the daemon, the CLI and the compat shim say to each other or to Open vSwitch is
//! encoded and decoded here: netlink framing ([`nl`]), Generic Netlink and `nlctrl` ([`genl`]),
//! the six OVS datapath families with their flow keys and actions ([`ovs`]), zero-copy packet
//! header views ([`wire`]) and the OVS flow text syntax ([`text`]).
//!
//! No sockets, threads, clocks, globals or `unsafe` live here: every function is a pure
//! transformation between bytes (or text) and values, and every decode error carries the errno
//! the Linux kernel would answer with and the byte offset where decoding stopped.
#![forbid(unsafe_code)]

pub mod errno;
pub mod error;
#[doc(hidden)]
pub mod fuzz_entry;
pub mod genl;
pub mod nl;
pub mod ovs;
pub mod private;
pub mod text;
pub mod wire;

pub use error::{Error, Result};
