//! Datapath ports: the devices behind vports.
//!
//! ≈ `net/openvswitch/vport.c`, `vport-internal_dev.c`, `vport-netdev.c`. An `internal` port is
//! a TAP device with the port's name (frames the host sends on it enter the datapath; frames
//! the datapath outputs to it reach the host); a `netdev` port attaches to an existing
//! interface; a `dummy` port is a pair of memory queues for tests and benches.

pub mod afpacket;
pub mod batch;
pub mod capture;
pub mod dummy;
pub mod internal;

use std::io;

use userdp_protocol::ovs::vport::OvsVportStats;

use crate::pmd::Queue;
use crate::sys::netdev;
use afpacket::{NetdevOptions, NetdevPort};
use dummy::DummyPort;
use internal::InternalPort;

/// `ARPHRD_ETHER`.
const ARPHRD_ETHER: u16 = 1;
/// `ARPHRD_NONE` (e.g. a tun device without Ethernet headers; the kernel accepts it too).
const ARPHRD_NONE: u16 = 0xfffe;
/// `IFF_LOOPBACK`.
const IFF_LOOPBACK: u32 = 0x8;

/// The device behind a vport. Its queues live in the packet threads; the device goes away
/// when they have all been dropped (a TAP closes with its last queue, an AF_PACKET port's
/// host-side drop filter is removed with its last socket).
#[derive(Debug)]
pub enum Device {
    /// A TAP device created for an internal port.
    Internal {
        /// The TAP's ifindex.
        ifindex: u32,
    },
    /// An existing interface, attached with AF_PACKET sockets.
    Netdev {
        /// Its ifindex at attach time.
        ifindex: u32,
        /// Whether a packet capture is open on it.
        capture: std::sync::Arc<capture::Capture>,
    },
    /// No device at all: memory queues for tests, with a synthetic ifindex.
    Dummy {
        /// The made-up ifindex reported for the port.
        ifindex: u32,
        /// The test side of the queues.
        port: DummyPort,
    },
}

/// The queues of a new device, one per packet thread.
pub type Queues = Vec<Box<dyn Queue>>;

impl Device {
    /// The ifindex reported in `OVS_VPORT_ATTR_IFINDEX`.
    pub fn ifindex(&self) -> u32 {
        match self {
            Device::Internal { ifindex }
            | Device::Netdev { ifindex, .. }
            | Device::Dummy { ifindex, .. } => *ifindex,
        }
    }

    /// Waits (up to `limit`) until a TAP device we created is gone from the host, after its
    /// queues were dropped. Our close is not always the last: a process forked by whoever
    /// embeds us holds copies of every descriptor until it execs, and the device goes with
    /// the last one. The kernel module answers a port or datapath delete only once the device
    /// is gone, and so does this. `false` if it is still there.
    pub fn wait_gone(&self, limit: std::time::Duration) -> bool {
        let Device::Internal { ifindex } = *self else {
            return true;
        };
        let start = std::time::Instant::now();
        while netdev::ifname(ifindex).is_some() {
            if start.elapsed() >= limit {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        true
    }

    /// Creates the TAP device of an internal port with `n` queues. `EEXIST` if a netdev has
    /// that name.
    pub fn internal(name: &str, n: usize) -> io::Result<(Device, Queues)> {
        let port = InternalPort::create(name, n)?;
        let ifindex = port.ifindex();
        let queues = port
            .into_queues()
            .into_iter()
            .map(|q| Box::new(q) as Box<dyn Queue>)
            .collect();
        Ok((Device::Internal { ifindex }, queues))
    }

    /// Attaches to the existing interface `name` with the kernel's checks: `ENODEV` if it does
    /// not exist, `EINVAL` for loopback or non-Ethernet devices (the caller checks for another
    /// datapath's ports).
    pub fn netdev(name: &str, n: usize, opts: &NetdevOptions) -> io::Result<(Device, Queues)> {
        let ifindex = netdev::ifindex(name)
            .ok_or_else(|| io::Error::from_raw_os_error(libc_errno::ENODEV))?;
        if netdev::flags(name)? & IFF_LOOPBACK != 0 {
            return Err(io::Error::from_raw_os_error(libc_errno::EINVAL));
        }
        let (_, hwtype) = netdev::hwaddr(name)?;
        if hwtype != ARPHRD_ETHER && hwtype != ARPHRD_NONE {
            return Err(io::Error::from_raw_os_error(libc_errno::EINVAL));
        }
        let port = NetdevPort::open_with(name, n, opts)?;
        let capture = port.capture().clone();
        let queues = port
            .into_queues()
            .into_iter()
            .map(|q| Box::new(q) as Box<dyn Queue>)
            .collect();
        Ok((Device::Netdev { ifindex, capture }, queues))
    }

    /// A memory port with `n` queues sharing its rings.
    pub fn dummy(ifindex: u32, n: usize) -> io::Result<(Device, Queues)> {
        let port = DummyPort::new()?;
        let queues = (0..n.max(1))
            .map(|_| Box::new(port.queue()) as Box<dyn Queue>)
            .collect();
        Ok((Device::Dummy { ifindex, port }, queues))
    }

    /// The device's own counters from sysfs, as `dev_get_stats` reports them, for real devices.
    pub fn sysfs_stats(&self, name: &str) -> Option<OvsVportStats> {
        if matches!(self, Device::Dummy { .. }) {
            return None;
        }
        let read = |what: &str| -> u64 {
            std::fs::read_to_string(format!("/sys/class/net/{name}/statistics/{what}"))
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0)
        };
        Some(OvsVportStats {
            rx_packets: read("rx_packets"),
            tx_packets: read("tx_packets"),
            rx_bytes: read("rx_bytes"),
            tx_bytes: read("tx_bytes"),
            rx_errors: read("rx_errors"),
            tx_errors: read("tx_errors"),
            rx_dropped: read("rx_dropped"),
            tx_dropped: read("tx_dropped"),
        })
    }
}

/// errno values used when refusing a device.
mod libc_errno {
    pub use userdp_protocol::errno::{EINVAL, ENODEV};
}
