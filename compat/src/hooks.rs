//! The interposed libc entry points.
//!
//! Every function first asks the fd table what the descriptor is (one atomic load): for
//! anything not ours it calls the real function and nothing else. Emulated descriptors go to
//! [`Sock`]; watched rtnetlink descriptors get the tunnel-probe rewrite on send. Panics are
//! caught at each entry (a bug becomes `-1`/`EIO`, never an unwind into C).

use std::ffi::{c_int, c_uint, c_ulong, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use libc::{iovec, mmsghdr, msghdr, size_t, sockaddr, socklen_t, ssize_t, timespec};

use crate::real::{self, set_errno};
use crate::route;
use crate::sock::{self, Res, Sock, BOOL_OPTIONS, SOL_NETLINK};
use crate::table::{self, KIND_GENL, KIND_NONE, KIND_ROUTE};

/// Largest rtnetlink datagram inspected for the tunnel probe; bigger ones pass unchanged.
const ROUTE_SCAN_MAX: usize = 1 << 20;

fn guard<R>(fail: R, f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        set_errno(libc::EIO);
        fail
    })
}

fn ssize(r: Res<usize>) -> ssize_t {
    match r {
        Ok(n) => n as ssize_t,
        Err(e) => {
            set_errno(e);
            -1
        }
    }
}

fn int(r: Res<()>) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => {
            set_errno(e);
            -1
        }
    }
}

/// # Safety
/// `iov` must point at `n` iovecs (or be null with any `n`).
unsafe fn iovs<'a>(iov: *const iovec, n: usize) -> &'a [iovec] {
    if iov.is_null() || n == 0 {
        &[]
    } else {
        // SAFETY: per the caller, `n` iovecs live at `iov` for the duration of the call.
        unsafe { std::slice::from_raw_parts(iov, n) }
    }
}

fn one_iov(buf: *const c_void, len: size_t) -> [iovec; 1] {
    [iovec {
        iov_base: buf.cast_mut(),
        iov_len: len,
    }]
}

fn debug(msg: std::fmt::Arguments<'_>) {
    if sock::debug_enabled() {
        eprintln!("userdp-compat[{}]: {msg}", std::process::id());
    }
}

/// Creates the emulated socket, or `None` to fall back to a real one.
fn emulated_socket(ty: c_int, base: c_int) -> Option<c_int> {
    match sock::connect_daemon(ty) {
        Ok((fd, portid)) => {
            if table::set_genl(fd, Arc::new(Sock::new(portid, base))) {
                debug(format_args!("fd {fd}: emulated, portid {portid}"));
                Some(fd)
            } else {
                debug(format_args!(
                    "fd {fd} beyond the fd table; real socket instead"
                ));
                // SAFETY: `fd` is ours and published nowhere.
                unsafe { real::close(fd) };
                None
            }
        }
        Err(e) => {
            debug(format_args!(
                "daemon at {:?} unreachable (errno {e}); real netlink socket instead",
                sock::daemon_path()
            ));
            None
        }
    }
}

/// `socket(2)`: `AF_NETLINK`/`NETLINK_GENERIC` becomes a connection to userdpd.
///
/// # Safety
/// As libc's `socket`.
#[no_mangle]
pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    if domain == libc::AF_NETLINK {
        let base = ty & !(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK);
        if protocol == libc::NETLINK_GENERIC && (base == libc::SOCK_RAW || base == libc::SOCK_DGRAM)
        {
            if let Some(fd) = guard(None, || emulated_socket(ty, base)) {
                return fd;
            }
        }
    }
    // SAFETY: pass-through with the caller's arguments.
    let fd = unsafe { real::socket(domain, ty, protocol) };
    if fd >= 0 {
        if domain == libc::AF_NETLINK && protocol == libc::NETLINK_ROUTE {
            table::set_route(fd);
        } else {
            // A number closed behind our back (raw syscall, exec) must not look emulated.
            table::clear(fd);
        }
    }
    fd
}

/// Checks a send destination the way `netlink_sendmsg` does: only the kernel (pid 0,
/// no groups) is reachable through the daemon.
///
/// # Safety
/// `addr` must point at `len` readable bytes (or be null).
unsafe fn check_dest(addr: *const sockaddr, len: socklen_t) -> Res<()> {
    if addr.is_null() || len == 0 {
        return Ok(());
    }
    // SAFETY: per the caller.
    match unsafe { sock::read_sockaddr_nl(addr, len) } {
        None => Err(libc::EINVAL),
        Some((fam, _, _)) if fam != libc::AF_NETLINK as u16 => Err(libc::EINVAL),
        Some((_, 0, 0)) => Ok(()),
        Some(_) => Err(libc::ECONNREFUSED),
    }
}

/// `bind(2)`: `nl_pid` → CTRL BIND, `nl_groups` → JOIN/LEAVE of groups 1..=32.
///
/// # Safety
/// As libc's `bind`.
#[no_mangle]
pub unsafe extern "C" fn bind(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    if let Some(s) = table::get(fd) {
        return guard(-1, || {
            // SAFETY: per bind's contract `addr` has `len` readable bytes.
            int(match unsafe { sock::read_sockaddr_nl(addr, len) } {
                Some((fam, pid, groups)) if fam == libc::AF_NETLINK as u16 => {
                    s.bind(fd, pid, groups)
                }
                _ => Err(libc::EINVAL),
            })
        });
    }
    // SAFETY: pass-through.
    unsafe { real::bind(fd, addr, len) }
}

/// `connect(2)`: the kernel (pid 0) is the only peer there is.
///
/// # Safety
/// As libc's `connect`.
#[no_mangle]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    if let Some(s) = table::get(fd) {
        return guard(-1, || {
            if addr.is_null() || (len as usize) < 2 {
                return int(Err(libc::EINVAL));
            }
            // SAFETY: at least 2 readable bytes at `addr`.
            let fam = unsafe { (*addr).sa_family };
            if fam == libc::AF_UNSPEC as libc::sa_family_t {
                return 0;
            }
            // SAFETY: per connect's contract.
            int(match unsafe { sock::read_sockaddr_nl(addr, len) } {
                Some((f, 0, 0)) if f == libc::AF_NETLINK as u16 => {
                    s.bound.store(true, Ordering::Relaxed);
                    Ok(())
                }
                Some((f, _, _)) if f == libc::AF_NETLINK as u16 => Err(libc::ECONNREFUSED),
                _ => Err(libc::EINVAL),
            })
        });
    }
    // SAFETY: pass-through.
    unsafe { real::connect(fd, addr, len) }
}

/// `getsockname(2)`: `sockaddr_nl { AF_NETLINK, portid, groups 1..=32 }`.
///
/// # Safety
/// As libc's `getsockname`.
#[no_mangle]
pub unsafe extern "C" fn getsockname(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    if let Some(s) = table::get(fd) {
        return guard(-1, || {
            let a = sock::sockaddr_nl(s.portid.load(Ordering::Relaxed), s.low_groups());
            // SAFETY: per getsockname's contract.
            int(unsafe { sock::write_addr(addr, len, &a) })
        });
    }
    // SAFETY: pass-through.
    unsafe { real::getsockname(fd, addr, len) }
}

/// `getpeername(2)`: the kernel, pid 0.
///
/// # Safety
/// As libc's `getpeername`.
#[no_mangle]
pub unsafe extern "C" fn getpeername(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    if table::kind(fd) == KIND_GENL {
        return guard(-1, || {
            // SAFETY: per getpeername's contract.
            int(unsafe { sock::write_addr(addr, len, &sock::sockaddr_nl(0, 0)) })
        });
    }
    // SAFETY: pass-through.
    unsafe { real::getpeername(fd, addr, len) }
}

/// Stores an int option as `sock_getsockopt` does: at most `*len` bytes of it.
///
/// # Safety
/// `val`/`len` as getsockopt's arguments.
unsafe fn put_int(v: c_int, val: *mut c_void, len: *mut socklen_t, exact: bool) -> Res<()> {
    if len.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: `len` is valid per the caller.
    let room = unsafe { *len } as i32;
    if room < 0 || (exact && room < 4) {
        return Err(libc::EINVAL);
    }
    let n = (room as usize).min(4);
    if val.is_null() && n > 0 {
        return Err(libc::EFAULT);
    }
    // SAFETY: `val` has `room` >= `n` writable bytes.
    unsafe { std::ptr::copy_nonoverlapping(v.to_ne_bytes().as_ptr(), val.cast::<u8>(), n) };
    // SAFETY: as above.
    unsafe { *len = n as socklen_t };
    Ok(())
}

/// # Safety
/// As getsockopt's arguments.
unsafe fn emulated_getsockopt(
    s: &Sock,
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *mut c_void,
    len: *mut socklen_t,
) -> c_int {
    let r = match (level, name) {
        (libc::SOL_SOCKET, libc::SO_PROTOCOL) => {
            // SAFETY: `val`/`len` as getsockopt's.
            unsafe { put_int(libc::NETLINK_GENERIC, val, len, false) }
        }
        (libc::SOL_SOCKET, libc::SO_DOMAIN) => {
            // SAFETY: `val`/`len` as getsockopt's.
            unsafe { put_int(libc::AF_NETLINK, val, len, false) }
        }
        (libc::SOL_SOCKET, libc::SO_TYPE) => {
            // SAFETY: `val`/`len` as getsockopt's.
            unsafe { put_int(s.sock_type, val, len, false) }
        }
        // SAFETY: pass-through of the caller's arguments.
        (libc::SOL_SOCKET, _) => return unsafe { real::getsockopt(fd, level, name, val, len) },
        (SOL_NETLINK, sock::NETLINK_LIST_MEMBERSHIPS) => {
            // SAFETY: `val`/`len` as getsockopt's.
            unsafe { list_memberships(s, val, len) }
        }
        (SOL_NETLINK, o) if BOOL_OPTIONS.contains(&o) => {
            // SAFETY: `val`/`len` as getsockopt's.
            unsafe { put_int(c_int::from(s.flag(o)), val, len, true) }
        }
        _ => Err(libc::ENOPROTOOPT),
    };
    int(r)
}

/// `NETLINK_LIST_MEMBERSHIPS`: the group bitmap (group g = bit g-1) in as many u32 words as
/// fit; `*len` = the size of the whole bitmap.
///
/// # Safety
/// As getsockopt's arguments.
unsafe fn list_memberships(s: &Sock, val: *mut c_void, len: *mut socklen_t) -> Res<()> {
    if len.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: `len` valid per the caller.
    let room = unsafe { *len } as i32;
    if room < 0 {
        return Err(libc::EINVAL);
    }
    let groups = s.groups();
    let words = groups.last().map_or(0, |&g| (g as usize).div_ceil(32));
    let mut bitmap = vec![0u32; words];
    for g in groups.into_iter().filter(|&g| g > 0) {
        let b = (g - 1) as usize;
        if let Some(w) = bitmap.get_mut(b / 32) {
            *w |= 1 << (b % 32);
        }
    }
    let fit = (room as usize / 4).min(words);
    if fit > 0 && val.is_null() {
        return Err(libc::EFAULT);
    }
    for (i, w) in bitmap.iter().take(fit).enumerate() {
        // SAFETY: `val` has `room` >= 4 * fit writable bytes.
        unsafe {
            val.cast::<u8>()
                .add(4 * i)
                .cast::<u32>()
                .write_unaligned(*w)
        };
    }
    // SAFETY: as above.
    unsafe { *len = (words * 4) as socklen_t };
    Ok(())
}

/// `getsockopt(2)`: netlink identity and `SOL_NETLINK` options answered locally.
///
/// # Safety
/// As libc's `getsockopt`.
#[no_mangle]
pub unsafe extern "C" fn getsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *mut c_void,
    len: *mut socklen_t,
) -> c_int {
    if let Some(s) = table::get(fd) {
        // SAFETY: the caller's arguments, as getsockopt's contract.
        return guard(-1, || unsafe {
            emulated_getsockopt(&s, fd, level, name, val, len)
        });
    }
    // SAFETY: pass-through.
    unsafe { real::getsockopt(fd, level, name, val, len) }
}

/// `setsockopt(2)`: memberships go to the daemon (synchronously), the other `SOL_NETLINK`
/// flags are recorded, `SOL_SOCKET` options apply to the Unix socket.
///
/// # Safety
/// As libc's `setsockopt`.
#[no_mangle]
pub unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *const c_void,
    len: socklen_t,
) -> c_int {
    let Some(s) = table::get(fd) else {
        // SAFETY: pass-through.
        return unsafe { real::setsockopt(fd, level, name, val, len) };
    };
    if level == libc::SOL_SOCKET {
        // SAFETY: pass-through to the Unix socket (SO_RCVBUFFORCE, SO_SNDBUF, ...).
        return unsafe { real::setsockopt(fd, level, name, val, len) };
    }
    guard(-1, || {
        if level != SOL_NETLINK {
            return int(Err(libc::ENOPROTOOPT));
        }
        // As netlink_setsockopt: an option shorter than an int reads as 0.
        let v: c_int = if (len as usize) >= 4 {
            if val.is_null() {
                return int(Err(libc::EFAULT));
            }
            // SAFETY: at least 4 readable bytes at `val`.
            unsafe { val.cast::<c_int>().read_unaligned() }
        } else {
            0
        };
        int(match name {
            sock::NETLINK_ADD_MEMBERSHIP | sock::NETLINK_DROP_MEMBERSHIP => {
                if v == 0 {
                    Err(libc::EINVAL)
                } else {
                    s.membership(fd, name == sock::NETLINK_ADD_MEMBERSHIP, v as u32)
                }
            }
            o if BOOL_OPTIONS.contains(&o) => {
                s.set_flag(o, v != 0);
                Ok(())
            }
            _ => Err(libc::ENOPROTOOPT),
        })
    })
}

/// Gathers a watched rtnetlink send and applies the tunnel-probe rewrite; `None` when the
/// datagram goes out unchanged.
fn route_fix(iov: &[iovec]) -> Option<Vec<u8>> {
    let total = sock::iov_len(iov);
    if !(16..=ROUTE_SCAN_MAX).contains(&total) {
        return None;
    }
    let mut b = sock::gather_all(iov);
    if route::clear_oot_probe_create(&mut b) {
        debug(format_args!(
            "cleared NLM_F_CREATE in the ovs_geneve probe (compat tunnels)"
        ));
        Some(b)
    } else {
        None
    }
}

/// sendmsg for an emulated or watched fd.
///
/// # Safety
/// `msg` as sendmsg's argument.
unsafe fn sendmsg_slow(kind: u8, fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    if msg.is_null() {
        return ssize(Err(libc::EFAULT));
    }
    // SAFETY: `msg` is a valid msghdr per sendmsg's contract.
    let m = unsafe { &*msg };
    // SAFETY: its iovecs are valid.
    let iov = unsafe { iovs(m.msg_iov, m.msg_iovlen) };
    if kind == KIND_GENL {
        if let Some(s) = table::get(fd) {
            // SAFETY: msg_name has msg_namelen bytes.
            return ssize(
                unsafe { check_dest(m.msg_name.cast(), m.msg_namelen) }
                    .and_then(|()| s.send(fd, iov, flags)),
            );
        }
    } else if let Some(b) = route_fix(iov) {
        let fixed = one_iov(b.as_ptr().cast(), b.len());
        let mut copy = *m;
        copy.msg_iov = fixed.as_ptr().cast_mut();
        copy.msg_iovlen = 1;
        // SAFETY: `copy` is the caller's header with our buffer as its only iovec.
        return unsafe { real::sendmsg(fd, &copy, flags) };
    }
    // SAFETY: pass-through.
    unsafe { real::sendmsg(fd, msg, flags) }
}

/// `sendmsg(2)`: one datagram; a destination other than the kernel is refused.
///
/// # Safety
/// As libc's `sendmsg`.
#[no_mangle]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    let kind = table::kind(fd);
    if kind == KIND_NONE {
        // SAFETY: pass-through.
        return unsafe { real::sendmsg(fd, msg, flags) };
    }
    // SAFETY: the caller's arguments.
    guard(-1, || unsafe { sendmsg_slow(kind, fd, msg, flags) })
}

/// sendto for an emulated or watched fd.
///
/// # Safety
/// As sendto's arguments.
unsafe fn sendto_slow(
    kind: u8,
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    alen: socklen_t,
) -> ssize_t {
    let iov = one_iov(buf, len);
    if kind == KIND_GENL {
        if let Some(s) = table::get(fd) {
            // SAFETY: `addr` has `alen` bytes.
            return ssize(unsafe { check_dest(addr, alen) }.and_then(|()| s.send(fd, &iov, flags)));
        }
    } else if kind == KIND_ROUTE {
        if let Some(b) = route_fix(&iov) {
            // SAFETY: our buffer, the caller's address.
            return unsafe { real::sendto(fd, b.as_ptr().cast(), b.len(), flags, addr, alen) };
        }
    }
    // SAFETY: pass-through.
    unsafe { real::sendto(fd, buf, len, flags, addr, alen) }
}

/// `sendto(2)`.
///
/// # Safety
/// As libc's `sendto`.
#[no_mangle]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    alen: socklen_t,
) -> ssize_t {
    let kind = table::kind(fd);
    if kind == KIND_NONE {
        // SAFETY: pass-through.
        return unsafe { real::sendto(fd, buf, len, flags, addr, alen) };
    }
    // SAFETY: the caller's arguments.
    guard(-1, || unsafe {
        sendto_slow(kind, fd, buf, len, flags, addr, alen)
    })
}

/// `send(2)`.
///
/// # Safety
/// As libc's `send`.
#[no_mangle]
pub unsafe extern "C" fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t {
    let kind = table::kind(fd);
    if kind == KIND_NONE {
        // SAFETY: pass-through.
        return unsafe { real::send(fd, buf, len, flags) };
    }
    // SAFETY: the caller's arguments; no address.
    guard(-1, || unsafe {
        sendto_slow(kind, fd, buf, len, flags, std::ptr::null(), 0)
    })
}

/// writev for an emulated or watched fd.
///
/// # Safety
/// As writev's arguments.
unsafe fn writev_slow(kind: u8, fd: c_int, iov: *const iovec, n: c_int) -> ssize_t {
    // SAFETY: `n` iovecs at `iov` per writev's contract.
    let v = unsafe { iovs(iov, usize::try_from(n).unwrap_or(0)) };
    if kind == KIND_GENL {
        if let Some(s) = table::get(fd) {
            return ssize(s.send(fd, v, 0));
        }
    } else if let Some(b) = route_fix(v) {
        // SAFETY: our buffer.
        return unsafe { real::write(fd, b.as_ptr().cast(), b.len()) };
    }
    // SAFETY: pass-through.
    unsafe { real::writev(fd, iov, n) }
}

/// `write(2)`: on an emulated fd, a send of one datagram.
///
/// # Safety
/// As libc's `write`.
#[no_mangle]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, len: size_t) -> ssize_t {
    let kind = table::kind(fd);
    if kind == KIND_NONE {
        // SAFETY: pass-through.
        return unsafe { real::write(fd, buf, len) };
    }
    let iov = one_iov(buf, len);
    // SAFETY: one iovec describing the caller's buffer.
    guard(-1, || unsafe { writev_slow(kind, fd, iov.as_ptr(), 1) })
}

/// `writev(2)`.
///
/// # Safety
/// As libc's `writev`.
#[no_mangle]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const iovec, n: c_int) -> ssize_t {
    let kind = table::kind(fd);
    if kind == KIND_NONE {
        // SAFETY: pass-through.
        return unsafe { real::writev(fd, iov, n) };
    }
    // SAFETY: the caller's arguments.
    guard(-1, || unsafe { writev_slow(kind, fd, iov, n) })
}

/// `sendmmsg(2)`: each message through [`sendmsg`].
///
/// # Safety
/// As libc's `sendmmsg`.
#[no_mangle]
pub unsafe extern "C" fn sendmmsg(
    fd: c_int,
    msgs: *mut mmsghdr,
    vlen: c_uint,
    flags: c_int,
) -> c_int {
    let kind = table::kind(fd);
    if kind == KIND_NONE {
        // SAFETY: pass-through.
        return unsafe { real::sendmmsg(fd, msgs, vlen, flags) };
    }
    guard(-1, || {
        let mut sent = 0;
        for i in 0..vlen.min(1024) as usize {
            // SAFETY: `vlen` mmsghdrs at `msgs`.
            let m = unsafe { &mut *msgs.add(i) };
            // SAFETY: a valid msghdr.
            let r = unsafe { sendmsg_slow(kind, fd, &m.msg_hdr, flags) };
            if r < 0 {
                return if sent == 0 { -1 } else { sent };
            }
            m.msg_len = r as c_uint;
            sent += 1;
        }
        sent
    })
}

/// recvmsg on an emulated socket: fills the caller's header like netlink would.
///
/// # Safety
/// `m` as recvmsg's argument.
unsafe fn recvmsg_emulated(s: &Sock, fd: c_int, m: &mut msghdr, flags: c_int) -> Res<usize> {
    // SAFETY: the caller's iovecs.
    let iov = unsafe { iovs(m.msg_iov, m.msg_iovlen) };
    let (n, mflags) = s.recv(fd, iov, flags)?;
    if !m.msg_name.is_null() {
        let a = sock::sockaddr_nl(0, 0);
        let room = (m.msg_namelen as usize).min(a.len());
        // SAFETY: msg_name has msg_namelen writable bytes.
        unsafe { std::ptr::copy_nonoverlapping(a.as_ptr(), m.msg_name.cast::<u8>(), room) };
        m.msg_namelen = a.len() as socklen_t;
    }
    // The daemon never sends ancillary data, and netlink's (PKTINFO, NSID) is not emulated.
    m.msg_controllen = 0;
    m.msg_flags = mflags & !libc::MSG_CTRUNC;
    Ok(n)
}

/// `recvmsg(2)`: the marker algorithm (see `sock.rs`).
///
/// # Safety
/// As libc's `recvmsg`.
#[no_mangle]
pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    if let Some(s) = table::get(fd) {
        return guard(-1, || {
            if msg.is_null() {
                return ssize(Err(libc::EFAULT));
            }
            // SAFETY: a valid msghdr per recvmsg's contract.
            ssize(unsafe { recvmsg_emulated(&s, fd, &mut *msg, flags) })
        });
    }
    // SAFETY: pass-through.
    unsafe { real::recvmsg(fd, msg, flags) }
}

/// recvfrom on an emulated socket.
///
/// # Safety
/// As recvfrom's arguments.
unsafe fn recvfrom_emulated(
    s: &Sock,
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
) -> ssize_t {
    let iov = one_iov(buf, len);
    ssize(s.recv(fd, &iov, flags).and_then(|(n, _)| {
        if !addr.is_null() {
            // SAFETY: `addr` has `*alen` writable bytes.
            unsafe { sock::write_addr(addr, alen, &sock::sockaddr_nl(0, 0)) }?;
        }
        Ok(n)
    }))
}

/// `recvfrom(2)`.
///
/// # Safety
/// As libc's `recvfrom`.
#[no_mangle]
pub unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
) -> ssize_t {
    if let Some(s) = table::get(fd) {
        // SAFETY: the caller's arguments.
        return guard(-1, || unsafe {
            recvfrom_emulated(&s, fd, buf, len, flags, addr, alen)
        });
    }
    // SAFETY: pass-through.
    unsafe { real::recvfrom(fd, buf, len, flags, addr, alen) }
}

/// `recv(2)`.
///
/// # Safety
/// As libc's `recv`.
#[no_mangle]
pub unsafe extern "C" fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t {
    if let Some(s) = table::get(fd) {
        return guard(-1, || {
            ssize(s.recv(fd, &one_iov(buf, len), flags).map(|r| r.0))
        });
    }
    // SAFETY: pass-through.
    unsafe { real::recv(fd, buf, len, flags) }
}

/// `read(2)`: on an emulated fd, `recv(…, 0)`.
///
/// # Safety
/// As libc's `read`.
#[no_mangle]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, len: size_t) -> ssize_t {
    if let Some(s) = table::get(fd) {
        return guard(-1, || ssize(s.recv(fd, &one_iov(buf, len), 0).map(|r| r.0)));
    }
    // SAFETY: pass-through.
    unsafe { real::read(fd, buf, len) }
}

/// `readv(2)`.
///
/// # Safety
/// As libc's `readv`.
#[no_mangle]
pub unsafe extern "C" fn readv(fd: c_int, iov: *const iovec, n: c_int) -> ssize_t {
    if let Some(s) = table::get(fd) {
        return guard(-1, || {
            // SAFETY: `n` iovecs at `iov`.
            let v = unsafe { iovs(iov, usize::try_from(n).unwrap_or(0)) };
            ssize(s.recv(fd, v, 0).map(|r| r.0))
        });
    }
    // SAFETY: pass-through.
    unsafe { real::readv(fd, iov, n) }
}

/// `recvmmsg(2)`: each message through the emulated recvmsg; the timeout is ignored.
///
/// # Safety
/// As libc's `recvmmsg`.
#[no_mangle]
pub unsafe extern "C" fn recvmmsg(
    fd: c_int,
    msgs: *mut mmsghdr,
    vlen: c_uint,
    flags: c_int,
    timeout: *mut timespec,
) -> c_int {
    let Some(s) = table::get(fd) else {
        // SAFETY: pass-through.
        return unsafe { real::recvmmsg(fd, msgs, vlen, flags, timeout) };
    };
    guard(-1, || {
        let mut got = 0;
        for i in 0..vlen.min(1024) as usize {
            let mut f = flags & !libc::MSG_WAITFORONE;
            if i > 0 && flags & libc::MSG_WAITFORONE != 0 {
                f |= libc::MSG_DONTWAIT;
            }
            // SAFETY: `vlen` mmsghdrs at `msgs`.
            let m = unsafe { &mut *msgs.add(i) };
            // SAFETY: a valid msghdr.
            match unsafe { recvmsg_emulated(&s, fd, &mut m.msg_hdr, f) } {
                Ok(n) => {
                    m.msg_len = n as c_uint;
                    got += 1;
                }
                Err(e) if got == 0 => {
                    set_errno(e);
                    return -1;
                }
                Err(_) => break,
            }
        }
        got
    })
}

/// glibc's fortified `recv` (`_FORTIFY_SOURCE` builds).
///
/// # Safety
/// As glibc's `__recv_chk`.
#[no_mangle]
pub unsafe extern "C" fn __recv_chk(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    buflen: size_t,
    flags: c_int,
) -> ssize_t {
    if len <= buflen && table::kind(fd) == KIND_GENL {
        // SAFETY: the caller's arguments.
        return unsafe { recv(fd, buf, len, flags) };
    }
    // SAFETY: pass-through (aborts on overflow, as it should).
    unsafe { real::__recv_chk(fd, buf, len, buflen, flags) }
}

/// glibc's fortified `recvfrom`.
///
/// # Safety
/// As glibc's `__recvfrom_chk`.
#[no_mangle]
pub unsafe extern "C" fn __recvfrom_chk(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    buflen: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
) -> ssize_t {
    if len <= buflen && table::kind(fd) == KIND_GENL {
        // SAFETY: the caller's arguments.
        return unsafe { recvfrom(fd, buf, len, flags, addr, alen) };
    }
    // SAFETY: pass-through.
    unsafe { real::__recvfrom_chk(fd, buf, len, buflen, flags, addr, alen) }
}

/// glibc's fortified `read`.
///
/// # Safety
/// As glibc's `__read_chk`.
#[no_mangle]
pub unsafe extern "C" fn __read_chk(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    buflen: size_t,
) -> ssize_t {
    if len <= buflen && table::kind(fd) == KIND_GENL {
        // SAFETY: the caller's arguments.
        return unsafe { read(fd, buf, len) };
    }
    // SAFETY: pass-through.
    unsafe { real::__read_chk(fd, buf, len, buflen) }
}

/// `close(2)`: forget the fd first, so a number reused at once is never taken for ours.
///
/// # Safety
/// As libc's `close`.
#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    table::clear(fd);
    // SAFETY: pass-through.
    unsafe { real::close(fd) }
}

/// `close_range(2)`.
///
/// # Safety
/// As libc's `close_range`.
#[no_mangle]
pub unsafe extern "C" fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int {
    if flags & libc::CLOSE_RANGE_CLOEXEC as c_int == 0 {
        let end = last.min(table::MAX_FDS as c_uint - 1);
        for fd in first..=end {
            table::clear(fd as c_int);
        }
    }
    // SAFETY: pass-through.
    unsafe { real::close_range(first, last, flags) }
}

/// `dup(2)`: the new fd shares the emulated socket.
///
/// # Safety
/// As libc's `dup`.
#[no_mangle]
pub unsafe extern "C" fn dup(fd: c_int) -> c_int {
    // SAFETY: pass-through.
    let r = unsafe { real::dup(fd) };
    if r >= 0 {
        table::copy(fd, r);
    }
    r
}

/// `dup2(2)`: `newfd` now is whatever `fd` is (emulated or not).
///
/// # Safety
/// As libc's `dup2`.
#[no_mangle]
pub unsafe extern "C" fn dup2(fd: c_int, newfd: c_int) -> c_int {
    // SAFETY: pass-through.
    let r = unsafe { real::dup2(fd, newfd) };
    if r >= 0 && fd != newfd {
        table::copy(fd, r);
    }
    r
}

/// `dup3(2)`.
///
/// # Safety
/// As libc's `dup3`.
#[no_mangle]
pub unsafe extern "C" fn dup3(fd: c_int, newfd: c_int, flags: c_int) -> c_int {
    // SAFETY: pass-through.
    let r = unsafe { real::dup3(fd, newfd, flags) };
    if r >= 0 {
        table::copy(fd, r);
    }
    r
}

/// `fcntl(2)`; `F_DUPFD`/`F_DUPFD_CLOEXEC` copy the state. Declared with a fixed third
/// argument: on x86-64 and AArch64 Linux a variadic int or pointer argument arrives exactly
/// like a named `long` one.
///
/// # Safety
/// As libc's `fcntl`.
#[no_mangle]
pub unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
    // SAFETY: pass-through.
    let r = unsafe { real::fcntl(fd, cmd, arg) };
    if r >= 0 && (cmd == libc::F_DUPFD || cmd == libc::F_DUPFD_CLOEXEC) {
        table::copy(fd, r);
    }
    r
}

/// `fcntl64`: glibc ≥ 2.28 redirects `fcntl` here in large-file builds (Python uses it).
///
/// # Safety
/// As libc's `fcntl64`.
#[no_mangle]
pub unsafe extern "C" fn fcntl64(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
    // SAFETY: pass-through.
    let r = unsafe { real::fcntl64(fd, cmd, arg) };
    if r >= 0 && (cmd == libc::F_DUPFD || cmd == libc::F_DUPFD_CLOEXEC) {
        table::copy(fd, r);
    }
    r
}
