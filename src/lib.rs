//! userdp: a userspace Open vSwitch datapath (daemon, CLI and the library they share).
#![forbid(unsafe_code)]
