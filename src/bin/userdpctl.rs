//! `userdpctl`: the `ovs-dpctl` command set for userdp. Argument handling only; the
//! commands live in `userdp::cli`.

use std::io::Write;
use std::process::ExitCode;

use userdp::cli::dpif::Transport;
use userdp::cli::netdev::SysHost;
use userdp::cli::options::{parse_command_line, Invocation};
use userdp::cli::{execute, socket_path, Io};
use userdp::sys::clock::monotonic_ms;
use userdp::transport::Client;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (options, args) = match parse_command_line(&args) {
        Invocation::Exit {
            stdout,
            stderr,
            code,
        } => {
            print!("{stdout}");
            eprint!("{stderr}");
            let _ = std::io::stdout().flush();
            return ExitCode::from(u8::try_from(code).unwrap_or(1));
        }
        Invocation::Run { options, args } => (options, args),
    };
    if let Some(t) = options.timeout {
        userdp::sys::signal::alarm(t);
    }
    let socket = socket_path(&options, std::env::var_os("USERDP_SOCKET"));
    let mut connect =
        || -> std::io::Result<Box<dyn Transport>> { Ok(Box::new(Client::connect(&socket)?)) };
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let (mut out, mut err) = (stdout.lock(), stderr.lock());
    let mut io = Io {
        out: &mut out,
        err: &mut err,
        now_ms: monotonic_ms(),
        host: &SysHost,
    };
    let code = execute(&options, &args, &mut io, &socket, &mut connect);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
