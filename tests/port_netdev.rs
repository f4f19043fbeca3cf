//! Root tier: `NetdevPort` (AF_PACKET) on a veth whose peer lives in a namespace.
//!
//! Frames are generated and captured with raw AF_PACKET sockets opened from a thread that
//! entered the namespace, so nothing but iproute2 and (for one test) ping is needed.

mod common;
mod port_common;

use std::time::Duration;

use common::{require_root, sh, sh_ok, unique, Netns, Veth};
use port_common::*;
use userdp::port::afpacket::NetdevPort;
use userdp::port::batch::{PacketBatch, RxQueue, TxQueue, VlanTag};
use userdp::sys::tc::DropKind;
use userdp_protocol::wire::checksum::{pseudo_header_v4, transport_checksum};

const WAIT: Duration = Duration::from_secs(3);

/// A namespace with `inner` addressed `addr`, wired to `outer` in the root namespace.
fn setup(prefix: &str, addr: &str) -> (Netns, Veth, String) {
    let ns = Netns::new(prefix);
    let outer = unique(prefix);
    let veth = Veth::into_ns(&outer, &ns, "inner0", addr);
    (ns, veth, outer)
}

fn is_test_frame(p: &userdp::port::batch::Packet) -> bool {
    ethertype(p.data()) == ETH_P_TEST
}

#[test]
fn frames_from_the_namespace_arrive_with_exact_bytes() {
    if !require_root() {
        return;
    }
    let (ns, _veth, outer) = setup("prx", "198.18.10.2/24");
    let mut port = NetdevPort::open(&outer, 1).unwrap();
    assert_eq!(
        port.ifindex(),
        userdp::sys::netdev::ifindex(&outer).unwrap()
    );
    let frames: Vec<Vec<u8>> = in_ns(&ns.0, || {
        let s = raw_socket("inner0");
        let mac = mac_of("inner0");
        let frames: Vec<Vec<u8>> = (0..5).map(|i| test_frame(mac, 0x1000 + i)).collect();
        for f in &frames {
            s.send(f, None).unwrap();
        }
        frames
    });
    let q = &mut port.queues_mut()[0];
    let got = collect(q, 5, WAIT, is_test_frame);
    let data: Vec<Vec<u8>> = got.iter().map(|g| g.data.clone()).collect();
    assert_eq!(data, frames);
    assert!(got.iter().all(|g| g.vlan.is_none() && !g.vnet.is_gso()));
    assert!(q.stats().rx_packets >= 5);
}

#[test]
fn frames_sent_through_the_port_arrive_in_the_namespace() {
    if !require_root() {
        return;
    }
    let (ns, _veth, outer) = setup("ptx", "198.18.11.2/24");
    let mut port = NetdevPort::open(&outer, 1).unwrap();
    // Frames without offloads leave through AF_XDP wherever the kernel has it.
    if userdp::sys::xsk::available() {
        assert!(port.queues_mut()[0].uses_af_xdp_tx());
    } else {
        eprintln!("NOTE: no AF_XDP in this kernel: the transmit ring carries every frame");
    }
    let (cap_tx, cap_rx) = std::sync::mpsc::channel();
    let capture = spawn_in_ns(&ns.0, move || {
        let mut s = raw_socket("inner0");
        cap_tx.send(()).unwrap();
        collect(&mut s, 3, WAIT, is_test_frame)
    });
    cap_rx.recv().unwrap();
    let mac = mac_of(&outer);
    let mut batch = PacketBatch::new(true);
    let frames: Vec<Vec<u8>> = (0..4).map(|i| test_frame(mac, 0x2000 + i)).collect();
    for f in &frames {
        batch.push(f, None).unwrap();
    }
    // Packet 1 is not selected by the mask and must not go out.
    let q = &mut port.queues_mut()[0];
    assert_eq!(q.send_burst(&batch, 0b1101).unwrap(), 3);
    let got: Vec<Vec<u8>> = capture
        .join()
        .unwrap()
        .into_iter()
        .map(|g| g.data)
        .collect();
    assert_eq!(
        got,
        vec![frames[0].clone(), frames[2].clone(), frames[3].clone()]
    );
    assert_eq!(q.stats().tx_packets, 3);
}

#[test]
fn a_stripped_vlan_tag_is_reported_and_restored() {
    if !require_root() {
        return;
    }
    let (ns, _veth, outer) = setup("pvl", "198.18.12.2/24");
    let mut port = NetdevPort::open(&outer, 1).unwrap();
    let sent: Vec<Vec<u8>> = in_ns(&ns.0, || {
        let s = raw_socket("inner0");
        let mac = mac_of("inner0");
        let plain = test_frame(mac, 0x3000);
        // 802.1Q, PCP 1, VID 100: 81 00 | 20 64, then the test EtherType.
        let mut dot1q = plain[..12].to_vec();
        dot1q.extend_from_slice(&[0x81, 0x00, 0x20, 0x64]);
        dot1q.extend_from_slice(&plain[12..]);
        // 802.1ad S-tag VID 5 over an 802.1Q C-tag VID 100: only the outer tag is stripped.
        let mut qinq = plain[..12].to_vec();
        qinq.extend_from_slice(&[0x88, 0xa8, 0x00, 0x05, 0x81, 0x00, 0x00, 0x64]);
        qinq.extend_from_slice(&plain[12..]);
        for f in [&dot1q, &qinq] {
            s.send(f, None).unwrap();
        }
        vec![dot1q, qinq]
    });
    let q = &mut port.queues_mut()[0];
    let ep = userdp::sys::epoll::Epoll::new().unwrap();
    ep.add(RxQueue::fd(q), 0).unwrap();
    let mut ev = userdp::sys::epoll::Events::with_capacity(1);
    let mut batch = PacketBatch::new(true);
    let mut restored = Vec::new();
    let mut tags = Vec::new();
    let end = std::time::Instant::now() + WAIT;
    while restored.len() < 2 && std::time::Instant::now() < end {
        batch.clear();
        if q.recv_burst(&mut batch).unwrap() == 0 {
            ep.wait(&mut ev, 100).unwrap();
            continue;
        }
        for p in batch.packets_mut() {
            if p.vlan.is_none() {
                continue;
            }
            tags.push(p.vlan.unwrap());
            // Before restoring, the kernel's view: the frame without its outer tag.
            assert_ne!(&p.data()[12..14], &[0x88, 0xa8][..]);
            assert!(p.restore_vlan());
            if p.data()[16..18] == [0x88, 0xb5] || p.data()[20..22] == [0x88, 0xb5] {
                restored.push(p.data().to_vec());
            }
        }
    }
    assert_eq!(
        tags,
        vec![
            VlanTag {
                tpid: 0x8100,
                tci: 0x2064
            },
            VlanTag {
                tpid: 0x88a8,
                tci: 0x0005
            },
        ]
    );
    assert_eq!(restored, sent);
}

#[test]
fn the_host_stack_stays_silent_while_the_port_is_attached() {
    if !require_root() || !common::require(common::have("ping"), "needs ping") {
        return;
    }
    let (ns, _veth, outer) = setup("phd", "198.18.13.2/24");
    sh(&format!("ip addr add 198.18.13.1/24 dev {outer}"));
    let ping = "ping -c 2 -i 0.2 -W 1 198.18.13.1";
    assert!(
        ns.exec_ok(ping),
        "baseline: the host answers before the port is attached"
    );
    // Keep ARP out of the picture: the namespace already knows the host's MAC.
    let mac = mac_of(&outer);
    let lladdr = mac.map(|b| format!("{b:02x}")).join(":");
    ns.exec(&format!(
        "ip neigh replace 198.18.13.1 lladdr {lladdr} dev inner0 nud permanent"
    ));

    let mut port = NetdevPort::open(&outer, 1).unwrap();
    if port.host_drop() == Some(DropKind::TcMatchall) {
        let filters = sh(&format!("tc filter show dev {outer} ingress"));
        assert!(filters.contains("matchall"), "tc drop installed: {filters}");
    }
    eprintln!("host drop: {:?}", port.host_drop());
    assert!(
        !ns.exec_ok(ping),
        "the host stack answered a ping on an attached port"
    );
    // ...while the datapath saw the echo requests: IPv4, ICMP, type 8, to 198.18.13.1.
    let echo = |p: &userdp::port::batch::Packet| {
        let d = p.data();
        ethertype(d) == 0x0800
            && d.get(23) == Some(&1)
            && d.get(30..34) == Some(&[198, 18, 13, 1][..])
            && d.get(34) == Some(&8)
    };
    let got = collect(&mut port.queues_mut()[0], 2, WAIT, echo);
    assert_eq!(
        got.len(),
        2,
        "AF_PACKET saw both echo requests before tc ingress dropped them"
    );

    drop(port);
    let qdiscs = sh(&format!("tc qdisc show dev {outer}"));
    assert!(
        !qdiscs.contains("clsact"),
        "clsact removed with the port: {qdiscs}"
    );
    assert!(
        ns.exec_ok(ping),
        "the host answers again once the port is gone"
    );
    assert!(sh_ok(&format!("ip link show {outer}")));
}

#[test]
fn fanout_spreads_flows_over_queues_and_keeps_each_flow_on_one() {
    if !require_root() {
        return;
    }
    let (ns, _veth, outer) = setup("pfo", "198.18.14.2/24");
    let mut port = NetdevPort::open(&outer, 2).unwrap();
    assert!(port.fanout_group().is_some());
    const FLOWS: u16 = 64;
    in_ns(&ns.0, || {
        let s = raw_socket("inner0");
        let mac = mac_of("inner0");
        // Each flow twice, so we can check both copies land on the same queue.
        for round in 0..2 {
            for sport in 0..FLOWS {
                let f = udp_frame(
                    mac,
                    [198, 18, 14, 2],
                    [198, 18, 14, 99],
                    10000 + sport,
                    9999,
                );
                s.send(&f, None).unwrap();
                let _ = round;
            }
        }
    });
    let ours =
        |p: &userdp::port::batch::Packet| p.data().get(30..34) == Some(&[198, 18, 14, 99][..]);
    let mut per_queue = Vec::new();
    for q in port.queues_mut() {
        // Both queues drain what they got; whichever got fewer simply times out sooner.
        per_queue.push(collect(
            q,
            usize::from(FLOWS) * 2,
            Duration::from_millis(1500),
            ours,
        ));
    }
    let sports = |v: &Vec<Got>| -> std::collections::BTreeSet<u16> {
        v.iter()
            .map(|g| u16::from_be_bytes([g.data[34], g.data[35]]))
            .collect()
    };
    let (a, b) = (&per_queue[0], &per_queue[1]);
    assert_eq!(
        a.len() + b.len(),
        usize::from(FLOWS) * 2,
        "every frame read exactly once"
    );
    assert!(
        !a.is_empty() && !b.is_empty(),
        "64 flows all hashed to one queue: {} / {}",
        a.len(),
        b.len()
    );
    assert!(
        sports(a).is_disjoint(&sports(b)),
        "a flow was split across queues"
    );
    // Two copies per flow on its queue.
    assert_eq!(a.len(), sports(a).len() * 2);
}

#[test]
fn a_missing_interface_is_enodev() {
    let err = NetdevPort::open("nosuchdev0", 1).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENODEV));
}

/// Packet-rate figure for the report (`-- --ignored --nocapture`): 60-byte frames sent with
/// `sendmmsg` bursts of 32 from the namespace, received with `recvmmsg` bursts of 32.
#[test]
#[ignore]
fn measure_recvmmsg_pps() {
    if !require_root() {
        return;
    }
    let (ns, _veth, outer) = setup("pps", "198.18.15.2/24");
    let mut port = NetdevPort::open(&outer, 1).unwrap();
    let secs = 2.0;
    let gen = spawn_in_ns(&ns.0, move || {
        let mut s = raw_socket("inner0");
        let mac = mac_of("inner0");
        let mut batch = PacketBatch::new(false);
        for i in 0..32u16 {
            let f = udp_frame(mac, [198, 18, 15, 2], [198, 18, 15, 99], 10000 + i, 9);
            batch.push(&f, None).unwrap();
        }
        let start = std::time::Instant::now();
        let mut sent = 0u64;
        while start.elapsed().as_secs_f64() < secs {
            sent += TxQueue::send_burst(&mut s, &batch, batch.all()).unwrap() as u64;
        }
        sent
    });
    let q = &mut port.queues_mut()[0];
    let mut batch = PacketBatch::new(true);
    let start = std::time::Instant::now();
    let (mut got, mut calls) = (0u64, 0u64);
    while start.elapsed().as_secs_f64() < secs + 0.2 {
        batch.clear();
        got += q.recv_burst(&mut batch).unwrap() as u64;
        calls += 1;
    }
    let sent = gen.join().unwrap();
    eprintln!(
        "sent {:.0} kpps, received {:.0} kpps ({:.1} packets per recvmmsg), rx drops {}",
        sent as f64 / secs / 1e3,
        got as f64 / secs / 1e3,
        got as f64 / calls as f64,
        q.stats().rx_dropped
    );
    assert!(got > 0);
}

/// Sends `n` test frames from the namespace in bursts and sends `n` through the port, with
/// `ring` on or off; returns (frames the port received, frames the namespace captured), each
/// as the 4-byte tags of test frames in arrival order.
fn exchange_many(prefix: &str, addr: &str, ring: bool, n: u32) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let (ns, _veth, outer) = setup(prefix, addr);
    let opts = userdp::port::afpacket::NetdevOptions {
        socket: userdp::sys::packet::PacketOptions {
            ring,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut port = NetdevPort::open_with(&outer, 1, &opts).unwrap();
    assert_eq!(port.queues_mut()[0].uses_ring(), ring);
    let (cap_tx, cap_rx) = std::sync::mpsc::channel();
    let capture = spawn_in_ns(&ns.0, move || {
        let mut s = raw_socket("inner0");
        cap_tx.send(()).unwrap();
        collect(&mut s, n as usize, WAIT, is_test_frame)
    });
    cap_rx.recv().unwrap();
    let frames_in: Vec<Vec<u8>> = in_ns(&ns.0, move || {
        let mut s = raw_socket("inner0");
        let mac = mac_of("inner0");
        let frames: Vec<Vec<u8>> = (0..n).map(|i| test_frame(mac, 0x5000 + i)).collect();
        let mut batch = PacketBatch::new(false);
        for chunk in frames.chunks(32) {
            batch.clear();
            for f in chunk {
                batch.push(f, None).unwrap();
            }
            assert_eq!(
                TxQueue::send_burst(&mut s, &batch, batch.all()).unwrap(),
                chunk.len()
            );
        }
        frames
    });
    let q = &mut port.queues_mut()[0];
    let got = collect(q, n as usize, WAIT, is_test_frame);
    let mac = mac_of(&outer);
    let frames_out: Vec<Vec<u8>> = (0..n).map(|i| test_frame(mac, 0x6000 + i)).collect();
    let mut batch = PacketBatch::new(true);
    for chunk in frames_out.chunks(32) {
        batch.clear();
        for f in chunk {
            batch.push(f, None).unwrap();
        }
        assert_eq!(q.send_burst(&batch, batch.all()).unwrap(), chunk.len());
    }
    let captured = capture.join().unwrap();
    let got: Vec<Vec<u8>> = got.into_iter().map(|g| g.data).collect();
    let captured: Vec<Vec<u8>> = captured.into_iter().map(|g| g.data).collect();
    assert_eq!(got, frames_in, "received through the port");
    assert_eq!(captured, frames_out, "sent through the port");
    (got, captured)
}

#[test]
fn rings_carry_many_bursts_in_order_with_exact_bytes() {
    if !require_root() {
        return;
    }
    // 300 frames: ten bursts, so the ring heads carry over between calls.
    let (got, sent) = exchange_many("prg", "198.18.16.2/24", true, 300);
    assert_eq!((got.len(), sent.len()), (300, 300));
}

#[test]
fn the_syscall_path_remains_when_rings_are_off() {
    if !require_root() {
        return;
    }
    let (got, sent) = exchange_many("psc", "198.18.17.2/24", false, 100);
    assert_eq!((got.len(), sent.len()), (100, 100));
}

#[test]
fn frames_refused_while_the_device_is_down_do_not_go_out_later() {
    if !require_root() {
        return;
    }
    let (ns, _veth, outer) = setup("pdn", "198.18.18.2/24");
    let mut port = NetdevPort::open(&outer, 1).unwrap();
    let mac = mac_of(&outer);
    let q = &mut port.queues_mut()[0];
    let mut batch = PacketBatch::new(true);
    for i in 0..4 {
        batch.push(&test_frame(mac, 0x7000 + i), None).unwrap();
    }
    let af_xdp = q.uses_af_xdp_tx();
    sh_ok(&format!("ip link set {outer} down"));
    // The kernel refuses the burst (ENETDOWN): every frame is counted as dropped, none queued
    // in the transmit ring (or left in the AF_XDP socket, which is given up) for later.
    assert_eq!(q.send_burst(&batch, batch.all()).unwrap(), 0);
    assert_eq!(q.stats().tx_dropped, 4);
    sh_ok(&format!("ip link set {outer} up"));
    // Carrier comes back asynchronously after `up`; a given-up AF_XDP socket is reopened a
    // second later.
    std::thread::sleep(Duration::from_millis(1200));
    let (cap_tx, cap_rx) = std::sync::mpsc::channel();
    let capture = spawn_in_ns(&ns.0, move || {
        let mut s = raw_socket("inner0");
        cap_tx.send(()).unwrap();
        collect(&mut s, 3, WAIT, is_test_frame)
    });
    cap_rx.recv().unwrap();
    batch.clear();
    let fresh: Vec<Vec<u8>> = (0..3).map(|i| test_frame(mac, 0x7100 + i)).collect();
    for f in &fresh {
        batch.push(f, None).unwrap();
    }
    assert_eq!(q.send_burst(&batch, batch.all()).unwrap(), 3);
    assert_eq!(
        q.uses_af_xdp_tx(),
        af_xdp,
        "AF_XDP transmit did not come back"
    );
    let got: Vec<Vec<u8>> = capture
        .join()
        .unwrap()
        .into_iter()
        .map(|g| g.data)
        .collect();
    assert_eq!(got, fresh);
}

#[test]
fn frames_lost_to_a_full_receive_ring_are_reported_as_drops() {
    if !require_root() {
        return;
    }
    let (ns, _veth, outer) = setup("pdr", "198.18.13.2/24");
    let mut port = NetdevPort::open(&outer, 1).unwrap();
    let q = &mut port.queues_mut()[0];
    assert!(q.uses_ring());
    assert_eq!(q.take_drops(), 0);
    // Nobody reads while the namespace sends more than the receive ring holds (2048 frames).
    const SENT: usize = 3000;
    in_ns(&ns.0, || {
        let s = raw_socket("inner0");
        let mac = mac_of("inner0");
        for i in 0..SENT {
            s.send(&test_frame(mac, i as u32), None).unwrap();
        }
    });
    let dropped = q.take_drops() as usize;
    let got = collect(q, SENT, Duration::from_millis(500), is_test_frame).len();
    assert!(
        dropped >= SENT - 2048,
        "{dropped} drops reported, {got} frames received"
    );
    assert!(got + dropped >= SENT, "{got} received + {dropped} dropped");
    assert!(got <= 2048, "{got} frames received from a 2048-frame ring");
    // Reading resets: what was reported is not reported again.
    assert_eq!(q.take_drops(), 0);
}

/// GSO super-frames (which leave through the side socket) and plain frames (AF_XDP)
/// interleaved in one burst still arrive in burst order.
#[test]
fn a_burst_mixing_offloaded_and_plain_frames_keeps_its_order() {
    if !require_root() {
        return;
    }
    let (ns, _veth, outer) = setup("pmx", "198.18.19.2/24");
    let mut port = NetdevPort::open(&outer, 1).unwrap();
    let mac = mac_of(&outer);
    let is_ours = |p: &userdp::port::batch::Packet| {
        let d = p.data();
        ethertype(d) == 0x0800 && d.get(36..38) == Some(&[0, 9][..])
    };
    let (cap_tx, cap_rx) = std::sync::mpsc::channel();
    let capture = spawn_in_ns(&ns.0, move || {
        let mut s = raw_socket("inner0");
        cap_tx.send(()).unwrap();
        collect(&mut s, 12, WAIT, is_ours)
    });
    cap_rx.recv().unwrap();
    let (src, dst) = ([198, 18, 19, 1], [198, 18, 19, 2]);
    let mut batch = PacketBatch::new(true);
    for i in 0..12u16 {
        let mut f = udp_frame(mac, src, dst, 0x7200 + i, 9);
        // Every third frame is a UDP GSO super-frame of three 100-byte datagrams: the device
        // would cut it, so it cannot go through AF_XDP.
        let vnet = (i % 3 == 0).then(|| {
            f.truncate(42);
            f.extend(std::iter::repeat_n(0xab, 300));
            let ip_len = (f.len() - 14) as u16;
            f[16..18].copy_from_slice(&ip_len.to_be_bytes());
            f[38..40].copy_from_slice(&(ip_len - 20).to_be_bytes());
            let seed = pseudo_header_v4(&src, &dst, 17, ip_len - 20);
            f[40..42].copy_from_slice(&seed.to_be_bytes());
            userdp::port::batch::VirtioNetHdr {
                flags: 1,
                gso_type: 5,
                hdr_len: 42,
                gso_size: 100,
                csum_start: 34,
                csum_offset: 6,
            }
        });
        batch.push(&f, vnet.as_ref()).unwrap();
    }
    let q = &mut port.queues_mut()[0];
    assert_eq!(q.send_burst(&batch, batch.all()).unwrap(), 12);
    let got: Vec<u16> = capture
        .join()
        .unwrap()
        .into_iter()
        .map(|g| u16::from_be_bytes([g.data[34], g.data[35]]))
        .collect();
    assert_eq!(got, (0..12).map(|i| 0x7200 + i).collect::<Vec<u16>>());
}

/// A frame that owes its UDP checksum (as a local stack with offloads leaves it) leaves
/// through AF_XDP with the checksum completed in software.
#[test]
fn a_partial_checksum_is_completed_on_the_way_out() {
    if !require_root() {
        return;
    }
    if !userdp::sys::xsk::available() {
        // Through the ring the frame keeps its offload request and a raw socket sees the seed.
        eprintln!("SKIPPED: no AF_XDP in this kernel");
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI kernels have AF_XDP"
        );
        return;
    }
    let (ns, _veth, outer) = setup("pcs", "198.18.21.2/24");
    let mut port = NetdevPort::open(&outer, 1).unwrap();
    let mac = mac_of(&outer);
    let (cap_tx, cap_rx) = std::sync::mpsc::channel();
    let capture = spawn_in_ns(&ns.0, move || {
        let mut s = raw_socket("inner0");
        cap_tx.send(()).unwrap();
        collect(&mut s, 3, WAIT, |p| {
            ethertype(p.data()) == 0x0800 && p.data().get(36..38) == Some(&[0, 9][..])
        })
    });
    cap_rx.recv().unwrap();
    let (src, dst) = ([198, 18, 21, 1], [198, 18, 21, 2]);
    let mut batch = PacketBatch::new(true);
    for sport in [1000u16, 2000, 3000] {
        let mut f = udp_frame(mac, src, dst, sport, 9);
        f.truncate(46);
        let seed = pseudo_header_v4(&src, &dst, 17, 12);
        f[40..42].copy_from_slice(&seed.to_be_bytes());
        let vnet = userdp::port::batch::VirtioNetHdr {
            flags: 1,
            csum_start: 34,
            csum_offset: 6,
            ..Default::default()
        };
        batch.push(&f, Some(&vnet)).unwrap();
    }
    let q = &mut port.queues_mut()[0];
    assert_eq!(q.send_burst(&batch, batch.all()).unwrap(), 3);
    let got = capture.join().unwrap();
    assert_eq!(got.len(), 3);
    for g in got {
        let d = &g.data;
        let mut udp = d[34..46].to_vec();
        let sent = u16::from_be_bytes([udp[6], udp[7]]);
        udp[6..8].copy_from_slice(&[0, 0]);
        let want = match transport_checksum(pseudo_header_v4(&src, &dst, 17, 12), &udp) {
            0 => 0xffff,
            c => c,
        };
        // A frame that still owed its checksum would show the seed here.
        assert_eq!(sent, want, "UDP checksum of {:02x?}", &d[34..46]);
    }
}

/// The frames of a pcap stream (classic format, any byte order), as tcpdump `-w -` writes it.
fn pcap_frames(bytes: &[u8]) -> Vec<Vec<u8>> {
    let Some(magic) = bytes.get(..4) else {
        return Vec::new();
    };
    let le = magic == [0xd4, 0xc3, 0xb2, 0xa1] || magic == [0x4d, 0x3c, 0xb2, 0xa1];
    let word = |b: &[u8]| {
        let w = [b[0], b[1], b[2], b[3]];
        if le {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        }
    };
    let mut out = Vec::new();
    let mut at = 24;
    while let Some(rec) = bytes.get(at..at + 16) {
        let caplen = word(&rec[8..12]) as usize;
        let Some(f) = bytes.get(at + 16..at + 16 + caplen) else {
            break;
        };
        out.push(f.to_vec());
        at += 16 + caplen;
    }
    out
}

#[test]
fn tcpdump_on_the_interface_sees_what_the_port_sends() {
    if !require_root() || !common::require(common::have("tcpdump"), "needs tcpdump") {
        return;
    }
    use userdp::port::capture;
    let (_ns, _veth, outer) = setup("pcp", "198.18.15.2/24");
    let mut port = NetdevPort::open(&outer, 1).unwrap();
    let ifindex = port.ifindex();
    // The port's own sockets are not a capture.
    port.capture().update(ifindex, &capture::scan().unwrap());
    assert!(!port.capture().is_on());

    let mut tcpdump = std::process::Command::new("tcpdump")
        .args([
            "-i", &outer, "-nn", "-U", "-c", "3", "-w", "-", "ether", "proto", "0x88b5",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    while !port.capture().is_on() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        port.capture().update(ifindex, &capture::scan().unwrap());
    }
    assert!(
        port.capture().is_on(),
        "tcpdump's socket shows in /proc/net/packet"
    );

    let mac = mac_of(&outer);
    let frames: Vec<Vec<u8>> = (0..3).map(|i| test_frame(mac, 0x3000 + i)).collect();
    let mut batch = PacketBatch::new(true);
    for f in &frames {
        batch.push(f, None).unwrap();
    }
    // libpcap drops what arrives before its filter is attached, which may be after its
    // socket shows: send the burst again until tcpdump has its three frames.
    let q = &mut port.queues_mut()[0];
    let mut sent = 0;
    let deadline = std::time::Instant::now() + WAIT;
    while tcpdump.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
        assert_eq!(q.send_burst(&batch, batch.all()).unwrap(), 3);
        sent += 3;
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = tcpdump.kill();
    let out = tcpdump.wait_with_output().unwrap();
    let seen = pcap_frames(&out.stdout);
    assert_eq!(seen.len(), 3, "tcpdump -i {outer} saw frames the port sent");
    assert!(
        seen.iter().all(|f| frames.contains(f)),
        "byte for byte: {seen:02x?}"
    );
    // Capture closed: back to the fast path.
    assert!(port.capture().update(ifindex, &capture::scan().unwrap()));
    assert!(!port.capture().is_on());
    assert_eq!(port.queues_mut()[0].stats().tx_packets, sent);
}
