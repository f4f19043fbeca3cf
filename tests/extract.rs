//! Key extraction: each frame's key, converted with `FlowKey::to_key` and printed with
//! `format_key` (unmasked, not verbose), against the text OVS prints for the upcall key the
//! Linux datapath builds for the same frame.
//!
//! Frames are built from annotated header pieces below. Checksums are left zero: the kernel's
//! key extraction never verifies them.

use std::net::Ipv6Addr;

use proptest::prelude::*;
use userdp::flow::extract::{extract, extract_l3, stats_tcp_flags, CtOrig, DropReason, Metadata};
use userdp_protocol::ovs::key::{FlowKey, FLOW_KEY_WORDS, TUN_F_KEY, TUN_PROTO_IPV4};
use userdp_protocol::text::key::format_key;

// ---------------------------------------------------------------------------------------------
// Frame pieces
// ---------------------------------------------------------------------------------------------

/// dst 02:00:00:00:00:02, src 02:00:00:00:00:01.
const MACS: [u8; 12] = [
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // destination
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // source
];

/// The addresses of every frame, as OVS prints them.
const ETH: &str = "eth(src=02:00:00:00:00:01,dst=02:00:00:00:00:02)";

/// The metadata of a packet received on port 1 without conntrack, printed unmasked (OVS
/// prints an unmasked zero `ct_zone`/`ct_mark`/`ct_label` with empty parentheses).
const META: &str = "recirc_id(0),dp_hash(0),skb_priority(0),in_port(1),skb_mark(0),ct_state(0),ct_zone(),ct_mark(),ct_label()";

/// Ethernet header: the two addresses and `ethertype`.
fn eth(ethertype: u16) -> Vec<u8> {
    let mut v = MACS.to_vec();
    v.extend_from_slice(&ethertype.to_be_bytes());
    v
}

/// A 20-byte IPv4 header, 10.0.0.1 → 10.0.0.2, TOS 0, TTL 64, total length 1500 (never
/// checked), with the given protocol and flags/fragment-offset word.
fn ipv4(proto: u8, frag_word: u16) -> Vec<u8> {
    let mut v = vec![
        0x45, 0x00, // version 4, IHL 5; TOS 0
        0x05, 0xdc, // total length 1500
        0x12, 0x34, // identification
    ];
    v.extend_from_slice(&frag_word.to_be_bytes()); // flags and fragment offset
    v.extend_from_slice(&[
        0x40, proto, // TTL 64; protocol
        0x00, 0x00, // header checksum (unchecked)
        10, 0, 0, 1, // source 10.0.0.1
        10, 0, 0, 2, // destination 10.0.0.2
    ]);
    v
}

/// A 20-byte TCP header with the 12-bit flags field `flags` (data offset 5).
fn tcp(src: u16, dst: u16, flags: u16) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&src.to_be_bytes()); // source port
    v.extend_from_slice(&dst.to_be_bytes()); // destination port
    v.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0]); // sequence 1, acknowledgement 0
    v.extend_from_slice(&(0x5000 | flags).to_be_bytes()); // data offset 5, flags
    v.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]); // window, checksum, urgent pointer
    v
}

/// An 8-byte UDP header with length 8.
fn udp(src: u16, dst: u16) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&src.to_be_bytes());
    v.extend_from_slice(&dst.to_be_bytes());
    v.extend_from_slice(&[0x00, 0x08, 0x00, 0x00]); // length 8, checksum none
    v
}

/// A 40-byte IPv6 header, traffic class 0xb8 (EF), flow label 0x12345, hop limit 64,
/// 2001:db8::1 → 2001:db8::2, payload length 0 (never checked), with `next`.
fn ipv6(next: u8) -> Vec<u8> {
    let mut v = vec![
        0x6b, 0x81, 0x23, 0x45, // version 6, traffic class 0xb8, flow label 0x12345
        0x00, 0x00, next, 0x40, // payload length; next header; hop limit 64
    ];
    v.extend_from_slice(&v6("2001:db8::1"));
    v.extend_from_slice(&v6("2001:db8::2"));
    v
}

fn v6(s: &str) -> [u8; 16] {
    s.parse::<Ipv6Addr>().unwrap().octets()
}

/// How OVS prints the fields of [`ipv6`] (before `proto`).
const IP6: &str = "ipv6(src=2001:db8::1,dst=2001:db8::2,label=0x12345";
/// How OVS prints the fields of [`ipv6`] after `proto`, for the given fragment type.
fn ip6_tail(frag: &str) -> String {
    format!("tclass=0xb8,hlimit=64,frag={frag})")
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn port1() -> Metadata<'static> {
    Metadata {
        in_port: 1,
        ..Metadata::default()
    }
}

fn key_of(frame: &[u8]) -> FlowKey {
    let mut key = FlowKey::default();
    assert_eq!(extract(frame, &port1(), &mut key), Ok(()));
    key
}

fn print(key: &FlowKey) -> String {
    let mut s = String::new();
    format_key(&key.to_key(), None, false, &mut s);
    s
}

/// The printed key of `frame` received on port 1, without the metadata and Ethernet prefix.
fn l2_on(frame: &[u8]) -> String {
    let text = print(&key_of(frame));
    let prefix = format!("{META},{ETH}");
    text.strip_prefix(&prefix)
        .and_then(|t| t.strip_prefix(','))
        .unwrap_or_else(|| panic!("unexpected prefix: {text}"))
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// IPv4
// ---------------------------------------------------------------------------------------------

#[test]
fn ipv4_tcp_syn_full_text() {
    let frame = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // Ethernet destination
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // Ethernet source
        0x08, 0x00, // ethertype IPv4
        0x45, 0x00, 0x00, 0x28, // version 4, IHL 5, TOS 0, total length 40
        0x00, 0x01, 0x40, 0x00, // identification 1, DF, offset 0
        0x40, 0x06, 0x00, 0x00, // TTL 64, protocol TCP, checksum (unchecked)
        10, 0, 0, 1, // source 10.0.0.1
        10, 0, 0, 2, // destination 10.0.0.2
        0x30, 0x39, 0x00, 0x50, // TCP source 12345, destination 80
        0x00, 0x00, 0x00, 0x01, // sequence 1
        0x00, 0x00, 0x00, 0x00, // acknowledgement 0
        0x50, 0x02, 0xff, 0xff, // data offset 5, flags SYN, window 65535
        0x00, 0x00, 0x00, 0x00, // checksum, urgent pointer
    ];
    assert_eq!(
        print(&key_of(&frame)),
        "recirc_id(0),dp_hash(0),skb_priority(0),in_port(1),skb_mark(0),ct_state(0),ct_zone(),\
         ct_mark(),ct_label(),eth(src=02:00:00:00:00:01,dst=02:00:00:00:00:02),eth_type(0x0800),\
         ipv4(src=10.0.0.1,dst=10.0.0.2,proto=6,tos=0,ttl=64,frag=no),tcp(src=12345,dst=80),\
         tcp_flags(syn)"
    );
    assert_eq!(stats_tcp_flags(&key_of(&frame)), 0x02);
}

#[test]
fn ipv4_tcp_flags_all_twelve_bits_and_stats_byte() {
    // SYN|ACK|ECE|CWR|NS (0x1d2): the key keeps 12 bits, the stats attribute only 8.
    let frame = cat(&[&eth(0x0800), &ipv4(6, 0), &tcp(80, 12345, 0x1d2)]);
    let key = key_of(&frame);
    assert_eq!(key.tcp_flags(), 0x1d2);
    assert_eq!(stats_tcp_flags(&key), 0xd2);
    assert!(l2_on(&frame).ends_with("tcp(src=80,dst=12345),tcp_flags(syn|ack|ece|cwr|ns)"));
}

#[test]
fn ipv4_udp() {
    let frame = cat(&[&eth(0x0800), &ipv4(17, 0), &udp(5353, 53)]);
    assert_eq!(
        l2_on(&frame),
        "eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),\
         udp(src=5353,dst=53)"
    );
    assert_eq!(stats_tcp_flags(&key_of(&frame)), 0);
}

#[test]
fn ipv4_icmp_echo() {
    let icmp = [
        0x08, 0x00, 0x00, 0x00, // type 8 (echo request), code 0, checksum
        0x12, 0x34, 0x00, 0x01, // identifier 0x1234, sequence 1
        b'p', b'i', b'n', b'g', // data
    ];
    let frame = cat(&[&eth(0x0800), &ipv4(1, 0), &icmp]);
    assert_eq!(
        l2_on(&frame),
        "eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=1,tos=0,ttl=64,frag=no),\
         icmp(type=8,code=0)"
    );
}

#[test]
fn ipv4_first_fragment_keeps_ports() {
    // MF set, offset 0: a first fragment, transport header keyed.
    let frame = cat(&[&eth(0x0800), &ipv4(17, 0x2000), &udp(1000, 2000)]);
    assert_eq!(
        l2_on(&frame),
        "eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=first),\
         udp(src=1000,dst=2000)"
    );
}

#[test]
fn ipv4_later_fragment_has_no_l4() {
    // Offset 185 (1480 bytes), MF clear: a later (last) fragment. The bytes after the header
    // look like a UDP header but are payload.
    let frame = cat(&[&eth(0x0800), &ipv4(17, 0x00b9), &udp(1000, 2000)]);
    assert_eq!(
        l2_on(&frame),
        "eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=later)"
    );
    let key = key_of(&frame);
    assert_eq!((key.tp_src(), key.tp_dst()), (0, 0));
}

#[test]
fn ipv4_options_are_skipped_and_padding_ignored() {
    let ip = [
        0x46, 0x10, 0x00, 0x20, // IHL 6 (4 bytes of options), TOS 0x10, total length 32
        0x00, 0x00, 0x00, 0x00, // identification, no fragment
        0x01, 0x11, 0x00, 0x00, // TTL 1, UDP
        192, 168, 1, 1, // source
        224, 0, 0, 251, // destination
        0x94, 0x04, 0x00, 0x00, // router alert option
    ];
    // 8 bytes of UDP, then Ethernet padding beyond the IP total length.
    let frame = cat(&[&eth(0x0800), &ip, &udp(5353, 5353), &[0; 10]]);
    assert_eq!(
        l2_on(&frame),
        "eth_type(0x0800),ipv4(src=192.168.1.1,dst=224.0.0.251,proto=17,tos=0x10,ttl=1,\
         frag=no),udp(src=5353,dst=5353)"
    );
}

#[test]
fn sctp() {
    let sctp = [
        0x0b, 0x59, 0x0b, 0x59, // source 2905, destination 2905 (M3UA)
        0x00, 0x00, 0x00, 0x00, // verification tag
        0x00, 0x00, 0x00, 0x00, // checksum
    ];
    let frame = cat(&[&eth(0x0800), &ipv4(132, 0), &sctp]);
    assert_eq!(
        l2_on(&frame),
        "eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=132,tos=0,ttl=64,frag=no),\
         sctp(src=2905,dst=2905)"
    );
}

#[test]
fn other_ip_protocols_have_no_l4() {
    // GRE (47): addresses and protocol only.
    let frame = cat(&[&eth(0x0800), &ipv4(47, 0), &[0; 8]]);
    assert_eq!(
        l2_on(&frame),
        "eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=47,tos=0,ttl=64,frag=no)"
    );
}

// ---------------------------------------------------------------------------------------------
// IPv6
// ---------------------------------------------------------------------------------------------

#[test]
fn ipv6_tcp_after_hop_by_hop_and_fragment_headers() {
    let hbh = [
        44, 0, // next header: fragment; length 0 (8 bytes)
        0x05, 0x02, 0x00, 0x00, // router alert option
        0x01, 0x00, // PadN, 0 bytes
    ];
    let frag = [
        6, 0, // next header TCP; reserved
        0x00, 0x01, // offset 0, M set: a first fragment
        0xde, 0xad, 0xbe, 0xef, // identification
    ];
    let frame = cat(&[&eth(0x86dd), &ipv6(0), &hbh, &frag, &tcp(443, 50000, 0x010)]);
    assert_eq!(
        l2_on(&frame),
        format!(
            "eth_type(0x86dd),{IP6},proto=6,{},tcp(src=443,dst=50000),tcp_flags(ack)",
            ip6_tail("first")
        )
    );
    // Hop-by-hop first, then a fragment header (OFPIEH12_HOP | OFPIEH12_FRAG).
    assert_eq!(key_of(&frame).ipv6_exthdrs(), 0x40 | 0x10);
}

#[test]
fn ipv6_later_fragment_is_protocol_44() {
    let frag = [
        17, 0, // next header UDP; reserved
        0x05, 0xa8, // offset 181 (1448 bytes), M clear
        0xde, 0xad, 0xbe, 0xef, // identification
    ];
    let frame = cat(&[&eth(0x86dd), &ipv6(44), &frag, &udp(1, 2)]);
    assert_eq!(
        l2_on(&frame),
        format!("eth_type(0x86dd),{IP6},proto=44,{}", ip6_tail("later"))
    );
}

#[test]
fn ipv6_atomic_fragment_is_a_first_fragment() {
    // Offset 0 and M clear (RFC 6946): the kernel still flags any fragment header.
    let frag = [17, 0, 0x00, 0x00, 0, 0, 0, 1];
    let frame = cat(&[&eth(0x86dd), &ipv6(44), &frag, &udp(7, 9)]);
    assert_eq!(
        l2_on(&frame),
        format!(
            "eth_type(0x86dd),{IP6},proto=17,{},udp(src=7,dst=9)",
            ip6_tail("first")
        )
    );
}

#[test]
fn ipv6_later_fragment_before_another_extension_header() {
    // `ipv6_find_hdr` gives up (-ENOENT) without reporting the offset: first fragment,
    // protocol "none" (59), no transport fields.
    let frag = [60, 0, 0x00, 0x08, 0, 0, 0, 1]; // next: destination options; offset 1
    let frame = cat(&[&eth(0x86dd), &ipv6(44), &frag, &[6, 0, 1, 4, 0, 0, 0, 0]]);
    assert_eq!(
        l2_on(&frame),
        format!("eth_type(0x86dd),{IP6},proto=59,{}", ip6_tail("first"))
    );
}

#[test]
fn ipv6_no_next_header() {
    let frame = cat(&[&eth(0x86dd), &ipv6(59)]);
    assert_eq!(
        l2_on(&frame),
        format!("eth_type(0x86dd),{IP6},proto=59,{}", ip6_tail("no"))
    );
    assert_eq!(key_of(&frame).ipv6_exthdrs(), 0x01); // OFPIEH12_NONEXT
}

#[test]
fn ipv6_long_extension_chain_is_walked_to_the_end() {
    // Twenty destination options headers, then UDP: longer than the wire iterator's bound,
    // which the kernel does not have.
    let mut frame = cat(&[&eth(0x86dd), &ipv6(60)]);
    for i in 0..20 {
        let next = if i == 19 { 17 } else { 60 };
        frame.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]); // PadN over 6 bytes
    }
    frame.extend_from_slice(&udp(4000, 4001));
    assert_eq!(
        l2_on(&frame),
        format!(
            "eth_type(0x86dd),{IP6},proto=17,{},udp(src=4000,dst=4001)",
            ip6_tail("no")
        )
    );
    // Destination options repeated: DEST, then UNREP from the third on.
    assert_eq!(key_of(&frame).ipv6_exthdrs(), 0x08 | 0x80);
}

#[test]
fn ipv6_exthdrs_bitmap_quirks() {
    // Routing before hop-by-hop: hop-by-hop out of sequence (UNSEQ), no HOP bit.
    let rh = [0, 0, 0, 0, 0, 0, 0, 0]; // next: hop-by-hop; type 0, segments left 0
    let hbh = [59, 0, 1, 4, 0, 0, 0, 0]; // next: none
    let frame = cat(&[&eth(0x86dd), &ipv6(43), &rh, &hbh]);
    assert_eq!(key_of(&frame).ipv6_exthdrs(), 0x20 | 0x100 | 0x01);
    // AH after a fragment header: the kernel's AH rule masks with 44 instead of the FRAG
    // bit, so this is "out of sequence" too.
    let frag = [51, 0, 0, 1, 0, 0, 0, 1];
    let ah = [59, 0, 0, 0, 0, 0, 0, 0];
    let frame = cat(&[&eth(0x86dd), &ipv6(44), &frag, &ah]);
    assert_eq!(key_of(&frame).ipv6_exthdrs(), 0x10 | 0x04 | 0x100 | 0x01);
}

#[test]
fn ipv6_tcp_with_auth_header_length_in_words() {
    // AH length counts 4-byte words minus 2: length 4 → 24 bytes.
    let mut ah = vec![6, 4, 0, 0]; // next TCP, length 4, reserved
    ah.extend_from_slice(&[0; 20]); // SPI, sequence, 12-byte ICV
    let frame = cat(&[&eth(0x86dd), &ipv6(51), &ah, &tcp(22, 40000, 0x018)]);
    assert_eq!(
        l2_on(&frame),
        format!(
            "eth_type(0x86dd),{IP6},proto=6,{},tcp(src=22,dst=40000),tcp_flags(psh|ack)",
            ip6_tail("no")
        )
    );
}

/// An ICMPv6 NS for `target` with one 8-byte option (`opt_type`, `mac`).
fn nd(msg_type: u8, target: &str, options: &[u8]) -> Vec<u8> {
    let mut v = vec![
        msg_type, 0, 0x00, 0x00, // type, code 0, checksum
        0x60, 0x00, 0x00, 0x00, // NA flags S|O (reserved in an NS)
    ];
    v.extend_from_slice(&v6(target));
    v.extend_from_slice(options);
    v
}

#[test]
fn icmpv6_neighbor_solicitation_with_sll() {
    let opts = [
        1, 1, // option source link-layer address, length 1 (8 bytes)
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // 02:00:00:00:00:01
    ];
    let frame = cat(&[&eth(0x86dd), &ipv6(58), &nd(135, "2001:db8::2", &opts)]);
    assert_eq!(
        l2_on(&frame),
        format!(
            "eth_type(0x86dd),{IP6},proto=58,{},icmpv6(type=135,code=0),\
             nd(target=2001:db8::2,sll=02:00:00:00:00:01,tll=00:00:00:00:00:00)",
            ip6_tail("no")
        )
    );
}

#[test]
fn icmpv6_neighbor_advertisement_with_tll() {
    let opts = [
        2, 1, // option target link-layer address, length 1
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // 02:00:00:00:00:02
    ];
    let frame = cat(&[&eth(0x86dd), &ipv6(58), &nd(136, "2001:db8::2", &opts)]);
    assert_eq!(
        l2_on(&frame),
        format!(
            "eth_type(0x86dd),{IP6},proto=58,{},icmpv6(type=136,code=0),\
             nd(target=2001:db8::2,sll=00:00:00:00:00:00,tll=02:00:00:00:00:02)",
            ip6_tail("no")
        )
    );
}

#[test]
fn icmpv6_nd_edge_cases() {
    // A second non-zero SLL invalidates the message: target and addresses all zero.
    let opts = [
        1, 1, 0x02, 0, 0, 0, 0, 0x01, // SLL 02:00:00:00:00:01
        1, 1, 0x02, 0, 0, 0, 0, 0x03, // SLL again
    ];
    let key = key_of(&cat(&[
        &eth(0x86dd),
        &ipv6(58),
        &nd(135, "2001:db8::2", &opts),
    ]));
    assert_eq!((key.tp_src(), key.tp_dst()), (135, 0));
    assert_eq!((key.nd_target(), key.l2addr_a()), (0, [0; 6]));
    // A zero-length option stops the walk, keeping what was found before it.
    let opts = [2, 1, 0x02, 0, 0, 0, 0, 0x02, 1, 0, 0, 0, 0, 0, 0, 0];
    let key = key_of(&cat(&[&eth(0x86dd), &ipv6(58), &nd(136, "fe80::1", &opts)]));
    assert_eq!(key.nd_target(), u128::from_be_bytes(v6("fe80::1")));
    assert_eq!(key.l2addr_b(), [2, 0, 0, 0, 0, 2]);
    // Code 1: not parsed as ND.
    let mut msg = nd(135, "fe80::1", &[1, 1, 2, 0, 0, 0, 0, 1]);
    msg[1] = 1;
    let key = key_of(&cat(&[&eth(0x86dd), &ipv6(58), &msg]));
    assert_eq!((key.tp_src(), key.tp_dst(), key.nd_target()), (135, 1, 0));
    // Shorter than an NS/NA body: type and code only.
    let msg = nd(135, "fe80::1", &[]);
    let key = key_of(&cat(&[&eth(0x86dd), &ipv6(58), &msg[..20]]));
    assert_eq!((key.tp_src(), key.nd_target()), (135, 0));
    // Echo request.
    let echo = [128, 0, 0, 0, 0, 1, 0, 1];
    assert!(l2_on(&cat(&[&eth(0x86dd), &ipv6(58), &echo])).ends_with("icmpv6(type=128,code=0)"));
}

// ---------------------------------------------------------------------------------------------
// ARP
// ---------------------------------------------------------------------------------------------

/// An Ethernet/IPv4 ARP body with opcode `op`.
fn arp_body(op: u16, tha: [u8; 6]) -> Vec<u8> {
    let mut v = vec![
        0x00, 0x01, 0x08, 0x00, // hardware Ethernet, protocol IPv4
        6, 4, // address lengths
    ];
    v.extend_from_slice(&op.to_be_bytes()); // opcode
    v.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01, 10, 0, 0, 1]); // sender MAC, IP
    v.extend_from_slice(&tha); // target MAC
    v.extend_from_slice(&[10, 0, 0, 2]); // target IP
    v
}

#[test]
fn arp_request_and_reply() {
    let req = cat(&[&eth(0x0806), &arp_body(1, [0; 6]), &[0; 18]]);
    assert_eq!(
        l2_on(&req),
        "eth_type(0x0806),arp(sip=10.0.0.1,tip=10.0.0.2,op=1,sha=02:00:00:00:00:01,\
         tha=00:00:00:00:00:00)"
    );
    let reply = cat(&[&eth(0x0806), &arp_body(2, [0x02, 0, 0, 0, 0, 0x02])]);
    assert_eq!(
        l2_on(&reply),
        "eth_type(0x0806),arp(sip=10.0.0.1,tip=10.0.0.2,op=2,sha=02:00:00:00:00:01,\
         tha=02:00:00:00:00:02)"
    );
}

#[test]
fn rarp_is_keyed_like_arp() {
    let frame = cat(&[&eth(0x8035), &arp_body(3, [0x02, 0, 0, 0, 0, 0x02])]);
    assert_eq!(
        l2_on(&frame),
        "eth_type(0x8035),arp(sip=10.0.0.1,tip=10.0.0.2,op=3,sha=02:00:00:00:00:01,\
         tha=02:00:00:00:00:02)"
    );
}

#[test]
fn arp_other_shapes_and_big_opcodes_key_as_zeros() {
    const ZERO: &str = "eth_type(0x0806),arp(sip=0.0.0.0,tip=0.0.0.0,op=0,\
                        sha=00:00:00:00:00:00,tha=00:00:00:00:00:00)";
    // Hardware type 6 (IEEE 802): not Ethernet/IPv4.
    let mut body = arp_body(1, [0; 6]);
    body[1] = 6;
    assert_eq!(l2_on(&cat(&[&eth(0x0806), &body])), ZERO);
    // Protocol IPv6.
    let mut body = arp_body(1, [0; 6]);
    body[2..4].copy_from_slice(&[0x86, 0xdd]);
    assert_eq!(l2_on(&cat(&[&eth(0x0806), &body])), ZERO);
    // Cut at 27 bytes.
    assert_eq!(
        l2_on(&cat(&[&eth(0x0806), &arp_body(1, [0; 6])[..27]])),
        ZERO
    );
    // Opcode 0x0101: addresses kept, opcode above 255 becomes 0.
    let text = l2_on(&cat(&[&eth(0x0806), &arp_body(0x0101, [0; 6])]));
    assert!(
        text.contains("tip=10.0.0.2,op=0,sha=02:00:00:00:00:01"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// VLAN, MPLS, LLC
// ---------------------------------------------------------------------------------------------

#[test]
fn single_vlan_tag() {
    let tag = [
        0x81, 0x00, // TPID 802.1Q
        0xa0, 0x64, // PCP 5, DEI 0, VID 100
    ];
    let frame = cat(&[&MACS, &tag, &[0x08, 0x00], &ipv4(17, 0), &udp(1, 2)]);
    assert_eq!(
        l2_on(&frame),
        "eth_type(0x8100),vlan(vid=100,pcp=5),encap(eth_type(0x0800),ipv4(src=10.0.0.1,\
         dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1,dst=2))"
    );
    let key = key_of(&frame);
    // The key's TCI has the CFI bit as "tag present".
    assert_eq!((key.vlan_tpid(), key.vlan_tci()), (0x8100, 0xb064));
}

#[test]
fn double_vlan_802_1ad_then_802_1q() {
    let tags = [
        0x88, 0xa8, 0x00, 0x0a, // S-tag: TPID 802.1ad, PCP 0, VID 10
        0x81, 0x00, 0x20, 0x14, // C-tag: TPID 802.1Q, PCP 1, VID 20
        0x08, 0x06, // ARP
    ];
    let frame = cat(&[&MACS, &tags, &arp_body(1, [0; 6])]);
    assert_eq!(
        l2_on(&frame),
        "eth_type(0x88a8),vlan(vid=10,pcp=0),encap(eth_type(0x8100),vlan(vid=20,pcp=1),\
         encap(eth_type(0x0806),arp(sip=10.0.0.1,tip=10.0.0.2,op=1,sha=02:00:00:00:00:01,\
         tha=00:00:00:00:00:00)))"
    );
}

#[test]
fn third_vlan_tag_stays_in_the_payload() {
    let tags = [
        0x88, 0xa8, 0x00, 0x0a, // S-tag VID 10
        0x81, 0x00, 0x00, 0x14, // C-tag VID 20
        0x81, 0x00, 0x00, 0x1e, // third tag VID 30: its TPID is the ethertype
        0x08, 0x00, // IPv4, not parsed
    ];
    let frame = cat(&[&MACS, &tags, &ipv4(6, 0), &tcp(1, 2, 2)]);
    assert_eq!(
        l2_on(&frame),
        "eth_type(0x88a8),vlan(vid=10,pcp=0),encap(eth_type(0x8100),vlan(vid=20,pcp=0),\
         encap(eth_type(0x8100)))"
    );
}

#[test]
fn truncated_vlan_tag_is_not_a_tag() {
    // TPID 0x8100 with only the TCI after it: no room for the inner type, so no tag and
    // ethertype 0x8100 (the kernel then prints `eth_type(0),vlan(0),encap()`; see
    // `FlowKey::to_key` for how this key is rendered).
    let frame = cat(&[&MACS, &[0x81, 0x00, 0x00, 0x05]]);
    let key = key_of(&frame);
    assert_eq!(
        (key.eth_type(), key.vlan_tpid(), key.vlan_tci()),
        (0x8100, 0, 0)
    );
}

#[test]
fn truncated_inner_tag_after_a_full_outer_tag() {
    // S-tag, then TPID 0x8100 with only 2 bytes after it: one tag, ethertype 0x8100.
    let frame = cat(&[&MACS, &[0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x14]]);
    let key = key_of(&frame);
    assert_eq!((key.vlan_tpid(), key.vlan_tci()), (0x88a8, 0x100a));
    assert_eq!((key.cvlan_tpid(), key.cvlan_tci()), (0, 0));
    assert_eq!(key.eth_type(), 0x8100);
}

#[test]
fn mpls_one_label() {
    let lse = [
        0x00, 0x06, 0x4b, 0x40, // label 100, TC 5, bottom of stack, TTL 64
    ];
    let frame = cat(&[&eth(0x8847), &lse, &ipv4(6, 0)]);
    assert_eq!(
        l2_on(&frame),
        "eth_type(0x8847),mpls(label=100,tc=5,ttl=64,bos=1)"
    );
}

#[test]
fn mpls_five_labels_keep_three() {
    let mut stack = Vec::new();
    for label in 1..=5u32 {
        let bos = if label == 5 { 0x100 } else { 0 };
        stack.extend_from_slice(&((label << 12) | bos | 64).to_be_bytes()); // label, S, TTL 64
    }
    let frame = cat(&[&eth(0x8848), &stack]);
    let key = key_of(&frame);
    assert_eq!(key.mpls_lse_mask(), 0b111);
    assert_eq!(
        [key.mpls_lse(0), key.mpls_lse(1), key.mpls_lse(2)],
        [0x1040, 0x2040, 0x3040]
    );
    assert_eq!(
        l2_on(&frame),
        "eth_type(0x8848),mpls(label=1,tc=0,ttl=64,bos=0,label=2,tc=0,ttl=64,bos=0,label=3,\
         tc=0,ttl=64,bos=0)"
    );
}

#[test]
fn mpls_stack_without_bottom_keeps_entries_but_no_count() {
    // Two entries, neither with S set, then the frame ends.
    let stack = [
        0x00, 0x01, 0x00, 0x40, // label 16, S 0, TTL 64
        0x00, 0x02, 0x00, 0x40, // label 32, S 0, TTL 64
    ];
    let key = key_of(&cat(&[&eth(0x8847), &stack]));
    assert_eq!(key.mpls_lse_mask(), 0);
    assert_eq!(
        (key.mpls_lse(0), key.mpls_lse(1)),
        (0x0001_0040, 0x0002_0040)
    );
}

#[test]
fn llc_snap_with_ethertype_is_parsed() {
    let llc = [
        0x00, 0x2e, // 802.3 length 46
        0xaa, 0xaa, 0x03, // LLC: SNAP SAPs, UI
        0x00, 0x00, 0x00, // OUI 0 (encapsulated Ethernet)
        0x08, 0x00, // SNAP type IPv4
    ];
    let frame = cat(&[&MACS, &llc, &ipv4(17, 0), &udp(67, 68)]);
    assert_eq!(
        l2_on(&frame),
        "eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),\
         udp(src=67,dst=68)"
    );
}

#[test]
fn plain_802_2_has_no_ethertype() {
    let stp = [
        0x00, 0x26, // 802.3 length 38
        0x42, 0x42, 0x03, // LLC: STP SAPs, UI
        0x00, 0x00, 0x00, 0x00, 0x00, // BPDU start
    ];
    let frame = cat(&[&MACS, &stp, &[0; 30]]);
    assert_eq!(print(&key_of(&frame)), format!("{META},{ETH}"));
    assert_eq!(key_of(&frame).eth_type(), 0x0004);
    // SNAP with a vendor OUI (Cisco CDP) is 802.2 as well.
    let cdp = [0x00, 0x40, 0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, 0x20, 0x00];
    assert_eq!(key_of(&cat(&[&MACS, &cdp, &[0; 20]])).eth_type(), 0x0004);
    // A tagged 802.2 frame: the encap is empty.
    let tagged = cat(&[&MACS, &[0x81, 0x00, 0x00, 0x07], &stp]);
    assert_eq!(l2_on(&tagged), "eth_type(0x8100),vlan(vid=7,pcp=0),encap()");
}

// ---------------------------------------------------------------------------------------------
// Truncated and malformed headers: zeros, never a panic, never a drop
// ---------------------------------------------------------------------------------------------

const V4_ZERO: &str = "eth_type(0x0800),ipv4(src=0.0.0.0,dst=0.0.0.0,proto=0,tos=0,ttl=0,frag=no)";

#[test]
fn ipv4_bad_headers_key_as_zeros() {
    // IHL 4.
    let mut ip = ipv4(6, 0);
    ip[0] = 0x44;
    assert_eq!(l2_on(&cat(&[&eth(0x0800), &ip, &tcp(1, 2, 2)])), V4_ZERO);
    // 19 bytes of header.
    assert_eq!(l2_on(&cat(&[&eth(0x0800), &ipv4(6, 0)[..19]])), V4_ZERO);
    // IHL 15 (60 bytes) with only 40 bytes in the frame.
    let mut ip = ipv4(6, 0);
    ip[0] = 0x4f;
    assert_eq!(l2_on(&cat(&[&eth(0x0800), &ip, &[0; 20]])), V4_ZERO);
    // No network header at all.
    assert_eq!(l2_on(&eth(0x0800)), V4_ZERO);
}

#[test]
fn truncated_transport_headers_zero_the_ports() {
    let v4 = "eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=";
    let tail = ",tos=0,ttl=64,frag=no)";
    // TCP cut at 19 bytes.
    let frame = cat(&[&eth(0x0800), &ipv4(6, 0), &tcp(1, 2, 2)[..19]]);
    assert_eq!(
        l2_on(&frame),
        format!("{v4}6{tail},tcp(src=0,dst=0),tcp_flags(0)")
    );
    // TCP data offset 4, and data offset 6 with only 20 bytes.
    for doff in [0x40, 0x60] {
        let mut t = tcp(1, 2, 2);
        t[12] = doff;
        let frame = cat(&[&eth(0x0800), &ipv4(6, 0), &t]);
        assert_eq!(
            l2_on(&frame),
            format!("{v4}6{tail},tcp(src=0,dst=0),tcp_flags(0)")
        );
    }
    // UDP 7 bytes, SCTP 11 bytes, ICMP 7 bytes.
    let frame = cat(&[&eth(0x0800), &ipv4(17, 0), &udp(1, 2)[..7]]);
    assert_eq!(l2_on(&frame), format!("{v4}17{tail},udp(src=0,dst=0)"));
    let frame = cat(&[&eth(0x0800), &ipv4(132, 0), &[1; 11]]);
    assert_eq!(l2_on(&frame), format!("{v4}132{tail},sctp(src=0,dst=0)"));
    let frame = cat(&[&eth(0x0800), &ipv4(1, 0), &[8; 7]]);
    assert_eq!(l2_on(&frame), format!("{v4}1{tail},icmp(type=0,code=0)"));
}

#[test]
fn ipv6_bad_headers() {
    // 39 bytes of IPv6 header: every IP field zero.
    let frame = cat(&[&eth(0x86dd), &ipv6(6)[..39]]);
    assert_eq!(
        l2_on(&frame),
        "eth_type(0x86dd),ipv6(src=::,dst=::,label=0,proto=0,tclass=0,hlimit=0,frag=no)"
    );
    // An extension header cut before its length byte: addresses kept, protocol "none".
    let frame = cat(&[&eth(0x86dd), &ipv6(0), &[6]]);
    assert_eq!(
        l2_on(&frame),
        format!("eth_type(0x86dd),{IP6},proto=59,{}", ip6_tail("no"))
    );
    // A routing header with 3 bytes: the kernel needs 4.
    let frame = cat(&[&eth(0x86dd), &ipv6(43), &[6, 0, 0]]);
    assert_eq!(
        l2_on(&frame),
        format!("eth_type(0x86dd),{IP6},proto=59,{}", ip6_tail("no"))
    );
    // A fragment header with its first 2 bytes only: already a (first) fragment.
    let frame = cat(&[&eth(0x86dd), &ipv6(44), &[6, 0]]);
    assert_eq!(
        l2_on(&frame),
        format!("eth_type(0x86dd),{IP6},proto=59,{}", ip6_tail("first"))
    );
    // A hop-by-hop header claiming 2048 bytes before TCP: TCP is past the end, so its
    // ports are zero but the protocol is known.
    let frame = cat(&[&eth(0x86dd), &ipv6(0), &[6, 255, 1, 4, 0, 0, 0, 0]]);
    assert_eq!(
        l2_on(&frame),
        format!(
            "eth_type(0x86dd),{IP6},proto=6,{},tcp(src=0,dst=0),tcp_flags(0)",
            ip6_tail("no")
        )
    );
    // ICMPv6 header of 7 bytes.
    let frame = cat(&[&eth(0x86dd), &ipv6(58), &[135, 0, 0, 0, 0, 0, 0]]);
    assert!(l2_on(&frame).ends_with("icmpv6(type=0,code=0)"));
}

// ---------------------------------------------------------------------------------------------
// Drops, L3 packets, metadata, key reuse
// ---------------------------------------------------------------------------------------------

#[test]
fn drops_reported_as_the_kernel_drops() {
    let mut key = FlowKey::default();
    for n in 0..14 {
        assert_eq!(
            extract(&eth(0x0800)[..n], &port1(), &mut key),
            Err(DropReason::TooShort)
        );
    }
    assert_eq!(
        extract_l3(&ipv4(6, 0), 0x8100, &port1(), &mut key),
        Err(DropReason::VlanWithoutEthernet)
    );
    // NSH: truncated base header, version 1, MD type 1 with a length other than 24 bytes,
    // unknown MD type 3.
    let nsh1 = [
        0x00, 0x06, // version 0, flags 0, TTL 0, length 6 words (24 bytes)
        0x01, 0x03, // MD type 1, next protocol Ethernet
        0x00, 0x00, 0x10, 0xff, // SPI 16, SI 255
    ];
    let ctx = [0u8; 16];
    for bad in [
        cat(&[&eth(0x894f), &nsh1[..7]]),
        cat(&[&eth(0x894f), &[0x40, 0x06], &nsh1[2..], &ctx]),
        cat(&[&eth(0x894f), &[0x00, 0x05], &nsh1[2..], &ctx]),
        cat(&[&eth(0x894f), &nsh1[..2], &[0x03, 0x03], &nsh1[4..], &ctx]),
    ] {
        assert_eq!(
            extract(&bad, &port1(), &mut key),
            Err(DropReason::BadNsh),
            "{bad:02x?}"
        );
    }
}

#[test]
fn nsh_md1_is_keyed() {
    let nsh = [
        0x0f, 0xc6, // version 0, flags 0, TTL 63, length 6 words
        0x01, 0x01, // MD type 1, next protocol IPv4
        0x00, 0x00, 0x10, 0xfe, // SPI 16, SI 254
        0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, // context headers 1..4
    ];
    let key = key_of(&cat(&[&eth(0x894f), &nsh, &ipv4(6, 0)]));
    assert_eq!((key.nsh_ttl(), key.nsh_mdtype(), key.nsh_np()), (63, 1, 1));
    assert_eq!(key.nsh_path_hdr(), 0x10fe);
    assert_eq!([0, 1, 2, 3].map(|i| key.nsh_context(i)), [1, 2, 3, 4]);
}

#[test]
fn l3_packet_without_ethernet() {
    let md = port1();
    let mut key = FlowKey::default();
    let packet = cat(&[&ipv4(17, 0), &udp(4789, 4789)]);
    assert_eq!(extract_l3(&packet, 0x0800, &md, &mut key), Ok(()));
    assert_eq!(
        print(&key),
        format!(
            "{META},eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,\
             frag=no),udp(src=4789,dst=4789)"
        )
    );
    assert_eq!(key.mac_proto(), 0);
}

#[test]
fn metadata_is_copied_and_survives_recirculation() {
    let mut tun = FlowKey::default();
    tun.set_tun_proto(TUN_PROTO_IPV4);
    tun.set_tun_id(42);
    tun.set_tun_flags(TUN_F_KEY);
    tun.set_tun_src(u128::from(u32::from_be_bytes([192, 0, 2, 1])));
    tun.set_tun_dst(u128::from(u32::from_be_bytes([192, 0, 2, 2])));
    tun.set_tun_ttl(64);
    tun.set_tun_opts(&[0, 1, 2, 3]);
    let md = Metadata {
        in_port: 3,
        priority: 7,
        skb_mark: 9,
        recirc_id: 5,
        dp_hash: 0xabcd,
        ct_state: 0x22,
        ct_zone: 4,
        ct_mark: 0x10,
        ct_labels: 1 << 64,
        ct_orig: Some(CtOrig {
            proto: 6,
            src: u128::from(u32::from_be_bytes([10, 0, 0, 1])),
            dst: u128::from(u32::from_be_bytes([10, 0, 0, 2])),
            tp_src: 1234,
            tp_dst: 80,
        }),
        tunnel: Some(&tun),
    };
    let frame = cat(&[&eth(0x0800), &ipv4(6, 0), &tcp(1234, 80, 0x010)]);
    let mut key = FlowKey::default();
    extract(&frame, &md, &mut key).unwrap();
    let text = print(&key);
    assert!(
        text.starts_with(
            "recirc_id(0x5),dp_hash(0xabcd),skb_priority(0x7),tunnel(tun_id=0x2a,src=192.0.2.1,\
             dst=192.0.2.2,ttl=64,flags(key)),in_port(3),skb_mark(0x9),ct_state(est|trk),\
             ct_zone(),ct_mark(),ct_label(),ct_tuple4(src=10.0.0.1,dst=10.0.0.2,proto=6,\
             tp_src=1234,tp_dst=80),eth("
        ),
        "{text}"
    );
    assert_eq!(key.tun_opts(), vec![0, 1, 2, 3]);
    // Re-extracting with the key's own metadata gives the same key.
    let before = key.clone();
    let md2 = Metadata::from_key(&before);
    let mut again = FlowKey::default();
    extract(&frame, &md2, &mut again).unwrap();
    assert_eq!(again, before);
}

#[test]
fn default_metadata_has_no_input_port() {
    let mut key = FlowKey::default();
    extract(&eth(0x88cc), &Metadata::default(), &mut key).unwrap();
    assert_eq!(
        print(&key),
        format!(
            "recirc_id(0),dp_hash(0),skb_priority(0),skb_mark(0),ct_state(0),ct_zone(),\
             ct_mark(),ct_label(),{ETH},eth_type(0x88cc)"
        )
    );
}

#[test]
fn reused_key_is_fully_overwritten() {
    let frames = [
        cat(&[
            &eth(0x86dd),
            &ipv6(58),
            &nd(136, "fe80::1", &[2, 1, 2, 0, 0, 0, 0, 2]),
        ]),
        cat(&[
            &MACS,
            &[
                0x88, 0xa8, 0, 1, 0x81, 0, 0, 2, 0x88, 0x47, 0, 0, 0x11, 0x40,
            ],
        ]),
        cat(&[&eth(0x0806), &arp_body(2, [1; 6])]),
        cat(&[&eth(0x0800), &ipv4(6, 0), &tcp(1, 2, 0xfff)]),
        eth(0x0004),
    ];
    let mut reused = FlowKey {
        w: [u64::MAX; FLOW_KEY_WORDS],
    };
    for f in frames.iter().chain(frames.iter().rev()) {
        extract(f, &port1(), &mut reused).unwrap();
        assert_eq!(reused, key_of(f));
    }
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// Random frames biased towards the ethertypes and protocols the extractor parses.
fn frames() -> impl Strategy<Value = Vec<u8>> {
    let ethertype = prop_oneof![
        Just(0x0800u16),
        Just(0x86dd),
        Just(0x0806),
        Just(0x8035),
        Just(0x8100),
        Just(0x88a8),
        Just(0x8847),
        Just(0x8848),
        Just(0x894f),
        Just(0x0026),
        any::<u16>(),
    ];
    (
        ethertype,
        prop::collection::vec(any::<u8>(), 0..200),
        any::<u8>(),
    )
        .prop_map(|(t, mut rest, proto)| {
            let mut f = eth(t);
            // Give IPv4/IPv6 bodies a plausible first byte and protocol half the time.
            if proto & 1 == 0 && rest.len() > 10 {
                rest[0] = if t == 0x86dd { 0x60 } else { 0x45 };
                rest[6] = [0, 6, 17, 43, 44, 51, 58, 60][usize::from(proto >> 5)];
                rest[9] = [1, 6, 17, 132, 47, 58, 6, 17][usize::from(proto >> 5)];
            }
            f.append(&mut rest);
            f
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn random_frames_never_panic_and_are_deterministic(
        frame in prop::collection::vec(any::<u8>(), 0..300),
        md_port in 0u32..70000,
    ) {
        let md = Metadata { in_port: md_port, ..Metadata::default() };
        let mut a = FlowKey::default();
        let mut b = FlowKey { w: [u64::MAX; FLOW_KEY_WORDS] };
        let ra = extract(&frame, &md, &mut a);
        let rb = extract(&frame, &md, &mut b);
        prop_assert_eq!(ra, rb);
        prop_assert_eq!(&a, &b);
        let _ = a.to_key();
    }

    #[test]
    fn structured_frames_never_panic_and_are_deterministic(frame in frames()) {
        let md = port1();
        let mut a = FlowKey::default();
        let mut b = FlowKey { w: [0x5555_5555_5555_5555; FLOW_KEY_WORDS] };
        prop_assert_eq!(extract(&frame, &md, &mut a), extract(&frame, &md, &mut b));
        prop_assert_eq!(&a, &b);
        // The same bytes as an L3 packet.
        let t = u16::from_be_bytes([frame[12], frame[13]]);
        let r1 = extract_l3(&frame[14..], t, &md, &mut a);
        let r2 = extract_l3(&frame[14..], t, &md, &mut b);
        prop_assert_eq!(r1, r2);
        prop_assert_eq!(&a, &b);
        let _ = a.to_key();
    }
}
