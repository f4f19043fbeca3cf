//! Control-plane benchmark (not a test): flow installs per second through the socket, batched
//! as ovs-vswitchd batches them (up to 50 requests per datagram), full dumps of 100k and 1M
//! flows, and memory per installed flow.
//!
//! Run: `cargo bench --bench control_plane` (release build). Environment: `FLOWS` (default
//! 1000000), `CLIENTS` (default 2).

// mimalloc: per-thread free lists keep the many small allocations of flow installs
// from contending and fragmenting in glibc's arenas.
#[global_allocator]
static GLOBAL: Counting = Counting;

/// mimalloc, counting live heap bytes so memory per flow can be measured exactly.
struct Counting;
static LIVE: std::sync::atomic::AtomicIsize = std::sync::atomic::AtomicIsize::new(0);

// SAFETY: every method forwards to mimalloc with the caller's layout unchanged; the counter
// is only arithmetic on the sizes.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: forwarded contract.
        unsafe { mimalloc::MiMalloc.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        LIVE.fetch_sub(l.size() as isize, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: forwarded contract.
        unsafe { mimalloc::MiMalloc.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: std::alloc::Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(
            n as isize - l.size() as isize,
            std::sync::atomic::Ordering::Relaxed,
        );
        // SAFETY: forwarded contract.
        unsafe { mimalloc::MiMalloc.realloc(p, l, n) }
    }
}

fn live() -> isize {
    LIVE.load(std::sync::atomic::Ordering::Relaxed)
}

use std::sync::Arc;
use std::time::Instant;

use userdp::daemon::{Daemon, DaemonConfig};
use userdp::dp::{DpConfig, Registry, FAMILY_DATAPATH, FAMILY_FLOW};
use userdp::transport::Client;
use userdp_protocol::nl::{
    messages, NlaWriter, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_ECHO, NLM_F_REQUEST,
};
use userdp_protocol::ovs::common::RawAttrs;
use userdp_protocol::ovs::datapath::{DatapathMsg, OvsDpCmd};
use userdp_protocol::ovs::flow::{
    FlowMsg, OvsFlowCmd, OVS_UFID_F_OMIT_ACTIONS, OVS_UFID_F_OMIT_KEY, OVS_UFID_F_OMIT_MASK,
};
use userdp_protocol::text::{action::parse_actions, key::parse_key};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One flow put as ovs-vswitchd sends it: UFID, full key, megaflow mask, actions, CREATE.
fn flow_put(i: u32, dp: i32, pid: u32, buf: &mut Vec<u8>, template: &(Vec<u8>, Vec<u8>, Vec<u8>)) {
    let mut m = FlowMsg::new(OvsFlowCmd::OVS_FLOW_CMD_NEW, dp);
    let mut ufid = vec![0u8; 16];
    ufid[..4].copy_from_slice(&i.to_be_bytes());
    ufid[4..8].copy_from_slice(&(i ^ 0x5a5a_5a5a).to_be_bytes());
    m.ufid = Some(ufid);
    let mut key = template.0.clone();
    // Patch the IPv4 source (the ipv4 attribute's first payload bytes) so every flow differs.
    let at = find_ipv4_src(&key);
    key[at..at + 4].copy_from_slice(&(0x0a00_0000 | i).to_be_bytes());
    m.key = Some(RawAttrs::new(key));
    m.mask = Some(RawAttrs::new(template.1.clone()));
    m.actions = Some(RawAttrs::new(template.2.clone()));
    m.emit(buf, FAMILY_FLOW, NLM_F_REQUEST | NLM_F_CREATE, i, pid);
}

fn find_ipv4_src(key: &[u8]) -> usize {
    let mut off = 0;
    while off + 4 <= key.len() {
        let len = u16::from_ne_bytes([key[off], key[off + 1]]) as usize;
        let kind = u16::from_ne_bytes([key[off + 2], key[off + 3]]);
        if kind == 7 {
            return off + 4;
        }
        off += (len + 3) & !3;
    }
    panic!("no ipv4 attribute in the template key")
}

fn main() {
    let flows = env("FLOWS", 1_000_000) as u32;
    let clients = env("CLIENTS", 2) as u32;
    let dir = std::env::temp_dir().join(format!("userdp-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sock");
    let daemon = Daemon::start(
        DaemonConfig::new(&path),
        Arc::new(Registry::new(DpConfig::dummy())),
    )
    .unwrap();

    let mut c = Client::connect(&path).unwrap();
    let mut buf = Vec::new();
    let mut m = DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_NEW, 0);
    m.name = Some("bench".into());
    m.upcall_pid = Some(c.portid());
    m.emit(
        &mut buf,
        FAMILY_DATAPATH,
        NLM_F_REQUEST | NLM_F_ECHO,
        1,
        c.portid(),
    );
    let reply = c.transact(&buf).unwrap();
    let dp = DatapathMsg::parse(messages(&reply[0]).next().unwrap().unwrap().payload)
        .unwrap()
        .dp_ifindex;

    let (k, mask) = parse_key("in_port(1),eth(src=00:00:00:00:00:01,dst=00:00:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2/255.255.255.0,proto=17/0xff,tos=0/0,ttl=64/0,frag=no),udp(src=1/0,dst=53)").unwrap();
    let (mut kb, mut mb, mut ab) = (Vec::new(), Vec::new(), Vec::new());
    k.emit(&mut NlaWriter::new(&mut kb));
    mask.emit(&mut NlaWriter::new(&mut mb));
    parse_actions("2")
        .unwrap()
        .emit(&mut NlaWriter::new(&mut ab));
    let template = (kb, mb, ab);

    // Memory: install every flow into a throwaway datapath, encoding each datagram just before
    // sending it so that only the flow table grows; count live heap bytes and RSS.
    {
        let mut buf = Vec::new();
        let mut m = DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_NEW, 0);
        m.name = Some("mem".into());
        m.upcall_pid = Some(c.portid());
        m.emit(
            &mut buf,
            FAMILY_DATAPATH,
            NLM_F_REQUEST | NLM_F_ECHO,
            2,
            c.portid(),
        );
        let reply = c.transact(&buf).unwrap();
        let mem_dp = DatapathMsg::parse(messages(&reply[0]).next().unwrap().unwrap().payload)
            .unwrap()
            .dp_ifindex;
        let (heap0, rss0) = (live(), rss_kib());
        let mut d = Vec::new();
        for chunk in (0..flows).collect::<Vec<_>>().chunks(50) {
            d.clear();
            for &i in chunk {
                flow_put(i, mem_dp, 0, &mut d, &template);
            }
            assert!(c.transact(&d).unwrap().is_empty());
        }
        let (heap1, rss1) = (live(), rss_kib());
        println!(
            "memory: {:.0} bytes/flow of live heap, {:.0} bytes/flow of RSS ({flows} flows)",
            (heap1 - heap0) as f64 / f64::from(flows),
            (rss1.saturating_sub(rss0) * 1024) as f64 / f64::from(flows)
        );
        let mut buf = Vec::new();
        let mut m = DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_DEL, mem_dp);
        m.name = Some("mem".into());
        m.emit(&mut buf, FAMILY_DATAPATH, NLM_F_REQUEST, 3, c.portid());
        c.transact(&buf).unwrap();
    }

    // Build every request datagram first: the benchmark measures the daemon, not the encoder.
    let per_client = flows / clients;
    let batches: Vec<Vec<Vec<u8>>> = (0..clients)
        .map(|t| {
            let lo = t * per_client;
            let hi = if t + 1 == clients {
                flows
            } else {
                lo + per_client
            };
            (lo..hi)
                .collect::<Vec<_>>()
                .chunks(50)
                .map(|chunk| {
                    let mut d = Vec::with_capacity(chunk.len() * 200);
                    for &i in chunk {
                        flow_put(i, dp, 0, &mut d, &template);
                    }
                    d
                })
                .collect()
        })
        .collect();
    let t0 = Instant::now();
    let handles: Vec<_> = batches
        .into_iter()
        .map(|datagrams| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(&path).unwrap();
                for d in datagrams {
                    let r = c.transact(&d).unwrap();
                    assert!(r.is_empty(), "a put failed");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let dt = t0.elapsed();
    println!(
        "installs: {flows} flows in {:.3} s = {:.0} flows/s ({clients} clients, 50 puts per datagram)",
        dt.as_secs_f64(),
        f64::from(flows) / dt.as_secs_f64()
    );

    for (label, terse) in [("full", false), ("terse", true)] {
        let mut req = Vec::new();
        let mut m = FlowMsg::new(OvsFlowCmd::OVS_FLOW_CMD_GET, dp);
        if terse {
            m.ufid_flags =
                Some(OVS_UFID_F_OMIT_KEY | OVS_UFID_F_OMIT_MASK | OVS_UFID_F_OMIT_ACTIONS);
        }
        m.emit(
            &mut req,
            FAMILY_FLOW,
            NLM_F_REQUEST | NLM_F_DUMP | NLM_F_ACK,
            7,
            c.portid(),
        );
        let t0 = Instant::now();
        let mut n = 0usize;
        let mut bytes = 0usize;
        for msg in c.dump(&req).unwrap() {
            bytes += msg.unwrap().len();
            n += 1;
        }
        let dt = t0.elapsed();
        assert_eq!(n, flows as usize);
        println!(
            "dump ({label}): {n} flows, {} MB in {:.3} s",
            bytes / 1_000_000,
            dt.as_secs_f64()
        );
    }
    drop(c);
    daemon.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
