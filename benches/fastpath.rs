//! Fast-path micro-benchmarks (not tests): what one forwarded packet costs in userdp's code,
//! without the kernel's AF_PACKET work around it.
//!
//! Run: `cargo bench --bench fastpath` (release profile, fat LTO). Results and the forwarding
//! benchmark they explain: `benches/RESULTS.md`.
//!
//! Two kinds of figures:
//! - `pieces::*` call the per-packet steps directly on one thread (key extraction, the 67-word
//!   key hash and compare the exact-match cache does, action execution into an output batch,
//!   and a model of a whole cache hit). Divan's timings are meaningful here: no other thread.
//! - `pipeline::*` drives the real packet thread (`Registry` with `DpConfig::dummy()`, a
//!   datapath with two memory ports and one flow `in_port(1) -> 2`): each iteration injects a
//!   burst of frames into port 1 and waits until they all came out of port 2; the figure is
//!   per packet (divan's item counter). It includes the two memory-queue copies of the dummy
//!   port and a cross-thread hand-off per iteration, so it is an upper bound of the thread's
//!   own cost; with `busy_poll` the packet thread never sleeps (no eventfd wake-up).
//! - `classifier::*` is the megaflow lookup with 1, 10 and 100 masks, the packet matching a
//!   flow in the last subtable probed (so every subtable is hashed and probed).

// The daemon's allocator, so the pipeline runs as in userdpd.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use divan::counter::ItemsCount;
use divan::{black_box, Bencher};
use userdp::action::{execute, CompiledActions, ExecContext, OutputMeta, Upcall};
use userdp::flow::classifier::Classifier;
use userdp::flow::extract::{extract, Metadata};
use userdp::port::batch::{Packet, PacketBatch};
use userdp_protocol::ovs::key::{FlowKey, FLOW_KEY_WORDS};
use userdp_protocol::text::action::parse_actions;

fn main() {
    divan::main();
}

/// The harness's trafgen frame: 60 bytes, Ethernet + IPv4 + UDP to port 9, zero payload.
fn udp_frame(src_port: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&[0x02, 0xfb, 0, 0, 0, 0x02]); // dst MAC
    f.extend_from_slice(&[0x02, 0xfb, 0, 0, 0, 0x01]); // src MAC
    f.extend_from_slice(&[0x08, 0x00]); // IPv4
                                        // IPv4: version/IHL, tos, total length 46, id, flags/frag, ttl 64, proto UDP, checksum 0,
                                        // 198.18.0.1 -> 198.18.0.2
    f.extend_from_slice(&[0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17, 0, 0]);
    f.extend_from_slice(&[198, 18, 0, 1, 198, 18, 0, 2]);
    // UDP: src port, dst port 9, length 26, checksum 0
    f.extend_from_slice(&src_port.to_be_bytes());
    f.extend_from_slice(&[0, 9, 0, 26, 0, 0]);
    f.resize(60, 0);
    f
}

fn key_of(frame: &[u8], in_port: u32) -> FlowKey {
    let mut k = FlowKey::default();
    let md = Metadata {
        in_port,
        ..Metadata::default()
    };
    extract(frame, &md, &mut k).expect("a valid frame");
    k
}

/// Output into one batch per run, flushed (cleared) when full: the packet thread's output path
/// without the syscall.
struct BatchCtx {
    out: PacketBatch,
    sent: u64,
}

impl ExecContext for BatchCtx {
    fn output(&mut self, _port: u32, pkt: &Packet, meta: &OutputMeta<'_>) {
        if self.out.is_full() {
            self.sent += self.out.len() as u64;
            self.out.clear();
        }
        let len = meta.len.min(pkt.len());
        let _ = self.out.push(&pkt.data()[..len], Some(&pkt.vnet));
    }
    fn userspace(&mut self, _: &Upcall<'_>, _: &Packet, _: &FlowKey) {}
    fn recirc(&mut self, _: u32, _: &Packet, _: &FlowKey) {}
    fn update_key(&mut self, _: &Packet, _: &mut FlowKey) -> bool {
        true
    }
    fn meter(&mut self, _: u32, _: usize) -> bool {
        false
    }
    fn random_u32(&mut self) -> u32 {
        4
    }
    fn hash_seed(&self) -> u32 {
        0
    }
}

fn output_actions() -> CompiledActions {
    CompiledActions::compile(&parse_actions("2").unwrap()).unwrap()
}

#[divan::bench_group]
mod pieces {
    use super::*;

    /// Frame -> `FlowKey` (Ethernet, IPv4, UDP), as done for every received packet.
    #[divan::bench]
    fn extract_udp(b: Bencher) {
        let f = udp_frame(1024);
        let md = Metadata {
            in_port: 1,
            ..Metadata::default()
        };
        let mut k = FlowKey::default();
        b.bench_local(|| {
            let _ = extract(black_box(&f), &md, &mut k);
            black_box(&k);
        });
    }

    /// The exact-match cache hash of one key (the packet thread's own function).
    #[divan::bench]
    fn emc_key_hash(b: Bencher) {
        let k = key_of(&udp_frame(1024), 1);
        b.bench_local(|| userdp::flow::hash::key_hash(0x1234, black_box(&k)));
    }

    /// The exact-match cache's full-key compare on a hit (67 words equal).
    #[divan::bench]
    fn emc_key_compare(b: Bencher) {
        let k = key_of(&udp_frame(1024), 1);
        let stored = k.clone();
        b.bench_local(|| black_box(&k) == black_box(&stored));
    }

    /// `output:2` executed on a 60-byte packet: the copy into the port's output batch.
    #[divan::bench]
    fn execute_output(b: Bencher) {
        let acts = output_actions();
        let f = udp_frame(1024);
        let mut key = key_of(&f, 1);
        let mut pkt = Packet::with_capacity(2048);
        pkt.set_frame(&f, None).unwrap();
        let mut ctx = BatchCtx {
            out: PacketBatch::new(true),
            sent: 0,
        };
        b.bench_local(|| {
            let _ = execute(&acts, &mut pkt, &mut key, &mut ctx);
        });
        black_box(ctx.sent);
    }

    /// A model of one exact-match-cache hit as the packet thread does it: extract, hash,
    /// compare with the cached key, clone the flow's `Arc`, bump the datapath and flow
    /// counters (6 relaxed atomics), execute `output:2` into a batch, drop the `Arc`.
    #[divan::bench]
    fn emc_hit_model(b: Bencher) {
        let acts = Arc::new(output_actions());
        let f = udp_frame(1024);
        let cached = key_of(&f, 1);
        let cached_hash = userdp::flow::hash::key_hash(0x1234, &cached);
        let counters: [AtomicU64; 6] = Default::default();
        let md = Metadata {
            in_port: 1,
            ..Metadata::default()
        };
        let mut pkt = Packet::with_capacity(2048);
        pkt.set_frame(&f, None).unwrap();
        let mut key = FlowKey::default();
        let mut ctx = BatchCtx {
            out: PacketBatch::new(true),
            sent: 0,
        };
        b.bench_local(|| {
            let _ = extract(black_box(pkt.data()), &md, &mut key);
            let hash = userdp::flow::hash::key_hash(0x1234, &key);
            if hash == cached_hash && key == cached {
                let flow = acts.clone();
                for c in &counters {
                    c.fetch_add(1, Ordering::Relaxed);
                }
                let _ = execute(&flow, &mut pkt, &mut key, &mut ctx);
            }
        });
        black_box(ctx.sent);
    }
}

#[divan::bench_group]
mod classifier {
    use super::*;

    /// A classifier with `n` masks, one flow each; only the flow of the last mask matches
    /// the packet, so a lookup probes all `n` subtables.
    fn build(n: usize) -> (Classifier<FLOW_KEY_WORDS, u32>, FlowKey) {
        let pkt = key_of(&udp_frame(1024), 1);
        let c = Classifier::new();
        for i in 0..n {
            let mut mask = [0u64; FLOW_KEY_WORDS];
            // Word 0 exact in every mask; one more bit that makes each mask distinct.
            mask[0] = u64::MAX;
            let word = 1 + i % (FLOW_KEY_WORDS - 1);
            mask[word] |= 1 << (i / (FLOW_KEY_WORDS - 1));
            let mut key = pkt.w;
            if i + 1 != n {
                key[0] ^= (i as u64 + 1) << 32;
            }
            c.insert(&key, &mask, Arc::new(i as u32));
        }
        assert_eq!(c.n_masks(), n);
        (c, pkt)
    }

    #[divan::bench(args = [1, 10, 100])]
    fn lookup_hit_last(b: Bencher, n: usize) {
        let (c, k) = build(n);
        b.bench_local(|| {
            let (v, probed) = c.lookup(black_box(&k.w));
            assert_eq!(probed as usize, n);
            v
        });
    }
}

#[divan::bench_group(sample_count = 30, sample_size = 1)]
mod pipeline {
    use super::*;
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    use userdp::daemon::{Daemon, DaemonConfig, DaemonHandle};
    use userdp::dp::{DpConfig, Registry, FAMILY_DATAPATH, FAMILY_FLOW, FAMILY_VPORT};
    use userdp::port::dummy::DummyPort;
    use userdp::transport::Client;
    use userdp_protocol::nl::{NlaWriter, NLM_F_CREATE, NLM_F_REQUEST};
    use userdp_protocol::ovs::common::RawAttrs;
    use userdp_protocol::ovs::datapath::{DatapathMsg, OvsDpCmd};
    use userdp_protocol::ovs::flow::{FlowMsg, OvsFlowCmd};
    use userdp_protocol::ovs::vport::{OvsVportCmd, OvsVportType, VportMsg};
    use userdp_protocol::text::key::parse_key;

    /// Frames injected per iteration (the dummy rings hold 4096).
    const BURST: usize = 1024;

    struct Setup {
        _daemon: DaemonHandle,
        dir: PathBuf,
        p1: DummyPort,
        p2: DummyPort,
    }

    impl Drop for Setup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn send(c: &mut Client, build: impl FnOnce(&mut Vec<u8>, u32, u32)) {
        let mut buf = Vec::new();
        let seq = c.next_seq();
        build(&mut buf, seq, c.portid());
        c.transact(&buf).unwrap();
    }

    fn attrs(k: &userdp_protocol::ovs::key::Key) -> RawAttrs {
        let mut b = Vec::new();
        k.emit(&mut NlaWriter::new(&mut b));
        RawAttrs::new(b)
    }

    fn setup(busy_poll: bool) -> Setup {
        let dir = std::env::temp_dir().join(format!(
            "userdp-fastpath-{}-{busy_poll}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let reg = Arc::new(Registry::new(DpConfig {
            busy_poll,
            ..DpConfig::dummy()
        }));
        let daemon = Daemon::start(DaemonConfig::new(dir.join("sock")), reg.clone()).unwrap();
        let mut c = Client::connect(dir.join("sock")).unwrap();
        send(&mut c, |b, seq, pid| {
            let mut m = DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_NEW, 0);
            m.name = Some("bench".into());
            m.upcall_pid = Some(pid);
            m.emit(b, FAMILY_DATAPATH, NLM_F_REQUEST, seq, pid);
        });
        let dp = reg.with_state(|st| *st.dps.keys().next().unwrap());
        for name in ["p1", "p2"] {
            send(&mut c, |b, seq, pid| {
                let mut m = VportMsg::new(OvsVportCmd::OVS_VPORT_CMD_NEW, dp);
                m.name = Some(name.into());
                m.kind = Some(OvsVportType::OVS_VPORT_TYPE_NETDEV);
                m.upcall_pids = Some(vec![pid]);
                m.emit(b, FAMILY_VPORT, NLM_F_REQUEST, seq, pid);
            });
        }
        let (k, m) = parse_key("in_port(1),eth(),eth_type(0x0800),ipv4()").unwrap();
        send(&mut c, |b, seq, pid| {
            let mut f = FlowMsg::new(OvsFlowCmd::OVS_FLOW_CMD_NEW, dp);
            f.key = Some(attrs(&k));
            f.mask = Some(attrs(&m));
            let mut a = Vec::new();
            parse_actions("2")
                .unwrap()
                .emit(&mut NlaWriter::new(&mut a));
            f.actions = Some(RawAttrs::new(a));
            f.emit(b, FAMILY_FLOW, NLM_F_REQUEST | NLM_F_CREATE, seq, pid);
        });
        let p1 = reg.dummy_port("p1").unwrap();
        let p2 = reg.dummy_port("p2").unwrap();
        // Warm up: the flow forwards, and the exact-match cache holds the frame's key.
        let f = udp_frame(1024);
        let t = Instant::now();
        let mut got = 0;
        while got < 64 {
            // One frame in flight at a time: a sleeping thread takes a while to wake for the
            // first one, and injecting on every spin would only overflow the input ring.
            if p1.pending_input() == 0 {
                p1.inject(&f);
            }
            got += p2.drain_output();
            assert!(t.elapsed() < Duration::from_secs(10), "no forwarding");
        }
        Setup {
            _daemon: daemon,
            dir,
            p1,
            p2,
        }
    }

    fn run(b: Bencher, busy_poll: bool) {
        let s = setup(busy_poll);
        let f = udp_frame(1024);
        // Drain what the warm-up left, then count drops from the timed loop only.
        while s.p1.pending_input() > 0 {
            s.p2.drain_output();
        }
        s.p2.drain_output();
        let dropped_before = s.p1.dropped();
        b.counter(ItemsCount::new(BURST)).bench_local(|| {
            for _ in 0..BURST {
                s.p1.inject(&f);
            }
            let mut got = 0;
            while got < BURST {
                got += s.p2.drain_output();
                std::hint::spin_loop();
            }
        });
        assert_eq!(
            s.p1.dropped(),
            dropped_before,
            "the timed loop dropped frames"
        );
    }

    /// One flow, packet thread sleeping in epoll when idle (userdpd's default).
    #[divan::bench]
    fn forward_1_flow(b: Bencher) {
        run(b, false);
    }

    /// Same, packet thread busy-polling.
    #[divan::bench]
    fn forward_1_flow_busy_poll(b: Bencher) {
        run(b, true);
    }
}
