//! `ovs_packet` messages: upcall and execute golden bytes, padding, round trips, rejections.

use proptest::prelude::*;
use userdp_protocol::errno::{EINVAL, ERANGE};
use userdp_protocol::nl::{messages, NLM_F_REQUEST};
use userdp_protocol::ovs::common::RawAttrs;
use userdp_protocol::ovs::packet::*;

const FAMILY: u16 = 0x1f;

fn frame(len: usize) -> Vec<u8> {
    (0..len as u8).collect()
}

fn action_upcall() -> PacketMsg {
    let mut m = PacketMsg::new(OvsPacketCmd::OVS_PACKET_CMD_ACTION, 5);
    m.key = Some(RawAttrs::new(vec![8, 0, 3, 0, 1, 0, 0, 0]));
    m.userdata = Some(vec![0xde, 0xad]);
    m.actions = Some(RawAttrs::new(vec![8, 0, 1, 0, 2, 0, 0, 0]));
    m.hash = Some(OVS_PACKET_HASH_L4_BIT | 0x1234);
    m.packet = Some(frame(15));
    m
}

#[rustfmt::skip]
fn action_upcall_head(len: u8) -> Vec<u8> {
    [
        &[len, 0, 0, 0,   0x1f, 0,   0, 0,   0, 0, 0, 0,   0, 0, 0, 0][..], // nlmsghdr: flags 0, seq 0, pid 0
        &[2, 1, 0, 0,   5, 0, 0, 0],                           // genl ACTION v1, dp_ifindex 5
        &[12, 0, 2, 0,   8, 0, 3, 0, 1, 0, 0, 0],              // KEY (IN_PORT 1)
        &[6, 0, 4, 0,    0xde, 0xad, 0, 0],                    // USERDATA + pad
        &[12, 0, 3, 0,   8, 0, 1, 0, 2, 0, 0, 0],              // ACTIONS (OUTPUT 2)
        &[12, 0, 11, 0,  0x34, 0x12, 0, 0, 2, 0, 0, 0],        // HASH 0x1234 | L4 bit (bit 33)
        &[19, 0, 1, 0],                                        // PACKET, 15 bytes, last
    ]
    .concat()
}

#[test]
fn upcall_order_and_padding() {
    let m = action_upcall();
    // Padded (datapath without OVS_DP_F_UNALIGNED): 15 frame bytes + 1 zero.
    let mut buf = Vec::new();
    m.emit(&mut buf, FAMILY, 0, 0, 0, false);
    let mut want = action_upcall_head(88);
    want.extend_from_slice(&frame(15));
    want.push(0);
    assert_eq!(buf, want);
    assert_eq!(m.buffer_len(false), 88);
    // Unaligned: nlmsg_len 87 and the buffer ends with the frame.
    let mut buf = Vec::new();
    m.emit(&mut buf, FAMILY, 0, 0, 0, true);
    let mut want = action_upcall_head(87);
    want.extend_from_slice(&frame(15));
    assert_eq!(buf, want);
    assert_eq!(m.buffer_len(true), 87);
    let msg = messages(&buf).next().unwrap().unwrap();
    assert_eq!(PacketMsg::parse(msg.payload).unwrap(), m);
}

#[rustfmt::skip]
const EXECUTE: [u8; 72] = [
    72, 0, 0, 0,   0x1f, 0,   0x01, 0,   2, 0, 0, 0,   0x10, 0, 0, 0, // nlmsghdr: len 72, REQUEST, seq 2, pid 16
    3, 1, 0, 0,                                         // genl EXECUTE v1
    5, 0, 0, 0,                                         // dp_ifindex 5
    18, 0, 1, 0,   0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 0, 0, // PACKET (14 bytes) + pad
    12, 0, 2, 0,   8, 0, 2, 0, 0, 0, 0, 0,              // KEY (PRIORITY 0)
    4, 0, 3, 0,                                         // ACTIONS (empty)
    4, 0, 8, 0,                                         // PROBE
    6, 0, 9, 0,    0xdc, 0x05, 0, 0,                    // MRU 1500 + pad
];

#[test]
fn decodes_execute_request() {
    let m = PacketMsg::parse(&EXECUTE[16..]).unwrap();
    let mut want = PacketMsg::new(OvsPacketCmd::OVS_PACKET_CMD_EXECUTE, 5);
    want.packet = Some(frame(14));
    want.key = Some(RawAttrs::new(vec![8, 0, 2, 0, 0, 0, 0, 0]));
    want.actions = Some(RawAttrs::new(vec![]));
    want.probe = true;
    want.mru = Some(1500);
    assert_eq!(m, want);
    assert_eq!(m.key.as_ref().unwrap().offset, 48);
    let mut buf = Vec::new();
    m.emit(&mut buf, FAMILY, NLM_F_REQUEST, 2, 16, true);
    assert_eq!(
        buf, EXECUTE,
        "EXECUTE is always padded, in dpif-netlink order"
    );
}

fn with_attrs(attrs: &[u8]) -> Vec<u8> {
    let mut v = vec![3, 1, 0, 0, 5, 0, 0, 0];
    v.extend_from_slice(attrs);
    v
}

#[test]
fn policy_rejections() {
    // PACKET of 13 bytes: shorter than ETH_HLEN, ERANGE at the attribute.
    let mut a = vec![17, 0, 1, 0];
    a.extend_from_slice(&frame(13));
    a.extend_from_slice(&[0; 3]);
    let e = PacketMsg::parse(&with_attrs(&a)).unwrap_err();
    assert_eq!((e.errno, e.offset), (ERANGE, 24));
    // MRU of one byte, HASH of four: ERANGE.
    assert_eq!(
        PacketMsg::parse(&with_attrs(&[5, 0, 9, 0, 1, 0, 0, 0]))
            .unwrap_err()
            .errno,
        ERANGE
    );
    assert_eq!(
        PacketMsg::parse(&with_attrs(&[8, 0, 11, 0, 1, 0, 0, 0]))
            .unwrap_err()
            .errno,
        ERANGE
    );
    // PROBE with a payload: ERANGE.
    assert_eq!(
        PacketMsg::parse(&with_attrs(&[8, 0, 8, 0, 1, 0, 0, 0]))
            .unwrap_err()
            .errno,
        ERANGE
    );
    assert_eq!(PacketMsg::parse(&[3, 1, 0, 0]).unwrap_err().errno, EINVAL);
    // USERDATA and LEN are outside the policy: a 2-byte LEN is ignored.
    let m = PacketMsg::parse(&with_attrs(&[6, 0, 10, 0, 1, 0, 0, 0])).unwrap();
    assert_eq!(m.len, None);
}

fn raw() -> impl Strategy<Value = RawAttrs> {
    prop_oneof![Just(vec![]), proptest::collection::vec(any::<u8>(), 4..40)].prop_map(RawAttrs::new)
}

fn arb_msg() -> impl Strategy<Value = PacketMsg> {
    (
        (
            1u8..=3,
            any::<i32>(),
            proptest::option::of(raw()),
            proptest::option::of(raw()),
        ),
        (
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
            proptest::option::of(raw()),
            any::<bool>(),
        ),
        (
            proptest::option::of(any::<u16>()),
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u64>()),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 14..120)),
        ),
    )
        .prop_map(
            |((cmd, ifx, key, actions), (ud, tun, probe), (mru, len, hash, packet))| {
                let mut m = PacketMsg::new(OvsPacketCmd::from(cmd), ifx);
                m.key = key;
                m.actions = actions;
                m.userdata = ud;
                m.egress_tun_key = tun;
                m.probe = probe;
                m.mru = mru;
                m.len = len;
                m.hash = hash;
                m.packet = packet;
                m
            },
        )
}

proptest! {
    #[test]
    fn round_trips(m in arb_msg(), unaligned in any::<bool>()) {
        let mut buf = Vec::new();
        m.emit(&mut buf, FAMILY, 0, 0, 0, unaligned);
        prop_assert_eq!(buf.len(), m.buffer_len(unaligned));
        let msg = messages(&buf).next().unwrap().unwrap();
        prop_assert_eq!(msg.header.len as usize, buf.len());
        prop_assert_eq!(PacketMsg::parse(msg.payload).unwrap(), m);
    }

    #[test]
    fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = PacketMsg::parse(&bytes);
    }
}
