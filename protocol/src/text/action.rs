//! Datapath actions as text: `2,push_vlan(vid=10,pcp=0),set(ipv4(dst=10.0.0.1))`.
//!
//! ≈ `format_odp_actions` / `odp_actions_from_string` in OVS 3.1 `lib/odp-util.c`. The printer
//! reproduces OVS 3.1 byte for byte (plus the newer `dec_ttl(le_1(…))` and `psample(…)` forms
//! for the kernel-only actions 23 and 25). The parser accepts everything 3.1 accepts and, so
//! that every printed list reads back, also the printed forms 3.1 itself cannot read
//! (`recirc(0x5)`, `hash(l4(0))`, `push_mpls(…)`, `pop_mpls(…)`, `push_eth(…)`, `pop_eth`,
//! `clone(drop)`, `actions(drop)`, `slow_path(a,b)`, `dec_ttl(…)`, `psample(…)`).
//!
//! Deviation: a whole-string `drop` parses to the empty list. OVS 3.1 emits its userspace-only
//! `DROP` attribute (type 25 in its numbering), which no netlink datapath accepts.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while1, take_while_m_n};
use nom::character::complete::{char as nchar, digit1};
use nom::combinator::{map_res, opt, recognize};
use nom::sequence::{pair, preceded, tuple};
use nom::IResult;

use crate::ovs::action::{
    Action, Actions, CtAction, KeyAttr, Nat, NatKind, NshPush, NSH_M_TYPE1, NSH_M_TYPE2,
    OVS_HASH_ALG_L4, OVS_HASH_ALG_SYM_L4,
};
use crate::{Error, Result};

/// `MAX_ODP_NESTED` in OVS: the text parser refuses deeper nesting.
const MAX_ODP_NESTED: usize = 32;
/// `sizeof(struct user_action_cookie)`.
pub const USER_ACTION_COOKIE_LEN: usize = 48;
const ETH_TYPE_VLAN: u16 = 0x8100;
const VLAN_CFI: u16 = 0x1000;
const OFPP_NONE: u16 = 0xffff;

/// Slow-path reasons in bit order, as `slow_path_reason_to_string` names them.
const SLOW_PATH_REASONS: [&str; 7] = ["cfm", "bfd", "lacp", "stp", "lldp", "action", "match"];

// ---------------------------------------------------------------------------------------------
// Printing
// ---------------------------------------------------------------------------------------------

/// Appends `actions` as OVS 3.1 prints them; the empty list prints `drop`.
pub fn format_actions(actions: &Actions, out: &mut String) {
    format_list(&actions.0, out);
}

/// The printed form of `actions` as a new string.
pub fn actions_to_string(actions: &Actions) -> String {
    let mut s = String::new();
    format_actions(actions, &mut s);
    s
}

fn format_list(list: &[Action], out: &mut String) {
    if list.is_empty() {
        out.push_str("drop");
        return;
    }
    for (i, a) in list.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        format_action(a, out);
    }
}

/// `ds_put_hex`: `0x` + the bytes in hex without leading zero nibbles, or `0`.
fn put_hex(out: &mut String, bytes: &[u8]) {
    let mut printed = false;
    for &b in bytes {
        if b != 0 || printed {
            if printed {
                let _ = write!(out, "{b:02x}");
            } else {
                let _ = write!(out, "0x{b:x}");
            }
            printed = true;
        }
    }
    if !printed {
        out.push('0');
    }
}

/// C's `%#x`: `0` for zero, `0x…` otherwise.
fn alt_hex(v: u64) -> String {
    if v == 0 {
        "0".into()
    } else {
        format!("{v:#x}")
    }
}

fn mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

fn format_lse(out: &mut String, lse: u32) {
    let _ = write!(
        out,
        "label={},tc={},ttl={},bos={}",
        lse >> 12,
        (lse >> 9) & 7,
        lse & 0xff,
        (lse >> 8) & 1
    );
}

fn format_key(key: &KeyAttr, mask: Option<&KeyAttr>, out: &mut String) {
    crate::text::key::format_key_attr(key, mask, out);
}

/// Appends one action.
pub fn format_action(a: &Action, out: &mut String) {
    match a {
        Action::Output(p) => {
            let _ = write!(out, "{p}");
        }
        Action::Userspace {
            pid,
            userdata,
            egress_tun_port,
            actions,
        } => {
            let _ = write!(out, "userspace(pid={pid}");
            if let Some(u) = userdata {
                format_userdata(u, out);
            }
            if *actions {
                out.push_str(",actions");
            }
            if let Some(p) = egress_tun_port {
                let _ = write!(out, ",tunnel_out_port={p}");
            }
            out.push(')');
        }
        Action::Set(k) => {
            out.push_str("set(");
            format_key(k, None, out);
            out.push(')');
        }
        Action::SetMasked(v, m) => {
            out.push_str("set(");
            format_key(v, Some(m), out);
            out.push(')');
        }
        Action::PushVlan { tpid, tci } => {
            out.push_str("push_vlan(");
            if *tpid != ETH_TYPE_VLAN {
                let _ = write!(out, "tpid=0x{tpid:04x},");
            }
            let _ = write!(out, "vid={},pcp={}", tci & 0xfff, tci >> 13);
            if tci & VLAN_CFI == 0 {
                out.push_str(",cfi=0");
            }
            out.push(')');
        }
        Action::PopVlan => out.push_str("pop_vlan"),
        Action::Sample {
            probability,
            actions,
        } => {
            let pct = 100.0 * f64::from(*probability) / f64::from(u32::MAX);
            let _ = write!(out, "sample(sample={pct:.1}%,actions(");
            format_list(actions, out);
            out.push_str("))");
        }
        Action::Recirc(id) => {
            let _ = write!(out, "recirc({})", alt_hex(u64::from(*id)));
        }
        Action::Hash { alg, basis } => {
            match *alg {
                OVS_HASH_ALG_L4 => write!(out, "hash(l4({basis}))"),
                OVS_HASH_ALG_SYM_L4 => write!(out, "hash(sym_l4({basis}))"),
                n => write!(out, "hash(Unknown hash algorithm({n}))"),
            }
            .ok();
        }
        Action::PushMpls { lse, ethertype } => {
            out.push_str("push_mpls(");
            format_lse(out, *lse);
            let _ = write!(out, ",eth_type=0x{ethertype:x})");
        }
        Action::PopMpls(e) => {
            let _ = write!(out, "pop_mpls(eth_type=0x{e:x})");
        }
        Action::Ct(ct) => format_ct(ct, out),
        Action::Trunc(n) => {
            let _ = write!(out, "trunc({n})");
        }
        Action::PushEth { src, dst } => {
            let _ = write!(out, "push_eth(src={},dst={})", mac(src), mac(dst));
        }
        Action::PopEth => out.push_str("pop_eth"),
        Action::CtClear => out.push_str("ct_clear"),
        Action::PushNsh(n) => format_push_nsh(n, out),
        Action::PopNsh => out.push_str("pop_nsh()"),
        Action::Meter(m) => {
            let _ = write!(out, "meter({m})");
        }
        Action::Clone(list) => {
            out.push_str("clone(");
            format_list(list, out);
            out.push(')');
        }
        Action::CheckPktLen {
            pkt_len,
            if_greater,
            if_less_equal,
        } => {
            let _ = write!(out, "check_pkt_len(size={pkt_len},gt(");
            format_list(if_greater, out);
            out.push_str("),le(");
            format_list(if_less_equal, out);
            out.push_str("))");
        }
        Action::AddMpls { lse, ethertype, .. } => {
            out.push_str("add_mpls(");
            format_lse(out, *lse);
            let _ = write!(out, ",eth_type=0x{ethertype:x})");
        }
        Action::DecTtl(list) => {
            out.push_str("dec_ttl(le_1(");
            format_list(list, out);
            out.push_str("))");
        }
        Action::Drop(_) => out.push_str("drop"),
        Action::Psample { group, cookie } => {
            let _ = write!(out, "psample(group={group}");
            if let Some(c) = cookie {
                out.push_str(",cookie=");
                put_hex(out, c);
            }
            out.push(')');
        }
        Action::Unknown { kind, payload } => {
            let _ = write!(out, "action{kind}");
            for (i, b) in payload.iter().enumerate() {
                out.push(if i == 0 { '(' } else { ' ' });
                let _ = write!(out, "{b:02x}");
            }
            if !payload.is_empty() {
                out.push(')');
            }
        }
    }
}

fn rd_u16(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map_or(0, |s| u16::from_ne_bytes([s[0], s[1]]))
}
fn rd_u32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

/// `format_odp_userspace_action`'s cookie decoding: a 48-byte `struct user_action_cookie`
/// of a known type prints as that type; anything else as `userdata(hex)`.
fn format_userdata(u: &[u8], out: &mut String) {
    if u.len() == USER_ACTION_COOKIE_LEN {
        match rd_u16(u, 0) {
            1 => {
                let tci = u16::from_be_bytes([u[24], u[25]]);
                let _ = write!(
                    out,
                    ",sFlow(vid={},pcp={},output={})",
                    tci & 0xfff,
                    tci >> 13,
                    rd_u32(u, 28)
                );
                return;
            }
            2 => {
                out.push_str(",slow_path(");
                format_slow_path(rd_u32(u, 28), out);
                out.push(')');
                return;
            }
            3 => {
                let _ = write!(
                    out,
                    ",flow_sample(probability={},collector_set_id={},obs_domain_id={},obs_point_id={},output_port={}",
                    rd_u16(u, 24),
                    rd_u32(u, 28),
                    rd_u32(u, 32),
                    rd_u32(u, 36),
                    rd_u32(u, 40)
                );
                match rd_u32(u, 44) {
                    1 => out.push_str(",ingress"),
                    2 => out.push_str(",egress"),
                    _ => {}
                }
                out.push(')');
                return;
            }
            4 => {
                let _ = write!(out, ",ipfix(output_port={})", rd_u32(u, 24));
                return;
            }
            5 => {
                let cookie =
                    u64::from_be_bytes([u[32], u[33], u[34], u[35], u[36], u[37], u[38], u[39]]);
                let _ = write!(
                    out,
                    ",controller(reason={},dont_send={},continuation={},recirc_id={},rule_cookie={},controller_id={},max_len={})",
                    rd_u16(u, 26),
                    u8::from(u[24] != 0),
                    u8::from(u[25] != 0),
                    rd_u32(u, 28),
                    alt_hex(cookie),
                    rd_u16(u, 40),
                    rd_u16(u, 42)
                );
                return;
            }
            _ => {}
        }
    }
    out.push_str(",userdata(");
    for b in u {
        let _ = write!(out, "{b:02x}");
    }
    out.push(')');
}

/// `format_flags` with `,`: names in bit order, unknown bits as one hex number, `0` for none.
fn format_slow_path(reasons: u32, out: &mut String) {
    if reasons == 0 {
        out.push('0');
        return;
    }
    let mut parts = Vec::new();
    let mut bad = 0u32;
    for bit in 0..32 {
        let m = 1u32 << bit;
        if reasons & m != 0 {
            match SLOW_PATH_REASONS.get(bit) {
                Some(name) => parts.push((*name).to_string()),
                None => bad |= m,
            }
        }
    }
    if bad != 0 {
        parts.push(format!("0x{bad:x}"));
    }
    out.push_str(&parts.join(","));
}

fn format_push_nsh(n: &NshPush, out: &mut String) {
    let _ = write!(
        out,
        "push_nsh(flags={},ttl={},mdtype={},np={},spi=0x{:x},si={}",
        n.flags, n.ttl, n.mdtype, n.np, n.spi, n.si
    );
    match n.mdtype {
        NSH_M_TYPE1 => {
            let c = n.md1.unwrap_or_default();
            for (i, v) in c.iter().enumerate() {
                let _ = write!(out, ",c{}=0x{v:x}", i + 1);
            }
        }
        NSH_M_TYPE2 => {
            out.push_str(",md2=");
            put_hex(out, n.md2.as_deref().unwrap_or(&[]));
        }
        _ => out.push_str(",<error: unknown mdtype>"),
    }
    out.push(')');
}

fn format_ct(ct: &CtAction, out: &mut String) {
    out.push_str("ct");
    let zone = ct.zone.unwrap_or(0);
    let mut items: Vec<String> = Vec::new();
    if ct.commit {
        items.push("commit".into());
    }
    if ct.force_commit {
        items.push("force_commit".into());
    }
    if zone != 0 {
        items.push(format!("zone={zone}"));
    }
    if let Some((v, m)) = ct.mark {
        items.push(format!(
            "mark={}/{}",
            alt_hex(u64::from(v)),
            alt_hex(u64::from(m))
        ));
    }
    if let Some((v, m)) = &ct.labels {
        let mut s = String::from("label=");
        put_hex(&mut s, &u128::from_le_bytes(*v).to_be_bytes());
        if *m != [0xff; 16] {
            s.push('/');
            put_hex(&mut s, &u128::from_le_bytes(*m).to_be_bytes());
        }
        items.push(s);
    }
    if let Some(h) = &ct.helper {
        items.push(format!("helper={h}"));
    }
    if let Some(t) = &ct.timeout {
        items.push(format!("timeout={t}"));
    }
    if let Some(n) = &ct.nat {
        let mut s = String::new();
        format_nat(n, &mut s);
        items.push(s);
    }
    // OVS opens the parentheses when any attribute is set, even a zero zone it then omits.
    let any = ct.commit
        || ct.force_commit
        || zone != 0
        || ct.mark.is_some()
        || ct.labels.is_some()
        || ct.helper.is_some()
        || ct.timeout.is_some()
        || ct.nat.is_some();
    if any {
        out.push('(');
        out.push_str(&items.join(","));
        out.push(')');
    }
}

fn format_nat(n: &Nat, out: &mut String) {
    if n.kind.is_none() && n.has_range() {
        out.push_str("nat(error: options allowed only with \"src\" or \"dst\")");
        return;
    }
    if n.ip_min.is_none() && n.proto_min.is_some() {
        out.push_str("nat(error: proto but no IP.)");
        return;
    }
    if (n.ip_min.is_none() && n.ip_max.is_some())
        || (n.proto_min.is_none() && n.proto_max.is_some())
    {
        out.push_str("nat(error: range max without min.)");
        return;
    }
    if let (Some(a), Some(b)) = (n.ip_min, n.ip_max) {
        if a.is_ipv4() != b.is_ipv4() {
            out.push_str("nat(error: IP address sizes do not match)");
            return;
        }
    }
    let pmin = n.proto_min.unwrap_or(0);
    let pmax = n.proto_max.unwrap_or(0);
    let range_err = match (n.ip_min, n.ip_max) {
        (Some(IpAddr::V4(a)), Some(IpAddr::V4(b))) => !b.is_unspecified() && a > b,
        (Some(IpAddr::V6(a)), Some(IpAddr::V6(b))) => !b.is_unspecified() && a > b,
        _ => false,
    };
    if range_err || (pmax != 0 && pmin > pmax) {
        out.push_str("nat(range error)");
        return;
    }
    out.push_str("nat");
    let Some(kind) = n.kind else { return };
    out.push('(');
    out.push_str(match kind {
        NatKind::Src => "src",
        NatKind::Dst => "dst",
    });
    if let Some(min) = n.ip_min {
        out.push('=');
        let bracket = pmin != 0;
        let fmt_ip = |ip: &IpAddr, out: &mut String| match ip {
            IpAddr::V4(a) => {
                let _ = write!(out, "{a}");
            }
            IpAddr::V6(a) if bracket => {
                let _ = write!(out, "[{a}]");
            }
            IpAddr::V6(a) => {
                let _ = write!(out, "{a}");
            }
        };
        fmt_ip(&min, out);
        if let Some(max) = n.ip_max {
            if !max.is_unspecified() && max != min {
                out.push('-');
                fmt_ip(&max, out);
            }
        }
        if pmin != 0 {
            let _ = write!(out, ":{pmin}");
            if pmax != 0 && pmax != pmin {
                let _ = write!(out, "-{pmax}");
            }
        }
    }
    if n.persistent {
        out.push_str(",persistent");
    }
    if n.proto_hash {
        out.push_str(",hash");
    }
    if n.proto_random {
        out.push_str(",random");
    }
    out.push(')');
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

const DELIMITERS: &[char] = &[',', ' ', '\t', '\r', '\n'];

/// A position in the input being parsed; offsets in errors are character (byte) offsets into
/// the whole string.
struct P<'a> {
    full: &'a str,
    pos: usize,
    depth: usize,
}

type Res<T> = Result<T>;

impl<'a> P<'a> {
    fn rest(&self) -> &'a str {
        self.full.get(self.pos..).unwrap_or("")
    }
    fn err(&self, msg: &'static str) -> Error {
        Error::inval(self.pos, msg)
    }
    fn eat(&mut self, t: &str) -> bool {
        if self.rest().starts_with(t) {
            self.pos += t.len();
            true
        } else {
            false
        }
    }
    fn expect(&mut self, t: &str, msg: &'static str) -> Res<()> {
        if self.eat(t) {
            Ok(())
        } else {
            Err(self.err(msg))
        }
    }
    fn skip_delims(&mut self) {
        let r = self.rest();
        let n = r.len() - r.trim_start_matches(DELIMITERS).len();
        self.pos += n;
    }
    /// Runs a nom parser on the rest of the input.
    fn nom<T>(
        &mut self,
        mut f: impl FnMut(&'a str) -> IResult<&'a str, T>,
        msg: &'static str,
    ) -> Res<T> {
        let rest = self.rest();
        match f(rest) {
            Ok((r, v)) => {
                self.pos += rest.len() - r.len();
                Ok(v)
            }
            Err(_) => Err(self.err(msg)),
        }
    }
    fn int(&mut self) -> Res<u64> {
        self.nom(c_int, "expected a number")
    }
    fn u32(&mut self) -> Res<u32> {
        let at = self.pos;
        u32::try_from(self.int()?).map_err(|_| Error::inval(at, "number out of range"))
    }
    fn u16(&mut self) -> Res<u16> {
        let at = self.pos;
        u16::try_from(self.int()?).map_err(|_| Error::inval(at, "number out of range"))
    }
    fn u8(&mut self) -> Res<u8> {
        let at = self.pos;
        u8::try_from(self.int()?).map_err(|_| Error::inval(at, "number out of range"))
    }
    fn dec(&mut self) -> Res<u64> {
        self.nom(
            map_res(digit1, |d: &str| d.parse::<u64>()),
            "expected a decimal number",
        )
    }
    /// `%x`: hex digits with an optional `0x`.
    fn hex(&mut self) -> Res<u64> {
        self.nom(
            preceded(
                opt(alt((tag("0x"), tag("0X")))),
                map_res(take_while1(|c: char| c.is_ascii_hexdigit()), |h: &str| {
                    u64::from_str_radix(h, 16)
                }),
            ),
            "expected a hex number",
        )
    }
}

/// C `%i`: `0x` hex, leading-`0` octal, or decimal, with an optional sign for negatives that
/// wrap (as scanf does for unsigned targets).
fn c_int(s: &str) -> IResult<&str, u64> {
    let hex = preceded(
        alt((tag("0x"), tag("0X"))),
        map_res(take_while1(|c: char| c.is_ascii_hexdigit()), |h: &str| {
            u64::from_str_radix(h, 16)
        }),
    );
    let oct = preceded(
        tag("0"),
        map_res(
            take_while1(|c: char| ('0'..='7').contains(&c)),
            |o: &str| u64::from_str_radix(o, 8),
        ),
    );
    let dec = map_res(digit1, |d: &str| d.parse::<u64>());
    alt((hex, oct, dec))(s)
}

fn mac_p(s: &str) -> IResult<&str, [u8; 6]> {
    let byte = || {
        map_res(
            take_while_m_n(1, 2, |c: char| c.is_ascii_hexdigit()),
            |h: &str| u8::from_str_radix(h, 16),
        )
    };
    let (s, (a, _, b, _, c, _, d, _, e, _, f)) = tuple((
        byte(),
        nchar(':'),
        byte(),
        nchar(':'),
        byte(),
        nchar(':'),
        byte(),
        nchar(':'),
        byte(),
        nchar(':'),
        byte(),
    ))(s)?;
    Ok((s, [a, b, c, d, e, f]))
}

fn ipv4_p(s: &str) -> IResult<&str, Ipv4Addr> {
    map_res(
        recognize(tuple((
            digit1,
            nchar('.'),
            digit1,
            nchar('.'),
            digit1,
            nchar('.'),
            digit1,
        ))),
        |t: &str| t.parse::<Ipv4Addr>(),
    )(s)
}

/// Longest run of IPv6 address characters that parses; OVS's scan is greedy the same way,
/// which is why an unbracketed address swallows a following `:port`.
fn ipv6_p(s: &str) -> IResult<&str, Ipv6Addr> {
    map_res(
        take_while1(|c: char| c.is_ascii_hexdigit() || c == ':' || c == '.'),
        |t: &str| t.parse::<Ipv6Addr>(),
    )(s)
}

fn float_p(s: &str) -> IResult<&str, f64> {
    map_res(
        recognize(tuple((digit1, opt(pair(nchar('.'), opt(digit1)))))),
        |t: &str| t.parse::<f64>(),
    )(s)
}

fn hex_bytes(h: &str) -> Option<Vec<u8>> {
    // `ofpbuf_put_hex`: pairs of hex digits; an odd trailing digit is an error.
    if h.len() & 1 != 0 {
        return None;
    }
    (0..h.len())
        .step_by(2)
        .map(|i| h.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

/// Parses datapath actions as `odp_actions_from_string` does; errors are `EINVAL` at the
/// character offset where parsing stopped.
pub fn parse_actions(s: &str) -> Result<Actions> {
    if s.eq_ignore_ascii_case("drop") {
        return Ok(Actions::default());
    }
    let mut p = P {
        full: s,
        pos: 0,
        depth: 0,
    };
    let mut out = Vec::new();
    loop {
        p.skip_delims();
        if p.rest().is_empty() {
            return Ok(Actions(out));
        }
        out.push(parse_action(&mut p)?);
        match p.rest().chars().next() {
            None => {}
            Some(c) if DELIMITERS.contains(&c) => {}
            Some(_) => return Err(p.err("expected a delimiter after an action")),
        }
    }
}

/// A nested list up to (not including) its closing `)`; `drop` stands for the empty list.
fn parse_list(p: &mut P<'_>) -> Res<Vec<Action>> {
    let mut out = Vec::new();
    let r = p.rest();
    // Compare bytes: `r[..4]` would panic when byte 4 falls inside a multi-byte character.
    if r.as_bytes()
        .get(..4)
        .is_some_and(|h| h.eq_ignore_ascii_case(b"drop"))
        && r[4..].starts_with(')')
    {
        p.pos += 4;
        return Ok(out);
    }
    loop {
        p.skip_delims();
        if p.rest().starts_with(')') {
            return Ok(out);
        }
        if p.rest().is_empty() {
            return Err(p.err("unterminated action list"));
        }
        out.push(parse_action(p)?);
    }
}

fn parse_action(p: &mut P<'_>) -> Res<Action> {
    p.depth += 1;
    let r = if p.depth >= MAX_ODP_NESTED {
        Err(p.err("actions nested too deeply"))
    } else {
        parse_action_inner(p)
    };
    p.depth -= 1;
    r
}

fn parse_action_inner(p: &mut P<'_>) -> Res<Action> {
    let r = p.rest();
    if r.starts_with(|c: char| c.is_ascii_digit()) {
        return Ok(Action::Output(p.u32()?));
    }
    if p.eat("trunc(") {
        let n = p.u32()?;
        p.expect(")", "expected ')'")?;
        return Ok(Action::Trunc(n));
    }
    if p.eat("recirc(") {
        let n = p.u32()?;
        p.expect(")", "expected ')'")?;
        return Ok(Action::Recirc(n));
    }
    if r.starts_with("userspace(") {
        return parse_userspace(p);
    }
    if p.eat("set(") {
        let (key, mask, n) =
            crate::text::key::parse_key_attr(p.rest()).map_err(|e| e.rebase(p.pos))?;
        p.pos += n;
        p.expect(")", "expected ')' after the set key")?;
        return Ok(set_from_parsed(key, mask));
    }
    if p.eat("push_vlan(") {
        return parse_push_vlan(p);
    }
    if p.eat("pop_vlan") {
        return Ok(Action::PopVlan);
    }
    if p.eat("meter(") {
        // `%lli` truncated to 32 bits.
        let n = p.int()?;
        p.expect(")", "expected ')'")?;
        return Ok(Action::Meter(n as u32));
    }
    if p.eat("sample(sample=") {
        let at = p.pos;
        let pct = p.nom(float_p, "expected a percentage")?;
        if !(0.0..=100.0).contains(&pct) {
            return Err(Error::inval(at, "sample percentage out of range"));
        }
        p.expect("%,actions(", "expected '%,actions('")?;
        let prob = (f64::from(u32::MAX) * (pct / 100.0) + 0.5).floor();
        let probability = if prob <= 0.0 {
            0
        } else if prob >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            prob as u32
        };
        let actions = parse_list(p)?;
        p.expect("))", "expected '))' after sample actions")?;
        return Ok(Action::Sample {
            probability,
            actions,
        });
    }
    if p.eat("clone(") {
        let list = parse_list(p)?;
        p.expect(")", "expected ')'")?;
        return Ok(Action::Clone(list));
    }
    if p.eat("dec_ttl(le_1(") {
        let list = parse_list(p)?;
        p.expect("))", "expected '))'")?;
        return Ok(Action::DecTtl(list));
    }
    if r.starts_with("push_nsh(") {
        return parse_push_nsh(p);
    }
    if p.eat("pop_nsh()") || p.eat("pop_nsh") {
        return Ok(Action::PopNsh);
    }
    if p.eat("ct_clear") {
        return Ok(Action::CtClear);
    }
    if p.eat("check_pkt_len(size=") {
        let pkt_len = p.u16()?;
        p.expect(",gt(", "expected ',gt('")?;
        let if_greater = parse_list(p)?;
        p.expect("),le(", "expected '),le('")?;
        let if_less_equal = parse_list(p)?;
        p.expect("))", "expected '))'")?;
        return Ok(Action::CheckPktLen {
            pkt_len,
            if_greater,
            if_less_equal,
        });
    }
    if r.starts_with("ct") {
        return parse_ct(p);
    }
    if p.eat("add_mpls(") {
        let (lse, ethertype) = parse_lse_args(p)?;
        return Ok(Action::AddMpls {
            lse,
            ethertype,
            tun_flags: 0,
        });
    }
    if p.eat("push_mpls(") {
        let (lse, ethertype) = parse_lse_args(p)?;
        return Ok(Action::PushMpls { lse, ethertype });
    }
    if p.eat("pop_mpls(eth_type=0x") {
        let e = p.hex()?;
        p.expect(")", "expected ')'")?;
        return Ok(Action::PopMpls(e as u16));
    }
    if p.eat("hash(") {
        let alg = if p.eat("l4(") {
            OVS_HASH_ALG_L4
        } else if p.eat("sym_l4(") {
            OVS_HASH_ALG_SYM_L4
        } else {
            return Err(p.err("unknown hash algorithm"));
        };
        let basis = p.u32()?;
        p.expect("))", "expected '))'")?;
        return Ok(Action::Hash { alg, basis });
    }
    if p.eat("push_eth(src=") {
        let src = p.nom(mac_p, "expected a MAC address")?;
        p.expect(",dst=", "expected ',dst='")?;
        let dst = p.nom(mac_p, "expected a MAC address")?;
        p.expect(")", "expected ')'")?;
        return Ok(Action::PushEth { src, dst });
    }
    if p.eat("pop_eth") {
        return Ok(Action::PopEth);
    }
    if p.eat("psample(group=") {
        let group = p.u32()?;
        let mut cookie = None;
        if p.eat(",cookie=") {
            let at = p.pos;
            // An all-zero cookie prints as a bare `0` (`ds_put_hex`), so read that back too.
            let v = p.nom(
                alt((
                    preceded(tag("0x"), take_while1(|c: char| c.is_ascii_hexdigit())),
                    tag("0"),
                )),
                "expected a hex cookie",
            )?;
            let padded = if v.len() & 1 != 0 {
                format!("0{v}")
            } else {
                v.to_string()
            };
            cookie = Some(hex_bytes(&padded).ok_or_else(|| Error::inval(at, "bad cookie"))?);
        }
        p.expect(")", "expected ')'")?;
        return Ok(Action::Psample { group, cookie });
    }
    Err(p.err("unknown action"))
}

/// `set(…)` becomes `SET_MASKED` when the parsed mask has the key's size and is not all ones.
fn set_from_parsed(key: KeyAttr, mask: Option<KeyAttr>) -> Action {
    if let Some(mask) = mask {
        let (_, kb) = crate::ovs::action::key_wire(&key);
        let (_, mb) = crate::ovs::action::key_wire(&mask);
        if kb.len() == mb.len() && mb.iter().any(|&b| b != 0xff) {
            return Action::SetMasked(key, mask);
        }
    }
    Action::Set(key)
}

fn parse_lse_args(p: &mut P<'_>) -> Res<(u32, u16)> {
    p.expect("label=", "expected 'label='")?;
    let label = p.u32()?;
    p.expect(",tc=", "expected ',tc='")?;
    let tc = p.dec()?;
    p.expect(",ttl=", "expected ',ttl='")?;
    let ttl = p.dec()?;
    p.expect(",bos=", "expected ',bos='")?;
    let bos = p.dec()?;
    p.expect(",eth_type=0x", "expected ',eth_type=0x'")?;
    let et = p.hex()?;
    p.expect(")", "expected ')'")?;
    // Fields are shifted into place without masking, as OVS does.
    let lse = (label << 12) | ((tc as u32) << 9) | (ttl as u32 & 0xff) | ((bos as u32) << 8);
    Ok((lse, et as u16))
}

fn parse_push_vlan(p: &mut P<'_>) -> Res<Action> {
    let start = p.pos;
    let mut tpid = u64::from(ETH_TYPE_VLAN);
    if p.eat("tpid=") {
        tpid = p.int()?;
        p.expect(",", "expected ','")?;
    }
    p.expect("vid=", "expected 'vid='")?;
    let vid = p.int()?;
    p.expect(",pcp=", "expected ',pcp='")?;
    let pcp = p.int()?;
    let mut cfi = 1u64;
    if p.eat(",cfi=") {
        cfi = p.int()?;
    }
    p.expect(")", "expected ')'")?;
    if vid > 0xfff || pcp > 7 {
        return Err(Error::inval(start, "vid or pcp out of range"));
    }
    let tci = (vid as u16) | ((pcp as u16) << 13) | if cfi != 0 { VLAN_CFI } else { 0 };
    Ok(Action::PushVlan {
        tpid: tpid as u16,
        tci,
    })
}

fn cookie_base(kind: u16) -> [u8; USER_ACTION_COOKIE_LEN] {
    let mut c = [0u8; USER_ACTION_COOKIE_LEN];
    c[..2].copy_from_slice(&kind.to_ne_bytes());
    c[2..4].copy_from_slice(&OFPP_NONE.to_ne_bytes());
    c
}

fn put32(c: &mut [u8], at: usize, v: u32) {
    c[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}

fn parse_userspace(p: &mut P<'_>) -> Res<Action> {
    p.expect("userspace(pid=", "expected 'userspace(pid='")?;
    let pid = p.u32()?;
    // With no cookie OVS still attaches an all-zero 48-byte cookie.
    let mut userdata = vec![0u8; USER_ACTION_COOKIE_LEN];
    if p.eat(",sFlow(vid=") {
        let vid = p.int()? as u16;
        p.expect(",pcp=", "expected ',pcp='")?;
        let pcp = p.int()? as u16;
        p.expect(",output=", "expected ',output='")?;
        let output = p.u32()?;
        p.expect(")", "expected ')'")?;
        let mut tci = vid | (pcp << 13);
        if tci != 0 {
            tci |= VLAN_CFI;
        }
        let mut c = cookie_base(1);
        c[24..26].copy_from_slice(&tci.to_be_bytes());
        put32(&mut c, 28, output);
        userdata = c.to_vec();
    } else if p.eat(",slow_path(") {
        let reasons = parse_slow_path(p)?;
        p.expect(")", "expected ')'")?;
        let mut c = cookie_base(2);
        put32(&mut c, 28, reasons);
        userdata = c.to_vec();
    } else if p.eat(",flow_sample(probability=") {
        let prob = p.int()? as u16;
        p.expect(",collector_set_id=", "expected ',collector_set_id='")?;
        let cs = p.u32()?;
        p.expect(",obs_domain_id=", "expected ',obs_domain_id='")?;
        let dom = p.u32()?;
        p.expect(",obs_point_id=", "expected ',obs_point_id='")?;
        let pt = p.u32()?;
        p.expect(",output_port=", "expected ',output_port='")?;
        let port = p.u32()?;
        let dir = if p.eat(",ingress") {
            1
        } else if p.eat(",egress") {
            2
        } else {
            0
        };
        p.expect(")", "expected ')'")?;
        let mut c = cookie_base(3);
        c[24..26].copy_from_slice(&prob.to_ne_bytes());
        put32(&mut c, 28, cs);
        put32(&mut c, 32, dom);
        put32(&mut c, 36, pt);
        put32(&mut c, 40, port);
        put32(&mut c, 44, dir);
        userdata = c.to_vec();
    } else if p.eat(",ipfix(output_port=") {
        let port = p.u32()?;
        p.expect(")", "expected ')'")?;
        let mut c = cookie_base(4);
        put32(&mut c, 24, port);
        userdata = c.to_vec();
    } else if p.eat(",controller(reason=") {
        let reason = p.dec()? as u16;
        p.expect(",dont_send=", "expected ',dont_send='")?;
        let dont_send = p.dec()? as u8;
        p.expect(",continuation=", "expected ',continuation='")?;
        let cont = p.dec()? as u8;
        p.expect(",recirc_id=", "expected ',recirc_id='")?;
        let recirc = p.dec()? as u32;
        p.expect(",rule_cookie=", "expected ',rule_cookie='")?;
        let rc = p.hex()?;
        p.expect(",controller_id=", "expected ',controller_id='")?;
        let cid = p.dec()? as u16;
        p.expect(",max_len=", "expected ',max_len='")?;
        let max_len = p.dec()? as u16;
        p.expect(")", "expected ')'")?;
        let mut c = cookie_base(5);
        c[24] = u8::from(dont_send != 0);
        c[25] = u8::from(cont != 0);
        c[26..28].copy_from_slice(&reason.to_ne_bytes());
        put32(&mut c, 28, recirc);
        c[32..40].copy_from_slice(&rc.to_be_bytes());
        c[40..42].copy_from_slice(&cid.to_ne_bytes());
        c[42..44].copy_from_slice(&max_len.to_ne_bytes());
        userdata = c.to_vec();
    } else if p.eat(",userdata(") {
        let at = p.pos;
        let h = p.nom(
            nom::bytes::complete::take_while(|c: char| c.is_ascii_hexdigit()),
            "expected hex userdata",
        )?;
        let mut bytes = hex_bytes(h).ok_or_else(|| Error::inval(at, "odd number of hex digits"))?;
        p.expect(")", "expected ')' after userdata")?;
        // odp_put_userspace_action pads short userdata to 8 bytes.
        if bytes.len() < 8 {
            bytes.resize(8, 0);
        }
        userdata = bytes;
    }
    let actions = p.eat(",actions");
    let mut egress = None;
    if p.eat(",tunnel_out_port=") {
        egress = Some(p.u32()?);
    }
    p.expect(")", "expected ')' to close userspace")?;
    Ok(Action::Userspace {
        pid,
        userdata: Some(userdata),
        egress_tun_port: egress,
        actions,
    })
}

/// Slow-path reasons: names or numbers joined by `|` (what 3.1 reads) or `,` (what it prints).
fn parse_slow_path(p: &mut P<'_>) -> Res<u32> {
    let mut v = 0u32;
    loop {
        if let Some(i) = SLOW_PATH_REASONS.iter().position(|n| {
            let r = p.rest();
            r.starts_with(n) && !r[n.len()..].starts_with(|c: char| c.is_ascii_alphanumeric())
        }) {
            p.pos += SLOW_PATH_REASONS[i].len();
            v |= 1 << i;
        } else {
            v |= p.u32()?;
        }
        if !(p.eat("|") || p.eat(",")) {
            return Ok(v);
        }
    }
}

fn parse_push_nsh(p: &mut P<'_>) -> Res<Action> {
    p.expect("push_nsh(", "expected 'push_nsh('")?;
    let mut n = NshPush {
        flags: 0,
        ttl: 63,
        mdtype: NSH_M_TYPE1,
        np: 3,
        spi: 0,
        si: 255,
        md1: None,
        md2: None,
    };
    let mut ctx = [0u32; 4];
    let mut md2: Vec<u8> = Vec::new();
    loop {
        p.skip_delims();
        if p.eat(")") {
            break;
        }
        if p.eat("flags=") {
            n.flags = p.u8()?;
        } else if p.eat("ttl=") {
            n.ttl = p.u8()?;
        } else if p.eat("mdtype=") {
            let at = p.pos;
            n.mdtype = p.u8()?;
            if n.mdtype != NSH_M_TYPE1 && n.mdtype != NSH_M_TYPE2 {
                return Err(Error::inval(at, "unknown NSH mdtype"));
            }
            md2.clear();
        } else if p.eat("np=") {
            n.np = p.u8()?;
        } else if p.eat("spi=0x") {
            n.spi = p.hex()? as u32 & 0x00ff_ffff;
        } else if p.eat("si=") {
            n.si = p.u8()?;
        } else if n.mdtype == NSH_M_TYPE1 && p.rest().starts_with('c') {
            let idx = match p.rest().get(1..2) {
                Some("1") => 0,
                Some("2") => 1,
                Some("3") => 2,
                Some("4") => 3,
                _ => return Err(p.err("unknown push_nsh field")),
            };
            p.pos += 2;
            p.expect("=0x", "expected '=0x'")?;
            ctx[idx] = p.hex()? as u32;
        } else if n.mdtype == NSH_M_TYPE2 && p.eat("md2=0x") {
            let at = p.pos;
            let h = p.nom(take_while1(|c: char| c.is_ascii_hexdigit()), "expected hex")?;
            let h = if h.len() & 1 != 0 {
                format!("0{h}")
            } else {
                h.to_string()
            };
            md2 = hex_bytes(&h).ok_or_else(|| Error::inval(at, "bad md2 hex"))?;
            if md2.len() > 248 {
                return Err(Error::inval(at, "md2 too long"));
            }
            while md2.len() & 3 != 0 {
                md2.push(0);
            }
        } else if n.mdtype == NSH_M_TYPE2 && p.eat("md2=0") {
            // Empty MD2 metadata prints as a bare `0` (`ds_put_hex`).
            md2.clear();
        } else {
            return Err(p.err("unknown push_nsh field"));
        }
    }
    if n.mdtype == NSH_M_TYPE1 {
        n.md1 = Some(ctx);
    } else if !md2.is_empty() {
        n.md2 = Some(md2);
    }
    Ok(Action::PushNsh(n))
}

fn parse_ct(p: &mut P<'_>) -> Res<Action> {
    p.expect("ct", "expected 'ct'")?;
    let mut ct = CtAction::default();
    let (mut zone, mut mark, mut labels) = (0u16, (0u32, 0u32), (0u128, 0u128));
    if p.eat("(") {
        loop {
            p.skip_delims();
            if p.eat(")") {
                break;
            }
            if p.rest().is_empty() {
                return Err(p.err("unterminated ct"));
            }
            if p.eat("commit") {
                ct.commit = true;
            } else if p.eat("force_commit") {
                ct.force_commit = true;
            } else if p.eat("zone=") {
                zone = p.dec()? as u16;
            } else if p.eat("mark=") {
                let v = p.hex()? as u32;
                let m = if p.eat("/") {
                    p.hex()? as u32
                } else {
                    u32::MAX
                };
                mark = (v, m);
            } else if p.eat("label=") {
                let v = parse_u128(p)?;
                let m = if p.eat("/") {
                    parse_u128(p)?
                } else {
                    u128::MAX
                };
                labels = (v, m);
            } else if p.eat("helper=") {
                ct.helper = Some(ct_name(p, 15)?);
            } else if p.eat("timeout=") {
                ct.timeout = Some(ct_name(p, 31)?);
            } else if p.rest().starts_with("nat") {
                ct.nat = Some(parse_nat(p)?);
            } else {
                return Err(p.err("unknown ct argument"));
            }
        }
    }
    if ct.commit && ct.force_commit {
        return Err(p.err("commit and force_commit are exclusive"));
    }
    if zone != 0 {
        ct.zone = Some(zone);
    }
    if mark.1 != 0 {
        ct.mark = Some(mark);
    }
    if labels.1 != 0 {
        ct.labels = Some((labels.0.to_le_bytes(), labels.1.to_le_bytes()));
    }
    Ok(Action::Ct(ct))
}

/// `scan_u128`: `0x` hex (up to 128 bits) or decimal.
fn parse_u128(p: &mut P<'_>) -> Res<u128> {
    let at = p.pos;
    if p.eat("0x") || p.eat("0X") {
        let h = p.nom(take_while1(|c: char| c.is_ascii_hexdigit()), "expected hex")?;
        let h = h.trim_start_matches('0');
        if h.len() > 32 {
            return Err(Error::inval(at, "label wider than 128 bits"));
        }
        return Ok(if h.is_empty() {
            0
        } else {
            u128::from_str_radix(h, 16).unwrap_or(0)
        });
    }
    let d = p.nom(digit1, "expected a number")?;
    d.parse::<u128>()
        .map_err(|_| Error::inval(at, "label wider than 128 bits"))
}

/// A helper or timeout name: runs to a delimiter or `)`.
fn ct_name(p: &mut P<'_>, max: usize) -> Res<String> {
    let r = p.rest();
    let len = r
        .find(|c: char| DELIMITERS.contains(&c) || c == ')')
        .unwrap_or(r.len());
    if len == 0 || len > max {
        return Err(p.err("conntrack name has a bad length"));
    }
    p.pos += len;
    Ok(r[..len].to_string())
}

fn parse_nat(p: &mut P<'_>) -> Res<Nat> {
    p.expect("nat", "expected 'nat'")?;
    let mut n = Nat::default();
    if !p.eat("(") {
        return Ok(n);
    }
    let start = p.pos;
    let (mut kind, mut min, mut max, mut pmin, mut pmax) = (None, None, None, 0u16, 0u16);
    let (mut persistent, mut hash, mut random) = (false, false, false);
    loop {
        p.skip_delims();
        if p.eat(")") {
            break;
        }
        if p.rest().is_empty() {
            return Err(p.err("unterminated nat"));
        }
        let which = if p.eat("src") {
            Some(NatKind::Src)
        } else if p.eat("dst") {
            Some(NatKind::Dst)
        } else {
            None
        };
        if let Some(k) = which {
            if kind.is_some_and(|x| x != k) {
                return Err(p.err("only one of src and dst"));
            }
            kind = Some(k);
            if p.eat("=") {
                let (a, b, c, d) = parse_nat_range(p)?;
                min = Some(a);
                max = b;
                pmin = c;
                pmax = d;
            }
        } else if p.eat("persistent") {
            persistent = true;
        } else if p.eat("hash") {
            hash = true;
        } else if p.eat("random") {
            random = true;
        } else {
            return Err(p.err("unknown nat argument"));
        }
    }
    if hash && random {
        return Err(Error::inval(start, "hash and random are exclusive"));
    }
    if let (Some(a), Some(b)) = (min, max) {
        let bad = match (a, b) {
            (IpAddr::V4(a), IpAddr::V4(b)) => a > b,
            (IpAddr::V6(a), IpAddr::V6(b)) => a > b,
            _ => true,
        };
        if bad {
            return Err(Error::inval(start, "nat address range is reversed"));
        }
    }
    if pmax != 0 && pmax < pmin {
        return Err(Error::inval(start, "nat port range is reversed"));
    }
    n.kind = kind;
    // Ranges and flags are encoded only with an address, as nl_msg_put_ct_nat does.
    if kind.is_some() {
        if let Some(a) = min {
            n.ip_min = Some(a);
            if max.is_some_and(|b| b != a) {
                n.ip_max = max;
            }
            if pmin != 0 {
                n.proto_min = Some(pmin);
                if pmax > pmin {
                    n.proto_max = Some(pmax);
                }
            }
            n.persistent = persistent;
            n.proto_hash = hash;
            n.proto_random = random;
        }
    }
    Ok(n)
}

type NatRange = (IpAddr, Option<IpAddr>, u16, u16);

fn parse_nat_range(p: &mut P<'_>) -> Res<NatRange> {
    let ip = |p: &mut P<'_>| -> Res<IpAddr> {
        if let Ok(a) = p.nom(ipv4_p, "") {
            return Ok(IpAddr::V4(a));
        }
        if p.eat("[") {
            let a = p.nom(ipv6_p, "expected an IPv6 address")?;
            p.expect("]", "expected ']'")?;
            return Ok(IpAddr::V6(a));
        }
        Ok(IpAddr::V6(p.nom(ipv6_p, "expected an address")?))
    };
    let min = ip(p)?;
    let max = if p.eat("-") { Some(ip(p)?) } else { None };
    let (mut pmin, mut pmax) = (0, 0);
    if p.eat(":") {
        pmin = p.dec()? as u16;
        if p.eat("-") {
            pmax = p.dec()? as u16;
        }
    }
    Ok((min, max, pmin, pmax))
}
