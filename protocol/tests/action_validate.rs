//! Kernel validation of actions against a flow (Linux 6.1 `__ovs_nla_copy_actions` rules):
//! one test per rejection, plus the acceptances they are measured against.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use userdp_protocol::errno::{EINVAL, EMSGSIZE, EOVERFLOW};
use userdp_protocol::ovs::action::{
    validate_actions, Action, Actions, CtAction, FlowFacts, MacProto, Nat, NatKind, NshPush,
};
use userdp_protocol::ovs::key::{EthernetKey, Ipv4Key, Ipv6Key, Key, KeyAttr, PortsKey, TunnelKey};

fn ipv4_tcp() -> FlowFacts {
    FlowFacts {
        mac_proto: MacProto::Ethernet,
        eth_type: 0x0800,
        ip_proto: 6,
        ..FlowFacts::default()
    }
}

fn ipv6_udp() -> FlowFacts {
    FlowFacts {
        mac_proto: MacProto::Ethernet,
        eth_type: 0x86dd,
        ip_proto: 17,
        ..FlowFacts::default()
    }
}

fn check(facts: FlowFacts, list: Vec<Action>) -> Result<usize, (i32, usize)> {
    validate_actions(&Actions(list), &facts).map_err(|e| (e.errno, e.offset))
}

fn rejected(facts: FlowFacts, list: Vec<Action>) -> (i32, usize) {
    check(facts, list).expect_err("should be rejected")
}

fn v4(s: [u8; 4], d: [u8; 4], proto: u8) -> Ipv4Key {
    Ipv4Key {
        src: Ipv4Addr::from(s),
        dst: Ipv4Addr::from(d),
        proto,
        tos: 0,
        ttl: 64,
        frag: 0,
    }
}

#[test]
fn ordinary_lists_pass() {
    let ok = vec![
        Action::Output(1),
        Action::PushVlan {
            tpid: 0x8100,
            tci: 0x1005,
        },
        Action::PopVlan,
        Action::Set(KeyAttr::Ipv4(v4([1, 2, 3, 4], [5, 6, 7, 8], 6))),
        Action::SetMasked(
            KeyAttr::Ipv4(Ipv4Key {
                ttl: 0,
                ..v4([10, 0, 0, 0], [0; 4], 0)
            }),
            KeyAttr::Ipv4(Ipv4Key {
                ttl: 0,
                ..v4([255, 0, 0, 0], [0; 4], 0)
            }),
        ),
        Action::Set(KeyAttr::Tcp(PortsKey { src: 1, dst: 2 })),
        Action::Ct(CtAction {
            commit: true,
            zone: Some(3),
            mark: Some((1, 1)),
            helper: Some("ftp".into()),
            nat: Some(Nat {
                kind: Some(NatKind::Src),
                ip_min: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
                ..Nat::default()
            }),
            ..CtAction::default()
        }),
        Action::Recirc(1),
        Action::Hash { alg: 0, basis: 9 },
        Action::Trunc(14),
        Action::Meter(7),
        Action::Userspace {
            pid: 1,
            userdata: None,
            egress_tun_port: None,
            actions: false,
        },
        Action::CheckPktLen {
            pkt_len: 100,
            if_greater: vec![Action::Output(2)],
            if_less_equal: vec![],
        },
        Action::DecTtl(vec![]),
        Action::Clone(vec![Action::PopVlan]),
        Action::CtClear,
        Action::PushMpls {
            lse: 0x100,
            ethertype: 0x8847,
        },
        Action::PopMpls(0x0800),
    ];
    assert_eq!(check(ipv4_tcp(), ok).map(|_| ()), Ok(()));
}

#[test]
fn unknown_and_newer_kernel_actions_are_einval() {
    let unknown = Action::Unknown {
        kind: 30,
        payload: vec![],
    };
    assert_eq!(
        rejected(ipv4_tcp(), vec![Action::Output(1), unknown]),
        (EINVAL, 8)
    );
    // DROP (Linux 6.4) and PSAMPLE (6.11) are unknown to 6.1.
    assert_eq!(rejected(ipv4_tcp(), vec![Action::Drop(0)]), (EINVAL, 0));
    assert_eq!(
        rejected(
            ipv4_tcp(),
            vec![Action::Psample {
                group: 1,
                cookie: None
            }]
        ),
        (EINVAL, 0)
    );
}

#[test]
fn output_port_must_be_below_dp_max_ports() {
    assert!(check(ipv4_tcp(), vec![Action::Output(65534)]).is_ok());
    assert_eq!(
        rejected(ipv4_tcp(), vec![Action::Output(65535)]),
        (EINVAL, 0)
    );
}

#[test]
fn userspace_pid_zero_is_einval() {
    let a = Action::Userspace {
        pid: 0,
        userdata: None,
        egress_tun_port: None,
        actions: false,
    };
    assert_eq!(rejected(ipv4_tcp(), vec![a]), (EINVAL, 0));
}

#[test]
fn trunc_below_ethernet_header_is_einval() {
    assert_eq!(rejected(ipv4_tcp(), vec![Action::Trunc(13)]), (EINVAL, 0));
}

#[test]
fn hash_sym_l4_is_einval_as_in_linux_6_1() {
    assert_eq!(
        rejected(ipv4_tcp(), vec![Action::Hash { alg: 1, basis: 0 }]),
        (EINVAL, 0)
    );
}

#[test]
fn push_vlan_tpid_must_be_8021q_or_8021ad() {
    assert!(check(
        ipv4_tcp(),
        vec![Action::PushVlan {
            tpid: 0x88a8,
            tci: 0x1000
        }]
    )
    .is_ok());
    assert_eq!(
        rejected(
            ipv4_tcp(),
            vec![Action::PushVlan {
                tpid: 0x9100,
                tci: 0x1001
            }]
        ),
        (EINVAL, 0)
    );
}

#[test]
fn push_vlan_needs_the_cfi_bit() {
    assert_eq!(
        rejected(
            ipv4_tcp(),
            vec![Action::PushVlan {
                tpid: 0x8100,
                tci: 0x0001
            }]
        ),
        (EINVAL, 0)
    );
}

#[test]
fn vlan_actions_need_ethernet() {
    let l3 = FlowFacts {
        mac_proto: MacProto::None,
        ..ipv4_tcp()
    };
    assert_eq!(rejected(l3, vec![Action::PopVlan]), (EINVAL, 0));
    assert_eq!(
        rejected(
            l3,
            vec![Action::PushVlan {
                tpid: 0x8100,
                tci: 0x1000
            }]
        ),
        (EINVAL, 0)
    );
    // pop_eth turns the packet into L3 for the rest of the list.
    assert_eq!(
        rejected(ipv4_tcp(), vec![Action::PopEth, Action::PopVlan]),
        (EINVAL, 4)
    );
}

#[test]
fn push_mpls_rules() {
    let push = |e| Action::PushMpls {
        lse: 0,
        ethertype: e,
    };
    assert_eq!(rejected(ipv4_tcp(), vec![push(0x0800)]), (EINVAL, 0));
    let ipx = FlowFacts {
        eth_type: 0x8137,
        ..ipv4_tcp()
    };
    assert_eq!(rejected(ipx, vec![push(0x8847)]), (EINVAL, 0));
    let tagged = FlowFacts {
        vlan_tci: 0x1001,
        ..ipv4_tcp()
    };
    assert_eq!(rejected(tagged, vec![push(0x8847)]), (EINVAL, 0));
}

#[test]
fn pop_mpls_needs_mpls() {
    assert_eq!(
        rejected(ipv4_tcp(), vec![Action::PopMpls(0x0800)]),
        (EINVAL, 0)
    );
    // After popping the last label the ethertype is unknown: a second pop is refused.
    let mpls = FlowFacts {
        eth_type: 0x8847,
        mpls_labels: 1,
        ..ipv4_tcp()
    };
    assert!(check(mpls, vec![Action::PopMpls(0x8847)]).is_ok());
    assert_eq!(
        rejected(mpls, vec![Action::PopMpls(0x8847), Action::PopMpls(0x0800)]),
        (EINVAL, 8)
    );
}

#[test]
fn add_mpls_ethertype_must_be_mpls() {
    assert_eq!(
        rejected(
            ipv4_tcp(),
            vec![Action::AddMpls {
                lse: 0,
                ethertype: 0x0800,
                tun_flags: 0
            }]
        ),
        (EINVAL, 0)
    );
}

#[test]
fn set_ipv4_needs_an_ipv4_flow() {
    let a = Action::Set(KeyAttr::Ipv4(v4([1, 1, 1, 1], [2, 2, 2, 2], 17)));
    assert_eq!(rejected(ipv6_udp(), vec![a]), (EINVAL, 0));
}

#[test]
fn set_ipv4_must_keep_proto_and_frag() {
    let a = Action::Set(KeyAttr::Ipv4(v4([1, 1, 1, 1], [2, 2, 2, 2], 17)));
    assert_eq!(rejected(ipv4_tcp(), vec![a]), (EINVAL, 0));
}

#[test]
fn masked_ipv4_proto_is_not_writable() {
    let a = Action::SetMasked(
        KeyAttr::Ipv4(Ipv4Key {
            ttl: 0,
            ..v4([0; 4], [0; 4], 6)
        }),
        KeyAttr::Ipv4(Ipv4Key {
            ttl: 0,
            ..v4([0; 4], [0; 4], 0xff)
        }),
    );
    assert_eq!(rejected(ipv4_tcp(), vec![a]), (EINVAL, 0));
}

#[test]
fn masked_value_outside_mask_is_einval() {
    let a = Action::SetMasked(KeyAttr::SkbMark(0x13), KeyAttr::SkbMark(0x0f));
    assert_eq!(rejected(ipv4_tcp(), vec![a]), (EINVAL, 0));
}

#[test]
fn non_settable_key_is_einval() {
    assert_eq!(
        rejected(ipv4_tcp(), vec![Action::Set(KeyAttr::InPort(1))]),
        (EINVAL, 0)
    );
    assert_eq!(
        rejected(ipv4_tcp(), vec![Action::Set(KeyAttr::RecircId(1))]),
        (EINVAL, 0)
    );
}

#[test]
fn set_eth_needs_ethernet() {
    let l3 = FlowFacts {
        mac_proto: MacProto::None,
        ..ipv4_tcp()
    };
    let a = Action::Set(KeyAttr::Ethernet(EthernetKey {
        src: [0; 6],
        dst: [1; 6],
    }));
    assert_eq!(rejected(l3, vec![a]), (EINVAL, 0));
}

#[test]
fn set_l4_needs_matching_proto() {
    let a = Action::Set(KeyAttr::Udp(PortsKey { src: 1, dst: 2 }));
    assert_eq!(rejected(ipv4_tcp(), vec![a]), (EINVAL, 0));
    let s = Action::Set(KeyAttr::Sctp(PortsKey { src: 1, dst: 2 }));
    assert_eq!(rejected(ipv6_udp(), vec![s]), (EINVAL, 0));
}

#[test]
fn set_mpls_needs_mpls() {
    let a = Action::Set(KeyAttr::Mpls(vec![0x100]));
    assert_eq!(rejected(ipv4_tcp(), vec![a]), (EINVAL, 0));
}

#[test]
fn ipv6_label_beyond_20_bits_is_einval() {
    let k = Ipv6Key {
        src: Ipv6Addr::LOCALHOST,
        dst: Ipv6Addr::LOCALHOST,
        label: 0x10_0000,
        proto: 17,
        tclass: 0,
        hlimit: 1,
        frag: 0,
    };
    assert_eq!(
        rejected(ipv6_udp(), vec![Action::Set(KeyAttr::Ipv6(k))]),
        (EINVAL, 0)
    );
    let ok = Ipv6Key {
        label: 0xf_ffff,
        ..k
    };
    assert!(check(ipv6_udp(), vec![Action::Set(KeyAttr::Ipv6(ok))]).is_ok());
}

fn tunnel() -> TunnelKey {
    TunnelKey {
        id: Some(5),
        ipv4_dst: Some(Ipv4Addr::new(192, 168, 0, 1)),
        ttl: Some(64),
        ..TunnelKey::default()
    }
}

#[test]
fn masked_tunnel_set_is_einval() {
    assert!(check(ipv4_tcp(), vec![Action::Set(KeyAttr::Tunnel(tunnel()))]).is_ok());
    let a = Action::SetMasked(KeyAttr::Tunnel(tunnel()), KeyAttr::Tunnel(tunnel()));
    assert_eq!(rejected(ipv4_tcp(), vec![a]), (EINVAL, 0));
}

#[test]
fn tunnel_set_needs_ttl() {
    let t = TunnelKey {
        ttl: None,
        ..tunnel()
    };
    assert_eq!(
        rejected(ipv4_tcp(), vec![Action::Set(KeyAttr::Tunnel(t))]),
        (EINVAL, 0)
    );
}

#[test]
fn ct_needs_an_ip_flow() {
    let arp = FlowFacts {
        eth_type: 0x0806,
        ..ipv4_tcp()
    };
    assert_eq!(
        rejected(arp, vec![Action::Ct(CtAction::default())]),
        (EINVAL, 0)
    );
}

#[test]
fn ct_mark_mask_zero_is_einval() {
    let ct = CtAction {
        commit: true,
        mark: Some((0, 0)),
        ..CtAction::default()
    };
    assert_eq!(rejected(ipv4_tcp(), vec![Action::Ct(ct)]), (EINVAL, 0));
}

#[test]
fn ct_labels_need_commit() {
    let ct = CtAction {
        labels: Some(([1; 16], [0xff; 16])),
        ..CtAction::default()
    };
    assert_eq!(rejected(ipv4_tcp(), vec![Action::Ct(ct)]), (EINVAL, 0));
}

#[test]
fn ct_unknown_helper_is_einval() {
    let ct = CtAction {
        commit: true,
        helper: Some("h323x".into()),
        ..CtAction::default()
    };
    assert_eq!(rejected(ipv4_tcp(), vec![Action::Ct(ct)]), (EINVAL, 0));
}

#[test]
fn ct_nat_range_needs_commit() {
    let ct = CtAction {
        nat: Some(Nat {
            kind: Some(NatKind::Dst),
            ..Nat::default()
        }),
        ..CtAction::default()
    };
    assert_eq!(rejected(ipv4_tcp(), vec![Action::Ct(ct)]), (EINVAL, 0));
}

#[test]
fn ct_nat_address_family_must_match_flow() {
    let ct = CtAction {
        commit: true,
        nat: Some(Nat {
            kind: Some(NatKind::Src),
            ip_min: Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            ..Nat::default()
        }),
        ..CtAction::default()
    };
    assert_eq!(
        rejected(ipv4_tcp(), vec![Action::Ct(ct.clone())]),
        (EINVAL, 0)
    );
    assert!(check(ipv6_udp(), vec![Action::Ct(ct)]).is_ok());
}

#[test]
fn eth_push_pop_rules() {
    assert_eq!(
        rejected(
            ipv4_tcp(),
            vec![Action::PushEth {
                src: [0; 6],
                dst: [0; 6]
            }]
        ),
        (EINVAL, 0)
    );
    let l3 = FlowFacts {
        mac_proto: MacProto::None,
        ..ipv4_tcp()
    };
    assert_eq!(rejected(l3, vec![Action::PopEth]), (EINVAL, 0));
    let tagged = FlowFacts {
        vlan_tci: 0x1001,
        ..ipv4_tcp()
    };
    assert_eq!(rejected(tagged, vec![Action::PopEth]), (EINVAL, 0));
}

#[test]
fn nsh_rules() {
    assert_eq!(rejected(ipv4_tcp(), vec![Action::PopNsh]), (EINVAL, 0));
    let bad = NshPush {
        mdtype: 1,
        ttl: 63,
        md1: None,
        ..NshPush::default()
    };
    assert_eq!(
        rejected(ipv4_tcp(), vec![Action::PushNsh(bad)]),
        (EINVAL, 0)
    );
}

#[test]
fn check_pkt_len_zero_is_einval() {
    let a = Action::CheckPktLen {
        pkt_len: 0,
        if_greater: vec![],
        if_less_equal: vec![],
    };
    assert_eq!(rejected(ipv4_tcp(), vec![a]), (EINVAL, 0));
}

#[test]
fn nested_error_reports_inner_offset() {
    // clone(1, output 65535): the bad output sits at 4 (clone header) + 8.
    let a = Action::Clone(vec![Action::Output(1), Action::Output(70000)]);
    assert_eq!(rejected(ipv4_tcp(), vec![a]), (EINVAL, 12));
}

#[test]
fn nesting_beyond_16_is_eoverflow() {
    let mut a = Action::Output(1);
    for _ in 0..16 {
        a = Action::Sample {
            probability: 1,
            actions: vec![a],
        };
    }
    assert!(check(ipv4_tcp(), vec![a.clone()]).is_ok());
    assert_eq!(
        rejected(ipv4_tcp(), vec![Action::DecTtl(vec![a])]).0,
        EOVERFLOW
    );
}

#[test]
fn internal_copy_over_32k_is_emsgsize() {
    // Each output costs 8 bytes; 28 bytes of header come first.
    assert!(check(ipv4_tcp(), vec![Action::Output(1); 4092]).is_ok());
    assert_eq!(
        rejected(ipv4_tcp(), vec![Action::Output(1); 4093]),
        (EMSGSIZE, 4092 * 8)
    );
    // A full set is stored as a masked set of twice the size: 16 bytes for skb_mark, where
    // the wire form is 12, so 2047 sets (24 564 bytes on the wire) already overflow.
    assert!(check(ipv4_tcp(), vec![Action::Set(KeyAttr::SkbMark(1)); 2046]).is_ok());
    assert_eq!(
        rejected(ipv4_tcp(), vec![Action::Set(KeyAttr::SkbMark(1)); 2047]).0,
        EMSGSIZE
    );
}

#[test]
fn facts_come_from_the_masked_key() {
    let key = Key(vec![
        KeyAttr::InPort(1),
        KeyAttr::Ethernet(EthernetKey {
            src: [0; 6],
            dst: [0; 6],
        }),
        KeyAttr::Ethertype(0x8100),
        KeyAttr::Vlan(0x1005),
        KeyAttr::Encap(Key(vec![
            KeyAttr::Ethertype(0x0800),
            KeyAttr::Ipv4(v4([1, 1, 1, 1], [2, 2, 2, 2], 6)),
        ])),
    ]);
    let f = FlowFacts::from_key(&key, None);
    assert_eq!(
        (f.mac_proto, f.eth_type, f.vlan_tci, f.ip_proto),
        (MacProto::Ethernet, 0x0800, 0x1005, 6)
    );
    // A tagged flow cannot pop the Ethernet header.
    assert_eq!(rejected(f, vec![Action::PopEth]), (EINVAL, 0));
    // With the IPv4 mask wildcarding proto, set(ipv4) must carry proto 0.
    let mask = Key(vec![
        KeyAttr::Ethernet(EthernetKey {
            src: [0; 6],
            dst: [0; 6],
        }),
        KeyAttr::Ethertype(0xffff),
        KeyAttr::Vlan(0xffff),
        KeyAttr::Encap(Key(vec![
            KeyAttr::Ethertype(0xffff),
            KeyAttr::Ipv4(v4([0xff; 4], [0; 4], 0)),
        ])),
    ]);
    assert_eq!(FlowFacts::from_key(&key, Some(&mask)).ip_proto, 0);
}
