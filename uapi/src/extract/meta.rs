//! Request metadata: the method, the route name, the request head, and the
//! handle for extra response headers.

use std::sync::{Arc, Mutex, PoisonError};

use http::header::{HeaderName, HeaderValue, SET_COOKIE};
use http::{HeaderMap, Method, Uri, Version};

use crate::error::Rejection;
use crate::extract::FromRequest;
use crate::handler::ExtractorKind;
use crate::inject::{ParamPlan, RequestCtx};

impl FromRequest for Method {
    const KIND: ExtractorKind = ExtractorKind::Request;
    fn from_request(ctx: &mut RequestCtx, _: &ParamPlan) -> Result<Self, Rejection> {
        Ok(ctx.parts().method.clone())
    }
}

impl FromRequest for Uri {
    const KIND: ExtractorKind = ExtractorKind::Request;
    fn from_request(ctx: &mut RequestCtx, _: &ParamPlan) -> Result<Self, Rejection> {
        Ok(ctx.parts().uri.clone())
    }
}

impl FromRequest for HeaderMap {
    const KIND: ExtractorKind = ExtractorKind::Request;
    fn from_request(ctx: &mut RequestCtx, _: &ParamPlan) -> Result<Self, Rejection> {
        Ok(ctx.headers().clone())
    }
}

/// The name of the route that matched (uapi's `RouteName`).
///
/// # Examples
///
/// ```
/// use uapi::{handler, RouteName};
///
/// #[handler]
/// async fn which(route: RouteName) -> String { route.0 }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteName(pub String);

impl FromRequest for RouteName {
    const KIND: ExtractorKind = ExtractorKind::Request;
    fn from_request(ctx: &mut RequestCtx, _: &ParamPlan) -> Result<Self, Rejection> {
        Ok(RouteName(ctx.route_name().to_owned()))
    }
}

/// The request head: method, URI, version and headers.
#[derive(Debug, Clone)]
pub struct RequestParts {
    /// The method.
    pub method: Method,
    /// The URI.
    pub uri: Uri,
    /// The HTTP version.
    pub version: Version,
    /// The headers.
    pub headers: HeaderMap,
}

impl FromRequest for RequestParts {
    const KIND: ExtractorKind = ExtractorKind::Request;
    fn from_request(ctx: &mut RequestCtx, _: &ParamPlan) -> Result<Self, Rejection> {
        let p = ctx.parts();
        Ok(RequestParts {
            method: p.method.clone(),
            uri: p.uri.clone(),
            version: p.version,
            headers: p.headers.clone(),
        })
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

impl FromRequest for ResponseHeaders {
    const KIND: ExtractorKind = ExtractorKind::Request;
    fn from_request(ctx: &mut RequestCtx, _: &ParamPlan) -> Result<Self, Rejection> {
        Ok(ctx.response_headers())
    }
}
