//! `dummy` ports: two memory queues, for tests and benches.
//!
//! ≈ OVS `lib/netdev-dummy.c` (`netdev-dummy/receive`). The test side injects frames and takes
//! the output; the packet-thread side reads and writes through the same [`RxQueue`] /
//! [`TxQueue`] traits as real ports, lock-free (`crossbeam_queue::ArrayQueue`) and without
//! allocating in steady state: frame buffers travel back to the producer through free lists.
//! An eventfd lets an idle packet thread sleep in epoll until a frame is injected; the injector
//! only writes it when the consumer announced it was about to sleep.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_queue::ArrayQueue;

use crate::port::batch::{mask_of, PacketBatch, RxQueue, TxQueue, VirtioNetHdr};
use crate::sys::eventfd::EventFd;

/// Frames a dummy port queues in each direction by default.
pub const DUMMY_QUEUE_LEN: usize = 4096;

#[derive(Debug)]
struct Frame {
    data: Vec<u8>,
    vnet: VirtioNetHdr,
}

#[derive(Debug)]
struct Inner {
    rx: ArrayQueue<Frame>,
    rx_free: ArrayQueue<Vec<u8>>,
    tx: ArrayQueue<Frame>,
    tx_free: ArrayQueue<Vec<u8>>,
    wake: EventFd,
    /// Set by the consumer before it sleeps: the next inject must signal `wake`.
    armed: AtomicBool,
    rx_dropped: AtomicU64,
    tx_dropped: AtomicU64,
}

/// The test side of a dummy port (cheap to clone; all clones share the queues).
#[derive(Debug, Clone)]
pub struct DummyPort {
    inner: Arc<Inner>,
}

/// The packet-thread side of a dummy port.
#[derive(Debug)]
pub struct DummyQueue {
    inner: Arc<Inner>,
}

fn refill(free: &ArrayQueue<Vec<u8>>, frame: &[u8]) -> Vec<u8> {
    let mut v = free.pop().unwrap_or_default();
    v.clear();
    v.extend_from_slice(frame);
    v
}

impl DummyPort {
    /// A dummy port queueing up to [`DUMMY_QUEUE_LEN`] frames each way.
    pub fn new() -> io::Result<DummyPort> {
        DummyPort::with_capacity(DUMMY_QUEUE_LEN)
    }

    /// A dummy port queueing up to `cap` frames each way (at least one).
    pub fn with_capacity(cap: usize) -> io::Result<DummyPort> {
        let cap = cap.max(1);
        Ok(DummyPort {
            inner: Arc::new(Inner {
                rx: ArrayQueue::new(cap),
                rx_free: ArrayQueue::new(cap),
                tx: ArrayQueue::new(cap),
                tx_free: ArrayQueue::new(cap),
                wake: EventFd::new()?,
                armed: AtomicBool::new(false),
                rx_dropped: AtomicU64::new(0),
                tx_dropped: AtomicU64::new(0),
            }),
        })
    }

    /// The packet-thread side (several are allowed; they share the frames).
    pub fn queue(&self) -> DummyQueue {
        DummyQueue {
            inner: self.inner.clone(),
        }
    }

    /// Queues `frame` as received by the port; `false` (and a drop) if the queue is full.
    pub fn inject(&self, frame: &[u8]) -> bool {
        self.inject_with(frame, &VirtioNetHdr::default())
    }

    /// Queues `frame` with offload metadata.
    pub fn inject_with(&self, frame: &[u8], vnet: &VirtioNetHdr) -> bool {
        let f = Frame {
            data: refill(&self.inner.rx_free, frame),
            vnet: *vnet,
        };
        if self.inner.rx.push(f).is_err() {
            self.inner.rx_dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        // Pairs with the fence in `DummyQueue::recv_burst`: either the consumer's re-check sees
        // this frame, or we see `armed` and wake it.
        fence(Ordering::SeqCst);
        if self.inner.armed.swap(false, Ordering::SeqCst) {
            let _ = self.inner.wake.signal();
        }
        true
    }

    /// Takes every frame output to the port so far, oldest first.
    pub fn take_output(&self) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| self.inner.tx.pop().map(|f| f.data)).collect()
    }

    /// Takes every frame output so far with its offload metadata.
    pub fn take_output_with_vnet(&self) -> Vec<(Vec<u8>, VirtioNetHdr)> {
        std::iter::from_fn(|| self.inner.tx.pop().map(|f| (f.data, f.vnet))).collect()
    }

    /// Discards the output, recycling its buffers (for benches); returns how many frames.
    pub fn drain_output(&self) -> usize {
        let mut n = 0;
        while let Some(f) = self.inner.tx.pop() {
            let _ = self.inner.tx_free.push(f.data);
            n += 1;
        }
        n
    }

    /// Frames waiting to be received.
    pub fn pending_input(&self) -> usize {
        self.inner.rx.len()
    }

    /// Frames refused because a queue was full: (injected, output).
    pub fn dropped(&self) -> (u64, u64) {
        (
            self.inner.rx_dropped.load(Ordering::Relaxed),
            self.inner.tx_dropped.load(Ordering::Relaxed),
        )
    }
}

impl DummyQueue {
    fn pop_into(&self, batch: &mut PacketBatch) -> io::Result<usize> {
        let mut n = 0;
        while !batch.is_full() {
            let Some(f) = self.inner.rx.pop() else { break };
            let r = batch.push(&f.data, Some(&f.vnet));
            let _ = self.inner.rx_free.push(f.data);
            match r {
                Ok(()) => n += 1,
                // A frame bigger than the batch's buffers: the port drops it, as a real
                // device drops frames above its MTU.
                Err(_) => {
                    self.inner.rx_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Ok(n)
    }
}

impl RxQueue for DummyQueue {
    fn recv_burst(&mut self, batch: &mut PacketBatch) -> io::Result<usize> {
        let n = self.pop_into(batch)?;
        if n > 0 || batch.is_full() {
            return Ok(n);
        }
        // About to report "nothing": arm the wake-up, then look once more so a frame injected
        // in between is not left waiting for the next inject.
        self.inner.wake.reset()?;
        self.inner.armed.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.pop_into(batch)
    }

    fn fd(&self) -> RawFd {
        self.inner.wake.fd()
    }
}

impl TxQueue for DummyQueue {
    fn send_burst(&mut self, batch: &PacketBatch, mask: u64) -> io::Result<usize> {
        let pkts = batch.packets();
        let mut mask = mask & mask_of(pkts.len());
        let mut sent = 0;
        while mask != 0 {
            let i = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            let Some(p) = pkts.get(i) else { break };
            let f = Frame {
                data: refill(&self.inner.tx_free, p.data()),
                vnet: p.vnet,
            };
            if self.inner.tx.push(f).is_ok() {
                sent += 1;
            } else {
                self.inner.tx_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::batch::MAX_BURST;
    use crate::sys::epoll::{Epoll, Events};

    #[test]
    fn injected_frames_come_out_of_recv_in_order() {
        let port = DummyPort::new().unwrap();
        let mut q = port.queue();
        let mut b = PacketBatch::new(false);
        assert_eq!(q.recv_burst(&mut b).unwrap(), 0);
        for i in 0..40u8 {
            assert!(port.inject(&[i; 64]));
        }
        assert_eq!(q.recv_burst(&mut b).unwrap(), MAX_BURST);
        assert_eq!(b.get(31).unwrap().data(), &[31u8; 64][..]);
        b.clear();
        assert_eq!(q.recv_burst(&mut b).unwrap(), 8);
        assert_eq!(b.get(0).unwrap().data(), &[32u8; 64][..]);
        assert_eq!(port.pending_input(), 0);
    }

    #[test]
    fn send_burst_outputs_only_the_masked_packets_with_vnet() {
        let port = DummyPort::new().unwrap();
        let mut q = port.queue();
        let mut b = PacketBatch::new(true);
        let gso = VirtioNetHdr {
            gso_type: 1,
            gso_size: 1448,
            ..Default::default()
        };
        b.push(&[1; 60], None).unwrap();
        b.push(&[2; 3000], Some(&gso)).unwrap();
        b.push(&[3; 60], None).unwrap();
        assert_eq!(q.send_burst(&b, 0b110).unwrap(), 2);
        let out = port.take_output_with_vnet();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], (vec![2; 3000], gso));
        assert_eq!(out[1], (vec![3; 60], VirtioNetHdr::default()));
        // Bits past the end of the batch select nothing.
        assert_eq!(q.send_burst(&b, 1 << 40).unwrap(), 0);
        assert!(port.take_output().is_empty());
    }

    #[test]
    fn full_queues_drop_and_count() {
        let port = DummyPort::with_capacity(2).unwrap();
        assert!(port.inject(&[0; 60]));
        assert!(port.inject(&[0; 60]));
        assert!(!port.inject(&[0; 60]));
        let mut q = port.queue();
        let mut b = PacketBatch::new(false);
        b.push(&[9; 60], None).unwrap();
        b.push(&[9; 60], None).unwrap();
        b.push(&[9; 60], None).unwrap();
        assert_eq!(q.send_burst(&b, b.all()).unwrap(), 2);
        assert_eq!(port.dropped(), (1, 1));
        // Oversized for a plain batch (2048-byte buffers): dropped on receive.
        let big = DummyPort::new().unwrap();
        assert!(big.inject(&[0; 4000]));
        let mut rq = big.queue();
        assert_eq!(rq.recv_burst(&mut PacketBatch::new(false)).unwrap(), 0);
        assert_eq!(big.dropped().0, 1);
    }

    #[test]
    fn an_idle_queue_sleeps_in_epoll_until_a_frame_is_injected() {
        let port = DummyPort::new().unwrap();
        let mut q = port.queue();
        let ep = Epoll::new().unwrap();
        ep.add(q.fd(), 1).unwrap();
        let mut ev = Events::with_capacity(2);
        let mut b = PacketBatch::new(false);
        // Nothing: recv arms the wake-up and epoll times out.
        assert_eq!(q.recv_burst(&mut b).unwrap(), 0);
        assert_eq!(ep.wait(&mut ev, 0).unwrap(), 0);
        let injector = {
            let port = port.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                port.inject(&[7; 60])
            })
        };
        assert_eq!(ep.wait(&mut ev, 5000).unwrap(), 1);
        assert!(injector.join().unwrap());
        assert_eq!(q.recv_burst(&mut b).unwrap(), 1);
        assert_eq!(b.get(0).unwrap().data(), &[7u8; 60][..]);
        // A second inject while the consumer is busy (not armed) does not signal.
        b.clear();
        assert_eq!(q.recv_burst(&mut b).unwrap(), 0);
        port.inject(&[8; 60]);
        port.inject(&[9; 60]);
        assert_eq!(q.recv_burst(&mut b).unwrap(), 2);
    }
}
