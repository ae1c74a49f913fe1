//! `Header<T>`: a request header named after the parameter.

use std::fmt::Display;
use std::str::FromStr;

use super::FromRequest;
use crate::ctx::{ParamPlan, RequestCtx};
use crate::error::Rejection;
use crate::handler::ExtractorKind;

const HEADER: &str = "header";

/// The value of the request header named after the parameter, with `_` as `-`
/// (`api_key: Header<String>` reads `api-key`), or as renamed with
/// `#[header("x-api-key")]`. Parsed with `FromStr`; `Option<Header<T>>` when optional.
///
/// # Examples
///
/// ```
/// use uapi::{handler, Header};
///
/// #[handler]
/// async fn whoami(#[header("x-api-key")] key: Header<String>, user_agent: Option<Header>) -> String {
///     format!("{} via {:?}", key.0, user_agent.map(|h| h.0))
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header<T = String>(pub T);

impl<T> std::ops::Deref for Header<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> FromRequest for Header<T>
where
    T: FromStr + Send + 'static,
    T::Err: Display,
{
    const KIND: ExtractorKind = ExtractorKind::Header;

    fn from_request(ctx: &mut RequestCtx, param: &ParamPlan) -> Result<Self, Rejection> {
        let Some(name) = param.header_name() else {
            return Err(Rejection::missing(HEADER, param.name()));
        };
        let Some(value) = ctx.headers().get(name) else {
            return Err(Rejection::missing(HEADER, name.as_str().to_owned()));
        };
        let text =
            value.to_str().map_err(|_| Rejection::invalid(HEADER, name.as_str().to_owned(), "not visible ASCII"))?;
        text.parse::<T>().map(Header).map_err(|e| Rejection::invalid(HEADER, name.as_str().to_owned(), e))
    }
}
