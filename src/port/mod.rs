//! Datapath ports: the devices behind vports.
//!
//! ≈ `net/openvswitch/vport.c`, `vport-internal_dev.c`, `vport-netdev.c`. An `internal` port is
//! a TAP device with the port's name (frames the host sends on it enter the datapath; frames
//! the datapath outputs to it reach the host); a `netdev` port attaches to an existing
//! interface; a `dummy` port is a pair of memory queues for tests and benches.

pub mod afpacket;
pub mod batch;
pub mod dummy;
pub mod internal;

use std::io;

use userdp_protocol::ovs::vport::OvsVportStats;

use crate::sys::netdev::{self, Tap};

/// `ARPHRD_ETHER`.
const ARPHRD_ETHER: u16 = 1;
/// `ARPHRD_NONE` (e.g. a tun device without Ethernet headers; the kernel accepts it too).
const ARPHRD_NONE: u16 = 0xfffe;
/// `IFF_LOOPBACK`.
const IFF_LOOPBACK: u32 = 0x8;

/// The device behind a vport.
#[derive(Debug)]
pub enum Device {
    /// A TAP device created for an internal port; removed when dropped.
    Internal(Tap),
    /// An existing interface, looked up by name when the port was added.
    Netdev {
        /// Its ifindex at attach time.
        ifindex: u32,
    },
    /// No device at all: memory queues for tests, with a synthetic ifindex.
    Dummy {
        /// The made-up ifindex reported for the port.
        ifindex: u32,
    },
}

impl Device {
    /// The ifindex reported in `OVS_VPORT_ATTR_IFINDEX` (0 for dummy ports).
    pub fn ifindex(&self) -> u32 {
        match self {
            Device::Internal(tap) => tap.ifindex(),
            Device::Netdev { ifindex } => *ifindex,
            Device::Dummy { ifindex } => *ifindex,
        }
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

    /// Creates the TAP device of an internal port. `EEXIST` if a netdev has that name.
    pub fn internal(name: &str) -> io::Result<Device> {
        Tap::create(name).map(Device::Internal)
    }

    /// Attaches to the existing interface `name` with the kernel's checks: `ENODEV` if it does
    /// not exist, `EINVAL` for loopback, non-Ethernet devices, or another datapath's internal
    /// port (the caller checks the last against its own ports).
    pub fn netdev(name: &str) -> io::Result<Device> {
        let ifindex = netdev::ifindex(name)
            .ok_or_else(|| io::Error::from_raw_os_error(libc_errno::ENODEV))?;
        if netdev::flags(name)? & IFF_LOOPBACK != 0 {
            return Err(io::Error::from_raw_os_error(libc_errno::EINVAL));
        }
        let (_, hwtype) = netdev::hwaddr(name)?;
        if hwtype != ARPHRD_ETHER && hwtype != ARPHRD_NONE {
            return Err(io::Error::from_raw_os_error(libc_errno::EINVAL));
        }
        Ok(Device::Netdev { ifindex })
    }
}

/// errno values used when refusing a device.
mod libc_errno {
    pub use userdp_protocol::errno::{EINVAL, ENODEV};
}
