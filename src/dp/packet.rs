//! `ovs_packet`: EXECUTE requests (the upcalls MISS and ACTION go the other way).
//!
//! ≈ `ovs_packet_cmd_execute` in `net/openvswitch/datapath.c`.

use userdp_protocol::errno::{EINVAL, ENODEV, EOPNOTSUPP, ERANGE};
use userdp_protocol::nl::NlMsg;
use userdp_protocol::ovs::action::validate::{validate_actions, FlowFacts};
use userdp_protocol::ovs::action::Actions;
use userdp_protocol::ovs::key::{FlowKey, Key, OvsKeyAttr};
use userdp_protocol::ovs::packet::{OvsPacketCmd, PacketMsg, ETH_HLEN};
use userdp_protocol::{Error, Result};

use super::{Ctx, Outcome, Registry};
use crate::action::CompiledActions;
use crate::flow::extract::{extract, extract_l3, Metadata};
use crate::pmd::ExecJob;
use crate::port::batch::{Packet, GSO_FRAME_MAX};

/// Dispatches an `ovs_packet` request.
pub fn handle(reg: &Registry, ctx: &Ctx<'_>, msg: &NlMsg<'_>) -> Result<Outcome> {
    let req = PacketMsg::parse(msg.payload)?;
    match req.cmd {
        OvsPacketCmd::OVS_PACKET_CMD_EXECUTE => packet_cmd_execute(reg, ctx, &req),
        _ => Err(Error::new(EOPNOTSUPP, 0, "unknown packet command")),
    }
}

/// OVS_PACKET_CMD_EXECUTE: builds the packet and its key (metadata from KEY, headers from the
/// frame), validates the actions against that key, and hands it to a packet thread. Silent on
/// success, as the kernel is; an output to a missing port is dropped there, not an error.
pub fn packet_cmd_execute(reg: &Registry, _ctx: &Ctx<'_>, req: &PacketMsg) -> Result<Outcome> {
    let (Some(frame), Some(key), Some(actions)) = (&req.packet, &req.key, &req.actions) else {
        return Err(Error::new(
            EINVAL,
            0,
            "EXECUTE needs PACKET, KEY and ACTIONS",
        ));
    };
    if frame.len() < ETH_HLEN {
        return Err(Error::new(
            ERANGE,
            0,
            "packet shorter than an Ethernet header",
        ));
    }
    if frame.len() > GSO_FRAME_MAX {
        return Err(Error::new(EINVAL, 0, "packet too large"));
    }
    let meta = Key::parse(&key.bytes, key.offset)?;
    // Without IN_PORT the key says "no port" and the packet counts as coming from the local
    // port, as in the kernel.
    let md_key = FlowKey::from_key(&meta)?;
    let md = Metadata::from_key(&md_key);
    let mut fk = FlowKey::default();
    let extracted = match meta.get(OvsKeyAttr::Ethertype) {
        // A packet without Ethernet header: ETHERTYPE (and no ETHERNET) names its L3 protocol.
        Some(userdp_protocol::ovs::key::KeyAttr::Ethertype(t))
            if !meta.contains(OvsKeyAttr::Ethernet) =>
        {
            extract_l3(frame, *t, &md, &mut fk)
        }
        _ => extract(frame, &md, &mut fk),
    };
    extracted.map_err(|_| Error::new(EINVAL, 0, "packet cannot be parsed"))?;
    let acts = Actions::parse(&actions.bytes, actions.offset)?;
    validate_actions(&acts, &FlowFacts::from_key(&fk.to_key(), None))?;
    let compiled = CompiledActions::compile(&acts).map_err(|e| e.rebase(actions.offset))?;
    let dp = reg.with_state(|st| {
        st.dps
            .get(&req.dp_ifindex)
            .map(|dp| dp.shared.clone())
            .ok_or(Error::new(ENODEV, 0, "no such datapath"))
    })?;
    let mut packet = Packet::with_capacity(frame.len().max(2048));
    packet
        .set_frame(frame, None)
        .map_err(|_| Error::new(EINVAL, 0, "packet too large"))?;
    let job = ExecJob {
        dp,
        packet,
        key: fk,
        actions: compiled,
        action_bytes: actions.bytes.clone().into_boxed_slice(),
    };
    let hint = usize::from(frame.get(13).copied().unwrap_or(0));
    reg.with_pmd(|pmd| pmd.execute(hint, job));
    Ok(Outcome::Silent)
}
