//! The only `unsafe` of the daemon: thin wrappers over libc.

pub mod netdev;
