//! Cookies a response sets: [`CookieSettings`] (uapi's), [`set_cookie`] and
//! [`expire_cookie`]. The `Set-Cookie` value is written by the `cookie` crate;
//! what it does not check (a cookie name that is not a token, a path or domain
//! that would smuggle in another attribute) is refused here first, and the
//! value is percent-encoded here: the crate's `encoded()` would encode the name
//! too (`a|b` as `a%7Cb`, a name no reader matches) and values beyond what
//! RFC 6265 needs (`/`, `:`, `=`), which JavaScript reading the cookie sees.

use std::time::Duration;

use http::header::{HeaderValue, SET_COOKIE};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use super::Headers;

/// The `SameSite` attribute of a cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
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
#[non_exhaustive]
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

    /// The `Set-Cookie` value for `name=value` with these settings: the value
    /// percent-encoded as needed, or `None` when `name` is not an RFC 6265
    /// token or the path or domain holds a `;` or a control character (no
    /// header injection through settings).
    ///
    /// # Examples
    ///
    /// ```
    /// use uapi::CookieSettings;
    /// let v = CookieSettings::default().header_value("sid", "abc").unwrap();
    /// assert_eq!(v, "sid=abc; HttpOnly; SameSite=Lax; Secure; Path=/");
    /// assert!(CookieSettings::default().path("/; Domain=evil").header_value("sid", "abc").is_none());
    /// ```
    pub fn header_value(&self, name: &str, value: &str) -> Option<HeaderValue> {
        let is_attr_value = |v: &str| v.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b';');
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return None;
        }
        let value = utf8_percent_encode(value, NOT_COOKIE_OCTET).to_string();
        let mut cookie = cookie::Cookie::new(name, value);
        cookie.set_http_only(self.http_only);
        cookie.set_secure(self.secure);
        cookie.set_same_site(match self.same_site {
            SameSite::Lax => cookie::SameSite::Lax,
            SameSite::Strict => cookie::SameSite::Strict,
            SameSite::None => cookie::SameSite::None,
        });
        if let Some(path) = &self.path {
            if !is_attr_value(path) {
                return None;
            }
            cookie.set_path(path.as_str());
        }
        if let Some(domain) = &self.domain {
            if !is_attr_value(domain) {
                return None;
            }
            cookie.set_domain(domain.as_str());
        }
        if let Some(age) = self.max_age {
            let secs = i64::try_from(age.as_secs()).unwrap_or(i64::MAX);
            cookie.set_max_age(cookie::time::Duration::seconds(secs));
        }
        HeaderValue::try_from(cookie.to_string()).ok()
    }
}

/// What is not an RFC 6265 cookie-octet (controls, space, `"`, `,`, `;`, `\`,
/// non-ASCII), and `%` so that decoding is unambiguous: what a value encodes.
const NOT_COOKIE_OCTET: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b',').add(b';').add(b'\\').add(b'%');

/// An RFC 6265 token byte: visible ASCII but the separators
/// `()<>@,;:\"/[]?={}`.
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
        let raw = "a b;c,d\"e%f\u{e9}\r\n";
        let h = set_cookie("k", raw, CookieSettings::default());
        let v = value(&h);
        let pair = v.split(';').next().unwrap();
        assert!(pair.bytes().all(|b| b.is_ascii_graphic()), "{v}");
        assert!(pair.starts_with("k=a%20b%3Bc%2Cd%22e%25f%C3%A9%0D%0A"), "{v}");
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::COOKIE, HeaderValue::from_str(pair).unwrap());
        assert_eq!(crate::Cookies::find(&headers, "k").as_deref(), Some(raw));
    }

    #[test]
    fn names_are_written_as_given_and_values_encoded_only_where_rfc_6265_requires() {
        let raw = "a/b:c=d@e?f[g]{h}(i)#j^k|l`m";
        let v = value(&set_cookie("x|y^z", raw, CookieSettings::default()));
        let pair = v.split(';').next().unwrap();
        assert_eq!(pair, format!("x|y^z={raw}"));
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::COOKIE, HeaderValue::from_str(pair).unwrap());
        assert_eq!(crate::Cookies::find(&headers, "x|y^z").as_deref(), Some(raw));
    }

    #[test]
    fn bad_names_and_attribute_values_give_no_header() {
        assert!(set_cookie("a b", "1", CookieSettings::default()).is_empty());
        assert!(set_cookie("a=b", "1", CookieSettings::default()).is_empty());
        assert!(set_cookie("", "1", CookieSettings::default()).is_empty());
        assert!(set_cookie("a", "1", CookieSettings::default().path("/; Domain=evil")).is_empty());
        assert!(set_cookie("a", "1", CookieSettings::default().domain("x\r\nSet-Cookie: y=1")).is_empty());
    }

    #[test]
    fn expiring_a_cookie_sends_max_age_zero() {
        assert!(value(&expire_cookie("sid", &CookieSettings::default())).ends_with("Max-Age=0"));
    }

    #[test]
    fn same_site_none_without_secure_is_written_as_asked() {
        let v = value(&set_cookie("a", "1", CookieSettings::default().same_site(SameSite::None).secure(false)));
        assert_eq!(v, "a=1; HttpOnly; SameSite=None; Path=/");
    }
}
