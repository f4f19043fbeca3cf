//! The listening socket, the accept loop, one thread per connection, and the OVERFLOW flusher.
//!
//! ≈ `netlink_rcv_skb` (walking a datagram's messages, skipping non-requests and control
//! types) plus the socket lifecycle a Linux daemon is expected to have: a runtime directory,
//! a 0660 socket, refusal to start over a live instance, removal of the socket on exit.

use std::fs;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::Mutex;
use socket2::{Domain, SockAddr, Socket, Type};
use userdp_protocol::errno::{EINVAL, EOPNOTSUPP};
use userdp_protocol::nl::{messages, ErrorMsg, NlMsgHdr, NLMSG_HDRLEN, NLMSG_MIN_TYPE};
use userdp_protocol::nl::{NLM_F_ACK, NLM_F_REQUEST};
use userdp_protocol::private::{
    emit_done_marker, Ctrl, CtrlOp, Hello, USERDP_MSG_CTRL, USERDP_PROTOCOL_VERSION,
};

use super::conn::{Conn, Registry, Wake};
use super::{Notifier, Responder, Service, CONN_SNDBUF};
use crate::sys::socket::{self as sock, POLLIN, POLLOUT};

/// Where and how to listen.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Path of the listening socket.
    pub path: PathBuf,
    /// Mode of the socket file.
    pub mode: u32,
    /// Send buffer for accepted connections.
    pub sndbuf: usize,
}

impl ServerConfig {
    /// Defaults for `path`: mode 0660, [`CONN_SNDBUF`].
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ServerConfig {
            path: path.into(),
            mode: 0o660,
            sndbuf: CONN_SNDBUF,
        }
    }
}

/// A running transport: accept thread, connection threads, flusher thread.
pub struct Server {
    reg: Arc<Registry>,
    notifier: Notifier,
    path: PathBuf,
    ino: u64,
    wake_tx: UnixStream,
    accept: Option<JoinHandle<()>>,
    flusher: Option<JoinHandle<()>>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("path", &self.path).finish()
    }
}

/// Binds the listening socket, refusing to replace a live one.
fn bind_listener(cfg: &ServerConfig) -> io::Result<(Socket, u64)> {
    let path = &cfg.path;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .map_err(|e| io::Error::new(e.kind(), format!("creating {}: {e}", dir.display())))?;
    }
    match fs::symlink_metadata(path) {
        Ok(md) if !md.file_type().is_socket() => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} exists and is not a socket; not replacing it",
                    path.display()
                ),
            ));
        }
        Ok(_) => {
            let probe = Socket::new(Domain::UNIX, Type::SEQPACKET, None)?;
            match probe.connect(&SockAddr::unix(path)?) {
                Ok(()) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!(
                            "another userdpd is already serving {}; stop it first",
                            path.display()
                        ),
                    ));
                }
                Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => {
                    tracing::info!(path = %path.display(), "removing stale socket");
                    fs::remove_file(path)?;
                }
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("probing existing socket {}: {e}", path.display()),
                    ));
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = Socket::new(Domain::UNIX, Type::SEQPACKET, None)?;
    listener
        .bind(&SockAddr::unix(path)?)
        .map_err(|e| io::Error::new(e.kind(), format!("binding {}: {e}", path.display())))?;
    fs::set_permissions(path, fs::Permissions::from_mode(cfg.mode))?;
    listener.listen(1024)?;
    listener.set_nonblocking(true)?;
    let ino = fs::symlink_metadata(path)?.ino();
    Ok((listener, ino))
}

/// `CapEff` bit 12 of `/proc/<pid>/status`.
fn has_cap_net_admin(pid: i32) -> bool {
    const CAP_NET_ADMIN: u32 = 12;
    let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_NET_ADMIN) != 0)
}

fn setup_conn(sock: Socket, sndbuf: usize, wake: &Arc<Wake>) -> io::Result<Conn> {
    sock.set_nonblocking(false)?;
    if sock::set_sndbuf_force(sock.as_fd(), sndbuf).is_err() {
        // Without CAP_NET_ADMIN the kernel caps this at wmem_max: still the best we can do.
        let _ = sock.set_send_buffer_size(sndbuf);
    }
    let cred = sock::peer_cred(sock.as_fd())?;
    let cap = has_cap_net_admin(cred.pid);
    Ok(Conn::new(sock, cred, cap, wake.clone()))
}

impl Server {
    /// Binds `cfg.path`, calls `service.attach`, and starts accepting in background threads.
    pub fn start(cfg: &ServerConfig, service: Arc<dyn Service>) -> io::Result<Server> {
        let (listener, ino) = bind_listener(cfg)?;
        let reg = Arc::new(Registry::new());
        let notifier = Notifier { reg: reg.clone() };
        service.attach(&notifier);
        let (wake_tx, wake_rx) = UnixStream::pair()?;
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();

        let flusher = {
            let reg = reg.clone();
            std::thread::Builder::new()
                .name("userdp-overflow".into())
                .spawn(move || flusher_loop(&reg))?
        };
        reg.wake.set_thread(flusher.thread().clone());

        let accept = {
            let (reg, notifier, conns) = (reg.clone(), notifier.clone(), conns.clone());
            let sndbuf = cfg.sndbuf;
            std::thread::Builder::new()
                .name("userdp-accept".into())
                .spawn(move || {
                    accept_loop(listener, wake_rx, sndbuf, &reg, &notifier, &service, &conns)
                })?
        };
        tracing::info!(path = %cfg.path.display(), "listening");
        Ok(Server {
            reg,
            notifier,
            path: cfg.path.clone(),
            ino,
            wake_tx,
            accept: Some(accept),
            flusher: Some(flusher),
            conns,
        })
    }

    /// The multicast/upcall handle.
    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops accepting, closes every connection (abandoning dumps in progress), joins all
    /// threads and removes the socket file if it is still ours.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if self.accept.is_none() {
            return;
        }
        self.reg.shutdown.store(true, Ordering::Release);
        let _ = io::Write::write(&mut &self.wake_tx, &[1]);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        for conn in self.reg.snapshot().values() {
            let _ = conn.sock.shutdown(std::net::Shutdown::Both);
        }
        let handles = std::mem::take(&mut *self.conns.lock());
        for t in handles {
            let _ = t.join();
        }
        self.reg.wake.unpark();
        if let Some(t) = self.flusher.take() {
            let _ = t.join();
        }
        if fs::symlink_metadata(&self.path).is_ok_and(|m| m.ino() == self.ino) {
            let _ = fs::remove_file(&self.path);
        }
        tracing::info!(path = %self.path.display(), "transport stopped");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(
    listener: Socket,
    wake_rx: UnixStream,
    sndbuf: usize,
    reg: &Arc<Registry>,
    notifier: &Notifier,
    service: &Arc<dyn Service>,
    conns: &Mutex<Vec<JoinHandle<()>>>,
) {
    loop {
        if reg.shutdown.load(Ordering::Acquire) {
            return;
        }
        match sock::poll(&[listener.as_fd(), wake_rx.as_fd()], POLLIN, -1) {
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "poll on listener failed");
                return;
            }
        }
        if reg.shutdown.load(Ordering::Acquire) {
            return;
        }
        let sock = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
        };
        let conn = match setup_conn(sock, sndbuf, &reg.wake) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                tracing::warn!(error = %e, "dropping connection");
                continue;
            }
        };
        let portid = reg.insert(&conn);
        let (reg2, notifier2, service2) = (reg.clone(), notifier.clone(), service.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("userdp-conn-{portid}"))
            .spawn(move || serve_conn(&conn, &reg2, &notifier2, &service2));
        let mut list = conns.lock();
        list.retain(|t| !t.is_finished());
        match spawned {
            Ok(t) => list.push(t),
            Err(e) => tracing::error!(error = %e, "cannot spawn connection thread"),
        }
    }
}

/// Removes the connection from the registry however its thread ends.
struct ConnGuard<'a> {
    conn: &'a Arc<Conn>,
    reg: &'a Arc<Registry>,
    service: &'a Arc<dyn Service>,
}

impl Drop for ConnGuard<'_> {
    fn drop(&mut self) {
        let peer = self.conn.peer();
        self.reg.remove(self.conn);
        tracing::debug!(portid = peer.portid, "connection closed");
        self.service.disconnected(&peer);
    }
}

fn serve_conn(
    conn: &Arc<Conn>,
    reg: &Arc<Registry>,
    notifier: &Notifier,
    service: &Arc<dyn Service>,
) {
    let _guard = ConnGuard { conn, reg, service };
    let peer = conn.peer();
    tracing::debug!(
        portid = peer.portid,
        pid = peer.pid,
        uid = peer.uid,
        cap_net_admin = peer.cap_net_admin,
        "connection accepted"
    );
    let mut out = Vec::with_capacity(64);
    Hello {
        portid: peer.portid,
        version: USERDP_PROTOCOL_VERSION,
    }
    .emit(&mut out);
    // Ready before HELLO: once the client knows its portid, upcalls to it must be deliverable.
    // Nothing can target the portid earlier, because only HELLO reveals it and portids are
    // not reused right away.
    conn.set_ready();
    if conn.send_blocking(&out, &reg.shutdown).is_err() {
        return;
    }

    let mut buf = Vec::new();
    loop {
        match sock::recv_datagram(conn.fd(), &mut buf, 0) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, "recv failed");
                return;
            }
        }
        if reg.shutdown.load(Ordering::Acquire) {
            return;
        }
        let mut joins = Vec::new();
        let closed = handle_datagram(conn, reg, notifier, service, &buf, &mut joins);
        if closed {
            return;
        }
        let first_seq = NlMsgHdr::parse(&buf).map(|h| h.seq).unwrap_or(0);
        out.clear();
        emit_done_marker(&mut out, first_seq, conn.portid());
        // Joins take effect atomically with the marker: no multicast reaches a client still
        // waiting for its JOIN to complete, and none sent after the marker is missed
        // (PROTOCOL.md, "Control").
        let sent = if joins.is_empty() {
            conn.send_blocking(&out, &reg.shutdown)
        } else {
            conn.join_then_send(&joins, &out, &reg.shutdown)
        };
        if sent.is_err() {
            return;
        }
    }
}

/// Processes one request datagram; returns true if the client went away.
fn handle_datagram(
    conn: &Arc<Conn>,
    reg: &Arc<Registry>,
    notifier: &Notifier,
    service: &Arc<dyn Service>,
    datagram: &[u8],
    joins: &mut Vec<u32>,
) -> bool {
    let send = |bytes: &[u8]| conn.send_blocking(bytes, &reg.shutdown).is_err();
    if datagram.len() < NLMSG_HDRLEN {
        let mut hdr = [0u8; NLMSG_HDRLEN];
        hdr[..datagram.len()].copy_from_slice(datagram);
        return send(&einval(
            &hdr,
            conn.portid(),
            "datagram shorter than a netlink header",
        ));
    }
    for m in messages(datagram) {
        let msg = match m {
            Ok(m) => m,
            Err(e) => {
                let hdr = datagram.get(e.offset..).unwrap_or(&[]);
                return send(&einval(hdr, conn.portid(), e.msg));
            }
        };
        let h = msg.header;
        // As netlink_rcv_skb: only requests are processed; control types are skipped (and
        // acked if asked); family types go to the service.
        if h.flags & NLM_F_REQUEST == 0 {
            continue;
        }
        if h.kind == USERDP_MSG_CTRL {
            if handle_ctrl(conn, reg, &h, msg.payload, joins) {
                return true;
            }
            continue;
        }
        if h.kind < NLMSG_MIN_TYPE {
            if h.flags & NLM_F_ACK != 0 {
                let mut b = Vec::with_capacity(36);
                ErrorMsg::capped(h, 0).emit(&mut b, conn.portid());
                if send(&b) {
                    return true;
                }
            }
            continue;
        }
        let peer = conn.peer();
        let mut out = Responder {
            conn,
            reg,
            notifier,
            request: h,
            responses: 0,
            closed: false,
        };
        let span =
            tracing::debug_span!("request", portid = peer.portid, kind = h.kind, seq = h.seq);
        let _e = span.enter();
        // A bug in a handler must cost one request, not the connection or the daemon: the
        // client gets EIO and the next request is served as usual. (parking_lot
        // locks are not poisoned by the unwind.)
        let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            service.request(&peer, &msg, &mut out);
        }));
        if served.is_err() {
            tracing::error!(
                kind = h.kind,
                seq = h.seq,
                "request handler panicked; answered EIO"
            );
            if out.responses() == 0 {
                out.errno(libc::EIO, Some("internal error in userdpd"));
            }
        }
        if out.closed {
            return true;
        }
    }
    false
}

fn einval(hdr_bytes: &[u8], portid: u32, why: &str) -> Vec<u8> {
    let mut hdr = [0u8; NLMSG_HDRLEN];
    let n = hdr_bytes.len().min(NLMSG_HDRLEN);
    hdr[..n].copy_from_slice(&hdr_bytes[..n]);
    let request = NlMsgHdr::parse(&hdr).unwrap_or_default();
    let e = ErrorMsg {
        ext_msg: Some(why.to_owned()),
        ..ErrorMsg::capped(request, EINVAL)
    };
    let mut b = Vec::with_capacity(64);
    e.emit(&mut b, portid);
    b
}

/// Handles one CTRL request; returns true if the client went away.
fn handle_ctrl(
    conn: &Arc<Conn>,
    reg: &Arc<Registry>,
    h: &NlMsgHdr,
    payload: &[u8],
    joins: &mut Vec<u32>,
) -> bool {
    let send = |bytes: &[u8]| conn.send_blocking(bytes, &reg.shutdown).is_err();
    let ctrl = match Ctrl::parse(payload) {
        Ok(c) => c,
        Err(e) => {
            let mut hdr = Vec::with_capacity(NLMSG_HDRLEN);
            h.emit(&mut hdr);
            return send(&einval(&hdr, conn.portid(), e.msg));
        }
    };
    let result = match ctrl.op {
        CtrlOp::Join | CtrlOp::Leave if ctrl.arg == 0 => Err(EINVAL),
        CtrlOp::Join => {
            joins.push(ctrl.arg);
            Ok(())
        }
        CtrlOp::Leave => {
            joins.retain(|&g| g != ctrl.arg);
            conn.leave(ctrl.arg);
            Ok(())
        }
        CtrlOp::Bind => reg.rebind(conn, ctrl.arg),
        CtrlOp::Unknown(_) => Err(EOPNOTSUPP),
    };
    let reply = Ctrl {
        error: result.err().map_or(0, |e| -e),
        ..ctrl
    };
    let mut b = Vec::with_capacity(28);
    reply.emit(&mut b, 0, h.seq, conn.portid());
    send(&b)
}

/// Sends OVERFLOW to connections whose socket was full, as soon as it has room again, so a
/// client learns about drops even if nothing else is ever sent to it.
fn flusher_loop(reg: &Registry) {
    loop {
        if reg.shutdown.load(Ordering::Acquire) {
            return;
        }
        if !reg.wake.take() {
            std::thread::park();
            continue;
        }
        loop {
            if reg.shutdown.load(Ordering::Acquire) {
                return;
            }
            let snap = reg.snapshot();
            let waiting: Vec<&Arc<Conn>> = snap
                .values()
                .filter(|c| c.overflow_pending())
                .filter(|c| matches!(c.flush_overflow_locked(), Ok(false)))
                .collect();
            if waiting.is_empty() {
                break;
            }
            let fds: Vec<_> = waiting.iter().map(|c| c.fd()).collect();
            if sock::poll(&fds, POLLOUT, 100).is_err() {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
}
