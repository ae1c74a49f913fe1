//! The seam for addons: what a provider or an extractor written outside uapi
//! needs, and all that uapi's own sessions and login use.
//!
//! - **A provider with state** implements [`Injectable`] by hand (a
//!   `#[handler]` function covers the stateless case) and is registered with
//!   [`App::register_by_name_and_type`](crate::App::register_by_name_and_type),
//!   [`register_by_name`](crate::App::register_by_name) or
//!   [`register_by_type`](crate::App::register_by_type). Its [`HandlerInfo`]
//!   declares its own parameters; [`crate::App::build`] resolves them like a
//!   handler's, route by route.
//! - **Another parameter's value**, from inside a provider: declare it
//!   ([`ParamInfo::provided`], or [`ParamInfo::new`] with its built-in source)
//!   and ask the context for it with [`RequestCtx::provided`] or
//!   [`RequestCtx::resolve`]: each provider runs at most once per request, so
//!   a provider asking for the session shares it with the handler.
//! - **The response**: [`RequestCtx::response_headers`] is the request's
//!   header sink ([`ResponseHeaders`]): a provider queues a `Set-Cookie` there
//!   and it goes out with whatever the handler answers.
//! - **A refusal**: a provider's `call` returning `Err(response)` (or
//!   `Ok(Err(..))` of an output [`Injectable::provide`] splits) answers the
//!   request instead of the handler, e.g. a 401.
//! - **A new built-in source**: implement [`FromRequest`] for a type; the
//!   readers of `FromStr` parameters are [`scalar`], [`optional_scalar`] and
//!   [`repeated_scalar`].
//!
//! # Examples
//!
//! A provider that gives `api_key: ApiKey` from the `x-api-key` header, or
//! answers 401:
//!
//! ```
//! use uapi::addon::{HandlerInfo, Injectable, ParamPlan, RequestCtx};
//! use uapi::status::Unauthorized;
//! use uapi::{handler, App, IntoResponse, Response};
//!
//! #[derive(Clone)]
//! struct ApiKey(String);
//!
//! struct ApiKeys { valid: Vec<String> }
//!
//! impl Injectable for ApiKeys {
//!     type Output = ApiKey;
//!     type Provided = ApiKey;
//!
//!     fn info(&self) -> HandlerInfo {
//!         HandlerInfo::new("api key provider", vec![], "ApiKey")
//!     }
//!
//!     async fn call(&self, ctx: &mut RequestCtx, _: &[ParamPlan]) -> Result<ApiKey, Response> {
//!         match ctx.headers().get("x-api-key").and_then(|v| v.to_str().ok()) {
//!             Some(key) if self.valid.iter().any(|k| k == key) => Ok(ApiKey(key.to_owned())),
//!             _ => Err(Unauthorized::new("a valid x-api-key header is required").into_response()),
//!         }
//!     }
//!
//!     fn provide(out: ApiKey) -> Result<ApiKey, Response> {
//!         Ok(out)
//!     }
//! }
//!
//! #[handler]
//! async fn secret(api_key: ApiKey) -> String { format!("hello, holder of {}", api_key.0) }
//!
//! let mut app = App::new();
//! app.register_by_name_and_type("api_key", ApiKeys { valid: vec!["k1".into()] })
//!    .get("/secret", secret);
//! assert!(app.build().is_ok());
//! ```

use std::fmt::Display;
use std::str::FromStr;

pub use crate::ctx::{BoxFuture, ExtractFn, ParamPlan, RequestCtx};
pub use crate::describe::{DescribeResponsesFn, DescribeTypeFn, ResponseDoc, SchemaGenerator, SecurityDoc, TypeDoc};
pub use crate::extract::FromRequest;
pub use crate::handler::{
    ExtractorKind, Handled, HandlerFn, HandlerInfo, Injectable, IntoInjectable, ParamInfo, ParamKind, Rename,
};
pub use crate::response::ResponseHeaders;

/// How a `FromStr` parameter (`ParamKind::Scalar`) is read: the path
/// parameter of its name, else the query parameter (a 400 naming it when
/// missing or unparsable). For a hand-written provider's own parameters,
/// with [`RequestCtx::resolve`].
///
/// # Examples
///
/// ```
/// use uapi::addon::{scalar, ExtractFn};
/// let read_page: ExtractFn<u32> = scalar::<u32>();
/// # let _ = read_page;
/// ```
pub fn scalar<T>() -> ExtractFn<T>
where
    T: FromStr + Send + 'static,
    T::Err: Display,
{
    crate::extract::scalar::<T>
}

/// As [`scalar`], for `Option<T>` (`ParamKind::OptionalScalar`): `None` when absent.
///
/// # Examples
///
/// ```
/// let read_lang: uapi::addon::ExtractFn<Option<String>> = uapi::addon::optional_scalar::<String>();
/// # let _ = read_lang;
/// ```
pub fn optional_scalar<T>() -> ExtractFn<Option<T>>
where
    T: FromStr + Send + 'static,
    T::Err: Display,
{
    crate::extract::optional_scalar::<T>
}

/// As [`scalar`], for `Vec<T>` (`ParamKind::RepeatedScalar`): every value of a
/// repeated query parameter.
///
/// # Examples
///
/// ```
/// let read_tags: uapi::addon::ExtractFn<Vec<String>> = uapi::addon::repeated_scalar::<String>();
/// # let _ = read_tags;
/// ```
pub fn repeated_scalar<T>() -> ExtractFn<Vec<T>>
where
    T: FromStr + Send + 'static,
    T::Err: Display,
{
    crate::extract::repeated_scalar::<T>
}
