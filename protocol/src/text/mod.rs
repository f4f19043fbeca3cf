//! The OVS flow text syntax printed and accepted by `ovs-dpctl` (`in_port(1),eth(...)`, `actions:2`).
//!
//! ≈ `lib/odp-util.c` (`odp_flow_format`, `odp_flow_from_string`, `format_odp_actions`,
//! `odp_actions_from_string`) in OVS.

pub mod action;
pub mod key;
pub mod lex;
