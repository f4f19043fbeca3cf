//! Bodies of the cargo-fuzz targets in `protocol/fuzz/`, one `pub fn(&[u8])` per target.
//!
//! They live here, not in the fuzz crate, so that `tests/fuzz_corpus.rs` replays every
//! committed corpus file through exactly the code the fuzzer ran. Each function must not panic
//! on any input; the `assert!`s inside are properties a decoder must keep (a fuzzer finding
//! one false is a bug), not input validation.

use crate::genl::GenlHdr;
use crate::nl::{self, ErrorMsg, NlaIter, NLMSG_ERROR};
use crate::ovs::OvsHeader;
use crate::wire::{
    arp, checksum, ethernet, icmp, icmpv6, ipv4, ipv6, mpls, sctp, tcp, udp, vlan, Frag,
    IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP,
};

/// How deep [`nl_messages`] descends into attributes that might be nested.
const MAX_NEST: usize = 6;

/// Target `nl_messages`: splits a datagram into messages, parses `NLMSG_ERROR` payloads, and
/// walks every attribute stream (after 0, genl and genl + ovs header bytes), descending into
/// every payload as if it were nested and calling every typed accessor.
pub fn nl_messages(data: &[u8]) {
    for msg in nl::messages(data) {
        let Ok(msg) = msg else { continue };
        assert!(msg.payload.len() + nl::NLMSG_HDRLEN == msg.bytes.len());
        if msg.header.kind == NLMSG_ERROR {
            if let Ok(e) = ErrorMsg::parse(msg.header.flags, msg.payload) {
                assert!(e.error <= 0);
            }
            continue;
        }
        let _ = GenlHdr::parse(msg.payload);
        let _ = OvsHeader::parse(msg.payload);
        for skip in [0, 4, 8] {
            if let Some(attrs) = msg.payload.get(skip..) {
                walk_attrs(NlaIter::with_base(attrs, nl::NLMSG_HDRLEN + skip), 0);
            }
        }
    }
}

fn walk_attrs(iter: NlaIter<'_>, depth: usize) {
    for nla in iter {
        let Ok(nla) = nla else { break };
        let _ = (nla.u8(), nla.u16(), nla.u32(), nla.i32(), nla.u64());
        let _ = (nla.be16(), nla.be32(), nla.be64(), nla.array::<6>());
        let _ = (nla.str(16), nla.str(usize::MAX));
        if depth < MAX_NEST {
            walk_attrs(nla.nested(), depth + 1);
        }
    }
}

/// Target `packet_views`: runs every header view, getter, walk and checksum function over the
/// input as a whole and as an Ethernet frame parsed layer by layer, and checks that the
/// checksum-fixing setters keep valid checksums valid and that every `Repr` round-trips.
pub fn packet_views(data: &[u8]) {
    // The checksum functions on arbitrary bytes.
    let _ = (checksum::sum(data), checksum::crc32c(data));
    if let (Some(a), Some(b)) = (data.get(..16), data.get(16..32)) {
        let (a, b): ([u8; 16], [u8; 16]) = (a.try_into().unwrap(), b.try_into().unwrap());
        let c = checksum::checksum(data);
        let _ = checksum::update_addr_v6(c, &a, &b);
        let _ = checksum::pseudo_header_v6(&a, &b, data[0], data.len() as u32);
    }

    // Every view at offset 0, whatever the bytes are.
    any_view(data);

    // The frame as the fast path reads it.
    let Ok(l2) = ethernet::parse_l2(data) else {
        return;
    };
    let l3 = data.get(l2.l3_offset..).unwrap_or(&[]);
    match l2.ethertype {
        ethernet::ETH_P_IP => ipv4_stack(l3),
        ethernet::ETH_P_IPV6 => ipv6_stack(l3),
        ethernet::ETH_P_ARP | ethernet::ETH_P_RARP => {
            if let Ok(p) = arp::Packet::new_checked(l3) {
                if let Ok(r) = arp::Repr::parse(&p) {
                    let mut out = [0u8; arp::ETH_IPV4_LEN];
                    r.emit(&mut out).unwrap();
                    assert_eq!(&out[..], &l3[..arp::ETH_IPV4_LEN]);
                }
            }
        }
        t if ethernet::is_mpls(t) => {
            let st = mpls::parse_stack(l3);
            assert!(st.count <= mpls::MPLS_LABEL_DEPTH && st.l3_offset <= l3.len());
        }
        _ => {}
    }
}

fn any_view(data: &[u8]) {
    if let Ok(f) = ethernet::Frame::new_checked(data) {
        let r = ethernet::Repr::parse(&f).unwrap();
        let mut out = [0u8; ethernet::HEADER_LEN];
        r.emit(&mut out).unwrap();
        assert_eq!(&out[..], &data[..ethernet::HEADER_LEN]);
        let _ = ethernet::llc_snap_ethertype(f.payload());
    }
    if let Ok(t) = vlan::Tag::new_checked(data) {
        let _ = (t.pcp(), t.dei(), t.vid(), t.payload());
        let r = vlan::Repr::parse(&t).unwrap();
        let mut out = [0u8; vlan::HEADER_LEN];
        r.emit(&mut out).unwrap();
        assert_eq!(&out[..], &data[..vlan::HEADER_LEN]);
    }
    if let Ok(p) = arp::Packet::new_checked(data) {
        let _ = (p.sender_hardware_addr(), p.sender_protocol_addr());
        let _ = (p.target_hardware_addr(), p.target_protocol_addr());
        let _ = (p.is_ethernet_ipv4(), p.operation());
    }
    if let Ok(l) = mpls::Lse::new_checked(data) {
        let r = mpls::Repr::parse(&l).unwrap();
        assert_eq!(r.value().unwrap(), l.value());
    }
    let _ = mpls::parse_stack(data);
    ipv4_stack(data);
    ipv6_stack(data);
    transport(IPPROTO_TCP, data, None);
    transport(IPPROTO_UDP, data, None);
    transport(IPPROTO_SCTP, data, None);
    transport(IPPROTO_ICMP, data, None);
    transport(IPPROTO_ICMPV6, data, None);
    if let Ok(nd) = icmpv6::NdPacket::new_checked(data) {
        let (target, _, _) = nd.key_fields();
        assert!(target == nd.target() || target == [0; 16]);
        let _ = nd.option_iter().count();
        if let Ok(r) = icmpv6::NdRepr::parse(&nd) {
            let mut out = vec![0u8; r.buffer_len()];
            r.emit(&mut out).unwrap();
            let again = icmpv6::NdRepr::parse(&icmpv6::NdPacket::new_checked(&out[..]).unwrap());
            assert_eq!(again.unwrap(), r);
        }
    }
}

/// Pseudo-header addresses for the transport checks.
enum Addrs {
    V4([u8; 4], [u8; 4]),
    V6([u8; 16], [u8; 16]),
}

fn ipv4_stack(data: &[u8]) {
    let Ok(p) = ipv4::Packet::new_checked_header(data) else {
        return;
    };
    let _ = (p.version(), p.tos(), p.dscp(), p.ecn(), p.ident(), p.frag());
    let _ = (p.dont_frag(), p.more_frags(), p.ttl(), p.checksum());
    for opt in p.option_iter() {
        if opt.is_err() {
            break;
        }
    }
    let strict = ipv4::Packet::new_checked(data);
    if let Ok(s) = &strict {
        if let Ok(r) = ipv4::Repr::parse(s) {
            let mut out = [0u8; ipv4::MAX_HEADER_LEN];
            r.emit(&mut out).unwrap();
            let back = ipv4::Repr::parse(&ipv4::Packet::new_checked_header(&out[..]).unwrap());
            assert_eq!(back.unwrap(), r);
        }
    }
    if p.frag() != Frag::Later {
        let addrs = Addrs::V4(p.src_addr(), p.dst_addr());
        transport(p.protocol(), p.payload(), Some(addrs));
    }

    // Rewrites keep a valid header checksum valid, and a valid TCP/UDP checksum valid.
    let mut buf = data.to_vec();
    let valid_ip = p.verify_checksum();
    let l4_before = l4_valid_v4(&buf);
    let mut q = ipv4::Packet::new_checked_header(&mut buf[..]).unwrap();
    q.rewrite_src_addr([10, 0, 0, 1]);
    q.rewrite_dst_addr([192, 168, 255, 254]);
    q.rewrite_ttl(1);
    q.rewrite_tos(0xfc);
    assert!(!valid_ip || q.verify_checksum());
    if let Some(true) = l4_before {
        assert_eq!(l4_valid_v4(&buf), Some(true));
    }
}

/// Whether the TCP/UDP checksum of a non-later-fragment IPv4 packet verifies (`None` when
/// there is no such checksum to check).
fn l4_valid_v4(buf: &[u8]) -> Option<bool> {
    let p = ipv4::Packet::new_checked_header(buf).ok()?;
    if p.frag_offset() != 0 {
        return None;
    }
    let (s, d) = (p.src_addr(), p.dst_addr());
    match p.protocol() {
        IPPROTO_TCP if p.payload().len() >= tcp::HEADER_LEN => {
            let t = tcp::Packet::new_checked(p.payload()).ok()?;
            Some(t.verify_checksum_v4(&s, &d))
        }
        IPPROTO_UDP => {
            let u = udp::Packet::new_checked_header(p.payload()).ok()?;
            if u.checksum() == 0 {
                return None;
            }
            Some(u.verify_checksum_v4(&s, &d))
        }
        _ => None,
    }
}

fn ipv6_stack(data: &[u8]) {
    let Ok(p) = ipv6::Packet::new_checked_header(data) else {
        return;
    };
    let _ = (
        p.version(),
        p.traffic_class(),
        p.flow_label(),
        p.hop_limit(),
    );
    if let Ok(r) = ipv6::Repr::parse(&p) {
        let mut out = [0u8; ipv6::HEADER_LEN];
        r.emit(&mut out).unwrap();
        assert_eq!(&out[..], &data[..ipv6::HEADER_LEN]);
    }
    for h in p.ext_header_iter() {
        let Ok(h) = h else { break };
        let _ = h.segments_left();
        assert!(h.bytes.len() <= h.len);
    }
    let Ok(ext) = p.ext_headers() else {
        return;
    };
    assert!(ext.count <= ipv6::MAX_EXT_HEADERS);
    let (src, dst) = (p.src_addr(), p.dst_addr());
    let l4 = p.payload().get(ext.l4_offset - ipv6::HEADER_LEN..);
    if let (Some(l4), true) = (l4, ext.frag != Frag::Later) {
        transport(ext.next_header, l4, Some(Addrs::V6(src, dst)));
    }

    // Address rewrites keep a valid transport checksum valid (the destination only when no
    // routing header redirects the pseudo-header).
    let before = l4_valid_v6(data);
    let mut buf = data.to_vec();
    let mut q = ipv6::Packet::new_checked_header(&mut buf[..]).unwrap();
    q.rewrite_src_addr([0xfd; 16]);
    if !ext.active_routing {
        q.rewrite_dst_addr([0x20; 16]);
    }
    if let Some(true) = before {
        assert_eq!(l4_valid_v6(&buf), Some(true));
    }
}

fn l4_valid_v6(buf: &[u8]) -> Option<bool> {
    let p = ipv6::Packet::new_checked_header(buf).ok()?;
    let ext = p.ext_headers().ok()?;
    let l4 = p.payload().get(ext.l4_offset - ipv6::HEADER_LEN..)?;
    let (s, d) = (p.src_addr(), p.dst_addr());
    match ext.next_header {
        IPPROTO_TCP if l4.len() >= tcp::HEADER_LEN => Some(
            tcp::Packet::new_checked(l4)
                .ok()?
                .verify_checksum_v6(&s, &d),
        ),
        IPPROTO_UDP => {
            let u = udp::Packet::new_checked_header(l4).ok()?;
            // Only the datagram the length field covers is checksummed; a length that
            // disagrees with the IPv6 payload makes "valid" depend on bytes the rewrite
            // does not know about, so compare only when they agree.
            if u.checksum() == 0 || usize::from(u.len()) != l4.len() {
                return None;
            }
            Some(u.verify_checksum_v6(&s, &d))
        }
        IPPROTO_ICMPV6 => Some(
            icmpv6::Packet::new_checked(l4)
                .ok()?
                .verify_checksum(&s, &d),
        ),
        _ => None,
    }
}

fn transport(proto: u8, l4: &[u8], addrs: Option<Addrs>) {
    match proto {
        IPPROTO_TCP => {
            let Ok(t) = tcp::Packet::new_checked(l4) else {
                return;
            };
            let _ = (
                t.seq_number(),
                t.ack_number(),
                t.flags(),
                t.window(),
                t.urgent(),
            );
            let _ = (t.options(), t.payload());
            let r = tcp::Repr::parse(&t).unwrap();
            let mut out = [0u8; tcp::MAX_HEADER_LEN];
            r.emit(&mut out).unwrap();
            let back = tcp::Repr::parse(&tcp::Packet::new_checked(&out[..]).unwrap());
            assert_eq!(back.unwrap(), r);
            // Port rewrites keep a valid checksum valid.
            let mut buf = l4.to_vec();
            let mut m = tcp::Packet::new_checked(&mut buf[..]).unwrap();
            let before = match &addrs {
                Some(Addrs::V4(s, d)) => m.verify_checksum_v4(s, d),
                Some(Addrs::V6(s, d)) => m.verify_checksum_v6(s, d),
                None => false,
            };
            m.rewrite_src_port(0xffff);
            m.rewrite_dst_port(0);
            match &addrs {
                Some(Addrs::V4(s, d)) => assert!(!before || m.verify_checksum_v4(s, d)),
                Some(Addrs::V6(s, d)) => assert!(!before || m.verify_checksum_v6(s, d)),
                None => {}
            }
        }
        IPPROTO_UDP => {
            let Ok(u) = udp::Packet::new_checked_header(l4) else {
                return;
            };
            let _ = (u.len(), u.is_empty(), u.payload());
            if let Ok(strict) = udp::Packet::new_checked(l4) {
                let r = udp::Repr::parse(&strict).unwrap();
                let mut out = [0u8; udp::HEADER_LEN];
                r.emit(&mut out).unwrap();
                assert_eq!(&out[..6], &l4[..6]);
            }
            let mut buf = l4.to_vec();
            let mut m = udp::Packet::new_checked_header(&mut buf[..]).unwrap();
            let had = m.checksum();
            let before = match &addrs {
                Some(Addrs::V4(s, d)) => m.verify_checksum_v4(s, d),
                Some(Addrs::V6(s, d)) => m.verify_checksum_v6(s, d),
                None => false,
            };
            m.rewrite_src_port(1);
            m.rewrite_dst_port(0xfffe);
            assert_eq!(m.checksum() == 0, had == 0);
            match &addrs {
                Some(Addrs::V4(s, d)) => assert!(!before || m.verify_checksum_v4(s, d)),
                Some(Addrs::V6(s, d)) => assert!(!before || m.verify_checksum_v6(s, d)),
                None => {}
            }
        }
        IPPROTO_SCTP => {
            let Ok(s) = sctp::Packet::new_checked(l4) else {
                return;
            };
            let r = sctp::Repr::parse(&s).unwrap();
            let err = s.checksum() ^ s.compute_checksum();
            let mut buf = l4.to_vec();
            let mut m = sctp::Packet::new_checked(&mut buf[..]).unwrap();
            m.rewrite_ports(r.dst_port, r.src_port);
            assert_eq!(m.checksum() ^ m.compute_checksum(), err);
        }
        IPPROTO_ICMP => {
            let Ok(i) = icmp::Packet::new_checked(l4) else {
                return;
            };
            let _ = (
                i.echo_ident(),
                i.echo_seq(),
                i.verify_checksum(),
                i.payload(),
            );
            let r = icmp::Repr::parse(&i).unwrap();
            let mut buf = l4.to_vec();
            r.emit(&mut buf).unwrap();
            let mut m = icmp::Packet::new_checked(&mut buf[..]).unwrap();
            m.fill_checksum();
            assert!(m.verify_checksum());
        }
        IPPROTO_ICMPV6 => {
            let Ok(i) = icmpv6::Packet::new_checked(l4) else {
                return;
            };
            let _ = (i.is_nd(), i.rest_of_header(), i.payload());
            if let Some(Addrs::V6(s, d)) = &addrs {
                let mut buf = l4.to_vec();
                let mut m = icmpv6::Packet::new_checked(&mut buf[..]).unwrap();
                if m.fill_checksum(s, d).is_ok() {
                    assert!(m.verify_checksum(s, d));
                }
                if let Ok(mut nd) = icmpv6::NdPacket::new_checked(&mut buf[..]) {
                    nd.rewrite_target([0x11; 16]);
                    let m = icmpv6::Packet::new_checked(&buf[..]).unwrap();
                    assert!(m.verify_checksum(s, d));
                }
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Shared checks
// ---------------------------------------------------------------------------------------------

/// Every decode error names an errno and a position inside (or just past) the input, which the
/// decoder was told starts at `base`.
fn check_err(e: &crate::Error, base: usize, len: usize) {
    assert!(e.errno > 0, "error without errno: {e:?}");
    assert!(
        e.offset >= base && e.offset <= base + len,
        "error offset {} outside {base}..={}: {e:?}",
        e.offset,
        base + len
    );
}

/// Splits `data` into two parts at the position its first two bytes (little-endian) name,
/// modulo the length of the rest.
fn split2(data: &[u8]) -> (&[u8], &[u8]) {
    let Some((head, rest)) = data.split_first_chunk::<2>() else {
        return (data, &[]);
    };
    let at = usize::from(u16::from_le_bytes(*head)) % (rest.len() + 1);
    rest.split_at(at)
}

// ---------------------------------------------------------------------------------------------
// key_decode
// ---------------------------------------------------------------------------------------------

/// Where the fuzzed key (mask) claims to start in its message, so offsets can be checked.
const KEY_BASE: usize = 24;
const MASK_BASE: usize = 4096;

/// Target `key_decode`: input is a little-endian u16 split point, then key bytes, then mask
/// bytes. Decodes both halves strictly and leniently, the whole rest as one key, and the pair
/// as a match (with and without the mask); everything that decodes is re-emitted, printed,
/// and converted to the fast-path [`FlowKey`](crate::ovs::key::FlowKey).
pub fn key_decode(data: &[u8]) {
    use crate::ovs::key::{parse_match, FlowKey, FlowMask, Key};

    let (key_buf, mask_buf) = split2(data);
    let whole = data.get(2..).unwrap_or(&[]);
    for buf in [key_buf, mask_buf, whole] {
        key_bytes(buf);
    }

    let mut matches = Vec::new();
    for mask in [Some((mask_buf, MASK_BASE)), None] {
        match parse_match(key_buf, KEY_BASE, mask) {
            Ok(m) => matches.push(m),
            Err(e) => {
                let (base, len) = if e.offset >= MASK_BASE {
                    (MASK_BASE, mask_buf.len())
                } else {
                    (KEY_BASE, key_buf.len())
                };
                check_err(&e, base, len);
            }
        }
    }
    for m in &matches {
        let mut s = String::new();
        crate::text::key::format_key(&m.key, Some(&m.mask), false, &mut s);
        crate::text::key::format_key(&m.key, Some(&m.mask), true, &mut s);
        let _ = crate::ovs::action::FlowFacts::from_key(&m.key, Some(&m.mask));
        let fk = FlowKey::from_key(&m.key);
        let fm = FlowMask::from_mask(&m.mask);
        if let Ok(fk) = &fk {
            // The key the datapath reports for a flow (upcalls, dumps) reads back and is
            // reported again unchanged. (`fk` itself need not come back: like the kernel,
            // `to_key` leaves out fields the ethertype does not call for.)
            let reported = fk.to_key();
            let again = FlowKey::from_key(&reported)
                .unwrap_or_else(|e| panic!("{reported:?}: {e}"))
                .to_key();
            assert_eq!(again, reported);
        }
        if let (Ok(fk), Ok(fm)) = (fk, fm) {
            let stored = fk.masked(&fm);
            assert!(fk.matches(&fm, &stored));
            assert_eq!(fk.hash_masked(&fm, 7), stored.hash_masked(&fm, 7));
            let _ = fm.nonzero_words().count();
        }
    }
    let _ = Key::default();
}

/// One attribute stream as key (or mask) bytes: strict and lenient decoding, byte round trip,
/// printing, and the text round trip where the text syntax is lossless.
fn key_bytes(buf: &[u8]) {
    use crate::ovs::key::{exact_mask, FlowKey, FlowMask, Key};
    use crate::text::key::{format_key, parse_key};

    let strict = Key::parse(buf, KEY_BASE);
    let lenient = Key::parse_lenient(buf, KEY_BASE);
    for r in [&strict, &lenient] {
        if let Err(e) = r {
            check_err(e, KEY_BASE, buf.len());
        }
    }
    if let Ok(k) = &lenient {
        let bytes = k.to_bytes();
        assert_eq!(bytes.len(), k.buffer_len());
        assert_eq!(Key::parse_lenient(&bytes, 0).as_ref(), Ok(k));
        let mut s = String::new();
        format_key(k, None, false, &mut s);
        format_key(k, None, true, &mut s);
        format_key(k, Some(k), false, &mut s);
        let _ = (FlowKey::from_key(k), FlowMask::from_mask(k));
        let _ = k.offsets().count();
    }
    let Ok(k) = strict else { return };
    assert_eq!(lenient.as_ref(), Ok(&k), "strict and lenient disagree");
    // A key that decodes strictly re-emits to bytes that decode to the same value.
    let bytes = k.to_bytes();
    assert_eq!(Key::parse(&bytes, 0).as_ref(), Ok(&k), "{bytes:02x?}");
    for (off, a) in k.offsets() {
        assert!(off + a.buffer_len() <= bytes.len());
    }

    if key_text_lossless(&k, true) {
        let m = exact_mask(&k);
        for verbose in [false, true] {
            let mut text = String::new();
            format_key(&k, Some(&m), verbose, &mut text);
            let (k2, m2) = parse_key(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            if verbose {
                assert_eq!(k2, k, "{text}");
            }
            let mut again = String::new();
            format_key(&k2, Some(&m2), verbose, &mut again);
            assert_eq!(again, text);
        }
    }
}

/// Whether `format_key` (with the exact mask) → `parse_key` gives back `k` exactly: keys with at
/// most one attribute of each type per level and only forms whose text is documented as
/// lossless (`tests/key_text.rs`, `reference/ovs-users.md` §1.8.7). Left out: `nsh`,
/// `ct_tuple6`, unknown and userspace-only attributes, out-of-range fields that the text
/// cannot carry, and all but the plain IPv4 tunnel shapes.
fn key_text_lossless(k: &crate::ovs::key::Key, top: bool) -> bool {
    use crate::ovs::key::KeyAttr as A;
    let mut seen = std::collections::HashSet::new();
    if k.is_empty() {
        return false;
    }
    let n = k.len();
    k.0.iter().enumerate().all(|(i, a)| {
        seen.insert(a.type_id())
            && match a {
                A::Priority(_) | A::InPort(_) | A::SkbMark(_) | A::DpHash(_) | A::RecircId(_) => {
                    true
                }
                A::CtZone(_) | A::CtMark(_) | A::CtLabels(_) | A::CtOrigTupleIpv4(_) => true,
                A::Ethernet(_) | A::Vlan(_) | A::Ethertype(_) => true,
                A::Tcp(_) | A::Udp(_) | A::Sctp(_) | A::Icmp(_) | A::Icmpv6(_) => true,
                A::Arp(_) | A::Nd(_) | A::PacketType(_) => true,
                A::CtState(v) => *v <= 0xff,
                A::Ipv4(v) => v.frag < 3,
                A::Ipv6(v) => v.frag < 3 && v.label < 0x10_0000,
                A::TcpFlags(v) => *v < 0x1000,
                A::Mpls(l) => (1..=3).contains(&l.len()),
                A::Tunnel(t) => tunnel_text_lossless(t),
                A::Encap(inner) => {
                    top && i + 1 == n && (inner.is_empty() || key_text_lossless(inner, false))
                }
                _ => false,
            }
    })
}

fn tunnel_text_lossless(t: &crate::ovs::key::TunnelKey) -> bool {
    let plain = t.ipv4_dst.is_some()
        && t.ttl.is_some()
        && t.ipv6_src.is_none()
        && t.ipv6_dst.is_none()
        && t.tp_src.is_none()
        && !t.ipv4_info_bridge;
    let opts = [
        t.geneve_opts.is_some(),
        t.vxlan_gbp.is_some(),
        t.erspan_opts.is_some(),
    ];
    if !plain || opts.iter().filter(|o| **o).count() > 1 {
        return false;
    }
    if let Some(g) = &t.geneve_opts {
        // Whole options of up to 16 data bytes, no reserved bits in the length byte.
        let mut rest = &g[..];
        if rest.is_empty() {
            return false;
        }
        while let Some((hdr, tail)) = rest.split_first_chunk::<4>() {
            let words = usize::from(hdr[3]);
            if words > 4 || tail.len() < words * 4 {
                return false;
            }
            rest = &tail[words * 4..];
        }
        if !rest.is_empty() {
            return false;
        }
    }
    // The text has 8 flag bits and a 16-bit policy id; the top byte of the u32 is lost.
    if t.vxlan_gbp.is_some_and(|g| g >= 0x0100_0000) {
        return false;
    }
    if let Some(e) = &t.erspan_opts {
        // Version 1 only: host-order version 1, be32 index, the v2 part zero.
        let v1 = 1i32.to_ne_bytes();
        if e.len() != 12 || e[..4] != v1 || e[8..] != [0; 4] {
            return false;
        }
    }
    true
}

// ---------------------------------------------------------------------------------------------
// action_decode
// ---------------------------------------------------------------------------------------------

/// Where the fuzzed action list claims to start in its message.
const ACTIONS_BASE: usize = 40;

/// Masked-key facts the action lists are validated against: an untyped Ethernet frame, IPv4
/// TCP, IPv6 UDP fragments, a VLAN-tagged IPv4 frame, an MPLS frame, an L3 IPv4 packet, NSH.
fn facts() -> [crate::ovs::action::FlowFacts; 7] {
    use crate::ovs::action::{FlowFacts, MacProto};
    let eth = FlowFacts::default();
    [
        eth,
        FlowFacts {
            eth_type: 0x0800,
            ip_proto: 6,
            ..eth
        },
        FlowFacts {
            eth_type: 0x86dd,
            ip_proto: 17,
            ip_frag: 1,
            ..eth
        },
        FlowFacts {
            eth_type: 0x0800,
            vlan_tci: 0x1000 | 10,
            ip_proto: 17,
            ..eth
        },
        FlowFacts {
            eth_type: 0x8847,
            mpls_labels: 1,
            ..eth
        },
        FlowFacts {
            mac_proto: MacProto::None,
            eth_type: 0x0800,
            ip_proto: 132,
            ..eth
        },
        FlowFacts {
            eth_type: 0x894f,
            nsh_np: 1,
            ..eth
        },
    ]
}

/// Target `action_decode`: decodes the input as an `OVS_FLOW_ATTR_ACTIONS` payload, checks the
/// byte round trip, validates the list against a few fixed flows, and checks that the printed
/// text reads back (and prints the same) where the text syntax is lossless.
pub fn action_decode(data: &[u8]) {
    use crate::ovs::action::{validate_actions, Actions};
    use crate::text::action::{actions_to_string, parse_actions};

    let acts = match Actions::parse(data, ACTIONS_BASE) {
        Ok(a) => a,
        Err(e) => return check_err(&e, ACTIONS_BASE, data.len()),
    };
    let bytes = acts.to_bytes();
    assert_eq!(bytes.len(), acts.buffer_len());
    assert_eq!(
        Actions::parse(&bytes, 0).as_ref(),
        Ok(&acts),
        "{bytes:02x?}"
    );
    for f in facts() {
        if let Err(e) = validate_actions(&acts, &f) {
            check_err(&e, 0, bytes.len());
        }
    }
    let text = actions_to_string(&acts);
    if acts.0.iter().all(|a| action_text_lossless(a, 0)) && !text.contains("error") {
        let back = parse_actions(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(actions_to_string(&back), text);
    }
}

/// Whether the printed form of `a` parses back to a value that prints the same: the actions and
/// argument ranges of the text round trip in `tests/action_text.rs`. Left out: `set`/
/// `set_masked` of anything but simple lossless keys, explicit `drop`, unknown actions, `ct`
/// with an event mask, odd helper/timeout names or a zero mark/label mask, userspace without a
/// cookie of at least 8 bytes, psample cookies with a leading zero byte, and nesting the text
/// parser refuses.
fn action_text_lossless(a: &crate::ovs::action::Action, depth: usize) -> bool {
    use crate::ovs::action::Action as A;
    use crate::ovs::key::{Key, KeyAttr};
    let list = |l: &[A]| depth < 30 && l.iter().all(|a| action_text_lossless(a, depth + 1));
    let name = |s: &Option<String>, max: usize| {
        s.as_ref().is_none_or(|s| {
            (1..=max).contains(&s.len())
                && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
        })
    };
    match a {
        A::Output(_) | A::PopVlan | A::Recirc(_) | A::PushMpls { .. } | A::PopMpls(_) => true,
        A::Trunc(_) | A::PushEth { .. } | A::PopEth | A::CtClear | A::PopNsh | A::Meter(_) => true,
        A::PushVlan { .. } => true,
        A::Hash { alg, .. } => *alg < 2,
        A::Userspace { userdata, .. } => userdata.as_ref().is_some_and(|u| u.len() >= 8),
        A::Ct(ct) => {
            ct.eventmask.is_none()
                && ct.mark.is_none_or(|(_, m)| m != 0)
                && ct.labels.is_none_or(|(_, m)| m != [0; 16])
                && name(&ct.helper, 15)
                && name(&ct.timeout, 31)
                // The text parser refuses `hash` with `random`; the kernel takes both.
                && ct.nat.as_ref().is_none_or(|n| !(n.proto_hash && n.proto_random))
        }
        A::PushNsh(n) => match n.mdtype {
            1 => n.md2.is_none() && n.md1.is_some() && n.spi < 0x0100_0000,
            2 => {
                n.md1.is_none()
                    && n.md2
                        .as_ref()
                        .is_some_and(|m| m.first().is_some_and(|b| *b != 0) && m.len() % 4 == 0)
            }
            _ => false,
        },
        A::AddMpls { tun_flags, .. } => *tun_flags == 0,
        A::Psample { cookie, .. } => cookie
            .as_ref()
            .is_none_or(|c| c.first().is_some_and(|b| *b != 0)),
        A::Sample { actions, .. } | A::Clone(actions) | A::DecTtl(actions) => list(actions),
        A::CheckPktLen {
            if_greater,
            if_less_equal,
            ..
        } => list(if_greater) && list(if_less_equal),
        A::Set(k) => {
            !matches!(k, KeyAttr::Tunnel(_) | KeyAttr::Encap(_))
                && key_text_lossless(&Key(vec![k.clone()]), false)
        }
        A::SetMasked(..) | A::Drop(_) | A::Unknown { .. } => false,
    }
}

// ---------------------------------------------------------------------------------------------
// text_parse
// ---------------------------------------------------------------------------------------------

/// Target `text_parse`: the input as text (UTF-8, or lossily converted) through the key, single
/// attribute and action parsers. Whatever parses must print, and what is printed must parse
/// again and print the same.
pub fn text_parse(data: &[u8]) {
    let lossy = String::from_utf8_lossy(data);
    text_one(&lossy);
}

fn text_one(s: &str) {
    use crate::ovs::key::KeyAttr;
    use crate::text::action::{actions_to_string, parse_actions};
    use crate::text::key::{format_key, format_key_attr, parse_key, parse_key_attr};

    match parse_key(s) {
        Ok((k, m)) => {
            for verbose in [false, true] {
                let mut text = String::new();
                format_key(&k, Some(&m), verbose, &mut text);
                // Printed forms that 3.1 cannot read back (ovs-users.md §1.8.7).
                if k.is_empty()
                    || has_ct_tuple6(&k)
                    || (!verbose && has_geneve(&k))
                    || print_only(&text)
                {
                    continue;
                }
                let (k2, m2) = parse_key(&text).unwrap_or_else(|e| panic!("{s:?} -> {text}: {e}"));
                let mut again = String::new();
                format_key(&k2, Some(&m2), verbose, &mut again);
                // A key of wildcarded attributes prints as nothing without `-m`, which reads
                // back as the empty key, printed `<empty>`. A tunnel's `flags(+key)` comes from
                // a `tun_id` in the mask but reads back as no `tun_id` (ovs-users.md §1.8.4).
                if !text.is_empty() && !has_tunnel(&k) {
                    assert_eq!(again, text, "{s:?}");
                }
            }
        }
        Err(e) => check_err(&e, 0, s.len()),
    }
    match parse_key_attr(s) {
        Ok((k, m, n)) => {
            assert!(n <= s.len() && s.is_char_boundary(n));
            let mut text = String::new();
            format_key_attr(&k, m.as_ref(), &mut text);
            let geneve = matches!(&k, KeyAttr::Tunnel(t) if t.geneve_opts.is_some());
            if !matches!(k, KeyAttr::CtOrigTupleIpv6(_)) && !geneve && !print_only(&text) {
                let back = parse_key_attr(&text);
                assert!(back.is_ok(), "{s:?} -> {text}: {back:?}");
            }
        }
        Err(e) => check_err(&e, 0, s.len()),
    }
    match parse_actions(s) {
        Ok(a) => {
            let text = actions_to_string(&a);
            if print_only(&text) {
                return;
            }
            let back = parse_actions(&text).unwrap_or_else(|e| panic!("{s:?} -> {text}: {e}"));
            assert_eq!(actions_to_string(&back), text, "{s:?}");
        }
        Err(e) => check_err(&e, 0, s.len()),
    }
}

/// Printed forms OVS 3.1 prints but cannot read (ovs-users.md §1.8.7): error texts, and a
/// wildcarded `ct_mark`/`ct_zone`/`ct_label` printed with a mask but without `-m` (inside
/// `set(…)`), which prints an empty `ct_mark()` that the scalar parser refuses.
fn print_only(text: &str) -> bool {
    ["error", "ct_mark()", "ct_zone()", "ct_label()"]
        .iter()
        .any(|p| text.contains(p))
}

/// Whether the key has Geneve options: a wildcarded option's data is left out without `-m`
/// (`{len=4}`), which the parser refuses because it wants exactly `len` bytes of data.
fn has_geneve(k: &crate::ovs::key::Key) -> bool {
    use crate::ovs::key::KeyAttr;
    k.0.iter().any(|a| match a {
        KeyAttr::Tunnel(t) => t.geneve_opts.is_some(),
        KeyAttr::Encap(inner) => has_geneve(inner),
        _ => false,
    })
}

fn has_tunnel(k: &crate::ovs::key::Key) -> bool {
    use crate::ovs::key::KeyAttr;
    k.0.iter().any(|a| match a {
        KeyAttr::Tunnel(_) => true,
        KeyAttr::Encap(inner) => has_tunnel(inner),
        _ => false,
    })
}

fn has_ct_tuple6(k: &crate::ovs::key::Key) -> bool {
    use crate::ovs::key::KeyAttr;
    k.0.iter().any(|a| match a {
        KeyAttr::CtOrigTupleIpv6(_) => true,
        KeyAttr::Encap(inner) => has_ct_tuple6(inner),
        _ => false,
    })
}

// ---------------------------------------------------------------------------------------------
// family_decode
// ---------------------------------------------------------------------------------------------

/// Re-emits a decoded message and decodes it again; the two values must be equal.
macro_rules! family_round_trip {
    ($data:expr, $ty:ty, |$m:ident, $buf:ident| $emit:expr) => {{
        let data: &[u8] = $data;
        match <$ty>::parse(data) {
            Ok($m) => {
                let mut $buf = Vec::new();
                $emit;
                let payload = $buf.get(nl::NLMSG_HDRLEN..).unwrap_or(&[]);
                let again = <$ty>::parse(payload);
                assert_eq!(
                    again.as_ref(),
                    Ok(&$m),
                    "{}: {:02x?}",
                    stringify!($ty),
                    $buf
                );
            }
            Err(e) => check_err(&e, nl::NLMSG_HDRLEN, data.len()),
        }
    }};
}

/// Target `family_decode`: the input as the payload (genl header onwards) of a message of each
/// of the six OVS families and of `nlctrl`, and as a datagram of the daemon's private messages.
/// Whatever decodes is re-emitted and must decode to the same value.
pub fn family_decode(data: &[u8]) {
    use crate::genl::ctrl::{FamilyInfo, GetFamily};
    use crate::ovs::{
        ct_limit::CtLimitMsg, datapath::DatapathMsg, flow::FlowMsg, meter::MeterMsg,
        packet::PacketMsg, vport::VportMsg,
    };
    use crate::private::PrivateMsg;

    family_round_trip!(data, DatapathMsg, |m, b| m.emit(&mut b, 30, 0, 1, 2));
    family_round_trip!(data, VportMsg, |m, b| m.emit(&mut b, 31, 0, 1, 2));
    family_round_trip!(data, FlowMsg, |m, b| m.emit(&mut b, 32, 0, 1, 2));
    family_round_trip!(data, PacketMsg, |m, b| m.emit(&mut b, 33, 0, 1, 2, false));
    family_round_trip!(data, MeterMsg, |m, b| m.emit(&mut b, 34, 0, 1, 2));
    family_round_trip!(data, CtLimitMsg, |m, b| m.emit(&mut b, 35, 0, 1, 2));
    family_round_trip!(data, GetFamily, |m, b| m.emit(&mut b, 0, 1, 2));
    family_round_trip!(data, FamilyInfo, |m, b| m.emit(&mut b, 0, 1, 2));
    if let Ok(m) = PacketMsg::parse(data) {
        // Unpadded upcalls read back too.
        let mut b = Vec::new();
        m.emit(&mut b, 33, 0, 1, 2, true);
        let again = PacketMsg::parse(b.get(nl::NLMSG_HDRLEN..).unwrap_or(&[]));
        assert_eq!(again.as_ref(), Ok(&m), "unaligned: {b:02x?}");
    }
    if let Err(e) = MeterMsg::parse_reply(data) {
        check_err(&e, nl::NLMSG_HDRLEN, data.len());
    }

    for msg in nl::messages(data) {
        let Ok(msg) = msg else { break };
        match PrivateMsg::parse(&msg) {
            Ok(Some(p)) => {
                let mut b = Vec::new();
                match p {
                    PrivateMsg::Ctrl(c) => c.emit(&mut b, 0, 1, 2),
                    PrivateMsg::Hello(h) => h.emit(&mut b),
                    PrivateMsg::DoneMarker => crate::private::emit_done_marker(&mut b, 1, 2),
                    PrivateMsg::Overflow(o) => o.emit(&mut b),
                }
                let again = nl::messages(&b).next().and_then(|m| m.ok());
                let again = again.map(|m| PrivateMsg::parse(&m));
                assert_eq!(again, Some(Ok(Some(p))));
            }
            Ok(None) => {}
            Err(e) => check_err(&e, msg.offset + nl::NLMSG_HDRLEN, msg.payload.len()),
        }
    }
}
