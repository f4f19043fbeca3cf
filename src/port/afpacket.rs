//! `netdev` ports: an existing interface driven through AF_PACKET.
//!
//! ≈ `net/openvswitch/vport-netdev.c`. The kernel steals every frame of an attached device
//! with an rx handler; we read them with one AF_PACKET socket per queue (joined in one
//! `PACKET_FANOUT` hash group, so a flow always lands on the same packet thread), keep the host
//! stack from answering with a tc ingress drop, and exchange virtio-net headers so GSO
//! super-frames and partial checksums cross userspace intact (veth's default offloads break TCP
//! through a userspace forwarder otherwise).

use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;

use crate::port::batch::{PacketBatch, QueueStats, RxQueue, TxQueue};
use crate::port::capture::Capture;
use crate::sys::netdev;
use crate::sys::packet::{PacketOptions, PacketSocket};
use crate::sys::tc::{DropKind, IngressDrop};

/// How to attach to the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetdevOptions {
    /// Socket options (vnet headers, promiscuity, qdisc bypass).
    pub socket: PacketOptions,
    /// Install the tc ingress drop that hides frames from the host stack.
    pub host_drop: bool,
    /// Send frames that are not GSO through a copy-mode AF_XDP socket per queue where the
    /// kernel allows it (a third less CPU per frame than the transmit ring).
    pub af_xdp_tx: bool,
}

impl Default for NetdevOptions {
    fn default() -> Self {
        NetdevOptions {
            socket: PacketOptions::default(),
            host_drop: true,
            af_xdp_tx: true,
        }
    }
}

/// An interface attached as a datapath port: its queues, to be handed to packet threads.
#[derive(Debug)]
pub struct NetdevPort {
    name: String,
    ifindex: u32,
    fanout: Option<u16>,
    queues: Vec<NetdevQueue>,
    capture: Arc<Capture>,
}

/// One AF_PACKET queue of a [`NetdevPort`]: receives its share of the flows and transmits.
#[derive(Debug)]
pub struct NetdevQueue {
    sock: PacketSocket,
    stats: QueueStats,
    /// Shared by the port's queues: the host drop stays until the last queue is closed.
    host_drop_guard: Option<Arc<IngressDrop>>,
    /// While the interface is captured, frames leave where the capture sees them.
    capture: Arc<Capture>,
}

impl NetdevPort {
    /// Attaches to `ifname` with `n_queues` queues (at least one) and the default options.
    pub fn open(ifname: &str, n_queues: usize) -> io::Result<NetdevPort> {
        NetdevPort::open_with(ifname, n_queues, &NetdevOptions::default())
    }

    /// Attaches to `ifname` with `n_queues` queues and `opts`. `ENODEV` if it does not exist.
    pub fn open_with(
        ifname: &str,
        n_queues: usize,
        opts: &NetdevOptions,
    ) -> io::Result<NetdevPort> {
        let ifindex =
            netdev::ifindex(ifname).ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))?;
        let n = n_queues.max(1);
        let mut socks = Vec::with_capacity(n);
        let mut fanout = None;
        for i in 0..n {
            let mut s = PacketSocket::open(ifindex, &opts.socket)?;
            if opts.af_xdp_tx {
                // Queue i of the device: one AF_XDP socket per (device, queue). Where there is
                // no such queue (a one-queue veth with several threads) that thread keeps the ring.
                if let Err(e) = s.enable_xsk_tx(i as u32) {
                    tracing::debug!(ifname, queue = i, error = %e, "no AF_XDP transmit socket");
                }
            }
            if n > 1 {
                let id = s.join_fanout(fanout)?;
                if i == 0 {
                    fanout = Some(id);
                }
            }
            socks.push(s);
        }
        let host_drop = if opts.host_drop {
            Some(Arc::new(IngressDrop::install(ifname, ifindex)?))
        } else {
            None
        };
        let own = socks.iter().filter_map(|s| s.inode().ok()).collect();
        let capture = Arc::new(Capture::new(own));
        let queues = socks
            .into_iter()
            .map(|sock| NetdevQueue {
                sock,
                stats: QueueStats::default(),
                host_drop_guard: host_drop.clone(),
                capture: capture.clone(),
            })
            .collect();
        Ok(NetdevPort {
            name: ifname.to_owned(),
            ifindex,
            fanout,
            queues,
            capture,
        })
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The interface's ifindex at attach time.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The `PACKET_FANOUT` group id (None with a single queue).
    pub fn fanout_group(&self) -> Option<u16> {
        self.fanout
    }

    /// How the host stack is kept from seeing the port's frames (None: it is not).
    pub fn host_drop(&self) -> Option<DropKind> {
        self.queues
            .first()
            .and_then(|q| q.host_drop_guard.as_ref())
            .map(|d| d.kind())
    }

    /// Whether the interface is captured, as the port's queues see it: update it with
    /// [`Capture::update`] from a [`crate::port::capture::scan`].
    pub fn capture(&self) -> &Arc<Capture> {
        &self.capture
    }

    /// The queues, still owned by the port.
    pub fn queues_mut(&mut self) -> &mut [NetdevQueue] {
        &mut self.queues
    }

    /// Hands the queues out (one per packet thread). The host drop and promiscuity end when the
    /// last of them is dropped.
    pub fn into_queues(self) -> Vec<NetdevQueue> {
        self.queues
    }
}

impl NetdevQueue {
    /// This queue's counters.
    pub fn stats(&self) -> QueueStats {
        self.stats
    }

    /// Whether frames carry virtio-net headers (batches must then be built with `vnet = true`).
    pub fn vnet_hdr(&self) -> bool {
        self.sock.vnet_hdr()
    }

    /// Whether frames that are not GSO leave through an AF_XDP socket.
    pub fn uses_af_xdp_tx(&self) -> bool {
        self.sock.uses_xsk_tx()
    }

    /// Whether the queue reads (and, with vnet headers, writes) through mapped rings.
    pub fn uses_ring(&self) -> bool {
        self.sock.uses_ring()
    }
}

impl RxQueue for NetdevQueue {
    fn recv_burst(&mut self, batch: &mut PacketBatch) -> io::Result<usize> {
        let r = self.sock.recv_burst(batch.spare())?;
        batch.commit(r.received);
        self.stats.count_rx(batch, r.received, r.dropped);
        Ok(r.received)
    }

    fn fd(&self) -> RawFd {
        self.sock.fd()
    }

    fn take_drops(&mut self) -> u64 {
        let kernel = self.sock.take_kernel_drops().unwrap_or(0);
        self.stats.rx_dropped += kernel;
        self.stats.take_unreported_rx_drops()
    }
}

impl TxQueue for NetdevQueue {
    fn send_burst(&mut self, batch: &PacketBatch, mask: u64) -> io::Result<usize> {
        let r = if self.capture.is_on() {
            self.sock.send_burst_visible(batch.packets(), mask)?
        } else {
            self.sock.send_burst(batch.packets(), mask)?
        };
        self.stats.count_tx(r.sent, r.bytes, r.dropped);
        Ok(r.sent)
    }
}

/// A bare socket is a queue too (no counters, no host drop): tools and tests use it to capture
/// and generate frames.
impl RxQueue for PacketSocket {
    fn recv_burst(&mut self, batch: &mut PacketBatch) -> io::Result<usize> {
        let r = PacketSocket::recv_burst(self, batch.spare())?;
        batch.commit(r.received);
        Ok(r.received)
    }

    fn fd(&self) -> RawFd {
        PacketSocket::fd(self)
    }
}

impl TxQueue for PacketSocket {
    fn send_burst(&mut self, batch: &PacketBatch, mask: u64) -> io::Result<usize> {
        PacketSocket::send_burst(self, batch.packets(), mask).map(|r| r.sent)
    }
}
