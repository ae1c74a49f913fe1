//! Turning handler results into HTTP responses: [`IntoResponse`], response
//! bodies, extra [`Headers`] (and the per-request [`ResponseHeaders`] sink), and
//! cookies ([`set_cookie`], [`CookieSettings`]).

mod cookie;
mod headers;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::StatusCode;
use http_body_util::Full;

pub use self::cookie::{expire_cookie, set_cookie, CookieSettings, SameSite};
pub use self::headers::{Headers, ResponseHeaders};

/// The body of every response uapi produces: one buffer, sent as is.
pub type Body = Full<Bytes>;

/// The response type handlers produce in the end.
pub type Response = http::Response<Body>;

/// Anything a handler may return.
///
/// Implemented for the typed responses in [`crate::status`], for bare bodies
/// (`()`, `String`, `&'static str`, [`Json`], `Bytes`, `Vec<u8>`: a 200), for
/// `Result<A, B>` of two responses, and for [`Response`] itself.
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

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
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
bare_body!((), String, &'static str, Bytes, Vec<u8>);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        respond(StatusCode::OK, self, Headers::new())
    }
}

/// Builds a response from a status, a body and extra headers.
pub(crate) fn respond(status: StatusCode, body: impl ResponseBody, headers: Headers) -> Response {
    let (content_type, bytes) = body.into_body();
    let mut response = http::Response::new(Full::new(bytes));
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
