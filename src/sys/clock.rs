//! Clocks: the monotonic milliseconds the kernel datapath reports as flow and meter `used`.

/// Sets the calling thread's timer slack (`PR_SET_TIMERSLACK`): how late the kernel may wake
/// it from a timed sleep so that wake-ups can be grouped.
pub fn set_timer_slack_ns(ns: u64) -> std::io::Result<()> {
    // SAFETY: PR_SET_TIMERSLACK takes an integer argument and touches no memory of ours.
    let rc = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, ns as libc::c_ulong, 0, 0, 0) };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

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
