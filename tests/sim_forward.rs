//! Simulation tier: memory ports, real packet threads. Frames injected on one port come out of
//! another exactly as the flow's actions say; misses go up as byte-exact upcalls.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use userdp::daemon::{Daemon, DaemonConfig, DaemonHandle};
use userdp::dp::{DpConfig, Registry, FAMILY_DATAPATH, FAMILY_FLOW, FAMILY_PACKET, FAMILY_VPORT};
use userdp::port::dummy::DummyPort;
use userdp::transport::Client;
use userdp_protocol::nl::{
    messages, ErrorMsg, NlaWriter, NLMSG_ERROR, NLM_F_CREATE, NLM_F_ECHO, NLM_F_REQUEST,
};
use userdp_protocol::ovs::common::RawAttrs;
use userdp_protocol::ovs::datapath::{DatapathMsg, OvsDpCmd, OVS_DP_F_UNALIGNED};
use userdp_protocol::ovs::flow::{FlowMsg, OvsFlowCmd};
use userdp_protocol::ovs::key::Key;
use userdp_protocol::ovs::packet::{OvsPacketCmd, PacketMsg};
use userdp_protocol::ovs::vport::{OvsVportCmd, OvsVportType, VportMsg};
use userdp_protocol::text::action::parse_actions;
use userdp_protocol::text::key::{format_key, parse_key};

struct Sim {
    reg: Arc<Registry>,
    _daemon: DaemonHandle,
    _dir: PathBuf,
    c: Client,
    dp: i32,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

fn sim(ports: &[&str]) -> Sim {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "userdp-sim-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let reg = Arc::new(Registry::new(DpConfig::dummy()));
    let daemon = Daemon::start(DaemonConfig::new(dir.join("sock")), reg.clone()).unwrap();
    let mut c = Client::connect(dir.join("sock")).unwrap();
    let pid = c.portid();
    let r = request(&mut c, |b, seq, p| {
        let mut m = DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_NEW, 0);
        m.name = Some("sim".into());
        m.upcall_pid = Some(pid);
        m.user_features = Some(OVS_DP_F_UNALIGNED);
        m.emit(b, FAMILY_DATAPATH, NLM_F_REQUEST | NLM_F_ECHO, seq, p);
    })
    .unwrap();
    let dp = DatapathMsg::parse(&r).unwrap().dp_ifindex;
    for name in ports {
        request(&mut c, |b, seq, p| {
            let mut m = VportMsg::new(OvsVportCmd::OVS_VPORT_CMD_NEW, dp);
            m.name = Some((*name).into());
            m.kind = Some(OvsVportType::OVS_VPORT_TYPE_NETDEV);
            m.upcall_pids = Some(vec![pid]);
            m.emit(b, FAMILY_VPORT, NLM_F_REQUEST | NLM_F_ECHO, seq, p);
        })
        .unwrap();
    }
    Sim {
        reg,
        _daemon: daemon,
        _dir: dir,
        c,
        dp,
    }
}

fn request(c: &mut Client, build: impl FnOnce(&mut Vec<u8>, u32, u32)) -> Result<Vec<u8>, i32> {
    let mut buf = Vec::new();
    let seq = c.next_seq();
    build(&mut buf, seq, c.portid());
    let replies = c.transact(&buf).unwrap();
    let Some(d) = replies.first() else {
        return Ok(Vec::new());
    };
    let m = messages(d).next().unwrap().unwrap();
    if m.header.kind == NLMSG_ERROR {
        return Err(-ErrorMsg::parse(m.header.flags, m.payload).unwrap().error);
    }
    Ok(m.payload.to_vec())
}

fn attrs(k: &Key) -> RawAttrs {
    let mut b = Vec::new();
    k.emit(&mut NlaWriter::new(&mut b));
    RawAttrs::new(b)
}

impl Sim {
    fn port(&self, name: &str) -> DummyPort {
        self.reg.dummy_port(name).expect("a dummy port")
    }
    fn flow(&mut self, cmd: OvsFlowCmd, key: &str, actions: Option<&str>) -> Result<Vec<u8>, i32> {
        let (k, m) = parse_key(key).unwrap();
        let mut f = FlowMsg::new(cmd, self.dp);
        f.ufid = Some(
            key.bytes()
                .take(16)
                .chain(std::iter::repeat(0))
                .take(16)
                .collect(),
        );
        f.key = Some(attrs(&k));
        f.mask = Some(attrs(&m));
        f.actions = actions.map(|a| {
            let mut b = Vec::new();
            parse_actions(a).unwrap().emit(&mut NlaWriter::new(&mut b));
            RawAttrs::new(b)
        });
        let flags = if cmd == OvsFlowCmd::OVS_FLOW_CMD_NEW {
            NLM_F_REQUEST | NLM_F_CREATE
        } else {
            NLM_F_REQUEST | NLM_F_ECHO
        };
        request(&mut self.c, |b, seq, p| {
            f.emit(b, FAMILY_FLOW, flags, seq, p)
        })
    }
    fn stats(&mut self, key: &str) -> (u64, u64) {
        let r = self.flow(OvsFlowCmd::OVS_FLOW_CMD_GET, key, None).unwrap();
        FlowMsg::parse(&r)
            .unwrap()
            .stats
            .map_or((0, 0), |s| (s.n_packets, s.n_bytes))
    }
    fn dp_stats(&mut self) -> (u64, u64, u64) {
        let r = request(&mut self.c, |b, seq, p| {
            let mut m = DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_GET, 0);
            m.name = Some("sim".into());
            m.emit(b, FAMILY_DATAPATH, NLM_F_REQUEST, seq, p);
        })
        .unwrap();
        let s = DatapathMsg::parse(&r).unwrap().stats.unwrap();
        (s.n_hit, s.n_missed, s.n_lost)
    }
}

fn wait_output(port: &DummyPort, n: usize) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < deadline {
        out.extend(port.take_output());
        std::thread::sleep(Duration::from_millis(2));
    }
    out
}

/// A UDP/IPv4 frame 10.0.0.1:1 -> 10.0.0.2:2 with a valid IPv4 header checksum.
fn udp_frame(src_last: u8) -> Vec<u8> {
    let mut f = vec![
        0x00, 0x00, 0x00, 0x00, 0x00, 0x02, // dst MAC
        0x00, 0x00, 0x00, 0x00, 0x00, 0x01, // src MAC
        0x08, 0x00, // IPv4
        0x45, 0x00, 0x00, 0x20, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00,
        0x00, // ver/ihl .. proto 17, csum
        10, 0, 0, src_last, 10, 0, 0, 2, // addresses
        0x00, 0x01, 0x00, 0x02, 0x00, 0x0c, 0x00, 0x00, // UDP 1 -> 2, len 12, no checksum
        0xde, 0xad, 0xbe, 0xef, // payload
    ];
    let sum = userdp_protocol::wire::checksum::checksum(&f[14..34]);
    f[24..26].copy_from_slice(&sum.to_be_bytes());
    f
}

/// Ethernet 00:..:01 -> 00:..:02 and an IPv4 header 10.0.0.1 -> 10.0.0.2 (DF, TTL 64, no
/// checksum) of `total` bytes with `id` and `proto`: the start of a GSO super-frame.
fn eth_ipv4(total: u16, id: u16, proto: u8) -> Vec<u8> {
    let mut f = vec![0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00];
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&id.to_be_bytes());
    f.extend_from_slice(&[0x40, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    f
}

const FLOW: &str = "in_port(1),eth(src=00:00:00:00:00:01,dst=00:00:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1,dst=2)";

#[test]
fn a_flow_forwards_injected_frames_and_counts_them() {
    let mut s = sim(&["p1", "p2"]);
    s.flow(OvsFlowCmd::OVS_FLOW_CMD_NEW, FLOW, Some("2"))
        .unwrap();
    let (p1, p2) = (s.port("p1"), s.port("p2"));
    let frame = udp_frame(1);
    for _ in 0..3 {
        assert!(p1.inject(&frame));
    }
    let out = wait_output(&p2, 3);
    assert_eq!(out, vec![frame.clone(); 3], "forwarded byte for byte");
    assert!(p1.take_output().is_empty());
    assert_eq!(s.stats(FLOW), (3, 3 * frame.len() as u64));
    let (hit, missed, _) = s.dp_stats();
    assert_eq!((hit, missed), (3, 0));
}

#[test]
fn every_output_of_a_flow_gets_the_frame_as_it_was_at_that_point() {
    // The last output takes the packet's buffer instead of copying it; the earlier ones copy.
    // Over many bursts the traded buffers must keep every frame whole and in order.
    let mut s = sim(&["p1", "p2", "p3"]);
    s.flow(OvsFlowCmd::OVS_FLOW_CMD_NEW, FLOW, Some("2,trunc(30),3"))
        .unwrap();
    let (p1, p2, p3) = (s.port("p1"), s.port("p2"), s.port("p3"));
    let frames: Vec<Vec<u8>> = (0..300u32)
        .map(|i| {
            let mut f = udp_frame(1);
            f[42..46].copy_from_slice(&i.to_be_bytes());
            f
        })
        .collect();
    let mut to2 = Vec::new();
    let mut to3 = Vec::new();
    for chunk in frames.chunks(50) {
        for f in chunk {
            assert!(p1.inject(f));
        }
        to2.extend(wait_output(&p2, chunk.len()));
        to3.extend(wait_output(&p3, chunk.len()));
    }
    assert_eq!(to2, frames, "the first output: whole frames, in order");
    let cut: Vec<Vec<u8>> = frames.iter().map(|f| f[..30].to_vec()).collect();
    assert_eq!(to3, cut, "the last output: truncated to 30 bytes, in order");
    assert_eq!(s.stats(FLOW).0, 300);
}

#[test]
fn a_lone_packet_after_a_stream_wakes_the_thread() {
    // While a stream flows the thread naps with its queues out of epoll; once the stream
    // stops it must put them back before sleeping, or the next packet would wait for the
    // sleep's 1 s timeout. 500 ms is far above a wake-up and far below that timeout.
    let mut s = sim(&["p1", "p2"]);
    s.flow(OvsFlowCmd::OVS_FLOW_CMD_NEW, FLOW, Some("2"))
        .unwrap();
    let (p1, p2) = (s.port("p1"), s.port("p2"));
    let frame = udp_frame(1);
    for round in 0..3 {
        for _ in 0..2000 {
            assert!(p1.inject(&frame));
        }
        assert_eq!(
            wait_output(&p2, 2000).len(),
            2000,
            "round {round}: the stream"
        );
        std::thread::sleep(Duration::from_millis(20));
        let sent = Instant::now();
        assert!(p1.inject(&frame));
        let mut got = Vec::new();
        while got.is_empty() && sent.elapsed() < Duration::from_millis(500) {
            got = p2.take_output();
            std::thread::sleep(Duration::from_micros(200));
        }
        assert_eq!(
            got.len(),
            1,
            "round {round}: the lone packet, {:?} after",
            sent.elapsed()
        );
    }
}

#[test]
fn a_miss_goes_up_as_a_byte_exact_upcall() {
    let mut s = sim(&["p1", "p2"]);
    let p1 = s.port("p1");
    let frame = udp_frame(9);
    assert!(p1.inject(&frame));
    let up =
        s.c.recv_timeout(Duration::from_secs(5))
            .unwrap()
            .expect("a MISS upcall");
    let m = messages(&up).next().unwrap().unwrap();
    assert_eq!(
        (m.header.kind, m.header.seq, m.header.pid),
        (FAMILY_PACKET, 0, 0)
    );
    let u = PacketMsg::parse(m.payload).unwrap();
    assert_eq!(
        (u.cmd, u.dp_ifindex),
        (OvsPacketCmd::OVS_PACKET_CMD_MISS, s.dp)
    );
    assert_eq!(u.packet.as_deref(), Some(&frame[..]));
    assert_eq!(u.hash, Some(0));
    let key = Key::parse(&u.key.unwrap().bytes, 0).unwrap();
    let mut text = String::new();
    format_key(&key, None, false, &mut text);
    assert_eq!(
        text,
        "recirc_id(0),dp_hash(0),skb_priority(0),in_port(1),skb_mark(0),ct_state(0),ct_zone(),ct_mark(),ct_label(),eth(src=00:00:00:00:00:01,dst=00:00:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.9,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1,dst=2)"
    );
    // UNALIGNED: nlmsg_len is the exact size, unpadded.
    assert_eq!(m.header.len as usize, up.len());
    assert_eq!(s.dp_stats().1, 1);
}

#[test]
fn deleting_or_modifying_a_flow_takes_effect_on_the_next_packet() {
    let mut s = sim(&["p1", "p2", "p3"]);
    s.flow(OvsFlowCmd::OVS_FLOW_CMD_NEW, FLOW, Some("2"))
        .unwrap();
    let (p1, p2, p3) = (s.port("p1"), s.port("p2"), s.port("p3"));
    let frame = udp_frame(1);
    p1.inject(&frame);
    assert_eq!(wait_output(&p2, 1).len(), 1);
    // Modify: same flow, new actions (NEW without CREATE is a modify).
    let (k, m) = parse_key(FLOW).unwrap();
    let mut f = FlowMsg::new(OvsFlowCmd::OVS_FLOW_CMD_SET, s.dp);
    f.ufid = Some(FLOW.bytes().take(16).collect());
    f.key = Some(attrs(&k));
    f.mask = Some(attrs(&m));
    let mut b = Vec::new();
    parse_actions("3")
        .unwrap()
        .emit(&mut NlaWriter::new(&mut b));
    f.actions = Some(RawAttrs::new(b));
    request(&mut s.c, |b, seq, p| {
        f.emit(b, FAMILY_FLOW, NLM_F_REQUEST, seq, p)
    })
    .unwrap();
    p1.inject(&frame);
    assert_eq!(
        wait_output(&p3, 1).len(),
        1,
        "the modified actions apply at once"
    );
    assert!(p2.take_output().is_empty());
    // Delete: the next packet misses (the thread's cache sees the flow is dead).
    let mut d = FlowMsg::new(OvsFlowCmd::OVS_FLOW_CMD_DEL, s.dp);
    d.ufid = Some(FLOW.bytes().take(16).collect());
    request(&mut s.c, |b, seq, p| {
        d.emit(b, FAMILY_FLOW, NLM_F_REQUEST, seq, p)
    })
    .unwrap();
    p1.inject(&frame);
    let up =
        s.c.recv_timeout(Duration::from_secs(5))
            .unwrap()
            .expect("a MISS after delete");
    assert_eq!(
        PacketMsg::parse(messages(&up).next().unwrap().unwrap().payload)
            .unwrap()
            .cmd,
        OvsPacketCmd::OVS_PACKET_CMD_MISS
    );
    std::thread::sleep(Duration::from_millis(50));
    assert!(p3.take_output().is_empty());
}

#[test]
fn execute_sends_the_packet_through_its_actions() {
    let mut s = sim(&["p1", "p2"]);
    let p2 = s.port("p2");
    let frame = udp_frame(5);
    let mut m = PacketMsg::new(OvsPacketCmd::OVS_PACKET_CMD_EXECUTE, s.dp);
    m.packet = Some(frame.clone());
    let (k, _) = parse_key("skb_priority(0),in_port(1),skb_mark(0)").unwrap();
    m.key = Some(attrs(&k));
    let mut b = Vec::new();
    parse_actions("set(ipv4(ttl=7)),2")
        .unwrap()
        .emit(&mut NlaWriter::new(&mut b));
    m.actions = Some(RawAttrs::new(b));
    let r = request(&mut s.c, |b, seq, p| {
        m.emit(b, FAMILY_PACKET, NLM_F_REQUEST, seq, p, false)
    });
    assert_eq!(r, Ok(Vec::new()), "EXECUTE is silent on success");
    let out = wait_output(&p2, 1);
    assert_eq!(out.len(), 1);
    let mut expect = frame.clone();
    expect[22] = 7;
    // TTL changed: the IPv4 header checksum is fixed up incrementally.
    let sum = userdp_protocol::wire::checksum::checksum(&{
        let mut h = expect[14..34].to_vec();
        h[10] = 0;
        h[11] = 0;
        h
    });
    expect[24..26].copy_from_slice(&sum.to_be_bytes());
    assert_eq!(out[0], expect);
    // Output to a port that does not exist is dropped silently, not an error.
    let mut b = Vec::new();
    parse_actions("77")
        .unwrap()
        .emit(&mut NlaWriter::new(&mut b));
    m.actions = Some(RawAttrs::new(b));
    assert_eq!(
        request(&mut s.c, |b, seq, p| m.emit(
            b,
            FAMILY_PACKET,
            NLM_F_REQUEST,
            seq,
            p,
            false
        )),
        Ok(Vec::new())
    );
}

#[test]
fn recirculation_runs_the_packet_through_the_table_again() {
    let mut s = sim(&["p1", "p2", "p3"]);
    // First pass: recirc(5). Second pass (recirc_id 5): output to 3.
    s.flow(
        OvsFlowCmd::OVS_FLOW_CMD_NEW,
        &format!("recirc_id(0),{FLOW}"),
        Some("recirc(0x5)"),
    )
    .unwrap();
    let second = "recirc_id(0x5),in_port(1),eth(src=00:00:00:00:00:01,dst=00:00:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1,dst=2)";
    // A distinct UFID for the second flow (the helper derives it from the text's first bytes).
    let (k, m) = parse_key(second).unwrap();
    let mut f = FlowMsg::new(OvsFlowCmd::OVS_FLOW_CMD_NEW, s.dp);
    f.ufid = Some(vec![0x55; 16]);
    f.key = Some(attrs(&k));
    f.mask = Some(attrs(&m));
    let mut b = Vec::new();
    parse_actions("3")
        .unwrap()
        .emit(&mut NlaWriter::new(&mut b));
    f.actions = Some(RawAttrs::new(b));
    request(&mut s.c, |b, seq, p| {
        f.emit(b, FAMILY_FLOW, NLM_F_REQUEST | NLM_F_CREATE, seq, p)
    })
    .unwrap();
    let (p1, p3) = (s.port("p1"), s.port("p3"));
    let frame = udp_frame(1);
    p1.inject(&frame);
    assert_eq!(wait_output(&p3, 1), vec![frame]);
    assert_eq!(
        s.dp_stats().0,
        2,
        "two lookups hit: the first pass and the recirculated one"
    );
}

#[test]
fn a_userspace_action_sends_an_action_upcall_with_its_userdata() {
    let mut s = sim(&["p1", "p2"]);
    let pid = s.c.portid();
    s.flow(
        OvsFlowCmd::OVS_FLOW_CMD_NEW,
        FLOW,
        Some(&format!("userspace(pid={pid},userdata(01020304)),2")),
    )
    .unwrap();
    let (p1, p2) = (s.port("p1"), s.port("p2"));
    let frame = udp_frame(1);
    p1.inject(&frame);
    let up =
        s.c.recv_timeout(Duration::from_secs(5))
            .unwrap()
            .expect("an ACTION upcall");
    let u = PacketMsg::parse(messages(&up).next().unwrap().unwrap().payload).unwrap();
    assert_eq!(u.cmd, OvsPacketCmd::OVS_PACKET_CMD_ACTION);
    // OVS (and so our parser) pads userdata to at least 8 bytes; the upcall echoes it all.
    assert_eq!(u.userdata.as_deref(), Some(&[1u8, 2, 3, 4, 0, 0, 0, 0][..]));
    assert_eq!(u.packet.as_deref(), Some(&frame[..]));
    assert_eq!(
        wait_output(&p2, 1),
        vec![frame],
        "and the packet still goes on"
    );
}

#[test]
fn a_flood_of_misses_to_a_reader_that_does_not_read_counts_lost_and_stays_responsive() {
    let mut s = sim(&["p1", "p2"]);
    let p1 = s.port("p1");
    // The ports' upcall pid is the first client: keep it aside as the reader that does not
    // read, and query the datapath through a second connection.
    let mut reader = std::mem::replace(&mut s.c, Client::connect(s._dir.join("sock")).unwrap());
    // Big frames so the upcall socket fills quickly.
    let mut frame = udp_frame(1);
    frame.resize(1400, 0xab);
    const N: usize = 12_000;
    let mut sent = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while sent < N && Instant::now() < deadline {
        if p1.pending_input() < 1000 && p1.inject(&frame) {
            sent += 1;
        }
    }
    let wait = Instant::now() + Duration::from_secs(10);
    while p1.pending_input() > 0 && Instant::now() < wait {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    let (hit, missed, lost) = s.dp_stats();
    assert_eq!(hit, 0);
    assert_eq!(missed as usize, sent, "every miss is counted");
    assert!(
        lost > 0,
        "a full upcall socket counts lost upcalls ({lost} of {missed})"
    );
    assert!(lost < missed, "what fit was delivered");
    // The reader learns about the loss (ENOBUFS), and the daemon still answers it.
    let mut saw_enobufs = false;
    loop {
        match reader.recv_timeout(Duration::from_millis(200)) {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(userdp_protocol::errno::ENOBUFS));
                saw_enobufs = true;
            }
        }
    }
    assert!(saw_enobufs, "an OVERFLOW reached the reader");
    assert_eq!(s.dp_stats().1 as usize, sent);
}

#[test]
fn a_gso_frame_that_misses_goes_up_as_checksummed_segments() {
    use userdp::port::batch::{
        VirtioNetHdr, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4,
    };
    use userdp_protocol::wire::checksum::{checksum, pseudo_header_v4, transport_checksum};
    let mut s = sim(&["p1", "p2"]);
    let p1 = s.port("p1");
    // Ethernet + IPv4 (20) + TCP (20, flags PSH|ACK) + 2500 bytes: a super-frame of 3 segments.
    let mut f = eth_ipv4(20 + 20 + 2500, 0x1234, 6);
    f.extend_from_slice(&[
        0x30, 0x39, 0x00, 0x50, 0, 0, 0x10, 0, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0,
    ]);
    f.extend((0..2500u32).map(|i| i as u8));
    let vnet = VirtioNetHdr {
        flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
        gso_type: VIRTIO_NET_HDR_GSO_TCPV4,
        hdr_len: 54,
        gso_size: 1000,
        csum_start: 34,
        csum_offset: 16,
    };
    assert!(p1.inject_with(&f, &vnet));
    let mut segs = Vec::new();
    while let Some(up) = s.c.recv_timeout(Duration::from_secs(3)).unwrap() {
        let u = PacketMsg::parse(messages(&up).next().unwrap().unwrap().payload).unwrap();
        assert_eq!(u.cmd, OvsPacketCmd::OVS_PACKET_CMD_MISS);
        segs.push(u.packet.unwrap());
        if segs.len() == 3 {
            break;
        }
    }
    assert_eq!(
        segs.iter().map(Vec::len).collect::<Vec<_>>(),
        [1054, 1054, 554]
    );
    for (i, seg) in segs.iter().enumerate() {
        // IPv4: total length, id + i, valid header checksum.
        assert_eq!(
            u16::from_be_bytes([seg[16], seg[17]]) as usize,
            seg.len() - 14
        );
        assert_eq!(u16::from_be_bytes([seg[18], seg[19]]), 0x1234 + i as u16);
        assert_eq!(
            checksum(&seg[14..34]),
            0,
            "IPv4 header checksum of segment {i}"
        );
        // TCP: sequence advances by the MSS, PSH only on the last, valid checksum.
        assert_eq!(
            u32::from_be_bytes([seg[38], seg[39], seg[40], seg[41]]),
            0x1000 + 1000 * i as u32
        );
        assert_eq!(seg[47] & 0x08 != 0, i == 2, "PSH on the last segment only");
        let mut z = seg[34..].to_vec();
        let sum = u16::from_be_bytes([z[16], z[17]]);
        z[16] = 0;
        z[17] = 0;
        let pseudo = pseudo_header_v4(&[10, 0, 0, 1], &[10, 0, 0, 2], 6, z.len() as u16);
        assert_eq!(
            sum,
            transport_checksum(pseudo, &z),
            "TCP checksum of segment {i}"
        );
        assert_eq!(
            &seg[54..],
            &f[54 + 1000 * i..(54 + 1000 * (i + 1)).min(f.len())]
        );
    }
    assert_eq!(s.dp_stats(), (0, 1, 0), "one miss, nothing lost");
}

#[test]
fn a_udp_gso_frame_that_misses_goes_up_as_datagrams() {
    use userdp::port::batch::{
        VirtioNetHdr, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_UDP_L4,
    };
    use userdp_protocol::wire::checksum::{checksum, pseudo_header_v4, transport_checksum};
    let mut s = sim(&["p1", "p2"]);
    let p1 = s.port("p1");
    // Ethernet + IPv4 + UDP + 2500 bytes sent with UDP_SEGMENT=1200: 3 datagrams.
    let mut f = eth_ipv4(20 + 8 + 2500, 7, 17);
    f.extend_from_slice(&[0x13, 0x88, 0x13, 0x89, 0, 0, 0, 0]);
    f.extend((0..2500u32).map(|i| (i * 7) as u8));
    let vnet = VirtioNetHdr {
        flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
        gso_type: VIRTIO_NET_HDR_GSO_UDP_L4,
        hdr_len: 42,
        gso_size: 1200,
        csum_start: 34,
        csum_offset: 6,
    };
    assert!(p1.inject_with(&f, &vnet));
    let mut segs = Vec::new();
    while segs.len() < 3 {
        let Some(up) = s.c.recv_timeout(Duration::from_secs(3)).unwrap() else {
            break;
        };
        segs.push(
            PacketMsg::parse(messages(&up).next().unwrap().unwrap().payload)
                .unwrap()
                .packet
                .unwrap(),
        );
    }
    assert_eq!(
        segs.iter().map(Vec::len).collect::<Vec<_>>(),
        [1242, 1242, 142]
    );
    for (i, seg) in segs.iter().enumerate() {
        assert_eq!(
            checksum(&seg[14..34]),
            0,
            "IPv4 header checksum of datagram {i}"
        );
        assert_eq!(
            u16::from_be_bytes([seg[38], seg[39]]) as usize,
            seg.len() - 34,
            "UDP length"
        );
        let mut z = seg[34..].to_vec();
        let sum = u16::from_be_bytes([z[6], z[7]]);
        z[6] = 0;
        z[7] = 0;
        let pseudo = pseudo_header_v4(&[10, 0, 0, 1], &[10, 0, 0, 2], 17, z.len() as u16);
        assert_eq!(
            sum,
            transport_checksum(pseudo, &z),
            "UDP checksum of datagram {i}"
        );
        assert_eq!(
            &seg[42..],
            &f[42 + 1200 * i..(42 + 1200 * (i + 1)).min(f.len())]
        );
    }
}
