//! A NETLINK_ROUTE socket subscribed to link events, to learn when an attached interface goes
//! away (the kernel datapath hears it as NETDEV_UNREGISTER).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// `RTMGRP_LINK`: the link notifications multicast group.
const RTMGRP_LINK: u32 = 1;

/// A route-netlink socket receiving link notifications.
#[derive(Debug)]
pub struct LinkMonitor {
    fd: OwnedFd,
}

impl LinkMonitor {
    /// Opens the socket and joins the link group.
    pub fn open() -> io::Result<LinkMonitor> {
        // SAFETY: socket(2) has no memory-safety preconditions; the result is checked.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we exclusively own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sockaddr_nl is plain data; all-zero is a valid value before we fill it.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        addr.nl_groups = RTMGRP_LINK;
        // SAFETY: addr is a valid sockaddr_nl and the length passed is its size.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(LinkMonitor { fd })
    }

    /// Waits up to `timeout_ms` for one datagram of notifications; `Ok(0)` on timeout.
    pub fn recv(&self, buf: &mut [u8], timeout_ms: i32) -> io::Result<usize> {
        let ready = super::socket::poll(&[self.fd.as_fd()], libc::POLLIN, timeout_ms)?;
        if ready.first().is_none_or(|r| r & libc::POLLIN == 0) {
            return Ok(0);
        }
        super::socket::recv(self.fd.as_fd(), buf, libc::MSG_DONTWAIT)
    }
}

impl AsFd for LinkMonitor {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
