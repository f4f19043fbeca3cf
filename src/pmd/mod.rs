//! Packet threads: the datapath's fast path.
//!
//! ≈ `net/openvswitch/vport.c` (`ovs_vport_receive`) + `datapath.c` (`ovs_dp_process_packet`,
//! `ovs_dp_upcall`) run by softirq on every CPU, and OVS's `lib/dpif-netdev.c` PMD threads.
//!
//! Each of the N threads owns one queue of every port (AF_PACKET sockets in one fanout group,
//! TAP queues of a multi-queue device, or a dummy port's shared rings). A thread loops over
//! its queues reading bursts; per packet it extracts the key, looks it up in its private
//! exact-match cache and then in the datapath's megaflow classifier, executes the flow's
//! compiled actions (outputs are batched per port and sent once per burst) or sends a MISS
//! upcall. While a stream flows, a small round is followed by a 60 µs nap, so the frames that
//! arrive meanwhile are handled as one batch for one wake-up (per-frame wake-ups or spinning
//! would cost a core at a few hundred kpps); otherwise, or 500 µs after a stream, a round that
//! finds nothing sleeps in `epoll_wait` on its queues and its wake-up eventfd, so an idle
//! datapath costs no CPU and a lone packet is handled as soon as it arrives.
//!
//! Threads never take a lock: they read published snapshots (`DpShared`), flow statistics are
//! atomics, and reconfiguration arrives as commands on a channel drained only after a
//! wake-up, never per packet.

mod gso;
mod thread;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::action::CompiledActions;
use crate::dp::datapath::DpCounters;
use crate::dp::flow::FlowClassifier;
use crate::dp::meter::Meter;
use crate::dp::vport::VportCounters;
use crate::port::batch::{Packet, RxQueue, TxQueue};
use crate::sys::eventfd::EventFd;
use crate::transport::Notifier;

/// A port queue a packet thread reads from and writes to.
pub trait Queue: RxQueue + TxQueue {}
impl<T: RxQueue + TxQueue> Queue for T {}

/// How misses and `userspace` actions choose their netlink pid.
#[derive(Debug, Clone, Default)]
pub struct Dispatch {
    /// `OVS_DP_ATTR_USER_FEATURES`.
    pub user_features: u32,
    /// `OVS_DP_ATTR_PER_CPU_PIDS` (used when per-CPU dispatch is on).
    pub per_cpu_pids: Vec<u32>,
}

/// What packet threads need of one port besides its queue.
#[derive(Debug)]
pub struct PortShared {
    /// Port number.
    pub port_no: u32,
    /// `OVS_VPORT_ATTR_UPCALL_PID`, republished by `VPORT_SET`.
    pub upcall_pids: ArcSwap<Vec<u32>>,
    /// Counters the threads keep for the port.
    pub counters: Arc<VportCounters>,
}

/// Everything of a datapath that packet threads read: published by the control plane.
pub struct DpShared {
    /// The datapath's `dp_ifindex`.
    pub ifindex: i32,
    /// Packet counters.
    pub counters: Arc<DpCounters>,
    /// The megaflow classifier.
    pub flows: Arc<FlowClassifier>,
    /// Upcall dispatch settings.
    pub dispatch: ArcSwap<Dispatch>,
    /// Meters by id.
    pub meters: ArcSwap<std::collections::HashMap<u32, Arc<Meter>>>,
    /// Where upcalls go.
    pub notifier: Option<Notifier>,
    /// Per-process seed of the L4 hash (`hash` action).
    pub hash_seed: u32,
}

impl std::fmt::Debug for DpShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpShared")
            .field("ifindex", &self.ifindex)
            .finish_non_exhaustive()
    }
}

/// A packet handed to a thread by `OVS_PACKET_CMD_EXECUTE`.
pub struct ExecJob {
    /// The datapath.
    pub dp: Arc<DpShared>,
    /// The frame.
    pub packet: Packet,
    /// Key metadata from the request, headers re-extracted from the frame.
    pub key: userdp_protocol::ovs::key::FlowKey,
    /// The validated, compiled actions.
    pub actions: CompiledActions,
    /// The raw action bytes (for `userspace(actions)` upcalls).
    pub action_bytes: Box<[u8]>,
}

pub(crate) enum Cmd {
    AddPort {
        dp: Arc<DpShared>,
        port: Arc<PortShared>,
        queue: Box<dyn Queue>,
    },
    RemovePort {
        dp_ifindex: i32,
        port_no: u32,
        done: Sender<()>,
    },
    Exec(Box<ExecJob>),
}

struct ThreadHandle {
    cmds: Sender<Cmd>,
    wake: Arc<EventFd>,
    join: Option<JoinHandle<()>>,
}

/// Per-thread counters, readable by the control plane.
#[derive(Debug, Default)]
pub struct ThreadStats {
    /// Packets received.
    pub rx: AtomicU64,
    /// Bursts processed.
    pub bursts: AtomicU64,
    /// Times the thread went to sleep until a packet or command woke it.
    pub sleeps: AtomicU64,
    /// Short timed naps between empty polls while traffic flowed.
    pub naps: AtomicU64,
    /// Exact-match cache hits.
    pub emc_hits: AtomicU64,
    /// Bursts dropped because processing them panicked (a bug; the thread survives).
    pub panics: AtomicU64,
}

/// The packet threads.
pub struct Pmd {
    threads: Vec<ThreadHandle>,
    stop: Arc<AtomicBool>,
    stats: Vec<Arc<ThreadStats>>,
    busy_poll: bool,
}

impl std::fmt::Debug for Pmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pmd")
            .field("threads", &self.threads.len())
            .finish()
    }
}

impl Pmd {
    /// Starts `n` packet threads (at least one). With `busy_poll` they spin instead of sleeping.
    pub fn start(n: usize, busy_poll: bool) -> std::io::Result<Pmd> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let mut stats = Vec::new();
        for i in 0..n.max(1) {
            let (tx, rx) = channel();
            let wake = Arc::new(EventFd::new()?);
            let st = Arc::new(ThreadStats::default());
            let t = thread::PacketThread::new(
                i,
                rx,
                wake.clone(),
                stop.clone(),
                st.clone(),
                busy_poll,
            )?;
            let join = std::thread::Builder::new()
                .name(format!("userdp-pmd-{i}"))
                .spawn(move || t.run())?;
            threads.push(ThreadHandle {
                cmds: tx,
                wake,
                join: Some(join),
            });
            stats.push(st);
        }
        Ok(Pmd {
            threads,
            stop,
            stats,
            busy_poll,
        })
    }

    /// Number of packet threads.
    pub fn n_threads(&self) -> usize {
        self.threads.len()
    }

    /// Whether the threads busy-poll.
    pub fn busy_poll(&self) -> bool {
        self.busy_poll
    }

    /// Per-thread statistics.
    pub fn stats(&self) -> &[Arc<ThreadStats>] {
        &self.stats
    }

    fn send(&self, i: usize, cmd: Cmd) {
        let t = &self.threads[i % self.threads.len()];
        if t.cmds.send(cmd).is_ok() {
            let _ = t.wake.signal();
        }
    }

    /// Gives thread `i` a queue of a port.
    pub fn add_port(
        &self,
        i: usize,
        dp: Arc<DpShared>,
        port: Arc<PortShared>,
        queue: Box<dyn Queue>,
    ) {
        self.send(i, Cmd::AddPort { dp, port, queue });
    }

    /// Makes every thread drop its queue of a port, and waits until they have (so the device
    /// is gone when the control plane answers).
    pub fn remove_port(&self, dp_ifindex: i32, port_no: u32) {
        let (tx, rx) = channel();
        for i in 0..self.threads.len() {
            self.send(
                i,
                Cmd::RemovePort {
                    dp_ifindex,
                    port_no,
                    done: tx.clone(),
                },
            );
        }
        drop(tx);
        for _ in 0..self.threads.len() {
            if rx.recv_timeout(Duration::from_secs(2)).is_err() {
                tracing::warn!(port_no, "a packet thread did not release a port in time");
                break;
            }
        }
    }

    /// Hands a packet to be executed to a thread chosen by `hint`.
    pub fn execute(&self, hint: usize, job: ExecJob) {
        self.send(hint, Cmd::Exec(Box::new(job)));
    }

    /// Stops and joins every thread.
    pub fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Release);
        for t in &self.threads {
            let _ = t.wake.signal();
        }
        for t in &mut self.threads {
            if let Some(j) = t.join.take() {
                let _ = j.join();
            }
        }
    }
}

impl Drop for Pmd {
    fn drop(&mut self) {
        self.shutdown();
    }
}
