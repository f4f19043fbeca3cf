//! Memory-mapped AF_PACKET rings (`PACKET_RX_RING` / `PACKET_TX_RING`, `TPACKET_V2`).
//!
//! ≈ `Documentation/networking/packet_mmap.rst` and `tpacket_rcv` / `tpacket_snd` of
//! `net/packet/af_packet.c`. Both rings are arrays of fixed 2 KiB frames, each with a status
//! word saying who owns it; they sit in one mapping, receive ring first, as `packet_mmap`
//! lays them out.
//!
//! Why V2 and not V3: V3 hands frames over a whole block at a time, when the block is full or
//! after `tp_retire_blk_tov` (≥ 1 ms): a lightly loaded switch would add up to 1 ms per
//! crossing (ping through userdp went from 79 to 832 µs). V2 hands each frame over as soon as
//! it is written. Frames bigger than a slot (GSO super-frames) are truncated in the ring, but
//! with `PACKET_COPY_THRESH` the kernel also queues the whole frame on the socket, in ring
//! order, where `recvmsg` reads it (`TP_STATUS_COPY` on the slot).
//!
//! Everything read from the ring is bounds-checked against the mapping: a confused kernel or a
//! concurrent writer can make us drop frames, never read outside the ring.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::port::batch::{Packet, VirtioNetHdr, VlanTag};
use crate::sys::mapping::Mapping;
use crate::sys::packet::setsockopt;

/// `TPACKET_V2` of `enum tpacket_versions`.
const TPACKET_V2: libc::c_int = 1;
/// `TPACKET_ALIGN(sizeof(struct tpacket2_hdr))`: where a transmit frame's data starts (we do
/// not set `PACKET_TX_HAS_OFF`, so the kernel takes `tp_hdrlen - sizeof(sockaddr_ll)`), and
/// where the kernel puts the `sockaddr_ll` of a received frame.
const TP2_HDRLEN: usize = 32;

// `struct tpacket2_hdr`.
const H2_STATUS: usize = 0;
const H2_LEN: usize = 4;
const H2_SNAPLEN: usize = 8;
const H2_MAC: usize = 12;
const H2_VLAN_TCI: usize = 24;
const H2_VLAN_TPID: usize = 26;
/// `sll_pkttype` of the `sockaddr_ll` after the header.
const H2_SLL_PKTTYPE: usize = TP2_HDRLEN + 10;

/// Frame size of both rings: an MTU frame with a VLAN tag, vnet header and ring headers fits.
const FRAME_SIZE: usize = 2048;
/// Block size (a page multiple holding whole frames).
const BLOCK_SIZE: usize = 64 << 10;
/// Receive blocks: 2048 frames, 4 MiB, as much as the socket buffer the syscall path asks for.
const RX_BLOCK_NR: usize = 64;
/// Transmit blocks: 512 frames in flight at most.
const TX_BLOCK_NR: usize = 16;
const FRAMES_PER_BLOCK: usize = BLOCK_SIZE / FRAME_SIZE;
const RX_FRAMES: usize = FRAMES_PER_BLOCK * RX_BLOCK_NR;
const TX_FRAMES: usize = FRAMES_PER_BLOCK * TX_BLOCK_NR;

/// `struct tpacket_req`.
#[repr(C)]
struct TpacketReq {
    tp_block_size: u32,
    tp_block_nr: u32,
    tp_frame_size: u32,
    tp_frame_nr: u32,
}

/// The receive and transmit rings of one AF_PACKET socket.
#[derive(Debug)]
pub(crate) struct Rings {
    map: Mapping,
    /// Next receive frame to look at.
    rx_head: usize,
    /// Offset of the transmit ring in the mapping (0 frames when there is none).
    tx_base: usize,
    tx_frames: usize,
    /// Next transmit frame to fill; equal to the kernel's head after every [`Rings::kick`].
    tx_head: usize,
    vnet_hdr: bool,
    ignores_outgoing: bool,
}

/// What one receive pass found.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RingRecv {
    pub received: usize,
    pub dropped: usize,
    /// Stopped at a slot whose whole frame waits on the socket: read it with `recvmsg`, then
    /// [`Rings::release_rx`].
    pub copy: bool,
}

impl Rings {
    /// Sets up the rings on `fd`, which must not be bound yet and must already have its
    /// `PACKET_VNET_HDR` choice made (the kernel refuses it once a ring exists). A transmit ring
    /// is only made with vnet headers: then every frame's `hdr_len` can ask the kernel to copy
    /// the whole frame into the skb, where without it the skb would point into ring pages the
    /// kernel hands back at `skb_orphan` — before a local receiver has read them.
    pub(crate) fn setup(fd: RawFd, vnet_hdr: bool, ignores_outgoing: bool) -> io::Result<Rings> {
        setsockopt(fd, libc::SOL_PACKET, libc::PACKET_VERSION, &TPACKET_V2)?;
        let one: libc::c_int = 1;
        // Any non-zero threshold: frames that do not fit a slot are also queued whole.
        setsockopt(fd, libc::SOL_PACKET, libc::PACKET_COPY_THRESH, &one)?;
        if vnet_hdr {
            // A frame the kernel cannot parse is skipped (marked available) instead of
            // blocking the ring with TP_STATUS_WRONG_FORMAT. Refused (EBUSY) once a ring exists.
            setsockopt(fd, libc::SOL_PACKET, libc::PACKET_LOSS, &one)?;
        }
        let req = |blocks: usize| TpacketReq {
            tp_block_size: BLOCK_SIZE as u32,
            tp_block_nr: blocks as u32,
            tp_frame_size: FRAME_SIZE as u32,
            tp_frame_nr: (FRAMES_PER_BLOCK * blocks) as u32,
        };
        setsockopt(
            fd,
            libc::SOL_PACKET,
            libc::PACKET_RX_RING,
            &req(RX_BLOCK_NR),
        )?;
        let tx_frames = if vnet_hdr {
            setsockopt(
                fd,
                libc::SOL_PACKET,
                libc::PACKET_TX_RING,
                &req(TX_BLOCK_NR),
            )?;
            TX_FRAMES
        } else {
            0
        };
        let tx_base = RX_FRAMES * FRAME_SIZE;
        let len = tx_base + tx_frames * FRAME_SIZE;
        // MAP_POPULATE as well: the kernel's pages are faulted in now, not on the first frames.
        let map = Mapping::of_fd(fd, len, 0)?;
        Ok(Rings {
            map,
            rx_head: 0,
            tx_base,
            tx_frames,
            tx_head: 0,
            vnet_hdr,
            ignores_outgoing,
        })
    }

    /// Whether frames can be sent through the transmit ring.
    pub(crate) fn has_tx(&self) -> bool {
        self.tx_frames > 0
    }

    /// The status word at `off`, shared with the kernel.
    fn status(&self, off: usize) -> &AtomicU32 {
        assert!(off.is_multiple_of(4) && off + 4 <= self.map.len());
        // SAFETY: off is 4-aligned (the mapping is page-aligned) and inside the mapping (asserted
        // above; callers pass offsets of frame headers); the mapping lives as long as &self, and
        // the kernel accesses the word concurrently, hence atomic access.
        unsafe { AtomicU32::from_ptr(self.map.base().as_ptr().add(off).cast()) }
    }

    /// A plain read of a header field at `off` (only when the frame is ours).
    fn read_u32(&self, off: usize) -> Option<u32> {
        let b = self.bytes(off, 4)?;
        Some(u32::from_ne_bytes(b.try_into().ok()?))
    }

    fn read_u16(&self, off: usize) -> Option<u16> {
        let b = self.bytes(off, 2)?;
        Some(u16::from_ne_bytes(b.try_into().ok()?))
    }

    /// `len` bytes at `off` of a frame we own.
    fn bytes(&self, off: usize, len: usize) -> Option<&[u8]> {
        if off.checked_add(len)? > self.map.len() {
            return None;
        }
        // SAFETY: the range is inside the mapping (checked above), which lives as long as
        // &self. Callers only read frames whose status word hands them to us, so the kernel
        // does not write there meanwhile.
        Some(unsafe { std::slice::from_raw_parts(self.map.base().as_ptr().add(off), len) })
    }

    /// Writable bytes of a transmit frame we own.
    fn bytes_mut(&mut self, off: usize, len: usize) -> Option<&mut [u8]> {
        if off.checked_add(len)? > self.map.len() {
            return None;
        }
        // SAFETY: inside the mapping (checked above); &mut self excludes other views from us,
        // and the frame's status (available) keeps the kernel out of it.
        Some(unsafe { std::slice::from_raw_parts_mut(self.map.base().as_ptr().add(off), len) })
    }

    /// Gives the receive frame at the head back to the kernel and moves on.
    pub(crate) fn release_rx(&mut self) {
        let off = self.rx_head * FRAME_SIZE + H2_STATUS;
        self.status(off)
            .store(libc::TP_STATUS_KERNEL, Ordering::Release);
        self.rx_head = (self.rx_head + 1) % RX_FRAMES;
    }

    /// Copies up to `pkts.len()` frames out of the receive ring into the front of `pkts`,
    /// releasing each slot once copied. Stops early at a slot whose frame must be read from
    /// the socket (`copy`), leaving that slot to the caller.
    pub(crate) fn recv(&mut self, pkts: &mut [Packet]) -> RingRecv {
        let mut out = RingRecv::default();
        let hdr_len = if self.vnet_hdr { VirtioNetHdr::LEN } else { 0 };
        while out.received < pkts.len() {
            let h = self.rx_head * FRAME_SIZE;
            let st = self.status(h + H2_STATUS).load(Ordering::Acquire);
            if st & libc::TP_STATUS_USER == 0 {
                break;
            }
            match self.parse_rx(h, st, hdr_len) {
                Rx::Copy => {
                    out.copy = true;
                    break;
                }
                Rx::Frame {
                    start,
                    len,
                    vlan,
                    outgoing: false,
                } => {
                    let slot = out.received;
                    let ok = match (pkts.get_mut(slot), self.bytes(start, len)) {
                        (Some(p), Some(src)) => match p.recv_area().get_mut(..len) {
                            Some(dst) => {
                                dst.copy_from_slice(src);
                                p.set_received(len);
                                p.vnet = match self.bytes(start - hdr_len, hdr_len) {
                                    Some(v) if hdr_len > 0 => {
                                        VirtioNetHdr::from_bytes(v.try_into().unwrap_or(&[0; 10]))
                                    }
                                    _ => VirtioNetHdr::default(),
                                };
                                p.vlan = vlan;
                                true
                            }
                            None => false,
                        },
                        _ => false,
                    };
                    if ok {
                        out.received += 1;
                    } else {
                        out.dropped += 1;
                    }
                }
                Rx::Frame { .. } | Rx::Bad => out.dropped += 1,
            }
            self.release_rx();
        }
        out
    }

    /// Reads the header of the receive frame at `h` with status `st`.
    fn parse_rx(&self, h: usize, st: u32, hdr_len: usize) -> Rx {
        if st & libc::TP_STATUS_COPY != 0 {
            return Rx::Copy;
        }
        let (Some(snaplen), Some(len), Some(mac)) = (
            self.read_u32(h + H2_SNAPLEN),
            self.read_u32(h + H2_LEN),
            self.read_u16(h + H2_MAC),
        ) else {
            return Rx::Bad;
        };
        let (snaplen, mac) = (snaplen as usize, usize::from(mac));
        // Truncated without a whole copy (the socket buffer was full): forwarding the head of
        // a frame would be wrong, drop it as recvmmsg's MSG_TRUNC path does.
        if snaplen < len as usize || mac < TP2_HDRLEN + hdr_len || mac + snaplen > FRAME_SIZE {
            return Rx::Bad;
        }
        let vlan = if st & libc::TP_STATUS_VLAN_VALID != 0 {
            let tpid = if st & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
                self.read_u16(h + H2_VLAN_TPID).unwrap_or(0x8100)
            } else {
                0x8100
            };
            Some(VlanTag {
                tpid,
                tci: self.read_u16(h + H2_VLAN_TCI).unwrap_or(0),
            })
        } else {
            None
        };
        let outgoing = !self.ignores_outgoing
            && self
                .bytes(h + H2_SLL_PKTTYPE, 1)
                .and_then(|b| b.first().copied())
                == Some(libc::PACKET_OUTGOING);
        Rx::Frame {
            start: h + mac,
            len: snaplen,
            vlan,
            outgoing,
        }
    }

    /// Whether `pkt` can go through the transmit ring (else: the side socket).
    pub(crate) fn tx_fits(&self, pkt: &Packet) -> bool {
        self.has_tx()
            && !pkt.vnet.is_gso()
            && pkt.len() + VirtioNetHdr::LEN + TP2_HDRLEN <= FRAME_SIZE
    }

    /// Puts `pkt` into the next transmit frame. False when the ring is full (the frame is still
    /// being sent or waits for the kernel).
    pub(crate) fn tx_queue(&mut self, pkt: &Packet) -> bool {
        let f = self.tx_base + self.tx_head * FRAME_SIZE;
        let st = self.status(f + H2_STATUS).load(Ordering::Acquire);
        if st & (libc::TP_STATUS_SEND_REQUEST | libc::TP_STATUS_SENDING) != 0 {
            return false;
        }
        let data = pkt.data();
        let mut vnet = pkt.vnet;
        // Not GSO: hdr_len is only the linear-copy hint. Asking for the whole frame makes
        // tpacket_fill_skb copy it instead of pinning the ring page into the skb.
        vnet.hdr_len = data.len() as u16;
        let total = VirtioNetHdr::LEN + data.len();
        let Some(frame) = self.bytes_mut(f, TP2_HDRLEN + total) else {
            return false;
        };
        // tpacket2_hdr: tp_len counts the vnet header that starts the data.
        frame[H2_LEN..H2_LEN + 4].copy_from_slice(&(total as u32).to_ne_bytes());
        frame[H2_SNAPLEN..H2_SNAPLEN + 4].copy_from_slice(&(total as u32).to_ne_bytes());
        let body = &mut frame[TP2_HDRLEN..];
        body[..VirtioNetHdr::LEN].copy_from_slice(&vnet.to_bytes());
        body[VirtioNetHdr::LEN..].copy_from_slice(data);
        self.status(f + H2_STATUS)
            .store(libc::TP_STATUS_SEND_REQUEST, Ordering::Release);
        self.tx_head = (self.tx_head + 1) % self.tx_frames;
        true
    }

    /// Asks the kernel to send the `queued` frames before the head, then takes back those it
    /// did not take (device down, socket buffer full) so that its head and ours stay equal.
    /// Returns how many it took.
    pub(crate) fn kick(&mut self, fd: RawFd, queued: usize) -> usize {
        if queued == 0 || self.tx_frames == 0 {
            return 0;
        }
        let first = (self.tx_head + self.tx_frames - queued) % self.tx_frames;
        let first_off = self.tx_base + first * FRAME_SIZE + H2_STATUS;
        for _ in 0..2 {
            // SAFETY: send(2) with an empty buffer; the kernel reads only the ring.
            let _ = unsafe { libc::send(fd, std::ptr::null(), 0, libc::MSG_DONTWAIT) };
            // A pending socket error (ENETDOWN left by a past link down) fails one send before
            // the ring is looked at, and is cleared by it: try once more before dropping.
            let st = self.status(first_off).load(Ordering::Acquire);
            if st & libc::TP_STATUS_SEND_REQUEST == 0 {
                break;
            }
        }
        // tpacket_snd runs in our context under the ring mutex and walks frames in order: after
        // it returns, the first frame still requesting is where it stopped.
        for k in 0..queued {
            let i = (first + k) % self.tx_frames;
            let st = self.status(self.tx_base + i * FRAME_SIZE + H2_STATUS);
            if st.load(Ordering::Acquire) & libc::TP_STATUS_SEND_REQUEST != 0 {
                for j in k..queued {
                    let f = self.tx_base + ((first + j) % self.tx_frames) * FRAME_SIZE;
                    self.status(f + H2_STATUS)
                        .store(libc::TP_STATUS_AVAILABLE, Ordering::Release);
                }
                self.tx_head = i;
                return k;
            }
        }
        queued
    }
}

/// What a receive slot holds.
enum Rx {
    /// A whole frame at mapping offset `start`.
    Frame {
        start: usize,
        len: usize,
        vlan: Option<VlanTag>,
        outgoing: bool,
    },
    /// The head of a frame whose whole copy waits on the socket.
    Copy,
    /// A frame to drop.
    Bad,
}
