//! How the Redis session store reaches Redis. The way is chosen once, from the
//! connection the backend is built with ([`RedisConnection`]): a single node's
//! connection shares writes through the batcher, a cluster connection sends
//! each hash slot's commands as their own requests, and uapi's own
//! `PipelinedConnection` (feature `pipelined`) takes the commands straight
//! into its socket's buffer. Every request is bounded by the command timeout,
//! and a flushed script cache is reloaded once and the request retried.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, ServerErrorKind, Value};

use super::batch::Batcher;
#[cfg(feature = "pipelined")]
use super::pipelined::PipelinedConnection;
use super::scripts;
use super::wire::{self, is_kind, Attempt, Cmds, Replies, Unit};
use crate::sessions::SessionError;

/// A redis-rs connection the Redis session store can use. Each kind is sent on
/// in its own way, picked here, when the backend is built; `From` lets you
/// pass the connection itself wherever a [`super::RedisBackend`] is wanted.
///
/// # Examples
///
/// ```no_run
/// use uapi::sessions::redis::RedisBackend;
///
/// # async fn run() -> redis::RedisResult<()> {
/// let client = redis::Client::open("redis://127.0.0.1:6379")?;
/// let backend = RedisBackend::new(client.get_connection_manager().await?).key_prefix("app1:");
/// # let _ = backend; Ok(()) }
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum RedisConnection {
    /// redis-rs's reconnecting single-node connection (TLS, ACL, RESP3 as its
    /// URL says): the usual choice.
    Manager(ConnectionManager),
    /// redis-rs's multiplexed single-node connection (does not reconnect by
    /// itself; e.g. what a Sentinel client gives).
    Multiplexed(MultiplexedConnection),
    /// redis-rs's Redis Cluster connection: commands touching different hash
    /// slots go as separate requests.
    Cluster(ClusterConnection),
    /// uapi's own single-node connection (feature `pipelined`).
    #[cfg(feature = "pipelined")]
    Pipelined(PipelinedConnection),
}

impl From<ConnectionManager> for RedisConnection {
    fn from(conn: ConnectionManager) -> Self {
        RedisConnection::Manager(conn)
    }
}

impl From<MultiplexedConnection> for RedisConnection {
    fn from(conn: MultiplexedConnection) -> Self {
        RedisConnection::Multiplexed(conn)
    }
}

impl From<ClusterConnection> for RedisConnection {
    fn from(conn: ClusterConnection) -> Self {
        RedisConnection::Cluster(conn)
    }
}

#[cfg(feature = "pipelined")]
impl From<PipelinedConnection> for RedisConnection {
    fn from(conn: PipelinedConnection) -> Self {
        RedisConnection::Pipelined(conn)
    }
}

/// A connection and the way it is sent on, with the command timeout.
pub(super) struct Transport {
    kind: Kind,
    timeout: Duration,
}

enum Kind {
    Manager(Arc<Batcher<ConnectionManager>>),
    Multiplexed(Arc<Batcher<MultiplexedConnection>>),
    Cluster(ClusterConnection),
    #[cfg(feature = "pipelined")]
    Pipelined(PipelinedConnection),
}

impl Transport {
    pub(super) fn new(conn: RedisConnection, timeout: Duration) -> Transport {
        let kind = match conn {
            RedisConnection::Manager(c) => Kind::Manager(Batcher::new(c, timeout)),
            RedisConnection::Multiplexed(c) => Kind::Multiplexed(Batcher::new(c, timeout)),
            RedisConnection::Cluster(c) => Kind::Cluster(c),
            #[cfg(feature = "pipelined")]
            RedisConnection::Pipelined(c) => Kind::Pipelined(c),
        };
        Transport { kind, timeout }
    }

    /// The same connection with another command timeout.
    pub(super) fn with_timeout(self, timeout: Duration) -> Transport {
        let conn = match self.kind {
            Kind::Manager(b) => RedisConnection::Manager(b.conn().clone()),
            Kind::Multiplexed(b) => RedisConnection::Multiplexed(b.conn().clone()),
            Kind::Cluster(c) => RedisConnection::Cluster(c),
            #[cfg(feature = "pipelined")]
            Kind::Pipelined(c) => RedisConnection::Pipelined(c),
        };
        Transport::new(conn, timeout)
    }

    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether commands on keys of different hash slots must go separately.
    pub(super) fn is_cluster(&self) -> bool {
        matches!(self.kind, Kind::Cluster(_))
    }

    /// A redis-rs call, bounded by the command timeout.
    async fn bounded<T>(&self, fut: impl std::future::Future<Output = redis::RedisResult<T>>) -> Result<T, Attempt> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => r.map_err(Attempt::Redis),
            Err(_) => Err(Attempt::Timeout),
        }
    }

    /// Sends the commands `build` writes, all on one hash slot, as one unit:
    /// their replies, or the first server error among them (e.g. `NOSCRIPT`).
    async fn send(&self, build: &(dyn Fn(&mut dyn Unit) + Send + Sync)) -> Result<Replies, Attempt> {
        match &self.kind {
            Kind::Manager(b) => b.send(build).await,
            Kind::Multiplexed(b) => b.send(build).await,
            // Boxed where awaited: the rare path keeps its future out of the
            // size of every request's.
            Kind::Cluster(c) => Box::pin(self.send_alone(c.clone(), build)).await,
            #[cfg(feature = "pipelined")]
            Kind::Pipelined(c) => match c.send_built(build, self.timeout).await {
                Ok(replies) => wire::checked(replies).map_err(Attempt::Redis),
                Err(e) if e.is_timeout() => Err(Attempt::Timeout),
                Err(e) => Err(Attempt::Redis(e)),
            },
        }
    }

    /// Cluster: a unit's command alone (a single command follows ASK
    /// redirections during a resharding), or the unit as one pipeline.
    async fn send_alone(
        &self,
        mut conn: ClusterConnection,
        build: &(dyn Fn(&mut dyn Unit) + Send + Sync),
    ) -> Result<Replies, Attempt> {
        let mut unit = Cmds::default();
        build(&mut unit);
        let mut cmds = unit.finish().ok_or_else(|| Attempt::Redis(wire::malformed()))?;
        if cmds.len() == 1 {
            let only = cmds.swap_remove(0);
            return self.bounded(only.query_async::<Value>(&mut conn)).await.map(|v| [v].into());
        }
        let mut p = redis::pipe();
        for c in cmds {
            p.add_command(c);
        }
        self.bounded(p.query_async::<Vec<Value>>(&mut conn)).await.map(Replies::from_vec)
    }

    /// One request carrying all `groups` (each group: commands on ONE slot), or
    /// on a cluster the groups concurrently, each command of a group as its
    /// own request, in order. Results per group.
    ///
    /// Why not one pipeline per group on a cluster: while a slot migrates, its
    /// old node answers ASK, and the client sends `ASKING` once, before the
    /// redirected request; in a pipeline only the first command benefits, the
    /// others are MOVED back, and the request fails until the migration ends.
    async fn run_once(&self, groups: &[Pipeline]) -> Result<Vec<Vec<Value>>, Attempt> {
        if let Kind::Cluster(conn) = &self.kind {
            let calls = groups.iter().map(|p| {
                let mut conn = conn.clone();
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
        let mut flat = self.send(&cmds).await?.into_iter();
        Ok(groups.iter().map(|g| flat.by_ref().take(g.len()).collect()).collect())
    }

    /// [`Self::run_once`], reloading the scripts once if the server lost them
    /// (a restart: `SCRIPT LOAD` and retry). Every batch we build is safe to
    /// replay.
    pub(super) async fn run(&self, groups: &[Pipeline]) -> Result<Vec<Vec<Value>>, SessionError> {
        let mut loaded = false;
        loop {
            match self.run_once(groups).await {
                Ok(v) => return Ok(v),
                Err(Attempt::Redis(e)) if !loaded && is_kind(&e, ServerErrorKind::NoScript, "NOSCRIPT") => {
                    loaded = true;
                    Box::pin(self.reload_scripts()).await?;
                }
                Err(a) => return Err(self.fail(a)),
            }
        }
    }

    /// One unit of commands on one key (so one slot), built by `build` (again
    /// for a retry), with the same script reload as [`Self::run`].
    pub(super) async fn run_unit(&self, build: impl Fn(&mut dyn Unit) + Send + Sync) -> Result<Replies, SessionError> {
        let mut loaded = false;
        loop {
            match self.send(&build).await {
                Ok(v) => return Ok(v),
                Err(Attempt::Redis(e)) if !loaded && is_kind(&e, ServerErrorKind::NoScript, "NOSCRIPT") => {
                    loaded = true;
                    Box::pin(self.reload_scripts()).await?;
                }
                Err(a) => return Err(self.fail(a)),
            }
        }
    }

    /// [`Self::run_unit`] of one command: its reply.
    pub(super) async fn run_cmd(&self, build: impl Fn() -> Cmd + Send + Sync) -> Result<Value, SessionError> {
        let mut replies = self.run_unit(|u| u.cmd(build())).await?;
        Ok(replies.pop().unwrap_or(Value::Nil))
    }

    /// `SCRIPT LOAD`s every script: one unit on a single node (requests that
    /// all met `NOSCRIPT` load together); on a cluster one command each (the
    /// client sends it to every node), concurrently.
    async fn reload_scripts(&self) -> Result<(), SessionError> {
        tracing::debug!("session scripts missing on the server; loading them");
        let loaded = if let Kind::Cluster(conn) = &self.kind {
            let loads = scripts::ALL.map(|src| {
                let mut conn = conn.clone();
                async move {
                    self.bounded(redis::cmd("SCRIPT").arg("LOAD").arg(src).query_async::<Value>(&mut conn)).await
                }
            });
            futures_util::future::try_join_all(loads).await.map(drop)
        } else {
            let loads = |u: &mut dyn Unit| {
                for src in scripts::ALL {
                    u.begin(3);
                    u.arg(b"SCRIPT");
                    u.arg(b"LOAD");
                    u.arg(src.as_bytes());
                }
            };
            self.send(&loads).await.map(drop)
        };
        loaded.map_err(|a| self.fail(a))
    }

    fn fail(&self, a: Attempt) -> SessionError {
        match a {
            Attempt::Timeout => SessionError::Timeout(self.timeout),
            Attempt::Redis(e) => e.into(),
        }
    }
}
