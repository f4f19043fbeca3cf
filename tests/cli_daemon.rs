//! The `userdpctl` binary against a real in-process `userdpd` on a temporary socket.
//!
//! These pin the plumbing (socket choice, connection errors, the "families missing"
//! behaviour, `-t`); `cli_e2e.rs` runs the commands against the datapath service.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use socket2::{Domain, SockAddr, Socket, Type};
use userdp::daemon::{Daemon, DaemonConfig};
use userdp::transport::{Peer, Responder, Service};
use userdp_protocol::nl::NlMsg;

/// A daemon that serves no family at all: every request is refused with `EOPNOTSUPP`, as the
/// first `userdpd` did, and as a kernel without the module refuses family lookups.
struct NoFamilies;

impl Service for NoFamilies {
    fn request(&self, _peer: &Peer, _msg: &NlMsg<'_>, out: &mut Responder<'_>) {
        out.errno(libc::EOPNOTSUPP, None);
    }
}

fn tmp_socket(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("userdpctl-{tag}-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let p = dir.join("s.sock");
    let _ = std::fs::remove_file(&p);
    p
}

fn userdpctl(args: &[&str], socket_env: Option<&Path>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_userdpctl"));
    c.args(args).env_remove("USERDP_SOCKET");
    if let Some(s) = socket_env {
        c.env("USERDP_SOCKET", s);
    }
    c.output().expect("run userdpctl")
}

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap()
}

#[test]
fn a_missing_socket_is_reported_with_its_path() {
    let s = tmp_socket("missing");
    let o = userdpctl(&["--socket", s.to_str().unwrap(), "show"], None);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        format!(
            "userdpctl: connecting to {} failed (No such file or directory)\n",
            s.display()
        )
    );
    // The environment variable is used when --socket is absent.
    let o = userdpctl(&["dump-dps"], Some(&s));
    assert_eq!(
        text(&o.stderr),
        format!(
            "userdpctl: connecting to {} failed (No such file or directory)\n",
            s.display()
        )
    );
}

#[test]
fn without_datapath_families_commands_fail_like_ovs_dpctl_without_the_module() {
    let s = tmp_socket("nofam");
    let config = DaemonConfig::new(&s);
    let service = std::sync::Arc::new(NoFamilies);
    let h = Daemon::start(config, service).expect("daemon");
    let sock = s.to_str().unwrap();
    let o = userdpctl(&["show"], Some(&s));
    assert_eq!(
        (o.status.code(), text(&o.stdout), text(&o.stderr)),
        (Some(1), "", "")
    );
    let o = userdpctl(&["--socket", sock, "dump-flows"], None);
    assert_eq!(
        (o.status.code(), text(&o.stderr)),
        (
            Some(1),
            "userdpctl: no datapaths exist\nuserdpctl: datapath not found (Invalid argument)\n"
        )
    );
    let o = userdpctl(&["--socket", sock, "add-dp", "dp0"], None);
    assert_eq!(
        (o.status.code(), text(&o.stderr)),
        (Some(1), "userdpctl: add_dp (Operation not supported)\n")
    );
    // Commands that need no datapath still work.
    let o = userdpctl(&["--socket", sock, "list-commands"], None);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).starts_with("The available commands are:\n"));
    h.shutdown();
}

#[test]
fn timeout_ends_the_process_with_sigalrm() {
    // A listener that accepts but never says HELLO: the client waits forever.
    let s = tmp_socket("silent");
    let l = Socket::new(Domain::UNIX, Type::SEQPACKET, None).unwrap();
    l.bind(&SockAddr::unix(&s).unwrap()).unwrap();
    l.listen(4).unwrap();
    let start = Instant::now();
    let o = userdpctl(&["-t", "1", "--socket", s.to_str().unwrap(), "show"], None);
    assert_eq!(o.status.signal(), Some(libc::SIGALRM), "{o:?}");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(10),
        "{took:?}"
    );
}
