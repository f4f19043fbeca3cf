//! `nlctrl`: GETFAMILY requests, NEWFAMILY replies, lookups and the OVS family table.

use proptest::prelude::*;
use userdp_protocol::errno::{EINVAL, ENOENT, ERANGE};
use userdp_protocol::genl::ctrl::*;
use userdp_protocol::nl::{messages, NLM_F_DUMP, NLM_F_REQUEST};

#[rustfmt::skip]
const OVS_LOOKUP: [u8; 36] = [
    36, 0, 0, 0,   0x10, 0,   0x01, 0,   1, 0, 0, 0,   0x39, 0x30, 0, 0, // nlmsghdr: len 36, GENL_ID_CTRL, REQUEST, seq 1, pid 12345
    3, 1, 0, 0,                                          // genl: GETFAMILY, version 1
    14, 0, 2, 0,   b'o', b'v', b's', b'_', b'v', b'p', b'o', b'r', b't', 0, 0, 0, // FAMILY_NAME "ovs_vport" + NUL + pad
];

#[test]
fn decodes_and_encodes_ovs_lookup() {
    let g = GetFamily::parse(&OVS_LOOKUP[16..]).unwrap();
    assert_eq!(g, GetFamily::by_name("ovs_vport"));
    let mut buf = Vec::new();
    g.emit(&mut buf, NLM_F_REQUEST, 1, 12345);
    assert_eq!(buf, OVS_LOOKUP);
    assert_eq!(g.buffer_len(), buf.len());
}

#[test]
fn encodes_vport_family_reply_like_ctrl_fill_info() {
    let info = ovs_families()[1].info(0x1d, &[5]);
    let mut buf = Vec::new();
    info.emit(&mut buf, 0, 1, 12345);
    #[rustfmt::skip]
    let want: Vec<u8> = [
        &[184, 0, 0, 0,   0x10, 0,   0, 0,   1, 0, 0, 0,   0x39, 0x30, 0, 0][..], // nlmsghdr: len 184, flags 0
        &[1, 2, 0, 0],                                   // genl: NEWFAMILY, version 2
        &[14, 0, 2, 0], b"ovs_vport\0", &[0, 0],         // FAMILY_NAME
        &[6, 0, 1, 0,   0x1d, 0, 0, 0],                  // FAMILY_ID 0x1d + pad
        &[8, 0, 3, 0,   1, 0, 0, 0],                     // VERSION 1
        &[8, 0, 4, 0,   4, 0, 0, 0],                     // HDRSIZE 4
        &[8, 0, 5, 0,   9, 0, 0, 0],                     // MAXATTR 9 (Linux 6.1)
        &[84, 0, 6, 0],                                  // OPS
        &[20, 0, 1, 0,  8, 0, 1, 0, 1, 0, 0, 0,  8, 0, 2, 0, 0x1a, 0, 0, 0], // #1 NEW: UNS_ADMIN|DO|HASPOL
        &[20, 0, 2, 0,  8, 0, 1, 0, 2, 0, 0, 0,  8, 0, 2, 0, 0x1a, 0, 0, 0], // #2 DEL
        &[20, 0, 3, 0,  8, 0, 1, 0, 3, 0, 0, 0,  8, 0, 2, 0, 0x0e, 0, 0, 0], // #3 GET: DO|DUMP|HASPOL
        &[20, 0, 4, 0,  8, 0, 1, 0, 4, 0, 0, 0,  8, 0, 2, 0, 0x1a, 0, 0, 0], // #4 SET
        &[32, 0, 7, 0],                                  // MCAST_GROUPS
        &[28, 0, 1, 0],                                  //   #1
        &[8, 0, 2, 0,   5, 0, 0, 0],                     //     GRP_ID 5 (first, as the kernel puts it)
        &[14, 0, 1, 0], b"ovs_vport\0", &[0, 0],         //     GRP_NAME
    ]
    .concat();
    assert_eq!(buf, want);
    assert_eq!(info.buffer_len(), buf.len());
    let msg = messages(&buf).next().unwrap().unwrap();
    assert_eq!(FamilyInfo::parse(msg.payload).unwrap(), info);
}

#[test]
fn resolves_like_ctrl_getfamily() {
    let fams: Vec<FamilyInfo> = ovs_families()
        .iter()
        .enumerate()
        .map(|(i, f)| f.info(0x1c + i as u16, &[100 + i as u32]))
        .collect();
    assert_eq!(
        GetFamily::by_name("ovs_flow").resolve(&fams).unwrap().id,
        0x1e
    );
    assert_eq!(
        GetFamily::by_id(0x1c).resolve(&fams).unwrap().name,
        "ovs_datapath"
    );
    let e = GetFamily::by_name("nl80211").resolve(&fams).unwrap_err();
    assert_eq!(e.errno, ENOENT);
    assert_eq!(
        GetFamily::default().resolve(&fams).unwrap_err().errno,
        EINVAL
    );
    // Both given: the name wins, even over a valid id.
    let g = GetFamily {
        id: Some(0x1c),
        name: Some("ovs_meter".into()),
    };
    assert_eq!(g.resolve(&fams).unwrap().id, 0x20);
    // Packet has no group; group ids of families that have one are kept.
    assert!(fams[3].mcast_groups.is_empty());
    assert_eq!(fams[1].mcast_groups, [("ovs_vport".to_string(), 101)]);
}

#[test]
fn request_policy_rejections() {
    // FAMILY_ID of one byte: ERANGE at offset 20 (16 + genl 4).
    let e = GetFamily::parse(&[3, 1, 0, 0, 5, 0, 1, 0, 0x1d, 0, 0, 0]).unwrap_err();
    assert_eq!((e.errno, e.offset), (ERANGE, 20));
    // FAMILY_NAME without NUL: EINVAL.
    let e = GetFamily::parse(&[3, 1, 0, 0, 8, 0, 2, 0, b'o', b'v', b's', b'_']).unwrap_err();
    assert_eq!(e.errno, EINVAL);
    // Header too short.
    assert_eq!(GetFamily::parse(&[3, 1]).unwrap_err().offset, 16);
}

#[test]
fn family_table_matches_linux_6_1() {
    let names: Vec<_> = ovs_families().iter().map(|f| f.name).collect();
    assert_eq!(
        names,
        [
            "ovs_datapath",
            "ovs_vport",
            "ovs_flow",
            "ovs_packet",
            "ovs_meter",
            "ovs_ct_limit"
        ]
    );
    let summary: Vec<_> = ovs_families()
        .iter()
        .map(|f| (f.version, f.hdrsize, f.maxattr, f.mcast_groups.len()))
        .collect();
    assert_eq!(
        summary,
        [
            (2, 4, 9, 1),
            (1, 4, 9, 1),
            (1, 4, 11, 1),
            (1, 4, 11, 0),
            (1, 4, 9, 1),
            (1, 4, 1, 1)
        ]
    );
    // Meter ops in dp_meter_genl_ops order; ct_limit modifications need GENL_ADMIN_PERM.
    assert_eq!(
        ovs_families()[4].ops,
        [(1, 0x0a), (2, 0x1a), (4, 0x0a), (3, 0x1a)]
    );
    assert_eq!(ovs_families()[5].ops, [(1, 0x0b), (2, 0x0b), (3, 0x0a)]);
    assert_eq!(ovs_families()[3].ops, [(3, 0x1a)]);
    let ctrl = nlctrl_family().info(0x10, &[NLCTRL_NOTIFY_GROUP]);
    assert_eq!(
        (ctrl.name.as_str(), ctrl.version, ctrl.hdrsize),
        ("nlctrl", 2, 0)
    );
}

#[test]
fn dump_request_golden() {
    let mut buf = Vec::new();
    GetFamily::default().emit(&mut buf, NLM_F_REQUEST | NLM_F_DUMP, 4, 7);
    assert_eq!(
        buf,
        [20, 0, 0, 0, 0x10, 0, 0x01, 0x03, 4, 0, 0, 0, 7, 0, 0, 0, 3, 1, 0, 0]
    );
}

#[test]
fn reply_without_id_is_rejected() {
    let mut info = ovs_families()[0].info(0, &[1]);
    let mut buf = Vec::new();
    info.emit(&mut buf, 0, 1, 1);
    assert_eq!(FamilyInfo::parse(&buf[16..]).unwrap_err().errno, EINVAL);
    info.id = 0x1c;
    buf.clear();
    info.emit(&mut buf, 0, 1, 1);
    assert_eq!(FamilyInfo::parse(&buf[16..]).unwrap(), info);
}

fn arb_info() -> impl Strategy<Value = FamilyInfo> {
    (
        "[a-z_]{1,15}",
        1u16..,
        (any::<u32>(), any::<u32>(), any::<u32>()),
        proptest::collection::vec(any::<(u32, u32)>(), 0..6),
        proptest::collection::vec(("[a-z_]{1,15}", any::<u32>()), 0..3),
    )
        .prop_map(
            |(name, id, (version, hdrsize, maxattr), ops, mcast_groups)| FamilyInfo {
                name,
                id,
                version,
                hdrsize,
                maxattr,
                ops,
                mcast_groups,
            },
        )
}

proptest! {
    #[test]
    fn family_info_round_trips(info in arb_info(), seq in any::<u32>()) {
        let mut buf = Vec::new();
        info.emit(&mut buf, 0, seq, 1);
        prop_assert_eq!(buf.len(), info.buffer_len());
        let msg = messages(&buf).next().unwrap().unwrap();
        prop_assert_eq!(FamilyInfo::parse(msg.payload).unwrap(), info);
    }

    #[test]
    fn get_family_round_trips(
        id in proptest::option::of(any::<u16>()),
        name in proptest::option::of("[a-z_0-9]{0,15}"),
    ) {
        let g = GetFamily { id, name };
        let mut buf = Vec::new();
        g.emit(&mut buf, NLM_F_REQUEST, 1, 1);
        prop_assert_eq!(buf.len(), g.buffer_len());
        let msg = messages(&buf).next().unwrap().unwrap();
        prop_assert_eq!(GetFamily::parse(msg.payload).unwrap(), g);
    }

    #[test]
    fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = GetFamily::parse(&bytes);
        let _ = FamilyInfo::parse(&bytes);
    }
}
