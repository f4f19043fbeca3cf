//! Clocks: the monotonic milliseconds the kernel datapath reports as flow and meter `used`.

/// `CLOCK_MONOTONIC` in milliseconds: the same clock OVS's `time_msec()` reads, so `used`
/// times we report compare correctly with its own.
pub fn monotonic_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .saturating_mul(1000)
        .saturating_add(ts.tv_nsec as u64 / 1_000_000)
}
