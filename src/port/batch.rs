//! Packet buffers and bursts: what every port reads into and writes from.
//!
//! ≈ `struct dp_packet` / `struct dp_packet_batch` in OVS `lib/dp-packet.h`, and the
//! `virtio_net_hdr` handling of `include/linux/virtio_net.h`. A [`PacketBatch`] owns its buffers
//! for its whole life: packet threads refill the same batch burst after burst, so the fast path
//! never allocates per packet.
//!
//! Offload metadata travels as a [`VirtioNetHdr`] with every packet. Every port type here (AF_PACKET
//! with `PACKET_VNET_HDR`, TAP with `IFF_VNET_HDR`, dummy) takes such a header on output, so a GSO
//! super-frame or a frame with a partial checksum read from one port can be written to any other
//! unchanged: no software segmentation or checksum fallback is needed.

use std::io;
use std::os::fd::RawFd;

/// Most packets in one burst; also the width of the `mask` of [`TxQueue::send_burst`].
pub const MAX_BURST: usize = 32;
/// Bytes reserved in front of every frame so headers (VLAN, MPLS) can be pushed without copying.
pub const HEADROOM: usize = 128;
/// Room for one frame when offloads are on: a 64 KiB GSO super-frame plus an Ethernet header.
pub const GSO_FRAME_MAX: usize = 65535 + 14 + 4;
/// Room for one frame when offloads are off: a 1500-MTU frame with room to spare for tags.
pub const PLAIN_FRAME_MAX: usize = 2048;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the checksum at `csum_start + csum_offset` is still to be done.
pub const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_F_DATA_VALID`: the device already verified the checksum.
pub const VIRTIO_NET_HDR_F_DATA_VALID: u8 = 2;
/// `VIRTIO_NET_HDR_GSO_NONE`.
pub const VIRTIO_NET_HDR_GSO_NONE: u8 = 0;
/// `VIRTIO_NET_HDR_GSO_TCPV4`.
pub const VIRTIO_NET_HDR_GSO_TCPV4: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_UDP` (UFO).
pub const VIRTIO_NET_HDR_GSO_UDP: u8 = 3;
/// `VIRTIO_NET_HDR_GSO_TCPV6`.
pub const VIRTIO_NET_HDR_GSO_TCPV6: u8 = 4;
/// `VIRTIO_NET_HDR_GSO_UDP_L4` (USO).
pub const VIRTIO_NET_HDR_GSO_UDP_L4: u8 = 5;
/// `VIRTIO_NET_HDR_GSO_ECN`: flag bit on `gso_type`.
pub const VIRTIO_NET_HDR_GSO_ECN: u8 = 0x80;

/// `struct virtio_net_hdr`: offload metadata of one frame (all zero = a plain, complete frame).
///
/// The kernel exchanges it in native byte order on AF_PACKET and on TAP (we never set
/// `TUNSETVNETBE`/`LE`), so `to_bytes`/`from_bytes` use native order.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct VirtioNetHdr {
    /// `VIRTIO_NET_HDR_F_*`.
    pub flags: u8,
    /// `VIRTIO_NET_HDR_GSO_*`, possibly with `VIRTIO_NET_HDR_GSO_ECN`.
    pub gso_type: u8,
    /// Length of the headers to replicate in each segment (a hint; the kernel recomputes it).
    pub hdr_len: u16,
    /// Payload bytes per segment.
    pub gso_size: u16,
    /// Offset from the frame start where checksumming starts.
    pub csum_start: u16,
    /// Offset from `csum_start` where the checksum is stored.
    pub csum_offset: u16,
}

impl VirtioNetHdr {
    /// Size of the header on the wire.
    pub const LEN: usize = 10;

    /// Decodes the 10 header bytes.
    pub fn from_bytes(b: &[u8; Self::LEN]) -> VirtioNetHdr {
        VirtioNetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u16::from_ne_bytes([b[2], b[3]]),
            gso_size: u16::from_ne_bytes([b[4], b[5]]),
            csum_start: u16::from_ne_bytes([b[6], b[7]]),
            csum_offset: u16::from_ne_bytes([b[8], b[9]]),
        }
    }

    /// Encodes the header.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        b
    }

    /// True when the frame is a GSO super-frame the output device must segment.
    pub fn is_gso(&self) -> bool {
        self.gso_type & !VIRTIO_NET_HDR_GSO_ECN != VIRTIO_NET_HDR_GSO_NONE
    }

    /// True when the L4 checksum is left for the output device to complete.
    pub fn needs_csum(&self) -> bool {
        self.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0
    }

    /// Completes the partial checksum `frame` owes, as `skb_checksum_help` does: the ones'
    /// complement sum from `csum_start` to the end (the field holds the pseudo-header sum),
    /// stored at `csum_start + csum_offset`, a zero result sent as 0xffff (zero would mean "no
    /// checksum" to UDP). Returns false, leaving the frame alone, when the header points
    /// outside it; true also when nothing was owed.
    pub fn complete_csum(&self, frame: &mut [u8]) -> bool {
        if !self.needs_csum() {
            return true;
        }
        let start = usize::from(self.csum_start);
        let at = start + usize::from(self.csum_offset);
        if at + 2 > frame.len() || start > frame.len() {
            return false;
        }
        let sum = match userdp_protocol::wire::checksum::checksum(&frame[start..]) {
            0 => 0xffff,
            s => s,
        };
        frame[at..at + 2].copy_from_slice(&sum.to_be_bytes());
        true
    }
}

/// An 802.1Q/802.1ad tag the receiving device took out of the frame (`PACKET_AUXDATA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VlanTag {
    /// The tag's EtherType: 0x8100 or 0x88a8.
    pub tpid: u16,
    /// Priority, DEI and VLAN id.
    pub tci: u16,
}

/// One packet buffer: a frame with headroom in front, and its offload metadata.
#[derive(Debug, Clone)]
pub struct Packet {
    buf: Box<[u8]>,
    start: usize,
    len: usize,
    /// Offload metadata (all zero when the port gave none).
    pub vnet: VirtioNetHdr,
    /// A tag the kernel stripped on receive and that is not yet back in the frame.
    pub vlan: Option<VlanTag>,
}

impl Packet {
    /// An empty packet able to hold `frame_max` bytes after [`HEADROOM`].
    pub fn with_capacity(frame_max: usize) -> Packet {
        Packet {
            buf: vec![0u8; HEADROOM + frame_max].into_boxed_slice(),
            start: HEADROOM,
            len: 0,
            vnet: VirtioNetHdr::default(),
            vlan: None,
        }
    }

    /// The frame.
    pub fn data(&self) -> &[u8] {
        self.buf
            .get(self.start..self.start + self.len)
            .unwrap_or(&[])
    }

    /// The frame, writable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        let end = self.start + self.len;
        self.buf.get_mut(self.start..end).unwrap_or(&mut [])
    }

    /// Frame length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for a zero-length frame.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes free in front of the frame.
    pub fn headroom(&self) -> usize {
        self.start
    }

    /// Bytes free after the frame.
    pub fn tailroom(&self) -> usize {
        self.buf.len() - self.start - self.len
    }

    /// Forgets the frame and metadata and re-centres the buffer (headroom back to [`HEADROOM`]).
    pub fn reset(&mut self) {
        self.start = HEADROOM.min(self.buf.len());
        self.len = 0;
        self.vnet = VirtioNetHdr::default();
        self.vlan = None;
    }

    /// Replaces the frame with a copy of `frame`; `EMSGSIZE` if it does not fit.
    pub fn set_frame(&mut self, frame: &[u8], vnet: Option<&VirtioNetHdr>) -> io::Result<()> {
        self.reset();
        let dst = self
            .buf
            .get_mut(self.start..self.start + frame.len())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EMSGSIZE))?;
        dst.copy_from_slice(frame);
        self.len = frame.len();
        self.vnet = vnet.copied().unwrap_or_default();
        Ok(())
    }

    /// Inserts `n` zero bytes at frame offset `at`, moving the shorter side (the bytes before
    /// `at` into the headroom, or the rest into the tailroom) and shifting the offload offsets
    /// that lie behind `at`. Returns the new bytes; `None` if `at` is past the end or no room.
    pub fn insert(&mut self, at: usize, n: usize) -> Option<&mut [u8]> {
        if at > self.len {
            return None;
        }
        if n <= self.start && at <= self.len - at {
            let new_start = self.start - n;
            self.buf.copy_within(self.start..self.start + at, new_start);
            self.start = new_start;
        } else if n <= self.tailroom() {
            let from = self.start + at;
            self.buf.copy_within(from..self.start + self.len, from + n);
        } else if n <= self.start {
            let new_start = self.start - n;
            self.buf.copy_within(self.start..self.start + at, new_start);
            self.start = new_start;
        } else {
            return None;
        }
        self.len += n;
        // The kernel measures csum_start and hdr_len from the frame start: bytes inserted in
        // front of the L4 header move both.
        if self.vnet.needs_csum() && usize::from(self.vnet.csum_start) >= at {
            self.vnet.csum_start = self.vnet.csum_start.saturating_add(n as u16);
        }
        if self.vnet.is_gso() && usize::from(self.vnet.hdr_len) >= at && self.vnet.hdr_len != 0 {
            self.vnet.hdr_len = self.vnet.hdr_len.saturating_add(n as u16);
        }
        let p = self.start + at;
        let new = self.buf.get_mut(p..p + n)?;
        new.fill(0);
        Some(new)
    }

    /// Removes `n` bytes at frame offset `at` (the inverse of [`Packet::insert`]). `false` if
    /// the range is not inside the frame.
    pub fn remove(&mut self, at: usize, n: usize) -> bool {
        if at.checked_add(n).is_none_or(|end| end > self.len) {
            return false;
        }
        if at <= self.len - at - n {
            self.buf
                .copy_within(self.start..self.start + at, self.start + n);
            self.start += n;
        } else {
            let from = self.start + at + n;
            self.buf
                .copy_within(from..self.start + self.len, self.start + at);
        }
        self.len -= n;
        if self.vnet.needs_csum() && usize::from(self.vnet.csum_start) >= at + n {
            self.vnet.csum_start -= n as u16;
        }
        if self.vnet.is_gso() && usize::from(self.vnet.hdr_len) >= at + n {
            self.vnet.hdr_len -= n as u16;
        }
        true
    }

    /// Puts a tag the kernel stripped on receive back into the frame, after the MAC addresses,
    /// as the kernel datapath sees it before flow key extraction. No-op without a stripped tag;
    /// `false` if the frame is too short to carry a tag or there is no room.
    pub fn restore_vlan(&mut self) -> bool {
        let Some(tag) = self.vlan else {
            return true;
        };
        if self.len < 12 {
            return false;
        }
        let Some(hdr) = self.insert(12, 4) else {
            return false;
        };
        hdr[0..2].copy_from_slice(&tag.tpid.to_be_bytes());
        hdr[2..4].copy_from_slice(&tag.tci.to_be_bytes());
        self.vlan = None;
        true
    }

    /// Cuts the frame to its first `len` bytes (no-op if it is shorter).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Sets the frame length after a receive wrote `len` bytes at the frame start.
    pub(crate) fn set_received(&mut self, len: usize) {
        self.len = len.min(self.buf.len() - self.start);
    }

    /// The whole writable area from the frame start (where a receive writes).
    pub(crate) fn recv_area(&mut self) -> &mut [u8] {
        let s = self.start;
        self.buf.get_mut(s..).unwrap_or(&mut [])
    }
}

/// A burst of up to [`MAX_BURST`] packets whose buffers are allocated once.
#[derive(Debug, Clone)]
pub struct PacketBatch {
    pkts: Vec<Packet>,
    count: usize,
}

impl PacketBatch {
    /// A batch whose buffers can hold GSO super-frames (`vnet = true`) or MTU-sized frames.
    pub fn new(vnet: bool) -> PacketBatch {
        PacketBatch::with_frame_max(if vnet { GSO_FRAME_MAX } else { PLAIN_FRAME_MAX })
    }

    /// A batch of [`MAX_BURST`] buffers of `frame_max` bytes each (plus headroom).
    pub fn with_frame_max(frame_max: usize) -> PacketBatch {
        PacketBatch {
            pkts: (0..MAX_BURST)
                .map(|_| Packet::with_capacity(frame_max))
                .collect(),
            count: 0,
        }
    }

    /// Number of packets in the burst.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when the burst is empty.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// True when no more packets fit.
    pub fn is_full(&self) -> bool {
        self.count == self.pkts.len()
    }

    /// Empties the burst (buffers are kept).
    pub fn clear(&mut self) {
        self.count = 0;
    }

    /// The packets of the burst.
    pub fn packets(&self) -> &[Packet] {
        self.pkts.get(..self.count).unwrap_or(&[])
    }

    /// The packets of the burst, writable.
    pub fn packets_mut(&mut self) -> &mut [Packet] {
        let n = self.count;
        self.pkts.get_mut(..n).unwrap_or(&mut [])
    }

    /// Packet `i` of the burst.
    pub fn get(&self, i: usize) -> Option<&Packet> {
        self.packets().get(i)
    }

    /// Appends a copy of `frame` (for building output bursts); `ENOBUFS` when full,
    /// `EMSGSIZE` when the frame does not fit a buffer.
    pub fn push(&mut self, frame: &[u8], vnet: Option<&VirtioNetHdr>) -> io::Result<()> {
        let p = self
            .pkts
            .get_mut(self.count)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOBUFS))?;
        p.set_frame(frame, vnet)?;
        self.count += 1;
        Ok(())
    }

    /// Appends `pkt` by trading buffers with it: `pkt` gets the batch's next free buffer
    /// (empty), and the batch gets the frame without copying it. Buffers of different sizes are
    /// never traded (`pkt` may come from a batch that reuses it); they are copied instead.
    /// `ENOBUFS` when full, `EMSGSIZE` when a copied frame does not fit.
    pub fn push_take(&mut self, pkt: &mut Packet) -> io::Result<()> {
        let slot = self
            .pkts
            .get_mut(self.count)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOBUFS))?;
        if slot.buf.len() == pkt.buf.len() {
            std::mem::swap(slot, pkt);
            pkt.reset();
        } else {
            slot.set_frame(pkt.data(), Some(&pkt.vnet))?;
        }
        slot.vlan = None;
        self.count += 1;
        Ok(())
    }

    /// The first `n` free buffers, reset, for a receive to fill; commit with
    /// [`PacketBatch::commit`].
    pub(crate) fn spare(&mut self) -> &mut [Packet] {
        let c = self.count;
        let spare = self.pkts.get_mut(c..).unwrap_or(&mut []);
        for p in spare.iter_mut() {
            p.reset();
        }
        spare
    }

    /// Makes the first `n` spare buffers part of the burst.
    pub(crate) fn commit(&mut self, n: usize) {
        self.count = (self.count + n).min(self.pkts.len());
    }

    /// A mask selecting every packet of the burst.
    pub fn all(&self) -> u64 {
        mask_of(self.count)
    }
}

/// The mask selecting packets `0..n`.
pub fn mask_of(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// The receive side of one port queue, owned by one packet thread.
pub trait RxQueue: Send {
    /// Appends up to the batch's free room of received packets, without blocking; returns how
    /// many were added (0 = nothing now: wait for [`RxQueue::fd`] to become readable).
    fn recv_burst(&mut self, batch: &mut PacketBatch) -> io::Result<usize>;
    /// A descriptor that becomes readable (level-triggered) when packets wait.
    fn fd(&self) -> RawFd;
    /// Frames lost on receive since the last call that no batch ever held: dropped by the
    /// kernel because the queue was full, or discarded as malformed. May make a syscall, so
    /// packet threads ask rarely.
    fn take_drops(&mut self) -> u64 {
        0
    }
}

/// The transmit side of one port queue, owned by one packet thread.
pub trait TxQueue: Send {
    /// Sends the packets of `batch` whose bit is set in `mask` (bit `i` = packet `i`), in as
    /// few syscalls as the device allows. Returns how many the device took; the others were
    /// dropped (device down, queue full, frame too big), as the kernel drops them.
    fn send_burst(&mut self, batch: &PacketBatch, mask: u64) -> io::Result<usize>;
}

/// Counters a queue keeps for itself (summed by the port on read).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct QueueStats {
    /// Packets received.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Received frames discarded (truncated, malformed offload header).
    pub rx_dropped: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets the device refused (down, full, too big).
    pub tx_dropped: u64,
    /// `rx_dropped` as of the last [`QueueStats::take_unreported_rx_drops`].
    rx_dropped_reported: u64,
}

impl QueueStats {
    /// Receive drops counted since the last call (what [`RxQueue::take_drops`] reports).
    pub fn take_unreported_rx_drops(&mut self) -> u64 {
        let new = self.rx_dropped - self.rx_dropped_reported;
        self.rx_dropped_reported = self.rx_dropped;
        new
    }

    /// Counts a receive that appended `received` packets to `batch` and discarded `dropped`.
    pub fn count_rx(&mut self, batch: &PacketBatch, received: usize, dropped: usize) {
        self.rx_packets += received as u64;
        self.rx_dropped += dropped as u64;
        let start = batch.len().saturating_sub(received);
        self.rx_bytes += batch
            .packets()
            .get(start..)
            .unwrap_or(&[])
            .iter()
            .map(|p| p.len() as u64)
            .sum::<u64>();
    }

    /// Counts a send of `sent` packets (`bytes` in all) of which the device refused `dropped`.
    pub fn count_tx(&mut self, sent: usize, bytes: usize, dropped: usize) {
        self.tx_packets += sent as u64;
        self.tx_bytes += bytes as u64;
        self.tx_dropped += dropped as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: usize) -> Vec<u8> {
        (0..n).map(|i| i as u8).collect()
    }

    #[test]
    fn vnet_header_bytes_are_native_order() {
        let h = VirtioNetHdr {
            flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
            gso_type: VIRTIO_NET_HDR_GSO_TCPV4,
            hdr_len: 0x0042,
            gso_size: 0x05a8,
            csum_start: 0x0022,
            csum_offset: 0x0010,
        };
        let b = h.to_bytes();
        // flags, gso_type, then four u16 in host order (little-endian on x86/arm64).
        if cfg!(target_endian = "little") {
            assert_eq!(b, [1, 1, 0x42, 0, 0xa8, 5, 0x22, 0, 0x10, 0]);
        }
        assert_eq!(VirtioNetHdr::from_bytes(&b), h);
        assert!(h.is_gso() && h.needs_csum());
        assert!(!VirtioNetHdr::default().is_gso());
    }

    #[test]
    fn restore_vlan_puts_the_tag_after_the_macs_and_moves_offsets() {
        let mut p = Packet::with_capacity(PLAIN_FRAME_MAX);
        let f = frame(60);
        let vnet = VirtioNetHdr {
            flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
            csum_start: 34,
            csum_offset: 16,
            ..Default::default()
        };
        p.set_frame(&f, Some(&vnet)).unwrap();
        p.vlan = Some(VlanTag {
            tpid: 0x8100,
            tci: 0x2064,
        });
        assert!(p.restore_vlan());
        let mut want = f[..12].to_vec();
        want.extend_from_slice(&[0x81, 0x00, 0x20, 0x64]);
        want.extend_from_slice(&f[12..]);
        assert_eq!(p.data(), &want[..]);
        assert_eq!(p.vlan, None);
        assert_eq!(p.vnet.csum_start, 38);
        // The 12 MAC bytes moved into the headroom, the payload stayed in place.
        assert_eq!(p.headroom(), HEADROOM - 4);
        assert!(p.remove(12, 4));
        assert_eq!(p.data(), &f[..]);
        assert_eq!(p.vnet.csum_start, 34);
    }

    #[test]
    fn insert_uses_tailroom_when_headroom_is_gone() {
        let mut p = Packet::with_capacity(256);
        p.set_frame(&frame(20), None).unwrap();
        assert!(p.insert(0, HEADROOM).is_some());
        assert_eq!(p.headroom(), 0);
        let new = p.insert(2, 3).unwrap();
        new.copy_from_slice(&[0xaa, 0xbb, 0xcc]);
        // No headroom left: the tail moved right instead, the new bytes sit at offset 2.
        assert_eq!(&p.data()[..6], &[0, 0, 0xaa, 0xbb, 0xcc, 0][..]);
        assert_eq!(&p.data()[HEADROOM + 3..], &frame(20)[..]);
        assert_eq!(p.headroom(), 0);
        assert_eq!(p.len(), 20 + HEADROOM + 3);
        assert!(p.insert(p.len() + 1, 1).is_none());
        assert!(p.insert(0, 10_000).is_none());
    }

    #[test]
    fn push_take_trades_equal_buffers_and_copies_others() {
        let mut b = PacketBatch::new(true);
        let mut p = Packet::with_capacity(GSO_FRAME_MAX);
        p.set_frame(&frame(100), None).unwrap();
        let before = p.buf.as_ptr();
        b.push_take(&mut p).unwrap();
        assert_eq!(b.packets()[0].data(), &frame(100)[..]);
        assert_eq!(b.packets()[0].buf.as_ptr(), before, "moved, not copied");
        assert!(p.is_empty());
        assert_eq!(
            p.buf.len(),
            HEADROOM + GSO_FRAME_MAX,
            "left with a buffer as big"
        );
        // A smaller buffer is copied, and stays with its owner.
        let mut small = Packet::with_capacity(PLAIN_FRAME_MAX);
        small.set_frame(&frame(60), None).unwrap();
        b.push_take(&mut small).unwrap();
        assert_eq!(b.packets()[1].data(), &frame(60)[..]);
        assert_eq!(small.buf.len(), HEADROOM + PLAIN_FRAME_MAX);
        while !b.is_full() {
            b.push(&frame(60), None).unwrap();
        }
        assert_eq!(
            b.push_take(&mut p).unwrap_err().raw_os_error(),
            Some(libc::ENOBUFS)
        );
    }

    #[test]
    fn batch_push_fills_and_reports_full() {
        let mut b = PacketBatch::new(false);
        for i in 0..MAX_BURST {
            b.push(&[i as u8; 60], None).unwrap();
        }
        assert!(b.is_full());
        assert_eq!(
            b.push(&[0; 60], None).unwrap_err().raw_os_error(),
            Some(libc::ENOBUFS)
        );
        assert_eq!(b.get(5).unwrap().data(), &[5u8; 60][..]);
        assert_eq!(b.all(), (1u64 << MAX_BURST) - 1);
        b.clear();
        assert!(b.is_empty());
        assert_eq!(
            b.push(&vec![0; PLAIN_FRAME_MAX + 1], None)
                .unwrap_err()
                .raw_os_error(),
            Some(libc::EMSGSIZE)
        );
    }
}
