//! The errors and deadlines of a [`super::PipelinedConnection`].

use std::time::Duration;

use redis::{ErrorKind, RedisError};
use tokio::time::Instant;

/// A timeout that never comes (`Instant + Duration::MAX` would overflow).
const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The runtime this code runs on, if any.
pub(super) fn runtime_here() -> Option<tokio::runtime::Id> {
    tokio::runtime::Handle::try_current().ok().map(|h| h.id())
}

/// Now plus `timeout`, or far in the future when that overflows.
pub(super) fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout).unwrap_or(now + FAR)
}

pub(super) fn overdue() -> RedisError {
    RedisError::from(std::io::Error::new(std::io::ErrorKind::TimedOut, "Redis did not answer in time"))
}

pub(super) fn lost() -> RedisError {
    RedisError::from(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "the connection to Redis was lost"))
}

pub(super) fn config(what: &str) -> RedisError {
    RedisError::from((ErrorKind::InvalidClientConfig, "unsupported connection", what.to_owned()))
}
