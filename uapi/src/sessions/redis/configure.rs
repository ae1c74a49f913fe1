//! `configure_async_sessions`: uapi's entry point for Redis sessions.

use redis::aio::ConnectionLike;

use super::RedisBackend;

/// uapi's `configure_async_sessions`: sessions in Redis, on uapi's
/// [`PipelinedConnection`](super::PipelinedConnection) (one node, the
/// fastest) or on the redis-rs async connection you already have, a
/// [`redis::aio::ConnectionManager`] (reconnects by itself) or a
/// [`redis::cluster_async::ClusterConnection`]. Registers `session:
/// AsyncSession` (or the name in `options`) and returns the store.
///
/// # Examples
///
/// ```no_run
/// use uapi::{App, sessions::{redis::{configure_async_sessions, PipelinedConnection}, SessionOptions}};
///
/// # async fn run() -> redis::RedisResult<()> {
/// let redis = PipelinedConnection::connect("redis://127.0.0.1:6379").await?;
/// let mut app = App::new();
/// let store = configure_async_sessions(&mut app, redis.clone(), SessionOptions::default());
/// let carts = configure_async_sessions(&mut app, redis,
///     SessionOptions::default().cookie_name("cart_session").session_arg_param_name("cart"));
/// # let _ = (store, carts); Ok(()) }
/// ```
pub fn configure_async_sessions<C>(
    app: &mut crate::App,
    conn: C,
    options: crate::sessions::SessionOptions,
) -> crate::sessions::AsyncRedisSessionStore
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    let backend = RedisBackend::new(conn)
        .key_prefix(store_key_prefix(&options))
        .command_timeout(options.command_timeout)
        .ttl_on_load(options.rolling);
    crate::sessions::configure_sessions(app, backend, options)
}

/// The key prefix of a store: the configured prefix, then the cookie name for any
/// store but the default one. Two stores on one Redis (the usual `session` and
/// `cart`) thus never share keys: a cart cookie replayed as the session cookie
/// finds nothing, and logging a user out of one store leaves the other alone.
fn store_key_prefix(options: &crate::sessions::SessionOptions) -> String {
    let default = crate::sessions::SessionOptions::default();
    if options.cookie_name == default.cookie_name {
        options.redis_key_prefix.clone()
    } else {
        format!("{}{}:", options.redis_key_prefix, options.cookie_name)
    }
}
