//! The `userdpd` binary: refuses a live socket, stops cleanly on SIGTERM.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use userdp::transport::Client;

fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Client::connect(path).is_err() {
        assert!(
            Instant::now() < deadline,
            "userdpd never listened on {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn userdpd_refuses_a_live_socket_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("userdpd-bin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let sock = dir.join("run/userdp.sock");
    let pidfile = dir.join("userdpd.pid");
    let exe = env!("CARGO_BIN_EXE_userdpd");
    let mut daemon = Command::new(exe)
        .arg("--pidfile")
        .arg(&pidfile)
        .env("USERDP_SOCKET", &sock)
        .env("USERDP_LOG", "warn")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&sock);
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap().trim(),
        daemon.id().to_string()
    );

    let second = Command::new(exe)
        .arg("--socket")
        .arg(&sock)
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("another userdpd is already serving"),
        "stderr: {err}"
    );

    let kill = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = daemon.wait().unwrap();
    assert!(status.success(), "clean exit on SIGTERM: {status}");
    assert!(!sock.exists(), "socket removed");
    assert!(!pidfile.exists(), "pidfile removed");
    let _ = std::fs::remove_dir_all(&dir);
}
