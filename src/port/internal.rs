//! `internal` ports: a TAP device with the port's name.
//!
//! ≈ `net/openvswitch/vport-internal_dev.c`. Reads are frames the host transmitted on the
//! device (datapath ingress), writes are frames the datapath outputs to the host. With
//! `IFF_VNET_HDR` and `TUNSETOFFLOAD` the host hands us TSO/partial-checksum frames as the
//! kernel's internal device (SG, HW_CSUM, GSO) would. With more than one queue the device is
//! `IFF_MULTI_QUEUE` and each packet thread owns one queue descriptor; the kernel spreads the
//! host's flows over them.

use std::io;
use std::os::fd::RawFd;

use crate::port::batch::{PacketBatch, QueueStats, RxQueue, TxQueue};
use crate::sys::netdev;
use crate::sys::tun::TapQueue;

/// A TAP device standing in for a kernel internal port; it disappears with its last queue.
#[derive(Debug)]
pub struct InternalPort {
    name: String,
    ifindex: u32,
    queues: Vec<InternalQueue>,
}

/// One queue descriptor of an [`InternalPort`].
#[derive(Debug)]
pub struct InternalQueue {
    tap: TapQueue,
    stats: QueueStats,
}

impl InternalPort {
    /// Creates TAP `name` with `n_queues` queues (at least one) and virtio-net headers.
    /// `EEXIST` if any netdev already has that name, as for a kernel internal port. The device
    /// is left administratively down, like the kernel's.
    pub fn create(name: &str, n_queues: usize) -> io::Result<InternalPort> {
        InternalPort::create_with(name, n_queues, true)
    }

    /// As [`InternalPort::create`], choosing whether frames carry virtio-net headers.
    pub fn create_with(name: &str, n_queues: usize, vnet_hdr: bool) -> io::Result<InternalPort> {
        if netdev::ifindex(name).is_some() {
            return Err(io::Error::from_raw_os_error(libc::EEXIST));
        }
        let n = n_queues.max(1);
        let multi = n > 1;
        let mut queues = Vec::with_capacity(n);
        for _ in 0..n {
            queues.push(InternalQueue {
                tap: TapQueue::open(name, vnet_hdr, multi)?,
                stats: QueueStats::default(),
            });
        }
        let ifindex =
            netdev::ifindex(name).ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))?;
        Ok(InternalPort {
            name: name.to_owned(),
            ifindex,
            queues,
        })
    }

    /// The device name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The device's ifindex (for the local port: the datapath's `dp_ifindex`).
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The queues, still owned by the port.
    pub fn queues_mut(&mut self) -> &mut [InternalQueue] {
        &mut self.queues
    }

    /// Hands the queues out (one per packet thread); the device goes away with the last one.
    pub fn into_queues(self) -> Vec<InternalQueue> {
        self.queues
    }
}

impl InternalQueue {
    /// This queue's counters (a write to a down device counts in `tx_dropped`).
    pub fn stats(&self) -> QueueStats {
        self.stats
    }

    /// Whether frames carry virtio-net headers.
    pub fn vnet_hdr(&self) -> bool {
        self.tap.vnet_hdr()
    }
}

impl RxQueue for InternalQueue {
    fn recv_burst(&mut self, batch: &mut PacketBatch) -> io::Result<usize> {
        let r = self.tap.recv_burst(batch.spare())?;
        batch.commit(r.received);
        self.stats.count_rx(batch, r.received, r.dropped);
        Ok(r.received)
    }

    fn fd(&self) -> RawFd {
        self.tap.fd()
    }

    fn take_drops(&mut self) -> u64 {
        self.stats.take_unreported_rx_drops()
    }
}

impl TxQueue for InternalQueue {
    fn send_burst(&mut self, batch: &PacketBatch, mask: u64) -> io::Result<usize> {
        let r = self.tap.send_burst(batch.packets(), mask)?;
        self.stats.count_tx(r.sent, r.bytes, r.dropped);
        Ok(r.sent)
    }
}
