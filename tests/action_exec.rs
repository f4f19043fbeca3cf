//! Action execution: real frames in, exact bytes out, through a recording `ExecContext`.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use userdp::action::{
    execute, reextract_key, CompiledActions, ExecContext, ExecError, FastRng, OutputMeta, Upcall,
};
use userdp::port::batch::{Packet, VirtioNetHdr, VlanTag, PLAIN_FRAME_MAX};
use userdp::port::batch::{VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4};
use userdp_protocol::errno::{EINVAL, ENOMEM, EOPNOTSUPP, EPROTO};
use userdp_protocol::ovs::action::{Action, Actions, CtAction};
use userdp_protocol::ovs::key::{
    EthernetKey, FlowKey, Ipv4Key, Ipv6Key, KeyAttr, PortsKey, TunnelKey, MAC_PROTO_ETHERNET,
    MAC_PROTO_NONE,
};
use userdp_protocol::wire::checksum;
use userdp_protocol::wire::{ipv4, ipv6, sctp, tcp, udp};

// ---------------------------------------------------------------------------------------------
// Frames

const MAC_SRC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
const MAC_DST: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
const IP_A: [u8; 4] = [10, 0, 0, 1];
const IP_B: [u8; 4] = [10, 0, 0, 2];

/// The base frame, annotated: Ethernet / IPv4 / TCP SYN with 4 payload bytes.
#[rustfmt::skip]
const TCP4: [u8; 58] = [
    // Ethernet: dst 02:00:00:00:00:02, src 02:00:00:00:00:01, type IPv4
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x08, 0x00,
    // IPv4: version 4 / IHL 5, TOS 0, total length 44
    0x45, 0x00, 0x00, 0x2c,
    // id 0x1234, flags DF, fragment offset 0
    0x12, 0x34, 0x40, 0x00,
    // TTL 64, protocol TCP, header checksum 0x1496
    0x40, 0x06, 0x14, 0x96,
    // source 10.0.0.1, destination 10.0.0.2
    0x0a, 0x00, 0x00, 0x01,
    0x0a, 0x00, 0x00, 0x02,
    // TCP: source port 1234, destination port 80
    0x04, 0xd2, 0x00, 0x50,
    // sequence 1, acknowledgement 0
    0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x00,
    // data offset 5, flags SYN, window 65535
    0x50, 0x02, 0xff, 0xff,
    // checksum 0xb7e8, urgent pointer 0
    0xb7, 0xe8, 0x00, 0x00,
    // payload "ping"
    b'p', b'i', b'n', b'g',
];

fn eth(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An IPv4 packet (id 0x1234, DF) around `l4`, header checksum filled by the wire module.
fn ip4(src: [u8; 4], dst: [u8; 4], proto: u8, tos: u8, ttl: u8, l4: &[u8]) -> Vec<u8> {
    let mut p = vec![0x45, tos];
    p.extend_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0x12, 0x34, 0x40, 0x00, ttl, proto, 0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(l4);
    ipv4::Packet::new_checked(&mut p[..])
        .unwrap()
        .fill_checksum();
    p
}

/// A TCP SYN segment with payload "ping", checksum left 0.
fn tcp_seg(sport: u16, dport: u16) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(b"ping");
    t
}

/// Ethernet / IPv4 / TCP built from values, every checksum computed from scratch.
fn tcp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, tos: u8, ttl: u8) -> Vec<u8> {
    let mut t = tcp_seg(sport, dport);
    tcp::Packet::new_checked(&mut t[..])
        .unwrap()
        .fill_checksum_v4(&src, &dst)
        .unwrap();
    eth(MAC_DST, MAC_SRC, 0x0800, &ip4(src, dst, 6, tos, ttl, &t))
}

/// Ethernet / IPv4 / UDP with payload "pong"; `csum` false leaves the checksum 0 ("none").
fn udp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, csum: bool) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&12u16.to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(b"pong");
    if csum {
        udp::Packet::new_checked(&mut u[..])
            .unwrap()
            .fill_checksum_v4(&src, &dst);
    }
    eth(MAC_DST, MAC_SRC, 0x0800, &ip4(src, dst, 17, 0, 64, &u))
}

const V6_A: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const V6_B: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// Ethernet / IPv6 / TCP built from values.
fn tcp6(
    src: [u8; 16],
    dst: [u8; 16],
    sport: u16,
    dport: u16,
    tc: u8,
    label: u32,
    hl: u8,
) -> Vec<u8> {
    let mut t = tcp_seg(sport, dport);
    tcp::Packet::new_checked(&mut t[..])
        .unwrap()
        .fill_checksum_v6(&src, &dst)
        .unwrap();
    let w = (6u32 << 28) | (u32::from(tc) << 20) | label;
    let mut p = w.to_be_bytes().to_vec();
    p.extend_from_slice(&(t.len() as u16).to_be_bytes());
    p.extend_from_slice(&[6, hl]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(&t);
    eth(MAC_DST, MAC_SRC, 0x86dd, &p)
}

/// Ethernet / IPv4 / SCTP with one 8-byte chunk, CRC32c filled.
fn sctp4(sport: u16, dport: u16) -> Vec<u8> {
    let mut s = Vec::new();
    s.extend_from_slice(&sport.to_be_bytes());
    s.extend_from_slice(&dport.to_be_bytes());
    s.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0]);
    // A DATA-less chunk: type 0xc0, flags 0, length 8, 4 bytes of value.
    s.extend_from_slice(&[0xc0, 0, 0, 8, 1, 2, 3, 4]);
    sctp::Packet::new_checked(&mut s[..])
        .unwrap()
        .fill_checksum();
    eth(MAC_DST, MAC_SRC, 0x0800, &ip4(IP_A, IP_B, 132, 0, 64, &s))
}

fn insert_tag(f: &[u8], tpid: u16, tci: u16) -> Vec<u8> {
    let mut v = f[..12].to_vec();
    v.extend_from_slice(&tpid.to_be_bytes());
    v.extend_from_slice(&tci.to_be_bytes());
    v.extend_from_slice(&f[12..]);
    v
}

/// Asserts the IPv4 header checksum and the TCP checksum of an untagged frame.
fn assert_tcp4_checksums(f: &[u8]) {
    let ip = ipv4::Packet::new_checked(&f[14..]).unwrap();
    assert!(ip.verify_checksum(), "IPv4 header checksum");
    let t = tcp::Packet::new_checked(ip.payload()).unwrap();
    assert!(
        t.verify_checksum_v4(&ip.src_addr(), &ip.dst_addr()),
        "TCP checksum"
    );
}

fn packet(f: &[u8]) -> Packet {
    let mut p = Packet::with_capacity(PLAIN_FRAME_MAX);
    p.set_frame(f, None).unwrap();
    p
}

/// The key extraction would give for the frames above (the fields actions read or write).
fn key_tcp4() -> FlowKey {
    let mut k = FlowKey::default();
    k.set_in_port(1);
    k.set_mac_proto(MAC_PROTO_ETHERNET);
    k.set_eth_src(MAC_SRC);
    k.set_eth_dst(MAC_DST);
    k.set_eth_type(0x0800);
    k.set_ip_src(u128::from(u32::from_be_bytes(IP_A)));
    k.set_ip_dst(u128::from(u32::from_be_bytes(IP_B)));
    k.set_ip_proto(6);
    k.set_ip_ttl(64);
    k.set_tp_src(1234);
    k.set_tp_dst(80);
    k
}

// ---------------------------------------------------------------------------------------------
// A recording context

#[derive(Debug, Clone, PartialEq)]
struct Out {
    port: u32,
    frame: Vec<u8>,
    mac_proto: u8,
    tunnel: Option<TunnelKey>,
    priority: u32,
    skb_mark: u32,
}

#[derive(Debug, Clone, PartialEq)]
struct Up {
    pid: u32,
    userdata: Option<Vec<u8>>,
    egress_tun_port: Option<u32>,
    actions: Option<Vec<u8>>,
    frame: Vec<u8>,
    orig_len: usize,
    key: FlowKey,
}

#[derive(Default)]
struct Fake {
    outputs: Vec<Out>,
    upcalls: Vec<Up>,
    recircs: Vec<(u32, Vec<u8>, FlowKey)>,
    key_updates: usize,
    meters: Vec<(u32, usize)>,
    dropping_meters: Vec<u32>,
    random: u32,
    copies: usize,
    frees: usize,
}

impl ExecContext for Fake {
    fn output(&mut self, port: u32, pkt: &Packet, meta: &OutputMeta<'_>) {
        self.outputs.push(Out {
            port,
            frame: pkt.data()[..meta.len].to_vec(),
            mac_proto: meta.mac_proto,
            tunnel: meta.tunnel.cloned(),
            priority: meta.priority,
            skb_mark: meta.skb_mark,
        });
    }
    fn userspace(&mut self, up: &Upcall<'_>, pkt: &Packet, key: &FlowKey) {
        self.upcalls.push(Up {
            pid: up.pid,
            userdata: up.userdata.map(<[u8]>::to_vec),
            egress_tun_port: up.egress_tun_port,
            actions: up.actions.map(<[u8]>::to_vec),
            frame: pkt.data()[..up.len].to_vec(),
            orig_len: pkt.len(),
            key: key.clone(),
        });
    }
    fn recirc(&mut self, recirc_id: u32, pkt: &Packet, key: &FlowKey) {
        self.recircs
            .push((recirc_id, pkt.data().to_vec(), key.clone()));
    }
    fn update_key(&mut self, pkt: &Packet, key: &mut FlowKey) -> bool {
        self.key_updates += 1;
        reextract_key(pkt, key)
    }
    fn meter(&mut self, meter_id: u32, len: usize) -> bool {
        self.meters.push((meter_id, len));
        self.dropping_meters.contains(&meter_id)
    }
    fn random_u32(&mut self) -> u32 {
        self.random
    }
    fn hash_seed(&self) -> u32 {
        0x5eed
    }
    fn copy_packet(&mut self, pkt: &Packet) -> Option<Packet> {
        self.copies += 1;
        let mut p = Packet::with_capacity(PLAIN_FRAME_MAX);
        p.set_frame(pkt.data(), Some(&pkt.vnet)).ok()?;
        Some(p)
    }
    fn free_packet(&mut self, _pkt: Packet) {
        self.frees += 1;
    }
}

fn compile(list: Vec<Action>) -> CompiledActions {
    CompiledActions::compile(&Actions(list)).unwrap()
}

/// Runs `list` on `frame` with `key`; returns the context, the packet and the result.
fn run_with(
    list: Vec<Action>,
    frame: &[u8],
    key: &mut FlowKey,
    ctx: &mut Fake,
) -> (Packet, Result<(), ExecError>) {
    let ops = compile(list);
    let mut p = packet(frame);
    let r = execute(&ops, &mut p, key, ctx);
    (p, r)
}

fn run(list: Vec<Action>, frame: &[u8]) -> (Fake, FlowKey, Result<(), ExecError>) {
    let mut ctx = Fake::default();
    let mut key = key_tcp4();
    let (_, r) = run_with(list, frame, &mut key, &mut ctx);
    (ctx, key, r)
}

fn frames_to(ctx: &Fake, port: u32) -> Vec<Vec<u8>> {
    ctx.outputs
        .iter()
        .filter(|o| o.port == port)
        .map(|o| o.frame.clone())
        .collect()
}

fn ipv4_set(src: [u8; 4], dst: [u8; 4], tos: u8, ttl: u8) -> Ipv4Key {
    Ipv4Key {
        src: Ipv4Addr::from(src),
        dst: Ipv4Addr::from(dst),
        proto: 6,
        tos,
        ttl,
        frag: 0,
    }
}

// ---------------------------------------------------------------------------------------------
// Output, drop, userspace

#[test]
fn base_frame_checksums_are_valid() {
    assert_tcp4_checksums(&TCP4);
    assert_eq!(tcp4(IP_A, IP_B, 1234, 80, 0, 64), TCP4.to_vec());
}

#[test]
fn outputs_get_the_frame_in_order_and_the_empty_list_drops() {
    let (ctx, _, r) = run(vec![Action::Output(2), Action::Output(3)], &TCP4);
    assert_eq!(r, Ok(()));
    let ports: Vec<u32> = ctx.outputs.iter().map(|o| o.port).collect();
    assert_eq!(ports, [2, 3]);
    assert!(ctx.outputs.iter().all(|o| o.frame == TCP4));
    assert!(ctx
        .outputs
        .iter()
        .all(|o| o.mac_proto == MAC_PROTO_ETHERNET && o.tunnel.is_none()));

    let (ctx, _, r) = run(vec![], &TCP4);
    assert_eq!(r, Ok(()));
    assert!(ctx.outputs.is_empty() && ctx.upcalls.is_empty());
    assert!(compile(vec![]).is_empty());
}

#[test]
fn explicit_drop_ends_the_list() {
    let (ctx, _, r) = run(vec![Action::Drop(0), Action::Output(2)], &TCP4);
    assert_eq!(r, Ok(()));
    assert!(ctx.outputs.is_empty());
}

#[test]
fn stripped_vlan_tag_is_restored_before_the_first_action() {
    let mut ctx = Fake::default();
    let mut key = key_tcp4();
    let ops = compile(vec![Action::Output(2)]);
    let mut p = packet(&TCP4);
    p.vlan = Some(VlanTag {
        tpid: 0x8100,
        tci: 0x200a,
    });
    execute(&ops, &mut p, &mut key, &mut ctx).unwrap();
    // The tag (PCP 1, VID 10) is back after the MAC addresses.
    assert_eq!(frames_to(&ctx, 2), [insert_tag(&TCP4, 0x8100, 0x200a)]);
    assert_eq!(p.vlan, None);
}

#[test]
fn userspace_sends_userdata_and_the_current_list_when_asked() {
    let inner = vec![
        Action::Userspace {
            pid: 77,
            userdata: Some(vec![1, 2, 3, 4, 5, 6, 7, 8]),
            egress_tun_port: Some(4),
            actions: true,
        },
        Action::Output(2),
    ];
    let list = vec![
        Action::Userspace {
            pid: 42,
            userdata: None,
            egress_tun_port: None,
            actions: false,
        },
        Action::Sample {
            probability: u32::MAX,
            actions: inner.clone(),
        },
    ];
    let (ctx, _, r) = run(list, &TCP4);
    assert_eq!(r, Ok(()));
    assert_eq!(ctx.upcalls.len(), 2);
    let a = &ctx.upcalls[0];
    assert_eq!(
        (a.pid, &a.userdata, a.egress_tun_port, &a.actions),
        (42, &None, None, &None)
    );
    assert_eq!(a.frame, TCP4);
    assert_eq!(a.key, key_tcp4());
    let b = &ctx.upcalls[1];
    assert_eq!(b.pid, 77);
    assert_eq!(b.userdata.as_deref(), Some(&[1, 2, 3, 4, 5, 6, 7, 8][..]));
    assert_eq!(b.egress_tun_port, Some(4));
    // The kernel sends the list being executed: here the sample's nested list.
    assert_eq!(b.actions, Some(Actions(inner).to_bytes()));
    assert_eq!(frames_to(&ctx, 2), [TCP4.to_vec()]);
}

// ---------------------------------------------------------------------------------------------
// set / set_masked

#[test]
fn set_ethernet_rewrites_both_addresses_and_the_key() {
    let new_src = [0x0a, 0xbb, 0xcc, 0xdd, 0xee, 0x01];
    let new_dst = [0x0a, 0xbb, 0xcc, 0xdd, 0xee, 0x02];
    let (ctx, key, _) = run(
        vec![
            Action::Set(KeyAttr::Ethernet(EthernetKey {
                src: new_src,
                dst: new_dst,
            })),
            Action::Output(2),
        ],
        &TCP4,
    );
    let mut want = TCP4.to_vec();
    want[..6].copy_from_slice(&new_dst);
    want[6..12].copy_from_slice(&new_src);
    assert_eq!(frames_to(&ctx, 2), [want]);
    assert_eq!((key.eth_src(), key.eth_dst()), (new_src, new_dst));
}

#[test]
fn set_masked_ethernet_changes_only_masked_bits() {
    // Destination: replace the low nibble of the last byte only; source: untouched.
    let (ctx, key, _) = run(
        vec![
            Action::SetMasked(
                KeyAttr::Ethernet(EthernetKey {
                    src: [0; 6],
                    dst: [0, 0, 0, 0, 0, 0x0f],
                }),
                KeyAttr::Ethernet(EthernetKey {
                    src: [0; 6],
                    dst: [0, 0, 0, 0, 0, 0x0f],
                }),
            ),
            Action::Output(2),
        ],
        &TCP4,
    );
    let mut want = TCP4.to_vec();
    want[5] = 0x0f; // 02 → 0f
    assert_eq!(frames_to(&ctx, 2), [want]);
    assert_eq!(key.eth_dst(), [2, 0, 0, 0, 0, 0x0f]);
    assert_eq!(key.eth_src(), MAC_SRC);
}

#[test]
fn set_ipv4_addresses_tos_ttl_fixes_ip_and_tcp_checksums() {
    let (ctx, key, _) = run(
        vec![
            Action::Set(KeyAttr::Ipv4(ipv4_set(
                [192, 168, 1, 10],
                [172, 16, 5, 4],
                0xb8,
                17,
            ))),
            Action::Output(2),
        ],
        &TCP4,
    );
    let want = tcp4([192, 168, 1, 10], [172, 16, 5, 4], 1234, 80, 0xb8, 17);
    assert_eq!(frames_to(&ctx, 2), std::slice::from_ref(&want));
    assert_tcp4_checksums(&want);
    assert_eq!(key.ip_src(), u128::from(0xc0a8_010a_u32));
    assert_eq!(key.ip_dst(), u128::from(0xac10_0504_u32));
    assert_eq!((key.ip_tos(), key.ip_ttl()), (0xb8, 17));
}

#[test]
fn set_masked_ipv4_keeps_unmasked_bits() {
    // dst: only the last two octets (mask 0.0.255.255) → 10.0.7.9; ttl: low bit cleared;
    // src and tos have a zero mask and stay.
    let (ctx, key, _) = run(
        vec![
            Action::SetMasked(
                KeyAttr::Ipv4(ipv4_set([0; 4], [0, 0, 7, 9], 0, 0)),
                KeyAttr::Ipv4(ipv4_set([0; 4], [0, 0, 255, 255], 0, 0x01)),
            ),
            Action::Output(2),
        ],
        &TCP4,
    );
    let want = tcp4(IP_A, [10, 0, 7, 9], 1234, 80, 0, 64);
    assert_eq!(frames_to(&ctx, 2), [want]);
    assert_eq!(key.ip_dst(), u128::from(0x0a00_0709_u32));
    assert_eq!(key.ip_ttl(), 64);
}

#[test]
fn set_tcp_ports_fixes_the_checksum() {
    let (ctx, key, _) = run(
        vec![
            Action::Set(KeyAttr::Tcp(PortsKey {
                src: 40000,
                dst: 8080,
            })),
            Action::Output(2),
        ],
        &TCP4,
    );
    let want = tcp4(IP_A, IP_B, 40000, 8080, 0, 64);
    assert_eq!(frames_to(&ctx, 2), std::slice::from_ref(&want));
    assert_tcp4_checksums(&want);
    assert_eq!((key.tp_src(), key.tp_dst()), (40000, 8080));
}

#[test]
fn set_masked_tcp_port_low_byte_only() {
    let (ctx, key, _) = run(
        vec![
            Action::SetMasked(
                KeyAttr::Tcp(PortsKey {
                    src: 0,
                    dst: 0x0011,
                }),
                KeyAttr::Tcp(PortsKey {
                    src: 0,
                    dst: 0x00ff,
                }),
            ),
            Action::Output(2),
        ],
        &TCP4,
    );
    // 80 = 0x0050 → 0x0011 = 17; source untouched.
    assert_eq!(frames_to(&ctx, 2), [tcp4(IP_A, IP_B, 1234, 17, 0, 64)]);
    assert_eq!((key.tp_src(), key.tp_dst()), (1234, 17));
}

#[test]
fn set_udp_ports_with_and_without_checksum() {
    let set = |list_frame: &[u8]| {
        let mut key = key_tcp4();
        key.set_ip_proto(17);
        let mut ctx = Fake::default();
        run_with(
            vec![
                Action::Set(KeyAttr::Udp(PortsKey { src: 53, dst: 5353 })),
                Action::Output(2),
            ],
            list_frame,
            &mut key,
            &mut ctx,
        )
        .1
        .unwrap();
        (frames_to(&ctx, 2), key)
    };
    let (out, key) = set(&udp4(IP_A, IP_B, 1000, 2000, true));
    let want = udp4(IP_A, IP_B, 53, 5353, true);
    assert_eq!(out, std::slice::from_ref(&want));
    let ip = ipv4::Packet::new_checked(&want[14..]).unwrap();
    assert!(udp::Packet::new_checked(ip.payload())
        .unwrap()
        .verify_checksum_v4(&IP_A, &IP_B));
    assert_eq!((key.tp_src(), key.tp_dst()), (53, 5353));
    // A zero UDP checksum means "none" and must stay zero.
    let (out, _) = set(&udp4(IP_A, IP_B, 1000, 2000, false));
    assert_eq!(out, [udp4(IP_A, IP_B, 53, 5353, false)]);
    assert_eq!(&out[0][40..42], &[0, 0]);
}

#[test]
fn set_sctp_ports_recomputes_the_crc() {
    let mut key = key_tcp4();
    key.set_ip_proto(132);
    let mut ctx = Fake::default();
    run_with(
        vec![
            Action::Set(KeyAttr::Sctp(PortsKey { src: 7, dst: 9 })),
            Action::Output(2),
        ],
        &sctp4(5000, 6000),
        &mut key,
        &mut ctx,
    )
    .1
    .unwrap();
    let want = sctp4(7, 9);
    assert_eq!(frames_to(&ctx, 2), std::slice::from_ref(&want));
    assert!(sctp::Packet::new_checked(&want[34..])
        .unwrap()
        .verify_checksum());
    assert_eq!((key.tp_src(), key.tp_dst()), (7, 9));
}

#[test]
fn set_ipv6_fields_fix_the_tcp_checksum() {
    let mut new_src = V6_A;
    new_src[15] = 0x99;
    let mut new_dst = V6_B;
    new_dst[0] = 0xfd;
    let mut key = key_tcp4();
    key.set_eth_type(0x86dd);
    let mut ctx = Fake::default();
    run_with(
        vec![
            Action::Set(KeyAttr::Ipv6(Ipv6Key {
                src: Ipv6Addr::from(new_src),
                dst: Ipv6Addr::from(new_dst),
                label: 0xabcde,
                proto: 6,
                tclass: 0x2c,
                hlimit: 9,
                frag: 0,
            })),
            Action::Output(2),
        ],
        &tcp6(V6_A, V6_B, 1234, 80, 0x00, 0x12345, 64),
        &mut key,
        &mut ctx,
    )
    .1
    .unwrap();
    let want = tcp6(new_src, new_dst, 1234, 80, 0x2c, 0xabcde, 9);
    assert_eq!(frames_to(&ctx, 2), std::slice::from_ref(&want));
    let ip = ipv6::Packet::new_checked(&want[14..]).unwrap();
    assert!(tcp::Packet::new_checked(ip.payload())
        .unwrap()
        .verify_checksum_v6(&new_src, &new_dst));
    assert_eq!(key.ip_src(), u128::from_be_bytes(new_src));
    assert_eq!(key.ipv6_label(), 0xabcde);
    assert_eq!((key.ip_tos(), key.ip_ttl()), (0x2c, 9));
}

#[test]
fn set_masked_ipv6_label_keeps_the_other_label_bits() {
    let mut key = key_tcp4();
    key.set_eth_type(0x86dd);
    let mut ctx = Fake::default();
    let zero = Ipv6Key::default();
    run_with(
        vec![
            Action::SetMasked(
                KeyAttr::Ipv6(Ipv6Key {
                    label: 0x000f0,
                    ..zero
                }),
                KeyAttr::Ipv6(Ipv6Key {
                    label: 0x000ff,
                    ..zero
                }),
            ),
            Action::Output(2),
        ],
        &tcp6(V6_A, V6_B, 1234, 80, 0x2c, 0x12345, 64),
        &mut key,
        &mut ctx,
    )
    .1
    .unwrap();
    assert_eq!(
        frames_to(&ctx, 2),
        [tcp6(V6_A, V6_B, 1234, 80, 0x2c, 0x123f0, 64)]
    );
    assert_eq!(key.ipv6_label(), 0x123f0);
}

#[test]
fn set_priority_and_mark_reach_the_key_and_the_output() {
    let (ctx, key, _) = run(
        vec![
            Action::Set(KeyAttr::Priority(0x10002)),
            Action::SetMasked(KeyAttr::SkbMark(0x0000_00a0), KeyAttr::SkbMark(0x0000_00f0)),
            Action::Output(2),
        ],
        &TCP4,
    );
    assert_eq!((key.priority(), key.skb_mark()), (0x10002, 0xa0));
    assert_eq!(
        (ctx.outputs[0].priority, ctx.outputs[0].skb_mark),
        (0x10002, 0xa0)
    );
    assert_eq!(ctx.outputs[0].frame, TCP4);
}

#[test]
fn set_tunnel_is_metadata_for_later_outputs_only() {
    let t = TunnelKey {
        id: Some(5000),
        ipv4_dst: Some(Ipv4Addr::new(192, 0, 2, 7)),
        ttl: Some(64),
        ..TunnelKey::default()
    };
    let (ctx, key, _) = run(
        vec![
            Action::Output(1),
            Action::Set(KeyAttr::Tunnel(t.clone())),
            Action::Output(9),
        ],
        &TCP4,
    );
    assert_eq!(ctx.outputs[0].tunnel, None);
    assert_eq!(ctx.outputs[1].tunnel, Some(t));
    // The key's tunnel fields describe the ingress tunnel, not this one.
    assert_eq!(key.tun_proto(), 0);
}

#[test]
fn set_ct_mark_drops_as_the_kernel_does() {
    let (ctx, _, r) = run(
        vec![Action::Set(KeyAttr::CtMark(1)), Action::Output(2)],
        &TCP4,
    );
    assert_eq!(r, Err(ExecError { errno: EINVAL }));
    assert!(ctx.outputs.is_empty());
}

#[test]
fn set_on_a_truncated_frame_drops_with_enomem() {
    // Ethernet + IPv4 header only: no room for the TCP header the action rewrites.
    let (ctx, _, r) = run(
        vec![
            Action::Set(KeyAttr::Tcp(PortsKey { src: 1, dst: 2 })),
            Action::Output(2),
        ],
        &TCP4[..34],
    );
    assert_eq!(r, Err(ExecError { errno: ENOMEM }));
    assert!(ctx.outputs.is_empty());
}

#[test]
fn set_ipv4_src_on_partial_checksum_updates_the_pseudo_header_sum() {
    // A frame from a TAP with NEEDS_CSUM: the TCP checksum field holds the pseudo-header sum
    // (not inverted), the device will finish it.
    let pseudo = |src: &[u8; 4], dst: &[u8; 4]| checksum::pseudo_header_v4(src, dst, 6, 24);
    let mut f = TCP4.to_vec();
    f[50..52].copy_from_slice(&pseudo(&IP_A, &IP_B).to_be_bytes());
    let vnet = VirtioNetHdr {
        flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
        csum_start: 34,
        csum_offset: 16,
        ..VirtioNetHdr::default()
    };
    let ops = compile(vec![
        Action::Set(KeyAttr::Ipv4(ipv4_set([192, 168, 0, 1], IP_B, 0, 64))),
        Action::Set(KeyAttr::Tcp(PortsKey { src: 1, dst: 2 })),
        Action::Output(2),
    ]);
    let mut p = Packet::with_capacity(PLAIN_FRAME_MAX);
    p.set_frame(&f, Some(&vnet)).unwrap();
    let mut ctx = Fake::default();
    execute(&ops, &mut p, &mut key_tcp4(), &mut ctx).unwrap();
    let out = &ctx.outputs[0].frame;
    // Ports were rewritten without touching the partial sum; the address changed it.
    assert_eq!(&out[34..38], &[0, 1, 0, 2]);
    assert_eq!(
        u16::from_be_bytes([out[50], out[51]]),
        pseudo(&[192, 168, 0, 1], &IP_B)
    );
    assert!(ipv4::Packet::new_checked(&out[14..])
        .unwrap()
        .verify_checksum());
}

// ---------------------------------------------------------------------------------------------
// VLAN, MPLS, Ethernet, NSH

#[test]
fn push_vlan_then_pop_vlan_restores_the_frame() {
    let (ctx, key, _) = run(
        vec![
            Action::PushVlan {
                tpid: 0x8100,
                tci: 0x1000 | 0x0064,
            },
            Action::Output(2),
            Action::PopVlan,
            Action::Output(3),
        ],
        &TCP4,
    );
    // The CFI bit only marks the action's tag as present; the frame gets VID 100 without it.
    assert_eq!(frames_to(&ctx, 2), [insert_tag(&TCP4, 0x8100, 0x0064)]);
    assert_eq!(frames_to(&ctx, 3), [TCP4.to_vec()]);
    assert_eq!((key.vlan_tci(), key.vlan_tpid()), (0, 0));
}

#[test]
fn push_vlan_sets_the_key_and_on_a_tagged_frame_stales_it() {
    let (_, key, _) = run(
        vec![Action::PushVlan {
            tpid: 0x88a8,
            tci: 0x1005,
        }],
        &TCP4,
    );
    assert_eq!((key.vlan_tci(), key.vlan_tpid()), (0x1005, 0x88a8));

    // On a tagged frame the key goes stale: the next recirc re-extracts it first.
    let tagged = insert_tag(&TCP4, 0x8100, 0x000a);
    let (ctx, _, _) = run(
        vec![
            Action::PushVlan {
                tpid: 0x88a8,
                tci: 0x1005,
            },
            Action::Recirc(3),
        ],
        &tagged,
    );
    assert_eq!(ctx.key_updates, 1);
    let (id, frame, k) = &ctx.recircs[0];
    assert_eq!(*id, 3);
    assert_eq!(*frame, insert_tag(&tagged, 0x88a8, 0x0005));
    // Re-extracted: outer 802.1ad VID 5, inner 802.1Q VID 10 (CFI marks both present),
    // metadata (in_port) kept, recirc id set.
    assert_eq!((k.vlan_tpid(), k.vlan_tci()), (0x88a8, 0x1005));
    assert_eq!((k.cvlan_tpid(), k.cvlan_tci()), (0x8100, 0x100a));
    assert_eq!((k.in_port(), k.recirc_id(), k.eth_type()), (1, 3, 0x0800));
    assert_eq!(k.tp_dst(), 80);
}

#[test]
fn pop_vlan_on_an_untagged_frame_is_a_no_op() {
    let (ctx, _, r) = run(vec![Action::PopVlan, Action::Output(2)], &TCP4);
    assert_eq!(r, Ok(()));
    assert_eq!(frames_to(&ctx, 2), [TCP4.to_vec()]);
}

#[test]
fn push_mpls_then_pop_mpls_restores_the_frame() {
    let lse = (100 << 12) | (1 << 8) | 64; // label 100, bottom of stack, TTL 64
    let (ctx, _, _) = run(
        vec![
            Action::PushMpls {
                lse,
                ethertype: 0x8847,
            },
            Action::Output(2),
            Action::SetMasked(KeyAttr::Mpls(vec![63]), KeyAttr::Mpls(vec![0xff])),
            Action::Output(3),
            Action::PopMpls(0x0800),
            Action::Output(4),
        ],
        &TCP4,
    );
    let mut want = eth(MAC_DST, MAC_SRC, 0x8847, &lse.to_be_bytes());
    want.extend_from_slice(&TCP4[14..]);
    assert_eq!(frames_to(&ctx, 2), std::slice::from_ref(&want));
    // set_masked on the TTL byte only.
    want[17] = 63;
    assert_eq!(frames_to(&ctx, 3), [want]);
    assert_eq!(frames_to(&ctx, 4), [TCP4.to_vec()]);
}

#[test]
fn mpls_goes_after_a_vlan_tag() {
    let tagged = insert_tag(&TCP4, 0x8100, 0x0007);
    let lse = 0x0006_41ff_u32;
    let (ctx, _, _) = run(
        vec![
            Action::PushMpls {
                lse,
                ethertype: 0x8848,
            },
            Action::Output(2),
            Action::PopMpls(0x0800),
            Action::Output(3),
        ],
        &tagged,
    );
    // dst, src, 8100 0007, 8848, LSE, IPv4…
    let mut want = tagged[..16].to_vec();
    want.extend_from_slice(&[0x88, 0x48]);
    want.extend_from_slice(&lse.to_be_bytes());
    want.extend_from_slice(&TCP4[14..]);
    assert_eq!(frames_to(&ctx, 2), [want]);
    assert_eq!(frames_to(&ctx, 3), [tagged]);
}

#[test]
fn add_mpls_without_l3_flag_makes_an_l3_mpls_packet() {
    let lse = 0x0000_11ff_u32;
    let (ctx, key, _) = run(
        vec![
            Action::AddMpls {
                lse,
                ethertype: 0x8847,
                tun_flags: 0,
            },
            Action::Output(2),
        ],
        &TCP4,
    );
    let mut want = lse.to_be_bytes().to_vec();
    want.extend_from_slice(&TCP4);
    assert_eq!(frames_to(&ctx, 2), [want]);
    assert_eq!(ctx.outputs[0].mac_proto, MAC_PROTO_NONE);
    assert_eq!(key.mac_proto(), MAC_PROTO_NONE);
}

#[test]
fn pop_eth_then_push_eth() {
    let new_src = [0x0e, 0, 0, 0, 0, 0x0a];
    let new_dst = [0x0e, 0, 0, 0, 0, 0x0b];
    let (ctx, key, r) = run(
        vec![
            Action::PopEth,
            Action::Output(2),
            Action::PushEth {
                src: new_src,
                dst: new_dst,
            },
            Action::Output(3),
        ],
        &TCP4,
    );
    assert_eq!(r, Ok(()));
    assert_eq!(frames_to(&ctx, 2), [TCP4[14..].to_vec()]);
    assert_eq!(ctx.outputs[0].mac_proto, MAC_PROTO_NONE);
    assert_eq!(
        frames_to(&ctx, 3),
        [eth(new_dst, new_src, 0x0800, &TCP4[14..])]
    );
    assert_eq!(ctx.outputs[1].mac_proto, MAC_PROTO_ETHERNET);
    assert_eq!(key.mac_proto(), MAC_PROTO_ETHERNET);
}

#[test]
fn recirc_after_pop_eth_re_extracts_an_l3_key() {
    let (ctx, _, _) = run(vec![Action::PopEth, Action::Recirc(1)], &TCP4);
    assert_eq!(ctx.key_updates, 1);
    let (_, frame, k) = &ctx.recircs[0];
    assert_eq!(*frame, TCP4[14..].to_vec());
    assert_eq!((k.mac_proto(), k.eth_type()), (MAC_PROTO_NONE, 0x0800));
    assert_eq!((k.ip_proto(), k.tp_src(), k.tp_dst()), (6, 1234, 80));
    assert_eq!(k.eth_src(), [0; 6]);
}

#[test]
fn pop_eth_on_a_tagged_frame_drops() {
    let (ctx, _, r) = run(
        vec![Action::PopEth, Action::Output(2)],
        &insert_tag(&TCP4, 0x8100, 1),
    );
    assert_eq!(r, Err(ExecError { errno: EPROTO }));
    assert!(ctx.outputs.is_empty());
}

#[test]
fn push_nsh_then_pop_nsh() {
    use userdp_protocol::ovs::action::NshPush;
    let push = NshPush {
        flags: 0,
        ttl: 63,
        mdtype: 1,
        np: 0,
        spi: 0x123,
        si: 255,
        md1: Some([1, 2, 3, 4]),
        md2: None,
    };
    let (ctx, _, r) = run(
        vec![
            Action::PushNsh(push),
            Action::Output(2),
            Action::PopNsh,
            Action::Output(3),
        ],
        &TCP4,
    );
    assert_eq!(r, Ok(()));
    #[rustfmt::skip]
    let mut want = vec![
        // ver 0, flags 0, TTL 63, length 6 words: 0000 1111 1100 0110
        0x0f, 0xc6,
        // MD type 1, next protocol 3 (Ethernet)
        0x01, 0x03,
        // SPI 0x000123, SI 255
        0x00, 0x01, 0x23, 0xff,
        // four context words
        0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4,
    ];
    want.extend_from_slice(&TCP4);
    assert_eq!(frames_to(&ctx, 2), [want]);
    assert_eq!(ctx.outputs[0].mac_proto, MAC_PROTO_NONE);
    assert_eq!(frames_to(&ctx, 3), [TCP4.to_vec()]);
    assert_eq!(ctx.outputs[1].mac_proto, MAC_PROTO_ETHERNET);
}

// ---------------------------------------------------------------------------------------------
// recirc, hash, sample, clone, check_pkt_len, trunc, dec_ttl, meter, ct

#[test]
fn recirc_hands_over_the_updated_key() {
    let (ctx, key, _) = run(
        vec![
            Action::Set(KeyAttr::Tcp(PortsKey { src: 1, dst: 2 })),
            Action::Recirc(0x42),
            Action::Output(2),
        ],
        &TCP4,
    );
    let (id, frame, k) = &ctx.recircs[0];
    assert_eq!(*id, 0x42);
    assert_eq!(*frame, tcp4(IP_A, IP_B, 1, 2, 0, 64));
    assert_eq!((k.recirc_id(), k.tp_src(), k.tp_dst()), (0x42, 1, 2));
    // The key was valid: no re-extraction. The outer key keeps its own recirc id.
    assert_eq!(ctx.key_updates, 0);
    assert_eq!(key.recirc_id(), 0);
    assert_eq!(frames_to(&ctx, 2).len(), 1);
}

#[test]
fn hash_sets_a_nonzero_dp_hash_from_the_five_tuple() {
    let hash = |list: Vec<Action>, frame: &[u8]| run(list, frame).1.dp_hash();
    let h1 = hash(vec![Action::Hash { alg: 0, basis: 1 }], &TCP4);
    assert_ne!(h1, 0);
    assert_eq!(h1, hash(vec![Action::Hash { alg: 0, basis: 1 }], &TCP4));
    assert_ne!(h1, hash(vec![Action::Hash { alg: 0, basis: 2 }], &TCP4));
    // A changed port (set before the hash) changes the hash.
    let h3 = hash(
        vec![
            Action::Set(KeyAttr::Tcp(PortsKey { src: 1, dst: 80 })),
            Action::Hash { alg: 0, basis: 1 },
        ],
        &TCP4,
    );
    assert_ne!(h1, h3);
}

#[test]
fn sample_never_always_and_by_draw() {
    let sample = |probability, random| {
        let mut ctx = Fake {
            random,
            ..Fake::default()
        };
        run_with(
            vec![
                Action::Sample {
                    probability,
                    actions: vec![Action::Output(5)],
                },
                Action::Output(2),
            ],
            &TCP4,
            &mut key_tcp4(),
            &mut ctx,
        )
        .1
        .unwrap();
        (frames_to(&ctx, 5).len(), frames_to(&ctx, 2).len())
    };
    assert_eq!(sample(0, 0), (0, 1)); // 0%: never, even for the smallest draw
    assert_eq!(sample(u32::MAX, u32::MAX), (1, 1)); // 100%: always
    assert_eq!(sample(1000, 1000), (1, 1)); // draw ≤ probability: taken
    assert_eq!(sample(1000, 1001), (0, 1)); // draw > probability: skipped
}

#[test]
fn fast_rng_is_not_constant() {
    let mut r = FastRng::new(0);
    let a: Vec<u32> = (0..4).map(|_| r.next_u32()).collect();
    assert!(a.windows(2).all(|w| w[0] != w[1]));
}

#[test]
fn clone_runs_on_a_copy_and_leaves_packet_and_key_alone() {
    let (ctx, key, _) = run(
        vec![
            Action::Clone(vec![
                Action::Set(KeyAttr::Tcp(PortsKey { src: 1, dst: 2 })),
                Action::PushVlan {
                    tpid: 0x8100,
                    tci: 0x1001,
                },
                Action::Output(2),
            ]),
            Action::Output(3),
        ],
        &TCP4,
    );
    assert_eq!(
        frames_to(&ctx, 2),
        [insert_tag(&tcp4(IP_A, IP_B, 1, 2, 0, 64), 0x8100, 0x0001)]
    );
    assert_eq!(frames_to(&ctx, 3), [TCP4.to_vec()]);
    assert_eq!(key, key_tcp4());
    assert_eq!((ctx.copies, ctx.frees), (1, 1));

    // As the last action, the clone works on the packet itself: no copy.
    let (ctx, _, _) = run(vec![Action::Clone(vec![Action::Output(2)])], &TCP4);
    assert_eq!((frames_to(&ctx, 2).len(), ctx.copies), (1, 0));
}

#[test]
fn an_error_inside_a_clone_drops_the_outer_packet_too() {
    let (ctx, _, r) = run(
        vec![
            Action::Clone(vec![Action::PopEth, Action::PopEth, Action::Output(2)]),
            Action::Output(3),
        ],
        &TCP4,
    );
    assert_eq!(r, Err(ExecError { errno: EPROTO }));
    assert!(ctx.outputs.is_empty());
}

#[test]
fn check_pkt_len_takes_each_branch() {
    let check = |pkt_len| {
        run(
            vec![
                Action::CheckPktLen {
                    pkt_len,
                    if_greater: vec![Action::Output(10)],
                    if_less_equal: vec![Action::Output(20)],
                },
                Action::Output(2),
            ],
            &TCP4,
        )
        .0
    };
    // The frame is 58 bytes.
    let ctx = check(58);
    assert_eq!(
        ctx.outputs.iter().map(|o| o.port).collect::<Vec<_>>(),
        [20, 2]
    );
    let ctx = check(57);
    assert_eq!(
        ctx.outputs.iter().map(|o| o.port).collect::<Vec<_>>(),
        [10, 2]
    );
    // An outer tag is not counted, as the kernel keeps it out of skb->len.
    let (ctx, _, _) = run(
        vec![Action::CheckPktLen {
            pkt_len: 58,
            if_greater: vec![Action::Output(10)],
            if_less_equal: vec![Action::Output(20)],
        }],
        &insert_tag(&TCP4, 0x8100, 1),
    );
    assert_eq!(ctx.outputs[0].port, 20);
}

#[test]
fn check_pkt_len_on_gso_compares_segments() {
    // A GSO super-frame of 58 bytes with 4-byte segments: each segment is 14+20+20+4 = 58.
    let vnet = VirtioNetHdr {
        flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
        gso_type: VIRTIO_NET_HDR_GSO_TCPV4,
        hdr_len: 54,
        gso_size: 4,
        csum_start: 34,
        csum_offset: 16,
    };
    let mut big = TCP4.to_vec();
    big.extend_from_slice(&[0u8; 1000]);
    let ops = compile(vec![Action::CheckPktLen {
        pkt_len: 58,
        if_greater: vec![Action::Output(10)],
        if_less_equal: vec![Action::Output(20)],
    }]);
    let mut p = Packet::with_capacity(PLAIN_FRAME_MAX);
    p.set_frame(&big, Some(&vnet)).unwrap();
    let mut ctx = Fake::default();
    execute(&ops, &mut p, &mut key_tcp4(), &mut ctx).unwrap();
    assert_eq!(ctx.outputs[0].port, 20);
}

#[test]
fn trunc_applies_to_the_next_output_only() {
    let (ctx, _, _) = run(
        vec![
            Action::Trunc(20),
            Action::Output(2),
            Action::Output(3),
            Action::Trunc(40),
            Action::Userspace {
                pid: 9,
                userdata: None,
                egress_tun_port: None,
                actions: false,
            },
        ],
        &TCP4,
    );
    assert_eq!(frames_to(&ctx, 2), [TCP4[..20].to_vec()]);
    assert_eq!(frames_to(&ctx, 3), [TCP4.to_vec()]);
    assert_eq!(ctx.upcalls[0].frame, TCP4[..40].to_vec());
    assert_eq!(ctx.upcalls[0].orig_len, 58);

    // A tagged frame: the limit counts without the tag, the tag is still sent.
    let tagged = insert_tag(&TCP4, 0x8100, 1);
    let (ctx, _, _) = run(vec![Action::Trunc(20), Action::Output(2)], &tagged);
    assert_eq!(frames_to(&ctx, 2), [tagged[..24].to_vec()]);
}

#[test]
fn dec_ttl_decrements_or_runs_the_exception_list() {
    let (ctx, key, _) = run(
        vec![Action::DecTtl(vec![Action::Output(9)]), Action::Output(2)],
        &TCP4,
    );
    let want = tcp4(IP_A, IP_B, 1234, 80, 0, 63);
    assert_eq!(frames_to(&ctx, 2), std::slice::from_ref(&want));
    assert_tcp4_checksums(&want);
    assert_eq!(key.ip_ttl(), 63);
    assert!(frames_to(&ctx, 9).is_empty());

    // TTL 1: the nested list gets the unchanged packet and the rest of the list is skipped.
    let ttl1 = tcp4(IP_A, IP_B, 1234, 80, 0, 1);
    let (ctx, _, r) = run(
        vec![Action::DecTtl(vec![Action::Output(9)]), Action::Output(2)],
        &ttl1,
    );
    assert_eq!(r, Ok(()));
    assert_eq!(frames_to(&ctx, 9), std::slice::from_ref(&ttl1));
    assert!(frames_to(&ctx, 2).is_empty());
    // With an empty exception list the packet is dropped.
    let (ctx, _, _) = run(vec![Action::DecTtl(vec![]), Action::Output(2)], &ttl1);
    assert!(ctx.outputs.is_empty());
}

#[test]
fn meter_drop_stops_the_list() {
    let mut ctx = Fake {
        dropping_meters: vec![7],
        ..Fake::default()
    };
    run_with(
        vec![
            Action::Meter(8),
            Action::Output(2),
            Action::Meter(7),
            Action::Output(3),
        ],
        &TCP4,
        &mut key_tcp4(),
        &mut ctx,
    )
    .1
    .unwrap();
    assert_eq!(ctx.meters, [(8, 58), (7, 58)]);
    assert_eq!(frames_to(&ctx, 2).len(), 1);
    assert!(frames_to(&ctx, 3).is_empty());
}

#[test]
fn ct_is_refused_at_compile_time_and_ct_clear_resets_the_key() {
    let e = CompiledActions::compile(&Actions(vec![Action::Ct(CtAction::default())])).unwrap_err();
    assert_eq!(e.errno, EOPNOTSUPP);

    let mut key = key_tcp4();
    key.set_ct_state(0x21);
    key.set_ct_zone(5);
    key.set_ct_mark(9);
    let mut ctx = Fake::default();
    run_with(vec![Action::CtClear], &TCP4, &mut key, &mut ctx)
        .1
        .unwrap();
    assert_eq!((key.ct_state(), key.ct_zone(), key.ct_mark()), (0, 0, 0));
}

// ---------------------------------------------------------------------------------------------
// Property: rewrites keep IPv4 and TCP checksums valid

proptest! {
    #[test]
    fn masked_sets_keep_ipv4_and_tcp_checksums_valid(
        src in any::<[u8; 4]>(), dst in any::<[u8; 4]>(),
        sport in any::<u16>(), dport in any::<u16>(), tos in any::<u8>(), ttl in any::<u8>(),
        v in any::<([u8; 4], [u8; 4], u8, u8)>(), m in any::<([u8; 4], [u8; 4], u8, u8)>(),
        pv in any::<(u16, u16)>(), pm in any::<(u16, u16)>(),
    ) {
        let frame = tcp4(src, dst, sport, dport, tos, ttl);
        let mask4 = |a: [u8; 4], b: [u8; 4]| [a[0] & b[0], a[1] & b[1], a[2] & b[2], a[3] & b[3]];
        let list = vec![
            Action::SetMasked(
                KeyAttr::Ipv4(ipv4_set(mask4(v.0, m.0), mask4(v.1, m.1), v.2 & m.2, v.3 & m.3)),
                KeyAttr::Ipv4(ipv4_set(m.0, m.1, m.2, m.3)),
            ),
            Action::SetMasked(
                KeyAttr::Tcp(PortsKey { src: pv.0 & pm.0, dst: pv.1 & pm.1 }),
                KeyAttr::Tcp(PortsKey { src: pm.0, dst: pm.1 }),
            ),
            Action::Output(1),
        ];
        let mut ctx = Fake::default();
        // The key extraction would give for this frame.
        let mut key = key_tcp4();
        key.set_ip_src(u128::from(u32::from_be_bytes(src)));
        key.set_ip_dst(u128::from(u32::from_be_bytes(dst)));
        key.set_tp_src(sport);
        key.set_tp_dst(dport);
        key.set_ip_tos(tos);
        key.set_ip_ttl(ttl);
        let (_, r) = run_with(list, &frame, &mut key, &mut ctx);
        prop_assert_eq!(r, Ok(()));
        let out = &ctx.outputs[0].frame;
        let ip = ipv4::Packet::new_checked(&out[14..]).unwrap();
        prop_assert!(ip.verify_checksum());
        let t = tcp::Packet::new_checked(ip.payload()).unwrap();
        prop_assert!(t.verify_checksum_v4(&ip.src_addr(), &ip.dst_addr()));
        // The key follows the frame.
        prop_assert_eq!(key.ip_src(), u128::from(u32::from_be_bytes(ip.src_addr())));
        prop_assert_eq!(key.tp_dst(), t.dst_port());
        // And the expected frame, built from scratch, is what came out.
        let want = |o: [u8; 4], v: [u8; 4], m: [u8; 4]| {
            [0, 1, 2, 3].map(|i| (o[i] & !m[i]) | (v[i] & m[i]))
        };
        let expect = tcp4(
            want(src, v.0, m.0),
            want(dst, v.1, m.1),
            (sport & !pm.0) | (pv.0 & pm.0),
            (dport & !pm.1) | (pv.1 & pm.1),
            (tos & !m.2) | (v.2 & m.2),
            (ttl & !m.3) | (v.3 & m.3),
        );
        prop_assert_eq!(out, &expect);
    }
}
