//! TAP queues with virtio-net headers: how an `internal` port talks to the host stack.
//!
//! ≈ `drivers/net/tun.c` seen from userspace (and `net/openvswitch/vport-internal_dev.c`, which
//! it stands in for). A [`TapQueue`] can carry a `virtio_net_hdr` with
//! every frame (`IFF_VNET_HDR`) and announce with `TUNSETOFFLOAD` that we accept GSO and
//! partial-checksum frames, so the host hands us 64 KiB TCP super-frames instead of segmenting
//! them first; with `IFF_MULTI_QUEUE` each packet thread gets its own queue descriptor.

use std::io;
use std::mem::zeroed;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::port::batch::{mask_of, Packet, VirtioNetHdr};
use crate::sys::packet::{RecvResult, SendResult};

/// `TUN_F_CSUM`: we accept frames whose checksum is still to be completed.
pub const TUN_F_CSUM: u32 = 0x01;
/// `TUN_F_TSO4`.
pub const TUN_F_TSO4: u32 = 0x02;
/// `TUN_F_TSO6`.
pub const TUN_F_TSO6: u32 = 0x04;
/// `TUN_F_TSO_ECN`.
pub const TUN_F_TSO_ECN: u32 = 0x08;
/// `TUN_F_USO4` (Linux ≥ 6.2).
pub const TUN_F_USO4: u32 = 0x20;
/// `TUN_F_USO6` (Linux ≥ 6.2).
pub const TUN_F_USO6: u32 = 0x40;

/// One queue descriptor of a TAP device.
#[derive(Debug)]
pub struct TapQueue {
    fd: OwnedFd,
    vnet_hdr: bool,
}

fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.bytes().any(|b| b == 0) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: ifreq is a plain C struct; all-zero is valid.
    let mut req: libc::ifreq = unsafe { zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    Ok(req)
}

impl TapQueue {
    /// Creates TAP `name` or, with `multi_queue`, attaches one more queue to it
    /// (`IFF_TAP | IFF_NO_PI` [`| IFF_VNET_HDR`] [`| IFF_MULTI_QUEUE`]). The caller checks for a
    /// name collision first: `TUNSETIFF` attaches to an existing TAP of that name rather than
    /// failing.
    pub fn open(name: &str, vnet_hdr: bool, multi_queue: bool) -> io::Result<TapQueue> {
        let mut req = ifreq(name)?;
        // SAFETY: the path is a valid NUL-terminated literal.
        let fd = unsafe {
            libc::open(
                c"/dev/net/tun".as_ptr(),
                libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we exclusively own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut flags = libc::IFF_TAP | libc::IFF_NO_PI;
        if vnet_hdr {
            flags |= libc::IFF_VNET_HDR;
        }
        if multi_queue {
            flags |= libc::IFF_MULTI_QUEUE;
        }
        req.ifr_ifru.ifru_flags = flags as libc::c_short;
        // SAFETY: TUNSETIFF reads and writes only within the ifreq we pass.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF as _, &mut req) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let q = TapQueue { fd, vnet_hdr };
        if vnet_hdr {
            let sz: libc::c_int = VirtioNetHdr::LEN as libc::c_int;
            // SAFETY: TUNSETVNETHDRSZ reads one int from the pointer we pass.
            let rc = unsafe { libc::ioctl(q.fd(), libc::TUNSETVNETHDRSZ as _, &sz) };
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
            // Tell the host we take TSO/USO and partial checksums; USO needs Linux ≥ 6.2.
            let base = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
            if q.set_offload(base | TUN_F_USO4 | TUN_F_USO6).is_err() {
                q.set_offload(base)?;
            }
        }
        Ok(q)
    }

    /// `TUNSETOFFLOAD`: the `TUN_F_*` offloads we accept on reads (the device's features follow).
    pub fn set_offload(&self, flags: u32) -> io::Result<()> {
        // TUNSETOFFLOAD takes the flags as the ioctl argument itself, not through a pointer.
        // SAFETY: no memory is passed to the kernel.
        let rc =
            unsafe { libc::ioctl(self.fd(), libc::TUNSETOFFLOAD as _, flags as libc::c_ulong) };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// The descriptor (for epoll).
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Whether frames carry a `virtio_net_hdr`.
    pub fn vnet_hdr(&self) -> bool {
        self.vnet_hdr
    }

    /// Reads frames the host sent until the queue is empty or `pkts` is full (TAP has no
    /// batched read: one `readv` per frame, header and frame landing in place).
    pub fn recv_burst(&self, pkts: &mut [Packet]) -> io::Result<RecvResult> {
        let mut out = RecvResult::default();
        let hdr_len = if self.vnet_hdr { VirtioNetHdr::LEN } else { 0 };
        while out.received < pkts.len() {
            let p = &mut pkts[out.received];
            let mut hdr = [0u8; VirtioNetHdr::LEN];
            let area = p.recv_area();
            let mut iov = [
                libc::iovec {
                    iov_base: hdr.as_mut_ptr().cast(),
                    iov_len: hdr.len(),
                },
                libc::iovec {
                    iov_base: area.as_mut_ptr().cast(),
                    iov_len: area.len(),
                },
            ];
            let iov = &mut iov[usize::from(!self.vnet_hdr)..];
            // SAFETY: iov points at `hdr` and the packet's buffer, both exclusively borrowed and
            // alive for the call, with their exact lengths.
            let rc = unsafe { libc::readv(self.fd(), iov.as_ptr(), iov.len() as libc::c_int) };
            if rc < 0 {
                let e = io::Error::last_os_error();
                return match e.raw_os_error() {
                    Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(out),
                    _ if out.received > 0 => Ok(out),
                    _ => Err(e),
                };
            }
            let n = rc as usize;
            if n < hdr_len {
                out.dropped += 1;
                continue;
            }
            p.set_received(n - hdr_len);
            p.vnet = if self.vnet_hdr {
                VirtioNetHdr::from_bytes(&hdr)
            } else {
                VirtioNetHdr::default()
            };
            p.vlan = None;
            out.received += 1;
        }
        Ok(out)
    }

    /// Writes the frames selected by `mask` to the host, one `writev` each. `EIO` (the TAP is
    /// administratively down), `EINVAL` (bad offload header) and a full queue are drops.
    pub fn send_burst(&self, pkts: &[Packet], mask: u64) -> io::Result<SendResult> {
        let mut res = SendResult::default();
        let mut mask = mask & mask_of(pkts.len().min(64));
        while mask != 0 {
            let i = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            let Some(p) = pkts.get(i) else { break };
            let mut hdr = p.vnet.to_bytes();
            let data = p.data();
            let iov = [
                libc::iovec {
                    iov_base: hdr.as_mut_ptr().cast(),
                    iov_len: hdr.len(),
                },
                // The kernel only reads from this buffer.
                libc::iovec {
                    iov_base: data.as_ptr() as *mut libc::c_void,
                    iov_len: data.len(),
                },
            ];
            let iov = &iov[usize::from(!self.vnet_hdr)..];
            loop {
                // SAFETY: iov points at `hdr` and the packet's frame, alive for the call; the
                // kernel reads them only.
                let rc = unsafe { libc::writev(self.fd(), iov.as_ptr(), iov.len() as libc::c_int) };
                if rc >= 0 {
                    res.sent += 1;
                    res.bytes += data.len();
                    break;
                }
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::EBADF) | Some(libc::EFAULT) => return Err(e),
                    _ => {
                        res.dropped += 1;
                        break;
                    }
                }
            }
        }
        Ok(res)
    }
}
