//! The daemon's lifecycle: configuration, pidfile, transport, service, clean shutdown.
//!
//! ≈ `vswitchd/ovs-vswitchd.c` + `lib/daemon-unix.c` in OVS. The binary (`src/bin/userdpd.rs`)
//! only parses arguments and waits for SIGTERM/SIGINT; tests run the same [`Daemon::start`]
//! in-process on a temporary socket with their own [`Service`].

use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::dp::{DpConfig, Registry};
use crate::transport::{Notifier, Server, ServerConfig, Service};

/// Default socket path (flag `--socket`, env `USERDP_SOCKET`).
pub const DEFAULT_SOCKET: &str = "/run/userdp/userdp.sock";

/// Everything the daemon is configured with.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Listening socket path.
    pub socket: PathBuf,
    /// Packet threads (`--threads`); stored for the datapath, unused by the transport.
    pub threads: usize,
    /// Where to write our pid, removed again on shutdown.
    pub pidfile: Option<PathBuf>,
    /// Packet threads spin instead of sleeping when idle (`--busy-poll`).
    pub busy_poll: bool,
    /// `netdev` ports transmit through AF_XDP where they can (off with `--no-af-xdp`).
    pub af_xdp: bool,
}

impl DaemonConfig {
    /// Defaults for `socket`: one packet thread per CPU, no pidfile.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        DaemonConfig {
            socket: socket.into(),
            threads: default_threads(),
            pidfile: None,
            busy_poll: false,
            af_xdp: true,
        }
    }
}

/// Number of CPUs available to this process (at least 1).
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Namespace for [`Daemon::start`].
#[derive(Debug)]
pub struct Daemon;

/// A running daemon; [`DaemonHandle::shutdown`] (or drop) stops it and joins its threads.
#[derive(Debug)]
pub struct DaemonHandle {
    config: DaemonConfig,
    server: Option<Server>,
    service: Arc<dyn Service>,
}

impl std::fmt::Debug for dyn Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("dyn Service")
    }
}

impl Daemon {
    /// Binds the socket (refusing if another daemon serves it), writes the pidfile, and serves
    /// `service` from background threads.
    pub fn start(config: DaemonConfig, service: Arc<dyn Service>) -> io::Result<DaemonHandle> {
        let server = Server::start(&ServerConfig::new(&config.socket), service.clone())?;
        if let Some(p) = &config.pidfile {
            if let Err(e) = fs::write(p, format!("{}\n", std::process::id())) {
                server.shutdown();
                return Err(io::Error::new(
                    e.kind(),
                    format!("writing pidfile {}: {e}", p.display()),
                ));
            }
        }
        Ok(DaemonHandle {
            config,
            server: Some(server),
            service,
        })
    }
}

impl DaemonHandle {
    /// The configuration the daemon runs with.
    pub fn config(&self) -> &DaemonConfig {
        &self.config
    }

    /// The multicast/upcall handle.
    pub fn notifier(&self) -> Option<&Notifier> {
        self.server.as_ref().map(Server::notifier)
    }

    /// Closes every connection, joins all threads, calls `Service::shutdown`, and removes the
    /// socket and the pidfile.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(server) = self.server.take() else {
            return;
        };
        server.shutdown();
        self.service.shutdown();
        if let Some(p) = &self.config.pidfile {
            let _ = fs::remove_file(p);
        }
    }
}

impl Drop for DaemonHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The service `userdpd` runs: the datapath registry serving the six OVS families and nlctrl.
pub fn service(config: &DaemonConfig) -> Arc<dyn Service> {
    let reg = Arc::new(Registry::new(DpConfig {
        threads: config.threads,
        busy_poll: config.busy_poll,
        af_xdp: config.af_xdp,
        ..DpConfig::default()
    }));
    reg.watch_links();
    reg.watch_captures();
    reg.rank_subtables();
    reg
}
