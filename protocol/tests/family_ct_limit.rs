//! `ovs_ct_limit` messages: golden bytes both ways, round trips, and the kernel's rejections.

use proptest::prelude::*;
use userdp_protocol::errno::{EINVAL, ERANGE};
use userdp_protocol::nl::{messages, NLM_F_ECHO, NLM_F_REQUEST};
use userdp_protocol::ovs::ct_limit::*;

const FAMILY: u16 = 0x21;

#[rustfmt::skip]
const CT_LIMIT_SET: [u8; 52] = [
    52, 0, 0, 0,   0x21, 0,   0x09, 0,   8, 0, 0, 0,   0x10, 0, 0, 0, // nlmsghdr: len 52, REQUEST|ECHO, seq 8, pid 16
    1, 1, 0, 0,                                          // genl SET v1
    0, 0, 0, 0,                                          // dp_ifindex 0 (per netns)
    28, 0, 1, 0,                                         // ZONE_LIMIT (24 bytes, two records)
    0xff, 0xff, 0xff, 0xff,   10, 0, 0, 0,   0, 0, 0, 0, //   zone -1 (default), limit 10, count 0
    5, 0, 0, 0,               20, 0, 0, 0,   0, 0, 0, 0, //   zone 5, limit 20, count 0
];

#[test]
fn decodes_set_request() {
    let m = CtLimitMsg::parse(&CT_LIMIT_SET[16..]).unwrap();
    let mut want = CtLimitMsg::new(OvsCtLimitCmd::OVS_CT_LIMIT_CMD_SET, 0);
    want.zone_limits = Some(vec![
        OvsZoneLimit {
            zone_id: OVS_ZONE_LIMIT_DEFAULT_ZONE,
            limit: 10,
            count: 0,
        },
        OvsZoneLimit {
            zone_id: 5,
            limit: 20,
            count: 0,
        },
    ]);
    assert_eq!(m, want);
    let mut buf = Vec::new();
    m.emit(&mut buf, FAMILY, NLM_F_REQUEST | NLM_F_ECHO, 8, 16);
    assert_eq!(buf, CT_LIMIT_SET);
}

#[test]
fn encodes_get_reply_and_header_only_reply() {
    let mut m = CtLimitMsg::new(OvsCtLimitCmd::OVS_CT_LIMIT_CMD_GET, 0);
    m.zone_limits = Some(vec![OvsZoneLimit {
        zone_id: 7,
        limit: 100,
        count: 3,
    }]);
    let mut buf = Vec::new();
    m.emit(&mut buf, FAMILY, 0, 2, 16);
    #[rustfmt::skip]
    let want = [
        40, 0, 0, 0,   0x21, 0,   0, 0,   2, 0, 0, 0,   0x10, 0, 0, 0, // nlmsghdr: len 40, flags 0
        3, 1, 0, 0,   0, 0, 0, 0,                        // genl GET v1, dp_ifindex 0
        16, 0, 1, 0,                                     // ZONE_LIMIT
        7, 0, 0, 0,   100, 0, 0, 0,   3, 0, 0, 0,        //   zone 7, limit 100, 3 connections
    ];
    assert_eq!(buf, want);
    // SET and DEL replies are the headers alone.
    let mut buf = Vec::new();
    CtLimitMsg::new(OvsCtLimitCmd::OVS_CT_LIMIT_CMD_DEL, 0).emit(&mut buf, FAMILY, 0, 2, 16);
    assert_eq!(
        buf,
        [24, 0, 0, 0, 0x21, 0, 0, 0, 2, 0, 0, 0, 0x10, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0]
    );
}

#[test]
fn partial_records_and_rejections() {
    // 13 bytes: the kernel walks the padded 16, i.e. one record; the rest is only logged.
    let p = [
        1, 1, 0, 0, 0, 0, 0, 0, 17, 0, 1, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0,
    ];
    let m = CtLimitMsg::parse(&p).unwrap();
    assert_eq!(
        m.zone_limits,
        Some(vec![OvsZoneLimit {
            zone_id: 1,
            limit: 2,
            count: 0
        }])
    );
    // A 2-byte ZONE_LIMIT is shorter than a nested header: ERANGE.
    let e = CtLimitMsg::parse(&[1, 1, 0, 0, 0, 0, 0, 0, 6, 0, 1, 0, 0, 0, 0, 0]).unwrap_err();
    assert_eq!((e.errno, e.offset), (ERANGE, 24));
    assert_eq!(
        CtLimitMsg::parse(&[1, 1, 0, 0, 0]).unwrap_err().errno,
        EINVAL
    );
}

proptest! {
    #[test]
    fn round_trips(
        cmd in any::<u8>(),
        ifx in any::<i32>(),
        zones in proptest::option::of(proptest::collection::vec(any::<(i32, u32, u32)>(), 0..6)),
    ) {
        let mut m = CtLimitMsg::new(OvsCtLimitCmd::from(cmd), ifx);
        m.zone_limits = zones.map(|z| {
            z.into_iter()
                .map(|(zone_id, limit, count)| OvsZoneLimit { zone_id, limit, count })
                .collect()
        });
        let mut buf = Vec::new();
        m.emit(&mut buf, FAMILY, NLM_F_REQUEST, 1, 1);
        prop_assert_eq!(buf.len(), m.buffer_len());
        let msg = messages(&buf).next().unwrap().unwrap();
        prop_assert_eq!(CtLimitMsg::parse(msg.payload).unwrap(), m);
    }

    #[test]
    fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = CtLimitMsg::parse(&bytes);
    }
}
