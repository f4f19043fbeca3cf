//! Shared pieces of the drop-in tests: the real Open vSwitch tools run under `userdp-run`
//! against a spawned `userdpd`, everything inside a private network namespace and a private
//! temp directory, torn down by `Drop` whether the test passes or panics.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{have, in_ci, require, require_root, sh_ok, unique, Netns};

/// Where the compat crate's artifacts are: cargo puts binaries in `target/<profile>/` and
/// this test binary in `target/<profile>/deps/`. `userdp-run` is a binary of another package,
/// so only a workspace build (`cargo test --workspace`, `cargo build -p userdp-compat`) makes it.
pub fn compat_artifact(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let deps = exe.parent()?;
    [deps.join(name), deps.join("..").join(name)]
        .into_iter()
        .find(|p| p.is_file())
        .and_then(|p| p.canonicalize().ok())
}

/// The binaries a drop-in test runs.
pub struct Tools {
    /// `userdp-run`, the launcher.
    pub run: PathBuf,
    /// `libuserdp_compat.so`, passed to the launcher explicitly.
    pub shim: PathBuf,
}

/// Checks root, the OVS tools in `programs` and the compat artifacts; skips loudly otherwise
/// (a failure under `CI=true`).
pub fn require_dropin(programs: &[&str]) -> Option<Tools> {
    if !require_root() {
        return None;
    }
    for p in programs {
        if !require(
            have(p),
            &format!("`{p}` is not installed (Debian: openvswitch-switch)"),
        ) {
            return None;
        }
    }
    let run = compat_artifact("userdp-run");
    let shim = compat_artifact("libuserdp_compat.so");
    let ok = require(
        run.is_some() && shim.is_some(),
        "userdp-run / libuserdp_compat.so not built: run `cargo test --workspace` \
         (or `cargo build -p userdp-compat` first)",
    );
    ok.then(|| Tools {
        run: run.unwrap(),
        shim: shim.unwrap(),
    })
}

/// A private directory removed on drop (kept when `USERDP_KEEP_TEST_DIR` is set, for
/// post-mortems of the OVS logs).
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Creates `/tmp/<prefix><pid>-<n>`.
    pub fn new(prefix: &str) -> TempDir {
        let p = std::env::temp_dir().join(unique(prefix));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    /// A path inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("USERDP_KEEP_TEST_DIR").is_some() {
            eprintln!("keeping {}", self.0.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed (SIGKILL) and reaped on drop.
pub struct Guarded(pub Option<Child>);

impl Guarded {
    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.0.as_ref().map_or(0, Child::id)
    }
    /// Stops the child with SIGTERM and waits up to 10 s for it (then SIGKILL).
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.0.take()?;
        signal(child.id(), "TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(s)) = child.try_wait() {
                return Some(s);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return child.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Sends `SIG<sig>` to `pid`.
pub fn signal(pid: u32, sig: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A daemonized OVS process known only by its pidfile: SIGKILLed on drop if still alive.
pub struct PidFile(pub PathBuf);

impl PidFile {
    /// The pid the file holds now.
    pub fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(&self.0).ok()?.trim().parse().ok()
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            signal(pid, "KILL");
        }
    }
}

/// `userdpd` spawned inside namespace `ns` on `<dir>/userdp.sock`, logging to `<dir>/userdpd.log`.
pub struct Userdpd {
    /// The daemon's socket.
    pub socket: PathBuf,
    /// Its log file (tracing output, info level).
    pub log: PathBuf,
    /// The process (`ip netns exec` execs it, so this is the daemon itself).
    pub child: Guarded,
}

impl Userdpd {
    /// Starts the daemon and waits until its socket accepts connections.
    pub fn start(dir: &TempDir, ns: &Netns) -> Userdpd {
        let socket = dir.join("userdp.sock");
        let log = dir.join("userdpd.log");
        let logf = std::fs::File::create(&log).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &ns.0])
            .arg(env!("CARGO_BIN_EXE_userdpd"))
            .arg("--socket")
            .arg(&socket)
            .args(["--threads", "2", "--log", "info"])
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(logf.try_clone().unwrap())
            .stderr(logf)
            .spawn()
            .expect("spawn userdpd");
        let d = Userdpd {
            socket,
            log,
            child: Guarded(Some(child)),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while userdp::transport::Client::connect(&d.socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "userdpd never listened: {}",
                d.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }
    /// The log so far, without terminal colour escapes.
    pub fn log_text(&self) -> String {
        strip_ansi(&std::fs::read_to_string(&self.log).unwrap_or_default())
    }
}

/// Removes `ESC [ ... m` sequences (tracing colours its output even into files).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\u{1b}' && it.peek() == Some(&'[') {
            for d in it.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs `cmd` with a 60 s deadline (a hung shim fails the test instead of stalling it).
pub fn run(mut cmd: Command) -> Output {
    let desc = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {desc}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("timed out: {desc}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    }
}

/// A command run inside namespace `ns`.
pub fn in_ns(ns: &Netns, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", &ns.0]).arg(program);
    c
}

/// A command under `userdp-run --socket <socket>`, inside namespace `ns`.
pub fn shimmed(tools: &Tools, ns: &Netns, socket: &Path, program: &str) -> Command {
    let mut c = in_ns(ns, &tools.run);
    c.env("USERDP_COMPAT_LIB", &tools.shim)
        .arg("--socket")
        .arg(socket)
        .arg(program);
    c
}

/// Stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Deletes a link in namespace `ns` if it exists (for guards).
pub fn del_link(ns: &Netns, name: &str) {
    sh_ok(&format!("ip -n {} link del {name}", ns.0));
}

/// True under CI (re-exported for tests that decide on soft checks).
pub fn ci() -> bool {
    in_ci()
}
