//! userdp: a userspace Open vSwitch datapath (daemon, CLI and the library they share).
#![deny(unsafe_code)]

pub mod action;
pub mod cli;
pub mod daemon;
pub mod dp;
pub mod flow;
pub mod pmd;
pub mod port;
#[allow(unsafe_code)]
pub mod sys;
pub mod transport;
