//! Lexical pieces shared by the key and action text syntax: C `scanf("%i")` integers, MAC and
//! IP addresses, 128-bit integers, and the printers that mirror OVS's `%#x`, `inet_ntop` and
//! `ds_put_hex`.
//!
//! ≈ `ovs_scan`, `parse_int_string`, `ds_put_hex`, `ipv6_format_addr` in OVS `lib/`.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use nom::bytes::complete::{tag, take_while, take_while1, take_while_m_n};
use nom::character::complete::{char as ch, digit1, hex_digit1, oct_digit0};
use nom::combinator::{map, map_res, opt, recognize};
use nom::sequence::{preceded, tuple};
use nom::IResult;

/// Characters that separate top-level attributes and actions (`delimiters` in OVS).
pub const DELIMITERS: &[char] = &[',', ' ', '\t', '\r', '\n'];

/// Skips a run of delimiters.
pub fn skip_delims(s: &str) -> &str {
    s.trim_start_matches(DELIMITERS)
}

fn unsigned_c(s: &str) -> IResult<&str, u128> {
    // "0x" needs at least one hex digit after it, otherwise C reads just the "0".
    if let Ok((rest, h)) = preceded(
        nom::branch::alt((tag::<&str, &str, nom::error::Error<&str>>("0x"), tag("0X"))),
        hex_digit1,
    )(s)
    {
        return Ok((rest, wrap_radix(h, 16)));
    }
    if let Ok((rest, o)) = preceded(ch::<&str, nom::error::Error<&str>>('0'), oct_digit0)(s) {
        return Ok((rest, wrap_radix(o, 8)));
    }
    map(digit1, |d| wrap_radix(d, 10))(s)
}

/// Accumulates digits modulo 2^128 (C silently drops the high bits of what it stores).
fn wrap_radix(digits: &str, radix: u32) -> u128 {
    digits.chars().fold(0u128, |acc, c| {
        acc.wrapping_mul(u128::from(radix))
            .wrapping_add(u128::from(c.to_digit(radix).unwrap_or(0)))
    })
}

/// `%i`: optional sign, then `0x` hex, `0` octal or decimal. Negative values wrap.
pub fn int_c(s: &str) -> IResult<&str, u128> {
    let (s, sign) = opt(nom::branch::alt((ch('-'), ch('+'))))(s)?;
    let (s, v) = unsigned_c(s)?;
    Ok((
        s,
        if sign == Some('-') {
            v.wrapping_neg()
        } else {
            v
        },
    ))
}

/// `%i` into a `u8`, high bits dropped.
pub fn u8_c(s: &str) -> IResult<&str, u8> {
    map(int_c, |v| v as u8)(s)
}
/// `%i` into a `u16`, high bits dropped.
pub fn u16_c(s: &str) -> IResult<&str, u16> {
    map(int_c, |v| v as u16)(s)
}
/// `%i` into a `u32`, high bits dropped.
pub fn u32_c(s: &str) -> IResult<&str, u32> {
    map(int_c, |v| v as u32)(s)
}
/// `%i` into a `u64`, high bits dropped.
pub fn u64_c(s: &str) -> IResult<&str, u64> {
    map(int_c, |v| v as u64)(s)
}

/// A decimal `%hhu`-style byte (used in dotted quads): digits, high bits dropped.
fn dec_u8(s: &str) -> IResult<&str, u8> {
    map(digit1, |d| wrap_radix(d, 10) as u8)(s)
}

/// Dotted-quad IPv4 address.
pub fn ipv4(s: &str) -> IResult<&str, Ipv4Addr> {
    map(
        tuple((dec_u8, ch('.'), dec_u8, ch('.'), dec_u8, ch('.'), dec_u8)),
        |(a, _, b, _, c, _, d)| Ipv4Addr::new(a, b, c, d),
    )(s)
}

/// IPv6 address: up to 46 characters of `[0-9a-fA-F:.]`, then `inet_pton`.
pub fn ipv6(s: &str) -> IResult<&str, Ipv6Addr> {
    map_res(
        take_while_m_n(1, 46, |c: char| {
            c.is_ascii_hexdigit() || c == ':' || c == '.'
        }),
        |t: &str| t.parse::<Ipv6Addr>(),
    )(s)
}

fn hex_u8(s: &str) -> IResult<&str, u8> {
    // `%hhx` accepts an optional 0x prefix and any number of digits (high bits dropped).
    let (s, _) = opt(nom::branch::alt((tag("0x"), tag("0X"))))(s)?;
    map(hex_digit1, |h| wrap_radix(h, 16) as u8)(s)
}

/// Six `:`-separated hex bytes.
pub fn mac(s: &str) -> IResult<&str, [u8; 6]> {
    map(
        tuple((
            hex_u8,
            preceded(ch(':'), hex_u8),
            preceded(ch(':'), hex_u8),
            preceded(ch(':'), hex_u8),
            preceded(ch(':'), hex_u8),
            preceded(ch(':'), hex_u8),
        )),
        |(a, b, c, d, e, f)| [a, b, c, d, e, f],
    )(s)
}

/// `parse_int_string`: a `0x` hex string of up to `width` bytes, or a decimal/octal integer
/// of up to 64 bits, right-aligned big-endian into `width` bytes.
pub fn int_string(s: &str, width: usize) -> IResult<&str, Vec<u8>> {
    let err = |i| nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Verify));
    if let Ok((rest, h)) = preceded(
        nom::branch::alt((tag::<&str, &str, nom::error::Error<&str>>("0x"), tag("0X"))),
        hex_digit1,
    )(s)
    {
        let h = h.trim_start_matches('0');
        if h.len() > width * 2 {
            return Err(err(s));
        }
        let mut out = vec![0u8; width];
        let digits: Vec<u8> = h
            .chars()
            .rev()
            .map(|c| c.to_digit(16).unwrap_or(0) as u8)
            .collect();
        for (i, pair) in digits.chunks(2).enumerate() {
            let v = pair[0] | pair.get(1).map_or(0, |hi| hi << 4);
            if let Some(slot) = width.checked_sub(i + 1).and_then(|j| out.get_mut(j)) {
                *slot = v;
            }
        }
        return Ok((rest, out));
    }
    let (rest, d) = recognize(digit1)(s)?;
    let v: u64 = d.parse().map_err(|_| err(s))?;
    let bytes = v.to_be_bytes();
    let mut out = vec![0u8; width];
    for (i, b) in bytes.iter().rev().enumerate() {
        match width.checked_sub(i + 1) {
            Some(j) => out[j] = *b,
            None if *b != 0 => return Err(err(s)),
            None => {}
        }
    }
    Ok((rest, out))
}

/// A run of lower-case letters (for `frag=` names), at most `max` long.
pub fn lower_word(s: &str, max: usize) -> IResult<&str, &str> {
    take_while_m_n(1, max, |c: char| c.is_ascii_lowercase())(s)
}

/// An identifier-ish token (`[A-Za-z0-9_]+`).
pub fn ident(s: &str) -> IResult<&str, &str> {
    take_while1(|c: char| c.is_ascii_alphanumeric() || c == '_')(s)
}

/// Everything up to (not including) one of `stops`.
pub fn until_any<'a>(s: &'a str, stops: &'static str) -> IResult<&'a str, &'a str> {
    take_while(move |c: char| !stops.contains(c))(s)
}

/// C's `%#x`: `0` for zero, `0x…` otherwise.
pub fn hash_x(v: u64) -> String {
    if v == 0 {
        "0".to_string()
    } else {
        format!("{v:#x}")
    }
}

/// `ds_put_hex`: `0x` then the bytes with leading zero bytes dropped (first `%x`, the rest
/// `%02x`), or `0` if all are zero.
pub fn put_hex(out: &mut String, bytes: &[u8]) {
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

/// MAC as `xx:xx:xx:xx:xx:xx`.
pub fn fmt_mac(out: &mut String, m: &[u8; 6]) {
    let _ = write!(
        out,
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    );
}

/// IPv6 in glibc `inet_ntop` form (RFC 5952 compression; IPv4-compatible and -mapped
/// addresses with a dotted tail, as glibc prints them).
pub fn fmt_ipv6(out: &mut String, a: &Ipv6Addr) {
    let w = a.segments();
    // Longest run (≥ 2) of zero words, first one on ties.
    let (mut best, mut best_len, mut cur, mut cur_len) = (None, 0usize, 0usize, 0usize);
    for (i, &x) in w.iter().enumerate() {
        if x == 0 {
            if cur_len == 0 {
                cur = i;
            }
            cur_len += 1;
            if cur_len > best_len {
                best = Some(cur);
                best_len = cur_len;
            }
        } else {
            cur_len = 0;
        }
    }
    if best_len < 2 {
        best = None;
    }
    let mut i = 0;
    while i < 8 {
        if best == Some(i) {
            if i == 0 {
                out.push(':');
            }
            out.push(':');
            i += best_len;
            continue;
        }
        // glibc prints an embedded IPv4 tail for ::a.b.c.d (not ::1 / ::) and ::ffff:a.b.c.d.
        if i == 6
            && best == Some(0)
            && (best_len == 6 || (best_len == 7 && w[7] != 1) || (best_len == 5 && w[5] == 0xffff))
        {
            let o = a.octets();
            let _ = write!(out, "{}.{}.{}.{}", o[12], o[13], o[14], o[15]);
            return;
        }
        let _ = write!(out, "{:x}", w[i]);
        if i < 7 {
            out.push(':');
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_integers() {
        assert_eq!(int_c("0x1f)").unwrap(), (")", 0x1f));
        assert_eq!(int_c("010,").unwrap(), (",", 8));
        assert_eq!(int_c("0").unwrap(), ("", 0));
        assert_eq!(int_c("0xg").unwrap(), ("xg", 0));
        assert_eq!(u32_c("4294967296").unwrap().1, 0);
        assert_eq!(u8_c("-1").unwrap().1, 0xff);
        assert!(int_c("x").is_err());
    }

    #[test]
    fn ipv6_like_inet_ntop() {
        let cases = [
            ("::", "::"),
            ("::1", "::1"),
            ("fe80::1", "fe80::1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
            ("::1.2.3.4", "::1.2.3.4"),
            ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
            ("ffff:ffff:ffff:ffff::", "ffff:ffff:ffff:ffff::"),
        ];
        for (i, o) in cases {
            let mut s = String::new();
            fmt_ipv6(&mut s, &i.parse().unwrap());
            assert_eq!(s, o, "{i}");
        }
    }

    #[test]
    fn hex_strings() {
        let mut s = String::new();
        put_hex(&mut s, &[0, 0, 1, 2]);
        assert_eq!(s, "0x102");
        assert_eq!(int_string("0x102}", 4).unwrap(), ("}", vec![0, 0, 1, 2]));
        assert_eq!(int_string("258", 4).unwrap().1, vec![0, 0, 1, 2]);
        assert!(int_string("0x10000", 2).is_err());
    }
}
