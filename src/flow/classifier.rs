//! The megaflow classifier: one subtable per distinct mask, lock-free lookups.
//!
//! ≈ `net/openvswitch/flow_table.c` (`masked_flow_lookup`, `flow_mask_insert`) and OVS's
//! `lib/dpif-netdev.c` dpcls. Keys are fixed arrays of `W` 64-bit words; a flow matches a packet
//! when `packet & mask == flow_key` word by word.
//!
//! Concurrency contract:
//! - **Writers** (`insert`, `remove`) are serialised by the caller (the datapath's control lock)
//!   and publish every change with an atomic pointer swap, so a reader sees either the old or
//!   the new state of a bucket, never a torn one.
//! - **Readers** (`lookup`, from packet threads) take no lock and allocate nothing: they load the
//!   published subtable list and, per subtable, one bucket chain; nodes are immutable once
//!   published and reclaimed by reference counting when the last reader lets go.
//! - Only the mask's non-zero words are hashed, compared and stored per flow.
//! - Bucket chains are immutable linked lists: insertion pushes a new head, removal republishes
//!   a copy of the prefix before the removed node. A subtable whose load exceeds one entry per
//!   bucket is rebuilt at twice the size and swapped in whole.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::{ArcSwap, ArcSwapOption};

/// One published entry of a bucket chain.
struct Node<T> {
    hash: u64,
    /// The masked key's words at the subtable's non-zero mask indices: the other words are
    /// zero by construction, and keeping only these keeps a flow's footprint small.
    key: Box<[u64]>,
    value: Arc<T>,
    next: Option<Arc<Node<T>>>,
}

/// A subtable's bucket array, replaced whole when it grows.
struct Buckets<T> {
    slots: Box<[ArcSwapOption<Node<T>>]>,
}

impl<T> Buckets<T> {
    fn new(n: usize) -> Self {
        Buckets {
            slots: (0..n).map(|_| ArcSwapOption::const_empty()).collect(),
        }
    }
    fn slot(&self, hash: u64) -> &ArcSwapOption<Node<T>> {
        // The slot count is a power of two.
        &self.slots[(hash as usize) & (self.slots.len() - 1)]
    }
}

/// All flows that share one mask.
pub struct Subtable<const W: usize, T> {
    mask: [u64; W],
    /// Indices of the mask's non-zero words: only these are hashed, compared and stored.
    idx: Box<[usize]>,
    buckets: ArcSwap<Buckets<T>>,
    len: AtomicU64,
    hits: AtomicU64,
}

impl<const W: usize, T> Subtable<W, T> {
    fn new(mask: [u64; W]) -> Self {
        Subtable {
            mask,
            idx: (0..W).filter(|&i| mask[i] != 0).collect(),
            buckets: ArcSwap::from_pointee(Buckets::new(16)),
            len: AtomicU64::new(0),
            hits: AtomicU64::new(0),
        }
    }

    /// The mask shared by this subtable's flows.
    pub fn mask(&self) -> &[u64; W] {
        &self.mask
    }
    /// Number of flows in this subtable.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed) as usize
    }
    /// True when the subtable holds no flow.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Lookups that hit this subtable.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Gathers `key & mask` at the non-zero mask words into `out`; returns the used prefix.
    #[inline]
    fn gather<'o>(&self, key: &[u64; W], out: &'o mut [u64; W]) -> &'o [u64] {
        let n = self.idx.len();
        for (o, &i) in out.iter_mut().zip(self.idx.iter()) {
            *o = key[i] & self.mask[i];
        }
        &out[..n]
    }

    fn find(&self, hash: u64, masked: &[u64]) -> Option<Arc<T>> {
        let buckets = self.buckets.load();
        let head = buckets.slot(hash).load();
        let mut cur = head.as_ref();
        while let Some(node) = cur {
            if node.hash == hash && *node.key == *masked {
                return Some(node.value.clone());
            }
            cur = node.next.as_ref();
        }
        None
    }
}

/// A set of `(masked key, mask) -> value` flows with lock-free lookups.
pub struct Classifier<const W: usize, T> {
    subtables: ArcSwap<Vec<Arc<Subtable<W, T>>>>,
    hasher: foldhash::fast::FixedState,
    len: AtomicU64,
}

impl<const W: usize, T> Default for Classifier<W, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const W: usize, T> Classifier<W, T> {
    /// An empty classifier with a hash seed drawn once per process.
    pub fn new() -> Self {
        // RandomState is seeded once per process; deriving the fixed state from it keeps
        // packet-derived keys from choosing their own collisions.
        let seed = foldhash::fast::RandomState::default().hash_one(0x5eed_u64);
        Classifier {
            subtables: ArcSwap::from_pointee(Vec::new()),
            hasher: foldhash::fast::FixedState::with_seed(seed),
            len: AtomicU64::new(0),
        }
    }

    /// Total number of flows.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed) as usize
    }
    /// True when no flow is installed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Number of distinct masks (subtables).
    pub fn n_masks(&self) -> usize {
        self.subtables.load().len()
    }
    /// The published subtables, in lookup order.
    pub fn subtables(&self) -> Arc<Vec<Arc<Subtable<W, T>>>> {
        self.subtables.load_full()
    }

    #[inline]
    fn hash(&self, words: &[u64]) -> u64 {
        let mut h = self.hasher.build_hasher();
        for &w in words {
            h.write_u64(w);
        }
        h.finish()
    }

    /// The flow matching `key`, trying subtables in order; also returns how many subtables were
    /// probed (the kernel's "mask hit" statistic).
    pub fn lookup(&self, key: &[u64; W]) -> (Option<Arc<T>>, u32) {
        let subtables = self.subtables.load();
        let mut buf = [0u64; W];
        for (i, st) in subtables.iter().enumerate() {
            let masked = st.gather(key, &mut buf);
            if let Some(v) = st.find(self.hash(masked), masked) {
                st.hits.fetch_add(1, Ordering::Relaxed);
                return (Some(v), i as u32 + 1);
            }
        }
        (None, subtables.len() as u32)
    }

    /// The flow stored under exactly this `mask` whose masked key equals `key & mask`.
    pub fn find_exact(&self, key: &[u64; W], mask: &[u64; W]) -> Option<Arc<T>> {
        let subtables = self.subtables.load();
        let st = subtables.iter().find(|st| st.mask == *mask)?;
        let mut buf = [0u64; W];
        let masked = st.gather(key, &mut buf);
        st.find(self.hash(masked), masked)
    }

    /// Inserts `value` under `key & mask`. The caller holds the write lock and has checked for
    /// duplicates; an identical masked key already present would shadow or be shadowed.
    pub fn insert(&self, key: &[u64; W], mask: &[u64; W], value: Arc<T>) {
        let st = self.subtable_for(mask);
        let mut buf = [0u64; W];
        let masked = st.gather(key, &mut buf);
        let hash = self.hash(masked);
        let n = st.len.fetch_add(1, Ordering::Relaxed) + 1;
        if n as usize > st.buckets.load().slots.len() {
            self.grow(&st);
        }
        let buckets = st.buckets.load();
        let slot = buckets.slot(hash);
        let head = slot.load_full();
        slot.store(Some(Arc::new(Node {
            hash,
            key: masked.into(),
            value,
            next: head,
        })));
        self.len.fetch_add(1, Ordering::Relaxed);
    }

    /// Removes the entry holding `value` (by identity) under `key & mask`; true if found.
    pub fn remove(&self, key: &[u64; W], mask: &[u64; W], value: &Arc<T>) -> bool {
        let subtables = self.subtables.load_full();
        let Some(st) = subtables.iter().find(|st| st.mask == *mask) else {
            return false;
        };
        let mut buf = [0u64; W];
        let masked = st.gather(key, &mut buf);
        let hash = self.hash(masked);
        let buckets = st.buckets.load();
        let slot = buckets.slot(hash);
        let head = slot.load_full();
        // Collect the prefix before the victim, then rebuild it on top of the victim's tail.
        let mut prefix = Vec::new();
        let mut cur = head;
        let tail = loop {
            match cur {
                None => return false,
                Some(node) if Arc::ptr_eq(&node.value, value) => break node.next.clone(),
                Some(node) => {
                    cur = node.next.clone();
                    prefix.push(node);
                }
            }
        };
        let mut rebuilt = tail;
        for node in prefix.into_iter().rev() {
            rebuilt = Some(Arc::new(Node {
                hash: node.hash,
                key: node.key.clone(),
                value: node.value.clone(),
                next: rebuilt,
            }));
        }
        slot.store(rebuilt);
        self.len.fetch_sub(1, Ordering::Relaxed);
        if st.len.fetch_sub(1, Ordering::Relaxed) == 1 {
            // Last flow of this mask: unpublish the subtable so lookups stop probing it.
            let remaining: Vec<_> = subtables
                .iter()
                .filter(|s| !Arc::ptr_eq(s, st))
                .cloned()
                .collect();
            self.subtables.store(Arc::new(remaining));
        }
        true
    }

    /// Removes every flow.
    pub fn clear(&self) {
        self.subtables.store(Arc::new(Vec::new()));
        self.len.store(0, Ordering::Relaxed);
    }

    /// Reorders subtables by descending hits so the busiest masks are probed first.
    /// Publishes nothing when the order is already right, so an idle table costs nothing.
    pub fn rerank(&self) {
        let current = self.subtables.load();
        if current.windows(2).all(|w| w[0].hits() >= w[1].hits()) {
            return;
        }
        let mut v: Vec<_> = current.iter().cloned().collect();
        v.sort_by_key(|st| std::cmp::Reverse(st.hits()));
        self.subtables.store(Arc::new(v));
    }

    fn subtable_for(&self, mask: &[u64; W]) -> Arc<Subtable<W, T>> {
        let current = self.subtables.load();
        if let Some(st) = current.iter().find(|st| st.mask == *mask) {
            return st.clone();
        }
        let st = Arc::new(Subtable::new(*mask));
        let mut v: Vec<_> = current.iter().cloned().collect();
        v.push(st.clone());
        self.subtables.store(Arc::new(v));
        st
    }

    fn grow(&self, st: &Subtable<W, T>) {
        let old = st.buckets.load_full();
        let bigger = Buckets::new(old.slots.len() * 2);
        for slot in old.slots.iter() {
            let head = slot.load();
            let mut cur = head.as_ref();
            while let Some(node) = cur {
                let dst = bigger.slot(node.hash);
                let next = dst.load_full();
                dst.store(Some(Arc::new(Node {
                    hash: node.hash,
                    key: node.key.clone(),
                    value: node.value.clone(),
                    next,
                })));
                cur = node.next.as_ref();
            }
        }
        st.buckets.store(Arc::new(bigger));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type C = Classifier<4, u32>;

    #[test]
    fn exact_and_wildcard_lookups() {
        let c = C::new();
        let a = Arc::new(1);
        let b = Arc::new(2);
        c.insert(&[1, 2, 3, 4], &[!0, !0, !0, !0], a.clone());
        c.insert(&[7, 0, 0, 0], &[!0, 0, 0, 0], b.clone());
        assert_eq!(c.lookup(&[1, 2, 3, 4]).0.as_deref(), Some(&1));
        assert_eq!(c.lookup(&[7, 9, 9, 9]).0.as_deref(), Some(&2));
        assert!(c.lookup(&[8, 9, 9, 9]).0.is_none());
        assert_eq!(c.n_masks(), 2);
        assert!(c.remove(&[7, 5, 5, 5], &[!0, 0, 0, 0], &b));
        assert!(c.lookup(&[7, 9, 9, 9]).0.is_none());
        assert_eq!((c.n_masks(), c.len()), (1, 1));
    }

    #[test]
    fn rerank_puts_the_busiest_mask_first() {
        let c = C::new();
        c.insert(&[1, 0, 0, 0], &[!0, 0, 0, 0], Arc::new(1));
        c.insert(&[0, 2, 0, 0], &[0, !0, 0, 0], Arc::new(2));
        for _ in 0..5 {
            assert_eq!(
                c.lookup(&[9, 2, 0, 0]),
                (Some(Arc::new(2)), 2),
                "second mask, two probes"
            );
        }
        c.rerank();
        assert_eq!(
            c.lookup(&[9, 2, 0, 0]).1,
            1,
            "after reranking the busy mask is probed first"
        );
        assert_eq!(c.lookup(&[1, 9, 0, 0]).1, 2);
    }

    #[test]
    fn grows_past_initial_buckets() {
        let c = C::new();
        let vals: Vec<_> = (0..1000u32).map(Arc::new).collect();
        for (i, v) in vals.iter().enumerate() {
            c.insert(&[i as u64, 0, 0, 0], &[!0, 0, 0, 0], v.clone());
        }
        for i in 0..1000u64 {
            assert_eq!(*c.lookup(&[i, 5, 5, 5]).0.unwrap(), i as u32);
        }
        for (i, v) in vals.iter().enumerate().step_by(2) {
            assert!(c.remove(&[i as u64, 0, 0, 0], &[!0, 0, 0, 0], v));
        }
        assert_eq!(c.len(), 500);
        assert!(c.lookup(&[2, 0, 0, 0]).0.is_none());
        assert_eq!(*c.lookup(&[3, 0, 0, 0]).0.unwrap(), 3);
    }

    proptest! {
        /// The classifier agrees with a linear scan over the same flows: a lookup finds a flow
        /// exactly when one matches, and what it finds matches.
        #[test]
        fn agrees_with_linear_scan(
            flows in proptest::collection::vec(([0u64..4, 0u64..4, 0u64..4, 0u64..4], [any::<bool>(); 4]), 0..40),
            probes in proptest::collection::vec([0u64..4, 0u64..4, 0u64..4, 0u64..4], 1..40),
            removals in proptest::collection::vec(any::<prop::sample::Index>(), 0..10),
        ) {
            let c = C::new();
            let mut installed: Vec<([u64; 4], [u64; 4], Arc<u32>)> = Vec::new();
            for (i, (key, bits)) in flows.into_iter().enumerate() {
                let mask = bits.map(|b| if b { !0 } else { 0 });
                let masked: Vec<u64> = key.iter().zip(&mask).map(|(k, m)| k & m).collect();
                // Datapath megaflows never duplicate one another under the same mask.
                if installed.iter().any(|(k, m, _)| *m == mask && k.iter().zip(m).map(|(a, b)| a & b).eq(masked.iter().copied())) {
                    continue;
                }
                let v = Arc::new(i as u32);
                c.insert(&key, &mask, v.clone());
                installed.push((key, mask, v));
            }
            for idx in removals {
                if installed.is_empty() { break; }
                let (k, m, v) = installed.remove(idx.index(installed.len()));
                prop_assert!(c.remove(&k, &m, &v));
            }
            prop_assert_eq!(c.len(), installed.len());
            let matches = |p: &[u64; 4], k: &[u64; 4], m: &[u64; 4]| (0..4).all(|i| p[i] & m[i] == k[i] & m[i]);
            for p in probes {
                let any = installed.iter().any(|(k, m, _)| matches(&p, k, m));
                match c.lookup(&p).0 {
                    Some(v) => {
                        let (k, m, _) = installed.iter().find(|(_, _, x)| Arc::ptr_eq(x, &v)).expect("found flow is installed");
                        prop_assert!(matches(&p, k, m));
                    }
                    None => prop_assert!(!any),
                }
            }
        }
    }
}
