//! The global options of `userdpctl`, parsed as `ovs-dpctl` parses its own.
//!
//! ≈ `parse_options()` and `usage()` in OVS `utilities/ovs-dpctl.c`. The vlog options
//! (`-v`, `--log-file`, `--syslog-*`) are left out (userdpctl logs nothing); `--socket` and
//! `--format` are ours.

use std::path::PathBuf;

use super::getopt::{getopt_long, print_options, HasArg, LongOpt};

/// The program name every message starts with.
pub const PROGRAM: &str = "userdpctl";

/// Output format of `show`, `dump-dps` and `dump-flows`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// The `ovs-dpctl` text, byte for byte.
    #[default]
    Text,
    /// The JSON documents described in `userdpctl(8)`.
    Json,
}

/// Everything the options set (`struct dpctl_params` in OVS).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `-s`: port counters in `show`, flow stats after flow changes.
    pub statistics: bool,
    /// `--clear`: `mod-flow` zeroes the flow's stats.
    pub clear: bool,
    /// `--may-create`: `mod-flow` creates a missing flow.
    pub may_create: bool,
    /// `--read-only`: refuse read/write commands.
    pub read_only: bool,
    /// `-m` count; every consumer only tests for non-zero.
    pub verbosity: u32,
    /// Port names instead of numbers (`--names`; default: on with `-m`).
    pub names: bool,
    /// `-t SECS`.
    pub timeout: Option<u32>,
    /// `--socket PATH` (else `$USERDP_SOCKET`, else the default path).
    pub socket: Option<PathBuf>,
    /// `--format`.
    pub format: Format,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// Run the command `args[0]` with `args[1..]`.
    Run {
        /// The options.
        options: Options,
        /// Command name and its arguments.
        args: Vec<String>,
    },
    /// Print this and exit with `code` without running anything (`--help`, `--version`,
    /// `--option`, or an option error).
    Exit {
        /// Text for stdout.
        stdout: String,
        /// Text for stderr.
        stderr: String,
        /// Exit status.
        code: i32,
    },
}

const OPT_STATISTICS: usize = 0;
const OPT_CLEAR: usize = 1;
const OPT_MAY_CREATE: usize = 2;
const OPT_READ_ONLY: usize = 3;
const OPT_MORE: usize = 4;
const OPT_NAMES: usize = 5;
const OPT_NO_NAMES: usize = 6;
const OPT_TIMEOUT: usize = 7;
const OPT_HELP: usize = 8;
const OPT_OPTION: usize = 9;
const OPT_VERSION: usize = 10;
const OPT_SOCKET: usize = 11;
const OPT_FORMAT: usize = 12;

/// The long-option table, in `ovs-dpctl`'s order (which glibc's ambiguity message follows),
/// with ours at the end.
pub const LONG_OPTIONS: [LongOpt; 13] = [
    opt("statistics", HasArg::No, Some('s')),
    opt("clear", HasArg::No, None),
    opt("may-create", HasArg::No, None),
    opt("read-only", HasArg::No, None),
    opt("more", HasArg::No, Some('m')),
    opt("names", HasArg::No, None),
    opt("no-names", HasArg::No, None),
    opt("timeout", HasArg::Required, Some('t')),
    opt("help", HasArg::No, Some('h')),
    opt("option", HasArg::No, Some('o')),
    opt("version", HasArg::No, Some('V')),
    opt("socket", HasArg::Required, None),
    opt("format", HasArg::Required, None),
];

const fn opt(name: &'static str, has_arg: HasArg, short: Option<char>) -> LongOpt {
    LongOpt {
        name,
        has_arg,
        short,
    }
}

/// `--version` text.
pub fn version() -> String {
    format!("{PROGRAM} (userdp) {}\n", env!("CARGO_PKG_VERSION"))
}

/// `--help` text (also the `help` command).
pub fn usage() -> String {
    format!(
        "{PROGRAM}: userdp datapath management utility
usage: {PROGRAM} [OPTIONS] COMMAND [ARG...]
  add-dp DP [IFACE...]     add new datapath DP (with IFACEs)
  del-dp DP                delete local datapath DP
  add-if DP IFACE...       add each IFACE as a port on DP
  set-if DP IFACE...       reconfigure each IFACE within DP
  del-if DP IFACE...       delete each IFACE from DP
  dump-dps                 display names of all datapaths
  show                     show basic info on all datapaths
  show DP...               show basic info on each DP
  dump-flows [DP]          display flows in DP
  add-flow [DP] FLOW ACTIONS add FLOW with ACTIONS to DP
  add-flows [DP] FILE        add flows from FILE
  mod-flow [DP] FLOW ACTIONS change FLOW actions to ACTIONS in DP
  mod-flows [DP] FILE        change flows from FILE
  get-flow [DP] ufid:UFID    fetch flow corresponding to UFID
  del-flow [DP] FLOW         delete FLOW from DP
  del-flows [DP] [FILE]      delete all or specified flows from DP
Each IFACE on add-dp, add-if, and set-if may be followed by
comma-separated options.  See {PROGRAM}(8) for syntax.
For COMMAND dump-flows, add-flow, add-flows, mod-flow,
mod-flows, del-flow and del-flows, DP is optional if there is
only one datapath.

Options for show and mod-flow:
  -s,  --statistics           print statistics for port or flow

Options for dump-flows:
  -m, --more                  increase verbosity of output
  --names                     use port names in output

Options for mod-flow:
  --may-create                create flow if it doesn't exist
  --read-only                 do not run read/write commands
  --clear                     reset existing stats to zero

Options for show, dump-dps and dump-flows:
  --format=text|json          output format (default: text)

Other options:
  --socket=PATH               daemon socket (default: $USERDP_SOCKET,
                              else {})
  -t, --timeout=SECS          give up after SECS seconds
  -h, --help                  display this help message
  -V, --version               display version information
",
        crate::daemon::DEFAULT_SOCKET
    )
}

fn fail(msg: String) -> Invocation {
    Invocation::Exit {
        stdout: String::new(),
        stderr: format!("{PROGRAM}: {msg}\n"),
        code: 1,
    }
}

fn done(stdout: String) -> Invocation {
    Invocation::Exit {
        stdout,
        stderr: String::new(),
        code: 0,
    }
}

/// `str_to_uint(s, 10, …)`: strtoll rules (leading blanks, a sign, decimal digits, nothing
/// after), the value within `int` and not negative.
fn parse_uint(s: &str) -> Option<u32> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let digits = t.strip_prefix('+').unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i64 = digits.parse().ok()?;
    u32::try_from(v).ok().filter(|&v| v <= i32::MAX as u32)
}

/// Parses the whole command line (without the program name), acting on options in order as
/// `getopt_long`'s caller does: `-h` before a bad option still prints the help.
pub fn parse_command_line(args: &[String]) -> Invocation {
    let parsed = getopt_long(args, &LONG_OPTIONS);
    let mut o = Options::default();
    let mut set_names = false;
    for f in &parsed.options {
        let arg = f.arg.clone().unwrap_or_default();
        match f.index {
            OPT_STATISTICS => o.statistics = true,
            OPT_CLEAR => o.clear = true,
            OPT_MAY_CREATE => o.may_create = true,
            OPT_READ_ONLY => o.read_only = true,
            OPT_MORE => o.verbosity = o.verbosity.saturating_add(1),
            OPT_NAMES | OPT_NO_NAMES => {
                o.names = f.index == OPT_NAMES;
                set_names = true;
            }
            OPT_TIMEOUT => match parse_uint(&arg) {
                Some(t) if t > 0 => o.timeout = Some(t),
                _ => return fail(format!("value {arg} on -t or --timeout is invalid")),
            },
            OPT_HELP => return done(usage()),
            OPT_OPTION => return done(print_options(&LONG_OPTIONS)),
            OPT_VERSION => return done(version()),
            OPT_SOCKET => o.socket = Some(PathBuf::from(arg)),
            OPT_FORMAT => match arg.as_str() {
                "text" => o.format = Format::Text,
                "json" => o.format = Format::Json,
                _ => return fail(format!("value {arg} on --format is invalid")),
            },
            _ => {}
        }
    }
    if let Some(e) = parsed.error {
        return fail(e);
    }
    if !set_names {
        o.names = o.verbosity > 0;
    }
    Invocation::Run {
        options: o,
        args: parsed.operands,
    }
}
