//! The `ovs_packet` family: upcalls to userspace (`MISS`, `ACTION`) and `EXECUTE` requests.
//!
//! ≈ `queue_userspace_packet`, `ovs_packet_cmd_execute` and `packet_policy` in
//! `net/openvswitch/datapath.c` (Linux 6.1); `dpif_netlink_encode_execute` and
//! `parse_odp_packet` in OVS `lib/dpif-netlink.c`.
//!
//! Key, actions and egress tunnel key stay raw ([`RawAttrs`]) for `ovs::key` and `ovs::action`.

use crate::nl::attr::{align, nla_size, NLA_HDRLEN};
use crate::ovs::common::FIXED_LEN;
use crate::ovs::common::{begin, c_enum, get_u16, get_u32, get_u64, parse_msg, Pol, RawAttrs};
use crate::ovs::OVS_PACKET_VERSION;
use crate::Result;

c_enum! {
    /// `enum ovs_packet_cmd`.
    pub enum OvsPacketCmd: u8 {
        /// Never valid.
        OVS_PACKET_CMD_UNSPEC = 0,
        /// Upcall: no flow matched.
        OVS_PACKET_CMD_MISS = 1,
        /// Upcall: a `USERSPACE` action.
        OVS_PACKET_CMD_ACTION = 2,
        /// Request: run actions on a packet.
        OVS_PACKET_CMD_EXECUTE = 3,
    }
}

c_enum! {
    /// `enum ovs_packet_attr`.
    pub enum OvsPacketAttr: u16 {
        /// Unused type 0.
        OVS_PACKET_ATTR_UNSPEC = 0,
        /// The frame, from the Ethernet header (at least 14 bytes in requests).
        OVS_PACKET_ATTR_PACKET = 1,
        /// Flow key, nested.
        OVS_PACKET_ATTR_KEY = 2,
        /// Actions, nested.
        OVS_PACKET_ATTR_ACTIONS = 3,
        /// Copy of the `USERSPACE` action's userdata.
        OVS_PACKET_ATTR_USERDATA = 4,
        /// Tunnel key of an egress tunnel port, nested.
        OVS_PACKET_ATTR_EGRESS_TUN_KEY = 5,
        /// Unused.
        OVS_PACKET_ATTR_UNUSED1 = 6,
        /// Unused.
        OVS_PACKET_ATTR_UNUSED2 = 7,
        /// Suppress error logging (flag).
        OVS_PACKET_ATTR_PROBE = 8,
        /// Maximum received fragment size (`u16`).
        OVS_PACKET_ATTR_MRU = 9,
        /// Original length of a truncated packet (`u32`).
        OVS_PACKET_ATTR_LEN = 10,
        /// Packet hash (`u64`, see [`OVS_PACKET_HASH_SW_BIT`]).
        OVS_PACKET_ATTR_HASH = 11,
    }
}

/// `OVS_PACKET_ATTR_MAX`.
pub const OVS_PACKET_ATTR_MAX: u16 = 11;
/// Bit 32 of `HASH`: the hash is a software hash.
pub const OVS_PACKET_HASH_SW_BIT: u64 = 1 << 32;
/// Bit 33 of `HASH`: the hash covers L4.
pub const OVS_PACKET_HASH_L4_BIT: u64 = 1 << 33;
/// `ETH_HLEN`: the shortest `PACKET` the policy accepts.
pub const ETH_HLEN: usize = 14;
/// Longest frame an upcall can carry (`nla_attr_size(len) > USHRT_MAX` is `EFBIG`).
pub const MAX_UPCALL_PACKET: usize = u16::MAX as usize - NLA_HDRLEN;

/// One `ovs_packet` message: an upcall or an `EXECUTE` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketMsg {
    /// Command.
    pub cmd: OvsPacketCmd,
    /// `ovs_header.dp_ifindex`.
    pub dp_ifindex: i32,
    /// `OVS_PACKET_ATTR_KEY`.
    pub key: Option<RawAttrs>,
    /// `OVS_PACKET_ATTR_USERDATA`.
    pub userdata: Option<Vec<u8>>,
    /// `OVS_PACKET_ATTR_EGRESS_TUN_KEY`.
    pub egress_tun_key: Option<RawAttrs>,
    /// `OVS_PACKET_ATTR_ACTIONS`.
    pub actions: Option<RawAttrs>,
    /// `OVS_PACKET_ATTR_PROBE`.
    pub probe: bool,
    /// `OVS_PACKET_ATTR_MRU`.
    pub mru: Option<u16>,
    /// `OVS_PACKET_ATTR_LEN` (upcalls; the kernel ignores it in requests, so a short payload
    /// decodes as `None`).
    pub len: Option<u32>,
    /// `OVS_PACKET_ATTR_HASH`.
    pub hash: Option<u64>,
    /// `OVS_PACKET_ATTR_PACKET`.
    pub packet: Option<Vec<u8>>,
}

const POLICY: [Pol; OVS_PACKET_ATTR_MAX as usize + 1] = [
    Pol::Any,              // UNSPEC
    Pol::MinLen(ETH_HLEN), // PACKET
    Pol::Nested,           // KEY
    Pol::Nested,           // ACTIONS
    Pol::Any,              // USERDATA
    Pol::Any,              // EGRESS_TUN_KEY
    Pol::Any,              // UNUSED1
    Pol::Any,              // UNUSED2
    Pol::Flag,             // PROBE
    Pol::U16,              // MRU
    Pol::Any,              // LEN
    Pol::U64,              // HASH
];

fn attr(a: OvsPacketAttr) -> u16 {
    a.into()
}

impl PacketMsg {
    /// A message with no attributes.
    pub fn new(cmd: OvsPacketCmd, dp_ifindex: i32) -> Self {
        PacketMsg {
            cmd,
            dp_ifindex,
            key: None,
            userdata: None,
            egress_tun_key: None,
            actions: None,
            probe: false,
            mru: None,
            len: None,
            hash: None,
            packet: None,
        }
    }

    /// Decodes a netlink payload (genl header onwards); error offsets count from the
    /// `nlmsghdr`. Works for unpadded upcalls too: the last attribute may end the message
    /// without padding.
    pub fn parse(payload: &[u8]) -> Result<Self> {
        let (f, a) = parse_msg(payload, &POLICY)?;
        let mut m = PacketMsg::new(OvsPacketCmd::from(f.genl.cmd), f.dp_ifindex);
        let get = |k: OvsPacketAttr| a[usize::from(attr(k))];
        m.packet = get(OvsPacketAttr::OVS_PACKET_ATTR_PACKET).map(|n| n.payload.to_vec());
        m.key = get(OvsPacketAttr::OVS_PACKET_ATTR_KEY).map(|n| RawAttrs::from_nla(&n));
        m.actions = get(OvsPacketAttr::OVS_PACKET_ATTR_ACTIONS).map(|n| RawAttrs::from_nla(&n));
        m.userdata = get(OvsPacketAttr::OVS_PACKET_ATTR_USERDATA).map(|n| n.payload.to_vec());
        m.egress_tun_key =
            get(OvsPacketAttr::OVS_PACKET_ATTR_EGRESS_TUN_KEY).map(|n| RawAttrs::from_nla(&n));
        m.probe = get(OvsPacketAttr::OVS_PACKET_ATTR_PROBE).is_some();
        m.mru = get(OvsPacketAttr::OVS_PACKET_ATTR_MRU).map(|n| get_u16(&n));
        m.len = get(OvsPacketAttr::OVS_PACKET_ATTR_LEN)
            .filter(|n| n.payload.len() >= 4)
            .map(|n| get_u32(&n));
        m.hash = get(OvsPacketAttr::OVS_PACKET_ATTR_HASH).map(|n| get_u64(&n));
        Ok(m)
    }

    fn is_upcall(&self) -> bool {
        !matches!(self.cmd, OvsPacketCmd::OVS_PACKET_CMD_EXECUTE)
    }

    /// Size of the message [`emit`](Self::emit) writes (with `unaligned`, the unpadded length
    /// that `nlmsg_len` carries).
    pub fn buffer_len(&self, unaligned: bool) -> usize {
        let raw = |r: &Option<RawAttrs>| r.as_ref().map_or(0, |r| nla_size(r.bytes.len()));
        let rest = FIXED_LEN
            + raw(&self.key)
            + self.userdata.as_ref().map_or(0, |u| nla_size(u.len()))
            + raw(&self.egress_tun_key)
            + raw(&self.actions)
            + usize::from(self.probe) * nla_size(0)
            + self.mru.map_or(0, |_| nla_size(2))
            + self.len.map_or(0, |_| nla_size(4))
            + self.hash.map_or(0, |_| nla_size(8));
        match &self.packet {
            None => rest,
            Some(p) if unaligned && self.is_upcall() => rest + NLA_HDRLEN + p.len(),
            Some(p) => rest + align(NLA_HDRLEN + p.len()),
        }
    }

    /// Appends the whole message.
    ///
    /// Upcalls (`MISS`, `ACTION`) are written by [`UpcallRef::emit`].
    ///
    /// `EXECUTE` requests follow `dpif_netlink_encode_execute`: `PACKET`, `KEY`, `ACTIONS`,
    /// `PROBE`, `MRU`, `HASH` (then any upcall-only fields), always padded.
    pub fn emit(
        &self,
        buf: &mut Vec<u8>,
        family_id: u16,
        flags: u16,
        seq: u32,
        pid: u32,
        unaligned: bool,
    ) {
        buf.reserve(self.buffer_len(unaligned) + 3);
        let start = buf.len();
        if self.is_upcall() {
            self.as_upcall()
                .emit(buf, family_id, flags, seq, pid, unaligned);
            debug_assert_eq!(
                buf.len() - start,
                if unaligned && self.packet.is_some() {
                    self.buffer_len(true)
                } else {
                    align(self.buffer_len(unaligned))
                }
            );
            return;
        }
        let mut m = begin(
            buf,
            family_id,
            flags,
            seq,
            pid,
            self.cmd.into(),
            OVS_PACKET_VERSION,
            self.dp_ifindex,
        );
        let mut w = m.attrs();
        if let Some(p) = &self.packet {
            w.put(attr(OvsPacketAttr::OVS_PACKET_ATTR_PACKET), p);
        }
        if let Some(k) = &self.key {
            w.put(attr(OvsPacketAttr::OVS_PACKET_ATTR_KEY), &k.bytes);
        }
        if let Some(k) = &self.actions {
            w.put(attr(OvsPacketAttr::OVS_PACKET_ATTR_ACTIONS), &k.bytes);
        }
        put_probe_mru_len_hash(&mut w, self.probe, self.mru, self.len, self.hash);
        put_userdata_and_tunnel(
            &mut w,
            self.userdata.as_deref(),
            self.egress_tun_key.as_ref().map(|k| &k.bytes[..]),
        );
        m.finish();
        debug_assert_eq!(buf.len() - start, align(self.buffer_len(unaligned)));
    }

    /// The message as an upcall with borrowed parts.
    fn as_upcall(&self) -> UpcallRef<'_> {
        UpcallRef {
            cmd: self.cmd,
            dp_ifindex: self.dp_ifindex,
            key: self.key.as_ref().map(|k| &k.bytes[..]),
            userdata: self.userdata.as_deref(),
            egress_tun_key: self.egress_tun_key.as_ref().map(|k| &k.bytes[..]),
            actions: self.actions.as_ref().map(|k| &k.bytes[..]),
            probe: self.probe,
            mru: self.mru,
            len: self.len,
            hash: self.hash,
            packet: self.packet.as_deref(),
        }
    }
}

/// An upcall (`MISS`, `ACTION`) whose parts are borrowed, for a sender that must not allocate
/// per message (a packet thread). [`PacketMsg::emit`] writes its upcalls through it.
#[derive(Debug, Clone, Copy)]
pub struct UpcallRef<'a> {
    /// Command.
    pub cmd: OvsPacketCmd,
    /// `ovs_header.dp_ifindex`.
    pub dp_ifindex: i32,
    /// Payload of `OVS_PACKET_ATTR_KEY` (the key's attributes).
    pub key: Option<&'a [u8]>,
    /// `OVS_PACKET_ATTR_USERDATA`.
    pub userdata: Option<&'a [u8]>,
    /// Payload of `OVS_PACKET_ATTR_EGRESS_TUN_KEY`.
    pub egress_tun_key: Option<&'a [u8]>,
    /// Payload of `OVS_PACKET_ATTR_ACTIONS`.
    pub actions: Option<&'a [u8]>,
    /// `OVS_PACKET_ATTR_PROBE`.
    pub probe: bool,
    /// `OVS_PACKET_ATTR_MRU`.
    pub mru: Option<u16>,
    /// `OVS_PACKET_ATTR_LEN`.
    pub len: Option<u32>,
    /// `OVS_PACKET_ATTR_HASH`.
    pub hash: Option<u64>,
    /// `OVS_PACKET_ATTR_PACKET`.
    pub packet: Option<&'a [u8]>,
}

impl UpcallRef<'_> {
    /// Appends the message in `queue_userspace_packet`'s order: `KEY`, `USERDATA`,
    /// `EGRESS_TUN_KEY`, `ACTIONS`, `MRU`, `LEN`, `HASH`, then `PACKET` last. With `unaligned`
    /// (the datapath has [`OVS_DP_F_UNALIGNED`](crate::ovs::datapath::OVS_DP_F_UNALIGNED))
    /// `PACKET` is not padded: `nlmsg_len` is the exact size and `buf` ends there, unaligned,
    /// as the kernel's datagram does — an upcall is always alone in its datagram.
    ///
    /// Returns where the frame lies in `buf`, for a caller that finishes it in place (the
    /// kernel completes a partial checksum before queueing).
    pub fn emit(
        &self,
        buf: &mut Vec<u8>,
        family_id: u16,
        flags: u16,
        seq: u32,
        pid: u32,
        unaligned: bool,
    ) -> std::ops::Range<usize> {
        let mut m = begin(
            buf,
            family_id,
            flags,
            seq,
            pid,
            self.cmd.into(),
            OVS_PACKET_VERSION,
            self.dp_ifindex,
        );
        let mut w = m.attrs();
        if let Some(k) = self.key {
            w.put(attr(OvsPacketAttr::OVS_PACKET_ATTR_KEY), k);
        }
        put_userdata_and_tunnel(&mut w, self.userdata, self.egress_tun_key);
        if let Some(k) = self.actions {
            w.put(attr(OvsPacketAttr::OVS_PACKET_ATTR_ACTIONS), k);
        }
        put_probe_mru_len_hash(&mut w, self.probe, self.mru, self.len, self.hash);
        let mut frame = 0..0;
        let mut exact = None;
        if let Some(p) = self.packet {
            let kind = attr(OvsPacketAttr::OVS_PACKET_ATTR_PACKET);
            let b = w.buf();
            let at = b.len() + NLA_HDRLEN;
            frame = at..at + p.len();
            if unaligned {
                // Header and frame only: the kernel zero-copies the frame and pads nothing.
                b.extend_from_slice(&((NLA_HDRLEN + p.len()) as u16).to_ne_bytes());
                b.extend_from_slice(&kind.to_ne_bytes());
                b.extend_from_slice(p);
                exact = Some(b.len());
            } else {
                w.put(kind, p);
            }
        }
        m.finish();
        if let Some(end) = exact {
            buf.truncate(end);
        }
        frame
    }
}

/// `PROBE`, `MRU`, `LEN`, `HASH`: the same order in requests and upcalls.
fn put_probe_mru_len_hash(
    w: &mut crate::nl::NlaWriter<'_>,
    probe: bool,
    mru: Option<u16>,
    len: Option<u32>,
    hash: Option<u64>,
) {
    if probe {
        w.put_flag(attr(OvsPacketAttr::OVS_PACKET_ATTR_PROBE));
    }
    if let Some(v) = mru {
        w.put_u16(attr(OvsPacketAttr::OVS_PACKET_ATTR_MRU), v);
    }
    if let Some(v) = len {
        w.put_u32(attr(OvsPacketAttr::OVS_PACKET_ATTR_LEN), v);
    }
    if let Some(v) = hash {
        w.put_u64(attr(OvsPacketAttr::OVS_PACKET_ATTR_HASH), v);
    }
}

fn put_userdata_and_tunnel(
    w: &mut crate::nl::NlaWriter<'_>,
    userdata: Option<&[u8]>,
    egress_tun_key: Option<&[u8]>,
) {
    if let Some(u) = userdata {
        w.put(attr(OvsPacketAttr::OVS_PACKET_ATTR_USERDATA), u);
    }
    if let Some(k) = egress_tun_key {
        w.put(attr(OvsPacketAttr::OVS_PACKET_ATTR_EGRESS_TUN_KEY), k);
    }
}
