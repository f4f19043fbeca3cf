//! `userdpctl`: the `ovs-dpctl` 3.1 command set for userdp.
//!
//! ≈ `utilities/ovs-dpctl.c` + `lib/dpctl.c` in OVS. The layers, each testable alone:
//! [`options`] (getopt-compatible command line), [`dpif`] (requests and reply decoding over
//! a [`dpif::Transport`]), [`model`] (plain data), [`format`] / [`json`] (output), and
//! [`commands`] (the command table and handlers). `src/bin/userdpctl.rs` only calls
//! [`options::parse_command_line`] and [`execute`].

pub mod commands;
pub mod dpif;
pub mod filter;
pub mod format;
pub mod getopt;
pub mod json;
pub mod model;
pub mod netdev;
pub mod options;

use std::io::{self, Write};
use std::path::PathBuf;

use commands::{lookup, run, Ctx};
use dpif::{Dpif, Transport};
use netdev::Host;
use options::{Options, PROGRAM};

/// Where a command's output goes and what it may read.
pub struct Io<'a> {
    /// Standard output.
    pub out: &'a mut dyn Write,
    /// Standard error.
    pub err: &'a mut dyn Write,
    /// `CLOCK_MONOTONIC` milliseconds now (for `used:`).
    pub now_ms: u64,
    /// Host counters and files.
    pub host: &'a dyn Host,
}

impl std::fmt::Debug for Io<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Io").field("now_ms", &self.now_ms).finish()
    }
}

/// The daemon socket: `--socket`, else `$USERDP_SOCKET`, else the default path.
pub fn socket_path(opts: &Options, env: Option<std::ffi::OsString>) -> PathBuf {
    opts.socket
        .clone()
        .or_else(|| env.filter(|s| !s.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(crate::daemon::DEFAULT_SOCKET))
}

/// Runs the command `args[0]`; returns the exit status (0 or 1). `connect` is called only
/// for commands that talk to the datapath; if it fails, the reason is printed as
/// `userdpctl: connecting to PATH failed (ERR)`.
pub fn execute(
    opts: &Options,
    args: &[String],
    io: &mut Io<'_>,
    socket: &std::path::Path,
    connect: &mut dyn FnMut() -> io::Result<Box<dyn Transport>>,
) -> i32 {
    let Some(c) = lookup(args, opts, io.err) else {
        return 1;
    };
    let mut transport = None;
    if c.needs_dp {
        match connect() {
            Ok(t) => transport = Some(t),
            Err(e) => {
                let errno = e.raw_os_error().unwrap_or(libc::EIO);
                let _ = writeln!(
                    io.err,
                    "{PROGRAM}: connecting to {} failed ({})",
                    socket.display(),
                    format::strerror(errno)
                );
                return 1;
            }
        }
    }
    let dpif = transport.as_mut().map(|t| Dpif::new(t.as_mut()));
    let mut ctx = Ctx {
        opts,
        out: &mut *io.out,
        err: &mut *io.err,
        now_ms: io.now_ms,
        host: io.host,
        dpif,
    };
    let status = run(c, &mut ctx, args);
    let _ = ctx.out.flush();
    i32::from(status != 0)
}
