//! One test per kernel rejection of `ovs_nla_get_match` / `match_validate`, plus the accepted
//! shapes they must not reject.

use userdp_protocol::errno::EINVAL;
use userdp_protocol::ovs::key::*;
use userdp_protocol::text::key::parse_key;

/// Parses key text into (key, mask) for compact test inputs.
fn km(s: &str) -> (Key, Key) {
    parse_key(s).unwrap()
}

fn reject(key: &str, mask: Option<&str>) -> usize {
    let (k, m) = km(key);
    let m = mask.map(|s| km(s).1).unwrap_or(m);
    let e = validate_match(&k, Some(&m)).unwrap_err();
    assert_eq!(e.errno, EINVAL, "{key}");
    e.offset
}

fn reject_exact(key: &str) -> usize {
    let (k, _) = km(key);
    let e = validate_match(&k, None).unwrap_err();
    assert_eq!(e.errno, EINVAL, "{key}");
    e.offset
}

fn accept(key: &str) {
    let (k, m) = km(key);
    validate_match(&k, Some(&m)).unwrap();
    validate_match(&k, None).unwrap();
}

#[test]
fn accepts_common_shapes() {
    accept("in_port(1),eth(),eth_type(0x0800),ipv4(proto=6),tcp(),tcp_flags(0/0)");
    accept("in_port(1),eth()");
    accept("eth_type(0x0800),ipv4(proto=1),icmp()");
    accept("eth(),eth_type(0x8100),vlan(vid=5),encap(eth_type(0x0800),ipv4(proto=17),udp())");
    accept("eth(),eth_type(0x88a8),vlan(vid=5),encap(eth_type(0x8100),vlan(vid=6),encap(eth_type(0x0806),arp()))");
    accept("eth(),eth_type(0x86dd),ipv6(proto=58),icmpv6(type=135),nd()");
    accept("eth(),eth_type(0x0800),ipv4(proto=6,frag=later)");
    accept("eth(),eth_type(0x8847),mpls(label=1)");
    accept("tunnel(tun_id=1,dst=1.1.1.1,ttl=64),eth(),eth_type(0x0806),arp()");
    accept("ct_state(+trk),ct_zone(1),ct_mark(1),ct_label(1),eth(),eth_type(0x0800),ipv4(proto=0),ct_tuple4(proto=6)");
}

#[test]
fn truncated_vlan_tag_is_accepted_with_an_empty_encap() {
    let k = Key(vec![
        KeyAttr::Ethernet(EthernetKey::default()),
        KeyAttr::Ethertype(0x8100),
        KeyAttr::Vlan(0),
        KeyAttr::Encap(Key::default()),
    ]);
    let m = Key(vec![
        KeyAttr::Ethernet(EthernetKey::default()),
        KeyAttr::Ethertype(0xffff),
    ]);
    validate_match(&k, Some(&m)).unwrap();
    // The exact mask copies the (nested, so never "all zero") ENCAP, and an ENCAP mask on a
    // frame whose tag lacks CFI is refused by validate_vlan_mask_from_nlattrs.
    assert_eq!(validate_match(&k, None).unwrap_err().offset, 32);
}

#[test]
fn missing_ethernet_and_ethertype() {
    assert_eq!(reject_exact("in_port(1)"), 0);
}

#[test]
fn in_port_out_of_range() {
    assert_eq!(reject_exact("in_port(65535),eth()"), 0);
}

#[test]
fn ethertype_below_0x600() {
    assert_eq!(reject_exact("eth(),eth_type(0x05ff)"), 16);
}

#[test]
fn ipv4_frag_out_of_range() {
    let k = Key(vec![
        KeyAttr::Ethertype(0x0800),
        KeyAttr::Ipv4(Ipv4Key {
            frag: 3,
            ..Default::default()
        }),
    ]);
    assert_eq!(validate_match(&k, None).unwrap_err().offset, 8);
}

#[test]
fn ipv6_frag_out_of_range() {
    let k = Key(vec![
        KeyAttr::Ethertype(0x86dd),
        KeyAttr::Ipv6(Ipv6Key {
            frag: 3,
            ..Default::default()
        }),
    ]);
    assert_eq!(validate_match(&k, None).unwrap_err().errno, EINVAL);
}

#[test]
fn ipv6_label_over_20_bits() {
    let k = Key(vec![
        KeyAttr::Ethertype(0x86dd),
        KeyAttr::Ipv6(Ipv6Key {
            label: 0x10_0000,
            ..Default::default()
        }),
    ]);
    assert_eq!(validate_match(&k, None).unwrap_err().offset, 8);
}

#[test]
fn arp_opcode_over_0xff() {
    assert_eq!(reject_exact("eth(),eth_type(0x0806),arp(op=256)"), 24);
}

#[test]
fn ct_state_unknown_bits() {
    let k = Key(vec![KeyAttr::CtState(0x100), KeyAttr::Ethertype(0x0800)]);
    let k = Key(vec![
        k.0[0].clone(),
        KeyAttr::Ethernet(EthernetKey::default()),
    ]);
    assert_eq!(validate_match(&k, None).unwrap_err().offset, 0);
}

#[test]
fn tunnel_without_ttl() {
    assert_eq!(reject_exact("tunnel(dst=1.1.1.1),eth()"), 0);
}

#[test]
fn tunnel_without_destination() {
    assert_eq!(reject_exact("tunnel(src=1.1.1.1,ttl=64),eth()"), 0);
    assert_eq!(reject_exact("tunnel(dst=0.0.0.0,ttl=64),eth()"), 0);
    assert_eq!(reject_exact("tunnel(ttl=64),eth()"), 0);
    assert_eq!(reject_exact("tunnel(ipv6_dst=::,ttl=64),eth()"), 0);
}

#[test]
fn tunnel_mixing_ipv4_and_ipv6() {
    assert_eq!(
        reject_exact("tunnel(dst=1.1.1.1,ipv6_dst=::1,ttl=64),eth()"),
        0
    );
}

#[test]
fn tunnel_mask_mixing_ipv4_and_ipv6() {
    let (k, _) = km("tunnel(dst=1.1.1.1,ttl=64),eth()");
    let (_, m) = km("tunnel(src=1.1.1.1,ipv6_src=::1),eth()");
    assert_eq!(validate_match(&k, Some(&m)).unwrap_err().errno, EINVAL);
}

#[test]
fn geneve_mask_length_must_match_key() {
    let (k, _) = km("tunnel(dst=1.1.1.1,ttl=64,geneve({class=1,type=2,len=4,0x1})),eth()");
    let (_, m) = km("tunnel(geneve({class=1,type=2,len=8,0x1})),eth()");
    assert_eq!(validate_match(&k, Some(&m)).unwrap_err().errno, EINVAL);
}

#[test]
fn vlan_tpid_without_vlan_and_encap() {
    assert_eq!(reject_exact("eth(),eth_type(0x8100)"), 16);
    assert_eq!(reject_exact("eth(),eth_type(0x8100),vlan(vid=1)"), 16);
}

#[test]
fn vlan_tci_without_cfi() {
    assert_eq!(
        reject_exact("eth(),eth_type(0x8100),vlan(vid=1,cfi=0),encap()"),
        24
    );
}

#[test]
fn truncated_vlan_with_non_empty_encap() {
    let k = Key(vec![
        KeyAttr::Ethernet(EthernetKey::default()),
        KeyAttr::Ethertype(0x8100),
        KeyAttr::Vlan(0),
        KeyAttr::Encap(Key(vec![KeyAttr::Ethertype(0x0800)])),
    ]);
    assert_eq!(validate_match(&k, None).unwrap_err().offset, 32);
}

#[test]
fn vlan_without_a_vlan_ethertype() {
    assert_eq!(
        reject_exact("eth(),eth_type(0x0800),vlan(vid=1),ipv4()"),
        24
    );
}

#[test]
fn duplicate_across_encap_levels() {
    assert_eq!(
        reject_exact("eth(),eth_type(0x8100),vlan(vid=1),encap(eth(),eth_type(0x0800),ipv4())"),
        36
    );
}

#[test]
fn three_vlan_tags() {
    reject_exact(
        "eth(),eth_type(0x8100),vlan(vid=1),encap(eth_type(0x8100),vlan(vid=2),encap(eth_type(0x8100),vlan(vid=3),encap()))",
    );
}

#[test]
fn missing_l3_for_ethertype() {
    assert_eq!(reject_exact("eth(),eth_type(0x0800)"), 0);
    reject_exact("eth(),eth_type(0x86dd)");
    reject_exact("eth(),eth_type(0x0806)");
    reject_exact("eth(),eth_type(0x8035)");
    reject_exact("eth(),eth_type(0x8847)");
    reject_exact("eth(),eth_type(0x894f)");
}

#[test]
fn missing_l4_for_proto() {
    reject_exact("eth(),eth_type(0x0800),ipv4(proto=17)");
    reject_exact("eth(),eth_type(0x0800),ipv4(proto=132)");
    reject_exact("eth(),eth_type(0x0800),ipv4(proto=1)");
    reject_exact("eth(),eth_type(0x86dd),ipv6(proto=58)");
}

#[test]
fn tcp_needs_tcp_flags() {
    reject_exact("eth(),eth_type(0x0800),ipv4(proto=6),tcp()");
    reject_exact("eth(),eth_type(0x0800),ipv4(proto=6),tcp_flags(0)");
}

#[test]
fn nd_required_for_neighbour_discovery() {
    reject_exact("eth(),eth_type(0x86dd),ipv6(proto=58),icmpv6(type=136)");
}

#[test]
fn mask_attribute_absent_from_key() {
    let off = reject(
        "eth(),eth_type(0x0800),ipv4()",
        Some("eth(),eth_type(0x0800),ipv4(),skb_mark(1)"),
    );
    assert_eq!(off, 40);
}

#[test]
fn l3_mask_needs_exact_ethertype_mask() {
    // The mask has no ETHERTYPE (an all-zero one counts as absent), so IPV4 is not allowed.
    let (k, _) = km("eth(),eth_type(0x0800),ipv4(proto=1),icmp()");
    let (_, m) = km("eth(),ipv4(src=1.1.1.1)");
    assert_eq!(validate_match(&k, Some(&m)).unwrap_err().offset, 16);
}

#[test]
fn l4_mask_needs_exact_proto_mask() {
    let (k, _) = km("eth(),eth_type(0x0800),ipv4(proto=17),udp()");
    let (_, m) = km("eth(),eth_type(0x0800),ipv4(proto=17/0xf),udp(src=1)");
    assert_eq!(validate_match(&k, Some(&m)).unwrap_err().offset, 40);
}

#[test]
fn nd_mask_needs_exact_icmpv6_type_mask() {
    let (k, _) = km("eth(),eth_type(0x86dd),ipv6(proto=58),icmpv6(type=135),nd()");
    let (_, m) =
        km("eth(),eth_type(0x86dd),ipv6(proto=58),icmpv6(code=0),nd(sll=00:00:00:00:00:01)");
    validate_match(&k, Some(&m)).unwrap_err();
    let (_, ok) =
        km("eth(),eth_type(0x86dd),ipv6(proto=58),icmpv6(type=135),nd(sll=00:00:00:00:00:01)");
    validate_match(&k, Some(&ok)).unwrap();
}

#[test]
fn ct_tuple6_mask_not_allowed_with_nd() {
    let (k, _) =
        km("eth(),eth_type(0x86dd),ipv6(proto=58),icmpv6(type=135),nd(),ct_tuple6(proto=6)");
    let (_, m) =
        km("eth(),eth_type(0x86dd),ipv6(proto=58),icmpv6(type=135),nd(),ct_tuple6(proto=6)");
    validate_match(&k, Some(&m)).unwrap_err();
}

#[test]
fn encap_mask_for_untagged_frame() {
    let (k, _) = km("eth(),eth_type(0x0800),ipv4(proto=0)");
    let m = Key(vec![
        KeyAttr::Ethernet(EthernetKey::default()),
        KeyAttr::Ethertype(0xffff),
        KeyAttr::Encap(Key::default()),
    ]);
    assert_eq!(validate_match(&k, Some(&m)).unwrap_err().offset, 24);
}

#[test]
fn encap_mask_needs_exact_tpid() {
    let (k, _) = km("eth(),eth_type(0x8100),vlan(vid=1),encap(eth_type(0x0800),ipv4())");
    let (_, m) = km("eth(),eth_type(0x8100/0xff00),vlan(vid=1),encap(eth_type(0x0800),ipv4())");
    assert_eq!(validate_match(&k, Some(&m)).unwrap_err().offset, 32);
}

#[test]
fn encap_mask_needs_cfi_in_tci_mask() {
    let (k, _) = km("eth(),eth_type(0x8100),vlan(vid=1),encap(eth_type(0x0800),ipv4())");
    let (_, m) = km("eth(),eth_type(0x8100),vlan(vid=1,cfi=0/0),encap(eth_type(0x0800),ipv4())");
    assert_eq!(validate_match(&k, Some(&m)).unwrap_err().offset, 32);
}

#[test]
fn all_zero_mask_attributes_count_as_absent() {
    // skb_mark(0/0) is absent from the key but, being all zero, is ignored in the mask.
    let (k, _) = km("eth(),eth_type(0x0800),ipv4()");
    let (_, m) = km("eth(),eth_type(0x0800),ipv4(),skb_mark(0/0)");
    validate_match(&k, Some(&m)).unwrap();
}

#[test]
fn in_port_tunnel_ethertype_masks_always_allowed() {
    let (k, _) = km("eth()");
    let (_, m) = km("in_port(1),tunnel(tun_id=1),eth(),eth_type(0x0800)");
    validate_match(&k, Some(&m)).unwrap();
}

#[test]
fn parse_match_builds_exact_mask_and_rebases() {
    let (k, _) = km("in_port(3),eth(),eth_type(0x0800),ipv4(proto=0)");
    let bytes = k.to_bytes();
    let m = parse_match(&bytes, 24, None).unwrap();
    assert!(m.mask_was_absent);
    assert_eq!(m.mask, exact_mask(&k));
    assert_eq!(m.mask.0[0], KeyAttr::InPort(u32::MAX));
    // A wrong length inside the key is reported at its offset in the message.
    let mut bad = bytes.clone();
    bad[8] = 10; // ETHERNET length 10 instead of 16
    let e = parse_match(&bad, 24, None).unwrap_err();
    assert_eq!((e.errno, e.offset), (EINVAL, 32));
    // A mask problem is reported at its offset in the mask attribute.
    let (_, mk) = km("in_port(3),eth(),eth_type(0x0800),ipv4(),tcp(src=1)");
    let mbytes = mk.to_bytes();
    let e = parse_match(&bytes, 24, Some((&mbytes, 200))).unwrap_err();
    assert_eq!(e.offset, 200 + 48);
}

#[test]
fn exact_mask_covers_the_whole_tunnel() {
    let (k, _) = km("tunnel(dst=1.1.1.1,ttl=64),eth()");
    let m = exact_mask(&k);
    let KeyAttr::Tunnel(t) = &m.0[0] else {
        panic!()
    };
    assert_eq!(t.id, Some(u64::MAX));
    assert_eq!(t.ipv4_src, Some(std::net::Ipv4Addr::BROADCAST));
    assert!(t.dont_fragment && t.csum && t.oam);
}

#[test]
fn absent_mask_errors_point_into_the_key_past_a_tunnel() {
    // Fuzz finding: without a mask, validation runs on the exact mask, whose tunnel carries
    // every field and so is longer than the key's; errors on later attributes pointed past the
    // end of the key. They now name the key attribute the mask attribute was built from.
    let key = Key(vec![
        KeyAttr::Tunnel(TunnelKey {
            ipv4_dst: Some(std::net::Ipv4Addr::new(2, 2, 2, 2)),
            ttl: Some(1),
            ..TunnelKey::default()
        }),
        // An ethertype that is not IPv6, so an IPv6 mask attribute is not allowed.
        KeyAttr::Ethertype(0x8664),
        KeyAttr::Ipv6(Ipv6Key::default()),
    ]);
    let bytes = key.to_bytes();
    // tunnel: 4 + dst 8 + ttl 8 = 20; eth_type: 8; the IPv6 attribute starts at 28.
    let ipv6_at = 28;
    assert_eq!(bytes.len(), ipv6_at + 4 + 40);
    let e = parse_match(&bytes, 100, None).unwrap_err();
    assert_eq!((e.errno, e.offset), (EINVAL, 100 + ipv6_at), "{e}");
}
