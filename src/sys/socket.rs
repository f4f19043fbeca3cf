//! Socket calls missing from std and socket2: flag-carrying `send`/`recv` on plain byte
//! slices, `SO_PEERCRED`, `SO_SNDBUFFORCE` and `poll`.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `MSG_DONTWAIT`: make one call non-blocking.
pub const MSG_DONTWAIT: i32 = libc::MSG_DONTWAIT;
/// `MSG_PEEK`: leave the datagram queued.
pub const MSG_PEEK: i32 = libc::MSG_PEEK;
/// `MSG_TRUNC`: on a datagram socket, return the real datagram length.
pub const MSG_TRUNC: i32 = libc::MSG_TRUNC;
/// `POLLIN`.
pub const POLLIN: i16 = libc::POLLIN;
/// `POLLOUT`.
pub const POLLOUT: i16 = libc::POLLOUT;

/// `send(2)` with `MSG_NOSIGNAL` always added: a vanished peer is `EPIPE`, never `SIGPIPE`.
pub fn send(fd: BorrowedFd<'_>, buf: &[u8], flags: i32) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is a valid readable slice for `buf.len()` bytes and `fd` is a live
        // descriptor borrowed for the duration of the call.
        let n = unsafe {
            libc::send(
                fd.as_raw_fd(),
                buf.as_ptr().cast(),
                buf.len(),
                flags | libc::MSG_NOSIGNAL,
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// `recv(2)` into `buf`. With `MSG_TRUNC` the result is the datagram's full length, which may
/// exceed `buf.len()`.
pub fn recv(fd: BorrowedFd<'_>, buf: &mut [u8], flags: i32) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is a valid writable slice for `buf.len()` bytes; the kernel writes at
        // most that many bytes even with MSG_TRUNC (which only changes the return value).
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), flags) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Receives one whole datagram into `buf` (resized to fit), however large it is: peeks its
/// length first. `Ok(0)` is end of stream on a SEQPACKET socket.
pub fn recv_datagram(fd: BorrowedFd<'_>, buf: &mut Vec<u8>, flags: i32) -> io::Result<usize> {
    if buf.len() < 4096 {
        buf.resize(4096, 0);
    }
    let full = recv(fd, buf, flags | MSG_PEEK | MSG_TRUNC)?;
    if full > buf.len() {
        buf.resize(full, 0);
    }
    // The peeked datagram is still first in the queue (one reader per socket), so a blocking
    // read cannot block here; keep the caller's flags anyway.
    let n = recv(fd, buf, flags)?;
    buf.truncate(n);
    Ok(n)
}

/// Credentials of the process at the other end of a Unix socket, from `SO_PEERCRED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCred {
    /// Process id at connect time.
    pub pid: i32,
    /// Effective user id.
    pub uid: u32,
    /// Effective group id.
    pub gid: u32,
}

/// `getsockopt(SOL_SOCKET, SO_PEERCRED)`.
pub fn peer_cred(fd: BorrowedFd<'_>) -> io::Result<PeerCred> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid for writes and `len` holds the size of `cred`.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(PeerCred {
        pid: cred.pid,
        uid: cred.uid,
        gid: cred.gid,
    })
}

fn setsockopt_int(fd: BorrowedFd<'_>, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: the option value is a live `i32` whose size is passed alongside.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `SO_SNDBUFFORCE`: set the send buffer beyond `wmem_max` (needs `CAP_NET_ADMIN`).
pub fn set_sndbuf_force(fd: BorrowedFd<'_>, bytes: usize) -> io::Result<()> {
    let v = i32::try_from(bytes).unwrap_or(i32::MAX);
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, v)
}

/// `poll(2)` on `fds`, each for `events`; returns each descriptor's `revents` (all zero on
/// timeout). `timeout_ms < 0` waits forever. `EINTR` counts as a timeout.
pub fn poll(fds: &[BorrowedFd<'_>], events: i16, timeout_ms: i32) -> io::Result<Vec<i16>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events,
            revents: 0,
        })
        .collect();
    // SAFETY: `pfds` is a valid array of `pfds.len()` pollfd structures, each naming a
    // descriptor borrowed for the duration of the call.
    let rc = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
        return Ok(vec![0; pfds.len()]);
    }
    Ok(pfds.iter().map(|p| p.revents).collect())
}
