//! The exact-match cache's key hash.
//!
//! The cache only needs a well-spread index into a few thousand slots, computed for every
//! packet: four independent multiply-xor lanes over the key words run in parallel on the
//! multiplier instead of one long dependency chain (a general-purpose hasher fed word by word
//! took ~58 ns for a key; this takes a fraction of it). A per-thread random seed keeps an
//! outsider from predicting which keys share a slot; a shared slot only costs a classifier
//! lookup, as the cache compares whole keys.

use userdp_protocol::ovs::key::{FlowKey, FLOW_KEY_WORDS, TUN_OPTS_BYTES};

/// Words of the key the hash covers: everything before the tunnel options, which are zero for
/// almost every packet and still compared on lookup.
pub const KEY_HASH_WORDS: usize = FLOW_KEY_WORDS - TUN_OPTS_BYTES / 8;

const K: [u64; 4] = [
    0x9e37_79b9_7f4a_7c15,
    0xc2b2_ae3d_27d4_eb4f,
    0x1656_67b1_9e37_79f9,
    0xd6e8_feb8_6659_fd93,
];

/// Mixes all bits of `x` into all bits (the MurmurHash3 64-bit finaliser).
fn fmix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// The hash of `key`'s first [`KEY_HASH_WORDS`] words under `seed`.
#[inline]
pub fn key_hash(seed: u64, key: &FlowKey) -> u64 {
    let mut lane = [seed ^ K[0], seed ^ K[1], seed ^ K[2], seed ^ K[3]];
    let words = &key.w[..KEY_HASH_WORDS];
    let mut chunks = words.chunks_exact(4);
    for c in &mut chunks {
        for i in 0..4 {
            let x = (lane[i] ^ c[i]).wrapping_mul(K[i]);
            lane[i] = x ^ (x >> 29);
        }
    }
    for (i, &w) in chunks.remainder().iter().enumerate() {
        let x = (lane[i] ^ w).wrapping_mul(K[i]);
        lane[i] = x ^ (x >> 29);
    }
    fmix(lane[0] ^ lane[1].rotate_left(17) ^ lane[2].rotate_left(31) ^ lane[3].rotate_left(47))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys one bit apart in any hashed word spread over the slots of a 4096-entry cache as
    /// random placement would; the tail is ignored; the seed matters.
    #[test]
    fn one_bit_changes_spread_over_the_slots() {
        let base = FlowKey::default();
        let h0 = key_hash(7, &base);
        let mut same_slot = 0;
        let mut total = 0;
        let mut slots = std::collections::HashSet::new();
        for w in 0..KEY_HASH_WORDS {
            for bit in 0..64 {
                let mut k = base.clone();
                k.w[w] ^= 1 << bit;
                let h = key_hash(7, &k);
                assert_ne!(h, h0, "word {w} bit {bit} does not change the hash");
                same_slot += usize::from(h & 4095 == h0 & 4095);
                slots.insert(h & 4095);
                total += 1;
            }
        }
        assert!(
            same_slot <= total / 256,
            "{same_slot} of {total} stay in one slot"
        );
        // Random placement of `total` keys would use 4096 * (1 - e^(-total/4096)) slots.
        let expected = 4096.0 * (1.0 - (-(total as f64) / 4096.0).exp());
        assert!(
            slots.len() as f64 > 0.95 * expected,
            "{} slots used, {expected:.0} expected of a random spread",
            slots.len()
        );
        let mut tail = base.clone();
        tail.w[FLOW_KEY_WORDS - 1] = 1;
        assert_eq!(key_hash(7, &tail), h0);
        assert_ne!(key_hash(8, &base), h0);
    }
}
