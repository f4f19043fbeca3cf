//! One packet thread: its queues, exact-match cache, output batches and the poll loop.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;

use userdp_protocol::nl::NlaWriter;
use userdp_protocol::ovs::datapath::{OVS_DP_F_DISPATCH_UPCALL_PER_CPU, OVS_DP_F_UNALIGNED};
use userdp_protocol::ovs::key::{FlowKey, KeyAttr, MAC_PROTO_ETHERNET};
use userdp_protocol::ovs::packet::{OvsPacketCmd, UpcallRef};

use super::{Cmd, DpShared, ExecJob, PortShared, Queue, ThreadStats};
use crate::action::{execute, ExecContext, FastRng, OutputMeta, Upcall};
use crate::dp::flow::Flow;
use crate::dp::FAMILY_PACKET;
use crate::flow::extract::{extract, Metadata};
use crate::port::batch::{Packet, PacketBatch, GSO_FRAME_MAX, MAX_BURST};
use crate::sys::clock::monotonic_ms;
use crate::sys::epoll::{Epoll, Events};
use crate::sys::eventfd::EventFd;

/// Bursts read from one queue before moving to the next (fairness between ports).
const BURSTS_PER_QUEUE: usize = 4;
/// Exact-match cache size (entries; a power of two).
const EMC_ENTRIES: usize = 4096;
/// Recirculations of one packet before it is dropped (the kernel's recursion limit).
const MAX_RECIRC_DEPTH: usize = 8;
/// How long after its last packet a thread still counts as forwarding a stream: it then naps
/// between empty polls instead of sleeping until the next packet wakes it.
const ACTIVE: std::time::Duration = std::time::Duration::from_micros(500);
/// One nap: the frames that arrive meanwhile wait in the rings and are handled as one batch.
/// Waking on every frame instead (epoll) or spinning costs a whole core at a few hundred
/// thousand frames per second; napping bounds the wake-ups to ~1/NAP whatever the rate, for at
/// most NAP of extra latency while a stream flows (a lone ping still wakes the thread at once),
/// about what a NIC's default interrupt coalescing adds. 60 µs costs ~6% less CPU per packet
/// than 30 µs at ~530 kpps (batches twice as large share each round's syscalls).
const NAP: std::time::Duration = std::time::Duration::from_micros(60);
/// A round that found fewer packets than this, while a stream flows, is followed by a nap:
/// per-round costs (a send syscall per port, polling a TAP, clock reads) are then shared by a
/// batch instead of being paid for every few packets.
const NAP_BELOW: usize = 64;
/// Packets per STREAM_WINDOW from which a thread counts as forwarding a stream (64 kpps);
/// below it every packet is handled at once, which keeps a ping's latency minimal.
const STREAM_PKTS: u64 = 64;
const STREAM_WINDOW: std::time::Duration = std::time::Duration::from_millis(1);
/// Timer slack of packet threads: the default 50 µs would stretch every nap to ~80 µs.
const TIMER_SLACK_NS: u64 = 2_000;
/// How often a thread asks its queues what they lost on receive (a syscall per queue).
const DROP_POLL: std::time::Duration = std::time::Duration::from_millis(250);
/// Spare packet buffers a thread keeps for copies (each holds a GSO-sized frame).
const POOL_PACKETS: usize = 32;
/// epoll token of the wake-up eventfd.
const WAKE_TOKEN: u64 = u64::MAX;
/// epoll token of every queue: a wake-up rescans them all, so which one woke it is not needed.
const QUEUE_TOKEN: u64 = 0;

struct PortEntry {
    dp: Arc<DpShared>,
    port: Arc<PortShared>,
    queue: Box<dyn Queue>,
    out: PacketBatch,
}

impl PortEntry {
    /// Moves what the queue lost on receive into the port's `rx_dropped`.
    fn collect_drops(&mut self) {
        let n = self.queue.take_drops();
        if n > 0 {
            self.port
                .counters
                .rx_dropped
                .fetch_add(n, Ordering::Relaxed);
        }
    }
}

struct EmcEntry {
    hash: u64,
    key: FlowKey,
    flow: Option<Arc<Flow>>,
}

/// A direct-mapped cache from full packet keys to flows, private to the thread. Entries whose
/// flow was deleted are recognised by the flow's `dead` flag.
struct Emc {
    entries: Box<[EmcEntry]>,
    seed: u64,
}

impl Emc {
    fn new() -> Emc {
        let seed = foldhash::fast::RandomState::default().hash_one(0xe3c_u64);
        Emc {
            entries: (0..EMC_ENTRIES)
                .map(|_| EmcEntry {
                    hash: 0,
                    key: FlowKey::default(),
                    flow: None,
                })
                .collect(),
            seed,
        }
    }
    fn hash(&self, key: &FlowKey) -> u64 {
        crate::flow::hash::key_hash(self.seed, key)
    }
    fn lookup(&self, hash: u64, key: &FlowKey) -> Option<&Arc<Flow>> {
        let e = &self.entries[hash as usize & (EMC_ENTRIES - 1)];
        match &e.flow {
            Some(f) if e.hash == hash && !f.is_dead() && e.key == *key => Some(f),
            _ => None,
        }
    }
    fn insert(&mut self, hash: u64, key: &FlowKey, flow: &Arc<Flow>) {
        let e = &mut self.entries[hash as usize & (EMC_ENTRIES - 1)];
        e.hash = hash;
        e.key.w = key.w;
        e.flow = Some(flow.clone());
    }
}

pub(super) struct PacketThread {
    cmds: Receiver<Cmd>,
    wake: Arc<EventFd>,
    stop: Arc<AtomicBool>,
    stats: Arc<ThreadStats>,
    busy_poll: bool,
    epoll: Epoll,
    /// Whether the queues' descriptors are in the epoll set. They are only while the thread
    /// sleeps: a descriptor in an epoll set costs whoever delivers a frame to it a wake-up
    /// callback under a lock, even when nobody waits. On veth that is the sending CPU (~5% of
    /// the traffic generator's CPU at 500 kpps, perf), so a napping or polling thread takes
    /// its queues out.
    armed: bool,
    ports: Vec<PortEntry>,
    rx: PacketBatch,
    /// The key of the packet being processed (outside `State`: both are borrowed at once).
    key: FlowKey,
    state: State,
}

/// Buffers an upcall is built in, kept by the thread so that sending one does not allocate
/// once they have grown to the largest message.
struct UpcallScratch {
    /// The Generic Netlink message.
    msg: Vec<u8>,
    /// The flow key as attributes, in the kernel's order.
    key: Vec<KeyAttr>,
    /// The same, encoded.
    key_bytes: Vec<u8>,
    /// One segment of a GSO frame.
    seg: Vec<u8>,
}

/// Counters a burst adds up privately and publishes once at its end: an atomic add per packet
/// and counter costs more than the rest of an exact-match hit.
#[derive(Default)]
struct Tally {
    hit: u64,
    cache_hit: u64,
    mask_hit: u64,
}

/// Statistics of the flow the last packets hit, published when another flow is hit or the
/// burst ends (consecutive packets of a burst mostly belong to one flow).
struct PendingStats {
    flow: Arc<Flow>,
    packets: u64,
    bytes: u64,
    tcp_flags: u8,
}

impl PendingStats {
    fn publish(&self, now_ms: u64) {
        self.flow
            .stats
            .add(self.packets, self.bytes, self.tcp_flags, now_ms);
    }
}

/// Everything per-packet processing mutates besides the ports.
struct State {
    tally: Tally,
    pending: Option<PendingStats>,
    emc: Emc,
    rng: FastRng,
    recirc: Vec<(Packet, FlowKey)>,
    upcall: UpcallScratch,
    /// Spare packet buffers for recirculation and clone/sample copies.
    pool: Vec<Packet>,
    now_ms: u64,
    idx: usize,
}

impl PacketThread {
    pub(super) fn new(
        idx: usize,
        cmds: Receiver<Cmd>,
        wake: Arc<EventFd>,
        stop: Arc<AtomicBool>,
        stats: Arc<ThreadStats>,
        busy_poll: bool,
    ) -> std::io::Result<PacketThread> {
        let epoll = Epoll::new()?;
        epoll.add(wake.fd(), WAKE_TOKEN)?;
        Ok(PacketThread {
            cmds,
            wake,
            stop,
            stats,
            busy_poll,
            epoll,
            armed: true,
            ports: Vec::new(),
            rx: PacketBatch::new(true),
            key: FlowKey::default(),
            state: State {
                tally: Tally::default(),
                pending: None,
                emc: Emc::new(),
                rng: FastRng::new(0x9e37_79b9 ^ idx as u64),
                recirc: Vec::new(),
                upcall: UpcallScratch {
                    msg: Vec::with_capacity(2048),
                    key: Vec::with_capacity(24),
                    key_bytes: Vec::with_capacity(512),
                    seg: Vec::with_capacity(2048),
                },
                pool: Vec::with_capacity(POOL_PACKETS),
                now_ms: 0,
                idx,
            },
        })
    }

    /// Puts every queue's descriptor into the epoll set, before sleeping. Level-triggered:
    /// frames that arrived while the thread was not listening end the sleep at once.
    fn arm(&mut self) {
        if self.armed {
            return;
        }
        for p in &self.ports {
            let fd = p.queue.fd();
            if self.epoll.add(fd, QUEUE_TOKEN).is_err() {
                let _ = self.epoll.modify(fd, QUEUE_TOKEN);
            }
        }
        self.armed = true;
    }

    /// Takes the queues' descriptors out of the epoll set while the thread naps or polls.
    fn disarm(&mut self) {
        if !self.armed {
            return;
        }
        for p in &self.ports {
            let _ = self.epoll.delete(p.queue.fd());
        }
        self.armed = false;
    }

    fn handle_cmds(&mut self) {
        loop {
            match self.cmds.try_recv() {
                Ok(Cmd::AddPort { dp, port, queue }) => {
                    if self.armed {
                        let _ = self.epoll.add(queue.fd(), QUEUE_TOKEN);
                    }
                    self.ports.push(PortEntry {
                        dp,
                        port,
                        queue,
                        out: PacketBatch::new(true),
                    });
                }
                Ok(Cmd::RemovePort {
                    dp_ifindex,
                    port_no,
                    done,
                }) => {
                    if let Some(i) = self
                        .ports
                        .iter()
                        .position(|p| p.dp.ifindex == dp_ifindex && p.port.port_no == port_no)
                    {
                        let mut p = self.ports.swap_remove(i);
                        if self.armed {
                            let _ = self.epoll.delete(p.queue.fd());
                        }
                        p.collect_drops();
                        drop(p);
                    }
                    let _ = done.send(());
                }
                Ok(Cmd::Exec(job)) => self.run_exec(*job),
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => return,
            }
        }
    }

    pub(super) fn run(mut self) {
        if let Err(e) = crate::sys::clock::set_timer_slack_ns(TIMER_SLACK_NS) {
            tracing::debug!(error = %e, "cannot shorten the packet thread's timer slack");
        }
        let mut events = Events::with_capacity(64);
        let mut last_busy = std::time::Instant::now();
        let mut last_drops = last_busy;
        let mut window_start = last_busy;
        let mut window_pkts = 0u64;
        let mut streaming = false;
        while !self.stop.load(Ordering::Acquire) {
            self.handle_cmds();
            let mut got = 0;
            for i in 0..self.ports.len() {
                for _ in 0..BURSTS_PER_QUEUE {
                    self.rx.clear();
                    let n = match self.ports[i].queue.recv_burst(&mut self.rx) {
                        Ok(n) => n,
                        Err(e) => {
                            tracing::debug!(error = %e, "receive failed");
                            0
                        }
                    };
                    if n == 0 {
                        break;
                    }
                    got += n;
                    // A bug hit by one hostile packet must not stop the thread: drop the burst,
                    // reset the output batches, count it, keep forwarding.
                    let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        self.process_burst(i)
                    }))
                    .is_ok();
                    if !ok {
                        self.stats.panics.fetch_add(1, Ordering::Relaxed);
                        for p in &mut self.ports {
                            p.out.clear();
                        }
                        self.state.recirc.clear();
                        tracing::error!(
                            "packet thread recovered from a panic; the burst was dropped"
                        );
                    }
                    if n < MAX_BURST {
                        break;
                    }
                }
            }
            let now = std::time::Instant::now();
            if now.duration_since(last_drops) >= DROP_POLL {
                last_drops = now;
                self.ports.iter_mut().for_each(PortEntry::collect_drops);
            }
            window_pkts += got as u64;
            if now.duration_since(window_start) >= STREAM_WINDOW {
                streaming = window_pkts >= STREAM_PKTS;
                window_pkts = 0;
                window_start = now;
            }
            if got > 0 {
                last_busy = now;
            }
            if self.busy_poll {
                self.disarm();
                if got == 0 {
                    std::hint::spin_loop();
                }
                continue;
            }
            // A full round: more is probably waiting. A lone packet outside a stream: look again
            // at once (a ping's answer is often in already).
            if got >= NAP_BELOW || (got > 0 && !streaming) {
                continue;
            }
            // While a stream flows, nap and take what gathered as one batch; once it has been
            // quiet for ACTIVE, sleep until a packet or a command arrives, so idle costs nothing.
            // Outside a stream, sleep at once: the next packet (a ping's answer) wakes the
            // thread, where a nap would hold it for up to NAP.
            if got > 0 || (streaming && now.duration_since(last_busy) < ACTIVE) {
                self.stats.naps.fetch_add(1, Ordering::Relaxed);
                self.disarm();
                std::thread::sleep(NAP);
                continue;
            }
            self.stats.sleeps.fetch_add(1, Ordering::Relaxed);
            self.arm();
            // Level-triggered: any queue with packets (or a command) ends the sleep.
            if self.epoll.wait(&mut events, 1000).is_ok()
                && events.tokens().any(|t| t == WAKE_TOKEN)
            {
                let _ = self.wake.reset();
            }
        }
    }

    fn process_burst(&mut self, i: usize) {
        self.state.now_ms = monotonic_ms();
        self.stats
            .rx
            .fetch_add(self.rx.len() as u64, Ordering::Relaxed);
        self.stats.bursts.fetch_add(1, Ordering::Relaxed);
        let dp = self.ports[i].dp.clone();
        let in_port = self.ports[i].port.port_no;
        let counters = &self.ports[i].port.counters;
        let bytes: usize = self.rx.packets().iter().map(Packet::len).sum();
        counters
            .rx_packets
            .fetch_add(self.rx.len() as u64, Ordering::Relaxed);
        counters.rx_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        let PacketThread {
            rx,
            ports,
            key,
            state,
            ..
        } = self;
        for pkt in rx.packets_mut() {
            if pkt.vlan.is_some() && !pkt.restore_vlan() {
                continue;
            }
            let md = Metadata {
                in_port,
                ..Metadata::default()
            };
            if extract(pkt.data(), &md, key).is_err() {
                continue;
            }
            process(&dp, pkt, key, ports, state, 0);
            drain_recirc(&dp, ports, state);
        }
        publish_tally(&dp, state, &self.stats);
        flush(ports);
    }

    fn run_exec(&mut self, mut job: ExecJob) {
        self.state.now_ms = monotonic_ms();
        let PacketThread { ports, state, .. } = self;
        let mut ctx = Ctx {
            dp: &job.dp,
            ports,
            state,
            action_bytes: &job.action_bytes,
        };
        let _ = execute(&job.actions, &mut job.packet, &mut job.key, &mut ctx);
        let dp = job.dp.clone();
        drain_recirc(&dp, ports, state);
        publish_tally(&dp, state, &self.stats);
        flush(ports);
    }
}

fn flush(ports: &mut [PortEntry]) {
    for p in ports.iter_mut() {
        if !p.out.is_empty() {
            send_out(p);
        }
    }
}

/// Sends a port's output burst and counts what went and what was dropped.
fn send_out(p: &mut PortEntry) {
    let n = p.out.len();
    let sent = p.queue.send_burst(&p.out, p.out.all()).unwrap_or(0).min(n);
    let bytes: usize = p.out.packets()[..sent].iter().map(Packet::len).sum();
    let c = &p.port.counters;
    c.tx_packets.fetch_add(sent as u64, Ordering::Relaxed);
    c.tx_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    c.tx_dropped.fetch_add((n - sent) as u64, Ordering::Relaxed);
    p.out.clear();
}

fn drain_recirc(dp: &Arc<DpShared>, ports: &mut [PortEntry], state: &mut State) {
    let mut depth = 0;
    while let Some((mut pkt, mut key)) = state.recirc.pop() {
        depth += 1;
        if depth > MAX_RECIRC_DEPTH * MAX_BURST {
            state.recirc.clear();
            break;
        }
        process(dp, &mut pkt, &mut key, ports, state, depth);
        if state.pool.len() < POOL_PACKETS {
            state.pool.push(pkt);
        }
    }
}

/// Looks `key` up and runs the flow's actions, or sends a MISS upcall.
fn process(
    dp: &Arc<DpShared>,
    pkt: &mut Packet,
    key: &mut FlowKey,
    ports: &mut [PortEntry],
    state: &mut State,
    _depth: usize,
) {
    let c = &dp.counters;
    let hash = state.emc.hash(key);
    let tcp_flags = crate::flow::extract::stats_tcp_flags(key);
    let acts = if let Some(f) = state.emc.lookup(hash, key) {
        state.tally.cache_hit += 1;
        state.tally.mask_hit += 1;
        Some(account(
            &mut state.pending,
            f,
            pkt.len(),
            tcp_flags,
            state.now_ms,
        ))
    } else {
        let (found, probed) = dp.flows.lookup(&key.w);
        state.tally.mask_hit += u64::from(probed);
        found.map(|f| {
            state.emc.insert(hash, key, &f);
            account(&mut state.pending, &f, pkt.len(), tcp_flags, state.now_ms)
        })
    };
    let Some(acts) = acts else {
        c.n_missed.fetch_add(1, Ordering::Relaxed);
        let pid = miss_pid(dp, ports, key.in_port(), state.idx);
        if !send_upcall(
            dp,
            OvsPacketCmd::OVS_PACKET_CMD_MISS,
            pid,
            key,
            pkt,
            None,
            None,
            pkt.len(),
            &mut state.upcall,
        ) {
            c.n_lost.fetch_add(1, Ordering::Relaxed);
        }
        return;
    };
    state.tally.hit += 1;
    let mut ctx = Ctx {
        dp,
        ports,
        state,
        action_bytes: &acts.bytes,
    };
    let _ = execute(&acts.compiled, pkt, key, &mut ctx);
}

/// Counts a packet of `len` bytes for `flow` (publishing the previous flow's pending counts if
/// it was another) and returns the flow's current actions.
fn account(
    pending: &mut Option<PendingStats>,
    flow: &Arc<Flow>,
    len: usize,
    tcp_flags: u8,
    now_ms: u64,
) -> arc_swap::Guard<Arc<crate::dp::flow::FlowActions>> {
    match pending {
        Some(p) if Arc::ptr_eq(&p.flow, flow) => {
            p.packets += 1;
            p.bytes += len as u64;
            p.tcp_flags |= tcp_flags;
        }
        _ => {
            if let Some(p) = pending.as_ref() {
                p.publish(now_ms);
            }
            *pending = Some(PendingStats {
                flow: flow.clone(),
                packets: 1,
                bytes: len as u64,
                tcp_flags,
            });
        }
    }
    flow.actions.load()
}

/// Publishes what a burst counted privately: the datapath's and thread's counters and the
/// pending flow statistics.
fn publish_tally(dp: &DpShared, state: &mut State, stats: &ThreadStats) {
    let t = std::mem::take(&mut state.tally);
    let c = &dp.counters;
    if t.hit > 0 {
        c.n_hit.fetch_add(t.hit, Ordering::Relaxed);
    }
    if t.cache_hit > 0 {
        c.n_cache_hit.fetch_add(t.cache_hit, Ordering::Relaxed);
        stats.emc_hits.fetch_add(t.cache_hit, Ordering::Relaxed);
    }
    if t.mask_hit > 0 {
        c.n_mask_hit.fetch_add(t.mask_hit, Ordering::Relaxed);
    }
    if let Some(p) = state.pending.take() {
        p.publish(state.now_ms);
    }
}

/// The pid a miss from `in_port` goes to: the per-CPU table, else the port's pids.
fn miss_pid(dp: &DpShared, ports: &[PortEntry], in_port: u32, thread: usize) -> u32 {
    let d = dp.dispatch.load();
    if d.user_features & OVS_DP_F_DISPATCH_UPCALL_PER_CPU != 0 {
        return per_cpu_pid(&d.per_cpu_pids, thread);
    }
    ports
        .iter()
        .find(|p| p.dp.ifindex == dp.ifindex && p.port.port_no == in_port)
        .and_then(|p| p.port.upcall_pids.load().first().copied())
        .unwrap_or(0)
}

fn per_cpu_pid(pids: &[u32], thread: usize) -> u32 {
    if pids.is_empty() {
        0
    } else {
        pids[thread % pids.len()]
    }
}

/// Encodes and sends one upcall (one per segment for GSO frames); false if any was lost.
#[allow(clippy::too_many_arguments)]
fn send_upcall(
    dp: &DpShared,
    cmd: OvsPacketCmd,
    pid: u32,
    key: &FlowKey,
    pkt: &Packet,
    userdata: Option<&[u8]>,
    actions: Option<&[u8]>,
    len: usize,
    scratch: &mut UpcallScratch,
) -> bool {
    let Some(notifier) = &dp.notifier else {
        return false;
    };
    if pid == 0 {
        return false;
    }
    let UpcallScratch {
        msg: buf,
        key: attrs,
        key_bytes,
        seg,
    } = scratch;
    key.to_key_into(attrs);
    key_bytes.clear();
    let mut w = NlaWriter::new(key_bytes);
    for a in attrs.iter() {
        a.emit(&mut w);
    }
    let unaligned = dp.dispatch.load().user_features & OVS_DP_F_UNALIGNED != 0;
    let mut up = UpcallRef {
        cmd,
        dp_ifindex: dp.ifindex,
        key: Some(key_bytes),
        userdata,
        egress_tun_key: None,
        actions,
        probe: false,
        mru: None,
        len: None,
        hash: Some(0),
        packet: None,
    };
    if pkt.vnet.is_gso() {
        // One upcall per segment, as the kernel segments GSO skbs before queueing them; each
        // segment is encoded and sent as soon as it is cut.
        let mut all = true;
        let mut send = |s: &[u8]| {
            buf.clear();
            UpcallRef {
                packet: Some(s),
                ..up
            }
            .emit(buf, FAMILY_PACKET, 0, 0, 0, unaligned);
            all &= notifier.send_upcall(pid, buf).is_ok();
        };
        let cut = super::gso::segment_tcp(pkt.data(), &pkt.vnet, seg, &mut send)
            || super::gso::segment_udp(pkt.data(), &pkt.vnet, seg, &mut send);
        return cut && all;
    }
    up.packet = Some(&pkt.data()[..len.min(pkt.len())]);
    up.len = (len < pkt.len()).then_some(pkt.len() as u32);
    buf.clear();
    let frame = up.emit(buf, FAMILY_PACKET, 0, 0, 0, unaligned);
    // The kernel completes a partial checksum before it queues the upcall.
    if let Some(f) = buf.get_mut(frame) {
        pkt.vnet.complete_csum(f);
    }
    notifier.send_upcall(pid, buf).is_ok()
}

impl Ctx<'_> {
    /// The output burst of datapath port `port`, with room for one more frame; `None` (and
    /// the frame dropped) if there is no such port or the frame cannot leave through it.
    fn out_port(&mut self, port: u32, meta: &OutputMeta<'_>) -> Option<&mut PortEntry> {
        let ifindex = self.dp.ifindex;
        let p = self
            .ports
            .iter_mut()
            .find(|p| p.dp.ifindex == ifindex && p.port.port_no == port)?;
        if meta.mac_proto != MAC_PROTO_ETHERNET {
            // An L3 packet cannot leave through an Ethernet port (`ovs_vport_send`).
            p.port.counters.tx_dropped.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        if p.out.is_full() {
            send_out(p);
        }
        Some(p)
    }
}

/// The packet thread as seen by action execution.
struct Ctx<'a> {
    dp: &'a Arc<DpShared>,
    ports: &'a mut [PortEntry],
    state: &'a mut State,
    action_bytes: &'a [u8],
}

impl ExecContext for Ctx<'_> {
    fn output(&mut self, port: u32, pkt: &Packet, meta: &OutputMeta<'_>) {
        let Some(p) = self.out_port(port, meta) else {
            return;
        };
        let len = meta.len.min(pkt.len());
        if p.out.push(&pkt.data()[..len], Some(&pkt.vnet)).is_err() {
            p.port.counters.tx_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn output_last(&mut self, port: u32, pkt: &mut Packet, meta: &OutputMeta<'_>) {
        let Some(p) = self.out_port(port, meta) else {
            return;
        };
        // The frame's last use: its buffer moves into the output burst instead of being
        // copied (a 64 KiB GSO frame costs microseconds to copy).
        pkt.truncate(meta.len);
        if p.out.push_take(pkt).is_err() {
            p.port.counters.tx_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn userspace(&mut self, upcall: &Upcall<'_>, pkt: &Packet, key: &FlowKey) {
        let d = self.dp.dispatch.load();
        let pid = if d.user_features & OVS_DP_F_DISPATCH_UPCALL_PER_CPU != 0 {
            // Per-CPU dispatch ignores the action's pid (OVS puts 0xffffffff there).
            per_cpu_pid(&d.per_cpu_pids, self.state.idx)
        } else {
            upcall.pid
        };
        let actions = upcall.actions.or(None);
        if !send_upcall(
            self.dp,
            OvsPacketCmd::OVS_PACKET_CMD_ACTION,
            pid,
            key,
            pkt,
            upcall.userdata,
            actions,
            upcall.len,
            &mut self.state.upcall,
        ) {
            self.dp.counters.n_lost.fetch_add(1, Ordering::Relaxed);
        }
        let _ = self.action_bytes;
    }

    fn recirc(&mut self, _recirc_id: u32, pkt: &Packet, key: &FlowKey) {
        if self.state.recirc.len() >= MAX_RECIRC_DEPTH * MAX_BURST {
            return;
        }
        if let Some(copy) = self.copy_packet(pkt) {
            self.state.recirc.push((copy, key.clone()));
        }
    }

    fn copy_packet(&mut self, pkt: &Packet) -> Option<Packet> {
        // From the thread's pool: copies for recirculation, clone and sample allocate only
        // until the pool has filled.
        let mut p = self
            .state
            .pool
            .pop()
            .unwrap_or_else(|| Packet::with_capacity(GSO_FRAME_MAX));
        p.vlan = None;
        p.set_frame(pkt.data(), Some(&pkt.vnet)).ok()?;
        Some(p)
    }

    fn free_packet(&mut self, pkt: Packet) {
        if self.state.pool.len() < POOL_PACKETS {
            self.state.pool.push(pkt);
        }
    }

    fn update_key(&mut self, pkt: &Packet, key: &mut FlowKey) -> bool {
        crate::action::reextract_key(pkt, key)
    }

    fn meter(&mut self, meter_id: u32, len: usize) -> bool {
        self.dp
            .meters
            .load()
            .get(&meter_id)
            .is_some_and(|m| m.execute(len, self.state.now_ms))
    }

    fn random_u32(&mut self) -> u32 {
        self.state.rng.next_u32()
    }

    fn hash_seed(&self) -> u32 {
        self.dp.hash_seed
    }
}
