//! A blocking client of the daemon, for the CLI and the tests.
//!
//! It follows the shim's rules from `protocol/PROTOCOL.md`: read HELLO on connect, count one
//! outstanding DONE_MARKER per datagram sent, and treat OVERFLOW as `ENOBUFS`.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use socket2::{Domain, SockAddr, Socket, Type};
use userdp_protocol::nl::{messages, ErrorMsg, NlMsgHdr, NLMSG_DONE, NLMSG_ERROR};
use userdp_protocol::private::{
    Ctrl, CtrlOp, Hello, PrivateMsg, USERDP_MSG_DONE_MARKER, USERDP_MSG_HELLO, USERDP_MSG_OVERFLOW,
};

use crate::sys::socket::{self as sock, MSG_DONTWAIT, POLLIN};

fn proto_err(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_owned())
}

fn first_header(datagram: &[u8]) -> Option<NlMsgHdr> {
    NlMsgHdr::parse(datagram).ok()
}

/// One connection to `userdpd`: an emulated netlink socket.
#[derive(Debug)]
pub struct Client {
    sock: Socket,
    portid: u32,
    seq: u32,
    outstanding: u32,
    buf: Vec<u8>,
}

/// What one received datagram is, for the client's bookkeeping.
enum Received {
    Marker,
    Overflow,
    Data(Vec<u8>),
}

impl Client {
    /// Connects to the daemon at `path` and reads HELLO.
    pub fn connect(path: impl AsRef<Path>) -> io::Result<Client> {
        let sock = Socket::new(Domain::UNIX, Type::SEQPACKET, None)?;
        sock.connect(&SockAddr::unix(path.as_ref())?)?;
        // Room for large requests (64 KiB executes) in one datagram.
        let _ = sock.set_send_buffer_size(1 << 20);
        let mut c = Client {
            sock,
            portid: 0,
            seq: 0,
            outstanding: 0,
            buf: Vec::new(),
        };
        let hello = c.recv_raw(None)?.ok_or_else(|| proto_err("no HELLO"))?;
        let h = first_header(&hello).ok_or_else(|| proto_err("short HELLO"))?;
        if h.kind != USERDP_MSG_HELLO {
            return Err(proto_err("first datagram is not HELLO"));
        }
        let body = hello.get(16..).unwrap_or(&[]);
        c.portid = Hello::parse(body).map_err(|e| proto_err(e.msg))?.portid;
        Ok(c)
    }

    /// The portid the daemon assigned (or the one bound with [`Client::bind`]).
    pub fn portid(&self) -> u32 {
        self.portid
    }

    /// A fresh sequence number (starting at 1, never 0: 0 is for notifications).
    pub fn next_seq(&mut self) -> u32 {
        self.seq = if self.seq >= u32::MAX / 2 {
            1
        } else {
            self.seq + 1
        };
        self.seq
    }

    /// Requests still waiting for their DONE_MARKER.
    pub fn outstanding(&self) -> u32 {
        self.outstanding
    }

    /// Sends one request datagram without waiting for anything.
    pub fn send(&mut self, datagram: &[u8]) -> io::Result<()> {
        sock::send(self.sock.as_fd(), datagram, 0)?;
        self.outstanding += 1;
        Ok(())
    }

    /// Reads one datagram, waiting at most `timeout` (`None`: forever). `Ok(None)` on timeout.
    fn recv_raw(&mut self, timeout: Option<Duration>) -> io::Result<Option<Vec<u8>>> {
        if let Some(t) = timeout {
            let deadline = Instant::now() + t;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
                let rev = sock::poll(&[self.sock.as_fd()], POLLIN, ms)?;
                if rev.first().is_some_and(|&r| r != 0) {
                    break;
                }
                if left.is_zero() {
                    return Ok(None);
                }
            }
        }
        let flags = if timeout.is_some() { MSG_DONTWAIT } else { 0 };
        match sock::recv_datagram(self.sock.as_fd(), &mut self.buf, flags) {
            Ok(0) => Err(io::ErrorKind::ConnectionReset.into()),
            Ok(n) => Ok(Some(self.buf[..n].to_vec())),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn classify(&mut self, d: Vec<u8>) -> Received {
        match first_header(&d).map(|h| h.kind) {
            Some(USERDP_MSG_DONE_MARKER) => {
                self.outstanding = self.outstanding.saturating_sub(1);
                Received::Marker
            }
            Some(USERDP_MSG_OVERFLOW) => Received::Overflow,
            _ => Received::Data(d),
        }
    }

    /// Sends `datagram` and returns every datagram received until its DONE_MARKER (and the
    /// markers of anything sent before). An OVERFLOW seen meanwhile becomes `ENOBUFS` after the
    /// marker.
    pub fn transact(&mut self, datagram: &[u8]) -> io::Result<Vec<Vec<u8>>> {
        self.send(datagram)?;
        let mut out = Vec::new();
        let mut overflow = false;
        while self.outstanding > 0 {
            let d = self
                .recv_raw(None)?
                .ok_or_else(|| proto_err("unexpected timeout"))?;
            match self.classify(d) {
                Received::Marker => {}
                Received::Overflow => overflow = true,
                Received::Data(d) => out.push(d),
            }
        }
        if overflow {
            return Err(io::Error::from_raw_os_error(libc::ENOBUFS));
        }
        Ok(out)
    }

    /// Sends a dump request and iterates over the messages of the dump.
    pub fn dump(&mut self, datagram: &[u8]) -> io::Result<ClientDump<'_>> {
        self.send(datagram)?;
        Ok(ClientDump {
            client: self,
            pending: Vec::new(),
            at: 0,
            status: None,
            finished: false,
        })
    }

    fn ctrl(&mut self, op: CtrlOp, arg: u32) -> io::Result<()> {
        let mut req = Vec::with_capacity(28);
        let seq = self.next_seq();
        Ctrl::request(op, arg).emit_request(&mut req, seq, self.portid);
        let replies = self.transact(&req)?;
        for d in replies {
            let Some(m) = messages(&d).next().and_then(Result::ok) else {
                continue;
            };
            if m.header.seq != seq {
                continue;
            }
            if m.header.kind == NLMSG_ERROR {
                let e = ErrorMsg::parse(m.header.flags, m.payload).map_err(|e| proto_err(e.msg))?;
                return Err(io::Error::from_raw_os_error(-e.error));
            }
            if let Ok(Some(PrivateMsg::Ctrl(c))) = PrivateMsg::parse(&m) {
                if c.error != 0 {
                    return Err(io::Error::from_raw_os_error(-c.error));
                }
                if op == CtrlOp::Bind {
                    self.portid = arg;
                }
                return Ok(());
            }
        }
        Err(proto_err("no reply to control request"))
    }

    /// Joins multicast group `group` (`NETLINK_ADD_MEMBERSHIP`); effective when this returns.
    pub fn join_group(&mut self, group: u32) -> io::Result<()> {
        self.ctrl(CtrlOp::Join, group)
    }

    /// Leaves multicast group `group`.
    pub fn leave_group(&mut self, group: u32) -> io::Result<()> {
        self.ctrl(CtrlOp::Leave, group)
    }

    /// Takes portid `portid` (`EADDRINUSE` if another connection has it).
    pub fn bind(&mut self, portid: u32) -> io::Result<()> {
        self.ctrl(CtrlOp::Bind, portid)
    }

    /// Waits up to `timeout` for the next datagram that is not a DONE_MARKER (a notification,
    /// an upcall, or a reply to something sent with [`Client::send`]). OVERFLOW is returned as
    /// an `ENOBUFS` error, once.
    pub fn recv_timeout(&mut self, timeout: Duration) -> io::Result<Option<Vec<u8>>> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(d) = self.recv_raw(Some(left))? else {
                return Ok(None);
            };
            match self.classify(d) {
                Received::Marker => continue,
                Received::Overflow => return Err(io::Error::from_raw_os_error(libc::ENOBUFS)),
                Received::Data(d) => return Ok(Some(d)),
            }
        }
    }
}

impl AsFd for Client {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

/// Iterator over the messages of one dump: each item is one whole netlink message.
/// Ends after `NLMSG_DONE` (its status is in [`ClientDump::status`]); a request refused before
/// the dump started yields one `Err` with the errno of its `NLMSG_ERROR`.
#[derive(Debug)]
pub struct ClientDump<'c> {
    client: &'c mut Client,
    pending: Vec<u8>,
    at: usize,
    status: Option<i32>,
    finished: bool,
}

impl ClientDump<'_> {
    /// The status from `NLMSG_DONE` (0 or a negative errno), once the dump has ended.
    pub fn status(&self) -> Option<i32> {
        self.status
    }

    fn finish(&mut self) -> io::Result<()> {
        self.finished = true;
        while self.client.outstanding > 0 {
            let d = self
                .client
                .recv_raw(None)?
                .ok_or_else(|| proto_err("unexpected timeout"))?;
            self.client.classify(d);
        }
        Ok(())
    }
}

impl Iterator for ClientDump<'_> {
    type Item = io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.finished {
                return None;
            }
            if let Some(m) = messages(self.pending.get(self.at..).unwrap_or(&[])).next() {
                let m = match m {
                    Ok(m) => m,
                    Err(e) => {
                        self.finished = true;
                        return Some(Err(proto_err(e.msg)));
                    }
                };
                self.at += userdp_protocol::nl::align(m.bytes.len());
                match m.header.kind {
                    NLMSG_DONE => {
                        let s = m
                            .payload
                            .get(..4)
                            .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                        self.status = Some(s);
                        return self.finish().err().map(Err);
                    }
                    NLMSG_ERROR => {
                        let err = ErrorMsg::parse(m.header.flags, m.payload);
                        let r = self.finish();
                        return Some(match (err, r) {
                            (Ok(e), _) if e.error != 0 => {
                                Err(io::Error::from_raw_os_error(-e.error))
                            }
                            (Ok(_), Ok(())) => continue,
                            (Err(e), _) => Err(proto_err(e.msg)),
                            (_, Err(e)) => Err(e),
                        });
                    }
                    _ => return Some(Ok(m.bytes.to_vec())),
                }
            }
            match self.client.recv_raw(None) {
                Ok(Some(d)) => match self.client.classify(d) {
                    Received::Data(d) => {
                        self.pending = d;
                        self.at = 0;
                    }
                    Received::Marker => {
                        if self.client.outstanding == 0 {
                            self.finished = true;
                            return Some(Err(proto_err("dump ended without NLMSG_DONE")));
                        }
                    }
                    Received::Overflow => {
                        return Some(Err(io::Error::from_raw_os_error(libc::ENOBUFS)))
                    }
                },
                Ok(None) => return Some(Err(proto_err("unexpected timeout"))),
                Err(e) => {
                    self.finished = true;
                    return Some(Err(e));
                }
            }
        }
    }
}
