//! `ovs_vport` messages: golden bytes both ways, round trips, and the kernel's rejections.

use proptest::prelude::*;
use userdp_protocol::errno::{EINVAL, ERANGE};
use userdp_protocol::nl::{messages, NLM_F_ECHO, NLM_F_REQUEST};
use userdp_protocol::ovs::common::RawAttrs;
use userdp_protocol::ovs::vport::*;

const FAMILY: u16 = 0x1d;

#[rustfmt::skip]
const VPORT_NEW_VXLAN: [u8; 80] = [
    80, 0, 0, 0,   0x1d, 0,   0x09, 0,   7, 0, 0, 0,   0x10, 0, 0, 0, // nlmsghdr: len 80, ovs_vport, REQUEST|ECHO, seq 7, pid 16
    1, 1, 0, 0,                                       // genl: cmd NEW, version 1
    3, 0, 0, 0,                                       // dp_ifindex 3
    8, 0, 2, 0,   4, 0, 0, 0,                         // TYPE VXLAN
    16, 0, 3, 0,  b'v', b'x', b'l', b'a', b'n', b'_', b's', b'y', b's', b'_', b'1', 0, // NAME "vxlan_sys_1"
    20, 0, 4, 0,                                      // OPTIONS (16 bytes)
    6, 0, 1, 0,   0xb5, 0x12, 0, 0,                   //   DST_PORT 4789 (host order) + pad
    8, 0, 2, 0,                                       //   EXTENSION
    4, 0, 1, 0,                                       //     GBP (flag)
    12, 0, 5, 0,  0x20, 0, 0, 0,   0x21, 0, 0, 0,     // UPCALL_PID [32, 33]
];

#[test]
fn decodes_vport_new_with_tunnel_options() {
    let m = VportMsg::parse(&VPORT_NEW_VXLAN[16..]).unwrap();
    let mut want = VportMsg::new(OvsVportCmd::OVS_VPORT_CMD_NEW, 3);
    want.kind = Some(OvsVportType::OVS_VPORT_TYPE_VXLAN);
    want.name = Some("vxlan_sys_1".into());
    want.options = Some(VportOptions::Tunnel(TunnelOptions {
        dst_port: Some(4789),
        extension: Some(VxlanExt {
            gbp: true,
            gpe: false,
        }),
    }));
    want.upcall_pids = Some(vec![32, 33]);
    assert_eq!(m, want);
    assert!(matches!(m.options, Some(VportOptions::Tunnel(_))));
    assert_eq!(m.options.as_ref().unwrap().find(1), Some(vec![0xb5, 0x12]));
}

#[test]
fn encodes_reply_in_fill_info_order() {
    let mut m = VportMsg::new(OvsVportCmd::OVS_VPORT_CMD_NEW, 3);
    m.port_no = Some(2);
    m.kind = Some(OvsVportType::OVS_VPORT_TYPE_NETDEV);
    m.name = Some("eth1".into());
    m.ifindex = Some(9);
    m.stats = Some(OvsVportStats {
        rx_packets: 1,
        tx_packets: 2,
        rx_bytes: 3,
        tx_bytes: 4,
        rx_errors: 5,
        tx_errors: 6,
        rx_dropped: 7,
        tx_dropped: 8,
    });
    m.upcall_pids = Some(vec![0x20]);
    let mut buf = Vec::new();
    m.emit(&mut buf, FAMILY, 0, 7, 16);
    let mut want: Vec<u8> = vec![
        136, 0, 0, 0, 0x1d, 0, 0, 0, 7, 0, 0, 0, 0x10, 0, 0, 0, // nlmsghdr: len 136, flags 0
        1, 1, 0, 0, // genl: cmd NEW, version 1
        3, 0, 0, 0, // dp_ifindex 3
        8, 0, 1, 0, 2, 0, 0, 0, // PORT_NO 2
        8, 0, 2, 0, 1, 0, 0, 0, // TYPE NETDEV
        9, 0, 3, 0, b'e', b't', b'h', b'1', 0, 0, 0, 0, // NAME "eth1" + pad
        8, 0, 8, 0, 9, 0, 0, 0, // IFINDEX 9
        68, 0, 6, 0, // STATS (64 bytes): rx_packets .. tx_dropped = 1..8
    ];
    for v in 1u64..=8 {
        want.extend_from_slice(&v.to_le_bytes());
    }
    want.extend_from_slice(&[8, 0, 5, 0, 0x20, 0, 0, 0]); // UPCALL_PID [32]
    assert_eq!(buf, want);
    assert_eq!(m.buffer_len(), buf.len());
}

#[test]
fn tunnel_options_golden_emit() {
    let mut m = VportMsg::new(OvsVportCmd::OVS_VPORT_CMD_NEW, 3);
    m.kind = Some(OvsVportType::OVS_VPORT_TYPE_VXLAN);
    m.name = Some("vxlan_sys_1".into());
    m.options = Some(VportOptions::Tunnel(TunnelOptions {
        dst_port: Some(4789),
        extension: Some(VxlanExt {
            gbp: true,
            gpe: false,
        }),
    }));
    m.upcall_pids = Some(vec![32, 33]);
    let mut buf = Vec::new();
    m.emit(&mut buf, FAMILY, NLM_F_REQUEST | NLM_F_ECHO, 7, 16);
    // Same attributes as VPORT_NEW_VXLAN but in fill_info order: TYPE, NAME, UPCALL_PID, OPTIONS.
    #[rustfmt::skip]
    let want: Vec<u8> = [
        &VPORT_NEW_VXLAN[..24],
        &VPORT_NEW_VXLAN[24..48],  // TYPE, NAME
        &VPORT_NEW_VXLAN[68..80],  // UPCALL_PID
        &VPORT_NEW_VXLAN[48..68],  // OPTIONS
    ]
    .concat();
    assert_eq!(buf, want);
}

fn with_attrs(cmd: u8, attrs: &[u8]) -> Vec<u8> {
    let mut v = vec![cmd, 1, 0, 0, 0, 0, 0, 0];
    v.extend_from_slice(attrs);
    v
}

#[test]
fn unusual_options_stay_raw_and_byte_exact() {
    // EXTENSION before DST_PORT: not the canonical order, so kept raw.
    let opts = [8, 0, 2, 0, 4, 0, 1, 0, 6, 0, 1, 0, 0xb5, 0x12, 0, 0];
    let mut attrs = vec![20, 0, 4, 0];
    attrs.extend_from_slice(&opts);
    let m = VportMsg::parse(&with_attrs(3, &attrs)).unwrap();
    match &m.options {
        Some(VportOptions::Raw(r)) => {
            assert_eq!(r.bytes, opts);
            assert_eq!(r.offset, 28);
        }
        other => panic!("expected raw options, got {other:?}"),
    }
    assert_eq!(m.options.as_ref().unwrap().find(1), Some(vec![0xb5, 0x12]));
    let mut buf = Vec::new();
    m.emit(&mut buf, FAMILY, 0, 0, 0);
    assert_eq!(&buf[24..], &attrs[..]);
}

#[test]
fn pid_arrays_checked_in_new_and_set_only() {
    let bad = [7, 0, 5, 0, 1, 0, 0]; // UPCALL_PID of 3 bytes
    for cmd in [1u8, 4] {
        let e = VportMsg::parse(&with_attrs(cmd, &bad)).unwrap_err();
        assert_eq!((e.errno, e.offset), (EINVAL, 24), "cmd {cmd}");
    }
    let e = VportMsg::parse(&with_attrs(1, &[4, 0, 5, 0])).unwrap_err();
    assert_eq!(e.errno, EINVAL);
    for cmd in [2u8, 3] {
        assert_eq!(
            VportMsg::parse(&with_attrs(cmd, &bad)).unwrap().upcall_pids,
            None
        );
    }
}

#[test]
fn policy_rejections() {
    // STATS shorter than struct ovs_vport_stats: ERANGE.
    let mut a = vec![20, 0, 6, 0];
    a.extend_from_slice(&[0; 16]);
    assert_eq!(
        VportMsg::parse(&with_attrs(3, &a)).unwrap_err().errno,
        ERANGE
    );
    // PORT_NO of 3 bytes: ERANGE.
    let e = VportMsg::parse(&with_attrs(3, &[7, 0, 1, 0, 1, 0, 0, 0])).unwrap_err();
    assert_eq!((e.errno, e.offset), (ERANGE, 24));
    // OPTIONS of 2 bytes: shorter than a nested header, ERANGE.
    let e = VportMsg::parse(&with_attrs(1, &[6, 0, 4, 0, 1, 0, 0, 0])).unwrap_err();
    assert_eq!(e.errno, ERANGE);
    // NAME without NUL: EINVAL.
    let e = VportMsg::parse(&with_attrs(1, &[8, 0, 3, 0, b'e', b't', b'h', b'0'])).unwrap_err();
    assert_eq!(e.errno, EINVAL);
    // Short header.
    assert_eq!(VportMsg::parse(&[1, 1, 0]).unwrap_err().offset, 16);
}

#[test]
fn reads_upcall_stats_of_newer_kernels() {
    let mut attrs = vec![28, 0, 10, 0];
    attrs.extend_from_slice(&[12, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]);
    attrs.extend_from_slice(&[12, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0]);
    let m = VportMsg::parse(&with_attrs(3, &attrs)).unwrap();
    assert_eq!(
        m.upcall_stats,
        Some(OvsVportUpcallStats {
            success: 5,
            fail: 6
        })
    );
}

fn arb_options() -> impl Strategy<Value = VportOptions> {
    prop_oneof![
        (
            proptest::option::of(any::<u16>()),
            proptest::option::of((any::<bool>(), any::<bool>()))
        )
            .prop_map(|(p, e)| VportOptions::Tunnel(TunnelOptions {
                dst_port: p,
                extension: e.map(|(gbp, gpe)| VxlanExt { gbp, gpe }),
            })),
        prop_oneof![Just(vec![]), proptest::collection::vec(any::<u8>(), 4..40)]
            .prop_map(|b| VportOptions::Raw(RawAttrs::new(b))),
    ]
}

fn arb_msg() -> impl Strategy<Value = VportMsg> {
    (
        (
            any::<u8>(),
            any::<i32>(),
            proptest::option::of(any::<u32>()),
        ),
        (
            proptest::option::of(any::<u32>()),
            proptest::option::of("[a-z0-9_.-]{0,15}"),
            proptest::option::of(arb_options()),
            proptest::option::of(proptest::collection::vec(any::<u32>(), 1..6)),
        ),
        (
            proptest::option::of(any::<[u64; 8]>()),
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<i32>()),
            proptest::option::of(any::<(u64, u64)>()),
        ),
    )
        .prop_map(
            |((cmd, ifx, port), (kind, name, opts, pids), (st, ifindex, ns, us))| {
                let mut m = VportMsg::new(OvsVportCmd::from(cmd), ifx);
                m.port_no = port;
                m.kind = kind.map(OvsVportType::from);
                m.name = name;
                m.options = opts;
                m.upcall_pids = pids;
                m.stats = st.map(|s| OvsVportStats {
                    rx_packets: s[0],
                    tx_packets: s[1],
                    rx_bytes: s[2],
                    tx_bytes: s[3],
                    rx_errors: s[4],
                    tx_errors: s[5],
                    rx_dropped: s[6],
                    tx_dropped: s[7],
                });
                m.ifindex = ifindex;
                m.netnsid = ns;
                m.upcall_stats = us.map(|(success, fail)| OvsVportUpcallStats { success, fail });
                m
            },
        )
}

proptest! {
    #[test]
    fn round_trips(m in arb_msg(), seq in any::<u32>()) {
        let mut buf = Vec::new();
        m.emit(&mut buf, FAMILY, NLM_F_REQUEST, seq, 1);
        prop_assert_eq!(buf.len(), m.buffer_len());
        let msg = messages(&buf).next().unwrap().unwrap();
        prop_assert_eq!(VportMsg::parse(msg.payload).unwrap(), m);
    }

    #[test]
    fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = VportMsg::parse(&bytes);
    }
}
