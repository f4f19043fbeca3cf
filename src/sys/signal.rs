//! Synchronous signal handling: block the termination signals in every thread, then wait for
//! them in one place with `sigwait`, so no async-signal-safety hazards exist anywhere.

use std::io;

/// `SIGINT`.
pub const SIGINT: i32 = libc::SIGINT;
/// `SIGTERM`.
pub const SIGTERM: i32 = libc::SIGTERM;

/// A set of signals blocked in the calling thread (and in threads it spawns afterwards).
#[derive(Clone, Copy)]
pub struct BlockedSignals {
    set: libc::sigset_t,
}

impl std::fmt::Debug for BlockedSignals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlockedSignals")
    }
}

/// Blocks `signals` in the calling thread. Call before spawning threads: they inherit the mask,
/// so the signals stay pending until [`BlockedSignals::wait`] takes them.
pub fn block(signals: &[i32]) -> io::Result<BlockedSignals> {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it before any other use.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable sigset_t.
    unsafe { libc::sigemptyset(&mut set) };
    for &s in signals {
        // SAFETY: `set` is initialised; an invalid signal number makes sigaddset fail, checked.
        if unsafe { libc::sigaddset(&mut set, s) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: `set` is initialised and the old-mask pointer may be null.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(BlockedSignals { set })
}

impl BlockedSignals {
    /// Blocks until one of the signals is pending and returns its number.
    pub fn wait(&self) -> io::Result<i32> {
        let mut sig: libc::c_int = 0;
        // SAFETY: `self.set` was initialised by `block`; `sig` is writable.
        let rc = unsafe { libc::sigwait(&self.set, &mut sig) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(sig)
    }
}

/// `SIGALRM`.
pub const SIGALRM: i32 = libc::SIGALRM;

/// Schedules `SIGALRM` for this process in `secs` seconds (0 cancels). Unless something
/// handles or blocks it, its default action ends the process, which is how `ovs-dpctl
/// --timeout` gives up (a shell sees status 142).
pub fn alarm(secs: u32) {
    // SAFETY: alarm(2) only arms a per-process timer; it touches no memory of ours.
    unsafe { libc::alarm(secs) };
}
