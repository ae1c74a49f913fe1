//! The lookup of the primary: redis-rs's, then a connection to the node it
//! names (or to the one a failover announced put in its place, once a
//! configured sentinel confirms it).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::sentinel::SentinelClient;
use redis::{AsyncConnectionConfig, Client, ConnectionInfo, ErrorKind, RedisError, RedisResult, Role};

/// Upper bound of one lookup (the sentinels, the named node's `ROLE`, the
/// connection to it): redis-rs bounds each step by its own timeouts; this
/// bounds them together, so a lookup never holds up the next for long.
pub(super) const LOOKUP_PATIENCE: Duration = Duration::from_secs(5);

/// After a failed lookup, how long the requests that find no connection fail
/// with its error instead of asking the sentinels again: while no primary is
/// reachable (a failover under way), the sentinels are asked at most about
/// ten times a second per connection, however many requests arrive.
pub(super) const LOOKUP_SPACING: Duration = Duration::from_millis(100);

/// A primary found, connected to.
pub(super) struct Found {
    pub(super) conn: MultiplexedConnection,
    /// `host:port`, as the sentinels name it.
    pub(super) addr: Arc<str>,
    pub(super) db: i64,
}

/// Where a lookup goes, as `route` decides from the node redis-rs named.
pub(super) enum Routed {
    /// The node redis-rs named (its lookup asked the configured sentinels).
    Named(ConnectionInfo),
    /// Another node, that a failover announcement put in its place: any
    /// watched sentinel may have sent it, including ones only discovered
    /// through `SENTINEL SENTINELS` (whose list comes from unauthenticated
    /// hello messages), so it is connected to only once a sentinel of the
    /// `SentinelClient`'s own list confirms it for master `master`.
    Announced { settings: ConnectionInfo, master: Arc<str> },
}

/// redis-rs's lookup of the primary (sent on by `route`: to the replica
/// promoted in its place, if one was announced and a configured sentinel
/// confirms it), then a connection to it whose `ROLE` says primary (the
/// node may have been demoted since redis-rs asked it; a client built for
/// replicas would name one), with its database. Bounded by
/// [`LOOKUP_PATIENCE`].
pub(super) async fn bounded_lookup(
    client: &mut SentinelClient,
    config: &AsyncConnectionConfig,
    route: impl FnOnce(ConnectionInfo) -> RedisResult<Routed>,
) -> RedisResult<Found> {
    let lookup = async {
        let named = client.async_get_client().await?.get_connection_info().clone();
        let settings = match route(named)? {
            Routed::Named(settings) => settings,
            Routed::Announced { settings, master } => {
                confirm(client, &master, &settings.addr().to_string()).await?;
                settings
            }
        };
        let addr: Arc<str> = settings.addr().to_string().into();
        let db = settings.redis_settings().db();
        let node = Client::open(settings.clone())?;
        let mut conn = node.get_multiplexed_async_connection_with_config(config).await?;
        match redis::cmd("ROLE").query_async::<Role>(&mut conn).await? {
            Role::Primary { .. } => Ok(Found { conn, addr, db }),
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

/// A sentinel's answers: `SENTINEL GET-MASTER-ADDR-BY-NAME`, `SENTINEL REPLICAS`.
type Answers = (Option<(String, u16)>, Vec<HashMap<String, String>>);

/// Asks the first configured sentinel that answers (redis-rs's
/// `async_get_sentinel_client`, never a discovered one) whether `addr` is
/// master `master`'s primary or one of its replicas; an error if not.
async fn confirm(client: &mut SentinelClient, master: &str, addr: &str) -> RedisResult<()> {
    let sentinel = client.async_get_sentinel_client().await?;
    let mut conn = sentinel.get_multiplexed_async_connection().await?;
    let (primary, replicas): Answers = redis::pipe()
        .cmd("SENTINEL")
        .arg("GET-MASTER-ADDR-BY-NAME")
        .arg(master)
        .cmd("SENTINEL")
        .arg("REPLICAS")
        .arg(master)
        .query_async(&mut conn)
        .await?;
    if confirmed(addr, primary.as_ref(), &replicas) {
        return Ok(());
    }
    Err(held(addr, "announced as the new primary, but the configured sentinels name it neither primary nor replica"))
}

/// The transient error of a request kept from (or a reply taken from) the
/// node at `addr` because of a failover.
pub(super) fn held(addr: &str, why: &str) -> RedisError {
    RedisError::from((
        ErrorKind::MasterNameNotFoundBySentinel,
        "the Redis primary is being failed over",
        format!("{addr}: {why}"),
    ))
}

/// Whether a configured sentinel's answers confirm `addr` (`host:port`):
/// it is the primary it names (`SENTINEL GET-MASTER-ADDR-BY-NAME`), or one
/// of the replicas it lists (`SENTINEL REPLICAS`).
fn confirmed(addr: &str, primary: Option<&(String, u16)>, replicas: &[HashMap<String, String>]) -> bool {
    let is = |host: &str, port: &str| format!("{host}:{port}") == addr;
    primary.is_some_and(|(host, port)| is(host, &port.to_string()))
        || replicas.iter().any(|r| match (r.get("ip"), r.get("port")) {
            (Some(host), Some(port)) => is(host, port),
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(ip: &str, port: &str) -> HashMap<String, String> {
        [("ip", ip), ("port", port), ("flags", "slave")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn an_announced_node_is_confirmed_only_as_the_primary_or_a_replica_a_configured_sentinel_names() {
        let primary = ("10.0.0.1".to_owned(), 6379);
        let replicas = [replica("10.0.0.2", "6379"), replica("10.0.0.3", "6380")];
        // A replica the configured sentinel lists (a promotion it has not heard of yet).
        assert!(confirmed("10.0.0.3:6380", Some(&primary), &replicas));
        // The primary it names (the switch it has heard of).
        assert!(confirmed("10.0.0.1:6379", Some(&primary), &[]));
        // Anything else: an address only a discovered sentinel announced.
        assert!(!confirmed("203.0.113.7:6379", Some(&primary), &replicas));
        assert!(!confirmed("10.0.0.3:6379", Some(&primary), &replicas), "same host, other port");
        assert!(!confirmed("10.0.0.2:6379", None, &[]), "a sentinel that knows no such master");
        let broken: HashMap<String, String> = [("ip".to_owned(), "10.0.0.2".to_owned())].into_iter().collect();
        assert!(!confirmed("10.0.0.2:6379", None, &[broken]), "a replica without a port");
    }
}
