//! [`AsyncSession`]: one request's view of a session, a map of strings.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{SaveOutcome, SaveRequest, SessionBackend, SessionError, SessionId, SessionOptions, StoreInfo};
use crate::{CookieSettings, Headers, ResponseHeaders};

pub(super) mod lazy;

/// What a store's sessions share: the backend, the options, and the session
/// cookie's settings with the store's `max_age` (computed once).
pub(crate) struct Shared {
    pub(crate) backend: Arc<dyn SessionBackend>,
    pub(crate) options: SessionOptions,
    cookie: CookieSettings,
}

/// The session field recording when a session with an
/// [absolute lifetime](SessionOptions::absolute_lifetime) ends, in unix
/// milliseconds. The session layer keeps it out of the session's keys, and
/// never saves a handler's own field of that name.
pub const ENDS_AT_FIELD: &str = "uapi.ends_at";

/// Now, in unix milliseconds (the wall clock every process shares).
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The time a session ending at `ends_at` (unix ms) has left: `None` when
/// there is no end, zero when it is past.
pub(crate) fn time_left(ends_at: Option<u64>) -> Option<Duration> {
    ends_at.map(|end| Duration::from_millis(end.saturating_sub(unix_ms())))
}

/// The end a stored session's data records, if any.
pub(crate) fn recorded_end(data: &HashMap<String, String>) -> Option<u64> {
    data.get(ENDS_AT_FIELD).and_then(|v| v.parse().ok())
}

impl Shared {
    pub(crate) fn new(backend: Arc<dyn SessionBackend>, options: SessionOptions) -> Shared {
        let cookie = options.cookie_settings.clone().max_age(options.max_age);
        Shared { backend, options, cookie }
    }

    /// A session beginning now: its end (with an absolute lifetime), and the
    /// lifetime to give it in the store (`max_age`, or less when it ends sooner).
    fn begin(&self) -> (Option<u64>, Duration) {
        match self.options.absolute_lifetime {
            Some(lifetime) => {
                let end = unix_ms().saturating_add(u64::try_from(lifetime.as_millis()).unwrap_or(u64::MAX));
                (Some(end), self.options.max_age.min(lifetime))
            }
            None => (None, self.options.max_age),
        }
    }

    /// Which store this is, for every call to the backend.
    pub(crate) fn store(&self) -> StoreInfo<'_> {
        StoreInfo::new(&self.options.cookie_name, self.options.rolling)
    }

    /// The `Set-Cookie` for a session id; its `Max-Age` is `max_age`, or
    /// less when the session ends sooner (`ends_at`): the time left in whole
    /// seconds rounded UP, since `Max-Age=0` would delete a live session's
    /// cookie (the server forgets the session at its end anyway).
    fn cookie_for(&self, id: &SessionId, ends_at: Option<u64>) -> Headers {
        let mut headers = Headers::new();
        let sooner = time_left(ends_at).filter(|left| *left < self.options.max_age);
        let value = match sooner {
            Some(left) => {
                let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                let cookie = self.cookie.clone().max_age(Duration::from_secs(secs.max(1)));
                cookie.header_value(&self.options.cookie_name, id.as_str())
            }
            None => self.cookie.header_value(&self.options.cookie_name, id.as_str()),
        };
        match value {
            Some(v) => headers.insert(http::header::SET_COOKIE, v),
            None => tracing::error!(cookie = %self.options.cookie_name, "session cookie could not be encoded; not set"),
        }
        headers
    }
}

/// A server-side session: a map of `String` to `String`, as in uapi.
///
/// Declare a parameter of this type (named `session` by default) and the app
/// loads the session named by the request's cookie (one store round trip), or
/// gives a fresh empty one when the cookie is missing, malformed, unknown or
/// expired. Clones share one state, so every part of a request (the handler,
/// the login addon's `current_user_id`) sees the same data, loaded once.
///
/// Changes are kept in memory until [`update_session`](Self::update_session),
/// which saves only the fields that changed (so two concurrent requests that
/// change different keys both persist) and queues the `Set-Cookie` the response
/// needs. A session that is read but never updated writes nothing and sets no
/// cookie.
///
/// # Examples
///
/// ```
/// use uapi::{handler, status::NoContent, sessions::{AsyncSession, SessionError}};
///
/// #[handler]
/// async fn remember(session: AsyncSession, color: String) -> Result<NoContent, SessionError> {
///     session.insert("color", color);
///     session.update_session().await?;
///     Ok(NoContent::new())
/// }
/// ```
#[derive(Clone)]
pub struct AsyncSession {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<Shared>,
    response: ResponseHeaders,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// None until the session is first saved.
    id: Option<SessionId>,
    /// It was loaded from the store (so saves must not resurrect it).
    existed: bool,
    /// It came from the request's cookie (the browser holds its id).
    from_request: bool,
    data: HashMap<String, String>,
    changed: HashSet<String>,
    removed: HashSet<String>,
    namespace: Option<String>,
    namespace_dirty: bool,
    /// When the session ends whatever happens (unix ms), with an absolute lifetime.
    ends_at: Option<u64>,
    /// `Some(keys)` while only some fields were read (a [`LazySession`](lazy::LazySession)'s
    /// way): the keys read so far. `None` once every field is known.
    fetched: Option<HashSet<String>>,
    /// The cookie named a session the store has not been asked about yet:
    /// it may not exist (a
    /// [`LazySession`](lazy::LazySession) before its first read).
    unread: bool,
    /// The route reads the session whole anyway (it also takes an
    /// `AsyncSession`): a first read of a few fields reads everything.
    wants_whole: bool,
    /// The keys this request set or removed while only some fields were
    /// known, saved or not: a read answered later never overwrites them.
    written: HashSet<String>,
    /// Counts the times the state became another session (a new id, a
    /// logout, the store not having it): a read answered for an earlier one
    /// is dropped.
    epoch: u64,
}

impl State {
    /// An empty session, none from the store: the state after a logout.
    fn reset(&mut self) {
        let epoch = self.epoch + 1;
        *self = State { epoch, ..State::default() };
    }
}

impl std::fmt::Debug for AsyncSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Neither the id (a credential) nor the data.
        self.with(|s| {
            f.debug_struct("AsyncSession").field("persisted", &s.id.is_some()).field("len", &s.data.len()).finish()
        })
    }
}

impl AsyncSession {
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
        let key = key.into();
        self.with(|s| {
            s.removed.remove(&key);
            if s.fetched.is_some() {
                s.written.insert(key.clone());
            }
            s.changed.insert(key.clone());
            s.data.insert(key, value.into())
        })
    }

    /// Removes `key`, returning its value.
    pub fn remove(&self, key: &str) -> Option<String> {
        self.with(|s| {
            let old = s.data.remove(key);
            if old.is_some() {
                s.changed.remove(key);
                s.removed.insert(key.to_owned());
            }
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
            let keys: Vec<String> = s.data.drain().map(|(k, _)| k).collect();
            s.changed.clear();
            s.removed.extend(keys);
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

    /// The namespace the session belongs to (see [`Self::update_session_in`]).
    pub fn namespace(&self) -> Option<String> {
        self.with(|s| s.namespace.clone())
    }

    /// Whether the session exists in the store (loaded, or saved by this request).
    pub fn is_persisted(&self) -> bool {
        self.with(|s| s.id.is_some())
    }

    /// Persists the session: creates it if new (and queues its cookie on the
    /// response), else writes only the changed fields. Also returns the
    /// `Set-Cookie` headers, for handlers that build responses by hand (uapi's
    /// style); the cookie is sent once either way.
    ///
    /// If the session vanished meanwhile (logged out elsewhere, expired), it is
    /// not resurrected: this request's own changes start a fresh session.
    ///
    /// # Errors
    ///
    /// [`SessionError`] when the store is down or slow (a 503 if returned from a
    /// handler); the changes stay pending.
    pub async fn update_session(&self) -> Result<Headers, SessionError> {
        self.save(None).await
    }

    /// As [`Self::update_session`], and makes the session part of `namespace`
    /// (e.g. a user id), so [`super::SessionStore::remove_namespace`] can end
    /// every session in it.
    ///
    /// # Errors
    ///
    /// As [`Self::update_session`].
    pub async fn update_session_in(&self, namespace: &str) -> Result<Headers, SessionError> {
        self.save(Some(namespace)).await
    }

    async fn save(&self, namespace: Option<&str>) -> Result<Headers, SessionError> {
        let store = &self.inner.store;
        // Take what is pending; on failure it is put back.
        let (id, existed, upserts, changed, removals, full, ns, ns_dirty) = self.with(|s| {
            if let Some(ns) = namespace {
                if s.namespace.as_deref() != Some(ns) {
                    s.namespace = Some(ns.to_owned());
                    s.namespace_dirty = true;
                }
            }
            // The session's end is the layer's own: a field of its name is never saved.
            s.changed.remove(ENDS_AT_FIELD);
            s.removed.remove(ENDS_AT_FIELD);
            let removals: Vec<String> = s.removed.drain().collect();
            let (upserts, changed, full) = if s.id.is_some() && s.existed {
                let upserts: Vec<(String, String)> =
                    s.changed.drain().filter_map(|k| s.data.get(&k).map(|v| (k, v.clone()))).collect();
                (upserts, Vec::new(), HashMap::new())
            } else {
                // A new session is written whole. What changed is still taken
                // (the keys only): if this save fails while another save of
                // the same session creates it, only these pending changes,
                // put back by `restore`, make the next save write them.
                let mut full = s.data.clone();
                full.remove(ENDS_AT_FIELD);
                (Vec::new(), s.changed.drain().collect::<Vec<String>>(), full)
            };
            let ns_dirty = std::mem::take(&mut s.namespace_dirty);
            (s.id, s.existed, upserts, changed, removals, full, s.namespace.clone(), ns_dirty)
        });
        let restore = |this: &Self| {
            this.with(|s| {
                for k in upserts.iter().map(|(k, _)| k).chain(&changed) {
                    if !s.removed.contains(k) {
                        s.changed.insert(k.clone());
                    }
                }
                for k in &removals {
                    if !s.changed.contains(k) {
                        s.removed.insert(k.clone());
                    }
                }
                s.namespace_dirty |= ns_dirty;
            })
        };

        if let (Some(id), true) = (&id, existed) {
            if upserts.is_empty() && removals.is_empty() && !ns_dirty {
                return Ok(Headers::new());
            }
            let req = SaveRequest {
                store: store.store(),
                id,
                existed: true,
                upserts: &upserts,
                removals: &removals,
                full: &full,
                namespace: if ns_dirty { ns.as_deref() } else { None },
                max_age: store.options.max_age,
            };
            match store.backend.save(req).await {
                Ok(SaveOutcome::Saved) => return Ok(Headers::new()),
                Ok(SaveOutcome::Gone) => {
                    // Deleted meanwhile: start over with only this request's
                    // changes, in the namespace this call asked for (if any), so
                    // the next `remove_namespace` still reaches the new session.
                    let fresh: HashMap<String, String> = upserts.iter().cloned().collect();
                    let ns = namespace.map(str::to_owned);
                    self.with(|s| {
                        s.data = fresh.clone();
                        s.namespace = ns.clone();
                    });
                    return self.create(fresh, ns).await.inspect_err(|_| restore(self));
                }
                Err(e) => {
                    restore(self);
                    return Err(e);
                }
            }
        }
        self.create(full, ns).await.inspect_err(|_| restore(self))
    }

    /// Writes the session under a fresh id and queues its cookie.
    async fn create(
        &self,
        mut data: HashMap<String, String>,
        namespace: Option<String>,
    ) -> Result<Headers, SessionError> {
        let store = &self.inner.store;
        let id = SessionId::generate()?;
        let (ends_at, max_age) = store.begin();
        if let Some(end) = ends_at {
            data.insert(ENDS_AT_FIELD.to_owned(), end.to_string());
        }
        let req = SaveRequest {
            store: store.store(),
            id: &id,
            existed: false,
            upserts: &[],
            removals: &[],
            full: &data,
            namespace: namespace.as_deref(),
            max_age,
        };
        store.backend.save(req).await?;
        self.adopt(id, ends_at)
    }

    /// Makes `id` the session's id (ending at `ends_at`) and queues its cookie.
    fn adopt(&self, id: SessionId, ends_at: Option<u64>) -> Result<Headers, SessionError> {
        let headers = self.inner.store.cookie_for(&id, ends_at);
        self.with(|s| {
            s.id = Some(id);
            s.existed = true;
            s.ends_at = ends_at;
            s.fetched = None;
            s.unread = false;
            s.epoch += 1;
        });
        self.queue(&headers);
        Ok(headers)
    }

    fn queue(&self, headers: &Headers) {
        for (_, value) in headers.iter() {
            self.inner.response.set_cookie(&self.inner.store.options.cookie_name, value.clone());
        }
    }

    /// Saves the session under a NEW id (in `namespace`, if given) and deletes
    /// the old one: the defence against session fixation, used at login.
    ///
    /// # Errors
    ///
    /// [`SessionError`] when the store is down or slow.
    pub async fn rotate_id_in(&self, namespace: Option<&str>) -> Result<Headers, SessionError> {
        let store = &self.inner.store;
        let new = SessionId::generate()?;
        let (old, mut data, ns) = self.with(|s| {
            if let Some(ns) = namespace {
                s.namespace = Some(ns.to_owned());
            }
            (s.id, s.data.clone(), s.namespace.clone())
        });
        // A login begins the session anew: a new end with an absolute lifetime.
        let (ends_at, max_age) = store.begin();
        data.remove(ENDS_AT_FIELD);
        if let Some(end) = ends_at {
            data.insert(ENDS_AT_FIELD.to_owned(), end.to_string());
        }
        store.backend.rotate(store.store(), old.as_ref(), &new, &data, ns.as_deref(), max_age).await?;
        self.with(|s| {
            s.changed.clear();
            s.removed.clear();
            s.namespace_dirty = false;
        });
        self.adopt(new, ends_at)
    }

    /// Deletes the session server-side, expires its cookie, and leaves this
    /// object empty (a later `update_session` starts a new session). A
    /// request with no live session (no cookie, or one that names none)
    /// changes nothing and gets no `Set-Cookie`: a cross-site form posted
    /// without the cookie (`SameSite=Lax` keeps it off) cannot delete it.
    ///
    /// # Errors
    ///
    /// [`SessionError`] when the store is down or slow.
    pub async fn clear_session(&self) -> Result<Headers, SessionError> {
        let store = &self.inner.store;
        let (id, from_request) = self.with(|s| (s.id, s.from_request));
        let Some(id) = id else {
            // No live session (no cookie, or one naming none): nothing to
            // delete, and no cookie to change (a cross-site form posting here
            // must not get a cookie-deleting answer).
            self.with(State::reset);
            return Ok(Headers::new());
        };
        store.backend.delete(store.store(), &id).await?;
        self.with(State::reset);
        if !from_request {
            // Made in this request: the browser never had it.
            self.inner.response.remove_cookie(&store.options.cookie_name);
            return Ok(Headers::new());
        }
        let headers = crate::expire_cookie(&store.options.cookie_name, &store.options.cookie_settings);
        self.queue(&headers);
        Ok(headers)
    }

    /// Re-sends the cookie with a fresh Max-Age (rolling expiry).
    pub(crate) fn refresh_cookie(&self) {
        if let (Some(id), ends_at) = self.with(|s| (s.id, s.ends_at)) {
            let headers = self.inner.store.cookie_for(&id, ends_at);
            self.queue(&headers);
        }
    }
}
