//! Tier 2: the transport, driven in-process on a temporary socket with a synthetic service.

use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use socket2::{Domain, SockAddr, Socket, Type};
use userdp::daemon::{Daemon, DaemonConfig, DaemonHandle};
use userdp::sys::socket::recv_datagram;
use userdp::transport::{Client, Dump, DumpStep, Lost, Peer, Responder, Service, DUMP_CHUNK};
use userdp_protocol::errno::{EADDRINUSE, EINVAL, ENOBUFS, ENOENT};
use userdp_protocol::nl::{
    messages, ErrorMsg, MsgBuilder, NlMsg, NlMsgHdr, NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK,
    NLM_F_CAPPED, NLM_F_DUMP, NLM_F_ECHO, NLM_F_MULTI, NLM_F_REQUEST,
};
use userdp_protocol::private::{
    Hello, USERDP_MSG_DONE_MARKER, USERDP_MSG_HELLO, USERDP_PROTOCOL_VERSION,
};

// Request types understood by the test service.
const ECHO: u16 = 0x20; // reply: one message, same type, same payload
const SILENT: u16 = 0x21; // no reply
const DUMP: u16 = 0x22; // payload: count u32, size u32 → dump of `count` messages
const WHOAMI: u16 = 0x23; // reply payload: uid, pid, cap_net_admin, portid, may_admin
const NOTIFY: u16 = 0x24; // payload: group, count, size → multicast; reply: delivered, dropped
const FAIL: u16 = 0x25; // payload: errno → NLMSG_ERROR with extack "failed on purpose"
const PANIC: u16 = 0x26; // the handler panics

fn u32s(p: &[u8]) -> Vec<u32> {
    p.chunks_exact(4)
        .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn payload_u32s(vals: &[u32]) -> Vec<u8> {
    vals.iter().flat_map(|v| v.to_ne_bytes()).collect()
}

/// Appends one message.
fn put(buf: &mut Vec<u8>, kind: u16, flags: u16, seq: u32, pid: u32, payload: &[u8]) {
    let mut m = MsgBuilder::new(buf, kind, flags, seq, pid);
    m.push(payload);
    m.finish();
}

/// A message of `kind` with a u32 index then filler up to `size` payload bytes.
fn numbered(buf: &mut Vec<u8>, kind: u16, index: u32, size: usize) {
    let mut m = MsgBuilder::new(buf, kind, 0, 0, 0);
    m.push(&index.to_ne_bytes());
    m.push(&vec![0xab; size.saturating_sub(4)]);
    m.finish();
}

struct Synthetic {
    count: u32,
    size: usize,
    next: u32,
}

impl Dump for Synthetic {
    fn fill(&mut self, buf: &mut Vec<u8>, budget: usize) -> DumpStep {
        let msg_len = 16 + self.size.max(4);
        while self.next < self.count && buf.len() + msg_len <= budget {
            numbered(buf, DUMP, self.next, self.size);
            self.next += 1;
        }
        if self.next == self.count {
            DumpStep::Done(0)
        } else {
            DumpStep::More
        }
    }
}

#[derive(Default)]
struct TestService {
    shut_down: AtomicBool,
    disconnects: AtomicUsize,
}

impl Service for TestService {
    fn request(&self, peer: &Peer, msg: &NlMsg<'_>, out: &mut Responder<'_>) {
        let args = u32s(msg.payload);
        let arg = |i: usize| args.get(i).copied().unwrap_or(0);
        match msg.header.kind {
            PANIC => panic!("a handler bug, on purpose"),
            ECHO => {
                let mut b = Vec::new();
                put(&mut b, ECHO, 0, 0, 0, msg.payload);
                out.reply(b);
            }
            SILENT => {}
            DUMP => out.dump(&mut Synthetic {
                count: arg(0),
                size: arg(1) as usize,
                next: 0,
            }),
            WHOAMI => {
                let mut b = Vec::new();
                let vals = [
                    peer.uid,
                    peer.pid as u32,
                    peer.cap_net_admin as u32,
                    peer.portid,
                    peer.may_admin() as u32,
                ];
                put(&mut b, WHOAMI, 0, 0, 0, &payload_u32s(&vals));
                out.reply(b);
            }
            NOTIFY => {
                let echo = msg.header.flags & NLM_F_ECHO != 0;
                let exclude = echo.then(|| out.portid());
                let (mut delivered, mut dropped) = (0, 0);
                for i in 0..arg(1) {
                    let mut b = Vec::new();
                    numbered(&mut b, NOTIFY, i, arg(2) as usize);
                    let r = out.notifier().multicast(arg(0), &b, exclude);
                    delivered += r.delivered as u32;
                    dropped += r.dropped as u32;
                }
                let mut b = Vec::new();
                put(
                    &mut b,
                    NOTIFY,
                    0,
                    0,
                    0,
                    &payload_u32s(&[delivered, dropped]),
                );
                out.reply(b);
            }
            FAIL => out.errno(arg(0) as i32, Some("failed on purpose")),
            _ => out.errno(userdp_protocol::errno::EOPNOTSUPP, None),
        }
        if msg.header.flags & NLM_F_ACK != 0 && !msg.header.is_dump() {
            out.ack();
        }
    }

    fn disconnected(&self, _peer: &Peer) {
        self.disconnects.fetch_add(1, Ordering::SeqCst);
    }

    fn shutdown(&self) {
        self.shut_down.store(true, Ordering::SeqCst);
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "userdp-transport-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Fixture {
    _dir: TempDir,
    path: PathBuf,
    service: Arc<TestService>,
    handle: Option<DaemonHandle>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = TempDir::new();
        let path = dir.0.join("run/userdp.sock");
        let service = Arc::new(TestService::default());
        let handle = Daemon::start(DaemonConfig::new(&path), service.clone()).unwrap();
        Fixture {
            _dir: dir,
            path,
            service,
            handle: Some(handle),
        }
    }

    fn client(&self) -> Client {
        Client::connect(&self.path).unwrap()
    }

    fn handle(&self) -> &DaemonHandle {
        self.handle.as_ref().unwrap()
    }
}

fn request(buf: &mut Vec<u8>, kind: u16, flags: u16, seq: u32, payload: &[u8]) {
    put(buf, kind, NLM_F_REQUEST | flags, seq, 0, payload);
}

fn one_msg(d: &[u8]) -> (NlMsgHdr, Vec<u8>) {
    let all: Vec<_> = messages(d).collect::<Result<_, _>>().unwrap();
    assert_eq!(all.len(), 1, "expected exactly one message in the datagram");
    (all[0].header, all[0].payload.to_vec())
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A raw SEQPACKET connection, to see datagram boundaries and markers the client hides.
fn raw(path: &Path) -> (Socket, u32) {
    let s = Socket::new(Domain::UNIX, Type::SEQPACKET, None).unwrap();
    s.connect(&SockAddr::unix(path).unwrap()).unwrap();
    let mut buf = Vec::new();
    recv_datagram(s.as_fd(), &mut buf, 0).unwrap();
    let (h, p) = one_msg(&buf);
    assert_eq!(h.kind, USERDP_MSG_HELLO);
    let hello = Hello::parse(&p).unwrap();
    assert_eq!(hello.version, USERDP_PROTOCOL_VERSION);
    assert_eq!(h.pid, hello.portid);
    (s, hello.portid)
}

/// Every datagram up to and including the DONE_MARKER.
fn until_marker(s: &Socket) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let mut buf = Vec::new();
        assert!(recv_datagram(s.as_fd(), &mut buf, 0).unwrap() > 0);
        let kind = NlMsgHdr::parse(&buf).unwrap().kind;
        out.push(buf);
        if kind == USERDP_MSG_DONE_MARKER {
            return out;
        }
    }
}

#[test]
fn hello_assigns_unique_valid_portids() {
    let fx = Fixture::new();
    let clients: Vec<Client> = (0..8).map(|_| fx.client()).collect();
    let mut pids: Vec<u32> = clients.iter().map(Client::portid).collect();
    assert!(pids.iter().all(|&p| p != 0 && p != u32::MAX));
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), 8);
    assert_eq!(fx.handle().notifier().unwrap().connections(), 8);
}

#[test]
fn replies_carry_request_seq_and_connection_portid() {
    let fx = Fixture::new();
    let mut c = fx.client();
    let mut req = Vec::new();
    // nlmsg_pid in the request is a lie (12345): the reply uses the connection's portid.
    put(&mut req, ECHO, NLM_F_REQUEST, 77, 12345, b"ping");
    let replies = c.transact(&req).unwrap();
    assert_eq!(replies.len(), 1);
    let (h, p) = one_msg(&replies[0]);
    assert_eq!((h.kind, h.seq, h.pid), (ECHO, 77, c.portid()));
    assert_eq!(p, b"ping");
}

#[test]
fn batched_requests_are_answered_in_order_then_one_marker() {
    let fx = Fixture::new();
    let (s, portid) = raw(&fx.path);
    let mut req = Vec::new();
    request(&mut req, ECHO, 0, 1, b"one!");
    request(&mut req, SILENT, 0, 2, &[]);
    request(&mut req, ECHO, 0, 3, b"three");
    request(&mut req, FAIL, 0, 4, &payload_u32s(&[ENOENT as u32]));
    request(&mut req, SILENT, NLM_F_ACK, 5, &[]);
    // Not a request (no NLM_F_REQUEST): skipped, as netlink_rcv_skb does.
    MsgBuilder::new(&mut req, ECHO, 0, 6, 0).finish();
    userdp::sys::socket::send(s.as_fd(), &req, 0).unwrap();
    let got = until_marker(&s);
    let summary: Vec<(u16, u32, u32)> = got
        .iter()
        .map(|d| one_msg(d).0)
        .map(|h| (h.kind, h.seq, h.pid))
        .collect();
    assert_eq!(
        summary,
        [
            (ECHO, 1, portid),
            (ECHO, 3, portid),
            (NLMSG_ERROR, 4, portid),
            (NLMSG_ERROR, 5, portid),
            (USERDP_MSG_DONE_MARKER, 1, portid),
        ]
    );
    let (h, p) = one_msg(&got[2]);
    let e = ErrorMsg::parse(h.flags, &p).unwrap();
    assert_eq!(e.error, -ENOENT);
    assert_eq!(e.ext_msg.as_deref(), Some("failed on purpose"));
    assert_ne!(h.flags & NLM_F_CAPPED, 0);
    let (h, p) = one_msg(&got[3]);
    assert_eq!(ErrorMsg::parse(h.flags, &p).unwrap().error, 0, "ACK");
    // A datagram with no response still gets its marker.
    let mut req = Vec::new();
    request(&mut req, SILENT, 0, 9, &[]);
    userdp::sys::socket::send(s.as_fd(), &req, 0).unwrap();
    let got = until_marker(&s);
    assert_eq!(got.len(), 1);
    assert_eq!(one_msg(&got[0]).0.seq, 9);
}

#[test]
fn malformed_datagrams_get_einval_then_marker() {
    let fx = Fixture::new();
    let (s, portid) = raw(&fx.path);
    // A valid echo, then a header claiming 100 bytes in a 20-byte remainder.
    let mut req = Vec::new();
    request(&mut req, ECHO, 0, 1, b"ok");
    let bad = NlMsgHdr {
        len: 100,
        kind: ECHO,
        flags: NLM_F_REQUEST,
        seq: 2,
        pid: 0,
    };
    bad.emit(&mut req);
    req.extend_from_slice(&[0; 4]);
    userdp::sys::socket::send(s.as_fd(), &req, 0).unwrap();
    let got = until_marker(&s);
    assert_eq!(got.len(), 3);
    assert_eq!(one_msg(&got[0]).0.kind, ECHO);
    let (h, p) = one_msg(&got[1]);
    assert_eq!((h.kind, h.seq, h.pid), (NLMSG_ERROR, 2, portid));
    let e = ErrorMsg::parse(h.flags, &p).unwrap();
    assert_eq!((e.error, e.request), (-EINVAL, bad));
    // Shorter than a header: EINVAL echoing the bytes there were.
    userdp::sys::socket::send(s.as_fd(), &[8, 0, 0, 0, 0x20, 0], 0).unwrap();
    let got = until_marker(&s);
    assert_eq!(got.len(), 2);
    let (h, p) = one_msg(&got[0]);
    let e = ErrorMsg::parse(h.flags, &p).unwrap();
    assert_eq!((e.error, e.request.len, e.request.kind), (-EINVAL, 8, 0x20));
}

#[test]
fn dump_larger_than_socket_buffer_arrives_whole_in_chunks() {
    let fx = Fixture::new();
    let (s, portid) = raw(&fx.path);
    let (count, size) = (20_000u32, 1000u32); // ≈ 20 MB, several times the 8 MiB send buffer
    let mut req = Vec::new();
    request(
        &mut req,
        DUMP,
        NLM_F_DUMP | NLM_F_ACK,
        42,
        &payload_u32s(&[count, size]),
    );
    userdp::sys::socket::send(s.as_fd(), &req, 0).unwrap();
    // Let the daemon fill the buffer and block before reading anything.
    std::thread::sleep(Duration::from_millis(200));
    let got = until_marker(&s);
    let mut next = 0u32;
    let mut done = None;
    for (i, d) in got.iter().enumerate() {
        assert!(d.len() <= DUMP_CHUNK, "datagram {i} is {} bytes", d.len());
        for m in messages(d) {
            let m = m.unwrap();
            let h = m.header;
            if h.kind == USERDP_MSG_DONE_MARKER {
                assert_eq!(i, got.len() - 1, "marker is last");
                assert_eq!(d.len(), 16, "marker travels alone");
                continue;
            }
            assert_eq!((h.seq, h.pid), (42, portid));
            assert_ne!(h.flags & NLM_F_MULTI, 0);
            assert!(done.is_none(), "nothing after NLMSG_DONE");
            if h.kind == NLMSG_DONE {
                done = Some((i, m.payload.to_vec()));
                continue;
            }
            assert_eq!(h.kind, DUMP);
            assert_eq!(m.payload.len(), size as usize);
            assert_eq!(u32s(&m.payload[..4])[0], next, "in order");
            next += 1;
        }
    }
    assert_eq!(next, count);
    let (at, status) = done.expect("NLMSG_DONE");
    assert_eq!(status, 0i32.to_ne_bytes());
    assert_eq!(at, got.len() - 2, "NLMSG_DONE rides in the last chunk");
    assert!(got[at].len() > 20, "appended to a data chunk, not alone");
}

#[test]
fn client_dump_iterates_and_reports_status() {
    let fx = Fixture::new();
    let mut c = fx.client();
    let mut req = Vec::new();
    let seq = c.next_seq();
    request(
        &mut req,
        DUMP,
        NLM_F_DUMP | NLM_F_ACK,
        seq,
        &payload_u32s(&[100, 64]),
    );
    let mut d = c.dump(&req).unwrap();
    let idx: Vec<u32> = d.by_ref().map(|m| u32s(&m.unwrap()[16..20])[0]).collect();
    assert_eq!(idx, (0..100).collect::<Vec<_>>());
    assert_eq!(d.status(), Some(0));
    drop(d);
    assert_eq!(c.outstanding(), 0);
    // An empty dump is NLMSG_DONE alone.
    let mut req = Vec::new();
    request(&mut req, DUMP, NLM_F_DUMP, 3, &payload_u32s(&[0, 64]));
    let replies = c.transact(&req).unwrap();
    assert_eq!(replies.len(), 1);
    assert_eq!(one_msg(&replies[0]).0.kind, NLMSG_DONE);
}

#[test]
fn client_leaving_mid_dump_costs_nothing() {
    let fx = Fixture::new();
    let notifier = fx.handle().notifier().unwrap().clone();
    let (s, portid) = raw(&fx.path);
    let mut req = Vec::new();
    request(
        &mut req,
        DUMP,
        NLM_F_DUMP,
        1,
        &payload_u32s(&[50_000, 1000]),
    );
    userdp::sys::socket::send(s.as_fd(), &req, 0).unwrap();
    let mut buf = Vec::new();
    recv_datagram(s.as_fd(), &mut buf, 0).unwrap();
    assert_eq!(NlMsgHdr::parse(&buf).unwrap().kind, DUMP);
    drop(s);
    wait_until("the dumping connection is gone", || {
        !notifier.is_connected(portid)
    });
    // The service hears of the disconnect just after the portid is freed.
    wait_until("the service saw the disconnect", || {
        fx.service.disconnects.load(Ordering::SeqCst) == 1
    });
    let mut c = fx.client();
    let mut req = Vec::new();
    request(&mut req, ECHO, 0, 5, b"still here");
    assert_eq!(one_msg(&c.transact(&req).unwrap()[0]).1, b"still here");
    // The freed portid can be taken again.
    c.bind(portid).unwrap();
    assert_eq!(c.portid(), portid);
}

/// Asks the service to multicast; returns (delivered, dropped) and how many of the
/// notifications reached the requester itself.
fn notify3(c: &mut Client, group: u32, count: u32, size: u32, echo: bool) -> (u32, u32, usize) {
    let mut req = Vec::new();
    let seq = c.next_seq();
    let flags = if echo { NLM_F_ECHO } else { 0 };
    request(
        &mut req,
        NOTIFY,
        flags,
        seq,
        &payload_u32s(&[group, count, size]),
    );
    let replies = c.transact(&req).unwrap();
    let (mine, own): (Vec<_>, Vec<_>) = replies.iter().partition(|d| one_msg(d).0.seq == seq);
    assert_eq!(mine.len(), 1);
    let v = u32s(&one_msg(mine[0]).1);
    (v[0], v[1], own.len())
}

fn notify(c: &mut Client, group: u32, count: u32, size: u32, echo: bool) -> (u32, u32) {
    let (d, x, _) = notify3(c, group, count, size, echo);
    (d, x)
}

#[test]
fn multicast_reaches_members_only_excluding_the_echo_requester() {
    let fx = Fixture::new();
    let (mut m1, mut m2, mut other, mut req) = (fx.client(), fx.client(), fx.client(), fx.client());
    m1.join_group(7).unwrap();
    m2.join_group(7).unwrap();
    other.join_group(8).unwrap();
    req.join_group(7).unwrap();
    assert_eq!(notify(&mut req, 7, 1, 8, true), (2, 0));
    for m in [&mut m1, &mut m2] {
        let d = m.recv_timeout(Duration::from_secs(5)).unwrap().unwrap();
        let (h, p) = one_msg(&d);
        assert_eq!((h.kind, h.seq, h.pid), (NOTIFY, 0, 0));
        assert_eq!(u32s(&p[..4]), [0]);
    }
    let quiet = Duration::from_millis(200);
    assert_eq!(other.recv_timeout(quiet).unwrap(), None);
    assert_eq!(
        req.recv_timeout(quiet).unwrap(),
        None,
        "echo requester excluded"
    );
    // Without NLM_F_ECHO the requesting member gets its copy too.
    // (It arrives before the reply: the multicast happens while the request is handled.)
    assert_eq!(notify3(&mut req, 7, 1, 8, false), (3, 0, 1));
    for m in [&mut m1, &mut m2] {
        assert!(m.recv_timeout(Duration::from_secs(5)).unwrap().is_some());
    }
    m2.leave_group(7).unwrap();
    assert_eq!(notify(&mut req, 7, 1, 8, true), (1, 0));
    assert!(m1.recv_timeout(Duration::from_secs(5)).unwrap().is_some());
    assert!(m1.recv_timeout(quiet).unwrap().is_none());
    assert_eq!(m2.recv_timeout(quiet).unwrap(), None);
    assert_eq!(m1.join_group(0).unwrap_err().raw_os_error(), Some(EINVAL));
}

#[test]
fn flooded_member_gets_overflow_after_what_was_queued() {
    let fx = Fixture::new();
    let mut member = fx.client();
    let mut sender = fx.client();
    member.join_group(9).unwrap();
    let count = 5000;
    let (delivered, dropped) = notify(&mut sender, 9, count, 4000, false);
    assert_eq!(delivered + dropped, count);
    assert!(dropped > 0, "20 MB must not fit the member's queue");
    let mut seen = 0;
    loop {
        match member.recv_timeout(Duration::from_secs(5)) {
            Ok(Some(d)) => {
                assert_eq!(u32s(&one_msg(&d).1[..4])[0], seen, "queued ones in order");
                seen += 1;
            }
            Ok(None) => panic!("no OVERFLOW after {seen} messages"),
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(ENOBUFS));
                break;
            }
        }
    }
    assert_eq!(seen, delivered);
    // One OVERFLOW per episode, and the member works normally afterwards.
    assert_eq!(
        member.recv_timeout(Duration::from_millis(200)).unwrap(),
        None
    );
    assert_eq!(notify(&mut sender, 9, 1, 8, false), (1, 0));
    assert!(member
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .is_some());
}

#[test]
fn upcalls_go_to_the_portid_without_blocking() {
    let fx = Fixture::new();
    let notifier = fx.handle().notifier().unwrap().clone();
    let mut c = fx.client();
    let mut up = Vec::new();
    numbered(&mut up, 0x30, 7, 64);
    notifier.send_upcall(c.portid(), &up).unwrap();
    assert_eq!(
        c.recv_timeout(Duration::from_secs(5)).unwrap(),
        Some(up.clone())
    );
    assert_eq!(notifier.send_upcall(0xdead, &up), Err(Lost::NoConnection));
    // Nobody reads: the queue fills, sends fail fast with Full, and OVERFLOW is reported.
    let mut big = Vec::new();
    numbered(&mut big, 0x30, 0, 8000);
    let t = Instant::now();
    let mut lost = 0;
    for _ in 0..5000 {
        if notifier.send_upcall(c.portid(), &big) == Err(Lost::Full) {
            lost += 1;
        }
    }
    assert!(lost > 0);
    assert!(t.elapsed() < Duration::from_secs(10));
    let mut got = 0;
    let err = loop {
        match c.recv_timeout(Duration::from_secs(5)) {
            Ok(Some(_)) => got += 1,
            Ok(None) => panic!("no OVERFLOW"),
            Err(e) => break e,
        }
    };
    assert_eq!(err.raw_os_error(), Some(ENOBUFS));
    assert_eq!(got + lost, 5000);
}

#[test]
fn hundred_clients_at_once() {
    let fx = Fixture::new();
    let path = fx.path.clone();
    let threads: Vec<_> = (0..100)
        .map(|i| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(&path).unwrap();
                for j in 0..10u32 {
                    let mut req = Vec::new();
                    let seq = c.next_seq();
                    request(&mut req, ECHO, 0, seq, &payload_u32s(&[i, j]));
                    let r = c.transact(&req).unwrap();
                    let (h, p) = one_msg(&r[0]);
                    assert_eq!((h.seq, h.pid), (seq, c.portid()));
                    assert_eq!(u32s(&p), [i, j]);
                }
                c.portid()
            })
        })
        .collect();
    let mut pids: Vec<u32> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), 100);
}

#[test]
fn client_chosen_portid_is_exclusive() {
    let fx = Fixture::new();
    let notifier = fx.handle().notifier().unwrap().clone();
    let (mut a, mut b) = (fx.client(), fx.client());
    let taken = b.portid();
    assert_eq!(a.bind(taken).unwrap_err().raw_os_error(), Some(EADDRINUSE));
    a.bind(555_555).unwrap();
    assert!(notifier.is_connected(555_555));
    let mut req = Vec::new();
    request(&mut req, ECHO, 0, 1, &[]);
    assert_eq!(one_msg(&a.transact(&req).unwrap()[0]).0.pid, 555_555);
    assert_eq!(
        b.bind(555_555).unwrap_err().raw_os_error(),
        Some(EADDRINUSE)
    );
    assert_eq!(b.bind(0).unwrap_err().raw_os_error(), Some(EINVAL));
    assert_eq!(b.bind(u32::MAX).unwrap_err().raw_os_error(), Some(EINVAL));
    a.bind(555_555).unwrap(); // rebinding to one's own portid is fine
    drop(a);
    wait_until("portid 555555 is free", || !notifier.is_connected(555_555));
    b.bind(555_555).unwrap();
    assert!(!notifier.is_connected(taken), "old portid released");
}

fn whoami(c: &mut Client) -> Vec<u32> {
    let mut req = Vec::new();
    let seq = c.next_seq();
    request(&mut req, WHOAMI, 0, seq, &[]);
    u32s(&one_msg(&c.transact(&req).unwrap()[0]).1)
}

const CHILD_ENV: &str = "USERDP_TEST_CHILD_SOCKET";

/// Not a test on its own: the body the unprivileged child runs (see below).
#[test]
#[ignore = "helper run by peer_credentials_distinguish_root_and_nobody as uid 65534"]
fn child_whoami() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        eprintln!(
            "child_whoami: nothing to do outside peer_credentials_distinguish_root_and_nobody"
        );
        return;
    };
    let mut c = Client::connect(path).unwrap();
    let v = whoami(&mut c);
    println!("WHOAMI {} {} {} {}", v[0], v[1], v[2], v[4]);
}

#[test]
fn peer_credentials_distinguish_root_and_nobody() {
    let fx = Fixture::new();
    let mut c = fx.client();
    let v = whoami(&mut c);
    let my_uid = std::fs::metadata("/proc/self").unwrap().uid();
    assert_eq!(v[0], my_uid);
    assert_eq!(v[1], std::process::id());
    assert_eq!(v[3], c.portid());
    if my_uid != 0 {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI runs as root: the unprivileged path must be tested"
        );
        eprintln!("SKIPPED: unprivileged peer test needs root to drop to uid 65534");
        assert_eq!(v[4], v[2], "non-root: may_admin iff CAP_NET_ADMIN");
        return;
    }
    assert_eq!(
        (v[2], v[4]),
        (1, 1),
        "root has CAP_NET_ADMIN and may administer"
    );
    // Let nobody reach the socket through its group (the file is 0660).
    std::os::unix::fs::chown(&fx.path, None, Some(65534)).unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_whoami",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &fx.path)
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("WHOAMI ").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("child printed no WHOAMI: {stdout}"));
    let f: Vec<&str> = line.split(' ').collect();
    assert_eq!(f[0], "65534", "uid from SO_PEERCRED");
    assert_eq!(
        (f[2], f[3]),
        ("0", "0"),
        "no CAP_NET_ADMIN, may not administer"
    );
}

use std::os::unix::process::CommandExt as _;

#[test]
fn second_daemon_refuses_and_stale_socket_is_replaced() {
    let fx = Fixture::new();
    let err = Daemon::start(
        DaemonConfig::new(&fx.path),
        Arc::new(TestService::default()),
    )
    .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    assert!(
        err.to_string().contains("already serving"),
        "clear message: {err}"
    );
    // The first daemon still answers.
    let mut c = fx.client();
    let mut req = Vec::new();
    request(&mut req, ECHO, 0, 1, &[]);
    assert_eq!(c.transact(&req).unwrap().len(), 1);

    // A socket file nobody listens on is stale: replaced.
    let dir = TempDir::new();
    let stale = dir.0.join("stale.sock");
    drop(
        Socket::new(Domain::UNIX, Type::SEQPACKET, None).and_then(|s| {
            s.bind(&SockAddr::unix(&stale)?)?;
            Ok(s)
        }),
    );
    assert!(stale.exists());
    let h = Daemon::start(DaemonConfig::new(&stale), Arc::new(TestService::default())).unwrap();
    Client::connect(&stale).unwrap();
    h.shutdown();
    // A regular file is never replaced.
    std::fs::write(&stale, b"not a socket").unwrap();
    let err =
        Daemon::start(DaemonConfig::new(&stale), Arc::new(TestService::default())).unwrap_err();
    assert!(err.to_string().contains("not a socket"), "{err}");
}

#[test]
fn socket_file_modes_pidfile_and_shutdown_hook() {
    let dir = TempDir::new();
    let path = dir.0.join("a/b/userdp.sock");
    let pidfile = dir.0.join("userdpd.pid");
    let service = Arc::new(TestService::default());
    let mut cfg = DaemonConfig::new(&path);
    cfg.pidfile = Some(pidfile.clone());
    let h = Daemon::start(cfg, service.clone()).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&path), 0o660);
    assert_eq!(mode(&dir.0.join("a/b")), 0o755);
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap(),
        format!("{}\n", std::process::id())
    );
    // A client parked in the middle of a big dump must not hold up shutdown.
    let (s, _) = raw(&path);
    let mut req = Vec::new();
    request(
        &mut req,
        DUMP,
        NLM_F_DUMP,
        1,
        &payload_u32s(&[50_000, 1000]),
    );
    userdp::sys::socket::send(s.as_fd(), &req, 0).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(!service.shut_down.load(Ordering::SeqCst));
    let t = Instant::now();
    h.shutdown();
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(
        service.shut_down.load(Ordering::SeqCst),
        "Service::shutdown called"
    );
    assert!(!path.exists(), "socket removed");
    assert!(!pidfile.exists(), "pidfile removed");
    let mut buf = Vec::new();
    // The parked client sees the end of the stream after whatever was queued.
    while recv_datagram(s.as_fd(), &mut buf, 0).unwrap() > 0 {}
}

#[test]
fn a_panicking_handler_costs_one_request_not_the_connection() {
    let fx = Fixture::new();
    let mut c = fx.client();
    let mut req = Vec::new();
    request(&mut req, PANIC, 0, 1, b"");
    let replies = c.transact(&req).unwrap();
    let (h, p) = one_msg(&replies[0]);
    assert_eq!(h.kind, NLMSG_ERROR);
    assert_eq!(ErrorMsg::parse(h.flags, &p).unwrap().error, -libc::EIO);
    let mut req = Vec::new();
    request(&mut req, ECHO, 0, 2, b"still here");
    assert_eq!(one_msg(&c.transact(&req).unwrap()[0]).1, b"still here");
}
