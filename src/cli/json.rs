//! `--format json`: stable JSON documents for `show`, `dump-dps` and `dump-flows`.
//!
//! The schema is documented in `man/userdpctl.8` (section JSON OUTPUT). Counters are JSON
//! numbers; a counter the device does not provide is `null` (the text prints `?`). Keys and
//! actions are the same text the text format prints, so they can be pasted back into
//! `add-flow`.

use serde_json::{json, Map, Value};

use super::format::{
    format_actions_named, format_flow_key, format_tcp_flags, format_ufid, FlowFormat,
};
use super::model::{DpShow, FlowInfo, NetdevStats, PortConfig};

fn port_stats(s: &NetdevStats) -> Value {
    json!({
        "rx_packets": s.rx_packets,
        "rx_errors": s.rx_errors,
        "rx_dropped": s.rx_dropped,
        "rx_over_errors": s.rx_over_errors,
        "rx_frame_errors": s.rx_frame_errors,
        "rx_bytes": s.rx_bytes,
        "tx_packets": s.tx_packets,
        "tx_errors": s.tx_errors,
        "tx_dropped": s.tx_dropped,
        "tx_aborted_errors": s.tx_aborted_errors,
        "tx_carrier_errors": s.tx_carrier_errors,
        "tx_bytes": s.tx_bytes,
        "collisions": s.collisions,
    })
}

/// One datapath of `show --format json`.
pub fn dp_show_value(show: &DpShow, statistics: bool) -> Value {
    let dp = &show.dp;
    let mut o = Map::new();
    o.insert("name".into(), json!(dp.full_name()));
    o.insert("dp_ifindex".into(), json!(dp.dp_ifindex));
    if show.have_stats {
        let s = dp.stats;
        o.insert(
            "lookups".into(),
            json!({"hit": s.n_hit, "missed": s.n_missed, "lost": s.n_lost}),
        );
        o.insert("flows".into(), json!(s.n_flows));
        let n_pkts = s.n_hit.wrapping_add(s.n_missed);
        let ratio = |x: u64| {
            if n_pkts == 0 {
                0.0
            } else {
                x as f64 / n_pkts as f64
            }
        };
        o.insert(
            "masks".into(),
            match dp.megaflow {
                Some(m) => json!({
                    "hit": m.n_mask_hit,
                    "total": m.n_masks,
                    "hit_per_pkt": ratio(m.n_mask_hit),
                    "cache_hit": m.n_cache_hit,
                    "cache_hit_rate": m.n_cache_hit.map(|c| ratio(c) * 100.0),
                }),
                None => Value::Null,
            },
        );
    } else {
        o.insert("lookups".into(), Value::Null);
        o.insert("flows".into(), Value::Null);
        o.insert("masks".into(), Value::Null);
    }
    let caches: Vec<Value> = dp
        .masks_cache_size
        .map(|size| json!({"name": "masks-cache", "size": size}))
        .into_iter()
        .collect();
    o.insert("caches".into(), Value::Array(caches));
    o.insert("user_features".into(), json!(dp.user_features));
    let ports: Vec<Value> = show
        .ports
        .iter()
        .map(|p| {
            let mut po = Map::new();
            po.insert("port_no".into(), json!(p.port_no));
            po.insert("name".into(), json!(p.name));
            po.insert("type".into(), json!(p.kind));
            match &p.config {
                PortConfig::Config(kv) => {
                    let m: Map<String, Value> =
                        kv.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
                    po.insert("config".into(), Value::Object(m));
                }
                PortConfig::OpenFailed(e) => {
                    po.insert("config".into(), Value::Null);
                    po.insert("error".into(), json!(super::format::strerror(*e)));
                }
            }
            if statistics {
                match &p.stats {
                    Some(Ok(s)) => {
                        po.insert("stats".into(), port_stats(s));
                    }
                    Some(Err(e)) => {
                        po.insert("stats".into(), Value::Null);
                        po.insert("stats_error".into(), json!(super::format::strerror(*e)));
                    }
                    None => {}
                }
            }
            Value::Object(po)
        })
        .collect();
    o.insert("ports".into(), Value::Array(ports));
    Value::Object(o)
}

/// The whole `show --format json` document.
pub fn show_document(shows: &[DpShow], statistics: bool) -> String {
    let dps: Vec<Value> = shows.iter().map(|s| dp_show_value(s, statistics)).collect();
    render(&json!({ "datapaths": dps }))
}

/// The whole `dump-dps --format json` document.
pub fn dump_dps_document(names: &[String]) -> String {
    render(&json!({ "datapaths": names }))
}

/// One flow of `dump-flows --format json`.
pub fn flow_value(f: &FlowInfo, fmt: &FlowFormat<'_>) -> Value {
    let used_ago_ms = (f.stats.used != 0).then(|| fmt.now_ms as i128 - f.stats.used as i128);
    json!({
        "ufid": f.ufid.as_ref().map(|u| format_ufid(u)["ufid:".len()..].to_owned()),
        "key": format_flow_key(f, fmt.verbose, fmt.names),
        "packets": f.stats.n_packets,
        "bytes": f.stats.n_bytes,
        "used_ms_ago": used_ago_ms.map(|v| i64::try_from(v).unwrap_or(i64::MAX)),
        "tcp_flags": (f.stats.tcp_flags != 0).then(|| format_tcp_flags(f.stats.tcp_flags)),
        "actions": f.actions.as_ref().map_or_else(|| "drop".to_owned(), |a| format_actions_named(a, fmt.names)),
    })
}

/// The whole `dump-flows --format json` document.
pub fn flows_document(dp: &str, flows: &[FlowInfo], fmt: &FlowFormat<'_>) -> String {
    let fl: Vec<Value> = flows.iter().map(|f| flow_value(f, fmt)).collect();
    render(&json!({ "datapath": dp, "flows": fl }))
}

fn render(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}
