//! Server-side cookie sessions.

mod backend;
mod error;
mod id;
pub mod memory;
pub mod redis;

pub use backend::*;
pub use error::SessionError;
pub use id::SessionId;
