//! Server-side cookie sessions.
//!
//! Storage layer: [`SessionBackend`] with two implementations,
//! [`memory::MemoryStore`] and [`redis::RedisBackend`]; ids are [`SessionId`].

mod backend;
mod error;
mod id;
pub mod memory;
pub mod redis;

pub use backend::{BoxFuture, LoadedSession, SaveOutcome, SaveRequest, SessionBackend};
pub use error::SessionError;
pub use id::SessionId;
pub use memory::MemoryStore;
pub use redis::RedisBackend;
