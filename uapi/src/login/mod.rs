//! Login on top of a session store: uapi's `uapi.login` addon.
//!
//! [`configure_async_login`] registers, for a user-id type `T`:
//! - `current_user_id: T`: the logged-in user's id, or a 403 for an anonymous
//!   request (the handler never runs);
//! - `current_user_id: Option<T>`: `None` when anonymous;
//! - `login_session: AsyncLoginSession<T>`: to log in (rotating the session id)
//!   and out;
//! - `login_manager: AsyncLoginManager<T>`: to log a user out everywhere.
//!
//! The first three build on the store's `session: LazySession`, through the
//! public provider seam ([`crate::addon`]) any addon has: `current_user_id`
//! reads only the user id field of the session (on Redis one `HMGET`,
//! whatever the session's size), and a handler asking for `current_user_id`
//! and `session: AsyncSession` reads the session once, whole. A login puts the
//! session in the namespace of the user's id, so [`AsyncLoginManager::logout`]
//! ends every session of a user.
//!
//! [`configure_secure_login`] registers the first three on secure sessions
//! (cookies that hold the session themselves, feature `secure-sessions`):
//! what login needs of a session is the trait [`SessionForLogin`]. There is
//! no `login_manager` there: without a server nothing can end a cookie's
//! copies on other devices before they expire, so a handler asking for it
//! stops [`App::build`] (no provider for `login_manager`), and code outside
//! requests has no manager to call.
//!
//! [`configure_login_throttle`] guards the login handler itself: failed
//! attempts counted per account and per client address, a 429 past the limit
//! (see [`LoginThrottle`]).

mod backing;
mod client_ip;
mod throttle;

use std::fmt::Display;
use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::Arc;

use crate::addon::{HandlerInfo, Injectable, ParamInfo, ParamPlan, RequestCtx, ResponseDoc, SecurityDoc};
#[cfg(feature = "secure-sessions")]
use crate::sessions::{secure::SecureSessionStore, SecureSession};
use crate::sessions::{LazySession, SessionError, SessionStore};
use crate::{App, Headers, IntoResponse, Refusal, Response};

pub use self::backing::SessionForLogin;
pub use self::throttle::{
    configure_login_throttle, configure_login_throttle_in, LoginThrottle, LoginThrottleOptions, LoginThrottles,
};

/// The session key holding the logged-in user's id.
pub const USER_ID_KEY: &str = "user_id";

/// A user-id type: anything that prints to and parses from a string.
pub trait UserId: FromStr + Display + Clone + Send + Sync + 'static {}
impl<T: FromStr + Display + Clone + Send + Sync + 'static> UserId for T {}

/// Login settings, given to [`configure_async_login`].
#[derive(Clone)]
pub struct LoginOptions {
    forbidden: Arc<dyn Fn() -> Response + Send + Sync>,
}

impl Default for LoginOptions {
    fn default() -> Self {
        LoginOptions { forbidden: Arc::new(|| Refusal::new(http::StatusCode::FORBIDDEN, "forbidden").into_response()) }
    }
}

impl LoginOptions {
    /// The response for an anonymous request to a handler that needs
    /// `current_user_id` (default: 403 `forbidden`).
    ///
    /// # Examples
    ///
    /// ```
    /// use uapi::{login::LoginOptions, status::Forbidden, IntoResponse};
    /// let options = LoginOptions::default()
    ///     .forbidden_response(|| Forbidden::new("log in first").into_response());
    /// ```
    pub fn forbidden_response(mut self, f: impl Fn() -> Response + Send + Sync + 'static) -> Self {
        self.forbidden = Arc::new(f);
        self
    }
}

/// Ends users' sessions from anywhere: uapi's `AsyncLoginManager`. Handlers get
/// it as `login_manager: AsyncLoginManager<T>`; [`configure_async_login`]
/// returns it for use outside requests.
#[derive(Clone)]
pub struct AsyncLoginManager<T> {
    store: SessionStore,
    user: PhantomData<fn() -> T>,
}

impl<T: UserId> AsyncLoginManager<T> {
    /// Logs `user_id` out everywhere: every session of that user, on every
    /// device, ends. Returns how many ended.
    ///
    /// # Errors
    ///
    /// [`SessionError`] when the store is down or slow.
    pub async fn logout(&self, user_id: &T) -> Result<u64, SessionError> {
        self.store.remove_namespace(&user_id.to_string()).await
    }
}

/// The login view of a session: uapi's `AsyncLoginSession`, on any session
/// type that is [`SessionForLogin`] (a server-side store's [`AsyncSession`](crate::sessions::AsyncSession),
/// a secure cookie session).
#[derive(Clone)]
pub struct AsyncLoginSession<T> {
    /// The logged-in user, if any.
    pub user_id: Option<T>,
    session: Arc<dyn SessionForLogin>,
}

impl<T: UserId> AsyncLoginSession<T> {
    /// Logs this session in as `user_id`: records it and sets a cookie
    /// with a new value. On a server-side store the session moves to a NEW
    /// id (the old id stops working, so a planted id is useless) in the
    /// user's namespace; on secure sessions it is sealed anew, as beginning
    /// now (a planted cookie stays the anonymous session it was). Returns
    /// the cookie headers too.
    ///
    /// # Errors
    ///
    /// [`SessionError`] when the store is down or slow, or a secure session's
    /// cookie would be too large.
    pub async fn login_and_return(&self, user_id: T) -> Result<Headers, SessionError> {
        let id = user_id.to_string();
        if self.session.field(USER_ID_KEY).is_some_and(|current| current != id) {
            // Another user's session: none of its data carries over to this user.
            self.session.clear_fields();
        }
        self.session.set_field(USER_ID_KEY, id.clone());
        self.session.begin_login(&id).await
    }

    /// Logs this session out: deletes it (server-side stores) and expires
    /// the cookie.
    ///
    /// # Errors
    ///
    /// [`SessionError`] when the store is down or slow.
    pub async fn logout_and_return(&self) -> Result<Headers, SessionError> {
        self.session.end_session().await
    }

    /// The underlying session, as login sees it (a handler wanting the whole
    /// map asks for the session itself too: it is the same one).
    pub fn session(&self) -> &dyn SessionForLogin {
        &*self.session
    }
}

/// Registers `current_user_id: T`, `current_user_id: Option<T>`,
/// `login_session: AsyncLoginSession<T>` and `login_manager:
/// AsyncLoginManager<T>` on `app`, on top of `store` (uapi's
/// `configure_async_login(app, int, session_store)`).
///
/// # Examples
///
/// ```
/// use uapi::{handler, App};
/// use uapi::login::{configure_async_login, AsyncLoginManager, LoginOptions};
/// use uapi::sessions::{configure_sessions, MemoryStore, SessionError, SessionOptions};
///
/// #[handler]
/// async fn me(current_user_id: i64) -> String { current_user_id.to_string() }
///
/// #[handler]
/// async fn ban(current_user_id: i64, user_id: i64, login_manager: AsyncLoginManager<i64>) -> Result<String, SessionError> {
///     let ended = login_manager.logout(&user_id).await?;
///     Ok(format!("{current_user_id} ended {ended} sessions of {user_id}"))
/// }
///
/// let mut app = App::new();
/// let store = configure_sessions(&mut app, MemoryStore::new(), SessionOptions::default());
/// let login_manager = configure_async_login::<i64>(&mut app, &store, LoginOptions::default());
/// app.get("/me", me).delete("/users/{user_id}/sessions", ban);
/// assert!(app.build().is_ok());
/// ```
pub fn configure_async_login<T: UserId>(
    app: &mut App,
    store: &SessionStore,
    options: LoginOptions,
) -> AsyncLoginManager<T> {
    register::<T, LazySession>(app, store.options(), options);
    let manager = AsyncLoginManager { store: store.clone(), user: PhantomData };
    app.provide_value_by_name("login_manager", manager.clone());
    manager
}

/// [`configure_async_login`] on secure sessions (feature `secure-sessions`):
/// registers `current_user_id: T`, `current_user_id: Option<T>` and
/// `login_session: AsyncLoginSession<T>` on top of `store`'s
/// `SecureSession`. A login seals the session anew (new cookie bytes); a
/// logout expires this browser's cookie.
///
/// No `login_manager`: logging a user out on every device needs a server
/// that remembers the user's sessions, and a secure session is only its
/// cookie, valid until it expires wherever a copy of it is. So nothing is
/// returned to call `logout` on, and a handler asking for `login_manager`
/// stops [`App::build`] (nothing provides it). Keep `max_age` short, or use
/// a server-side store, where ending sessions at once matters.
///
/// # Examples
///
/// ```
/// use uapi::login::{configure_secure_login, LoginOptions};
/// use uapi::sessions::secure::{configure_secure_sessions, SecretKey};
/// use uapi::sessions::SessionOptions;
/// use uapi::{handler, App};
///
/// #[handler]
/// async fn me(current_user_id: i64) -> String { current_user_id.to_string() }
///
/// let mut app = App::new();
/// let store = configure_secure_sessions(&mut app, SecretKey::generate().unwrap(), SessionOptions::default());
/// configure_secure_login::<i64>(&mut app, &store, LoginOptions::default());
/// app.get("/me", me);
/// assert!(app.build().is_ok());
/// ```
#[cfg(feature = "secure-sessions")]
pub fn configure_secure_login<T: UserId>(app: &mut App, store: &SecureSessionStore, options: LoginOptions) {
    register::<T, SecureSession>(app, store.options(), options);
}

/// Registers the three login providers on the session parameter of a store
/// configured with `session`, whose session type is `S`.
fn register<T: UserId, S: SessionForLogin + Clone>(
    app: &mut App,
    session: &crate::sessions::SessionOptions,
    options: LoginOptions,
) {
    // Parameter names are `&'static str`; a name built at run time is kept for
    // the life of the program (configured once per app, a few bytes).
    let session_param: &'static str = match session.session_arg_param_name.clone() {
        std::borrow::Cow::Borrowed(s) => s,
        std::borrow::Cow::Owned(s) => Box::leak(s.into_boxed_str()),
    };
    let cookie: Arc<str> = session.cookie_name.as_str().into();
    let base = LoginProvider::<T, S> { session_param, cookie, forbidden: options.forbidden, user: PhantomData };
    app.register_by_name_and_type("current_user_id", Required(base.clone()));
    app.register_by_name_and_type("current_user_id", Optional(base.clone()));
    app.register_by_name_and_type("login_session", base);
}

/// The shared part of the three login providers: each asks for the store's
/// session (of type `S`) by its parameter name, like any handler would.
struct LoginProvider<T, S> {
    session_param: &'static str,
    /// The store's cookie: required by `current_user_id`, in the OpenAPI document.
    cookie: Arc<str>,
    forbidden: Arc<dyn Fn() -> Response + Send + Sync>,
    user: PhantomData<fn() -> (T, S)>,
}

impl<T, S> Clone for LoginProvider<T, S> {
    fn clone(&self) -> Self {
        LoginProvider {
            session_param: self.session_param,
            cookie: self.cookie.clone(),
            forbidden: self.forbidden.clone(),
            user: PhantomData,
        }
    }
}

impl<T: UserId, S: SessionForLogin + Clone> LoginProvider<T, S> {
    fn info(&self, name: &'static str, returns: &'static str) -> HandlerInfo {
        HandlerInfo::new(name, vec![ParamInfo::provided::<S>(self.session_param)], returns)
    }

    /// The session and its user. `fields`: what of the session to read
    /// (`None`: all of it, for a handler that gets the session).
    async fn load(
        ctx: &mut RequestCtx,
        plan: &[ParamPlan],
        fields: Option<&[&str]>,
    ) -> Result<(S, Option<T>), Response> {
        // The plan has the one parameter `info` declared (App::build made it so).
        let Some(session_plan) = plan.first() else {
            return Err(crate::status::InternalServerError::new("login misconfigured").into_response());
        };
        let session = ctx.provided::<S>(session_plan).await?;
        session.read_ahead(fields).await.map_err(IntoResponse::into_response)?;
        // A stored id that does not parse (e.g. written by other code) is anonymous.
        let user = session.field(USER_ID_KEY).and_then(|s| s.parse::<T>().ok());
        Ok((session, user))
    }
}

struct Required<T, S>(LoginProvider<T, S>);
struct Optional<T, S>(LoginProvider<T, S>);

impl<T: UserId, S: SessionForLogin + Clone> Injectable for Required<T, S> {
    type Output = Result<T, Response>;
    type Provided = T;

    fn info(&self) -> HandlerInfo {
        // The refusal as configured: its status, by making one.
        let refusal = (self.0.forbidden)();
        let status = refusal.status();
        let reason = status.canonical_reason().unwrap_or("refused");
        self.0
            .info("current_user_id", std::any::type_name::<T>())
            .with_refusal(ResponseDoc::new(status.as_u16(), format!("{reason}: no user is logged in")))
            .with_security(
                SecurityDoc::cookie(
                    &*self.0.cookie,
                    format!("the session id in cookie `{}` (set by the server)", self.0.cookie),
                )
                .required(),
            )
    }

    async fn call(&self, ctx: &mut RequestCtx, plan: &[ParamPlan]) -> Result<Self::Output, Response> {
        let (_, user) = LoginProvider::<T, S>::load(ctx, plan, Some(&[USER_ID_KEY])).await?;
        Ok(user.ok_or_else(|| (self.0.forbidden)()))
    }

    fn provide(out: Self::Output) -> Result<T, Response> {
        out
    }
}

impl<T: UserId, S: SessionForLogin + Clone> Injectable for Optional<T, S> {
    type Output = Option<T>;
    type Provided = Option<T>;

    fn info(&self) -> HandlerInfo {
        self.0.info("current_user_id", std::any::type_name::<Option<T>>())
    }

    async fn call(&self, ctx: &mut RequestCtx, plan: &[ParamPlan]) -> Result<Self::Output, Response> {
        Ok(LoginProvider::<T, S>::load(ctx, plan, Some(&[USER_ID_KEY])).await?.1)
    }

    fn provide(out: Option<T>) -> Result<Option<T>, Response> {
        Ok(out)
    }
}

impl<T: UserId, S: SessionForLogin + Clone> Injectable for LoginProvider<T, S> {
    type Output = AsyncLoginSession<T>;
    type Provided = AsyncLoginSession<T>;

    fn info(&self) -> HandlerInfo {
        LoginProvider::info(self, "login_session", std::any::type_name::<AsyncLoginSession<T>>())
    }

    async fn call(&self, ctx: &mut RequestCtx, plan: &[ParamPlan]) -> Result<Self::Output, Response> {
        let (session, user_id) = LoginProvider::<T, S>::load(ctx, plan, None).await?;
        Ok(AsyncLoginSession { user_id, session: Arc::new(session) })
    }

    fn provide(out: Self::Output) -> Result<Self::Output, Response> {
        Ok(out)
    }
}
