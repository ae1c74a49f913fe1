//! [`LazySession`]: a session read field by field, as a handler asks; and
//! how a session named by the cookie learns what the store holds (the first
//! read decides whether it exists, and whether rolling expiry is due), for
//! both session types.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::{recorded_end, time_left, AsyncSession, Inner, Shared, State, ENDS_AT_FIELD};
use crate::sessions::backend::RESERVED_PREFIX;
use crate::sessions::{LoadedSession, SessionError, SessionId};
use crate::{Headers, ResponseHeaders};

/// A server-side session read only as far as the handler asks: the same
/// session as [`AsyncSession`] (same store, cookie and parameter name), whose
/// reads are `async` and fetch just the fields they name.
///
/// Declare `session: LazySession` instead of `session: AsyncSession` where a
/// route needs a few fields of a large session: the request costs no store
/// round trip until the first read, each read that names fields not yet
/// known is one round trip for those fields only (on Redis one `HMGET`), and
/// writes are saved field by field as with [`AsyncSession`]. So what crosses
/// the wire grows with the fields the route uses, not with the session
/// (`bench/README.md` has the figures). Values read once are kept for the
/// rest of the request.
///
/// Writing without reading first is one round trip: the save finds out
/// whether the session still exists, and if it does not (logged out
/// elsewhere, expired), this request's changes start a fresh session, as
/// with [`AsyncSession`]. Rolling expiry and an absolute lifetime are
/// applied at the first read.
///
/// A route that needs the whole map (or the login addon's
/// `current_user_id`, which reads it whole) takes [`AsyncSession`];
/// [`Self::load`] turns a lazy session into one mid-handler.
///
/// # Examples
///
/// ```
/// use uapi::{handler, sessions::{LazySession, SessionError}};
///
/// /// Reads one field of what may be a large session: one `HMGET`.
/// #[handler]
/// async fn theme(session: LazySession) -> Result<String, SessionError> {
///     Ok(session.get("theme").await?.unwrap_or_else(|| "light".to_owned()))
/// }
///
/// /// Changes one field without reading the session: one round trip.
/// #[handler]
/// async fn set_theme(session: LazySession, theme: String) -> Result<&'static str, SessionError> {
///     session.insert("theme", theme);
///     session.update_session().await?;
///     Ok("saved")
/// }
/// ```
#[derive(Clone)]
pub struct LazySession {
    session: AsyncSession,
}

impl std::fmt::Debug for LazySession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Neither the id (a credential) nor the data.
        self.session.with(|s| {
            f.debug_struct("LazySession")
                .field("read", &!s.unread)
                .field("known", &s.data.len())
                .field("whole", &s.fetched.is_none())
                .finish()
        })
    }
}

impl LazySession {
    /// The session the request's cookie names (`id`), nothing read yet; a
    /// fresh empty one without a cookie. `wants_whole`: the route reads it
    /// whole anyway, so the first read of a few fields reads everything (one
    /// round trip in all, not two).
    pub(crate) fn new(store: Arc<Shared>, response: ResponseHeaders, id: Option<SessionId>, wants_whole: bool) -> Self {
        let state = match id {
            Some(id) => State {
                id: Some(id),
                existed: true,
                from_request: true,
                fetched: Some(HashSet::new()),
                unread: true,
                wants_whole,
                ..State::default()
            },
            None => State::default(),
        };
        let inner = Inner { store, response, state: std::sync::Mutex::new(state) };
        LazySession { session: AsyncSession { inner: Arc::new(inner) } }
    }

    /// The value of `key`: read from the store the first time (one round
    /// trip), then kept for the request.
    ///
    /// # Errors
    ///
    /// [`SessionError`] when the store is down or slow (a 503 if returned
    /// from a handler).
    pub async fn get(&self, key: &str) -> Result<Option<String>, SessionError> {
        self.session.read_fields(&[key]).await?;
        Ok(self.session.get(key))
    }

    /// The values of `keys`, in order, in one round trip for those not
    /// known yet.
    ///
    /// # Errors
    ///
    /// As [`Self::get`].
    pub async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<String>>, SessionError> {
        self.session.read_fields(keys).await?;
        Ok(keys.iter().map(|k| self.session.get(k)).collect())
    }

    /// Sets `key` to `value` (saved by the next `update_session`). Reads
    /// nothing: the previous value is not known.
    pub fn insert(&self, key: impl Into<String>, value: impl Into<String>) {
        self.session.insert(key, value);
    }

    /// Removes `key` (saved by the next `update_session`). Reads nothing.
    /// Names the store keeps for itself are never removed, as with
    /// [`AsyncSession::remove`].
    pub fn remove(&self, key: &str) {
        if key.starts_with(RESERVED_PREFIX) || key == ENDS_AT_FIELD {
            return;
        }
        self.session.with(|s| {
            let had = s.data.remove(key).is_some();
            s.changed.remove(key);
            match s.fetched {
                // Whole: as the eager session does, nothing to remove unless it is there.
                None if !had => return,
                None => {}
                Some(_) => {
                    s.written.insert(key.to_owned());
                }
            }
            // A session not in the store yet has nothing to remove there.
            if s.id.is_some() {
                s.removed.insert(key.to_owned());
            }
        });
    }

    /// The namespace the session belongs to (see [`Self::update_session_in`]).
    ///
    /// # Errors
    ///
    /// As [`Self::get`].
    pub async fn namespace(&self) -> Result<Option<String>, SessionError> {
        self.session.read_fields(&[]).await?;
        Ok(self.session.namespace())
    }

    /// Whether the session exists in the store (asks it, if no read did yet).
    ///
    /// # Errors
    ///
    /// As [`Self::get`].
    pub async fn exists(&self) -> Result<bool, SessionError> {
        self.session.read_fields(&[]).await?;
        Ok(self.session.is_persisted())
    }

    /// Reads every field (one round trip, unless done already) and gives the
    /// session as an [`AsyncSession`], sharing this one's state.
    ///
    /// # Errors
    ///
    /// As [`Self::get`].
    pub async fn load(&self) -> Result<AsyncSession, SessionError> {
        self.session.read_whole().await?;
        Ok(self.session.clone())
    }

    /// Saves the changes: see [`AsyncSession::update_session`].
    ///
    /// # Errors
    ///
    /// As [`AsyncSession::update_session`].
    pub async fn update_session(&self) -> Result<Headers, SessionError> {
        self.session.update_session().await
    }

    /// Saves the changes in `namespace`: see [`AsyncSession::update_session_in`].
    ///
    /// # Errors
    ///
    /// As [`AsyncSession::update_session`].
    pub async fn update_session_in(&self, namespace: &str) -> Result<Headers, SessionError> {
        self.session.update_session_in(namespace).await
    }

    /// Reads the whole session, then saves it under a new id: see
    /// [`AsyncSession::rotate_id_in`].
    ///
    /// # Errors
    ///
    /// As [`AsyncSession::rotate_id_in`].
    pub async fn rotate_id_in(&self, namespace: Option<&str>) -> Result<Headers, SessionError> {
        self.session.read_whole().await?;
        self.session.rotate_id_in(namespace).await
    }

    /// Deletes the session server-side and expires its cookie: see
    /// [`AsyncSession::clear_session`]. Asks the store first whether the
    /// cookie's session exists (unless a read did): a cookie naming no
    /// session is left alone, no `Set-Cookie`.
    ///
    /// # Errors
    ///
    /// As [`AsyncSession::clear_session`].
    pub async fn clear_session(&self) -> Result<Headers, SessionError> {
        self.session.read_fields(&[]).await?;
        self.session.clear_session().await
    }

    /// The value of `key` as far as this request knows it, without asking
    /// the store: what a read fetched or this request set; `None` for a
    /// field not read yet (or not set).
    ///
    /// # Examples
    ///
    /// ```
    /// use uapi::sessions::{LazySession, SessionError};
    ///
    /// async fn theme(session: &LazySession) -> Result<Option<String>, SessionError> {
    ///     session.get_many(&["theme", "lang"]).await?; // one round trip
    ///     Ok(session.peek("theme")) // no second round trip
    /// }
    /// ```
    pub fn peek(&self, key: &str) -> Option<String> {
        self.session.get(key)
    }

    /// The session as an [`AsyncSession`] (the same state), if it has been
    /// read whole already (by [`Self::load`], or because the route also
    /// takes an `AsyncSession`), without reading.
    pub fn whole(&self) -> Option<AsyncSession> {
        self.session.with(|s| s.fetched.is_none()).then(|| self.session.clone())
    }

    /// The session, as the eager provider hands it on (after
    /// [`AsyncSession::read_whole`]).
    pub(crate) fn into_inner(self) -> AsyncSession {
        self.session
    }
}

impl State {
    /// The store does not have the session (any more): what is left is a
    /// fresh one, holding only this request's pending changes.
    fn forget(&mut self) {
        let changed = &self.changed;
        self.data.retain(|k, _| changed.contains(k));
        self.removed.clear();
        self.written.clear();
        self.epoch += 1;
        (self.id, self.existed, self.from_request, self.ends_at) = (None, false, false, None);
        (self.fetched, self.unread) = (None, false);
        if !self.namespace_dirty {
            self.namespace = None;
        }
    }
}

impl AsyncSession {
    /// Reads every field of a session not read whole yet.
    pub(crate) async fn read_whole(&self) -> Result<(), SessionError> {
        let asked = self.with(|s| if s.fetched.is_some() { s.id.map(|id| (id, s.epoch)) } else { None });
        let Some((id, epoch)) = asked else { return Ok(()) };
        let shared = &self.inner.store;
        let loaded = shared.backend.load(shared.store(), &id).await?;
        self.settle((&id, epoch), loaded, None).await
    }

    /// Reads the fields among `keys` not known yet (and, at the first read,
    /// whether the session exists), in one round trip.
    async fn read_fields(&self, keys: &[&str]) -> Result<(), SessionError> {
        if self.with(|s| s.wants_whole && s.fetched.is_some()) {
            return self.read_whole().await;
        }
        let wanted = self.with(|s| {
            let (Some(fetched), Some(id)) = (&s.fetched, s.id) else { return None };
            let missing: Vec<&str> = keys
                .iter()
                .copied()
                .filter(|k| !k.starts_with(RESERVED_PREFIX) && *k != ENDS_AT_FIELD)
                .filter(|k| !fetched.contains(*k) && !s.written.contains(*k))
                .collect();
            (s.unread || !missing.is_empty()).then_some((id, s.epoch, s.unread, missing))
        });
        let Some((id, epoch, unread, missing)) = wanted else { return Ok(()) };
        let mut fields = missing.clone();
        if unread {
            fields.push(ENDS_AT_FIELD);
        }
        let shared = &self.inner.store;
        let loaded = shared.backend.load_fields(shared.store(), &id, &fields).await?;
        self.settle((&id, epoch), loaded, Some(&missing)).await
    }

    /// Takes in what the store gave for session `id` as it was at `epoch`,
    /// then extends the session when rolling expiry is due.
    async fn settle(
        &self,
        (id, epoch): (&SessionId, u64),
        loaded: Option<LoadedSession>,
        asked: Option<&[&str]>,
    ) -> Result<(), SessionError> {
        if let Some(extend_to) = self.absorb((id, epoch), loaded, asked) {
            let shared = &self.inner.store;
            shared.backend.touch(shared.store(), id, extend_to).await?;
            self.refresh_cookie();
        }
        Ok(())
    }

    /// Merges what the store holds (`asked`: these fields only; `None`: all)
    /// under the changes this request made. At the first read, decides
    /// whether the session is still live and returns the time to extend it
    /// to when rolling expiry is due.
    ///
    /// A reply that arrives when the state has moved on (another read made
    /// it whole; a logout, a new id, or the store not having the session
    /// made it another session) is dropped: it speaks of what no longer is.
    fn absorb(
        &self,
        (id, epoch): (&SessionId, u64),
        loaded: Option<LoadedSession>,
        asked: Option<&[&str]>,
    ) -> Option<Duration> {
        let options = &self.inner.store.options;
        self.with(|s| {
            if s.epoch != epoch || s.id.as_ref() != Some(id) || s.fetched.is_none() {
                return None;
            }
            let Some(mut loaded) = loaded else {
                s.forget();
                return None;
            };
            let mut extend = None;
            if std::mem::take(&mut s.unread) {
                // An absolute lifetime caps everything: past its end the
                // session is over (the store expires it by then too), and
                // rolling expiry never extends it beyond. A session with no
                // end recorded (made before the option was on) is not
                // extended at all: it ends within `max_age`, never living on
                // for good.
                let end = recorded_end(&loaded.data);
                let left = time_left(end);
                if left.is_some_and(|left| left.is_zero()) {
                    s.forget();
                    return None;
                }
                s.ends_at = end;
                let capped = options.absolute_lifetime.is_some();
                let extend_to = left.map_or(options.max_age, |left| left.min(options.max_age));
                // Once extended to its end, a session's time to live and its
                // time left differ by the milliseconds between the store's
                // clock and ours: not worth another write (and `Set-Cookie`)
                // on every read.
                let near_end = extend_to < options.max_age;
                let due = options.rolling
                    && (!capped || left.is_some())
                    && loaded.ttl.is_some_and(|ttl| {
                        ttl < options.max_age / 2 && (!near_end || ttl + Duration::from_millis(250) < extend_to)
                    });
                extend = due.then_some(extend_to);
            }
            loaded.data.remove(ENDS_AT_FIELD);
            if !s.namespace_dirty {
                s.namespace = loaded.namespace;
            }
            // What this request wrote wins; for the rest the store's answer
            // is the newer, absent fields included.
            match asked {
                Some(keys) => {
                    for key in keys.iter().filter(|k| !s.written.contains(**k)) {
                        match loaded.data.remove(*key) {
                            Some(value) => s.data.insert((*key).to_owned(), value),
                            None => s.data.remove(*key),
                        };
                    }
                    if let Some(fetched) = &mut s.fetched {
                        fetched.extend(keys.iter().map(|k| (*k).to_owned()));
                    }
                }
                None => {
                    let mut whole = loaded.data;
                    whole.retain(|k, _| !s.written.contains(k));
                    for key in s.written.drain() {
                        if let Some(value) = s.data.remove(&key) {
                            whole.insert(key, value);
                        }
                    }
                    s.data = whole;
                    s.fetched = None;
                }
            }
            extend
        })
    }
}
