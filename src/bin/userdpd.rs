//! `userdpd`: the userspace Open vSwitch datapath daemon.

// mimalloc: per-thread free lists keep the many small allocations of flow installs
// from contending and fragmenting in glibc's arenas.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use userdp::daemon::{self, Daemon, DaemonConfig, DEFAULT_SOCKET};
use userdp::sys::signal;

/// Serve the Open vSwitch datapath Generic Netlink families over a Unix socket.
#[derive(Debug, Parser)]
#[command(name = "userdpd", version, about)]
struct Args {
    /// Listening socket.
    #[arg(long, env = "USERDP_SOCKET", default_value = DEFAULT_SOCKET)]
    socket: PathBuf,
    /// Packet threads (default: one per CPU).
    #[arg(long)]
    threads: Option<usize>,
    /// Log filter, e.g. `info` or `warn,userdp::transport=debug`.
    #[arg(long, env = "USERDP_LOG", default_value = "info")]
    log: String,
    /// Write the daemon's pid to this file.
    #[arg(long)]
    pidfile: Option<PathBuf>,
    /// Packet threads spin on their queues instead of sleeping when idle (costs a core each).
    #[arg(long)]
    busy_poll: bool,
    /// Netdev ports send through AF_PACKET only, never through an AF_XDP socket.
    #[arg(long)]
    no_af_xdp: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = match EnvFilter::try_new(&args.log) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("userdpd: bad --log filter {:?}: {e}", args.log);
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // Blocked before any thread exists, so every thread inherits the mask and only the
    // sigwait below ever sees these signals.
    let signals = match signal::block(&[signal::SIGTERM, signal::SIGINT]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("userdpd: blocking signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut config = DaemonConfig::new(args.socket);
    config.pidfile = args.pidfile;
    config.busy_poll = args.busy_poll;
    config.af_xdp = !args.no_af_xdp;
    if let Some(n) = args.threads {
        config.threads = n.max(1);
    }
    let service = daemon::service(&config);
    let handle = match Daemon::start(config, service) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("userdpd: {e}");
            return ExitCode::FAILURE;
        }
    };
    match signals.wait() {
        Ok(sig) => tracing::info!(signal = sig, "shutting down"),
        Err(e) => tracing::error!(error = %e, "sigwait failed; shutting down"),
    }
    handle.shutdown();
    ExitCode::SUCCESS
}
