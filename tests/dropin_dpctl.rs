//! Drop-in tier: Debian's real `ovs-dpctl` (Open vSwitch 3.1) under `userdp-run`, against a
//! spawned `userdpd`, runs the whole `ovs-dpctl` command set with the exit codes it has on a
//! kernel datapath; and for every command that prints, `userdpctl` prints the same bytes.
//!
//! Deliberate differences, not compared:
//! - stderr. `ovs-dpctl` logs through vlog (`2026-…|00001|dpif_netlink|INFO|Datapath dispatch
//!   mode: per-cpu` on `add-dp`, `dpif|WARN|… failed to flow_del …` before an error); userdpctl
//!   has no vlog. For failures the final `<program>: <what> (<strerror>)` line is compared with
//!   the program name replaced.
//! - `used:` of a flow that has seen traffic is relative to the moment each tool ran; those
//!   values are masked (`used:N.NNNs`) before comparing.
//!
//! Everything runs inside a private network namespace (IPv6 off, so no router solicitations
//! move the port counters between the two tools' runs) with the daemon's socket in a private
//! temp directory.

mod common;
mod dropin_common;

use std::path::Path;
use std::process::{Command, Output};

use common::{sh, Netns};
use dropin_common::{in_ns, require_dropin, run, shimmed, stderr, stdout, TempDir, Tools, Userdpd};

const UFID: &str = "ufid:11111111-2222-3333-4444-555555555555";
/// An exact-match IPv4/TCP flow: the kernel requires `tcp_flags` next to `tcp` in a key
/// (`match_validate`), so without it the add fails with EINVAL on Linux too.
const TCP_FLOW: &str = "in_port(1),eth(src=00:01:02:03:04:05,dst=10:11:12:13:14:15),\
eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=6,tos=0,ttl=64,frag=no),\
tcp(src=80,dst=8080),tcp_flags(0)";
/// An exact-match ARP request flow on the veth port; the test injects a frame that hits it.
const ARP_FLOW: &str = "in_port(1),eth(src=00:01:02:03:04:06,dst=ff:ff:ff:ff:ff:ff),\
eth_type(0x0806),arp(sip=10.0.0.1,tip=10.0.0.2,op=1,sha=00:01:02:03:04:06,\
tha=00:00:00:00:00:00)";
/// A wildcarded flow: a /16 destination and any source MAC.
const MASKED_FLOW: &str = "in_port(2),eth(src=00:00:00:00:00:00/00:00:00:00:00:00,\
dst=52:54:00:00:00:01),eth_type(0x0800),ipv4(dst=10.1.0.0/255.255.0.0,frag=no)";

struct Fixture {
    tools: Tools,
    // Field order is drop order: the daemon dies before its namespace and directory go.
    daemon: Userdpd,
    ns: Netns,
    _dir: TempDir,
}

impl Fixture {
    fn socket(&self) -> &Path {
        &self.daemon.socket
    }

    /// `ovs-dpctl ARGS` under the shim.
    fn ovs(&self, args: &[&str]) -> Output {
        let mut c = shimmed(&self.tools, &self.ns, self.socket(), "ovs-dpctl");
        c.args(args);
        run(c)
    }

    /// `userdpctl --socket=… ARGS`.
    fn ours(&self, args: &[&str]) -> Output {
        let mut c = in_ns(&self.ns, env!("CARGO_BIN_EXE_userdpctl"));
        c.arg(format!("--socket={}", self.socket().display()));
        c.args(args);
        run(c)
    }

    /// `ovs-dpctl ARGS` must succeed.
    fn ovs_ok(&self, args: &[&str]) -> Output {
        let o = self.ovs(args);
        assert!(
            o.status.success(),
            "ovs-dpctl {args:?} failed ({}): {}",
            o.status,
            stderr(&o)
        );
        o
    }

    /// Runs a read command through both tools; both succeed and print the same stdout.
    /// Returns the text. Ports can still see the odd frame from the host stack, so the
    /// comparison is repeated until two `ovs-dpctl` runs around the `userdpctl` run agree.
    fn same(&self, args: &[&str]) -> String {
        self.same_with(args, |s| s.to_owned())
    }

    fn same_with(&self, args: &[&str], norm: impl Fn(&str) -> String) -> String {
        for _ in 0..5 {
            let before = self.ovs_ok(args);
            let ours = self.ours(args);
            assert!(
                ours.status.success(),
                "userdpctl {args:?} failed ({}): {}",
                ours.status,
                stderr(&ours)
            );
            let after = self.ovs_ok(args);
            let (b, a) = (norm(&stdout(&before)), norm(&stdout(&after)));
            if a == b {
                assert_eq!(norm(&stdout(&ours)), b, "userdpctl {args:?} differs");
                return b;
            }
        }
        panic!("ovs-dpctl {args:?} never printed the same thing twice in a row");
    }

    /// A failing command: the same exit code from both tools and the same final message.
    fn same_failure(&self, args: &[&str]) -> (i32, String) {
        let theirs = self.ovs(args);
        let ours = self.ours(args);
        let code = theirs.status.code().unwrap_or(-1);
        assert_ne!(code, 0, "ovs-dpctl {args:?} was expected to fail");
        assert_eq!(ours.status.code(), Some(code), "exit code of {args:?}");
        let last = |o: &Output, prog: &str| {
            stderr(o)
                .lines()
                .last()
                .unwrap_or_default()
                .replacen(prog, "PROG", 1)
        };
        let msg = last(&theirs, "ovs-dpctl");
        assert_eq!(last(&ours, "userdpctl"), msg, "error message of {args:?}");
        (code, msg)
    }
}

fn fixture() -> Option<Fixture> {
    let tools = require_dropin(&["ovs-dpctl"])?;
    let dir = TempDir::new("udp-dpctl-");
    let ns = Netns::new("udc");
    // IPv6 off before any interface exists, so neither the veth nor the TAP devices the
    // daemon creates send MLD/RS frames that would move counters between two runs.
    ns.exec("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
    sh(&format!(
        "ip -n {ns} link add vA type veth peer name vB && ip -n {ns} link set vA up && \
         ip -n {ns} link set vB up",
        ns = ns.0
    ));
    let daemon = Userdpd::start(&dir, &ns);
    Some(Fixture {
        tools,
        daemon,
        ns,
        _dir: dir,
    })
}

/// Masks the relative `used:` time of flows that saw traffic.
fn mask_used(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("used:") {
        out.push_str(&rest[..i + 5]);
        rest = &rest[i + 5..];
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
            .unwrap_or(rest.len());
        if n > 0 && rest[n..].starts_with('s') {
            out.push_str("N.NNNs");
            rest = &rest[n + 1..];
        }
    }
    out.push_str(rest);
    out
}

/// Sends one ARP request (matching `ARP_FLOW`) out of vB, so it arrives on port vA.
fn inject_arp(ns: &Netns) {
    let script = "import socket; s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); \
        s.bind(('vB', 0)); \
        s.send(bytes.fromhex('ffffffffffff' '000102030406' '0806' '0001080006040001' \
        '000102030406' '0a000001' '000000000000' '0a000002'))";
    let o = run({
        let mut c: Command = in_ns(ns, "python3");
        c.args(["-c", script]);
        c
    });
    assert!(o.status.success(), "inject: {}", stderr(&o));
}

#[test]
fn ovs_dpctl_command_set_through_the_shim_matches_userdpctl() {
    let Some(fx) = fixture() else { return };

    // Datapath and ports.
    let o = fx.ovs_ok(&["add-dp", "dp0"]);
    assert_eq!(stdout(&o), "");
    assert!(
        stderr(&o).contains("dpif_netlink|INFO|Datapath dispatch mode: per-cpu"),
        "{}",
        stderr(&o)
    );
    assert_eq!(fx.same(&["dump-dps"]), "system@dp0\n");
    assert_eq!(
        fx.same_failure(&["add-dp", "dp0"]),
        (1, "PROG: add_dp (File exists)".to_owned())
    );
    fx.ovs_ok(&["add-if", "dp0", "vA"]);
    fx.ovs_ok(&["add-if", "dp0", "int0,type=internal"]);
    assert!(
        fx.ns.exec_ok("ip link show int0"),
        "internal port is a netdev"
    );
    fx.ovs_ok(&["set-if", "dp0", "int0,type=internal"]);
    fx.ovs_ok(&["set-if", "dp0", "vA"]);
    assert_eq!(
        fx.same_failure(&["set-if", "dp0", "vA,type=internal"]),
        (
            1,
            "PROG: vA: can't change type from system to internal".to_owned()
        )
    );
    let show = fx.same(&["show"]);
    assert_eq!(
        show,
        "system@dp0:\n\
         \x20 lookups: hit:0 missed:0 lost:0\n\
         \x20 flows: 0\n\
         \x20 masks: hit:0 total:0 hit/pkt:0.00\n\
         \x20 caches:\n\
         \x20   masks-cache: size:256\n\
         \x20 port 0: dp0 (internal)\n\
         \x20 port 1: vA\n\
         \x20 port 2: int0 (internal)\n"
    );
    assert_eq!(fx.same(&["show", "dp0"]), show);
    let stats = fx.same(&["show", "-s"]);
    assert!(
        stats.contains("  port 1: vA\n    RX packets:0 errors:0 dropped:0 overruns:0 frame:0\n"),
        "{stats}"
    );

    // Flows: IPv4 with an explicit UFID, ARP by key, one with wildcards.
    fx.ovs_ok(&["add-flow", "dp0", &format!("{UFID},{TCP_FLOW}"), "2"]);
    fx.ovs_ok(&["add-flow", "dp0", ARP_FLOW, "2,0"]);
    fx.ovs_ok(&["add-flow", MASKED_FLOW, "1"]);
    assert_eq!(
        fx.same_failure(&["add-flow", "dp0", ARP_FLOW, "2,0"]),
        (1, "PROG: updating flow table (File exists)".to_owned())
    );
    let dump = fx.same(&["dump-flows"]);
    assert_eq!(
        dump,
        format!(
            "{TCP_FLOW}, packets:0, bytes:0, used:never, actions:2\n\
             {ARP_FLOW}, packets:0, bytes:0, used:never, actions:2,0\n\
             in_port(2),eth(dst=52:54:00:00:00:01),eth_type(0x0800),\
             ipv4(dst=10.1.0.0/255.255.0.0,frag=no), packets:0, bytes:0, used:never, actions:1\n"
        )
    );
    assert_eq!(fx.same(&["dump-flows", "dp0"]), dump);
    let more = fx.same(&["dump-flows", "-m"]);
    assert!(
        more.starts_with(&format!("{UFID}, in_port(vA),eth(src=00:01:02:03:04:05,")),
        "{more}"
    );
    assert!(more.contains("dp:ovs, actions:int0\n"), "{more}");
    assert_eq!(
        fx.same(&["get-flow", "dp0", UFID]),
        format!("{TCP_FLOW}, packets:0, bytes:0, used:never, actions:2\n")
    );
    // `ovs-dpctl` sends a UFID only when one is written: without it the kernel finds only
    // flows installed without one (ovs_flow_tbl_lookup_exact skips UFID flows), so get-flow
    // needs the UFID and a key-only mod-flow of the UFID flow is ENOENT.
    assert_eq!(
        fx.same_failure(&["mod-flow", "dp0", TCP_FLOW, "1"]),
        (
            1,
            "PROG: updating flow table (No such file or directory)".to_owned()
        )
    );

    // Traffic: one ARP request hits the ARP flow (out vA's peer, in on port 1).
    inject_arp(&fx.ns);
    let mut hit = String::new();
    for _ in 0..100 {
        hit = stdout(&fx.ovs_ok(&["dump-flows"]));
        if hit.contains("packets:1, bytes:42") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(hit.contains("packets:1, bytes:42, used:"), "{hit}");
    fx.same_with(&["dump-flows"], mask_used);
    fx.same_with(&["dump-flows", "-m"], mask_used);
    fx.same_with(&["show", "-s"], mask_used);

    // mod-flow: by key, with -s (prints the old stats), with --clear; by UFID.
    fx.ovs_ok(&["mod-flow", "dp0", ARP_FLOW, "2"]);
    let o = fx.ovs_ok(&["mod-flow", "-s", "dp0", ARP_FLOW, "2,0"]);
    assert_eq!(mask_used(&stdout(&o)), "packets:1, bytes:42, used:N.NNNs\n");
    let o = fx.ours(&["mod-flow", "-s", "--clear", "dp0", ARP_FLOW, "2,0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(mask_used(&stdout(&o)), "packets:1, bytes:42, used:N.NNNs\n");
    let o = fx.ovs_ok(&["mod-flow", "-s", "--clear", "dp0", ARP_FLOW, "2,0"]);
    assert_eq!(stdout(&o), "packets:0, bytes:0, used:never\n");
    let o = fx.ours(&["mod-flow", "-s", "dp0", ARP_FLOW, "2,0"]);
    assert_eq!(stdout(&o), "packets:0, bytes:0, used:never\n");
    let o = fx.ovs_ok(&["mod-flow", "-s", "dp0", &format!("{UFID},{TCP_FLOW}"), "1"]);
    assert_eq!(stdout(&o), "packets:0, bytes:0, used:never\n");
    assert_eq!(
        fx.same(&["get-flow", UFID]),
        format!("{TCP_FLOW}, packets:0, bytes:0, used:never, actions:1\n")
    );

    // Deleting flows: by key, by UFID, then all.
    fx.ovs_ok(&["del-flow", "dp0", ARP_FLOW]);
    assert_eq!(
        fx.same_failure(&["del-flow", "dp0", ARP_FLOW]),
        (
            1,
            "PROG: deleting flow (No such file or directory)".to_owned()
        )
    );
    fx.ovs_ok(&["del-flow", "dp0", UFID]);
    assert_eq!(
        fx.same_failure(&["get-flow", "dp0", UFID]),
        (
            1,
            "PROG: getting flow (No such file or directory)".to_owned()
        )
    );
    assert_eq!(fx.same(&["dump-flows"]).lines().count(), 1);
    fx.ovs_ok(&["del-flows", "dp0"]);
    assert_eq!(fx.same(&["dump-flows"]), "");

    // Ports and the datapath go away.
    fx.ovs_ok(&["del-if", "dp0", "int0"]);
    assert_eq!(
        fx.same_failure(&["del-if", "dp0", "int0"]),
        (1, "PROG: no port named int0".to_owned())
    );
    assert!(
        !fx.ns.exec_ok("ip link show int0"),
        "internal port's netdev removed"
    );
    let show = fx.same(&["show"]);
    assert!(
        show.ends_with("  port 0: dp0 (internal)\n  port 1: vA\n"),
        "{show}"
    );
    fx.ovs_ok(&["del-dp", "dp0"]);
    assert_eq!(
        fx.same_failure(&["del-dp", "dp0"]),
        (1, "PROG: opening datapath (No such device)".to_owned())
    );
    assert_eq!(fx.same(&["dump-dps"]), "");
    assert_eq!(fx.same(&["show"]), "");
    assert!(fx.ns.exec_ok("ip link show vA"), "the veth itself stays");
}
