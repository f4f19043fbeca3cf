//! `nlctrl`: family lookups and the family dump.
//!
//! ≈ `ctrl_getfamily` and `ctrl_dumpfamily` in `net/netlink/genetlink.c`.

use userdp_protocol::genl::ctrl::{FamilyInfo, GetFamily};
use userdp_protocol::nl::NlMsg;
use userdp_protocol::Result;

use super::{Ctx, Outcome, Registry};
use crate::transport::{Dump, DumpStep, Responder};

/// CTRL_CMD_GETFAMILY (do): the NEWFAMILY description of one family, `ENOENT` if unknown.
pub fn ctrl_cmd_getfamily(
    families: &[FamilyInfo],
    ctx: &Ctx<'_>,
    msg: &NlMsg<'_>,
) -> Result<Outcome> {
    let req = GetFamily::parse(msg.payload)?;
    let info = req.resolve(families)?;
    let mut buf = Vec::with_capacity(info.buffer_len());
    info.emit(&mut buf, 0, ctx.seq, ctx.peer.portid);
    Ok(Outcome::Reply(buf))
}

/// A dump of every family, nlctrl first.
struct FamilyDump {
    families: Vec<FamilyInfo>,
    next: usize,
}

impl Dump for FamilyDump {
    fn fill(&mut self, buf: &mut Vec<u8>, budget: usize) -> DumpStep {
        while let Some(info) = self.families.get(self.next) {
            let start = buf.len();
            if start > 0 && start + info.buffer_len() > budget {
                return DumpStep::More;
            }
            info.emit(buf, 0, 0, 0);
            self.next += 1;
        }
        DumpStep::Done(0)
    }
}

/// CTRL_CMD_GETFAMILY (dump): every family; request attributes are not looked at.
pub fn ctrl_cmd_dump(_reg: &Registry, _ctx: &Ctx<'_>, _msg: &NlMsg<'_>, out: &mut Responder<'_>) {
    out.dump(&mut FamilyDump {
        families: super::families(),
        next: 0,
    });
}
