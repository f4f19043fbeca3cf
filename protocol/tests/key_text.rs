//! Key text: a table of OVS 3.1 forms (input text → printed text, with the parsed mask,
//! without `-m`), `-m` and unmasked printing, syntax errors with their offsets, and a property
//! round trip text → value → text.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use userdp_protocol::errno::EINVAL;
use userdp_protocol::ovs::key::*;
use userdp_protocol::text::key::*;

fn print(k: &Key, m: Option<&Key>, verbose: bool) -> String {
    let mut s = String::new();
    format_key(k, m, verbose, &mut s);
    s
}

/// (input accepted by `ovs-dpctl add-flow`, what `dump-flows` prints back for it)
const MASKED: &[(&str, &str)] = &[
    ("in_port(1)", "in_port(1)"),
    ("in_port(1/0xff)", "in_port(1/0xff)"),
    ("in_port(0x10)", "in_port(16)"),
    ("skb_priority(0x1234)", "skb_priority(0x1234)"),
    ("skb_priority(5/0xf)", "skb_priority(0x5/0xf)"),
    ("skb_priority(0/0)", ""),
    ("skb_mark(7)", "skb_mark(0x7)"),
    ("skb_mark(0x10/0xf0)", "skb_mark(0x10/0xf0)"),
    ("dp_hash(0x5)", "dp_hash(0x5)"),
    ("dp_hash(0x5/0xf)", "dp_hash(0x5/0xf)"),
    ("recirc_id(0)", "recirc_id(0)"),
    ("recirc_id(17)", "recirc_id(0x11)"),
    ("ct_state(new|trk)", "ct_state(new|trk)"),
    ("ct_state(0)", "ct_state(0)"),
    ("ct_state(+new-est+trk)", "ct_state(+new-est+trk)"),
    ("ct_state(+trk)", "ct_state(+trk)"),
    ("ct_state(0x21/0x23)", "ct_state(+new-est+trk)"),
    ("ct_state(-inv+rpl)", "ct_state(+rpl-inv)"),
    ("ct_state(snat|dnat)", "ct_state(snat|dnat)"),
    ("ct_zone(5)", "ct_zone(0x5)"),
    ("ct_zone(0x10/0xff)", "ct_zone(0x10/0xff)"),
    ("ct_mark(0x5)", "ct_mark(0x5)"),
    ("ct_mark(1/0xff)", "ct_mark(0x1/0xff)"),
    ("ct_label(0x1)", "ct_label(0x1)"),
    ("ct_label(0x1/0xff)", "ct_label(0x1/0xff)"),
    ("ct_label(0x1234567890abcdef1234567890abcdef)", "ct_label(0x1234567890abcdef1234567890abcdef)"),
    ("ct_label(0/0)", ""),
    ("ct_tuple4(src=1.2.3.4,dst=5.6.7.8,proto=6,tp_src=1000,tp_dst=80)", "ct_tuple4(src=1.2.3.4,dst=5.6.7.8,proto=6,tp_src=1000,tp_dst=80)"),
    ("ct_tuple4(proto=17)", "ct_tuple4(proto=17)"),
    ("ct_tuple4(src=10.0.0.0/255.0.0.0)", "ct_tuple4(src=10.0.0.0/255.0.0.0)"),
    ("ct_tuple6(src=fe80::1,dst=fe80::2,proto=6,tp_src=1,tp_dst=2)", "ct_tuple6(src=fe80::1,dst=fe80::2,proto=6,src_port=1,dst_port=2)"),
    ("ct_tuple6(proto=58)", "ct_tuple6(proto=58)"),
    ("eth(src=00:01:02:03:04:05,dst=10:20:30:40:50:60)", "eth(src=00:01:02:03:04:05,dst=10:20:30:40:50:60)"),
    ("eth(src=00:01:02:03:04:05)", "eth(src=00:01:02:03:04:05)"),
    ("eth(dst=01:00:00:00:00:00/01:00:00:00:00:00)", "eth(dst=01:00:00:00:00:00/01:00:00:00:00:00)"),
    ("eth()", "eth()"),
    ("eth(src=0a:0b:0c:0d:0e:0f/ff:ff:ff:00:00:00,dst=ff:ff:ff:ff:ff:ff)", "eth(src=0a:0b:0c:0d:0e:0f/ff:ff:ff:00:00:00,dst=ff:ff:ff:ff:ff:ff)"),
    ("eth(src=AA:BB:CC:DD:EE:FF)", "eth(src=aa:bb:cc:dd:ee:ff)"),
    ("eth_type(0x0800)", "eth_type(0x0800)"),
    ("eth_type(0x86dd)", "eth_type(0x86dd)"),
    ("eth_type(0x8100/0xff00)", "eth_type(0x8100/0xff00)"),
    ("eth_type(2048)", "eth_type(0x0800)"),
    ("eth(),eth_type(0x8100),vlan(vid=10,pcp=3),encap(eth_type(0x0800))", "eth(),eth_type(0x8100),vlan(vid=10,pcp=3),encap(eth_type(0x0800))"),
    ("eth(),eth_type(0x8100),vlan(vid=10),encap()", "eth(),eth_type(0x8100),vlan(vid=10),encap()"),
    ("eth(),eth_type(0x8100),vlan(pcp=5),encap()", "eth(),eth_type(0x8100),vlan(pcp=5),encap()"),
    ("eth(),eth_type(0x8100),vlan(vid=10/0xf00),encap()", "eth(),eth_type(0x8100),vlan(vid=10/0xf00),encap()"),
    ("eth(),eth_type(0x8100),vlan(vid=0),encap()", "eth(),eth_type(0x8100),vlan(vid=0),encap()"),
    ("eth(),eth_type(0x8100),vlan(vid=1,pcp=7/0x4),encap()", "eth(),eth_type(0x8100),vlan(vid=1,pcp=7/0x4),encap()"),
    ("eth(),eth_type(0x8100),vlan(vid=5,cfi=0),encap()", "eth(),eth_type(0x8100),vlan(vid=5,cfi=0),encap()"),
    ("eth(),eth_type(0x88a8),vlan(vid=100),encap(eth_type(0x8100),vlan(vid=200),encap(eth_type(0x0806),arp(op=1)))", "eth(),eth_type(0x88a8),vlan(vid=100),encap(eth_type(0x8100),vlan(vid=200),encap(eth_type(0x0806),arp(op=1)))"),
    ("eth(),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=6,tos=0,ttl=64,frag=no)", "eth(),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=6,tos=0,ttl=64,frag=no)"),
    ("eth_type(0x0800),ipv4(src=10.0.0.1/255.255.255.0)", "eth_type(0x0800),ipv4(src=10.0.0.1/255.255.255.0)"),
    ("eth_type(0x0800),ipv4(dst=192.168.1.1/255.255.0.255)", "eth_type(0x0800),ipv4(dst=192.168.1.1/255.255.0.255)"),
    ("eth_type(0x0800),ipv4(proto=17)", "eth_type(0x0800),ipv4(proto=17)"),
    ("eth_type(0x0800),ipv4(tos=0x20)", "eth_type(0x0800),ipv4(tos=0x20)"),
    ("eth_type(0x0800),ipv4(tos=0xfc/0xfc)", "eth_type(0x0800),ipv4(tos=0xfc/0xfc)"),
    ("eth_type(0x0800),ipv4(ttl=64/0xf0)", "eth_type(0x0800),ipv4(ttl=64/0xf0)"),
    ("eth_type(0x0800),ipv4(frag=first)", "eth_type(0x0800),ipv4(frag=first)"),
    ("eth_type(0x0800),ipv4(frag=later)", "eth_type(0x0800),ipv4(frag=later)"),
    ("eth_type(0x0800),ipv4(frag=no)", "eth_type(0x0800),ipv4(frag=no)"),
    ("eth_type(0x0800),ipv4()", "eth_type(0x0800)"),
    ("eth_type(0x0800),ipv4(proto=6,frag=no),tcp(src=80,dst=8080)", "eth_type(0x0800),ipv4(proto=6,frag=no),tcp(src=80,dst=8080)"),
    ("eth_type(0x0800),ipv4(proto=6),tcp(src=80/0xff00)", "eth_type(0x0800),ipv4(proto=6),tcp(src=80/0xff00)"),
    ("eth_type(0x0800),ipv4(proto=6),tcp(dst=443)", "eth_type(0x0800),ipv4(proto=6),tcp(dst=443)"),
    ("eth_type(0x0800),ipv4(proto=6),tcp()", "eth_type(0x0800),ipv4(proto=6)"),
    ("eth_type(0x0800),ipv4(proto=17),udp(src=53,dst=5353)", "eth_type(0x0800),ipv4(proto=17),udp(src=53,dst=5353)"),
    ("eth_type(0x0800),ipv4(proto=17),udp(dst=4789/0xfff0)", "eth_type(0x0800),ipv4(proto=17),udp(dst=4789/0xfff0)"),
    ("eth_type(0x0800),ipv4(proto=132),sctp(src=1,dst=2)", "eth_type(0x0800),ipv4(proto=132),sctp(src=1,dst=2)"),
    ("eth_type(0x0800),ipv4(proto=6),tcp_flags(syn)", "eth_type(0x0800),ipv4(proto=6),tcp_flags(syn)"),
    ("eth_type(0x0800),ipv4(proto=6),tcp_flags(syn|ack)", "eth_type(0x0800),ipv4(proto=6),tcp_flags(syn|ack)"),
    ("eth_type(0x0800),ipv4(proto=6),tcp_flags(0)", "eth_type(0x0800),ipv4(proto=6),tcp_flags(0)"),
    ("eth_type(0x0800),ipv4(proto=6),tcp_flags(+syn-ack)", "eth_type(0x0800),ipv4(proto=6),tcp_flags(+syn-ack)"),
    ("eth_type(0x0800),ipv4(proto=6),tcp_flags(0x2/0x12)", "eth_type(0x0800),ipv4(proto=6),tcp_flags(+syn-ack)"),
    ("eth_type(0x0800),ipv4(proto=6),tcp_flags(-fin-syn-rst)", "eth_type(0x0800),ipv4(proto=6),tcp_flags(-fin-syn-rst)"),
    ("eth_type(0x0800),ipv4(proto=6),tcp_flags(fin|syn|rst|psh|ack|urg|ece|cwr|ns)", "eth_type(0x0800),ipv4(proto=6),tcp_flags(fin|syn|rst|psh|ack|urg|ece|cwr|ns)"),
    ("eth_type(0x0800),ipv4(proto=6),tcp_flags(0x800)", "eth_type(0x0800),ipv4(proto=6),tcp_flags([800])"),
    ("eth_type(0x0800),ipv4(proto=6),tcp_flags(+[200]-[400])", "eth_type(0x0800),ipv4(proto=6),tcp_flags(+[200]-[400])"),
    ("eth_type(0x0800),ipv4(proto=6),tcp_flags(0/0)", "eth_type(0x0800),ipv4(proto=6)"),
    ("eth_type(0x0800),ipv4(proto=1),icmp(type=8,code=0)", "eth_type(0x0800),ipv4(proto=1),icmp(type=8,code=0)"),
    ("eth_type(0x0800),ipv4(proto=1),icmp(type=3)", "eth_type(0x0800),ipv4(proto=1),icmp(type=3)"),
    ("eth_type(0x0800),ipv4(proto=1),icmp(type=3/0xf0)", "eth_type(0x0800),ipv4(proto=1),icmp(type=3/0xf0)"),
    ("eth_type(0x86dd),ipv6(src=2001:db8::1,dst=2001:db8::2,label=0,proto=6,tclass=0,hlimit=64,frag=no)", "eth_type(0x86dd),ipv6(src=2001:db8::1,dst=2001:db8::2,label=0,proto=6,tclass=0,hlimit=64,frag=no)"),
    ("eth_type(0x86dd),ipv6(src=2001:db8::/ffff:ffff::)", "eth_type(0x86dd),ipv6(src=2001:db8::/ffff:ffff::)"),
    ("eth_type(0x86dd),ipv6(dst=::1)", "eth_type(0x86dd),ipv6(dst=::1)"),
    ("eth_type(0x86dd),ipv6(label=0x12345)", "eth_type(0x86dd),ipv6(label=0x12345)"),
    ("eth_type(0x86dd),ipv6(label=5/0xff)", "eth_type(0x86dd),ipv6(label=0x5/0xff)"),
    ("eth_type(0x86dd),ipv6(tclass=0x10,hlimit=255)", "eth_type(0x86dd),ipv6(tclass=0x10,hlimit=255)"),
    ("eth_type(0x86dd),ipv6(proto=58,frag=first)", "eth_type(0x86dd),ipv6(proto=58,frag=first)"),
    ("eth_type(0x86dd),ipv6(src=::ffff:1.2.3.4)", "eth_type(0x86dd),ipv6(src=::ffff:1.2.3.4)"),
    ("eth_type(0x86dd),ipv6(src=FE80::A)", "eth_type(0x86dd),ipv6(src=fe80::a)"),
    ("eth_type(0x86dd),ipv6(proto=58),icmpv6(type=135,code=0),nd(target=fe80::1,sll=00:00:00:00:00:01,tll=00:00:00:00:00:02)", "eth_type(0x86dd),ipv6(proto=58),icmpv6(type=135,code=0),nd(target=fe80::1,sll=00:00:00:00:00:01,tll=00:00:00:00:00:02)"),
    ("eth_type(0x86dd),ipv6(proto=58),icmpv6(type=136),nd(target=fe80::1)", "eth_type(0x86dd),ipv6(proto=58),icmpv6(type=136),nd(target=fe80::1)"),
    ("eth_type(0x86dd),ipv6(proto=58),icmpv6(type=135),nd(sll=00:11:22:33:44:55)", "eth_type(0x86dd),ipv6(proto=58),icmpv6(type=135),nd(sll=00:11:22:33:44:55)"),
    ("eth_type(0x86dd),ipv6(proto=58),icmpv6(type=135),nd()", "eth_type(0x86dd),ipv6(proto=58),icmpv6(type=135)"),
    ("eth_type(0x86dd),ipv6(proto=58),icmpv6(type=128,code=0)", "eth_type(0x86dd),ipv6(proto=58),icmpv6(type=128,code=0)"),
    ("eth_type(0x0806),arp(sip=1.1.1.1,tip=1.1.1.2,op=1,sha=00:00:00:00:00:01,tha=00:00:00:00:00:00)", "eth_type(0x0806),arp(sip=1.1.1.1,tip=1.1.1.2,op=1,sha=00:00:00:00:00:01,tha=00:00:00:00:00:00)"),
    ("eth_type(0x0806),arp(op=2)", "eth_type(0x0806),arp(op=2)"),
    ("eth_type(0x0806),arp(tip=10.0.0.0/255.255.255.0)", "eth_type(0x0806),arp(tip=10.0.0.0/255.255.255.0)"),
    ("eth_type(0x0806),arp()", "eth_type(0x0806)"),
    ("eth_type(0x8847),mpls(label=100,tc=3,ttl=64,bos=1)", "eth_type(0x8847),mpls(label=100,tc=3,ttl=64,bos=1)"),
    ("eth_type(0x8847),mpls(label=100,tc=3,ttl=64,bos=0,label=200,tc=0,ttl=63,bos=1)", "eth_type(0x8847),mpls(label=100,tc=3,ttl=64,bos=0,label=200,tc=0,ttl=63,bos=1)"),
    ("eth_type(0x8847),mpls(label=1/0xff,tc=1,ttl=1,bos=1)", "eth_type(0x8847),mpls(label=1/0xff,tc=1/7,ttl=1/0xff,bos=1/1)"),
    ("eth_type(0x8847),mpls(label=1,label=2,label=3)", "eth_type(0x8847),mpls(label=1/0xfffff,tc=0/0,ttl=0/0x0,bos=0/0,label=2/0xfffff,tc=0/0,ttl=0/0x0,bos=0/0,label=3/0xfffff,tc=0/0,ttl=0/0x0,bos=0/0)"),
    ("eth_type(0x8847),mpls()", "eth_type(0x8847)"),
    ("eth_type(0x8847),mpls(ttl=64)", "eth_type(0x8847),mpls(label=0/0x0,tc=0/0,ttl=64/0xff,bos=0/0)"),
    ("tunnel(tun_id=0x1,src=1.1.1.1,dst=2.2.2.2,tos=0,ttl=64,tp_src=0,tp_dst=4789,flags(0))", "tunnel(tun_id=0x1,src=1.1.1.1,dst=2.2.2.2,tos=0,ttl=64,tp_src=0,tp_dst=4789,flags(key))"),
    ("tunnel(tun_id=0x7f10354,src=10.10.10.10,dst=20.20.20.20,ttl=64,flags(csum|key))", "tunnel(tun_id=0x7f10354,src=10.10.10.10,dst=20.20.20.20,ttl=64,flags(csum|key))"),
    ("tunnel(tun_id=0x1/0xff,dst=1.1.1.1,ttl=64)", "tunnel(tun_id=0x1/0xff,dst=1.1.1.1,ttl=64,flags(+key))"),
    ("tunnel(dst=1.1.1.1,ttl=64,flags(df))", "tunnel(dst=1.1.1.1,ttl=64,flags(-oam+df-csum))"),
    ("tunnel(dst=1.1.1.1,ttl=64,flags(+df-csum))", "tunnel(dst=1.1.1.1,ttl=64,flags(+df-csum))"),
    ("tunnel(dst=1.1.1.1,ttl=64)", "tunnel(dst=1.1.1.1,ttl=64)"),
    ("tunnel(ipv6_src=2001:db8::1,ipv6_dst=2001:db8::2,ttl=64)", "tunnel(ipv6_src=2001:db8::1,ipv6_dst=2001:db8::2,ttl=64)"),
    ("tunnel(src=1.1.1.1/255.255.255.0,dst=2.2.2.2,tos=0x10,ttl=64)", "tunnel(src=1.1.1.1/255.255.255.0,dst=2.2.2.2,tos=0x10,ttl=64)"),
    ("tunnel(dst=1.1.1.1,ttl=64,tp_src=1000/0xff00)", "tunnel(dst=1.1.1.1,ttl=64,tp_src=1000/0xff00)"),
    ("tunnel(dst=1.1.1.1,ttl=64,geneve({class=0xffff,type=0x80,len=4,0xa}))", "tunnel(dst=1.1.1.1,ttl=64,geneve({class=0xffff,type=0x80,len=4,0xa}))"),
    ("tunnel(dst=1.1.1.1,ttl=64,geneve({class=0x102,type=0x80,len=4,0x10001/0x7fffffff}))", "tunnel(dst=1.1.1.1,ttl=64,geneve({class=0x102,type=0x80,len=4,0x10001/0x7fffffff}))"),
    ("tunnel(dst=1.1.1.1,ttl=64,geneve({class=0xffff,type=0x80,len=4,0xa}{class=0x1,type=0x2,len=8,0x1234567890}))", "tunnel(dst=1.1.1.1,ttl=64,geneve({class=0xffff,type=0x80,len=4,0xa}{class=0x1,type=0x2,len=8,0x1234567890}))"),
    ("tunnel(dst=1.1.1.1,ttl=64,geneve({class=0xffff,type=0x1,len=0}))", "tunnel(dst=1.1.1.1,ttl=64,geneve({class=0xffff,type=0x1,len=0}))"),
    ("tunnel(dst=1.1.1.1,ttl=64,vxlan(gbp(id=10,flags=0x1)))", "tunnel(dst=1.1.1.1,ttl=64,vxlan(gbp(id=10,flags=0x1)))"),
    ("tunnel(dst=1.1.1.1,ttl=64,vxlan(gbp(id=10/0xff)))", "tunnel(dst=1.1.1.1,ttl=64,vxlan(gbp(id=10/0xff)))"),
    ("tunnel(dst=1.1.1.1,ttl=64,erspan(ver=1,idx=0x7))", "tunnel(dst=1.1.1.1,ttl=64,erspan(ver=1,idx=0x7/0xffffffff))"),
    ("tunnel(dst=1.1.1.1,ttl=64,erspan(ver=2,dir=1,hwid=0x7))", "tunnel(dst=1.1.1.1,ttl=64,erspan(ver=2,dir=1/0x1,hwid=0x7/0x3f))"),
    ("tunnel(tun_id=0x5,dst=1.1.1.1,ttl=64,flags(oam|df))", "tunnel(tun_id=0x5,dst=1.1.1.1,ttl=64,flags(oam|df|key))"),
    ("tunnel()", "tunnel()"),
    ("packet_type(ns=0,id=0)", "packet_type(ns=0,id=0)"),
    ("packet_type(ns=1,id=0x800)", "packet_type(ns=1,id=0x800)"),
    ("packet_type(ns=1/0xf,id=0x800/0xff00)", "packet_type(ns=1/0xf,id=0x800/0xff00)"),
    ("encap()", "encap()"),
    ("in_port(1),eth(),eth_type(0x0800),ipv4(proto=6,frag=no),tcp(dst=80),tcp_flags(syn)", "in_port(1),eth(),eth_type(0x0800),ipv4(proto=6,frag=no),tcp(dst=80),tcp_flags(syn)"),
    (" in_port(2) ,eth()\teth_type(0x0800),ipv4()", "in_port(2),eth(),eth_type(0x0800)"),
    ("in_port(1)eth()", "in_port(1),eth()"),
    ("ufid:11111111-2222-3333-4444-555555555555 in_port(1)", "in_port(1)"),
    ("eth(src=00:00:00:00:00:01,),eth_type(0x0800)", "eth(src=00:00:00:00:00:01),eth_type(0x0800)"),
    ("skb_priority(010)", "skb_priority(0x8)"),
    ("skb_mark(-1)", "skb_mark(0xffffffff)"),
    ("skb_mark(4294967296)", "skb_mark(0)"),
    ("eth_type(0x0800),ipv4(src=10.0.0.1,src=10.0.0.2)", "eth_type(0x0800),ipv4(src=10.0.0.2)"),
];

#[test]
fn masked_table() {
    assert!(MASKED.len() >= 120);
    for (input, want) in MASKED {
        let (k, m) = parse_key(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(print(&k, Some(&m), false), *want, "input {input}");
    }
}

/// The same inputs printed with `-m` (every attribute, every field).
const VERBOSE: &[(&str, &str)] = &[
    ("in_port(1),eth(),eth_type(0x0800),ipv4(proto=6),tcp(),tcp_flags(0/0)", "in_port(1),eth(src=00:00:00:00:00:00/00:00:00:00:00:00,dst=00:00:00:00:00:00/00:00:00:00:00:00),eth_type(0x0800),ipv4(src=0.0.0.0/0.0.0.0,dst=0.0.0.0/0.0.0.0,proto=6,tos=0/0,ttl=0/0),tcp(src=0/0,dst=0/0),tcp_flags(0/0)"),
    ("skb_mark(0/0),recirc_id(0)", "skb_mark(0/0),recirc_id(0)"),
    ("ct_state(+trk),ct_zone(0/0),ct_mark(0/0),ct_label(0/0)", "ct_state(0x20/0x20),ct_zone(0/0),ct_mark(0/0),ct_label(0/0)"),
    ("eth(src=50:54:00:00:00:01),eth_type(0x86dd),ipv6(label=1)", "eth(src=50:54:00:00:00:01,dst=00:00:00:00:00:00/00:00:00:00:00:00),eth_type(0x86dd),ipv6(src=::/::,dst=::/::,label=0x1,proto=0/0,tclass=0/0,hlimit=0/0)"),
    ("eth(),eth_type(0x8100),vlan(vid=0,pcp=0),encap()", "eth(src=00:00:00:00:00:00/00:00:00:00:00:00,dst=00:00:00:00:00:00/00:00:00:00:00:00),eth_type(0x8100),vlan(vid=0,pcp=0),encap()"),
    ("tunnel(tun_id=0x1,dst=1.1.1.1,ttl=64)", "tunnel(tun_id=0x1,dst=1.1.1.1,ttl=64,flags(+key))"),
    ("tunnel(dst=1.1.1.1,ttl=64,geneve({class=0xffff,type=0x80,len=4,0xa/0}))", "tunnel(dst=1.1.1.1,ttl=64,geneve({class=0xffff,type=0x80,len=4,0xa/0}),flags(0/0))"),
    ("eth_type(0x0806),arp(op=1)", "eth_type(0x0806),arp(sip=0.0.0.0/0.0.0.0,tip=0.0.0.0/0.0.0.0,op=1,sha=00:00:00:00:00:00/00:00:00:00:00:00,tha=00:00:00:00:00:00/00:00:00:00:00:00)"),
    ("eth_type(0x0800),ipv4(frag=no)", "eth_type(0x0800),ipv4(src=0.0.0.0/0.0.0.0,dst=0.0.0.0/0.0.0.0,proto=0/0,tos=0/0,ttl=0/0,frag=no)"),
    ("packet_type(ns=0/0,id=0/0)", "packet_type(ns=0/0,id=0/0)"),
];

#[test]
fn verbose_table() {
    for (input, want) in VERBOSE {
        let (k, m) = parse_key(input).unwrap();
        assert_eq!(print(&k, Some(&m), true), *want, "input {input}");
    }
}

/// The keys printed with no mask at all and without `-m` (as `normalize-actions` does).
const UNMASKED: &[(&str, &str)] = &[
    ("in_port(1),eth(),eth_type(0x0800),ipv4(proto=6),tcp(),tcp_flags(0/0)", "in_port(1),eth(src=00:00:00:00:00:00,dst=00:00:00:00:00:00),eth_type(0x0800),ipv4(src=0.0.0.0,dst=0.0.0.0,proto=6,tos=0,ttl=0,frag=no),tcp(src=0,dst=0),tcp_flags(0)"),
    ("skb_mark(0/0),recirc_id(0)", "skb_mark(0),recirc_id(0)"),
    ("ct_state(+trk),ct_zone(0/0),ct_mark(0/0),ct_label(0/0)", "ct_state(trk),ct_zone(),ct_mark(),ct_label()"),
    ("eth(src=50:54:00:00:00:01),eth_type(0x86dd),ipv6(label=1)", "eth(src=50:54:00:00:00:01,dst=00:00:00:00:00:00),eth_type(0x86dd),ipv6(src=::,dst=::,label=0x1,proto=0,tclass=0,hlimit=0,frag=no)"),
    ("eth(),eth_type(0x8100),vlan(vid=0,pcp=0),encap()", "eth(src=00:00:00:00:00:00,dst=00:00:00:00:00:00),eth_type(0x8100),vlan(vid=0,pcp=0),encap()"),
    ("tunnel(tun_id=0x1,dst=1.1.1.1,ttl=64)", "tunnel(tun_id=0x1,dst=1.1.1.1,ttl=64,flags(key))"),
    ("tunnel(dst=1.1.1.1,ttl=64,geneve({class=0xffff,type=0x80,len=4,0xa/0}))", "tunnel(dst=1.1.1.1,ttl=64,geneve({class=0xffff,type=0x80,len=4,0xa}),flags(0))"),
    ("eth_type(0x0806),arp(op=1)", "eth_type(0x0806),arp(sip=0.0.0.0,tip=0.0.0.0,op=1,sha=00:00:00:00:00:00,tha=00:00:00:00:00:00)"),
    ("eth_type(0x0800),ipv4(frag=no)", "eth_type(0x0800),ipv4(src=0.0.0.0,dst=0.0.0.0,proto=0,tos=0,ttl=0,frag=no)"),
    ("packet_type(ns=0/0,id=0/0)", "packet_type(ns=0,id=0)"),
];

#[test]
fn unmasked_table() {
    for (input, want) in UNMASKED {
        let (k, _) = parse_key(input).unwrap();
        assert_eq!(print(&k, None, false), *want, "input {input}");
    }
}

/// (text `odp_flow_from_string` refuses, character offset of the failing attribute)
const ERRORS: &[(&str, usize)] = &[
    ("foo(1)", 0),
    ("in_port()", 0),
    ("in_port(1", 0),
    ("recirc_id(1/0xff)", 0),
    ("eth(src=00:01:02:03:04)", 0),
    ("eth(foo=1)", 0),
    ("eth(,src=00:00:00:00:00:01)", 0),
    ("in_port(1),eth_type(0x0800),ipv4(frag=maybe)", 28),
    ("in_port(1),eth_type(0x0800),ipv4(frag=no/0xff)", 28),
    ("ipv6(label=0x100000)", 0),
    ("vlan(vid=4096)", 0),
    ("vlan(pcp=8)", 0),
    ("vlan(cfi=2)", 0),
    ("mpls(label=1,label=2,label=3,label=4)", 0),
    ("mpls(label=1048576)", 0),
    ("tcp_flags(syn|bogus)", 0),
    ("tcp_flags(+syn+syn)", 0),
    ("tcp_flags(0x1000)", 0),
    ("ct_state(+new+foo)", 0),
    ("ct_state(0x100)", 0),
    ("tunnel(flags(df|bogus))", 0),
    ("tunnel(geneve({class=1,type=1,len=3,0x1}))", 0),
    ("tunnel(vxlan(gbp(id=1))", 0),
    ("nsh(flags=0,mdtype=1,np=3,spi=0x1,si=255)", 0),
    ("encap(in_port(1)", 0),
    ("eth(),encap(foo())", 12),
    ("ufid:1234 in_port(1)", 0),
];

#[test]
fn syntax_errors() {
    for (input, off) in ERRORS {
        let e = parse_key(input).unwrap_err();
        assert_eq!((e.errno, e.offset), (EINVAL, *off), "input {input}");
    }
}

#[test]
fn empty_key_prints_empty_marker() {
    assert_eq!(print(&Key::default(), None, false), "<empty>");
}

#[test]
fn mask_ethertype_without_key_ethertype_is_appended() {
    let k = Key(vec![KeyAttr::Ethernet(EthernetKey::default())]);
    let m = Key(vec![
        KeyAttr::Ethernet(EthernetKey::default()),
        KeyAttr::Ethertype(0xffff),
    ]);
    assert_eq!(print(&k, Some(&m), false), "eth(),eth_type(0/0xffff)");
}

#[test]
fn unknown_attribute_prints_hex_bytes() {
    let k = Key(vec![KeyAttr::Unknown(40, vec![1, 0xab, 0])]);
    assert_eq!(print(&k, None, false), "key40(01 ab 00)");
    let m = Key(vec![KeyAttr::Unknown(40, vec![0xff, 0, 0xff])]);
    assert_eq!(print(&k, Some(&m), false), "key40(01 ab 00/ff 00 ff)");
    let k = Key(vec![KeyAttr::Ipv6Exthdrs(0x0102)]);
    assert_eq!(print(&k, None, false), "key32(02 01)");
}

#[test]
fn partial_frag_mask_prints_the_ovs_error_text() {
    let k = Key(vec![KeyAttr::Ipv4(Ipv4Key {
        frag: 1,
        ..Default::default()
    })]);
    let m = Key(vec![KeyAttr::Ipv4(Ipv4Key {
        proto: 0xff,
        frag: 0x0f,
        ..Default::default()
    })]);
    assert_eq!(
        print(&k, Some(&m), false),
        "ipv4(proto=0,error: partial mask not supported for frag (0xf))"
    );
}

#[test]
fn packet_type_hides_wildcarded_eth() {
    let k = Key(vec![
        KeyAttr::PacketType(0),
        KeyAttr::Ethernet(EthernetKey::default()),
    ]);
    let m = Key(vec![
        KeyAttr::PacketType(u32::MAX),
        KeyAttr::Ethernet(EthernetKey::default()),
    ]);
    assert_eq!(print(&k, Some(&m), false), "packet_type(ns=0,id=0)");
}

fn nsh() -> NshKey {
    NshKey {
        base: Some(NshBase {
            flags: 0,
            ttl: 63,
            mdtype: 1,
            np: 3,
            path_hdr: 0x0001_2301,
        }),
        md1: Some([0x11, 0, 0, 0xabc]),
        md2: None,
    }
}

#[test]
fn nsh_unmasked_and_masked() {
    let k = Key(vec![KeyAttr::Nsh(nsh())]);
    assert_eq!(
        print(&k, None, false),
        "nsh(flags=0,ttl=63,mdtype=1,np=3,spi=0x123,si=1,c1=0x11,c2=0x0,c3=0x0,c4=0xabc)"
    );
    let m = Key(vec![KeyAttr::Nsh(NshKey {
        base: Some(NshBase {
            flags: 0,
            ttl: 0,
            mdtype: 0xff,
            np: 0xf0,
            path_hdr: 0xffff_ff00,
        }),
        md1: Some([0xffff_ffff, 0, 0, 0xff00]),
        md2: None,
    })]);
    assert_eq!(
        print(&k, Some(&m), false),
        "nsh(mdtype=1,np=0x03/0xf0,spi=0x123,c1=0x11,c4=0xabc/0x0000ff00)"
    );
}

#[test]
fn nsh_keys_do_not_parse_as_in_ovs_3_1() {
    assert!(parse_key("nsh(mdtype=1,np=3,spi=0x1,si=1)").is_err());
}

#[test]
fn ct_tuple6_printed_form_does_not_parse_back() {
    let (k, m) = parse_key("ct_tuple6(proto=6,tp_src=1,tp_dst=2)").unwrap();
    let printed = print(&k, Some(&m), false);
    assert_eq!(printed, "ct_tuple6(proto=6,src_port=1,dst_port=2)");
    assert!(parse_key(&printed).is_err());
}

#[test]
fn encap_mask_missing_prints_inner_without_mask() {
    let (k, _) =
        parse_key("eth(),eth_type(0x8100),vlan(vid=1),encap(eth_type(0x0800),ipv4(proto=6))")
            .unwrap();
    let m = Key(vec![
        KeyAttr::Ethernet(EthernetKey::default()),
        KeyAttr::Ethertype(0xffff),
        KeyAttr::Vlan(0xffff),
    ]);
    // With the mask present but no ENCAP in it, the nested list is formatted against an
    // all-zero generated mask, so every inner attribute is wildcarded; the exact TCI mask
    // makes pcp=0 show.
    assert_eq!(
        print(&k, Some(&m), false),
        "eth(),eth_type(0x8100),vlan(vid=1,pcp=0),encap()"
    );
}

#[test]
fn set_attribute_forms() {
    // set(): no mask, every field.
    let a = KeyAttr::Ipv4(Ipv4Key {
        src: Ipv4Addr::new(1, 2, 3, 4),
        dst: Ipv4Addr::new(5, 6, 7, 8),
        proto: 6,
        tos: 0,
        ttl: 64,
        frag: 0,
    });
    let mut s = String::new();
    format_key_attr(&a, None, &mut s);
    assert_eq!(
        s,
        "ipv4(src=1.2.3.4,dst=5.6.7.8,proto=6,tos=0,ttl=64,frag=no)"
    );
    let mut s = String::new();
    format_key_attr(&KeyAttr::CtMark(5), None, &mut s);
    assert_eq!(s, "ct_mark(0x5)");
    let mut s = String::new();
    let t = KeyAttr::Tunnel(TunnelKey {
        id: Some(5),
        ipv4_dst: Some(Ipv4Addr::new(1, 1, 1, 1)),
        ttl: Some(64),
        dont_fragment: true,
        ..Default::default()
    });
    format_key_attr(&t, None, &mut s);
    assert_eq!(s, "tunnel(tun_id=0x5,dst=1.1.1.1,ttl=64,flags(df|key))");
    // set_masked: wildcarded fields are left out, partial masks print /mask.
    let (k, m, n) = parse_key_attr("eth(src=00:01:02:03:04:05/ff:ff:ff:00:00:00)),x").unwrap();
    assert_eq!(n, 44);
    let mut s = String::new();
    format_key_attr(&k, m.as_ref(), &mut s);
    assert_eq!(s, "eth(src=00:01:02:03:04:05/ff:ff:ff:00:00:00)");
    let (k, m, _) = parse_key_attr("skb_mark(5/0xf)").unwrap();
    assert_eq!((k, m), (KeyAttr::SkbMark(5), Some(KeyAttr::SkbMark(0xf))));
    let (_, m, _) = parse_key_attr("ipv4(src=1.2.3.4)").unwrap();
    assert_eq!(
        m,
        Some(KeyAttr::Ipv4(Ipv4Key {
            src: Ipv4Addr::BROADCAST,
            ..Default::default()
        }))
    );
}

#[test]
fn parse_key_attr_reports_offset_in_its_input() {
    let e = parse_key_attr("eth(src=zz)").unwrap_err();
    assert_eq!((e.errno, e.offset), (EINVAL, 0));
    let e = parse_key_attr("encap(eth(),bogus())").unwrap_err();
    assert_eq!(e.offset, 12);
}

#[test]
fn ipv6_label_default_mask_is_twenty_bits() {
    let (_, m) = parse_key("eth_type(0x86dd),ipv6(label=1)").unwrap();
    let KeyAttr::Ipv6(m) = &m.0[1] else { panic!() };
    assert_eq!(m.label, 0xfffff);
}

#[test]
fn vlan_parse_sets_cfi_in_key_and_mask() {
    let (k, m) = parse_key("vlan(vid=5,pcp=2)").unwrap();
    assert_eq!(k.0[0], KeyAttr::Vlan(0x1000 | (2 << 13) | 5));
    assert_eq!(m.0[0], KeyAttr::Vlan(0xffff));
    let (k, m) = parse_key("vlan(vid=5,cfi=0)").unwrap();
    assert_eq!(k.0[0], KeyAttr::Vlan(5));
    assert_eq!(m.0[0], KeyAttr::Vlan(0x1fff));
}

#[test]
fn tunnel_flags_parse_to_flag_attributes() {
    let (k, m) = parse_key("tunnel(tun_id=1,dst=1.1.1.1,ttl=64,flags(df|key))").unwrap();
    let (KeyAttr::Tunnel(k), KeyAttr::Tunnel(m)) = (&k.0[0], &m.0[0]) else {
        panic!()
    };
    assert!(k.dont_fragment && !k.csum && !k.oam);
    assert!(m.dont_fragment && m.csum && m.oam);
    let (_, m) = parse_key("tunnel(flags(+df))").unwrap();
    let KeyAttr::Tunnel(m) = &m.0[0] else {
        panic!()
    };
    assert!(m.dont_fragment && !m.csum && !m.oam);
}

#[test]
fn geneve_and_erspan_bytes() {
    let (k, m) =
        parse_key("tunnel(geneve({class=0x102,type=0x80,len=4,0x10001/0x7fffffff}))").unwrap();
    let (KeyAttr::Tunnel(k), KeyAttr::Tunnel(m)) = (&k.0[0], &m.0[0]) else {
        panic!()
    };
    assert_eq!(
        k.geneve_opts.as_deref(),
        Some(&[1, 2, 0x80, 1, 0, 1, 0, 1][..])
    );
    assert_eq!(
        m.geneve_opts.as_deref(),
        Some(&[0xff, 0xff, 0xff, 0x1f, 0x7f, 0xff, 0xff, 0xff][..])
    );
    let (k, _) = parse_key("tunnel(erspan(ver=2,dir=1,hwid=0x35))").unwrap();
    let KeyAttr::Tunnel(k) = &k.0[0] else {
        panic!()
    };
    let e = k.erspan_opts.as_deref().unwrap();
    assert_eq!(&e[..4], &2i32.to_ne_bytes());
    assert_eq!((e[10], e[11]), (0x3, 0x58));
}

// ---------------------------------------------------------------------------------------------
// text → value → text
// ---------------------------------------------------------------------------------------------

fn v4() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}
fn v6() -> impl Strategy<Value = Ipv6Addr> {
    any::<u128>().prop_map(Ipv6Addr::from)
}

fn geneve() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        (
            any::<u16>(),
            any::<u8>(),
            proptest::collection::vec(any::<u8>(), 0..3),
        ),
        1..3,
    )
    .prop_map(|opts| {
        let mut out = Vec::new();
        for (class, ty, words) in opts {
            out.extend_from_slice(&class.to_be_bytes());
            out.push(ty);
            out.push(words.len() as u8);
            for w in words {
                out.extend_from_slice(&[w, 0, w, 1]);
            }
        }
        out
    })
}

fn tunnel() -> impl Strategy<Value = TunnelKey> {
    (
        proptest::option::of(any::<u64>()),
        proptest::option::of(v4()),
        v4(),
        proptest::option::of(any::<u8>()),
        any::<u8>(),
        any::<(bool, bool, bool)>(),
        proptest::option::of(any::<u16>()),
        prop_oneof![
            Just((None, None, None)),
            geneve().prop_map(|g| (Some(g), None, None)),
            (any::<u16>(), any::<u8>()).prop_map(|(id, f)| (
                None,
                Some((u32::from(f) << 16) | u32::from(id)),
                None
            )),
            any::<u32>().prop_map(|idx| {
                let mut e = vec![0u8; 12];
                e[..4].copy_from_slice(&1i32.to_ne_bytes());
                e[4..8].copy_from_slice(&idx.to_be_bytes());
                (None, None, Some(e))
            }),
        ],
    )
        .prop_map(
            |(id, src, dst, tos, ttl, (df, csum, oam), tp, (g, x, e))| TunnelKey {
                id,
                ipv4_src: src,
                ipv4_dst: Some(dst),
                tos,
                ttl: Some(ttl),
                dont_fragment: df,
                csum,
                oam,
                tp_dst: tp,
                geneve_opts: g,
                vxlan_gbp: x,
                erspan_opts: e,
                ..Default::default()
            },
        )
}

fn attr() -> impl Strategy<Value = KeyAttr> {
    prop_oneof![
        any::<u32>().prop_map(KeyAttr::Priority),
        any::<u32>().prop_map(KeyAttr::InPort),
        any::<u32>().prop_map(KeyAttr::SkbMark),
        any::<u32>().prop_map(KeyAttr::DpHash),
        any::<u32>().prop_map(KeyAttr::RecircId),
        any::<u8>().prop_map(|v| KeyAttr::CtState(u32::from(v))),
        any::<u16>().prop_map(KeyAttr::CtZone),
        any::<u32>().prop_map(KeyAttr::CtMark),
        any::<[u8; 16]>().prop_map(KeyAttr::CtLabels),
        (v4(), v4(), any::<(u16, u16, u8)>()).prop_map(|(src, dst, (a, b, p))| {
            KeyAttr::CtOrigTupleIpv4(CtTupleIpv4 {
                src,
                dst,
                src_port: a,
                dst_port: b,
                proto: p,
            })
        }),
        tunnel().prop_map(KeyAttr::Tunnel),
        any::<([u8; 6], [u8; 6])>()
            .prop_map(|(src, dst)| KeyAttr::Ethernet(EthernetKey { src, dst })),
        any::<u16>().prop_map(KeyAttr::Vlan),
        any::<u16>().prop_map(KeyAttr::Ethertype),
        (v4(), v4(), any::<[u8; 3]>(), 0u8..3).prop_map(|(src, dst, b, frag)| {
            KeyAttr::Ipv4(Ipv4Key {
                src,
                dst,
                proto: b[0],
                tos: b[1],
                ttl: b[2],
                frag,
            })
        }),
        (v6(), v6(), 0u32..0x100000, any::<[u8; 3]>(), 0u8..3).prop_map(
            |(src, dst, label, b, frag)| KeyAttr::Ipv6(Ipv6Key {
                src,
                dst,
                label,
                proto: b[0],
                tclass: b[1],
                hlimit: b[2],
                frag,
            })
        ),
        any::<(u16, u16)>().prop_map(|(src, dst)| KeyAttr::Tcp(PortsKey { src, dst })),
        any::<(u16, u16)>().prop_map(|(src, dst)| KeyAttr::Udp(PortsKey { src, dst })),
        any::<(u16, u16)>().prop_map(|(src, dst)| KeyAttr::Sctp(PortsKey { src, dst })),
        (0u16..0x1000).prop_map(KeyAttr::TcpFlags),
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
        proptest::collection::vec(any::<u32>(), 1..=3).prop_map(KeyAttr::Mpls),
        any::<u32>().prop_map(KeyAttr::PacketType),
    ]
}

fn key() -> impl Strategy<Value = Key> {
    (
        proptest::collection::vec(attr(), 1..8),
        proptest::option::of(proptest::collection::vec(attr(), 0..4)),
    )
        .prop_map(|(outer, inner)| {
            // One attribute per type and level: the printer pairs key and mask by type.
            let dedup = |v: Vec<KeyAttr>| {
                let mut seen = std::collections::HashSet::new();
                Key(v.into_iter().filter(|a| seen.insert(a.type_id())).collect())
            };
            let mut k = dedup(outer);
            if let Some(inner) = inner {
                k.push(KeyAttr::Encap(dedup(inner)));
            }
            k
        })
}

proptest! {
    #[test]
    fn text_round_trip_exact_mask(k in key(), verbose in any::<bool>()) {
        let m = exact_mask(&k);
        let text = print(&k, Some(&m), verbose);
        let (k2, m2) = parse_key(&text).unwrap();
        prop_assert_eq!(print(&k2, Some(&m2), verbose), text);
    }

    #[test]
    fn text_round_trip_parsed_values(k in key()) {
        // Printing with the exact mask and parsing back gives the same values.
        let m = exact_mask(&k);
        let text = print(&k, Some(&m), true);
        let (k2, _) = parse_key(&text).unwrap();
        prop_assert_eq!(k2, k);
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(s in "[a-z_0-9(),=/:.+|{}x-]{0,60}") {
        let _ = parse_key(&s);
        let _ = parse_key_attr(&s);
    }
}
