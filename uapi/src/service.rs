//! [`AppService`]: a built app. It dispatches requests to routes, catches
//! panicking handlers, and implements `tower::Service`.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::FutureExt;
use http::{header, Method, Request, StatusCode};
use http_body_util::Full;

use crate::body::{BoxError, RequestBody};
use crate::ctx::RequestCtx;
use crate::plan::Compiled;
use crate::response::{text, Response};

/// A built [`crate::App`]: cheap to clone, and a `tower::Service`, so tower-http
/// layers (tracing, compression, CORS, timeouts) can wrap it.
///
/// # Examples
///
/// ```
/// use uapi::{handler, App};
///
/// #[handler]
/// async fn hello() -> &'static str { "hello" }
///
/// # tokio_test();
/// # #[tokio::main(flavor = "current_thread")] async fn tokio_test() {
/// let mut app = App::new();
/// app.get("/", hello);
/// let service = app.build().unwrap();
/// let response = service.handle(http::Request::new(uapi::RequestBody::Empty)).await;
/// assert_eq!(response.status(), 200);
/// # }
/// ```
#[derive(Clone)]
pub struct AppService {
    inner: Arc<Compiled>,
}

impl std::fmt::Debug for AppService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppService").field("routes", &self.inner.routes.len()).finish()
    }
}

impl AppService {
    pub(crate) fn new(inner: Compiled) -> AppService {
        AppService { inner: Arc::new(inner) }
    }

    /// Answers one request.
    pub async fn handle(&self, request: Request<RequestBody>) -> Response {
        let inner = &self.inner;
        let (parts, body) = request.into_parts();
        let Some(found) = inner.router.find(parts.uri.path()) else {
            return text(StatusCode::NOT_FOUND, "not found");
        };
        let Some(route_index) = found.entry.route_for(&parts.method) else {
            let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
            r.headers_mut().insert(header::ALLOW, found.entry.allow().clone());
            return r;
        };
        let route = &inner.routes[route_index];
        let is_head = parts.method == Method::HEAD;
        let mut ctx = RequestCtx::new(parts, body, inner.body, found.params, route.name, inner.provider_slots);
        let call = route.handler.call(&mut ctx, &route.plan);
        let mut response = match AssertUnwindSafe(call).catch_unwind().await {
            Ok(r) => r,
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a non-string payload".to_owned());
                tracing::error!(route = %route.name, panic = %message, "handler panicked");
                return text(StatusCode::INTERNAL_SERVER_ERROR, "internal server error");
            }
        };
        if let Some(extra) = ctx.take_response_headers() {
            extra.apply(response.headers_mut());
        }
        if response.status().is_server_error() {
            tracing::error!(route = %route.name, status = %response.status(), "request failed");
        }
        if is_head {
            strip_body(&mut response);
        }
        response
    }
}

/// A HEAD answer: the GET's headers, with its length, and no body.
fn strip_body(response: &mut Response) {
    use http_body::Body as _;
    if let Some(len) = response.body().size_hint().exact() {
        response.headers_mut().entry(header::CONTENT_LENGTH).or_insert_with(|| header::HeaderValue::from(len));
    }
    *response.body_mut() = Full::new(Bytes::new());
}

impl<B> tower_service::Service<Request<B>> for AppService
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let this = self.clone();
        let request = request.map(RequestBody::new);
        Box::pin(async move { Ok(this.handle(request).await) })
    }
}
