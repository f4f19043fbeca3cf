//! Software TCP segmentation of GSO frames before they go up as upcalls.
//!
//! ≈ `skb_gso_segment` as `queue_gso_packets` in `net/openvswitch/datapath.c` uses it: the
//! kernel never hands a 64 KiB super-frame to userspace; it cuts it into MSS-sized segments
//! and sends one upcall per segment. Without this, a bulk TCP stream whose flow was evicted
//! would never reach ovs-vswitchd again (every packet of it is GSO) and would stall.

use userdp_protocol::wire::checksum::{pseudo_header_v4, pseudo_header_v6, transport_checksum};

use crate::port::batch::{
    VirtioNetHdr, VIRTIO_NET_HDR_GSO_ECN, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6,
    VIRTIO_NET_HDR_GSO_UDP_L4,
};

/// TCP flags that only the last segment keeps (FIN, PSH) and only the first (CWR).
const FIN_PSH: u8 = 0x01 | 0x08;
const CWR: u8 = 0x80;

/// Cuts a TCP GSO frame into complete segments with valid IPv4/IPv6 and TCP checksums and
/// calls `f` on each; returns false (nothing emitted) for anything it cannot segment.
///
/// Each segment is built in `seg`, the caller's scratch buffer, so that a packet thread that
/// keeps one around never allocates here once it has grown to the largest segment.
pub fn segment_tcp(
    frame: &[u8],
    vnet: &VirtioNetHdr,
    seg: &mut Vec<u8>,
    mut f: impl FnMut(&[u8]),
) -> bool {
    let gso = vnet.gso_type & !VIRTIO_NET_HDR_GSO_ECN;
    if gso != VIRTIO_NET_HDR_GSO_TCPV4 && gso != VIRTIO_NET_HDR_GSO_TCPV6 {
        return false;
    }
    let l4 = usize::from(vnet.csum_start);
    let mss = usize::from(vnet.gso_size);
    let Some(&doff) = frame.get(l4 + 12) else {
        return false;
    };
    let hdrs = l4 + usize::from(doff >> 4) * 4;
    // The IP header sits right before TCP: 20 bytes (no options) are assumed only for IPv6,
    // whose fixed header is followed directly by TCP in GSO frames the stack builds.
    let l3 = if gso == VIRTIO_NET_HDR_GSO_TCPV6 {
        l4.checked_sub(40)
    } else {
        ipv4_start(frame, l4)
    };
    let Some(l3) = l3 else { return false };
    if mss == 0 || hdrs > frame.len() || l3 < 14 {
        return false;
    }
    let payload = &frame[hdrs..];
    let n = payload.len().div_ceil(mss).max(1);
    let Some(seq0) = frame
        .get(l4 + 4..l4 + 8)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    else {
        return false;
    };
    let flags = frame[l4 + 13];
    for (i, chunk) in payload.chunks(mss).enumerate() {
        seg.clear();
        seg.extend_from_slice(&frame[..hdrs]);
        seg.extend_from_slice(chunk);
        let tcp_len = hdrs - l4 + chunk.len();
        // TCP sequence number and flags.
        let seq = seq0.wrapping_add((i * mss) as u32);
        seg[l4 + 4..l4 + 8].copy_from_slice(&seq.to_be_bytes());
        let mut fl = flags;
        if i + 1 < n {
            fl &= !FIN_PSH;
        }
        if i > 0 {
            fl &= !CWR;
        }
        seg[l4 + 13] = fl;
        let v6 = gso == VIRTIO_NET_HDR_GSO_TCPV6;
        let pseudo = fix_ip_header(seg, l3, l4, v6, 6, tcp_len, i);
        seg[l4 + 16..l4 + 18].copy_from_slice(&[0, 0]);
        let csum = transport_checksum(pseudo, &seg[l4..]);
        seg[l4 + 16..l4 + 18].copy_from_slice(&csum.to_be_bytes());
        f(seg);
    }
    true
}

/// Cuts a UDP GSO (`UDP_SEGMENT`) frame into datagrams of `gso_size` payload bytes with
/// valid IP and UDP headers and calls `f` on each; false (nothing emitted) if it cannot.
/// `seg` is the caller's scratch buffer, as for [`segment_tcp`].
pub fn segment_udp(
    frame: &[u8],
    vnet: &VirtioNetHdr,
    seg: &mut Vec<u8>,
    mut f: impl FnMut(&[u8]),
) -> bool {
    if vnet.gso_type & !VIRTIO_NET_HDR_GSO_ECN != VIRTIO_NET_HDR_GSO_UDP_L4 {
        return false;
    }
    let l4 = usize::from(vnet.csum_start);
    let mss = usize::from(vnet.gso_size);
    let hdrs = l4 + 8;
    if mss == 0 || hdrs > frame.len() {
        return false;
    }
    let v6 = frame.get(l4.wrapping_sub(40)).is_some_and(|&b| b >> 4 == 6)
        && ipv4_start(frame, l4).is_none();
    let Some(l3) = (if v6 {
        l4.checked_sub(40)
    } else {
        ipv4_start(frame, l4)
    }) else {
        return false;
    };
    if l3 < 14 {
        return false;
    }
    for (i, chunk) in frame[hdrs..].chunks(mss).enumerate() {
        seg.clear();
        seg.extend_from_slice(&frame[..hdrs]);
        seg.extend_from_slice(chunk);
        let udp_len = 8 + chunk.len();
        seg[l4 + 4..l4 + 6].copy_from_slice(&(udp_len as u16).to_be_bytes());
        let pseudo = fix_ip_header(seg, l3, l4, v6, 17, udp_len, i);
        seg[l4 + 6..l4 + 8].copy_from_slice(&[0, 0]);
        // A computed zero goes on the wire as 0xffff (zero means "no checksum" for UDP).
        let csum = match transport_checksum(pseudo, &seg[l4..]) {
            0 => 0xffff,
            c => c,
        };
        seg[l4 + 6..l4 + 8].copy_from_slice(&csum.to_be_bytes());
        f(seg);
    }
    true
}

/// Sets the IP header of segment `i` (copied from the super-frame) for `l4_len` bytes of
/// transport header and payload: the IPv6 payload length, or the IPv4 total length, an id
/// advanced by `i` and the header checksum. Returns the pseudo-header sum for `proto`.
fn fix_ip_header(
    seg: &mut [u8],
    l3: usize,
    l4: usize,
    v6: bool,
    proto: u8,
    l4_len: usize,
    i: usize,
) -> u16 {
    if v6 {
        seg[l3 + 4..l3 + 6].copy_from_slice(&(l4_len as u16).to_be_bytes());
        return pseudo_header_v6(
            &arr16(&seg[l3 + 8..l3 + 24]),
            &arr16(&seg[l3 + 24..l3 + 40]),
            proto,
            l4_len as u32,
        );
    }
    let tot = (l4 - l3 + l4_len) as u16;
    seg[l3 + 2..l3 + 4].copy_from_slice(&tot.to_be_bytes());
    let id = u16::from_be_bytes([seg[l3 + 4], seg[l3 + 5]]).wrapping_add(i as u16);
    seg[l3 + 4..l3 + 6].copy_from_slice(&id.to_be_bytes());
    seg[l3 + 10..l3 + 12].copy_from_slice(&[0, 0]);
    let hsum = userdp_protocol::wire::checksum::checksum(&seg[l3..l4]);
    seg[l3 + 10..l3 + 12].copy_from_slice(&hsum.to_be_bytes());
    pseudo_header_v4(
        &arr4(&seg[l3 + 12..l3 + 16]),
        &arr4(&seg[l3 + 16..l3 + 20]),
        proto,
        l4_len as u16,
    )
}

/// Start of the IPv4 header that ends at `l4`: found by its IHL, scanning back from TCP.
fn ipv4_start(frame: &[u8], l4: usize) -> Option<usize> {
    (20..=60)
        .step_by(4)
        .filter_map(|ihl| l4.checked_sub(ihl))
        .find(|&l3| {
            frame
                .get(l3)
                .is_some_and(|&b| b >> 4 == 4 && usize::from(b & 0xf) * 4 == l4 - l3)
        })
}

fn arr4(b: &[u8]) -> [u8; 4] {
    let mut a = [0; 4];
    a.copy_from_slice(b);
    a
}

fn arr16(b: &[u8]) -> [u8; 16] {
    let mut a = [0; 16];
    a.copy_from_slice(b);
    a
}
