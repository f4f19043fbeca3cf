//! The rtnetlink tunnel probe (reference §3.3).
//!
//! At start-up ovs-vswitchd decides how to create tunnel ports by asking the kernel to create
//! a geneve device of kind `ovs_geneve` (`RTM_NEWLINK`, `NLM_F_CREATE`, name
//! `genev_sys_6081`): a kernel without the OVS out-of-tree module answers `EOPNOTSUPP`, and
//! OVS then creates tunnels as real kernel vxlan/geneve/gre netdevs over rtnetlink, which a
//! userspace datapath cannot use. Any other error selects the "compat" path, where tunnel
//! ports are datapath vports (`OVS_VPORT_TYPE_GENEVE`, …) that userdpd implements.
//!
//! So the shim clears `NLM_F_CREATE` in exactly that request before the kernel sees it: the
//! kernel then answers `ENODEV` (no such device, and not asked to create one), OVS picks the
//! compat path, and nothing is created. Only kind `ovs_geneve` is touched: no other program
//! asks for it (it exists only in the out-of-tree module), so nothing else changes.

use userdp_protocol::nl::{messages, NlaIter, NLM_F_CREATE};

/// `RTM_NEWLINK`.
pub const RTM_NEWLINK: u16 = 16;
/// `IFLA_LINKINFO`.
pub const IFLA_LINKINFO: u16 = 18;
/// `IFLA_INFO_KIND`.
pub const IFLA_INFO_KIND: u16 = 1;
/// `sizeof(struct ifinfomsg)`.
pub const IFINFOMSG_LEN: usize = 16;
/// The link kind only the OVS out-of-tree module provides.
pub const OOT_PROBE_KIND: &[u8] = b"ovs_geneve";

fn is_oot_probe(payload: &[u8]) -> bool {
    let Some(attrs) = payload.get(IFINFOMSG_LEN..) else {
        return false;
    };
    NlaIter::new(attrs)
        .map_while(Result::ok)
        .filter(|a| a.kind == IFLA_LINKINFO)
        .flat_map(|a| a.nested().map_while(Result::ok))
        .any(|a| {
            a.kind == IFLA_INFO_KIND
                && a.payload.strip_suffix(&[0]).unwrap_or(a.payload) == OOT_PROBE_KIND
        })
}

/// Clears `NLM_F_CREATE` in every `RTM_NEWLINK` of `datagram` whose link kind is
/// `ovs_geneve`; true if something changed.
pub fn clear_oot_probe_create(datagram: &mut [u8]) -> bool {
    let hits: Vec<usize> = messages(datagram)
        .map_while(Result::ok)
        .filter(|m| {
            m.header.kind == RTM_NEWLINK
                && m.header.flags & NLM_F_CREATE != 0
                && is_oot_probe(m.payload)
        })
        .map(|m| m.offset)
        .collect();
    for &at in &hits {
        if let Some(f) = datagram.get_mut(at + 6..at + 8) {
            let flags = u16::from_ne_bytes([f[0], f[1]]) & !NLM_F_CREATE;
            f.copy_from_slice(&flags.to_ne_bytes());
        }
    }
    !hits.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use userdp_protocol::nl::{MsgBuilder, NlaWriter, NLM_F_ACK, NLM_F_EXCL, NLM_F_REQUEST};

    /// An RTM_NEWLINK like OVS's probe: ifinfomsg, IFNAME, MTU, LINKINFO{KIND, DATA{..}}.
    fn newlink(kind: &str, flags: u16) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut m = MsgBuilder::new(&mut buf, RTM_NEWLINK, flags, 1, 0);
        m.push(&[0u8; IFINFOMSG_LEN]);
        m.finish();
        let mut w = NlaWriter::new(&mut buf);
        w.put_str(3, "genev_sys_6081"); // IFLA_IFNAME
        w.put_u32(4, 65000); // IFLA_MTU
        w.nested(IFLA_LINKINFO, |w| {
            w.put_str(IFLA_INFO_KIND, kind);
            w.nested(2, |w| w.put_be16(5, 6081)); // IFLA_INFO_DATA{GENEVE_PORT}
        });
        let len = buf.len() as u32;
        buf[..4].copy_from_slice(&len.to_ne_bytes());
        buf
    }

    fn flags_of(buf: &[u8], at: usize) -> u16 {
        u16::from_ne_bytes([buf[at + 6], buf[at + 7]])
    }

    #[test]
    fn probe_loses_create_and_nothing_else_changes() {
        let f = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE;
        let mut probe = newlink("ovs_geneve", f);
        let before = probe.clone();
        assert!(clear_oot_probe_create(&mut probe));
        assert_eq!(flags_of(&probe, 0), NLM_F_REQUEST | NLM_F_ACK);
        // Only bytes 6..8 (the flags) differ.
        let diff: Vec<usize> = (0..probe.len())
            .filter(|&i| probe[i] != before[i])
            .collect();
        assert_eq!(diff, [7]);
    }

    #[test]
    fn real_tunnel_creation_is_untouched() {
        let f = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
        for kind in ["geneve", "vxlan", "ovs_genevex", "ovs_genev"] {
            let mut m = newlink(kind, f);
            let before = m.clone();
            assert!(!clear_oot_probe_create(&mut m), "{kind}");
            assert_eq!(m, before);
        }
    }

    #[test]
    fn probe_inside_a_batch_and_garbage_are_safe() {
        let f = NLM_F_REQUEST | NLM_F_CREATE;
        let mut batch = newlink("vxlan", f);
        let second = batch.len();
        batch.extend(newlink("ovs_geneve", f));
        assert!(clear_oot_probe_create(&mut batch));
        assert_eq!(flags_of(&batch, 0), f);
        assert_eq!(flags_of(&batch, second), NLM_F_REQUEST);
        for cut in 0..batch.len() {
            let mut b = batch[..cut].to_vec();
            clear_oot_probe_create(&mut b);
        }
    }
}
