//! Memory-mapped AF_PACKET rings (`PACKET_RX_RING` / `PACKET_TX_RING`, `TPACKET_V3`).
//!
//! ≈ `Documentation/networking/packet_mmap.rst` and `tpacket_rcv` / `tpacket_snd` of
//! `net/packet/af_packet.c`. The receive ring is a sequence of blocks the kernel fills with
//! variable-sized packets and hands over whole (`TP_STATUS_USER` in the block header) when full
//! or after `tp_retire_blk_tov`; the transmit ring is a sequence of fixed-size frames we mark
//! `TP_STATUS_SEND_REQUEST` and the kernel sends on the next `send()`. Both sit in one mapping,
//! receive ring first, as `packet_mmap` lays them out.
//!
//! Everything read from the ring is bounds-checked against the mapping: a confused kernel or a
//! concurrent writer can make us drop frames, never read outside the ring.

use std::io;
use std::mem::size_of;
use std::os::fd::RawFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::port::batch::{Packet, VirtioNetHdr, VlanTag};

/// `TPACKET_V3` of `enum tpacket_versions`.
const TPACKET_V3: libc::c_int = 2;
/// `TPACKET_ALIGN(sizeof(struct tpacket3_hdr))`: where a transmit frame's data starts (we do
/// not set `PACKET_TX_HAS_OFF`, so the kernel takes `tp_hdrlen - sizeof(sockaddr_ll)`).
const TP3_HDRLEN: usize = 48;

// `struct tpacket_block_desc`: version, offset_to_priv, then `struct tpacket_hdr_v1`.
const BLK_STATUS: usize = 8;
const BLK_NUM_PKTS: usize = 12;
const BLK_FIRST_PKT: usize = 16;
const BLK_HDR_LEN: usize = 48;

// `struct tpacket3_hdr`.
const H3_NEXT_OFFSET: usize = 0;
const H3_SNAPLEN: usize = 12;
const H3_LEN: usize = 16;
const H3_STATUS: usize = 20;
const H3_MAC: usize = 24;
const H3_VLAN_TCI: usize = 32;
const H3_VLAN_TPID: usize = 36;
/// `sll_pkttype` of the `sockaddr_ll` the kernel puts at `TPACKET_ALIGN(sizeof(tpacket3_hdr))`.
const H3_SLL_PKTTYPE: usize = TP3_HDRLEN + 10;

/// Receive block size: a 64 KiB GSO super-frame plus its ring headers must fit in one block
/// (`max_frame_len` = block size − block header), or the kernel clamps it.
const RX_BLOCK_SIZE: usize = 128 << 10;
/// Receive blocks: 4 MiB in all, as much as the socket buffer the syscall path asks for.
const RX_BLOCK_NR: usize = 32;
/// How long (ms) the kernel keeps a block that has frames before handing it over: the
/// latency added when traffic is too light to fill blocks.
const RX_RETIRE_TOV_MS: u32 = 1;
/// Transmit frame size: an MTU frame with a VLAN tag, vnet header and ring header fits; bigger
/// frames (GSO) go through the side socket.
const TX_FRAME_SIZE: usize = 2048;
/// Transmit block size (a page multiple holding whole frames).
const TX_BLOCK_SIZE: usize = 64 << 10;
/// Transmit blocks: 512 frames in flight at most.
const TX_BLOCK_NR: usize = 16;

/// `struct tpacket_req3`.
#[repr(C)]
#[derive(Default)]
struct TpacketReq3 {
    tp_block_size: u32,
    tp_block_nr: u32,
    tp_frame_size: u32,
    tp_frame_nr: u32,
    tp_retire_blk_tov: u32,
    tp_sizeof_priv: u32,
    tp_feature_req_word: u32,
}

/// The shared mapping of a socket's rings; unmapped on drop.
#[derive(Debug)]
struct Mapping {
    base: NonNull<u8>,
    len: usize,
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: base/len are exactly what mmap returned; nothing borrows into the mapping
        // beyond the methods of `Rings`, which cannot outlive it.
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.len);
        }
    }
}

/// Where the receive side stands: the block being read and the next packet in it.
#[derive(Debug, Default, Clone, Copy)]
struct RxCursor {
    block: usize,
    /// Packets of `block` not yet read (0 = the block is not ours yet).
    left: u32,
    /// Offset in the block of the next packet.
    off: usize,
}

/// The receive and transmit rings of one AF_PACKET socket.
#[derive(Debug)]
pub(crate) struct Rings {
    map: Mapping,
    rx: RxCursor,
    /// Offset of the transmit ring in the mapping (0 frames when there is none).
    tx_base: usize,
    tx_frames: usize,
    /// Next transmit frame to fill; equal to the kernel's head after every [`Rings::kick`].
    tx_head: usize,
    vnet_hdr: bool,
    ignores_outgoing: bool,
}

// SAFETY: the mapping is owned by this value alone (no aliasing pointer escapes), so moving it
// to another thread is as safe as moving a Vec; the kernel side synchronises through the
// status words with acquire/release ordering, whichever thread we run on.
unsafe impl Send for Rings {}

/// What one receive pass found.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RingRecv {
    pub received: usize,
    pub dropped: usize,
}

fn setsockopt<T>(fd: RawFd, name: libc::c_int, val: &T) -> io::Result<()> {
    // SAFETY: val points to a live T of size_of::<T>() bytes; the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_PACKET,
            name,
            (val as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

impl Rings {
    /// Sets up the rings on `fd`, which must not be bound yet and must already have its
    /// `PACKET_VNET_HDR` choice made (the kernel refuses it once a ring exists). A transmit ring
    /// is only made with vnet headers: then every frame's `hdr_len` can ask the kernel to copy
    /// the whole frame into the skb, where without it the skb would point into ring pages the
    /// kernel hands back at `skb_orphan` — before a local receiver has read them.
    pub(crate) fn setup(fd: RawFd, vnet_hdr: bool, ignores_outgoing: bool) -> io::Result<Rings> {
        setsockopt(fd, libc::PACKET_VERSION, &TPACKET_V3)?;
        if vnet_hdr {
            // A frame the kernel cannot parse is skipped (marked available) instead of
            // blocking the ring with TP_STATUS_WRONG_FORMAT. Refused (EBUSY) once a ring exists.
            let one: libc::c_int = 1;
            setsockopt(fd, libc::PACKET_LOSS, &one)?;
        }
        let rx = TpacketReq3 {
            tp_block_size: RX_BLOCK_SIZE as u32,
            tp_block_nr: RX_BLOCK_NR as u32,
            // Only used by the kernel to check the frame count; V3 packets are variable-sized.
            tp_frame_size: 2048,
            tp_frame_nr: (RX_BLOCK_SIZE / 2048 * RX_BLOCK_NR) as u32,
            tp_retire_blk_tov: RX_RETIRE_TOV_MS,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setsockopt(fd, libc::PACKET_RX_RING, &rx)?;
        let tx_frames = if vnet_hdr {
            let tx = TpacketReq3 {
                tp_block_size: TX_BLOCK_SIZE as u32,
                tp_block_nr: TX_BLOCK_NR as u32,
                tp_frame_size: TX_FRAME_SIZE as u32,
                tp_frame_nr: (TX_BLOCK_SIZE / TX_FRAME_SIZE * TX_BLOCK_NR) as u32,
                ..Default::default()
            };
            setsockopt(fd, libc::PACKET_TX_RING, &tx)?;
            TX_BLOCK_SIZE / TX_FRAME_SIZE * TX_BLOCK_NR
        } else {
            0
        };
        let tx_base = RX_BLOCK_SIZE * RX_BLOCK_NR;
        let len = tx_base + tx_frames * TX_FRAME_SIZE;
        // SAFETY: a fresh shared mapping of the socket's rings; the kernel checks len against
        // the ring sizes. We check the result before using it.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::other("mmap: null"))?;
        Ok(Rings {
            map: Mapping { base, len },
            rx: RxCursor::default(),
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
        assert!(off.is_multiple_of(4) && off + 4 <= self.map.len);
        // SAFETY: off is 4-aligned (the mapping is page-aligned) and inside the mapping (asserted
        // above; callers pass offsets of ring headers); the mapping lives as long as &self, and
        // the kernel accesses the word concurrently, hence atomic access.
        unsafe { AtomicU32::from_ptr(self.map.base.as_ptr().add(off).cast()) }
    }

    /// A plain read of a header field at `off` (only when the block or frame is ours).
    fn read_u32(&self, off: usize) -> Option<u32> {
        let b = self.bytes(off, 4)?;
        Some(u32::from_ne_bytes(b.try_into().ok()?))
    }

    fn read_u16(&self, off: usize) -> Option<u16> {
        let b = self.bytes(off, 2)?;
        Some(u16::from_ne_bytes(b.try_into().ok()?))
    }

    /// `len` bytes at `off` of a region we own (a user-owned block, an available frame).
    fn bytes(&self, off: usize, len: usize) -> Option<&[u8]> {
        if off.checked_add(len)? > self.map.len {
            return None;
        }
        // SAFETY: the range is inside the mapping (checked above), which lives as long as
        // &self. Callers only read blocks/frames whose status word hands them to us, so the
        // kernel does not write there meanwhile.
        Some(unsafe { std::slice::from_raw_parts(self.map.base.as_ptr().add(off), len) })
    }

    /// Writable bytes of a transmit frame we own.
    fn bytes_mut(&mut self, off: usize, len: usize) -> Option<&mut [u8]> {
        if off.checked_add(len)? > self.map.len {
            return None;
        }
        // SAFETY: inside the mapping (checked above); &mut self excludes other views from us,
        // and the frame's status (available) keeps the kernel out of it.
        Some(unsafe { std::slice::from_raw_parts_mut(self.map.base.as_ptr().add(off), len) })
    }

    /// Gives block `blk` back to the kernel and moves to the next one.
    fn release_block(&mut self) {
        let off = self.rx.block * RX_BLOCK_SIZE + BLK_STATUS;
        self.status(off)
            .store(libc::TP_STATUS_KERNEL, Ordering::Release);
        self.rx.block = (self.rx.block + 1) % RX_BLOCK_NR;
        self.rx.left = 0;
        self.rx.off = 0;
    }

    /// Copies up to `pkts.len()` frames out of the receive ring into the front of `pkts`,
    /// releasing each block once all of its packets are read.
    pub(crate) fn recv(&mut self, pkts: &mut [Packet]) -> RingRecv {
        let mut out = RingRecv::default();
        let hdr_len = if self.vnet_hdr { VirtioNetHdr::LEN } else { 0 };
        while out.received < pkts.len() {
            let blk = self.rx.block * RX_BLOCK_SIZE;
            if self.rx.left == 0 {
                let st = self.status(blk + BLK_STATUS).load(Ordering::Acquire);
                if st & libc::TP_STATUS_USER == 0 {
                    break;
                }
                let n = self.read_u32(blk + BLK_NUM_PKTS).unwrap_or(0);
                let first = self.read_u32(blk + BLK_FIRST_PKT).unwrap_or(0) as usize;
                if n == 0 || !(BLK_HDR_LEN..RX_BLOCK_SIZE).contains(&first) {
                    self.release_block();
                    continue;
                }
                self.rx.left = n;
                self.rx.off = first;
            }
            let h = blk + self.rx.off;
            let parsed = self.parse_rx(blk, h, hdr_len);
            let next = self.read_u32(h + H3_NEXT_OFFSET).unwrap_or(0) as usize;
            match parsed {
                Some((mac, snaplen, vlan, outgoing)) if !outgoing => {
                    let slot = out.received;
                    let ok = match (pkts.get_mut(slot), self.bytes(mac, snaplen)) {
                        (Some(p), Some(src)) => match p.recv_area().get_mut(..snaplen) {
                            Some(dst) => {
                                dst.copy_from_slice(src);
                                p.set_received(snaplen);
                                p.vnet = match self.bytes(mac - hdr_len, hdr_len) {
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
                _ => out.dropped += 1,
            }
            self.rx.left -= 1;
            if self.rx.left == 0 || next == 0 || self.rx.off + next >= RX_BLOCK_SIZE {
                self.release_block();
            } else {
                self.rx.off += next;
            }
        }
        out
    }

    /// Checks the packet header at `h` of block `blk`: (absolute frame offset, length, stripped
    /// tag, our own output). None when the frame is truncated or its header is inconsistent.
    #[allow(clippy::type_complexity)]
    fn parse_rx(
        &self,
        blk: usize,
        h: usize,
        hdr_len: usize,
    ) -> Option<(usize, usize, Option<VlanTag>, bool)> {
        let snaplen = self.read_u32(h + H3_SNAPLEN)? as usize;
        let len = self.read_u32(h + H3_LEN)? as usize;
        let status = self.read_u32(h + H3_STATUS)?;
        let mac = usize::from(self.read_u16(h + H3_MAC)?);
        // The kernel clamps frames bigger than a block (tp_snaplen < tp_len): forwarding the
        // head of a frame would be wrong, drop it as recvmmsg's MSG_TRUNC path does.
        if snaplen < len || mac < hdr_len {
            return None;
        }
        let start = h.checked_add(mac)?;
        if start.checked_add(snaplen)? > blk + RX_BLOCK_SIZE || start - hdr_len < h {
            return None;
        }
        let vlan = if status & libc::TP_STATUS_VLAN_VALID != 0 {
            let tpid = if status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
                self.read_u16(h + H3_VLAN_TPID)?
            } else {
                0x8100
            };
            Some(VlanTag {
                tpid,
                tci: self.read_u32(h + H3_VLAN_TCI)? as u16,
            })
        } else {
            None
        };
        let outgoing = !self.ignores_outgoing
            && self.bytes(h + H3_SLL_PKTTYPE, 1)?.first().copied() == Some(libc::PACKET_OUTGOING);
        Some((start, snaplen, vlan, outgoing))
    }

    /// Whether `pkt` can go through the transmit ring (else: the side socket).
    pub(crate) fn tx_fits(&self, pkt: &Packet) -> bool {
        self.has_tx()
            && !pkt.vnet.is_gso()
            && pkt.len() + VirtioNetHdr::LEN + TP3_HDRLEN <= TX_FRAME_SIZE
    }

    /// Puts `pkt` into the next transmit frame. False when the ring is full (the frame is still
    /// being sent or waits for the kernel).
    pub(crate) fn tx_queue(&mut self, pkt: &Packet) -> bool {
        let f = self.tx_base + self.tx_head * TX_FRAME_SIZE;
        let st = self.status(f + H3_STATUS).load(Ordering::Acquire);
        if st & (libc::TP_STATUS_SEND_REQUEST | libc::TP_STATUS_SENDING) != 0 {
            return false;
        }
        let data = pkt.data();
        let mut vnet = pkt.vnet;
        // Not GSO: hdr_len is only the linear-copy hint. Asking for the whole frame makes
        // tpacket_fill_skb copy it instead of pinning the ring page into the skb.
        vnet.hdr_len = data.len() as u16;
        let total = VirtioNetHdr::LEN + data.len();
        let Some(frame) = self.bytes_mut(f, TP3_HDRLEN + total) else {
            return false;
        };
        // tpacket3_hdr: tp_next_offset must be 0 (fixed slots), tp_len counts the vnet header.
        frame[..TP3_HDRLEN].fill(0);
        frame[H3_LEN..H3_LEN + 4].copy_from_slice(&(total as u32).to_ne_bytes());
        frame[H3_SNAPLEN..H3_SNAPLEN + 4].copy_from_slice(&(total as u32).to_ne_bytes());
        let body = &mut frame[TP3_HDRLEN..];
        body[..VirtioNetHdr::LEN].copy_from_slice(&vnet.to_bytes());
        body[VirtioNetHdr::LEN..].copy_from_slice(data);
        self.status(f + H3_STATUS)
            .store(libc::TP_STATUS_SEND_REQUEST, Ordering::Release);
        self.tx_head = (self.tx_head + 1) % self.tx_frames;
        true
    }

    /// Asks the kernel to send the `queued` frames before the head, then takes back those it
    /// did not take (device down, socket buffer full) so that its head and ours stay equal.
    /// Returns how many it took.
    pub(crate) fn kick(&mut self, fd: RawFd, queued: usize) -> usize {
        if queued == 0 {
            return 0;
        }
        // SAFETY: send(2) with an empty buffer; the kernel reads only the ring.
        let _ = unsafe { libc::send(fd, std::ptr::null(), 0, libc::MSG_DONTWAIT) };
        // tpacket_snd runs in our context under the ring mutex and walks frames in order: after
        // it returns, the first frame still requesting is where it stopped.
        let first = (self.tx_head + self.tx_frames - queued) % self.tx_frames;
        for k in 0..queued {
            let i = (first + k) % self.tx_frames;
            let f = self.tx_base + i * TX_FRAME_SIZE;
            let st = self.status(f + H3_STATUS);
            if st.load(Ordering::Acquire) & libc::TP_STATUS_SEND_REQUEST != 0 {
                for j in k..queued {
                    let f = self.tx_base + ((first + j) % self.tx_frames) * TX_FRAME_SIZE;
                    self.status(f + H3_STATUS)
                        .store(libc::TP_STATUS_AVAILABLE, Ordering::Release);
                }
                self.tx_head = i;
                return k;
            }
        }
        queued
    }
}
