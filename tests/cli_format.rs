//! Output text of userdpctl, written from ovs-dpctl 3.1's formats (`show_dpif`,
//! `format_dpif_flow`, `dpif_flow_stats_format`, `odp_format_ufid`) and the samples quoted
//! in `ovs-users.md` §1.3–1.5.

use userdp::cli::format::{
    format_dp_show, format_flow, format_flow_stats, format_tcp_flags, format_ufid, human_size,
    parse_ufid, FlowFormat, PortNames,
};
use userdp::cli::json;
use userdp::cli::model::{
    DpInfo, DpShow, DpStats, FlowInfo, FlowStats, MegaflowStats, NetdevStats, PortConfig, PortShow,
};
use userdp::cli::netdev::{fresh_tunnel_config, tunnel_dpif_name};
use userdp_protocol::text::action::parse_actions;
use userdp_protocol::text::key::parse_key;

fn port(no: u32, name: &str, kind: &str, config: &[(&str, &str)]) -> PortShow {
    PortShow {
        port_no: no,
        name: name.into(),
        kind: kind.into(),
        config: PortConfig::Config(
            config
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        stats: None,
    }
}

/// The kernel example of commit 9b20df73a, with the hit-rate the code really prints.
fn kernel_example() -> DpShow {
    DpShow {
        dp: DpInfo {
            name: "ovs-system".into(),
            dp_ifindex: 3,
            stats: DpStats {
                n_hit: 25,
                n_missed: 63,
                n_lost: 0,
                n_flows: 0,
            },
            megaflow: Some(MegaflowStats {
                n_mask_hit: 282,
                n_masks: 0,
                n_cache_hit: Some(4),
            }),
            user_features: Some(0xb),
            masks_cache_size: Some(256),
        },
        have_stats: true,
        ports: vec![
            port(0, "ovs-system", "internal", &[]),
            port(2, "genev_sys_6081", "geneve", &[("packet_type", "ptap")]),
            port(4, "eth2", "system", &[]),
        ],
    }
}

#[test]
fn show_prints_every_line_of_the_kernel_layout() {
    assert_eq!(
        format_dp_show(&kernel_example(), false),
        "system@ovs-system:
  lookups: hit:25 missed:63 lost:0
  flows: 0
  masks: hit:282 total:0 hit/pkt:3.20
  cache: hit:4 hit-rate:4.55%
  caches:
    masks-cache: size:256
  port 0: ovs-system (internal)
  port 2: genev_sys_6081 (geneve: packet_type=ptap)
  port 4: eth2
"
    );
}

#[test]
fn show_leaves_out_what_the_datapath_does_not_report() {
    let mut s = kernel_example();
    // n_cache_hit 0 is "unknown" in dpif-netlink: no cache line, masks line stays.
    s.dp.megaflow = Some(MegaflowStats {
        n_mask_hit: 0,
        n_masks: 3,
        n_cache_hit: None,
    });
    s.dp.stats = DpStats::default();
    s.dp.masks_cache_size = None;
    s.ports.truncate(1);
    assert_eq!(
        format_dp_show(&s, false),
        "system@ovs-system:\n  lookups: hit:0 missed:0 lost:0\n  flows: 0\n  \
         masks: hit:0 total:3 hit/pkt:0.00\n  port 0: ovs-system (internal)\n"
    );
    s.dp.megaflow = None;
    s.have_stats = false;
    assert_eq!(
        format_dp_show(&s, false),
        "system@ovs-system:\n  port 0: ovs-system (internal)\n"
    );
}

#[test]
fn show_port_configs_join_with_colon_then_commas() {
    let mut s = kernel_example();
    s.have_stats = false;
    s.dp.masks_cache_size = None;
    s.ports = vec![
        port(
            5,
            "erspan_sys",
            "erspan",
            &[("erspan_ver", "0"), ("packet_type", "ptap")],
        ),
        PortShow {
            config: PortConfig::OpenFailed(libc::EAFNOSUPPORT),
            ..port(6, "weird", "unknown", &[])
        },
    ];
    assert_eq!(
        format_dp_show(&s, false),
        "system@ovs-system:\n  port 5: erspan_sys (erspan: erspan_ver=0, packet_type=ptap)\n  \
         port 6: weird (unknown: open failed (Address family not supported by protocol))\n"
    );
}

fn dummy_stats() -> NetdevStats {
    NetdevStats {
        rx_packets: Some(27),
        rx_bytes: Some(1458),
        tx_packets: Some(1),
        tx_bytes: Some(54),
        ..NetdevStats::default()
    }
}

#[test]
fn show_s_prints_four_counter_lines_with_question_marks() {
    let mut s = kernel_example();
    s.have_stats = false;
    s.dp.masks_cache_size = None;
    s.ports = vec![PortShow {
        stats: Some(Ok(dummy_stats())),
        ..port(1, "q1", "dummy", &[])
    }];
    // The observed dummy-port sample of ovs-users.md §1.3.
    assert_eq!(
        format_dp_show(&s, true),
        "system@ovs-system:
  port 1: q1 (dummy)
    RX packets:27 errors:? dropped:? overruns:? frame:?
    TX packets:1 errors:? dropped:? aborted:? carrier:?
    collisions:?
    RX bytes:1458 (1.4 KiB)  TX bytes:54
"
    );
}

#[test]
fn show_s_error_quirks_continue_on_the_same_line() {
    let mut s = kernel_example();
    s.have_stats = false;
    s.dp.masks_cache_size = None;
    s.ports = vec![
        PortShow {
            stats: Some(Err(libc::EOPNOTSUPP)),
            ..port(0, "dp0", "internal", &[])
        },
        PortShow {
            config: PortConfig::OpenFailed(libc::EAFNOSUPPORT),
            stats: Some(Err(libc::EAFNOSUPPORT)),
            ..port(1, "x", "unknown", &[])
        },
        port(2, "y", "system", &[]),
    ];
    assert_eq!(
        format_dp_show(&s, true),
        "system@ovs-system:\n  port 0: dp0 (internal)\n, could not retrieve stats \
         (Operation not supported)  port 1: x (unknown: open failed (Address family not \
         supported by protocol))\n, open failed (Address family not supported by protocol)  \
         port 2: y\n"
    );
}

#[test]
fn human_sizes_switch_units_at_powers_of_1024() {
    let cases = [
        (None, ""),
        (Some(0), ""),
        (Some(1023), ""),
        (Some(1024), " (1.0 KiB)"),
        (Some(1458), " (1.4 KiB)"),
        (Some(1 << 20), " (1.0 MiB)"),
        (Some(5 * (1 << 30) + (1 << 29)), " (5.5 GiB)"),
        (Some(3 << 40), " (3.0 TiB)"),
        (Some(u64::MAX - 1), " (16777216.0 TiB)"),
    ];
    for (v, want) in cases {
        assert_eq!(human_size(v), want, "{v:?}");
    }
}

#[test]
fn tcp_flags_print_in_ovs_order() {
    assert_eq!(format_tcp_flags(0), "none");
    assert_eq!(format_tcp_flags(0x002), "S");
    assert_eq!(format_tcp_flags(0x012), "S.");
    assert_eq!(format_tcp_flags(0x1ff), "SFPRU.ECN");
    assert_eq!(format_tcp_flags(0xe00), "[200][400][800]");
}

#[test]
fn flow_stats_used_is_age_in_seconds() {
    let s = FlowStats {
        n_packets: 1,
        n_bytes: 54,
        used: 10_000,
        tcp_flags: 0x02,
    };
    assert_eq!(
        format_flow_stats(&s, 11_208),
        "packets:1, bytes:54, used:1.208s, flags:S"
    );
    assert_eq!(
        format_flow_stats(&FlowStats::default(), 5),
        "packets:0, bytes:0, used:never"
    );
    // A use stamped after our clock reading prints negative, as OVS's signed math does.
    let ahead = FlowStats {
        used: 1005,
        ..FlowStats::default()
    };
    assert_eq!(
        format_flow_stats(&ahead, 1000),
        "packets:0, bytes:0, used:-0.005s"
    );
}

#[test]
fn ufid_text_uses_host_order_words() {
    // Words 0x733064f2, 0x3fee4c58, 0xbf5da6ea, 0xb3793aef stored little-endian.
    let mut u = [0u8; 16];
    for (i, w) in [0x733064f2u32, 0x3fee4c58, 0xbf5da6ea, 0xb3793aef]
        .iter()
        .enumerate()
    {
        u[4 * i..4 * i + 4].copy_from_slice(&w.to_ne_bytes());
    }
    let text = "ufid:733064f2-3fee-4c58-bf5d-a6eab3793aef";
    assert_eq!(format_ufid(&u), text);
    assert_eq!(parse_ufid(text), Ok(Some((u, 41))));
    // Upper case reads the same; text after the 36 characters is the caller's.
    assert_eq!(
        parse_ufid("ufid:733064F2-3FEE-4C58-BF5D-A6EAB3793AEF,in_port(1)"),
        Ok(Some((u, 41)))
    );
    assert_eq!(parse_ufid("in_port(1)"), Ok(None));
    // 32 bare digits are not a UUID (the man page is wrong, ovs-users.md §1.2).
    assert_eq!(parse_ufid("ufid:733064f23fee4c58bf5da6eab3793aef"), Err(()));
    assert_eq!(
        parse_ufid("ufid:733064f2-3fee-4c58-bf5d-a6eab3793ae"),
        Err(())
    );
}

fn flow(key: &str, actions: &str, stats: FlowStats, ufid: Option<[u8; 16]>) -> FlowInfo {
    let (k, m) = parse_key(key).expect("key");
    FlowInfo {
        ufid,
        key: k,
        mask: Some(m),
        stats,
        actions: Some(parse_actions(actions).expect("actions")),
    }
}

const KEY: &str = "recirc_id(0),in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),\
                   eth_type(0x0800),ipv4(src=10.0.0.1/0.0.0.0,dst=10.0.0.2/0.0.0.0,proto=6/0,\
                   tos=0/0,ttl=64/0,frag=no)";

#[test]
fn dump_flows_line_without_m() {
    let f = flow(
        KEY,
        "2",
        FlowStats {
            n_packets: 1,
            n_bytes: 54,
            used: 98_792,
            tcp_flags: 0x02,
        },
        Some([7; 16]),
    );
    let fmt = FlowFormat {
        verbose: false,
        names: None,
        now_ms: 100_000,
    };
    assert_eq!(
        format_flow(&f, &fmt),
        "recirc_id(0),in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),\
         eth_type(0x0800),ipv4(frag=no), packets:1, bytes:54, used:1.208s, flags:S, actions:2"
    );
}

#[test]
fn dump_flows_line_with_m_has_ufid_every_field_and_dp_ovs() {
    let mut u = [0u8; 16];
    u[..4].copy_from_slice(&1u32.to_ne_bytes());
    let f = flow(KEY, "2,3", FlowStats::default(), Some(u));
    let names: PortNames = [(1, "q1".to_owned()), (2, "q2".to_owned())]
        .into_iter()
        .collect();
    let fmt = FlowFormat {
        verbose: true,
        names: Some(&names),
        now_ms: 0,
    };
    assert_eq!(
        format_flow(&f, &fmt),
        "ufid:00000001-0000-0000-0000-000000000000, recirc_id(0),in_port(q1),\
         eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),\
         ipv4(src=10.0.0.1/0.0.0.0,dst=10.0.0.2/0.0.0.0,proto=6/0,tos=0/0,ttl=64/0,frag=no), \
         packets:0, bytes:0, used:never, dp:ovs, actions:q2,3"
    );
}

#[test]
fn names_apply_to_exact_in_port_and_nested_outputs_only() {
    let names: PortNames = [(1, "p1".to_owned()), (2, "p2".to_owned())]
        .into_iter()
        .collect();
    let fmt = FlowFormat {
        verbose: false,
        names: Some(&names),
        now_ms: 0,
    };
    let f = flow(
        "in_port(1/0xff),eth_type(0x0806)",
        "clone(2),sample(sample=50.0%,actions(1)),check_pkt_len(size=200,gt(2),le(drop))",
        FlowStats::default(),
        None,
    );
    assert_eq!(
        format_flow(&f, &fmt),
        "in_port(1/0xff),eth_type(0x0806), packets:0, bytes:0, used:never, \
         actions:clone(p2),sample(sample=50.0%,actions(p1)),check_pkt_len(size=200,gt(p2),le(drop))"
    );
}

#[test]
fn empty_actions_print_drop() {
    let f = flow("in_port(3)", "", FlowStats::default(), None);
    let fmt = FlowFormat::default();
    assert_eq!(
        format_flow(&f, &fmt),
        "in_port(3), packets:0, bytes:0, used:never, actions:drop"
    );
}

#[test]
fn tunnel_names_and_fresh_configs() {
    assert_eq!(
        tunnel_dpif_name("vxlan", "vx0", None).as_deref(),
        Some("vxlan_sys_4789")
    );
    assert_eq!(
        tunnel_dpif_name("vxlan", "vx0", Some(8472)).as_deref(),
        Some("vxlan_sys_8472")
    );
    assert_eq!(
        tunnel_dpif_name("geneve", "g", None).as_deref(),
        Some("genev_sys_6081")
    );
    assert_eq!(
        tunnel_dpif_name("gre", "g", Some(1)).as_deref(),
        Some("gre_sys")
    );
    assert_eq!(
        tunnel_dpif_name("bareudp", "b", Some(6635)).as_deref(),
        Some("udp_sys_6635")
    );
    assert_eq!(tunnel_dpif_name("internal", "x", None), None);
    let kv = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        fresh_tunnel_config("vxlan", "vxlan_sys_4789"),
        kv(&[("packet_type", "ptap")])
    );
    assert_eq!(
        fresh_tunnel_config("vxlan", "vxlan_sys_8472"),
        kv(&[("dst_port", "8472"), ("packet_type", "ptap")])
    );
    assert_eq!(
        fresh_tunnel_config("bareudp", "udp_sys_6635"),
        kv(&[("dst_port", "6635"), ("packet_type", "ptap")])
    );
    assert_eq!(
        fresh_tunnel_config("ip6erspan", "ip6erspan_sys"),
        kv(&[("erspan_ver", "0"), ("packet_type", "ptap")])
    );
}

#[test]
fn json_documents_have_the_documented_shape() {
    let mut s = kernel_example();
    s.ports[2].stats = Some(Ok(dummy_stats()));
    let v: serde_json::Value = serde_json::from_str(&json::show_document(&[s], true)).unwrap();
    let dp = &v["datapaths"][0];
    assert_eq!(dp["name"], "system@ovs-system");
    assert_eq!(dp["lookups"]["missed"], 63);
    assert_eq!(dp["flows"], 0);
    assert_eq!(dp["masks"]["total"], 0);
    assert_eq!(dp["masks"]["cache_hit"], 4);
    assert_eq!(dp["caches"][0]["name"], "masks-cache");
    assert_eq!(dp["caches"][0]["size"], 256);
    assert_eq!(dp["ports"][1]["config"]["packet_type"], "ptap");
    assert_eq!(dp["ports"][2]["type"], "system");
    assert_eq!(dp["ports"][2]["stats"]["rx_bytes"], 1458);
    assert!(dp["ports"][2]["stats"]["rx_errors"].is_null());

    let v: serde_json::Value =
        serde_json::from_str(&json::dump_dps_document(&["system@a".into()])).unwrap();
    assert_eq!(v, serde_json::json!({"datapaths": ["system@a"]}));

    let f = flow(
        "in_port(1),eth_type(0x0800)",
        "2",
        FlowStats {
            n_packets: 3,
            n_bytes: 180,
            used: 900,
            tcp_flags: 0x12,
        },
        Some([0; 16]),
    );
    let fmt = FlowFormat {
        verbose: false,
        names: None,
        now_ms: 1000,
    };
    let v: serde_json::Value =
        serde_json::from_str(&json::flows_document("system@a", &[f], &fmt)).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "datapath": "system@a",
            "flows": [{
                "ufid": "00000000-0000-0000-0000-000000000000",
                "key": "in_port(1),eth_type(0x0800)",
                "packets": 3,
                "bytes": 180,
                "used_ms_ago": 100,
                "tcp_flags": "S.",
                "actions": "2",
            }]
        })
    );
}
