//! What an app is configured with beyond its routes: the request body limits and
//! the server's timeouts. A leaf: the per-request context reads the body limits,
//! the server the timeouts, and [`crate::App`] sets both.

use std::time::Duration;

/// The default request body limit: 2 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// How much of a request body is read, and for how long.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimits {
    /// Larger bodies get a 413.
    pub(crate) max: usize,
    /// Slower bodies get a 408 (the header-read timeout ends with the head).
    pub(crate) read_timeout: Duration,
}

/// Server settings.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) body: BodyLimits,
    pub(crate) header_read_timeout: Duration,
    pub(crate) shutdown_grace: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            body: BodyLimits { max: DEFAULT_BODY_LIMIT, read_timeout: Duration::from_secs(30) },
            header_read_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}
