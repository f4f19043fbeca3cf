//! Connections and the registry that maps portids to them.
//!
//! ≈ `net/netlink/af_netlink.c` (`netlink_insert`, `netlink_unicast`, `netlink_broadcast`,
//! `netlink_overrun`) for sockets that are Unix SEQPACKET connections.
//!
//! Contract:
//! - The registry's `pid → Conn` map is an [`ArcSwap`] snapshot. Writers (accept, bind,
//!   disconnect) serialise on `Registry::ctl`, copy the map, modify, and publish. Readers
//!   (upcalls from packet threads, multicast) load the snapshot without any lock.
//! - Each connection is written by its own connection thread (replies, dump chunks, HELLO,
//!   markers, in order) and by anyone sending it a multicast or an upcall. Every send is one
//!   non-blocking syscall; "blocking" sends wait for `POLLOUT` *without* holding a lock, so a
//!   stuck reader never stalls another connection's thread.
//! - `send_lock` is held only across non-blocking syscalls, to keep a pending OVERFLOW and the
//!   datagram that follows it adjacent for control-plane writers. Upcalls never take it; they
//!   use only atomics (`overflow` is claimed with a swap, so OVERFLOW is sent once per episode).
//! - Lock order: `Registry::ctl` → `Conn::groups`, and `send_lock` → `Conn::groups` (only
//!   in `join_then_send`, which must make a JOIN and its marker atomic for multicasters).
//!   Nothing takes `send_lock` while holding `groups`.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use socket2::Socket;
use userdp_protocol::private::Overflow;

use crate::sys::socket::{self as sock, PeerCred, MSG_DONTWAIT, POLLOUT};
use crate::transport::{Lost, Peer};

/// How long a blocked writer sleeps in `poll` before re-checking for daemon shutdown.
const POLL_SLICE_MS: i32 = 200;

/// Wakes the overflow flusher thread; usable from packet threads (atomics + futex wake only).
#[derive(Debug, Default)]
pub(crate) struct Wake {
    pending: AtomicBool,
    thread: OnceLock<Thread>,
}

impl Wake {
    pub(crate) fn set_thread(&self, t: Thread) {
        let _ = self.thread.set(t);
    }
    fn kick(&self) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            if let Some(t) = self.thread.get() {
                t.unpark();
            }
        }
    }
    /// Clears the pending bit; the flusher then scans every connection.
    pub(crate) fn take(&self) -> bool {
        self.pending.swap(false, Ordering::AcqRel)
    }
    pub(crate) fn unpark(&self) {
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }
}

/// One accepted connection: the daemon side of one emulated netlink socket.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) sock: Socket,
    portid: AtomicU32,
    pub(crate) cred: PeerCred,
    pub(crate) cap_net_admin: bool,
    groups: Mutex<Vec<u32>>,
    send_lock: Mutex<()>,
    overflow: AtomicBool,
    dropped: AtomicU32,
    /// Set once HELLO is out: nothing may precede it.
    ready: AtomicBool,
    wake: Arc<Wake>,
}

impl Conn {
    pub(crate) fn new(sock: Socket, cred: PeerCred, cap_net_admin: bool, wake: Arc<Wake>) -> Self {
        Conn {
            sock,
            portid: AtomicU32::new(0),
            cred,
            cap_net_admin,
            groups: Mutex::new(Vec::new()),
            send_lock: Mutex::new(()),
            overflow: AtomicBool::new(false),
            dropped: AtomicU32::new(0),
            ready: AtomicBool::new(false),
            wake,
        }
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }

    pub(crate) fn portid(&self) -> u32 {
        self.portid.load(Ordering::Acquire)
    }

    pub(crate) fn peer(&self) -> Peer {
        Peer {
            portid: self.portid(),
            pid: self.cred.pid,
            uid: self.cred.uid,
            gid: self.cred.gid,
            cap_net_admin: self.cap_net_admin,
        }
    }

    pub(crate) fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    pub(crate) fn in_group(&self, group: u32) -> bool {
        self.groups.lock().contains(&group)
    }

    pub(crate) fn join(&self, group: u32) {
        let mut g = self.groups.lock();
        if !g.contains(&group) {
            g.push(group);
        }
    }

    pub(crate) fn leave(&self, group: u32) {
        self.groups.lock().retain(|&x| x != group);
    }

    pub(crate) fn overflow_pending(&self) -> bool {
        self.overflow.load(Ordering::Acquire)
    }

    /// Records one dropped message and schedules an OVERFLOW.
    fn mark_overflow(&self) {
        let _ = self
            .dropped
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| {
                Some(d.saturating_add(1))
            });
        self.overflow.store(true, Ordering::Release);
        self.wake.kick();
    }

    /// Sends a pending OVERFLOW without blocking. Returns `Ok(true)` if nothing is pending any
    /// more, `Ok(false)` if the socket is still full.
    pub(crate) fn flush_overflow(&self) -> io::Result<bool> {
        if !self.overflow.swap(false, Ordering::AcqRel) {
            return Ok(true);
        }
        let dropped = self.dropped.swap(0, Ordering::AcqRel);
        let mut msg = Vec::with_capacity(20);
        Overflow { dropped }.emit(&mut msg);
        match sock::send(self.fd(), &msg, MSG_DONTWAIT) {
            Ok(_) => Ok(true),
            Err(e) => {
                let _ = self
                    .dropped
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| {
                        Some(d.saturating_add(dropped))
                    });
                self.overflow.store(true, Ordering::Release);
                if e.kind() == io::ErrorKind::WouldBlock {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Flushes a pending OVERFLOW under the send lock (for the flusher thread).
    pub(crate) fn flush_overflow_locked(&self) -> io::Result<bool> {
        let _g = self.send_lock.lock();
        self.flush_overflow()
    }

    /// Multicast and upcall path: one non-blocking attempt; a full socket drops and counts.
    pub(crate) fn send_nonblocking(&self, data: &[u8], take_lock: bool) -> Result<(), Lost> {
        if !self.ready.load(Ordering::Acquire) {
            return Err(Lost::NoConnection);
        }
        let _g = take_lock.then(|| self.send_lock.lock());
        match self.flush_overflow() {
            Ok(true) => {}
            Ok(false) => {
                self.mark_overflow();
                return Err(Lost::Full);
            }
            Err(_) => return Err(Lost::Closed),
        }
        match sock::send(self.fd(), data, MSG_DONTWAIT) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.mark_overflow();
                Err(Lost::Full)
            }
            // EMSGSIZE and friends: the message itself is lost, the connection is fine.
            Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => {
                self.mark_overflow();
                Err(Lost::Full)
            }
            Err(_) => Err(Lost::Closed),
        }
    }

    /// Joins `groups` and queues `marker` as one step under the send lock, so a multicast can
    /// neither reach the client before the marker that completes its JOIN nor be missed after
    /// it. Waiting for room holds the lock, which only delays multicasts to this connection,
    /// whose reader is itself waiting for the marker.
    pub(crate) fn join_then_send(
        &self,
        groups: &[u32],
        marker: &[u8],
        shutdown: &AtomicBool,
    ) -> io::Result<()> {
        let _g = self.send_lock.lock();
        for &g in groups {
            self.join(g);
        }
        loop {
            if self.try_send(marker)? {
                return Ok(());
            }
            self.wait_for_room(shutdown)?;
        }
    }

    /// Reply path: waits (without holding any lock) until the datagram is queued, the peer is
    /// gone, or the daemon shuts down. This is the back-pressure that paces a dump to its reader.
    pub(crate) fn send_blocking(&self, data: &[u8], shutdown: &AtomicBool) -> io::Result<()> {
        loop {
            let sent = {
                let _g = self.send_lock.lock();
                self.try_send(data)?
            };
            if sent {
                return Ok(());
            }
            self.wait_for_room(shutdown)?;
        }
    }

    /// One non-blocking attempt (a pending OVERFLOW goes first); the caller holds the send
    /// lock. `Ok(false)` = no room now.
    fn try_send(&self, data: &[u8]) -> io::Result<bool> {
        if !self.flush_overflow()? {
            return Ok(false);
        }
        match sock::send(self.fd(), data, MSG_DONTWAIT) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Waits a slice for the socket to have room; errors once the peer is gone or the daemon
    /// shuts down.
    fn wait_for_room(&self, shutdown: &AtomicBool) -> io::Result<()> {
        if shutdown.load(Ordering::Acquire) {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "daemon shutting down",
            ));
        }
        let rev = sock::poll(&[self.fd()], POLLOUT, POLL_SLICE_MS)?;
        if rev
            .first()
            .is_some_and(|r| r & (libc::POLLHUP | libc::POLLERR) != 0)
        {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        Ok(())
    }
}

/// Counters of the transport, for logs and tests.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) multicast_sent: AtomicU64,
    pub(crate) multicast_dropped: AtomicU64,
    pub(crate) upcalls_lost: AtomicU64,
}

#[derive(Debug)]
struct Ctl {
    next_pid: u32,
}

/// The set of live connections, indexed by portid.
#[derive(Debug)]
pub(crate) struct Registry {
    by_pid: ArcSwap<HashMap<u32, Arc<Conn>>>,
    ctl: Mutex<Ctl>,
    pub(crate) wake: Arc<Wake>,
    pub(crate) shutdown: AtomicBool,
    pub(crate) counters: Counters,
}

/// A portid the daemon never hands out: 0 means "no upcalls", `u32::MAX` is OVS's dummy pid.
pub(crate) fn valid_portid(pid: u32) -> bool {
    pid != 0 && pid != u32::MAX
}

impl Registry {
    pub(crate) fn new() -> Self {
        Registry {
            by_pid: ArcSwap::from_pointee(HashMap::new()),
            ctl: Mutex::new(Ctl { next_pid: 1 }),
            wake: Arc::new(Wake::default()),
            shutdown: AtomicBool::new(false),
            counters: Counters::default(),
        }
    }

    /// All live connections (a lock-free snapshot).
    pub(crate) fn snapshot(&self) -> arc_swap::Guard<Arc<HashMap<u32, Arc<Conn>>>> {
        self.by_pid.load()
    }

    /// Looks up a connection by portid without locking.
    pub(crate) fn get(&self, pid: u32) -> Option<Arc<Conn>> {
        self.by_pid.load().get(&pid).cloned()
    }

    /// Registers `conn` under a fresh portid and returns it.
    pub(crate) fn insert(&self, conn: &Arc<Conn>) -> u32 {
        let mut ctl = self.ctl.lock();
        let cur = self.by_pid.load_full();
        let mut pid = ctl.next_pid;
        while !valid_portid(pid) || cur.contains_key(&pid) {
            pid = pid.wrapping_add(1);
        }
        ctl.next_pid = pid.wrapping_add(1);
        conn.portid.store(pid, Ordering::Release);
        let mut map = (*cur).clone();
        map.insert(pid, conn.clone());
        self.by_pid.store(Arc::new(map));
        pid
    }

    /// Moves `conn` to the client-chosen portid `pid`; `EADDRINUSE` if another connection has it.
    pub(crate) fn rebind(&self, conn: &Arc<Conn>, pid: u32) -> Result<(), i32> {
        if !valid_portid(pid) {
            return Err(libc::EINVAL);
        }
        let _ctl = self.ctl.lock();
        let old = conn.portid();
        if old == pid {
            return Ok(());
        }
        let cur = self.by_pid.load_full();
        if cur.contains_key(&pid) {
            return Err(libc::EADDRINUSE);
        }
        let mut map = (*cur).clone();
        if map.get(&old).is_some_and(|c| Arc::ptr_eq(c, conn)) {
            map.remove(&old);
        }
        map.insert(pid, conn.clone());
        conn.portid.store(pid, Ordering::Release);
        self.by_pid.store(Arc::new(map));
        Ok(())
    }

    /// Forgets `conn`, freeing its portid.
    pub(crate) fn remove(&self, conn: &Arc<Conn>) {
        let _ctl = self.ctl.lock();
        let cur = self.by_pid.load_full();
        let pid = conn.portid();
        if cur.get(&pid).is_some_and(|c| Arc::ptr_eq(c, conn)) {
            let mut map = (*cur).clone();
            map.remove(&pid);
            self.by_pid.store(Arc::new(map));
        }
    }
}
