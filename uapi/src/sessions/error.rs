//! Errors of the session storage layer.

use std::time::Duration;

/// Why a session store operation failed.
///
/// The split matters to callers: [`Unavailable`](SessionError::Unavailable) and
/// [`Timeout`](SessionError::Timeout) are transient infrastructure failures (the
/// HTTP layer maps them to 503), while [`Backend`](SessionError::Backend) means the
/// store answered but with something we cannot use.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The store could not be reached: connection refused/reset/dropped, I/O error,
    /// cluster node missing or down.
    #[error("session store unavailable: {0}")]
    Unavailable(String),
    /// The store did not answer within the configured command timeout.
    #[error("session store timed out after {0:?}")]
    Timeout(Duration),
    /// The store answered with an error or an unexpected reply.
    #[error("session store error: {0}")]
    Backend(String),
    /// The OS random number generator failed, so no session id could be made.
    #[error("could not generate a session id: {0}")]
    Rng(String),
    /// A secure session's cookie would be `size` bytes, past the `limit`
    /// (4096) a browser keeps of one cookie: it would drop the cookie
    /// silently, so the save fails instead.
    #[error(
        "the session's cookie would be {size} bytes, over the {limit}-byte limit of a browser cookie \
         (which would drop it silently): keep less in a cookie session, or use a server-side store"
    )]
    TooLarge {
        /// The `Set-Cookie` value's length (name, value and attributes).
        size: usize,
        /// The limit, 4096 bytes.
        limit: usize,
    },
}

impl SessionError {
    /// `true` for failures that are expected to go away by themselves
    /// (store down or slow), as opposed to bugs or bad data.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Timeout(_))
    }
}
