//! Root tier: TCP between two namespaces through two `NetdevPort`s and a forwarding loop, with
//! veth's default offloads (TSO, checksum offload) left on.
//!
//! ```text
//! ns1: inner0 198.18.30.1 ==veth== s1 [ forwarder ] s2 ==veth== inner0 198.18.30.2 :ns2
//! ```
//!
//! Without virtio-net headers the first SYN already carries a partial checksum the receiver
//! rejects, and TSO super-frames exceed the MTU on output: the transfer cannot complete.

mod common;
mod port_common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{require_root, unique, Netns, Veth};
use port_common::spawn_in_ns;
use userdp::port::afpacket::{NetdevOptions, NetdevPort, NetdevQueue};
use userdp::port::batch::{PacketBatch, RxQueue, TxQueue};
use userdp::sys::epoll::{Epoll, Events};
use userdp::sys::packet::PacketOptions;

/// What the forwarder saw.
#[derive(Debug, Default)]
struct FwdStats {
    packets: u64,
    gso: u64,
    csum_partial: u64,
}

/// The smallest packet thread: sleep in epoll, forward bursts a→b and b→a.
fn forwarder(
    mut a: NetdevQueue,
    mut b: NetdevQueue,
    vnet: bool,
    stop: Arc<AtomicBool>,
) -> FwdStats {
    let ep = Epoll::new().unwrap();
    ep.add(RxQueue::fd(&a), 0).unwrap();
    ep.add(RxQueue::fd(&b), 1).unwrap();
    let mut ev = Events::with_capacity(2);
    let mut batch = PacketBatch::new(vnet);
    let mut st = FwdStats::default();
    while !stop.load(Ordering::Relaxed) {
        let mut moved = 0;
        for dir in 0..2 {
            let (rx, tx) = if dir == 0 {
                (&mut a, &mut b)
            } else {
                (&mut b, &mut a)
            };
            batch.clear();
            let n = rx.recv_burst(&mut batch).unwrap();
            if n == 0 {
                continue;
            }
            for p in batch.packets_mut() {
                st.gso += u64::from(p.vnet.is_gso());
                st.csum_partial += u64::from(p.vnet.needs_csum());
                p.restore_vlan();
            }
            st.packets += n as u64;
            tx.send_burst(&batch, batch.all()).unwrap();
            moved += n;
        }
        if moved == 0 {
            ep.wait(&mut ev, 50).unwrap();
        }
    }
    st
}

/// Sends `bytes` from ns1 to ns2 over TCP through the forwarder; returns (bytes received,
/// elapsed, forwarder stats).
fn transfer(vnet: bool, bytes: usize, limit: Duration, subnet: u8) -> (usize, Duration, FwdStats) {
    let ns1 = Netns::new("pf1");
    let ns2 = Netns::new("pf2");
    let (s1, s2) = (unique("pfa"), unique("pfb"));
    let _v1 = Veth::into_ns(&s1, &ns1, "inner0", &format!("198.18.{subnet}.1/24"));
    let _v2 = Veth::into_ns(&s2, &ns2, "inner0", &format!("198.18.{subnet}.2/24"));
    if common::have("ethtool") {
        let k = ns1.exec("ethtool -k inner0");
        assert!(
            k.contains("tcp-segmentation-offload: on"),
            "TSO on by default: {k}"
        );
        assert!(
            k.contains("tx-checksumming: on"),
            "checksum offload on by default: {k}"
        );
    }
    let opts = NetdevOptions {
        socket: PacketOptions {
            vnet_hdr: vnet,
            ..PacketOptions::default()
        },
        ..NetdevOptions::default()
    };
    let qa = NetdevPort::open_with(&s1, 1, &opts)
        .unwrap()
        .into_queues()
        .pop()
        .unwrap();
    let qb = NetdevPort::open_with(&s2, 1, &opts)
        .unwrap()
        .into_queues()
        .pop()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let fwd = std::thread::spawn({
        let stop = stop.clone();
        move || forwarder(qa, qb, vnet, stop)
    });

    let addr: SocketAddr = format!("198.18.{subnet}.2:5001").parse().unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let server = spawn_in_ns(&ns2.0, move || {
        let l = TcpListener::bind(addr).unwrap();
        ready_tx.send(()).unwrap();
        l.set_nonblocking(true).unwrap();
        let end = Instant::now() + limit;
        let mut s = loop {
            match l.accept() {
                Ok((s, _)) => break s,
                Err(_) if Instant::now() < end => std::thread::sleep(Duration::from_millis(10)),
                Err(_) => return 0,
            }
        };
        s.set_nonblocking(false).unwrap();
        s.set_read_timeout(Some(limit)).unwrap();
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0;
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n;
        }
        total
    });
    ready_rx.recv().unwrap();
    let start = Instant::now();
    let client = spawn_in_ns(&ns1.0, move || {
        let Ok(mut s) = TcpStream::connect_timeout(&addr, limit) else {
            return;
        };
        s.set_write_timeout(Some(limit)).unwrap();
        let chunk = vec![0x5au8; 1 << 16];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(chunk.len());
            if s.write_all(&chunk[..n]).is_err() {
                return;
            }
            left -= n;
        }
        let _ = s.shutdown(std::net::Shutdown::Write);
    });
    client.join().unwrap();
    let got = server.join().unwrap();
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let st = fwd.join().unwrap();
    (got, elapsed, st)
}

const TEN_MB: usize = 10 << 20;

#[test]
fn tcp_with_offloads_on_crosses_two_ports_with_vnet_headers() {
    if !require_root() {
        return;
    }
    let (got, elapsed, st) = transfer(true, TEN_MB, Duration::from_secs(20), 30);
    let gbit = got as f64 * 8.0 / elapsed.as_secs_f64() / 1e9;
    eprintln!("10 MB in {elapsed:?} = {gbit:.2} Gbit/s; forwarder {st:?}");
    assert_eq!(got, TEN_MB);
    // The bytes crossed as GSO super-frames with partial checksums, not as MTU segments.
    assert!(st.gso > 0, "{st:?}");
    assert!(st.packets < (TEN_MB / 1448) as u64, "{st:?}");
}

#[test]
fn tcp_with_offloads_on_fails_without_vnet_headers() {
    if !require_root() {
        return;
    }
    let (got, _, st) = transfer(false, TEN_MB, Duration::from_secs(3), 31);
    eprintln!("without vnet headers: {got} bytes; forwarder {st:?}");
    assert!(
        got < TEN_MB,
        "the transfer should not complete: {got} bytes"
    );
}

/// Throughput figure for the report: `cargo test --test port_forward -- --ignored --nocapture`.
#[test]
#[ignore]
fn measure_tcp_throughput() {
    if !require_root() {
        return;
    }
    let bytes = 1 << 30;
    let (got, elapsed, st) = transfer(true, bytes, Duration::from_secs(60), 32);
    let gbit = got as f64 * 8.0 / elapsed.as_secs_f64() / 1e9;
    eprintln!("1 GiB in {elapsed:?} = {gbit:.2} Gbit/s; forwarder {st:?}");
    assert_eq!(got, bytes);
}
