//! The command table and the command handlers.
//!
//! ≈ `all_commands[]`, `dpctl_run_command()` and the `dpctl_*` handlers of OVS `lib/dpctl.c`
//! (v3.1). Each handler returns 0 or a positive errno; `main` turns non-zero into exit
//! status 1, with the few exit-0 exceptions ovs-dpctl has (see `get-flow`, `add-flows`).

use std::collections::BTreeMap;
use std::io::Write;

use userdp_protocol::ovs::key::Key;
use userdp_protocol::text::action::parse_actions;
use userdp_protocol::text::key::parse_key;

use super::dpif::{Dpif, Errno, FlowPut, PortKey, PortSpec};
use super::format::{
    format_dp_show, format_flow, format_flow_stats, parse_ufid, retval_to_string, FlowFormat,
    PortNames,
};
use super::json;
use super::model::{
    DpInfo, DpShow, FlowInfo, NetdevStats, PortConfig, PortInfo, PortShow, DP_TYPE,
};
use super::netdev::{atoi, fresh_tunnel_config, is_tunnel, tunnel_dpif_name, Host};
use super::options::{usage, Format, Options, PROGRAM};

const EINVAL: Errno = libc::EINVAL;
const ENOENT: Errno = libc::ENOENT;
const EAFNOSUPPORT: Errno = libc::EAFNOSUPPORT;
const EOPNOTSUPP: Errno = libc::EOPNOTSUPP;

/// Everything a handler works with.
pub struct Ctx<'a, 't> {
    /// The options.
    pub opts: &'a Options,
    /// Standard output.
    pub out: &'a mut dyn Write,
    /// Standard error.
    pub err: &'a mut dyn Write,
    /// `CLOCK_MONOTONIC` milliseconds, for `used:`.
    pub now_ms: u64,
    /// Host netdev counters and files.
    pub host: &'a dyn Host,
    /// The datapath connection (`None` for commands that need none).
    pub dpif: Option<Dpif<'t>>,
}

impl std::fmt::Debug for Ctx<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx").field("opts", &self.opts).finish()
    }
}

type Handler = for<'a, 't> fn(&mut Ctx<'a, 't>, &[String]) -> Errno;

/// One entry of the command table.
#[derive(Clone, Copy)]
pub struct Command {
    /// Name.
    pub name: &'static str,
    /// Usage, as `list-commands` prints it.
    pub usage: &'static str,
    /// Fewest arguments.
    pub min_args: usize,
    /// Most arguments.
    pub max_args: usize,
    /// Refused by `--read-only`.
    pub rw: bool,
    /// Needs the daemon.
    pub needs_dp: bool,
    handler: Handler,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Command").field("name", &self.name).finish()
    }
}

const fn cmd(
    name: &'static str,
    usage: &'static str,
    min_args: usize,
    max_args: usize,
    rw: bool,
    handler: Handler,
) -> Command {
    Command {
        name,
        usage,
        min_args,
        max_args,
        rw,
        needs_dp: true,
        handler,
    }
}

/// The commands, in `all_commands[]` order.
pub const COMMANDS: [Command; 17] = [
    cmd("add-dp", "dp [iface...]", 1, usize::MAX, true, add_dp),
    cmd("del-dp", "dp", 1, 1, true, del_dp),
    cmd("add-if", "dp iface...", 2, usize::MAX, true, add_if),
    cmd("del-if", "dp iface...", 2, usize::MAX, true, del_if),
    cmd("set-if", "dp iface...", 2, usize::MAX, true, set_if),
    cmd("dump-dps", "", 0, 0, false, dump_dps),
    cmd("show", "[-s] [dp...]", 0, usize::MAX, false, show),
    cmd(
        "dump-flows",
        "[-m] [--names] [dp] [filter=..] [type=..] [pmd=..]",
        0,
        6,
        false,
        dump_flows,
    ),
    cmd("add-flow", "[dp] flow actions", 2, 3, true, add_flow),
    cmd("mod-flow", "[dp] flow actions", 2, 3, true, mod_flow),
    cmd("get-flow", "[dp] ufid", 1, 2, false, get_flow),
    cmd("del-flow", "[dp] flow", 1, 2, true, del_flow),
    cmd("add-flows", "[dp] file", 1, 2, true, process_flows),
    cmd("mod-flows", "[dp] file", 1, 2, true, process_flows),
    cmd("del-flows", "[dp] [file]", 0, 2, true, del_flows),
    Command {
        needs_dp: false,
        ..cmd("help", "", 0, usize::MAX, false, help)
    },
    Command {
        needs_dp: false,
        ..cmd("list-commands", "", 0, usize::MAX, false, list_commands)
    },
];

/// `dpctl_run_command`'s checks: the command named by `args[0]`, or `None` after printing
/// why it cannot run (exit status 1).
pub fn lookup(args: &[String], opts: &Options, err: &mut dyn Write) -> Option<&'static Command> {
    let Some(name) = args.first() else {
        let _ = writeln!(err, "{PROGRAM}: missing command name; use --help for help");
        return None;
    };
    let Some(c) = COMMANDS.iter().find(|c| c.name == name) else {
        let _ = writeln!(
            err,
            "{PROGRAM}: unknown command '{name}'; use --help for help"
        );
        return None;
    };
    let n = args.len() - 1;
    if n < c.min_args {
        let _ = writeln!(
            err,
            "{PROGRAM}: '{}' command requires at least {} arguments",
            c.name, c.min_args
        );
        return None;
    }
    if n > c.max_args {
        let _ = writeln!(
            err,
            "{PROGRAM}: '{}' command takes at most {} arguments",
            c.name, c.max_args
        );
        return None;
    }
    if c.rw && opts.read_only {
        let _ = writeln!(
            err,
            "{PROGRAM}: '{}' command does not work in read only mode",
            c.name
        );
        return None;
    }
    Some(c)
}

/// Runs a command found by [`lookup`]; returns 0 or an errno.
pub fn run(c: &Command, ctx: &mut Ctx<'_, '_>, args: &[String]) -> Errno {
    (c.handler)(ctx, args)
}

impl<'t> Ctx<'_, 't> {
    /// `dpctl_error`: `userdpctl: MSG[ (ERR)]`.
    fn error(&mut self, errno: Errno, msg: &str) {
        if errno != 0 {
            let _ = writeln!(self.err, "{PROGRAM}: {msg} ({})", retval_to_string(errno));
        } else {
            let _ = writeln!(self.err, "{PROGRAM}: {msg}");
        }
    }

    fn print(&mut self, s: &str) {
        let _ = self.out.write_all(s.as_bytes());
    }

    fn dpif(&mut self) -> &mut Dpif<'t> {
        // `run` only reaches handlers that need a datapath with `dpif` set.
        self.dpif.as_mut().expect("datapath connection")
    }

    fn enumerate(&mut self) -> Result<Vec<DpInfo>, Errno> {
        self.dpif().enumerate()
    }

    /// `parsed_dpif_open`: `[type@]name`, type `system` only.
    fn open_named(&mut self, arg: &str, create: bool) -> Result<DpInfo, Errno> {
        let (kind, name) = match arg.split_once('@') {
            Some((t, n)) => (t, n),
            None => (DP_TYPE, arg),
        };
        if kind != DP_TYPE {
            return Err(EAFNOSUPPORT);
        }
        if create {
            self.dpif().create(name)
        } else {
            self.dpif().open(name)
        }
    }

    fn dp_exists(&mut self, arg: &str) -> bool {
        let (kind, name) = match arg.split_once('@') {
            Some((t, n)) => (t, n),
            None => (DP_TYPE, arg),
        };
        kind == DP_TYPE
            && self
                .enumerate()
                .is_ok_and(|dps| dps.iter().any(|d| d.name == name))
    }

    /// `get_one_dp`.
    fn one_dp(&mut self) -> Option<String> {
        let dps = self.enumerate().unwrap_or_default();
        match dps.as_slice() {
            [] => {
                self.error(0, "no datapaths exist");
                None
            }
            [one] => Some(one.full_name()),
            _ => {
                self.error(0, "multiple datapaths, specify one");
                None
            }
        }
    }

    /// `opt_dpif_open`: `args[1]` if it names a datapath, else the only one (unless the
    /// argument count is already the maximum).
    fn opt_open(&mut self, args: &[String], max_args: usize) -> Result<DpInfo, Errno> {
        let name = if args.len() > 1 && self.dp_exists(&args[1]) {
            Some(args[1].clone())
        } else if args.len() != max_args {
            self.one_dp()
        } else {
            None
        };
        let Some(name) = name else {
            self.error(EINVAL, "datapath not found");
            return Err(EINVAL);
        };
        self.open_reporting(&name)
    }

    /// Opens an existing datapath by `[type@]name`, reporting a failure as "opening datapath".
    fn open_reporting(&mut self, arg: &str) -> Result<DpInfo, Errno> {
        self.open_named(arg, false).inspect_err(|&e| {
            self.error(e, "opening datapath");
        })
    }

    fn port_names(&mut self, dp: &DpInfo) -> PortNames {
        self.dpif()
            .ports(dp)
            .unwrap_or_default()
            .into_iter()
            .map(|p| (p.port_no, p.name))
            .collect()
    }

    fn flow_format<'n>(&self, names: Option<&'n PortNames>) -> FlowFormat<'n> {
        FlowFormat {
            verbose: self.opts.verbosity > 0,
            names,
            now_ms: self.now_ms,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Datapaths and ports
// ---------------------------------------------------------------------------------------------

fn add_dp(ctx: &mut Ctx<'_, '_>, args: &[String]) -> Errno {
    if let Err(e) = ctx.open_named(&args[1], true) {
        ctx.error(e, "add_dp");
        return e;
    }
    if args.len() > 2 {
        return add_if(ctx, args);
    }
    0
}

fn del_dp(ctx: &mut Ctx<'_, '_>, args: &[String]) -> Errno {
    let dp = match ctx.open_reporting(&args[1]) {
        Ok(dp) => dp,
        Err(e) => return e,
    };
    match ctx.dpif().delete(&dp) {
        Ok(()) => 0,
        Err(e) => {
            ctx.error(e, "del_dp");
            e
        }
    }
}

/// `IFACE[,key=value...]` as `strtok_r` splits it: empty fields vanish; a key without `=`
/// has the value "".
fn split_iface(arg: &str) -> Option<(&str, Vec<(&str, &str)>)> {
    let mut fields = arg.split(',').filter(|f| !f.is_empty());
    let name = fields.next()?;
    let opts = fields
        .map(|o| {
            // strtok_r(option, "=") skips leading '='s of the key.
            let o = o.trim_start_matches('=');
            match o.split_once('=') {
                Some((k, v)) => (k, v),
                None => (o, ""),
            }
        })
        .collect();
    Some((name, opts))
}

fn known_netdev_type(t: &str) -> bool {
    matches!(t, "system" | "tap" | "internal") || is_tunnel(t)
}

/// What `add-if` and `set-if` do to one `IFACE[,key=value...]` argument of datapath `dp_arg`.
type IfaceCmd = fn(&mut Ctx<'_, '_>, &DpInfo, &str, &str) -> Errno;

/// Opens datapath `args[1]` and runs `one` on every interface argument after it; the last
/// failure is the result, as ovs-dpctl's `lasterror`.
fn for_each_iface_arg(ctx: &mut Ctx<'_, '_>, args: &[String], one: IfaceCmd) -> Errno {
    let dp = match ctx.open_reporting(&args[1]) {
        Ok(dp) => dp,
        Err(e) => return e,
    };
    let mut lasterror = 0;
    for arg in &args[2..] {
        let error = one(ctx, &dp, &args[1], arg);
        if error != 0 {
            lasterror = error;
        }
    }
    lasterror
}

fn add_if(ctx: &mut Ctx<'_, '_>, args: &[String]) -> Errno {
    for_each_iface_arg(ctx, args, add_one_if)
}

fn add_one_if(ctx: &mut Ctx<'_, '_>, dp: &DpInfo, dp_arg: &str, arg: &str) -> Errno {
    let Some((name, opts)) = split_iface(arg) else {
        ctx.error(0, &format!("{arg} is not a valid network device name"));
        return EINVAL;
    };
    let mut kind = "system";
    let mut port_no = None;
    let mut config: BTreeMap<&str, &str> = BTreeMap::new();
    for (k, v) in opts {
        match k {
            "type" => kind = v,
            "port_no" => port_no = Some(atoi(v) as u32),
            _ => {
                if config.contains_key(k) {
                    ctx.error(0, &format!("duplicate \"{k}\" option"));
                } else {
                    config.insert(k, v);
                }
            }
        }
    }
    if !known_netdev_type(kind) {
        ctx.error(
            EAFNOSUPPORT,
            &format!("{name}: failed to open network device"),
        );
        return EAFNOSUPPORT;
    }
    let mut dst_port = None;
    if is_tunnel(kind) {
        // set_tunnel_config fails without a remote_ip, and ovs-dpctl reports that only in
        // its log: the command just fails.
        if !config.contains_key("remote_ip") {
            return EINVAL;
        }
        dst_port = config.get("dst_port").map(|v| atoi(v) as u16);
    }
    let Some(vport_type) = super::dpif::vport_type_from_name(kind) else {
        return EINVAL;
    };
    let spec = PortSpec {
        name: tunnel_dpif_name(kind, name, dst_port).unwrap_or_else(|| name.to_owned()),
        kind: vport_type,
        port_no,
        dst_port: dst_port.or_else(|| {
            tunnel_dpif_name(kind, name, None)
                .and_then(|n| n.rsplit('_').next().and_then(|p| p.parse().ok()))
        }),
    };
    match ctx.dpif().port_add(dp, &spec) {
        Ok(_) => 0,
        Err(e) => {
            ctx.error(e, &format!("adding {name} to {dp_arg} failed"));
            e
        }
    }
}

/// The configuration ovs-dpctl reads back from a fresh netdev of this port's type.
fn port_config(p: &PortInfo) -> PortConfig {
    match p.kind.as_str() {
        "system" | "internal" | "tap" => PortConfig::Config(Vec::new()),
        k if is_tunnel(k) => PortConfig::Config(fresh_tunnel_config(k, &p.name)),
        _ => PortConfig::OpenFailed(EAFNOSUPPORT),
    }
}

fn set_if(ctx: &mut Ctx<'_, '_>, args: &[String]) -> Errno {
    for_each_iface_arg(ctx, args, set_one_if)
}

fn set_one_if(ctx: &mut Ctx<'_, '_>, dp: &DpInfo, dp_arg: &str, arg: &str) -> Errno {
    let Some((name, opts)) = split_iface(arg) else {
        ctx.error(0, &format!("{arg} is not a valid network device name"));
        return 0;
    };
    let port = match ctx.dpif().port(dp, &PortKey::Name(name.to_owned())) {
        Ok(p) => p,
        Err(e) => {
            ctx.error(e, &format!("{name}: failed to query port in {dp_arg}"));
            return e;
        }
    };
    let mut config: BTreeMap<String, String> = match port_config(&port) {
        PortConfig::Config(kv) => kv.into_iter().collect(),
        PortConfig::OpenFailed(e) => {
            ctx.error(e, &format!("{name}: failed to open network device"));
            return e;
        }
    };
    let fresh = config.clone();
    for (k, v) in opts {
        if k == "type" {
            if v != port.kind {
                ctx.error(
                    0,
                    &format!("{name}: can't change type from {} to {v}", port.kind),
                );
                return EINVAL;
            }
        } else if k == "port_no" {
            if port.port_no != atoi(v) as u32 {
                ctx.error(
                    0,
                    &format!(
                        "{name}: can't change port number from {} to {}",
                        port.port_no,
                        atoi(v)
                    ),
                );
                return EINVAL;
            }
        } else if v.is_empty() {
            config.remove(k);
        } else {
            config.insert(k.to_owned(), v.to_owned());
        }
    }
    // A netdev-linux device has no set_config: OVS only warns (exit 0). Tunnel settings
    // live in ovs-vswitchd's netdev objects, never in the datapath, so there is nothing to
    // send for them either.
    if !is_tunnel(&port.kind) && !config.is_empty() && config != fresh {
        ctx.error(
            0,
            &format!("{name}: arguments provided to device that is not configurable"),
        );
    }
    0
}

fn del_if(ctx: &mut Ctx<'_, '_>, args: &[String]) -> Errno {
    let dp = match ctx.open_reporting(&args[1]) {
        Ok(dp) => dp,
        Err(e) => return e,
    };
    let mut lasterror = 0;
    for name in &args[2..] {
        let port_no = if name.bytes().all(|b| b.is_ascii_digit()) {
            atoi(name) as u32
        } else {
            match ctx.dpif().port(&dp, &PortKey::Name(name.clone())) {
                Ok(p) => p.port_no,
                Err(_) => {
                    ctx.error(0, &format!("no port named {name}"));
                    lasterror = ENOENT;
                    continue;
                }
            }
        };
        if let Err(e) = ctx.dpif().port_del(&dp, port_no) {
            ctx.error(e, &format!("deleting port {name} from {} failed", args[1]));
            lasterror = e;
        }
    }
    lasterror
}

/// `dps_for_each`: every datapath, opened by name; the enumeration error only matters when
/// nothing was found.
fn for_each_dp(ctx: &mut Ctx<'_, '_>, cb: &mut dyn FnMut(&mut Ctx<'_, '_>, DpInfo)) -> Errno {
    let (dps, enumerror) = match ctx.enumerate() {
        Ok(d) => (d, 0),
        Err(e) => (Vec::new(), e),
    };
    let mut openerror = 0;
    let at_least_one = !dps.is_empty();
    for d in dps {
        match ctx.dpif().open(&d.name) {
            Ok(dp) => cb(ctx, dp),
            Err(e) => {
                openerror = e;
                ctx.error(e, &format!("opening datapath {} failed", d.name));
            }
        }
    }
    if openerror != 0 {
        openerror
    } else if at_least_one {
        0
    } else {
        enumerror
    }
}

fn dump_dps(ctx: &mut Ctx<'_, '_>, _args: &[String]) -> Errno {
    let mut names = Vec::new();
    let json = ctx.opts.format == Format::Json;
    let error = for_each_dp(ctx, &mut |ctx, dp| {
        if json {
            names.push(dp.full_name());
        } else {
            ctx.print(&format!("{}\n", dp.full_name()));
        }
    });
    if json {
        ctx.print(&json::dump_dps_document(&names));
    }
    error
}

/// The `-s` counters of one port, by type (`netdev_*_get_stats`).
fn port_stats(ctx: &Ctx<'_, '_>, p: &PortInfo) -> Result<NetdevStats, Errno> {
    let from_vport = |extra: Option<u64>| {
        p.stats.map(|v| NetdevStats {
            rx_packets: Some(v.rx_packets),
            rx_errors: Some(v.rx_errors),
            rx_dropped: Some(v.rx_dropped),
            rx_over_errors: extra,
            rx_frame_errors: extra,
            tx_packets: Some(v.tx_packets),
            tx_errors: Some(v.tx_errors),
            tx_dropped: Some(v.tx_dropped),
            tx_aborted_errors: extra,
            tx_carrier_errors: extra,
            collisions: extra,
            rx_bytes: Some(v.rx_bytes),
            tx_bytes: Some(v.tx_bytes),
        })
    };
    match p.kind.as_str() {
        "internal" => from_vport(Some(0)).ok_or(EOPNOTSUPP),
        k if is_tunnel(k) => Ok(NetdevStats {
            rx_packets: Some(0),
            tx_packets: Some(0),
            rx_bytes: Some(0),
            tx_bytes: Some(0),
            ..NetdevStats::default()
        }),
        _ => {
            let link = ctx.host.link_stats(&p.name);
            match (from_vport(None), link) {
                (Some(mut s), Some(l)) => {
                    s.rx_over_errors = l.rx_over_errors;
                    s.rx_frame_errors = l.rx_frame_errors;
                    s.tx_aborted_errors = l.tx_aborted_errors;
                    s.tx_carrier_errors = l.tx_carrier_errors;
                    s.collisions = l.collisions;
                    Ok(s)
                }
                (Some(s), None) => Ok(s),
                (None, Some(l)) => Ok(l),
                (None, None) => Err(libc::ENODEV),
            }
        }
    }
}

/// Gathers what `show_dpif` prints for `dp`.
fn collect_show(ctx: &mut Ctx<'_, '_>, dp: DpInfo) -> DpShow {
    let (dp, have_stats) = match ctx.dpif().stats(&dp) {
        Ok(fresh) => (fresh, true),
        Err(_) => (
            DpInfo {
                masks_cache_size: None,
                ..dp
            },
            false,
        ),
    };
    let mut nos: Vec<u32> = ctx
        .dpif()
        .ports(&dp)
        .unwrap_or_default()
        .iter()
        .map(|p| p.port_no)
        .collect();
    nos.sort_unstable();
    let mut ports = Vec::new();
    for n in nos {
        let Ok(p) = ctx.dpif().port(&dp, &PortKey::Number(n)) else {
            continue;
        };
        let stats = ctx.opts.statistics.then(|| port_stats(ctx, &p));
        ports.push(PortShow {
            port_no: p.port_no,
            config: port_config(&p),
            name: p.name,
            kind: p.kind,
            stats,
        });
    }
    DpShow {
        dp,
        have_stats,
        ports,
    }
}

fn show(ctx: &mut Ctx<'_, '_>, args: &[String]) -> Errno {
    let json = ctx.opts.format == Format::Json;
    let statistics = ctx.opts.statistics;
    let mut shows = Vec::new();
    let mut emit = |ctx: &mut Ctx<'_, '_>, dp: DpInfo| {
        let s = collect_show(ctx, dp);
        if json {
            shows.push(s);
        } else {
            ctx.print(&format_dp_show(&s, statistics));
        }
    };
    let mut lasterror = 0;
    if args.len() > 1 {
        for name in &args[1..] {
            match ctx.open_named(name, false) {
                Ok(dp) => emit(ctx, dp),
                Err(e) => {
                    ctx.error(e, &format!("opening datapath {name} failed"));
                    lasterror = e;
                }
            }
        }
    } else {
        lasterror = for_each_dp(ctx, &mut emit);
    }
    if json {
        ctx.print(&json::show_document(&shows, statistics));
    }
    lasterror
}

// ---------------------------------------------------------------------------------------------
// Flows
// ---------------------------------------------------------------------------------------------

fn dump_flows(ctx: &mut Ctx<'_, '_>, args: &[String]) -> Errno {
    let mut argc = args.len();
    let mut filter: Option<String> = None;
    let mut pmd_filter = false;
    let mut last = 0;
    while argc > 1 && last != argc {
        last = argc;
        let a = &args[argc - 1];
        if let (Some(f), None) = (a.strip_prefix("filter="), &filter) {
            filter = Some(f.to_owned());
            argc -= 1;
        } else if a.starts_with("type=") {
            ctx.error(
                0,
                "Invalid argument 'type'. Use 'ovs-appctl dpctl/dump-flows' instead.",
            );
            return EINVAL;
        } else if let Some(p) = a.strip_prefix("pmd=") {
            argc -= 1;
            if !scans_int(p) {
                return EINVAL;
            }
            pmd_filter = true;
        }
    }
    let args = &args[..argc];
    let dp = match ctx.opt_open(args, 2) {
        Ok(dp) => dp,
        Err(e) => return e,
    };
    let names = ctx.opts.names.then(|| ctx.port_names(&dp));
    let filter = match filter {
        Some(f) => match super::filter::Filter::parse(&f, &ctx.port_names(&dp)) {
            Ok(f) => Some(f),
            Err(msg) => {
                ctx.error(0, &format!("Failed to parse filter ({msg})"));
                return EINVAL;
            }
        },
        None => None,
    };
    let (flows, status) = match ctx.dpif().flows(&dp) {
        Ok(r) => r,
        Err(e) => (Vec::new(), e),
    };
    // Kernel flows carry no pmd id, so a pmd= filter selects none of them.
    let flows: Vec<FlowInfo> = flows
        .into_iter()
        .filter(|f| !pmd_filter && filter.as_ref().is_none_or(|flt| flt.matches(f)))
        .collect();
    let fmt = ctx.flow_format(names.as_ref());
    if ctx.opts.format == Format::Json {
        let doc = json::flows_document(&dp.full_name(), &flows, &fmt);
        ctx.print(&doc);
    } else {
        let mut text = String::new();
        for f in &flows {
            text.push_str(&format_flow(f, &fmt));
            text.push('\n');
        }
        ctx.print(&text);
    }
    if status != 0 {
        ctx.error(status, "Failed to dump flows from datapath");
    }
    status
}

/// `ovs_scan(s, "pmd=%d")` after the prefix: optional blanks and sign, then a digit.
fn scans_int(s: &str) -> bool {
    let t = s.trim_start();
    let t = t.strip_prefix(['+', '-']).unwrap_or(t);
    t.starts_with(|c: char| c.is_ascii_digit())
}

/// Replaces `in_port(NAME)` with the port's number (`odp_flow_from_string` with a port-name
/// map); unknown names are left for the key parser to reject.
fn resolve_port_names(s: &str, names: &BTreeMap<String, u32>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("in_port(") {
        let (head, tail) = rest.split_at(i + "in_port(".len());
        out.push_str(head);
        rest = tail;
        if let Some(close) = rest.find(')') {
            let inner = &rest[..close];
            if let Some(n) = names.get(inner) {
                if !inner.starts_with(|c: char| c.is_ascii_digit()) {
                    out.push_str(&n.to_string());
                    rest = &rest[close..];
                }
            }
        }
    }
    out.push_str(rest);
    out
}

/// Parses FLOW text after an optional UFID. Errors were printed; returns the errno.
fn parse_flow_text(
    ctx: &mut Ctx<'_, '_>,
    dp: &DpInfo,
    text: &str,
    prefix_errors: bool,
) -> Result<(Option<[u8; 16]>, Key, Key), Errno> {
    let (ufid, key_s) = match parse_ufid(text) {
        Ok(Some((u, n))) => (Some(u), text.get(n..).unwrap_or("")),
        Ok(None) => (None, text),
        Err(()) => {
            ctx.error(EINVAL, "parsing flow ufid");
            return Err(EINVAL);
        }
    };
    let names: BTreeMap<String, u32> = ctx
        .dpif()
        .ports(dp)
        .unwrap_or_default()
        .into_iter()
        .map(|p| (p.name, p.port_no))
        .collect();
    let key_s = resolve_port_names(key_s, &names);
    match parse_key(&key_s) {
        Ok((k, m)) => Ok((ufid, k, m)),
        Err(e) => {
            let at = key_s.get(e.offset..).unwrap_or("");
            let msg = format!("syntax error at {at}");
            if prefix_errors {
                ctx.error(e.errno, &format!("parsing flow key ({msg})"));
            } else {
                ctx.error(e.errno, &msg);
            }
            Err(e.errno)
        }
    }
}

/// `dpctl_put_flow_dpif`.
fn put_flow(
    ctx: &mut Ctx<'_, '_>,
    dp: &DpInfo,
    key_s: &str,
    actions_s: &str,
    create: bool,
    modify: bool,
    zero_stats: bool,
) -> Errno {
    let (ufid, key, mask) = match parse_flow_text(ctx, dp, key_s, true) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let actions = match parse_actions(actions_s) {
        Ok(a) => a,
        Err(e) => {
            ctx.error(e.errno, "parsing actions");
            return e.errno;
        }
    };
    let put = FlowPut {
        ufid,
        key,
        mask,
        actions,
        create,
        modify,
        zero_stats,
        want_stats: ctx.opts.statistics,
    };
    match ctx.dpif().flow_put(dp, &put) {
        Ok(stats) => {
            if ctx.opts.statistics {
                let line = format_flow_stats(&stats, ctx.now_ms);
                ctx.print(&format!("{line}\n"));
            }
            0
        }
        Err(e) => {
            ctx.error(e, "updating flow table");
            e
        }
    }
}

fn add_flow(ctx: &mut Ctx<'_, '_>, args: &[String]) -> Errno {
    let dp = match ctx.opt_open(args, 4) {
        Ok(dp) => dp,
        Err(e) => return e,
    };
    let n = args.len();
    put_flow(ctx, &dp, &args[n - 2], &args[n - 1], true, false, false)
}

fn mod_flow(ctx: &mut Ctx<'_, '_>, args: &[String]) -> Errno {
    let dp = match ctx.opt_open(args, 4) {
        Ok(dp) => dp,
        Err(e) => return e,
    };
    let n = args.len();
    let (may_create, clear) = (ctx.opts.may_create, ctx.opts.clear);
    put_flow(
        ctx,
        &dp,
        &args[n - 2],
        &args[n - 1],
        may_create,
        true,
        clear,
    )
}

fn get_flow(ctx: &mut Ctx<'_, '_>, args: &[String]) -> Errno {
    let dp = match ctx.opt_open(args, 3) {
        Ok(dp) => dp,
        Err(e) => return e,
    };
    let names = ctx.opts.names.then(|| ctx.port_names(&dp));
    // Like ovs-dpctl, a bad UFID is reported but the command still exits 0.
    let ufid = match parse_ufid(&args[args.len() - 1]) {
        Ok(Some((u, _))) => u,
        Ok(None) => {
            ctx.error(0, "parsing flow ufid");
            return 0;
        }
        Err(()) => {
            ctx.error(EINVAL, "parsing flow ufid");
            return 0;
        }
    };
    match ctx.dpif().flow_get(&dp, Some(&ufid), None) {
        Ok(f) => {
            let fmt = ctx.flow_format(names.as_ref());
            let line = format_flow(&f, &fmt);
            ctx.print(&format!("{line}\n"));
            0
        }
        Err(e) => {
            ctx.error(e, "getting flow");
            e
        }
    }
}

/// `dpctl_del_flow_dpif`.
fn del_one_flow(ctx: &mut Ctx<'_, '_>, dp: &DpInfo, key_s: &str) -> Errno {
    let (ufid, key, _mask) = match parse_flow_text(ctx, dp, key_s, false) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let want = ctx.opts.statistics;
    match ctx.dpif().flow_del(dp, ufid.as_ref(), &key, want) {
        Ok(stats) => {
            if want {
                let line = format_flow_stats(&stats, ctx.now_ms);
                ctx.print(&format!("{line}\n"));
            }
            0
        }
        Err(e) => {
            ctx.error(e, "deleting flow");
            // 3.1.0 read an uninitialised flag here; this is the 3.1.5 behaviour.
            if e == ENOENT && ufid.is_none() {
                ctx.print("Perhaps you need to specify a UFID?\n");
            }
            e
        }
    }
}

fn del_flow(ctx: &mut Ctx<'_, '_>, args: &[String]) -> Errno {
    let dp = match ctx.opt_open(args, 3) {
        Ok(dp) => dp,
        Err(e) => return e,
    };
    del_one_flow(ctx, &dp, &args[args.len() - 1])
}

fn del_flows(ctx: &mut Ctx<'_, '_>, args: &[String]) -> Errno {
    if args.len() > 2 || (args.len() == 2 && !ctx.dp_exists(&args[1])) {
        return process_flows(ctx, args);
    }
    let dp = match ctx.opt_open(args, 2) {
        Ok(dp) => dp,
        Err(e) => return e,
    };
    match ctx.dpif().flow_flush(&dp) {
        Ok(()) => 0,
        Err(e) => {
            ctx.error(e, "deleting all flows");
            e
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FlowCmd {
    Add,
    Del,
    Mod,
}

const BLANKS: [char; 4] = [' ', '\t', '\r', '\n'];

/// `dpctl_parse_flow_line`: an optional keyword (any prefix of add/delete/modify, even an
/// empty one), one whitespace-free FLOW token, and the rest as ACTIONS.
fn parse_flow_line(def: FlowCmd, line: &str) -> (FlowCmd, Option<String>, Option<String>) {
    let mut line = line.trim_start_matches(BLANKS);
    let len = line
        .find([',', ' ', '\t', '\r', '\n'])
        .unwrap_or(line.len());
    let word = &line[..len];
    let cmd = if "add".starts_with(word) {
        FlowCmd::Add
    } else if "delete".starts_with(word) {
        FlowCmd::Del
    } else if "modify".starts_with(word) {
        FlowCmd::Mod
    } else {
        def
    };
    if "add".starts_with(word) || "delete".starts_with(word) || "modify".starts_with(word) {
        line = &line[len..];
    }
    line = line.trim_start_matches(BLANKS);
    let len = line.find(BLANKS).unwrap_or(line.len());
    if len == 0 {
        return (cmd, None, None);
    }
    let flow = line[..len].to_owned();
    let rest = line[len..].trim_start_matches(BLANKS);
    (cmd, Some(flow), (!rest.is_empty()).then(|| rest.to_owned()))
}

/// `ds_get_preprocessed_line`: drops `#` comments and surrounding blanks, skips empty lines,
/// and numbers physical lines.
fn preprocessed_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, l)| {
        let l = l.split('#').next().unwrap_or("").trim();
        (!l.is_empty()).then_some((i + 1, l))
    })
}

/// `add-flows`, `mod-flows`, and `del-flows FILE`. Exits 0 once the datapath is open,
/// whatever happens to the file or its lines, as ovs-dpctl does.
fn process_flows(ctx: &mut Ctx<'_, '_>, args: &[String]) -> Errno {
    let def = match args[0].as_str() {
        "mod-flows" => FlowCmd::Mod,
        "del-flows" => FlowCmd::Del,
        _ => FlowCmd::Add,
    };
    let dp = match ctx.opt_open(args, 4) {
        Ok(dp) => dp,
        Err(e) => return e,
    };
    let file = &args[args.len() - 1];
    let text = match ctx.host.read_file(file) {
        Ok(t) => t,
        Err(e) => {
            let errno = e.raw_os_error().unwrap_or(libc::EIO);
            ctx.error(errno, &format!("Opening file \"{file}\" failed"));
            return 0;
        }
    };
    for (n, line) in preprocessed_lines(&text) {
        let (cmd, flow, actions) = parse_flow_line(def, line);
        match (cmd, flow, actions) {
            (FlowCmd::Add, Some(f), Some(a)) => {
                put_flow(ctx, &dp, &f, &a, true, false, false);
            }
            (FlowCmd::Mod, Some(f), Some(a)) => {
                put_flow(ctx, &dp, &f, &a, false, true, false);
            }
            (FlowCmd::Del, Some(f), None) => {
                del_one_flow(ctx, &dp, &f);
            }
            _ => ctx.error(0, &format!("Failed parsing line number {n}, skipped!")),
        }
    }
    0
}

// ---------------------------------------------------------------------------------------------
// Help
// ---------------------------------------------------------------------------------------------

fn help(ctx: &mut Ctx<'_, '_>, _args: &[String]) -> Errno {
    ctx.print(&usage());
    0
}

fn list_commands(ctx: &mut Ctx<'_, '_>, _args: &[String]) -> Errno {
    let mut s = String::from("The available commands are:\n");
    for c in &COMMANDS {
        s.push_str(&format!("  {:<23} {}\n", c.name, c.usage));
    }
    ctx.print(&s);
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_line_keywords_are_prefixes() {
        let (c, f, a) = parse_flow_line(FlowCmd::Add, "  d in_port(1)");
        assert!(c == FlowCmd::Del);
        assert_eq!(f.as_deref(), Some("in_port(1)"));
        assert_eq!(a, None);
        let (c, f, a) = parse_flow_line(FlowCmd::Mod, "in_port(1) 2,3");
        assert!(c == FlowCmd::Mod);
        assert_eq!(f.as_deref(), Some("in_port(1)"));
        assert_eq!(a.as_deref(), Some("2,3"));
        // "addx" is not a prefix of "add": it is the flow itself.
        let (c, f, _) = parse_flow_line(FlowCmd::Add, "addx 1");
        assert!(c == FlowCmd::Add);
        assert_eq!(f.as_deref(), Some("addx"));
    }

    #[test]
    fn iface_splitting_follows_strtok() {
        let (n, o) = split_iface(",,eth0,,type=internal,port_no=5,k").unwrap();
        assert_eq!(n, "eth0");
        assert_eq!(o, vec![("type", "internal"), ("port_no", "5"), ("k", "")]);
        assert!(split_iface(",,,").is_none());
    }

    #[test]
    fn in_port_names_resolve_to_numbers() {
        let names: BTreeMap<String, u32> = [("eth0".to_owned(), 3)].into_iter().collect();
        assert_eq!(
            resolve_port_names("in_port(eth0),eth()", &names),
            "in_port(3),eth()"
        );
        assert_eq!(
            resolve_port_names("in_port(bogus)", &names),
            "in_port(bogus)"
        );
    }
}
