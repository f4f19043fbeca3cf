//! The only `unsafe` of the daemon: thin, safe wrappers over the libc calls the standard
//! library and socket2 do not offer. Each wrapper checks its arguments so callers cannot
//! misuse it, and each `unsafe` block says why it is sound.
pub mod clock;
pub mod epoll;
pub mod eventfd;
mod mapping;
pub mod netdev;
pub mod netns;
pub mod packet;
mod packet_ring;
pub mod rtnl;
pub mod signal;
pub mod socket;
pub mod tc;
pub mod tun;
pub mod xsk;
