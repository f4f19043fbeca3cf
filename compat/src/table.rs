//! Per-fd state: which descriptors the shim emulates or watches.
//!
//! A fixed array indexed by fd number, so the check every interposed call makes for a
//! descriptor that is not ours is one relaxed atomic load. Emulated descriptors point at a
//! shared [`Sock`]: `dup`ed descriptors share it, as they share the kernel socket.
//!
//! Writers (socket, close, dup*) publish the `Sock` before the kind and clear the kind before
//! the `Sock`, so a reader that sees `KIND_GENL` finds the state (or, racing with a close of
//! the same fd, nothing, which it treats as "not ours").

use std::ffi::c_int;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use crate::sock::Sock;

/// Descriptors at or above this number are never emulated (the shim falls back to a real
/// netlink socket for them).
pub const MAX_FDS: usize = 65536;

/// Not ours: every call passes straight through.
pub const KIND_NONE: u8 = 0;
/// An emulated `NETLINK_GENERIC` socket: a connection to userdpd.
pub const KIND_GENL: u8 = 1;
/// A real `NETLINK_ROUTE` socket whose sends are watched for the tunnel probe.
pub const KIND_ROUTE: u8 = 2;

struct Slot {
    kind: AtomicU8,
    sock: Mutex<Option<Arc<Sock>>>,
}

impl Slot {
    const fn new() -> Self {
        Slot {
            kind: AtomicU8::new(KIND_NONE),
            sock: Mutex::new(None),
        }
    }

    fn set(&self, sock: Option<Arc<Sock>>) {
        *self.sock.lock().unwrap_or_else(|e| e.into_inner()) = sock;
    }
}

static SLOTS: [Slot; MAX_FDS] = [const { Slot::new() }; MAX_FDS];

fn slot(fd: c_int) -> Option<&'static Slot> {
    usize::try_from(fd).ok().and_then(|i| SLOTS.get(i))
}

/// What the shim does with `fd` (the fast-path check).
#[inline]
pub fn kind(fd: c_int) -> u8 {
    slot(fd).map_or(KIND_NONE, |s| s.kind.load(Ordering::Acquire))
}

/// The emulated socket behind `fd`, if any.
pub fn get(fd: c_int) -> Option<Arc<Sock>> {
    let s = slot(fd)?;
    if s.kind.load(Ordering::Acquire) != KIND_GENL {
        return None;
    }
    s.sock.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Records `fd` as emulated by `sock`. False if `fd` is beyond the table.
pub fn set_genl(fd: c_int, sock: Arc<Sock>) -> bool {
    let Some(s) = slot(fd) else {
        return false;
    };
    s.set(Some(sock));
    s.kind.store(KIND_GENL, Ordering::Release);
    true
}

/// Records `fd` as a watched rtnetlink socket.
pub fn set_route(fd: c_int) {
    if let Some(s) = slot(fd) {
        s.set(None);
        s.kind.store(KIND_ROUTE, Ordering::Release);
    }
}

/// Forgets `fd` (it was closed, or reused for something else).
pub fn clear(fd: c_int) {
    if let Some(s) = slot(fd) {
        if s.kind.load(Ordering::Acquire) != KIND_NONE {
            s.kind.store(KIND_NONE, Ordering::Release);
            s.set(None);
        }
    }
}

/// `to` now refers to the same socket as `from` (after dup/dup2/dup3/F_DUPFD).
pub fn copy(from: c_int, to: c_int) {
    match kind(from) {
        KIND_GENL => match get(from) {
            Some(sock) => {
                if !set_genl(to, sock) {
                    clear(to);
                }
            }
            None => clear(to),
        },
        KIND_ROUTE => set_route(to),
        _ => clear(to),
    }
}
