//! [`configure_secure_sessions`] and [`SecureSessionStore`]: how keys become
//! the `session: SecureSession` parameter.

use std::sync::Arc;
use std::time::Duration;

use super::key::SecretKeys;
use super::session::Shared;
use super::SecureSession;
use crate::addon::{HandlerInfo, Injectable, ParamPlan, RequestCtx, ResponseDoc, SecurityDoc};
use crate::sessions::SessionOptions;
use crate::{App, Cookies, Response};

/// A configured secure-session store: what [`configure_secure_sessions`]
/// returns, for the login addon
/// ([`configure_secure_login`](crate::login::configure_secure_login)).
///
/// # Examples
///
/// ```
/// use uapi::App;
/// use uapi::sessions::secure::{configure_secure_sessions, SecretKey};
/// use uapi::sessions::SessionOptions;
///
/// let mut app = App::new();
/// let store = configure_secure_sessions(&mut app, SecretKey::generate().unwrap(), SessionOptions::default());
/// assert_eq!(store.options().cookie_name, "session_id");
/// ```
#[derive(Clone)]
pub struct SecureSessionStore {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SecureSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecureSessionStore")
            .field("options", &self.shared.options)
            .field("keys", &self.shared.keys.len())
            .finish()
    }
}

impl SecureSessionStore {
    /// The options it was configured with.
    pub fn options(&self) -> &SessionOptions {
        &self.shared.options
    }
}

/// uapi's `configure_secure_sessions`: sessions kept in the cookie itself,
/// encrypted and authenticated (AES-256-GCM), with no server-side store.
/// Registers `session: SecureSession` (or `options.session_arg_param_name`);
/// several stores live side by side, each with its own cookie and parameter
/// name (a cookie of one never opens as another's, even under one key).
///
/// Every option of [`SessionOptions`] holds as for the server-side stores:
/// `max_age` (recorded inside the cookie too, so a cookie kept past it is
/// refused), the cookie's name and attributes (`HttpOnly`, `Secure`,
/// `SameSite=Lax`, `Path=/` by default), `rolling`, `refuse_cross_site` and
/// `absolute_lifetime`. `keys` is one [`SecretKey`](super::SecretKey), or
/// [`SecretKeys`] to rotate.
///
/// What a cookie cannot do: be revoked. A copy of a cookie opens until it
/// expires, whatever happened since (a logout, a password change), so there
/// is no "log out everywhere"; keep `max_age` short where that matters, or
/// use a server-side store.
///
/// # Examples
///
/// ```
/// use uapi::{handler, App};
/// use uapi::sessions::secure::{configure_secure_sessions, SecretKey, SecretKeys};
/// use uapi::sessions::{SecureSession, SessionOptions};
///
/// #[handler]
/// async fn both(session: SecureSession, cart: SecureSession) -> String {
///     format!("{} {}", session.len(), cart.len())
/// }
///
/// # fn main() -> Result<(), uapi::sessions::secure::KeyError> {
/// let keys = SecretKeys::new(SecretKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")?)
///     .with_old(SecretKey::from_bytes(b"the previous key, kept a while longer")?);
/// let mut app = App::new();
/// configure_secure_sessions(&mut app, keys.clone(), SessionOptions::default());
/// configure_secure_sessions(&mut app, keys,
///     SessionOptions::default().cookie_name("cart_session").session_arg_param_name("cart"));
/// app.get("/", both);
/// assert!(app.build().is_ok());
/// # Ok(()) }
/// ```
pub fn configure_secure_sessions(
    app: &mut App,
    keys: impl Into<SecretKeys>,
    options: SessionOptions,
) -> SecureSessionStore {
    let name = options.session_arg_param_name.clone();
    let shared = Arc::new(Shared { keys: keys.into(), options });
    app.register_by_name_and_type(name, SecureSessionProvider { shared: shared.clone() });
    SecureSessionStore { shared }
}

/// The provider behind `session: SecureSession`: opens the cookie, or starts
/// an empty session. No I/O, so no 503: there is no store to be down.
struct SecureSessionProvider {
    shared: Arc<Shared>,
}

impl Injectable for SecureSessionProvider {
    type Output = SecureSession;
    type Provided = SecureSession;

    fn info(&self) -> HandlerInfo {
        let options = &self.shared.options;
        let mut info = HandlerInfo::new("secure session provider", Vec::new(), "SecureSession").with_security(
            SecurityDoc::cookie(
                options.cookie_name.clone(),
                format!("the session, encrypted, in cookie `{}` (set by the server)", options.cookie_name),
            ),
        );
        if options.refuse_cross_site {
            info = info.with_refusal(
                ResponseDoc::new(403, "a write carrying the session cookie from another site").writes_only(),
            );
        }
        info
    }

    async fn call(&self, ctx: &mut RequestCtx, _: &[ParamPlan]) -> Result<SecureSession, Response> {
        let shared = &self.shared;
        let raw = Cookies::find_raw(ctx.headers(), &shared.options.cookie_name);
        if raw.is_some() && shared.options.refuse_cross_site {
            if let Some(refusal) = crate::sessions::cross_site::refusal(ctx.parts()) {
                return Err(refusal.into_response());
            }
        }
        let opened = raw.and_then(|raw| shared.open(&raw));
        let renew = opened.as_ref().is_some_and(|(payload, _)| {
            // Rolling expiry: past half its life, sealed again as if it began
            // now, when that gives it more time (an absolute end may not).
            let left = shared.left(payload.issued, payload.ends_at);
            let max_age = shared.options.max_age;
            shared.options.rolling
                && left < max_age / 2
                && shared.left(crate::sessions::session::unix_ms(), payload.ends_at) > left + Duration::from_secs(1)
        });
        let session = SecureSession::new(shared.clone(), ctx.response_headers(), opened);
        if renew {
            if let Err(e) = session.seal(true) {
                // The session still opened: serve it, and let it end on time.
                tracing::error!(error = %e, "rolling renewal of a secure session failed");
            }
        }
        Ok(session)
    }

    fn provide(out: SecureSession) -> Result<SecureSession, Response> {
        Ok(out)
    }
}
