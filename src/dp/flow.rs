//! `ovs_flow`: install, modify, query, dump and delete megaflows.
//!
//! ≈ `ovs_flow_cmd_new`, `ovs_flow_cmd_set`, `ovs_flow_cmd_get`, `ovs_flow_cmd_del`,
//! `ovs_flow_cmd_dump` and `ovs_flow_cmd_fill_info` in `net/openvswitch/datapath.c`;
//! `flow_table.c` for the identity rules (UFID vs unmasked key).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use userdp_protocol::errno::{EEXIST, EINVAL, ENODEV, ENOENT, EOPNOTSUPP};
use userdp_protocol::nl::{NlMsg, NlaIter, NlaWriter, NLM_F_CREATE, NLM_F_EXCL};
use userdp_protocol::ovs::action::validate::{validate_actions, FlowFacts};
use userdp_protocol::ovs::action::Actions;
use userdp_protocol::ovs::common::RawAttrs;
use userdp_protocol::ovs::flow::{
    FlowMsg, OvsFlowCmd, OvsFlowStats, OVS_UFID_F_OMIT_ACTIONS, OVS_UFID_F_OMIT_KEY,
    OVS_UFID_F_OMIT_MASK,
};
use userdp_protocol::ovs::key::{parse_match, FlowKey, FlowMask, Key, OvsKeyAttr, FLOW_KEY_WORDS};
use userdp_protocol::ovs::OvsHeader;
use userdp_protocol::{Error, Result};

use super::{Ctx, Outcome, Registry, FAMILY_FLOW, GROUP_FLOW};
use crate::action::CompiledActions;
use crate::flow::classifier::Classifier;
use crate::transport::{Dump, DumpStep, Responder};

/// A unique flow identifier: 1 to 16 bytes (OVS always sends 16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ufid {
    len: u8,
    bytes: [u8; 16],
}

impl Ufid {
    /// A UFID from its wire bytes (the caller has checked 1..=16 bytes).
    pub fn new(b: &[u8]) -> Ufid {
        let mut bytes = [0; 16];
        let n = b.len().min(16);
        bytes[..n].copy_from_slice(&b[..n]);
        Ufid {
            len: n as u8,
            bytes,
        }
    }
    /// The wire bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// A flow's actions as installed: the validated `OVS_FLOW_ATTR_ACTIONS` payload, echoed in
/// replies. (The decoded list is not kept: at 272 bytes per `Action` it would dominate a
/// flow's footprint; packet threads execute a compiled form instead.)
#[derive(Debug)]
pub struct FlowActions {
    /// The `OVS_FLOW_ATTR_ACTIONS` payload as installed.
    pub bytes: Box<[u8]>,
    /// What packet threads execute.
    pub compiled: CompiledActions,
}

/// A mask shared by every flow installed with it: the fast-path form and the bytes to echo.
#[derive(Debug)]
pub struct SharedMask {
    /// The mask in fast-path form.
    pub fmask: FlowMask,
    /// The `OVS_FLOW_ATTR_MASK` payload (or the exact mask built for a key sent without one).
    pub bytes: Box<[u8]>,
}

/// Flow statistics, updated by packet threads with relaxed atomics.
#[derive(Debug, Default)]
pub struct FlowStats {
    /// Packets matched.
    pub packets: AtomicU64,
    /// Bytes matched.
    pub bytes: AtomicU64,
    /// Monotonic ms of the last hit (0 = never).
    pub used: AtomicU64,
    /// OR of the TCP flags seen.
    pub tcp_flags: AtomicU8,
}

impl FlowStats {
    /// Accounts `packets` packets of `bytes` bytes in all, last seen at `now_ms`.
    pub fn add(&self, packets: u64, bytes: u64, tcp_flags: u8, now_ms: u64) {
        self.packets.fetch_add(packets, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.used.store(now_ms, Ordering::Relaxed);
        if tcp_flags != 0 {
            self.tcp_flags.fetch_or(tcp_flags, Ordering::Relaxed);
        }
    }
    fn clear(&self) {
        self.packets.store(0, Ordering::Relaxed);
        self.bytes.store(0, Ordering::Relaxed);
        self.used.store(0, Ordering::Relaxed);
        self.tcp_flags.store(0, Ordering::Relaxed);
    }
}

/// One installed megaflow.
#[derive(Debug)]
pub struct Flow {
    /// Index of the flow's slot in its table: the dump cursor (slots are reused, so dumps
    /// walk the table in slot order, as the kernel walks its hash buckets).
    pub slot: u32,
    /// The flow's identity when installed with a UFID.
    pub ufid: Option<Ufid>,
    /// The key as installed (unmasked).
    pub key_bytes: Box<[u8]>,
    /// The mask, shared by every flow installed with the same one.
    pub mask: Arc<SharedMask>,
    /// Current actions; replaced atomically by a modify.
    pub actions: ArcSwap<FlowActions>,
    /// Counters.
    pub stats: FlowStats,
    /// Set when the flow leaves the table, so cached references stop matching.
    pub dead: AtomicBool,
}

impl Flow {
    /// True once the flow has been deleted (exact-match caches must not use it any more).
    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Relaxed)
    }

    /// The reply message for this flow, honouring the `OMIT_*` flags for UFID flows.
    pub fn to_msg(&self, dp_ifindex: i32, cmd: OvsFlowCmd, ufid_flags: u32) -> FlowMsg {
        let mut m = FlowMsg::new(cmd, dp_ifindex);
        match &self.ufid {
            Some(u) => {
                m.ufid = Some(u.as_bytes().to_vec());
                if ufid_flags & OVS_UFID_F_OMIT_KEY == 0 {
                    m.key = Some(RawAttrs::new(mask_key_bytes(
                        &self.key_bytes,
                        &self.mask.bytes,
                    )));
                }
            }
            None => m.key = Some(RawAttrs::new(self.key_bytes.to_vec())),
        }
        if self.ufid.is_none() || ufid_flags & OVS_UFID_F_OMIT_MASK == 0 {
            m.mask = Some(RawAttrs::new(self.mask.bytes.to_vec()));
        }
        let s = &self.stats;
        let used = s.used.load(Ordering::Relaxed);
        if used != 0 {
            m.used = Some(used);
        }
        let n_packets = s.packets.load(Ordering::Relaxed);
        if n_packets != 0 {
            m.stats = Some(OvsFlowStats {
                n_packets,
                n_bytes: s.bytes.load(Ordering::Relaxed),
            });
        }
        let tcp_flags = s.tcp_flags.load(Ordering::Relaxed);
        if tcp_flags != 0 {
            m.tcp_flags = Some(tcp_flags);
        }
        if self.ufid.is_none() || ufid_flags & OVS_UFID_F_OMIT_ACTIONS == 0 {
            m.actions = Some(RawAttrs::new(self.actions.load().bytes.to_vec()));
        }
        m
    }

    fn encode(
        &self,
        dp_ifindex: i32,
        cmd: OvsFlowCmd,
        ufid_flags: u32,
        seq: u32,
        pid: u32,
    ) -> Vec<u8> {
        let m = self.to_msg(dp_ifindex, cmd, ufid_flags);
        let mut buf = Vec::with_capacity(m.buffer_len());
        m.emit(&mut buf, FAMILY_FLOW, 0, seq, pid);
        buf
    }
}

/// ANDs a key attribute stream with a mask stream attribute by attribute (nests recursively);
/// an attribute the mask leaves out is fully wildcarded, so its value becomes zero. This is
/// the "masked key" the kernel reports for UFID flows.
pub fn mask_key_bytes(key: &[u8], mask: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len());
    let mut w = NlaWriter::new(&mut out);
    for k in NlaIter::new(key).map_while(|r| r.ok()) {
        let m = NlaIter::new(mask)
            .map_while(|r| r.ok())
            .find(|m| m.kind == k.kind);
        let nested =
            k.kind == u16::from(OvsKeyAttr::Encap) || k.kind == u16::from(OvsKeyAttr::Tunnel);
        if nested {
            let inner = mask_key_bytes(k.payload, m.map_or(&[][..], |m| m.payload));
            w.put(k.kind, &inner);
        } else {
            let payload: Vec<u8> = match m {
                Some(m) => k
                    .payload
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b & m.payload.get(i).copied().unwrap_or(0))
                    .collect(),
                None => vec![0; k.payload.len()],
            };
            w.put(k.kind, &payload);
        }
    }
    out
}

/// Seeded fast hashing for the control plane's indexes (SipHash is needlessly slow here).
type FastHash = foldhash::fast::RandomState;

/// The classifier type every datapath uses.
pub type FlowClassifier = Classifier<{ FLOW_KEY_WORDS }, Flow>;

/// A datapath's flows: the lock-free classifier plus the control plane's indexes.
#[derive(Default)]
pub struct FlowTable {
    /// The classifier packet threads read.
    pub cls: Arc<FlowClassifier>,
    by_ufid: HashMap<Ufid, Arc<Flow>, FastHash>,
    /// Flows installed without a UFID, by unmasked key (`ovs_flow_tbl_lookup_exact`).
    by_key: HashMap<FlowKey, Arc<Flow>, FastHash>,
    /// Every flow by slot; `free` lists the empty slots for reuse.
    slots: Vec<Option<Arc<Flow>>>,
    free: Vec<u32>,
    count: usize,
    /// Interned masks by their wire bytes (which determine the fast-path form).
    masks: HashMap<Box<[u8]>, Arc<SharedMask>, FastHash>,
    /// Interned action lists by their wire bytes: megaflows mostly share a few lists
    /// (`output:2`), so each distinct list is compiled and stored once. Entries whose last
    /// flow went away are dropped when that flow is removed.
    actions: HashMap<Box<[u8]>, Arc<FlowActions>, FastHash>,
}

impl std::fmt::Debug for FlowTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowTable")
            .field("flows", &self.count)
            .finish_non_exhaustive()
    }
}

impl FlowTable {
    /// Number of flows.
    pub fn len(&self) -> usize {
        self.count
    }
    /// True when no flow is installed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// Number of distinct masks.
    pub fn n_masks(&self) -> usize {
        self.cls.n_masks()
    }
    /// Flows in dump (slot) order, starting at slot `from`.
    pub fn iter_from(&self, from: usize) -> impl Iterator<Item = &Arc<Flow>> {
        self.slots.get(from..).unwrap_or(&[]).iter().flatten()
    }

    /// The shared copy of an action list, compiling and adding it if it is new.
    fn intern_actions(&mut self, actions: NewActions<'_>) -> Result<Arc<FlowActions>> {
        if let Some(a) = self.actions.get(&actions.raw.bytes[..]) {
            return Ok(a.clone());
        }
        let a = Arc::new(actions.compile()?);
        self.actions.insert(a.bytes.clone(), a.clone());
        Ok(a)
    }

    /// Forgets an interned list nothing uses any more (the map's and the caller's references).
    fn release_actions(&mut self, a: &Arc<FlowActions>) {
        if Arc::strong_count(a) <= 2 {
            self.actions.remove(&a.bytes);
        }
    }

    /// Replaces a flow's actions with the interned copy of `actions`.
    fn set_actions(&mut self, flow: &Flow, actions: NewActions<'_>) -> Result<()> {
        let new = self.intern_actions(actions)?;
        let old = flow.actions.swap(new);
        self.release_actions(&old);
        Ok(())
    }

    fn insert(
        &mut self,
        m: &Parsed,
        ufid: Option<Ufid>,
        actions: NewActions<'_>,
    ) -> Result<Arc<Flow>> {
        let actions = self.intern_actions(actions)?;
        let mask = match self.masks.get(&m.mask_bytes[..]) {
            Some(shared) => shared.clone(),
            None => {
                let shared = Arc::new(SharedMask {
                    fmask: m.fmask.clone(),
                    bytes: m.mask_bytes.clone(),
                });
                self.masks.insert(m.mask_bytes.clone(), shared.clone());
                shared
            }
        };
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        let flow = Arc::new(Flow {
            slot,
            ufid,
            key_bytes: m.key_bytes.clone(),
            mask,
            actions: ArcSwap::new(actions),
            stats: FlowStats::default(),
            dead: AtomicBool::new(false),
        });
        self.cls
            .insert(&m.fkey.w, &flow.mask.fmask.0.w, flow.clone());
        match ufid {
            Some(u) => {
                self.by_ufid.insert(u, flow.clone());
            }
            None => {
                self.by_key.insert(m.fkey.clone(), flow.clone());
            }
        }
        self.slots[slot as usize] = Some(flow.clone());
        self.count += 1;
        Ok(flow)
    }

    fn remove(&mut self, flow: &Arc<Flow>) {
        flow.dead.store(true, Ordering::Relaxed);
        // Re-derive the unmasked key from the stored bytes: it was validated at install time.
        if let Ok(k) = Key::parse(&flow.key_bytes, 0).and_then(|k| FlowKey::from_key(&k)) {
            self.cls.remove(&k.w, &flow.mask.fmask.0.w, flow);
            if flow.ufid.is_none() {
                self.by_key.remove(&k);
            }
        }
        if let Some(u) = &flow.ufid {
            self.by_ufid.remove(u);
        }
        if let Some(entry) = self.slots.get_mut(flow.slot as usize) {
            if entry.take().is_some() {
                self.free.push(flow.slot);
                self.count -= 1;
            }
        }
        // The interning map and this flow hold the last two references.
        if Arc::strong_count(&flow.mask) <= 2 {
            self.masks.remove(&flow.mask.bytes);
        }
        // The map, the flow and `acts` hold the last three references to an unshared list.
        let acts = flow.actions.load_full();
        if Arc::strong_count(&acts) <= 3 {
            self.actions.remove(&acts.bytes);
        }
    }

    /// Removes every flow (`ovs_flow_tbl_flush`).
    pub fn flush(&mut self) {
        for f in self.slots.iter().flatten() {
            f.dead.store(true, Ordering::Relaxed);
        }
        self.cls.clear();
        self.by_ufid.clear();
        self.by_key.clear();
        self.slots.clear();
        self.free.clear();
        self.count = 0;
        self.masks.clear();
        self.actions.clear();
    }

    /// The flow a GET/SET/DEL addresses: by UFID, else by exact unmasked key.
    fn find(&self, ufid: Option<&Ufid>, fkey: Option<&FlowKey>) -> Option<Arc<Flow>> {
        match (ufid, fkey) {
            (Some(u), _) => self.by_ufid.get(u).cloned(),
            (None, Some(k)) => self.by_key.get(k).cloned(),
            (None, None) => None,
        }
    }
}

/// A request's key, mask and actions, decoded and validated before the lock is taken.
struct Parsed {
    key_bytes: Box<[u8]>,
    mask_bytes: Box<[u8]>,
    fkey: FlowKey,
    fmask: FlowMask,
}

/// userdp has no connection tracker yet, so every packet's conntrack fields are zero and a
/// flow that matches on them would be a promise the datapath cannot keep. Refusing such
/// masks (`EINVAL`, as a kernel without conntrack support does) is also what makes
/// ovs-vswitchd's `ct_state`/`ct_zone`/`ct_mark`/`ct_label`/`ct_orig_tuple` probes report
/// the features as missing, so it never translates rules into conntrack matches.
fn refuse_conntrack_match(mask: &Key, offset: usize) -> Result<()> {
    // Offsets assume the canonical encoding, which is what OVS sends.
    for (at, attr) in mask.offsets() {
        let ct = matches!(
            attr.kind(),
            OvsKeyAttr::CtState
                | OvsKeyAttr::CtZone
                | OvsKeyAttr::CtMark
                | OvsKeyAttr::CtLabels
                | OvsKeyAttr::CtOrigTupleIpv4
                | OvsKeyAttr::CtOrigTupleIpv6
        );
        if ct
            && attr
                .payload_bytes()
                .is_none_or(|b| b.iter().any(|&x| x != 0))
        {
            return Err(Error::new(
                EINVAL,
                offset + at,
                "conntrack fields cannot be matched: userdp has no connection tracker",
            ));
        }
    }
    Ok(())
}

fn parse_key(req: &FlowMsg) -> Result<Option<(Parsed, Key, Key)>> {
    let Some(key) = &req.key else { return Ok(None) };
    let m = parse_match(
        &key.bytes,
        key.offset,
        req.mask.as_ref().map(|m| (&m.bytes[..], m.offset)),
    )?;
    refuse_conntrack_match(&m.mask, req.mask.as_ref().map_or(key.offset, |r| r.offset))?;
    let fkey = FlowKey::from_key(&m.key)?;
    let fmask = FlowMask::from_mask(&m.mask)?;
    let mask_bytes = match &req.mask {
        Some(raw) => raw.bytes.clone().into_boxed_slice(),
        None => {
            let mut v = Vec::new();
            m.mask.emit(&mut NlaWriter::new(&mut v));
            v.into_boxed_slice()
        }
    };
    Ok(Some((
        Parsed {
            key_bytes: key.bytes.clone().into_boxed_slice(),
            mask_bytes,
            fkey,
            fmask,
        },
        m.key,
        m.mask,
    )))
}

/// A validated action list not yet interned (compiled only if the table lacks it).
struct NewActions<'r> {
    raw: &'r RawAttrs,
    actions: Actions,
}

impl NewActions<'_> {
    /// Compilation refuses what the fast path cannot run (conntrack), so OVS's probes see it
    /// missing; the error points at the action list.
    fn compile(self) -> Result<FlowActions> {
        let compiled =
            CompiledActions::compile(&self.actions).map_err(|e| e.rebase(self.raw.offset))?;
        Ok(FlowActions {
            bytes: self.raw.bytes.clone().into_boxed_slice(),
            compiled,
        })
    }
}

fn parse_actions<'r>(req: &'r FlowMsg, key: &Key, mask: &Key) -> Result<Option<NewActions<'r>>> {
    let Some(raw) = &req.actions else {
        return Ok(None);
    };
    let actions = Actions::parse(&raw.bytes, raw.offset)?;
    validate_actions(&actions, &FlowFacts::from_key(key, Some(mask)))?;
    Ok(Some(NewActions { raw, actions }))
}

/// Dispatches a non-dump `ovs_flow` request.
pub fn handle(reg: &Registry, ctx: &Ctx<'_>, msg: &NlMsg<'_>) -> Result<Outcome> {
    let req = FlowMsg::parse(msg.payload)?;
    match req.cmd {
        OvsFlowCmd::OVS_FLOW_CMD_NEW => flow_cmd_new(reg, ctx, &req),
        OvsFlowCmd::OVS_FLOW_CMD_SET => flow_cmd_set(reg, ctx, &req),
        OvsFlowCmd::OVS_FLOW_CMD_GET => flow_cmd_get(reg, ctx, &req),
        OvsFlowCmd::OVS_FLOW_CMD_DEL => flow_cmd_del(reg, ctx, &req),
        _ => Err(Error::new(EOPNOTSUPP, 0, "unknown flow command")),
    }
}

fn reply_if_echo(reg: &Registry, ctx: &Ctx<'_>, msg: Option<Vec<u8>>) -> Outcome {
    match msg {
        Some(m) => {
            reg.notify(GROUP_FLOW, &m, ctx);
            Outcome::Reply(m)
        }
        None => Outcome::Silent,
    }
}

/// OVS_FLOW_CMD_NEW: insert, or (without CREATE/EXCL) replace the actions of the same flow.
pub fn flow_cmd_new(reg: &Registry, ctx: &Ctx<'_>, req: &FlowMsg) -> Result<Outcome> {
    let (parsed, key, mask) = parse_key(req)?.ok_or(Error::new(
        EINVAL,
        0,
        "Flow key attr not present in new flow.",
    ))?;
    let masked = fk_masked(&parsed);
    let actions = parse_actions(req, &key, &mask)?.ok_or(Error::new(
        EINVAL,
        0,
        "Flow actions attr not present in new flow.",
    ))?;
    let ufid = req.ufid().map(Ufid::new);
    let ufid_flags = req.ufid_flags();
    let msg = reg.with_state(|st| -> Result<Option<Vec<u8>>> {
        let dp =
            st.dps
                .get_mut(&req.dp_ifindex)
                .ok_or(Error::new(ENODEV, 0, "no such datapath"))?;
        let table = &mut dp.flows;
        let mut found = ufid.as_ref().and_then(|u| table.by_ufid.get(u).cloned());
        if found.is_none() {
            found = table.cls.lookup(&parsed.fkey.w).0;
        }
        let Some(mut flow) = found else {
            let flow = table.insert(&parsed, ufid, actions)?;
            return Ok(ctx.echo().then(|| {
                flow.encode(
                    dp.ifindex,
                    OvsFlowCmd::OVS_FLOW_CMD_NEW,
                    ufid_flags,
                    ctx.seq,
                    ctx.peer.portid,
                )
            }));
        };
        if ctx.flags & (NLM_F_CREATE | NLM_F_EXCL) != 0 {
            return Err(Error::new(EEXIST, 0, "flow already exists"));
        }
        if !same_flow(&flow, &parsed, &masked) {
            flow = match flow.ufid {
                None => table.by_key.get(&parsed.fkey).cloned().ok_or(Error::new(
                    ENOENT,
                    0,
                    "flow not found",
                ))?,
                Some(_) => return Err(Error::new(ENOENT, 0, "flow not found")),
            };
        }
        table.set_actions(&flow, actions)?;
        Ok(ctx.echo().then(|| {
            flow.encode(
                dp.ifindex,
                OvsFlowCmd::OVS_FLOW_CMD_NEW,
                ufid_flags,
                ctx.seq,
                ctx.peer.portid,
            )
        }))
    })?;
    Ok(reply_if_echo(reg, ctx, msg))
}

fn fk_masked(p: &Parsed) -> FlowKey {
    p.fkey.masked(&p.fmask)
}

/// `ovs_flow_cmp`: a UFID flow is the same if its masked key equals the request's key over the
/// request mask's words; a key flow if its unmasked key equals the request's.
fn same_flow(flow: &Flow, req: &Parsed, req_masked: &FlowKey) -> bool {
    let Ok(stored) = Key::parse(&flow.key_bytes, 0).and_then(|k| FlowKey::from_key(&k)) else {
        return false;
    };
    match flow.ufid {
        Some(_) => {
            let stored_masked = stored.masked(&flow.mask.fmask);
            req.fmask
                .nonzero_words()
                .all(|i| stored_masked.w[i] == req_masked.w[i])
        }
        None => stored == req.fkey,
    }
}

/// OVS_FLOW_CMD_SET: replace actions and/or clear statistics of an existing flow.
pub fn flow_cmd_set(reg: &Registry, ctx: &Ctx<'_>, req: &FlowMsg) -> Result<Outcome> {
    let ufid = req.ufid().map(Ufid::new);
    let parsed = parse_key(req)?;
    if parsed.is_none() && (ufid.is_none() || req.actions.is_some()) {
        return Err(Error::new(
            EINVAL,
            0,
            "Flow key attribute not present in set flow.",
        ));
    }
    let actions = match &parsed {
        Some((_, key, mask)) => parse_actions(req, key, mask)?,
        None => None,
    };
    let ufid_flags = req.ufid_flags();
    let msg = reg.with_state(|st| -> Result<Option<Vec<u8>>> {
        let dp =
            st.dps
                .get_mut(&req.dp_ifindex)
                .ok_or(Error::new(ENODEV, 0, "no such datapath"))?;
        let flow = dp
            .flows
            .find(ufid.as_ref(), parsed.as_ref().map(|p| &p.0.fkey))
            .ok_or(Error::new(ENOENT, 0, "flow not found"))?;
        if let Some(a) = actions {
            dp.flows.set_actions(&flow, a)?;
        }
        let reply = ctx.echo().then(|| {
            flow.encode(
                dp.ifindex,
                OvsFlowCmd::OVS_FLOW_CMD_SET,
                ufid_flags,
                ctx.seq,
                ctx.peer.portid,
            )
        });
        if req.clear {
            flow.stats.clear();
        }
        Ok(reply)
    })?;
    Ok(reply_if_echo(reg, ctx, msg))
}

/// OVS_FLOW_CMD_GET: one flow by UFID or exact key.
pub fn flow_cmd_get(reg: &Registry, ctx: &Ctx<'_>, req: &FlowMsg) -> Result<Outcome> {
    let ufid = req.ufid().map(Ufid::new);
    let parsed = if ufid.is_none() {
        parse_key(req)?
    } else {
        None
    };
    if ufid.is_none() && parsed.is_none() {
        return Err(Error::new(
            EINVAL,
            0,
            "Flow get message rejected, Key attribute missing.",
        ));
    }
    reg.with_state(|st| {
        let dp = st
            .dps
            .get(&req.dp_ifindex)
            .ok_or(Error::new(ENODEV, 0, "no such datapath"))?;
        let flow = dp
            .flows
            .find(ufid.as_ref(), parsed.as_ref().map(|p| &p.0.fkey))
            .ok_or(Error::new(ENOENT, 0, "flow not found"))?;
        Ok(Outcome::Reply(flow.encode(
            dp.ifindex,
            OvsFlowCmd::OVS_FLOW_CMD_GET,
            req.ufid_flags(),
            ctx.seq,
            ctx.peer.portid,
        )))
    })
}

/// OVS_FLOW_CMD_DEL: one flow, or every flow when neither KEY nor UFID is given.
pub fn flow_cmd_del(reg: &Registry, ctx: &Ctx<'_>, req: &FlowMsg) -> Result<Outcome> {
    let ufid = req.ufid().map(Ufid::new);
    let parsed = if ufid.is_none() {
        parse_key(req)?
    } else {
        None
    };
    let ufid_flags = req.ufid_flags();
    let msg = reg.with_state(|st| -> Result<Option<Vec<u8>>> {
        let dp =
            st.dps
                .get_mut(&req.dp_ifindex)
                .ok_or(Error::new(ENODEV, 0, "no such datapath"))?;
        if ufid.is_none() && parsed.is_none() {
            dp.flows.flush();
            return Ok(None);
        }
        let flow = dp
            .flows
            .find(ufid.as_ref(), parsed.as_ref().map(|p| &p.0.fkey))
            .ok_or(Error::new(ENOENT, 0, "flow not found"))?;
        dp.flows.remove(&flow);
        Ok(ctx.echo().then(|| {
            flow.encode(
                dp.ifindex,
                OvsFlowCmd::OVS_FLOW_CMD_DEL,
                ufid_flags,
                ctx.seq,
                ctx.peer.portid,
            )
        }))
    })?;
    Ok(reply_if_echo(reg, ctx, msg))
}

/// Every flow of one datapath, in installation order.
struct FlowDump<'r> {
    reg: &'r Registry,
    dp_ifindex: i32,
    ufid_flags: u32,
    next: usize,
    error: i32,
}

impl Dump for FlowDump<'_> {
    fn fill(&mut self, buf: &mut Vec<u8>, budget: usize) -> DumpStep {
        if self.error != 0 {
            return DumpStep::Done(self.error);
        }
        self.reg.with_state(|st| {
            let Some(dp) = st.dps.get(&self.dp_ifindex) else {
                return DumpStep::Done(-ENODEV);
            };
            for flow in dp.flows.iter_from(self.next) {
                let m = flow.to_msg(dp.ifindex, OvsFlowCmd::OVS_FLOW_CMD_GET, self.ufid_flags);
                if !buf.is_empty() && buf.len() + m.buffer_len() > budget {
                    return DumpStep::More;
                }
                m.emit(buf, FAMILY_FLOW, 0, 0, 0);
                self.next = flow.slot as usize + 1;
            }
            DumpStep::Done(0)
        })
    }
}

/// OVS_FLOW_CMD_GET with `NLM_F_DUMP`. Request errors travel in `NLMSG_DONE`, as the kernel's
/// dump callback reports them.
pub fn flow_cmd_dump(reg: &Registry, _ctx: &Ctx<'_>, msg: &NlMsg<'_>, out: &mut Responder<'_>) {
    let (dp_ifindex, ufid_flags, error) = match FlowMsg::parse(msg.payload) {
        Ok(req) => (req.dp_ifindex, req.ufid_flags(), 0),
        Err(e) => (
            OvsHeader::parse(msg.payload).map_or(0, |h| h.dp_ifindex),
            0,
            -e.errno,
        ),
    };
    out.dump(&mut FlowDump {
        reg,
        dp_ifindex,
        ufid_flags,
        next: 0,
        error,
    });
}
