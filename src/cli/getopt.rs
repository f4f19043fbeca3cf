//! A GNU `getopt_long` work-alike: permuted options, `--` as terminator, bundled short options,
//! unique-prefix abbreviation of long options, and glibc's exact error texts.
//!
//! ≈ `posix/getopt.c` in glibc 2.36 as `ovs-dpctl` uses it (no `+`/`-` mode prefix, so
//! options may follow the command: `ovs-dpctl show -s`). clap cannot reproduce the
//! abbreviation rules or the error wording, hence this small parser.

/// Whether an option takes an argument (`no_argument`, `required_argument`,
/// `optional_argument`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HasArg {
    /// `no_argument`.
    No,
    /// `required_argument`: `--x=V`, `--x V`, `-xV` or `-x V`.
    Required,
    /// `optional_argument`: only `--x=V` or `-xV`.
    Optional,
}

/// One entry of the long-option table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongOpt {
    /// Long name without the leading `--`.
    pub name: &'static str,
    /// Argument kind.
    pub has_arg: HasArg,
    /// The short equivalent, if any (it is also what the short option string is built from).
    pub short: Option<char>,
}

/// One option found on the command line: the index of its table entry and its argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Index into the option table.
    pub index: usize,
    /// The argument, if one was given.
    pub arg: Option<String>,
}

/// The options in command-line order, and the operands (non-options) in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Options as found, up to the first bad one.
    pub options: Vec<Found>,
    /// Everything that is not an option, order preserved.
    pub operands: Vec<String>,
    /// The message glibc prints for the first bad option (without `prog: ` and newline).
    /// Options before it were already acted on by `getopt_long`'s caller, so a `-h` earlier
    /// on the line still wins.
    pub error: Option<String>,
}

/// Parses `args` (without the program name) against `table`, stopping at the first error.
pub fn getopt_long(args: &[String], table: &[LongOpt]) -> Parsed {
    let mut out = Parsed::default();
    if let Err(e) = scan(args, table, &mut out) {
        out.error = Some(e);
    }
    out
}

fn scan(args: &[String], table: &[LongOpt], out: &mut Parsed) -> Result<(), String> {
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            out.operands.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(body) = a.strip_prefix("--") {
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (body, None),
            };
            let index = lookup_long(name, body, table)?;
            let opt = table[index];
            let arg = match (opt.has_arg, value) {
                (HasArg::No, Some(_)) => {
                    return Err(format!("option '--{}' doesn't allow an argument", opt.name))
                }
                (HasArg::No, None) => None,
                (HasArg::Optional, v) => v,
                (HasArg::Required, Some(v)) => Some(v),
                (HasArg::Required, None) => match args.get(i) {
                    Some(v) => {
                        i += 1;
                        Some(v.clone())
                    }
                    None => return Err(format!("option '--{}' requires an argument", opt.name)),
                },
            };
            out.options.push(Found { index, arg });
        } else if a.len() > 1 && a.starts_with('-') {
            let cluster: Vec<char> = a.chars().skip(1).collect();
            let mut j = 0;
            while j < cluster.len() {
                let c = cluster[j];
                j += 1;
                let index = table
                    .iter()
                    .position(|o| o.short == Some(c))
                    .ok_or_else(|| format!("invalid option -- '{c}'"))?;
                let rest: String = cluster[j..].iter().collect();
                let arg = match table[index].has_arg {
                    HasArg::No => None,
                    HasArg::Optional => {
                        j = cluster.len();
                        (!rest.is_empty()).then_some(rest)
                    }
                    HasArg::Required => {
                        j = cluster.len();
                        if !rest.is_empty() {
                            Some(rest)
                        } else if let Some(v) = args.get(i) {
                            i += 1;
                            Some(v.clone())
                        } else {
                            return Err(format!("option requires an argument -- '{c}'"));
                        }
                    }
                };
                out.options.push(Found { index, arg });
            }
        } else {
            out.operands.push(a.clone());
        }
    }
    Ok(())
}

/// An exact name wins; otherwise a unique prefix; several prefixes are ambiguous.
fn lookup_long(name: &str, body: &str, table: &[LongOpt]) -> Result<usize, String> {
    if let Some(i) = table.iter().position(|o| o.name == name) {
        return Ok(i);
    }
    let hits: Vec<usize> = (0..table.len())
        .filter(|&i| !name.is_empty() && table[i].name.starts_with(name))
        .collect();
    match hits.as_slice() {
        [] => Err(format!("unrecognized option '--{body}'")),
        [one] => Ok(*one),
        many => {
            let mut msg = format!("option '--{name}' is ambiguous; possibilities:");
            for &i in many {
                msg.push_str(&format!(" '--{}'", table[i].name));
            }
            Err(msg)
        }
    }
}

/// The `-o`/`--option` listing of `ovs_cmdl_print_options`: `--name[=ARG|=[ARG]]` per entry,
/// then `-c ` / `-c ARG` / `-c [ARG]` where a short form exists.
pub fn print_options(table: &[LongOpt]) -> String {
    let mut s = String::new();
    for o in table {
        let arg = match o.has_arg {
            HasArg::No => "",
            HasArg::Required => "ARG",
            HasArg::Optional => "[ARG]",
        };
        let eq = if o.has_arg == HasArg::No { "" } else { "=" };
        s.push_str(&format!("--{}{eq}{arg}\n", o.name));
        if let Some(c) = o.short {
            s.push_str(&format!("-{c} {arg}\n"));
        }
    }
    s
}
