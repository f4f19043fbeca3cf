//! Zero-copy packet header views (read and in-place write) and checksums, in the style of
//! smoltcp's `wire` module: a `Packet<T: AsRef<[u8]>>` view checked once, then accessors.
