//! `userdp-run`: runs a command with `libuserdp_compat.so` preloaded, so its Generic Netlink
//! sockets talk to userdpd. See `man/userdp-run.1`.
//!
//! Exit status follows env(1): 125 for userdp-run's own errors, 126 if the command cannot be
//! executed, 127 if it is not found; otherwise the command's own (it replaces this process).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{exit, Command};

const LIB: &str = "libuserdp_compat.so";

const USAGE: &str = "\
Usage: userdp-run [--socket PATH] COMMAND [ARG]...
Run COMMAND with libuserdp_compat.so preloaded: its Generic Netlink sockets
(the Open vSwitch datapath families) are served by userdpd instead of the kernel.

Options:
  -s, --socket PATH  userdpd's socket (sets USERDP_SOCKET; default
                     $USERDP_SOCKET or /run/userdp/userdp.sock)
  -h, --help         show this help and exit
  -V, --version      show the version and exit

Environment:
  USERDP_COMPAT_LIB  the shim to preload (default: libuserdp_compat.so next to
                     this program, or in ../lib/userdp/ or ../lib/ from it)
  USERDP_COMPAT_DEBUG=1  the shim reports fallbacks and rewrites on stderr
";

fn fail(code: i32, msg: impl std::fmt::Display) -> ! {
    eprintln!("userdp-run: {msg}");
    exit(code)
}

/// Where the shim is: `USERDP_COMPAT_LIB`, else next to this executable (cargo's target
/// directory, or an install's bin/ with lib/ beside it).
fn find_lib() -> PathBuf {
    if let Some(p) = std::env::var_os("USERDP_COMPAT_LIB").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if !p.is_file() {
            fail(
                125,
                format_args!("USERDP_COMPAT_LIB={}: no such file", p.display()),
            );
        }
        return p.canonicalize().unwrap_or(p);
    }
    let exe = std::env::current_exe()
        .and_then(|e| e.canonicalize())
        .unwrap_or_else(|e| fail(125, format_args!("cannot locate own executable: {e}")));
    let dir = exe.parent().unwrap_or(Path::new("/"));
    let candidates = [
        dir.join(LIB),
        dir.join("../lib/userdp").join(LIB),
        dir.join("../lib").join(LIB),
    ];
    for c in &candidates {
        if c.is_file() {
            return c.canonicalize().unwrap_or_else(|_| c.clone());
        }
    }
    fail(
        125,
        format_args!(
            "cannot find {LIB} next to {} (set USERDP_COMPAT_LIB)",
            exe.display()
        ),
    )
}

/// `lib` in front of any existing `LD_PRELOAD` entries.
fn preload_value(lib: &Path, existing: Option<&OsStr>) -> OsString {
    let mut v = OsString::from(lib);
    if let Some(e) = existing.filter(|e| !e.as_bytes().iter().all(u8::is_ascii_whitespace)) {
        v.push(":");
        v.push(e);
    }
    v
}

fn main() {
    let mut args = std::env::args_os().skip(1);
    let mut socket: Option<OsString> = None;
    let command = loop {
        let Some(a) = args.next() else {
            eprint!("{USAGE}");
            exit(125);
        };
        let s = a.to_string_lossy();
        match s.as_ref() {
            "-h" | "--help" => {
                print!("{USAGE}");
                exit(0);
            }
            "-V" | "--version" => {
                println!("userdp-run (userdp) {}", env!("CARGO_PKG_VERSION"));
                exit(0);
            }
            "-s" | "--socket" => match args.next() {
                Some(p) => socket = Some(p),
                None => fail(125, "--socket needs a PATH"),
            },
            "--" => match args.next() {
                Some(c) => break c,
                None => fail(125, "missing COMMAND (try --help)"),
            },
            _ if s.starts_with("--socket=") => {
                socket = Some(OsString::from(OsStr::from_bytes(&a.as_bytes()[9..])));
            }
            _ if s.starts_with('-') && s.len() > 1 => {
                fail(125, format_args!("unknown option '{s}' (try --help)"))
            }
            _ => break a,
        }
    };
    let lib = find_lib();
    if lib.as_os_str().as_bytes().iter().any(|b| b" :".contains(b)) {
        fail(
            125,
            format_args!(
                "{}: LD_PRELOAD cannot hold a path with ':' or ' '",
                lib.display()
            ),
        );
    }
    let mut cmd = Command::new(&command);
    cmd.args(args);
    cmd.env(
        "LD_PRELOAD",
        preload_value(&lib, std::env::var_os("LD_PRELOAD").as_deref()),
    );
    if let Some(s) = socket {
        cmd.env("USERDP_SOCKET", s);
    }
    let err = cmd.exec();
    let name = Path::new(&command).display().to_string();
    match err.kind() {
        std::io::ErrorKind::NotFound => fail(127, format_args!("{name}: command not found")),
        _ => fail(126, format_args!("{name}: cannot execute: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preload_is_prepended() {
        let lib = Path::new("/x/libuserdp_compat.so");
        assert_eq!(preload_value(lib, None), "/x/libuserdp_compat.so");
        assert_eq!(
            preload_value(lib, Some(OsStr::new("  "))),
            "/x/libuserdp_compat.so"
        );
        assert_eq!(
            preload_value(lib, Some(OsStr::new("/y/a.so"))),
            "/x/libuserdp_compat.so:/y/a.so"
        );
    }
}
