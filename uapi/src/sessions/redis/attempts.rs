//! The Redis backend's [`AttemptLog`]: one sorted set per key,
//! `P uapi:attempts:<key>`, members the attempt ids scored by when they were
//! made (server clock), with the window as its TTL. Each key is read and
//! written by one script (`RESERVE`), so a check is one atomic command per
//! key and the keys may live in different hash slots of a cluster.

use std::time::Duration;

use redis::Pipeline;

use super::backend::RedisBackend;
use super::scripts::RESERVE;
use super::wire::take;
use crate::sessions::{AttemptLog, BoxFuture, Reservation, SessionError};

impl RedisBackend {
    /// The key of an attempt log.
    fn attempts_key(&self, key: &str) -> String {
        format!("{}uapi:attempts:{key}", self.prefix())
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl AttemptLog for RedisBackend {
    fn reserve<'a>(
        &'a self,
        attempt: &'a str,
        keys: &'a [(&'a str, u32)],
        window: Duration,
    ) -> BoxFuture<'a, Result<Reservation, SessionError>> {
        Box::pin(async move {
            // One group per key: one pipeline on a single node, concurrent
            // single commands (one round trip still) on a cluster.
            let groups: Vec<Pipeline> = keys
                .iter()
                .map(|(key, limit)| {
                    let mut p = redis::pipe();
                    p.invoke_script(RESERVE.key(self.attempts_key(key)).arg(attempt).arg(*limit).arg(ms(window)));
                    p
                })
                .collect();
            let mut replies = self.transport().run(&groups).await?;
            let mut waits = Vec::with_capacity(keys.len());
            for group in &mut replies {
                waits.push(take::<u64>(group, 0)?);
            }
            let Some(wait) = waits.iter().copied().max().filter(|w| *w > 0) else {
                return Ok(Reservation::Admitted);
            };
            // Refused on one key: take the attempt back where it was recorded.
            let undo: Vec<Pipeline> = keys
                .iter()
                .zip(&waits)
                .filter(|(_, w)| **w == 0)
                .map(|((key, _), _)| {
                    let mut p = redis::pipe();
                    p.zrem(self.attempts_key(key), attempt);
                    p
                })
                .collect();
            if !undo.is_empty() {
                self.transport().run(&undo).await?;
            }
            Ok(Reservation::Refused { retry_after: Duration::from_millis(wait) })
        })
    }

    fn release<'a>(&'a self, key: &'a str, attempt: &'a str) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(async move {
            let mut p = redis::pipe();
            p.zrem(self.attempts_key(key), attempt);
            self.transport().run(&[p]).await?;
            Ok(())
        })
    }

    fn clear<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(async move {
            let mut p = redis::pipe();
            p.del(self.attempts_key(key));
            self.transport().run(&[p]).await?;
            Ok(())
        })
    }
}
