//! `ovs_flow` messages: golden bytes both ways, round trips, and the kernel's rejections.

use proptest::prelude::*;
use userdp_protocol::errno::{EINVAL, ERANGE};
use userdp_protocol::nl::{messages, NLM_F_MULTI, NLM_F_REQUEST};
use userdp_protocol::ovs::common::RawAttrs;
use userdp_protocol::ovs::flow::*;

const FAMILY: u16 = 0x1e;

#[rustfmt::skip]
const FLOW_NEW: [u8; 80] = [
    80, 0, 0, 0,   0x1e, 0,   0x01, 0,   3, 0, 0, 0,   0x10, 0, 0, 0, // nlmsghdr: len 80, ovs_flow, REQUEST, seq 3, pid 16
    1, 1, 0, 0,                                         // genl: cmd NEW, version 1
    7, 0, 0, 0,                                         // dp_ifindex 7
    20, 0, 9, 0,   1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, // UFID (16 bytes)
    12, 0, 1, 0,                                        // KEY (8 bytes, kept raw)
    8, 0, 3, 0,   1, 0, 0, 0,                           //   IN_PORT 1
    12, 0, 7, 0,                                        // MASK (8 bytes, kept raw)
    8, 0, 3, 0,   0xff, 0xff, 0xff, 0xff,               //   IN_PORT exact
    12, 0, 2, 0,                                        // ACTIONS (8 bytes, kept raw)
    8, 0, 1, 0,   2, 0, 0, 0,                           //   OUTPUT 2
];

#[test]
fn decodes_flow_new_keeping_streams_raw() {
    let m = FlowMsg::parse(&FLOW_NEW[16..]).unwrap();
    assert_eq!(m.cmd, OvsFlowCmd::OVS_FLOW_CMD_NEW);
    assert_eq!(m.dp_ifindex, 7);
    assert_eq!(m.ufid(), Some(&FLOW_NEW[28..44]));
    let key = m.key.as_ref().unwrap();
    assert_eq!((key.bytes.as_slice(), key.offset), (&FLOW_NEW[48..56], 48));
    assert_eq!(m.mask.as_ref().unwrap().offset, 60);
    assert_eq!(m.actions.as_ref().unwrap().bytes, [8, 0, 1, 0, 2, 0, 0, 0]);
    assert!(!m.clear && !m.probe && m.ufid_flags.is_none());
    // Re-emitted it is the same message (the request already uses fill_info order).
    let mut buf = Vec::new();
    m.emit(&mut buf, FAMILY, NLM_F_REQUEST, 3, 16);
    assert_eq!(buf, FLOW_NEW);
}

#[test]
fn encodes_dump_entry_in_fill_info_order() {
    let mut m = FlowMsg::new(OvsFlowCmd::OVS_FLOW_CMD_GET, 7);
    m.ufid = Some(vec![0xaa; 16]);
    m.key = Some(RawAttrs::new(vec![8, 0, 3, 0, 1, 0, 0, 0]));
    m.mask = Some(RawAttrs::new(vec![8, 0, 3, 0, 0xff, 0xff, 0xff, 0xff]));
    m.used = Some(0x1234);
    m.stats = Some(OvsFlowStats {
        n_packets: 2,
        n_bytes: 128,
    });
    m.tcp_flags = Some(0x12);
    m.actions = Some(RawAttrs::new(vec![]));
    let mut buf = Vec::new();
    m.emit(&mut buf, FAMILY, NLM_F_MULTI, 4, 16);
    #[rustfmt::skip]
    let want: Vec<u8> = [
        &[112, 0, 0, 0,   0x1e, 0,   0x02, 0,   4, 0, 0, 0,   0x10, 0, 0, 0][..], // nlmsghdr: len 112, MULTI, seq 4
        &[3, 1, 0, 0,   7, 0, 0, 0],                                        // genl GET v1, dp_ifindex 7
        &[20, 0, 9, 0], &[0xaa; 16],                                        // UFID
        &[12, 0, 1, 0,   8, 0, 3, 0, 1, 0, 0, 0],                           // KEY
        &[12, 0, 7, 0,   8, 0, 3, 0, 0xff, 0xff, 0xff, 0xff],               // MASK
        &[12, 0, 5, 0,   0x34, 0x12, 0, 0, 0, 0, 0, 0],                     // USED 0x1234
        &[20, 0, 3, 0,   2, 0, 0, 0, 0, 0, 0, 0,   128, 0, 0, 0, 0, 0, 0, 0], // STATS 2 pkts, 128 bytes
        &[5, 0, 4, 0,    0x12, 0, 0, 0],                                    // TCP_FLAGS SYN|ACK + pad
        &[4, 0, 2, 0],                                                      // ACTIONS (empty = drop)
    ]
    .concat();
    assert_eq!(buf, want);
    assert_eq!(m.buffer_len(), buf.len());
    let msg = messages(&buf).next().unwrap().unwrap();
    assert_eq!(FlowMsg::parse(msg.payload).unwrap(), m);
}

fn with_attrs(cmd: u8, attrs: &[u8]) -> Vec<u8> {
    let mut v = vec![cmd, 1, 0, 0, 7, 0, 0, 0];
    v.extend_from_slice(attrs);
    v
}

#[test]
fn policy_rejections() {
    // Empty UFID: below the policy's minimum length of 1, ERANGE.
    let e = FlowMsg::parse(&with_attrs(3, &[4, 0, 9, 0])).unwrap_err();
    assert_eq!((e.errno, e.offset), (ERANGE, 24));
    // CLEAR flag with a payload: ERANGE.
    assert_eq!(
        FlowMsg::parse(&with_attrs(4, &[5, 0, 6, 0, 1, 0, 0, 0]))
            .unwrap_err()
            .errno,
        ERANGE
    );
    // KEY nest of 2 bytes: ERANGE.
    assert_eq!(
        FlowMsg::parse(&with_attrs(1, &[6, 0, 1, 0, 0, 0, 0, 0]))
            .unwrap_err()
            .errno,
        ERANGE
    );
    // UFID_FLAGS of 1 byte: ERANGE.
    assert_eq!(
        FlowMsg::parse(&with_attrs(3, &[5, 0, 10, 0, 1, 0, 0, 0]))
            .unwrap_err()
            .errno,
        ERANGE
    );
    assert_eq!(FlowMsg::parse(&[1, 1, 0, 0, 7]).unwrap_err().errno, EINVAL);
}

#[test]
fn oversized_ufid_is_treated_as_absent() {
    let mut a = vec![21, 0, 9, 0];
    a.extend_from_slice(&[1; 17]);
    a.extend_from_slice(&[0; 3]);
    let m = FlowMsg::parse(&with_attrs(3, &a)).unwrap();
    assert_eq!(m.ufid.as_ref().map(Vec::len), Some(17));
    assert_eq!(m.ufid(), None);
}

fn raw() -> impl Strategy<Value = RawAttrs> {
    prop_oneof![Just(vec![]), proptest::collection::vec(any::<u8>(), 4..48)].prop_map(RawAttrs::new)
}

fn arb_msg() -> impl Strategy<Value = FlowMsg> {
    (
        (
            any::<u8>(),
            any::<i32>(),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 1..20)),
        ),
        (
            proptest::option::of(raw()),
            proptest::option::of(raw()),
            proptest::option::of(raw()),
        ),
        (
            proptest::option::of(any::<u64>()),
            proptest::option::of(any::<(u64, u64)>()),
            proptest::option::of(any::<u8>()),
        ),
        (
            proptest::option::of(any::<u32>()),
            any::<bool>(),
            any::<bool>(),
        ),
    )
        .prop_map(
            |((cmd, ifx, ufid), (key, mask, actions), (used, st, tcp), (uf, clear, probe))| {
                let mut m = FlowMsg::new(OvsFlowCmd::from(cmd), ifx);
                m.ufid = ufid;
                m.key = key;
                m.mask = mask;
                m.actions = actions;
                m.used = used;
                m.stats = st.map(|(n_packets, n_bytes)| OvsFlowStats { n_packets, n_bytes });
                m.tcp_flags = tcp;
                m.ufid_flags = uf;
                m.clear = clear;
                m.probe = probe;
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
        prop_assert_eq!(FlowMsg::parse(msg.payload).unwrap(), m);
    }

    #[test]
    fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = FlowMsg::parse(&bytes);
    }
}
