//! [`SentinelConnection`]: the primary of a Redis Sentinel deployment, found
//! through redis-rs's own `sentinel` module and followed across failovers.
//!
//! Why a wrapper: redis-rs's `SentinelClient` asks the sentinels for the
//! primary once, when it is asked for a connection, and the
//! `MultiplexedConnection` it hands out talks to that node for good. After a
//! failover, that is a dead address (every request a connection error) or a
//! node demoted to replica (every write `READONLY`), until the app restarts;
//! its `ConnectionManager` reconnects, but to the same address. So the lookup
//! stays redis-rs's (`SENTINEL MASTERS` on each sentinel in turn, skipping a
//! primary flagged down, then `ROLE` on the node named), and this module adds
//! what a long-lived connection needs around it:
//!
//! - the connection is dropped, and the next request looks the primary up
//!   again, when a request finds the connection broken (its outcome is
//!   unknown: it fails, transient, and is never replayed), or meets a
//!   `READONLY`/`MASTERDOWN` refusal (nothing was applied: the request looks
//!   the primary up and is sent once more, on the new one). A timeout fails
//!   its request but keeps the connection: a slow reply is no dead node (a
//!   batch's `WAIT` takes its whole timeout while the replicas are
//!   missing), and a primary that stops answering for good is
//!   one the sentinels fail over, which the next point catches;
//! - one lookup runs at a time, in a task of its own (a request cancelled by
//!   its timeout leaves it running); the requests queued behind it share its
//!   outcome, and for 100 ms (`LOOKUP_SPACING`) after a failed one,
//!   requests fail at once instead of asking the sentinels again;
//! - subscriptions to the failover announcements (`watch`, `events`) of the
//!   first configured sentinel that answers and of every sentinel it lists
//!   for the primary (`SENTINEL SENTINELS`; listed again every 30 s),
//!   reached with that first sentinel's settings: a planned failover
//!   (`SENTINEL FAILOVER`) leaves the old primary up and answering, and
//!   nothing would fail to tell. From the first announcement that a failover
//!   of the primary has begun (`+try-failover`, or a sentinel that reports
//!   one under way when subscribed to), no new request is started on it:
//!   requests fail at once, transient, and the reply to a request that had
//!   already started on it is failed too when it comes back after that (a
//!   503, "maybe applied": a replica other than the one promoted may be the
//!   one that acknowledged it). The leader sends `SLAVEOF NO ONE` two or
//!   three sentinel timer ticks (52 to 100 ms) after its `+try-failover`;
//!   the app's margin is that, less the time the announcement takes to
//!   reach it and be processed (157 ms from the app processing
//!   `+try-failover` to `+failover-state-wait-promotion`, published as
//!   `SLAVEOF NO ONE` is sent, in a logged run). In a planned failover the
//!   connection moves to the replica as soon as a promotion is announced
//!   (`+promoted-slave` from the leader, or any sentinel's `+switch-master`):
//!   a lookup that
//!   still names the old primary (a sentinel that has not heard yet) goes to
//!   the promoted replica instead (`failovers`), once a configured sentinel
//!   confirms it (`lookup`). When the primary was killed, redis-rs's lookup
//!   skips the primary the sentinels flag down and names none until they
//!   switch: the app moves on `+switch-master` (2.5–2.8 s after the kill in
//!   `tests/sentinel.rs`, `down-after-milliseconds` 1000). A failover given
//!   up (`-failover-abort-*` from every sentinel that began it, or each of
//!   them reporting none under way when asked, once a second) frees the old
//!   primary; one not heard of for its failover timeout (at least 5 s;
//!   Redis's default is 180 s) too, and the primary is looked up again.
//!
//! Without that hold, a planned failover with two replicas lost saves that
//! `WAIT 1` had acknowledged: the old primary took writes until the
//! sentinels moved the other replica away from it (`+switch-master` comes
//! about a second after the promotion), that replica acknowledged them,
//! then resynced from the promoted one and dropped them.
//!
//! Modules: `verdict` (what a reply says about the node it came from),
//! `events` (the announcements), `failovers` (the failovers heard of),
//! `watch` (the subscriptions), `lookup` (redis-rs's, and the confirmation).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::sentinel::SentinelClient;
use redis::{
    AsyncConnectionConfig, Cmd, ConnectionInfo, ErrorKind, Pipeline, RedisError, RedisFuture, RedisResult, Value,
};
use tokio::sync::oneshot;

mod events;
mod failovers;
mod lookup;
mod verdict;
mod watch;

use self::events::Event;
use self::failovers::{Failovers, Hold};
use self::lookup::{bounded_lookup, held, Found, Routed, LOOKUP_PATIENCE, LOOKUP_SPACING};
use self::verdict::{verdict, Many, One, Op, Verdict};
use self::watch::{node_at, Heard, Listener};

/// A connection to the current primary of a Redis Sentinel deployment, that
/// follows failovers: give it to [`RedisBackend::new`](super::RedisBackend::new)
/// (or use it as any redis-rs [`ConnectionLike`]).
///
/// It asks the sentinels for the primary through redis-rs's
/// [`SentinelClient`] (build that for `SentinelServerType::Master`, with the
/// sentinels' and the nodes' auth and TLS as redis-rs allows), and asks them
/// again when the primary fails it:
/// - a broken connection fails that request (a 503 in the session store:
///   "maybe applied", never replayed), and the next request connects to
///   whatever primary the sentinels name then;
/// - a `READONLY` or `MASTERDOWN` refusal (a node demoted to replica) is
///   sent once more, to the primary the sentinels name now;
/// - from a sentinel's announcement that a failover of the primary has
///   begun, no new request is started on it (requests fail at once, a 503)
///   and the reply to one already started is failed (a 503, "maybe
///   applied"), until a sentinel announces the replica promoted in its
///   place (in a planned `SENTINEL FAILOVER` the connection moves there at
///   once, even while the old primary still answers, once a configured
///   sentinel lists that replica; after a crash, when the sentinels switch)
///   or every sentinel that began the failover gives it up (or reports none
///   under way), or its failover timeout passes (180 s by Redis's default);
///   it listens to the first configured sentinel that answers and to the
///   sentinels that one lists, since any of them may lead;
/// - a timeout fails its request (a 503) and keeps the connection.
///
/// Between a failure and the sentinels naming a new primary, requests fail
/// at once with transient errors: each request makes at most one lookup,
/// and one lookup runs at a time.
///
/// redis-rs's `SentinelClient` alone resolves the primary once, and the
/// connection it returns keeps talking to that node after a failover: that
/// is the gap this type fills (see `uapi/src/sessions/redis/sentinel.rs`).
///
/// With [`RedisBackend::wait_for_replicas`](super::RedisBackend::wait_for_replicas),
/// a save is answered once a replica has it, and a failover keeps it: with
/// one replica, that is the one promoted; with two, a save answered before
/// the app processed the failover's announcement was on a replica before
/// the leader sent `SLAVEOF NO ONE` (two sentinel timer ticks, over 100 ms,
/// after it published the announcement, less the time that took to reach
/// the app; 157 ms in a logged run), and the replicas of one primary
/// receive its writes together: lost only if the promoted one lagged the
/// other by that much (`tests/sentinel.rs`, killed and planned, one and two
/// replicas; SECURITY.md).
///
/// Clones share one connection, one lookup and one set of subscriptions;
/// the subscriptions end with the last clone.
///
/// # Examples
///
/// ```no_run
/// use uapi::redis::sentinel::{SentinelClient, SentinelServerType};
/// use uapi::sessions::redis::{configure_async_sessions, RedisBackend, SentinelConnection};
/// use uapi::sessions::SessionOptions;
/// use uapi::App;
///
/// # async fn run() -> uapi::redis::RedisResult<()> {
/// let sentinels = vec!["redis://10.0.0.1:26379", "redis://10.0.0.2:26379", "redis://10.0.0.3:26379"];
/// let client = SentinelClient::build(sentinels, String::from("mymaster"), None, SentinelServerType::Master)?;
/// let primary = SentinelConnection::connect(client).await?;
/// let mut app = App::new();
/// let backend = RedisBackend::new(primary).key_prefix("shop:");
/// let store = configure_async_sessions(&mut app, backend, SessionOptions::default());
/// # let _ = store; Ok(()) }
/// ```
#[derive(Clone)]
pub struct SentinelConnection {
    shared: Arc<Shared>,
}

/// What the clones of one [`SentinelConnection`] share.
struct Shared {
    /// redis-rs's lookups take `&mut`; a tokio mutex, since a lookup holds
    /// it across its awaits (which also makes lookups one at a time).
    client: Arc<tokio::sync::Mutex<SentinelClient>>,
    /// For every connection to a primary (timeouts, and so on).
    config: AsyncConnectionConfig,
    /// The database the nodes' connection info selects.
    db: i64,
    state: Mutex<State>,
    /// Dropped with the last clone: ends the subscriptions.
    _stop: oneshot::Sender<()>,
}

/// The connection now, and how the last lookup went.
struct State {
    live: Option<Live>,
    next_id: u64,
    /// Lookups finished so far (a request that waited for one shares it).
    lookups: u64,
    /// The last lookup's error and when, while no connection is live.
    failed: Option<(Instant, RedisError)>,
    /// The primary last connected to (`host:port`), live or not.
    last: Arc<str>,
    /// The failovers the sentinels announced.
    failovers: Failovers,
    /// The master's name, once the subscriptions found it: to confirm an
    /// announced node with a configured sentinel.
    master: Option<Arc<str>>,
}

/// A connection to the primary.
#[derive(Clone)]
struct Live {
    /// Which connection, so a late failure on an old one never drops a new one.
    id: u64,
    conn: MultiplexedConnection,
    /// `host:port`, as the sentinels name it.
    addr: Arc<str>,
}

impl SentinelConnection {
    /// Asks the sentinels `client` knows for the primary and connects to it,
    /// with redis-rs's default connection settings (1 s to connect, 500 ms
    /// per response: keep a `wait_for_replicas` timeout below that).
    ///
    /// # Errors
    ///
    /// When no sentinel names a primary that answers, or the node named is
    /// no primary (a `client` built for replicas): redis-rs's error.
    pub async fn connect(client: SentinelClient) -> RedisResult<SentinelConnection> {
        SentinelConnection::connect_with_config(client, AsyncConnectionConfig::new()).await
    }

    /// [`Self::connect`], with `config` for every connection to a primary
    /// (connection and response timeouts, and so on).
    ///
    /// # Errors
    ///
    /// As [`Self::connect`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use uapi::redis::sentinel::{SentinelClient, SentinelServerType};
    /// use uapi::redis::AsyncConnectionConfig;
    /// use uapi::sessions::redis::SentinelConnection;
    ///
    /// # async fn run() -> uapi::redis::RedisResult<()> {
    /// let sentinels = vec!["redis://127.0.0.1:26379"];
    /// let client = SentinelClient::build(sentinels, String::from("mymaster"), None, SentinelServerType::Master)?;
    /// let config = AsyncConnectionConfig::new()
    ///     .set_connection_timeout(Some(Duration::from_millis(300)))
    ///     .set_response_timeout(Some(Duration::from_millis(800)));
    /// let primary = SentinelConnection::connect_with_config(client, config).await?;
    /// # let _ = primary; Ok(()) }
    /// ```
    pub async fn connect_with_config(
        mut client: SentinelClient,
        config: AsyncConnectionConfig,
    ) -> RedisResult<SentinelConnection> {
        let found = bounded_lookup(&mut client, &config, |named| Ok(Routed::Named(named))).await?;
        tracing::info!(primary = %found.addr, "session store: Redis primary found through Sentinel");
        let (stop, stopped) = oneshot::channel();
        let client = Arc::new(tokio::sync::Mutex::new(client));
        let state = State {
            live: Some(Live { id: 0, conn: found.conn, addr: found.addr.clone() }),
            next_id: 1,
            lookups: 0,
            failed: None,
            last: found.addr,
            failovers: Failovers::default(),
            master: None,
        };
        let shared =
            Arc::new(Shared { client: client.clone(), config, db: found.db, state: Mutex::new(state), _stop: stop });
        tokio::spawn(watch::watch(client, stopped, LOOKUP_PATIENCE, Watcher(Arc::downgrade(&shared))));
        Ok(SentinelConnection { shared })
    }

    /// The primary this connection talks to now (`host:port`, as the
    /// sentinels name it), or `None` between a failure and the next lookup:
    /// for logs and health checks.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(primary: uapi::sessions::redis::SentinelConnection) {
    /// if let Some(addr) = primary.primary() {
    ///     println!("sessions on the Redis primary at {addr}");
    /// }
    /// # }
    /// ```
    pub fn primary(&self) -> Option<String> {
        self.shared.state().live.as_ref().map(|l| l.addr.to_string())
    }
}

impl std::fmt::Debug for SentinelConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentinelConnection").field("primary", &self.primary()).finish()
    }
}

impl ConnectionLike for SentinelConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(self.shared.send(One(cmd)))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(self.shared.send(Many(pipeline, offset, count)))
    }

    fn get_db(&self) -> i64 {
        self.shared.db
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `op` to the primary: on the live connection, or on one a lookup
    /// makes; once more after a refusal, if this request has not looked up yet.
    async fn send<O: Op>(self: &Arc<Self>, op: O) -> RedisResult<O::Reply> {
        let mut looked_up = false;
        loop {
            let (live, begun) = match self.live()? {
                Some(live) => live,
                None => {
                    looked_up = true;
                    self.reconnect().await?
                }
            };
            let mut conn = live.conn.clone();
            let reply = op.send(&mut conn).await;
            // A failover of this node began while the request was out: a
            // replica other than the one promoted may have acknowledged it.
            if self.state().failovers.begun_since(&live.addr, begun) {
                return Err(held(&live.addr, "its failover began before it answered: the outcome is unknown"));
            }
            match verdict(&reply, O::refused) {
                Verdict::Fine => return reply,
                Verdict::Broken => {
                    self.forget(live.id, "its connection failed");
                    return reply;
                }
                Verdict::Refused => {
                    self.forget(live.id, "it answered as a replica");
                    if looked_up {
                        return reply;
                    }
                    looked_up = true;
                }
            }
        }
    }

    /// The live connection, with the count of failovers begun; `None` when
    /// a lookup is due; an error while the last primary is held by a
    /// failover, or while the last lookup's error is recent.
    fn live(&self) -> RedisResult<Option<(Live, u64)>> {
        let mut state = self.state();
        if let Some(live) = &state.live {
            return Ok(Some((live.clone(), state.failovers.begun())));
        }
        let last = state.last.clone();
        if state.failovers.hold(&last, Instant::now()) == Hold::Wait {
            return Err(held(&last, "a failover of it is under way"));
        }
        match &state.failed {
            Some((at, e)) if at.elapsed() < LOOKUP_SPACING => Err(e.clone()),
            _ => Ok(None),
        }
    }

    /// Drops connection `id` (if it is still the live one).
    fn forget(&self, id: u64, why: &str) {
        let mut state = self.state();
        if let Some(live) = state.live.take_if(|l| l.id == id) {
            tracing::warn!(primary = %live.addr, "session store: {why}; asking the sentinels for the primary again");
        }
    }

    /// Sentinel `sentinel` announced `event`: the live connection is
    /// dropped if its node is held or replaced now (no more is sent to it),
    /// and a promotion clears a failed lookup's spacing.
    fn announced(&self, sentinel: usize, event: &Event, hold: Duration) {
        let mut state = self.state();
        let now = Instant::now();
        state.failovers.heard(sentinel, event, hold, now);
        if matches!(event, Event::Promoted { .. }) {
            state.failed = None;
        }
        let Some(addr) = state.live.as_ref().map(|l| l.addr.clone()) else { return };
        match state.failovers.hold(&addr, now) {
            Hold::Free => {}
            Hold::Wait => {
                tracing::warn!(primary = %addr, "session store: the sentinels began a failover of the Redis primary; no new request is started on it until they promote a replica or give up");
                state.live = None;
            }
            Hold::MovedTo(new) => {
                tracing::warn!(old = %addr, %new, "session store: the sentinels promoted a replica in place of the Redis primary");
                state.live = None;
            }
        }
    }

    /// Drops the live connection, whatever it is (an announcement may have
    /// been missed while a subscription was lost).
    fn forget_any(&self) {
        let mut state = self.state();
        state.failed = None;
        state.live = None;
    }

    /// One lookup and a connection to the primary it names, or the outcome
    /// of the lookup that finished while this request waited for its turn;
    /// with the count of failovers begun when it was recorded.
    async fn reconnect(self: &Arc<Self>) -> RedisResult<(Live, u64)> {
        let seen = self.state().lookups;
        let client = self.client.clone().lock_owned().await;
        {
            let state = self.state();
            if state.lookups != seen {
                return match (&state.live, &state.failed) {
                    (Some(live), _) => Ok((live.clone(), state.failovers.begun())),
                    (None, Some((_, e))) => Err(e.clone()),
                    (None, None) => Err(RedisError::from((ErrorKind::Io, "the Redis primary was just dropped"))),
                };
            }
        }
        // In a task of its own: a request cancelled by its timeout leaves
        // the lookup running, so even a slow one ends, for those after it.
        let shared = self.clone();
        let lookup = tokio::spawn(async move {
            let mut client = client;
            let found = bounded_lookup(&mut client, &shared.config, |named| shared.route(named)).await;
            // Recorded before the lock is let go: whoever waited sees it.
            let live = shared.found(found);
            drop(client);
            live
        });
        lookup.await.unwrap_or_else(|e| Err(RedisError::from((ErrorKind::Io, "Sentinel lookup failed", e.to_string()))))
    }

    /// Records a lookup's outcome (a node held by a failover announced
    /// meanwhile is no outcome).
    fn found(&self, found: RedisResult<Found>) -> RedisResult<(Live, u64)> {
        let mut state = self.state();
        state.lookups += 1;
        let found = found.and_then(|found| match state.failovers.hold(&found.addr, Instant::now()) {
            Hold::Free => Ok(found),
            _ => Err(held(&found.addr, "a failover of it was announced during the lookup")),
        });
        match found {
            Ok(found) => {
                tracing::info!(primary = %found.addr, "session store: Redis primary found through Sentinel");
                let live = Live { id: state.next_id, conn: found.conn, addr: found.addr.clone() };
                state.next_id += 1;
                state.live = Some(live.clone());
                state.failed = None;
                state.last = found.addr;
                Ok((live, state.failovers.begun()))
            }
            Err(e) => {
                tracing::debug!(error = %e, "session store: no Redis primary through Sentinel yet");
                state.failed = Some((Instant::now(), e.clone()));
                Err(e)
            }
        }
    }

    /// Where a node the sentinels named stands: itself, or the replica
    /// announced in its place (to be confirmed by a configured sentinel
    /// before it is connected to), or an error while a failover of it has
    /// begun.
    fn route(&self, named: ConnectionInfo) -> RedisResult<Routed> {
        let addr = named.addr().to_string();
        let mut state = self.state();
        let Some(new) = state.failovers.destination(&addr, Instant::now()).map_err(|why| held(&addr, why))? else {
            return Ok(Routed::Named(named));
        };
        let master = state.master.clone().ok_or_else(|| held(&addr, "its master's name is not known yet"))?;
        let settings = node_at(&named, &new).ok_or_else(|| held(&addr, "its replacement is unreachable"))?;
        Ok(Routed::Announced { settings, master })
    }
}

/// What [`SentinelConnection`] tells the subscriptions, and hears from them.
#[derive(Clone)]
struct Watcher(Weak<Shared>);

impl Listener for Watcher {
    fn primary(&self) -> Option<String> {
        self.0.upgrade().map(|shared| shared.state().last.to_string())
    }

    fn awaits(&self, sentinel: usize) -> Option<bool> {
        self.0.upgrade().map(|shared| shared.state().failovers.awaits(sentinel, Instant::now()))
    }

    fn heard(&self, heard: Heard) -> bool {
        let Some(shared) = self.0.upgrade() else { return false };
        match heard {
            Heard::Event { sentinel, event, hold } => shared.announced(sentinel, &event, hold),
            Heard::Resubscribed => shared.forget_any(),
            Heard::Master(name) => shared.state().master = Some(name),
        }
        true
    }
}
