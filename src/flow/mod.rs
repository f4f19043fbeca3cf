//! Flows: the megaflow classifier and (with the fast path) key extraction and the exact-match cache.

pub mod classifier;
pub mod extract;
pub mod hash;
