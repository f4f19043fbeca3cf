//! Shared helpers for integration tests: loud skips, root checks, namespaces and veth pairs.
#![allow(dead_code)]

use std::process::Command;

/// True when running under CI, where every skip must become a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Skips the calling test loudly (or fails it under CI) when `ok` is false. Returns `ok`.
pub fn require(ok: bool, reason: &str) -> bool {
    if !ok {
        if in_ci() {
            panic!("test prerequisite missing under CI=true: {reason}");
        }
        eprintln!("SKIPPED: {reason}");
    }
    ok
}

/// The test runs as root (needed for TAP devices, namespaces and raw sockets).
pub fn require_root() -> bool {
    // /proc/self/status Uid line: real, effective, saved, fs.
    let euid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2).unwrap_or("1").to_owned())
        });
    require(
        euid.as_deref() == Some("0"),
        "needs root (TAP devices, namespaces)",
    )
}

/// A program is on PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs a shell command, panicking with its output if it fails.
pub fn sh(cmd: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .output()
        .expect("spawn sh");
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a shell command and reports whether it succeeded.
pub fn sh_ok(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("{cmd} >/dev/null 2>&1"))
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether an interface called `name` exists in the current namespace.
pub fn link_exists(name: &str) -> bool {
    std::path::Path::new(&format!("/sys/class/net/{name}")).exists()
}

/// A unique short suffix for device and namespace names (IFNAMSIZ is 16).
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}{}{}",
        std::process::id() % 10000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A network namespace removed on drop.
pub struct Netns(pub String);

impl Netns {
    /// Creates a namespace with loopback up.
    pub fn new(prefix: &str) -> Netns {
        let name = unique(prefix);
        sh(&format!(
            "ip netns add {name} && ip -n {name} link set lo up"
        ));
        Netns(name)
    }
    /// Runs a command inside the namespace.
    pub fn exec(&self, cmd: &str) -> String {
        sh(&format!("ip netns exec {} {cmd}", self.0))
    }
    /// Runs a command inside the namespace and reports success.
    pub fn exec_ok(&self, cmd: &str) -> bool {
        sh_ok(&format!("ip netns exec {} {cmd}", self.0))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        sh_ok(&format!("ip netns del {}", self.0));
    }
}

/// A veth pair whose `outer` end stays in the root namespace; deleted on drop.
pub struct Veth {
    /// The root-namespace end (attached to the datapath).
    pub outer: String,
}

impl Veth {
    /// Creates `outer` in the root namespace and moves its peer into `ns` as `inner` with `addr`.
    pub fn into_ns(outer: &str, ns: &Netns, inner: &str, addr: &str) -> Veth {
        sh(&format!(
            "ip link add {outer} type veth peer name {inner} netns {ns} && ip link set {outer} up && \
             ip -n {ns} addr add {addr} dev {inner} && ip -n {ns} link set {inner} up",
            ns = ns.0
        ));
        Veth {
            outer: outer.to_owned(),
        }
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        sh_ok(&format!("ip link del {}", self.outer));
    }
}
