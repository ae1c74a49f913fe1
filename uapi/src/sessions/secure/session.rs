//! [`SecureSession`]: one request's view of a session kept in its cookie.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http::HeaderValue;

use super::key::SecretKeys;
use super::seal::{self, Opened, Payload, COOKIE_LIMIT};
use crate::sessions::session::unix_ms;
use crate::sessions::{SessionError, SessionOptions};
use crate::{CookieSettings, Headers, ResponseHeaders};

/// What a store's sessions share: the keys and the options.
pub(super) struct Shared {
    pub(super) keys: SecretKeys,
    pub(super) options: SessionOptions,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Shared {
    /// A session beginning now: its issue time and, with an absolute
    /// lifetime, its end.
    fn begin(&self) -> (u64, Option<u64>) {
        let now = unix_ms();
        (now, self.options.absolute_lifetime.map(|l| now.saturating_add(ms(l))))
    }

    /// The time a session issued at `issued` (ending at `ends_at`) has left:
    /// zero when it is over.
    pub(super) fn left(&self, issued: u64, ends_at: Option<u64>) -> Duration {
        let now = unix_ms();
        let end = issued.saturating_add(ms(self.options.max_age)).min(ends_at.unwrap_or(u64::MAX));
        // A clock behind the sealer's never gives more than `max_age`.
        Duration::from_millis(end.saturating_sub(now)).min(self.options.max_age)
    }

    /// Opens a request's cookie value: a live session, and whether an older
    /// key sealed it.
    pub(super) fn open(&self, value: &[u8]) -> Option<(Opened, bool)> {
        let (payload, old) = seal::open(&self.keys, &self.options.cookie_name, value)?;
        (!self.left(payload.issued, payload.ends_at).is_zero()).then_some((payload, old))
    }

    /// The `Set-Cookie` holding `data` sealed, issued at `issued`: its
    /// `Max-Age` is the time left, in whole seconds rounded up.
    fn sealed_cookie(
        &self,
        data: &HashMap<String, String>,
        issued: u64,
        ends_at: Option<u64>,
    ) -> Result<HeaderValue, SessionError> {
        let name = &self.options.cookie_name;
        let value = seal::seal(self.keys.current(), name, &Payload { issued, ends_at, data })?;
        let left = self.left(issued, ends_at);
        let secs = (left.as_secs() + u64::from(left.subsec_nanos() > 0)).max(1);
        let settings: CookieSettings = self.options.cookie_settings.clone().max_age(Duration::from_secs(secs));
        let header = settings
            .header_value(name, &value)
            .ok_or_else(|| SessionError::Backend(format!("cookie `{name}` could not be encoded")))?;
        if header.len() > COOKIE_LIMIT {
            return Err(SessionError::TooLarge { size: header.len(), limit: COOKIE_LIMIT });
        }
        Ok(header)
    }
}

/// A session kept in its cookie, encrypted and authenticated (uapi's
/// `Session` of `configure_secure_sessions`): a map of `String` to
/// `String` with the same API as [`AsyncSession`](crate::sessions::AsyncSession).
///
/// Declare a parameter of this type (named `session` by default) and the
/// app opens the request's cookie, or gives a fresh empty session when the
/// cookie is missing, expired, tampered with, truncated, sealed by an
/// unknown key or for another store, or garbage: never an error.
/// Clones share one state.
///
/// Changes stay in memory until [`update_session`](Self::update_session),
/// which seals the whole map into a new cookie (sealing takes microseconds;
/// nothing is stored anywhere else). A session read and not changed sets no
/// cookie.
///
/// # Examples
///
/// ```
/// use uapi::{handler, status::NoContent, sessions::{SecureSession, SessionError}};
///
/// #[handler]
/// async fn remember(session: SecureSession, color: String) -> Result<NoContent, SessionError> {
///     session.insert("color", color);
///     session.update_session().await?;
///     Ok(NoContent::new())
/// }
/// ```
#[derive(Clone)]
pub struct SecureSession {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<Shared>,
    response: ResponseHeaders,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    data: HashMap<String, String>,
    /// When the session began (unix ms): `Some` once it exists (opened, or
    /// sealed by this request).
    issued: Option<u64>,
    /// Its absolute end (unix ms), with an absolute lifetime.
    ends_at: Option<u64>,
    /// It came from the request's cookie (the browser holds it).
    from_request: bool,
    /// Changed since it was opened or last sealed.
    dirty: bool,
    /// Seal at the next save even if unchanged: an older key opened it.
    reseal: bool,
}

impl std::fmt::Debug for SecureSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.with(|s| {
            f.debug_struct("SecureSession").field("persisted", &s.issued.is_some()).field("len", &s.data.len()).finish()
        })
    }
}

impl SecureSession {
    pub(super) fn new(store: Arc<Shared>, response: ResponseHeaders, opened: Option<(Opened, bool)>) -> Self {
        let state = match opened {
            Some((payload, old_key)) => State {
                data: payload.data,
                issued: Some(payload.issued),
                ends_at: payload.ends_at,
                from_request: true,
                dirty: false,
                reseal: old_key,
            },
            None => State::default(),
        };
        SecureSession { inner: Arc::new(Inner { store, response, state: Mutex::new(state) }) }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        // Never held across an await; a poisoned lock still holds consistent data.
        f(&mut self.inner.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<String> {
        self.with(|s| s.data.get(key).cloned())
    }

    /// Sets `key` to `value`, returning the previous value.
    pub fn insert(&self, key: impl Into<String>, value: impl Into<String>) -> Option<String> {
        let (key, value) = (key.into(), value.into());
        self.with(|s| {
            s.dirty = true;
            s.data.insert(key, value)
        })
    }

    /// Removes `key`, returning its value.
    pub fn remove(&self, key: &str) -> Option<String> {
        self.with(|s| {
            let old = s.data.remove(key);
            s.dirty |= old.is_some();
            old
        })
    }

    /// Whether `key` is set.
    pub fn contains_key(&self, key: &str) -> bool {
        self.with(|s| s.data.contains_key(key))
    }

    /// How many keys are set.
    pub fn len(&self) -> usize {
        self.with(|s| s.data.len())
    }

    /// Whether no key is set.
    pub fn is_empty(&self) -> bool {
        self.with(|s| s.data.is_empty())
    }

    /// Removes every key (saved by the next `update_session`).
    pub fn clear(&self) {
        self.with(|s| {
            s.dirty |= !s.data.is_empty();
            s.data.clear();
        });
    }

    /// A snapshot of the keys and values, in no particular order.
    pub fn iter(&self) -> std::vec::IntoIter<(String, String)> {
        self.with(|s| s.data.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>()).into_iter()
    }

    /// A snapshot of the whole map.
    pub fn to_map(&self) -> HashMap<String, String> {
        self.with(|s| s.data.clone())
    }

    /// Whether the session exists: opened from the request's cookie, or
    /// sealed by this request.
    pub fn is_persisted(&self) -> bool {
        self.with(|s| s.issued.is_some())
    }

    /// Seals the session into its cookie and queues the `Set-Cookie` (also
    /// returned, for handlers that build responses by hand; it is sent once
    /// either way). A new session begins now; an existing one keeps the time
    /// it began, so saving never extends its life (as with the server-side
    /// stores). Nothing is sealed when nothing changed, unless an older key
    /// opened the cookie: then it is sealed again with the current key.
    ///
    /// # Errors
    ///
    /// [`SessionError::TooLarge`] when the cookie would pass the 4096 bytes a
    /// browser keeps (it would drop it silently); [`SessionError::Rng`] when
    /// the OS random source fails. The changes stay pending.
    ///
    /// # Examples
    ///
    /// ```
    /// use uapi::{handler, sessions::{SecureSession, SessionError}};
    ///
    /// #[handler]
    /// async fn note(session: SecureSession, text: String) -> Result<&'static str, SessionError> {
    ///     session.insert("note", text);
    ///     session.update_session().await?; // a TooLarge error past 4 KiB
    ///     Ok("saved")
    /// }
    /// ```
    pub async fn update_session(&self) -> Result<Headers, SessionError> {
        self.seal(false)
    }

    /// Seals the session as one beginning now: a fresh issue time (and
    /// absolute end), hence a full `max_age`, and a fresh nonce, so the
    /// cookie's bytes change. What a login does (the counterpart of
    /// [`AsyncSession::rotate_id_in`](crate::sessions::AsyncSession::rotate_id_in));
    /// no other copy of the cookie is revoked by it: without a server, none
    /// can be.
    ///
    /// # Errors
    ///
    /// As [`Self::update_session`].
    ///
    /// # Examples
    ///
    /// ```
    /// use uapi::{handler, sessions::{SecureSession, SessionError}};
    ///
    /// #[handler]
    /// async fn still_here(session: SecureSession) -> Result<&'static str, SessionError> {
    ///     session.renew_session().await?;
    ///     Ok("another max_age from now")
    /// }
    /// ```
    pub async fn renew_session(&self) -> Result<Headers, SessionError> {
        self.seal(true)
    }

    /// Seals and queues the cookie: when forced (`renew`), or when something
    /// needs it.
    pub(super) fn seal(&self, renew: bool) -> Result<Headers, SessionError> {
        let store = &self.inner.store;
        let header = self.with(|s| {
            if !renew && !s.dirty && !s.reseal && s.issued.is_some() {
                return Ok(None);
            }
            let (issued, ends_at) = match s.issued {
                Some(issued) if !renew => (issued, s.ends_at),
                _ => store.begin(),
            };
            let header = store.sealed_cookie(&s.data, issued, ends_at)?;
            s.issued = Some(issued);
            s.ends_at = ends_at;
            s.dirty = false;
            s.reseal = false;
            Ok::<_, SessionError>(Some(header))
        })?;
        let mut headers = Headers::new();
        if let Some(header) = header {
            self.inner.response.set_cookie(&store.options.cookie_name, header.clone());
            headers.insert(http::header::SET_COOKIE, header);
        }
        Ok(headers)
    }

    /// Ends the session: expires its cookie and leaves this object empty (a
    /// later `update_session` starts a new session). A request that brought
    /// no live session changes nothing and gets no `Set-Cookie`.
    ///
    /// Only this browser's cookie ends: a copy of it taken earlier opens
    /// until it expires, since nothing on a server records that it ended.
    ///
    /// # Errors
    ///
    /// None today: the `Result` matches
    /// [`AsyncSession::clear_session`](crate::sessions::AsyncSession::clear_session).
    ///
    /// # Examples
    ///
    /// ```
    /// use uapi::{handler, sessions::{SecureSession, SessionError}, Headers};
    ///
    /// #[handler]
    /// async fn forget(session: SecureSession) -> Result<uapi::status::NoContent, SessionError> {
    ///     Ok(uapi::status::NoContent::new().with_headers(session.clear_session().await?))
    /// }
    /// ```
    pub async fn clear_session(&self) -> Result<Headers, SessionError> {
        let store = &self.inner.store;
        let (from_request, existed) = self.with(|s| {
            let was = (s.from_request, s.issued.is_some());
            *s = State::default();
            was
        });
        if from_request {
            let headers = crate::expire_cookie(&store.options.cookie_name, &store.options.cookie_settings);
            for (_, value) in headers.iter() {
                self.inner.response.set_cookie(&store.options.cookie_name, value.clone());
            }
            return Ok(headers);
        }
        if existed {
            // Sealed by this request only: the browser never had it.
            self.inner.response.remove_cookie(&store.options.cookie_name);
        }
        Ok(Headers::new())
    }
}
