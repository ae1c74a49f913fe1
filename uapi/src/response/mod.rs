//! Turning handler results into HTTP responses: [`IntoResponse`], response
//! bodies, extra [`Headers`] (and the per-request [`ResponseHeaders`] sink), and
//! cookies ([`set_cookie`], [`CookieSettings`]).

mod body;
mod cookie;
mod headers;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::StatusCode;

pub use self::body::Body;
pub use self::cookie::{expire_cookie, set_cookie, CookieSettings, SameSite};
pub use self::headers::{Headers, ResponseHeaders};
use crate::body::BoxError;

/// The response type handlers produce in the end.
pub type Response = http::Response<Body>;

/// Anything a handler may return: what it answers, as uapi's shorthands do.
///
/// | returned | answers |
/// | --- | --- |
/// | `()` | 204 No Content, no body, no content type (uapi's `None`) |
/// | `Option<T>` | `T`'s response for `Some`, 204 for `None` (uapi's `T \| None`) |
/// | `String`, `&'static str` | 200, `text/plain; charset=utf-8` |
/// | `Bytes`, `Vec<u8>` | 200, `application/octet-stream` |
/// | [`Json<T>`] | 200, `application/json` |
/// | a [`crate::status`] type, e.g. `Created<B>` | its status, with `B` as above (`()`: no body) and its [`Headers`] |
/// | `Result<A, B>` | `A`'s or `B`'s response |
/// | [`Response`], `http::Response<B>` | itself |
///
/// # Examples
///
/// ```
/// use uapi::IntoResponse;
/// let response = "hello".into_response();
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.headers()["content-type"], "text/plain; charset=utf-8");
/// ```
pub trait IntoResponse {
    /// Converts `self` into a response.
    fn into_response(self) -> Response;
}

impl<B> IntoResponse for http::Response<B>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    fn into_response(self) -> Response {
        self.map(Body::from_body)
    }
}

/// 204 No Content: a handler with nothing to say (uapi answers `None` so).
impl IntoResponse for () {
    fn into_response(self) -> Response {
        respond(StatusCode::NO_CONTENT, (), Headers::new())
    }
}

/// `T`'s response, or 204 No Content for `None` (uapi's `T | None`).
impl<T: IntoResponse> IntoResponse for Option<T> {
    fn into_response(self) -> Response {
        match self {
            Some(t) => t.into_response(),
            None => ().into_response(),
        }
    }
}

impl<A: IntoResponse, B: IntoResponse> IntoResponse for Result<A, B> {
    fn into_response(self) -> Response {
        match self {
            Ok(a) => a.into_response(),
            Err(b) => b.into_response(),
        }
    }
}

/// A response body: bytes and, when it has one, a content type.
///
/// # Examples
///
/// ```
/// use uapi::ResponseBody;
/// let (content_type, bytes) = String::from("hi").into_body();
/// assert_eq!(content_type.unwrap(), "text/plain; charset=utf-8");
/// assert_eq!(&bytes[..], b"hi");
/// ```
pub trait ResponseBody {
    /// The content type (None for an empty body) and the bytes.
    fn into_body(self) -> (Option<HeaderValue>, Bytes);
}

const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
const JSON: HeaderValue = HeaderValue::from_static("application/json");
const OCTETS: HeaderValue = HeaderValue::from_static("application/octet-stream");

impl ResponseBody for () {
    fn into_body(self) -> (Option<HeaderValue>, Bytes) {
        (None, Bytes::new())
    }
}

impl ResponseBody for String {
    fn into_body(self) -> (Option<HeaderValue>, Bytes) {
        (Some(TEXT), Bytes::from(self))
    }
}

impl ResponseBody for &'static str {
    fn into_body(self) -> (Option<HeaderValue>, Bytes) {
        (Some(TEXT), Bytes::from_static(self.as_bytes()))
    }
}

impl ResponseBody for Bytes {
    fn into_body(self) -> (Option<HeaderValue>, Bytes) {
        (Some(OCTETS), self)
    }
}

impl ResponseBody for Vec<u8> {
    fn into_body(self) -> (Option<HeaderValue>, Bytes) {
        (Some(OCTETS), Bytes::from(self))
    }
}

/// A JSON response body (and, as a parameter, see [`crate::ReqBody`]).
///
/// # Examples
///
/// ```
/// use uapi::{Json, IntoResponse};
/// let response = Json(vec![1, 2]).into_response();
/// assert_eq!(response.headers()["content-type"], "application/json");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> ResponseBody for Json<T> {
    fn into_body(self) -> (Option<HeaderValue>, Bytes) {
        match serde_json::to_vec(&self.0) {
            Ok(v) => (Some(JSON), Bytes::from(v)),
            Err(e) => {
                // Serialising a value we produced ourselves failed (e.g. a map with
                // non-string keys): a bug in the handler, reported as such.
                tracing::error!(error = %e, "could not serialise a JSON response body");
                (Some(TEXT), Bytes::from_static(b"internal server error"))
            }
        }
    }
}

macro_rules! bare_body {
    ($($t:ty),*) => {$(
        impl IntoResponse for $t {
            fn into_response(self) -> Response {
                respond(StatusCode::OK, self, Headers::new())
            }
        }
    )*};
}
bare_body!(String, &'static str, Bytes, Vec<u8>);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        respond(StatusCode::OK, self, Headers::new())
    }
}

/// Builds a response from a status, a body and extra headers.
pub(crate) fn respond(status: StatusCode, body: impl ResponseBody, headers: Headers) -> Response {
    let (content_type, bytes) = body.into_body();
    let mut response = http::Response::new(Body::new(bytes));
    *response.status_mut() = status;
    let map = response.headers_mut();
    if let Some(ct) = content_type {
        map.insert(CONTENT_TYPE, ct);
    }
    headers.apply(map);
    response
}

/// A plain-text response with a status: how uapi's own refusals are written.
pub(crate) fn text(status: StatusCode, message: impl Into<String>) -> Response {
    respond(status, message.into(), Headers::new())
}
