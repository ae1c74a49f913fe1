//! [`FromRequest`]: how a type reads its value from the request, whatever
//! provider is registered.

use crate::ctx::{ParamPlan, RequestCtx};
use crate::error::Rejection;
use crate::handler::ExtractorKind;

/// A type that takes its value from the request, whatever provider is registered.
///
/// Implement it for your own extractors; the parameter's plan tells the name it
/// was declared with (and the header or cookie name, for those kinds).
///
/// # Examples
///
/// ```
/// use uapi::addon::{ExtractorKind, FromRequest, ParamPlan, RequestCtx};
/// use uapi::Rejection;
///
/// /// The bearer token of the `Authorization` header.
/// struct Bearer(String);
///
/// impl FromRequest for Bearer {
///     const KIND: ExtractorKind = ExtractorKind::Request;
///     fn from_request(ctx: &mut RequestCtx, _: &ParamPlan) -> Result<Self, Rejection> {
///         let value = ctx.headers().get("authorization")
///             .ok_or_else(|| Rejection::missing("header", "authorization"))?;
///         let token = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer "))
///             .ok_or_else(|| Rejection::invalid("header", "authorization", "not a bearer token"))?;
///         Ok(Bearer(token.to_owned()))
///     }
/// }
/// ```
pub trait FromRequest: Sized + Send + 'static {
    /// What part of the request it reads.
    const KIND: ExtractorKind;

    /// Takes the value.
    ///
    /// # Errors
    ///
    /// A [`Rejection`]: missing (a 400, or `None` for `Option<Self>`), invalid (a
    /// 400), or any response.
    fn from_request(ctx: &mut RequestCtx, param: &ParamPlan) -> Result<Self, Rejection>;
}

impl<T: FromRequest> FromRequest for Option<T> {
    const KIND: ExtractorKind = T::KIND;

    fn from_request(ctx: &mut RequestCtx, param: &ParamPlan) -> Result<Self, Rejection> {
        match T::from_request(ctx, param) {
            Ok(v) => Ok(Some(v)),
            Err(r) if r.is_missing() => Ok(None),
            Err(r) => Err(r),
        }
    }
}
