//! The subscriptions to the sentinels' failover announcements (`events`),
//! on EVERY sentinel: only the one that leads a failover announces its steps
//! before the end, and any of them may lead (`SENTINEL FAILOVER` makes the
//! sentinel it is sent to the leader).
//!
//! The sentinels are found from the first configured one that answers
//! (redis-rs's `async_get_sentinel_client`): `SENTINEL MASTERS` names the
//! primary's master (by the address the connection found it at) and its
//! failover timeout, and `SENTINEL SENTINELS <name>` the other sentinels
//! that monitor it, reached with the first one's connection settings (auth,
//! TLS). This is retried every second until it works, then done again every
//! 30 s and after each subscription made again: a sentinel not watched yet
//! is watched from then on (one no longer listed stays watched).
//!
//! Each sentinel has a subscription of its own: one that fails, ends (the
//! sentinel died) or stops answering pings (every 5 s) is made again a
//! second later (logged at `warn` when it is lost, at `info` when it is
//! back), and the connection is told (an announcement may have been
//! missed). Each time a subscription is made, that sentinel is asked
//! whether it has a failover under way (`SENTINEL MASTER <name>`, its
//! `failover_in_progress` flag), which counts as its `+try-failover`: an
//! app that connects, or subscribes again, in the middle of a failover
//! holds as if it had heard it begin.
//!
//! While a failover a sentinel began is held (no replica promoted yet), that
//! sentinel is asked the same about once a second, on a connection of its
//! own: a leader that restarted, or an abort missed, frees the hold then,
//! not at the failover timeout. A sentinel that does not answer (within a
//! second) keeps it, up to that timeout.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use redis::sentinel::SentinelClient;
use redis::{Client, ConnectionAddr, ConnectionInfo, ErrorKind, RedisError, RedisResult, Value};
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinSet;

use super::events::{event, reported, Event, CHANNELS};

/// How long after a lost subscription (or a failed search for the
/// sentinels) it is tried again.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);
/// How often each subscribed sentinel is pinged, so one that vanished
/// without closing the connection (a network partition) is noticed.
const PING_EVERY: Duration = Duration::from_secs(5);
/// Redis's default `failover-timeout`, for a sentinel that does not report one.
const DEFAULT_FAILOVER_TIMEOUT: Duration = Duration::from_secs(180);
/// How often a sentinel that began a failover still held is asked whether
/// it still is under way.
const ASK_EVERY: Duration = Duration::from_secs(1);
/// The bound on each such question (one not answered keeps the hold).
const ASK_PATIENCE: Duration = Duration::from_secs(1);
/// How often the sentinels are listed again (and after each subscription
/// made again).
const REDISCOVER_EVERY: Duration = Duration::from_secs(30);

/// What the subscriptions tell the connection.
pub(super) enum Heard {
    /// Sentinel number `sentinel` announced `event`; `hold` is the
    /// failover timeout the sentinels use for this primary.
    Event { sentinel: usize, event: Event, hold: Duration },
    /// A subscription was made again after it was lost: an announcement
    /// may have been missed meanwhile.
    Resubscribed,
    /// The name of the master watched, found before any announcement is
    /// heard.
    Master(Arc<str>),
}

/// What the connection gives the watch: the primary's address (to find its
/// master's name by), and what was heard; `None` or `false` once the
/// connection is gone, which ends the watch.
pub(super) trait Listener: Clone + Send + Sync + 'static {
    fn primary(&self) -> Option<String>;
    fn heard(&self, heard: Heard) -> bool;
    /// Whether sentinel `sentinel` began a failover that is held (no
    /// replica promoted yet), to be asked whether it still is under way.
    fn awaits(&self, sentinel: usize) -> Option<bool>;
}

/// The master watched.
struct Master {
    name: Arc<str>,
    hold: Duration,
}

/// The sentinels watched, each followed in a task of its own (all ended
/// when this is dropped).
struct Watched<L> {
    master: Arc<Master>,
    patience: Duration,
    listener: L,
    /// Told by a subscription made again: the sentinels are listed again.
    relist: Arc<Notify>,
    addrs: Vec<String>,
    tasks: JoinSet<()>,
    /// Whether the first list was followed (a sentinel added after is news).
    listed: bool,
}

impl<L: Listener> Watched<L> {
    /// Follows the sentinel at `info` unless it is followed already.
    fn add(&mut self, info: ConnectionInfo) {
        let addr = info.addr().to_string();
        if self.addrs.contains(&addr) {
            return;
        }
        let i = self.addrs.len();
        if self.listed {
            tracing::info!(sentinel = %addr, "session store: a sentinel not known before monitors the primary; listening to it too");
        }
        self.addrs.push(addr);
        let (master, patience, listener, relist) =
            (self.master.clone(), self.patience, self.listener.clone(), self.relist.clone());
        self.tasks.spawn(follow(i, info, master, patience, listener, relist));
    }
}

/// Finds the sentinels, then listens to each until `stop` ends (dropped
/// with the last connection) or the listener says the connection is gone;
/// each step bounded by `patience`.
pub(super) async fn watch(
    client: Arc<tokio::sync::Mutex<SentinelClient>>,
    mut stop: oneshot::Receiver<()>,
    patience: Duration,
    listener: impl Listener,
) {
    let mut warned = false;
    let (master, sentinels) = loop {
        let Some(primary) = listener.primary() else { return };
        tokio::select! {
            _ = &mut stop => return,
            found = discover(&client, &primary, patience) => match found {
                Ok(found) => break found,
                // No subscription until this works: said once, at `warn`.
                Err(e) if !std::mem::replace(&mut warned, true) => tracing::warn!(error = %e, "session store: could not list the sentinels to listen to their failover announcements; trying again every second"),
                Err(e) => tracing::debug!(error = %e, "session store: could not list the sentinels yet"),
            },
        }
        tokio::select! {
            _ = &mut stop => return,
            () = tokio::time::sleep(RESUBSCRIBE_AFTER) => {}
        }
    };
    tracing::debug!(master = %master.name, sentinels = sentinels.len(), "session store: listening to the sentinels");
    if !listener.heard(Heard::Master(master.name.clone())) {
        return;
    }
    let relist = Arc::new(Notify::new());
    let name = master.name.clone();
    let master = Arc::new(master);
    let tasks = JoinSet::new();
    let mut watched = Watched { master, patience, listener, relist, addrs: Vec::new(), tasks, listed: false };
    sentinels.into_iter().for_each(|info| watched.add(info));
    watched.listed = true;
    let mut every = tokio::time::interval(REDISCOVER_EVERY);
    every.tick().await;
    loop {
        let relist = watched.relist.clone();
        let ended = tokio::select! {
            _ = &mut stop => return,
            Some(_) = watched.tasks.join_next() => true,
            _ = every.tick() => false,
            () = relist.notified() => false,
        };
        // A subscription ends for good only once the connection is gone.
        if ended && watched.listener.primary().is_none() {
            return;
        }
        tokio::select! {
            _ = &mut stop => return,
            listed = list(&client, &name, patience) => match listed {
                Ok(sentinels) => sentinels.into_iter().for_each(|info| watched.add(info)),
                Err(e) => tracing::debug!(error = %e, "session store: could not list the sentinels again"),
            },
        }
    }
}

/// The master whose primary is at `primary`, its failover timeout, and its
/// sentinels, as the first configured sentinel that answers names them.
async fn discover(
    client: &tokio::sync::Mutex<SentinelClient>,
    primary: &str,
    patience: Duration,
) -> RedisResult<(Master, Vec<ConnectionInfo>)> {
    let find = async {
        let first = client.lock().await.async_get_sentinel_client().await?;
        let info = first.get_connection_info().clone();
        let mut conn = first.get_multiplexed_async_connection().await?;
        let masters: Vec<HashMap<String, String>> =
            redis::cmd("SENTINEL").arg("MASTERS").query_async(&mut conn).await?;
        let master = masters.iter().find(|m| address(m).as_deref() == Some(primary)).ok_or_else(|| {
            RedisError::from((
                ErrorKind::MasterNameNotFoundBySentinel,
                "no master at the primary's address",
                primary.to_owned(),
            ))
        })?;
        let name = master.get("name").cloned().unwrap_or_default();
        let hold = match master.get("failover-timeout").and_then(|t| t.parse::<u64>().ok()) {
            Some(ms) => Duration::from_millis(ms),
            None => DEFAULT_FAILOVER_TIMEOUT,
        };
        let sentinels = sentinels(&mut conn, info, &name).await?;
        Ok((Master { name: name.into(), hold }, sentinels))
    };
    match tokio::time::timeout(patience, find).await {
        Ok(found) => found,
        Err(_) => Err(timed_out("listing the sentinels", patience)),
    }
}

/// Master `name`'s sentinels, as the first configured sentinel that
/// answers names them.
async fn list(
    client: &tokio::sync::Mutex<SentinelClient>,
    name: &str,
    patience: Duration,
) -> RedisResult<Vec<ConnectionInfo>> {
    let find = async {
        let first = client.lock().await.async_get_sentinel_client().await?;
        let info = first.get_connection_info().clone();
        let mut conn = first.get_multiplexed_async_connection().await?;
        sentinels(&mut conn, info, name).await
    };
    match tokio::time::timeout(patience, find).await {
        Ok(listed) => listed,
        Err(_) => Err(timed_out("listing the sentinels", patience)),
    }
}

/// The sentinel at `info` (on `conn`), then the others it names for master
/// `name`, reached with its settings.
async fn sentinels(
    conn: &mut MultiplexedConnection,
    info: ConnectionInfo,
    name: &str,
) -> RedisResult<Vec<ConnectionInfo>> {
    let others: Vec<HashMap<String, String>> =
        redis::cmd("SENTINEL").arg("SENTINELS").arg(name).query_async(conn).await?;
    let mut sentinels = vec![info.clone()];
    for other in others.iter().filter_map(address) {
        match node_at(&info, &other) {
            Some(other) if !sentinels.iter().any(|s| s.addr().to_string() == other.addr().to_string()) => {
                sentinels.push(other);
            }
            _ => {}
        }
    }
    Ok(sentinels)
}

/// `ip:port` of an instance a sentinel describes.
fn address(fields: &HashMap<String, String>) -> Option<String> {
    let port: u16 = fields.get("port")?.parse().ok()?;
    Some(format!("{}:{port}", fields.get("ip")?))
}

/// `info` with its address moved to `addr` (`host:port`), keeping its
/// settings (auth, database, TLS parameters); `None` for a Unix socket or
/// an address that is no `host:port`.
pub(super) fn node_at(info: &ConnectionInfo, addr: &str) -> Option<ConnectionInfo> {
    let (host, port) = addr.rsplit_once(':')?;
    let (host, port) = (host.to_owned(), port.parse::<u16>().ok()?);
    let addr = match info.addr() {
        ConnectionAddr::Tcp(..) => ConnectionAddr::Tcp(host, port),
        ConnectionAddr::TcpTls { insecure, tls_params, .. } => {
            ConnectionAddr::TcpTls { host, port, insecure: *insecure, tls_params: tls_params.clone() }
        }
        _ => return None,
    };
    Some(info.clone().set_addr(addr))
}

/// Sentinel number `i`'s subscription, made again each time it is lost,
/// until the listener says the connection is gone.
async fn follow(
    i: usize,
    info: ConnectionInfo,
    master: Arc<Master>,
    patience: Duration,
    listener: impl Listener,
    relist: Arc<Notify>,
) {
    let mut asker = Asker { info: info.clone(), conn: None };
    // `None` before the first try; whether the last one holds.
    let mut subscribed = None;
    loop {
        let why = match listen(i, &master, patience, &listener, &mut asker, &mut subscribed, &relist).await {
            Ok(false) => return,
            Ok(true) => String::from("the sentinel closed it"),
            Err(e) => e.to_string(),
        };
        if subscribed != Some(false) {
            tracing::warn!(sentinel = %info.addr(), %why, "session store: no subscription to this sentinel's failover announcements (a failover it leads may go unheard); trying again every second");
            subscribed = Some(false);
        }
        tokio::time::sleep(RESUBSCRIBE_AFTER).await;
    }
}

/// One subscription, until it ends (`Ok(true)`: subscribe again), fails,
/// or the listener says the connection is gone (`Ok(false)`).
async fn listen(
    i: usize,
    master: &Master,
    patience: Duration,
    listener: &impl Listener,
    asker: &mut Asker,
    subscribed: &mut Option<bool>,
    relist: &Notify,
) -> RedisResult<bool> {
    let info = asker.info.clone();
    let subscribe = async {
        let (mut sink, messages) = Client::open(info.clone())?.get_async_pubsub().await?.split();
        sink.subscribe(CHANNELS).await?;
        Ok::<_, RedisError>((sink, messages))
    };
    let (mut sink, mut messages) = match tokio::time::timeout(patience, subscribe).await {
        Ok(subscribed) => subscribed?,
        Err(_) => return Err(timed_out("subscribing to a sentinel", patience)),
    };
    let again = subscribed.is_some();
    if *subscribed == Some(false) {
        tracing::info!(sentinel = %info.addr(), "session store: subscribed to the sentinel's failover announcements again");
    }
    *subscribed = Some(true);
    let tell = |event: Event| listener.heard(Heard::Event { sentinel: i, event, hold: master.hold });
    // A failover under way now was announced before this subscription.
    if let Some(now) = asker.ask(&master.name).await {
        tracing::debug!(sentinel = %info.addr(), ?now, "session store: subscribed; the sentinel reports");
        if !tell(now) {
            return Ok(false);
        }
    }
    if again {
        if !listener.heard(Heard::Resubscribed) {
            return Ok(false);
        }
        relist.notify_one();
    }
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut check = tokio::time::interval(ASK_EVERY);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    check.tick().await;
    loop {
        tokio::select! {
            message = messages.next() => {
                let Some(message) = message else { return Ok(true) };
                let Ok(payload) = message.get_payload::<String>() else { continue };
                let Some(event) = event(message.get_channel_name(), &payload, &master.name) else { continue };
                tracing::debug!(sentinel = %info.addr(), channel = message.get_channel_name(), %payload, "session store: heard");
                if !tell(event) {
                    return Ok(false);
                }
            }
            _ = ping.tick() => match tokio::time::timeout(patience, sink.ping::<Value>()).await {
                Ok(pong) => drop(pong?),
                Err(_) => return Err(timed_out("a ping to a subscribed sentinel", patience)),
            },
            _ = check.tick() => match listener.awaits(i) {
                None => return Ok(false),
                Some(false) => {}
                // Still under way is no news (and does not extend the hold).
                Some(true) => if let Some(settled @ Event::Settled { .. }) = asker.ask(&master.name).await {
                    tracing::debug!(sentinel = %info.addr(), ?settled, "session store: asked about the failover it began");
                    if !tell(settled) {
                        return Ok(false);
                    }
                },
            },
        }
    }
}

/// Questions to one sentinel about the master, on a connection of its own
/// (a subscribed one takes no commands), made when first needed and again
/// after one failed.
struct Asker {
    info: ConnectionInfo,
    conn: Option<MultiplexedConnection>,
}

impl Asker {
    /// What the sentinel says of master `name` now (`SENTINEL MASTER`):
    /// `None` if it does not answer within [`ASK_PATIENCE`], or answers no
    /// master.
    async fn ask(&mut self, name: &str) -> Option<Event> {
        match tokio::time::timeout(ASK_PATIENCE, self.master(name)).await {
            Ok(Ok(fields)) => reported(&fields),
            Ok(Err(e)) => {
                tracing::debug!(sentinel = %self.info.addr(), error = %e, "session store: a sentinel asked about the master did not answer");
                self.conn = None;
                None
            }
            Err(_) => {
                tracing::debug!(sentinel = %self.info.addr(), "session store: a sentinel asked about the master did not answer in time");
                self.conn = None;
                None
            }
        }
    }

    async fn master(&mut self, name: &str) -> RedisResult<HashMap<String, String>> {
        if self.conn.is_none() {
            self.conn = Some(Client::open(self.info.clone())?.get_multiplexed_async_connection().await?);
        }
        let Some(conn) = self.conn.as_mut() else { return Err(timed_out("connecting to a sentinel", ASK_PATIENCE)) };
        redis::cmd("SENTINEL").arg("MASTER").arg(name).query_async(conn).await
    }
}

fn timed_out(what: &str, patience: Duration) -> RedisError {
    RedisError::from(std::io::Error::new(std::io::ErrorKind::TimedOut, format!("{what} took over {patience:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::IntoConnectionInfo;

    #[test]
    fn a_node_at_another_address_keeps_the_settings() {
        let info = "redis://:secret@127.0.0.1:26379/2".into_connection_info().expect("a url");
        let moved = node_at(&info, "10.0.0.2:26380").expect("tcp");
        assert_eq!(moved.addr().to_string(), "10.0.0.2:26380");
        assert_eq!(moved.redis_settings().db(), 2);
        assert_eq!(moved.redis_settings().password(), Some("secret"));
        assert!(node_at(&info, "10.0.0.2").is_none());
        let v6 = node_at(&info, "::1:6379").expect("an IPv6 address");
        assert_eq!(v6.addr().to_string(), "::1:6379");
    }

    #[test]
    fn an_instance_address_is_ip_and_port() {
        let fields: HashMap<String, String> =
            [("ip", "127.0.0.1"), ("port", "6379")].into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        assert_eq!(address(&fields).as_deref(), Some("127.0.0.1:6379"));
    }
}
