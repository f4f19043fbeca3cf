//! Helpers shared by the `port_*` root tests: frames, namespace threads, polling a queue.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use userdp::port::batch::{Packet, PacketBatch, RxQueue, VirtioNetHdr, VlanTag};
use userdp::sys::epoll::{Epoll, Events};
use userdp::sys::netns;
use userdp::sys::packet::{PacketOptions, PacketSocket};

/// IEEE 802 local experimental EtherType: host stacks ignore it and no daemon emits it, so
/// test frames are easy to tell from IPv6 neighbour discovery noise.
pub const ETH_P_TEST: u16 = 0x88b5;

/// Runs `f` on a thread that entered network namespace `ns`; sockets it creates stay there.
pub fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let ns = ns.to_owned();
    std::thread::spawn(move || {
        netns::enter(&ns).expect("setns");
        f()
    })
    .join()
    .expect("namespace thread")
}

/// Spawns `f` on a thread inside `ns` and returns its handle.
pub fn spawn_in_ns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let ns = ns.to_owned();
    std::thread::spawn(move || {
        netns::enter(&ns).expect("setns");
        f()
    })
}

/// A plain raw socket on `ifname` of the current thread's namespace (no vnet header, no
/// promiscuity): the test's own frame generator and capture.
pub fn raw_socket(ifname: &str) -> PacketSocket {
    let ifindex = userdp::sys::netdev::ifindex(ifname).expect("ifindex");
    PacketSocket::open(
        ifindex,
        &PacketOptions {
            vnet_hdr: false,
            promisc: false,
            qdisc_bypass: false,
            ring: false,
        },
    )
    .expect("raw AF_PACKET socket")
}

/// The MAC address of `ifname` in the current namespace.
pub fn mac_of(ifname: &str) -> [u8; 6] {
    userdp::sys::netdev::hwaddr(ifname).expect("hwaddr").0
}

/// An Ethernet frame: dst, src, `ethertype`, then `payload`.
pub fn eth(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A test frame (EtherType 0x88b5) whose 46-byte payload starts with `tag`.
pub fn test_frame(src: [u8; 6], tag: u32) -> Vec<u8> {
    let mut payload = [0u8; 46];
    payload[..4].copy_from_slice(&tag.to_be_bytes());
    for (i, b) in payload[4..].iter_mut().enumerate() {
        *b = i as u8;
    }
    eth([0xff; 6], src, ETH_P_TEST, &payload)
}

/// An IPv4/UDP frame (checksums left zero: nobody on the path verifies them).
pub fn udp_frame(src_mac: [u8; 6], src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let mut ip = vec![
        0x45,
        0,
        0,
        28 + 4,
        0,
        0,
        0x40,
        0,
        64,
        17,
        0,
        0,
        src[0],
        src[1],
        src[2],
        src[3],
        dst[0],
        dst[1],
        dst[2],
        dst[3],
    ];
    ip.extend_from_slice(&sport.to_be_bytes());
    ip.extend_from_slice(&dport.to_be_bytes());
    ip.extend_from_slice(&[0, 12, 0, 0, b't', b'e', b's', b't']);
    eth([0xff; 6], src_mac, 0x0800, &ip)
}

/// One received packet, copied out of the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Got {
    /// The frame as received.
    pub data: Vec<u8>,
    /// The stripped tag, if any.
    pub vlan: Option<VlanTag>,
    /// The offload header.
    pub vnet: VirtioNetHdr,
}

impl From<&Packet> for Got {
    fn from(p: &Packet) -> Got {
        Got {
            data: p.data().to_vec(),
            vlan: p.vlan,
            vnet: p.vnet,
        }
    }
}

/// Reads `q` (sleeping in epoll between bursts) until `want` packets matching `keep` arrived
/// or `timeout` passed; returns the matching ones.
pub fn collect(
    q: &mut dyn RxQueue,
    want: usize,
    timeout: Duration,
    keep: impl Fn(&Packet) -> bool,
) -> Vec<Got> {
    let ep = Epoll::new().unwrap();
    ep.add(q.fd(), 0).unwrap();
    let mut ev = Events::with_capacity(1);
    let mut batch = PacketBatch::new(true);
    let mut out = Vec::new();
    let end = Instant::now() + timeout;
    while out.len() < want {
        let now = Instant::now();
        if now >= end {
            break;
        }
        batch.clear();
        if q.recv_burst(&mut batch).unwrap() == 0 {
            let ms = (end - now).as_millis().min(100) as i32;
            ep.wait(&mut ev, ms.max(1)).unwrap();
            continue;
        }
        out.extend(batch.packets().iter().filter(|p| keep(p)).map(Got::from));
    }
    out
}

/// The EtherType of a frame as received (after any kernel VLAN stripping).
pub fn ethertype(f: &[u8]) -> u16 {
    f.get(12..14)
        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]))
}
