//! Action text: input → parsed → printed, table-driven, plus rejections with their offsets.

use userdp_protocol::errno::EINVAL;
use userdp_protocol::ovs::action::{Action, Actions};
use userdp_protocol::text::action::{actions_to_string, parse_actions};

/// (input, what OVS 3.1 prints for the parsed list).
const CASES: &[(&str, &str)] = &[
    // set / set_masked over key attributes (full value = SET, partial mask = SET_MASKED).
    ("set(ipv4(src=1.2.3.4,dst=5.6.7.8,proto=6,tos=0,ttl=64,frag=no))", "set(ipv4(src=1.2.3.4,dst=5.6.7.8,proto=6,tos=0,ttl=64,frag=no))"),
    ("set(ipv4(src=1.2.3.4))", "set(ipv4(src=1.2.3.4))"),
    ("set(ipv4(src=1.2.3.4/255.255.255.0))", "set(ipv4(src=1.2.3.4/255.255.255.0))"),
    ("set(eth(src=00:01:02:03:04:05,dst=00:00:00:00:00:01))", "set(eth(src=00:01:02:03:04:05,dst=00:00:00:00:00:01))"),
    ("set(eth(dst=00:00:00:00:00:01))", "set(eth(dst=00:00:00:00:00:01))"),
    ("set(tcp(src=80))", "set(tcp(src=80))"),
    ("set(tcp(src=80,dst=90))", "set(tcp(src=80,dst=90))"),
    ("set(udp(dst=53))", "set(udp(dst=53))"),
    ("set(skb_mark(0x5))", "set(skb_mark(0x5))"),
    ("set(ipv6(src=::1))", "set(ipv6(src=::1))"),
    ("set(ct_state(+new))", "set(ct_state(+new))"),
    ("set(tunnel(tun_id=0x5,dst=1.1.1.1,ttl=64,flags(df|key)))", "set(tunnel(tun_id=0x5,dst=1.1.1.1,ttl=64,flags(df|key)))"),
    // Output and lists.
    ("2", "2"),
    ("0", "0"),
    ("65534", "65534"),
    ("0x10", "16"),
    ("010", "8"),
    ("1,2,3", "1,2,3"),
    ("1 2\t3", "1,2,3"),
    ("  1,,2  ", "1,2"),
    ("", "drop"),
    ("drop", "drop"),
    ("DROP", "drop"),
    ("4294967295", "4294967295"),
    // VLAN.
    ("push_vlan(vid=10,pcp=0)", "push_vlan(vid=10,pcp=0)"),
    ("push_vlan(vid=4095,pcp=7)", "push_vlan(vid=4095,pcp=7)"),
    ("push_vlan(vid=0,pcp=0)", "push_vlan(vid=0,pcp=0)"),
    ("push_vlan(vid=5,pcp=3,cfi=0)", "push_vlan(vid=5,pcp=3,cfi=0)"),
    ("push_vlan(vid=5,pcp=3,cfi=1)", "push_vlan(vid=5,pcp=3)"),
    ("push_vlan(tpid=0x88a8,vid=100,pcp=1)", "push_vlan(tpid=0x88a8,vid=100,pcp=1)"),
    ("push_vlan(tpid=0x8100,vid=100,pcp=1)", "push_vlan(vid=100,pcp=1)"),
    ("push_vlan(tpid=0x9100,vid=1,pcp=0,cfi=0)", "push_vlan(tpid=0x9100,vid=1,pcp=0,cfi=0)"),
    ("pop_vlan", "pop_vlan"),
    ("pop_vlan,pop_vlan,1", "pop_vlan,pop_vlan,1"),
    // Sample.
    ("sample(sample=50%,actions(1))", "sample(sample=50.0%,actions(1))"),
    ("sample(sample=100%,actions(1,2))", "sample(sample=100.0%,actions(1,2))"),
    ("sample(sample=0%,actions())", "sample(sample=0.0%,actions(drop))"),
    ("sample(sample=0%,actions(drop))", "sample(sample=0.0%,actions(drop))"),
    ("sample(sample=9.7%,actions(pop_vlan))", "sample(sample=9.7%,actions(pop_vlan))"),
    ("sample(sample=0.1%,actions(3))", "sample(sample=0.1%,actions(3))"),
    ("sample(sample=33.333%,actions(3))", "sample(sample=33.3%,actions(3))"),
    (
        "sample(sample=50%,actions(sample(sample=50%,actions(1))))",
        "sample(sample=50.0%,actions(sample(sample=50.0%,actions(1))))",
    ),
    // Recirc, hash, meter, trunc.
    ("recirc(0)", "recirc(0)"),
    ("recirc(1)", "recirc(0x1)"),
    ("recirc(0x1)", "recirc(0x1)"),
    ("recirc(4294967295)", "recirc(0xffffffff)"),
    ("hash(l4(0))", "hash(l4(0))"),
    ("hash(l4(12345))", "hash(l4(12345))"),
    ("hash(sym_l4(7))", "hash(sym_l4(7))"),
    ("meter(0)", "meter(0)"),
    ("meter(3)", "meter(3)"),
    ("meter(4294967296)", "meter(0)"),
    ("trunc(100)", "trunc(100)"),
    ("trunc(0x40)", "trunc(64)"),
    ("trunc(100),2", "trunc(100),2"),
    // MPLS.
    (
        "push_mpls(label=10,tc=3,ttl=64,bos=1,eth_type=0x8847)",
        "push_mpls(label=10,tc=3,ttl=64,bos=1,eth_type=0x8847)",
    ),
    (
        "push_mpls(label=1048575,tc=7,ttl=255,bos=0,eth_type=0x8848)",
        "push_mpls(label=1048575,tc=7,ttl=255,bos=0,eth_type=0x8848)",
    ),
    ("pop_mpls(eth_type=0x800)", "pop_mpls(eth_type=0x800)"),
    ("pop_mpls(eth_type=0x8847)", "pop_mpls(eth_type=0x8847)"),
    (
        "add_mpls(label=200,tc=0,ttl=63,bos=1,eth_type=0x8847)",
        "add_mpls(label=200,tc=0,ttl=63,bos=1,eth_type=0x8847)",
    ),
    (
        "add_mpls(label=0x10,tc=1,ttl=2,bos=0,eth_type=0x8848)",
        "add_mpls(label=16,tc=1,ttl=2,bos=0,eth_type=0x8848)",
    ),
    // Ethernet.
    (
        "push_eth(src=00:01:02:03:04:05,dst=0a:0b:0c:0d:0e:0f)",
        "push_eth(src=00:01:02:03:04:05,dst=0a:0b:0c:0d:0e:0f)",
    ),
    (
        "push_eth(src=AA:BB:CC:DD:EE:FF,dst=0:0:0:0:0:1)",
        "push_eth(src=aa:bb:cc:dd:ee:ff,dst=00:00:00:00:00:01)",
    ),
    ("pop_eth", "pop_eth"),
    ("pop_eth,push_eth(src=00:00:00:00:00:01,dst=00:00:00:00:00:02)", "pop_eth,push_eth(src=00:00:00:00:00:01,dst=00:00:00:00:00:02)"),
    // Conntrack.
    ("ct", "ct"),
    ("ct()", "ct"),
    ("ct_clear", "ct_clear"),
    ("ct_clear,ct", "ct_clear,ct"),
    ("ct(commit)", "ct(commit)"),
    ("ct(force_commit)", "ct(force_commit)"),
    ("ct(zone=1)", "ct(zone=1)"),
    ("ct(zone=0)", "ct"),
    ("ct(commit,zone=65535)", "ct(commit,zone=65535)"),
    ("ct(commit,mark=0x1/0xff)", "ct(commit,mark=0x1/0xff)"),
    ("ct(commit,mark=10)", "ct(commit,mark=0x10/0xffffffff)"),
    ("ct(commit,mark=0/0)", "ct(commit)"),
    ("ct(commit,mark=0/1)", "ct(commit,mark=0/0x1)"),
    ("ct(commit,label=0x1)", "ct(commit,label=0x1)"),
    ("ct(commit,label=0x1/0xff)", "ct(commit,label=0x1/0xff)"),
    ("ct(commit,label=5)", "ct(commit,label=0x5)"),
    (
        "ct(commit,label=0x0102030405060708090a0b0c0d0e0f10)",
        "ct(commit,label=0x102030405060708090a0b0c0d0e0f10)",
    ),
    ("ct(commit,label=0/0x1)", "ct(commit,label=0/0x1)"),
    ("ct(commit,helper=ftp)", "ct(commit,helper=ftp)"),
    ("ct(helper=tftp,commit)", "ct(commit,helper=tftp)"),
    ("ct(commit,timeout=pol1)", "ct(commit,timeout=pol1)"),
    ("ct(nat)", "ct(nat)"),
    ("ct(commit,nat(src))", "ct(commit,nat(src))"),
    ("ct(commit,nat(dst))", "ct(commit,nat(dst))"),
    ("ct(commit,nat(src,persistent))", "ct(commit,nat(src))"),
    ("ct(commit,nat(src=10.0.0.1))", "ct(commit,nat(src=10.0.0.1))"),
    ("ct(commit,nat(src=10.0.0.1-10.0.0.10))", "ct(commit,nat(src=10.0.0.1-10.0.0.10))"),
    ("ct(commit,nat(src=10.0.0.1-10.0.0.1))", "ct(commit,nat(src=10.0.0.1))"),
    (
        "ct(commit,zone=1,mark=0x1/0xff,helper=ftp,nat(src=10.0.0.1-10.0.0.10:1000-2000,persistent,random))",
        "ct(commit,zone=1,mark=0x1/0xff,helper=ftp,nat(src=10.0.0.1-10.0.0.10:1000-2000,persistent,random))",
    ),
    ("ct(commit,nat(dst=10.0.0.5:80))", "ct(commit,nat(dst=10.0.0.5:80))"),
    ("ct(commit,nat(dst=10.0.0.5:80-80))", "ct(commit,nat(dst=10.0.0.5:80))"),
    ("ct(commit,nat(src=10.0.0.1,hash))", "ct(commit,nat(src=10.0.0.1,hash))"),
    ("ct(commit,nat(src=fe80::1))", "ct(commit,nat(src=fe80::1))"),
    ("ct(commit,nat(src=[fe80::1]:443))", "ct(commit,nat(src=[fe80::1]:443))"),
    (
        "ct(commit,nat(src=[fe80::1]-[fe80::9]:100-200))",
        "ct(commit,nat(src=[fe80::1]-[fe80::9]:100-200))",
    ),
    ("ct(commit,nat(src=fe80::1-fe80::2))", "ct(commit,nat(src=fe80::1-fe80::2))"),
    ("ct(zone=5,nat),recirc(0x2)", "ct(zone=5,nat),recirc(0x2)"),
    ("ct(commit,zone=3),recirc(7)", "ct(commit,zone=3),recirc(0x7)"),
    // NSH.
    (
        "push_nsh()",
        "push_nsh(flags=0,ttl=63,mdtype=1,np=3,spi=0x0,si=255,c1=0x0,c2=0x0,c3=0x0,c4=0x0)",
    ),
    (
        "push_nsh(flags=1,ttl=10,mdtype=1,np=1,spi=0x123,si=7,c1=0x1,c2=0x2,c3=0x3,c4=0x4)",
        "push_nsh(flags=1,ttl=10,mdtype=1,np=1,spi=0x123,si=7,c1=0x1,c2=0x2,c3=0x3,c4=0x4)",
    ),
    (
        "push_nsh(spi=0x5,c4=0xffffffff)",
        "push_nsh(flags=0,ttl=63,mdtype=1,np=3,spi=0x5,si=255,c1=0x0,c2=0x0,c3=0x0,c4=0xffffffff)",
    ),
    (
        "push_nsh(mdtype=2,md2=0x0102030405)",
        "push_nsh(flags=0,ttl=63,mdtype=2,np=3,spi=0x0,si=255,md2=0x102030405000000)",
    ),
    (
        "push_nsh(mdtype=2,np=4,md2=0x10000a04c0a80101)",
        "push_nsh(flags=0,ttl=63,mdtype=2,np=4,spi=0x0,si=255,md2=0x10000a04c0a80101)",
    ),
    ("pop_nsh()", "pop_nsh()"),
    ("pop_nsh", "pop_nsh()"),
    // Clone, check_pkt_len, dec_ttl.
    ("clone(1)", "clone(1)"),
    ("clone()", "clone(drop)"),
    ("clone(drop)", "clone(drop)"),
    ("clone(pop_vlan,2),3", "clone(pop_vlan,2),3"),
    ("clone(clone(clone(1)))", "clone(clone(clone(1)))"),
    ("check_pkt_len(size=200,gt(1),le(2))", "check_pkt_len(size=200,gt(1),le(2))"),
    ("check_pkt_len(size=200,gt(drop),le(2))", "check_pkt_len(size=200,gt(drop),le(2))"),
    ("check_pkt_len(size=200,gt(),le())", "check_pkt_len(size=200,gt(drop),le(drop))"),
    ("check_pkt_len(size=1500,gt(DROP),le(3,4))", "check_pkt_len(size=1500,gt(drop),le(3,4))"),
    (
        "check_pkt_len(size=100,gt(check_pkt_len(size=50,gt(1),le(2))),le(3))",
        "check_pkt_len(size=100,gt(check_pkt_len(size=50,gt(1),le(2))),le(3))",
    ),
    ("dec_ttl(le_1(1))", "dec_ttl(le_1(1))"),
    ("dec_ttl(le_1())", "dec_ttl(le_1(drop))"),
    ("dec_ttl(le_1(userspace(pid=5,userdata(0102030405060708))))", "dec_ttl(le_1(userspace(pid=5,userdata(0102030405060708))))"),
    // psample (kernel 6.11 action, newer OVS syntax).
    ("psample(group=7)", "psample(group=7)"),
    ("psample(group=7,cookie=0x0a0b)", "psample(group=7,cookie=0xa0b)"),
    // Userspace.
    (
        "userspace(pid=4294967295,userdata(0102030405060708))",
        "userspace(pid=4294967295,userdata(0102030405060708))",
    ),
    (
        "userspace(pid=9,userdata(0102030405))",
        "userspace(pid=9,userdata(0102030405000000))",
    ),
    (
        "userspace(pid=9,userdata(00112233445566778899))",
        "userspace(pid=9,userdata(00112233445566778899))",
    ),
    (
        "userspace(pid=1)",
        "userspace(pid=1,userdata(000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000))",
    ),
    (
        "userspace(pid=1,userdata(0102030405060708),actions)",
        "userspace(pid=1,userdata(0102030405060708),actions)",
    ),
    (
        "userspace(pid=1,userdata(0102030405060708),tunnel_out_port=4)",
        "userspace(pid=1,userdata(0102030405060708),tunnel_out_port=4)",
    ),
    (
        "userspace(pid=1,userdata(0102030405060708),actions,tunnel_out_port=4)",
        "userspace(pid=1,userdata(0102030405060708),actions,tunnel_out_port=4)",
    ),
    ("userspace(pid=2,slow_path(cfm))", "userspace(pid=2,slow_path(cfm))"),
    ("userspace(pid=2,slow_path(cfm|bfd))", "userspace(pid=2,slow_path(cfm,bfd))"),
    ("userspace(pid=2,slow_path(cfm,bfd))", "userspace(pid=2,slow_path(cfm,bfd))"),
    ("userspace(pid=2,slow_path(0))", "userspace(pid=2,slow_path(0))"),
    ("userspace(pid=2,slow_path(lacp|stp|lldp))", "userspace(pid=2,slow_path(lacp,stp,lldp))"),
    ("userspace(pid=2,slow_path(action|match))", "userspace(pid=2,slow_path(action,match))"),
    ("userspace(pid=2,slow_path(0x100))", "userspace(pid=2,slow_path(0x100))"),
    ("userspace(pid=2,slow_path(0x101))", "userspace(pid=2,slow_path(cfm,0x100))"),
    ("userspace(pid=3,sFlow(vid=9,pcp=7,output=10))", "userspace(pid=3,sFlow(vid=9,pcp=7,output=10))"),
    ("userspace(pid=3,sFlow(vid=0,pcp=0,output=0x2))", "userspace(pid=3,sFlow(vid=0,pcp=0,output=2))"),
    (
        "userspace(pid=4,flow_sample(probability=100,collector_set_id=1,obs_domain_id=2,obs_point_id=3,output_port=4))",
        "userspace(pid=4,flow_sample(probability=100,collector_set_id=1,obs_domain_id=2,obs_point_id=3,output_port=4))",
    ),
    (
        "userspace(pid=4,flow_sample(probability=65535,collector_set_id=1,obs_domain_id=2,obs_point_id=3,output_port=4294967295,ingress))",
        "userspace(pid=4,flow_sample(probability=65535,collector_set_id=1,obs_domain_id=2,obs_point_id=3,output_port=4294967295,ingress))",
    ),
    (
        "userspace(pid=4,flow_sample(probability=1,collector_set_id=0,obs_domain_id=0,obs_point_id=0,output_port=7,egress),tunnel_out_port=7)",
        "userspace(pid=4,flow_sample(probability=1,collector_set_id=0,obs_domain_id=0,obs_point_id=0,output_port=7,egress),tunnel_out_port=7)",
    ),
    ("userspace(pid=5,ipfix(output_port=10))", "userspace(pid=5,ipfix(output_port=10))"),
    (
        "userspace(pid=5,ipfix(output_port=10),actions,tunnel_out_port=10)",
        "userspace(pid=5,ipfix(output_port=10),actions,tunnel_out_port=10)",
    ),
    (
        "userspace(pid=6,controller(reason=1,dont_send=0,continuation=1,recirc_id=2,rule_cookie=0x1234,controller_id=3,max_len=65535))",
        "userspace(pid=6,controller(reason=1,dont_send=0,continuation=1,recirc_id=2,rule_cookie=0x1234,controller_id=3,max_len=65535))",
    ),
    (
        "userspace(pid=6,controller(reason=0,dont_send=5,continuation=0,recirc_id=0,rule_cookie=0,controller_id=0,max_len=0))",
        "userspace(pid=6,controller(reason=0,dont_send=1,continuation=0,recirc_id=0,rule_cookie=0,controller_id=0,max_len=0))",
    ),
    // Mixed lists.
    (
        "ct(commit,zone=2),push_vlan(vid=3,pcp=1),2,clone(pop_vlan,trunc(64),1),meter(1)",
        "ct(commit,zone=2),push_vlan(vid=3,pcp=1),2,clone(pop_vlan,trunc(64),1),meter(1)",
    ),
    (
        "sample(sample=100%,actions(meter(0),userspace(pid=7,slow_path(stp)))),1",
        "sample(sample=100.0%,actions(meter(0),userspace(pid=7,slow_path(stp)))),1",
    ),
    ("hash(l4(1)),recirc(0x55)", "hash(l4(1)),recirc(0x55)"),
];

#[test]
fn table_parses_and_prints_as_ovs() {
    assert!(CASES.len() >= 100, "only {} cases", CASES.len());
    for (input, want) in CASES {
        let parsed = parse_actions(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(&actions_to_string(&parsed), want, "input {input:?}");
        // The printed form reads back and prints the same (sample percentages are rounded, so
        // the value itself may move by less than 0.05%).
        let again = parse_actions(want).unwrap_or_else(|e| panic!("{want:?}: {e}"));
        assert_eq!(&actions_to_string(&again), want, "reparse of {want:?}");
    }
}

/// (input, offset of the failure).
const REJECTS: &[(&str, usize)] = &[
    ("1;2", 1),
    ("pop_vlan;", 8),
    ("bogus", 0),
    ("push_vlan(vid=4096,pcp=0)", 10),
    ("push_vlan(vid=1,pcp=8)", 10),
    ("push_vlan(vid=1)", 15),
    ("sample(sample=101%,actions(1))", 14),
    ("sample(sample=50%,actions(1)", 27),
    ("clone(1", 7),
    ("ct(commit,force_commit)", 23),
    ("ct(commit,nat(src,dst))", 21),
    ("ct(commit,nat(src=10.0.0.1,hash,random))", 14),
    ("ct(commit,nat(src=10.0.0.9-10.0.0.1))", 14),
    ("ct(helper=)", 10),
    ("ct(helper=abcdefghijklmnop)", 10),
    ("ct(frobnicate)", 3),
    ("userspace(pid=1,userdata(123))", 25),
    ("userspace(pid=1,sFlow(vid=1,pcp=2))", 33),
    ("hash(l3(1))", 5),
    ("push_nsh(mdtype=3)", 16),
    ("push_nsh(c1=1)", 11),
    ("check_pkt_len(size=100,gt(1))", 27),
    ("trunc(x)", 6),
    ("1,drop", 2),
    ("meter(1", 7),
];

#[test]
fn rejections_are_einval_at_the_offending_character() {
    for (input, at) in REJECTS {
        let e = parse_actions(input).expect_err(input);
        assert_eq!((e.errno, e.offset), (EINVAL, *at), "input {input:?}: {e}");
    }
}

#[test]
fn multibyte_character_where_a_nested_drop_could_start_is_an_error() {
    // Fuzz finding: the `drop)` check sliced the text at byte 4, inside the 3-byte U+FFFD,
    // and panicked instead of reporting the unknown action.
    let e = parse_actions("clone(pu\u{fffd}sh_vlan(vid=1,pcp=0))").unwrap_err();
    assert_eq!((e.errno, e.offset), (EINVAL, 6));
    assert_eq!(
        parse_actions("clone(DROP)").unwrap(),
        Actions(vec![Action::Clone(vec![])])
    );
}

#[test]
fn zero_psample_cookie_prints_and_reads_back() {
    // Fuzz finding: a zero cookie prints as `cookie=0`, which the parser refused.
    let a = parse_actions("psample(group=3,cookie=0x0)").unwrap();
    assert_eq!(actions_to_string(&a), "psample(group=3,cookie=0)");
    assert_eq!(parse_actions("psample(group=3,cookie=0)").unwrap(), a);
}

#[test]
fn empty_md2_push_nsh_prints_and_reads_back() {
    // Fuzz finding: MD type 2 without metadata prints `md2=0`, which the parser refused.
    let a = parse_actions("push_nsh(mdtype=2,spi=0x5)").unwrap();
    let printed = "push_nsh(flags=0,ttl=63,mdtype=2,np=3,spi=0x5,si=255,md2=0)";
    assert_eq!(actions_to_string(&a), printed);
    assert_eq!(parse_actions(printed).unwrap(), a);
}

#[test]
fn nesting_beyond_ovs_limit_is_refused() {
    let deep = format!("{}1{}", "clone(".repeat(40), ")".repeat(40));
    assert_eq!(parse_actions(&deep).unwrap_err().errno, EINVAL);
    let ok = format!("{}1{}", "clone(".repeat(10), ")".repeat(10));
    assert!(parse_actions(&ok).is_ok());
}

#[test]
fn unknown_and_kernel_only_actions_print() {
    let a = Actions(vec![
        Action::Unknown {
            kind: 40,
            payload: vec![1, 0xab],
        },
        Action::Unknown {
            kind: 41,
            payload: vec![],
        },
        Action::Drop(3),
        Action::Hash { alg: 9, basis: 1 },
    ]);
    assert_eq!(
        actions_to_string(&a),
        "action40(01 ab),action41,drop,hash(Unknown hash algorithm(9))"
    );
}

mod roundtrip {
    use proptest::prelude::*;
    use std::net::{IpAddr, Ipv4Addr};
    use userdp_protocol::ovs::action::{Action, Actions, CtAction, Nat, NatKind, NshPush};
    use userdp_protocol::text::action::{actions_to_string, parse_actions};

    fn nat() -> impl Strategy<Value = Option<Nat>> {
        let addr = (
            any::<u32>(),
            0u32..1000,
            0u16..2000,
            0u16..100,
            any::<(bool, u8)>(),
        )
            .prop_map(|(a, span, pmin, pspan, (src, flags))| {
                let min = Ipv4Addr::from(a.min(u32::MAX - 1000));
                let max = Ipv4Addr::from(u32::from(min) + span);
                Nat {
                    kind: Some(if src { NatKind::Src } else { NatKind::Dst }),
                    ip_min: Some(IpAddr::V4(min)),
                    ip_max: (span > 0).then_some(IpAddr::V4(max)),
                    proto_min: (pmin > 0).then_some(pmin),
                    proto_max: (pmin > 0 && pspan > 0).then_some(pmin + pspan),
                    persistent: flags & 1 != 0,
                    proto_hash: flags & 6 == 2,
                    proto_random: flags & 6 == 4,
                }
            });
        prop_oneof![
            Just(None),
            Just(Some(Nat::default())),
            Just(Some(Nat {
                kind: Some(NatKind::Dst),
                ..Nat::default()
            })),
            addr.prop_map(Some),
        ]
    }

    fn ct() -> impl Strategy<Value = CtAction> {
        (
            0u8..3,
            prop::option::of(any::<u16>()),
            prop::option::of((any::<u32>(), 1u32..)),
            prop::option::of((any::<[u8; 16]>(), any::<[u8; 16]>())),
            prop::option::of("[a-z]{1,15}"),
            prop::option::of("[a-z0-9]{1,31}"),
            nat(),
        )
            .prop_map(|(c, zone, mark, labels, helper, timeout, nat)| CtAction {
                commit: c == 1,
                force_commit: c == 2,
                zone,
                mark,
                labels: labels.filter(|(_, m)| *m != [0; 16]),
                helper,
                timeout,
                nat,
                eventmask: None,
            })
    }

    fn cookie() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(any::<u8>(), 8..60),
            (1u16..6, prop::collection::vec(any::<u8>(), 44)).prop_map(|(t, rest)| {
                let mut c = t.to_ne_bytes().to_vec();
                c.extend(rest);
                c
            }),
        ]
    }

    fn leaf() -> impl Strategy<Value = Action> {
        prop_oneof![
            any::<u32>().prop_map(Action::Output),
            (
                any::<u32>(),
                cookie(),
                prop::option::of(any::<u32>()),
                any::<bool>()
            )
                .prop_map(|(pid, u, egress_tun_port, actions)| Action::Userspace {
                    pid,
                    userdata: Some(u),
                    egress_tun_port,
                    actions
                }),
            any::<(u16, u16)>().prop_map(|(tpid, tci)| Action::PushVlan { tpid, tci }),
            Just(Action::PopVlan),
            any::<u32>().prop_map(Action::Recirc),
            (0u32..2, any::<u32>()).prop_map(|(alg, basis)| Action::Hash { alg, basis }),
            any::<(u32, u16)>().prop_map(|(lse, ethertype)| Action::PushMpls { lse, ethertype }),
            any::<u16>().prop_map(Action::PopMpls),
            ct().prop_map(Action::Ct),
            any::<u32>().prop_map(Action::Trunc),
            any::<([u8; 6], [u8; 6])>().prop_map(|(src, dst)| Action::PushEth { src, dst }),
            Just(Action::PopEth),
            Just(Action::CtClear),
            (
                any::<(u8, u8, u8, u8)>(),
                0u32..0x0100_0000,
                any::<[u32; 4]>()
            )
                .prop_map(|(b, spi, md1)| Action::PushNsh(NshPush {
                    flags: b.0,
                    ttl: b.1,
                    mdtype: 1,
                    np: b.2,
                    spi,
                    si: b.3,
                    md1: Some(md1),
                    md2: None
                })),
            (1u8.., prop::collection::vec(any::<u8>(), 3..=3), 0usize..10).prop_map(
                |(first, rest, words)| {
                    let mut md2 = vec![first];
                    md2.extend(rest);
                    for _ in 0..words {
                        md2.extend([1, 2, 3, 4]);
                    }
                    Action::PushNsh(NshPush {
                        mdtype: 2,
                        ttl: 63,
                        np: 3,
                        si: 255,
                        md2: Some(md2),
                        ..NshPush::default()
                    })
                }
            ),
            Just(Action::PopNsh),
            any::<u32>().prop_map(Action::Meter),
            (any::<u32>(), any::<u16>()).prop_map(|(lse, ethertype)| Action::AddMpls {
                lse,
                ethertype,
                tun_flags: 0
            }),
            (
                any::<u32>(),
                prop::option::of((1u8.., prop::collection::vec(any::<u8>(), 0..15)))
            )
                .prop_map(|(group, c)| Action::Psample {
                    group,
                    cookie: c.map(|(f, mut r)| {
                        r.insert(0, f);
                        r
                    })
                }),
        ]
    }

    fn action() -> impl Strategy<Value = Action> {
        leaf().prop_recursive(3, 20, 4, |inner| {
            let list = prop::collection::vec(inner, 0..4);
            prop_oneof![
                (any::<u32>(), list.clone()).prop_map(|(probability, actions)| Action::Sample {
                    probability,
                    actions
                }),
                list.clone().prop_map(Action::Clone),
                list.clone().prop_map(Action::DecTtl),
                (any::<u16>(), list.clone(), list).prop_map(|(pkt_len, g, l)| {
                    Action::CheckPktLen {
                        pkt_len,
                        if_greater: g,
                        if_less_equal: l,
                    }
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn text_value_text(list in prop::collection::vec(action(), 0..5)) {
            let printed = actions_to_string(&Actions(list));
            let parsed = parse_actions(&printed)
                .unwrap_or_else(|e| panic!("{printed}: {e}"));
            prop_assert_eq!(actions_to_string(&parsed), printed);
        }

        #[test]
        fn arbitrary_text_never_panics(s in "[a-z0-9_(),=:./%|\\[\\]-]{0,60}") {
            let _ = parse_actions(&s);
        }
    }
}
