//! userdp's private messages between the daemon and its clients (shim, CLI, tests).
//!
//! They live in the netlink reserved control range 0x05–0x0F, which real netlink never sends
//! (`NLMSG_MIN_TYPE` is 0x10), so a client can always tell them from family traffic. The wire
//! layouts are specified in `protocol/PROTOCOL.md`; all integers are host byte order, like the
//! rest of netlink.

use crate::nl::{MsgBuilder, NlMsg, NLMSG_HDRLEN, NLM_F_REQUEST};
use crate::{Error, Result};

/// Control request/reply: group join/leave and portid binding.
pub const USERDP_MSG_CTRL: u16 = 0x0C;
/// First datagram on every connection: the assigned portid.
pub const USERDP_MSG_HELLO: u16 = 0x0D;
/// Sent once after all output for one received request datagram.
pub const USERDP_MSG_DONE_MARKER: u16 = 0x0E;
/// Messages were dropped for this connection (the shim reports `ENOBUFS`).
pub const USERDP_MSG_OVERFLOW: u16 = 0x0F;

/// Version carried in HELLO; bumped on incompatible changes to this file's layouts.
pub const USERDP_PROTOCOL_VERSION: u32 = 1;

/// Payload size of HELLO (`portid`, `version`).
pub const HELLO_LEN: usize = 8;
/// Payload size of a control message (`op`, `arg`, `error`).
pub const CTRL_LEN: usize = 12;
/// Payload size of OVERFLOW (`dropped`).
pub const OVERFLOW_LEN: usize = 4;

/// `USERDP_CTRL_*`: the operation of a control message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CtrlOp {
    /// `USERDP_CTRL_JOIN` (1): join multicast group `arg` (`NETLINK_ADD_MEMBERSHIP`).
    Join,
    /// `USERDP_CTRL_LEAVE` (2): leave multicast group `arg` (`NETLINK_DROP_MEMBERSHIP`).
    Leave,
    /// `USERDP_CTRL_BIND` (3): take portid `arg` (`bind()` with a chosen `nl_pid`).
    Bind,
    /// Any other value; the daemon answers `EOPNOTSUPP`.
    Unknown(u32),
}

impl From<u32> for CtrlOp {
    fn from(v: u32) -> Self {
        match v {
            1 => CtrlOp::Join,
            2 => CtrlOp::Leave,
            3 => CtrlOp::Bind,
            n => CtrlOp::Unknown(n),
        }
    }
}

impl From<CtrlOp> for u32 {
    fn from(op: CtrlOp) -> u32 {
        match op {
            CtrlOp::Join => 1,
            CtrlOp::Leave => 2,
            CtrlOp::Bind => 3,
            CtrlOp::Unknown(n) => n,
        }
    }
}

fn u32_at(payload: &[u8], at: usize) -> Option<u32> {
    let b = payload.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// HELLO payload: the portid the daemon assigned to this connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    /// The connection's portid (never 0, never `0xFFFFFFFF`).
    pub portid: u32,
    /// `USERDP_PROTOCOL_VERSION` of the daemon.
    pub version: u32,
}

impl Hello {
    /// Decodes a HELLO payload; longer payloads are accepted so later versions can extend it.
    pub fn parse(payload: &[u8]) -> Result<Self> {
        match (u32_at(payload, 0), u32_at(payload, 4)) {
            (Some(portid), Some(version)) => Ok(Hello { portid, version }),
            _ => Err(Error::inval(
                NLMSG_HDRLEN,
                "HELLO payload shorter than 8 bytes",
            )),
        }
    }

    /// Appends the whole HELLO message (seq 0, pid = the portid).
    pub fn emit(&self, buf: &mut Vec<u8>) {
        let mut m = MsgBuilder::new(buf, USERDP_MSG_HELLO, 0, 0, self.portid);
        m.push(&self.portid.to_ne_bytes());
        m.push(&self.version.to_ne_bytes());
        m.finish();
    }
}

/// A control message; the same layout serves as request (`error` 0) and reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ctrl {
    /// What to do.
    pub op: CtrlOp,
    /// Group id for JOIN/LEAVE, portid for BIND.
    pub arg: u32,
    /// In replies: 0 or a negative errno. Ignored in requests.
    pub error: i32,
}

impl Ctrl {
    /// A request for `op` with argument `arg`.
    pub fn request(op: CtrlOp, arg: u32) -> Self {
        Ctrl { op, arg, error: 0 }
    }

    /// Decodes a control payload (at least 12 bytes; extra bytes are ignored).
    pub fn parse(payload: &[u8]) -> Result<Self> {
        match (u32_at(payload, 0), u32_at(payload, 4), u32_at(payload, 8)) {
            (Some(op), Some(arg), Some(error)) => Ok(Ctrl {
                op: op.into(),
                arg,
                error: error as i32,
            }),
            _ => Err(Error::inval(
                NLMSG_HDRLEN,
                "control payload shorter than 12 bytes",
            )),
        }
    }

    /// Appends the whole control message with the given header fields.
    pub fn emit(&self, buf: &mut Vec<u8>, flags: u16, seq: u32, pid: u32) {
        let mut m = MsgBuilder::new(buf, USERDP_MSG_CTRL, flags, seq, pid);
        m.push(&u32::from(self.op).to_ne_bytes());
        m.push(&self.arg.to_ne_bytes());
        m.push(&self.error.to_ne_bytes());
        m.finish();
    }

    /// Appends this control message as a request (`NLM_F_REQUEST`).
    pub fn emit_request(&self, buf: &mut Vec<u8>, seq: u32, pid: u32) {
        self.emit(buf, NLM_F_REQUEST, seq, pid);
    }
}

/// OVERFLOW payload: how many messages were dropped since the previous OVERFLOW.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow {
    /// Dropped messages, saturating at `u32::MAX`.
    pub dropped: u32,
}

impl Overflow {
    /// Decodes an OVERFLOW payload.
    pub fn parse(payload: &[u8]) -> Result<Self> {
        u32_at(payload, 0)
            .map(|dropped| Overflow { dropped })
            .ok_or(Error::inval(
                NLMSG_HDRLEN,
                "OVERFLOW payload shorter than 4 bytes",
            ))
    }

    /// Appends the whole OVERFLOW message (seq 0, pid 0, like a kernel notification).
    pub fn emit(&self, buf: &mut Vec<u8>) {
        let mut m = MsgBuilder::new(buf, USERDP_MSG_OVERFLOW, 0, 0, 0);
        m.push(&self.dropped.to_ne_bytes());
        m.finish();
    }
}

/// Appends a DONE_MARKER: header only, `seq` of the first message of the request datagram.
pub fn emit_done_marker(buf: &mut Vec<u8>, seq: u32, pid: u32) {
    MsgBuilder::new(buf, USERDP_MSG_DONE_MARKER, 0, seq, pid).finish();
}

/// A decoded private message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivateMsg {
    /// `USERDP_MSG_CTRL`.
    Ctrl(Ctrl),
    /// `USERDP_MSG_HELLO`.
    Hello(Hello),
    /// `USERDP_MSG_DONE_MARKER`.
    DoneMarker,
    /// `USERDP_MSG_OVERFLOW`.
    Overflow(Overflow),
}

impl PrivateMsg {
    /// Decodes `msg` if its type is one of the private ones; `Ok(None)` for any other type.
    pub fn parse(msg: &NlMsg<'_>) -> Result<Option<Self>> {
        let rebase = |e: Error| e.rebase(msg.offset);
        Ok(Some(match msg.header.kind {
            USERDP_MSG_CTRL => PrivateMsg::Ctrl(Ctrl::parse(msg.payload).map_err(rebase)?),
            USERDP_MSG_HELLO => PrivateMsg::Hello(Hello::parse(msg.payload).map_err(rebase)?),
            USERDP_MSG_DONE_MARKER => PrivateMsg::DoneMarker,
            USERDP_MSG_OVERFLOW => {
                PrivateMsg::Overflow(Overflow::parse(msg.payload).map_err(rebase)?)
            }
            _ => return Ok(None),
        }))
    }
}

/// True for the message types this module defines.
pub fn is_private(kind: u16) -> bool {
    (USERDP_MSG_CTRL..=USERDP_MSG_OVERFLOW).contains(&kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errno::{EADDRINUSE, EINVAL};
    use crate::nl::messages;

    fn one(buf: &[u8]) -> PrivateMsg {
        let m = messages(buf).next().unwrap().unwrap();
        PrivateMsg::parse(&m).unwrap().unwrap()
    }

    #[test]
    fn hello_golden() {
        let mut buf = Vec::new();
        Hello {
            portid: 0x0102_0304,
            version: 1,
        }
        .emit(&mut buf);
        #[rustfmt::skip]
        let expect = [
            24, 0, 0, 0,                // nlmsg_len = 16 + 8
            0x0d, 0,                    // nlmsg_type = USERDP_MSG_HELLO
            0, 0,                       // flags: none
            0, 0, 0, 0,                 // seq 0
            4, 3, 2, 1,                 // pid = the portid (little-endian host)
            4, 3, 2, 1,                 // payload.portid = 0x01020304
            1, 0, 0, 0,                 // payload.version = 1
        ];
        assert_eq!(buf, expect);
        assert_eq!(
            one(&buf),
            PrivateMsg::Hello(Hello {
                portid: 0x0102_0304,
                version: 1
            })
        );
    }

    #[test]
    fn ctrl_request_and_reply_golden() {
        let mut buf = Vec::new();
        Ctrl::request(CtrlOp::Join, 5).emit_request(&mut buf, 7, 42);
        #[rustfmt::skip]
        let expect = [
            28, 0, 0, 0,                // nlmsg_len = 16 + 12
            0x0c, 0,                    // USERDP_MSG_CTRL
            1, 0,                       // NLM_F_REQUEST
            7, 0, 0, 0,                 // seq 7
            42, 0, 0, 0,                // pid 42
            1, 0, 0, 0,                 // op = USERDP_CTRL_JOIN
            5, 0, 0, 0,                 // arg = group 5
            0, 0, 0, 0,                 // error = 0 in requests
        ];
        assert_eq!(buf, expect);

        let mut reply = Vec::new();
        Ctrl {
            op: CtrlOp::Bind,
            arg: 1000,
            error: -EADDRINUSE,
        }
        .emit(&mut reply, 0, 3, 42);
        #[rustfmt::skip]
        let expect = [
            28, 0, 0, 0,  0x0c, 0,  0, 0,  3, 0, 0, 0,  42, 0, 0, 0, // reply: no flags
            3, 0, 0, 0,                 // op = USERDP_CTRL_BIND
            0xe8, 0x03, 0, 0,           // arg = portid 1000
            0x9e, 0xff, 0xff, 0xff,     // error = -98 (EADDRINUSE)
        ];
        assert_eq!(reply, expect);
        assert_eq!(
            one(&reply),
            PrivateMsg::Ctrl(Ctrl {
                op: CtrlOp::Bind,
                arg: 1000,
                error: -EADDRINUSE
            })
        );
    }

    #[test]
    fn marker_and_overflow_golden() {
        let mut buf = Vec::new();
        emit_done_marker(&mut buf, 9, 42);
        Overflow { dropped: 300 }.emit(&mut buf);
        #[rustfmt::skip]
        let expect = [
            16, 0, 0, 0,  0x0e, 0,  0, 0,  9, 0, 0, 0,  42, 0, 0, 0, // DONE_MARKER, seq 9, header only
            20, 0, 0, 0,  0x0f, 0,  0, 0,  0, 0, 0, 0,  0, 0, 0, 0,  // OVERFLOW, seq 0, pid 0
            0x2c, 0x01, 0, 0,                                        // dropped = 300
        ];
        assert_eq!(buf, expect);
        let all: Vec<_> = messages(&buf)
            .map(|m| PrivateMsg::parse(&m.unwrap()).unwrap().unwrap())
            .collect();
        assert_eq!(
            all,
            [
                PrivateMsg::DoneMarker,
                PrivateMsg::Overflow(Overflow { dropped: 300 })
            ]
        );
    }

    #[test]
    fn short_payloads_are_einval_at_the_payload() {
        let mut buf = Vec::new();
        let mut b = MsgBuilder::new(&mut buf, USERDP_MSG_CTRL, NLM_F_REQUEST, 1, 1);
        b.push(&[1, 0, 0, 0, 5, 0, 0, 0]);
        b.finish();
        let m = messages(&buf).next().unwrap().unwrap();
        let e = PrivateMsg::parse(&m).unwrap_err();
        assert_eq!((e.errno, e.offset), (EINVAL, 16));
        assert_eq!(Hello::parse(&[0; 7]).unwrap_err().errno, EINVAL);
        assert_eq!(Overflow::parse(&[0; 3]).unwrap_err().errno, EINVAL);
    }

    #[test]
    fn ops_round_trip_and_family_types_are_not_private() {
        for v in 0..6u32 {
            assert_eq!(u32::from(CtrlOp::from(v)), v);
        }
        assert_eq!(CtrlOp::from(9), CtrlOp::Unknown(9));
        assert!(!is_private(0x10) && !is_private(crate::nl::NLMSG_DONE));
        let mut buf = Vec::new();
        MsgBuilder::new(&mut buf, 0x10, 0, 0, 0).finish();
        let m = messages(&buf).next().unwrap().unwrap();
        assert_eq!(PrivateMsg::parse(&m).unwrap(), None);
    }
}
