//! How the Redis session store reaches Redis. The way is chosen once, from the
//! connection the backend is built with ([`RedisConnection`]): a single node's
//! connection shares writes through the batcher, a cluster connection sends
//! each hash slot's commands as their own requests (a Sentinel deployment's
//! primary, through [`SentinelConnection`], is a single node), and uapi's own
//! `PipelinedConnection` (feature `pipelined`) takes the commands straight
//! into its socket's buffer. Every request is bounded by the command timeout,
//! and a flushed script cache is reloaded once and the request retried.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, ServerErrorKind, Value};

use super::batch::Batcher;
#[cfg(feature = "pipelined")]
use super::pipelined::PipelinedConnection;
use super::replicas::{ReplicaWait, Shortages};
use super::scripts;
use super::sentinel::SentinelConnection;
use super::wire::{self, is_kind, Attempt, Cmds, Replies, Unit};
use crate::sessions::SessionError;

mod writes;

/// A redis-rs connection the Redis session store can use. How it is sent on is
/// picked here, when the backend is built: `From` takes redis-rs's own
/// connections as they are ([`ConnectionManager`], [`MultiplexedConnection`],
/// [`ClusterConnection`]), and uapi's [`SentinelConnection`] (a Sentinel
/// deployment's primary, followed across failovers); [`RedisConnection::single_node`] and
/// [`RedisConnection::cluster`] take any other [`ConnectionLike`] (a wrapper
/// that adds metrics or tracing, say), saying which kind of server it talks to.
///
/// # Examples
///
/// ```no_run
/// use uapi::sessions::redis::{RedisBackend, RedisConnection};
///
/// # async fn run() -> redis::RedisResult<()> {
/// let client = redis::Client::open("redis://127.0.0.1:6379")?;
/// let backend = RedisBackend::new(client.get_connection_manager().await?).key_prefix("app1:");
/// // The same, through any ConnectionLike that talks to one node:
/// let any = RedisConnection::single_node(client.get_multiplexed_async_connection().await?);
/// let backend2 = RedisBackend::new(any);
/// # let _ = (backend, backend2); Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisConnection(Conn);

#[derive(Clone)]
enum Conn {
    Manager(ConnectionManager),
    Multiplexed(MultiplexedConnection),
    Cluster(ClusterConnection),
    Sentinel(SentinelConnection),
    OtherNode(DynConnection),
    OtherCluster(DynConnection),
    #[cfg(feature = "pipelined")]
    Pipelined(PipelinedConnection),
}

impl RedisConnection {
    /// Any connection to a single Redis node (or a replica set's primary):
    /// the commands of concurrent requests share its writes. Its
    /// `req_packed_commands` must send a pipeline whole on one connection and
    /// answer it with one reply per command, as redis-rs's connections do:
    /// with [`RedisBackend::wait_for_replicas`](super::RedisBackend::wait_for_replicas),
    /// one `WAIT` at a pipeline's end stands for every write in it.
    pub fn single_node(conn: impl ConnectionLike + Clone + Send + Sync + 'static) -> Self {
        RedisConnection(Conn::OtherNode(DynConnection(Box::new(conn))))
    }

    /// Any connection to a Redis Cluster: commands on keys of different hash
    /// slots go as separate requests, one command each.
    pub fn cluster(conn: impl ConnectionLike + Clone + Send + Sync + 'static) -> Self {
        RedisConnection(Conn::OtherCluster(DynConnection(Box::new(conn))))
    }
}

impl From<ConnectionManager> for RedisConnection {
    fn from(conn: ConnectionManager) -> Self {
        RedisConnection(Conn::Manager(conn))
    }
}

impl From<MultiplexedConnection> for RedisConnection {
    fn from(conn: MultiplexedConnection) -> Self {
        RedisConnection(Conn::Multiplexed(conn))
    }
}

impl From<ClusterConnection> for RedisConnection {
    fn from(conn: ClusterConnection) -> Self {
        RedisConnection(Conn::Cluster(conn))
    }
}

impl From<SentinelConnection> for RedisConnection {
    fn from(conn: SentinelConnection) -> Self {
        RedisConnection(Conn::Sentinel(conn))
    }
}

#[cfg(feature = "pipelined")]
impl From<PipelinedConnection> for RedisConnection {
    fn from(conn: PipelinedConnection) -> Self {
        RedisConnection(Conn::Pipelined(conn))
    }
}

/// A `ConnectionLike` of any type, cloneable behind a box.
struct DynConnection(Box<dyn CloneConnection>);

trait CloneConnection: ConnectionLike + Send + Sync {
    fn clone_box(&self) -> Box<dyn CloneConnection>;
}

impl<C: ConnectionLike + Clone + Send + Sync + 'static> CloneConnection for C {
    fn clone_box(&self) -> Box<dyn CloneConnection> {
        Box::new(self.clone())
    }
}

impl Clone for DynConnection {
    fn clone(&self) -> Self {
        DynConnection(self.0.clone_box())
    }
}

impl ConnectionLike for DynConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        self.0.req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.0.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.0.get_db()
    }
}

/// What a CROSSSLOT refusal on a single-node transport means.
const MISCONFIGURED: &str = "the session store's Redis connection talks to a Redis Cluster but was given as a single \
     node's: give the store a redis::cluster_async::ClusterConnection, or RedisConnection::cluster(..)";

/// A connection and the way it is sent on, with the command timeout.
pub(super) struct Transport {
    kind: Kind,
    timeout: Duration,
    wait: Option<ReplicaWait>,
    /// With a wait: the primaries found short of replicas.
    shortages: Shortages,
}

/// The way of sending, per connection: concrete types where they are the
/// usual ones (no box to clone per flush), boxed for the rest.
enum Kind {
    Manager(Arc<Batcher<ConnectionManager>>),
    Multiplexed(Arc<Batcher<MultiplexedConnection>>),
    Sentinel(Arc<Batcher<SentinelConnection>>),
    OtherNode(Arc<Batcher<DynConnection>>),
    Cluster(ClusterConnection),
    OtherCluster(DynConnection),
    #[cfg(feature = "pipelined")]
    Pipelined(PipelinedConnection),
}

impl Transport {
    pub(super) fn new(conn: RedisConnection, timeout: Duration) -> Transport {
        let kind = match conn.0 {
            Conn::Manager(c) => Kind::Manager(Batcher::new(c, timeout)),
            Conn::Multiplexed(c) => Kind::Multiplexed(Batcher::new(c, timeout)),
            Conn::Sentinel(c) => Kind::Sentinel(Batcher::new(c, timeout)),
            Conn::OtherNode(c) => Kind::OtherNode(Batcher::new(c, timeout)),
            Conn::Cluster(c) => Kind::Cluster(c),
            Conn::OtherCluster(c) => Kind::OtherCluster(c),
            #[cfg(feature = "pipelined")]
            Conn::Pipelined(c) => Kind::Pipelined(c),
        };
        Transport { kind, timeout, wait: None, shortages: Shortages::default() }
    }

    /// The same connection, waiting for `wait`'s replicas after each write.
    pub(super) fn with_wait(self, wait: Option<ReplicaWait>) -> Transport {
        Transport { wait, ..self }
    }

    pub(super) fn wait(&self) -> Option<ReplicaWait> {
        self.wait
    }

    /// The same connection with another command timeout.
    pub(super) fn with_timeout(self, timeout: Duration) -> Transport {
        let conn = match self.kind {
            Kind::Manager(b) => Conn::Manager(b.conn().clone()),
            Kind::Multiplexed(b) => Conn::Multiplexed(b.conn().clone()),
            Kind::Sentinel(b) => Conn::Sentinel(b.conn().clone()),
            Kind::OtherNode(b) => Conn::OtherNode(b.conn().clone()),
            Kind::Cluster(c) => Conn::Cluster(c),
            Kind::OtherCluster(c) => Conn::OtherCluster(c),
            #[cfg(feature = "pipelined")]
            Kind::Pipelined(c) => Conn::Pipelined(c),
        };
        Transport::new(RedisConnection(conn), timeout).with_wait(self.wait)
    }

    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether commands on keys of different hash slots must go separately.
    pub(super) fn is_cluster(&self) -> bool {
        matches!(self.kind, Kind::Cluster(_) | Kind::OtherCluster(_))
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
            Kind::Manager(b) => b.send(build, None).await,
            Kind::Multiplexed(b) => b.send(build, None).await,
            Kind::Sentinel(b) => b.send(build, None).await,
            Kind::OtherNode(b) => b.send(build, None).await,
            // Boxed where awaited: the rare path keeps its future out of the
            // size of every request's.
            Kind::Cluster(c) => Box::pin(self.send_alone(c.clone(), build)).await,
            Kind::OtherCluster(c) => Box::pin(self.send_alone(c.clone(), build)).await,
            #[cfg(feature = "pipelined")]
            Kind::Pipelined(c) => match c.send_built(build, self.timeout).await {
                Ok(replies) => wire::checked(replies).map_err(Attempt::Redis),
                Err(e) if e.is_timeout() => Err(Attempt::Timeout),
                Err(e) => Err(Attempt::Redis(e)),
            },
        }
    }

    /// [`Self::send`], then with `wait` a `WAIT` on the same connection, whose
    /// reply is the last: one per batch where commands are batched (see
    /// `batch`), one right after the unit otherwise.
    async fn send_waited(
        &self,
        build: &(dyn Fn(&mut dyn Unit) + Send + Sync),
        wait: Option<ReplicaWait>,
    ) -> Result<Replies, Attempt> {
        let Some(wait) = wait else { return self.send(build).await };
        let cmd = wait.cmd();
        match &self.kind {
            Kind::Manager(b) => b.send(build, Some(&cmd)).await,
            Kind::Multiplexed(b) => b.send(build, Some(&cmd)).await,
            Kind::Sentinel(b) => b.send(build, Some(&cmd)).await,
            Kind::OtherNode(b) => b.send(build, Some(&cmd)).await,
            _ => {
                let then_wait = |u: &mut dyn Unit| {
                    build(u);
                    wait.write(u);
                };
                Box::pin(self.send(&then_wait)).await
            }
        }
    }

    /// Cluster: a unit's command alone (a single command follows ASK
    /// redirections during a resharding), or the unit as one pipeline.
    async fn send_alone<C: ConnectionLike + Send>(
        &self,
        mut conn: C,
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
    ///
    /// `whole`: on a cluster, each group goes as one pipeline instead (what a
    /// `WAIT` at its end needs: the same node and connection as the writes).
    async fn run_once(&self, groups: &[Pipeline], whole: bool) -> Result<Vec<Vec<Value>>, Attempt> {
        match &self.kind {
            Kind::Cluster(conn) if whole => return self.piped_per_slot(conn, groups).await,
            Kind::OtherCluster(conn) if whole => return self.piped_per_slot(conn, groups).await,
            Kind::Cluster(conn) => return self.per_slot(conn, groups).await,
            Kind::OtherCluster(conn) => return self.per_slot(conn, groups).await,
            _ => {}
        }
        let cmds = |u: &mut dyn Unit| groups.iter().flat_map(|g| g.cmd_iter().cloned()).for_each(|c| u.cmd(c));
        let mut flat = self.send(&cmds).await?.into_iter();
        Ok(groups.iter().map(|g| flat.by_ref().take(g.len()).collect()).collect())
    }

    /// Cluster: the groups concurrently, each command of a group alone, in order.
    async fn per_slot<C>(&self, conn: &C, groups: &[Pipeline]) -> Result<Vec<Vec<Value>>, Attempt>
    where
        C: ConnectionLike + Clone + Send + Sync,
    {
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
        futures_util::future::try_join_all(calls).await
    }

    /// Cluster: the groups concurrently, each as one pipeline (routed by its
    /// first keyed command).
    async fn piped_per_slot<C>(&self, conn: &C, groups: &[Pipeline]) -> Result<Vec<Vec<Value>>, Attempt>
    where
        C: ConnectionLike + Clone + Send + Sync,
    {
        let calls = groups.iter().map(|p| {
            let mut conn = conn.clone();
            async move { self.bounded(p.query_async::<Vec<Value>>(&mut conn)).await }
        });
        futures_util::future::try_join_all(calls).await
    }

    /// Cluster: `SCRIPT LOAD` of every script, one command each (the client
    /// sends it to every node), concurrently.
    async fn load_on_every_node<C>(&self, conn: &C) -> Result<(), Attempt>
    where
        C: ConnectionLike + Clone + Send + Sync,
    {
        let loads = scripts::ALL.map(|src| {
            let mut conn = conn.clone();
            async move { self.bounded(redis::cmd("SCRIPT").arg("LOAD").arg(src).query_async::<Value>(&mut conn)).await }
        });
        futures_util::future::try_join_all(loads).await.map(drop)
    }

    /// [`Self::run_once`], reloading the scripts once if the server lost them
    /// (a restart: `SCRIPT LOAD` and retry). Every batch we build is safe to
    /// replay.
    pub(super) async fn run(&self, groups: &[Pipeline]) -> Result<Vec<Vec<Value>>, SessionError> {
        self.run_groups(groups, false).await
    }

    async fn run_groups(&self, groups: &[Pipeline], whole: bool) -> Result<Vec<Vec<Value>>, SessionError> {
        let mut loaded = false;
        loop {
            match self.run_once(groups, whole).await {
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
        self.run_unit_waited(build, None).await
    }

    /// [`Self::run_unit`], with `wait`'s reply last (see [`Self::send_waited`]).
    async fn run_unit_waited(
        &self,
        build: impl Fn(&mut dyn Unit) + Send + Sync,
        wait: Option<ReplicaWait>,
    ) -> Result<Replies, SessionError> {
        let mut loaded = false;
        loop {
            match self.send_waited(&build, wait).await {
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
        let loads = |u: &mut dyn Unit| {
            for src in scripts::ALL {
                u.begin(3);
                u.arg(b"SCRIPT");
                u.arg(b"LOAD");
                u.arg(src.as_bytes());
            }
        };
        let loaded = match &self.kind {
            Kind::Cluster(conn) => self.load_on_every_node(conn).await,
            Kind::OtherCluster(conn) => self.load_on_every_node(conn).await,
            _ => self.send(&loads).await.map(drop),
        };
        loaded.map_err(|a| self.fail(a))
    }

    fn fail(&self, a: Attempt) -> SessionError {
        match a {
            Attempt::Timeout => SessionError::Timeout(self.timeout),
            Attempt::Redis(e) if !self.is_cluster() && is_kind(&e, ServerErrorKind::CrossSlot, "CROSSSLOT") => {
                // A cluster connection given as a single node's: its batches
                // mix hash slots, so this is no passing fault but a setup to fix.
                tracing::error!(error = %e, "{MISCONFIGURED}");
                SessionError::Backend(format!("{MISCONFIGURED} ({e})"))
            }
            Attempt::Redis(e) => e.into(),
        }
    }
}
