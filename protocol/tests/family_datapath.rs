//! `ovs_datapath` messages: golden bytes both ways, round trips, and the kernel's rejections.

use proptest::prelude::*;
use userdp_protocol::errno::{EINVAL, EOPNOTSUPP, ERANGE};
use userdp_protocol::nl::{messages, NLM_F_ECHO, NLM_F_REQUEST};
use userdp_protocol::ovs::datapath::*;

const FAMILY: u16 = 0x1c;

/// The payload (after the 16-byte nlmsghdr) of a message built by hand.
fn payload(msg: &[u8]) -> &[u8] {
    &msg[16..]
}

#[rustfmt::skip]
const DP_NEW_REQUEST: [u8; 68] = [
    68, 0, 0, 0,   0x1c, 0,   0x09, 0,   1, 0, 0, 0,   0xe8, 0x03, 0, 0, // nlmsghdr: len 68, ovs_datapath, REQUEST|ECHO, seq 1, pid 1000
    1, 2, 0, 0,                                         // genl: cmd NEW, version 2
    0, 0, 0, 0,                                         // ovs_header: dp_ifindex 0
    15, 0, 1, 0,   b'o', b'v', b's', b'-', b's', b'y', b's', b't', b'e', b'm', 0, 0, // NAME "ovs-system" + NUL + pad
    8, 0, 2, 0,    0xe8, 0x03, 0, 0,                    // UPCALL_PID 1000
    8, 0, 5, 0,    0x0b, 0, 0, 0,                       // USER_FEATURES UNALIGNED|VPORT_PIDS|PER_CPU
    12, 0, 8, 0,   0xe9, 0x03, 0, 0,   0xea, 0x03, 0, 0, // PER_CPU_PIDS [1001, 1002]
];

#[test]
fn decodes_ovs_dp_new_request() {
    let m = DatapathMsg::parse(payload(&DP_NEW_REQUEST)).unwrap();
    let mut want = DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_NEW, 0);
    want.name = Some("ovs-system".into());
    want.upcall_pid = Some(1000);
    want.user_features =
        Some(OVS_DP_F_UNALIGNED | OVS_DP_F_VPORT_PIDS | OVS_DP_F_DISPATCH_UPCALL_PER_CPU);
    want.per_cpu_pids = Some(vec![1001, 1002]);
    assert_eq!(m, want);
    assert_eq!(m.version, 2);
    m.validate_change().unwrap();
    // The same value re-encodes to the request's bytes (nothing lost, same order).
    let mut buf = Vec::new();
    m.emit(&mut buf, FAMILY, NLM_F_REQUEST | NLM_F_ECHO, 1, 1000);
    assert_eq!(buf, DP_NEW_REQUEST);
}

#[test]
fn encodes_get_reply_in_fill_info_order() {
    let mut m = DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_GET, 5);
    m.name = Some("dp0".into());
    m.stats = Some(OvsDpStats {
        n_hit: 1,
        n_missed: 2,
        n_lost: 3,
        n_flows: 4,
    });
    m.megaflow_stats = Some(OvsDpMegaflowStats {
        n_mask_hit: 5,
        n_masks: 6,
        pad0: 0,
        n_cache_hit: 7,
        pad1: 0,
    });
    m.user_features = Some(OVS_DP_F_UNALIGNED);
    m.masks_cache_size = Some(256);
    let mut buf = Vec::new();
    m.emit(&mut buf, FAMILY, 0, 9, 1000);
    #[rustfmt::skip]
    let want: Vec<u8> = [
        &[120, 0, 0, 0,   0x1c, 0,   0, 0,   9, 0, 0, 0,   0xe8, 0x03, 0, 0][..], // nlmsghdr: len 120, flags 0, seq 9, pid 1000
        &[3, 2, 0, 0],                                       // genl: cmd GET, version 2
        &[5, 0, 0, 0],                                       // dp_ifindex 5
        &[8, 0, 1, 0,   b'd', b'p', b'0', 0],                // NAME "dp0"
        &[36, 0, 3, 0],                                      // STATS (32 bytes)
        &[1, 0, 0, 0, 0, 0, 0, 0,   2, 0, 0, 0, 0, 0, 0, 0], //   n_hit 1, n_missed 2
        &[3, 0, 0, 0, 0, 0, 0, 0,   4, 0, 0, 0, 0, 0, 0, 0], //   n_lost 3, n_flows 4
        &[36, 0, 4, 0],                                      // MEGAFLOW_STATS (32 bytes)
        &[5, 0, 0, 0, 0, 0, 0, 0,   6, 0, 0, 0,   0, 0, 0, 0], // n_mask_hit 5, n_masks 6, pad0
        &[7, 0, 0, 0, 0, 0, 0, 0,   0, 0, 0, 0, 0, 0, 0, 0], //   n_cache_hit 7, pad1
        &[8, 0, 5, 0,   1, 0, 0, 0],                         // USER_FEATURES UNALIGNED
        &[8, 0, 7, 0,   0, 1, 0, 0],                         // MASKS_CACHE_SIZE 256
    ]
    .concat();
    assert_eq!(buf, want);
    assert_eq!(m.buffer_len(), buf.len());
    let msg = messages(&buf).next().unwrap().unwrap();
    assert_eq!(DatapathMsg::parse(msg.payload).unwrap(), m);
}

fn with_attrs(cmd: u8, attrs: &[u8]) -> Vec<u8> {
    let mut v = vec![cmd, 2, 0, 0, 0, 0, 0, 0];
    v.extend_from_slice(attrs);
    v
}

#[test]
fn short_headers_are_einval() {
    for len in 0..8 {
        let e = DatapathMsg::parse(&[1, 2, 0, 0, 0, 0, 0, 0][..len]).unwrap_err();
        assert_eq!((e.errno, e.offset), (EINVAL, 16), "payload of {len} bytes");
    }
}

#[test]
fn name_policy_matches_nla_nul_string() {
    // No NUL at all: EINVAL at the attribute (offset 24 = 16 + genl 4 + ovs_header 4).
    let e = DatapathMsg::parse(&with_attrs(3, &[7, 0, 1, 0, b'a', b'b', b'c', 0])).unwrap_err();
    assert_eq!((e.errno, e.offset), (EINVAL, 24));
    // 16 characters then NUL: no NUL within the first IFNAMSIZ bytes, EINVAL.
    let mut a = vec![21, 0, 1, 0];
    a.extend_from_slice(b"abcdefghijklmnop\0");
    a.extend_from_slice(&[0, 0, 0]);
    assert_eq!(
        DatapathMsg::parse(&with_attrs(3, &a)).unwrap_err().errno,
        EINVAL
    );
    // NUL early but 20 non-NUL-terminated bytes in all: longer than 15, ERANGE.
    let mut a = vec![24, 0, 1, 0];
    a.extend_from_slice(b"ab\0xxxxxxxxxxxxxxxxy");
    let e = DatapathMsg::parse(&with_attrs(3, &a)).unwrap_err();
    assert_eq!((e.errno, e.offset), (ERANGE, 24));
    // Empty payload: EINVAL.
    assert_eq!(
        DatapathMsg::parse(&with_attrs(3, &[4, 0, 1, 0]))
            .unwrap_err()
            .errno,
        EINVAL
    );
    // Bytes after the NUL are allowed when the payload ends in NUL; the name stops at the NUL.
    let m = DatapathMsg::parse(&with_attrs(3, &[8, 0, 1, 0, b'a', 0, b'z', 0])).unwrap();
    assert_eq!(m.name.as_deref(), Some("a"));
}

#[test]
fn short_u32_is_erange_longer_is_accepted() {
    // UPCALL_PID of 2 bytes: ERANGE at the attribute after the 8-byte NAME.
    let e = DatapathMsg::parse(&with_attrs(
        1,
        &[8, 0, 1, 0, b'd', b'p', b'0', 0, 6, 0, 2, 0, 1, 0, 0, 0],
    ))
    .unwrap_err();
    assert_eq!(
        (e.errno, e.offset, e.msg),
        (ERANGE, 32, "Attribute failed policy validation")
    );
    // USER_FEATURES of 8 bytes: the kernel only warns and reads the first four.
    let m = DatapathMsg::parse(&with_attrs(4, &[12, 0, 5, 0, 1, 0, 0, 0, 9, 9, 9, 9])).unwrap();
    assert_eq!(m.user_features, Some(1));
}

#[test]
fn masks_cache_size_range_is_erange() {
    let e = DatapathMsg::parse(&with_attrs(4, &[8, 0, 7, 0, 0x01, 0x10, 0, 0])).unwrap_err();
    assert_eq!(
        (e.errno, e.offset, e.msg),
        (ERANGE, 24, "integer out of range")
    );
    let m = DatapathMsg::parse(&with_attrs(4, &[8, 0, 7, 0, 0x00, 0x10, 0, 0])).unwrap();
    assert_eq!(m.masks_cache_size, Some(4096));
    // In range but not a power of two: ovs_flow_tbl_masks_cache_resize says EINVAL.
    let m = DatapathMsg::parse(&with_attrs(4, &[8, 0, 7, 0, 100, 0, 0, 0])).unwrap();
    assert_eq!(m.validate_change().unwrap_err().errno, EINVAL);
}

#[test]
fn unknown_features_are_eopnotsupp() {
    let m = DatapathMsg::parse(&with_attrs(4, &[8, 0, 5, 0, 0, 0, 0, 0x80])).unwrap();
    assert_eq!(m.validate_change().unwrap_err().errno, EOPNOTSUPP);
}

#[test]
fn per_cpu_pids_checked_only_where_used() {
    let per_cpu = [8, 0, 5, 0, 8, 0, 0, 0]; // USER_FEATURES DISPATCH_UPCALL_PER_CPU
    let bad_pids = [10, 0, 8, 0, 1, 0, 0, 0, 2, 0, 0, 0]; // 6-byte PER_CPU_PIDS
    let attrs = [&per_cpu[..], &bad_pids[..]].concat();
    let e = DatapathMsg::parse(&with_attrs(4, &attrs)).unwrap_err();
    assert_eq!((e.errno, e.offset), (EINVAL, 32));
    // Empty array: EINVAL too.
    let attrs = [&per_cpu[..], &[4, 0, 8, 0][..]].concat();
    assert_eq!(
        DatapathMsg::parse(&with_attrs(1, &attrs))
            .unwrap_err()
            .errno,
        EINVAL
    );
    // Without the per-CPU feature, or in a GET, the kernel never reads it.
    let m = DatapathMsg::parse(&with_attrs(4, &bad_pids)).unwrap();
    assert_eq!(m.per_cpu_pids, None);
    let m = DatapathMsg::parse(&with_attrs(3, &attrs)).unwrap();
    assert_eq!(m.per_cpu_pids, None);
}

#[test]
fn liberal_parse_skips_unknown_and_stops_at_garbage() {
    // Type 40 (beyond maxattr) with a 1-byte payload is skipped; type 0 too; then a header
    // claiming 200 bytes ends the walk silently, as the kernel's liberal parse does.
    let attrs = [
        5, 0, 40, 0, 0xff, 0, 0, 0, // unknown type 40
        5, 0, 0, 0, 0xff, 0, 0, 0, // type 0
        8, 0, 2, 0, 7, 0, 0, 0, // UPCALL_PID 7
        200, 0, 1, 0, // truncated NAME
    ];
    let m = DatapathMsg::parse(&with_attrs(1, &attrs)).unwrap();
    assert_eq!((m.upcall_pid, m.name), (Some(7), None));
    // A type seen twice keeps the last value.
    let m = DatapathMsg::parse(&with_attrs(
        1,
        &[8, 0, 2, 0, 1, 0, 0, 0, 8, 0, 2, 0, 2, 0, 0, 0],
    ))
    .unwrap();
    assert_eq!(m.upcall_pid, Some(2));
}

fn arb_msg() -> impl Strategy<Value = DatapathMsg> {
    (
        (
            any::<u8>(),
            any::<u8>(),
            any::<i32>(),
            proptest::option::of("[a-z0-9_-]{0,15}"),
        ),
        (
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<[u64; 4]>()),
            proptest::option::of((any::<u64>(), any::<u32>(), any::<u64>())),
        ),
        (
            proptest::option::of(any::<u32>()),
            proptest::option::of(0u32..=4096),
            proptest::option::of(proptest::collection::vec(any::<u32>(), 1..8)),
            proptest::option::of(any::<u32>()),
        ),
    )
        .prop_map(
            |((cmd, version, ifx, name), (pid, st, mf), (feat, mc, pids, ifindex))| {
                let mut m = DatapathMsg::new(OvsDpCmd::from(cmd), ifx);
                m.version = version;
                m.name = name;
                m.upcall_pid = pid;
                m.stats = st.map(|s| OvsDpStats {
                    n_hit: s[0],
                    n_missed: s[1],
                    n_lost: s[2],
                    n_flows: s[3],
                });
                m.megaflow_stats = mf.map(|(a, b, c)| OvsDpMegaflowStats {
                    n_mask_hit: a,
                    n_masks: b,
                    pad0: 0,
                    n_cache_hit: c,
                    pad1: 0,
                });
                m.user_features = feat;
                m.masks_cache_size = mc;
                m.per_cpu_pids = pids;
                m.ifindex = ifindex;
                m
            },
        )
}

proptest! {
    #[test]
    fn round_trips(m in arb_msg(), seq in any::<u32>(), pid in any::<u32>()) {
        let mut buf = Vec::new();
        m.emit(&mut buf, FAMILY, NLM_F_REQUEST, seq, pid);
        prop_assert_eq!(buf.len(), m.buffer_len());
        let msg = messages(&buf).next().unwrap().unwrap();
        prop_assert_eq!((msg.header.kind, msg.header.seq, msg.header.pid), (FAMILY, seq, pid));
        prop_assert_eq!(DatapathMsg::parse(msg.payload).unwrap(), m);
    }

    #[test]
    fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = DatapathMsg::parse(&bytes);
    }
}
