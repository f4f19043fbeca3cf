//! Linux errno values (positive), as the kernel module returns them negated in `NLMSG_ERROR`.
//!
//! Spelled out here rather than taken from `libc` so the protocol crate stays free of the
//! platform layer; the values are the asm-generic ones every Linux architecture OVS runs on uses.

/// Operation not permitted (missing `CAP_NET_ADMIN`).
pub const EPERM: i32 = 1;
/// No such file or directory (unknown flow, meter or family).
pub const ENOENT: i32 = 2;
/// Interrupted system call.
pub const EINTR: i32 = 4;
/// I/O error.
pub const EIO: i32 = 5;
/// Argument list too long (a truncated netlink message).
pub const E2BIG: i32 = 7;
/// Try again.
pub const EAGAIN: i32 = 11;
/// Out of memory.
pub const ENOMEM: i32 = 12;
/// Permission denied.
pub const EACCES: i32 = 13;
/// Bad address.
pub const EFAULT: i32 = 14;
/// Device or resource busy (port number taken).
pub const EBUSY: i32 = 16;
/// File exists (datapath, port or flow already present).
pub const EEXIST: i32 = 17;
/// No such device (unknown datapath or port).
pub const ENODEV: i32 = 19;
/// Invalid argument: the kernel's answer to any malformed attribute.
pub const EINVAL: i32 = 22;
/// File too large (port number beyond `DP_MAX_PORTS`, too many meters).
pub const EFBIG: i32 = 27;
/// Result out of range (a too-short packet, an out-of-range policy value).
pub const ERANGE: i32 = 34;
/// Message too long (action list too large).
pub const EMSGSIZE: i32 = 90;
/// Protocol error (a reply that does not parse).
pub const EPROTO: i32 = 71;
/// Value too large for defined data type (action nesting too deep).
pub const EOVERFLOW: i32 = 75;
/// Protocol not available.
pub const ENOPROTOOPT: i32 = 92;
/// Operation not supported (unknown command, unsupported feature).
pub const EOPNOTSUPP: i32 = 95;
/// Kernel-internal "operation not supported" (524), which leaks to userspace from a few OVS
/// paths (an MD type 2 NSH key).
pub const ENOTSUPP: i32 = 524;
/// Address family not supported (unsupported vport type).
pub const EAFNOSUPPORT: i32 = 97;
/// Address already in use (a netlink portid that is taken).
pub const EADDRINUSE: i32 = 98;
/// No buffer space available (messages dropped for a socket).
pub const ENOBUFS: i32 = 105;
/// Connection reset by peer.
pub const ECONNRESET: i32 = 104;

/// The symbolic name of an errno value, for messages (`"EINVAL"`), or `None` if unknown here.
pub fn name(errno: i32) -> Option<&'static str> {
    Some(match errno {
        EPERM => "EPERM",
        ENOENT => "ENOENT",
        EINTR => "EINTR",
        EIO => "EIO",
        E2BIG => "E2BIG",
        EAGAIN => "EAGAIN",
        ENOMEM => "ENOMEM",
        EACCES => "EACCES",
        EFAULT => "EFAULT",
        EBUSY => "EBUSY",
        EEXIST => "EEXIST",
        ENODEV => "ENODEV",
        EINVAL => "EINVAL",
        EFBIG => "EFBIG",
        ERANGE => "ERANGE",
        EMSGSIZE => "EMSGSIZE",
        EPROTO => "EPROTO",
        EOVERFLOW => "EOVERFLOW",
        ENOPROTOOPT => "ENOPROTOOPT",
        EOPNOTSUPP => "EOPNOTSUPP",
        ENOTSUPP => "ENOTSUPP",
        EAFNOSUPPORT => "EAFNOSUPPORT",
        EADDRINUSE => "EADDRINUSE",
        ENOBUFS => "ENOBUFS",
        ECONNRESET => "ECONNRESET",
        _ => return None,
    })
}
