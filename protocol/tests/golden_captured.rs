//! Golden vectors captured from the real tools, not written by hand: Debian's `ovs-dpctl` and
//! `ovs-vswitchd` 3.1 running under `userdp-run` against `userdpd`, recorded with
//! `strace -f -xx -e trace=sendmsg,recvmsg` on the shim's Unix socket (the bytes a kernel
//! netlink socket would carry). Requests are what OVS sent; replies are what userdpd answered
//! and OVS accepted (the run went on to switch traffic).
//!
//! Capture set-up: a private network namespace, so the datapath's local port got ifindex 4
//! (`add-dp dp0` by ovs-dpctl) or 5 (`ovs-system` for ovs-vswitchd); userdpd's family ids are
//! `ovs_datapath` 0x20, `ovs_flow` 0x22, `ovs_packet` 0x23; the host had 2 CPUs.
//!
//! Each test decodes to the typed value OVS meant, and re-encodes where our encoder's order is
//! the sender's order (OVS builds requests in the kernel's `fill_info` order, so it is for all
//! of these).

use std::net::Ipv4Addr;

use userdp_protocol::errno::{EINVAL, EOPNOTSUPP};
use userdp_protocol::nl::{messages, ErrorMsg, NlMsgHdr, NLMSG_ERROR, NLM_F_ECHO, NLM_F_REQUEST};
use userdp_protocol::ovs::action::{Action, Actions};
use userdp_protocol::ovs::datapath::*;
use userdp_protocol::ovs::flow::*;
use userdp_protocol::ovs::key::{
    parse_match, validate_match, ArpKey, EthernetKey, Ipv4Key, Key, KeyAttr, TunnelKey,
};
use userdp_protocol::ovs::packet::{OvsPacketCmd, PacketMsg};

const DP_FAMILY: u16 = 0x20;
const FLOW_FAMILY: u16 = 0x22;
const PACKET_FAMILY: u16 = 0x23;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_CAPPED: u16 = 0x100;
const NLM_F_ACK_TLVS: u16 = 0x200;

/// The one message of a captured datagram: (header, payload after the nlmsghdr).
fn one(bytes: &[u8]) -> (NlMsgHdr, &[u8]) {
    let mut it = messages(bytes);
    let m = it.next().expect("a message").expect("well framed");
    assert!(it.next().is_none(), "one message per datagram");
    (m.header, m.payload)
}

fn eth(src: [u8; 6], dst: [u8; 6]) -> KeyAttr {
    KeyAttr::Ethernet(EthernetKey { src, dst })
}

/// The ARP request every ARP vector below carries: who-has 10.0.0.2 tell 10.0.0.1.
fn arp_request() -> KeyAttr {
    KeyAttr::Arp(ArpKey {
        sip: Ipv4Addr::new(10, 0, 0, 1),
        tip: Ipv4Addr::new(10, 0, 0, 2),
        op: 1,
        sha: [0, 1, 2, 3, 4, 6],
        tha: [0; 6],
    })
}

const SRC_MAC: [u8; 6] = [0, 1, 2, 3, 4, 6];
const BCAST: [u8; 6] = [0xff; 6];

// ---------------------------------------------------------------------------------------------
// ovs-dpctl add-dp dp0

/// First DP_NEW of `dpif_netlink_dp_transact` on create: a feature bit no kernel knows (bit 31),
/// to catch datapaths that accept features blindly.
#[rustfmt::skip]
const DPCTL_DP_NEW_PROBE: [u8; 48] = [
    0x30, 0, 0, 0,   0x20, 0,   0x09, 0,   1, 0, 0, 0,   8, 0, 0, 0, // nlmsghdr: len 48, ovs_datapath, REQUEST|ECHO, seq 1, portid 8
    0x01, 0x02, 0, 0,                                  // genl: cmd NEW, version 2
    0, 0, 0, 0,                                        // ovs_header: dp_ifindex 0
    8, 0, 1, 0,   b'd', b'p', b'0', 0,                 // NAME "dp0"
    8, 0, 2, 0,   0, 0, 0, 0,                          // UPCALL_PID 0
    8, 0, 5, 0,   0x03, 0, 0, 0x80,                    // USER_FEATURES UNALIGNED|VPORT_PIDS|0x80000000
];

/// userdpd's answer to it: EOPNOTSUPP, capped, with an extack message.
#[rustfmt::skip]
const DPCTL_DP_NEW_PROBE_ERR: [u8; 76] = [
    0x4c, 0, 0, 0,   0x02, 0,   0x00, 0x03,   1, 0, 0, 0,   8, 0, 0, 0, // nlmsghdr: len 76, NLMSG_ERROR, CAPPED|ACK_TLVS, seq 1, portid 8
    0xa1, 0xff, 0xff, 0xff,                            // error -95 (EOPNOTSUPP)
    0x30, 0, 0, 0,   0x20, 0,   0x09, 0,   1, 0, 0, 0,   8, 0, 0, 0, // the request's header only (capped)
    0x27, 0, 1, 0,                                     // NLMSGERR_ATTR_MSG (35 bytes + NUL)
    b'u', b'n', b's', b'u', b'p', b'p', b'o', b'r', b't', b'e', b'd', b' ',
    b'd', b'a', b't', b'a', b'p', b'a', b't', b'h', b' ',
    b'u', b's', b'e', b'r', b' ', b'f', b'e', b'a', b't', b'u', b'r', b'e', b's', 0,
    0,                                                 //   pad
];

/// The real create: per-CPU upcall dispatch.
#[rustfmt::skip]
const DPCTL_DP_NEW: [u8; 48] = [
    0x30, 0, 0, 0,   0x20, 0,   0x09, 0,   2, 0, 0, 0,   8, 0, 0, 0, // nlmsghdr: len 48, REQUEST|ECHO, seq 2, portid 8
    0x01, 0x02, 0, 0,                                  // genl: cmd NEW, version 2
    0, 0, 0, 0,                                        // dp_ifindex 0
    8, 0, 1, 0,   b'd', b'p', b'0', 0,                 // NAME "dp0"
    8, 0, 2, 0,   0, 0, 0, 0,                          // UPCALL_PID 0
    8, 0, 5, 0,   0x09, 0, 0, 0,                       // USER_FEATURES UNALIGNED|DISPATCH_UPCALL_PER_CPU
];

/// The echo ovs-dpctl accepted: the new datapath's ifindex, zero stats, the features granted.
#[rustfmt::skip]
const DPCTL_DP_NEW_REPLY: [u8; 120] = [
    0x78, 0, 0, 0,   0x20, 0,   0, 0,   2, 0, 0, 0,   8, 0, 0, 0, // nlmsghdr: len 120, flags 0, seq 2, portid 8
    0x01, 0x02, 0, 0,                                  // genl: cmd NEW, version 2
    4, 0, 0, 0,                                        // dp_ifindex 4 (the dp0 netdev)
    8, 0, 1, 0,   b'd', b'p', b'0', 0,                 // NAME "dp0"
    0x24, 0, 3, 0,                                     // STATS: hit, missed, lost, flows (u64 each)
    0, 0, 0, 0, 0, 0, 0, 0,   0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,   0, 0, 0, 0, 0, 0, 0, 0,
    0x24, 0, 4, 0,                                     // MEGAFLOW_STATS: mask_hit, masks, pad0, cache_hit, pad1
    0, 0, 0, 0, 0, 0, 0, 0,   0, 0, 0, 0,   0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,   0, 0, 0, 0, 0, 0, 0, 0,
    8, 0, 5, 0,   0x09, 0, 0, 0,                       // USER_FEATURES UNALIGNED|PER_CPU
    8, 0, 7, 0,   0, 1, 0, 0,                          // MASKS_CACHE_SIZE 256
];

#[test]
fn dpctl_add_dp_feature_probe_and_create() {
    let (h, p) = one(&DPCTL_DP_NEW_PROBE);
    assert_eq!(
        (h.kind, h.flags, h.seq),
        (DP_FAMILY, NLM_F_REQUEST | NLM_F_ECHO, 1)
    );
    let m = DatapathMsg::parse(p).unwrap();
    let mut want = DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_NEW, 0);
    want.name = Some("dp0".into());
    want.upcall_pid = Some(0);
    want.user_features = Some(OVS_DP_F_UNALIGNED | OVS_DP_F_VPORT_PIDS | 0x8000_0000);
    assert_eq!(m, want);
    // Unknown feature bits are refused before anything is created, as the kernel does.
    assert_eq!(m.validate_change().unwrap_err().errno, EOPNOTSUPP);
    let mut buf = Vec::new();
    m.emit(&mut buf, DP_FAMILY, h.flags, h.seq, h.pid);
    assert_eq!(buf, DPCTL_DP_NEW_PROBE);

    let (h, p) = one(&DPCTL_DP_NEW_PROBE_ERR);
    assert_eq!(
        (h.kind, h.flags),
        (NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS)
    );
    let e = ErrorMsg::parse(h.flags, p).unwrap();
    assert_eq!(e.error, -EOPNOTSUPP);
    assert_eq!(e.request, one(&DPCTL_DP_NEW_PROBE).0);
    assert_eq!(e.echoed_payload, None);
    assert_eq!(
        e.ext_msg.as_deref(),
        Some("unsupported datapath user features")
    );
    assert_eq!(e.ext_offs, None);
    let mut buf = Vec::new();
    e.emit(&mut buf, h.pid);
    assert_eq!(buf, DPCTL_DP_NEW_PROBE_ERR);

    let (h, p) = one(&DPCTL_DP_NEW);
    let m = DatapathMsg::parse(p).unwrap();
    assert_eq!(
        m.user_features,
        Some(OVS_DP_F_UNALIGNED | OVS_DP_F_DISPATCH_UPCALL_PER_CPU)
    );
    m.validate_change().unwrap();
    let mut buf = Vec::new();
    m.emit(&mut buf, DP_FAMILY, h.flags, h.seq, h.pid);
    assert_eq!(buf, DPCTL_DP_NEW);

    let (h, p) = one(&DPCTL_DP_NEW_REPLY);
    assert_eq!((h.flags, h.seq), (0, 2));
    let m = DatapathMsg::parse(p).unwrap();
    let mut want = DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_NEW, 4);
    want.name = Some("dp0".into());
    want.stats = Some(OvsDpStats::default());
    want.megaflow_stats = Some(OvsDpMegaflowStats::default());
    want.user_features = Some(OVS_DP_F_UNALIGNED | OVS_DP_F_DISPATCH_UPCALL_PER_CPU);
    want.masks_cache_size = Some(256);
    assert_eq!(m, want);
    let mut buf = Vec::new();
    m.emit(&mut buf, DP_FAMILY, h.flags, h.seq, h.pid);
    assert_eq!(buf, DPCTL_DP_NEW_REPLY);
}

// ---------------------------------------------------------------------------------------------
// ovs-dpctl add-flow dp0 'in_port(1),eth(src=00:01:02:03:04:06,dst=ff:ff:ff:ff:ff:ff),
//   eth_type(0x0806),arp(sip=10.0.0.1,tip=10.0.0.2,op=1,sha=00:01:02:03:04:06,
//   tha=00:00:00:00:00:00)' 2

/// ovs-dpctl always sends a MASK, all-ones over the attributes written (an exact match), and
/// no UFID unless one is written.
#[rustfmt::skip]
const DPCTL_FLOW_NEW: [u8; 164] = [
    0xa4, 0, 0, 0,   0x22, 0,   0x01, 0x04,   8, 0, 0, 0,   0x11, 0, 0, 0, // nlmsghdr: len 164, ovs_flow, REQUEST|CREATE, seq 8, portid 17
    0x01, 0x01, 0, 0,                                  // genl: cmd NEW, version 1
    4, 0, 0, 0,                                        // dp_ifindex 4
    0x40, 0, 1, 0,                                     // KEY (60 bytes)
    8, 0, 3, 0,   1, 0, 0, 0,                          //   IN_PORT 1
    0x10, 0, 4, 0,                                     //   ETHERNET
    0, 1, 2, 3, 4, 6,   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, //     src 00:01:02:03:04:06, dst broadcast
    6, 0, 6, 0,   0x08, 0x06, 0, 0,                    //   ETHERTYPE 0x0806 (big endian) + pad
    0x1c, 0, 0x0d, 0,                                  //   ARP
    10, 0, 0, 1,   10, 0, 0, 2,   0, 1,                //     sip, tip, op 1 (be16)
    0, 1, 2, 3, 4, 6,   0, 0, 0, 0, 0, 0,   0, 0,      //     sha, tha, pad
    0x40, 0, 7, 0,                                     // MASK (60 bytes)
    8, 0, 3, 0,   0xff, 0xff, 0xff, 0xff,              //   IN_PORT exact
    0x10, 0, 4, 0,   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // ETHERNET exact
    6, 0, 6, 0,   0xff, 0xff, 0, 0,                    //   ETHERTYPE exact
    0x1c, 0, 0x0d, 0,                                  //   ARP exact (24 bytes incl. pad)
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0,
    0x0c, 0, 2, 0,                                     // ACTIONS
    8, 0, 1, 0,   2, 0, 0, 0,                          //   OUTPUT 2
];

#[test]
fn dpctl_add_flow_arp_exact_match() {
    let (h, p) = one(&DPCTL_FLOW_NEW);
    assert_eq!(
        (h.kind, h.flags),
        (FLOW_FAMILY, NLM_F_REQUEST | NLM_F_CREATE)
    );
    let m = FlowMsg::parse(p).unwrap();
    assert_eq!((m.cmd, m.dp_ifindex), (OvsFlowCmd::OVS_FLOW_CMD_NEW, 4));
    assert_eq!(m.ufid(), None);
    assert!(!m.probe && !m.clear);
    let key = m.key.as_ref().unwrap();
    let mask = m.mask.as_ref().unwrap();
    assert_eq!((key.offset, mask.offset), (28, 92));
    assert_eq!(
        Key::parse(&key.bytes, key.offset).unwrap(),
        Key(vec![
            KeyAttr::InPort(1),
            eth(SRC_MAC, BCAST),
            KeyAttr::Ethertype(0x0806),
            arp_request(),
        ])
    );
    let mk = Key::parse(&mask.bytes, mask.offset).unwrap();
    assert_eq!(mk.0.len(), 4);
    assert_eq!(mk.0[0], KeyAttr::InPort(u32::MAX));
    assert_eq!(mk.0[2], KeyAttr::Ethertype(0xffff));
    parse_match(&key.bytes, key.offset, Some((&mask.bytes, mask.offset))).unwrap();
    let actions = m.actions.as_ref().unwrap();
    assert_eq!(
        Actions::parse(&actions.bytes, actions.offset).unwrap(),
        Actions(vec![Action::Output(2)])
    );
    let mut buf = Vec::new();
    m.emit(&mut buf, FLOW_FAMILY, h.flags, h.seq, h.pid);
    assert_eq!(buf, DPCTL_FLOW_NEW);
}

// ---------------------------------------------------------------------------------------------
// ovs-vswitchd: upcall dispatch set-up, a miss upcall, and the flow it installed

/// `dpif_recv_set`: per-CPU dispatch with one handler pid per CPU (2 CPUs, handlers 29 and 30).
#[rustfmt::skip]
const VSD_DP_SET_PER_CPU_PIDS: [u8; 60] = [
    0x3c, 0, 0, 0,   0x20, 0,   0x09, 0,   0x49, 0, 0, 0,   0x1b, 0, 0, 0, // nlmsghdr: len 60, REQUEST|ECHO, seq 73, portid 27
    0x04, 0x02, 0, 0,                                  // genl: cmd SET, version 2
    5, 0, 0, 0,                                        // dp_ifindex 5
    0x0f, 0, 1, 0,   b'o', b'v', b's', b'-', b's', b'y', b's', b't', b'e', b'm', 0, 0, // NAME "ovs-system"
    8, 0, 5, 0,   0x0d, 0, 0, 0,                       // USER_FEATURES UNALIGNED|TC_RECIRC_SHARING|PER_CPU
    0x0c, 0, 8, 0,   0x1d, 0, 0, 0,   0x1e, 0, 0, 0,   // PER_CPU_PIDS [29, 30]
];

/// The echo: PER_CPU still granted (OVS fails `dpif_recv_set` otherwise) and the pids back.
#[rustfmt::skip]
const VSD_DP_SET_REPLY: [u8; 140] = [
    0x8c, 0, 0, 0,   0x20, 0,   0, 0,   0x49, 0, 0, 0,   0x1b, 0, 0, 0, // nlmsghdr: len 140, flags 0, seq 73, portid 27
    0x04, 0x02, 0, 0,                                  // genl: cmd SET, version 2
    5, 0, 0, 0,                                        // dp_ifindex 5
    0x0f, 0, 1, 0,   b'o', b'v', b's', b'-', b's', b'y', b's', b't', b'e', b'm', 0, 0, // NAME
    0x24, 0, 3, 0,                                     // STATS, all zero
    0, 0, 0, 0, 0, 0, 0, 0,   0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,   0, 0, 0, 0, 0, 0, 0, 0,
    0x24, 0, 4, 0,                                     // MEGAFLOW_STATS, all zero
    0, 0, 0, 0, 0, 0, 0, 0,   0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,   0, 0, 0, 0, 0, 0, 0, 0,
    8, 0, 5, 0,   0x0d, 0, 0, 0,                       // USER_FEATURES UNALIGNED|TC_RECIRC_SHARING|PER_CPU
    8, 0, 7, 0,   0, 1, 0, 0,                          // MASKS_CACHE_SIZE 256
    0x0c, 0, 8, 0,   0x1d, 0, 0, 0,   0x1e, 0, 0, 0,   // PER_CPU_PIDS [29, 30]
];

#[test]
fn vswitchd_dp_set_per_cpu_pids() {
    let (h, p) = one(&VSD_DP_SET_PER_CPU_PIDS);
    let m = DatapathMsg::parse(p).unwrap();
    let mut want = DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_SET, 5);
    want.name = Some("ovs-system".into());
    want.user_features =
        Some(OVS_DP_F_UNALIGNED | OVS_DP_F_TC_RECIRC_SHARING | OVS_DP_F_DISPATCH_UPCALL_PER_CPU);
    want.per_cpu_pids = Some(vec![29, 30]);
    assert_eq!(m, want);
    m.validate_change().unwrap();
    let mut buf = Vec::new();
    m.emit(&mut buf, DP_FAMILY, h.flags, h.seq, h.pid);
    assert_eq!(buf, VSD_DP_SET_PER_CPU_PIDS);

    let (h, p) = one(&VSD_DP_SET_REPLY);
    let r = DatapathMsg::parse(p).unwrap();
    assert_eq!(r.user_features, want.user_features);
    assert_eq!(r.per_cpu_pids, Some(vec![29, 30]));
    assert_eq!(r.stats, Some(OvsDpStats::default()));
    assert_eq!(r.masks_cache_size, Some(256));
    let mut buf = Vec::new();
    r.emit(&mut buf, DP_FAMILY, h.flags, h.seq, h.pid);
    assert_eq!(buf, VSD_DP_SET_REPLY);
}

/// The key userdpd puts in upcalls (and OVS copies verbatim into the flow it installs), for
/// the ARP request arriving on port 2: the metadata the kernel always reports, then the
/// packet's headers.
#[rustfmt::skip]
const UPCALL_KEY: [u8; 136] = [
    8, 0, 0x14, 0,   0, 0, 0, 0,                       // RECIRC_ID 0
    8, 0, 0x13, 0,   0, 0, 0, 0,                       // DP_HASH 0
    8, 0, 2, 0,   0, 0, 0, 0,                          // PRIORITY 0
    8, 0, 3, 0,   2, 0, 0, 0,                          // IN_PORT 2
    8, 0, 0x0f, 0,   0, 0, 0, 0,                       // SKB_MARK 0
    8, 0, 0x16, 0,   0, 0, 0, 0,                       // CT_STATE 0 (untracked)
    6, 0, 0x17, 0,   0, 0, 0, 0,                       // CT_ZONE 0 + pad
    8, 0, 0x18, 0,   0, 0, 0, 0,                       // CT_MARK 0
    0x14, 0, 0x19, 0,   0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // CT_LABELS 0
    0x10, 0, 4, 0,   0, 1, 2, 3, 4, 6,   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // ETHERNET src, dst
    6, 0, 6, 0,   0x08, 0x06, 0, 0,                    // ETHERTYPE ARP
    0x1c, 0, 0x0d, 0,                                  // ARP
    10, 0, 0, 1,   10, 0, 0, 2,   0, 1,                //   sip, tip, op 1
    0, 1, 2, 3, 4, 6,   0, 0, 0, 0, 0, 0,   0, 0,      //   sha, tha, pad
];

fn upcall_key() -> Key {
    Key(vec![
        KeyAttr::RecircId(0),
        KeyAttr::DpHash(0),
        KeyAttr::Priority(0),
        KeyAttr::InPort(2),
        KeyAttr::SkbMark(0),
        KeyAttr::CtState(0),
        KeyAttr::CtZone(0),
        KeyAttr::CtMark(0),
        KeyAttr::CtLabels([0; 16]),
        eth(SRC_MAC, BCAST),
        KeyAttr::Ethertype(0x0806),
        arp_request(),
    ])
}

/// The 42-byte ARP request frame itself.
#[rustfmt::skip]
const ARP_FRAME: [u8; 42] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff,   0, 1, 2, 3, 4, 6,   0x08, 0x06, // Ethernet: dst, src, type
    0, 1,   0x08, 0,   6, 4,   0, 1,                   // ARP: htype 1, ptype IPv4, hlen 6, plen 4, op 1
    0, 1, 2, 3, 4, 6,   10, 0, 0, 1,                   //   sha, spa
    0, 0, 0, 0, 0, 0,   10, 0, 0, 2,                   //   tha, tpa
];

fn upcall_bytes() -> Vec<u8> {
    #[rustfmt::skip]
    let head: [u8; 28] = [
        0xde, 0, 0, 0,   0x23, 0,   0, 0,   0, 0, 0, 0,   0, 0, 0, 0, // nlmsghdr: len 222 (unpadded), ovs_packet, flags 0, seq 0, portid 0
        0x01, 0x01, 0, 0,                              // genl: cmd MISS, version 1
        5, 0, 0, 0,                                    // dp_ifindex 5
        0x8c, 0, 2, 0,                                 // KEY (136 bytes): UPCALL_KEY
    ];
    #[rustfmt::skip]
    let tail: [u8; 16] = [
        0x0c, 0, 0x0b, 0,   0, 0, 0, 0, 0, 0, 0, 0,    // HASH 0 (u64)
        0x2e, 0, 1, 0,                                 // PACKET (42 bytes), last and unpadded
    ];
    [&head[..], &UPCALL_KEY, &tail, &ARP_FRAME].concat()
}

#[test]
fn vswitchd_accepted_miss_upcall() {
    let bytes = upcall_bytes();
    assert_eq!(
        bytes.len(),
        222,
        "the datagram ends unaligned (OVS_DP_F_UNALIGNED)"
    );
    let (h, p) = one(&bytes);
    assert_eq!((h.kind, h.flags, h.seq, h.pid), (PACKET_FAMILY, 0, 0, 0));
    let m = PacketMsg::parse(p).unwrap();
    assert_eq!(
        (m.cmd, m.dp_ifindex),
        (OvsPacketCmd::OVS_PACKET_CMD_MISS, 5)
    );
    assert_eq!(m.packet.as_deref(), Some(&ARP_FRAME[..]));
    assert_eq!(m.hash, Some(0));
    let key = m.key.as_ref().unwrap();
    assert_eq!(key.bytes, UPCALL_KEY);
    assert_eq!(Key::parse(&key.bytes, key.offset).unwrap(), upcall_key());
    assert_eq!(upcall_key().to_bytes(), UPCALL_KEY);
    let mut buf = Vec::new();
    m.emit(&mut buf, PACKET_FAMILY, 0, 0, 0, true);
    assert_eq!(buf, bytes);
}

/// The megaflow a handler thread installed for that upcall: NORMAL floods the broadcast to
/// port 1. `KEY` is the upcall key verbatim; the mask leaves the conntrack fields out
/// entirely (the probes said userdpd has no conntrack) and matches ARP on sip/tip/op only.
#[rustfmt::skip]
const VSD_FLOW_NEW_MASK: [u8; 104] = [
    8, 0, 2, 0,   0, 0, 0, 0,                          // PRIORITY wildcarded
    0x0c, 0, 0x10, 0,                                  // TUNNEL (8 bytes)
    5, 0, 4, 0,   0, 0, 0, 0,                          //   TTL 0 + pad: tunnel fields wildcarded
    8, 0, 0x0f, 0,   0, 0, 0, 0,                       // SKB_MARK wildcarded
    8, 0, 0x14, 0,   0xff, 0xff, 0xff, 0xff,           // RECIRC_ID exact
    8, 0, 0x13, 0,   0, 0, 0, 0,                       // DP_HASH wildcarded
    8, 0, 3, 0,   0xff, 0xff, 0xff, 0xff,              // IN_PORT exact
    0x10, 0, 4, 0,   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // ETHERNET exact
    6, 0, 6, 0,   0xff, 0xff, 0, 0,                    // ETHERTYPE exact
    0x1c, 0, 0x0d, 0,                                  // ARP
    0xff, 0xff, 0xff, 0xff,   0xff, 0xff, 0xff, 0xff,   0xff, 0xff, // sip, tip, op exact
    0, 0, 0, 0, 0, 0,   0, 0, 0, 0, 0, 0,   0, 0,      //   sha, tha wildcarded, pad
];

fn vswitchd_flow_new() -> Vec<u8> {
    #[rustfmt::skip]
    let head: [u8; 48] = [
        0x30, 0x01, 0, 0,   0x22, 0,   0x01, 0x04,   0x6a, 0, 0, 0,   0x1b, 0, 0, 0, // nlmsghdr: len 304, REQUEST|CREATE, seq 106, portid 27
        0x01, 0x01, 0, 0,                              // genl: cmd NEW, version 1
        5, 0, 0, 0,                                    // dp_ifindex 5
        0x14, 0, 9, 0,                                 // UFID (16 bytes)
        0xd7, 0x8b, 0x71, 0xaf, 0x22, 0x4c, 0x5d, 0xdb, 0x2e, 0x4f, 0x73, 0xbc, 0x98, 0xee, 0x9f, 0x02,
        0x8c, 0, 1, 0,                                 // KEY (136 bytes): UPCALL_KEY
    ];
    let mask_hdr: [u8; 4] = [0x6c, 0, 7, 0]; // MASK (104 bytes): VSD_FLOW_NEW_MASK
    #[rustfmt::skip]
    let actions: [u8; 12] = [
        0x0c, 0, 2, 0,                                 // ACTIONS
        8, 0, 1, 0,   1, 0, 0, 0,                      //   OUTPUT 1
    ];
    [
        &head[..],
        &UPCALL_KEY,
        &mask_hdr,
        &VSD_FLOW_NEW_MASK,
        &actions,
    ]
    .concat()
}

#[test]
fn vswitchd_flow_new_with_ufid_and_mask() {
    let bytes = vswitchd_flow_new();
    assert_eq!(bytes.len(), 304);
    let (h, p) = one(&bytes);
    assert_eq!(
        (h.kind, h.flags, h.seq),
        (FLOW_FAMILY, NLM_F_REQUEST | NLM_F_CREATE, 106)
    );
    let m = FlowMsg::parse(p).unwrap();
    assert_eq!((m.cmd, m.dp_ifindex), (OvsFlowCmd::OVS_FLOW_CMD_NEW, 5));
    assert_eq!(
        m.ufid(),
        Some(
            &[
                0xd7, 0x8b, 0x71, 0xaf, 0x22, 0x4c, 0x5d, 0xdb, 0x2e, 0x4f, 0x73, 0xbc, 0x98, 0xee,
                0x9f, 0x02
            ][..]
        )
    );
    let key = m.key.as_ref().unwrap();
    let mask = m.mask.as_ref().unwrap();
    assert_eq!(Key::parse(&key.bytes, key.offset).unwrap(), upcall_key());
    let mk = Key::parse(&mask.bytes, mask.offset).unwrap();
    assert_eq!(
        mk,
        Key(vec![
            KeyAttr::Priority(0),
            KeyAttr::Tunnel(TunnelKey {
                ttl: Some(0),
                ..Default::default()
            }),
            KeyAttr::SkbMark(0),
            KeyAttr::RecircId(u32::MAX),
            KeyAttr::DpHash(0),
            KeyAttr::InPort(u32::MAX),
            eth(BCAST, BCAST),
            KeyAttr::Ethertype(0xffff),
            KeyAttr::Arp(ArpKey {
                sip: Ipv4Addr::BROADCAST,
                tip: Ipv4Addr::BROADCAST,
                op: 0xffff,
                sha: [0; 6],
                tha: [0; 6],
            }),
        ])
    );
    assert_eq!(mk.to_bytes(), VSD_FLOW_NEW_MASK);
    // Conntrack values of 0 in the key, absent from the mask: a wildcard, so acceptable even
    // without a connection tracker.
    parse_match(&key.bytes, key.offset, Some((&mask.bytes, mask.offset))).unwrap();
    let actions = m.actions.as_ref().unwrap();
    assert_eq!(
        Actions::parse(&actions.bytes, actions.offset).unwrap(),
        Actions(vec![Action::Output(1)])
    );
    let mut buf = Vec::new();
    m.emit(&mut buf, FLOW_FAMILY, h.flags, h.seq, h.pid);
    assert_eq!(buf, bytes);
}

// ---------------------------------------------------------------------------------------------
// ovs-vswitchd feature probes (`check_support`)

/// Probe 1, recirculation: exact-match key with RECIRC_ID and DP_HASH, empty actions, PROBE,
/// no ECHO and no CREATE (an identical leftover flow would just be updated).
#[rustfmt::skip]
const PROBE_RECIRC_NEW: [u8; 92] = [
    0x5c, 0, 0, 0,   0x22, 0,   0x01, 0,   8, 0, 0, 0,   0x1b, 0, 0, 0, // nlmsghdr: len 92, REQUEST, seq 8, portid 27
    0x01, 0x01, 0, 0,                                  // genl: cmd NEW, version 1
    5, 0, 0, 0,                                        // dp_ifindex 5
    0x3c, 0, 1, 0,                                     // KEY (56 bytes)
    8, 0, 2, 0,   0, 0, 0, 0,                          //   PRIORITY 0
    8, 0, 0x0f, 0,   0, 0, 0, 0,                       //   SKB_MARK 0
    8, 0, 0x14, 0,   1, 0, 0, 0,                       //   RECIRC_ID 1
    8, 0, 0x13, 0,   1, 0, 0, 0,                       //   DP_HASH 1
    8, 0, 3, 0,   0, 0, 0, 0,                          //   IN_PORT 0
    0x10, 0, 4, 0,   0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //   ETHERNET all zero (no ETHERTYPE: 802.2)
    4, 0, 2, 0,                                        // ACTIONS, empty (drop)
    4, 0, 8, 0,                                        // PROBE
];

/// Its FLOW_GET reply, which is what makes OVS call the feature supported: the key back, the
/// exact mask userdpd built for a flow installed without one, and the empty actions.
#[rustfmt::skip]
const PROBE_RECIRC_GET_REPLY: [u8; 148] = [
    0x94, 0, 0, 0,   0x22, 0,   0, 0,   9, 0, 0, 0,   0x1b, 0, 0, 0, // nlmsghdr: len 148, flags 0, seq 9, portid 27
    0x03, 0x01, 0, 0,                                  // genl: cmd GET, version 1
    5, 0, 0, 0,                                        // dp_ifindex 5
    0x3c, 0, 1, 0,                                     // KEY (56 bytes), as sent
    8, 0, 2, 0,   0, 0, 0, 0,
    8, 0, 0x0f, 0,   0, 0, 0, 0,
    8, 0, 0x14, 0,   1, 0, 0, 0,
    8, 0, 0x13, 0,   1, 0, 0, 0,
    8, 0, 3, 0,   0, 0, 0, 0,
    0x10, 0, 4, 0,   0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0x3c, 0, 7, 0,                                     // MASK (56 bytes): every attribute exact
    8, 0, 2, 0,   0xff, 0xff, 0xff, 0xff,              //   PRIORITY
    8, 0, 0x0f, 0,   0xff, 0xff, 0xff, 0xff,           //   SKB_MARK
    8, 0, 0x14, 0,   0xff, 0xff, 0xff, 0xff,           //   RECIRC_ID
    8, 0, 0x13, 0,   0xff, 0xff, 0xff, 0xff,           //   DP_HASH
    8, 0, 3, 0,   0xff, 0xff, 0xff, 0xff,              //   IN_PORT
    0x10, 0, 4, 0,   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // ETHERNET
    4, 0, 2, 0,                                        // ACTIONS, empty
];

fn recirc_probe_key() -> Key {
    Key(vec![
        KeyAttr::Priority(0),
        KeyAttr::SkbMark(0),
        KeyAttr::RecircId(1),
        KeyAttr::DpHash(1),
        KeyAttr::InPort(0),
        eth([0; 6], [0; 6]),
    ])
}

#[test]
fn vswitchd_recirculation_probe() {
    let (h, p) = one(&PROBE_RECIRC_NEW);
    assert_eq!(h.flags, NLM_F_REQUEST, "no ECHO, no CREATE");
    let m = FlowMsg::parse(p).unwrap();
    assert!(m.probe);
    assert_eq!((m.ufid(), m.mask.as_ref()), (None, None));
    let key = m.key.as_ref().unwrap();
    assert_eq!(
        Key::parse(&key.bytes, key.offset).unwrap(),
        recirc_probe_key()
    );
    assert_eq!(m.actions.as_ref().unwrap().bytes, Vec::<u8>::new());
    validate_match(&recirc_probe_key(), None).unwrap();
    let mut buf = Vec::new();
    m.emit(&mut buf, FLOW_FAMILY, h.flags, h.seq, h.pid);
    assert_eq!(buf, PROBE_RECIRC_NEW);

    let (h, p) = one(&PROBE_RECIRC_GET_REPLY);
    let r = FlowMsg::parse(p).unwrap();
    assert_eq!(r.cmd, OvsFlowCmd::OVS_FLOW_CMD_GET);
    let mask = r.mask.as_ref().unwrap();
    assert_eq!(
        Key::parse(&mask.bytes, mask.offset).unwrap(),
        Key(vec![
            KeyAttr::Priority(u32::MAX),
            KeyAttr::SkbMark(u32::MAX),
            KeyAttr::RecircId(u32::MAX),
            KeyAttr::DpHash(u32::MAX),
            KeyAttr::InPort(u32::MAX),
            eth(BCAST, BCAST),
        ])
    );
    // No STATS/USED in the reply: fine for OVS (the flow never saw a packet).
    assert_eq!((r.stats, r.used), (None, None));
    let mut buf = Vec::new();
    r.emit(&mut buf, FLOW_FAMILY, h.flags, h.seq, h.pid);
    assert_eq!(buf, PROBE_RECIRC_GET_REPLY);
}

/// Probe 15, ct_state: an IPv4 key with CT_STATE NEW.
#[rustfmt::skip]
const PROBE_CT_STATE_NEW: [u8; 108] = [
    0x6c, 0, 0, 0,   0x22, 0,   0x01, 0,   0x41, 0, 0, 0,   0x1b, 0, 0, 0, // nlmsghdr: len 108, REQUEST, seq 65, portid 27
    0x01, 0x01, 0, 0,                                  // genl: cmd NEW, version 1
    5, 0, 0, 0,                                        // dp_ifindex 5
    0x4c, 0, 1, 0,                                     // KEY (72 bytes)
    8, 0, 2, 0,   0, 0, 0, 0,                          //   PRIORITY 0
    8, 0, 0x0f, 0,   0, 0, 0, 0,                       //   SKB_MARK 0
    8, 0, 0x16, 0,   1, 0, 0, 0,                       //   CT_STATE 0x01 (NEW)
    8, 0, 3, 0,   0, 0, 0, 0,                          //   IN_PORT 0
    0x10, 0, 4, 0,   0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //   ETHERNET zero
    6, 0, 6, 0,   0x08, 0, 0, 0,                       //   ETHERTYPE IPv4
    0x10, 0, 7, 0,   0, 0, 0, 0,   0, 0, 0, 0,   0, 0, 0, 0, // IPV4 all zero (src, dst, proto, tos, ttl, frag)
    4, 0, 2, 0,                                        // ACTIONS, empty
    4, 0, 8, 0,                                        // PROBE
];

/// userdpd's refusal (no connection tracker): EINVAL, which OVS takes silently as "does not
/// support ct_state".
#[rustfmt::skip]
const PROBE_CT_STATE_ERR: [u8; 120] = [
    0x78, 0, 0, 0,   0x02, 0,   0x00, 0x03,   0x41, 0, 0, 0,   0x1b, 0, 0, 0, // nlmsghdr: len 120, NLMSG_ERROR, CAPPED|ACK_TLVS, seq 65
    0xea, 0xff, 0xff, 0xff,                            // error -22 (EINVAL)
    0x6c, 0, 0, 0,   0x22, 0,   0x01, 0,   0x41, 0, 0, 0,   0x1b, 0, 0, 0, // the request's header
    0x49, 0, 1, 0,                                     // NLMSGERR_ATTR_MSG (68 bytes + NUL)
    b'c', b'o', b'n', b'n', b't', b'r', b'a', b'c', b'k', b' ', b'f', b'i', b'e', b'l', b'd', b's', b' ',
    b'c', b'a', b'n', b'n', b'o', b't', b' ', b'b', b'e', b' ', b'm', b'a', b't', b'c', b'h', b'e', b'd', b':', b' ',
    b'u', b's', b'e', b'r', b'd', b'p', b' ', b'h', b'a', b's', b' ', b'n', b'o', b' ',
    b'c', b'o', b'n', b'n', b'e', b'c', b't', b'i', b'o', b'n', b' ', b't', b'r', b'a', b'c', b'k', b'e', b'r', 0,
    0, 0, 0,                                           //   pad
    8, 0, 2, 0,   0x1c, 0, 0, 0,                       // NLMSGERR_ATTR_OFFS 28 (as captured; userdpd now names CT_STATE at 44, see dp_control)
];

#[test]
fn vswitchd_ct_state_probe_is_refused() {
    let (h, p) = one(&PROBE_CT_STATE_NEW);
    let m = FlowMsg::parse(p).unwrap();
    assert!(m.probe);
    let key = m.key.as_ref().unwrap();
    assert_eq!(
        Key::parse(&key.bytes, key.offset).unwrap(),
        Key(vec![
            KeyAttr::Priority(0),
            KeyAttr::SkbMark(0),
            KeyAttr::CtState(1),
            KeyAttr::InPort(0),
            eth([0; 6], [0; 6]),
            KeyAttr::Ethertype(0x0800),
            KeyAttr::Ipv4(Ipv4Key {
                src: Ipv4Addr::UNSPECIFIED,
                dst: Ipv4Addr::UNSPECIFIED,
                proto: 0,
                tos: 0,
                ttl: 0,
                frag: 0,
            }),
        ])
    );
    let mut buf = Vec::new();
    m.emit(&mut buf, FLOW_FAMILY, h.flags, h.seq, h.pid);
    assert_eq!(buf, PROBE_CT_STATE_NEW);

    let (h, p) = one(&PROBE_CT_STATE_ERR);
    let e = ErrorMsg::parse(h.flags, p).unwrap();
    assert_eq!(e.error, -EINVAL);
    assert_eq!(e.request, one(&PROBE_CT_STATE_NEW).0);
    assert_eq!(
        e.ext_msg.as_deref(),
        Some("conntrack fields cannot be matched: userdp has no connection tracker")
    );
    assert_eq!(e.ext_offs, Some(28));
    let mut buf = Vec::new();
    e.emit(&mut buf, h.pid);
    assert_eq!(buf, PROBE_CT_STATE_ERR);
}
