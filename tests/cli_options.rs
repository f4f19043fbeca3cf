//! userdpctl's command line against what Debian's ovs-dpctl 3.1.0 prints for the same
//! input (observed with `ovs-dpctl` on this machine, program name swapped).

use userdp::cli::getopt::{getopt_long, HasArg, LongOpt};
use userdp::cli::options::{parse_command_line, Format, Invocation, Options};

fn args(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

fn run(s: &str) -> (Options, Vec<String>) {
    match parse_command_line(&args(s)) {
        Invocation::Run { options, args } => (options, args),
        other => panic!("expected a command for {s:?}, got {other:?}"),
    }
}

fn exit(s: &str) -> (String, String, i32) {
    match parse_command_line(&args(s)) {
        Invocation::Exit {
            stdout,
            stderr,
            code,
        } => (stdout, stderr, code),
        other => panic!("expected an exit for {s:?}, got {other:?}"),
    }
}

#[test]
fn getopt_errors_match_glibc_wording() {
    let cases = [
        ("--bogus", "userdpctl: unrecognized option '--bogus'\n"),
        (
            "--bogus=1 show",
            "userdpctl: unrecognized option '--bogus=1'\n",
        ),
        ("-x", "userdpctl: invalid option -- 'x'\n"),
        ("-sx", "userdpctl: invalid option -- 'x'\n"),
        ("-t", "userdpctl: option requires an argument -- 't'\n"),
        (
            "--timeout",
            "userdpctl: option '--timeout' requires an argument\n",
        ),
        (
            "--ti",
            "userdpctl: option '--timeout' requires an argument\n",
        ),
        (
            "--names=3",
            "userdpctl: option '--names' doesn't allow an argument\n",
        ),
        (
            "--nam=3",
            "userdpctl: option '--names' doesn't allow an argument\n",
        ),
        (
            "--help=3",
            "userdpctl: option '--help' doesn't allow an argument\n",
        ),
        (
            "--n",
            "userdpctl: option '--n' is ambiguous; possibilities: '--names' '--no-names'\n",
        ),
        (
            "--s",
            "userdpctl: option '--s' is ambiguous; possibilities: '--statistics' '--socket'\n",
        ),
        (
            "-t 0 show",
            "userdpctl: value 0 on -t or --timeout is invalid\n",
        ),
        (
            "-t -5 show",
            "userdpctl: value -5 on -t or --timeout is invalid\n",
        ),
        (
            "-t 5x show",
            "userdpctl: value 5x on -t or --timeout is invalid\n",
        ),
        (
            "--timeout=abc show",
            "userdpctl: value abc on -t or --timeout is invalid\n",
        ),
        (
            "--format=xml show",
            "userdpctl: value xml on --format is invalid\n",
        ),
    ];
    for (line, want) in cases {
        let (out, err, code) = exit(line);
        assert_eq!((out.as_str(), err.as_str(), code), ("", want, 1), "{line}");
    }
}

#[test]
fn options_before_an_error_still_act_like_getopt_callers() {
    // getopt_long hands -h to the caller before it reaches --bogus.
    let (out, err, code) = exit("-h --bogus");
    assert!(out.starts_with("userdpctl: userdp datapath management utility\n"));
    assert_eq!((err.as_str(), code), ("", 0));
    let (out, err, code) = exit("--bogus -h");
    assert_eq!(
        (out.as_str(), err.as_str(), code),
        ("", "userdpctl: unrecognized option '--bogus'\n", 1)
    );
}

#[test]
fn options_are_permuted_and_bundled() {
    let (o, a) = run("show -s system@dp0 -m");
    assert!(o.statistics);
    assert_eq!(o.verbosity, 1);
    assert_eq!(a, ["show", "system@dp0"]);
    let (o, a) = run("-smt 3 dump-flows");
    assert!(o.statistics);
    assert_eq!(o.timeout, Some(3));
    assert_eq!(a, ["dump-flows"]);
    let (o, _) = run("-st7 dump-dps");
    assert_eq!(o.timeout, Some(7));
    // Unique prefixes and --opt=value.
    let (o, _) = run("--stat --more --tim=9 --may --cl --read show");
    assert!(o.statistics && o.may_create && o.clear && o.read_only);
    assert_eq!((o.verbosity, o.timeout), (1, Some(9)));
}

#[test]
fn double_dash_ends_options() {
    let (o, a) = run("show -- -s");
    assert!(!o.statistics);
    assert_eq!(a, ["show", "-s"]);
}

#[test]
fn more_implies_names_unless_told_otherwise() {
    assert!(!run("dump-flows").0.names);
    assert!(run("-m dump-flows").0.names);
    assert!(!run("-m --no-names dump-flows").0.names);
    assert!(run("--names dump-flows").0.names);
    // The last of --names/--no-names wins.
    assert!(run("--no-names --names dump-flows").0.names);
    assert!(!run("--names --no-names -m dump-flows").0.names);
}

#[test]
fn socket_and_format_are_ours() {
    let (o, a) = run("--socket /tmp/x.sock --format json show");
    assert_eq!(
        o.socket.as_deref(),
        Some(std::path::Path::new("/tmp/x.sock"))
    );
    assert_eq!(o.format, Format::Json);
    assert_eq!(a, ["show"]);
    assert_eq!(run("--format=text show").0.format, Format::Text);
}

#[test]
fn version_and_option_listing() {
    let (out, err, code) = exit("-V");
    assert_eq!(
        (out, err, code),
        (
            format!("userdpctl (userdp) {}\n", env!("CARGO_PKG_VERSION")),
            String::new(),
            0
        )
    );
    let (out, _, code) = exit("--option");
    assert_eq!(code, 0);
    // ovs_cmdl_print_options: "--name[=ARG]" then "-c " (trailing blank) or "-c ARG".
    assert_eq!(
        out,
        "--statistics\n-s \n--clear\n--may-create\n--read-only\n--more\n-m \n--names\n\
         --no-names\n--timeout=ARG\n-t ARG\n--help\n-h \n--option\n-o \n--version\n-V \n\
         --socket=ARG\n--format=ARG\n"
    );
}

#[test]
fn help_lists_the_commands_and_options() {
    let (out, _, code) = exit("--help");
    assert_eq!(code, 0);
    for line in [
        "usage: userdpctl [OPTIONS] COMMAND [ARG...]\n",
        "  add-flow [DP] FLOW ACTIONS add FLOW with ACTIONS to DP\n",
        "  get-flow [DP] ufid:UFID    fetch flow corresponding to UFID\n",
        "  -s,  --statistics           print statistics for port or flow\n",
        "  -t, --timeout=SECS          give up after SECS seconds\n",
    ] {
        assert!(out.contains(line), "missing {line:?}");
    }
}

#[test]
fn getopt_optional_arguments_only_attach() {
    let table = [
        LongOpt {
            name: "verbose",
            has_arg: HasArg::Optional,
            short: Some('v'),
        },
        LongOpt {
            name: "x",
            has_arg: HasArg::No,
            short: None,
        },
    ];
    let p = getopt_long(&args("-v dbg --verbose --verbose=all -vwarn"), &table);
    assert_eq!(p.error, None);
    let got: Vec<Option<&str>> = p.options.iter().map(|f| f.arg.as_deref()).collect();
    assert_eq!(got, [None, None, Some("all"), Some("warn")]);
    assert_eq!(p.operands, ["dbg"]);
    // An exact name beats a longer one it prefixes; "-" alone is an operand.
    let p = getopt_long(&args("--x -"), &table);
    assert_eq!(
        (p.options.len(), p.operands.as_slice()),
        (1, &["-".to_owned()][..])
    );
}
