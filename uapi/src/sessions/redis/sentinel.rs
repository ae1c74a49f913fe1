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
//!   batch carrying several `WAIT`s takes several wait timeouts while the
//!   replicas are missing), and a primary that stops answering for good is
//!   one the sentinels fail over, which the next point catches;
//! - one lookup runs at a time, in a task of its own (a request cancelled by
//!   its timeout leaves it running); the requests queued behind it share its
//!   outcome, and for [`LOOKUP_SPACING`] after a failed one, requests fail at
//!   once instead of asking the sentinels again;
//! - a subscription to `+switch-master` on a sentinel (`switch`) drops the
//!   connection when the sentinels move the primary away from it. A planned
//!   failover (`SENTINEL FAILOVER`) leaves the old primary up and answering
//!   for some 10 s before Sentinel demotes it, and nothing would fail to tell.
//!
//! Modules: `verdict` (what a reply says about the node it came from),
//! `switch` (the subscription).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::sentinel::SentinelClient;
use redis::{AsyncConnectionConfig, Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, RedisResult, Role, Value};
use tokio::sync::oneshot;

mod switch;
mod verdict;

use self::switch::Heard;
use self::verdict::{verdict, Many, One, Op, Verdict};

/// After a failed lookup, how long the requests that find no connection fail
/// with its error instead of asking the sentinels again: while no primary is
/// reachable (a failover under way), the sentinels are asked at most about
/// ten times a second per connection, however many requests arrive.
const LOOKUP_SPACING: Duration = Duration::from_millis(100);

/// Upper bound of one lookup (the sentinels, the named node's `ROLE`, the
/// connection to it): redis-rs bounds each step by its own timeouts; this
/// bounds them together, so a lookup never holds up the next for long.
const LOOKUP_PATIENCE: Duration = Duration::from_secs(5);

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
/// - a `+switch-master` announcement from the sentinels moves it to the new
///   primary even while the old one still answers (a planned `SENTINEL
///   FAILOVER`);
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
/// a save is answered once a replica has it, and a failover to that replica
/// keeps it (`tests/sentinel.rs`, with one replica). With two replicas or
/// more, a planned failover can lose the saves the old primary took in its
/// last second (SECURITY.md, "Known gaps").
///
/// Clones share one connection, one lookup and one subscription; the
/// subscription ends with the last clone.
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
    /// Dropped with the last clone: ends the `+switch-master` subscription.
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
        let (conn, addr, db) = bounded_lookup(&mut client, &config).await?;
        tracing::info!(primary = %addr, "session store: Redis primary found through Sentinel");
        let (stop, stopped) = oneshot::channel();
        let client = Arc::new(tokio::sync::Mutex::new(client));
        let live = Live { id: 0, conn, addr };
        let state = State { live: Some(live), next_id: 1, lookups: 0, failed: None };
        let shared = Arc::new(Shared { client: client.clone(), config, db, state: Mutex::new(state), _stop: stop });
        let weak = Arc::downgrade(&shared);
        tokio::spawn(switch::watch(client, stopped, LOOKUP_PATIENCE, move |heard| {
            let Some(shared) = weak.upgrade() else { return false };
            match heard {
                Heard::Switched { old, new } => shared.switched(&old, &new),
                Heard::Resubscribed => shared.forget_any(),
            }
            true
        }));
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
            let live = match self.live()? {
                Some(live) => live,
                None => {
                    looked_up = true;
                    self.reconnect().await?
                }
            };
            let mut conn = live.conn.clone();
            let reply = op.send(&mut conn).await;
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

    /// The live connection; `None` when a lookup is due; the last lookup's
    /// error while it is recent.
    fn live(&self) -> RedisResult<Option<Live>> {
        let state = self.state();
        if let Some(live) = &state.live {
            return Ok(Some(live.clone()));
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

    /// The sentinels moved the primary away from `old` (`host:port`): drop
    /// a connection to it, and look up at the next request without waiting
    /// out a failed lookup's spacing.
    fn switched(&self, old: &str, new: &str) {
        let mut state = self.state();
        state.failed = None;
        if let Some(live) = state.live.take_if(|l| &*l.addr == old) {
            tracing::warn!(old = %live.addr, new, "session store: the sentinels switched the Redis primary");
        }
    }

    /// Drops the live connection, whatever it is (a switch may have been
    /// announced while no subscription was listening).
    fn forget_any(&self) {
        let mut state = self.state();
        state.failed = None;
        state.live = None;
    }

    /// One lookup and a connection to the primary it names, or the outcome
    /// of the lookup that finished while this request waited for its turn.
    async fn reconnect(self: &Arc<Self>) -> RedisResult<Live> {
        let seen = self.state().lookups;
        let client = self.client.clone().lock_owned().await;
        {
            let state = self.state();
            if state.lookups != seen {
                return match (&state.live, &state.failed) {
                    (Some(live), _) => Ok(live.clone()),
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
            let found = bounded_lookup(&mut client, &shared.config).await;
            // Recorded before the lock is let go: whoever waited sees it.
            let live = shared.found(found);
            drop(client);
            live
        });
        lookup.await.unwrap_or_else(|e| Err(RedisError::from((ErrorKind::Io, "Sentinel lookup failed", e.to_string()))))
    }

    /// Records a lookup's outcome.
    fn found(&self, found: RedisResult<(MultiplexedConnection, Arc<str>, i64)>) -> RedisResult<Live> {
        let mut state = self.state();
        state.lookups += 1;
        match found {
            Ok((conn, addr, _)) => {
                tracing::info!(primary = %addr, "session store: Redis primary found through Sentinel");
                let live = Live { id: state.next_id, conn, addr };
                state.next_id += 1;
                state.live = Some(live.clone());
                state.failed = None;
                Ok(live)
            }
            Err(e) => {
                tracing::debug!(error = %e, "session store: no Redis primary through Sentinel yet");
                state.failed = Some((Instant::now(), e.clone()));
                Err(e)
            }
        }
    }
}

/// redis-rs's lookup of the primary, then a connection to it whose `ROLE`
/// says primary (the node may have been demoted since redis-rs asked it; a
/// client built for replicas would name one), with its database. Bounded by
/// [`LOOKUP_PATIENCE`].
async fn bounded_lookup(
    client: &mut SentinelClient,
    config: &AsyncConnectionConfig,
) -> RedisResult<(MultiplexedConnection, Arc<str>, i64)> {
    let lookup = async {
        let node = client.async_get_client().await?;
        let info = node.get_connection_info();
        let (addr, db): (Arc<str>, i64) = (info.addr().to_string().into(), info.redis_settings().db());
        let mut conn = node.get_multiplexed_async_connection_with_config(config).await?;
        match redis::cmd("ROLE").query_async::<Role>(&mut conn).await? {
            Role::Primary { .. } => Ok((conn, addr, db)),
            _ => Err(RedisError::from((
                ErrorKind::MasterNameNotFoundBySentinel,
                "the node the sentinels named is no primary (a failover under way, or a SentinelClient built for replicas)",
                addr.to_string(),
            ))),
        }
    };
    match tokio::time::timeout(LOOKUP_PATIENCE, lookup).await {
        Ok(found) => found,
        Err(_) => Err(RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no Redis primary found through Sentinel within {LOOKUP_PATIENCE:?}"),
        ))),
    }
}
