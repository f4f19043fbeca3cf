//! The `ovs_meter` family: meter features, set, get and delete.
//!
//! ≈ `ovs_meter_cmd_*`, `ovs_meter_cmd_reply_stats`, `dp_meter_create`, `meter_policy` and
//! `band_policy` in `net/openvswitch/meter.c` (Linux 6.1); `dpif_netlink_meter_*` in OVS
//! `lib/dpif-netlink.c`.

use crate::errno::EINVAL;
use crate::nl::attr::nla_size;
use crate::nl::{Nla, NlaIter, NlaWriter};
use crate::ovs::common::{
    begin, c_enum, get_u32, get_u64, parse_liberal, parse_msg, Pol, FIXED_LEN,
};
use crate::ovs::OVS_METER_VERSION;
use crate::{Error, Result};

pub use crate::ovs::common::OvsFlowStats;

c_enum! {
    /// `enum ovs_meter_cmd`.
    pub enum OvsMeterCmd: u8 {
        /// Never valid.
        OVS_METER_CMD_UNSPEC = 0,
        /// Query the meter limits.
        OVS_METER_CMD_FEATURES = 1,
        /// Create or replace a meter.
        OVS_METER_CMD_SET = 2,
        /// Delete a meter.
        OVS_METER_CMD_DEL = 3,
        /// Query a meter's statistics.
        OVS_METER_CMD_GET = 4,
    }
}

c_enum! {
    /// `enum ovs_meter_attr`.
    pub enum OvsMeterAttr: u16 {
        /// Unused type 0.
        OVS_METER_ATTR_UNSPEC = 0,
        /// Meter id (`u32`).
        OVS_METER_ATTR_ID = 1,
        /// Rates are in kbit/s (flag; else packets/s).
        OVS_METER_ATTR_KBPS = 2,
        /// `struct ovs_flow_stats`.
        OVS_METER_ATTR_STATS = 3,
        /// Nested list of bands, each nested with type `OVS_BAND_ATTR_UNSPEC`.
        OVS_METER_ATTR_BANDS = 4,
        /// Last use, monotonic milliseconds (`u64`).
        OVS_METER_ATTR_USED = 5,
        /// SET: do not keep statistics (flag).
        OVS_METER_ATTR_CLEAR = 6,
        /// FEATURES reply: most meters (`u32`).
        OVS_METER_ATTR_MAX_METERS = 7,
        /// FEATURES reply: most bands per meter (`u32`).
        OVS_METER_ATTR_MAX_BANDS = 8,
        /// 64-bit alignment padding (never emitted on x86-64).
        OVS_METER_ATTR_PAD = 9,
    }
}

/// `OVS_METER_ATTR_MAX`.
pub const OVS_METER_ATTR_MAX: u16 = 9;

c_enum! {
    /// `enum ovs_band_attr`.
    pub enum OvsBandAttr: u16 {
        /// The type every band entry in `BANDS` carries.
        OVS_BAND_ATTR_UNSPEC = 0,
        /// `OVS_METER_BAND_TYPE_*` (`u32`).
        OVS_BAND_ATTR_TYPE = 1,
        /// Rate (`u32`, non-zero).
        OVS_BAND_ATTR_RATE = 2,
        /// Burst size (`u32`).
        OVS_BAND_ATTR_BURST = 3,
        /// `struct ovs_flow_stats`.
        OVS_BAND_ATTR_STATS = 4,
    }
}

/// `OVS_BAND_ATTR_MAX`.
pub const OVS_BAND_ATTR_MAX: u16 = 4;

c_enum! {
    /// `enum ovs_meter_band_type`.
    pub enum OvsMeterBandType: u32 {
        /// Never valid.
        OVS_METER_BAND_TYPE_UNSPEC = 0,
        /// Drop packets above the rate (the only type with an effect).
        OVS_METER_BAND_TYPE_DROP = 1,
    }
}

/// `DP_MAX_BANDS`: the kernel accepts one band per meter.
pub const DP_MAX_BANDS: u32 = 1;
/// `DP_METER_NUM_MAX`: the upper bound of `MAX_METERS`.
pub const DP_METER_NUM_MAX: u32 = 200_000;

/// One entry of `OVS_METER_ATTR_BANDS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct MeterBand {
    /// `OVS_BAND_ATTR_TYPE`.
    pub kind: Option<OvsMeterBandType>,
    /// `OVS_BAND_ATTR_RATE`.
    pub rate: Option<u32>,
    /// `OVS_BAND_ATTR_BURST`.
    pub burst: Option<u32>,
    /// `OVS_BAND_ATTR_STATS`.
    pub stats: Option<OvsFlowStats>,
}

/// One `ovs_meter` message, request or reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterMsg {
    /// Command.
    pub cmd: OvsMeterCmd,
    /// `ovs_header.dp_ifindex` (replies echo the request's).
    pub dp_ifindex: i32,
    /// `OVS_METER_ATTR_ID`.
    pub id: Option<u32>,
    /// The SET reply for a replaced meter that kept statistics puts `ID` twice: once for the
    /// new meter, once heading the old meter's statistics.
    pub id_repeated: bool,
    /// `OVS_METER_ATTR_KBPS`.
    pub kbps: bool,
    /// `OVS_METER_ATTR_CLEAR`.
    pub clear: bool,
    /// `OVS_METER_ATTR_STATS`.
    pub stats: Option<OvsFlowStats>,
    /// `OVS_METER_ATTR_USED`.
    pub used: Option<u64>,
    /// `OVS_METER_ATTR_MAX_METERS`.
    pub max_meters: Option<u32>,
    /// `OVS_METER_ATTR_MAX_BANDS`.
    pub max_bands: Option<u32>,
    /// `OVS_METER_ATTR_BANDS`.
    ///
    /// The kernel reads bands only in SET (`dp_meter_create`): more than [`DP_MAX_BANDS`]
    /// entries is `EINVAL`, a band failing `band_policy` is its error, a band without
    /// `TYPE`/`RATE`/`BURST` or with rate 0 is `EINVAL`. Other commands ignore `BANDS`, and
    /// bands that do not decode there yield `None`.
    pub bands: Option<Vec<MeterBand>>,
}

const POLICY: [Pol; OVS_METER_ATTR_MAX as usize + 1] = [
    Pol::Any,                        // UNSPEC
    Pol::U32,                        // ID
    Pol::Flag,                       // KBPS
    Pol::MinLen(OvsFlowStats::SIZE), // STATS
    Pol::Nested,                     // BANDS
    Pol::U64,                        // USED
    Pol::Flag,                       // CLEAR
    Pol::U32,                        // MAX_METERS
    Pol::U32,                        // MAX_BANDS
    Pol::Any,                        // PAD
];

const BAND_POLICY: [Pol; OVS_BAND_ATTR_MAX as usize + 1] = [
    Pol::Any,                        // UNSPEC
    Pol::U32,                        // TYPE
    Pol::U32,                        // RATE
    Pol::U32,                        // BURST
    Pol::MinLen(OvsFlowStats::SIZE), // STATS
];

fn attr(a: OvsMeterAttr) -> u16 {
    a.into()
}

fn band_attr(a: OvsBandAttr) -> u16 {
    a.into()
}

/// Decodes the entries of `BANDS`, checking them as `dp_meter_create` does when `strict`.
fn parse_bands(bands: &Nla<'_>, strict: bool) -> Result<Vec<MeterBand>> {
    // nla_for_each_nested: the walk ends quietly at a malformed header.
    let entries: Vec<Nla<'_>> = bands.nested().map_while(|n| n.ok()).collect();
    if strict && entries.len() > DP_MAX_BANDS as usize {
        return Err(Error::inval(bands.offset, "too many meter bands"));
    }
    let mut out = Vec::with_capacity(entries.len());
    for e in &entries {
        let t = parse_liberal(e.payload, e.payload_offset(), &BAND_POLICY)?;
        let get = |k: OvsBandAttr| t[usize::from(band_attr(k))];
        let band = MeterBand {
            kind: get(OvsBandAttr::OVS_BAND_ATTR_TYPE).map(|n| get_u32(&n).into()),
            rate: get(OvsBandAttr::OVS_BAND_ATTR_RATE).map(|n| get_u32(&n)),
            burst: get(OvsBandAttr::OVS_BAND_ATTR_BURST).map(|n| get_u32(&n)),
            stats: get(OvsBandAttr::OVS_BAND_ATTR_STATS)
                .and_then(|n| OvsFlowStats::parse(n.payload)),
        };
        if strict {
            if band.kind.is_none() || band.rate.is_none() || band.burst.is_none() {
                return Err(Error::inval(
                    e.offset,
                    "meter band needs type, rate and burst",
                ));
            }
            if band.rate == Some(0) {
                return Err(Error::new(
                    EINVAL,
                    e.offset,
                    "meter band rate must be non-zero",
                ));
            }
        }
        out.push(band);
    }
    Ok(out)
}

impl MeterBand {
    /// Encoded size of the band's nest payload.
    fn payload_len(&self) -> usize {
        self.kind.map_or(0, |_| nla_size(4))
            + self.rate.map_or(0, |_| nla_size(4))
            + self.burst.map_or(0, |_| nla_size(4))
            + self.stats.map_or(0, |_| nla_size(OvsFlowStats::SIZE))
    }

    fn emit(&self, w: &mut NlaWriter<'_>) {
        w.nested(band_attr(OvsBandAttr::OVS_BAND_ATTR_UNSPEC), |w| {
            if let Some(k) = self.kind {
                w.put_u32(band_attr(OvsBandAttr::OVS_BAND_ATTR_TYPE), k.into());
            }
            if let Some(v) = self.rate {
                w.put_u32(band_attr(OvsBandAttr::OVS_BAND_ATTR_RATE), v);
            }
            if let Some(v) = self.burst {
                w.put_u32(band_attr(OvsBandAttr::OVS_BAND_ATTR_BURST), v);
            }
            if let Some(s) = &self.stats {
                w.put(band_attr(OvsBandAttr::OVS_BAND_ATTR_STATS), &s.to_bytes());
            }
        });
    }
}

impl MeterMsg {
    /// A message with no attributes.
    pub fn new(cmd: OvsMeterCmd, dp_ifindex: i32) -> Self {
        MeterMsg {
            cmd,
            dp_ifindex,
            id: None,
            id_repeated: false,
            kbps: false,
            clear: false,
            stats: None,
            used: None,
            max_meters: None,
            max_bands: None,
            bands: None,
        }
    }

    /// Decodes a netlink payload (genl header onwards); error offsets count from the
    /// `nlmsghdr`.
    pub fn parse(payload: &[u8]) -> Result<Self> {
        Self::parse_as(payload, true)
    }

    /// Decodes a reply (for clients such as the CLI): like [`parse`](Self::parse), but the
    /// bands of a SET reply carry only statistics, so `dp_meter_create`'s band checks are
    /// skipped.
    pub fn parse_reply(payload: &[u8]) -> Result<Self> {
        Self::parse_as(payload, false)
    }

    fn parse_as(payload: &[u8], request: bool) -> Result<Self> {
        let (f, a) = parse_msg(payload, &POLICY)?;
        let mut m = MeterMsg::new(OvsMeterCmd::from(f.genl.cmd), f.dp_ifindex);
        let get = |k: OvsMeterAttr| a[usize::from(attr(k))];
        m.id = get(OvsMeterAttr::OVS_METER_ATTR_ID).map(|n| get_u32(&n));
        let id_kind = attr(OvsMeterAttr::OVS_METER_ATTR_ID);
        m.id_repeated = NlaIter::with_base(f.attrs, 0)
            .map_while(|n| n.ok())
            .filter(|n| n.kind == id_kind)
            .count()
            > 1;
        m.kbps = get(OvsMeterAttr::OVS_METER_ATTR_KBPS).is_some();
        m.clear = get(OvsMeterAttr::OVS_METER_ATTR_CLEAR).is_some();
        m.stats =
            get(OvsMeterAttr::OVS_METER_ATTR_STATS).and_then(|n| OvsFlowStats::parse(n.payload));
        m.used = get(OvsMeterAttr::OVS_METER_ATTR_USED).map(|n| get_u64(&n));
        m.max_meters = get(OvsMeterAttr::OVS_METER_ATTR_MAX_METERS).map(|n| get_u32(&n));
        m.max_bands = get(OvsMeterAttr::OVS_METER_ATTR_MAX_BANDS).map(|n| get_u32(&n));
        if let Some(n) = get(OvsMeterAttr::OVS_METER_ATTR_BANDS) {
            m.bands = if request && m.cmd == OvsMeterCmd::OVS_METER_CMD_SET {
                Some(parse_bands(&n, true)?)
            } else {
                parse_bands(&n, false).ok()
            };
        }
        Ok(m)
    }

    /// Size of the whole message [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        let id = self.id.map_or(0, |_| nla_size(4));
        FIXED_LEN
            + id
            + if self.id.is_some() && self.id_repeated {
                id
            } else {
                0
            }
            + usize::from(self.kbps) * nla_size(0)
            + usize::from(self.clear) * nla_size(0)
            + self.stats.map_or(0, |_| nla_size(OvsFlowStats::SIZE))
            + self.used.map_or(0, |_| nla_size(8))
            + self.max_meters.map_or(0, |_| nla_size(4))
            + self.max_bands.map_or(0, |_| nla_size(4))
            + self.bands.as_ref().map_or(0, |b| {
                nla_size(b.iter().map(|b| nla_size(b.payload_len())).sum())
            })
    }

    /// Appends the whole message: `ID` (twice if [`id_repeated`](Self::id_repeated)), `KBPS`,
    /// `CLEAR`, `STATS`, `USED`, `MAX_METERS`, `MAX_BANDS`, `BANDS` — the order of both
    /// `ovs_meter_cmd_reply_stats` (`ID, STATS, USED, BANDS`) and the FEATURES reply
    /// (`MAX_METERS, MAX_BANDS, BANDS`). Bands carry `TYPE, RATE, BURST, STATS`.
    pub fn emit(&self, buf: &mut Vec<u8>, family_id: u16, flags: u16, seq: u32, pid: u32) {
        buf.reserve(self.buffer_len());
        let mut m = begin(
            buf,
            family_id,
            flags,
            seq,
            pid,
            self.cmd.into(),
            OVS_METER_VERSION,
            self.dp_ifindex,
        );
        let mut w = m.attrs();
        if let Some(v) = self.id {
            w.put_u32(attr(OvsMeterAttr::OVS_METER_ATTR_ID), v);
            if self.id_repeated {
                w.put_u32(attr(OvsMeterAttr::OVS_METER_ATTR_ID), v);
            }
        }
        if self.kbps {
            w.put_flag(attr(OvsMeterAttr::OVS_METER_ATTR_KBPS));
        }
        if self.clear {
            w.put_flag(attr(OvsMeterAttr::OVS_METER_ATTR_CLEAR));
        }
        if let Some(s) = &self.stats {
            w.put(attr(OvsMeterAttr::OVS_METER_ATTR_STATS), &s.to_bytes());
        }
        if let Some(v) = self.used {
            w.put_u64(attr(OvsMeterAttr::OVS_METER_ATTR_USED), v);
        }
        if let Some(v) = self.max_meters {
            w.put_u32(attr(OvsMeterAttr::OVS_METER_ATTR_MAX_METERS), v);
        }
        if let Some(v) = self.max_bands {
            w.put_u32(attr(OvsMeterAttr::OVS_METER_ATTR_MAX_BANDS), v);
        }
        if let Some(bands) = &self.bands {
            w.nested(attr(OvsMeterAttr::OVS_METER_ATTR_BANDS), |w| {
                for b in bands {
                    b.emit(w);
                }
            });
        }
        m.finish();
    }
}
