//! The datapath registry and the command handlers of the six OVS families.

pub mod meter;
