//! `ovs_meter` messages: golden bytes both ways, round trips, and the kernel's rejections.

use proptest::prelude::*;
use userdp_protocol::errno::{EINVAL, ERANGE};
use userdp_protocol::nl::{messages, NLM_F_REQUEST};
use userdp_protocol::ovs::meter::*;

const FAMILY: u16 = 0x20;

#[rustfmt::skip]
const METER_SET: [u8; 68] = [
    68, 0, 0, 0,   0x20, 0,   0x01, 0,   5, 0, 0, 0,   0x10, 0, 0, 0, // nlmsghdr: len 68, REQUEST, seq 5, pid 16
    2, 1, 0, 0,                                          // genl SET v1
    7, 0, 0, 0,                                          // dp_ifindex 7
    8, 0, 1, 0,    3, 0, 0, 0,                           // ID 3
    4, 0, 2, 0,                                          // KBPS
    32, 0, 4, 0,                                         // BANDS
    28, 0, 0, 0,                                         //   band (type 0)
    8, 0, 1, 0,   1, 0, 0, 0,                            //     TYPE DROP
    8, 0, 2, 0,   0xe8, 0x03, 0, 0,                      //     RATE 1000
    8, 0, 3, 0,   0xe8, 0x03, 0, 0,                      //     BURST 1000
];

#[test]
fn decodes_meter_set() {
    let m = MeterMsg::parse(&METER_SET[16..]).unwrap();
    let mut want = MeterMsg::new(OvsMeterCmd::OVS_METER_CMD_SET, 7);
    want.id = Some(3);
    want.kbps = true;
    want.bands = Some(vec![MeterBand {
        kind: Some(OvsMeterBandType::OVS_METER_BAND_TYPE_DROP),
        rate: Some(1000),
        burst: Some(1000),
        stats: None,
    }]);
    assert_eq!(m, want);
    let mut buf = Vec::new();
    m.emit(&mut buf, FAMILY, NLM_F_REQUEST, 5, 16);
    assert_eq!(buf, METER_SET);
}

#[test]
fn encodes_features_reply() {
    let mut m = MeterMsg::new(OvsMeterCmd::OVS_METER_CMD_FEATURES, 7);
    m.max_meters = Some(200_000);
    m.max_bands = Some(DP_MAX_BANDS);
    m.bands = Some(vec![MeterBand {
        kind: Some(OvsMeterBandType::OVS_METER_BAND_TYPE_DROP),
        ..Default::default()
    }]);
    let mut buf = Vec::new();
    m.emit(&mut buf, FAMILY, 0, 5, 16);
    #[rustfmt::skip]
    let want = [
        56, 0, 0, 0,   0x20, 0,   0, 0,   5, 0, 0, 0,   0x10, 0, 0, 0, // nlmsghdr: len 56, flags 0
        1, 1, 0, 0,   7, 0, 0, 0,                        // genl FEATURES v1, dp_ifindex echoed
        8, 0, 7, 0,   0x40, 0x0d, 0x03, 0,               // MAX_METERS 200000
        8, 0, 8, 0,   1, 0, 0, 0,                        // MAX_BANDS 1
        16, 0, 4, 0,                                     // BANDS
        12, 0, 0, 0,                                     //   band
        8, 0, 1, 0,   1, 0, 0, 0,                        //     TYPE DROP
    ];
    assert_eq!(buf, want);
}

#[test]
fn replaced_meter_reply_repeats_id() {
    let mut m = MeterMsg::new(OvsMeterCmd::OVS_METER_CMD_SET, 7);
    m.id = Some(3);
    m.id_repeated = true;
    m.stats = Some(OvsFlowStats {
        n_packets: 1,
        n_bytes: 60,
    });
    m.used = Some(99);
    m.bands = Some(vec![MeterBand {
        stats: Some(OvsFlowStats::default()),
        ..Default::default()
    }]);
    let mut buf = Vec::new();
    m.emit(&mut buf, FAMILY, 0, 1, 1);
    #[rustfmt::skip]
    let want_attrs = [
        8, 0, 1, 0,   3, 0, 0, 0,                        // ID 3 (new meter)
        8, 0, 1, 0,   3, 0, 0, 0,                        // ID 3 (old meter's stats follow)
        20, 0, 3, 0,  1, 0, 0, 0, 0, 0, 0, 0,  60, 0, 0, 0, 0, 0, 0, 0, // STATS 1 pkt, 60 bytes
        12, 0, 5, 0,  99, 0, 0, 0, 0, 0, 0, 0,           // USED 99
        28, 0, 4, 0,  24, 0, 0, 0,                       // BANDS, band
        20, 0, 4, 0,  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //   band STATS zero
    ];
    assert_eq!(&buf[24..], &want_attrs[..]);
    let msg = messages(&buf).next().unwrap().unwrap();
    assert_eq!(MeterMsg::parse_reply(msg.payload).unwrap(), m);
    // Read as a request, stats-only bands are what dp_meter_create refuses.
    assert_eq!(MeterMsg::parse(msg.payload).unwrap_err().errno, EINVAL);
}

fn set_with_bands(bands: &[u8]) -> Vec<u8> {
    let mut v = vec![2, 1, 0, 0, 7, 0, 0, 0, 8, 0, 1, 0, 3, 0, 0, 0];
    v.extend_from_slice(&((4 + bands.len()) as u16).to_le_bytes());
    v.extend_from_slice(&[4, 0]);
    v.extend_from_slice(bands);
    v
}

#[rustfmt::skip]
const GOOD_BAND: [u8; 28] = [
    28, 0, 0, 0,  8, 0, 1, 0, 1, 0, 0, 0,  8, 0, 2, 0, 10, 0, 0, 0,  8, 0, 3, 0, 10, 0, 0, 0,
];

#[test]
fn set_band_rejections() {
    // Two bands: more than DP_MAX_BANDS, EINVAL at BANDS (offset 32).
    let e = MeterMsg::parse(&set_with_bands(&[GOOD_BAND, GOOD_BAND].concat())).unwrap_err();
    assert_eq!((e.errno, e.offset), (EINVAL, 32));
    // Rate 0: EINVAL.
    let mut b = GOOD_BAND;
    b[16] = 0;
    assert_eq!(
        MeterMsg::parse(&set_with_bands(&b)).unwrap_err().errno,
        EINVAL
    );
    // No BURST: EINVAL.
    let mut b = GOOD_BAND[..20].to_vec();
    b[0] = 20;
    assert_eq!(
        MeterMsg::parse(&set_with_bands(&b)).unwrap_err().errno,
        EINVAL
    );
    // RATE of 2 bytes: band_policy ERANGE, at the RATE attribute (offset 48 = 16 + genl 4 +
    // ovs_header 4 + ID 8 + BANDS header 4 + band header 4 + TYPE 8).
    let b = [
        24, 0, 0, 0, 8, 0, 1, 0, 1, 0, 0, 0, 6, 0, 2, 0, 10, 0, 0, 0, 4, 0, 3, 0,
    ];
    let e = MeterMsg::parse(&set_with_bands(&b)).unwrap_err();
    assert_eq!((e.errno, e.offset), (ERANGE, 48));
    // The same bad bands in a GET are ignored.
    let mut get = set_with_bands(&[GOOD_BAND, GOOD_BAND].concat());
    get[0] = 4;
    assert_eq!(
        MeterMsg::parse(&get).unwrap().bands.map(|b| b.len()),
        Some(2)
    );
}

#[test]
fn policy_rejections() {
    // STATS of 8 bytes: shorter than struct ovs_flow_stats, ERANGE.
    let e = MeterMsg::parse(&[4, 1, 0, 0, 7, 0, 0, 0, 12, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        .unwrap_err();
    assert_eq!((e.errno, e.offset), (ERANGE, 24));
    // ID of 2 bytes: ERANGE.
    let e = MeterMsg::parse(&[4, 1, 0, 0, 7, 0, 0, 0, 6, 0, 1, 0, 3, 0, 0, 0]).unwrap_err();
    assert_eq!(e.errno, ERANGE);
    assert_eq!(MeterMsg::parse(&[4, 1]).unwrap_err().errno, EINVAL);
}

fn arb_band(strict: bool) -> impl Strategy<Value = MeterBand> {
    (
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<(u64, u64)>()),
        any::<u32>(),
    )
        .prop_map(move |(k, r, b, s, fill)| {
            let mut band = MeterBand {
                kind: k.map(OvsMeterBandType::from),
                rate: r,
                burst: b,
                stats: s.map(|(n_packets, n_bytes)| OvsFlowStats { n_packets, n_bytes }),
            };
            if strict {
                band.kind.get_or_insert(OvsMeterBandType::from(fill));
                band.rate = Some(band.rate.unwrap_or(fill).max(1));
                band.burst.get_or_insert(fill);
            }
            band
        })
}

fn arb_msg() -> impl Strategy<Value = MeterMsg> {
    (1u8..=4, any::<i32>()).prop_flat_map(|(cmd, ifx)| {
        let set = cmd == 2;
        let bands = if set {
            proptest::collection::vec(arb_band(true), 0..=1).boxed()
        } else {
            proptest::collection::vec(arb_band(false), 0..3).boxed()
        };
        (
            (
                proptest::option::of(any::<u32>()),
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
            ),
            (
                proptest::option::of(any::<(u64, u64)>()),
                proptest::option::of(any::<u64>()),
                proptest::option::of(any::<u32>()),
                proptest::option::of(any::<u32>()),
            ),
            proptest::option::of(bands),
        )
            .prop_map(move |((id, rep, kbps, clear), (st, used, mm, mb), bands)| {
                let mut m = MeterMsg::new(OvsMeterCmd::from(cmd), ifx);
                m.id = id;
                m.id_repeated = rep && id.is_some();
                m.kbps = kbps;
                m.clear = clear;
                m.stats = st.map(|(n_packets, n_bytes)| OvsFlowStats { n_packets, n_bytes });
                m.used = used;
                m.max_meters = mm;
                m.max_bands = mb;
                m.bands = bands;
                m
            })
    })
}

proptest! {
    #[test]
    fn round_trips(m in arb_msg(), seq in any::<u32>()) {
        let mut buf = Vec::new();
        m.emit(&mut buf, FAMILY, NLM_F_REQUEST, seq, 1);
        prop_assert_eq!(buf.len(), m.buffer_len());
        let msg = messages(&buf).next().unwrap().unwrap();
        prop_assert_eq!(MeterMsg::parse(msg.payload).unwrap(), m);
    }

    #[test]
    fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = MeterMsg::parse(&bytes);
    }
}
