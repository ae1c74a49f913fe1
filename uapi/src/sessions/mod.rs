//! Server-side cookie sessions: uapi's Redis async sessions, and an in-memory
//! store with the same behaviour for development and tests.
//!
//! [`redis::configure_async_sessions`] (or [`configure_sessions`] with any
//! [`SessionBackend`]) registers a provider for `session: AsyncSession`. The cookie
//! carries only an opaque random id ([`SessionId`]); the data lives in the store.
//!
//! Storage layer: [`SessionBackend`] with two implementations,
//! [`memory::MemoryStore`] and [`redis::RedisBackend`].

mod backend;
mod error;
mod id;
pub mod memory;
pub mod redis;
mod session;
mod store;

pub use backend::{BoxFuture, LoadedSession, SaveOutcome, SaveRequest, SessionBackend};
pub use error::SessionError;
pub use id::SessionId;
pub use memory::MemoryStore;
pub use redis::RedisBackend;
pub use session::AsyncSession;
pub use store::{configure_sessions, AsyncRedisSessionStore, SessionOptions, SessionStore};
