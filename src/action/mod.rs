//! Action execution on the fast path: a validated action list compiled once at flow install,
//! then run per packet without allocating.
//!
//! ≈ `net/openvswitch/actions.c` (`do_execute_actions` and its helpers). The control plane
//! decodes and validates an action list (`userdp_protocol::ovs::action`), then calls
//! [`CompiledActions::compile`]; the packet thread calls [`execute`] for every packet of the
//! flow with a [`Packet`], the packet's [`FlowKey`] and an [`ExecContext`] through which the
//! packet leaves (outputs, upcalls, recirculation, meters).
//!
//! Kernel behaviours kept on purpose:
//! * `SET` of anything but a tunnel is executed as `SET_MASKED` with a full mask, as the kernel
//!   converts it at copy time (`SET_TO_MASKED`); the IPv6 label mask is then 20 bits.
//! * Header rewrites write through to the key (later `hash`, `userspace`, `recirc` see them);
//!   shape changes (push/pop of VLAN with a tag underneath, MPLS, Ethernet, NSH) mark the key
//!   stale, and `recirc` asks the context to re-extract it first (`ovs_flow_key_update`).
//! * An error in an action (frame too short for the header it rewrites, `pop_eth` on a tagged
//!   frame, …) drops the packet and ends the list; an error inside a nested list (clone,
//!   sample, check_pkt_len) drops the outer packet too, as `do_execute_actions` propagates it.
//! * `SET(CT_MARK)`/`SET(CT_LABELS)` pass validation but fail at execution (`EINVAL`): the
//!   packet is dropped there, as in `execute_masked_set_action`.
//! * The outer VLAN tag lives in the frame here (the AF_PACKET-stripped tag is put back before
//!   the first action), where the kernel keeps it in `skb->vlan_tci`. Lengths the kernel reads
//!   from `skb->len` (`trunc`, `check_pkt_len`, meters) therefore exclude an outer tag, so the
//!   same packet takes the same branch as in the kernel.
//! * The MAC header is 14 bytes plus at most two in-frame tags (what `key_extract` parses);
//!   `push_mpls`/`pop_mpls` write the ethertype just before the label, which is where the
//!   kernel's `skb_mod_eth_type` writes it for a frame with up to one (accelerated) tag. A
//!   third tag reads as the network protocol, so IP actions do not apply to such frames.
//!
//! `ct` needs conntrack (a later issue): compiling it fails with `EOPNOTSUPP` so the control
//! plane refuses the flow. `ct_clear` has nothing to clear but the key's conntrack fields and
//! is executed.

mod exec;
mod nsh;

use userdp_protocol::errno::{EINVAL, ENOBUFS, EOPNOTSUPP};
use userdp_protocol::ovs::action::{Action, Actions, OVS_MPLS_L3_TUNNEL_FLAG_MASK};
use userdp_protocol::ovs::key::{FlowKey, KeyAttr, NshKey, TunnelKey, MAC_PROTO_ETHERNET};
use userdp_protocol::Error;

use crate::flow::extract::{extract, extract_l3, Metadata};
use crate::port::batch::{Packet, PLAIN_FRAME_MAX};

pub use exec::execute;

/// An execution failure that dropped the packet; `errno` is what the kernel would return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecError {
    /// Positive errno (`ENOMEM` for a frame too short for the header an action rewrites, …).
    pub errno: i32,
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "action failed with errno {}", self.errno)
    }
}

impl std::error::Error for ExecError {}

/// What [`ExecContext::output`] needs besides the frame.
#[derive(Debug, Clone, Copy)]
pub struct OutputMeta<'a> {
    /// Bytes of the frame to send (less than `pkt.len()` after `trunc`).
    pub len: usize,
    /// `MAC_PROTO_ETHERNET` or `MAC_PROTO_NONE`: an L3 frame sent to an Ethernet port is
    /// dropped there (`ovs_vport_send`).
    pub mac_proto: u8,
    /// The tunnel a preceding `set(tunnel(...))` chose, for tunnel ports.
    pub tunnel: Option<&'a TunnelKey>,
    /// `skb->priority` (also in the key).
    pub priority: u32,
    /// `skb->mark` (also in the key).
    pub skb_mark: u32,
}

/// An `OVS_PACKET_CMD_ACTION` upcall requested by a `userspace` action.
#[derive(Debug, Clone, Copy)]
pub struct Upcall<'a> {
    /// `OVS_USERSPACE_ATTR_PID` (per-CPU dispatch replaces it with the thread's pid).
    pub pid: u32,
    /// `OVS_USERSPACE_ATTR_USERDATA`, echoed as `OVS_PACKET_ATTR_USERDATA`.
    pub userdata: Option<&'a [u8]>,
    /// `OVS_USERSPACE_ATTR_EGRESS_TUN_PORT`: port whose tunnel info goes as `EGRESS_TUN_KEY`.
    pub egress_tun_port: Option<u32>,
    /// With `OVS_USERSPACE_ATTR_ACTIONS`: the encoded action list being executed (the nested
    /// list inside `sample`/`clone`, as the kernel passes), for `OVS_PACKET_ATTR_ACTIONS`.
    pub actions: Option<&'a [u8]>,
    /// Bytes of the frame to send; when less than `pkt.len()` (after `trunc`) the upcall also
    /// carries `OVS_PACKET_ATTR_LEN = pkt.len()`.
    pub len: usize,
}

/// What the packet thread provides to action execution: every way a packet leaves.
///
/// Implementations must not block. `output`, `userspace` and `recirc` receive the packet by
/// reference and copy what they keep (into a per-port output batch, an upcall buffer, a
/// recirculation queue), so the executor can go on modifying its own packet, as the kernel
/// clones the skb for every output that is not the last action.
pub trait ExecContext {
    /// Sends `pkt.data()[..meta.len]` to datapath port `port` (unknown port: drop silently).
    fn output(&mut self, port: u32, pkt: &Packet, meta: &OutputMeta<'_>);
    /// [`ExecContext::output`] of the packet's last use: nothing reads `pkt` afterwards, so
    /// an implementation may take its buffer (leaving another valid, empty buffer in its
    /// place) instead of copying the frame.
    fn output_last(&mut self, port: u32, pkt: &mut Packet, meta: &OutputMeta<'_>) {
        self.output(port, pkt, meta);
    }
    /// Queues an `OVS_PACKET_CMD_ACTION` upcall with `key` (the current, possibly stale key).
    /// Partial checksums (`pkt.vnet`) must be completed before the frame goes up.
    fn userspace(&mut self, upcall: &Upcall<'_>, pkt: &Packet, key: &FlowKey);
    /// Re-runs the lookup for a copy of `pkt` with `key` (whose `recirc_id` is already set).
    fn recirc(&mut self, recirc_id: u32, pkt: &Packet, key: &FlowKey);
    /// Re-extracts the header fields of `key` from `pkt` after push/pop changed the frame's
    /// shape, keeping its metadata (`ovs_flow_key_update`). For frames without Ethernet
    /// (`key.mac_proto() == MAC_PROTO_NONE`) `key.eth_type()` holds the L3 protocol. `false`
    /// drops the packet.
    fn update_key(&mut self, pkt: &Packet, key: &mut FlowKey) -> bool;
    /// Runs the packet through meter `meter_id` (`len` = the kernel's `skb->len`); `true` drops
    /// it. An unknown meter must return `false`.
    fn meter(&mut self, meter_id: u32, len: usize) -> bool;
    /// A uniformly random `u32` for `sample` (a cheap per-thread generator: see [`FastRng`]).
    fn random_u32(&mut self) -> u32;
    /// The per-process seed of the L4 hash behind `hash` (the kernel's `hashrnd`).
    fn hash_seed(&self) -> u32;
    /// A buffer holding a copy of `pkt` for a nested list that must not touch the original
    /// (`clone`, `sample`, `check_pkt_len` that are not the last action). `None` skips the
    /// nested list, as the kernel does when `skb_clone` fails. Override to use a pool.
    fn copy_packet(&mut self, pkt: &Packet) -> Option<Packet> {
        let mut p = Packet::with_capacity(pkt.len().max(PLAIN_FRAME_MAX));
        p.set_frame(pkt.data(), Some(&pkt.vnet)).ok()?;
        Some(p)
    }
    /// Gives back a buffer from [`ExecContext::copy_packet`].
    fn free_packet(&mut self, pkt: Packet) {
        drop(pkt);
    }
}

/// Re-extracts `key` from `pkt` keeping its metadata, as `ovs_flow_key_update` does: what an
/// [`ExecContext::update_key`] of a packet thread should call. `false` = the kernel would drop.
pub fn reextract_key(pkt: &Packet, key: &mut FlowKey) -> bool {
    let old = key.clone();
    let md = Metadata::from_key(&old);
    if old.mac_proto() == MAC_PROTO_ETHERNET {
        extract(pkt.data(), &md, key).is_ok()
    } else {
        extract_l3(pkt.data(), old.eth_type(), &md, key).is_ok()
    }
}

/// A cheap per-thread pseudo-random generator (xorshift64*) for `sample`.
#[derive(Debug, Clone)]
pub struct FastRng(u64);

impl FastRng {
    /// A generator from `seed` (any value; 0 is replaced by a fixed non-zero state).
    pub fn new(seed: u64) -> FastRng {
        FastRng(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }
}

/// A range of [`CompiledActions::ops`] or of its byte pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Span {
    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
    fn is_empty(self) -> bool {
        self.start >= self.end
    }
}

/// Transport protocol of a port rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum L4 {
    Tcp,
    Udp,
    Sctp,
}

/// Masked Ethernet address rewrite; values are pre-masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EthSet {
    pub(crate) src: [u8; 6],
    pub(crate) src_mask: [u8; 6],
    pub(crate) dst: [u8; 6],
    pub(crate) dst_mask: [u8; 6],
}

/// Masked IPv4 rewrite, addresses in wire order; values are pre-masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ipv4Set {
    pub(crate) src: [u8; 4],
    pub(crate) src_mask: [u8; 4],
    pub(crate) dst: [u8; 4],
    pub(crate) dst_mask: [u8; 4],
    pub(crate) tos: u8,
    pub(crate) tos_mask: u8,
    pub(crate) ttl: u8,
    pub(crate) ttl_mask: u8,
}

/// Masked IPv6 rewrite, addresses in wire order; values are pre-masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ipv6Set {
    pub(crate) src: [u8; 16],
    pub(crate) src_mask: [u8; 16],
    pub(crate) dst: [u8; 16],
    pub(crate) dst_mask: [u8; 16],
    pub(crate) label: u32,
    pub(crate) label_mask: u32,
    pub(crate) tclass: u8,
    pub(crate) tclass_mask: u8,
    pub(crate) hlimit: u8,
    pub(crate) hlimit_mask: u8,
}

/// Masked NSH rewrite (base header and MD1 context); values are pre-masked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct NshSet {
    pub(crate) flags: u8,
    pub(crate) flags_mask: u8,
    pub(crate) ttl: u8,
    pub(crate) ttl_mask: u8,
    pub(crate) path_hdr: u32,
    pub(crate) path_hdr_mask: u32,
    pub(crate) context: [u32; 4],
    pub(crate) context_mask: [u32; 4],
}

/// One compiled action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    Output(u32),
    Userspace {
        pid: u32,
        userdata: Option<Span>,
        egress_tun_port: Option<u32>,
        actions: Option<Span>,
    },
    Trunc(u32),
    Priority {
        value: u32,
        mask: u32,
    },
    SkbMark {
        value: u32,
        mask: u32,
    },
    /// Index into [`CompiledActions::tunnels`].
    Tunnel(u32),
    Eth(EthSet),
    Ipv4(Ipv4Set),
    Ipv6(Box<Ipv6Set>),
    Ports {
        l4: L4,
        src: u16,
        src_mask: u16,
        dst: u16,
        dst_mask: u16,
    },
    Mpls {
        lse: u32,
        mask: u32,
    },
    Nsh(Box<NshSet>),
    PushVlan {
        tpid: u16,
        tci: u16,
    },
    PopVlan,
    /// `at_l2_end`: after the L2 header (`push_mpls`, `add_mpls` with the L3 flag); otherwise
    /// at the frame start, turning the frame into an L3 MPLS packet.
    PushMpls {
        lse: u32,
        ethertype: u16,
        at_l2_end: bool,
    },
    PopMpls(u16),
    PushEth {
        src: [u8; 6],
        dst: [u8; 6],
    },
    PopEth,
    /// The header to push, from the byte pool.
    PushNsh(Span),
    PopNsh,
    Recirc(u32),
    Hash {
        basis: u32,
    },
    Meter(u32),
    CtClear,
    Sample {
        probability: u32,
        body: Span,
    },
    Clone(Span),
    CheckPktLen {
        pkt_len: u16,
        if_greater: Span,
        if_less_equal: Span,
    },
    DecTtl(Span),
    /// Explicit drop, or the empty remainder of a list.
    Drop,
    /// An action the kernel accepts but fails at execution: drop with this errno.
    Fail(i32),
}

/// An action list in its fast-path form: flat ops (nested lists are spans of the same vector),
/// pre-masked values in wire order, and a byte pool for userdata and pushed headers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompiledActions {
    pub(crate) ops: Vec<Op>,
    pub(crate) top: Span,
    pub(crate) tunnels: Vec<TunnelKey>,
    pub(crate) bytes: Vec<u8>,
}

fn unsupported(msg: &'static str) -> Error {
    Error::new(EOPNOTSUPP, 0, msg)
}

fn mask_bytes<const N: usize>(v: [u8; N], m: [u8; N]) -> [u8; N] {
    let mut out = [0u8; N];
    for ((o, v), m) in out.iter_mut().zip(v).zip(m) {
        *o = v & m;
    }
    out
}

impl CompiledActions {
    /// Compiles a validated action list (`validate_actions` has accepted it for the flow).
    ///
    /// Fails with `EOPNOTSUPP` for `ct` (no conntrack yet) and `psample`, and with `EINVAL` for
    /// actions validation would have refused; the control plane turns either into its reply.
    pub fn compile(actions: &Actions) -> Result<CompiledActions, Error> {
        let mut c = CompiledActions::default();
        c.top = c.list(&actions.0)?;
        Ok(c)
    }

    /// Number of compiled ops, nested lists included.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True for the empty list (every packet is dropped).
    pub fn is_empty(&self) -> bool {
        self.top.is_empty()
    }

    fn push_bytes(&mut self, b: &[u8]) -> Span {
        let start = self.bytes.len() as u32;
        self.bytes.extend_from_slice(b);
        Span {
            start,
            end: self.bytes.len() as u32,
        }
    }

    fn list(&mut self, list: &[Action]) -> Result<Span, Error> {
        let start = self.ops.len();
        // Reserve this list's slots first so it stays contiguous; nested lists go after it.
        self.ops.extend(list.iter().map(|_| Op::Drop));
        let mut encoded: Option<Span> = None;
        for (i, a) in list.iter().enumerate() {
            let op = match a {
                Action::Userspace {
                    pid,
                    userdata,
                    egress_tun_port,
                    actions,
                } => {
                    let userdata = userdata.as_deref().map(|u| self.push_bytes(u));
                    let actions = if *actions {
                        if encoded.is_none() {
                            let b = Actions(list.to_vec()).to_bytes();
                            encoded = Some(self.push_bytes(&b));
                        }
                        encoded
                    } else {
                        None
                    };
                    Op::Userspace {
                        pid: *pid,
                        userdata,
                        egress_tun_port: *egress_tun_port,
                        actions,
                    }
                }
                other => self.one(other)?,
            };
            if let Some(slot) = self.ops.get_mut(start + i) {
                *slot = op;
            }
        }
        Ok(Span {
            start: start as u32,
            end: (start + list.len()) as u32,
        })
    }

    fn one(&mut self, a: &Action) -> Result<Op, Error> {
        Ok(match a {
            Action::Output(p) => Op::Output(*p),
            Action::Userspace { .. } => return Err(Error::inval(0, "userspace outside a list")),
            Action::Set(KeyAttr::Tunnel(t)) => {
                self.tunnels.push(t.clone());
                Op::Tunnel((self.tunnels.len() - 1) as u32)
            }
            Action::Set(k) => set_op(k, None)?,
            Action::SetMasked(v, m) => set_op(v, Some(m))?,
            Action::PushVlan { tpid, tci } => Op::PushVlan {
                tpid: *tpid,
                tci: *tci,
            },
            Action::PopVlan => Op::PopVlan,
            Action::Sample {
                probability,
                actions,
            } => Op::Sample {
                probability: *probability,
                body: self.list(actions)?,
            },
            Action::Recirc(id) => Op::Recirc(*id),
            Action::Hash { alg, basis } => {
                if *alg != userdp_protocol::ovs::action::OVS_HASH_ALG_L4 {
                    return Err(Error::inval(0, "unknown hash algorithm"));
                }
                Op::Hash { basis: *basis }
            }
            Action::PushMpls { lse, ethertype } => Op::PushMpls {
                lse: *lse,
                ethertype: *ethertype,
                at_l2_end: true,
            },
            Action::AddMpls {
                lse,
                ethertype,
                tun_flags,
            } => Op::PushMpls {
                lse: *lse,
                ethertype: *ethertype,
                at_l2_end: tun_flags & OVS_MPLS_L3_TUNNEL_FLAG_MASK != 0,
            },
            Action::PopMpls(t) => Op::PopMpls(*t),
            Action::Ct(_) => return Err(unsupported("conntrack is not supported yet")),
            Action::CtClear => Op::CtClear,
            Action::Trunc(n) => Op::Trunc(*n),
            Action::PushEth { src, dst } => Op::PushEth {
                src: *src,
                dst: *dst,
            },
            Action::PopEth => Op::PopEth,
            Action::PushNsh(n) => match nsh::header(n) {
                Some(h) => Op::PushNsh(self.push_bytes(&h)),
                None => Op::Fail(ENOBUFS),
            },
            Action::PopNsh => Op::PopNsh,
            Action::Meter(id) => Op::Meter(*id),
            Action::Clone(list) => Op::Clone(self.list(list)?),
            Action::CheckPktLen {
                pkt_len,
                if_greater,
                if_less_equal,
            } => Op::CheckPktLen {
                pkt_len: *pkt_len,
                if_greater: self.list(if_greater)?,
                if_less_equal: self.list(if_less_equal)?,
            },
            Action::DecTtl(list) => Op::DecTtl(self.list(list)?),
            Action::Drop(_) => Op::Drop,
            Action::Psample { .. } => return Err(unsupported("psample is not supported")),
            Action::Unknown { .. } => return Err(Error::inval(0, "unknown action")),
        })
    }
}

/// Builds the masked rewrite of one key attribute; `mask == None` is a full `SET`.
fn set_op(v: &KeyAttr, mask: Option<&KeyAttr>) -> Result<Op, Error> {
    let mismatch = || Error::inval(0, "set_masked value and mask differ in type");
    Ok(match v {
        KeyAttr::Priority(x) | KeyAttr::SkbMark(x) => {
            let m = match mask {
                None => u32::MAX,
                Some(KeyAttr::Priority(m)) | Some(KeyAttr::SkbMark(m)) => *m,
                Some(_) => return Err(mismatch()),
            };
            if matches!(v, KeyAttr::Priority(_)) {
                Op::Priority {
                    value: x & m,
                    mask: m,
                }
            } else {
                Op::SkbMark {
                    value: x & m,
                    mask: m,
                }
            }
        }
        // Accepted by `validate_set`, refused by `execute_masked_set_action`.
        KeyAttr::CtMark(_) | KeyAttr::CtLabels(_) => Op::Fail(EINVAL),
        KeyAttr::Ethernet(e) => {
            let m = match mask {
                None => userdp_protocol::ovs::key::EthernetKey {
                    src: [0xff; 6],
                    dst: [0xff; 6],
                },
                Some(KeyAttr::Ethernet(m)) => *m,
                Some(_) => return Err(mismatch()),
            };
            Op::Eth(EthSet {
                src: mask_bytes(e.src, m.src),
                src_mask: m.src,
                dst: mask_bytes(e.dst, m.dst),
                dst_mask: m.dst,
            })
        }
        KeyAttr::Ipv4(k) => {
            let (sm, dm, tos_m, ttl_m) = match mask {
                None => ([0xff; 4], [0xff; 4], 0xff, 0xff),
                Some(KeyAttr::Ipv4(m)) => (m.src.octets(), m.dst.octets(), m.tos, m.ttl),
                Some(_) => return Err(mismatch()),
            };
            Op::Ipv4(Ipv4Set {
                src: mask_bytes(k.src.octets(), sm),
                src_mask: sm,
                dst: mask_bytes(k.dst.octets(), dm),
                dst_mask: dm,
                tos: k.tos & tos_m,
                tos_mask: tos_m,
                ttl: k.ttl & ttl_m,
                ttl_mask: ttl_m,
            })
        }
        KeyAttr::Ipv6(k) => {
            // A full SET gets the 20-bit flow label mask (`IPV6_FLOWLABEL_MASK`), so the low
            // traffic-class bits sharing the label's bytes are kept.
            let (sm, dm, lm, tm, hm) = match mask {
                None => ([0xff; 16], [0xff; 16], 0x000f_ffff, 0xff, 0xff),
                Some(KeyAttr::Ipv6(m)) => (
                    m.src.octets(),
                    m.dst.octets(),
                    m.label & 0x000f_ffff,
                    m.tclass,
                    m.hlimit,
                ),
                Some(_) => return Err(mismatch()),
            };
            Op::Ipv6(Box::new(Ipv6Set {
                src: mask_bytes(k.src.octets(), sm),
                src_mask: sm,
                dst: mask_bytes(k.dst.octets(), dm),
                dst_mask: dm,
                label: k.label & lm,
                label_mask: lm,
                tclass: k.tclass & tm,
                tclass_mask: tm,
                hlimit: k.hlimit & hm,
                hlimit_mask: hm,
            }))
        }
        KeyAttr::Tcp(p) | KeyAttr::Udp(p) | KeyAttr::Sctp(p) => {
            let l4 = match v {
                KeyAttr::Tcp(_) => L4::Tcp,
                KeyAttr::Udp(_) => L4::Udp,
                _ => L4::Sctp,
            };
            let (sm, dm) = match mask {
                None => (0xffff, 0xffff),
                Some(KeyAttr::Tcp(m)) | Some(KeyAttr::Udp(m)) | Some(KeyAttr::Sctp(m)) => {
                    (m.src, m.dst)
                }
                Some(_) => return Err(mismatch()),
            };
            Op::Ports {
                l4,
                src: p.src & sm,
                src_mask: sm,
                dst: p.dst & dm,
                dst_mask: dm,
            }
        }
        KeyAttr::Mpls(l) => {
            let lse = *l.first().ok_or(Error::inval(0, "empty MPLS set"))?;
            let m = match mask {
                None => u32::MAX,
                Some(KeyAttr::Mpls(m)) => *m.first().ok_or(Error::inval(0, "empty MPLS mask"))?,
                Some(_) => return Err(mismatch()),
            };
            Op::Mpls {
                lse: lse & m,
                mask: m,
            }
        }
        KeyAttr::Nsh(n) => {
            let m = match mask {
                None => None,
                Some(KeyAttr::Nsh(m)) => Some(m),
                Some(_) => return Err(mismatch()),
            };
            Op::Nsh(Box::new(nsh_set(n, m)))
        }
        _ => return Err(Error::inval(0, "key attribute cannot be set")),
    })
}

fn nsh_set(v: &NshKey, m: Option<&NshKey>) -> NshSet {
    let base = v.base.unwrap_or_default();
    let ctx = v.md1.unwrap_or_default();
    let (fm, tm, pm, cm) = match m {
        None => (0xff, 0xff, u32::MAX, [u32::MAX; 4]),
        Some(m) => {
            let b = m.base.unwrap_or_default();
            (b.flags, b.ttl, b.path_hdr, m.md1.unwrap_or_default())
        }
    };
    let mut s = NshSet {
        flags: base.flags & fm,
        flags_mask: fm,
        ttl: base.ttl & tm,
        ttl_mask: tm,
        path_hdr: base.path_hdr & pm,
        path_hdr_mask: pm,
        ..NshSet::default()
    };
    for i in 0..4 {
        s.context[i] = ctx[i] & cm[i];
        s.context_mask[i] = cm[i];
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use userdp_protocol::ovs::action::NshPush;

    #[test]
    fn nested_lists_follow_their_parent_list() {
        let c = CompiledActions::compile(&Actions(vec![
            Action::Clone(vec![Action::Output(1), Action::PopVlan]),
            Action::Sample {
                probability: 7,
                actions: vec![Action::Output(3)],
            },
            Action::Output(2),
        ]))
        .unwrap();
        // Top list 0..3, the clone's body 3..5, the sample's body 5..6.
        assert_eq!(c.top, Span { start: 0, end: 3 });
        assert_eq!(
            c.ops,
            vec![
                Op::Clone(Span { start: 3, end: 5 }),
                Op::Sample {
                    probability: 7,
                    body: Span { start: 5, end: 6 },
                },
                Op::Output(2),
                Op::Output(1),
                Op::PopVlan,
                Op::Output(3),
            ]
        );
        assert_eq!(c.len(), 6);
    }

    #[test]
    fn full_set_becomes_a_full_mask_and_masked_values_are_premasked() {
        let c = CompiledActions::compile(&Actions(vec![
            Action::Set(KeyAttr::Ipv6(userdp_protocol::ovs::key::Ipv6Key::default())),
            Action::SetMasked(KeyAttr::SkbMark(0xffff_ffff), KeyAttr::SkbMark(0x0f)),
        ]))
        .unwrap();
        match &c.ops[0] {
            Op::Ipv6(s) => {
                assert_eq!(s.src_mask, [0xff; 16]);
                // Only the 20 label bits: the traffic-class bits beside them are kept.
                assert_eq!(s.label_mask, 0x000f_ffff);
            }
            op => panic!("unexpected {op:?}"),
        }
        assert_eq!(
            c.ops[1],
            Op::SkbMark {
                value: 0x0f,
                mask: 0x0f
            }
        );
    }

    #[test]
    fn nsh_header_for_md2() {
        let n = NshPush {
            flags: 2,
            ttl: 1,
            mdtype: 2,
            np: 1,
            spi: 1,
            si: 2,
            md1: None,
            md2: Some(vec![0xaa; 4]),
        };
        // flags 2 → bits 0x2000, TTL 1 → 0x0040, length 3 words → 0x0003.
        assert_eq!(
            nsh::header(&n).unwrap(),
            [0x20, 0x43, 2, 1, 0, 0, 1, 2, 0xaa, 0xaa, 0xaa, 0xaa]
        );
        let too_big = NshPush {
            md2: Some(vec![0; 249]),
            ..n
        };
        assert_eq!(nsh::header(&too_big), None);
    }
}
