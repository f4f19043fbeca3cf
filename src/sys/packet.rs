//! AF_PACKET sockets: how a `netdev` port reads and writes frames on an existing interface.
//!
//! ≈ the rx handler and `dev_queue_xmit` of `net/openvswitch/vport-netdev.c`, done from
//! userspace through `net/packet/af_packet.c`. One socket per queue, bound to one ifindex,
//! exchanging frames through memory-mapped rings (`packet_ring`), or batched with
//! `recvmmsg`/`sendmmsg` when rings are off or refused; `PACKET_VNET_HDR` carries GSO and
//! partial-checksum metadata in both directions so veth/TAP offloads survive the trip through
//! userspace.

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::port::batch::{mask_of, Packet, VirtioNetHdr, VlanTag, MAX_BURST};
use crate::sys::packet_ring::Rings;
use crate::sys::xsk::{XskTx, XSK_FRAME_SIZE};

/// `ETH_P_ALL` in network byte order, as `socket(2)` and `bind(2)` want it.
const ETH_P_ALL_BE: u16 = (libc::ETH_P_ALL as u16).to_be();
/// How long a port waits before it tries AF_XDP again after its socket stalled (link down).
const XSK_RETRY: std::time::Duration = std::time::Duration::from_secs(1);
/// Socket buffer size asked for: room for ~64 GSO super-frames, so a burst of 64 KiB frames does
/// not overflow the default 208 KiB `rmem_default`.
const SOCK_BUF: libc::c_int = 4 << 20;
/// `CMSG_SPACE(sizeof(struct tpacket_auxdata))`, rounded up generously.
const CMSG_BUF: usize = 64;

/// Options of one AF_PACKET queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketOptions {
    /// Exchange a `virtio_net_hdr` with every frame (`PACKET_VNET_HDR`).
    pub vnet_hdr: bool,
    /// Put the interface in promiscuous mode for as long as the socket lives.
    pub promisc: bool,
    /// Hand frames straight to the driver (`PACKET_QDISC_BYPASS`), as OVS does for speed.
    pub qdisc_bypass: bool,
    /// Exchange frames through memory-mapped rings (`TPACKET_V2` receive ring; transmit ring
    /// when `vnet_hdr` is on) instead of `recvmmsg`/`sendmmsg`: half the CPU per frame. Falls
    /// back to the syscalls when the kernel refuses the rings.
    pub ring: bool,
}

impl Default for PacketOptions {
    fn default() -> Self {
        PacketOptions {
            vnet_hdr: true,
            promisc: true,
            qdisc_bypass: true,
            ring: true,
        }
    }
}

/// What one [`PacketSocket::recv_burst`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RecvResult {
    /// Packets stored at the front of the slice.
    pub received: usize,
    /// Frames read but discarded (truncated, or our own output where the kernel cannot hide it).
    pub dropped: usize,
}

/// What one [`PacketSocket::send_burst`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SendResult {
    /// Frames the kernel accepted.
    pub sent: usize,
    /// Frames it refused (device down, buffer full, too big, bad offload header).
    pub dropped: usize,
    /// Bytes accepted.
    pub bytes: usize,
}

/// An AF_PACKET `SOCK_RAW` socket bound to one interface.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: u32,
    vnet_hdr: bool,
    /// False when the kernel lacks `PACKET_IGNORE_OUTGOING` (< 4.20): we filter by pkttype.
    ignores_outgoing: bool,
    /// The mapped rings, when [`PacketOptions::ring`] asked for them and the kernel agreed.
    rings: Option<Rings>,
    /// With a transmit ring every `sendmsg` on `fd` only kicks the ring: frames that do not fit
    /// a ring slot (GSO super-frames) and [`PacketSocket::send`] go out through this second,
    /// send-only socket on the same interface.
    side: Option<OwnedFd>,
    /// Frames that are not GSO go out through an AF_XDP socket when the kernel allows one
    /// ([`PacketSocket::enable_xsk_tx`]): a third less CPU per frame than the ring.
    xsk: XskState,
    /// Send-only socket without `PACKET_QDISC_BYPASS`, opened on first use by
    /// [`PacketSocket::send_burst_visible`].
    visible: Option<OwnedFd>,
}

/// The AF_XDP transmit socket of a [`PacketSocket`].
#[derive(Debug)]
enum XskState {
    /// Not asked for, or refused by the kernel.
    Off,
    /// Sending through `xsk`, bound to device queue `queue`.
    On { xsk: XskTx, queue: u32 },
    /// Given up after a stall (link down); reopened on `queue` from `retry_at` on.
    Waiting {
        queue: u32,
        retry_at: std::time::Instant,
    },
}

/// A fresh non-blocking AF_PACKET raw socket, protocol 0 until bound: it must not queue frames
/// of every interface meanwhile.
fn raw_packet_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket(2) has no memory-safety preconditions; we check the result.
    let fd = cvt(unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    })?;
    // SAFETY: fd is a fresh descriptor we exclusively own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Binds `fd` to `ifindex` for `proto` (network byte order; 0 = send only).
fn bind(fd: RawFd, ifindex: u32, proto: u16) -> io::Result<()> {
    // SAFETY: sockaddr_ll is plain integers and bytes; all-zero is valid.
    let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
    sll.sll_family = libc::AF_PACKET as libc::c_ushort;
    sll.sll_protocol = proto;
    sll.sll_ifindex = ifindex as libc::c_int;
    // SAFETY: sll is a live sockaddr_ll and we pass its exact size.
    cvt(unsafe {
        libc::bind(
            fd,
            (&sll as *const libc::sockaddr_ll).cast(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// A socket on `ifindex` that only sends, each frame with a vnet header; with `qdisc_bypass`
/// its frames go straight to the driver.
fn send_only_socket(ifindex: u32, qdisc_bypass: bool) -> io::Result<OwnedFd> {
    let s = raw_packet_socket()?;
    let raw = s.as_raw_fd();
    let one: libc::c_int = 1;
    setsockopt(raw, libc::SOL_PACKET, libc::PACKET_VNET_HDR, &one)?;
    if qdisc_bypass {
        // Best effort: without it frames go through the qdisc, which is only slower.
        let _ = setsockopt(raw, libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, &one);
    }
    // Root may exceed wmem_max; others get what the sysctl allows.
    if setsockopt(raw, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, &SOCK_BUF).is_err() {
        let _ = setsockopt(raw, libc::SOL_SOCKET, libc::SO_SNDBUF, &SOCK_BUF);
    }
    // Protocol 0: bound for sending only, the kernel queues nothing to it.
    bind(raw, ifindex, 0)?;
    Ok(s)
}

fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// `setsockopt(2)` with a value of type `T` (its size is the option length).
pub(crate) fn setsockopt<T>(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    val: &T,
) -> io::Result<()> {
    // SAFETY: val points to a live T of size_of::<T>() bytes for the duration of the call; the
    // kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (val as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    cvt(rc).map(drop)
}

/// `getsockopt(2)` into a `T` made of plain integers; also returns how many bytes the kernel
/// wrote (older kernels may know a shorter version of the structure).
pub(crate) fn getsockopt<T: Default>(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<(T, usize)> {
    let mut val = T::default();
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: val is a live T of len bytes and len a live local; the kernel writes at most len
    // bytes into val, and every bit pattern is valid for the integer types used here.
    let rc = unsafe { libc::getsockopt(fd, level, name, (&mut val as *mut T).cast(), &mut len) };
    cvt(rc).map(|_| (val, len as usize))
}

impl PacketSocket {
    /// Opens a socket on `ifindex` with `opts`, already receiving, non-blocking.
    pub fn open(ifindex: u32, opts: &PacketOptions) -> io::Result<PacketSocket> {
        match PacketSocket::open_once(ifindex, opts) {
            // A socket whose ring setup failed half-way cannot go back to recvmmsg (a receive
            // ring without a mapping swallows every frame): start over on a fresh one.
            Err(_) if opts.ring => PacketSocket::open_once(
                ifindex,
                &PacketOptions {
                    ring: false,
                    ..*opts
                },
            ),
            r => r,
        }
    }

    fn open_once(ifindex: u32, opts: &PacketOptions) -> io::Result<PacketSocket> {
        let fd = raw_packet_socket()?;
        let raw = fd.as_raw_fd();
        let one: libc::c_int = 1;
        setsockopt(raw, libc::SOL_PACKET, libc::PACKET_AUXDATA, &one)?;
        if opts.vnet_hdr {
            setsockopt(raw, libc::SOL_PACKET, libc::PACKET_VNET_HDR, &one)?;
        }
        let ignores_outgoing =
            setsockopt(raw, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &one).is_ok();
        if opts.qdisc_bypass {
            // Best effort: without it frames go through the qdisc, which is only slower.
            let _ = setsockopt(raw, libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, &one);
        }
        // Root may exceed rmem_max/wmem_max; others get what the sysctl allows.
        if setsockopt(raw, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &SOCK_BUF).is_err() {
            let _ = setsockopt(raw, libc::SOL_SOCKET, libc::SO_RCVBUF, &SOCK_BUF);
        }
        if setsockopt(raw, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, &SOCK_BUF).is_err() {
            let _ = setsockopt(raw, libc::SOL_SOCKET, libc::SO_SNDBUF, &SOCK_BUF);
        }
        if opts.promisc {
            // SAFETY: packet_mreq is plain integers and bytes; all-zero is valid.
            let mut mreq: libc::packet_mreq = unsafe { zeroed() };
            mreq.mr_ifindex = ifindex as libc::c_int;
            mreq.mr_type = libc::PACKET_MR_PROMISC as libc::c_ushort;
            // The membership, and so the promiscuity, ends when the socket is closed.
            setsockopt(raw, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mreq)?;
        }
        // Rings before bind: the receive hook is then tpacket_rcv from the first frame on.
        let rings = if opts.ring {
            Some(Rings::setup(raw, opts.vnet_hdr, ignores_outgoing)?)
        } else {
            None
        };
        let side = match &rings {
            Some(r) if r.has_tx() => Some(send_only_socket(ifindex, opts.qdisc_bypass)?),
            _ => None,
        };
        bind(raw, ifindex, ETH_P_ALL_BE)?;
        Ok(PacketSocket {
            fd,
            ifindex,
            vnet_hdr: opts.vnet_hdr,
            ignores_outgoing,
            rings,
            side,
            xsk: XskState::Off,
            visible: None,
        })
    }

    /// Sends like [`PacketSocket::send_burst`], but through the device's transmit path
    /// (`dev_queue_xmit`), where packet captures on the interface see outgoing frames. AF_XDP,
    /// the transmit ring and `PACKET_QDISC_BYPASS` all hand frames straight to the driver,
    /// past the captures (`tcpdump -i port` would show only what comes in). Costs a
    /// `sendmmsg` and the qdisc per frame; meant for while someone captures.
    pub fn send_burst_visible(&mut self, pkts: &[Packet], mask: u64) -> io::Result<SendResult> {
        if self.visible.is_none() {
            self.visible = Some(send_only_socket(self.ifindex, false)?);
        }
        let fd = self.visible.as_ref().map_or(-1, AsRawFd::as_raw_fd);
        mmsg_send(fd, true, pkts, mask & mask_of(pkts.len().min(64)))
    }

    /// The inode of the receiving socket, as `/proc/net/packet` lists it.
    pub fn inode(&self) -> io::Result<u64> {
        // SAFETY: libc::stat is plain integers, for which all-zero is valid.
        let mut st: libc::stat = unsafe { zeroed() };
        // SAFETY: the descriptor is ours and open; st is a valid, writable stat buffer.
        cvt(unsafe { libc::fstat(self.fd.as_raw_fd(), &mut st) })?;
        Ok(st.st_ino)
    }

    /// Sends frames that are not GSO through a copy-mode AF_XDP socket on queue `queue_id` of
    /// the interface from now on. Returns the error when the kernel refuses one (no AF_XDP, no
    /// such queue, UMEM not pinnable); the socket then keeps sending as before.
    pub fn enable_xsk_tx(&mut self, queue_id: u32) -> io::Result<()> {
        let xsk = XskTx::open(self.ifindex, queue_id)?;
        self.xsk = XskState::On {
            xsk,
            queue: queue_id,
        };
        Ok(())
    }

    /// Whether frames that are not GSO currently go out through AF_XDP.
    pub fn uses_xsk_tx(&self) -> bool {
        matches!(self.xsk, XskState::On { .. })
    }

    /// Reopens the AF_XDP socket once its retry time has come.
    fn revive_xsk(&mut self) {
        let XskState::Waiting { queue, retry_at } = self.xsk else {
            return;
        };
        let now = std::time::Instant::now();
        if now < retry_at {
            return;
        }
        self.xsk = match XskTx::open(self.ifindex, queue) {
            Ok(xsk) => XskState::On { xsk, queue },
            Err(_) => XskState::Waiting {
                queue,
                retry_at: now + XSK_RETRY,
            },
        };
    }

    /// Whether the socket reads (and, with vnet headers, writes) through mapped rings.
    pub fn uses_ring(&self) -> bool {
        self.rings.is_some()
    }

    /// Joins `PACKET_FANOUT` group `group` in hash mode (flows stick to one socket), or with
    /// `None` asks the kernel for a fresh group id (`PACKET_FANOUT_FLAG_UNIQUEID`, ≥ 4.12).
    /// Returns the group id for the other queues of the port to join.
    pub fn join_fanout(&self, group: Option<u16>) -> io::Result<u16> {
        let raw = self.fd.as_raw_fd();
        let (id, flags) = match group {
            Some(id) => (u32::from(id), 0),
            None => (0, libc::PACKET_FANOUT_FLAG_UNIQUEID),
        };
        let arg = (id | ((libc::PACKET_FANOUT_HASH | flags) << 16)) as libc::c_int;
        setsockopt(raw, libc::SOL_PACKET, libc::PACKET_FANOUT, &arg)?;
        let (got, _) = getsockopt::<libc::c_int>(raw, libc::SOL_PACKET, libc::PACKET_FANOUT)?;
        Ok((got as u32 & 0xffff) as u16)
    }

    /// Frames the kernel dropped because this socket's queue or ring was full, since the last
    /// call (`PACKET_STATISTICS` `tp_drops`; reading it resets the kernel's counters).
    pub fn take_kernel_drops(&self) -> io::Result<u64> {
        // struct tpacket_stats { tp_packets, tp_drops } of TPACKET_V1/V2 sockets.
        let (st, _) = getsockopt::<[u32; 2]>(self.fd(), libc::SOL_PACKET, libc::PACKET_STATISTICS)?;
        Ok(u64::from(st[1]))
    }

    /// The descriptor (for epoll).
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The interface the socket is bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Whether frames carry a `virtio_net_hdr`.
    pub fn vnet_hdr(&self) -> bool {
        self.vnet_hdr
    }

    /// Receives up to `pkts.len()` (at most [`MAX_BURST`]) frames with one `recvmmsg`, without
    /// blocking, into the front of `pkts`, restoring nothing: a stripped VLAN tag is left in
    /// [`Packet::vlan`]. Discarded frames do not take a slot.
    pub fn recv_burst(&mut self, pkts: &mut [Packet]) -> io::Result<RecvResult> {
        let n = pkts.len().min(MAX_BURST);
        if n == 0 {
            return Ok(RecvResult::default());
        }
        let pkts = pkts.get_mut(..n).unwrap_or(&mut []);
        if self.rings.is_none() {
            return self.mmsg_recv(pkts);
        }
        let mut out = RecvResult::default();
        while out.received < pkts.len() {
            let Some(r) = self.rings.as_mut() else { break };
            let rest = pkts.get_mut(out.received..).unwrap_or(&mut []);
            let got = r.recv(rest);
            out.received += got.received;
            out.dropped += got.dropped;
            if !got.copy {
                break;
            }
            // The ring slot holds the head of a frame too big for it; the kernel queued the
            // whole frame on the socket (PACKET_COPY_THRESH), in ring order.
            let slot = pkts
                .get_mut(out.received..out.received + 1)
                .unwrap_or(&mut []);
            let one = self.mmsg_recv(slot)?;
            if one.received == 0 {
                out.dropped += 1;
            }
            out.received += one.received;
            out.dropped += one.dropped;
            if let Some(r) = self.rings.as_mut() {
                r.release_rx();
            }
        }
        Ok(out)
    }

    /// The `recvmmsg` path of [`PacketSocket::recv_burst`].
    fn mmsg_recv(&self, pkts: &mut [Packet]) -> io::Result<RecvResult> {
        let n = pkts.len().min(MAX_BURST);
        if n == 0 {
            return Ok(RecvResult::default());
        }
        let mut vnet = [[0u8; VirtioNetHdr::LEN]; MAX_BURST];
        // SAFETY: all of these are plain C structs/arrays for which all-zero is valid.
        let mut iov: [[libc::iovec; 2]; MAX_BURST] = unsafe { zeroed() };
        // SAFETY: as above.
        let mut msgs: [libc::mmsghdr; MAX_BURST] = unsafe { zeroed() };
        // SAFETY: as above.
        let mut addrs: [libc::sockaddr_ll; MAX_BURST] = unsafe { zeroed() };
        // u64 elements keep each control buffer aligned for cmsghdr.
        let mut cmsg = [[0u64; CMSG_BUF / 8]; MAX_BURST];
        for (i, p) in pkts.iter_mut().take(n).enumerate() {
            let area = p.recv_area();
            iov[i][0] = libc::iovec {
                iov_base: vnet[i].as_mut_ptr().cast(),
                iov_len: VirtioNetHdr::LEN,
            };
            iov[i][1] = libc::iovec {
                iov_base: area.as_mut_ptr().cast(),
                iov_len: area.len(),
            };
            let h = &mut msgs[i].msg_hdr;
            if self.vnet_hdr {
                h.msg_iov = iov[i].as_mut_ptr();
                h.msg_iovlen = 2;
            } else {
                h.msg_iov = iov[i][1..].as_mut_ptr();
                h.msg_iovlen = 1;
            }
            h.msg_name = (&mut addrs[i] as *mut libc::sockaddr_ll).cast();
            h.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            h.msg_control = cmsg[i].as_mut_ptr().cast();
            h.msg_controllen = CMSG_BUF as _;
        }
        // SAFETY: msgs[..n] point into iov/vnet/addrs/cmsg locals and into the packets' buffers,
        // all alive and exclusively borrowed for the call; each length matches its buffer.
        let rc = unsafe {
            libc::recvmmsg(
                self.fd.as_raw_fd(),
                msgs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                std::ptr::null_mut(),
            )
        };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(RecvResult::default()),
                _ => Err(e),
            };
        }
        let got = (rc as usize).min(n);
        let mut out = RecvResult::default();
        let hdr_len = if self.vnet_hdr { VirtioNetHdr::LEN } else { 0 };
        for i in 0..got {
            let m = &msgs[i];
            let truncated = m.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
            let outgoing = !self.ignores_outgoing
                && addrs[i].sll_pkttype == libc::PACKET_OUTGOING as libc::c_uchar;
            let total = m.msg_len as usize;
            if truncated || outgoing || total < hdr_len {
                out.dropped += 1;
                continue;
            }
            let vlan = auxdata_vlan(&m.msg_hdr);
            let slot = out.received;
            pkts.swap(slot, i);
            let p = &mut pkts[slot];
            p.set_received(total - hdr_len);
            p.vnet = if self.vnet_hdr {
                VirtioNetHdr::from_bytes(&vnet[i])
            } else {
                VirtioNetHdr::default()
            };
            p.vlan = vlan;
            out.received += 1;
        }
        Ok(out)
    }

    /// Sends the packets of `pkts` selected by `mask` with `sendmmsg` (or through the transmit
    /// ring), each with its `virtio_net_hdr` when the socket has `PACKET_VNET_HDR`. A frame the
    /// kernel refuses is counted as dropped and the rest still go out.
    pub fn send_burst(&mut self, pkts: &[Packet], mask: u64) -> io::Result<SendResult> {
        let mask = mask & mask_of(pkts.len().min(64));
        self.revive_xsk();
        let ring_tx = self.rings.as_ref().is_some_and(Rings::has_tx) && self.side.is_some();
        if !ring_tx && !self.uses_xsk_tx() {
            return mmsg_send(self.fd.as_raw_fd(), self.vnet_hdr, pkts, mask);
        }
        let mut out = Paths {
            fd: self.fd.as_raw_fd(),
            side: self.side.as_ref().map(AsRawFd::as_raw_fd),
            vnet_hdr: self.vnet_hdr,
            rings: self.rings.as_mut().filter(|r| r.has_tx()),
            xsk: match &mut self.xsk {
                XskState::On { xsk, .. } => Some(xsk),
                _ => None,
            },
            stalled: false,
        };
        let res = out.send(pkts, mask);
        if let (true, XskState::On { queue, .. }) = (out.stalled, &self.xsk) {
            // Descriptors the kernel would not take must never go out late: drop the socket
            // (and them with it), send through the ring meanwhile, try again later.
            self.xsk = XskState::Waiting {
                queue: *queue,
                retry_at: std::time::Instant::now() + XSK_RETRY,
            };
        }
        Ok(res)
    }

    /// Sends one frame (tests and tools); `vnet` is ignored unless the socket uses vnet headers.
    pub fn send(&self, frame: &[u8], vnet: Option<&VirtioNetHdr>) -> io::Result<usize> {
        let fd = self.side.as_ref().unwrap_or(&self.fd).as_raw_fd();
        send_one(fd, self.vnet_hdr, frame, vnet)
    }
}

/// Which way one frame leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// The AF_XDP socket (not GSO, fits a UMEM frame; a partial checksum is completed first).
    Xsk,
    /// The transmit ring.
    Ring,
    /// One `sendmsg` with its vnet header (GSO super-frames, or no ring).
    Single,
}

/// The ways out of a [`PacketSocket`] for one burst. Frames go out in burst order: a run of
/// frames queued for the AF_XDP socket or the ring is sent before a frame that takes another
/// way.
struct Paths<'a> {
    fd: RawFd,
    side: Option<RawFd>,
    vnet_hdr: bool,
    rings: Option<&'a mut Rings>,
    xsk: Option<&'a mut XskTx>,
    /// The AF_XDP socket left descriptors it would not send.
    stalled: bool,
}

impl Paths<'_> {
    fn via(&self, p: &Packet) -> Via {
        // A partial checksum is completed in software on the way into the UMEM: far cheaper
        // than the transmit ring, and almost every TCP/UDP frame from a local stack owes one.
        if self.xsk.is_some() && !self.stalled && !p.vnet.is_gso() && p.len() <= XSK_FRAME_SIZE {
            Via::Xsk
        } else if self.rings.as_ref().is_some_and(|r| r.tx_fits(p)) {
            Via::Ring
        } else {
            Via::Single
        }
    }

    fn send(&mut self, pkts: &[Packet], mut mask: u64) -> SendResult {
        let mut res = SendResult::default();
        let mut run: Option<Via> = None;
        let mut queued = 0;
        let mut lens = [0usize; 64];
        while mask != 0 {
            let i = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            let Some(p) = pkts.get(i) else { break };
            let via = self.via(p);
            if run.is_some_and(|r| r != via) {
                self.flush(run, &mut queued, &lens, &mut res);
            }
            let ok = match via {
                Via::Xsk => self
                    .xsk
                    .as_mut()
                    .is_some_and(|x| x.queue(p.data(), |f| p.vnet.complete_csum(f))),
                Via::Ring => self.rings.as_mut().is_some_and(|r| r.tx_queue(p)),
                Via::Single => {
                    let fd = self.side.unwrap_or(self.fd);
                    let vnet = self.side.is_some() || self.vnet_hdr;
                    match send_one(fd, vnet, p.data(), Some(&p.vnet)) {
                        Ok(_) => {
                            res.sent += 1;
                            res.bytes += p.len();
                        }
                        Err(_) => res.dropped += 1,
                    }
                    continue;
                }
            };
            if ok {
                lens[queued] = p.len();
                queued += 1;
                run = Some(via);
            } else {
                res.dropped += 1;
            }
        }
        self.flush(run, &mut queued, &lens, &mut res);
        res
    }

    /// Sends the `queued` frames of the current run.
    fn flush(
        &mut self,
        run: Option<Via>,
        queued: &mut usize,
        lens: &[usize; 64],
        res: &mut SendResult,
    ) {
        if *queued == 0 {
            return;
        }
        let took = match run {
            Some(Via::Xsk) => match self.xsk.as_mut().map(|x| x.kick()) {
                Some(Ok(sent)) => sent,
                Some(Err(stall)) => {
                    self.stalled = true;
                    stall.sent
                }
                None => 0,
            },
            Some(Via::Ring) => self.rings.as_mut().map_or(0, |r| r.kick(self.fd, *queued)),
            _ => 0,
        };
        let took = took.min(*queued);
        res.sent += took;
        res.dropped += *queued - took;
        // Frames the kernel refused are not told apart from the ones it sent: bytes count the
        // first `took` frames of the run.
        res.bytes += lens[..took].iter().sum::<usize>();
        *queued = 0;
    }
}

/// The `sendmmsg` path of [`PacketSocket::send_burst`].
fn mmsg_send(fd: RawFd, vnet_hdr: bool, pkts: &[Packet], mut mask: u64) -> io::Result<SendResult> {
    let mut res = SendResult::default();
    while mask != 0 {
        let mut vnet = [[0u8; VirtioNetHdr::LEN]; MAX_BURST];
        // SAFETY: plain C structs/arrays for which all-zero is valid.
        let mut iov: [[libc::iovec; 2]; MAX_BURST] = unsafe { zeroed() };
        // SAFETY: as above.
        let mut msgs: [libc::mmsghdr; MAX_BURST] = unsafe { zeroed() };
        let mut lens = [0usize; MAX_BURST];
        let mut n = 0;
        while mask != 0 && n < MAX_BURST {
            let i = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            let Some(p) = pkts.get(i) else { break };
            vnet[n] = p.vnet.to_bytes();
            let data = p.data();
            lens[n] = data.len();
            iov[n][0] = libc::iovec {
                iov_base: vnet[n].as_mut_ptr().cast(),
                iov_len: VirtioNetHdr::LEN,
            };
            // The kernel only reads from this buffer (sendmmsg's iovecs are not written).
            iov[n][1] = libc::iovec {
                iov_base: data.as_ptr() as *mut libc::c_void,
                iov_len: data.len(),
            };
            n += 1;
        }
        for (k, m) in msgs.iter_mut().take(n).enumerate() {
            if vnet_hdr {
                m.msg_hdr.msg_iov = iov[k].as_mut_ptr();
                m.msg_hdr.msg_iovlen = 2;
            } else {
                m.msg_hdr.msg_iov = iov[k][1..].as_mut_ptr();
                m.msg_hdr.msg_iovlen = 1;
            }
        }
        let mut k = 0;
        while k < n {
            // SAFETY: msgs[k..n] point at the iov/vnet locals and packet data, all alive
            // for the call; the kernel reads them only.
            let rc = unsafe {
                libc::sendmmsg(
                    fd,
                    msgs[k..].as_mut_ptr(),
                    (n - k) as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if rc < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::EBADF) | Some(libc::ENOTSOCK) | Some(libc::EFAULT) => return Err(e),
                    // ENETDOWN, ENXIO, EAGAIN, ENOBUFS, EMSGSIZE, EINVAL (bad vnet hdr):
                    // this frame is lost, as the kernel would drop it; go on.
                    _ => {
                        res.dropped += 1;
                        k += 1;
                    }
                }
            } else {
                let sent = rc as usize;
                res.sent += sent;
                res.bytes += lens[k..k + sent].iter().sum::<usize>();
                k += sent;
            }
        }
    }
    Ok(res)
}

/// Sends one frame on `fd` with `sendmsg`, behind its vnet header when `vnet_hdr`.
fn send_one(
    fd: RawFd,
    vnet_hdr: bool,
    frame: &[u8],
    vnet: Option<&VirtioNetHdr>,
) -> io::Result<usize> {
    let mut hdr = vnet.copied().unwrap_or_default().to_bytes();
    let mut iov = [
        libc::iovec {
            iov_base: hdr.as_mut_ptr().cast(),
            iov_len: hdr.len(),
        },
        libc::iovec {
            iov_base: frame.as_ptr() as *mut libc::c_void,
            iov_len: frame.len(),
        },
    ];
    let skip = usize::from(!vnet_hdr);
    let iov = &mut iov[skip..];
    // SAFETY: msghdr is plain data; all-zero is valid.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = iov.len() as _;
    // SAFETY: msg points at live iovecs over `hdr` and `frame`; the kernel reads them only.
    let rc = unsafe { libc::sendmsg(fd, &msg, libc::MSG_DONTWAIT) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc as usize)
    }
}

/// The VLAN tag from a `PACKET_AUXDATA` control message, if the kernel stripped one.
fn auxdata_vlan(h: &libc::msghdr) -> Option<VlanTag> {
    // SAFETY: h was filled by recvmmsg; msg_control/msg_controllen describe our aligned buffer,
    // and CMSG_FIRSTHDR/NXTHDR stay within msg_controllen.
    let mut c = unsafe { libc::CMSG_FIRSTHDR(h) };
    while !c.is_null() {
        // SAFETY: c is non-null and points at a cmsghdr inside the control buffer.
        let cm = unsafe { &*c };
        let need = size_of::<libc::cmsghdr>() + size_of::<libc::tpacket_auxdata>();
        if cm.cmsg_level == libc::SOL_PACKET
            && cm.cmsg_type == libc::PACKET_AUXDATA
            && cm.cmsg_len as usize >= need
        {
            // SAFETY: the cmsg holds a whole tpacket_auxdata (checked above); read_unaligned
            // copes with any alignment of CMSG_DATA.
            let aux: libc::tpacket_auxdata =
                unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(c).cast()) };
            if aux.tp_status & libc::TP_STATUS_VLAN_VALID != 0 {
                let tpid = if aux.tp_status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
                    aux.tp_vlan_tpid
                } else {
                    0x8100
                };
                return Some(VlanTag {
                    tpid,
                    tci: aux.tp_vlan_tci,
                });
            }
            return None;
        }
        // SAFETY: h and c are as above.
        c = unsafe { libc::CMSG_NXTHDR(h, c) };
    }
    None
}
