//! Packet captures on attached interfaces (`tcpdump -i port`, Wireshark, lldpd, …).
//!
//! With the kernel module a frame the datapath outputs goes through `dev_queue_xmit`, where
//! every `ETH_P_ALL` packet socket on the device gets a copy: `tcpdump -i eth1` shows both
//! directions. Our fast transmit paths (AF_XDP, the `PACKET_TX_RING`, `PACKET_QDISC_BYPASS`)
//! hand frames straight to the driver and skip those copies. So a port whose interface has a
//! capture open sends through the device's transmit path instead ([`Capture::is_on`]), and
//! goes back once the capture is closed. Who captures is read from `/proc/net/packet` once a
//! second; the port's own receive sockets do not count.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

/// `ETH_P_ALL`: only sockets bound with it see outgoing frames (`dev_queue_xmit_nit`).
const ETH_P_ALL: u16 = 0x0003;

/// Whether an interface's frames are being captured, shared by a port's queues.
#[derive(Debug)]
pub struct Capture {
    on: AtomicBool,
    /// Inodes of the port's own `ETH_P_ALL` sockets.
    own: Vec<u64>,
}

impl Capture {
    /// State for a port whose own receive sockets have inodes `own`.
    pub fn new(own: Vec<u64>) -> Capture {
        Capture {
            on: AtomicBool::new(false),
            own,
        }
    }

    /// Whether frames should leave where captures see them.
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// Sets the state from a scan for interface `ifindex`; returns whether it changed.
    pub fn update(&self, ifindex: u32, scan: &[CaptureSocket]) -> bool {
        let on = scan.iter().any(|s| {
            s.proto == ETH_P_ALL
                && s.running
                && (s.ifindex == ifindex || s.ifindex == 0)
                && !self.own.contains(&s.inode)
        });
        self.on.swap(on, Ordering::Relaxed) != on
    }
}

/// One packet socket of the namespace, as `/proc/net/packet` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureSocket {
    /// Bound protocol, host order (`ETH_P_ALL` = 3).
    pub proto: u16,
    /// Bound interface; 0 = every interface (`tcpdump -i any`).
    pub ifindex: u32,
    /// Whether its receive hook is registered.
    pub running: bool,
    /// Socket inode.
    pub inode: u64,
}

/// The packet sockets of the current network namespace.
pub fn scan() -> io::Result<Vec<CaptureSocket>> {
    Ok(parse(&std::fs::read_to_string("/proc/net/packet")?))
}

/// Parses `/proc/net/packet` (`packet_seq_show`): a header line, then
/// `sk RefCnt Type Proto(hex) Iface R Rmem User Inode` per socket. Lines that do not parse are
/// skipped.
pub fn parse(text: &str) -> Vec<CaptureSocket> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(proto), Some(ifindex), Some(r), Some(inode)) =
            (f.get(3), f.get(4), f.get(5), f.get(8))
        else {
            continue;
        };
        let (Ok(proto), Ok(ifindex), Ok(inode)) = (
            u16::from_str_radix(proto, 16),
            ifindex.parse::<i64>(),
            inode.parse::<u64>(),
        ) else {
            continue;
        };
        out.push(CaptureSocket {
            proto,
            ifindex: u32::try_from(ifindex).unwrap_or(0),
            running: *r == "1",
            inode,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // In the layout of this kernel's file: a port on ifindex 7 (its receive socket 4711, a
    // send-only socket 4712), tcpdump on it (4713), a DHCP client on 9, `tcpdump -i any`.
    const SAMPLE: &str = "\
sk               RefCnt Type Proto  Iface R Rmem   User   Inode
0000000000000000 3      3    0003   7     1 0      0      4711
0000000000000000 3      3    0000   7     0 0      0      4712
0000000000000000 3      3    0003   7     1 0      0      4713
0000000000000000 3      3    0800   9     1 0      0      4714
0000000000000000 3      3    0003   0     1 0      0      4715
garbage line
";

    #[test]
    fn parses_every_socket_line_and_skips_the_rest() {
        let s = parse(SAMPLE);
        assert_eq!(s.len(), 5);
        assert_eq!(
            s[0],
            CaptureSocket {
                proto: 3,
                ifindex: 7,
                running: true,
                inode: 4711
            }
        );
        assert_eq!(s[3].proto, 0x0800);
        assert!(!s[1].running);
    }

    #[test]
    fn a_port_counts_only_foreign_all_protocol_sockets_on_its_interface_or_any() {
        let s = parse(SAMPLE);
        // Its own receive socket (4711) and the send-only one (proto 0) do not count; the
        // foreign ETH_P_ALL socket on ifindex 7 does.
        let c = Capture::new(vec![4711]);
        assert!(c.update(7, &s[..3]));
        assert!(c.is_on());
        assert!(!c.update(7, &s[..3]), "no change");
        // Only its own socket: off again.
        assert!(c.update(7, &s[..2]));
        assert!(!c.is_on());
        // An ETH_P_IP socket (a DHCP client) never sees outgoing frames: not a capture.
        assert!(!c.update(9, &s[3..4]));
        // `tcpdump -i any` captures every interface.
        assert!(c.update(9, &s[4..5]));
        assert!(c.is_on());
    }
}
