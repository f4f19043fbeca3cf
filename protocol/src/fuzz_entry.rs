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
