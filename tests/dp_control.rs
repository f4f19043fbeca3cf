//! Control plane tier: the datapath service in-process on a temporary socket, memory-backed
//! ports, every family's happy path and the kernel's errno on each error path.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use userdp::daemon::{Daemon, DaemonConfig, DaemonHandle};
use userdp::dp::{
    DpConfig, Registry, FAMILY_DATAPATH, FAMILY_FLOW, FAMILY_METER, FAMILY_VPORT, GROUP_VPORT,
};
use userdp::transport::Client;
use userdp_protocol::errno::*;
use userdp_protocol::genl::ctrl::{FamilyInfo, GetFamily};
use userdp_protocol::nl::NlaWriter;
use userdp_protocol::nl::{
    messages, ErrorMsg, NlMsgHdr, NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP,
    NLM_F_ECHO, NLM_F_REQUEST,
};
use userdp_protocol::ovs::common::RawAttrs;
use userdp_protocol::ovs::ct_limit::{CtLimitMsg, OvsCtLimitCmd, OvsZoneLimit};
use userdp_protocol::ovs::datapath::{DatapathMsg, OvsDpCmd, OVS_DP_F_VPORT_PIDS};
use userdp_protocol::ovs::flow::{
    FlowMsg, OvsFlowCmd, OVS_UFID_F_OMIT_ACTIONS, OVS_UFID_F_OMIT_KEY, OVS_UFID_F_OMIT_MASK,
};
use userdp_protocol::ovs::meter::{MeterBand, MeterMsg, OvsMeterBandType, OvsMeterCmd};
use userdp_protocol::ovs::vport::{OvsVportCmd, OvsVportType, VportMsg};
use userdp_protocol::text::action::parse_actions;
use userdp_protocol::text::key::parse_key;

struct Fx {
    path: PathBuf,
    _dir: TempDir,
    _daemon: DaemonHandle,
}

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fx() -> Fx {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "userdp-dpc-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sock");
    let reg = Arc::new(Registry::new(DpConfig::dummy()));
    let daemon = Daemon::start(DaemonConfig::new(&path), reg).unwrap();
    Fx {
        path,
        _dir: TempDir(dir),
        _daemon: daemon,
    }
}

impl Fx {
    fn client(&self) -> Client {
        Client::connect(&self.path).unwrap()
    }
}

/// Reply of a transaction: one message's header and payload, or the errno of NLMSG_ERROR.
type Reply = Result<(NlMsgHdr, Vec<u8>), i32>;

fn transact(c: &mut Client, build: impl FnOnce(&mut Vec<u8>, u32, u32)) -> Vec<Reply> {
    let mut buf = Vec::new();
    let seq = c.next_seq();
    build(&mut buf, seq, c.portid());
    let mut out = Vec::new();
    for d in c.transact(&buf).unwrap() {
        for m in messages(&d) {
            let m = m.unwrap();
            assert_eq!(m.header.seq, seq, "reply carries the request's seq");
            assert_eq!(m.header.pid, c.portid(), "reply carries our portid");
            if m.header.kind == NLMSG_ERROR {
                let e = ErrorMsg::parse(m.header.flags, m.payload).unwrap();
                if e.error != 0 {
                    eprintln!("error {}: {:?} at {:?}", e.error, e.ext_msg, e.ext_offs);
                }
                out.push(Err(-e.error));
            } else {
                out.push(Ok((m.header, m.payload.to_vec())));
            }
        }
    }
    out
}

fn one(c: &mut Client, build: impl FnOnce(&mut Vec<u8>, u32, u32)) -> Reply {
    let mut r = transact(c, build);
    assert_eq!(r.len(), 1, "exactly one reply: {r:?}");
    r.remove(0)
}

fn errno_of(r: Reply) -> i32 {
    match r {
        Err(e) => e,
        Ok((h, _)) => panic!("expected an error, got a reply of type {:#x}", h.kind),
    }
}

const ECHO: u16 = NLM_F_REQUEST | NLM_F_ECHO;

fn dp_new(c: &mut Client, name: &str) -> Reply {
    let pid = c.portid();
    one(c, |b, seq, p| {
        let mut m = DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_NEW, 0);
        m.name = Some(name.into());
        m.upcall_pid = Some(pid);
        m.user_features = Some(OVS_DP_F_VPORT_PIDS);
        m.emit(b, FAMILY_DATAPATH, ECHO, seq, p);
    })
}

fn dp_get(c: &mut Client, name: &str) -> Result<DatapathMsg, i32> {
    one(c, |b, seq, p| {
        let mut m = DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_GET, 0);
        m.name = Some(name.into());
        m.emit(b, FAMILY_DATAPATH, ECHO, seq, p);
    })
    .map(|(_, p)| DatapathMsg::parse(&p).unwrap())
}

fn new_dp(c: &mut Client, name: &str) -> i32 {
    let (h, p) = dp_new(c, name).unwrap();
    assert_eq!(h.kind, FAMILY_DATAPATH);
    DatapathMsg::parse(&p).unwrap().dp_ifindex
}

fn vport_new(
    c: &mut Client,
    dp: i32,
    name: &str,
    kind: OvsVportType,
    port_no: Option<u32>,
) -> Result<VportMsg, i32> {
    let pid = c.portid();
    one(c, |b, seq, p| {
        let mut m = VportMsg::new(OvsVportCmd::OVS_VPORT_CMD_NEW, dp);
        m.name = Some(name.into());
        m.kind = Some(kind);
        m.port_no = port_no;
        m.upcall_pids = Some(vec![pid]);
        m.emit(b, FAMILY_VPORT, ECHO, seq, p);
    })
    .map(|(_, p)| VportMsg::parse(&p).unwrap())
}

fn key_bytes(text: &str) -> (RawAttrs, RawAttrs) {
    let (k, m) = parse_key(text).unwrap();
    let mut kb = Vec::new();
    k.emit(&mut NlaWriter::new(&mut kb));
    let mut mb = Vec::new();
    m.emit(&mut NlaWriter::new(&mut mb));
    (RawAttrs::new(kb), RawAttrs::new(mb))
}

fn actions_bytes(text: &str) -> RawAttrs {
    let a = parse_actions(text).unwrap();
    let mut b = Vec::new();
    a.emit(&mut NlaWriter::new(&mut b));
    RawAttrs::new(b)
}

fn flow_msg(
    cmd: OvsFlowCmd,
    dp: i32,
    ufid: Option<u8>,
    key: Option<&str>,
    actions: Option<&str>,
) -> FlowMsg {
    let mut m = FlowMsg::new(cmd, dp);
    m.ufid = ufid.map(|u| vec![u; 16]);
    if let Some(k) = key {
        let (k, mask) = key_bytes(k);
        m.key = Some(k);
        m.mask = Some(mask);
    }
    m.actions = actions.map(actions_bytes);
    m
}

fn flow(c: &mut Client, m: &FlowMsg, flags: u16) -> Vec<Reply> {
    transact(c, |b, seq, p| m.emit(b, FAMILY_FLOW, flags, seq, p))
}

const KEY_A: &str = "in_port(1),eth(src=00:00:00:00:00:01,dst=00:00:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1,dst=2)";
const KEY_B: &str = "in_port(2),eth(src=00:00:00:00:00:02,dst=00:00:00:00:00:01),eth_type(0x0806),arp(sip=10.0.0.2,tip=10.0.0.1,op=1,sha=00:00:00:00:00:02,tha=00:00:00:00:00:00)";

fn dump_all(
    c: &mut Client,
    build: impl FnOnce(&mut Vec<u8>, u32, u32),
) -> (Vec<(NlMsgHdr, Vec<u8>)>, i32) {
    let mut buf = Vec::new();
    let seq = c.next_seq();
    build(&mut buf, seq, c.portid());
    let mut d = c.dump(&buf).unwrap();
    let mut out = Vec::new();
    for m in d.by_ref() {
        let m = m.unwrap();
        let h = NlMsgHdr::parse(&m).unwrap();
        assert_eq!(h.seq, seq);
        out.push((h, m[16..].to_vec()));
    }
    let status = d.status().unwrap_or(0);
    (out, status)
}

#[test]
fn nlctrl_resolves_every_family_and_rejects_unknown() {
    let f = fx();
    let mut c = f.client();
    for (name, id) in [
        ("ovs_datapath", 0x20),
        ("ovs_vport", 0x21),
        ("ovs_flow", 0x22),
        ("ovs_packet", 0x23),
        ("ovs_meter", 0x24),
        ("ovs_ct_limit", 0x25),
    ] {
        let (h, p) = one(&mut c, |b, seq, pid| {
            GetFamily::by_name(name).emit(b, NLM_F_REQUEST, seq, pid)
        })
        .unwrap();
        assert_eq!(h.kind, 0x10);
        let info = FamilyInfo::parse(&p).unwrap();
        assert_eq!((info.name.as_str(), info.id, info.hdrsize), (name, id, 4));
        if name == "ovs_vport" {
            assert_eq!(
                info.mcast_groups,
                vec![("ovs_vport".to_owned(), GROUP_VPORT)]
            );
        }
    }
    let (_, p) = one(&mut c, |b, seq, pid| {
        GetFamily::by_id(0x22).emit(b, NLM_F_REQUEST, seq, pid)
    })
    .unwrap();
    assert_eq!(FamilyInfo::parse(&p).unwrap().name, "ovs_flow");
    assert_eq!(
        errno_of(one(&mut c, |b, seq, pid| GetFamily::by_name("nl80211")
            .emit(b, NLM_F_REQUEST, seq, pid))),
        ENOENT
    );
    let (all, status) = dump_all(&mut c, |b, seq, pid| {
        GetFamily::default().emit(b, NLM_F_REQUEST | NLM_F_DUMP, seq, pid)
    });
    assert_eq!(status, 0);
    let names: Vec<_> = all
        .iter()
        .map(|(_, p)| FamilyInfo::parse(p).unwrap().name)
        .collect();
    assert_eq!(
        names,
        [
            "nlctrl",
            "ovs_datapath",
            "ovs_vport",
            "ovs_flow",
            "ovs_packet",
            "ovs_meter",
            "ovs_ct_limit"
        ]
    );
    // An unregistered family id is ENOENT.
    assert_eq!(
        errno_of(one(&mut c, |b, seq, p| DatapathMsg::new(
            OvsDpCmd::OVS_DP_CMD_GET,
            0
        )
        .emit(b, 0x77, ECHO, seq, p))),
        ENOENT
    );
}

#[test]
fn datapath_lifecycle_and_errnos() {
    let f = fx();
    let mut c = f.client();
    let (h, p) = dp_new(&mut c, "dp0").unwrap();
    assert_eq!(h.kind, FAMILY_DATAPATH);
    let m = DatapathMsg::parse(&p).unwrap();
    assert_eq!(m.cmd, OvsDpCmd::OVS_DP_CMD_NEW);
    assert_eq!(m.name.as_deref(), Some("dp0"));
    assert_eq!(m.user_features, Some(OVS_DP_F_VPORT_PIDS));
    assert_eq!(m.masks_cache_size, Some(256));
    assert_eq!(m.stats.unwrap().n_flows, 0);
    assert!(m.dp_ifindex > 0);
    assert_eq!(errno_of(dp_new(&mut c, "dp0")), EEXIST);
    assert_eq!(dp_get(&mut c, "dp0").unwrap().dp_ifindex, m.dp_ifindex);
    assert_eq!(dp_get(&mut c, "nope").unwrap_err(), ENODEV);
    // NEW without UPCALL_PID, or without NAME: EINVAL.
    let r = one(&mut c, |b, seq, p| {
        let mut m = DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_NEW, 0);
        m.name = Some("dp1".into());
        m.emit(b, FAMILY_DATAPATH, ECHO, seq, p);
    });
    assert_eq!(errno_of(r), EINVAL);
    // Unknown feature bits: EOPNOTSUPP (OVS's bit-31 probe relies on it).
    let r = one(&mut c, |b, seq, p| {
        let mut m = DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_SET, 0);
        m.name = Some("dp0".into());
        m.user_features = Some(1 << 31);
        m.emit(b, FAMILY_DATAPATH, ECHO, seq, p);
    });
    assert_eq!(errno_of(r), EOPNOTSUPP);
    // Masks cache size not a power of two: EINVAL; above the maximum: ERANGE.
    for (size, errno) in [(100, EINVAL), (1 << 20, ERANGE)] {
        let r = one(&mut c, |b, seq, p| {
            let mut m = DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_SET, 0);
            m.name = Some("dp0".into());
            m.masks_cache_size = Some(size);
            m.emit(b, FAMILY_DATAPATH, ECHO, seq, p);
        });
        assert_eq!(errno_of(r), errno, "masks cache size {size}");
    }
    // SET without USER_FEATURES resets them, as the kernel does.
    let (_, p) = one(&mut c, |b, seq, p| {
        let mut m = DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_SET, 0);
        m.name = Some("dp0".into());
        m.masks_cache_size = Some(32);
        m.emit(b, FAMILY_DATAPATH, ECHO, seq, p);
    })
    .unwrap();
    let m = DatapathMsg::parse(&p).unwrap();
    assert_eq!(
        (m.user_features, m.masks_cache_size, m.cmd),
        (Some(0), Some(32), OvsDpCmd::OVS_DP_CMD_SET)
    );
    new_dp(&mut c, "dp1");
    let (all, _) = dump_all(&mut c, |b, seq, p| {
        DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_GET, 0).emit(
            b,
            FAMILY_DATAPATH,
            NLM_F_REQUEST | NLM_F_DUMP | NLM_F_ACK,
            seq,
            p,
        )
    });
    let mut names: Vec<_> = all
        .iter()
        .map(|(_, p)| DatapathMsg::parse(p).unwrap().name.unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["dp0", "dp1"]);
    let (_, p) = one(&mut c, |b, seq, p| {
        let mut m = DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_DEL, 0);
        m.name = Some("dp0".into());
        m.emit(b, FAMILY_DATAPATH, ECHO, seq, p);
    })
    .unwrap();
    assert_eq!(
        DatapathMsg::parse(&p).unwrap().cmd,
        OvsDpCmd::OVS_DP_CMD_DEL
    );
    assert_eq!(dp_get(&mut c, "dp0").unwrap_err(), ENODEV);
    // Without ECHO a successful change is silent; with ACK it is acknowledged.
    let r = transact(&mut c, |b, seq, p| {
        let mut m = DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_SET, 0);
        m.name = Some("dp1".into());
        m.emit(b, FAMILY_DATAPATH, NLM_F_REQUEST, seq, p);
    });
    assert!(r.is_empty(), "{r:?}");
    let r = transact(&mut c, |b, seq, p| {
        let mut m = DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_SET, 0);
        m.name = Some("dp1".into());
        m.emit(b, FAMILY_DATAPATH, NLM_F_REQUEST | NLM_F_ACK, seq, p);
    });
    assert_eq!(r.len(), 1);
    assert_eq!(
        r[0].as_ref().unwrap_err(),
        &0,
        "an ACK is an NLMSG_ERROR with error 0"
    );
}

#[test]
fn vport_lifecycle_numbers_and_errnos() {
    let f = fx();
    let mut c = f.client();
    let dp = new_dp(&mut c, "dpv");
    let p1 = vport_new(
        &mut c,
        dp,
        "eth-a",
        OvsVportType::OVS_VPORT_TYPE_NETDEV,
        None,
    )
    .unwrap();
    assert_eq!(
        (p1.port_no, p1.dp_ifindex, p1.name.as_deref()),
        (Some(1), dp, Some("eth-a"))
    );
    assert_eq!(p1.upcall_pids, Some(vec![c.portid()]));
    let p2 = vport_new(
        &mut c,
        dp,
        "int-b",
        OvsVportType::OVS_VPORT_TYPE_INTERNAL,
        None,
    )
    .unwrap();
    assert_eq!(p2.port_no, Some(2));
    assert_eq!(
        vport_new(
            &mut c,
            dp,
            "eth-c",
            OvsVportType::OVS_VPORT_TYPE_NETDEV,
            Some(7)
        )
        .unwrap()
        .port_no,
        Some(7)
    );
    assert_eq!(
        vport_new(
            &mut c,
            dp,
            "eth-d",
            OvsVportType::OVS_VPORT_TYPE_NETDEV,
            Some(7)
        )
        .unwrap_err(),
        EBUSY
    );
    assert_eq!(
        vport_new(
            &mut c,
            dp,
            "eth-d",
            OvsVportType::OVS_VPORT_TYPE_NETDEV,
            Some(65535)
        )
        .unwrap_err(),
        EFBIG
    );
    assert_eq!(
        vport_new(
            &mut c,
            dp,
            "eth-a",
            OvsVportType::OVS_VPORT_TYPE_NETDEV,
            None
        )
        .unwrap_err(),
        EEXIST
    );
    assert_eq!(
        vport_new(
            &mut c,
            dp + 1000,
            "eth-e",
            OvsVportType::OVS_VPORT_TYPE_NETDEV,
            None
        )
        .unwrap_err(),
        ENODEV
    );
    assert_eq!(
        vport_new(&mut c, dp, "stt0", OvsVportType::OVS_VPORT_TYPE_STT, None).unwrap_err(),
        EAFNOSUPPORT
    );
    // Lowest free number is reused.
    assert_eq!(
        vport_new(
            &mut c,
            dp,
            "eth-f",
            OvsVportType::OVS_VPORT_TYPE_NETDEV,
            None
        )
        .unwrap()
        .port_no,
        Some(3)
    );
    let get = |c: &mut Client, name: Option<&str>, port_no: Option<u32>, dp_ifindex: i32| {
        one(c, |b, seq, p| {
            let mut m = VportMsg::new(OvsVportCmd::OVS_VPORT_CMD_GET, dp_ifindex);
            m.name = name.map(Into::into);
            m.port_no = port_no;
            m.emit(b, FAMILY_VPORT, ECHO, seq, p);
        })
        .map(|(_, p)| VportMsg::parse(&p).unwrap())
    };
    assert_eq!(
        get(&mut c, Some("int-b"), None, 0).unwrap().port_no,
        Some(2)
    );
    assert_eq!(
        get(&mut c, None, Some(7), dp).unwrap().name.as_deref(),
        Some("eth-c")
    );
    assert_eq!(get(&mut c, Some("nope"), None, 0).unwrap_err(), ENODEV);
    assert_eq!(get(&mut c, None, Some(9), dp).unwrap_err(), ENODEV);
    assert_eq!(get(&mut c, None, Some(70000), dp).unwrap_err(), EFBIG);
    assert_eq!(get(&mut c, None, None, dp).unwrap_err(), EINVAL);
    // The local port cannot be deleted.
    let del = |c: &mut Client, port_no: u32| {
        one(c, |b, seq, p| {
            let mut m = VportMsg::new(OvsVportCmd::OVS_VPORT_CMD_DEL, dp);
            m.port_no = Some(port_no);
            m.emit(b, FAMILY_VPORT, ECHO, seq, p);
        })
    };
    assert_eq!(errno_of(del(&mut c, 0)), EINVAL);
    let (_, p) = del(&mut c, 7).unwrap();
    assert_eq!(
        VportMsg::parse(&p).unwrap().cmd,
        OvsVportCmd::OVS_VPORT_CMD_DEL
    );
    assert_eq!(errno_of(del(&mut c, 7)), ENODEV);
    // SET: new pids; a type change is EINVAL.
    let (_, p) = one(&mut c, |b, seq, p| {
        let mut m = VportMsg::new(OvsVportCmd::OVS_VPORT_CMD_SET, dp);
        m.port_no = Some(1);
        m.upcall_pids = Some(vec![11, 12]);
        m.emit(b, FAMILY_VPORT, ECHO, seq, p);
    })
    .unwrap();
    assert_eq!(VportMsg::parse(&p).unwrap().upcall_pids, Some(vec![11, 12]));
    let r = one(&mut c, |b, seq, p| {
        let mut m = VportMsg::new(OvsVportCmd::OVS_VPORT_CMD_SET, dp);
        m.port_no = Some(1);
        m.kind = Some(OvsVportType::OVS_VPORT_TYPE_INTERNAL);
        m.emit(b, FAMILY_VPORT, ECHO, seq, p);
    });
    assert_eq!(errno_of(r), EINVAL);
    // Dump: ascending port numbers, local port first.
    let (all, status) = dump_all(&mut c, |b, seq, p| {
        VportMsg::new(OvsVportCmd::OVS_VPORT_CMD_GET, dp).emit(
            b,
            FAMILY_VPORT,
            NLM_F_REQUEST | NLM_F_DUMP | NLM_F_ACK,
            seq,
            p,
        )
    });
    assert_eq!(status, 0);
    let ports: Vec<_> = all
        .iter()
        .map(|(_, p)| VportMsg::parse(p).unwrap().port_no.unwrap())
        .collect();
    assert_eq!(ports, [0, 1, 2, 3]);
    // A dump of an unknown datapath is empty with -ENODEV inside NLMSG_DONE.
    let (all, status) = dump_all(&mut c, |b, seq, p| {
        VportMsg::new(OvsVportCmd::OVS_VPORT_CMD_GET, 4242).emit(
            b,
            FAMILY_VPORT,
            NLM_F_REQUEST | NLM_F_DUMP | NLM_F_ACK,
            seq,
            p,
        )
    });
    assert!(all.is_empty());
    assert_eq!(status, -ENODEV);
}

#[test]
fn multicast_listener_sees_vport_events() {
    let f = fx();
    let mut c = f.client();
    let mut l = f.client();
    l.join_group(GROUP_VPORT).unwrap();
    let dp = new_dp(&mut c, "dpm");
    vport_new(
        &mut c,
        dp,
        "eth-m",
        OvsVportType::OVS_VPORT_TYPE_NETDEV,
        None,
    )
    .unwrap();
    let d = l
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .expect("a VPORT_NEW notification");
    let m = messages(&d).next().unwrap().unwrap();
    assert_eq!(m.header.kind, FAMILY_VPORT);
    let v = VportMsg::parse(m.payload).unwrap();
    assert_eq!(
        (v.cmd, v.name.as_deref()),
        (OvsVportCmd::OVS_VPORT_CMD_NEW, Some("eth-m"))
    );
    one(&mut c, |b, seq, p| {
        let mut m = VportMsg::new(OvsVportCmd::OVS_VPORT_CMD_DEL, dp);
        m.name = Some("eth-m".into());
        m.emit(b, FAMILY_VPORT, ECHO, seq, p);
    })
    .unwrap();
    let d = l
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .expect("a VPORT_DEL notification");
    let v = VportMsg::parse(messages(&d).next().unwrap().unwrap().payload).unwrap();
    assert_eq!(v.cmd, OvsVportCmd::OVS_VPORT_CMD_DEL);
    // The requester asked for an echo, so it got the unicast reply and no multicast copy.
    assert!(c
        .recv_timeout(Duration::from_millis(100))
        .unwrap()
        .is_none());
}

#[test]
fn flows_new_get_set_del_with_ufid_and_key() {
    let f = fx();
    let mut c = f.client();
    let dp = new_dp(&mut c, "dpf");
    // NEW with UFID, silent without ECHO.
    let m = flow_msg(
        OvsFlowCmd::OVS_FLOW_CMD_NEW,
        dp,
        Some(1),
        Some(KEY_A),
        Some("2"),
    );
    let r = flow(&mut c, &m, NLM_F_REQUEST | NLM_F_CREATE);
    assert!(r.is_empty(), "{r:?}");
    // Same flow again with CREATE: EEXIST.
    assert_eq!(
        errno_of(flow(&mut c, &m, NLM_F_REQUEST | NLM_F_CREATE).remove(0)),
        EEXIST
    );
    // Without CREATE it is a modify: the actions change.
    let m2 = flow_msg(
        OvsFlowCmd::OVS_FLOW_CMD_NEW,
        dp,
        Some(1),
        Some(KEY_A),
        Some("3,4"),
    );
    let r = flow(&mut c, &m2, ECHO);
    let (_, p) = r[0].clone().unwrap();
    let got = FlowMsg::parse(&p).unwrap();
    assert_eq!(got.actions.unwrap(), actions_bytes("3,4"));
    // GET by UFID: UFID first, masked key, mask, actions; no stats for an unused flow.
    let g = flow_msg(OvsFlowCmd::OVS_FLOW_CMD_GET, dp, Some(1), None, None);
    let (_, p) = flow(&mut c, &g, ECHO).remove(0).unwrap();
    let got = FlowMsg::parse(&p).unwrap();
    assert_eq!(got.ufid, Some(vec![1; 16]));
    assert!(got.key.is_some() && got.mask.is_some());
    assert_eq!((got.stats, got.used, got.tcp_flags), (None, None, None));
    // Terse GET.
    let mut t = g.clone();
    t.ufid_flags = Some(OVS_UFID_F_OMIT_KEY | OVS_UFID_F_OMIT_MASK | OVS_UFID_F_OMIT_ACTIONS);
    let (_, p) = flow(&mut c, &t, ECHO).remove(0).unwrap();
    let got = FlowMsg::parse(&p).unwrap();
    assert_eq!((got.key, got.mask, got.actions), (None, None, None));
    // A UFID flow cannot be addressed by key (exact lookup only sees key flows).
    let byk = flow_msg(OvsFlowCmd::OVS_FLOW_CMD_GET, dp, None, Some(KEY_A), None);
    assert_eq!(errno_of(flow(&mut c, &byk, ECHO).remove(0)), ENOENT);
    // A key flow, addressed by key.
    let kb = flow_msg(
        OvsFlowCmd::OVS_FLOW_CMD_NEW,
        dp,
        None,
        Some(KEY_B),
        Some("1"),
    );
    assert!(flow(&mut c, &kb, NLM_F_REQUEST | NLM_F_CREATE).is_empty());
    let (_, p) = flow(
        &mut c,
        &flow_msg(OvsFlowCmd::OVS_FLOW_CMD_GET, dp, None, Some(KEY_B), None),
        ECHO,
    )
    .remove(0)
    .unwrap();
    let got = FlowMsg::parse(&p).unwrap();
    assert_eq!((got.ufid, got.key.unwrap()), (None, key_bytes(KEY_B).0));
    // SET with new actions needs the key.
    let mut s = flow_msg(OvsFlowCmd::OVS_FLOW_CMD_SET, dp, Some(1), None, Some("5"));
    s.key = None;
    assert_eq!(errno_of(flow(&mut c, &s, ECHO).remove(0)), EINVAL);
    let s = flow_msg(
        OvsFlowCmd::OVS_FLOW_CMD_SET,
        dp,
        Some(1),
        Some(KEY_A),
        Some("5"),
    );
    let got = FlowMsg::parse(&flow(&mut c, &s, ECHO).remove(0).unwrap().1).unwrap();
    assert_eq!(got.actions.unwrap(), actions_bytes("5"));
    // Missing key in NEW; bad actions; unknown datapath.
    assert_eq!(
        errno_of(
            flow(
                &mut c,
                &flow_msg(OvsFlowCmd::OVS_FLOW_CMD_NEW, dp, Some(3), None, Some("1")),
                ECHO
            )
            .remove(0)
        ),
        EINVAL
    );
    assert_eq!(
        errno_of(
            flow(
                &mut c,
                &flow_msg(OvsFlowCmd::OVS_FLOW_CMD_NEW, dp, Some(3), Some(KEY_B), None),
                ECHO
            )
            .remove(0)
        ),
        EINVAL
    );
    assert_eq!(
        errno_of(
            flow(
                &mut c,
                &flow_msg(
                    OvsFlowCmd::OVS_FLOW_CMD_NEW,
                    dp + 9,
                    Some(3),
                    Some(KEY_B),
                    Some("1")
                ),
                ECHO
            )
            .remove(0)
        ),
        ENODEV
    );
    // Stats in the datapath.
    let d = dp_get(&mut c, "dpf").unwrap();
    assert_eq!(d.stats.unwrap().n_flows, 2);
    assert_eq!(d.megaflow_stats.unwrap().n_masks, 2);
    // DEL one, then flush.
    let got = FlowMsg::parse(
        &flow(
            &mut c,
            &flow_msg(OvsFlowCmd::OVS_FLOW_CMD_DEL, dp, Some(1), None, None),
            ECHO,
        )
        .remove(0)
        .unwrap()
        .1,
    )
    .unwrap();
    assert_eq!(got.cmd, OvsFlowCmd::OVS_FLOW_CMD_DEL);
    assert_eq!(
        errno_of(
            flow(
                &mut c,
                &flow_msg(OvsFlowCmd::OVS_FLOW_CMD_DEL, dp, Some(1), None, None),
                ECHO
            )
            .remove(0)
        ),
        ENOENT
    );
    assert!(flow(
        &mut c,
        &FlowMsg::new(OvsFlowCmd::OVS_FLOW_CMD_DEL, dp),
        NLM_F_REQUEST
    )
    .is_empty());
    assert_eq!(dp_get(&mut c, "dpf").unwrap().stats.unwrap().n_flows, 0);
}

#[test]
fn conntrack_matches_and_actions_are_refused_without_a_tracker() {
    let f = fx();
    let mut c = f.client();
    let dp = new_dp(&mut c, "dpct");
    // A match on ct_state: EINVAL, as ovs-vswitchd's ct_state probe must see.
    let key = format!("ct_state(+new),{KEY_B}");
    let m = flow_msg(
        OvsFlowCmd::OVS_FLOW_CMD_NEW,
        dp,
        Some(1),
        Some(&key),
        Some("2"),
    );
    assert_eq!(errno_of(flow(&mut c, &m, ECHO).remove(0)), EINVAL);
    // OVS's ct_state probe shape (no mask, KEY first): the extack offset names CT_STATE,
    // the third key attribute (message 16 + genl 4 + ovs 4 + KEY header 4 + 2 x 8 = 44).
    let (k, _) = parse_key("skb_priority(0),skb_mark(0),ct_state(0x1),in_port(0),eth(src=00:00:00:00:00:00,dst=00:00:00:00:00:00),eth_type(0x0800),ipv4(src=0.0.0.0,dst=0.0.0.0,proto=0,tos=0,ttl=0,frag=no)").unwrap();
    let mut probe = FlowMsg::new(OvsFlowCmd::OVS_FLOW_CMD_NEW, dp);
    let mut kb = Vec::new();
    k.emit(&mut NlaWriter::new(&mut kb));
    probe.key = Some(RawAttrs::new(kb));
    probe.actions = Some(RawAttrs::new(Vec::new()));
    let mut buf = Vec::new();
    let seq = c.next_seq();
    probe.emit(&mut buf, FAMILY_FLOW, NLM_F_REQUEST, seq, c.portid());
    let replies = c.transact(&buf).unwrap();
    let m = messages(&replies[0]).next().unwrap().unwrap();
    let e = ErrorMsg::parse(m.header.flags, m.payload).unwrap();
    assert_eq!((e.error, e.ext_offs), (-EINVAL, Some(44)));
    // The ct action cannot be executed: refused when the flow is installed.
    let m = flow_msg(
        OvsFlowCmd::OVS_FLOW_CMD_NEW,
        dp,
        Some(2),
        Some(KEY_A),
        Some("ct(commit),2"),
    );
    assert_eq!(errno_of(flow(&mut c, &m, ECHO).remove(0)), EOPNOTSUPP);
    // ct_clear only zeroes fields that are always zero here: accepted.
    let m = flow_msg(
        OvsFlowCmd::OVS_FLOW_CMD_NEW,
        dp,
        Some(3),
        Some(KEY_A),
        Some("ct_clear,2"),
    );
    assert!(flow(&mut c, &m, NLM_F_REQUEST).is_empty());
}

#[test]
fn flow_with_invalid_actions_for_its_key_is_einval() {
    let f = fx();
    let mut c = f.client();
    let dp = new_dp(&mut c, "dpi");
    // set(ipv4(...)) needs an IPv4 flow; KEY_B is ARP.
    let m = flow_msg(
        OvsFlowCmd::OVS_FLOW_CMD_NEW,
        dp,
        Some(1),
        Some(KEY_B),
        Some("set(skb_mark(0x1)),2"),
    );
    assert!(
        flow(&mut c, &m, NLM_F_REQUEST).is_empty(),
        "skb_mark is settable on any flow"
    );
    let mut bad = flow_msg(OvsFlowCmd::OVS_FLOW_CMD_NEW, dp, Some(2), Some(KEY_B), None);
    bad.actions = Some(RawAttrs::new(vec![8, 0, 0x63, 0, 1, 0, 0, 0])); // action type 99
    assert_eq!(errno_of(flow(&mut c, &bad, ECHO).remove(0)), EINVAL);
}

#[test]
fn flow_dump_larger_than_socket_buffer_arrives_whole_and_in_order() {
    let f = fx();
    let mut c = f.client();
    let dp = new_dp(&mut c, "dpd");
    const N: u32 = 30_000;
    // Batch installs the way ovs-vswitchd does: many requests per datagram.
    let mut seq_base = 0;
    for chunk in (0..N).collect::<Vec<_>>().chunks(50) {
        let mut buf = Vec::new();
        for &i in chunk {
            let key = format!("in_port(1),eth(src=00:00:00:00:00:01,dst=00:00:00:00:00:02),eth_type(0x0800),ipv4(src=10.{}.{}.{},dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1,dst=2)", i >> 16, (i >> 8) & 255, i & 255);
            let mut m = flow_msg(
                OvsFlowCmd::OVS_FLOW_CMD_NEW,
                dp,
                None,
                Some(&key),
                Some("2"),
            );
            let mut u = vec![0u8; 16];
            u[..4].copy_from_slice(&i.to_be_bytes());
            m.ufid = Some(u);
            seq_base += 1;
            m.emit(
                &mut buf,
                FAMILY_FLOW,
                NLM_F_REQUEST | NLM_F_CREATE,
                seq_base,
                c.portid(),
            );
        }
        assert!(
            c.transact(&buf).unwrap().is_empty(),
            "silent success for every put"
        );
    }
    assert_eq!(
        dp_get(&mut c, "dpd").unwrap().stats.unwrap().n_flows,
        u64::from(N)
    );
    let (all, status) = dump_all(&mut c, |b, seq, p| {
        FlowMsg::new(OvsFlowCmd::OVS_FLOW_CMD_GET, dp).emit(
            b,
            FAMILY_FLOW,
            NLM_F_REQUEST | NLM_F_DUMP | NLM_F_ACK,
            seq,
            p,
        )
    });
    assert_eq!(status, 0);
    assert_eq!(all.len(), N as usize);
    for (i, (_, p)) in all.iter().enumerate() {
        let m = FlowMsg::parse(p).unwrap();
        assert_eq!(
            m.ufid.unwrap()[..4],
            (i as u32).to_be_bytes(),
            "dump in installation order"
        );
    }
    // A client that vanishes mid-dump costs nothing: start a dump, read one chunk, drop.
    {
        let mut quitter = f.client();
        let mut buf = Vec::new();
        let seq = quitter.next_seq();
        FlowMsg::new(OvsFlowCmd::OVS_FLOW_CMD_GET, dp).emit(
            &mut buf,
            FAMILY_FLOW,
            NLM_F_REQUEST | NLM_F_DUMP,
            seq,
            quitter.portid(),
        );
        let mut d = quitter.dump(&buf).unwrap();
        assert!(d.next().is_some());
    }
    assert_eq!(
        dp_get(&mut c, "dpd").unwrap().stats.unwrap().n_flows,
        u64::from(N)
    );
    // Unknown datapath: NLMSG_DONE with -ENODEV, no error message.
    let (all, status) = dump_all(&mut c, |b, seq, p| {
        FlowMsg::new(OvsFlowCmd::OVS_FLOW_CMD_GET, 777).emit(
            b,
            FAMILY_FLOW,
            NLM_F_REQUEST | NLM_F_DUMP,
            seq,
            p,
        )
    });
    assert!(all.is_empty());
    assert_eq!(status, -ENODEV);
    let _ = NLMSG_DONE;
}

#[test]
fn meters_features_set_get_del() {
    let f = fx();
    let mut c = f.client();
    let dp = new_dp(&mut c, "dpmt");
    let send = |c: &mut Client, m: &MeterMsg| {
        one(c, |b, seq, p| m.emit(b, FAMILY_METER, ECHO, seq, p))
            .map(|(_, p)| MeterMsg::parse_reply(&p).unwrap())
    };
    let feats = send(
        &mut c,
        &MeterMsg::new(OvsMeterCmd::OVS_METER_CMD_FEATURES, dp),
    )
    .unwrap();
    assert_eq!(
        (feats.max_meters, feats.max_bands),
        (Some(200_000), Some(1))
    );
    assert_eq!(
        send(
            &mut c,
            &MeterMsg::new(OvsMeterCmd::OVS_METER_CMD_FEATURES, dp + 5)
        )
        .unwrap_err(),
        ENODEV
    );
    let mut set = MeterMsg::new(OvsMeterCmd::OVS_METER_CMD_SET, dp);
    set.id = Some(3);
    set.kbps = true;
    set.bands = Some(vec![MeterBand {
        kind: Some(OvsMeterBandType::OVS_METER_BAND_TYPE_DROP),
        rate: Some(1000),
        burst: Some(1000),
        stats: None,
    }]);
    assert_eq!(send(&mut c, &set).unwrap().id, Some(3));
    let mut get = MeterMsg::new(OvsMeterCmd::OVS_METER_CMD_GET, dp);
    get.id = Some(3);
    let g = send(&mut c, &get).unwrap();
    assert_eq!(g.stats.unwrap().n_packets, 0);
    assert_eq!(g.bands.unwrap().len(), 1);
    get.id = Some(4);
    assert_eq!(send(&mut c, &get).unwrap_err(), ENOENT);
    let mut norate = set.clone();
    norate.bands = Some(vec![MeterBand {
        kind: Some(OvsMeterBandType::OVS_METER_BAND_TYPE_DROP),
        rate: Some(0),
        burst: Some(1),
        stats: None,
    }]);
    assert_eq!(send(&mut c, &norate).unwrap_err(), EINVAL);
    let mut del = MeterMsg::new(OvsMeterCmd::OVS_METER_CMD_DEL, dp);
    del.id = Some(3);
    assert_eq!(send(&mut c, &del).unwrap().id, Some(3));
    assert_eq!(
        send(&mut c, &del).unwrap().id,
        None,
        "deleting a missing meter succeeds with an empty reply"
    );
}

#[test]
fn ct_limits_set_get_del() {
    let f = fx();
    let mut c = f.client();
    let send = |c: &mut Client, cmd, limits: Option<Vec<OvsZoneLimit>>| {
        let mut m = CtLimitMsg::new(cmd, 0);
        m.zone_limits = limits;
        one(c, |b, seq, p| m.emit(b, 0x25, ECHO, seq, p))
            .map(|(_, p)| CtLimitMsg::parse(&p).unwrap())
    };
    let z = |zone_id, limit| OvsZoneLimit {
        zone_id,
        limit,
        count: 0,
    };
    send(
        &mut c,
        OvsCtLimitCmd::OVS_CT_LIMIT_CMD_SET,
        Some(vec![z(-1, 10), z(5, 3)]),
    )
    .unwrap();
    let got = send(&mut c, OvsCtLimitCmd::OVS_CT_LIMIT_CMD_GET, None).unwrap();
    assert_eq!(got.zone_limits.unwrap(), vec![z(-1, 10), z(5, 3)]);
    let got = send(
        &mut c,
        OvsCtLimitCmd::OVS_CT_LIMIT_CMD_GET,
        Some(vec![z(-1, 0), z(7, 0)]),
    )
    .unwrap();
    assert_eq!(
        got.zone_limits.unwrap(),
        vec![z(-1, 10), z(7, 10)],
        "zones without a limit report the default"
    );
    send(
        &mut c,
        OvsCtLimitCmd::OVS_CT_LIMIT_CMD_DEL,
        Some(vec![z(5, 0)]),
    )
    .unwrap();
    assert_eq!(
        send(&mut c, OvsCtLimitCmd::OVS_CT_LIMIT_CMD_GET, None)
            .unwrap()
            .zone_limits
            .unwrap(),
        vec![z(-1, 10)]
    );
    assert_eq!(
        send(&mut c, OvsCtLimitCmd::OVS_CT_LIMIT_CMD_SET, None).unwrap_err(),
        EINVAL
    );
}

#[test]
fn hundred_clients_at_once() {
    let f = fx();
    let path = f.path.clone();
    let threads: Vec<_> = (0..100)
        .map(|i| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(&path).unwrap();
                let dp = new_dp(&mut c, &format!("dpc{i}"));
                let v = vport_new(
                    &mut c,
                    dp,
                    &format!("p{i}"),
                    OvsVportType::OVS_VPORT_TYPE_NETDEV,
                    None,
                )
                .unwrap();
                assert_eq!(v.port_no, Some(1));
                dp_get(&mut c, &format!("dpc{i}")).unwrap()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().stats.unwrap().n_flows, 0);
    }
    let mut c = f.client();
    let (all, _) = dump_all(&mut c, |b, seq, p| {
        DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_GET, 0).emit(
            b,
            FAMILY_DATAPATH,
            NLM_F_REQUEST | NLM_F_DUMP,
            seq,
            p,
        )
    });
    assert_eq!(all.len(), 100);
}

const CHILD_ENV: &str = "USERDP_TEST_DP_CHILD_SOCKET";

/// Not a test on its own: what the unprivileged child of `unprivileged_peer_gets_eperm` runs.
#[test]
#[ignore = "helper run by unprivileged_peer_gets_eperm as uid 65534"]
fn child_tries_to_administer() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut c = Client::connect(path).unwrap();
    let new = errno_of(dp_new(&mut c, "evil"));
    let get = dp_get(&mut c, "dpp").map(|m| m.name.unwrap_or_default());
    let del = errno_of(one(&mut c, |b, seq, p| {
        let mut m = DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_DEL, 0);
        m.name = Some("dpp".into());
        m.emit(b, FAMILY_DATAPATH, ECHO, seq, p);
    }));
    println!("CHILD new={new} get={get:?} del={del}");
}

#[test]
fn unprivileged_peer_gets_eperm() {
    use std::os::unix::process::CommandExt as _;
    let f = fx();
    let mut c = f.client();
    new_dp(&mut c, "dpp");
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    if !root {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI runs as root: the unprivileged path must be tested"
        );
        eprintln!("SKIPPED: needs root to run a child as uid 65534");
        return;
    }
    std::os::unix::fs::chown(&f.path, None, Some(65534)).unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_tries_to_administer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &f.path)
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("CHILD new={EPERM} get=Ok(\"dpp\") del={EPERM}")),
        "{stdout}"
    );
    // The datapath the child tried to delete is still there.
    assert!(dp_get(&mut c, "dpp").is_ok());
}
