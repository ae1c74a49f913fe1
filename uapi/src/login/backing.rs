//! [`SessionForLogin`]: what login needs of a session type, so one login
//! addon runs on the server-side stores ([`AsyncSession`]) and on secure
//! cookie sessions (`SecureSession`) alike.

use crate::addon::BoxFuture;
use crate::sessions::{AsyncSession, LazySession, SessionError};
use crate::Headers;

/// What the login addon needs of a session: read and write its fields,
/// begin a login (with a cookie whose value changes, against fixation), end
/// it. Implemented by [`AsyncSession`], [`LazySession`] and, with feature `secure-sessions`,
/// by [`SecureSession`](crate::sessions::SecureSession); a session type of
/// your own implements it to carry [`AsyncLoginSession`](super::AsyncLoginSession).
///
/// # Examples
///
/// ```
/// use uapi::login::SessionForLogin;
/// use uapi::sessions::AsyncSession;
///
/// fn user_of(session: &dyn SessionForLogin) -> Option<String> {
///     session.field(uapi::login::USER_ID_KEY)
/// }
/// fn takes_async(session: &AsyncSession) -> Option<String> { user_of(session) }
/// # let _ = takes_async;
/// ```
pub trait SessionForLogin: Send + Sync + 'static {
    /// The value of field `key`.
    fn field(&self, key: &str) -> Option<String>;

    /// Sets field `key` (saved by [`Self::begin_login`]).
    fn set_field(&self, key: &str, value: String);

    /// Removes every field (a login as another user starts from nothing).
    fn clear_fields(&self);

    /// Saves the session as logged in as `user_id`, under a cookie whose
    /// value is new (a planted cookie does not become the logged-in one),
    /// and returns its `Set-Cookie` (also queued on the response).
    fn begin_login<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<Headers, SessionError>>;

    /// Ends the session and expires its cookie, returning the `Set-Cookie`.
    fn end_session(&self) -> BoxFuture<'_, Result<Headers, SessionError>>;

    /// Reads `fields` (`None`: every field) before [`Self::field`] is asked
    /// for them: what a session read lazily needs. A session in hand has
    /// them already (the default does nothing).
    fn read_ahead<'a>(&'a self, fields: Option<&'a [&'a str]>) -> BoxFuture<'a, Result<(), SessionError>> {
        let _ = fields;
        Box::pin(std::future::ready(Ok(())))
    }
}

/// Login rotates the session id, in the namespace of the user (so
/// [`AsyncLoginManager::logout`](super::AsyncLoginManager::logout) reaches it).
impl SessionForLogin for AsyncSession {
    fn field(&self, key: &str) -> Option<String> {
        self.get(key)
    }

    fn set_field(&self, key: &str, value: String) {
        self.insert(key, value);
    }

    fn clear_fields(&self) {
        self.clear();
    }

    fn begin_login<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<Headers, SessionError>> {
        Box::pin(self.rotate_id_in(Some(user_id)))
    }

    fn end_session(&self) -> BoxFuture<'_, Result<Headers, SessionError>> {
        Box::pin(self.clear_session())
    }
}

/// Login reads only what it needs: the user id field for `current_user_id`
/// (one `HMGET` on Redis), the whole session for `login_session`, and the
/// whole session before a login rotates it to its new id.
impl SessionForLogin for LazySession {
    fn field(&self, key: &str) -> Option<String> {
        self.peek(key)
    }

    fn set_field(&self, key: &str, value: String) {
        self.insert(key, value);
    }

    /// `login_session` reads the session whole before a login (see
    /// `read_ahead`), so every field is known here.
    fn clear_fields(&self) {
        match self.whole() {
            Some(session) => session.clear(),
            None => tracing::error!("login cleared a session not read whole; its stored fields stay"),
        }
    }

    fn begin_login<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<Headers, SessionError>> {
        Box::pin(self.rotate_id_in(Some(user_id)))
    }

    fn end_session(&self) -> BoxFuture<'_, Result<Headers, SessionError>> {
        Box::pin(self.clear_session())
    }

    fn read_ahead<'a>(&'a self, fields: Option<&'a [&'a str]>) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(async move {
            match fields {
                Some(fields) => self.get_many(fields).await.map(drop),
                None => self.load().await.map(drop),
            }
        })
    }
}

/// Login seals the session anew (a fresh issue time and nonce: new bytes);
/// nothing can revoke the cookie's other copies.
#[cfg(feature = "secure-sessions")]
impl SessionForLogin for crate::sessions::SecureSession {
    fn field(&self, key: &str) -> Option<String> {
        self.get(key)
    }

    fn set_field(&self, key: &str, value: String) {
        self.insert(key, value);
    }

    fn clear_fields(&self) {
        self.clear();
    }

    fn begin_login<'a>(&'a self, _user_id: &'a str) -> BoxFuture<'a, Result<Headers, SessionError>> {
        Box::pin(self.renew_session())
    }

    fn end_session(&self) -> BoxFuture<'_, Result<Headers, SessionError>> {
        Box::pin(self.clear_session())
    }
}
