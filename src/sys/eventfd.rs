//! `eventfd`: how one thread wakes another that sleeps in epoll (a frame injected into a dummy
//! port, a reconfiguration, a shutdown).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A non-blocking eventfd counter.
#[derive(Debug)]
pub struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    /// A new eventfd with count 0.
    pub fn new() -> io::Result<EventFd> {
        // SAFETY: eventfd has no memory-safety preconditions; we check the result.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we exclusively own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(EventFd { fd })
    }

    /// Makes the descriptor readable (adds one to the count).
    pub fn signal(&self) -> io::Result<()> {
        let one: u64 = 1;
        // SAFETY: writes the 8 bytes of a live u64.
        let rc = unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            // EAGAIN: the counter is at its maximum, so the descriptor is readable anyway.
            if e.raw_os_error() != Some(libc::EAGAIN) {
                return Err(e);
            }
        }
        Ok(())
    }

    /// Clears the count; returns it (0 if it was not signalled).
    pub fn reset(&self) -> io::Result<u64> {
        let mut v: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live u64.
        let rc = unsafe { libc::read(self.fd.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return if e.raw_os_error() == Some(libc::EAGAIN) {
                Ok(0)
            } else {
                Err(e)
            };
        }
        Ok(v)
    }

    /// The descriptor (for epoll).
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::epoll::{Epoll, Events};

    #[test]
    fn signal_wakes_epoll_and_reset_clears() {
        let ev = EventFd::new().unwrap();
        let ep = Epoll::new().unwrap();
        ep.add(ev.fd(), 7).unwrap();
        let mut events = Events::with_capacity(4);
        assert_eq!(ep.wait(&mut events, 0).unwrap(), 0);
        ev.signal().unwrap();
        ev.signal().unwrap();
        assert_eq!(ep.wait(&mut events, 1000).unwrap(), 1);
        assert_eq!(events.tokens().collect::<Vec<_>>(), vec![7]);
        assert_eq!(ev.reset().unwrap(), 2);
        assert_eq!(ev.reset().unwrap(), 0);
        assert_eq!(ep.wait(&mut events, 0).unwrap(), 0);
        ep.delete(ev.fd()).unwrap();
    }
}
