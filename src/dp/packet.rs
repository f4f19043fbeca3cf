//! `ovs_packet`: EXECUTE requests (the upcalls MISS and ACTION go the other way).
//!
//! ≈ `ovs_packet_cmd_execute` in `net/openvswitch/datapath.c`.

use userdp_protocol::errno::{EINVAL, ENODEV, EOPNOTSUPP, ERANGE};
use userdp_protocol::nl::NlMsg;
use userdp_protocol::ovs::action::validate::{validate_actions, FlowFacts};
use userdp_protocol::ovs::action::Actions;
use userdp_protocol::ovs::key::Key;
use userdp_protocol::ovs::packet::{OvsPacketCmd, PacketMsg, ETH_HLEN};
use userdp_protocol::{Error, Result};

use super::{Ctx, Outcome, Registry};

/// Dispatches an `ovs_packet` request.
pub fn handle(reg: &Registry, ctx: &Ctx<'_>, msg: &NlMsg<'_>) -> Result<Outcome> {
    let req = PacketMsg::parse(msg.payload)?;
    match req.cmd {
        OvsPacketCmd::OVS_PACKET_CMD_EXECUTE => packet_cmd_execute(reg, ctx, &req),
        _ => Err(Error::new(EOPNOTSUPP, 0, "unknown packet command")),
    }
}

/// OVS_PACKET_CMD_EXECUTE: validates the packet, its metadata key and the actions; silent on
/// success, as the kernel is.
pub fn packet_cmd_execute(reg: &Registry, _ctx: &Ctx<'_>, req: &PacketMsg) -> Result<Outcome> {
    let (Some(packet), Some(key), Some(actions)) = (&req.packet, &req.key, &req.actions) else {
        return Err(Error::new(
            EINVAL,
            0,
            "EXECUTE needs PACKET, KEY and ACTIONS",
        ));
    };
    if packet.len() < ETH_HLEN {
        return Err(Error::new(
            ERANGE,
            0,
            "packet shorter than an Ethernet header",
        ));
    }
    let key = Key::parse(&key.bytes, key.offset)?;
    let acts = Actions::parse(&actions.bytes, actions.offset)?;
    validate_actions(&acts, &FlowFacts::from_key(&key, None))?;
    reg.with_state(|st| {
        st.dps
            .get(&req.dp_ifindex)
            .map(|_| ())
            .ok_or(Error::new(ENODEV, 0, "no such datapath"))
    })?;
    Ok(Outcome::Silent)
}
