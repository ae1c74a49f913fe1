//! [`RedisBackend`]: sessions as Redis hashes, in the layout the `redis`
//! module describes.

use std::collections::HashMap;
use std::time::Duration;

use redis::{Cmd, Pipeline, Value};

use super::reads::{self, Read};
use super::replicas::ReplicaWait;
use super::scripts::{DELETE_IF_NS, INDEX_ADD, SAVE, TAKE_INDEX};
use super::transport::{RedisConnection, Transport};
use super::wire::{convert, group, on_key, take, KeyBytes, Unit, MARKER_FIELD, NS_FIELD};
use crate::sessions::backend::{check_fields, check_request};
use crate::sessions::{
    AttemptLog, BoxFuture, LoadedSession, SaveOutcome, SaveRequest, SessionBackend, SessionError, SessionId, StoreInfo,
};

/// Max session deletions per pipeline in `remove_namespace`.
const DELETE_CHUNK: usize = 256;

/// A [`SessionBackend`] on Redis, built from a redis-rs connection: a
/// [`redis::aio::ConnectionManager`] (reconnects by itself; TLS, ACL users and
/// RESP3 as its URL says), a [`redis::cluster_async::ClusterConnection`], a
/// [`SentinelConnection`](super::SentinelConnection) (the primary of a Sentinel
/// deployment, followed across failovers), or any other [`RedisConnection`]. The settings only Redis has live here: the
/// key prefix and the command timeout.
///
/// Round trips: `load` and `save` take one in the steady state. Exceptions,
/// all rare: the first script use after a server (re)start (namespaced saves,
/// cluster mode) costs a `SCRIPT LOAD` and a retry; a save that *changes* the
/// namespace of an existing session needs a second trip to move the index
/// entry; `touch` and `delete` of a namespaced session need a second trip for
/// the index.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use uapi::App;
/// use uapi::sessions::SessionOptions;
/// use uapi::sessions::redis::{configure_async_sessions, RedisBackend};
///
/// # async fn run() -> redis::RedisResult<()> {
/// let client = redis::Client::open("rediss://app:secret@redis.internal:6380/0?protocol=resp3")?;
/// let backend = RedisBackend::new(client.get_connection_manager().await?)
///     .key_prefix("shop:")
///     .command_timeout(Duration::from_millis(500));
/// let mut app = App::new();
/// let store = configure_async_sessions(&mut app, backend, SessionOptions::default());
/// # let _ = store; Ok(()) }
/// ```
pub struct RedisBackend {
    transport: Transport,
    prefix: String,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("prefix", &self.prefix)
            .field("timeout", &self.transport.timeout())
            .field("cluster", &self.transport.is_cluster())
            .field("wait", &self.transport.wait())
            .finish()
    }
}

impl<C: Into<RedisConnection>> From<C> for RedisBackend {
    fn from(conn: C) -> Self {
        RedisBackend::new(conn)
    }
}

impl RedisBackend {
    /// A backend on `conn`, with no key prefix and a 2 s command timeout.
    pub fn new(conn: impl Into<RedisConnection>) -> Self {
        RedisBackend { transport: Transport::new(conn.into(), Duration::from_secs(2)), prefix: String::new() }
    }

    /// Prefix for every key this backend reads, writes or deletes (e.g.
    /// `"app1:"`). A store whose cookie is not the default `session_id` also
    /// puts its cookie name after the prefix, so stores side by side on one
    /// Redis never share keys.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Upper bound for each request to Redis (default 2 s); past it, the
    /// request fails with [`SessionError::Timeout`] (a 503).
    pub fn command_timeout(self, timeout: Duration) -> Self {
        RedisBackend { transport: self.transport.with_timeout(timeout), ..self }
    }

    /// Makes every write wait until `replicas` replicas have it: each save,
    /// login rotation, deletion and logout everywhere is followed by `WAIT
    /// replicas timeout` on the same connection, in the same round trip.
    /// On a single node (and through Sentinel) it is a group commit: the
    /// writes of concurrent requests leave in one pipeline, and ONE `WAIT` at
    /// its end covers them all. On a cluster each write carries its own, in
    /// the same pipeline, so to the node that took the write; so does each on
    /// a `PipelinedConnection`. `replicas == 0` turns it off (the default).
    ///
    /// What it buys: Redis replicates asynchronously, so a write the primary
    /// answered can be lost when a replica that had not received it yet is
    /// promoted (a failover after the primary died). With the wait on, a
    /// request whose save was answered with a success is on `replicas`
    /// replicas as well, so a failover to one of them keeps it
    /// (`tests/failover.rs`).
    ///
    /// What the client sees when fewer replicas acknowledge within `timeout`
    /// (a replica down, or lagging): a 503
    /// ([`SessionError::Unavailable`](crate::sessions::SessionError::Unavailable)),
    /// although the write *is* on the primary: as with a reply lost on the
    /// way, a 503 from a save means "maybe applied", and a retry re-sends it
    /// (saves are field-level and idempotent). `WAIT` does not roll anything
    /// back. Keep `timeout` below the command timeout, or the command timeout
    /// answers first (also a 503).
    ///
    /// What it costs: `WAIT` holds the connection it is sent on until the
    /// replicas answer: a replica round trip per batch of writes (per write
    /// on a cluster), and the commands queued behind it on that connection
    /// (other requests' reads included) wait too. A primary without enough replicas (one whose replica died,
    /// or a replica just promoted by a failover) would hold it for `timeout`
    /// on every write, so once a `WAIT` comes back short, that primary's
    /// writes (all its hash slots, on a cluster) are refused at once with a
    /// 503 for a second, without being sent; then one write goes as a probe,
    /// and an acknowledged probe ends the refusals. Keep `timeout` short
    /// (a replica on the same network acknowledges in about a millisecond;
    /// tens of milliseconds leave room for load). On the load bench (one
    /// replica on the same machine) the wait costs about 8% of the session
    /// writes' requests per second and 28% of the logins' (`bench/README.md`).
    /// The login throttle's attempt counts and `touch` (rolling expiry) do
    /// not wait.
    pub fn wait_for_replicas(self, replicas: u32, timeout: Duration) -> Self {
        let wait = (replicas > 0).then_some(ReplicaWait { replicas, timeout });
        RedisBackend { transport: self.transport.with_wait(wait), ..self }
    }

    /// The key prefix.
    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// How this backend reaches Redis.
    pub(super) fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The key of a session: only a validated [`SessionId`] builds one. On
    /// the stack for short prefixes (no heap allocation).
    fn session_key(&self, store: StoreInfo<'_>, id: &SessionId) -> KeyBytes {
        let mut key = KeyBytes::new();
        key.extend_from_slice(self.prefix.as_bytes());
        for part in store.scope() {
            key.extend_from_slice(part.as_bytes());
        }
        key.extend_from_slice(b"uapi:session:");
        key.extend_from_slice(id.as_bytes());
        key
    }

    /// Namespaces are arbitrary user text; hex-encoding makes the key part
    /// injective and inert: no glob chars, `:`, CRLF, `..` or `{hash tags}`.
    fn ns_key(&self, store: StoreInfo<'_>, ns: &str) -> String {
        let [scope, colon] = store.scope();
        let mut key = format!("{}{scope}{colon}uapi:ns:", self.prefix);
        for b in ns.bytes() {
            key.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            key.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        key
    }

    fn index_add(&self, store: StoreInfo<'_>, pipe: &mut Pipeline, ns: &str, id: &str, ttl_ms: i64) {
        pipe.invoke_script(INDEX_ADD.key(self.ns_key(store, ns)).arg(id).arg(ttl_ms));
    }

    /// A save of an existing session that leaves its namespace alone, in one
    /// transaction and no script: `MULTI`, `HSET` the changed fields, `HDEL`
    /// the removed ones, `PEXPIRE .. NX`, `HEXISTS` of the marker, `EXEC`.
    ///
    /// `HSET` creates a missing key, so a session deleted meanwhile (logout,
    /// expiry) comes back as a "husk": only this request's fields, without the
    /// marker field every session is created with. `HEXISTS` tells, and the
    /// save is reported [`SaveOutcome::Gone`], as the script would. A husk is
    /// never a session: loads treat a hash without the marker as absent, no id
    /// is ever reused (so no session is ever written to that key again), it
    /// has a TTL from the same transaction, and it is deleted right away.
    async fn update(&self, key: &KeyBytes, req: &SaveRequest<'_>, max_age: i64) -> Result<SaveOutcome, SessionError> {
        let mut digits = itoa::Buffer::new();
        let max_age = digits.format(max_age);
        let unit = |u: &mut dyn Unit| {
            u.bare("MULTI");
            if !req.upserts.is_empty() {
                u.hset(key, req.upserts.len(), req.upserts.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            }
            if !req.removals.is_empty() {
                u.begin(2 + req.removals.len());
                u.arg(b"HDEL");
                u.arg(key);
                for field in req.removals {
                    u.arg(field.as_bytes());
                }
            }
            u.on_key("PEXPIRE", key, &[max_age.as_bytes(), b"NX"]);
            u.on_key("HEXISTS", key, &[MARKER_FIELD.as_bytes()]);
            u.bare("EXEC");
        };
        let done = match self.transport.run_unit_write(key, unit).await?.pop() {
            Some(Value::Array(done)) => done,
            other => return Err(SessionError::Backend(format!("unexpected reply to EXEC: {other:?}"))),
        };
        match done.last() {
            Some(Value::Int(1)) => Ok(SaveOutcome::Saved),
            Some(Value::Int(0)) => {
                self.transport.run_cmd(|| on_key("DEL", key, 0)).await?;
                Ok(SaveOutcome::Gone)
            }
            other => Err(SessionError::Backend(format!("unexpected reply to HEXISTS: {other:?}"))),
        }
    }

    /// A save through the `SAVE` script: a namespace to set, or cluster mode.
    async fn save_scripted(
        &self,
        req: &SaveRequest<'_>,
        key: &KeyBytes,
        max_age: i64,
    ) -> Result<SaveOutcome, SessionError> {
        let id = req.id.as_str();
        let evalsha = || {
            let pairs = if req.existed { req.upserts.len() } else { req.full.len() };
            let mut inv = Cmd::with_capacity(10 + 2 * pairs + req.removals.len(), 160);
            inv.arg("EVALSHA").arg(SAVE.get_hash()).arg(1).arg(&key[..]);
            inv.arg(if req.existed { "1" } else { "0" }).arg(max_age);
            inv.arg(if req.namespace.is_some() { "1" } else { "0" }).arg(req.namespace.unwrap_or(""));
            inv.arg(pairs);
            if req.existed {
                for (k, v) in req.upserts {
                    inv.arg(k).arg(v);
                }
                inv.arg(req.removals);
            } else {
                for (k, v) in req.full {
                    inv.arg(k).arg(v);
                }
            }
            inv
        };
        let reply = match (req.existed, req.namespace) {
            (false, Some(ns)) => {
                // New session: its TTL is max_age, so the index entry can go
                // in the same round trip (separate command: other hash slot).
                let (mut save, mut index) = (redis::pipe(), redis::pipe());
                save.add_command(evalsha());
                self.index_add(req.store, &mut index, ns, id, max_age);
                let ns_key = self.ns_key(req.store, ns);
                let mut r = self.transport.run_writes(&[save, index], &[key, ns_key.as_bytes()]).await?;
                group(&mut r, 0).first_mut().map(std::mem::take).unwrap_or(Value::Nil)
            }
            _ => self.transport.run_unit_write(key, |u| u.cmd(evalsha())).await?.pop().unwrap_or(Value::Nil),
        };
        // 1: saved; 0: gone; an array: saved, and the namespace changed.
        let (changed, had_old, old, pttl): (i64, i64, String, i64) = match reply {
            Value::Int(0) => return Ok(SaveOutcome::Gone),
            Value::Int(_) => return Ok(SaveOutcome::Saved),
            v => {
                let (_, changed, had_old, old, pttl): (i64, i64, i64, String, i64) = convert(v)?;
                (changed, had_old, old, pttl)
            }
        };
        if let (true, 1, Some(ns)) = (req.existed, changed, req.namespace) {
            // The namespace of a live session changed: move its index entry.
            let mut add = redis::pipe();
            self.index_add(req.store, &mut add, ns, id, pttl.max(1));
            let mut groups = vec![add];
            let (new_index, old_index) = (self.ns_key(req.store, ns), self.ns_key(req.store, &old));
            if had_old == 1 {
                let mut rem = redis::pipe();
                rem.zrem(&old_index, id);
                groups.push(rem);
            }
            self.transport.run_writes(&groups, &[new_index.as_bytes(), old_index.as_bytes()][..groups.len()]).await?;
        }
        Ok(SaveOutcome::Saved)
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1)
}

impl SessionBackend for RedisBackend {
    fn load<'a>(
        &'a self,
        store: StoreInfo<'a>,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Option<LoadedSession>, SessionError>> {
        Box::pin(async move {
            let key = self.session_key(store, id);
            reads::read(&self.transport, &key, store.rolling, Read::All).await
        })
    }

    /// One `HMGET` of the marker, the namespace and `fields` (and a `PTTL`
    /// in the same round trip for a rolling store): the bytes on the wire
    /// grow with the fields asked for, not with the session.
    fn load_fields<'a>(
        &'a self,
        store: StoreInfo<'a>,
        id: &'a SessionId,
        fields: &'a [&'a str],
    ) -> BoxFuture<'a, Result<Option<LoadedSession>, SessionError>> {
        Box::pin(async move {
            check_fields(fields.iter().copied())?;
            let key = self.session_key(store, id);
            reads::read(&self.transport, &key, store.rolling, Read::Fields(fields)).await
        })
    }

    fn save<'a>(&'a self, req: SaveRequest<'a>) -> BoxFuture<'a, Result<SaveOutcome, SessionError>> {
        Box::pin(async move {
            check_request(&req)?;
            let max_age = ms(req.max_age);
            let key = self.session_key(req.store, req.id);
            if !req.existed && req.namespace.is_none() && !self.transport.is_cluster() {
                // A new session (a fresh random id: nothing to check) in one
                // transaction: no script to run, and never a key without a TTL.
                let mut digits = itoa::Buffer::new();
                let max_age = digits.format(max_age);
                let unit = |u: &mut dyn Unit| {
                    let fields = req.full.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                    u.bare("MULTI");
                    u.hset(&key, req.full.len() + 1, std::iter::once((MARKER_FIELD, "1")).chain(fields));
                    u.on_key("PEXPIRE", &key, &[max_age.as_bytes()]);
                    u.bare("EXEC");
                };
                // MULTI's and the queued commands' replies are checked too: an
                // error there means EXEC ran nothing.
                match self.transport.run_unit_write(&key, unit).await?.pop() {
                    Some(Value::Array(done)) if done.len() == 2 => return Ok(SaveOutcome::Saved),
                    other => return Err(SessionError::Backend(format!("unexpected reply to EXEC: {other:?}"))),
                }
            }
            if req.existed && req.namespace.is_none() && !self.transport.is_cluster() {
                return self.update(&key, &req, max_age).await;
            }
            // Boxed: this rarer path keeps its (large) future out of the hot paths'.
            Box::pin(self.save_scripted(&req, &key, max_age)).await
        })
    }

    fn delete<'a>(&'a self, store: StoreInfo<'a>, id: &'a SessionId) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(async move {
            let key = self.session_key(store, id);
            let mut p = redis::pipe();
            p.hget(&key[..], NS_FIELD).del(&key[..]);
            let mut r = self.transport.run_writes(&[p], &[&key]).await?;
            let ns: Option<String> = take(group(&mut r, 0), 0)?;
            if let Some(ns) = ns {
                let (mut p, index) = (redis::pipe(), self.ns_key(store, &ns));
                p.zrem(&index, id.as_str());
                self.transport.run_writes(&[p], &[index.as_bytes()]).await?;
            }
            Ok(())
        })
    }

    fn rotate<'a>(
        &'a self,
        store: StoreInfo<'a>,
        old: Option<&'a SessionId>,
        new: &'a SessionId,
        data: &'a HashMap<String, String>,
        namespace: Option<&'a str>,
        max_age: Duration,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(async move {
            check_fields(data.keys().map(String::as_str))?;
            let old = old.filter(|o| *o != new);
            let (new_key, max_age) = (self.session_key(store, new), ms(max_age));
            // Group 0: the new session, written from scratch.
            let mut inv = SAVE.key(&new_key[..]);
            inv.arg("0").arg(max_age).arg(if namespace.is_some() { "1" } else { "0" });
            inv.arg(namespace.unwrap_or("")).arg(data.len());
            for (k, v) in data {
                inv.arg(k).arg(v);
            }
            let mut fresh = redis::pipe();
            fresh.del(&new_key[..]).invoke_script(&inv);
            let mut groups = vec![fresh];
            let old_key = old.map(|old| self.session_key(store, old));
            let index = namespace.map(|ns| self.ns_key(store, ns));
            let mut keys: Vec<&[u8]> = vec![&new_key];
            // Group 1: the old session (read its namespace, delete it).
            if let Some(old_key) = &old_key {
                let mut p = redis::pipe();
                p.hget(&old_key[..], NS_FIELD).del(&old_key[..]);
                groups.push(p);
                keys.push(old_key);
            }
            // Group 2: the namespace index: add new, drop old (re-login case).
            if let (Some(ns), Some(index)) = (namespace, &index) {
                let mut p = redis::pipe();
                self.index_add(store, &mut p, ns, new.as_str(), max_age);
                if let Some(old) = old {
                    p.zrem(index, old.as_str());
                }
                groups.push(p);
                keys.push(index.as_bytes());
            }
            let mut r = self.transport.run_writes(&groups, &keys).await?;
            if let Some(old) = old {
                let old_ns: Option<String> = take(group(&mut r, 1), 0)?;
                if let Some(o) = old_ns.filter(|o| Some(o.as_str()) != namespace) {
                    let (mut p, old_index) = (redis::pipe(), self.ns_key(store, &o));
                    p.zrem(&old_index, old.as_str());
                    self.transport.run_writes(&[p], &[old_index.as_bytes()]).await?;
                }
            }
            Ok(())
        })
    }

    fn touch<'a>(
        &'a self,
        store: StoreInfo<'a>,
        id: &'a SessionId,
        max_age: Duration,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(async move {
            let (key, max_age) = (self.session_key(store, id), ms(max_age));
            let mut p = redis::pipe();
            // PEXPIRE never creates a key, so touching a dead session is a no-op.
            p.hget(&key[..], NS_FIELD).pexpire(&key[..], max_age);
            let mut r = self.transport.run(&[p]).await?;
            let vals = group(&mut r, 0);
            let (ns, applied): (Option<String>, bool) = (take(vals, 0)?, take(vals, 1)?);
            if let (Some(ns), true) = (ns, applied) {
                // The index score must follow the new expiry, or pruning would
                // drop a live session from "log out everywhere".
                let mut p = redis::pipe();
                self.index_add(store, &mut p, &ns, id.as_str(), max_age);
                self.transport.run(&[p]).await?;
            }
            Ok(())
        })
    }

    fn remove_namespace<'a>(
        &'a self,
        store: StoreInfo<'a>,
        namespace: &'a str,
    ) -> BoxFuture<'a, Result<u64, SessionError>> {
        Box::pin(async move {
            // Read and drop the index atomically (one key, one script), so a
            // session added concurrently lands in a fresh index, not in limbo.
            let (mut p, index) = (redis::pipe(), self.ns_key(store, namespace));
            p.invoke_script(&TAKE_INDEX.key(&index));
            let members: Vec<String> =
                take(group(&mut self.transport.run_writes(&[p], &[index.as_bytes()]).await?, 0), 0)?;
            // Index entries are only ever written by us, but re-validate them as
            // ids anyway before building keys from them.
            let ids: Vec<SessionId> = members.iter().filter_map(|m| SessionId::parse(m)).collect();
            let mut count = 0u64;
            for chunk in ids.chunks(DELETE_CHUNK) {
                let keys: Vec<KeyBytes> = chunk.iter().map(|id| self.session_key(store, id)).collect();
                let groups: Vec<Pipeline> = keys
                    .iter()
                    .map(|key| {
                        let mut p = redis::pipe();
                        p.invoke_script(DELETE_IF_NS.key(&key[..]).arg(namespace));
                        p
                    })
                    .collect();
                let keys: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
                for mut g in self.transport.run_writes(&groups, &keys).await? {
                    count += take::<u64>(&mut g, 0)?;
                }
            }
            Ok(count)
        })
    }

    fn attempt_log(&self) -> Option<&dyn AttemptLog> {
        Some(self)
    }
}
