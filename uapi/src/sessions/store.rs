//! [`SessionStore`] and [`configure_sessions`]: how a session backend becomes
//! the `session: AsyncSession` parameter. Every backend, Redis and memory
//! alike, is configured through [`configure_sessions`], and every call a
//! store makes to its backend names the store ([`StoreInfo`](super::StoreInfo)), so stores
//! side by side on one backend never share sessions.

use std::future::Future;
use std::sync::Arc;

use super::session::Shared;
use super::{AsyncSession, LazySession, SessionBackend, SessionError, SessionId, SessionOptions};
use crate::addon::{HandlerInfo, Injectable, ParamInfo, ParamPlan, RequestCtx, ResponseDoc, SecurityDoc};
use crate::http::StatusCode;
use crate::{App, Cookies, IntoResponse, Refusal, Response};

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
        self.shared.backend.remove_namespace(self.shared.store(), namespace).await
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
    // Parameter names are `&'static str`; a name built at run time is kept for
    // the life of the program (configured once per store, a few bytes).
    let param: &'static str = match options.session_arg_param_name.clone() {
        std::borrow::Cow::Borrowed(s) => s,
        std::borrow::Cow::Owned(s) => Box::leak(s.into_boxed_str()),
    };
    let shared = Arc::new(Shared::new(Arc::new(backend), options));
    app.register_by_name_and_type(param, LazyProvider { shared: shared.clone(), param });
    app.register_by_name_and_type(param, SessionProvider { param });
    SessionStore { shared }
}

/// The provider behind `session: LazySession`: reads the cookie and
/// refuses a cross-site write carrying it; no store round trip.
struct LazyProvider {
    shared: Arc<Shared>,
    /// The store's session parameter name.
    param: &'static str,
}

impl Injectable for LazyProvider {
    type Output = LazySession;
    type Provided = LazySession;

    fn info(&self) -> HandlerInfo {
        let options = &self.shared.options;
        let mut info =
            // No store round trip here, but every read and save after can be a 503.
            HandlerInfo::new("session provider", Vec::new(), "LazySession")
                .with_refusal(ResponseDoc::new(503, "the session store is unavailable; try again shortly"))
                .with_security(SecurityDoc::cookie(
                    options.cookie_name.clone(),
                    format!("the session id in cookie `{}` (set by the server)", options.cookie_name),
                ));
        if options.refuse_cross_site {
            info = info.with_refusal(
                ResponseDoc::new(403, "a write carrying the session cookie from another site").writes_only(),
            );
        }
        info
    }

    fn call<'a>(
        &'a self,
        ctx: &'a mut RequestCtx,
        _: &'a [ParamPlan],
    ) -> impl Future<Output = Result<LazySession, Response>> + Send + 'a {
        let shared = self.shared.clone();
        // Anything that is not a well-formed id is no session at all: never an
        // error, and never used to build a key.
        let raw = Cookies::find_raw(ctx.headers(), &shared.options.cookie_name);
        // A state-changing request carrying the cookie, from another site.
        let refused = match &raw {
            Some(_) if shared.options.refuse_cross_site => super::cross_site::refusal(ctx.parts()),
            _ => None,
        };
        let id = raw.and_then(|raw| SessionId::parse_bytes(&raw));
        let response = ctx.response_headers();
        let wants_whole = ctx.route_resolves::<AsyncSession>(self.param);
        async move {
            match refused {
                Some(refusal) => Err(refusal.into_response()),
                None => Ok(LazySession::new(shared, response, id, wants_whole)),
            }
        }
    }

    fn provide(out: LazySession) -> Result<LazySession, Response> {
        Ok(out)
    }
}

/// The provider behind `session: AsyncSession`: the store's lazy session,
/// read whole (one round trip, none without a cookie). Both share one state,
/// so a request that asks for both sees one session.
struct SessionProvider {
    /// The store's session parameter name, which the lazy session is under.
    param: &'static str,
}

impl Injectable for SessionProvider {
    type Output = AsyncSession;
    type Provided = AsyncSession;

    fn info(&self) -> HandlerInfo {
        // Its 503 is the lazy session's, whose provider it needs.
        HandlerInfo::new("session provider", vec![ParamInfo::provided::<LazySession>(self.param)], "AsyncSession")
    }

    async fn call(&self, ctx: &mut RequestCtx, plan: &[ParamPlan]) -> Result<AsyncSession, Response> {
        // The plan has the one parameter `info` declared (App::build made it so).
        let Some(lazy) = plan.first() else {
            return Err(crate::status::InternalServerError::new("sessions misconfigured").into_response());
        };
        let session = ctx.provided::<LazySession>(lazy).await?.into_inner();
        session.read_whole().await.map_err(IntoResponse::into_response)?;
        Ok(session)
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
            Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "session store unavailable; try again shortly")
                .into_response()
        } else {
            tracing::error!(error = %self, "session store error");
            Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "internal server error").into_response()
        }
    }
}

/// As the framework answers it: 503 for a store down or slow, else 500.
#[cfg(feature = "openapi")]
impl crate::openapi::DescribeResponse for SessionError {
    fn describe(_: &mut crate::openapi::SchemaGenerator, out: &mut Vec<ResponseDoc>) {
        out.push(ResponseDoc::new(503, "the session store is unavailable; try again shortly"));
        out.push(ResponseDoc::new(500, "a session store error"));
    }
}
