//! Request metadata: the method, the route name, the request head, and the
//! handle for extra response headers.

use http::{HeaderMap, Method, Uri, Version};

use super::FromRequest;
use crate::ctx::{ParamPlan, RequestCtx};
use crate::error::Rejection;
use crate::handler::ExtractorKind;
use crate::response::ResponseHeaders;

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

impl FromRequest for ResponseHeaders {
    const KIND: ExtractorKind = ExtractorKind::Request;
    fn from_request(ctx: &mut RequestCtx, _: &ParamPlan) -> Result<Self, Rejection> {
        Ok(ctx.response_headers())
    }
}
