//! `epoll`: where an idle packet thread sleeps until one of its queues has work.
//!
//! Level-triggered only: a queue that still holds frames after a budgeted burst keeps its
//! descriptor readable, so the thread cannot miss it by going to sleep.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// An epoll instance.
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
}

/// A reusable buffer of ready events.
pub struct Events {
    buf: Vec<libc::epoll_event>,
    n: usize,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").field("n", &self.n).finish()
    }
}

impl Events {
    /// Room for `cap` events per wait (at least one).
    pub fn with_capacity(cap: usize) -> Events {
        Events {
            buf: vec![libc::epoll_event { events: 0, u64: 0 }; cap.max(1)],
            n: 0,
        }
    }

    /// The tokens of the descriptors found ready by the last wait.
    pub fn tokens(&self) -> impl Iterator<Item = u64> + '_ {
        self.buf.iter().take(self.n).map(|e| e.u64)
    }

    /// Number of ready descriptors from the last wait.
    pub fn len(&self) -> usize {
        self.n
    }

    /// True when the last wait timed out.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
}

impl Epoll {
    /// A new epoll instance.
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 has no memory-safety preconditions; we check the result.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we exclusively own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Epoll { fd })
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: ev is a live epoll_event the kernel only reads.
        let rc = unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut ev) };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Watches `fd` for readability, reporting it as `token`.
    pub fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, token)
    }

    /// Changes the token of a watched `fd`.
    pub fn modify(&self, fd: RawFd, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, token)
    }

    /// Stops watching `fd`.
    pub fn delete(&self, fd: RawFd) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0)
    }

    /// Waits up to `timeout_ms` (-1 = forever) for readiness; `EINTR` counts as a timeout.
    pub fn wait(&self, events: &mut Events, timeout_ms: i32) -> io::Result<usize> {
        let cap = events.buf.len().min(i32::MAX as usize) as libc::c_int;
        // SAFETY: the buffer holds `cap` epoll_events the kernel may write.
        let rc = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                events.buf.as_mut_ptr(),
                cap,
                timeout_ms,
            )
        };
        if rc < 0 {
            let e = io::Error::last_os_error();
            events.n = 0;
            return if e.raw_os_error() == Some(libc::EINTR) {
                Ok(0)
            } else {
                Err(e)
            };
        }
        events.n = rc as usize;
        Ok(events.n)
    }
}
