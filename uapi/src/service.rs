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

use crate::body::{BoxError, RequestBody};
use crate::ctx::RequestCtx;
use crate::layers::{LayerFn, Routes};
use crate::plan::Compiled;
use crate::refusal::{Refusal, RefusalHook};
use crate::response::{text, Body, Response};

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
pub struct AppService(Arc<Built>);

/// One `Arc` for both, so that the server's clone per request stays one
/// reference count (callgrind: two fields cost hello about 15 instructions).
struct Built {
    compiled: Arc<Compiled>,
    /// The app's tower layers around its routes; `None` without layers, so an
    /// app that has none dispatches directly.
    layered: Option<Routes>,
}

impl std::fmt::Debug for AppService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppService").field("routes", &self.0.compiled.routes.len()).finish()
    }
}

impl AppService {
    /// The built routes, inside `layers` (the first added innermost).
    pub(crate) fn new(inner: Compiled, layers: &[LayerFn]) -> AppService {
        let compiled = Arc::new(inner);
        let layered = match layers {
            [] => None,
            _ => {
                let direct = AppService(Arc::new(Built { compiled: compiled.clone(), layered: None }));
                Some(layers.iter().fold(Routes::new(Dispatch(direct)), |routes, layer| layer(routes)))
            }
        };
        AppService(Arc::new(Built { compiled, layered }))
    }

    /// Answers one request (through the app's layers, if it has any): 404, 405
    /// with `Allow`, or the route's handler (a panic is a 500), HEAD answered
    /// by GET without the body.
    ///
    /// The routing is written here, not in a function of its own awaited from
    /// here: a nested future of a request's size would be moved into this one
    /// on every request (callgrind: about 150 instructions of memcpy).
    pub async fn handle(&self, request: Request<RequestBody>) -> Response {
        if let Some(layered) = &self.0.layered {
            // Boxed: the layered path keeps its future out of the size of the
            // direct path's, which every request of an app without layers pays.
            return Box::pin(layered.call_once(request)).await;
        }
        let inner = &*self.0.compiled;
        let (parts, body) = request.into_parts();
        let Some(found) = inner.router.find(parts.uri.path()) else {
            let refusal = Refusal::new(StatusCode::NOT_FOUND, "not found").into_response();
            return reshape(refusal, inner.on_rejection.as_ref(), None);
        };
        let Some(route_index) = found.entry.route_for(&parts.method) else {
            let mut r = Refusal::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed").into_response();
            r.headers_mut().insert(header::ALLOW, found.entry.allow().clone());
            return reshape(r, inner.on_rejection.as_ref(), None);
        };
        let route = &inner.routes[route_index];
        let is_head = parts.method == Method::HEAD;
        let mut ctx = RequestCtx::new(
            parts,
            body,
            inner.body,
            found.params,
            route.name,
            inner.provider_slots,
            route.resolves.clone(),
        );
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
        if let Some(hook) = &route.on_rejection {
            response = reshape(response, Some(hook), Some(route.name));
        }
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

/// The routes as a tower service: what the innermost layer wraps (the app
/// without its layers).
#[derive(Clone)]
struct Dispatch(AppService);

impl tower_service::Service<Request<RequestBody>> for Dispatch {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<RequestBody>) -> Self::Future {
        let direct = self.0.clone();
        Box::pin(async move { Ok(direct.handle(request).await) })
    }
}

/// A refusal given the app's shape by its hook, if it has one. The refusal's
/// own headers (`Allow`, a challenge) stay unless the hook sets them; its
/// body's content type and length go with its body.
fn reshape(response: Response, hook: Option<&RefusalHook>, route: Option<&'static str>) -> Response {
    let Some(hook) = hook else { return response };
    let Some(refusal) = response.extensions().get::<Refusal>() else { return response };
    let mut refusal = refusal.clone();
    refusal.route = route;
    let mut reshaped = hook(&refusal);
    let (parts, _) = response.into_parts();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH && !reshaped.headers().contains_key(name) {
            reshaped.headers_mut().append(name.clone(), value.clone());
        }
    }
    reshaped.extensions_mut().insert(refusal);
    reshaped
}

/// A HEAD answer: the GET's headers, with its length, and no body.
fn strip_body(response: &mut Response) {
    use http_body::Body as _;
    if let Some(len) = response.body().size_hint().exact() {
        response.headers_mut().entry(header::CONTENT_LENGTH).or_insert_with(|| header::HeaderValue::from(len));
    }
    *response.body_mut() = Body::empty();
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
