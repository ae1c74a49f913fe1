//! `configure_async_sessions`: uapi's entry point for Redis sessions.

use super::RedisBackend;
use crate::sessions::{configure_sessions, AsyncRedisSessionStore, SessionOptions};
use crate::App;

/// uapi's `configure_async_sessions`: sessions in Redis. Takes a redis-rs
/// connection as it is (a [`redis::aio::ConnectionManager`], a
/// [`redis::cluster_async::ClusterConnection`], ...), or a [`RedisBackend`]
/// built from one with Redis settings (key prefix, command timeout); registers
/// `session: AsyncSession` (or the name in `options`) and returns the store.
///
/// It is [`configure_sessions`] on a [`RedisBackend`]: one configure path for
/// every backend.
///
/// # Examples
///
/// ```no_run
/// use uapi::App;
/// use uapi::sessions::{redis::configure_async_sessions, SessionOptions};
///
/// # async fn run() -> redis::RedisResult<()> {
/// let redis = redis::Client::open("redis://127.0.0.1:6379")?.get_connection_manager().await?;
/// let mut app = App::new();
/// let store = configure_async_sessions(&mut app, redis.clone(), SessionOptions::default());
/// let carts = configure_async_sessions(&mut app, redis,
///     SessionOptions::default().cookie_name("cart_session").session_arg_param_name("cart"));
/// # let _ = (store, carts); Ok(()) }
/// ```
pub fn configure_async_sessions(
    app: &mut App,
    redis: impl Into<RedisBackend>,
    options: SessionOptions,
) -> AsyncRedisSessionStore {
    configure_sessions(app, redis.into(), options)
}
