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
    /// No device at all: memory queues for tests.
    Dummy,
}

impl Device {
    /// The ifindex reported in `OVS_VPORT_ATTR_IFINDEX` (0 for dummy ports).
    pub fn ifindex(&self) -> u32 {
        match self {
            Device::Internal(tap) => tap.ifindex(),
            Device::Netdev { ifindex } => *ifindex,
            Device::Dummy => 0,
        }
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

/// errno values used when refusing a device (the protocol crate's table, to avoid `libc` here).
mod libc_errno {
    pub use userdp_protocol::errno::{EINVAL, ENODEV};
}
