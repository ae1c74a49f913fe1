//! Cookie sessions: server-side (uapi's Redis async sessions, and an in-memory
//! store with the same behaviour for development and tests), and secure
//! sessions kept in the cookie itself, encrypted ([`secure`], feature
//! `secure-sessions`).
//!
//! [`configure_sessions`] registers a provider for `session: AsyncSession` (or
//! the name in [`SessionOptions`]) on any [`SessionBackend`];
//! `redis::configure_async_sessions` is uapi's name for it on Redis (feature
//! `redis`). The cookie carries only an opaque random id ([`SessionId`]); the
//! data lives in the store.
//!
//! A route that needs a few fields of a large session takes a [`LazySession`]
//! instead: the same session, read field by field as the handler asks.
//!
//! Storage layer: [`SessionBackend`] with two implementations,
//! [`memory::MemoryStore`] and `redis::RedisBackend`.
//!
//! Modules, each using only those before it: `error`, `id`, `attempts`, `backend`,
//! `options`, `session`, `store`; then the backends, `memory` and `redis`;
//! then `secure`, the store without a server (on `error`, `options`,
//! `cross_site` and `session`'s clock).

mod attempts;
mod backend;
mod cross_site;
mod error;
mod id;
pub mod memory;
mod options;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "secure-sessions")]
pub mod secure;
mod session;
mod store;

pub use attempts::{AttemptLog, Reservation};
pub use backend::{BoxFuture, LoadedSession, SaveOutcome, SaveRequest, SessionBackend, StoreInfo};
pub use error::SessionError;
pub use id::SessionId;
pub use memory::MemoryStore;
pub use options::SessionOptions;
#[cfg(feature = "redis")]
pub use redis::RedisBackend;
#[cfg(feature = "secure-sessions")]
pub use secure::SecureSession;
pub use session::lazy::LazySession;
pub use session::{AsyncSession, ENDS_AT_FIELD};
pub use store::{configure_sessions, AsyncRedisSessionStore, SessionStore};
