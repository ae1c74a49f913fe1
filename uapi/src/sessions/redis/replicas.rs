//! Waiting for replicas after a write (`RedisBackend::wait_for_replicas`):
//! the `WAIT` command, what its reply means, and the guard that keeps a
//! primary without enough replicas from stalling its connection.
//!
//! `WAIT n timeout` blocks the connection it is sent on until `n` replicas
//! acknowledged that connection's writes, or the timeout passes. A primary
//! that lacks replicas (its replica died, or it is a replica just promoted
//! by a failover, whose old primary is gone) answers every `WAIT` only at
//! the timeout, and each one holds every command queued behind it on the
//! shared connection: the reads of the sessions on that primary would time
//! out with the writes. So once a `WAIT` came back short, the primary's
//! writes (every hash slot it serves, on a cluster) are refused at once for
//! [`COOLDOWN`], without being sent; then one write goes out as a probe
//! (the others are still refused while it is out), and a probe that is
//! acknowledged in full ends the refusals.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis::{Cmd, Value};

use super::wire::{Cmds, Unit};
use crate::sessions::SessionError;

/// How long writes to a primary that lacked replicas are refused before a probe.
pub(super) const COOLDOWN: Duration = Duration::from_secs(1);

/// The hash slots of a cluster.
pub(super) const SLOTS: u16 = 16384;

/// `WAIT replicas timeout` after the writes (one per batch where commands
/// are batched, one per write otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ReplicaWait {
    pub(super) replicas: u32,
    pub(super) timeout: Duration,
}

impl ReplicaWait {
    /// `WAIT n ms` into `u` (never `WAIT n 0`, which waits forever).
    pub(super) fn write(&self, u: &mut dyn Unit) {
        let (mut n, mut ms) = (itoa::Buffer::new(), itoa::Buffer::new());
        let millis = u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX).max(1);
        u.begin(3);
        u.arg(b"WAIT");
        u.arg(n.format(self.replicas).as_bytes());
        u.arg(ms.format(millis).as_bytes());
    }

    /// `WAIT n ms` as a redis-rs command.
    pub(super) fn cmd(&self) -> Cmd {
        let mut unit = Cmds::default();
        self.write(&mut unit);
        unit.finish().and_then(|mut c| c.pop()).unwrap_or_else(|| redis::cmd("WAIT"))
    }

    /// Whether `WAIT`'s reply (how many replicas acknowledged) is enough:
    /// `Ok(true)`, `Ok(false)` (short), or an error for a reply that is no count.
    pub(super) fn enough(&self, reply: Option<Value>) -> Result<bool, SessionError> {
        match reply {
            Some(Value::Int(n)) => Ok(n >= i64::from(self.replicas)),
            other => Err(SessionError::Backend(format!("unexpected reply to WAIT: {other:?}"))),
        }
    }

    /// The error of a write fewer replicas acknowledged than required. It is
    /// transient: the write is on the primary (a failover now may lose it),
    /// so the request is a 503, "maybe applied", as a lost reply is.
    pub(super) fn short(&self) -> SessionError {
        SessionError::Unavailable(format!(
            "written on the primary, but fewer than the {} replica(s) required acknowledged it within {:?}",
            self.replicas, self.timeout
        ))
    }
}

/// The error of a write refused without being sent.
fn refused() -> SessionError {
    SessionError::Unavailable(
        "the Redis primary for this session lacked the replicas its writes must wait for a moment ago; \
         write refused without sending it"
            .into(),
    )
}

/// A primary found short of replicas: its slots (inclusive ranges), when
/// the next probe may go, and whether one is out.
struct Shortage {
    slots: Vec<(u16, u16)>,
    until: Instant,
    probing: bool,
}

impl Shortage {
    fn covers(&self, slot: u16) -> bool {
        self.slots.iter().any(|&(lo, hi)| (lo..=hi).contains(&slot))
    }
}

/// What [`Shortages::admit`] lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admitted {
    /// No known shortage: a write like any other.
    Write,
    /// The probe of a primary found short before.
    Probe,
}

/// The primaries found short of replicas, by their slots.
#[derive(Default)]
pub(super) struct Shortages(Mutex<Vec<Shortage>>);

/// What one request's write was admitted as, per slot it writes. A probe
/// among them that is dropped unsettled (the request was cancelled while its
/// `WAIT` was out: the client went away, a timeout layer fired) counts as
/// short: its primary's cooldown starts again and another probe may go after
/// it. Without that, `probing` would stay set and the primary's writes would
/// be refused for good.
pub(super) struct Admission<'a> {
    shortages: &'a Shortages,
    slots: Vec<(u16, Admitted)>,
    settled: bool,
}

impl Admission<'_> {
    /// What the write to `slot` was admitted as.
    pub(super) fn of(&self, slot: u16) -> Option<Admitted> {
        self.slots.iter().find(|a| a.0 == slot).map(|a| a.1)
    }

    /// What the write to the first slot was admitted as (a single node has one).
    pub(super) fn first(&self) -> Option<Admitted> {
        self.slots.first().map(|a| a.1)
    }

    /// The slots this write probes.
    pub(super) fn probes(&self) -> Vec<u16> {
        self.slots.iter().filter(|a| a.1 == Admitted::Probe).map(|a| a.0).collect()
    }

    /// The outcome was recorded (healed, or renewed): nothing to undo on drop.
    pub(super) fn settle(&mut self) {
        self.settled = true;
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        if !self.settled {
            for slot in self.probes() {
                self.shortages.renew(slot);
            }
        }
    }
}

impl Shortages {
    /// Admits a write to every slot of `slots`, or refuses it whole (a probe
    /// admitted before the refusal is given back).
    pub(super) fn admit_all(&self, slots: &[u16]) -> Result<Admission<'_>, SessionError> {
        let mut admission = Admission { shortages: self, slots: Vec::with_capacity(slots.len()), settled: false };
        for &slot in slots {
            // On a refusal, dropping `admission` gives its probes back.
            admission.slots.push((slot, self.admit(slot)?));
        }
        Ok(admission)
    }

    /// Whether a write to `slot` may go now.
    pub(super) fn admit(&self, slot: u16) -> Result<Admitted, SessionError> {
        let mut all = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match all.iter_mut().find(|s| s.covers(slot)) {
            None => Ok(Admitted::Write),
            Some(s) if s.probing || Instant::now() < s.until => Err(refused()),
            Some(s) => {
                s.probing = true;
                Ok(Admitted::Probe)
            }
        }
    }

    /// A write to `slot` was acknowledged by enough replicas: its primary
    /// is short no longer.
    pub(super) fn healed(&self, slot: u16) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).retain(|s| !s.covers(slot));
    }

    /// A write to `slot` came back short (or a probe failed): refuse the
    /// writes to its primary for [`COOLDOWN`]. `None` when the shortage is
    /// already known (a fresh cooldown starts); else the caller learns the
    /// primary's slots and calls [`Self::record`].
    pub(super) fn renew(&self, slot: u16) -> Option<()> {
        let mut all = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match all.iter_mut().find(|s| s.covers(slot)) {
            Some(s) => {
                s.until = Instant::now() + COOLDOWN;
                s.probing = false;
                None
            }
            None => Some(()),
        }
    }

    /// A new shortage: the primary serving `slots`.
    pub(super) fn record(&self, slots: Vec<(u16, u16)>) {
        let shortage = Shortage { slots, until: Instant::now() + COOLDOWN, probing: false };
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(shortage);
    }
}

/// The hash slot of `key`, as Redis Cluster computes it: CRC16 (XMODEM) of
/// the key, or of its `{hash tag}` when it has a non-empty one, mod 16384.
pub(super) fn key_slot(key: &[u8]) -> u16 {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
        let rest = &key[open + 1..];
        rest.iter().position(|&b| b == b'}').filter(|&close| close > 0).map(|close| &rest[..close])
    });
    let mut crc: u16 = 0;
    for &byte in tagged.unwrap_or(key) {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc % SLOTS
}

/// The slot ranges of the primary serving `slot`, from a `CLUSTER SLOTS` reply.
pub(super) fn ranges_of_primary(reply: Value, slot: u16) -> Option<Vec<(u16, u16)>> {
    let Value::Array(ranges) = reply else { return None };
    let parsed: Vec<(u16, u16, Value)> = ranges
        .into_iter()
        .filter_map(|r| match r {
            Value::Array(mut r) if r.len() >= 3 => {
                let master = std::mem::take(&mut r[2]);
                let lo = redis::from_redis_value::<u16>(std::mem::take(&mut r[0])).ok()?;
                let hi = redis::from_redis_value::<u16>(std::mem::take(&mut r[1])).ok()?;
                // The primary's address: host and port.
                let addr = match master {
                    Value::Array(mut m) if m.len() >= 2 => Value::Array(m.drain(..2).collect()),
                    _ => return None,
                };
                Some((lo, hi, addr))
            }
            _ => None,
        })
        .collect();
    let (_, _, primary) = parsed.iter().find(|(lo, hi, _)| (*lo..=*hi).contains(&slot))?;
    Some(parsed.iter().filter(|(_, _, p)| p == primary).map(|&(lo, hi, _)| (lo, hi)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_slots_are_redis_clusters() {
        // Values from `CLUSTER KEYSLOT`.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"123456789"), 12739);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_ne!(key_slot(b"foo{}{bar}"), key_slot(b"bar"));
    }

    #[test]
    fn a_short_primary_is_refused_until_its_probe_is_acknowledged() {
        let s = Shortages::default();
        assert_eq!(s.admit(5).ok(), Some(Admitted::Write));
        assert_eq!(s.renew(5), Some(()));
        s.record(vec![(0, 10), (20, 30)]);
        assert!(s.admit(25).is_err(), "refused during the cooldown");
        assert_eq!(s.admit(15).ok(), Some(Admitted::Write), "another primary's slot");
        // The cooldown over: one probe, the others still refused.
        s.0.lock().unwrap_or_else(PoisonError::into_inner)[0].until = Instant::now();
        assert_eq!(s.admit(3).ok(), Some(Admitted::Probe));
        assert!(s.admit(4).is_err(), "one probe at a time");
        s.healed(3);
        assert_eq!(s.admit(25).ok(), Some(Admitted::Write));
    }

    #[test]
    fn a_probe_dropped_unsettled_lets_another_go_after_the_cooldown() {
        let s = Shortages::default();
        s.record(vec![(0, SLOTS - 1)]);
        s.0.lock().unwrap_or_else(PoisonError::into_inner)[0].until = Instant::now();
        let probe = s.admit_all(&[7]).expect("the probe is admitted");
        assert_eq!(probe.first(), Some(Admitted::Probe));
        assert!(s.admit(7).is_err(), "one probe at a time");
        drop(probe); // its request cancelled before the WAIT answered
        assert!(s.admit(7).is_err(), "a fresh cooldown after the lost probe");
        s.0.lock().unwrap_or_else(PoisonError::into_inner)[0].until = Instant::now();
        assert_eq!(s.admit(7).ok(), Some(Admitted::Probe), "another probe may go");
    }

    #[test]
    fn a_settled_probe_is_left_alone_on_drop() {
        let s = Shortages::default();
        s.record(vec![(0, SLOTS - 1)]);
        s.0.lock().unwrap_or_else(PoisonError::into_inner)[0].until = Instant::now();
        let mut probe = s.admit_all(&[7]).expect("the probe is admitted");
        s.healed(7);
        probe.settle();
        drop(probe);
        assert_eq!(s.admit(7).ok(), Some(Admitted::Write), "healed, and no shortage recorded again");
    }

    #[test]
    fn a_refusal_gives_back_the_probes_admitted_before_it() {
        let s = Shortages::default();
        s.record(vec![(0, 9)]);
        s.record(vec![(10, 19)]);
        s.0.lock().unwrap_or_else(PoisonError::into_inner)[0].until = Instant::now();
        assert!(s.admit_all(&[3, 15]).is_err(), "slot 15's primary is cooling down");
        assert!(s.admit(3).is_err(), "slot 3's probe given back: a fresh cooldown");
        assert!(!s.0.lock().unwrap_or_else(PoisonError::into_inner)[0].probing);
    }

    #[test]
    fn the_primarys_ranges_come_from_cluster_slots() {
        let node = |port: i64| {
            Value::Array(vec![
                Value::BulkString(b"127.0.0.1".to_vec()),
                Value::Int(port),
                Value::BulkString(b"id".to_vec()),
            ])
        };
        let range = |lo, hi, port| Value::Array(vec![Value::Int(lo), Value::Int(hi), node(port), node(port + 1)]);
        let reply = Value::Array(vec![range(0, 99, 7000), range(100, 199, 7002), range(200, 299, 7000)]);
        assert_eq!(ranges_of_primary(reply.clone(), 250), Some(vec![(0, 99), (200, 299)]));
        assert_eq!(ranges_of_primary(reply, 150), Some(vec![(100, 199)]));
    }
}
