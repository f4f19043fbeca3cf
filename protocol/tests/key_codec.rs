//! Golden bytes for flow keys (both directions), strict-decoding rejections and property round
//! trips (value → bytes → value).

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use userdp_protocol::errno::{EINVAL, ENOTSUPP};
use userdp_protocol::nl::{NlaIter, NlaWriter};
use userdp_protocol::ovs::key::*;

/// An upcall-style TCP/IPv4 key, annotated attribute by attribute.
#[rustfmt::skip]
const TCP4_KEY: &[u8] = &[
    // RECIRC_ID (20), len 8: u32 host order 0
    8, 0, 20, 0,   0, 0, 0, 0,
    // IN_PORT (3), len 8: u32 host order 2
    8, 0, 3, 0,    2, 0, 0, 0,
    // ETHERNET (4), len 16: src 00:01:02:03:04:05 then dst 0a:0b:0c:0d:0e:0f (source first)
    16, 0, 4, 0,   0, 1, 2, 3, 4, 5,   10, 11, 12, 13, 14, 15,
    // ETHERTYPE (6), len 6: be16 0x0800, 2 bytes padding
    6, 0, 6, 0,    0x08, 0x00, 0, 0,
    // IPV4 (7), len 16: src 10.0.0.1, dst 10.0.0.2, proto 6, tos 0x10, ttl 64, frag 0 (none)
    16, 0, 7, 0,   10, 0, 0, 1,   10, 0, 0, 2,   6, 0x10, 64, 0,
    // TCP (9), len 8: be16 src 80, be16 dst 8080 (0x1f90)
    8, 0, 9, 0,    0, 80, 0x1f, 0x90,
    // TCP_FLAGS (18), len 6: be16 0x0012 (syn|ack), 2 bytes padding
    6, 0, 18, 0,   0x00, 0x12, 0, 0,
];

fn tcp4_key() -> Key {
    Key(vec![
        KeyAttr::RecircId(0),
        KeyAttr::InPort(2),
        KeyAttr::Ethernet(EthernetKey {
            src: [0, 1, 2, 3, 4, 5],
            dst: [10, 11, 12, 13, 14, 15],
        }),
        KeyAttr::Ethertype(0x0800),
        KeyAttr::Ipv4(Ipv4Key {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            proto: 6,
            tos: 0x10,
            ttl: 64,
            frag: 0,
        }),
        KeyAttr::Tcp(PortsKey { src: 80, dst: 8080 }),
        KeyAttr::TcpFlags(0x12),
    ])
}

#[test]
fn tcp4_golden_both_directions() {
    assert_eq!(tcp4_key().to_bytes(), TCP4_KEY);
    assert_eq!(tcp4_key().buffer_len(), TCP4_KEY.len());
    assert_eq!(Key::parse(TCP4_KEY, 0).unwrap(), tcp4_key());
    validate_match(&tcp4_key(), None).unwrap();
}

/// VLAN-tagged ARP: the inner attributes live in ENCAP.
#[rustfmt::skip]
const VLAN_ARP_KEY: &[u8] = &[
    // ETHERNET (4): src 02:00:00:00:00:01, dst ff:ff:ff:ff:ff:ff
    16, 0, 4, 0,   2, 0, 0, 0, 0, 1,   0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    // ETHERTYPE (6): TPID 0x8100
    6, 0, 6, 0,    0x81, 0x00, 0, 0,
    // VLAN (5): be16 TCI 0x300a = pcp 1, CFI set, vid 10
    6, 0, 5, 0,    0x30, 0x0a, 0, 0,
    // ENCAP (1), len 4 + 8 + 28
    40, 0, 1, 0,
    //   ETHERTYPE (6): 0x0806
         6, 0, 6, 0,    0x08, 0x06, 0, 0,
    //   ARP (13), len 28: sip 1.1.1.1, tip 1.1.1.2, be16 op 1, sha, tha, 2 pad
         28, 0, 13, 0,  1, 1, 1, 1,  1, 1, 1, 2,  0, 1,
                        2, 0, 0, 0, 0, 1,  0, 0, 0, 0, 0, 0,  0, 0,
];

#[test]
fn vlan_arp_golden_both_directions() {
    let key = Key(vec![
        KeyAttr::Ethernet(EthernetKey {
            src: [2, 0, 0, 0, 0, 1],
            dst: [0xff; 6],
        }),
        KeyAttr::Ethertype(0x8100),
        KeyAttr::Vlan(0x300a),
        KeyAttr::Encap(Key(vec![
            KeyAttr::Ethertype(0x0806),
            KeyAttr::Arp(ArpKey {
                sip: Ipv4Addr::new(1, 1, 1, 1),
                tip: Ipv4Addr::new(1, 1, 1, 2),
                op: 1,
                sha: [2, 0, 0, 0, 0, 1],
                tha: [0; 6],
            }),
        ])),
    ]);
    assert_eq!(key.to_bytes(), VLAN_ARP_KEY);
    assert_eq!(Key::parse(VLAN_ARP_KEY, 0).unwrap(), key);
    validate_match(&key, None).unwrap();
}

/// Tunnel key: nested OVS_TUNNEL_KEY_ATTR_* starting at 0, kernel emission order.
#[rustfmt::skip]
const TUNNEL_KEY: &[u8] = &[
    // TUNNEL (16), len 4 + 12 + 8 + 8 + 8 + 4 + 4 + 8 = 56
    56, 0, 16, 0,
    //   ID (0): be64 0x2a
         12, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 0x2a,
    //   IPV4_SRC (1): 192.168.0.1
         8, 0, 1, 0,   192, 168, 0, 1,
    //   IPV4_DST (2): 192.168.0.2
         8, 0, 2, 0,   192, 168, 0, 2,
    //   TTL (4): 64, 3 pad
         5, 0, 4, 0,   64, 0, 0, 0,
    //   DONT_FRAGMENT (5): flag
         4, 0, 5, 0,
    //   CSUM (6): flag
         4, 0, 6, 0,
    //   TP_DST (10): be16 4789
         6, 0, 10, 0,  0x12, 0xb5, 0, 0,
];

#[test]
fn tunnel_golden_both_directions() {
    let t = TunnelKey {
        id: Some(0x2a),
        ipv4_src: Some(Ipv4Addr::new(192, 168, 0, 1)),
        ipv4_dst: Some(Ipv4Addr::new(192, 168, 0, 2)),
        ttl: Some(64),
        dont_fragment: true,
        csum: true,
        tp_dst: Some(4789),
        ..Default::default()
    };
    let key = Key(vec![KeyAttr::Tunnel(t.clone())]);
    assert_eq!(key.to_bytes(), TUNNEL_KEY);
    assert_eq!(Key::parse(TUNNEL_KEY, 0).unwrap(), key);
    // The bare nested form is what EGRESS_TUN_KEY and set(tunnel) carry.
    assert_eq!(t.to_bytes(), &TUNNEL_KEY[4..]);
    assert_eq!(t.buffer_len(), TUNNEL_KEY.len() - 4);
    assert_eq!(TunnelKey::parse(&TUNNEL_KEY[4..], 4).unwrap(), t);
}

#[rustfmt::skip]
const CT_KEY: &[u8] = &[
    // CT_STATE (22): u32 0x22 (est|trk), host order
    8, 0, 22, 0,   0x22, 0, 0, 0,
    // CT_ZONE (23): u16 5, host order, 2 pad
    6, 0, 23, 0,   5, 0, 0, 0,
    // CT_MARK (24): u32 0x01020304 host order
    8, 0, 24, 0,   4, 3, 2, 1,
    // CT_LABELS (25): 16 bytes
    20, 0, 25, 0,  1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80,
    // CT_ORIG_TUPLE_IPV4 (26): src 1.2.3.4, dst 5.6.7.8, be16 sport 1000, be16 dport 80, proto 6, 3 pad
    20, 0, 26, 0,  1, 2, 3, 4,  5, 6, 7, 8,  0x03, 0xe8, 0, 80,  6, 0, 0, 0,
];

#[test]
fn conntrack_golden_both_directions() {
    let mut labels = [0u8; 16];
    labels[0] = 1;
    labels[15] = 0x80;
    let key = Key(vec![
        KeyAttr::CtState(0x22),
        KeyAttr::CtZone(5),
        KeyAttr::CtMark(0x0102_0304),
        KeyAttr::CtLabels(labels),
        KeyAttr::CtOrigTupleIpv4(CtTupleIpv4 {
            src: Ipv4Addr::new(1, 2, 3, 4),
            dst: Ipv4Addr::new(5, 6, 7, 8),
            src_port: 1000,
            dst_port: 80,
            proto: 6,
        }),
    ]);
    assert_eq!(key.to_bytes(), CT_KEY);
    assert_eq!(Key::parse(CT_KEY, 0).unwrap(), key);
}

#[rustfmt::skip]
const IPV6_ND_KEY: &[u8] = &[
    // IPV6 (8), len 44: src fe80::1, dst ff02::1, be32 label 0x12345, proto 58, tclass 0, hlimit 255, frag 0
    44, 0, 8, 0,
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        0, 0x01, 0x23, 0x45,  58, 0, 255, 0,
    // ICMPV6 (12): type 135, code 0, 2 pad
    6, 0, 12, 0,   135, 0, 0, 0,
    // ND (14), len 32: target fe80::2, sll 00:00:00:00:00:01, tll zero
    32, 0, 14, 0,
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
        0, 0, 0, 0, 0, 1,   0, 0, 0, 0, 0, 0,
    // MPLS (21), two LSEs: label 16 tc 0 bos 0 ttl 64 = 0x00010040; label 17 bos 1 ttl 64 = 0x00011140
    12, 0, 21, 0,  0x00, 0x01, 0x00, 0x40,  0x00, 0x01, 0x11, 0x40,
];

#[test]
fn ipv6_nd_mpls_golden_both_directions() {
    let key = Key(vec![
        KeyAttr::Ipv6(Ipv6Key {
            src: "fe80::1".parse().unwrap(),
            dst: "ff02::1".parse().unwrap(),
            label: 0x12345,
            proto: 58,
            tclass: 0,
            hlimit: 255,
            frag: 0,
        }),
        KeyAttr::Icmpv6(IcmpKey {
            type_: 135,
            code: 0,
        }),
        KeyAttr::Nd(NdKey {
            target: "fe80::2".parse().unwrap(),
            sll: [0, 0, 0, 0, 0, 1],
            tll: [0; 6],
        }),
        KeyAttr::Mpls(vec![0x0001_0040, 0x0001_1140]),
    ]);
    assert_eq!(key.to_bytes(), IPV6_ND_KEY);
    assert_eq!(Key::parse(IPV6_ND_KEY, 0).unwrap(), key);
}

#[rustfmt::skip]
const NSH_KEY: &[u8] = &[
    // NSH (28), len 4 + 12 + 20
    36, 0, 28, 0,
    //   BASE (1): flags 0, ttl 63, mdtype 1, np 3, be32 path_hdr spi 0x123 si 255
         12, 0, 1, 0,  0, 63, 1, 3,  0x00, 0x01, 0x23, 0xff,
    //   MD1 (2): four be32 contexts 1, 2, 3, 4
         20, 0, 2, 0,  0, 0, 0, 1,  0, 0, 0, 2,  0, 0, 0, 3,  0, 0, 0, 4,
];

#[test]
fn nsh_golden_both_directions() {
    let key = Key(vec![KeyAttr::Nsh(NshKey {
        base: Some(NshBase {
            flags: 0,
            ttl: 63,
            mdtype: 1,
            np: 3,
            path_hdr: 0x0001_23ff,
        }),
        md1: Some([1, 2, 3, 4]),
        md2: None,
    })]);
    assert_eq!(key.to_bytes(), NSH_KEY);
    assert_eq!(Key::parse(NSH_KEY, 0).unwrap(), key);
    let KeyAttr::Nsh(n) = &key.0[0] else {
        unreachable!()
    };
    assert_eq!((n.base.unwrap().spi(), n.base.unwrap().si()), (0x123, 255));
}

fn err(buf: &[u8]) -> (i32, usize) {
    let e = Key::parse(buf, 100).unwrap_err();
    (e.errno, e.offset)
}

#[test]
fn rejects_wrong_length_with_offset() {
    // PRIORITY then an ETHERTYPE with a 4-byte payload (must be 2).
    let buf = [8, 0, 2, 0, 0, 0, 0, 0, 8, 0, 6, 0, 8, 0, 0, 0];
    assert_eq!(err(&buf), (EINVAL, 108));
}

#[test]
fn rejects_unknown_type() {
    assert_eq!(err(&[8, 0, 40, 0, 0, 0, 0, 0]), (EINVAL, 100));
    // Lenient decoding keeps it for printing.
    let k = Key::parse_lenient(&[8, 0, 40, 0, 1, 2, 3, 4], 0).unwrap();
    assert_eq!(k.0, vec![KeyAttr::Unknown(40, vec![1, 2, 3, 4])]);
}

#[test]
fn rejects_userspace_only_and_kernel_internal_types() {
    for t in [29u8, 30, 31] {
        assert_eq!(err(&[8, 0, t, 0, 0, 0, 0, 0]), (EINVAL, 100), "type {t}");
    }
}

#[test]
fn rejects_duplicate() {
    let buf = [8, 0, 15, 0, 1, 0, 0, 0, 8, 0, 15, 0, 2, 0, 0, 0];
    assert_eq!(err(&buf), (EINVAL, 108));
}

#[test]
fn rejects_trailing_bytes() {
    assert_eq!(err(&[8, 0, 15, 0, 1, 0, 0, 0, 0, 0]).0, EINVAL);
    // An unpadded last attribute leaves the kernel's remainder negative.
    assert_eq!(err(&[6, 0, 6, 0, 8, 0]).0, EINVAL);
}

#[test]
fn rejects_bad_mpls_lengths() {
    assert_eq!(err(&[4, 0, 21, 0]).0, EINVAL);
    assert_eq!(err(&[10, 0, 21, 0, 0, 0, 0, 0, 0, 0, 0, 0]).0, EINVAL);
    let four = [
        20u8, 0, 21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    assert_eq!(err(&four).0, EINVAL);
}

#[test]
fn rejects_bad_tunnel_attributes() {
    // Unknown tunnel attribute 20.
    let buf = [12, 0, 16, 0, 8, 0, 20, 0, 0, 0, 0, 0];
    assert_eq!(err(&buf), (EINVAL, 104));
    // PAD (14) is never valid.
    let buf = [8, 0, 16, 0, 4, 0, 14, 0];
    assert_eq!(err(&buf), (EINVAL, 104));
    // TTL with 2 bytes.
    let buf = [12, 0, 16, 0, 6, 0, 4, 0, 1, 2, 0, 0];
    assert_eq!(err(&buf), (EINVAL, 104));
    // Geneve options not a multiple of 4.
    let buf = [12, 0, 16, 0, 6, 0, 8, 0, 1, 2, 0, 0];
    assert_eq!(err(&buf), (EINVAL, 104));
    // Two option blocks (geneve, then erspan).
    let buf = [
        20, 0, 16, 0, 8, 0, 8, 0, 0, 0, 0, 0, 8, 0, 15, 0, 0, 0, 0, 0,
    ];
    assert_eq!(err(&buf), (EINVAL, 112));
}

#[test]
fn nsh_md2_in_a_key_is_enotsupp() {
    let buf = [12, 0, 28, 0, 8, 0, 3, 0, 1, 2, 3, 4];
    assert_eq!(err(&buf), (ENOTSUPP, 104));
    // push_nsh accepts it.
    let n = NshKey::parse(&buf[4..], 0, true).unwrap();
    assert_eq!(n.md2, Some(vec![1, 2, 3, 4]));
}

#[test]
fn attr_parse_and_emit_single() {
    let mut buf = Vec::new();
    KeyAttr::SkbMark(0xdead_beef).emit(&mut NlaWriter::new(&mut buf));
    assert_eq!(buf, [8, 0, 15, 0, 0xef, 0xbe, 0xad, 0xde]);
    let nla = NlaIter::new(&buf).next().unwrap().unwrap();
    assert_eq!(KeyAttr::parse(&nla).unwrap(), KeyAttr::SkbMark(0xdead_beef));
    assert_eq!(KeyAttr::SkbMark(0).buffer_len(), 8);
    assert_eq!(KeyAttr::Vlan(0).buffer_len(), 8);
}

#[test]
fn attr_type_numbers_round_trip() {
    for n in 0..=40u16 {
        assert_eq!(u16::from(OvsKeyAttr::from(n)), n);
    }
    assert_eq!(OvsKeyAttr::from(7), OvsKeyAttr::Ipv4);
    assert_eq!(OvsKeyAttr::from(99), OvsKeyAttr::Unknown(99));
}

// ---------------------------------------------------------------------------------------------
// Property round trips
// ---------------------------------------------------------------------------------------------

fn v4() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}
fn v6() -> impl Strategy<Value = Ipv6Addr> {
    any::<u128>().prop_map(Ipv6Addr::from)
}

fn tunnel() -> impl Strategy<Value = TunnelKey> {
    (
        proptest::option::of(any::<u64>()),
        proptest::option::of(v4()),
        proptest::option::of(v4()),
        proptest::option::of(any::<u8>()),
        proptest::option::of(any::<u8>()),
        any::<(bool, bool, bool)>(),
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<u16>()),
        prop_oneof![
            Just((None, None)),
            proptest::collection::vec(any::<u8>(), 0..16).prop_map(|mut v| {
                v.truncate(v.len() / 4 * 4);
                (Some(v), None)
            }),
            any::<u32>().prop_map(|g| (None, Some(g))),
        ],
    )
        .prop_map(
            |(id, s, d, tos, ttl, (df, csum, oam), tps, tpd, (gen, gbp))| TunnelKey {
                id,
                ipv4_src: s,
                ipv4_dst: d,
                tos,
                ttl,
                dont_fragment: df,
                csum,
                oam,
                tp_src: tps,
                tp_dst: tpd,
                geneve_opts: gen,
                vxlan_gbp: gbp,
                ..Default::default()
            },
        )
}

fn leaf_attr() -> impl Strategy<Value = KeyAttr> {
    prop_oneof![
        any::<u32>().prop_map(KeyAttr::Priority),
        any::<u32>().prop_map(KeyAttr::InPort),
        any::<([u8; 6], [u8; 6])>()
            .prop_map(|(src, dst)| KeyAttr::Ethernet(EthernetKey { src, dst })),
        any::<u16>().prop_map(KeyAttr::Vlan),
        any::<u16>().prop_map(KeyAttr::Ethertype),
        (v4(), v4(), any::<[u8; 4]>()).prop_map(|(src, dst, b)| KeyAttr::Ipv4(Ipv4Key {
            src,
            dst,
            proto: b[0],
            tos: b[1],
            ttl: b[2],
            frag: b[3]
        })),
        (v6(), v6(), any::<u32>(), any::<[u8; 4]>()).prop_map(|(src, dst, label, b)| {
            KeyAttr::Ipv6(Ipv6Key {
                src,
                dst,
                label,
                proto: b[0],
                tclass: b[1],
                hlimit: b[2],
                frag: b[3],
            })
        }),
        any::<(u16, u16)>().prop_map(|(src, dst)| KeyAttr::Tcp(PortsKey { src, dst })),
        any::<(u16, u16)>().prop_map(|(src, dst)| KeyAttr::Udp(PortsKey { src, dst })),
        any::<(u16, u16)>().prop_map(|(src, dst)| KeyAttr::Sctp(PortsKey { src, dst })),
        any::<(u8, u8)>().prop_map(|(type_, code)| KeyAttr::Icmp(IcmpKey { type_, code })),
        any::<(u8, u8)>().prop_map(|(type_, code)| KeyAttr::Icmpv6(IcmpKey { type_, code })),
        (v4(), v4(), any::<u16>(), any::<([u8; 6], [u8; 6])>()).prop_map(
            |(sip, tip, op, (sha, tha))| KeyAttr::Arp(ArpKey {
                sip,
                tip,
                op,
                sha,
                tha
            })
        ),
        (v6(), any::<([u8; 6], [u8; 6])>()).prop_map(|(target, (sll, tll))| KeyAttr::Nd(NdKey {
            target,
            sll,
            tll
        })),
        any::<u32>().prop_map(KeyAttr::SkbMark),
        tunnel().prop_map(KeyAttr::Tunnel),
        any::<u16>().prop_map(KeyAttr::TcpFlags),
        any::<u32>().prop_map(KeyAttr::DpHash),
        any::<u32>().prop_map(KeyAttr::RecircId),
        proptest::collection::vec(any::<u32>(), 1..=3).prop_map(KeyAttr::Mpls),
        any::<u32>().prop_map(KeyAttr::CtState),
        any::<u16>().prop_map(KeyAttr::CtZone),
        any::<u32>().prop_map(KeyAttr::CtMark),
        any::<[u8; 16]>().prop_map(KeyAttr::CtLabels),
        (v4(), v4(), any::<(u16, u16, u8)>()).prop_map(|(src, dst, (sp, dp, proto))| {
            KeyAttr::CtOrigTupleIpv4(CtTupleIpv4 {
                src,
                dst,
                src_port: sp,
                dst_port: dp,
                proto,
            })
        }),
        (v6(), v6(), any::<(u16, u16, u8)>()).prop_map(|(src, dst, (sp, dp, proto))| {
            KeyAttr::CtOrigTupleIpv6(CtTupleIpv6 {
                src,
                dst,
                src_port: sp,
                dst_port: dp,
                proto,
            })
        }),
        (
            any::<[u8; 4]>(),
            any::<u32>(),
            proptest::option::of(any::<[u32; 4]>())
        )
            .prop_map(|(b, path_hdr, md1)| KeyAttr::Nsh(NshKey {
                base: Some(NshBase {
                    flags: b[0],
                    ttl: b[1],
                    mdtype: b[2],
                    np: b[3],
                    path_hdr
                }),
                md1,
                md2: None,
            })),
        any::<u16>().prop_map(KeyAttr::Ipv6Exthdrs),
    ]
}

/// A key with distinct attribute types per level (strict decoding rejects duplicates).
fn key() -> impl Strategy<Value = Key> {
    fn level() -> impl Strategy<Value = Key> {
        proptest::collection::vec(leaf_attr(), 0..12).prop_map(|v| {
            let mut seen = std::collections::HashSet::new();
            Key(v.into_iter().filter(|a| seen.insert(a.type_id())).collect())
        })
    }
    (level(), proptest::option::of(level())).prop_map(|(mut outer, inner)| {
        if let Some(inner) = inner {
            outer.push(KeyAttr::Encap(inner));
        }
        outer
    })
}

proptest! {
    #[test]
    fn key_bytes_round_trip(k in key()) {
        let bytes = k.to_bytes();
        prop_assert_eq!(bytes.len(), k.buffer_len());
        let back = Key::parse(&bytes, 0).unwrap();
        prop_assert_eq!(back, k);
    }

    #[test]
    fn offsets_match_the_encoding(k in key()) {
        let bytes = k.to_bytes();
        for ((off, a), nla) in k.offsets().zip(NlaIter::new(&bytes)) {
            let nla = nla.unwrap();
            prop_assert_eq!(off, nla.offset);
            prop_assert_eq!(a.type_id(), nla.kind);
        }
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Key::parse(&b, 0);
        let _ = Key::parse_lenient(&b, 0);
        let _ = TunnelKey::parse(&b, 0);
        if let Ok(k) = Key::parse(&b, 0) {
            let _ = validate_match(&k, None);
            let _ = FlowKey::from_key(&k);
            let _ = validate_match(&k, Some(&k));
        }
    }
}
