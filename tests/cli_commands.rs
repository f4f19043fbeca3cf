//! userdpctl commands end to end against an in-memory stand-in for the kernel datapath: the
//! requests the commands build, the replies they decode, and the exact text and exit status
//! they produce. The stand-in answers only what these commands send, with the kernel's errno
//! for each failure (ovs-datapath-protocol.md §4); the real daemon is exercised once `main`
//! has its datapath service.

use std::collections::BTreeMap;
use std::io;

use userdp::cli::dpif::Transport;
use userdp::cli::model::NetdevStats;
use userdp::cli::netdev::Host;
use userdp::cli::options::{parse_command_line, Invocation};
use userdp::cli::{execute, Io};
use userdp_protocol::genl::ctrl::FamilyInfo;
use userdp_protocol::nl::{
    emit_done, messages, ErrorMsg, NlMsg, NLM_F_CREATE, NLM_F_DUMP, NLM_F_ECHO, NLM_F_MULTI,
};
use userdp_protocol::ovs::common::RawAttrs;
use userdp_protocol::ovs::datapath::{DatapathMsg, OvsDpCmd, OvsDpMegaflowStats, OvsDpStats};
use userdp_protocol::ovs::flow::{FlowMsg, OvsFlowCmd, OvsFlowStats};
use userdp_protocol::ovs::vport::{OvsVportCmd, OvsVportStats, OvsVportType, VportMsg};

const DP_FAMILY: u16 = 0x20;
const VPORT_FAMILY: u16 = 0x21;
const FLOW_FAMILY: u16 = 0x22;
const PID: u32 = 77;

#[derive(Clone)]
struct Port {
    name: String,
    kind: OvsVportType,
    stats: Option<OvsVportStats>,
}

#[derive(Clone)]
struct Flow {
    ufid: Option<Vec<u8>>,
    key: Vec<u8>,
    mask: Option<Vec<u8>>,
    actions: Vec<u8>,
    stats: OvsFlowStats,
    used: u64,
    tcp_flags: u8,
}

#[derive(Clone)]
struct Dp {
    name: String,
    ifindex: i32,
    stats: OvsDpStats,
    ports: BTreeMap<u32, Port>,
    flows: Vec<Flow>,
}

/// The stand-in datapath, plus a log of every request it saw.
#[derive(Default)]
struct Fake {
    no_families: bool,
    dps: Vec<Dp>,
    next_ifindex: i32,
    seq: u32,
    requests: Vec<Vec<u8>>,
}

fn error(buf: &mut Vec<u8>, m: &NlMsg<'_>, errno: i32) {
    ErrorMsg::capped(m.header, errno).emit(buf, PID);
}

impl Fake {
    fn with_dp(name: &str) -> Fake {
        let mut f = Fake::default();
        f.add_dp(name);
        f
    }

    fn add_dp(&mut self, name: &str) -> i32 {
        self.next_ifindex += 1;
        let ifindex = 100 + self.next_ifindex;
        let mut ports = BTreeMap::new();
        ports.insert(
            0,
            Port {
                name: name.into(),
                kind: OvsVportType::OVS_VPORT_TYPE_INTERNAL,
                stats: Some(OvsVportStats::default()),
            },
        );
        self.dps.push(Dp {
            name: name.into(),
            ifindex,
            stats: OvsDpStats {
                n_hit: 10,
                n_missed: 2,
                n_lost: 0,
                n_flows: 0,
            },
            ports,
            flows: Vec::new(),
        });
        ifindex
    }

    fn dp(&mut self, ifindex: i32) -> Option<&mut Dp> {
        self.dps.iter_mut().find(|d| d.ifindex == ifindex)
    }

    fn dp_msg(d: &Dp, cmd: OvsDpCmd) -> DatapathMsg {
        let mut m = DatapathMsg::new(cmd, d.ifindex);
        m.name = Some(d.name.clone());
        let mut s = d.stats;
        s.n_flows = d.flows.len() as u64;
        m.stats = Some(s);
        m.megaflow_stats = Some(OvsDpMegaflowStats {
            n_mask_hit: 15,
            n_masks: 2,
            n_cache_hit: 0,
            ..Default::default()
        });
        m.user_features = Some(3);
        m.masks_cache_size = Some(256);
        m
    }

    fn port_msg(d: &Dp, no: u32, p: &Port) -> VportMsg {
        let mut m = VportMsg::new(OvsVportCmd::OVS_VPORT_CMD_GET, d.ifindex);
        m.port_no = Some(no);
        m.kind = Some(p.kind);
        m.name = Some(p.name.clone());
        m.upcall_pids = Some(vec![0]);
        m.stats = p.stats;
        m
    }

    fn flow_msg(d: &Dp, f: &Flow) -> FlowMsg {
        let mut m = FlowMsg::new(OvsFlowCmd::OVS_FLOW_CMD_GET, d.ifindex);
        m.ufid = f.ufid.clone();
        m.key = Some(RawAttrs::new(f.key.clone()));
        m.mask = f.mask.clone().map(RawAttrs::new);
        if f.used != 0 {
            m.used = Some(f.used);
        }
        if f.stats.n_packets != 0 {
            m.stats = Some(f.stats);
        }
        if f.tcp_flags != 0 {
            m.tcp_flags = Some(f.tcp_flags);
        }
        m.actions = Some(RawAttrs::new(f.actions.clone()));
        m
    }

    /// Answers one request; returns (reply datagram, dump?).
    fn answer(&mut self, req: &[u8]) -> (Vec<u8>, bool) {
        self.requests.push(req.to_vec());
        let m = messages(req).next().unwrap().unwrap();
        let (seq, flags) = (m.header.seq, m.header.flags);
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let echo = flags & NLM_F_ECHO != 0;
        let mut out = Vec::new();
        let multi = if dump { NLM_F_MULTI } else { 0 };
        match m.header.kind {
            0x10 => {
                let name = userdp_protocol::genl::ctrl::GetFamily::parse(m.payload)
                    .unwrap()
                    .name
                    .unwrap();
                let id = match name.as_str() {
                    "ovs_datapath" => DP_FAMILY,
                    "ovs_vport" => VPORT_FAMILY,
                    "ovs_flow" => FLOW_FAMILY,
                    _ => 0,
                };
                if self.no_families || id == 0 {
                    error(&mut out, &m, libc::ENOENT);
                } else {
                    FamilyInfo {
                        name,
                        id,
                        version: 1,
                        ..Default::default()
                    }
                    .emit(&mut out, 0, seq, PID);
                }
            }
            DP_FAMILY => {
                let r = DatapathMsg::parse(m.payload).unwrap();
                let found = |s: &Fake| {
                    s.dps.iter().position(|d| match &r.name {
                        Some(n) => &d.name == n,
                        None => d.ifindex == r.dp_ifindex,
                    })
                };
                match (r.cmd, dump) {
                    (OvsDpCmd::OVS_DP_CMD_GET, true) => {
                        for d in &self.dps {
                            Self::dp_msg(d, OvsDpCmd::OVS_DP_CMD_GET)
                                .emit(&mut out, DP_FAMILY, multi, seq, PID);
                        }
                    }
                    (OvsDpCmd::OVS_DP_CMD_GET, false) => match found(self) {
                        Some(i) => Self::dp_msg(&self.dps[i], OvsDpCmd::OVS_DP_CMD_GET)
                            .emit(&mut out, DP_FAMILY, 0, seq, PID),
                        None => error(&mut out, &m, libc::ENODEV),
                    },
                    (OvsDpCmd::OVS_DP_CMD_NEW, _) => {
                        let name = r.name.clone().unwrap();
                        if found(self).is_some() {
                            error(&mut out, &m, libc::EEXIST);
                        } else {
                            self.add_dp(&name);
                            if echo {
                                let d = self.dps.last().unwrap();
                                Self::dp_msg(d, OvsDpCmd::OVS_DP_CMD_NEW)
                                    .emit(&mut out, DP_FAMILY, 0, seq, PID);
                            }
                        }
                    }
                    (OvsDpCmd::OVS_DP_CMD_DEL, _) => match found(self) {
                        Some(i) => {
                            self.dps.remove(i);
                        }
                        None => error(&mut out, &m, libc::ENODEV),
                    },
                    _ => error(&mut out, &m, libc::EOPNOTSUPP),
                }
            }
            VPORT_FAMILY => {
                let r = VportMsg::parse(m.payload).unwrap();
                match (r.cmd, dump) {
                    (OvsVportCmd::OVS_VPORT_CMD_GET, true) => {
                        if let Some(d) = self.dp(r.dp_ifindex) {
                            for (no, p) in &d.ports {
                                Self::port_msg(d, *no, p).emit(
                                    &mut out,
                                    VPORT_FAMILY,
                                    multi,
                                    seq,
                                    PID,
                                );
                            }
                        }
                    }
                    (OvsVportCmd::OVS_VPORT_CMD_GET, false) => {
                        let hit = self.dps.iter().find_map(|d| {
                            d.ports
                                .iter()
                                .find(|(no, p)| match &r.name {
                                    Some(n) => &p.name == n,
                                    None => d.ifindex == r.dp_ifindex && Some(**no) == r.port_no,
                                })
                                .map(|(no, p)| Self::port_msg(d, *no, p))
                        });
                        match hit {
                            Some(p) => p.emit(&mut out, VPORT_FAMILY, 0, seq, PID),
                            None => error(&mut out, &m, libc::ENODEV),
                        }
                    }
                    (OvsVportCmd::OVS_VPORT_CMD_NEW, _) => {
                        let Some(d) = self.dp(r.dp_ifindex) else {
                            error(&mut out, &m, libc::ENODEV);
                            return (out, dump);
                        };
                        let name = r.name.clone().unwrap();
                        let no = r
                            .port_no
                            .unwrap_or_else(|| (1..).find(|n| !d.ports.contains_key(n)).unwrap());
                        if d.ports.values().any(|p| p.name == name) {
                            error(&mut out, &m, libc::EEXIST);
                        } else if d.ports.contains_key(&no) {
                            error(&mut out, &m, libc::EBUSY);
                        } else if name.starts_with("nodev") {
                            error(&mut out, &m, libc::ENODEV);
                        } else {
                            let p = Port {
                                name,
                                kind: r.kind.unwrap(),
                                stats: Some(OvsVportStats::default()),
                            };
                            let mut reply = Self::port_msg(d, no, &p);
                            reply.cmd = OvsVportCmd::OVS_VPORT_CMD_NEW;
                            d.ports.insert(no, p);
                            reply.emit(&mut out, VPORT_FAMILY, 0, seq, PID);
                        }
                    }
                    (OvsVportCmd::OVS_VPORT_CMD_DEL, _) => {
                        let no = r.port_no.unwrap();
                        let removed = match self.dp(r.dp_ifindex) {
                            Some(_) if no == 0 => Err(libc::EINVAL),
                            Some(d) => d.ports.remove(&no).map(|_| ()).ok_or(libc::ENODEV),
                            None => Err(libc::ENODEV),
                        };
                        if let Err(e) = removed {
                            error(&mut out, &m, e);
                        }
                    }
                    _ => error(&mut out, &m, libc::EOPNOTSUPP),
                }
            }
            FLOW_FAMILY => {
                let r = FlowMsg::parse(m.payload).unwrap();
                let Some(d) = self.dp(r.dp_ifindex) else {
                    if dump {
                        emit_done(&mut out, seq, PID, -libc::ENODEV);
                        return (out, true);
                    }
                    error(&mut out, &m, libc::ENODEV);
                    return (out, false);
                };
                let key = r.key.as_ref().map(|k| k.bytes.clone());
                let pos = d.flows.iter().position(|f| match &r.ufid {
                    Some(u) => f.ufid.as_ref() == Some(u),
                    None => f.ufid.is_none() && Some(&f.key) == key.as_ref(),
                });
                match (r.cmd, dump) {
                    (OvsFlowCmd::OVS_FLOW_CMD_GET, true) => {
                        for f in &d.flows {
                            Self::flow_msg(d, f).emit(&mut out, FLOW_FAMILY, multi, seq, PID);
                        }
                    }
                    (OvsFlowCmd::OVS_FLOW_CMD_GET, false) => match pos {
                        Some(i) => {
                            Self::flow_msg(d, &d.flows[i]).emit(&mut out, FLOW_FAMILY, 0, seq, PID)
                        }
                        None => error(&mut out, &m, libc::ENOENT),
                    },
                    (OvsFlowCmd::OVS_FLOW_CMD_NEW | OvsFlowCmd::OVS_FLOW_CMD_SET, _) => {
                        let create = r.cmd == OvsFlowCmd::OVS_FLOW_CMD_NEW;
                        match pos {
                            Some(_) if create && flags & NLM_F_CREATE != 0 => {
                                error(&mut out, &m, libc::EEXIST)
                            }
                            Some(i) => {
                                let reply = Self::flow_msg(d, &d.flows[i].clone());
                                let f2 = &mut d.flows[i];
                                f2.actions = r.actions.clone().unwrap().bytes;
                                if r.clear {
                                    f2.stats = OvsFlowStats::default();
                                    f2.used = 0;
                                }
                                if echo {
                                    reply.emit(&mut out, FLOW_FAMILY, 0, seq, PID);
                                }
                            }
                            None if create => {
                                let f = Flow {
                                    ufid: r.ufid.clone(),
                                    key: key.unwrap(),
                                    mask: r.mask.as_ref().map(|k| k.bytes.clone()),
                                    actions: r.actions.clone().unwrap().bytes,
                                    stats: OvsFlowStats::default(),
                                    used: 0,
                                    tcp_flags: 0,
                                };
                                if echo {
                                    Self::flow_msg(d, &f).emit(&mut out, FLOW_FAMILY, 0, seq, PID);
                                }
                                d.flows.push(f);
                            }
                            None => error(&mut out, &m, libc::ENOENT),
                        }
                    }
                    (OvsFlowCmd::OVS_FLOW_CMD_DEL, _) => {
                        if r.ufid.is_none() && key.is_none() {
                            d.flows.clear();
                        } else {
                            match pos {
                                Some(i) => {
                                    let f = d.flows.remove(i);
                                    if echo {
                                        Self::flow_msg(d, &f).emit(
                                            &mut out,
                                            FLOW_FAMILY,
                                            0,
                                            seq,
                                            PID,
                                        );
                                    }
                                }
                                None => error(&mut out, &m, libc::ENOENT),
                            }
                        }
                    }
                    _ => error(&mut out, &m, libc::EOPNOTSUPP),
                }
            }
            _ => error(&mut out, &m, libc::ENOENT),
        }
        if dump && !messages(&out).any(|m| m.is_ok_and(|m| m.header.kind == 3)) {
            emit_done(&mut out, seq, PID, 0);
        }
        (out, dump)
    }
}

impl Transport for Fake {
    fn transact(&mut self, request: &[u8]) -> io::Result<Vec<Vec<u8>>> {
        Ok(vec![self.answer(request).0])
    }

    fn dump(&mut self, request: &[u8]) -> io::Result<(Vec<Vec<u8>>, i32)> {
        let (d, _) = self.answer(request);
        let mut msgs = Vec::new();
        let mut status = 0;
        for m in messages(&d) {
            let m = m.unwrap();
            match m.header.kind {
                3 => {
                    status = -i32::from_ne_bytes(m.payload[..4].try_into().unwrap());
                }
                2 => {
                    let e = ErrorMsg::parse(m.header.flags, m.payload).unwrap();
                    return Err(io::Error::from_raw_os_error(-e.error));
                }
                _ => msgs.push(m.bytes.to_vec()),
            }
        }
        Ok((msgs, status))
    }

    fn next_seq(&mut self) -> u32 {
        self.seq += 1;
        self.seq
    }

    fn portid(&self) -> u32 {
        PID
    }
}

#[derive(Default)]
struct FakeHost {
    links: BTreeMap<String, NetdevStats>,
    files: BTreeMap<String, String>,
}

impl Host for FakeHost {
    fn link_stats(&self, name: &str) -> Option<NetdevStats> {
        self.links.get(name).copied()
    }
    fn read_file(&self, path: &str) -> io::Result<String> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))
    }
}

struct Outcome {
    out: String,
    err: String,
    code: i32,
}

/// Runs one command line against `fake` (moved in and handed back).
fn run_with(fake: &mut Fake, host: &FakeHost, line: &[&str]) -> Outcome {
    let args: Vec<String> = line.iter().map(|s| s.to_string()).collect();
    let Invocation::Run { options, args } = parse_command_line(&args) else {
        panic!("options");
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut io = Io {
        out: &mut out,
        err: &mut err,
        now_ms: 50_000,
        host,
    };
    let mut taken = Some(std::mem::take(fake));
    let shared = std::rc::Rc::new(std::cell::RefCell::new(None::<Fake>));
    struct Shared(std::rc::Rc<std::cell::RefCell<Option<Fake>>>);
    impl Transport for Shared {
        fn transact(&mut self, r: &[u8]) -> io::Result<Vec<Vec<u8>>> {
            self.0.borrow_mut().as_mut().unwrap().transact(r)
        }
        fn dump(&mut self, r: &[u8]) -> io::Result<(Vec<Vec<u8>>, i32)> {
            self.0.borrow_mut().as_mut().unwrap().dump(r)
        }
        fn next_seq(&mut self) -> u32 {
            self.0.borrow_mut().as_mut().unwrap().next_seq()
        }
        fn portid(&self) -> u32 {
            PID
        }
    }
    *shared.borrow_mut() = taken.take();
    let s2 = shared.clone();
    let mut connect =
        move || -> io::Result<Box<dyn Transport>> { Ok(Box::new(Shared(s2.clone()))) };
    let code = execute(
        &options,
        &args,
        &mut io,
        std::path::Path::new("/x"),
        &mut connect,
    );
    drop(connect);
    *fake = shared.borrow_mut().take().unwrap();
    Outcome {
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
        code,
    }
}

fn run(fake: &mut Fake, line: &[&str]) -> Outcome {
    run_with(fake, &FakeHost::default(), line)
}

fn check(fake: &mut Fake, line: &[&str], out: &str, err: &str, code: i32) {
    let o = run(fake, line);
    assert_eq!(
        (o.out.as_str(), o.err.as_str(), o.code),
        (out, err, code),
        "{line:?}"
    );
}

#[test]
fn dump_dps_and_show() {
    let mut f = Fake::with_dp("dp0");
    check(&mut f, &["dump-dps"], "system@dp0\n", "", 0);
    check(
        &mut f,
        &["show"],
        "system@dp0:\n  lookups: hit:10 missed:2 lost:0\n  flows: 0\n  \
         masks: hit:15 total:2 hit/pkt:1.25\n  caches:\n    masks-cache: size:256\n  \
         port 0: dp0 (internal)\n",
        "",
        0,
    );
    check(&mut f, &["add-dp", "dp1"], "", "", 0);
    check(&mut f, &["dump-dps"], "system@dp0\nsystem@dp1\n", "", 0);
}

#[test]
fn show_named_datapaths_reports_each_failure_and_goes_on() {
    let mut f = Fake::with_dp("dp0");
    let o = run(&mut f, &["show", "nope", "dp0", "netdev@x"]);
    assert_eq!(
        o.err,
        "userdpctl: opening datapath nope failed (No such device)\n\
         userdpctl: opening datapath netdev@x failed (Address family not supported by protocol)\n"
    );
    assert!(o.out.starts_with("system@dp0:\n"));
    assert_eq!(o.code, 1);
}

#[test]
fn missing_families_fail_like_a_missing_kernel_module() {
    let mut f = Fake {
        no_families: true,
        ..Fake::default()
    };
    // show / dump-dps: exit 1 with no userdpctl line at all.
    check(&mut f, &["show"], "", "", 1);
    check(&mut f, &["dump-dps"], "", "", 1);
    check(
        &mut f,
        &["dump-flows"],
        "",
        "userdpctl: no datapaths exist\nuserdpctl: datapath not found (Invalid argument)\n",
        1,
    );
    check(
        &mut f,
        &["show", "system@ovs-system"],
        "",
        "userdpctl: opening datapath system@ovs-system failed (No such file or directory)\n",
        1,
    );
    check(
        &mut f,
        &["add-dp", "foo"],
        "",
        "userdpctl: add_dp (No such file or directory)\n",
        1,
    );
    for cmd in ["del-dp", "add-if", "set-if", "del-if"] {
        let line: Vec<&str> = if cmd == "del-dp" {
            vec![cmd, "foo"]
        } else {
            vec![cmd, "foo", "eth0"]
        };
        check(
            &mut f,
            &line,
            "",
            "userdpctl: opening datapath (No such file or directory)\n",
            1,
        );
    }
}

#[test]
fn datapath_lifecycle_errors() {
    let mut f = Fake::with_dp("dp0");
    check(
        &mut f,
        &["add-dp", "dp0"],
        "",
        "userdpctl: add_dp (File exists)\n",
        1,
    );
    check(
        &mut f,
        &["del-dp", "nope"],
        "",
        "userdpctl: opening datapath (No such device)\n",
        1,
    );
    check(&mut f, &["del-dp", "system@dp0"], "", "", 0);
    check(&mut f, &["dump-dps"], "", "", 0);
}

#[test]
fn ports_are_added_shown_and_deleted() {
    let mut f = Fake::with_dp("dp0");
    check(
        &mut f,
        &[
            "add-if",
            "dp0",
            "eth0",
            "in0,type=internal,port_no=7",
            "vx,type=vxlan,remote_ip=flow,dst_port=8472",
        ],
        "",
        "",
        0,
    );
    let mut host = FakeHost::default();
    host.links.insert(
        "eth0".into(),
        NetdevStats {
            rx_over_errors: Some(1),
            rx_frame_errors: Some(2),
            tx_aborted_errors: Some(3),
            tx_carrier_errors: Some(4),
            collisions: Some(5),
            ..NetdevStats::default()
        },
    );
    let o = run_with(&mut f, &host, &["show", "-s"]);
    assert_eq!(o.code, 0);
    assert!(
        o.out.ends_with(
            "  port 0: dp0 (internal)
    RX packets:0 errors:0 dropped:0 overruns:0 frame:0
    TX packets:0 errors:0 dropped:0 aborted:0 carrier:0
    collisions:0
    RX bytes:0  TX bytes:0
  port 1: eth0
    RX packets:0 errors:0 dropped:0 overruns:1 frame:2
    TX packets:0 errors:0 dropped:0 aborted:3 carrier:4
    collisions:5
    RX bytes:0  TX bytes:0
  port 2: vxlan_sys_8472 (vxlan: dst_port=8472, packet_type=ptap)
    RX packets:0 errors:? dropped:? overruns:? frame:?
    TX packets:0 errors:? dropped:? aborted:? carrier:?
    collisions:?
    RX bytes:0  TX bytes:0
  port 7: in0 (internal)
    RX packets:0 errors:0 dropped:0 overruns:0 frame:0
    TX packets:0 errors:0 dropped:0 aborted:0 carrier:0
    collisions:0
    RX bytes:0  TX bytes:0
"
        ),
        "{}",
        o.out
    );
    check(&mut f, &["del-if", "dp0", "eth0", "7"], "", "", 0);
    check(
        &mut f,
        &["del-if", "dp0", "ghost", "0"],
        "",
        "userdpctl: no port named ghost\n\
         userdpctl: deleting port 0 from dp0 failed (Invalid argument)\n",
        1,
    );
}

#[test]
fn add_if_error_texts() {
    let mut f = Fake::with_dp("dp0");
    check(
        &mut f,
        &["add-if", "dp0", ",,", "x,type=bogus", "nodev0", "dp0"],
        "",
        "userdpctl: ,, is not a valid network device name\n\
         userdpctl: x: failed to open network device (Address family not supported by protocol)\n\
         userdpctl: adding nodev0 to dp0 failed (No such device)\n\
         userdpctl: adding dp0 to dp0 failed (File exists)\n",
        1,
    );
    // A duplicate option is reported, and the port is still added.
    check(
        &mut f,
        &["add-if", "dp0", "e1,k=1,k=2"],
        "",
        "userdpctl: duplicate \"k\" option\n",
        0,
    );
    // A tunnel without remote_ip fails silently, as in ovs-dpctl (only its log says why).
    check(&mut f, &["add-if", "dp0", "g,type=geneve"], "", "", 1);
}

#[test]
fn set_if_checks_type_and_port_number() {
    let mut f = Fake::with_dp("dp0");
    check(&mut f, &["add-if", "dp0", "e1"], "", "", 0);
    check(
        &mut f,
        &["set-if", "dp0", "e1,type=system,port_no=1"],
        "",
        "",
        0,
    );
    check(
        &mut f,
        &["set-if", "dp0", "e1,type=internal"],
        "",
        "userdpctl: e1: can't change type from system to internal\n",
        1,
    );
    check(
        &mut f,
        &["set-if", "dp0", "e1,port_no=9"],
        "",
        "userdpctl: e1: can't change port number from 1 to 9\n",
        1,
    );
    check(
        &mut f,
        &["set-if", "dp0", "e1,mtu=9000"],
        "",
        "userdpctl: e1: arguments provided to device that is not configurable\n",
        0,
    );
    check(
        &mut f,
        &["set-if", "dp0", "zz"],
        "",
        "userdpctl: zz: failed to query port in dp0 (No such device)\n",
        1,
    );
}

const FLOW: &str = "in_port(1),eth(src=00:00:00:00:00:01,dst=00:00:00:00:00:02),eth_type(0x1234)";
const UFID: &str = "ufid:11111111-2222-3333-4444-555555555555";

#[test]
fn flows_are_added_dumped_fetched_and_deleted() {
    let mut f = Fake::with_dp("dp0");
    check(&mut f, &["add-if", "dp0", "p1", "p2"], "", "", 0);
    check(&mut f, &["add-flow", FLOW, "2"], "", "", 0);
    let with_ufid = format!(
        "{UFID},{}",
        FLOW.replace(
            "eth_type(0x1234)",
            "eth_type(0x0800),ipv4(src=10.0.0.1/255.255.255.0,frag=no)"
        )
    );
    check(&mut f, &["add-flow", "dp0", &with_ufid, "1,2"], "", "", 0);
    check(
        &mut f,
        &["dump-flows"],
        "in_port(1),eth(src=00:00:00:00:00:01,dst=00:00:00:00:00:02),eth_type(0x1234), \
         packets:0, bytes:0, used:never, actions:2\n\
         in_port(1),eth(src=00:00:00:00:00:01,dst=00:00:00:00:00:02),eth_type(0x0800),\
         ipv4(src=10.0.0.1/255.255.255.0,frag=no), packets:0, bytes:0, used:never, actions:1,2\n",
        "",
        0,
    );
    // -m implies names: ports 1 and 2 are p1 and p2.
    let o = run(&mut f, &["dump-flows", "-m", "system@dp0"]);
    assert_eq!(o.code, 0);
    let lines: Vec<&str> = o.out.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("in_port(p1),"), "{}", lines[0]);
    assert!(lines[0].ends_with(", dp:ovs, actions:p2"), "{}", lines[0]);
    assert!(
        lines[1].starts_with(&format!("{UFID}, in_port(p1),")),
        "{}",
        lines[1]
    );
    check(
        &mut f,
        &["get-flow", UFID],
        "in_port(1),eth(src=00:00:00:00:00:01,dst=00:00:00:00:00:02),eth_type(0x0800),\
         ipv4(src=10.0.0.1/255.255.255.0,frag=no), packets:0, bytes:0, used:never, actions:1,2\n",
        "",
        0,
    );
    check(
        &mut f,
        &["del-flow", "-s", FLOW],
        "packets:0, bytes:0, used:never\n",
        "",
        0,
    );
    check(
        &mut f,
        &["del-flow", FLOW],
        "Perhaps you need to specify a UFID?\n",
        "userdpctl: deleting flow (No such file or directory)\n",
        1,
    );
    check(&mut f, &["del-flows"], "", "", 0);
    check(&mut f, &["dump-flows", "dp0"], "", "", 0);
}

#[test]
fn flow_put_requests_carry_ovs_flags() {
    let mut f = Fake::with_dp("dp0");
    let last_flow_request = |f: &Fake| {
        let r = f
            .requests
            .iter()
            .rev()
            .find(|r| messages(r).next().unwrap().unwrap().header.kind == FLOW_FAMILY);
        let m = messages(r.unwrap()).next().unwrap().unwrap();
        (FlowMsg::parse(m.payload).unwrap().cmd, m.header.flags)
    };
    check(&mut f, &["add-flow", FLOW, "2"], "", "", 0);
    assert_eq!(
        last_flow_request(&f),
        (OvsFlowCmd::OVS_FLOW_CMD_NEW, 0x01 | NLM_F_CREATE)
    );
    check(&mut f, &["mod-flow", FLOW, "3"], "", "", 0);
    assert_eq!(last_flow_request(&f), (OvsFlowCmd::OVS_FLOW_CMD_SET, 0x01));
    check(
        &mut f,
        &["mod-flow", "--may-create", "-s", FLOW, "3"],
        "packets:0, bytes:0, used:never\n",
        "",
        0,
    );
    assert_eq!(
        last_flow_request(&f),
        (OvsFlowCmd::OVS_FLOW_CMD_NEW, 0x01 | NLM_F_ECHO)
    );
}

#[test]
fn flow_command_errors() {
    let mut f = Fake::with_dp("dp0");
    check(&mut f, &["add-flow", FLOW, "2"], "", "", 0);
    check(
        &mut f,
        &["add-flow", FLOW, "2"],
        "",
        "userdpctl: updating flow table (File exists)\n",
        1,
    );
    check(
        &mut f,
        &["mod-flow", "in_port(9)", "2"],
        "",
        "userdpctl: updating flow table (No such file or directory)\n",
        1,
    );
    check(
        &mut f,
        &["add-flow", "foo", "in_port(1)", "2"],
        "",
        "userdpctl: datapath not found (Invalid argument)\n",
        1,
    );
    check(
        &mut f,
        &["add-flow", "in_port(1),bogus(3)", "2"],
        "",
        "userdpctl: parsing flow key (syntax error at bogus(3)) (Invalid argument)\n",
        1,
    );
    check(
        &mut f,
        &["del-flow", "in_port(1),bogus(3)"],
        "",
        "userdpctl: syntax error at bogus(3) (Invalid argument)\n",
        1,
    );
    check(
        &mut f,
        &["add-flow", "ufid:1234", "2"],
        "",
        "userdpctl: parsing flow ufid (Invalid argument)\n",
        1,
    );
    let o = run(&mut f, &["add-flow", "in_port(2)", "frob"]);
    assert!(
        o.err.starts_with("userdpctl: parsing actions ("),
        "{}",
        o.err
    );
    assert_eq!(o.code, 1);
    // get-flow's UFID errors exit 0, as in ovs-dpctl.
    check(
        &mut f,
        &["get-flow", "1234"],
        "",
        "userdpctl: parsing flow ufid\n",
        0,
    );
    check(
        &mut f,
        &["get-flow", "ufid:1234"],
        "",
        "userdpctl: parsing flow ufid (Invalid argument)\n",
        0,
    );
    check(
        &mut f,
        &["get-flow", UFID],
        "",
        "userdpctl: getting flow (No such file or directory)\n",
        1,
    );
    check(
        &mut f,
        &["dump-flows", "type=tc"],
        "",
        "userdpctl: Invalid argument 'type'. Use 'ovs-appctl dpctl/dump-flows' instead.\n",
        1,
    );
    check(&mut f, &["dump-flows", "pmd=abc"], "", "", 1);
    check(&mut f, &["dump-flows", "pmd=3"], "", "", 0);
    check(
        &mut f,
        &["dump-flows", "filter=foo"],
        "",
        "userdpctl: Failed to parse filter (foo: unknown field foo)\n",
        1,
    );
    check(
        &mut f,
        &["--read-only", "del-flows"],
        "",
        "userdpctl: 'del-flows' command does not work in read only mode\n",
        1,
    );
}

#[test]
fn several_datapaths_need_a_name() {
    let mut f = Fake::with_dp("a");
    f.add_dp("b");
    check(
        &mut f,
        &["dump-flows"],
        "",
        "userdpctl: multiple datapaths, specify one\n\
         userdpctl: datapath not found (Invalid argument)\n",
        1,
    );
    check(&mut f, &["dump-flows", "b"], "", "", 0);
}

#[test]
fn dump_flows_filter_selects_on_masked_fields() {
    let mut f = Fake::with_dp("dp0");
    check(&mut f, &["add-if", "dp0", "p1"], "", "", 0);
    check(
        &mut f,
        &[
            "add-flow",
            "in_port(1),eth_type(0x0800),ipv4(proto=6,frag=no),tcp(src=80/0xff00)",
            "2",
        ],
        "",
        "",
        0,
    );
    check(
        &mut f,
        &[
            "add-flow",
            "in_port(1),eth_type(0x0800),ipv4(proto=17,frag=no)",
            "2",
        ],
        "",
        "",
        0,
    );
    let o = run(&mut f, &["dump-flows", "filter=tcp,tp_src=100"]);
    assert_eq!(o.code, 0);
    assert_eq!(o.out.lines().count(), 1, "{}", o.out);
    assert!(o.out.contains("tcp(src=80/0xff00)"));
    let o = run(&mut f, &["dump-flows", "filter=in_port=p1"]);
    assert_eq!(o.out.lines().count(), 2);
    let o = run(&mut f, &["dump-flows", "filter=udp"]);
    assert_eq!(o.out.lines().count(), 1);
    assert!(o.out.contains("proto=17"));
}

#[test]
fn flows_file_commands() {
    let mut f = Fake::with_dp("dp0");
    let mut host = FakeHost::default();
    host.files.insert(
        "flows.txt".into(),
        "# comment\nin_port(1) 2\n\na in_port(2),eth_type(0x0806) 3\nd in_port(1)\n\
         modify in_port(2),eth_type(0x0806)\nbogus-line-without-actions\n"
            .into(),
    );
    let o = run_with(&mut f, &host, &["add-flows", "flows.txt"]);
    assert_eq!(
        (o.out.as_str(), o.err.as_str(), o.code),
        (
            "",
            "userdpctl: Failed parsing line number 6, skipped!\n\
             userdpctl: Failed parsing line number 7, skipped!\n",
            0
        )
    );
    check(
        &mut f,
        &["dump-flows"],
        "in_port(2),eth_type(0x0806), packets:0, bytes:0, used:never, actions:3\n",
        "",
        0,
    );
    let o = run_with(&mut f, &host, &["del-flows", "missing.txt"]);
    assert_eq!(
        (o.err.as_str(), o.code),
        (
            "userdpctl: Opening file \"missing.txt\" failed (No such file or directory)\n",
            0
        )
    );
}

#[test]
fn json_output() {
    let mut f = Fake::with_dp("dp0");
    check(&mut f, &["add-flow", "in_port(1)", "2"], "", "", 0);
    let o = run(&mut f, &["--format=json", "dump-dps"]);
    let v: serde_json::Value = serde_json::from_str(&o.out).unwrap();
    assert_eq!(v["datapaths"][0], "system@dp0");
    let o = run(&mut f, &["--format", "json", "show"]);
    let v: serde_json::Value = serde_json::from_str(&o.out).unwrap();
    assert_eq!(v["datapaths"][0]["flows"], 1);
    assert_eq!(v["datapaths"][0]["ports"][0]["type"], "internal");
    let o = run(&mut f, &["--format=json", "dump-flows"]);
    let v: serde_json::Value = serde_json::from_str(&o.out).unwrap();
    assert_eq!(v["flows"][0]["key"], "in_port(1)");
    assert_eq!(v["flows"][0]["actions"], "2");
    assert!(v["flows"][0]["used_ms_ago"].is_null());
}

#[test]
fn help_needs_no_daemon() {
    let args = vec!["help".to_string()];
    let opts = userdp::cli::options::Options::default();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let host = FakeHost::default();
    let mut io = Io {
        out: &mut out,
        err: &mut err,
        now_ms: 0,
        host: &host,
    };
    let mut connect = || -> io::Result<Box<dyn Transport>> {
        Err(io::Error::from_raw_os_error(libc::ECONNREFUSED))
    };
    let code = execute(
        &opts,
        &args,
        &mut io,
        std::path::Path::new("/s"),
        &mut connect,
    );
    assert_eq!(code, 0);
    assert!(String::from_utf8(out)
        .unwrap()
        .starts_with("userdpctl: userdp datapath"));
    let args = vec!["show".to_string()];
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut io = Io {
        out: &mut out,
        err: &mut err,
        now_ms: 0,
        host: &host,
    };
    let code = execute(
        &opts,
        &args,
        &mut io,
        std::path::Path::new("/s"),
        &mut connect,
    );
    assert_eq!(code, 1);
    assert_eq!(
        String::from_utf8(err).unwrap(),
        "userdpctl: connecting to /s failed (Connection refused)\n"
    );
}
