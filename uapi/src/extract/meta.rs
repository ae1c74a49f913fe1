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

/// The address of the client that opened the connection (the socket's peer),
/// as uapi's server saw it: the proxy's address when one is in front. The
/// test client sends `127.0.0.1:40000` unless told otherwise
/// ([`crate::testing::TestRequest::from_addr`]). A request that reached the app
/// some other way (the tower `Service` behind another server) has none unless
/// that server inserted a `ClientAddr` into the request's extensions: a 400
/// naming the parameter, `None` for `Option<ClientAddr>`.
///
/// # Examples
///
/// ```
/// use uapi::{handler, ClientAddr};
///
/// #[handler]
/// async fn whoami(client: ClientAddr) -> String { client.0.ip().to_string() }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub std::net::SocketAddr);

impl FromRequest for ClientAddr {
    const KIND: ExtractorKind = ExtractorKind::Request;
    fn from_request(ctx: &mut RequestCtx, param: &ParamPlan) -> Result<Self, Rejection> {
        ctx.parts()
            .extensions
            .get::<ClientAddr>()
            .copied()
            .ok_or_else(|| Rejection::missing("client address", param.name().to_owned()))
    }
}
