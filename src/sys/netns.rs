//! Network namespaces: moving the calling thread into a named namespace (`ip netns` style).
//!
//! A socket stays in the namespace it was created in, so a thread that enters a namespace,
//! opens its sockets and leaves (or ends) lets the rest of the process use them from anywhere.

use std::io;
use std::os::fd::AsRawFd;

/// Moves the calling thread (only) into the namespace `/run/netns/<name>`.
pub fn enter(name: &str) -> io::Result<()> {
    if name.is_empty() || name.contains('/') {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let f = std::fs::File::open(format!("/run/netns/{name}"))?;
    enter_fd(&f)
}

/// Moves the calling thread into the namespace of an open namespace file (e.g.
/// `/proc/self/ns/net` saved earlier).
pub fn enter_fd(ns: &impl AsRawFd) -> io::Result<()> {
    // SAFETY: setns has no memory-safety preconditions; CLONE_NEWNET makes the kernel check
    // that the descriptor is a network namespace.
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
