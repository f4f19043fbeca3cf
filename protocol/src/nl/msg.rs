//! `struct nlmsghdr`, datagrams of several messages, `NLMSG_ERROR` with extended ack, `NLMSG_DONE`.

use nom::number::complete::{le_u16, le_u32};

use crate::errno::EINVAL;
use crate::nl::attr::{align, NlaIter, NlaWriter};
use crate::{Error, Result};

/// Size of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;

/// No-op message, ignored by receivers.
pub const NLMSG_NOOP: u16 = 1;
/// Error or acknowledgement (`struct nlmsgerr`).
pub const NLMSG_ERROR: u16 = 2;
/// End of a multipart (dump) reply.
pub const NLMSG_DONE: u16 = 3;
/// Data lost.
pub const NLMSG_OVERRUN: u16 = 4;
/// First type available to families; also `GENL_ID_CTRL`.
pub const NLMSG_MIN_TYPE: u16 = 0x10;

/// It is a request message.
pub const NLM_F_REQUEST: u16 = 0x01;
/// Part of a multipart message terminated by `NLMSG_DONE`.
pub const NLM_F_MULTI: u16 = 0x02;
/// Reply with an acknowledgement on success.
pub const NLM_F_ACK: u16 = 0x04;
/// Echo this request (unicast the resulting notification to the requester).
pub const NLM_F_ECHO: u16 = 0x08;
/// The dump was inconsistent because the data changed while it was taken.
pub const NLM_F_DUMP_INTR: u16 = 0x10;
/// The dump was filtered as the request asked.
pub const NLM_F_DUMP_FILTERED: u16 = 0x20;
/// GET: return the complete table.
pub const NLM_F_ROOT: u16 = 0x100;
/// GET: return all matching entries.
pub const NLM_F_MATCH: u16 = 0x200;
/// GET: return an atomic snapshot.
pub const NLM_F_ATOMIC: u16 = 0x400;
/// GET: a dump (`ROOT | MATCH`; both bits must be set).
pub const NLM_F_DUMP: u16 = NLM_F_ROOT | NLM_F_MATCH;
/// NEW: replace an existing object.
pub const NLM_F_REPLACE: u16 = 0x100;
/// NEW: fail if the object exists.
pub const NLM_F_EXCL: u16 = 0x200;
/// NEW: create if it does not exist.
pub const NLM_F_CREATE: u16 = 0x400;
/// NEW: add to the end of the list.
pub const NLM_F_APPEND: u16 = 0x800;
/// ACK: the echoed request was capped to its header.
pub const NLM_F_CAPPED: u16 = 0x100;
/// ACK: extended ack TLVs follow the echoed request.
pub const NLM_F_ACK_TLVS: u16 = 0x200;

/// Extended ack: error message string.
pub const NLMSGERR_ATTR_MSG: u16 = 1;
/// Extended ack: offset of the offending attribute within the request.
pub const NLMSGERR_ATTR_OFFS: u16 = 2;
/// Extended ack: a cookie.
pub const NLMSGERR_ATTR_COOKIE: u16 = 3;

/// `struct nlmsghdr`: host byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct NlMsgHdr {
    /// Length of the message including this header.
    pub len: u32,
    /// Message type: a control type below 0x10 or a family id.
    pub kind: u16,
    /// `NLM_F_*` flags.
    pub flags: u16,
    /// Sequence number, echoed by replies.
    pub seq: u32,
    /// Sending port id.
    pub pid: u32,
}

impl NlMsgHdr {
    /// Decodes the 16-byte header at the start of `buf` (length is not checked against `buf`).
    pub fn parse(buf: &[u8]) -> Result<Self> {
        let parsed: nom::IResult<&[u8], _> = (|i| {
            let (i, len) = le_u32(i)?;
            let (i, kind) = le_u16(i)?;
            let (i, flags) = le_u16(i)?;
            let (i, seq) = le_u32(i)?;
            let (i, pid) = le_u32(i)?;
            Ok((
                i,
                NlMsgHdr {
                    len,
                    kind,
                    flags,
                    seq,
                    pid,
                },
            ))
        })(buf);
        parsed
            .map(|(_, h)| h)
            .map_err(|_| Error::inval(0, "message shorter than a netlink header"))
    }

    /// Appends the header's 16 bytes to `buf`.
    pub fn emit(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(&self.len.to_ne_bytes());
        buf.extend_from_slice(&self.kind.to_ne_bytes());
        buf.extend_from_slice(&self.flags.to_ne_bytes());
        buf.extend_from_slice(&self.seq.to_ne_bytes());
        buf.extend_from_slice(&self.pid.to_ne_bytes());
    }

    /// The header as a 16-byte array.
    pub fn to_bytes(&self) -> [u8; NLMSG_HDRLEN] {
        let mut v = Vec::with_capacity(NLMSG_HDRLEN);
        self.emit(&mut v);
        v.try_into().unwrap_or([0; NLMSG_HDRLEN])
    }

    /// True if both `NLM_F_DUMP` bits are set, which is what makes a GET a dump in the kernel.
    pub fn is_dump(&self) -> bool {
        self.flags & NLM_F_DUMP == NLM_F_DUMP
    }
}

/// One message of a datagram: its header, the payload after the header, and where it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NlMsg<'a> {
    /// The header.
    pub header: NlMsgHdr,
    /// Bytes after the header, up to `nlmsg_len` (no trailing padding).
    pub payload: &'a [u8],
    /// Offset of the header within the datagram.
    pub offset: usize,
    /// The whole message, header included, up to `nlmsg_len`.
    pub bytes: &'a [u8],
}

/// Iterates over the messages of one datagram, advancing by `NLMSG_ALIGN(nlmsg_len)` as
/// `netlink_rcv_skb` does. A message whose length is below 16 or beyond the datagram ends the
/// walk with `EINVAL`; a trailing fragment shorter than a header is ignored.
#[derive(Debug, Clone)]
pub struct NlMsgIter<'a> {
    rest: &'a [u8],
    offset: usize,
    failed: bool,
}

/// Splits a datagram into its netlink messages.
pub fn messages(datagram: &[u8]) -> NlMsgIter<'_> {
    NlMsgIter {
        rest: datagram,
        offset: 0,
        failed: false,
    }
}

impl<'a> Iterator for NlMsgIter<'a> {
    type Item = Result<NlMsg<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.len() < NLMSG_HDRLEN {
            return None;
        }
        let header = match NlMsgHdr::parse(self.rest) {
            Ok(h) => h,
            Err(e) => return Some(Err(e.rebase(self.offset))),
        };
        let len = header.len as usize;
        if len < NLMSG_HDRLEN || len > self.rest.len() {
            self.failed = true;
            return Some(Err(Error::inval(self.offset, "nlmsg_len out of bounds")));
        }
        let msg = NlMsg {
            header,
            payload: &self.rest[NLMSG_HDRLEN..len],
            offset: self.offset,
            bytes: &self.rest[..len],
        };
        let step = align(len).min(self.rest.len());
        self.rest = &self.rest[step..];
        self.offset += step;
        Some(Ok(msg))
    }
}

/// Builds one message in place: header first with a placeholder length, patched by `finish`.
#[derive(Debug)]
pub struct MsgBuilder<'b> {
    buf: &'b mut Vec<u8>,
    start: usize,
}

impl<'b> MsgBuilder<'b> {
    /// Starts a message of type `kind` at the end of `buf` (which must be 4-byte aligned).
    pub fn new(buf: &'b mut Vec<u8>, kind: u16, flags: u16, seq: u32, pid: u32) -> Self {
        debug_assert_eq!(buf.len() % 4, 0, "messages start 4-byte aligned");
        let start = buf.len();
        NlMsgHdr {
            len: 0,
            kind,
            flags,
            seq,
            pid,
        }
        .emit(buf);
        MsgBuilder { buf, start }
    }
    /// Appends raw bytes (fixed headers such as `genlmsghdr` or `ovs_header`).
    pub fn push(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }
    /// An attribute writer over the message body.
    pub fn attrs(&mut self) -> NlaWriter<'_> {
        NlaWriter::new(self.buf)
    }
    /// Offset of the message start within the buffer.
    pub fn start(&self) -> usize {
        self.start
    }
    /// Current length of the message, header included.
    pub fn len(&self) -> usize {
        self.buf.len() - self.start
    }
    /// Always false: a message holds at least its header.
    pub fn is_empty(&self) -> bool {
        false
    }
    /// Patches `nlmsg_len`, pads to 4 bytes, and returns the message length.
    pub fn finish(self) -> usize {
        let len = self.buf.len() - self.start;
        self.buf[self.start..self.start + 4].copy_from_slice(&(len as u32).to_ne_bytes());
        let padded = align(self.buf.len());
        self.buf.resize(padded, 0);
        len
    }
}

/// `NLMSG_ERROR`: an error or (with `error == 0`) an acknowledgement, with extended ack TLVs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorMsg {
    /// Zero for an ACK, else a negative errno.
    pub error: i32,
    /// The header of the request being answered.
    pub request: NlMsgHdr,
    /// The request payload echoed after its header; `None` when capped (`NLM_F_CAPPED`).
    pub echoed_payload: Option<Vec<u8>>,
    /// `NLMSGERR_ATTR_MSG`.
    pub ext_msg: Option<String>,
    /// `NLMSGERR_ATTR_OFFS`: offset of the bad attribute from the start of the request.
    pub ext_offs: Option<u32>,
}

impl ErrorMsg {
    /// A capped error (header-only echo, as the daemon sends them) for `request` with `errno > 0`.
    pub fn capped(request: NlMsgHdr, errno: i32) -> Self {
        ErrorMsg {
            error: -errno,
            request,
            ..Default::default()
        }
    }

    /// Flags of the message carrying this error: `CAPPED` and `ACK_TLVS` as applicable.
    pub fn flags(&self) -> u16 {
        let mut flags = 0;
        if self.echoed_payload.is_none() {
            flags |= NLM_F_CAPPED;
        }
        if self.ext_msg.is_some() || self.ext_offs.is_some() {
            flags |= NLM_F_ACK_TLVS;
        }
        flags
    }

    /// Appends the whole `NLMSG_ERROR` message, addressed with the request's seq and `pid`.
    pub fn emit(&self, buf: &mut Vec<u8>, pid: u32) {
        let mut m = MsgBuilder::new(buf, NLMSG_ERROR, self.flags(), self.request.seq, pid);
        m.push(&self.error.to_ne_bytes());
        let mut echoed = self.request;
        if let Some(p) = &self.echoed_payload {
            echoed.len = (NLMSG_HDRLEN + p.len()) as u32;
            m.push(&echoed.to_bytes());
            m.push(p);
            let pad = align(m.len()) - m.len();
            m.push(&[0; 3][..pad]);
        } else {
            m.push(&echoed.to_bytes());
        }
        let mut w = m.attrs();
        if let Some(s) = &self.ext_msg {
            w.put_str(NLMSGERR_ATTR_MSG, s);
        }
        if let Some(o) = self.ext_offs {
            w.put_u32(NLMSGERR_ATTR_OFFS, o);
        }
        m.finish();
    }

    /// Decodes the payload of an `NLMSG_ERROR` message with header flags `flags`.
    ///
    /// As OVS's `nl_msg_nlmsgerr`: at least 20 bytes, an error ≤ 0 and > `INT_MIN`.
    pub fn parse(flags: u16, payload: &[u8]) -> Result<Self> {
        if payload.len() < 4 + NLMSG_HDRLEN {
            return Err(Error::inval(
                NLMSG_HDRLEN,
                "NLMSG_ERROR shorter than struct nlmsgerr",
            ));
        }
        let error = i32::from_ne_bytes([payload[0], payload[1], payload[2], payload[3]]);
        if error > 0 || error == i32::MIN {
            return Err(Error::inval(
                NLMSG_HDRLEN,
                "NLMSG_ERROR error field out of range",
            ));
        }
        let request = NlMsgHdr::parse(&payload[4..])?;
        let mut tlv_at = 4 + NLMSG_HDRLEN;
        let mut echoed_payload = None;
        if flags & NLM_F_CAPPED == 0 {
            let end = 4 + (request.len as usize).max(NLMSG_HDRLEN);
            let Some(p) = payload.get(tlv_at..end) else {
                return Err(Error::inval(
                    NLMSG_HDRLEN + 4,
                    "echoed request longer than NLMSG_ERROR",
                ));
            };
            echoed_payload = Some(p.to_vec());
            tlv_at = align(end);
        }
        let mut msg = ErrorMsg {
            error,
            request,
            echoed_payload,
            ..Default::default()
        };
        if flags & NLM_F_ACK_TLVS != 0 {
            let tlvs = payload.get(tlv_at..).unwrap_or(&[]);
            for nla in NlaIter::with_base(tlvs, NLMSG_HDRLEN + tlv_at) {
                let nla = nla?;
                match nla.kind {
                    NLMSGERR_ATTR_MSG => msg.ext_msg = Some(nla.str(usize::MAX)?.to_owned()),
                    NLMSGERR_ATTR_OFFS => msg.ext_offs = Some(nla.u32()?),
                    _ => {}
                }
            }
        }
        Ok(msg)
    }
}

/// Appends `NLMSG_DONE` (flags `NLM_F_MULTI`, an `int` status: 0 or a negative errno).
pub fn emit_done(buf: &mut Vec<u8>, seq: u32, pid: u32, status: i32) {
    let mut m = MsgBuilder::new(buf, NLMSG_DONE, NLM_F_MULTI, seq, pid);
    m.push(&status.to_ne_bytes());
    m.finish();
}

/// Checks that `flags` contains only bits meaningful for a request of this kind; a helper for
/// tests and for the CLI's own requests.
pub fn is_request(h: &NlMsgHdr) -> bool {
    h.flags & NLM_F_REQUEST != 0
}

/// `EINVAL` for a message whose payload is shorter than `need` bytes of fixed headers.
pub fn need(payload: &[u8], need: usize) -> Result<()> {
    if payload.len() < need {
        Err(Error::new(
            EINVAL,
            NLMSG_HDRLEN,
            "message shorter than its fixed headers",
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_messages_in_one_datagram() {
        let mut buf = Vec::new();
        let mut m = MsgBuilder::new(&mut buf, 0x20, NLM_F_REQUEST, 1, 7);
        m.push(&[1, 2, 3]);
        assert_eq!(m.finish(), 19);
        MsgBuilder::new(&mut buf, 0x21, NLM_F_REQUEST | NLM_F_ECHO, 2, 7).finish();
        assert_eq!(buf.len(), 20 + 16);
        let msgs: Vec<_> = messages(&buf).collect::<Result<_>>().unwrap();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].payload, &[1, 2, 3]);
        assert_eq!(
            (msgs[1].header.kind, msgs[1].header.seq, msgs[1].offset),
            (0x21, 2, 20)
        );
    }

    #[test]
    fn bad_message_length_is_einval() {
        let mut buf = vec![0u8; 16];
        buf[0] = 40;
        assert_eq!(messages(&buf).next().unwrap().unwrap_err().errno, EINVAL);
        buf[0] = 8;
        assert_eq!(messages(&buf).next().unwrap().unwrap_err().errno, EINVAL);
    }

    #[test]
    fn capped_error_with_extack_golden() {
        let req = NlMsgHdr {
            len: 40,
            kind: 0x18,
            flags: NLM_F_REQUEST,
            seq: 5,
            pid: 99,
        };
        let e = ErrorMsg {
            ext_msg: Some("bad".into()),
            ext_offs: Some(24),
            ..ErrorMsg::capped(req, 22)
        };
        let mut buf = Vec::new();
        e.emit(&mut buf, 99);
        #[rustfmt::skip]
        let expect = [
            52, 0, 0, 0,   2, 0,   0x00, 0x03,   5, 0, 0, 0,   99, 0, 0, 0, // nlmsghdr: ERROR, CAPPED|ACK_TLVS
            0xea, 0xff, 0xff, 0xff,                                        // error = -22
            40, 0, 0, 0,   0x18, 0,   1, 0,   5, 0, 0, 0,   99, 0, 0, 0,   // echoed request header
            8, 0, 1, 0,   b'b', b'a', b'd', 0,                             // NLMSGERR_ATTR_MSG "bad"
            8, 0, 2, 0,   24, 0, 0, 0,                                     // NLMSGERR_ATTR_OFFS 24
        ];
        assert_eq!(buf, expect);
        let m = messages(&buf).next().unwrap().unwrap();
        assert_eq!(ErrorMsg::parse(m.header.flags, m.payload).unwrap(), e);
    }

    #[test]
    fn uncapped_error_echoes_payload() {
        let req = NlMsgHdr {
            len: 22,
            kind: 0x18,
            flags: NLM_F_REQUEST,
            seq: 5,
            pid: 99,
        };
        let e = ErrorMsg {
            echoed_payload: Some(vec![1, 2, 3, 4, 5, 6]),
            ..ErrorMsg::capped(req, 2)
        };
        let mut buf = Vec::new();
        e.emit(&mut buf, 99);
        let m = messages(&buf).next().unwrap().unwrap();
        assert_eq!(m.header.flags, 0);
        assert_eq!(ErrorMsg::parse(m.header.flags, m.payload).unwrap(), e);
    }

    #[test]
    fn done_golden() {
        let mut buf = Vec::new();
        emit_done(&mut buf, 9, 3, 0);
        assert_eq!(
            buf,
            [20, 0, 0, 0, 3, 0, 2, 0, 9, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn error_field_range_is_checked() {
        let mut p = vec![1, 0, 0, 0];
        p.extend_from_slice(&[0; 16]);
        assert!(ErrorMsg::parse(NLM_F_CAPPED, &p).is_err());
        p[..4].copy_from_slice(&i32::MIN.to_ne_bytes());
        assert!(ErrorMsg::parse(NLM_F_CAPPED, &p).is_err());
    }
}
