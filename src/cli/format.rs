//! Text the commands print, byte for byte as `ovs-dpctl` 3.1 prints it.
//!
//! ≈ `show_dpif()`, `print_stat()`, `print_human_size()`, `format_dpif_flow()` in OVS
//! `lib/dpctl.c`; `dpif_flow_stats_format()` in `lib/dpif.c`; `odp_format_ufid()` /
//! `odp_ufid_from_string()` in `lib/odp-util.c`; `packet_format_tcp_flags()` in
//! `lib/packets.c`. Key and action text come from `userdp_protocol::text`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use userdp_protocol::ovs::action::{Action, Actions};
use userdp_protocol::text::action::format_action;
use userdp_protocol::text::key::format_key;

use super::model::{DpShow, FlowInfo, FlowStats, NetdevStats, PortConfig};

/// Port number → name, from a port dump (`--names`).
pub type PortNames = BTreeMap<u32, String>;

/// How to print flows.
#[derive(Debug, Clone, Copy, Default)]
pub struct FlowFormat<'a> {
    /// `-m`: UFID, every key field, `dp:ovs`.
    pub verbose: bool,
    /// Port names for `in_port(…)` and output actions.
    pub names: Option<&'a PortNames>,
    /// Current `CLOCK_MONOTONIC` time in milliseconds, for `used:`.
    pub now_ms: u64,
}

/// `print_stat`: the leader, then the value or `?`.
fn stat(out: &mut String, leader: &str, v: Option<u64>) {
    out.push_str(leader);
    match v {
        Some(v) => {
            let _ = write!(out, "{v}");
        }
        None => out.push('?'),
    }
}

/// `print_human_size`: ` (x.y KiB|MiB|GiB|TiB)` from 1024 up, nothing below.
pub fn human_size(v: Option<u64>) -> String {
    const K: f64 = 1024.0;
    let Some(v) = v else {
        return String::new();
    };
    let f = v as f64;
    if v >= 1 << 40 {
        format!(" ({:.1} TiB)", f / (K * K * K * K))
    } else if v >= 1 << 30 {
        format!(" ({:.1} GiB)", f / (K * K * K))
    } else if v >= 1 << 20 {
        format!(" ({:.1} MiB)", f / (K * K))
    } else if v >= 1 << 10 {
        format!(" ({:.1} KiB)", f / K)
    } else {
        String::new()
    }
}

/// The four `-s` lines of one port.
pub fn format_port_stats(s: &NetdevStats, out: &mut String) {
    stat(out, "    RX packets:", s.rx_packets);
    stat(out, " errors:", s.rx_errors);
    stat(out, " dropped:", s.rx_dropped);
    stat(out, " overruns:", s.rx_over_errors);
    stat(out, " frame:", s.rx_frame_errors);
    out.push('\n');
    stat(out, "    TX packets:", s.tx_packets);
    stat(out, " errors:", s.tx_errors);
    stat(out, " dropped:", s.tx_dropped);
    stat(out, " aborted:", s.tx_aborted_errors);
    stat(out, " carrier:", s.tx_carrier_errors);
    out.push('\n');
    stat(out, "    collisions:", s.collisions);
    out.push('\n');
    stat(out, "    RX bytes:", s.rx_bytes);
    out.push_str(&human_size(s.rx_bytes));
    stat(out, "  TX bytes:", s.tx_bytes);
    out.push_str(&human_size(s.tx_bytes));
    out.push('\n');
}

/// `strerror()` text as glibc words it (`No such device`).
pub fn strerror(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    match s.rfind(" (os error ") {
        Some(at) => s[..at].to_owned(),
        None => s,
    }
}

/// `ovs_retval_to_string`: `strerror`, with `End of file` for OVS's EOF.
pub fn retval_to_string(errno: i32) -> String {
    if errno == EOF {
        "End of file".to_owned()
    } else if errno < 0 {
        format!("Unknown error {errno}")
    } else {
        strerror(errno)
    }
}

/// OVS's `EOF` pseudo-errno.
pub const EOF: i32 = -1;

/// Everything `show` prints for one datapath (`show_dpif`). With `statistics`, the four
/// counter lines follow each port line.
pub fn format_dp_show(show: &DpShow, statistics: bool) -> String {
    let mut out = String::new();
    let dp = &show.dp;
    let _ = writeln!(out, "{}:", dp.full_name());
    if show.have_stats {
        let s = dp.stats;
        let _ = write!(
            out,
            "  lookups: hit:{} missed:{} lost:{}\n  flows: {}\n",
            s.n_hit, s.n_missed, s.n_lost, s.n_flows
        );
        if let Some(m) = dp.megaflow {
            let n_pkts = s.n_hit.wrapping_add(s.n_missed);
            let avg = if n_pkts != 0 {
                m.n_mask_hit as f64 / n_pkts as f64
            } else {
                0.0
            };
            let _ = writeln!(
                out,
                "  masks: hit:{} total:{} hit/pkt:{avg:.2}",
                m.n_mask_hit, m.n_masks
            );
            if let Some(c) = m.n_cache_hit {
                let rate = if n_pkts != 0 {
                    c as f64 / n_pkts as f64 * 100.0
                } else {
                    0.0
                };
                let _ = writeln!(out, "  cache: hit:{c} hit-rate:{rate:.2}%");
            }
        }
    }
    if let Some(size) = dp.masks_cache_size {
        let _ = write!(out, "  caches:\n    masks-cache: size:{size}\n");
    }
    for p in &show.ports {
        let _ = write!(out, "  port {}: {}", p.port_no, p.name);
        if p.kind != "system" {
            let _ = write!(out, " ({}", p.kind);
            match &p.config {
                PortConfig::Config(kv) => {
                    for (i, (k, v)) in kv.iter().enumerate() {
                        let _ = write!(out, "{} {k}={v}", if i == 0 { ':' } else { ',' });
                    }
                }
                PortConfig::OpenFailed(e) => {
                    let _ = write!(out, ": open failed ({})", strerror(*e));
                }
            }
            out.push(')');
        }
        out.push('\n');
        if statistics {
            match (&p.config, &p.stats) {
                // As in show_dpif: the open failure is reported right after the newline.
                (PortConfig::OpenFailed(e), _) => {
                    let _ = write!(out, ", open failed ({})", strerror(*e));
                }
                (_, Some(Ok(s))) => format_port_stats(s, &mut out),
                (_, Some(Err(e))) => {
                    let _ = write!(out, ", could not retrieve stats ({})", strerror(*e));
                }
                (_, None) => {}
            }
        }
    }
    out
}

/// `packet_format_tcp_flags`: `S F P R U . E C N [200] [400] [800]`, `none` for zero.
pub fn format_tcp_flags(flags: u16) -> String {
    if flags == 0 {
        return "none".to_owned();
    }
    const NAMES: [(u16, &str); 12] = [
        (0x002, "S"),
        (0x001, "F"),
        (0x008, "P"),
        (0x004, "R"),
        (0x020, "U"),
        (0x010, "."),
        (0x040, "E"),
        (0x080, "C"),
        (0x100, "N"),
        (0x200, "[200]"),
        (0x400, "[400]"),
        (0x800, "[800]"),
    ];
    NAMES
        .iter()
        .filter(|(b, _)| flags & b != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// `dpif_flow_stats_format`: `packets:N, bytes:N, used:S.SSSs|never[, flags:F]`.
pub fn format_flow_stats(s: &FlowStats, now_ms: u64) -> String {
    let mut out = format!("packets:{}, bytes:{}, used:", s.n_packets, s.n_bytes);
    if s.used != 0 {
        // Both are signed milliseconds in OVS; a `used` ahead of our clock prints negative.
        let age = (now_ms as i128 - s.used as i128) as f64 / 1000.0;
        let _ = write!(out, "{age:.3}s");
    } else {
        out.push_str("never");
    }
    if s.tcp_flags != 0 {
        out.push_str(", flags:");
        out.push_str(&format_tcp_flags(s.tcp_flags));
    }
    out
}

/// The four 32-bit words OVS reads a UFID as (host order, like `ovs_u128`).
fn ufid_words(u: &[u8; 16]) -> [u32; 4] {
    let w = |i: usize| u32::from_ne_bytes([u[i], u[i + 1], u[i + 2], u[i + 3]]);
    [w(0), w(4), w(8), w(12)]
}

/// `odp_format_ufid`: `ufid:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
pub fn format_ufid(u: &[u8; 16]) -> String {
    let [a, b, c, d] = ufid_words(u);
    format!(
        "ufid:{a:08x}-{:04x}-{:04x}-{:04x}-{:04x}{d:08x}",
        b >> 16,
        b & 0xffff,
        c >> 16,
        c & 0xffff
    )
}

/// `odp_ufid_from_string`: `Ok(None)` without a `ufid:` prefix, `Ok(Some((ufid, n)))` with
/// `n` bytes consumed, `Err(())` (EINVAL) for a malformed UUID. Text after the 36 UUID
/// characters is left to the caller, as OVS does.
#[allow(clippy::result_unit_err)]
pub fn parse_ufid(s: &str) -> Result<Option<([u8; 16], usize)>, ()> {
    let Some(rest) = s.strip_prefix("ufid:") else {
        return Ok(None);
    };
    let b = rest.as_bytes();
    let uuid = b.get(..36).ok_or(())?;
    let mut hex = String::with_capacity(32);
    for (i, &c) in uuid.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return Err(());
            }
        } else if c.is_ascii_hexdigit() {
            hex.push(char::from(c));
        } else {
            return Err(());
        }
    }
    let word = |r: std::ops::Range<usize>| u32::from_str_radix(&hex[r], 16).map_err(|_| ());
    let words = [word(0..8)?, word(8..16)?, word(16..24)?, word(24..32)?];
    let mut u = [0u8; 16];
    for (i, w) in words.iter().enumerate() {
        u[4 * i..4 * i + 4].copy_from_slice(&w.to_ne_bytes());
    }
    Ok(Some((u, 5 + 36)))
}

/// Replaces an exact `in_port(N)` attribute with `in_port(NAME)` (`odp_portno_name_format`).
/// A partially masked in_port prints `N/0xM` and is left alone, as OVS does.
fn name_in_port(key_text: &str, names: &PortNames) -> String {
    let mut at = 0;
    while let Some(i) = key_text[at..].find("in_port(") {
        let start = at + i;
        at = start + 8;
        if start != 0 && !key_text[..start].ends_with(',') {
            continue;
        }
        let rest = &key_text[at..];
        let Some(close) = rest.find(')') else {
            break;
        };
        let num = &rest[..close];
        if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Some(name) = num.parse::<u32>().ok().and_then(|n| names.get(&n)) {
            return format!("{}in_port({name}{}", &key_text[..start], &rest[close..]);
        }
        break;
    }
    key_text.to_owned()
}

/// Key text as `odp_flow_format` prints it, with port names when `names` is given.
pub fn format_flow_key(f: &FlowInfo, verbose: bool, names: Option<&PortNames>) -> String {
    let mut s = String::new();
    format_key(&f.key, f.mask.as_ref(), verbose, &mut s);
    match names {
        Some(n) => name_in_port(&s, n),
        None => s,
    }
}

fn port(out: &mut String, p: u32, names: Option<&PortNames>) {
    match names.and_then(|n| n.get(&p)) {
        Some(name) => out.push_str(name),
        None => {
            let _ = write!(out, "{p}");
        }
    }
}

fn format_list_named(list: &[Action], names: Option<&PortNames>, out: &mut String) {
    if list.is_empty() {
        out.push_str("drop");
        return;
    }
    for (i, a) in list.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        format_action_named(a, names, out);
    }
}

/// `format_odp_action` with a port-name map: outputs are named, also inside `clone`,
/// `sample`, `check_pkt_len` and `dec_ttl`; numbers inside `set(…)` stay numeric.
fn format_action_named(a: &Action, names: Option<&PortNames>, out: &mut String) {
    match a {
        Action::Output(p) => port(out, *p, names),
        Action::Clone(list) => {
            out.push_str("clone(");
            format_list_named(list, names, out);
            out.push(')');
        }
        Action::Sample {
            probability,
            actions,
        } => {
            let pct = 100.0 * f64::from(*probability) / f64::from(u32::MAX);
            let _ = write!(out, "sample(sample={pct:.1}%,actions(");
            format_list_named(actions, names, out);
            out.push_str("))");
        }
        Action::CheckPktLen {
            pkt_len,
            if_greater,
            if_less_equal,
        } => {
            let _ = write!(out, "check_pkt_len(size={pkt_len},gt(");
            format_list_named(if_greater, names, out);
            out.push_str("),le(");
            format_list_named(if_less_equal, names, out);
            out.push_str("))");
        }
        Action::DecTtl(list) => {
            out.push_str("dec_ttl(le_1(");
            format_list_named(list, names, out);
            out.push_str("))");
        }
        other => format_action(other, out),
    }
}

/// `format_odp_actions` (empty → `drop`) with optional port names.
pub fn format_actions_named(actions: &Actions, names: Option<&PortNames>) -> String {
    let mut s = String::new();
    format_list_named(&actions.0, names, &mut s);
    s
}

/// `format_dpif_flow`: one `dump-flows` / `get-flow` line, without the newline.
pub fn format_flow(f: &FlowInfo, fmt: &FlowFormat<'_>) -> String {
    let mut out = String::new();
    if fmt.verbose {
        if let Some(u) = &f.ufid {
            out.push_str(&format_ufid(u));
            out.push_str(", ");
        }
    }
    out.push_str(&format_flow_key(f, fmt.verbose, fmt.names));
    out.push_str(", ");
    out.push_str(&format_flow_stats(&f.stats, fmt.now_ms));
    // dpif-netlink reports every kernel flow with dp_layer "ovs" and never as offloaded.
    if fmt.verbose {
        out.push_str(", dp:ovs");
    }
    out.push_str(", actions:");
    match &f.actions {
        Some(a) => out.push_str(&format_actions_named(a, fmt.names)),
        None => out.push_str("drop"),
    }
    out
}
