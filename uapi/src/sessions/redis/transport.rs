//! How the Redis session store talks to Redis: one bounded attempt, the
//! retries that recover from a flushed script cache or a cluster refusing a
//! cross-slot pipeline, and the unit of commands on one key (through the
//! batch, or alone in cluster mode).

use std::future::Future;
use std::sync::atomic::Ordering;

use redis::{aio::ConnectionLike, Cmd, ErrorKind, Pipeline, RedisError, ServerErrorKind, Value};

use super::batch::Replies;
use super::scripts;
use super::wire::{self, Cmds, Unit};
use super::RedisBackend;
use crate::sessions::SessionError;

impl<C> RedisBackend<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    /// A redis-rs call, bounded by the command timeout.
    pub(super) async fn bounded<T>(&self, fut: impl Future<Output = redis::RedisResult<T>>) -> Result<T, Attempt> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => r.map_err(Attempt::Redis),
            Err(_) => Err(Attempt::Timeout),
        }
    }

    /// One request carrying all `groups` (each group: commands on ONE slot), or
    /// in cluster mode the groups concurrently, each command of a group as its
    /// own request, in order. Results per group.
    ///
    /// Why not one pipeline per group on a cluster: while a slot migrates, its
    /// old node answers ASK, and the client sends `ASKING` once, before the
    /// redirected request; in a pipeline only the first command benefits, the
    /// others are MOVED back, and the request fails until the migration ends.
    /// A single command (or script) follows the redirection fine.
    pub(super) async fn run_once(&self, groups: &[Pipeline]) -> Result<Vec<Vec<Value>>, Attempt> {
        if self.split.load(Ordering::Relaxed) {
            let calls = groups.iter().map(|p| {
                let mut conn = self.conn.clone();
                async move {
                    let mut replies = Vec::with_capacity(p.len());
                    for cmd in p.cmd_iter() {
                        replies.push(self.bounded(cmd.query_async::<Value>(&mut conn)).await?);
                    }
                    Ok(replies)
                }
            });
            return futures_util::future::try_join_all(calls).await;
        }
        let cmds = |u: &mut dyn Unit| groups.iter().flat_map(|g| g.cmd_iter().cloned()).for_each(|c| u.cmd(c));
        let mut flat = self.batch.send(cmds).await?.into_iter();
        Ok(groups.iter().map(|g| flat.by_ref().take(g.len()).collect()).collect())
    }

    /// [`run_once`](Self::run_once), plus recovery from a script cache that was
    /// flushed (server restart: `SCRIPT LOAD` and retry) and from a cluster
    /// refusing a cross-slot pipeline (switch to cluster mode and retry). Every
    /// batch we build is safe to replay.
    pub(super) async fn run(&self, groups: &[Pipeline]) -> Result<Vec<Vec<Value>>, SessionError> {
        let (mut loaded, mut switched) = (false, false);
        loop {
            match self.run_once(groups).await {
                Ok(v) => return Ok(v),
                Err(Attempt::Timeout) => return Err(SessionError::Timeout(self.timeout)),
                Err(Attempt::Redis(e)) if !loaded && is_kind(&e, ServerErrorKind::NoScript, "NOSCRIPT") => {
                    loaded = true;
                    tracing::debug!("session scripts missing on the server; loading them");
                    Box::pin(self.load_scripts()).await.map_err(|a| self.fail(a))?;
                }
                Err(Attempt::Redis(e)) if !switched && is_kind(&e, ServerErrorKind::CrossSlot, "CROSSSLOT") => {
                    switched = true;
                    tracing::info!("cross-slot pipeline refused; session backend switching to cluster mode");
                    self.split.store(true, Ordering::Relaxed);
                }
                Err(a) => return Err(self.fail(a)),
            }
        }
    }

    /// One unit of commands on one key (so one slot: no cluster special case),
    /// built by `build` (again for a retry), with the same recovery from a
    /// flushed script cache as [`Self::run`]. Single node: through the batch;
    /// cluster mode: a command alone, or the unit as one pipeline.
    pub(super) async fn run_unit(&self, build: impl Fn(&mut dyn Unit) + Send + Sync) -> Result<Replies, SessionError> {
        let mut loaded = false;
        loop {
            let sent = if self.split.load(Ordering::Relaxed) {
                let mut unit = Cmds::default();
                build(&mut unit);
                match unit.finish() {
                    Some(cmds) => Box::pin(self.send_alone(cmds)).await,
                    None => Err(Attempt::Redis(wire::malformed())),
                }
            } else {
                self.batch.send(&build).await
            };
            match sent {
                Ok(v) => return Ok(v),
                Err(Attempt::Redis(e)) if !loaded && is_kind(&e, ServerErrorKind::NoScript, "NOSCRIPT") => {
                    loaded = true;
                    tracing::debug!("session scripts missing on the server; loading them");
                    Box::pin(self.load_scripts()).await.map_err(|a| self.fail(a))?;
                }
                Err(a) => return Err(self.fail(a)),
            }
        }
    }

    /// Cluster mode: a unit's command alone, or the unit as one pipeline.
    /// (Boxed where it is awaited, as the script reload: the rare paths keep
    /// their futures out of the size of every request's.)
    pub(super) async fn send_alone(&self, mut cmds: Vec<Cmd>) -> Result<Replies, Attempt> {
        let mut conn = self.conn.clone();
        match cmds.len() {
            1 => {
                let only = cmds.swap_remove(0);
                self.bounded(only.query_async::<Value>(&mut conn)).await.map(|v| [v].into())
            }
            _ => {
                let mut p = redis::pipe();
                for c in cmds {
                    p.add_command(c);
                }
                self.bounded(p.query_async::<Vec<Value>>(&mut conn)).await.map(Replies::from_vec)
            }
        }
    }

    /// [`Self::run_unit`] of one command: its reply.
    pub(super) async fn run_cmd(&self, build: impl Fn() -> Cmd + Send + Sync) -> Result<Value, SessionError> {
        let mut replies = self.run_unit(|u| u.cmd(build())).await?;
        Ok(replies.pop().unwrap_or(Value::Nil))
    }

    /// `SCRIPT LOAD`s every script: one pipeline on a single node; on a
    /// cluster one command each (the client sends it to every node),
    /// concurrently.
    pub(super) async fn load_scripts(&self) -> Result<(), Attempt> {
        if !self.split.load(Ordering::Relaxed) {
            // Through the batch: requests that all met NOSCRIPT load together.
            let loads = |u: &mut dyn Unit| {
                for src in scripts::ALL {
                    u.begin(3);
                    u.arg(b"SCRIPT");
                    u.arg(b"LOAD");
                    u.arg(src.as_bytes());
                }
            };
            return self.batch.send(loads).await.map(drop);
        }
        let loads = scripts::ALL.map(|src| {
            let mut conn = self.conn.clone();
            async move { self.bounded(redis::cmd("SCRIPT").arg("LOAD").arg(src).query_async::<Value>(&mut conn)).await }
        });
        futures_util::future::try_join_all(loads).await.map(drop)
    }

    pub(super) fn fail(&self, a: Attempt) -> SessionError {
        match a {
            Attempt::Timeout => SessionError::Timeout(self.timeout),
            Attempt::Redis(e) => e.into(),
        }
    }
}

/// How one attempt at Redis ended, when it did not succeed.
pub(super) enum Attempt {
    /// Redis, or the connection, answered with an error.
    Redis(RedisError),
    /// No answer within the command timeout.
    Timeout,
}

pub(super) fn is_kind(e: &RedisError, kind: ServerErrorKind, code: &str) -> bool {
    e.kind() == ErrorKind::Server(kind) || e.code() == Some(code) || e.to_string().contains(code)
}
