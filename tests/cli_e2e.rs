//! userdpctl against the real datapath service, in-process, with memory-backed ports.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use userdp::cli::dpif::Transport;
use userdp::cli::netdev::SysHost;
use userdp::cli::options::{parse_command_line, Invocation};
use userdp::cli::{execute, Io};
use userdp::daemon::{Daemon, DaemonConfig, DaemonHandle};
use userdp::dp::{DpConfig, Registry};
use userdp::transport::Client;

struct Env {
    socket: PathBuf,
    _daemon: DaemonHandle,
}

fn start(tag: &str) -> Env {
    let dir = std::env::temp_dir().join(format!("userdpctl-e2e-{tag}-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let socket = dir.join("s.sock");
    let _ = std::fs::remove_file(&socket);
    let service = Arc::new(Registry::new(DpConfig::dummy()));
    let daemon = Daemon::start(DaemonConfig::new(&socket), service).expect("daemon");
    Env {
        socket,
        _daemon: daemon,
    }
}

/// Runs one command line; returns (stdout, stderr, exit status).
fn run(env: &Env, line: &[&str]) -> (String, String, i32) {
    let args: Vec<String> = line.iter().map(|s| s.to_string()).collect();
    let Invocation::Run { options, args } = parse_command_line(&args) else {
        panic!("bad options {line:?}");
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut io = Io {
        out: &mut out,
        err: &mut err,
        now_ms: userdp::sys::clock::monotonic_ms(),
        host: &SysHost,
    };
    let socket = env.socket.clone();
    let mut connect =
        || -> io::Result<Box<dyn Transport>> { Ok(Box::new(Client::connect(&socket)?)) };
    let code = execute(&options, &args, &mut io, &env.socket, &mut connect);
    (
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
        code,
    )
}

fn check(env: &Env, line: &[&str], out: &str, err: &str, code: i32) {
    let r = run(env, line);
    assert_eq!(
        (r.0.as_str(), r.1.as_str(), r.2),
        (out, err, code),
        "{line:?}"
    );
}

#[test]
fn datapaths_and_ports() {
    let e = start("ports");
    check(&e, &["dump-dps"], "", "", 0);
    check(&e, &["add-dp", "dp0", "p1", "p2,port_no=5"], "", "", 0);
    check(
        &e,
        &["add-dp", "dp0"],
        "",
        "userdpctl: add_dp (File exists)\n",
        1,
    );
    check(
        &e,
        &["add-if", "system@dp0", "in1,type=internal"],
        "",
        "",
        0,
    );
    check(&e, &["dump-dps"], "system@dp0\n", "", 0);
    check(
        &e,
        &["show"],
        "system@dp0:\n  lookups: hit:0 missed:0 lost:0\n  flows: 0\n  \
         masks: hit:0 total:0 hit/pkt:0.00\n  caches:\n    masks-cache: size:256\n  \
         port 0: dp0 (internal)\n  port 1: p1\n  port 2: in1 (internal)\n  port 5: p2\n",
        "",
        0,
    );
    let (out, _, code) = run(&e, &["show", "-s", "dp0"]);
    assert_eq!(code, 0);
    assert!(out.contains(
        "  port 2: in1 (internal)\n    RX packets:0 errors:0 dropped:0 overruns:0 frame:0\n    \
         TX packets:0 errors:0 dropped:0 aborted:0 carrier:0\n    collisions:0\n    \
         RX bytes:0  TX bytes:0\n"
    ));
    check(
        &e,
        &["add-if", "dp0", "p3,port_no=5"],
        "",
        "userdpctl: adding p3 to dp0 failed (Device or resource busy)\n",
        1,
    );
    check(
        &e,
        &["del-if", "dp0", "p1", "ghost", "0"],
        "",
        "userdpctl: no port named ghost\n\
         userdpctl: deleting port 0 from dp0 failed (Invalid argument)\n",
        1,
    );
    check(
        &e,
        &["show", "dp0", "dp9"],
        "system@dp0:\n  lookups: hit:0 missed:0 lost:0\n  flows: 0\n  \
         masks: hit:0 total:0 hit/pkt:0.00\n  caches:\n    masks-cache: size:256\n  \
         port 0: dp0 (internal)\n  port 2: in1 (internal)\n  port 5: p2\n",
        "userdpctl: opening datapath dp9 failed (No such device)\n",
        1,
    );
    check(&e, &["del-dp", "dp0"], "", "", 0);
    check(
        &e,
        &["del-dp", "dp0"],
        "",
        "userdpctl: opening datapath (No such device)\n",
        1,
    );
    check(&e, &["dump-dps"], "", "", 0);
}

const UFID: &str = "ufid:11111111-2222-3333-4444-555555555555";
const ARP: &str = "in_port(5),eth(src=00:00:00:00:00:01/ff:ff:ff:00:00:00),\
                   eth_type(0x0806),arp(op=1)";
const IP: &str = "in_port(1),eth(),eth_type(0x0800),ipv4(src=10.0.0.1,frag=no)";

#[test]
fn flows() {
    let e = start("flows");
    check(&e, &["add-dp", "dp0", "p1", "p2,port_no=5"], "", "", 0);
    check(
        &e,
        &["add-flow", &format!("{UFID},{ARP}"), "1,5"],
        "",
        "",
        0,
    );
    check(&e, &["add-flow", "dp0", IP, "5"], "", "", 0);
    check(
        &e,
        &["add-flow", IP, "5"],
        "",
        "userdpctl: updating flow table (File exists)\n",
        1,
    );
    // The kernel's validation: an ARP ethertype needs an arp() attribute.
    check(
        &e,
        &["add-flow", "in_port(1),eth(),eth_type(0x0806)", "2"],
        "",
        "userdpctl: updating flow table (Invalid argument)\n",
        1,
    );
    // Flows come back with their masked key.
    let arp_line = "in_port(5),eth(src=00:00:00:00:00:00/ff:ff:ff:00:00:00),eth_type(0x0806),\
                    arp(op=1), packets:0, bytes:0, used:never, actions:1,5\n";
    let ip_line = "in_port(1),eth(),eth_type(0x0800),ipv4(src=10.0.0.1,frag=no), packets:0, \
                   bytes:0, used:never, actions:5\n";
    let (out, err, code) = run(&e, &["dump-flows"]);
    assert_eq!((err.as_str(), code), ("", 0));
    let mut lines: Vec<&str> = out.split_inclusive('\n').collect();
    lines.sort_unstable();
    assert_eq!(lines, [ip_line, arp_line]);
    check(&e, &["get-flow", UFID], arp_line, "", 0);
    let (out, _, _) = run(&e, &["dump-flows", "-m", "filter=arp"]);
    assert_eq!(
        out,
        format!(
            "{UFID}, in_port(p2),eth(src=00:00:00:00:00:00/ff:ff:ff:00:00:00,\
             dst=00:00:00:00:00:00/00:00:00:00:00:00),eth_type(0x0806),arp(sip=0.0.0.0/0.0.0.0,\
             tip=0.0.0.0/0.0.0.0,op=1,sha=00:00:00:00:00:00/00:00:00:00:00:00,\
             tha=00:00:00:00:00:00/00:00:00:00:00:00), packets:0, bytes:0, used:never, dp:ovs, \
             actions:p1,p2\n"
        )
    );
    check(
        &e,
        &["mod-flow", "-s", IP, "1"],
        "packets:0, bytes:0, used:never\n",
        "",
        0,
    );
    check(
        &e,
        &[
            "mod-flow",
            "in_port(2),eth(),eth_type(0x0800),ipv4(frag=no)",
            "1",
        ],
        "",
        "userdpctl: updating flow table (No such file or directory)\n",
        1,
    );
    check(
        &e,
        &[
            "mod-flow",
            "--may-create",
            "in_port(2),eth(),eth_type(0x0800),ipv4(frag=no)",
            "1",
        ],
        "",
        "",
        0,
    );
    // A UFID flow cannot be found by its key.
    check(
        &e,
        &["del-flow", ARP],
        "Perhaps you need to specify a UFID?\n",
        "userdpctl: deleting flow (No such file or directory)\n",
        1,
    );
    check(
        &e,
        &["del-flow", "-s", UFID],
        "packets:0, bytes:0, used:never\n",
        "",
        0,
    );
    check(
        &e,
        &["get-flow", UFID],
        "",
        "userdpctl: getting flow (No such file or directory)\n",
        1,
    );
    let (out, _, _) = run(&e, &["--format=json", "dump-flows"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["datapath"], "system@dp0");
    assert_eq!(v["flows"].as_array().map(Vec::len), Some(2));
    check(&e, &["del-flows"], "", "", 0);
    check(&e, &["dump-flows"], "", "", 0);
    let (out, _, _) = run(&e, &["--format=json", "show"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["datapaths"][0]["flows"], 0);
    assert_eq!(v["datapaths"][0]["ports"][2]["name"], "p2");
}
