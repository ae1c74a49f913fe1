//! The transport's writes with a replica wait (`RedisBackend::wait_for_replicas`):
//! `WAIT` on the write's own connection, and primaries found short of
//! replicas refused for a moment (see `replicas`).

use redis::aio::ConnectionLike;
use redis::{Pipeline, Value};

use super::super::replicas::{key_slot, ranges_of_primary, Admission, Admitted, SLOTS};
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
        let mut admitted = self.shortages.admit_all(&slots)?;
        if !self.is_cluster() {
            // One unit on one connection: a WAIT after it covers every write in it.
            let cmds = |u: &mut dyn Unit| groups.iter().flat_map(|g| g.cmd_iter().cloned()).for_each(|c| u.cmd(c));
            let mut flat = match self.run_unit_waited(cmds, Some(wait)).await {
                Ok(r) => r,
                Err(e) => return Err(self.failed(admitted, e).await),
            };
            let enough = match wait.enough(flat.pop()) {
                Ok(enough) => enough,
                Err(e) => return Err(self.failed(admitted, e).await),
            };
            self.waited(0, enough, admitted.first()).await;
            admitted.settle();
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
            Err(e) => return Err(self.failed(admitted, e).await),
        };
        let (mut short, mut error) = (false, None);
        for (g, key) in r.iter_mut().zip(keys) {
            let slot = self.slot(key);
            // A reply that is no count counts as short for the probe, and is the error.
            let enough = wait.enough(g.pop()).unwrap_or_else(|e| {
                error.get_or_insert(e);
                false
            });
            self.waited(slot, enough, admitted.of(slot)).await;
            short |= !enough;
        }
        admitted.settle();
        if let Some(e) = error {
            return Err(e);
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
        let mut admitted = self.shortages.admit_all(&[slot])?;
        let sent = self.run_unit_waited(build, Some(wait)).await;
        let mut replies = match sent {
            Ok(r) => r,
            Err(e) => return Err(self.failed(admitted, e).await),
        };
        let enough = match wait.enough(replies.pop()) {
            Ok(enough) => enough,
            Err(e) => return Err(self.failed(admitted, e).await),
        };
        self.waited(slot, enough, admitted.first()).await;
        admitted.settle();
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

    /// A waited write failed before its `WAIT` answered (or its reply made no
    /// sense): a probe among it counts as short (another may go after the
    /// cooldown).
    async fn failed(&self, mut admitted: Admission<'_>, e: SessionError) -> SessionError {
        for slot in admitted.probes() {
            self.waited(slot, false, Some(Admitted::Probe)).await;
        }
        admitted.settle();
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
