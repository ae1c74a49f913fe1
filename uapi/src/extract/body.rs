//! Body parameters: `ReqBody<T>` (JSON), `FormBody<T>` (urlencoded), `ReqBytes`.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use super::FromRequest;
use crate::ctx::{ParamPlan, RequestCtx};
use crate::error::Rejection;
use crate::handler::ExtractorKind;
use crate::response::Json;

const BODY: &str = "request body";

/// Whether the request's media type (parameters aside) is acceptable.
fn media_type_is(ctx: &RequestCtx, accept: impl Fn(&str) -> bool) -> bool {
    let Some(value) = ctx.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    accept(&essence)
}

fn is_json(essence: &str) -> bool {
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn body<'c>(ctx: &'c RequestCtx, param: &ParamPlan) -> Result<&'c Bytes, Rejection> {
    ctx.body_bytes().ok_or_else(|| Rejection::missing(BODY, param.name()))
}

fn json<T: DeserializeOwned>(ctx: &mut RequestCtx, param: &ParamPlan) -> Result<T, Rejection> {
    if !media_type_is(ctx, is_json) {
        return Err(Rejection::UnsupportedMediaType { name: param.name().into(), expected: "application/json" });
    }
    let bytes = body(ctx, param)?;
    serde_json::from_slice(bytes).map_err(|e| Rejection::invalid(BODY, param.name(), e))
}

/// The request body as JSON, deserialised into `T`; requires
/// `content-type: application/json` (else 415).
///
/// # Examples
///
/// ```
/// use uapi::{handler, status::Created, ReqBody};
///
/// #[derive(serde::Deserialize)]
/// struct Article { title: String }
///
/// #[handler]
/// async fn create(article: ReqBody<Article>) -> Created<String> {
///     Created::new(article.0.title)
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReqBody<T>(pub T);

impl<T> std::ops::Deref for ReqBody<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + Send + 'static> FromRequest for ReqBody<T> {
    const KIND: ExtractorKind = ExtractorKind::Body;
    fn from_request(ctx: &mut RequestCtx, param: &ParamPlan) -> Result<Self, Rejection> {
        json(ctx, param).map(ReqBody)
    }
}

/// As a parameter, [`Json`] is the same as [`ReqBody`].
impl<T: DeserializeOwned + Send + 'static> FromRequest for Json<T> {
    const KIND: ExtractorKind = ExtractorKind::Body;
    fn from_request(ctx: &mut RequestCtx, param: &ParamPlan) -> Result<Self, Rejection> {
        json(ctx, param).map(Json)
    }
}

/// The request body as `application/x-www-form-urlencoded`, deserialised into `T`.
///
/// # Examples
///
/// ```
/// use uapi::{handler, FormBody};
///
/// #[derive(serde::Deserialize)]
/// struct Search { q: String }
///
/// #[handler]
/// async fn search(form: FormBody<Search>) -> String { form.0.q }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormBody<T>(pub T);

impl<T: DeserializeOwned + Send + 'static> FromRequest for FormBody<T> {
    const KIND: ExtractorKind = ExtractorKind::Body;
    fn from_request(ctx: &mut RequestCtx, param: &ParamPlan) -> Result<Self, Rejection> {
        if !media_type_is(ctx, |e| e == "application/x-www-form-urlencoded") {
            return Err(Rejection::UnsupportedMediaType {
                name: param.name().into(),
                expected: "application/x-www-form-urlencoded",
            });
        }
        let bytes = body(ctx, param)?;
        serde_urlencoded::from_bytes(bytes).map(FormBody).map_err(|e| Rejection::invalid(BODY, param.name(), e))
    }
}

/// The raw request body, whatever its content type.
///
/// # Examples
///
/// ```
/// use uapi::{handler, ReqBytes};
///
/// #[handler]
/// async fn size(body: ReqBytes) -> String { body.0.len().to_string() }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReqBytes(pub Bytes);

impl FromRequest for ReqBytes {
    const KIND: ExtractorKind = ExtractorKind::Body;
    fn from_request(ctx: &mut RequestCtx, param: &ParamPlan) -> Result<Self, Rejection> {
        body(ctx, param).map(|b| ReqBytes(b.clone()))
    }
}
