//! `Cookie` (one cookie, by the parameter's name) and `Cookies` (all of them).

use std::borrow::Cow;

use http::header::{HeaderValue, COOKIE};
use http::HeaderMap;

use super::FromRequest;
use crate::ctx::{ParamPlan, RequestCtx};
use crate::error::Rejection;
use crate::handler::ExtractorKind;

/// Finds the cookie `name` in `Cookie` header values (`a=1; b=2`), its value
/// unquoted and percent-decoded. Scans bytes without copying or parsing the
/// other pairs; a malformed pair (no `=`, stray non-ASCII) is skipped, never an
/// error, and spoils nothing else.
fn find_in<'h>(values: impl Iterator<Item = &'h HeaderValue>, name: &str) -> Option<String> {
    find_bytes(values, name).and_then(|v| String::from_utf8(v.into_owned()).ok())
}

/// The percent-decoded bytes of the first cookie named `name`; borrowed from
/// the header unless the value had escapes.
fn find_bytes<'h>(values: impl Iterator<Item = &'h HeaderValue>, name: &str) -> Option<Cow<'h, [u8]>> {
    let name = name.as_bytes();
    for value in values {
        let mut rest = value.as_bytes();
        while !rest.is_empty() {
            let end = memchr::memchr(b';', rest).unwrap_or(rest.len());
            let pair = &rest[..end];
            rest = rest.get(end + 1..).unwrap_or_default();
            let Some(eq) = memchr::memchr(b'=', pair) else { continue };
            if pair[..eq].trim_ascii() != name {
                continue;
            }
            let raw = pair[eq + 1..].trim_ascii();
            let raw = raw.strip_prefix(b"\"").and_then(|r| r.strip_suffix(b"\"")).unwrap_or(raw);
            if memchr::memchr(b'%', raw).is_none() {
                return Some(Cow::Borrowed(raw));
            }
            return Some(percent_encoding::percent_decode(raw).into());
        }
    }
    None
}

/// The value of the cookie named after the parameter (or `#[cookie("..")]`).
///
/// # Examples
///
/// ```
/// use uapi::{handler, Cookie};
///
/// #[handler]
/// async fn theme(#[cookie("ui-theme")] theme: Option<Cookie>) -> String {
///     theme.map_or_else(|| "light".to_owned(), |c| c.0)
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie(pub String);

impl std::ops::Deref for Cookie {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl FromRequest for Cookie {
    const KIND: ExtractorKind = ExtractorKind::Cookie;

    fn from_request(ctx: &mut RequestCtx, param: &ParamPlan) -> Result<Self, Rejection> {
        let name = param.cookie_name().unwrap_or(param.name());
        Cookies::find(ctx.headers(), name).map(Cookie).ok_or_else(|| Rejection::missing("cookie", name.to_owned()))
    }
}

/// Every cookie of the request, looked up by name on demand.
///
/// # Examples
///
/// ```
/// use uapi::{handler, Cookies};
///
/// #[handler]
/// async fn prefs(cookies: Cookies) -> String {
///     cookies.get("lang").unwrap_or_else(|| "en".to_owned())
/// }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Cookies {
    headers: Vec<HeaderValue>,
}

impl Cookies {
    /// The value of cookie `name`, percent-decoded.
    pub fn get(&self, name: &str) -> Option<String> {
        find_in(self.headers.iter(), name)
    }

    /// The value of cookie `name` in `headers`, percent-decoded, without copying
    /// the other cookies (what providers such as the session store use).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut headers = uapi::http::HeaderMap::new();
    /// headers.insert("cookie", "a=1; sid=xyz".parse().unwrap());
    /// assert_eq!(uapi::Cookies::find(&headers, "sid").as_deref(), Some("xyz"));
    /// ```
    pub fn find(headers: &HeaderMap, name: &str) -> Option<String> {
        find_in(headers.get_all(COOKIE).iter(), name)
    }

    /// The percent-decoded bytes of cookie `name` in `headers`, borrowed from
    /// the header unless the value had escapes: no allocation for a value
    /// that is not necessarily text, such as a session id checked as bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut headers = uapi::http::HeaderMap::new();
    /// headers.insert("cookie", "a=1; sid=x%2Fy".parse().unwrap());
    /// assert_eq!(uapi::Cookies::find_raw(&headers, "sid").as_deref(), Some(&b"x/y"[..]));
    /// ```
    pub fn find_raw<'h>(headers: &'h HeaderMap, name: &str) -> Option<Cow<'h, [u8]>> {
        find_bytes(headers.get_all(COOKIE).iter(), name)
    }

    /// The cookies of a header map.
    pub fn from_headers(headers: &HeaderMap) -> Cookies {
        Cookies { headers: headers.get_all(COOKIE).iter().cloned().collect() }
    }
}

impl FromRequest for Cookies {
    const KIND: ExtractorKind = ExtractorKind::Request;

    fn from_request(ctx: &mut RequestCtx, _: &ParamPlan) -> Result<Self, Rejection> {
        Ok(Cookies::from_headers(ctx.headers()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_ascii_byte_in_one_pair_spoils_only_that_pair() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_bytes(b"junk=\xff\xfe; sid=abc; other=1").unwrap());
        assert_eq!(Cookies::find(&headers, "sid").as_deref(), Some("abc"));
        assert_eq!(Cookies::find(&headers, "other").as_deref(), Some("1"));
    }

    #[test]
    fn cookies_are_found_across_several_cookie_headers_and_percent_decoded() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1"));
        headers.append(COOKIE, HeaderValue::from_static("b=x%20y"));
        assert_eq!(Cookies::find(&headers, "b").as_deref(), Some("x y"));
        assert_eq!(Cookies::find(&headers, "c"), None);
    }
}
