//! The lookup of the primary: redis-rs's, then a connection to the node it
//! names (or to the one a failover announced put in its place).

use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::sentinel::SentinelClient;
use redis::{AsyncConnectionConfig, Client, ConnectionInfo, ErrorKind, RedisError, RedisResult, Role};

/// Upper bound of one lookup (the sentinels, the named node's `ROLE`, the
/// connection to it): redis-rs bounds each step by its own timeouts; this
/// bounds them together, so a lookup never holds up the next for long.
pub(super) const LOOKUP_PATIENCE: Duration = Duration::from_secs(5);

/// A primary found, connected to.
pub(super) struct Found {
    pub(super) conn: MultiplexedConnection,
    /// `host:port`, as the sentinels name it.
    pub(super) addr: Arc<str>,
    pub(super) db: i64,
}

/// redis-rs's lookup of the primary (sent on by `route`: to the replica
/// promoted in its place, if one was announced), then a connection to it whose `ROLE`
/// says primary (the node may have been demoted since redis-rs asked it; a
/// client built for replicas would name one), with its database. Bounded by
/// [`LOOKUP_PATIENCE`].
pub(super) async fn bounded_lookup(
    client: &mut SentinelClient,
    config: &AsyncConnectionConfig,
    route: impl FnOnce(ConnectionInfo) -> RedisResult<ConnectionInfo>,
) -> RedisResult<Found> {
    let lookup = async {
        let named = client.async_get_client().await?.get_connection_info().clone();
        let settings = route(named)?;
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
