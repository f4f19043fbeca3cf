//! Root tier: internal ports are real TAP netdevs; netdev ports attach to real interfaces.
//! Skips loudly without root (fails under CI=true).

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::{link_exists, require_root, sh, unique};
use userdp::daemon::{Daemon, DaemonConfig, DaemonHandle};
use userdp::dp::{DpConfig, Registry, FAMILY_DATAPATH, FAMILY_VPORT};
use userdp::transport::Client;
use userdp_protocol::errno::{EBUSY, EEXIST, EINVAL, ENODEV};
use userdp_protocol::nl::{messages, ErrorMsg, NLMSG_ERROR, NLM_F_ECHO, NLM_F_REQUEST};
use userdp_protocol::ovs::datapath::{DatapathMsg, OvsDpCmd};
use userdp_protocol::ovs::vport::{OvsVportCmd, OvsVportType, VportMsg};

fn start() -> (DaemonHandle, PathBuf) {
    let dir = std::env::temp_dir().join(unique("userdp-root-"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sock");
    let d = Daemon::start(
        DaemonConfig::new(&path),
        Arc::new(Registry::new(DpConfig::default())),
    )
    .unwrap();
    (d, path)
}

fn request(c: &mut Client, build: impl FnOnce(&mut Vec<u8>, u32, u32)) -> Result<Vec<u8>, i32> {
    let mut buf = Vec::new();
    let seq = c.next_seq();
    build(&mut buf, seq, c.portid());
    let replies = c.transact(&buf).unwrap();
    let d = replies.first().expect("a reply");
    let m = messages(d).next().unwrap().unwrap();
    if m.header.kind == NLMSG_ERROR {
        return Err(-ErrorMsg::parse(m.header.flags, m.payload).unwrap().error);
    }
    Ok(m.payload.to_vec())
}

fn dp_new(c: &mut Client, name: &str) -> Result<DatapathMsg, i32> {
    let pid = c.portid();
    request(c, |b, seq, p| {
        let mut m = DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_NEW, 0);
        m.name = Some(name.into());
        m.upcall_pid = Some(pid);
        m.emit(b, FAMILY_DATAPATH, NLM_F_REQUEST | NLM_F_ECHO, seq, p);
    })
    .map(|p| DatapathMsg::parse(&p).unwrap())
}

fn port_new(c: &mut Client, dp: i32, name: &str, kind: OvsVportType) -> Result<VportMsg, i32> {
    let pid = c.portid();
    request(c, |b, seq, p| {
        let mut m = VportMsg::new(OvsVportCmd::OVS_VPORT_CMD_NEW, dp);
        m.name = Some(name.into());
        m.kind = Some(kind);
        m.upcall_pids = Some(vec![pid]);
        m.emit(b, FAMILY_VPORT, NLM_F_REQUEST | NLM_F_ECHO, seq, p);
    })
    .map(|p| VportMsg::parse(&p).unwrap())
}

fn port_del(c: &mut Client, dp: i32, name: &str) -> Result<VportMsg, i32> {
    request(c, |b, seq, p| {
        let mut m = VportMsg::new(OvsVportCmd::OVS_VPORT_CMD_DEL, dp);
        m.name = Some(name.into());
        m.emit(b, FAMILY_VPORT, NLM_F_REQUEST | NLM_F_ECHO, seq, p);
    })
    .map(|p| VportMsg::parse(&p).unwrap())
}

fn sysfs(name: &str, what: &str) -> String {
    std::fs::read_to_string(format!("/sys/class/net/{name}/{what}"))
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn internal_ports_are_tap_devices_that_come_and_go() {
    if !require_root() {
        return;
    }
    let (daemon, path) = start();
    let mut c = Client::connect(&path).unwrap();
    let dpname = unique("udt");
    let dp = dp_new(&mut c, &dpname).unwrap();
    // The local port is a netdev named after the datapath; its ifindex is the dp_ifindex.
    assert!(link_exists(&dpname));
    assert_eq!(sysfs(&dpname, "ifindex"), dp.dp_ifindex.to_string());
    assert!(
        sh(&format!("ethtool -i {dpname} 2>/dev/null || true")).contains("tun")
            || sysfs(&dpname, "tun_flags").starts_with("0x")
    );
    let mac = sysfs(&dpname, "address");
    assert_ne!(mac, "00:00:00:00:00:00");
    let first = u8::from_str_radix(&mac[..2], 16).unwrap();
    assert_eq!(
        first & 3,
        2,
        "a random, locally administered unicast MAC: {mac}"
    );
    // A second datapath or an internal port with a name already taken by a netdev: EEXIST.
    assert_eq!(dp_new(&mut c, &dpname).unwrap_err(), EEXIST);
    assert_eq!(
        port_new(
            &mut c,
            dp.dp_ifindex,
            "lo",
            OvsVportType::OVS_VPORT_TYPE_INTERNAL
        )
        .unwrap_err(),
        EEXIST
    );
    // An internal port.
    let pname = unique("upi");
    let p = port_new(
        &mut c,
        dp.dp_ifindex,
        &pname,
        OvsVportType::OVS_VPORT_TYPE_INTERNAL,
    )
    .unwrap();
    assert!(link_exists(&pname));
    assert_eq!(p.ifindex.unwrap().to_string(), sysfs(&pname, "ifindex"));
    // The host can configure it like any netdev.
    sh(&format!("ip link set {pname} address 02:11:22:33:44:55 && ip link set {pname} up && ip addr add 192.0.2.77/32 dev {pname}"));
    assert_eq!(sysfs(&pname, "address"), "02:11:22:33:44:55");
    port_del(&mut c, dp.dp_ifindex, &pname).unwrap();
    assert!(!link_exists(&pname), "del-if removes the device");
    // Deleting the datapath removes its local port's device.
    let again = unique("upj");
    port_new(
        &mut c,
        dp.dp_ifindex,
        &again,
        OvsVportType::OVS_VPORT_TYPE_INTERNAL,
    )
    .unwrap();
    request(&mut c, |b, seq, p| {
        let m = DatapathMsg::new(OvsDpCmd::OVS_DP_CMD_DEL, dp.dp_ifindex);
        m.emit(b, FAMILY_DATAPATH, NLM_F_REQUEST | NLM_F_ECHO, seq, p);
    })
    .unwrap();
    assert!(
        !link_exists(&dpname) && !link_exists(&again),
        "del-dp removes every device"
    );
    // Daemon shutdown removes what is left, like unloading the kernel module.
    let dp2 = unique("udu");
    let d2 = dp_new(&mut c, &dp2).unwrap();
    let p2 = unique("upk");
    port_new(
        &mut c,
        d2.dp_ifindex,
        &p2,
        OvsVportType::OVS_VPORT_TYPE_INTERNAL,
    )
    .unwrap();
    drop(c);
    daemon.shutdown();
    assert!(
        !link_exists(&dp2) && !link_exists(&p2),
        "shutdown removes every device it created"
    );
}

#[test]
fn netdev_ports_attach_to_existing_interfaces() {
    if !require_root() {
        return;
    }
    let (_daemon, path) = start();
    let mut c = Client::connect(&path).unwrap();
    let veth = unique("uve");
    sh(&format!("ip link add {veth} type veth peer name {veth}p"));
    let _cleanup = common::Veth {
        outer: veth.clone(),
    };
    let dp = dp_new(&mut c, &unique("udn")).unwrap();
    let p = port_new(
        &mut c,
        dp.dp_ifindex,
        &veth,
        OvsVportType::OVS_VPORT_TYPE_NETDEV,
    )
    .unwrap();
    assert_eq!(p.ifindex.unwrap().to_string(), sysfs(&veth, "ifindex"));
    assert_eq!(p.port_no, Some(1));
    let other = dp_new(&mut c, &unique("udo")).unwrap();
    assert_eq!(
        port_new(
            &mut c,
            other.dp_ifindex,
            &veth,
            OvsVportType::OVS_VPORT_TYPE_NETDEV
        )
        .unwrap_err(),
        EBUSY
    );
    assert_eq!(
        port_new(
            &mut c,
            dp.dp_ifindex,
            "nosuchdev0",
            OvsVportType::OVS_VPORT_TYPE_NETDEV
        )
        .unwrap_err(),
        ENODEV
    );
    assert_eq!(
        port_new(
            &mut c,
            dp.dp_ifindex,
            "lo",
            OvsVportType::OVS_VPORT_TYPE_NETDEV
        )
        .unwrap_err(),
        EINVAL
    );
    port_del(&mut c, dp.dp_ifindex, &veth).unwrap();
    assert!(
        link_exists(&veth),
        "removing a netdev port leaves the interface alone"
    );
}

#[test]
fn a_removed_interface_takes_its_port_with_it() {
    if !require_root() {
        return;
    }
    let dir = std::env::temp_dir().join(unique("userdp-rootl-"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sock");
    let reg = Arc::new(Registry::new(DpConfig::default()));
    reg.watch_links();
    let _daemon = Daemon::start(DaemonConfig::new(&path), reg).unwrap();
    let mut c = Client::connect(&path).unwrap();
    let mut listener = Client::connect(&path).unwrap();
    listener.join_group(userdp::dp::GROUP_VPORT).unwrap();
    let veth = unique("uvg");
    sh(&format!("ip link add {veth} type veth peer name {veth}p"));
    let dp = dp_new(&mut c, &unique("udg")).unwrap();
    port_new(
        &mut c,
        dp.dp_ifindex,
        &veth,
        OvsVportType::OVS_VPORT_TYPE_NETDEV,
    )
    .unwrap();
    // Drain the VPORT_NEW notification.
    let _ = listener
        .recv_timeout(std::time::Duration::from_secs(2))
        .unwrap();
    sh(&format!("ip link del {veth}"));
    let d = listener
        .recv_timeout(std::time::Duration::from_secs(5))
        .unwrap()
        .expect("a VPORT_DEL notification");
    let m = messages(&d).next().unwrap().unwrap();
    assert_eq!(
        (m.header.kind, m.header.seq, m.header.pid),
        (FAMILY_VPORT, 0, 0),
        "device-driven: seq 0, pid 0"
    );
    let v = VportMsg::parse(m.payload).unwrap();
    assert_eq!(
        (v.cmd, v.name.as_deref()),
        (OvsVportCmd::OVS_VPORT_CMD_DEL, Some(veth.as_str()))
    );
    let r = request(&mut c, |b, seq, p| {
        let mut m = VportMsg::new(OvsVportCmd::OVS_VPORT_CMD_GET, 0);
        m.name = Some(veth.clone());
        m.emit(b, FAMILY_VPORT, NLM_F_REQUEST | NLM_F_ECHO, seq, p);
    });
    assert_eq!(r.unwrap_err(), ENODEV);
    let _ = std::fs::remove_dir_all(&dir);
}
