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
//! Layers, each using only the ones listed before it (checked in CI):
//!
//! - leaves: `config` (limits, timeouts), `body` ([`RequestBody`]), `response`
//!   ([`IntoResponse`], [`Body`], [`Headers`], [`ResponseHeaders`], cookies),
//!   `refusal` ([`Refusal`], [`problem_json`]), `error` ([`Rejection`],
//!   [`BuildError`], [`ServeError`]), [`status`] (typed responses), `router`
//!   (matchit);
//! - `ctx`: the per-request context ([`addon::RequestCtx`]) and parameter plans;
//! - `handler` ([`addon::Injectable`], [`addon::HandlerInfo`]), `erased`, `value`,
//!   and `extract`: the built-in sources ([`Header`], [`Cookie`], [`ReqBody`], ...);
//! - `registry` and `plan`: routes and providers, resolved once at [`App::build`];
//! - `layers` (tower layers on an app: [`Routes`]), `service` ([`AppService`], a
//!   `tower::Service`), `server` ([`Server`], hyper);
//! - `app` ([`App`]);
//! - addons, on the public seam [`addon`] only: [`sessions`], [`login`],
//!   [`testing`], and `Workers` (feature `workers`).

mod app;
mod body;
mod config;
mod ctx;
mod describe;
mod erased;
mod error;
mod extract;
mod handler;
mod layers;
mod plan;
mod refusal;
mod registry;
mod response;
mod router;
mod server;
mod service;
mod value;
#[cfg(feature = "workers")]
mod workers;

pub mod addon;
pub mod login;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod sessions;
pub mod status;
pub mod testing;

pub use app::App;
pub use body::{BoxError, RequestBody};
pub use config::DEFAULT_BODY_LIMIT;
pub use error::{BuildError, Rejection, ServeError};
pub use extract::{ClientAddr, Cookie, Cookies, FormBody, Header, ReqBody, ReqBytes, RequestParts, RouteName};
pub use layers::Routes;
pub use refusal::{problem_json, Refusal};
pub use response::{
    expire_cookie, set_cookie, Body, CookieSettings, Headers, IntoResponse, Json, Response, ResponseBody,
    ResponseHeaders, SameSite,
};
pub use server::{Listener, Server};
pub use service::AppService;
#[cfg(feature = "workers")]
pub use workers::{RunningWorkers, Workers};

/// Marks a function as injectable: a route handler or a provider.
///
/// Each parameter is resolved by its name and type: a provider registered for
/// that name and type, for the name, for the type, then the type's built-in
/// source (see [`addon::FromRequest`]; `FromStr` types read the path or query parameter
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
///
/// What the function compiles to: the same name and parameters, returning
/// [`addon::Handled`]`<glue, impl Future<Output = R>>` (for a plain `fn`, a
/// ready future with `into_inner()`), the future of the body tagged with the
/// generated glue type through which `app.get(..)` finds its injection code.
/// Awaiting it gives exactly what the body returns. rustdoc shows the function
/// as written (`pub async fn get_user(user_id: i64) -> R`), not that return
/// type. The expansion adds no warning to your code (a UI test compiles every
/// usual body shape with `#![deny(warnings)]`).
pub use uapi_macros::handler;

/// The `http` crate, whose types (`Method`, `HeaderMap`, `StatusCode`, ...) appear in uapi's API.
pub use http;

/// The redis-rs crate (feature `redis`), whose connections the Redis session
/// store takes.
#[cfg(feature = "redis")]
pub use redis;

/// What `#[handler]`'s generated code needs beyond [`addon`]: not an API.
#[doc(hidden)]
pub mod __private {
    pub use crate::describe::probe as doc_probe;
    pub use crate::extract::probe;

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
