//! The storage trait the session middleware talks to.

use std::collections::HashMap;
use std::time::Duration;

use super::{AttemptLog, SessionError, SessionId};
pub use crate::addon::BoxFuture;

/// A session as read from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadedSession {
    /// The user-visible key/value data (never contains reserved fields).
    pub data: HashMap<String, String>,
    /// The namespace (e.g. a user id) the session belongs to, if any.
    pub namespace: Option<String>,
    /// Time left before the store expires the session.
    pub ttl: Option<Duration>,
}

impl LoadedSession {
    /// A session read from a store (for backends written outside uapi).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::HashMap;
    /// let s = uapi::sessions::LoadedSession::new(HashMap::new(), Some("7".into()), None);
    /// assert_eq!(s.namespace.as_deref(), Some("7"));
    /// ```
    pub fn new(data: HashMap<String, String>, namespace: Option<String>, ttl: Option<Duration>) -> Self {
        LoadedSession { data, namespace, ttl }
    }
}

/// Which store a call to a backend is for: every [`SessionBackend`] method
/// gets it. Stores side by side on one backend (the usual `session` and
/// `cart`) keep their sessions apart by it, so a cart id replayed as the
/// session cookie finds nothing: the scope travels with each call, and no
/// wrapper or shared backend can lose it.
///
/// # Examples
///
/// ```
/// use uapi::sessions::StoreInfo;
/// let carts = StoreInfo::new("cart_session", false);
/// assert_eq!(carts.cookie_name, "cart_session");
/// assert!(!StoreInfo::DEFAULT.rolling);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreInfo<'a> {
    /// The store's cookie name, unique among the stores of an app: what tells
    /// stores apart.
    pub cookie_name: &'a str,
    /// Whether the store extends sessions as they are read, so
    /// [`SessionBackend::load`] must report [`LoadedSession::ttl`].
    pub rolling: bool,
}

impl<'a> StoreInfo<'a> {
    /// The store whose cookie is the default `session_id`, without rolling
    /// expiry: its keys carry no scope (the layout of uapi's first versions).
    pub const DEFAULT: StoreInfo<'static> = StoreInfo { cookie_name: "session_id", rolling: false };

    /// The store with cookie `cookie_name`.
    pub const fn new(cookie_name: &'a str, rolling: bool) -> Self {
        StoreInfo { cookie_name, rolling }
    }

    /// The scope a backend puts in its keys: empty for the default store,
    /// else the cookie name and a `:`.
    ///
    /// # Examples
    ///
    /// ```
    /// use uapi::sessions::StoreInfo;
    /// assert_eq!(StoreInfo::DEFAULT.scope(), ["", ""]);
    /// assert_eq!(StoreInfo::new("cart_session", false).scope(), ["cart_session", ":"]);
    /// ```
    pub fn scope(&self) -> [&'a str; 2] {
        if self.cookie_name == Self::DEFAULT.cookie_name {
            ["", ""]
        } else {
            [self.cookie_name, ":"]
        }
    }
}

/// Everything a backend needs to persist the changes one request made.
///
/// Saves are field-level on purpose: two concurrent requests of the same
/// session that change *different* keys must both persist, which a
/// read-modify-write of the whole map cannot guarantee.
///
/// Built by the session layer (and by a backend's own tests): a plain struct.
#[derive(Debug, Clone, Copy)]
pub struct SaveRequest<'a> {
    /// The store the session belongs to.
    pub store: StoreInfo<'a>,
    /// The session's id.
    pub id: &'a SessionId,
    /// `true` if the session was loaded from the store, `false` if brand new.
    /// An existing session that has vanished meanwhile is never recreated.
    pub existed: bool,
    /// Fields set or changed since load.
    pub upserts: &'a [(String, String)],
    /// Fields removed since load.
    pub removals: &'a [String],
    /// The whole map, used to create a brand-new session.
    pub full: &'a HashMap<String, String>,
    /// `Some(ns)`: the session belongs to `ns` (set it, or keep it if unchanged).
    /// `None`: leave the stored namespace as it is. Clearing a namespace is done
    /// by rotating to a new id (which is what logout/login do anyway).
    pub namespace: Option<&'a str>,
    /// Lifetime of a new session. Existing sessions keep their expiry.
    pub max_age: Duration,
}

/// Result of [`SessionBackend::save`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SaveOutcome {
    /// The changes were written.
    Saved,
    /// `existed` was `true` but the session is gone (logout elsewhere, expiry,
    /// namespace removal): nothing was written, so it is not resurrected.
    Gone,
}

/// Session storage. Implementations: [`MemoryStore`](super::memory::MemoryStore)
/// and [`RedisBackend`](super::redis::RedisBackend).
///
/// Semantics every implementation must provide:
/// - saves are field-level (upserts/removals), same field: last writer wins;
/// - sessions expire `max_age` after creation; saves never extend or remove the
///   expiry, only [`touch`](Self::touch) and [`rotate`](Self::rotate) reset it;
/// - a save of a session that existed but vanished returns [`SaveOutcome::Gone`]
///   and writes nothing;
/// - a session may belong to a namespace, and
///   [`remove_namespace`](Self::remove_namespace) deletes all of its live sessions;
/// - the sessions of different stores ([`StoreInfo`]) never meet: a session id
///   of one store is unknown to every other.
pub trait SessionBackend: Send + Sync + 'static {
    /// Reads a session of `store`; `Ok(None)` if it does not exist (or expired).
    fn load<'a>(
        &'a self,
        store: StoreInfo<'a>,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Option<LoadedSession>, SessionError>>;

    /// Reads only `fields` of a session of `store` (what a
    /// [`LazySession`](super::LazySession) asks for), with its namespace and,
    /// for a [rolling](StoreInfo::rolling) store, its time to live; `Ok(None)`
    /// if the session does not exist. Fields not set are left out of
    /// [`LoadedSession::data`], and no field outside `fields` may be in it.
    ///
    /// The default loads the whole session and keeps those fields: right for
    /// a store in memory. A store over a network should read only the fields
    /// (Redis: one `HMGET`), so that what crosses the wire does not grow with
    /// the session.
    fn load_fields<'a>(
        &'a self,
        store: StoreInfo<'a>,
        id: &'a SessionId,
        fields: &'a [&'a str],
    ) -> BoxFuture<'a, Result<Option<LoadedSession>, SessionError>> {
        Box::pin(async move {
            let mut loaded = self.load(store, id).await?;
            if let Some(loaded) = &mut loaded {
                loaded.data.retain(|k, _| fields.contains(&k.as_str()));
            }
            Ok(loaded)
        })
    }

    /// Applies one request's changes. See [`SaveRequest`] and [`SaveOutcome`].
    fn save<'a>(&'a self, req: SaveRequest<'a>) -> BoxFuture<'a, Result<SaveOutcome, SessionError>>;

    /// Deletes a session (and its namespace index membership). Deleting a missing
    /// session is not an error.
    fn delete<'a>(&'a self, store: StoreInfo<'a>, id: &'a SessionId) -> BoxFuture<'a, Result<(), SessionError>>;

    /// Login-style id rotation: writes `new` with `data`, `namespace` and a fresh
    /// `max_age`, and deletes `old` (if any), so a pre-login id is useless after.
    fn rotate<'a>(
        &'a self,
        store: StoreInfo<'a>,
        old: Option<&'a SessionId>,
        new: &'a SessionId,
        data: &'a HashMap<String, String>,
        namespace: Option<&'a str>,
        max_age: Duration,
    ) -> BoxFuture<'a, Result<(), SessionError>>;

    /// Rolling expiry: resets the session's time to live to `max_age`.
    /// Does nothing if the session does not exist.
    fn touch<'a>(
        &'a self,
        store: StoreInfo<'a>,
        id: &'a SessionId,
        max_age: Duration,
    ) -> BoxFuture<'a, Result<(), SessionError>>;

    /// Deletes every live session of `namespace` in `store` ("log out
    /// everywhere"); returns how many were deleted.
    fn remove_namespace<'a>(
        &'a self,
        store: StoreInfo<'a>,
        namespace: &'a str,
    ) -> BoxFuture<'a, Result<u64, SessionError>>;

    /// The backend's [`AttemptLog`], when it keeps one (both of uapi's do):
    /// what the login throttle counts failures in. `None` by default.
    fn attempt_log(&self) -> Option<&dyn AttemptLog> {
        None
    }
}

/// Prefix of field names reserved for the backends' bookkeeping. User data
/// fields starting with it are rejected, so they can never clobber or spoof the
/// namespace.
pub(crate) const RESERVED_PREFIX: char = '\u{1}';

/// Rejects user fields that collide with backend bookkeeping.
pub(crate) fn check_fields<'a>(mut names: impl Iterator<Item = &'a str>) -> Result<(), SessionError> {
    match names.find(|n| n.starts_with(RESERVED_PREFIX)) {
        Some(n) => Err(SessionError::Backend(format!("session field name {n:?} is reserved (starts with U+0001)"))),
        None => Ok(()),
    }
}

/// Validates the user-supplied field names of a [`SaveRequest`].
pub(crate) fn check_request(req: &SaveRequest<'_>) -> Result<(), SessionError> {
    check_fields(
        req.upserts
            .iter()
            .map(|(k, _)| k.as_str())
            .chain(req.removals.iter().map(String::as_str))
            .chain(req.full.keys().map(String::as_str)),
    )
}
