//! The daemon's transport: netlink-like messages over Unix `SOCK_SEQPACKET` connections.
//!
//! ≈ `net/netlink/af_netlink.c` (portids, unicast, broadcast, dumps, acks) with the
//! connection-level rules of `protocol/PROTOCOL.md` (HELLO, DONE_MARKER, OVERFLOW, CTRL).
//!
//! One thread per connection reads request datagrams with blocking reads and hands every
//! family message, in order, to the [`Service`]. Replies and dump chunks are written with
//! blocking sends, so a slow reader slows only its own connection. Multicast and upcalls use
//! non-blocking sends that drop, count and later report OVERFLOW. See `conn.rs` for the locking
//! contract.

pub mod client;
mod conn;
mod server;

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use userdp_protocol::errno::EMSGSIZE;
use userdp_protocol::nl::{
    emit_done, messages, ErrorMsg, NlMsg, NlMsgHdr, NLMSG_HDRLEN, NLM_F_MULTI,
};

pub use client::{Client, ClientDump};
pub use server::{Server, ServerConfig};

use conn::{Conn, Registry};

/// Largest dump datagram: the kernel's dump skbs are just under 32 KiB for readers that offer
/// OVS's buffer + 64 KiB tail, and OVS copes with nothing larger.
pub const DUMP_CHUNK: usize = 32 * 1024;

/// Send buffer requested on every accepted connection (`SO_SNDBUFFORCE`, else `SO_SNDBUF`).
/// A connected SEQPACKET pair is flow-controlled by the *sender's* buffer only, so this plays
/// the role of OVS's 4 MiB `SO_RCVBUFFORCE` on a netlink socket.
pub const CONN_SNDBUF: usize = 4 << 20;

/// Who is at the other end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// The connection's netlink portid (assigned, or chosen with CTRL BIND).
    pub portid: u32,
    /// Process id from `SO_PEERCRED` at connect time.
    pub pid: i32,
    /// Effective uid from `SO_PEERCRED`.
    pub uid: u32,
    /// Effective gid from `SO_PEERCRED`.
    pub gid: u32,
    /// `CAP_NET_ADMIN` in the peer's effective set (`CapEff` bit 12) at connect time.
    pub cap_net_admin: bool,
}

impl Peer {
    /// May this peer run mutating commands? As the kernel's `GENL_ADMIN_PERM`: root or
    /// `CAP_NET_ADMIN`.
    pub fn may_admin(&self) -> bool {
        self.uid == 0 || self.cap_net_admin
    }
}

/// Result of one [`Dump::fill`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpStep {
    /// More messages follow; call `fill` again with a fresh chunk.
    More,
    /// The dump is finished; the status (0 or a negative errno) goes into `NLMSG_DONE`.
    Done(i32),
}

/// A dump cursor: produces the messages of one dump, a chunk at a time.
///
/// ≈ a genl `dumpit` callback with its `netlink_callback` state.
pub trait Dump {
    /// Appends whole messages to `buf` totalling at most `budget` bytes (a single message larger
    /// than the budget may be appended alone) and says whether more remain. The transport stamps
    /// each message's seq, pid and `NLM_F_MULTI`, so the builder may leave them 0.
    fn fill(&mut self, buf: &mut Vec<u8>, budget: usize) -> DumpStep;
}

/// The request handler: the datapath families behind the transport.
///
/// ≈ `genl_rcv_msg`: called for every message of type ≥ `NLMSG_MIN_TYPE` carrying
/// `NLM_F_REQUEST`, in arrival order per connection; different connections run concurrently.
pub trait Service: Send + Sync + 'static {
    /// Called once, before the first connection, with the handle for multicast and upcalls.
    fn attach(&self, _notifier: &Notifier) {}
    /// Handles one request message; answers through `out` (nothing, one reply, one error or
    /// ack, or one dump). `NLM_F_ACK` handling is the service's: the transport never acks
    /// family messages on its own.
    fn request(&self, peer: &Peer, msg: &NlMsg<'_>, out: &mut Responder<'_>);
    /// A connection closed; its portid is already free.
    fn disconnected(&self, _peer: &Peer) {}
    /// The daemon is stopping: every connection is closed; remove what the service created.
    fn shutdown(&self) {}
}

/// Why an upcall or multicast message was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lost {
    /// No connection has that portid (the kernel's `ECONNREFUSED` for a dead upcall pid).
    NoConnection,
    /// The receiver's queue is full: dropped, counted, OVERFLOW pending for it.
    Full,
    /// The connection is closing.
    Closed,
}

impl fmt::Display for Lost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lost::NoConnection => "no connection with that portid",
            Lost::Full => "receive queue full",
            Lost::Closed => "connection closed",
        })
    }
}

impl std::error::Error for Lost {}

/// Outcome of one multicast.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Multicast {
    /// Members the message was queued to.
    pub delivered: usize,
    /// Members it was dropped for (each gets an OVERFLOW).
    pub dropped: usize,
}

/// Handle for asynchronous output: multicast notifications and upcalls. Cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    reg: Arc<Registry>,
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("connections", &self.connections())
            .finish()
    }
}

impl Notifier {
    /// Sends `msg` (one datagram, sent as is: seq and pid 0 for device-driven notifications)
    /// to every member of `group` except the connection with portid `exclude`. Never blocks on
    /// a slow member.
    ///
    /// ≈ `genl_notify` → `netlink_broadcast`.
    pub fn multicast(&self, group: u32, msg: &[u8], exclude: Option<u32>) -> Multicast {
        let mut out = Multicast::default();
        for conn in self.reg.snapshot().values() {
            if Some(conn.portid()) == exclude || !conn.in_group(group) {
                continue;
            }
            match conn.send_nonblocking(msg, true) {
                Ok(()) => out.delivered += 1,
                Err(Lost::Full) => out.dropped += 1,
                Err(_) => {}
            }
        }
        let c = &self.reg.counters;
        c.multicast_sent
            .fetch_add(out.delivered as u64, Ordering::Relaxed);
        c.multicast_dropped
            .fetch_add(out.dropped as u64, Ordering::Relaxed);
        out
    }

    /// Sends an upcall datagram to portid `pid` with one non-blocking send: never blocks and
    /// never takes a lock, so packet threads may call it.
    ///
    /// ≈ `ovs_dp_upcall` → `genlmsg_unicast`; a `Lost` is the caller's `n_lost`.
    pub fn send_upcall(&self, pid: u32, msg: &[u8]) -> Result<(), Lost> {
        let r = match self.reg.snapshot().get(&pid) {
            Some(conn) => conn.send_nonblocking(msg, false),
            None => Err(Lost::NoConnection),
        };
        if r.is_err() {
            self.reg
                .counters
                .upcalls_lost
                .fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    /// True if a connection currently owns portid `pid`.
    pub fn is_connected(&self, pid: u32) -> bool {
        self.reg.get(pid).is_some()
    }

    /// Number of open connections.
    pub fn connections(&self) -> usize {
        self.reg.snapshot().len()
    }

    /// Peers of all open connections.
    pub fn peers(&self) -> Vec<Peer> {
        self.reg.snapshot().values().map(|c| c.peer()).collect()
    }
}

/// How the service answers one request; created by the transport per message.
pub struct Responder<'a> {
    conn: &'a Arc<Conn>,
    reg: &'a Arc<Registry>,
    notifier: &'a Notifier,
    request: NlMsgHdr,
    responses: usize,
    closed: bool,
}

impl fmt::Debug for Responder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Responder")
            .field("request", &self.request)
            .field("responses", &self.responses)
            .field("closed", &self.closed)
            .finish()
    }
}

/// Rewrites seq and pid (and ORs `extra_flags`) of every whole message in `buf[from..]`;
/// returns the length of the valid prefix (a malformed tail is a service bug and is cut).
fn stamp(buf: &mut [u8], from: usize, seq: u32, pid: u32, extra_flags: u16) -> usize {
    let Some(tail) = buf.get(from..) else {
        return buf.len();
    };
    let mut spans = Vec::new();
    let mut valid = buf.len();
    for m in messages(tail) {
        match m {
            Ok(m) => spans.push(from + m.offset),
            Err(e) => {
                tracing::error!(
                    offset = from + e.offset,
                    "service produced a malformed message"
                );
                valid = from + e.offset;
                break;
            }
        }
    }
    for at in spans {
        if let Some(h) = buf.get_mut(at..at + NLMSG_HDRLEN) {
            let flags = u16::from_ne_bytes([h[6], h[7]]) | extra_flags;
            h[6..8].copy_from_slice(&flags.to_ne_bytes());
            h[8..12].copy_from_slice(&seq.to_ne_bytes());
            h[12..16].copy_from_slice(&pid.to_ne_bytes());
        }
    }
    valid
}

impl<'a> Responder<'a> {
    /// The header of the request being answered.
    pub fn request(&self) -> &NlMsgHdr {
        &self.request
    }

    /// Sequence number replies must carry (the request's).
    pub fn seq(&self) -> u32 {
        self.request.seq
    }

    /// Portid replies are addressed with (the connection's, not the header's `nlmsg_pid`).
    pub fn portid(&self) -> u32 {
        self.conn.portid()
    }

    /// The multicast/upcall handle.
    pub fn notifier(&self) -> &Notifier {
        self.notifier
    }

    /// True once the client has gone away; later output is discarded.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Number of datagrams sent for this request so far.
    pub fn responses(&self) -> usize {
        self.responses
    }

    fn send(&mut self, datagram: &[u8]) {
        if self.closed {
            return;
        }
        match self.conn.send_blocking(datagram, &self.reg.shutdown) {
            Ok(()) => self.responses += 1,
            Err(e) => {
                tracing::debug!(portid = self.portid(), error = %e, "client gone while replying");
                self.closed = true;
            }
        }
    }

    /// Sends one reply datagram (usually one message). Its messages get the request's seq
    /// and the connection's portid.
    pub fn reply(&mut self, mut datagram: Vec<u8>) {
        let (seq, pid) = (self.seq(), self.portid());
        let valid = stamp(&mut datagram, 0, seq, pid, 0);
        datagram.truncate(valid);
        self.send(&datagram);
    }

    /// Sends `NLMSG_ERROR` for this request (the embedded request header is replaced by the
    /// actual one). Use capped errors, as the kernel does for genl families.
    pub fn error(&mut self, err: &ErrorMsg) {
        let mut e = err.clone();
        e.request = self.request;
        let mut buf = Vec::with_capacity(64);
        e.emit(&mut buf, self.portid());
        self.send(&buf);
    }

    /// Sends a capped `NLMSG_ERROR` with `errno` (positive) and an optional extack message.
    pub fn errno(&mut self, errno: i32, msg: Option<&str>) {
        let e = ErrorMsg {
            ext_msg: msg.map(str::to_owned),
            ..ErrorMsg::capped(self.request, errno)
        };
        self.error(&e);
    }

    /// Sends a protocol decode error as a capped `NLMSG_ERROR` with extack message and offset
    /// (`e.offset` must already be relative to the start of the request message).
    pub fn fail(&mut self, e: &userdp_protocol::Error) {
        let err = ErrorMsg {
            ext_msg: Some(e.msg.to_owned()),
            // Offset 0 means the error names no attribute (the kernel then sends no OFFS).
            ext_offs: u32::try_from(e.offset).ok().filter(|&o| o != 0),
            ..ErrorMsg::capped(self.request, e.errno)
        };
        self.error(&err);
    }

    /// Sends an ACK (`NLMSG_ERROR` with error 0), for requests with `NLM_F_ACK`.
    pub fn ack(&mut self) {
        let e = ErrorMsg::capped(self.request, 0);
        self.error(&e);
    }

    /// Streams a dump: chunks of at most [`DUMP_CHUNK`] bytes, whole messages only, each sent
    /// with a blocking send, then `NLMSG_DONE` with the final status (appended to the last
    /// chunk if it fits). Returns when the dump is complete or the client has gone.
    pub fn dump(&mut self, cursor: &mut dyn Dump) {
        const DONE_LEN: usize = NLMSG_HDRLEN + 4;
        let (seq, pid) = (self.seq(), self.portid());
        let mut chunk = Vec::with_capacity(DUMP_CHUNK);
        loop {
            if self.closed {
                return;
            }
            chunk.clear();
            let step = cursor.fill(&mut chunk, DUMP_CHUNK);
            let valid = stamp(&mut chunk, 0, seq, pid, NLM_F_MULTI);
            chunk.truncate(valid);
            match step {
                DumpStep::More if chunk.is_empty() => {
                    tracing::error!("dump made no progress; ending it with EMSGSIZE");
                    emit_done(&mut chunk, seq, pid, -EMSGSIZE);
                    self.send(&chunk);
                    return;
                }
                DumpStep::More => self.send(&chunk),
                DumpStep::Done(status) => {
                    if !chunk.is_empty() && chunk.len() + DONE_LEN > DUMP_CHUNK {
                        self.send(&chunk);
                        chunk.clear();
                    }
                    emit_done(&mut chunk, seq, pid, status);
                    self.send(&chunk);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use userdp_protocol::nl::MsgBuilder;

    #[test]
    fn stamp_rewrites_every_message_and_cuts_garbage() {
        let mut buf = Vec::new();
        MsgBuilder::new(&mut buf, 0x20, 0, 0, 0).finish();
        MsgBuilder::new(&mut buf, 0x21, 0x4, 9, 9).finish();
        buf.extend_from_slice(&[200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let valid = stamp(&mut buf, 0, 7, 42, NLM_F_MULTI);
        assert_eq!(valid, 32);
        let hdrs: Vec<_> = messages(&buf[..valid])
            .map(|m| m.unwrap().header)
            .map(|h| (h.kind, h.flags, h.seq, h.pid))
            .collect();
        assert_eq!(hdrs, [(0x20, 2, 7, 42), (0x21, 6, 7, 42)]);
    }
}
