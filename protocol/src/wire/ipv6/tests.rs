use super::*;
use crate::errno::EINVAL;
use crate::wire::{tcp, udp};

const SRC: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const DST: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// IPv6 with hop-by-hop, destination options and a first-fragment header before TCP.
const CHAIN: [u8; 84] = [
    0x6b, 0x81, 0x23, 0x45, // version 6, traffic class 0xb8, flow label 0x12345
    0x00, 0x2c, // payload length 44
    0x00, // next header: hop-by-hop
    0x40, // hop limit 64
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // src 2001:db8::1
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, // dst 2001:db8::2
    // hop-by-hop options (offset 40)
    0x3c, // next header: destination options
    0x00, // length 0 → 8 bytes
    0x05, 0x02, 0x00, 0x00, // router alert, value 0 (MLD)
    0x01, 0x00, // PadN, 0 bytes
    // destination options (offset 48)
    0x2c, // next header: fragment
    0x00, // length 0 → 8 bytes
    0x01, 0x04, 0x00, 0x00, 0x00, 0x00, // PadN, 4 bytes
    // fragment header (offset 56)
    0x06, // next header: TCP
    0x00, // reserved
    0x00, 0x01, // offset 0, M = 1
    0xde, 0xad, 0xbe, 0xef, // identification
    // TCP (offset 64)
    0x01, 0xbb, // source port 443
    0xc3, 0x50, // destination port 50000
    0x00, 0x00, 0x00, 0x01, // sequence number
    0x00, 0x00, 0x00, 0x02, // acknowledgement number
    0x50, 0x10, // data offset 5, flags ACK
    0x03, 0xe8, // window 1000
    0x8b, 0x69, // checksum (over a 20-byte segment)
    0x00, 0x00, // urgent pointer
];

/// IPv6 carrying UDP 1024 → 4789 with payload "xyz!".
const UDP6: [u8; 52] = [
    0x60, 0x00, 0x00, 0x00, // version 6, traffic class 0, flow label 0
    0x00, 0x0c, // payload length 12
    0x11, // next header: UDP
    0xff, // hop limit 255
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // src
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, // dst
    0x04, 0x00, // source port 1024
    0x12, 0xb5, // destination port 4789
    0x00, 0x0c, // length 12
    0x9b, 0x11, // checksum
    b'x', b'y', b'z', b'!',
];

#[test]
fn golden_decode_and_emit() {
    let p = Packet::new_checked(&CHAIN[..]).unwrap();
    assert_eq!(p.version(), 6);
    assert_eq!((p.traffic_class(), p.flow_label()), (0xb8, 0x12345));
    assert_eq!(
        (p.payload_len(), p.next_header(), p.hop_limit()),
        (44, 0, 64)
    );
    assert_eq!((p.src_addr(), p.dst_addr()), (SRC, DST));
    assert_eq!(p.payload(), &CHAIN[40..]);
    let r = Repr::parse(&p).unwrap();
    let mut out = [0u8; 40];
    r.emit(&mut out).unwrap();
    assert_eq!(out, CHAIN[..40]);
}

#[test]
fn extension_chain() {
    let p = Packet::new_checked(&CHAIN[..]).unwrap();
    let kinds: Vec<_> = p
        .ext_header_iter()
        .map(|h| h.map(|h| (h.kind, h.offset, h.len)))
        .collect::<Result<_>>()
        .unwrap();
    assert_eq!(
        kinds,
        [
            (NEXTHDR_HOP, 40, 8),
            (NEXTHDR_DEST, 48, 8),
            (NEXTHDR_FRAGMENT, 56, 8)
        ]
    );
    let e = p.ext_headers().unwrap();
    let f = FragHeader {
        next_header: 6,
        offset: 0,
        more: true,
        ident: 0xdead_beef,
        word: 1,
    };
    assert_eq!(
        e,
        ExtHeaders {
            next_header: IPPROTO_TCP,
            l4_offset: 64,
            frag: Frag::First,
            frag_header: Some(f),
            active_routing: false,
            count: 3,
        }
    );
    let t = tcp::Packet::new_checked(&CHAIN[e.l4_offset..]).unwrap();
    assert_eq!((t.src_port(), t.dst_port()), (443, 50000));
    assert!(t.verify_checksum_v6(&SRC, &DST));
}

#[test]
fn later_fragment_stops_at_fragment_header() {
    let mut b = CHAIN;
    b[58..60].copy_from_slice(&[0x05, 0xa8]); // offset 181 × 8, M = 0
    let e = Packet::new_checked(&b[..]).unwrap().ext_headers().unwrap();
    assert_eq!((e.next_header, e.l4_offset), (NEXTHDR_FRAGMENT, 56));
    assert_eq!(e.frag, Frag::Later);
    assert_eq!(e.frag_header.unwrap().offset, 181);
    // An atomic fragment (offset 0, M 0) is not a fragment for the key.
    b[58..60].copy_from_slice(&[0, 0]);
    let e = Packet::new_checked(&b[..]).unwrap().ext_headers().unwrap();
    assert_eq!(
        (e.next_header, e.l4_offset, e.frag),
        (IPPROTO_TCP, 64, Frag::None)
    );
}

#[test]
fn auth_and_routing_lengths() {
    // AH with payload length 4 → (4 + 2) × 4 = 24 bytes, then routing with 2 segments left.
    let mut b = vec![0u8; 40];
    b[0] = 0x60;
    b[6] = NEXTHDR_AUTH;
    let mut ah = vec![NEXTHDR_ROUTING, 4];
    ah.resize(24, 0);
    b.extend_from_slice(&ah);
    b.extend_from_slice(&[NEXTHDR_NONE, 0, 4, 2, 0, 0, 0, 0]);
    let e = walk_ext_headers(&b, 40, NEXTHDR_AUTH).unwrap();
    assert_eq!((e.next_header, e.l4_offset, e.count), (NEXTHDR_NONE, 72, 2));
    assert!(e.active_routing);
    b[40 + 24 + 3] = 0;
    assert!(
        !walk_ext_headers(&b, 40, NEXTHDR_AUTH)
            .unwrap()
            .active_routing
    );
}

#[test]
fn hostile_chains() {
    // Truncated before a header's length byte.
    let e = walk_ext_headers(&CHAIN[..49], 40, NEXTHDR_HOP).unwrap_err();
    assert_eq!((e.errno, e.offset), (EINVAL, 48));
    // A fragment header cut off before its offset word.
    assert_eq!(
        walk_ext_headers(&CHAIN[..59], 40, 0).unwrap_err().offset,
        56
    );
    // A destination options header whose length runs past the end: the walk steps over it
    // (the kernel reads only two bytes) and the transport offset lies past the buffer.
    let mut b = CHAIN[..56].to_vec();
    b[49] = 0xff;
    b[48] = IPPROTO_UDP;
    let e = walk_ext_headers(&b, 40, 0).unwrap();
    assert_eq!((e.next_header, e.l4_offset), (IPPROTO_UDP, 48 + 256 * 8));
    // Thirteen hop-by-hop headers in a row: a bounded walk, then EINVAL.
    let mut b = vec![0u8; 40];
    for _ in 0..13 {
        b.extend_from_slice(&[NEXTHDR_HOP, 0, 1, 4, 0, 0, 0, 0]);
    }
    let e = walk_ext_headers(&b, 40, NEXTHDR_HOP).unwrap_err();
    assert_eq!(e.offset, 40 + 12 * 8);
    // Twelve are fine.
    let e = walk_ext_headers(&b[..40 + 12 * 8], 40, NEXTHDR_HOP);
    assert_eq!(e.unwrap_err().offset, 136, "the 12th names a 13th");
    b.truncate(40 + 12 * 8);
    let last = b.len() - 8;
    b[last] = IPPROTO_TCP;
    assert_eq!(walk_ext_headers(&b, 40, NEXTHDR_HOP).unwrap().count, 12);
    // An offset beyond the buffer is an error, never a panic.
    assert!(walk_ext_headers(&b, 10_000, NEXTHDR_HOP).is_err());
    assert_eq!(
        walk_ext_headers(&b, 10_000, IPPROTO_TCP).unwrap().l4_offset,
        10_000
    );
}

#[test]
fn malformed_header() {
    for n in 0..HEADER_LEN {
        let e = Packet::new_checked(&CHAIN[..n]).unwrap_err();
        assert_eq!((e.errno, e.offset), (EINVAL, n));
    }
    // Payload length beyond the buffer: strict fails, header-only clamps.
    assert_eq!(Packet::new_checked(&CHAIN[..83]).unwrap_err().offset, 4);
    let p = Packet::new_checked_header(&CHAIN[..83]).unwrap();
    assert_eq!(p.payload().len(), 43);
    let mut b = CHAIN;
    b[0] = 0x4b;
    assert!(Repr::parse(&Packet::new_checked(&b[..]).unwrap()).is_err());
    let r = Repr {
        flow_label: 1 << 20,
        ..Repr::default()
    };
    assert!(r.emit(&mut [0; 40]).is_err());
}

#[test]
fn setters() {
    let mut b = CHAIN;
    let mut p = Packet::new_checked(&mut b[..]).unwrap();
    p.set_traffic_class(0x01);
    p.set_flow_label(0xfffff);
    assert_eq!(&b[..4], &[0x60, 0x1f, 0xff, 0xff]);
    let mut p = Packet::new_checked(&mut b[..]).unwrap();
    p.set_version_tc_label(0xff, 0);
    p.set_hop_limit(1);
    p.set_next_header(59);
    p.set_payload_len(0);
    assert_eq!(&b[..8], &[0x6f, 0xf0, 0, 0, 0, 0, 59, 1]);
}

#[test]
fn address_rewrites_fix_transport_checksums() {
    let new_src = [
        0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd, 0xef, 0x01,
    ];
    let new_dst = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99];
    // UDP directly after the fixed header.
    let mut b = UDP6;
    let mut p = Packet::new_checked(&mut b[..]).unwrap();
    p.rewrite_src_addr(new_src);
    p.rewrite_dst_addr(new_dst);
    let u = udp::Packet::new_checked(&b[40..]).unwrap();
    assert!(u.verify_checksum_v6(&new_src, &new_dst));
    assert_ne!(u.checksum(), 0x9b11);
    // TCP behind three extension headers.
    let mut b = CHAIN;
    let mut p = Packet::new_checked(&mut b[..]).unwrap();
    p.rewrite_dst_addr(new_dst);
    let t = tcp::Packet::new_checked(&b[64..]).unwrap();
    assert!(t.verify_checksum_v6(&SRC, &new_dst));
}

#[test]
fn dst_rewrite_with_routing_header_leaves_checksum() {
    // Fixed header → routing header (segments left 1) → UDP.
    let mut b = UDP6[..40].to_vec();
    b[5] = 20;
    b[6] = NEXTHDR_ROUTING;
    b.extend_from_slice(&[IPPROTO_UDP, 0, 4, 1, 0, 0, 0, 0]);
    b.extend_from_slice(&UDP6[40..]);
    let mut p = Packet::new_checked(&mut b[..]).unwrap();
    p.rewrite_dst_addr([0xff; 16]);
    assert_eq!(&b[54..56], &[0x9b, 0x11]);
    // The source is always in the pseudo-header.
    let mut p = Packet::new_checked(&mut b[..]).unwrap();
    p.rewrite_src_addr([0xff; 16]);
    assert_ne!(&b[54..56], &[0x9b, 0x11]);
}
