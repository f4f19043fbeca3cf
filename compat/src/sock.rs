//! One emulated netlink socket: a `SOCK_SEQPACKET` connection to userdpd, plus the
//! bookkeeping that makes it behave like the kernel's netlink socket.
//!
//! ≈ `net/netlink/af_netlink.c` seen from userspace; the design is §1.12 of the protocol
//! reference and `protocol/PROTOCOL.md`.
//!
//! The central rule (B1/B2): the kernel has queued every reply and the first dump chunk by the
//! time `sendmsg` returns, and OVS reads with `MSG_DONTWAIT`, taking `EAGAIN` as "no more".
//! The daemon answers asynchronously but ends the output for each request datagram with one
//! DONE_MARKER. So every successful send adds one to `outstanding`, and while `outstanding` is
//! positive a read waits (whatever `MSG_DONTWAIT`/`O_NONBLOCK` say) until a datagram arrives;
//! markers are swallowed and decrement it. Readers of one socket are serialised by `rx`, held
//! across those waits; senders do not take it, so a marker may be read before the sender's
//! increment lands: the counter then dips to -1 and the increment settles it.
//!
//! Lock order: `rx` before `groups`.

use std::collections::VecDeque;
use std::ffi::{c_int, c_void};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

use libc::{iovec, msghdr, sockaddr, socklen_t};
use userdp_protocol::nl::{messages, NLMSG_HDRLEN};
use userdp_protocol::private::{
    is_private, Ctrl, CtrlOp, Hello, PrivateMsg, USERDP_MSG_CTRL, USERDP_MSG_DONE_MARKER,
    USERDP_MSG_HELLO, USERDP_MSG_OVERFLOW,
};

use crate::real;

/// An errno, the error type of everything here.
pub type Res<T> = Result<T, c_int>;

/// Default daemon socket (`USERDP_SOCKET` overrides it).
pub const DEFAULT_SOCKET: &str = "/run/userdp/userdp.sock";

/// `SOL_NETLINK`.
pub const SOL_NETLINK: c_int = 270;
/// `NETLINK_ADD_MEMBERSHIP`.
pub const NETLINK_ADD_MEMBERSHIP: c_int = 1;
/// `NETLINK_DROP_MEMBERSHIP`.
pub const NETLINK_DROP_MEMBERSHIP: c_int = 2;
/// `NETLINK_PKTINFO`.
pub const NETLINK_PKTINFO: c_int = 3;
/// `NETLINK_BROADCAST_ERROR`.
pub const NETLINK_BROADCAST_ERROR: c_int = 4;
/// `NETLINK_NO_ENOBUFS`.
pub const NETLINK_NO_ENOBUFS: c_int = 5;
/// `NETLINK_LISTEN_ALL_NSID`.
pub const NETLINK_LISTEN_ALL_NSID: c_int = 8;
/// `NETLINK_LIST_MEMBERSHIPS`.
pub const NETLINK_LIST_MEMBERSHIPS: c_int = 9;
/// `NETLINK_CAP_ACK`.
pub const NETLINK_CAP_ACK: c_int = 10;
/// `NETLINK_EXT_ACK`.
pub const NETLINK_EXT_ACK: c_int = 11;
/// `NETLINK_GET_STRICT_CHK`.
pub const NETLINK_GET_STRICT_CHK: c_int = 12;

/// The boolean `SOL_NETLINK` options: accepted, recorded, read back; none changes what the
/// daemon sends except `NETLINK_NO_ENOBUFS`, which hides OVERFLOW as in the kernel.
pub const BOOL_OPTIONS: [c_int; 7] = [
    NETLINK_PKTINFO,
    NETLINK_BROADCAST_ERROR,
    NETLINK_NO_ENOBUFS,
    NETLINK_LISTEN_ALL_NSID,
    NETLINK_CAP_ACK,
    NETLINK_EXT_ACK,
    NETLINK_GET_STRICT_CHK,
];

/// Size of `struct sockaddr_nl`.
pub const SOCKADDR_NL_LEN: usize = 12;

/// How long `socket()` waits for the daemon's HELLO before falling back to a real socket.
const HELLO_TIMEOUT_MS: c_int = 5000;

/// A datagram the shim had to take off the socket while waiting for a CTRL reply.
enum Stashed {
    Data(Vec<u8>),
    Overflow,
}

struct Rx {
    stash: VecDeque<Stashed>,
    ctrl_seq: u32,
}

/// State of one emulated socket, shared by all descriptors `dup`ed from it.
pub struct Sock {
    /// Our portid (from HELLO, or from a successful `bind`).
    pub portid: AtomicU32,
    /// `SOCK_RAW` or `SOCK_DGRAM`, as asked in `socket()` (reported by `SO_TYPE`).
    pub sock_type: c_int,
    /// Request datagrams sent whose DONE_MARKER has not been read yet.
    pub outstanding: AtomicI32,
    /// The kernel's `nlk->bound`: set by bind, connect and send (autobind).
    pub bound: AtomicBool,
    /// Bit `1 << opt` for each boolean `SOL_NETLINK` option set to non-zero.
    pub nl_flags: AtomicU32,
    groups: Mutex<Vec<u32>>,
    rx: Mutex<Rx>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn last_err() -> c_int {
    real::errno()
}

/// The `nlmsg_type` of a datagram that starts with `hdr` (`None` if fewer than 6 bytes).
fn kind_of(hdr: &[u8]) -> Option<u16> {
    Some(u16::from_ne_bytes([*hdr.get(4)?, *hdr.get(5)?]))
}

/// Total capacity of an iovec array.
pub fn iov_len(iov: &[iovec]) -> usize {
    iov.iter().fold(0usize, |a, v| a.saturating_add(v.iov_len))
}

/// Copies the first bytes of the `n` received bytes spread over `iov` into `out`.
fn gather_prefix(iov: &[iovec], n: usize, out: &mut [u8]) -> usize {
    let want = n.min(out.len());
    let mut got = 0;
    for v in iov {
        if got == want {
            break;
        }
        let take = v.iov_len.min(want - got);
        if take == 0 || v.iov_base.is_null() {
            continue;
        }
        // SAFETY: the kernel just wrote at least `take` bytes at `iov_base` (it fills the
        // iovecs in order), and `out[got..got + take]` is in bounds.
        let src = unsafe { std::slice::from_raw_parts(v.iov_base.cast::<u8>(), take) };
        out[got..got + take].copy_from_slice(src);
        got += take;
    }
    got
}

/// Copies `data` into the caller's iovecs; returns the number of bytes copied.
fn scatter(iov: &[iovec], data: &[u8]) -> usize {
    let mut at = 0;
    for v in iov {
        if at == data.len() {
            break;
        }
        let take = v.iov_len.min(data.len() - at);
        if take == 0 || v.iov_base.is_null() {
            continue;
        }
        // SAFETY: the caller handed us `iov_len` writable bytes at `iov_base`, as recvmsg's
        // contract requires; `take` is no more than that.
        unsafe {
            std::ptr::copy_nonoverlapping(data[at..].as_ptr(), v.iov_base.cast::<u8>(), take)
        };
        at += take;
    }
    at
}

/// Gathers all iovecs into one buffer.
pub fn gather_all(iov: &[iovec]) -> Vec<u8> {
    let mut out = Vec::with_capacity(iov_len(iov));
    for v in iov {
        if v.iov_len == 0 || v.iov_base.is_null() {
            continue;
        }
        // SAFETY: a send's iovecs point at `iov_len` readable bytes each.
        out.extend_from_slice(unsafe {
            std::slice::from_raw_parts(v.iov_base.cast::<u8>(), v.iov_len)
        });
    }
    out
}

/// `sockaddr_nl { AF_NETLINK, 0, pid, groups }` as bytes.
pub fn sockaddr_nl(pid: u32, groups: u32) -> [u8; SOCKADDR_NL_LEN] {
    let mut a = [0u8; SOCKADDR_NL_LEN];
    a[..2].copy_from_slice(&(libc::AF_NETLINK as u16).to_ne_bytes());
    a[4..8].copy_from_slice(&pid.to_ne_bytes());
    a[8..12].copy_from_slice(&groups.to_ne_bytes());
    a
}

/// Reads a caller's `sockaddr_nl` (`None` if `len` is shorter than one): family, pid, groups.
///
/// # Safety
/// `addr` must point at `len` readable bytes (or be null).
pub unsafe fn read_sockaddr_nl(addr: *const sockaddr, len: socklen_t) -> Option<(u16, u32, u32)> {
    if addr.is_null() || (len as usize) < SOCKADDR_NL_LEN {
        return None;
    }
    let mut a = [0u8; SOCKADDR_NL_LEN];
    // SAFETY: the caller guarantees `len` >= 12 readable bytes at `addr`.
    unsafe { std::ptr::copy_nonoverlapping(addr.cast::<u8>(), a.as_mut_ptr(), SOCKADDR_NL_LEN) };
    Some((
        u16::from_ne_bytes([a[0], a[1]]),
        u32::from_ne_bytes([a[4], a[5], a[6], a[7]]),
        u32::from_ne_bytes([a[8], a[9], a[10], a[11]]),
    ))
}

/// Stores an address the way the kernel's `move_addr_to_user` does: at most `*len` bytes,
/// then `*len` = the full size.
///
/// # Safety
/// `addr` must point at `*len` writable bytes; `len` must be valid (both may be null).
pub unsafe fn write_addr(addr: *mut sockaddr, len: *mut socklen_t, bytes: &[u8]) -> Res<()> {
    if len.is_null() {
        return if addr.is_null() {
            Ok(())
        } else {
            Err(libc::EFAULT)
        };
    }
    // SAFETY: `len` is non-null and valid per the caller.
    let room = unsafe { *len } as i32;
    if room < 0 {
        return Err(libc::EINVAL);
    }
    if !addr.is_null() {
        let n = bytes.len().min(room as usize);
        // SAFETY: `addr` has `room` >= `n` writable bytes per the caller.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), addr.cast::<u8>(), n) };
    }
    // SAFETY: as above.
    unsafe { *len = bytes.len() as socklen_t };
    Ok(())
}

/// `recvmsg` on the real socket into `iov`, with no name and no control buffer.
fn sys_recv_iov(fd: c_int, iov: &[iovec], flags: c_int) -> Res<(usize, c_int)> {
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut m: msghdr = unsafe { std::mem::zeroed() };
    m.msg_iov = iov.as_ptr().cast_mut();
    m.msg_iovlen = iov.len();
    // SAFETY: `m` points at the caller's iovecs (valid per recvmsg's contract) and nothing else.
    let n = unsafe { real::recvmsg(fd, &mut m, flags) };
    if n < 0 {
        return Err(last_err());
    }
    Ok((n as usize, m.msg_flags))
}

fn sys_recv(fd: c_int, buf: &mut [u8], flags: c_int) -> Res<usize> {
    // SAFETY: `buf` is a writable slice of `buf.len()` bytes.
    let n = unsafe { real::recv(fd, buf.as_mut_ptr().cast::<c_void>(), buf.len(), flags) };
    if n < 0 {
        Err(last_err())
    } else {
        Ok(n as usize)
    }
}

/// Waits until `fd` is readable (or hung up); `EINTR` is retried.
fn wait(fd: c_int, events: i16, timeout_ms: c_int) -> Res<bool> {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd.
        let r = unsafe { real::poll(&mut p, 1, timeout_ms) };
        if r >= 0 {
            return Ok(r > 0);
        }
        let e = last_err();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

/// Peeks the header of the next datagram, waiting for one however the fd is configured.
fn peek_blocking(fd: c_int, hdr: &mut [u8; NLMSG_HDRLEN]) -> Res<usize> {
    loop {
        match sys_recv(fd, hdr, libc::MSG_PEEK | libc::MSG_DONTWAIT) {
            Ok(n) => return Ok(n),
            Err(libc::EAGAIN) => {
                wait(fd, libc::POLLIN, -1)?;
            }
            Err(libc::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Receives the next whole datagram, waiting for it however the fd is configured.
fn recv_whole_blocking(fd: c_int) -> Res<Vec<u8>> {
    loop {
        // MSG_TRUNC with MSG_PEEK reports the datagram's real length without consuming it.
        let mut probe = [0u8; 1];
        match sys_recv(
            fd,
            &mut probe,
            libc::MSG_PEEK | libc::MSG_TRUNC | libc::MSG_DONTWAIT,
        ) {
            Ok(0) => return Ok(Vec::new()),
            Ok(len) => {
                let mut buf = vec![0u8; len];
                let n = sys_recv(fd, &mut buf, libc::MSG_DONTWAIT)?;
                buf.truncate(n);
                return Ok(buf);
            }
            Err(libc::EAGAIN) => {
                wait(fd, libc::POLLIN, -1)?;
            }
            Err(libc::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Sends one whole datagram, waiting for room however the fd is configured.
fn send_blocking(fd: c_int, buf: &[u8]) -> Res<()> {
    loop {
        // SAFETY: `buf` is readable for `buf.len()` bytes.
        let n = unsafe {
            real::send(
                fd,
                buf.as_ptr().cast::<c_void>(),
                buf.len(),
                libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
            )
        };
        if n >= 0 {
            return Ok(());
        }
        match last_err() {
            libc::EAGAIN => {
                wait(fd, libc::POLLOUT, -1)?;
            }
            libc::EINTR => {}
            e => return Err(e),
        }
    }
}

/// The daemon socket path: `USERDP_SOCKET`, else [`DEFAULT_SOCKET`].
pub fn daemon_path() -> std::ffi::OsString {
    std::env::var_os("USERDP_SOCKET")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_SOCKET.into())
}

/// True when `USERDP_COMPAT_DEBUG` is set: the shim then explains its fallbacks on stderr.
pub fn debug_enabled() -> bool {
    std::env::var_os("USERDP_COMPAT_DEBUG").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Connects to the daemon and reads HELLO. Returns the connected fd (with `FD_CLOEXEC` and
/// `O_NONBLOCK` as `socket()`'s type flags asked) and the assigned portid.
pub fn connect_daemon(type_flags: c_int) -> Res<(c_int, u32)> {
    let path = daemon_path();
    // SAFETY: sockaddr_un is plain data; all-zero is valid.
    let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_bytes();
    if bytes.len() >= sun.sun_path.len() {
        return Err(libc::ENAMETOOLONG);
    }
    for (d, s) in sun.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    // Always CLOEXEC while setting up, so a concurrent fork+exec cannot inherit a half-made
    // socket; the caller's choice is applied at the end.
    // SAFETY: plain syscall wrapper.
    let fd = unsafe { real::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(last_err());
    }
    let r = setup(fd, &sun, type_flags);
    if r.is_err() {
        // SAFETY: `fd` is ours and not published anywhere.
        unsafe { real::close(fd) };
    }
    r.map(|portid| (fd, portid))
}

fn setup(fd: c_int, sun: &libc::sockaddr_un, type_flags: c_int) -> Res<u32> {
    loop {
        // SAFETY: `sun` is a valid sockaddr_un of the size given.
        let r = unsafe {
            real::connect(
                fd,
                (sun as *const libc::sockaddr_un).cast::<sockaddr>(),
                std::mem::size_of::<libc::sockaddr_un>() as socklen_t,
            )
        };
        if r == 0 {
            break;
        }
        match last_err() {
            libc::EINTR => continue,
            libc::EISCONN => break,
            e => return Err(e),
        }
    }
    // Room for a 64 KiB OVS_PACKET_CMD_EXECUTE in one datagram (PROTOCOL.md §5).
    let sndbuf: c_int = 1 << 20;
    // SAFETY: `sndbuf` is a valid int for the size given.
    unsafe {
        real::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&sndbuf as *const c_int).cast::<c_void>(),
            std::mem::size_of::<c_int>() as socklen_t,
        )
    };
    if !wait(fd, libc::POLLIN, HELLO_TIMEOUT_MS)? {
        return Err(libc::ETIMEDOUT);
    }
    let mut buf = [0u8; 256];
    let n = loop {
        match sys_recv(fd, &mut buf, libc::MSG_DONTWAIT) {
            Err(libc::EINTR) => continue,
            r => break r?,
        }
    };
    let d = &buf[..n.min(buf.len())];
    let hello = match messages(d).next() {
        Some(Ok(m)) if m.header.kind == USERDP_MSG_HELLO => {
            Hello::parse(m.payload).map_err(|_| libc::EPROTO)?
        }
        _ => return Err(libc::EPROTO),
    };
    if hello.portid == 0 {
        return Err(libc::EPROTO);
    }
    if type_flags & libc::SOCK_CLOEXEC == 0 {
        // SAFETY: plain fcntl on our own fd.
        unsafe { real::fcntl(fd, libc::F_SETFD, 0) };
    }
    if type_flags & libc::SOCK_NONBLOCK != 0 {
        // SAFETY: plain fcntl on our own fd.
        let fl = unsafe { real::fcntl(fd, libc::F_GETFL, 0) };
        // SAFETY: as above.
        unsafe { real::fcntl(fd, libc::F_SETFL, (fl | libc::O_NONBLOCK) as libc::c_ulong) };
    }
    Ok(hello.portid)
}

/// What to do with a private message read off the socket.
enum Private {
    /// Swallow it and read on.
    Skip,
    /// Report `ENOBUFS` to the reader.
    Overflow,
}

impl Sock {
    /// State for a fresh connection with `portid`.
    pub fn new(portid: u32, sock_type: c_int) -> Self {
        Sock {
            portid: AtomicU32::new(portid),
            sock_type,
            outstanding: AtomicI32::new(0),
            bound: AtomicBool::new(false),
            nl_flags: AtomicU32::new(0),
            groups: Mutex::new(Vec::new()),
            rx: Mutex::new(Rx {
                stash: VecDeque::new(),
                ctrl_seq: 0,
            }),
        }
    }

    /// Is the boolean `SOL_NETLINK` option `opt` set?
    pub fn flag(&self, opt: c_int) -> bool {
        self.nl_flags.load(Ordering::Relaxed) & (1u32 << (opt & 31)) != 0
    }

    /// Records a boolean `SOL_NETLINK` option.
    pub fn set_flag(&self, opt: c_int, on: bool) {
        let bit = 1u32 << (opt & 31);
        if on {
            self.nl_flags.fetch_or(bit, Ordering::Relaxed);
        } else {
            self.nl_flags.fetch_and(!bit, Ordering::Relaxed);
        }
    }

    /// Joined groups, ascending.
    pub fn groups(&self) -> Vec<u32> {
        lock(&self.groups).clone()
    }

    /// Bitmask of joined groups 1..=32 (`nl_groups` of `getsockname`).
    pub fn low_groups(&self) -> u32 {
        lock(&self.groups)
            .iter()
            .filter(|&&g| (1..=32).contains(&g))
            .fold(0, |m, g| m | 1 << (g - 1))
    }

    fn private(&self, kind: u16) -> Private {
        match kind {
            USERDP_MSG_DONE_MARKER => {
                self.outstanding.fetch_sub(1, Ordering::AcqRel);
                Private::Skip
            }
            USERDP_MSG_OVERFLOW if !self.flag(NETLINK_NO_ENOBUFS) => Private::Overflow,
            // A CTRL reply nobody waits for, a late HELLO, an OVERFLOW the caller opted out of.
            _ => Private::Skip,
        }
    }

    /// The receive side of recv/recvfrom/recvmsg/read: returns the value for the caller
    /// (the datagram's length, or its real length with `MSG_TRUNC`) and `msg_flags`.
    pub fn recv(&self, fd: c_int, iov: &[iovec], flags: c_int) -> Res<(usize, c_int)> {
        let mut rx = lock(&self.rx);
        let cap = iov_len(iov);
        loop {
            match rx.stash.front() {
                Some(Stashed::Overflow) => {
                    rx.stash.pop_front();
                    if self.flag(NETLINK_NO_ENOBUFS) {
                        continue;
                    }
                    return Err(libc::ENOBUFS);
                }
                Some(Stashed::Data(d)) => {
                    let copied = scatter(iov, d);
                    let mflags = if d.len() > copied { libc::MSG_TRUNC } else { 0 };
                    let ret = if flags & libc::MSG_TRUNC != 0 {
                        d.len()
                    } else {
                        copied
                    };
                    if flags & libc::MSG_PEEK == 0 {
                        rx.stash.pop_front();
                    }
                    return Ok((ret, mflags));
                }
                None => {}
            }
            let pending = self.outstanding.load(Ordering::Acquire) > 0;
            if !pending && flags & libc::MSG_PEEK == 0 && cap >= NLMSG_HDRLEN {
                // Fast path: read straight into the caller's buffer, then look at the type.
                let (n, mflags) = sys_recv_iov(fd, iov, flags)?;
                let mut hdr = [0u8; NLMSG_HDRLEN];
                let got = gather_prefix(iov, n, &mut hdr);
                match kind_of(&hdr[..got]) {
                    Some(k) if got == NLMSG_HDRLEN && is_private(k) => match self.private(k) {
                        Private::Skip => continue,
                        Private::Overflow => return Err(libc::ENOBUFS),
                    },
                    _ => return Ok((n, mflags)),
                }
            }
            // Look before reading: markers must be consumed for real even when the caller
            // peeks, and a caller's tiny buffer (drain_rcvbuf's 1 byte) cannot show the type.
            let mut hdr = [0u8; NLMSG_HDRLEN];
            let n = if pending {
                peek_blocking(fd, &mut hdr)?
            } else {
                sys_recv(
                    fd,
                    &mut hdr,
                    libc::MSG_PEEK | (flags & (libc::MSG_DONTWAIT | libc::MSG_ERRQUEUE)),
                )?
            };
            if n == 0 {
                // End of stream: the daemon went away (OVS maps it to ECONNRESET).
                return Ok((0, 0));
            }
            if let Some(k) = kind_of(&hdr[..n.min(NLMSG_HDRLEN)]) {
                if n >= NLMSG_HDRLEN && is_private(k) {
                    let mut scratch = [0u8; 64];
                    sys_recv(fd, &mut scratch, libc::MSG_DONTWAIT)?;
                    match self.private(k) {
                        Private::Skip => continue,
                        Private::Overflow => return Err(libc::ENOBUFS),
                    }
                }
            }
            // A real datagram is at the head; it is there, so never block for it.
            return sys_recv_iov(fd, iov, flags | libc::MSG_DONTWAIT);
        }
    }

    /// The send side of send/sendto/sendmsg/write: one datagram, then one marker owed.
    pub fn send(&self, fd: c_int, iov: &[iovec], flags: c_int) -> Res<usize> {
        if iov_len(iov) == 0 {
            // The kernel accepts an empty netlink datagram and does nothing with it; on
            // SEQPACKET an empty datagram would read as end-of-stream to the daemon.
            return Ok(0);
        }
        // SAFETY: msghdr is plain data; all-zero is a valid empty header.
        let mut m: msghdr = unsafe { std::mem::zeroed() };
        m.msg_iov = iov.as_ptr().cast_mut();
        m.msg_iovlen = iov.len();
        // Netlink never raises SIGPIPE; a vanished daemon is an error return.
        // SAFETY: `m` points at the caller's iovecs, valid per send's contract.
        let n = unsafe { real::sendmsg(fd, &m, flags | libc::MSG_NOSIGNAL) };
        if n < 0 {
            return Err(last_err());
        }
        self.outstanding.fetch_add(1, Ordering::AcqRel);
        self.bound.store(true, Ordering::Relaxed);
        Ok(n as usize)
    }

    /// Runs one CTRL operation synchronously: sends it, then reads until its reply and its
    /// DONE_MARKER. Data that arrives first is stashed for the next reads.
    pub fn ctrl(&self, fd: c_int, op: CtrlOp, arg: u32) -> Res<()> {
        let mut rx = lock(&self.rx);
        rx.ctrl_seq = rx.ctrl_seq.wrapping_add(1);
        let seq = rx.ctrl_seq;
        let mut req = Vec::with_capacity(32);
        Ctrl::request(op, arg).emit_request(&mut req, seq, self.portid.load(Ordering::Relaxed));
        send_blocking(fd, &req)?;
        self.outstanding.fetch_add(1, Ordering::AcqRel);
        let mut result: Option<i32> = None;
        loop {
            let d = recv_whole_blocking(fd)?;
            if d.is_empty() {
                return Err(libc::ECONNRESET);
            }
            let Some(Ok(m)) = messages(&d).next() else {
                rx.stash.push_back(Stashed::Data(d));
                continue;
            };
            match m.header.kind {
                USERDP_MSG_DONE_MARKER => {
                    self.outstanding.fetch_sub(1, Ordering::AcqRel);
                    if let Some(e) = result {
                        // Markers follow the replies of their datagram, so the first marker
                        // after our reply is ours.
                        return if e < 0 { Err(-e) } else { Ok(()) };
                    }
                }
                USERDP_MSG_CTRL if m.header.seq == seq => match PrivateMsg::parse(&m) {
                    Ok(Some(PrivateMsg::Ctrl(c))) => {
                        if c.error == 0 && op == CtrlOp::Bind {
                            self.portid.store(arg, Ordering::Relaxed);
                        }
                        result = Some(c.error);
                    }
                    _ => result = Some(-libc::EPROTO),
                },
                USERDP_MSG_OVERFLOW => rx.stash.push_back(Stashed::Overflow),
                k if is_private(k) => {}
                _ => rx.stash.push_back(Stashed::Data(d)),
            }
        }
    }

    /// `NETLINK_ADD_MEMBERSHIP` / `DROP_MEMBERSHIP`.
    pub fn membership(&self, fd: c_int, join: bool, group: u32) -> Res<()> {
        let op = if join { CtrlOp::Join } else { CtrlOp::Leave };
        self.ctrl(fd, op, group)?;
        let mut g = lock(&self.groups);
        match (g.binary_search(&group), join) {
            (Err(at), true) => g.insert(at, group),
            (Ok(at), false) => {
                g.remove(at);
            }
            _ => {}
        }
        Ok(())
    }

    /// `bind(sockaddr_nl)`: portid then the `nl_groups` bitmask, which replaces membership of
    /// groups 1..=32 as `netlink_bind` does.
    pub fn bind(&self, fd: c_int, pid: u32, mask: u32) -> Res<()> {
        let portid = self.portid.load(Ordering::Relaxed);
        if self.bound.load(Ordering::Relaxed) {
            if pid != portid {
                return Err(libc::EINVAL);
            }
        } else if pid != 0 && pid != portid {
            self.ctrl(fd, CtrlOp::Bind, pid)?;
        }
        self.bound.store(true, Ordering::Relaxed);
        let current = self.low_groups();
        for bit in 0..32u32 {
            let (want, have) = (mask >> bit & 1 != 0, current >> bit & 1 != 0);
            if want != have {
                self.membership(fd, want, bit + 1)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddr_nl_layout() {
        // family AF_NETLINK (16) little-endian, pad, pid 0x01020304, groups 5.
        assert_eq!(
            sockaddr_nl(0x0102_0304, 5),
            [16, 0, 0, 0, 4, 3, 2, 1, 5, 0, 0, 0]
        );
    }

    #[test]
    fn prefix_and_scatter_cross_iovec_boundaries() {
        let mut a = [0u8; 3];
        let mut b = [0u8; 20];
        let iov = [
            iovec {
                iov_base: a.as_mut_ptr().cast(),
                iov_len: a.len(),
            },
            iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            },
        ];
        let data: Vec<u8> = (1..=30).collect();
        assert_eq!(scatter(&iov, &data), 23);
        let mut hdr = [0u8; 16];
        assert_eq!(gather_prefix(&iov, 23, &mut hdr), 16);
        assert_eq!(hdr.to_vec(), (1..=16).collect::<Vec<u8>>());
        assert_eq!(kind_of(&hdr), Some(u16::from_ne_bytes([5, 6])));
        assert_eq!(gather_all(&iov).len(), 23);
        assert_eq!(iov_len(&iov), 23);
    }
}
