//! [`AttemptLog`]: counted attempts with a sliding window, kept where the
//! sessions are. What the login throttle (`uapi::login::throttle`) counts
//! failed logins in, so every process of an app (and every `Workers` worker)
//! sees the same counts.

use std::time::Duration;

use super::{BoxFuture, SessionError};

/// What [`AttemptLog::reserve`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The attempt was recorded under every key.
    Admitted,
    /// A key already held `limit` attempts younger than the window: nothing
    /// was recorded under any key. The wait is how long until that key holds
    /// fewer (never zero).
    Refused {
        /// Time until the attempt would be admitted.
        retry_after: Duration,
    },
}

/// Attempts counted per key in a sliding window: an attempt counts for
/// `window` after it was made, then drops out by itself (no key is locked
/// forever). Keys are plain text chosen by the caller; a backend may prefix
/// them, and keeps each under a time to live of the window.
///
/// Every method is atomic per key: two processes reserving on one key at once
/// never both get the last place.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uapi::sessions::{AttemptLog, MemoryStore, Reservation};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let log = MemoryStore::new();
/// let minute = Duration::from_secs(60);
/// let keys = [("acct:ann", 1), ("addr:10.0.0.7", 20)];
/// assert_eq!(log.reserve("a1", &keys, minute).await.unwrap(), Reservation::Admitted);
/// assert!(matches!(log.reserve("a2", &keys, minute).await.unwrap(), Reservation::Refused { .. }));
/// log.clear("acct:ann").await.unwrap();
/// assert_eq!(log.reserve("a3", &keys, minute).await.unwrap(), Reservation::Admitted);
/// # }
/// ```
pub trait AttemptLog: Send + Sync + 'static {
    /// Records `attempt` (an id unique to this attempt) under every key of
    /// `keys`, unless one of them already holds its limit of attempts younger
    /// than `window`: then records nothing and says how long to wait.
    fn reserve<'a>(
        &'a self,
        attempt: &'a str,
        keys: &'a [(&'a str, u32)],
        window: Duration,
    ) -> BoxFuture<'a, Result<Reservation, SessionError>>;

    /// Takes `attempt` back from `key` (it did not count after all).
    fn release<'a>(&'a self, key: &'a str, attempt: &'a str) -> BoxFuture<'a, Result<(), SessionError>>;

    /// Forgets every attempt under `key`.
    fn clear<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), SessionError>>;
}
