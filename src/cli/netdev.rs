//! What ovs-dpctl learns from the netdev layer: tunnel port names and default
//! configuration, and the host's link counters for `show -s`.
//!
//! ≈ `netdev_vport_construct()`, `get_tunnel_config()`, `netdev_vport_get_dpif_port()` in
//! OVS `lib/netdev-vport.c`, and the rtnetlink half of `netdev_linux_get_stats()` (read here
//! from sysfs, which carries the same `rtnl_link_stats64` counters).

use std::path::Path;

use super::model::NetdevStats;

/// Tunnel types: the dpif port-name prefix, and the default UDP port for those whose
/// datapath port name carries one.
const TUNNELS: [(&str, &str, Option<u16>); 10] = [
    ("geneve", "genev_sys", Some(6081)),
    ("gre", "gre_sys", None),
    ("vxlan", "vxlan_sys", Some(4789)),
    ("lisp", "lisp_sys", Some(4341)),
    ("stt", "stt_sys", Some(7471)),
    ("erspan", "erspan_sys", None),
    ("ip6erspan", "ip6erspan_sys", None),
    ("ip6gre", "ip6gre_sys", None),
    ("gtpu", "gtpu_sys", Some(2152)),
    ("bareudp", "udp_sys", Some(0)),
];

fn tunnel(kind: &str) -> Option<(&'static str, Option<u16>)> {
    TUNNELS
        .iter()
        .find(|(k, _, _)| *k == kind)
        .map(|&(_, prefix, port)| (prefix, port))
}

/// Whether `kind` is a tunnel netdev type.
pub fn is_tunnel(kind: &str) -> bool {
    tunnel(kind).is_some()
}

/// C `atoi`: leading blanks, a sign, digits; anything after is ignored; overflow wraps.
pub fn atoi(s: &str) -> i32 {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let v = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i32, |acc, d| {
            acc.wrapping_mul(10).wrapping_add(i32::from(d - b'0'))
        });
    if neg {
        v.wrapping_neg()
    } else {
        v
    }
}

/// The UDP port a fresh tunnel netdev called `name` starts with: the number after
/// `PREFIX_` in its name, else the type's default.
fn fresh_dst_port(kind: &str, name: &str) -> Option<u16> {
    let (prefix, default) = tunnel(kind)?;
    let default = default?;
    let mut port = 0u16;
    if name.len() > prefix.len() + 1 && name.starts_with(prefix) {
        port = atoi(&name[prefix.len() + 1..]) as u16;
    }
    // bareudp has no default: the name's number (or 0) is it.
    Some(if port != 0 || kind == "bareudp" {
        port
    } else {
        default
    })
}

/// `get_tunnel_config` of a freshly opened tunnel netdev, sorted by key: what `show`
/// prints for a tunnel port (not what ovs-vswitchd configured; ovs-dpctl cannot know that).
pub fn fresh_tunnel_config(kind: &str, name: &str) -> Vec<(String, String)> {
    let mut kv = Vec::new();
    if let (Some(port), Some((_, Some(default)))) = (fresh_dst_port(kind, name), tunnel(kind)) {
        if port != 0 && (port != default || kind == "bareudp") {
            kv.push(("dst_port".to_owned(), port.to_string()));
        }
    }
    // A fresh netdev's packet-type mode is "unknown", which differs from every type's
    // default and so is printed as ptap.
    kv.push(("packet_type".to_owned(), "ptap".to_owned()));
    if kind == "erspan" || kind == "ip6erspan" {
        kv.push(("erspan_ver".to_owned(), "0".to_owned()));
    }
    kv.sort();
    kv
}

/// `netdev_vport_get_dpif_port`: the datapath port name of a tunnel netdev configured with
/// UDP port `dst_port` (`vxlan_sys_4789`, `gre_sys`), or `None` for a non-tunnel type.
pub fn tunnel_dpif_name(kind: &str, name: &str, dst_port: Option<u16>) -> Option<String> {
    let (prefix, default) = tunnel(kind)?;
    Some(match default {
        Some(_) => {
            let port = dst_port.or_else(|| fresh_dst_port(kind, name)).unwrap_or(0);
            format!("{prefix}_{port}")
        }
        None => prefix.to_owned(),
    })
}

/// Where `show -s` gets the counters ovs-dpctl reads from rtnetlink, and where
/// `add-flows FILE` reads its file: the host, or a test double.
pub trait Host {
    /// All 13 `show -s` counters of the host netdev `name`, if it exists.
    fn link_stats(&self, name: &str) -> Option<NetdevStats>;
    /// The contents of `path` (`-` is stdin).
    fn read_file(&self, path: &str) -> std::io::Result<String>;
}

/// The real host: `/sys/class/net/NAME/statistics/*` and the file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct SysHost;

impl Host for SysHost {
    fn link_stats(&self, name: &str) -> Option<NetdevStats> {
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return None;
        }
        let dir = Path::new("/sys/class/net").join(name).join("statistics");
        let get = |f: &str| -> Option<u64> {
            std::fs::read_to_string(dir.join(f))
                .ok()
                .and_then(|s| s.trim().parse().ok())
        };
        // The directory must exist; a missing single counter is then "?".
        get("rx_packets")?;
        Some(NetdevStats {
            rx_packets: get("rx_packets"),
            rx_errors: get("rx_errors"),
            rx_dropped: get("rx_dropped"),
            rx_over_errors: get("rx_over_errors"),
            rx_frame_errors: get("rx_frame_errors"),
            tx_packets: get("tx_packets"),
            tx_errors: get("tx_errors"),
            tx_dropped: get("tx_dropped"),
            tx_aborted_errors: get("tx_aborted_errors"),
            tx_carrier_errors: get("tx_carrier_errors"),
            collisions: get("collisions"),
            rx_bytes: get("rx_bytes"),
            tx_bytes: get("tx_bytes"),
        })
    }

    fn read_file(&self, path: &str) -> std::io::Result<String> {
        if path == "-" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
            Ok(s)
        } else {
            std::fs::read_to_string(path)
        }
    }
}
