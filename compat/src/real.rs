//! The real libc functions behind the interposed ones, found with `dlsym(RTLD_NEXT, …)`.
//!
//! Each address is looked up once and cached in an atomic; a lookup that fails (no such
//! symbol further down the chain) makes the call fail with `ENOSYS` instead of crashing.

use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};

use libc::{iovec, mmsghdr, msghdr, size_t, sockaddr, socklen_t, ssize_t, timespec};

/// Sets the calling thread's `errno`.
pub fn set_errno(e: c_int) {
    // SAFETY: `__errno_location` returns the address of this thread's errno, valid for the
    // thread's lifetime.
    unsafe { *libc::__errno_location() = e };
}

/// Reads the calling thread's `errno`.
pub fn errno() -> c_int {
    // SAFETY: as in `set_errno`.
    unsafe { *libc::__errno_location() }
}

/// Resolves `name` (NUL-terminated) once; 0 if it does not exist.
fn resolve(slot: &AtomicUsize, name: &'static str) -> usize {
    let p = slot.load(Ordering::Acquire);
    if p != 0 {
        return p;
    }
    // SAFETY: `name` is a NUL-terminated static string; RTLD_NEXT asks for the next definition
    // after this library, i.e. libc's.
    let p = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr().cast::<c_char>()) } as usize;
    slot.store(p, Ordering::Release);
    p
}

macro_rules! real_fns {
    ($( $(#[$doc:meta])* fn $name:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty; )*) => {
        $(
            $(#[$doc])*
            ///
            /// # Safety
            /// Same contract as the libc function of that name.
            pub unsafe fn $name($($arg: $ty),*) -> $ret {
                static SLOT: AtomicUsize = AtomicUsize::new(0);
                let p = resolve(&SLOT, concat!(stringify!($name), "\0"));
                if p == 0 {
                    set_errno(libc::ENOSYS);
                    return -1 as $ret;
                }
                // SAFETY: `p` is the address dlsym returned for this very symbol, whose C
                // prototype is the one spelled here.
                let f: unsafe extern "C" fn($($ty),*) -> $ret = unsafe { std::mem::transmute(p) };
                // SAFETY: the caller upholds the libc function's contract.
                unsafe { f($($arg),*) }
            }
        )*
    };
}

real_fns! {
    /// `socket(2)`.
    fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int;
    /// `bind(2)`.
    fn bind(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int;
    /// `connect(2)`.
    fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int;
    /// `getsockname(2)`.
    fn getsockname(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int;
    /// `getpeername(2)`.
    fn getpeername(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int;
    /// `getsockopt(2)`.
    fn getsockopt(fd: c_int, level: c_int, name: c_int, val: *mut c_void, len: *mut socklen_t) -> c_int;
    /// `setsockopt(2)`.
    fn setsockopt(fd: c_int, level: c_int, name: c_int, val: *const c_void, len: socklen_t) -> c_int;
    /// `send(2)`.
    fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t;
    /// `sendto(2)`.
    fn sendto(fd: c_int, buf: *const c_void, len: size_t, flags: c_int, addr: *const sockaddr, alen: socklen_t) -> ssize_t;
    /// `sendmsg(2)`.
    fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t;
    /// `sendmmsg(2)`.
    fn sendmmsg(fd: c_int, msgs: *mut mmsghdr, vlen: c_uint, flags: c_int) -> c_int;
    /// `recv(2)`.
    fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t;
    /// `recvfrom(2)`.
    fn recvfrom(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int, addr: *mut sockaddr, alen: *mut socklen_t) -> ssize_t;
    /// `recvmsg(2)`.
    fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t;
    /// `recvmmsg(2)`.
    fn recvmmsg(fd: c_int, msgs: *mut mmsghdr, vlen: c_uint, flags: c_int, timeout: *mut timespec) -> c_int;
    /// `read(2)`.
    fn read(fd: c_int, buf: *mut c_void, len: size_t) -> ssize_t;
    /// `readv(2)`.
    fn readv(fd: c_int, iov: *const iovec, n: c_int) -> ssize_t;
    /// `write(2)`.
    fn write(fd: c_int, buf: *const c_void, len: size_t) -> ssize_t;
    /// `writev(2)`.
    fn writev(fd: c_int, iov: *const iovec, n: c_int) -> ssize_t;
    /// `close(2)`.
    fn close(fd: c_int) -> c_int;
    /// `close_range(2)`.
    fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int;
    /// `dup(2)`.
    fn dup(fd: c_int) -> c_int;
    /// `dup2(2)`.
    fn dup2(fd: c_int, newfd: c_int) -> c_int;
    /// `dup3(2)`.
    fn dup3(fd: c_int, newfd: c_int, flags: c_int) -> c_int;
    /// `poll(2)`.
    fn poll(fds: *mut libc::pollfd, n: libc::nfds_t, timeout: c_int) -> c_int;
    /// glibc's fortified `recv`: aborts when `len > buflen`.
    fn __recv_chk(fd: c_int, buf: *mut c_void, len: size_t, buflen: size_t, flags: c_int) -> ssize_t;
    /// glibc's fortified `recvfrom`.
    fn __recvfrom_chk(fd: c_int, buf: *mut c_void, len: size_t, buflen: size_t, flags: c_int, addr: *mut sockaddr, alen: *mut socklen_t) -> ssize_t;
    /// glibc's fortified `read`.
    fn __read_chk(fd: c_int, buf: *mut c_void, len: size_t, buflen: size_t) -> ssize_t;
}

macro_rules! real_fcntl {
    ($name:ident) => {
        /// The variadic `fcntl`, called with its optional third argument as a `long` (how the
        /// calling convention passes either an int or a pointer).
        ///
        /// # Safety
        /// Same contract as libc's `fcntl`.
        pub unsafe fn $name(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
            static SLOT: AtomicUsize = AtomicUsize::new(0);
            let p = resolve(&SLOT, concat!(stringify!($name), "\0"));
            if p == 0 {
                set_errno(libc::ENOSYS);
                return -1;
            }
            let f: unsafe extern "C" fn(c_int, c_int, ...) -> c_int =
                // SAFETY: `p` is libc's variadic fcntl.
                unsafe { std::mem::transmute(p) };
            // SAFETY: the caller upholds fcntl's contract for `cmd` and `arg`.
            unsafe { f(fd, cmd, arg) }
        }
    };
}

real_fcntl!(fcntl);
real_fcntl!(fcntl64);
