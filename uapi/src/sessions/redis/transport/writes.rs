//! The transport's writes with a replica wait (`RedisBackend::wait_for_replicas`):
//! `WAIT` on the write's own connection, and primaries found short of
//! replicas refused for a moment (see `replicas`).

use redis::aio::ConnectionLike;
use redis::{Pipeline, Value};

use super::super::replicas::{key_slot, ranges_of_primary, Admitted, SLOTS};
use super::super::wire::{Replies, Unit};
use super::{Kind, Transport};
use crate::sessions::SessionError;

impl Transport {
    /// [`Self::run`] of groups that write, `keys[i]` the key group `i`
    /// writes: with a replica wait, each group ends with `WAIT` (on a single
    /// node, the batch ends with one), and a write fewer replicas
    /// acknowledged than required is an error (a 503); a write to a primary
    /// found short of replicas a moment ago is refused without being sent
    /// (see `replicas`). The `WAIT` replies are not among the results.
    pub(in crate::sessions::redis) async fn run_writes(
        &self,
        groups: &[Pipeline],
        keys: &[&[u8]],
    ) -> Result<Vec<Vec<Value>>, SessionError> {
        let Some(wait) = self.wait else { return self.run(groups).await };
        let mut slots: Vec<u16> = keys.iter().map(|k| self.slot(k)).collect();
        slots.sort_unstable();
        slots.dedup();
        let admitted = self.admit_all(&slots)?;
        if !self.is_cluster() {
            // One unit on one connection: a WAIT after it covers every write in it.
            let cmds = |u: &mut dyn Unit| groups.iter().flat_map(|g| g.cmd_iter().cloned()).for_each(|c| u.cmd(c));
            let mut flat = match self.run_unit_waited(cmds, Some(wait)).await {
                Ok(r) => r,
                Err(e) => return Err(self.failed(&admitted, e).await),
            };
            let enough = wait.enough(flat.pop())?;
            self.waited(0, enough, admitted.first().map(|a| a.1)).await;
            let mut flat = flat.into_iter();
            let r = groups.iter().map(|g| flat.by_ref().take(g.len()).collect()).collect();
            return if enough { Ok(r) } else { Err(wait.short()) };
        }
        let waited: Vec<Pipeline> = groups
            .iter()
            .map(|g| {
                let mut g = g.clone();
                g.add_command(wait.cmd());
                g
            })
            .collect();
        let mut r = match self.run_groups(&waited, true).await {
            Ok(r) => r,
            Err(e) => return Err(self.failed(&admitted, e).await),
        };
        let mut short = false;
        for (g, key) in r.iter_mut().zip(keys) {
            let slot = self.slot(key);
            let enough = wait.enough(g.pop())?;
            let probe = admitted.iter().find(|a| a.0 == slot).map(|a| a.1);
            self.waited(slot, enough, probe).await;
            short |= !enough;
        }
        if short {
            return Err(wait.short());
        }
        Ok(r)
    }

    /// [`Self::run_unit`] of a unit that writes `key`: with a replica wait,
    /// `WAIT` follows it (on a cluster the unit goes as one pipeline, so on
    /// the connection that carried the write), and fewer acknowledgements
    /// than required are an error (a 503), as in [`Self::run_writes`]. The
    /// `WAIT` reply is not among the replies.
    pub(in crate::sessions::redis) async fn run_unit_write(
        &self,
        key: &[u8],
        build: impl Fn(&mut dyn Unit) + Send + Sync,
    ) -> Result<Replies, SessionError> {
        let Some(wait) = self.wait else { return self.run_unit(build).await };
        let slot = self.slot(key);
        let admitted = self.admit_all(&[slot])?;
        let sent = self.run_unit_waited(build, Some(wait)).await;
        let mut replies = match sent {
            Ok(r) => r,
            Err(e) => return Err(self.failed(&admitted, e).await),
        };
        let enough = wait.enough(replies.pop())?;
        self.waited(slot, enough, admitted.first().map(|a| a.1)).await;
        if enough {
            Ok(replies)
        } else {
            Err(wait.short())
        }
    }

    /// The slot a write of `key` goes to; 0 for every key on a single node.
    fn slot(&self, key: &[u8]) -> u16 {
        if self.is_cluster() {
            key_slot(key)
        } else {
            0
        }
    }

    /// Admits a write to every slot of `slots`, or refuses it whole (a probe
    /// admitted before the refusal is given back).
    fn admit_all(&self, slots: &[u16]) -> Result<Vec<(u16, Admitted)>, SessionError> {
        let mut admitted = Vec::with_capacity(slots.len());
        for &slot in slots {
            match self.shortages.admit(slot) {
                Ok(a) => admitted.push((slot, a)),
                Err(e) => {
                    for (slot, _) in admitted.iter().filter(|a| a.1 == Admitted::Probe) {
                        self.shortages.renew(*slot);
                    }
                    return Err(e);
                }
            }
        }
        Ok(admitted)
    }

    /// A waited write failed before its `WAIT` answered: a probe among it
    /// counts as short (another may go after the cooldown).
    async fn failed(&self, admitted: &[(u16, Admitted)], e: SessionError) -> SessionError {
        for &(slot, _) in admitted.iter().filter(|a| a.1 == Admitted::Probe) {
            self.waited(slot, false, Some(Admitted::Probe)).await;
        }
        e
    }

    /// After a `WAIT` on `slot`: an acknowledged probe ends its primary's
    /// shortage; a short reply starts (or renews) one, learning which slots
    /// that primary serves (`CLUSTER SLOTS`; on a single node, all).
    async fn waited(&self, slot: u16, enough: bool, admitted: Option<Admitted>) {
        if enough {
            if admitted == Some(Admitted::Probe) {
                self.shortages.healed(slot);
            }
            return;
        }
        if self.shortages.renew(slot).is_none() {
            return;
        }
        let ranges = match &self.kind {
            Kind::Cluster(c) => self.primary_slots(c.clone(), slot).await,
            Kind::OtherCluster(c) => self.primary_slots(c.clone(), slot).await,
            _ => vec![(0, SLOTS - 1)],
        };
        tracing::warn!(
            slot,
            "a Redis primary lacks the replicas session writes wait for; refusing its writes a moment"
        );
        self.shortages.record(ranges);
    }

    /// The slots of the primary serving `slot` (just `slot`, if the cluster
    /// does not say in time).
    async fn primary_slots<C: ConnectionLike + Send>(&self, mut conn: C, slot: u16) -> Vec<(u16, u16)> {
        let reply = self.bounded(redis::cmd("CLUSTER").arg("SLOTS").query_async::<Value>(&mut conn)).await;
        reply.ok().and_then(|r| ranges_of_primary(r, slot)).unwrap_or_else(|| vec![(slot, slot)])
    }
}
