//! Turning handler results into HTTP responses: [`IntoResponse`], response bodies,
//! [`Headers`] and cookies ([`set_cookie`], [`CookieSettings`]).

use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, SET_COOKIE};
use http::{HeaderMap, StatusCode};
use http_body_util::Full;

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

/// Extra response headers, in order; several may share a name (e.g. `set-cookie`).
///
/// Combine with `+` or [`Headers::extend`].
///
/// # Examples
///
/// ```
/// use uapi::{set_cookie, CookieSettings, Headers};
/// let h = Headers::new().with("x-request-id", "42")
///     + set_cookie("a", "1", CookieSettings::default());
/// assert_eq!(h.len(), 2);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Headers(Vec<(HeaderName, HeaderValue)>);

impl Headers {
    /// No headers.
    pub fn new() -> Headers {
        Headers(Vec::new())
    }

    /// Adds a header.
    ///
    /// # Panics
    ///
    /// When `name` or `value` is not a valid header name or value; use
    /// [`Headers::insert`] with checked types for values from users.
    pub fn with(mut self, name: &'static str, value: &str) -> Headers {
        let name = HeaderName::from_static(name);
        let value = HeaderValue::from_str(value).expect("a valid header value");
        self.0.push((name, value));
        self
    }

    /// Adds a header from checked parts.
    pub fn insert(&mut self, name: HeaderName, value: HeaderValue) {
        self.0.push((name, value));
    }

    /// Appends every header of `other`.
    pub fn extend(&mut self, other: Headers) {
        self.0.extend(other.0);
    }

    /// How many headers there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates over the headers in order.
    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.0.iter().map(|(n, v)| (n, v))
    }

    /// Appends them to a header map (`set-cookie` and the like keep every value).
    pub(crate) fn apply(self, map: &mut HeaderMap) {
        for (name, value) in self.0 {
            map.append(name, value);
        }
    }
}

impl std::ops::Add for Headers {
    type Output = Headers;
    fn add(mut self, rhs: Headers) -> Headers {
        self.extend(rhs);
        self
    }
}

/// The `SameSite` attribute of a cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SameSite {
    /// Sent on same-site requests and top-level navigations: the safe default.
    #[default]
    Lax,
    /// Sent on same-site requests only.
    Strict,
    /// Sent everywhere; browsers require `Secure` with it.
    None,
}

/// How a cookie is set: uapi's `CookieSettings`, with safe defaults
/// (`HttpOnly`, `Secure`, `SameSite=Lax`, `Path=/`, a session cookie).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uapi::CookieSettings;
/// let s = CookieSettings::default().max_age(Duration::from_secs(60)).domain("example.com");
/// assert!(s.http_only && s.secure);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieSettings {
    /// `Max-Age`: None for a cookie that ends with the browser session.
    pub max_age: Option<Duration>,
    /// `HttpOnly`: keeps the cookie away from page scripts.
    pub http_only: bool,
    /// `Secure`: only sent over HTTPS. Turn off only for plain-http local testing.
    pub secure: bool,
    /// `Path`.
    pub path: Option<String>,
    /// `Domain`: None scopes the cookie to the exact host.
    pub domain: Option<String>,
    /// `SameSite`.
    pub same_site: SameSite,
}

impl Default for CookieSettings {
    fn default() -> Self {
        CookieSettings {
            max_age: None,
            http_only: true,
            secure: true,
            path: Some("/".to_owned()),
            domain: None,
            same_site: SameSite::Lax,
        }
    }
}

impl CookieSettings {
    /// Sets `Max-Age`.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }
    /// Sets `Domain`.
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }
    /// Sets `Path`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }
    /// Sets `Secure`.
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }
    /// Sets `HttpOnly`.
    pub fn http_only(mut self, http_only: bool) -> Self {
        self.http_only = http_only;
        self
    }
    /// Sets `SameSite`.
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// The `Set-Cookie` value for `name=value` with these settings.
    pub(crate) fn header_value(&self, name: &str, value: &str) -> Option<HeaderValue> {
        self.header_value_aged(name, value, self.max_age)
    }

    /// As [`Self::header_value`] with `max_age` instead of the settings' own.
    ///
    /// Written by hand rather than through the `cookie` crate: a session cookie
    /// goes out on every login, and this is one allocation. The name must be an
    /// RFC 6265 token; the value is percent-encoded outside the cookie-octets;
    /// a path or domain with `;` or control characters yields None (no header
    /// injection through settings).
    pub(crate) fn header_value_aged(&self, name: &str, value: &str, max_age: Option<Duration>) -> Option<HeaderValue> {
        use std::fmt::Write as _;
        let is_token = is_token_byte;
        let is_cookie_octet =
            |b: u8| matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E) && b != b'%';
        let is_attr_value = |v: &str| v.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b';');
        if name.is_empty() || !name.bytes().all(is_token) {
            return None;
        }
        let mut out = String::with_capacity(name.len() + value.len() + 64);
        out.push_str(name);
        out.push('=');
        for b in value.bytes() {
            if is_cookie_octet(b) {
                out.push(char::from(b));
            } else {
                let _ = write!(out, "%{b:02X}");
            }
        }
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        out.push_str(match self.same_site {
            SameSite::Lax => "; SameSite=Lax",
            SameSite::Strict => "; SameSite=Strict",
            SameSite::None => "; SameSite=None",
        });
        if self.secure {
            out.push_str("; Secure");
        }
        if let Some(path) = &self.path {
            if !is_attr_value(path) {
                return None;
            }
            out.push_str("; Path=");
            out.push_str(path);
        }
        if let Some(domain) = &self.domain {
            if !is_attr_value(domain) {
                return None;
            }
            out.push_str("; Domain=");
            out.push_str(domain);
        }
        if let Some(age) = max_age {
            out.push_str("; Max-Age=");
            out.push_str(itoa::Buffer::new().format(age.as_secs()));
        }
        HeaderValue::from_maybe_shared(bytes::Bytes::from(out)).ok()
    }
}

/// An RFC 6265 token byte: visible ASCII but the separators
/// `()<>@,;:\"/[]?={}` (a match, not a search of the separator list per byte).
fn is_token_byte(b: u8) -> bool {
    matches!(b, b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'.' | b'0'..=b'9' | b'A'..=b'Z' | b'^'..=b'`' | b'a'..=b'z' | b'|' | b'~')
}

/// A `Set-Cookie` header: `name=value` with `settings`.
///
/// The value is percent-encoded as needed. A name that is not a valid cookie
/// name yields no header (and a log line) rather than a broken one.
///
/// # Examples
///
/// ```
/// use uapi::{set_cookie, CookieSettings};
/// let h = set_cookie("theme", "dark", CookieSettings::default());
/// let (name, value) = h.iter().next().unwrap();
/// assert_eq!(name, "set-cookie");
/// assert!(value.to_str().unwrap().starts_with("theme=dark"));
/// ```
pub fn set_cookie(name: &str, value: &str, settings: CookieSettings) -> Headers {
    let mut h = Headers::new();
    match settings.header_value(name, value) {
        Some(v) => h.insert(SET_COOKIE, v),
        None => tracing::error!(cookie = name, "cookie could not be encoded; not set"),
    }
    h
}

/// A `Set-Cookie` header that deletes the cookie `name` (empty, expired).
///
/// # Examples
///
/// ```
/// use uapi::{expire_cookie, CookieSettings};
/// let h = expire_cookie("sid", &CookieSettings::default());
/// let value = h.iter().next().unwrap().1.to_str().unwrap().to_owned();
/// assert!(value.contains("Max-Age=0"));
/// ```
pub fn expire_cookie(name: &str, settings: &CookieSettings) -> Headers {
    let s = settings.clone().max_age(Duration::ZERO);
    set_cookie(name, "", s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bytes_are_visible_ascii_but_the_separators() {
        for b in 0..=255u8 {
            let expected = b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b);
            assert_eq!(is_token_byte(b), expected, "byte {b:#04x}");
        }
    }

    fn value(h: &Headers) -> String {
        h.iter().next().map(|(_, v)| v.to_str().unwrap().to_owned()).unwrap_or_default()
    }

    #[test]
    fn set_cookie_has_the_safe_defaults() {
        let v = value(&set_cookie("sid", "abc", CookieSettings::default().max_age(Duration::from_secs(60))));
        assert_eq!(v, "sid=abc; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=60");
    }

    #[test]
    fn values_are_percent_encoded_and_read_back_as_they_were() {
        let raw = "a b;c,d\"e%f\u{e9}";
        let h = set_cookie("k", raw, CookieSettings::default());
        let v = value(&h);
        assert!(v.starts_with("k=a%20b%3Bc%2Cd%22e%25f%C3%A9;"), "{v}");
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::COOKIE, HeaderValue::from_str(v.split(';').next().unwrap()).unwrap());
        assert_eq!(crate::Cookies::find(&headers, "k").as_deref(), Some(raw));
    }

    #[test]
    fn bad_names_and_attribute_values_give_no_header() {
        assert!(set_cookie("a b", "1", CookieSettings::default()).is_empty());
        assert!(set_cookie("", "1", CookieSettings::default()).is_empty());
        assert!(set_cookie("a", "1", CookieSettings::default().path("/; Domain=evil")).is_empty());
        assert!(set_cookie("a", "1", CookieSettings::default().domain("x\r\nSet-Cookie: y=1")).is_empty());
    }

    #[test]
    fn expiring_a_cookie_sends_max_age_zero() {
        assert!(value(&expire_cookie("sid", &CookieSettings::default())).ends_with("Max-Age=0"));
    }
}
