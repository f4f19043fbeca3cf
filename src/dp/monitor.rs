//! Watches the host's links: an interface attached as a `netdev` port that disappears takes its
//! port with it, and listeners hear `OVS_VPORT_CMD_DEL` (seq 0, pid 0), as the kernel module
//! does on `NETDEV_UNREGISTER` (`dp_device_event` → `ovs_dp_detach_port`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use userdp_protocol::nl::messages;
use userdp_protocol::ovs::vport::{OvsVportCmd, OvsVportType};

use super::{Registry, GROUP_VPORT};
use crate::sys::rtnl::LinkMonitor;

/// `RTM_DELLINK`.
const RTM_DELLINK: u16 = 17;

/// Starts the monitor thread; it stops when the registry is dropped or `stop` is set.
pub fn spawn(reg: &Arc<Registry>, stop: Arc<AtomicBool>) -> std::io::Result<()> {
    let mon = LinkMonitor::open()?;
    let weak: Weak<Registry> = Arc::downgrade(reg);
    std::thread::Builder::new()
        .name("userdp-links".into())
        .spawn(move || {
            let mut buf = vec![0u8; 32 * 1024];
            while !stop.load(Ordering::Acquire) {
                let n = match mon.recv(&mut buf, 200) {
                    Ok(n) => n,
                    Err(e) => {
                        // ENOBUFS: events were lost; the next ones still arrive.
                        tracing::debug!(error = %e, "link monitor receive failed");
                        continue;
                    }
                };
                let Some(reg) = weak.upgrade() else { return };
                for m in messages(&buf[..n]).map_while(Result::ok) {
                    // struct ifinfomsg: family, pad, type (u16), index (s32), flags, change.
                    if m.header.kind == RTM_DELLINK {
                        if let Some(idx) = m.payload.get(4..8) {
                            let ifindex = i32::from_ne_bytes([idx[0], idx[1], idx[2], idx[3]]);
                            if let Ok(ifindex) = u32::try_from(ifindex) {
                                netdev_gone(&reg, ifindex);
                            }
                        }
                    }
                }
            }
        })?;
    Ok(())
}

/// Detaches every `netdev` port whose interface was `ifindex` and tells the listeners.
fn netdev_gone(reg: &Registry, ifindex: u32) {
    let gone = reg.with_state(|st| {
        let mut msgs = Vec::new();
        for dp in st.dps.values_mut() {
            let ports: Vec<u32> = dp
                .ports
                .values()
                .filter(|p| {
                    p.kind == OvsVportType::OVS_VPORT_TYPE_NETDEV && p.device.ifindex() == ifindex
                })
                .map(|p| p.port_no)
                .collect();
            for port_no in ports {
                if let Some(v) = dp.ports.remove(&port_no) {
                    msgs.push((
                        v.name.clone(),
                        v.encode(dp, OvsVportCmd::OVS_VPORT_CMD_DEL, 0, 0),
                    ));
                    v.detach(reg, dp.ifindex);
                }
            }
        }
        msgs
    });
    for (name, msg) in gone {
        tracing::info!(port = name, "interface removed: port detached");
        reg.notify_all(GROUP_VPORT, &msg);
    }
}
