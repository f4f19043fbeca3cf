//! Meters: token buckets with per-band statistics, updated lock-free by packet threads.
//!
//! ≈ `net/openvswitch/meter.c` (`ovs_meter_execute`). Semantics copied from the kernel: a
//! band's bucket holds `burst * 1000` units, refills at `rate` units per millisecond, starts
//! full; a packet costs 1000 units (packets/s) or `len * 8` units (kbit/s); among the bands
//! whose bucket cannot pay, the one with the highest rate fires, and a DROP band drops.

use std::sync::atomic::{AtomicU64, Ordering};

/// `OVS_METER_BAND_TYPE_DROP`.
pub const OVS_METER_BAND_TYPE_DROP: u32 = 1;

/// Packet and byte counters updated with relaxed atomics.
#[derive(Debug, Default)]
pub struct Counters {
    /// Packets counted.
    pub packets: AtomicU64,
    /// Bytes counted.
    pub bytes: AtomicU64,
}

impl Counters {
    /// Adds one packet of `len` bytes.
    pub fn add(&self, len: usize) {
        self.packets.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(len as u64, Ordering::Relaxed);
    }
    /// Current `(packets, bytes)`.
    pub fn get(&self) -> (u64, u64) {
        (
            self.packets.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
    /// Counters preloaded with the given values.
    pub fn with(packets: u64, bytes: u64) -> Self {
        Counters {
            packets: AtomicU64::new(packets),
            bytes: AtomicU64::new(bytes),
        }
    }
}

/// One band of a meter.
#[derive(Debug)]
pub struct Band {
    /// `OVS_BAND_ATTR_TYPE`.
    pub kind: u32,
    /// `OVS_BAND_ATTR_RATE`: kbit/s or packets/s.
    pub rate: u32,
    /// `OVS_BAND_ATTR_BURST`: kbit or packets.
    pub burst: u32,
    /// Packets and bytes that exceeded this band.
    pub stats: Counters,
    bucket: AtomicU64,
}

impl Band {
    /// A band with a full bucket.
    pub fn new(kind: u32, rate: u32, burst: u32, stats: Counters) -> Band {
        Band {
            kind,
            rate,
            burst,
            stats,
            bucket: AtomicU64::new(Self::capacity(burst)),
        }
    }
    fn capacity(burst: u32) -> u64 {
        u64::from(burst) * 1000
    }
}

/// A meter as installed by `OVS_METER_CMD_SET`.
#[derive(Debug)]
pub struct Meter {
    /// `OVS_METER_ATTR_ID`.
    pub id: u32,
    /// Rates are in kbit/s (else packets/s).
    pub kbps: bool,
    /// The bands, at most one in the kernel's implementation.
    pub bands: Vec<Band>,
    /// Every packet that went through the meter.
    pub stats: Counters,
    /// Monotonic ms of the last packet (0 = never).
    pub used: AtomicU64,
    last_fill: AtomicU64,
    keep_stats: bool,
}

impl Meter {
    /// A new meter whose buckets were last filled at `now_ms`.
    pub fn new(id: u32, kbps: bool, bands: Vec<Band>, stats: Counters, now_ms: u64) -> Meter {
        Meter {
            keep_stats: true,
            id,
            kbps,
            bands,
            stats,
            used: AtomicU64::new(0),
            last_fill: AtomicU64::new(now_ms),
        }
    }

    /// Accounts one packet of `len` bytes at `now_ms`; returns true if it must be dropped.
    pub fn execute(&self, len: usize, now_ms: u64) -> bool {
        self.stats.add(len);
        self.used.store(now_ms, Ordering::Relaxed);
        // Only one thread wins the refill for a given interval; the others see the elapsed
        // time already credited, so tokens are never added twice.
        let last = self.last_fill.swap(
            now_ms.max(self.last_fill.load(Ordering::Relaxed)),
            Ordering::AcqRel,
        );
        let delta_ms = now_ms.saturating_sub(last);
        let cost = if self.kbps { len as u64 * 8 } else { 1000 };
        let mut fired: Option<&Band> = None;
        for band in &self.bands {
            let cap = Band::capacity(band.burst);
            let credit = delta_ms.saturating_mul(u64::from(band.rate));
            let mut cur = band.bucket.load(Ordering::Relaxed);
            loop {
                let filled = cur.saturating_add(credit).min(cap);
                let (next, paid) = if filled >= cost {
                    (filled - cost, true)
                } else {
                    (filled, false)
                };
                match band.bucket.compare_exchange_weak(
                    cur,
                    next,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        if !paid && fired.is_none_or(|f| band.rate > f.rate) {
                            fired = Some(band);
                        }
                        break;
                    }
                    Err(actual) => cur = actual,
                }
            }
        }
        match fired {
            Some(band) => {
                band.stats.add(len);
                band.kind == OVS_METER_BAND_TYPE_DROP
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pps_band_drops_beyond_burst_and_refills() {
        // 10 packets/s with a burst of 2: two packets pass at once, the third is dropped.
        let m = Meter::new(
            1,
            false,
            vec![Band::new(
                OVS_METER_BAND_TYPE_DROP,
                10,
                2,
                Counters::default(),
            )],
            Counters::default(),
            0,
        );
        assert!(!m.execute(60, 0));
        assert!(!m.execute(60, 0));
        assert!(m.execute(60, 0));
        // 100 ms later one packet's worth (10/s * 0.1 s) has been refilled.
        assert!(!m.execute(60, 100));
        assert!(m.execute(60, 100));
        assert_eq!(m.stats.get(), (5, 300));
        assert_eq!(m.bands[0].stats.get(), (2, 120));
    }

    #[test]
    fn kbps_band_costs_bits() {
        // 1000 kbit/s, burst 8 kbit = 1000 bytes: one 1000-byte packet passes, the next drops.
        let m = Meter::new(
            2,
            true,
            vec![Band::new(
                OVS_METER_BAND_TYPE_DROP,
                1000,
                8,
                Counters::default(),
            )],
            Counters::default(),
            0,
        );
        assert!(!m.execute(1000, 5));
        assert!(m.execute(1000, 5));
        // 8 ms at 1000 kbit/s refill 8000 units = 1000 bytes.
        assert!(!m.execute(1000, 13));
    }

    #[test]
    fn non_drop_band_only_counts() {
        let m = Meter::new(
            3,
            false,
            vec![Band::new(7, 1, 1, Counters::default())],
            Counters::default(),
            0,
        );
        assert!(!m.execute(10, 0));
        assert!(!m.execute(10, 0));
        assert_eq!(m.bands[0].stats.get(), (1, 10));
    }
}

/// Command handlers of `ovs_meter`.
///
/// ≈ `ovs_meter_cmd_features`, `ovs_meter_cmd_set`, `ovs_meter_cmd_get`, `ovs_meter_cmd_del`.
mod cmd {
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    use userdp_protocol::errno::{EFBIG, EINVAL, ENODEV, ENOENT, EOPNOTSUPP};
    use userdp_protocol::nl::NlMsg;
    use userdp_protocol::ovs::flow::OvsFlowStats;
    use userdp_protocol::ovs::meter::{
        MeterBand, MeterMsg, OvsMeterBandType, OvsMeterCmd, DP_MAX_BANDS, DP_METER_NUM_MAX,
    };
    use userdp_protocol::{Error, Result};

    use super::{Band, Counters, Meter};
    use crate::dp::{Ctx, Outcome, Registry, FAMILY_METER};

    fn stats_of(c: &Counters) -> OvsFlowStats {
        let (n_packets, n_bytes) = c.get();
        OvsFlowStats { n_packets, n_bytes }
    }

    /// `ovs_meter_cmd_reply_stats`: ID, STATS, USED, and each band's STATS.
    fn put_stats(m: &mut MeterMsg, meter: &Meter) {
        if m.id.is_some() {
            m.id_repeated = true;
        }
        m.id = Some(meter.id);
        m.stats = Some(stats_of(&meter.stats));
        m.used = Some(meter.used.load(Ordering::Relaxed));
        m.bands = Some(
            meter
                .bands
                .iter()
                .map(|b| MeterBand {
                    stats: Some(stats_of(&b.stats)),
                    ..MeterBand::default()
                })
                .collect(),
        );
    }

    fn reply(m: &MeterMsg, ctx: &Ctx<'_>) -> Outcome {
        let mut buf = Vec::with_capacity(m.buffer_len());
        m.emit(&mut buf, FAMILY_METER, 0, ctx.seq, ctx.peer.portid);
        Outcome::Reply(buf)
    }

    /// Dispatches an `ovs_meter` request; every command replies.
    pub fn handle(reg: &Registry, ctx: &Ctx<'_>, msg: &NlMsg<'_>) -> Result<Outcome> {
        let req = MeterMsg::parse(msg.payload)?;
        let mut out = MeterMsg::new(req.cmd, req.dp_ifindex);
        let no_dp = || Error::new(ENODEV, 0, "no such datapath");
        match req.cmd {
            OvsMeterCmd::OVS_METER_CMD_FEATURES => {
                reg.with_state(|st| st.dps.get(&req.dp_ifindex).map(|_| ()).ok_or_else(no_dp))?;
                out.max_meters = Some(DP_METER_NUM_MAX);
                out.max_bands = Some(DP_MAX_BANDS);
                out.bands = Some(vec![MeterBand {
                    kind: Some(OvsMeterBandType::OVS_METER_BAND_TYPE_DROP),
                    ..MeterBand::default()
                }]);
            }
            OvsMeterCmd::OVS_METER_CMD_SET => {
                let id = req.id.ok_or(Error::new(EINVAL, 0, "meter SET needs ID"))?;
                let bands =
                    req.bands
                        .as_ref()
                        .ok_or(Error::new(EINVAL, 0, "meter SET needs BANDS"))?;
                let bands = bands
                    .iter()
                    .map(|b| match (b.kind, b.rate, b.burst) {
                        (Some(k), Some(rate), Some(burst)) if rate != 0 => {
                            let stats = b.stats.map_or_else(Counters::default, |s| {
                                Counters::with(s.n_packets, s.n_bytes)
                            });
                            Ok(Band::new(k.into(), rate, burst, stats))
                        }
                        _ => Err(Error::new(
                            EINVAL,
                            0,
                            "meter band needs TYPE, RATE (non-zero) and BURST",
                        )),
                    })
                    .collect::<Result<Vec<_>>>()?;
                let stats = req.stats.map_or_else(Counters::default, |s| {
                    Counters::with(s.n_packets, s.n_bytes)
                });
                let meter = Arc::new(Meter {
                    keep_stats: !req.clear,
                    ..Meter::new(id, req.kbps, bands, stats, ctx.now_ms)
                });
                out.id = Some(id);
                reg.with_state(|st| -> Result<()> {
                    let dp = st.dps.get_mut(&req.dp_ifindex).ok_or_else(no_dp)?;
                    if !dp.meters.contains_key(&id)
                        && dp.meters.len() + 1 >= DP_METER_NUM_MAX as usize
                    {
                        return Err(Error::new(EFBIG, 0, "too many meters"));
                    }
                    if let Some(old) = dp.meters.insert(id, meter) {
                        if old.keep_stats() {
                            put_stats(&mut out, &old);
                        }
                    }
                    dp.publish();
                    Ok(())
                })?;
                return Ok(reply(&out, ctx));
            }
            OvsMeterCmd::OVS_METER_CMD_GET => {
                let id = req.id.ok_or(Error::new(EINVAL, 0, "meter GET needs ID"))?;
                reg.with_state(|st| -> Result<()> {
                    let dp = st.dps.get(&req.dp_ifindex).ok_or_else(no_dp)?;
                    let meter = dp
                        .meters
                        .get(&id)
                        .ok_or(Error::new(ENOENT, 0, "no such meter"))?;
                    put_stats(&mut out, meter);
                    Ok(())
                })?;
            }
            OvsMeterCmd::OVS_METER_CMD_DEL => {
                let id = req.id.ok_or(Error::new(EINVAL, 0, "meter DEL needs ID"))?;
                reg.with_state(|st| -> Result<()> {
                    let dp = st.dps.get_mut(&req.dp_ifindex).ok_or_else(no_dp)?;
                    if let Some(old) = dp.meters.remove(&id) {
                        put_stats(&mut out, &old);
                    }
                    dp.publish();
                    Ok(())
                })?;
            }
            _ => return Err(Error::new(EOPNOTSUPP, 0, "unknown meter command")),
        }
        Ok(reply(&out, ctx))
    }
}

pub use cmd::handle;

impl Meter {
    /// Whether a replacing SET reports this meter's statistics (it was created without CLEAR).
    pub fn keep_stats(&self) -> bool {
        self.keep_stats
    }
}
