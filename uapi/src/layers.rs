//! Tower layers on an app ([`crate::App::layer`]): [`Routes`], the service a
//! layer wraps, boxed so that layers of any type stack, and the record of the
//! layers an app was given, applied when it is built.
//!
//! An app without layers serves through none of this: [`crate::AppService`]
//! keeps its direct path, so a layer costs nothing until one is added.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::Request;
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service, ServiceExt};

use crate::body::{BoxError, RequestBody};
use crate::response::{IntoResponse, Response};

/// The service a layer given to [`crate::App::layer`] wraps: the app's routes
/// and the layers added before it. It takes requests with any body (a layer
/// may change the body type, as `RequestBodyLimitLayer` does) and answers
/// with uapi's [`Response`].
#[derive(Clone)]
pub struct Routes(BoxCloneSyncService<Request<RequestBody>, Response, Infallible>);

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Routes")
    }
}

impl Routes {
    /// `service` behind the uniform type: its responses become [`Response`]s.
    pub(crate) fn new<S, B>(service: S) -> Routes
    where
        S: Service<Request<RequestBody>, Response = http::Response<B>> + Clone + Send + Sync + 'static,
        S::Error: Into<Infallible>,
        S::Future: Send + 'static,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let service = service.map_response(IntoResponse::into_response).map_err(Into::into);
        Routes(BoxCloneSyncService::new(service))
    }

    /// Answers one request.
    pub(crate) async fn call_once(&self, request: Request<RequestBody>) -> Response {
        match self.0.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

impl<B> Service<Request<B>> for Routes
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future =
        <BoxCloneSyncService<Request<RequestBody>, Response, Infallible> as Service<Request<RequestBody>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.0.call(request.map(RequestBody::new))
    }
}

/// One layer, type-erased: wraps the routes (and the layers before it).
pub(crate) type LayerFn = Arc<dyn Fn(Routes) -> Routes + Send + Sync>;

/// A layer as [`LayerFn`].
pub(crate) fn erase<L, B>(layer: L) -> LayerFn
where
    L: Layer<Routes> + Clone + Send + Sync + 'static,
    L::Service: Service<Request<RequestBody>, Response = http::Response<B>> + Clone + Send + Sync + 'static,
    <L::Service as Service<Request<RequestBody>>>::Error: Into<Infallible>,
    <L::Service as Service<Request<RequestBody>>>::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    Arc::new(move |inner| Routes::new(layer.layer(inner)))
}
