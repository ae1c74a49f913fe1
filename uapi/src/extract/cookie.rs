//! `Cookie` (one cookie, by the parameter's name) and `Cookies` (all of them).

use http::header::{HeaderValue, COOKIE};
use http::HeaderMap;

use crate::error::Rejection;
use crate::extract::FromRequest;
use crate::handler::ExtractorKind;
use crate::inject::{ParamPlan, RequestCtx};

/// Finds the cookie `name` in `Cookie` header values, percent-decoded.
/// Malformed pairs are skipped, never an error.
/// A stray non-ASCII byte spoils only the pair it is in, not the whole header.
fn find_in<'h>(mut values: impl Iterator<Item = &'h HeaderValue>, name: &str) -> Option<String> {
    values.find_map(|v| {
        let text = String::from_utf8_lossy(v.as_bytes());
        cookie::Cookie::split_parse_encoded(text.as_ref())
            .filter_map(Result::ok)
            .find(|c| c.name() == name)
            .map(|c| c.value().to_owned())
    })
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
