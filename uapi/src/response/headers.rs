//! Extra response headers: [`Headers`], a value a handler returns with its
//! body, and [`ResponseHeaders`], the per-request sink that providers and
//! sessions add to from anywhere in a request.

use std::sync::{Arc, Mutex, PoisonError};

use http::header::{HeaderName, HeaderValue, SET_COOKIE};
use http::HeaderMap;

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

#[derive(Debug, Default)]
struct Pending {
    /// Headers in order; a cookie's `Set-Cookie` carries the cookie's name so a
    /// later one for the same cookie replaces it (a cookie is never sent twice).
    headers: Vec<(HeaderName, HeaderValue, Option<String>)>,
}

/// Headers to add to the response of the current request, from anywhere in it:
/// a provider, a session object, the handler. Clones share one list.
///
/// # Examples
///
/// ```
/// use uapi::{handler, ResponseHeaders};
///
/// #[handler]
/// async fn tagged(extra: ResponseHeaders) -> &'static str {
///     extra.append(http::HeaderName::from_static("x-tag"), http::HeaderValue::from_static("1"));
///     "ok"
/// }
/// ```
#[derive(Debug, Clone, Default)]
pub struct ResponseHeaders(Arc<Mutex<Pending>>);

impl ResponseHeaders {
    /// Adds a header.
    pub fn append(&self, name: HeaderName, value: HeaderValue) {
        self.lock(|p| p.headers.push((name, value, None)));
    }

    /// Sets the `Set-Cookie` for cookie `cookie_name`, replacing an earlier one
    /// for the same cookie.
    pub fn set_cookie(&self, cookie_name: &str, value: HeaderValue) {
        self.lock(|p| {
            p.headers.retain(|(_, _, c)| c.as_deref() != Some(cookie_name));
            p.headers.push((SET_COOKIE, value, Some(cookie_name.to_owned())));
        });
    }

    /// Takes back a queued `Set-Cookie` for `cookie_name`, if any (e.g. a
    /// session created and ended in the same request: the browser never had
    /// its cookie, so it gets none).
    pub fn remove_cookie(&self, cookie_name: &str) {
        self.lock(|p| p.headers.retain(|(_, _, c)| c.as_deref() != Some(cookie_name)));
    }

    /// Whether a `Set-Cookie` for `cookie_name` is queued.
    pub fn has_cookie(&self, cookie_name: &str) -> bool {
        self.lock(|p| p.headers.iter().any(|(_, _, c)| c.as_deref() == Some(cookie_name)))
    }

    fn lock<R>(&self, f: impl FnOnce(&mut Pending) -> R) -> R {
        // No await happens under this lock; a poisoned lock still holds valid data.
        let mut guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }

    /// Moves the queued headers into `map`. A queued cookie replaces a
    /// `Set-Cookie` for the same cookie that the handler already put there (e.g.
    /// the `Headers` returned by `update_session`), so it is never sent twice.
    pub(crate) fn apply(&self, map: &mut HeaderMap) {
        let headers = self.lock(|p| std::mem::take(&mut p.headers));
        for (name, value, cookie) in headers {
            if let Some(cookie) = cookie {
                drop_cookie(map, &cookie);
            }
            map.append(name, value);
        }
    }
}

/// Removes the `Set-Cookie` headers of cookie `name` from `map`.
fn drop_cookie(map: &mut HeaderMap, name: &str) {
    let is_other = |v: &HeaderValue| {
        let b = v.as_bytes();
        !(b.starts_with(name.as_bytes()) && b.get(name.len()) == Some(&b'='))
    };
    if map.get_all(SET_COOKIE).iter().all(is_other) {
        return;
    }
    let kept: Vec<HeaderValue> = map.get_all(SET_COOKIE).iter().filter(|v| is_other(v)).cloned().collect();
    map.remove(SET_COOKIE);
    for v in kept {
        map.append(SET_COOKIE, v);
    }
}
