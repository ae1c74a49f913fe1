//! [`SessionOptions`], [`SessionStore`] and [`configure_sessions`]: how a session
//! backend becomes the `session: AsyncSession` parameter.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

use super::{AsyncSession, SessionBackend, SessionError, SessionId};
use crate::extract::find_cookie_raw;
use crate::handler::{HandlerInfo, Injectable};
use crate::inject::{ParamPlan, RequestCtx};
use crate::response::{text, CookieSettings, Headers, IntoResponse, Response};
use crate::App;

/// How a session store is set up: uapi's parameters of `configure_async_sessions`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uapi::sessions::SessionOptions;
///
/// let carts = SessionOptions::default()
///     .cookie_name("cart_session")
///     .session_arg_param_name("cart")
///     .max_age(Duration::from_secs(3600));
/// assert_eq!(carts.cookie_name, "cart_session");
/// ```
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// How long a session lives after it is created (default 14 days); also the
    /// cookie's `Max-Age`.
    pub max_age: Duration,
    /// The cookie holding the session id (default `session_id`).
    pub cookie_name: String,
    /// The cookie's attributes (default `HttpOnly`, `Secure`, `SameSite=Lax`, `Path=/`).
    pub cookie_settings: CookieSettings,
    /// Prefix for every Redis key of this store (default empty). A store whose
    /// cookie is not the default `session_id` also puts its cookie name after the
    /// prefix, so stores side by side on one Redis never share keys.
    pub redis_key_prefix: String,
    /// The parameter name the session is injected as (default `session`).
    pub session_arg_param_name: Cow<'static, str>,
    /// Rolling expiry: a session read with less than half its lifetime left is
    /// extended to a full `max_age` (one extra write then, not on every request).
    pub rolling: bool,
    /// Upper bound for each store command (default 2 s); past it, a 503.
    pub command_timeout: Duration,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            max_age: Duration::from_secs(14 * 24 * 3600),
            cookie_name: "session_id".to_owned(),
            cookie_settings: CookieSettings::default(),
            redis_key_prefix: String::new(),
            session_arg_param_name: Cow::Borrowed("session"),
            rolling: false,
            command_timeout: Duration::from_secs(2),
        }
    }
}

impl SessionOptions {
    /// Sets [`Self::max_age`].
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }
    /// Sets [`Self::cookie_name`].
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = name.into();
        self
    }
    /// Sets [`Self::cookie_settings`].
    pub fn cookie_settings(mut self, settings: CookieSettings) -> Self {
        self.cookie_settings = settings;
        self
    }
    /// Sets [`Self::redis_key_prefix`].
    pub fn redis_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.redis_key_prefix = prefix.into();
        self
    }
    /// Sets [`Self::session_arg_param_name`].
    pub fn session_arg_param_name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.session_arg_param_name = name.into();
        self
    }
    /// Turns rolling expiry on or off.
    pub fn rolling(mut self, on: bool) -> Self {
        self.rolling = on;
        self
    }
    /// Sets [`Self::command_timeout`].
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }
}

/// What a store's sessions share.
pub(crate) struct Shared {
    pub(crate) backend: Arc<dyn SessionBackend>,
    pub(crate) options: SessionOptions,
}

impl Shared {
    /// The `Set-Cookie` for a session id.
    pub(crate) fn cookie_for(&self, id: &SessionId) -> Headers {
        let mut headers = Headers::new();
        let settings = &self.options.cookie_settings;
        match settings.header_value_aged(&self.options.cookie_name, id.as_str(), Some(self.options.max_age)) {
            Some(v) => headers.insert(http::header::SET_COOKIE, v),
            None => tracing::error!(cookie = %self.options.cookie_name, "session cookie could not be encoded; not set"),
        }
        headers
    }
}

/// A configured session store: what [`configure_sessions`] returns. Use it for
/// work outside requests ([`Self::remove_namespace`]) and for the login addon.
///
/// # Examples
///
/// ```
/// use uapi::{App, sessions::{configure_sessions, MemoryStore, SessionOptions}};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut app = App::new();
/// let store = configure_sessions(&mut app, MemoryStore::new(), SessionOptions::default());
/// assert_eq!(store.remove_namespace("42").await.unwrap(), 0);
/// # }
/// ```
#[derive(Clone)]
pub struct SessionStore {
    shared: Arc<Shared>,
}

/// The store `uapi::sessions::redis::configure_async_sessions` returns (uapi's name).
pub type AsyncRedisSessionStore = SessionStore;

impl std::fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStore").field("options", &self.shared.options).finish()
    }
}

impl SessionStore {
    /// Ends every session in `namespace` (e.g. all of one user's), from anywhere;
    /// returns how many ended.
    ///
    /// # Errors
    ///
    /// [`SessionError`] when the store is down or slow.
    pub async fn remove_namespace(&self, namespace: &str) -> Result<u64, SessionError> {
        self.shared.backend.remove_namespace(namespace).await
    }

    /// The options it was configured with.
    pub fn options(&self) -> &SessionOptions {
        &self.shared.options
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn SessionBackend> {
        &self.shared.backend
    }
}

/// Registers sessions from `backend` on `app`: parameters named
/// `options.session_arg_param_name` (default `session`) of type [`AsyncSession`].
/// Several stores can live side by side, each with its own cookie and name.
///
/// # Examples
///
/// ```
/// use uapi::{handler, App, sessions::{configure_sessions, AsyncSession, MemoryStore, SessionOptions}};
///
/// #[handler]
/// async fn both(session: AsyncSession, cart: AsyncSession) -> String {
///     format!("{} {}", session.len(), cart.len())
/// }
///
/// let mut app = App::new();
/// configure_sessions(&mut app, MemoryStore::new(), SessionOptions::default());
/// configure_sessions(&mut app, MemoryStore::new(),
///     SessionOptions::default().cookie_name("cart_session").session_arg_param_name("cart"));
/// app.get("/", both);
/// assert!(app.build().is_ok());
/// ```
pub fn configure_sessions(app: &mut App, backend: impl SessionBackend, options: SessionOptions) -> SessionStore {
    let name = options.session_arg_param_name.clone();
    let shared = Arc::new(Shared { backend: Arc::new(backend), options });
    app.register_by_name_and_type(name, SessionProvider { shared: shared.clone() });
    SessionStore { shared }
}

/// The provider behind `session: AsyncSession`: reads the cookie, loads the
/// session (one round trip), or starts an empty one.
struct SessionProvider {
    shared: Arc<Shared>,
}

impl Injectable for SessionProvider {
    type Output = AsyncSession;
    type Provided = AsyncSession;

    fn info(&self) -> HandlerInfo {
        HandlerInfo::new("session provider", Vec::new(), "AsyncSession")
    }

    fn call<'a>(
        &'a self,
        ctx: &'a mut RequestCtx,
        _: &'a [ParamPlan],
    ) -> impl Future<Output = Result<AsyncSession, Response>> + Send + 'a {
        let shared = self.shared.clone();
        // Anything that is not a well-formed id is no session at all: never an
        // error, and never used to build a key.
        let id =
            find_cookie_raw(ctx.headers(), &shared.options.cookie_name).and_then(|raw| SessionId::parse_bytes(&raw));
        let response = ctx.response_headers();
        async move {
            let Some(id) = id else {
                return Ok(AsyncSession::new(shared, response, None));
            };
            let loaded = shared.backend.load(&id).await.map_err(IntoResponse::into_response)?;
            let Some(loaded) = loaded else {
                return Ok(AsyncSession::new(shared, response, None));
            };
            let extend = shared.options.rolling && loaded.ttl.is_some_and(|ttl| ttl < shared.options.max_age / 2);
            let session = AsyncSession::new(shared.clone(), response, Some((id, loaded)));
            if extend {
                shared.backend.touch(&id, shared.options.max_age).await.map_err(IntoResponse::into_response)?;
                session.refresh_cookie();
            }
            Ok(session)
        }
    }

    fn provide(out: AsyncSession) -> Result<AsyncSession, Response> {
        Ok(out)
    }
}

/// A store that is down or slow is a 503 that says so; anything else a 500.
impl IntoResponse for SessionError {
    fn into_response(self) -> Response {
        if self.is_transient() {
            tracing::error!(error = %self, "session store unavailable");
            text(StatusCode::SERVICE_UNAVAILABLE, "session store unavailable; try again shortly")
        } else {
            tracing::error!(error = %self, "session store error");
            text(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
        }
    }
}
