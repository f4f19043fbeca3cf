//! `ovs_ct_limit`: per-zone connection limits.
//!
//! ≈ `ovs_ct_limit_cmd_set/del/get` in `net/openvswitch/conntrack.c`. Limits are stored and
//! reported faithfully; until userdp has a connection tracker the connection counts are 0.

use std::collections::BTreeMap;

use userdp_protocol::errno::{EINVAL, EOPNOTSUPP};
use userdp_protocol::nl::NlMsg;
use userdp_protocol::ovs::ct_limit::{
    CtLimitMsg, OvsCtLimitCmd, OvsZoneLimit, OVS_ZONE_LIMIT_DEFAULT_ZONE,
};
use userdp_protocol::{Error, Result};

use super::{Ctx, Outcome, Registry, FAMILY_CT_LIMIT};

/// The default limit and the per-zone limits (0 = unlimited).
#[derive(Debug, Default, Clone)]
pub struct CtLimits {
    /// Limit for zones without their own.
    pub default: u32,
    /// Zones with an explicit limit.
    pub zones: BTreeMap<u16, u32>,
}

impl CtLimits {
    fn record(&self, zone: u16) -> OvsZoneLimit {
        OvsZoneLimit {
            zone_id: i32::from(zone),
            limit: self.zones.get(&zone).copied().unwrap_or(self.default),
            count: 0,
        }
    }
}

fn zone_of(id: i32) -> Option<u16> {
    u16::try_from(id).ok()
}

/// Dispatches an `ovs_ct_limit` request; every command replies with the same command.
pub fn handle(reg: &Registry, ctx: &Ctx<'_>, msg: &NlMsg<'_>) -> Result<Outcome> {
    let req = CtLimitMsg::parse(msg.payload)?;
    let mut out = CtLimitMsg::new(req.cmd, req.dp_ifindex);
    let need = || {
        req.zone_limits
            .as_ref()
            .ok_or(Error::new(EINVAL, 0, "ZONE_LIMIT is required"))
    };
    match req.cmd {
        OvsCtLimitCmd::OVS_CT_LIMIT_CMD_SET => {
            let limits = need()?;
            reg.with_state(|st| {
                for z in limits {
                    if z.zone_id == OVS_ZONE_LIMIT_DEFAULT_ZONE {
                        st.ct_limits.default = z.limit;
                    } else if let Some(zone) = zone_of(z.zone_id) {
                        st.ct_limits.zones.insert(zone, z.limit);
                    } else {
                        tracing::warn!(zone = z.zone_id, "ignoring a zone limit outside 0..=65535");
                    }
                }
            });
        }
        OvsCtLimitCmd::OVS_CT_LIMIT_CMD_DEL => {
            let limits = need()?;
            reg.with_state(|st| {
                for z in limits {
                    if z.zone_id == OVS_ZONE_LIMIT_DEFAULT_ZONE {
                        st.ct_limits.default = 0;
                    } else if let Some(zone) = zone_of(z.zone_id) {
                        st.ct_limits.zones.remove(&zone);
                    }
                }
            });
        }
        OvsCtLimitCmd::OVS_CT_LIMIT_CMD_GET => {
            let records = reg.with_state(|st| {
                let l = &st.ct_limits;
                let default = OvsZoneLimit {
                    zone_id: OVS_ZONE_LIMIT_DEFAULT_ZONE,
                    limit: l.default,
                    count: 0,
                };
                match &req.zone_limits {
                    Some(wanted) => wanted
                        .iter()
                        .filter_map(|z| match z.zone_id {
                            OVS_ZONE_LIMIT_DEFAULT_ZONE => Some(default),
                            id => zone_of(id).map(|zone| l.record(zone)),
                        })
                        .collect(),
                    None => std::iter::once(default)
                        .chain(l.zones.keys().map(|&z| l.record(z)))
                        .collect::<Vec<_>>(),
                }
            });
            out.zone_limits = Some(records);
        }
        _ => return Err(Error::new(EOPNOTSUPP, 0, "unknown ct_limit command")),
    }
    let mut buf = Vec::with_capacity(out.buffer_len());
    out.emit(&mut buf, FAMILY_CT_LIMIT, 0, ctx.seq, ctx.peer.portid);
    Ok(Outcome::Reply(buf))
}
