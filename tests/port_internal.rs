//! Root tier: `InternalPort` (TAP with virtio-net headers).

mod common;
mod port_common;

use std::time::Duration;

use common::{require_root, sh, unique};
use port_common::*;
use userdp::port::batch::{PacketBatch, TxQueue};
use userdp::port::internal::InternalPort;

const WAIT: Duration = Duration::from_secs(3);

#[test]
fn a_tap_carries_frames_both_ways() {
    if !require_root() || !common::require(common::have("ping"), "needs ping") {
        return;
    }
    let name = unique("pit");
    let mut port = InternalPort::create(&name, 1).unwrap();
    assert_eq!(
        sh(&format!("cat /sys/class/net/{name}/ifindex")).trim(),
        port.ifindex().to_string()
    );
    // A second port of that name is refused, as for a kernel internal port.
    assert_eq!(
        InternalPort::create(&name, 1).unwrap_err().raw_os_error(),
        Some(libc::EEXIST)
    );
    let q = &mut port.queues_mut()[0];
    assert!(q.vnet_hdr());
    let mut batch = PacketBatch::new(true);
    batch
        .push(&test_frame([2, 0, 0, 0, 0, 1], 0x4000), None)
        .unwrap();
    // Left down like the kernel's internal device: the write fails with EIO and is a drop.
    assert_eq!(q.send_burst(&batch, 1).unwrap(), 0);
    assert_eq!(q.stats().tx_dropped, 1);

    sh(&format!(
        "ip link set {name} up && ip addr add 198.18.20.1/24 dev {name}"
    ));
    // Datapath -> host: what we write is received on the interface.
    let mut cap = raw_socket(&name);
    let frames: Vec<Vec<u8>> = (0..3)
        .map(|i| test_frame([2, 0, 0, 0, 0, 1], 0x4100 + i))
        .collect();
    batch.clear();
    for f in &frames {
        batch.push(f, None).unwrap();
    }
    assert_eq!(q.send_burst(&batch, batch.all()).unwrap(), 3);
    let got: Vec<Vec<u8>> = collect(&mut cap, 3, WAIT, |p| ethertype(p.data()) == ETH_P_TEST)
        .into_iter()
        .map(|g| g.data)
        .collect();
    assert_eq!(got, frames);

    // Host -> datapath: the host resolves 198.18.20.2 by ARP out of the TAP, and we read it.
    let ping = std::thread::spawn({
        let name = name.clone();
        move || common::sh_ok(&format!("ping -c 1 -W 1 -I {name} 198.18.20.2"))
    });
    let mac = mac_of(&name);
    let arp = collect(q, 1, WAIT, |p| {
        let d = p.data();
        ethertype(d) == 0x0806 && d.get(38..42) == Some(&[198, 18, 20, 2][..])
    });
    assert!(!ping.join().unwrap(), "nobody answers 198.18.20.2");
    assert_eq!(arp.len(), 1, "the host's ARP request came out of the TAP");
    let a = &arp[0].data;
    assert_eq!(&a[..6], &[0xff; 6][..]);
    assert_eq!(&a[6..12], &mac[..]);
    // ARP: Ethernet/IPv4, request, sender = the TAP's MAC and address.
    assert_eq!(&a[14..22], &[0, 1, 8, 0, 6, 4, 0, 1][..]);
    assert_eq!(&a[22..28], &mac[..]);
    assert_eq!(&a[28..32], &[198, 18, 20, 1][..]);
    assert!(!arp[0].vnet.is_gso());

    drop(port);
    assert!(gone_soon(&name), "the TAP goes away with its last queue");
}

#[test]
fn a_multi_queue_tap_has_one_descriptor_per_queue() {
    if !require_root() {
        return;
    }
    let name = unique("pim");
    let port = InternalPort::create(&name, 2).unwrap();
    sh(&format!("ip link set {name} up"));
    let flags = sh(&format!("cat /sys/class/net/{name}/tun_flags"));
    let flags = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16).unwrap();
    // IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE.
    assert_eq!(flags & 0x5102, 0x5102, "tun_flags {flags:#x}");
    let mut queues = port.into_queues();
    assert_eq!(queues.len(), 2);
    let mut cap = raw_socket(&name);
    let mut batch = PacketBatch::new(true);
    for (i, q) in queues.iter_mut().enumerate() {
        batch.clear();
        batch
            .push(&test_frame([2, 0, 0, 0, 0, 2], 0x4200 + i as u32), None)
            .unwrap();
        assert_eq!(q.send_burst(&batch, 1).unwrap(), 1);
    }
    let got = collect(&mut cap, 2, WAIT, |p| ethertype(p.data()) == ETH_P_TEST);
    assert_eq!(got.len(), 2);
    drop(queues.pop());
    assert!(
        common::link_exists(&name),
        "one queue left keeps the device"
    );
    drop(queues);
    assert!(gone_soon(&name));
}

/// Whether interface `name` disappears within a second. Our close is not always the last: a
/// process that another test forks meanwhile holds copies of our descriptors until it execs.
fn gone_soon(name: &str) -> bool {
    let end = std::time::Instant::now() + Duration::from_secs(1);
    while common::link_exists(name) {
        if std::time::Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}
