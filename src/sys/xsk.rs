//! Transmit-only AF_XDP sockets in copy mode: the cheapest way we know to hand a frame to a
//! device from userspace.
//!
//! ≈ `Documentation/networking/af_xdp.rst` and `__xsk_generic_xmit` of `net/xdp/xsk.c`. The
//! socket owns a UMEM (frames we write packets into), a TX ring (descriptors we produce) and a
//! completion ring (frames the kernel is done with). In copy mode every `sendto` makes the
//! kernel build an skb per descriptor and give it straight to the driver
//! (`__dev_direct_xmit`), like `PACKET_QDISC_BYPASS`, but without the socket-buffer
//! accounting and write-space wake-ups of `tpacket_snd`: on a veth that is ~1.0 µs of the
//! sender's CPU per 64-byte frame against ~1.5 µs for a `PACKET_TX_RING`
//! (`contrib/bench/xsk-tx-floor.py` beside `tx-floor.sh`). No XDP program is needed to
//! transmit. Copy mode is forced: a zero-copy bind would take the queue from the driver, and
//! veth refuses it anyway (`EOPNOTSUPP`).
//!
//! The ring protocol: producer and consumer are free-running u32 indices shared with the
//! kernel; descriptors are written before the producer is published (release) and the
//! kernel's indices are read with acquire. Everything read from the kernel (indices,
//! completed addresses) is checked before it is used as an offset.

use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::sys::mapping::Mapping;
use crate::sys::packet::{getsockopt, setsockopt};

/// `AF_XDP` (`include/linux/socket.h`).
const AF_XDP: libc::c_int = 44;
/// `SOL_XDP`.
const SOL_XDP: libc::c_int = 283;
// Socket options of `include/uapi/linux/if_xdp.h`.
const XDP_MMAP_OFFSETS: libc::c_int = 1;
const XDP_TX_RING: libc::c_int = 3;
const XDP_UMEM_REG: libc::c_int = 4;
const XDP_UMEM_FILL_RING: libc::c_int = 5;
const XDP_UMEM_COMPLETION_RING: libc::c_int = 6;
/// Frames one `sendto` may send in copy mode (kernel ≥ 6.17; the default is 32).
const XDP_MAX_TX_SKB_BUDGET: libc::c_int = 9;
/// `sxdp_flags`: copy mode.
const XDP_COPY: u16 = 1 << 1;
/// mmap offsets of the rings.
const XDP_PGOFF_TX_RING: u64 = 0x8000_0000;
const XDP_UMEM_PGOFF_COMPLETION_RING: u64 = 0x1_8000_0000;

/// UMEM frame size: an MTU frame with VLAN tags fits; bigger ones take another path.
pub const XSK_FRAME_SIZE: usize = 2048;
/// UMEM frames per socket (2 MiB, pinned, per port and queue): frames stay the kernel's from
/// queueing until their completion, which on a veth comes within the same send and on a NIC
/// at its TX-completion interrupt; a burst is at most 64 frames per port.
const FRAMES: usize = 1024;
/// TX ring entries (a power of two).
const TX_RING: u32 = 512;
/// Completion ring entries: room for every frame, so the kernel's completion reservation
/// (its TX back-pressure) never fails.
const CQ_RING: u32 = FRAMES as u32;
/// Fill ring entries: unused by a transmit-only socket, but bind wants one on the UMEM owner.
const FQ_RING: u32 = 64;
/// `sendto` calls without progress before the rest of a batch is given up.
const STALLED_KICKS: usize = 4;

/// `struct xdp_umem_reg` (with `tx_metadata_len`, 6.8+; older kernels read the first 28 bytes
/// and ignore the padding).
#[repr(C)]
struct UmemReg {
    addr: u64,
    len: u64,
    chunk_size: u32,
    headroom: u32,
    flags: u32,
    tx_metadata_len: u32,
}

/// `struct xdp_ring_offset`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct RingOffset {
    producer: u64,
    consumer: u64,
    desc: u64,
    flags: u64,
}

/// `struct xdp_mmap_offsets`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct MmapOffsets {
    rx: RingOffset,
    tx: RingOffset,
    fr: RingOffset,
    cr: RingOffset,
}

/// `struct sockaddr_xdp`.
#[repr(C)]
struct SockaddrXdp {
    family: u16,
    flags: u16,
    ifindex: u32,
    queue_id: u32,
    shared_umem_fd: u32,
}

/// `struct xdp_desc`.
const DESC_LEN: usize = 16;

/// One mapped ring: its indices and entries, all checked against the mapping.
#[derive(Debug)]
struct Ring {
    map: Mapping,
    producer: usize,
    consumer: usize,
    desc: usize,
    entries: u32,
    entry_len: usize,
}

impl Ring {
    fn map(
        fd: RawFd,
        off: &RingOffset,
        pgoff: u64,
        entries: u32,
        entry_len: usize,
    ) -> io::Result<Ring> {
        let len = off.desc as usize + entries as usize * entry_len;
        let map = Mapping::of_fd(fd, len, pgoff)?;
        let (producer, consumer, desc) = (
            off.producer as usize,
            off.consumer as usize,
            off.desc as usize,
        );
        if producer % 4 != 0
            || consumer % 4 != 0
            || producer + 4 > len
            || consumer + 4 > len
            || desc % 8 != 0
        {
            return Err(io::Error::other("AF_XDP ring offsets out of the mapping"));
        }
        Ok(Ring {
            map,
            producer,
            consumer,
            desc,
            entries,
            entry_len,
        })
    }

    fn index(&self, off: usize) -> &AtomicU32 {
        // SAFETY: off is one of the producer/consumer offsets checked in Ring::map (4-aligned,
        // inside the mapping, which lives as long as &self); the kernel updates the word
        // concurrently, hence atomic access only.
        unsafe { AtomicU32::from_ptr(self.map.base().as_ptr().add(off).cast()) }
    }

    fn producer(&self) -> &AtomicU32 {
        self.index(self.producer)
    }

    fn consumer(&self) -> &AtomicU32 {
        self.index(self.consumer)
    }

    /// The entry for free-running index `i`.
    fn entry(&self, i: u32) -> *mut u8 {
        let slot = (i & (self.entries - 1)) as usize;
        // SAFETY: slot < entries, and the mapping holds desc + entries * entry_len bytes
        // (Ring::map), so the pointer stays inside it.
        unsafe {
            self.map
                .base()
                .as_ptr()
                .add(self.desc + slot * self.entry_len)
        }
    }
}

/// A transmit-only AF_XDP socket bound to one queue of one interface, in copy mode.
#[derive(Debug)]
pub struct XskTx {
    // Field order is drop order: the socket (and with it the kernel's pins on the UMEM) goes
    // before the mappings.
    fd: OwnedFd,
    tx: Ring,
    cq: Ring,
    umem: Mapping,
    /// UMEM frames we may write (offsets), a stack.
    free: Vec<u64>,
    /// Our TX producer, published at every kick.
    tx_prod: u32,
    /// Our completion consumer.
    cq_cons: u32,
}

/// A fresh AF_XDP socket.
fn xdp_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket(2) has no memory-safety preconditions; we check the result.
    let raw = unsafe { libc::socket(AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: raw is a fresh descriptor we exclusively own.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Whether this kernel has AF_XDP sockets at all (`CONFIG_XDP_SOCKETS`).
pub fn available() -> bool {
    xdp_socket().is_ok()
}

impl XskTx {
    /// Opens a copy-mode transmit socket on queue `queue_id` of `ifindex`. Fails where the
    /// kernel has no AF_XDP, the queue does not exist, or the UMEM cannot be pinned.
    pub fn open(ifindex: u32, queue_id: u32) -> io::Result<XskTx> {
        let fd = xdp_socket()?;
        let raw = fd.as_raw_fd();
        let umem = Mapping::anonymous(FRAMES * XSK_FRAME_SIZE)?;
        let reg = UmemReg {
            addr: umem.base().as_ptr() as u64,
            len: (FRAMES * XSK_FRAME_SIZE) as u64,
            chunk_size: XSK_FRAME_SIZE as u32,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        };
        setsockopt(raw, SOL_XDP, XDP_UMEM_REG, &reg)?;
        setsockopt(raw, SOL_XDP, XDP_UMEM_FILL_RING, &FQ_RING)?;
        setsockopt(raw, SOL_XDP, XDP_UMEM_COMPLETION_RING, &CQ_RING)?;
        setsockopt(raw, SOL_XDP, XDP_TX_RING, &TX_RING)?;
        // Best effort (6.17+): a whole burst per sendto instead of 32 frames.
        let _ = setsockopt(raw, SOL_XDP, XDP_MAX_TX_SKB_BUDGET, &(TX_RING));
        let (off, len) = getsockopt::<MmapOffsets>(raw, SOL_XDP, XDP_MMAP_OFFSETS)?;
        if len != size_of::<MmapOffsets>() {
            // Pre-5.4 layout without the flags words: not worth supporting.
            return Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP));
        }
        let tx = Ring::map(raw, &off.tx, XDP_PGOFF_TX_RING, TX_RING, DESC_LEN)?;
        let cq = Ring::map(raw, &off.cr, XDP_UMEM_PGOFF_COMPLETION_RING, CQ_RING, 8)?;
        let sa = SockaddrXdp {
            family: AF_XDP as u16,
            flags: XDP_COPY,
            ifindex,
            queue_id,
            shared_umem_fd: 0,
        };
        // SAFETY: sa is a live sockaddr_xdp and we pass its exact size.
        let rc = unsafe {
            libc::bind(
                raw,
                (&sa as *const SockaddrXdp).cast(),
                size_of::<SockaddrXdp>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let tx_prod = tx.producer().load(Ordering::Relaxed);
        let cq_cons = cq.consumer().load(Ordering::Relaxed);
        Ok(XskTx {
            fd,
            tx,
            cq,
            umem,
            free: (0..FRAMES as u64)
                .rev()
                .map(|i| i * XSK_FRAME_SIZE as u64)
                .collect(),
            tx_prod,
            cq_cons,
        })
    }

    /// The socket's descriptor.
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Takes back the frames the kernel has finished with.
    fn reclaim(&mut self) {
        let prod = self.cq.producer().load(Ordering::Acquire);
        while self.cq_cons != prod {
            // SAFETY: entry() points inside the completion ring (8-byte entries, 8-aligned);
            // the kernel published this entry before moving the producer we loaded with acquire.
            let addr = unsafe { self.cq.entry(self.cq_cons).cast::<u64>().read_volatile() };
            self.cq_cons = self.cq_cons.wrapping_add(1);
            // A confused kernel must not make us write outside the UMEM or hand out one frame
            // twice; an address we cannot place is simply not reused.
            if addr % XSK_FRAME_SIZE as u64 == 0
                && addr < (FRAMES * XSK_FRAME_SIZE) as u64
                && self.free.len() < FRAMES
            {
                self.free.push(addr);
            }
        }
        self.cq.consumer().store(self.cq_cons, Ordering::Release);
    }

    /// Copies `frame` into a free UMEM frame, lets `fix` finish the copy (e.g. complete a
    /// checksum; false drops the frame) and describes it in the TX ring, to go out at the next
    /// [`XskTx::kick`]. False when it does not fit a frame, every frame is in flight, or `fix`
    /// refused it.
    pub fn queue(&mut self, frame: &[u8], fix: impl FnOnce(&mut [u8]) -> bool) -> bool {
        if frame.len() > XSK_FRAME_SIZE {
            return false;
        }
        let pending = self
            .tx_prod
            .wrapping_sub(self.tx.consumer().load(Ordering::Acquire));
        if pending >= TX_RING {
            return false;
        }
        if self.free.is_empty() {
            self.reclaim();
        }
        let Some(addr) = self.free.pop() else {
            return false;
        };
        // SAFETY: addr is a frame start inside the UMEM (we only ever hold such addresses), the
        // frame is ours until the kernel completes it, and frame.len() ≤ XSK_FRAME_SIZE, so the
        // slice stays inside it; nothing else views it while we hold &mut self.
        let copy = unsafe {
            std::slice::from_raw_parts_mut(
                self.umem.base().as_ptr().add(addr as usize),
                frame.len(),
            )
        };
        copy.copy_from_slice(frame);
        if !fix(copy) {
            self.free.push(addr);
            return false;
        }
        let d = self.tx.entry(self.tx_prod);
        let mut desc = [0u8; DESC_LEN];
        desc[..8].copy_from_slice(&addr.to_ne_bytes());
        desc[8..12].copy_from_slice(&(frame.len() as u32).to_ne_bytes());
        // SAFETY: d is a 16-byte descriptor slot inside the TX ring; the slot is ours because
        // fewer than TX_RING descriptors are pending (checked above).
        unsafe { std::ptr::copy_nonoverlapping(desc.as_ptr(), d, DESC_LEN) };
        self.tx_prod = self.tx_prod.wrapping_add(1);
        true
    }

    /// Publishes the queued descriptors and makes the kernel send them. Returns how many it
    /// sent; the rest of them are lost (`Err` when descriptors are left in the ring that the
    /// kernel would not take: the socket must then be dropped so they never go out late).
    pub fn kick(&mut self) -> Result<usize, KickStalled> {
        let start = self.tx.consumer().load(Ordering::Acquire);
        self.tx.producer().store(self.tx_prod, Ordering::Release);
        let mut refused = 0usize;
        let mut stalled = 0;
        let mut last = start;
        loop {
            let cons = self.tx.consumer().load(Ordering::Acquire);
            if cons == self.tx_prod {
                break;
            }
            if cons == last {
                stalled += 1;
                if stalled > STALLED_KICKS {
                    self.reclaim();
                    let took = cons.wrapping_sub(start) as usize;
                    return Err(KickStalled {
                        sent: took.saturating_sub(refused),
                    });
                }
            } else {
                stalled = 0;
                last = cons;
            }
            // SAFETY: sendto(2) with no buffer and no address; copy mode reads the TX ring only.
            let rc = unsafe {
                libc::sendto(
                    self.fd(),
                    std::ptr::null(),
                    0,
                    libc::MSG_DONTWAIT,
                    std::ptr::null(),
                    0,
                )
            };
            if rc < 0 {
                match io::Error::last_os_error().raw_os_error() {
                    // The driver dropped one frame (consumed, completed, not sent).
                    Some(libc::EBUSY) => refused += 1,
                    // Budget used up or completion ring full: ask again.
                    Some(libc::EAGAIN) | Some(libc::ENOBUFS) | Some(libc::EINTR) => {}
                    // ENETDOWN, ENXIO: nothing more will go out of this socket now.
                    _ => stalled = STALLED_KICKS,
                }
            }
            self.reclaim();
        }
        self.reclaim();
        let took = self.tx_prod.wrapping_sub(start) as usize;
        Ok(took.saturating_sub(refused))
    }
}

/// A kick after which descriptors remained that the kernel would not send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KickStalled {
    /// Frames that went out before it stalled; the rest of the batch is lost.
    pub sent: usize,
}
