//! # uapi
//!
//! HTTP APIs from plain async functions. Mark a function `#[handler]` and the app
//! hands each parameter its value by the parameter's **name and type**: a path or
//! query parameter (`user_id: i64`), a header (`api_key: Header<String>`), a
//! cookie, the JSON body (`article: ReqBody<Article>`), or the value of a
//! provider registered for that name or type (`session: AsyncSession`,
//! `current_user_id: i64`). It is a Rust port of Python's
//! [uapi](https://github.com/Tinche/uapi).
//!
//! ```
//! use uapi::{handler, status::{Created, NotFound}, App, Header, ReqBody};
//!
//! #[derive(serde::Deserialize)]
//! struct Article { title: String }
//!
//! #[handler]
//! async fn get_article(article_id: u64) -> Result<String, NotFound<&'static str>> {
//!     if article_id == 1 { Ok("the first".into()) } else { Err(NotFound::new("no such article")) }
//! }
//!
//! #[handler]
//! async fn create_article(article: ReqBody<Article>, api_key: Header<String>) -> Created<String> {
//!     Created::new(format!("{} by {}", article.title, api_key.0))
//! }
//!
//! let mut app = App::new();
//! app.get("/articles/{article_id}", get_article)
//!    .post("/articles", create_article);
//! app.build().expect("every parameter resolves");
//! ```
//!
//! ## Layout
//!
//! - [`app`](App): routes and providers; [`App::build`] resolves every parameter
//!   once, [`App::serve`] serves.
//! - `handler` / `inject` / `plan`: the [`Injectable`] trait `#[handler]`
//!   implements, the per-request context, and the build-time resolution.
//! - `extract`: the built-in sources ([`Header`], [`Cookie`], [`ReqBody`], ...).
//! - `response` and [`status`]: [`IntoResponse`], typed responses, cookies.
//! - `server` / `service`: hyper serving, graceful shutdown, `tower::Service`.
//! - [`testing`]: an in-process client for your own tests.
//! - [`sessions`] and [`login`]: Redis-backed cookie sessions and login.

mod app;
mod body;
mod coarse_timer;
mod error;
mod extract;
mod handler;
mod inject;
mod plan;
mod response;
mod router;
mod server;
mod service;
mod value;
mod workers;

pub mod login;
pub mod sessions;
pub mod status;
pub mod testing;

pub use app::{App, DEFAULT_BODY_LIMIT};
pub use body::{BoxError, RequestBody};
pub use error::{BuildError, Rejection, ServeError};
pub use extract::{
    Cookie, Cookies, FormBody, FromRequest, Header, ReqBody, ReqBytes, RequestParts, ResponseHeaders, RouteName,
};
pub use handler::{
    ExtractorKind, Handled, HandlerFn, HandlerInfo, Injectable, IntoInjectable, ParamInfo, ParamKind, Rename,
};
pub use inject::{BoxFuture, ParamPlan, RequestCtx};
pub use response::{
    expire_cookie, set_cookie, Body, CookieSettings, Headers, IntoResponse, Json, Response, ResponseBody, SameSite,
};
pub use server::Server;
pub use service::AppService;
pub use workers::{RunningWorkers, Workers};

/// Marks a function as injectable: a route handler or a provider.
///
/// Each parameter is resolved by its name and type: a provider registered for
/// that name and type, for the name, for the type, then the type's built-in
/// source (see [`FromRequest`]; `FromStr` types read the path or query parameter
/// of that name). `#[header("x-api-key")]` and `#[cookie("sid")]` rename a
/// [`Header`] or [`Cookie`] parameter; `#[handler(name = "..")]` sets the route
/// name (the function's name by default).
///
/// The function stays callable as plain Rust, so a handler can be unit-tested
/// by calling it with values:
///
/// ```
/// use uapi::handler;
///
/// #[handler]
/// async fn double(n: i64) -> String { (n * 2).to_string() }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// assert_eq!(double(21).await, "42");
/// # }
/// ```
///
/// Mistakes are compile errors on the offending tokens: a `self` receiver, a
/// pattern instead of a name, a borrowed or `impl Trait` parameter, generics.
pub use uapi_macros::handler;

/// The `http` crate, whose types (`Method`, `HeaderMap`, `StatusCode`, ...) appear in uapi's API.
pub use http;

#[doc(hidden)]
pub mod __private {
    pub use crate::extract::probe;
    pub use crate::handler::Rename;
    pub use crate::inject::{BoxFuture, ExtractFn};

    /// Parameters must be owned, `Send` and `'static` to be injected.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be a #[handler] parameter",
        label = "parameters must be owned, `Send` and `'static`"
    )]
    pub trait Param: Send + 'static {}
    impl<T: Send + 'static> Param for T {}

    #[inline(always)]
    pub fn assert_param<T: Param>() {}
}
