//! Network devices: TAP creation and the few `SIOCGIF*` queries the datapath needs.
//!
//! ≈ the parts of `drivers/net/tun.c` and `net/core/dev_ioctl.c` that userdp drives from
//! userspace. Every `unsafe` block here wraps one ioctl or syscall on a buffer we own.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// `IFNAMSIZ`: interface names are at most 15 bytes plus NUL.
pub const IFNAMSIZ: usize = 16;

/// Builds a zeroed `ifreq` carrying `name`; `EINVAL` if the name cannot be an interface name.
fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    if name.is_empty()
        || name.len() >= IFNAMSIZ
        || name
            .bytes()
            .any(|b| b == 0 || b == b'/' || b.is_ascii_whitespace())
    {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: ifreq is a plain C struct (a name array and a union of PODs); all-zero is valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}

/// A throwaway datagram socket to issue interface ioctls on.
fn ioctl_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket(2) has no memory-safety preconditions; we check the result.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor we exclusively own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn ioctl_ifreq(fd: RawFd, request: libc::c_ulong, req: &mut libc::ifreq) -> io::Result<()> {
    // SAFETY: every request used with this helper reads and writes only within `struct ifreq`,
    // which `req` points to for the duration of the call.
    let rc = unsafe { libc::ioctl(fd, request as _, req as *mut libc::ifreq) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The ifindex of the interface called `name`, or `None` if there is none.
pub fn ifindex(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    // SAFETY: c is a valid NUL-terminated string for the duration of the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (idx != 0).then_some(idx)
}

/// The name of the interface with ifindex `index`, if it exists.
pub fn ifname(index: u32) -> Option<String> {
    let mut buf = [0 as libc::c_char; IFNAMSIZ];
    // SAFETY: buf has IFNAMSIZ bytes, the size if_indextoname requires.
    let p = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if p.is_null() {
        return None;
    }
    let bytes: Vec<u8> = buf
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8(bytes).ok()
}

/// Hardware address and type (`ARPHRD_*`) of interface `name`.
pub fn hwaddr(name: &str) -> io::Result<([u8; 6], u16)> {
    let sock = ioctl_socket()?;
    let mut req = ifreq(name)?;
    ioctl_ifreq(sock.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req)?;
    // SAFETY: SIOCGIFHWADDR filled the ifru_hwaddr member of the union.
    let sa = unsafe { req.ifr_ifru.ifru_hwaddr };
    let mut mac = [0u8; 6];
    for (d, s) in mac.iter_mut().zip(sa.sa_data.iter()) {
        *d = *s as u8;
    }
    Ok((mac, sa.sa_family))
}

/// Interface flags (`IFF_*`) of `name`.
pub fn flags(name: &str) -> io::Result<u32> {
    let sock = ioctl_socket()?;
    let mut req = ifreq(name)?;
    ioctl_ifreq(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req)?;
    // SAFETY: SIOCGIFFLAGS filled the ifru_flags member of the union.
    Ok(u32::from(unsafe { req.ifr_ifru.ifru_flags } as u16))
}
