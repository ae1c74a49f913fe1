//! The injection engine: the per-request context, the plans the app computes
//! when it is built, and providers with their per-request cache.
//!
//! Resolution happens once, in [`crate::App::build`]: every parameter of every
//! route (and of every provider a route reaches) becomes a [`ParamPlan`] that says
//! where its value comes from. Per request, generated code walks the plan: no
//! string-keyed lookups of providers, and each provider runs at most once.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::header::HeaderName;
use http::request::Parts;
use http_body_util::BodyExt;

use crate::app::BodyLimits;
use crate::body::RequestBody;
use crate::error::Rejection;
use crate::extract::ResponseHeaders;
use crate::handler::Injectable;
use crate::response::{IntoResponse, Response};
use crate::router::PathRanges;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How generated code takes a parameter of type `T` from the request.
#[doc(hidden)]
pub type ExtractFn<T> = fn(&mut RequestCtx, &ParamPlan) -> Result<T, Rejection>;

/// Where one parameter's value comes from, decided when the app was built.
#[derive(Clone)]
pub struct ParamPlan {
    pub(crate) name: &'static str,
    pub(crate) source: Source,
}

#[derive(Clone)]
pub(crate) enum Source {
    Provider(Arc<ProviderNode>),
    /// The n-th parameter of the route's path template.
    Path(usize),
    Query,
    Header(HeaderName),
    Cookie(Box<str>),
    Body,
    Request,
}

impl ParamPlan {
    /// The parameter's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The header a [`crate::Header`] parameter reads (its rename, or its name
    /// with `_` as `-`).
    pub fn header_name(&self) -> Option<&HeaderName> {
        match &self.source {
            Source::Header(h) => Some(h),
            _ => None,
        }
    }

    /// The cookie a [`crate::Cookie`] parameter reads.
    pub fn cookie_name(&self) -> Option<&str> {
        match &self.source {
            Source::Cookie(c) => Some(c),
            _ => None,
        }
    }

    /// Which path parameter it reads, when it reads one.
    pub fn path_index(&self) -> Option<usize> {
        match self.source {
            Source::Path(i) => Some(i),
            _ => None,
        }
    }
}

impl std::fmt::Debug for ParamPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let source = match &self.source {
            Source::Provider(n) => format!("provider #{}", n.slot),
            Source::Path(i) => format!("path parameter #{i}"),
            Source::Query => "query".to_owned(),
            Source::Header(h) => format!("header {h}"),
            Source::Cookie(c) => format!("cookie {c}"),
            Source::Body => "body".to_owned(),
            Source::Request => "request".to_owned(),
        };
        write!(f, "{} <- {}", self.name, source)
    }
}

/// A provider as used by one route: its cache slot and its own parameters' plan.
pub(crate) struct ProviderNode {
    pub(crate) slot: usize,
    pub(crate) provider: Arc<dyn ErasedProvider>,
    pub(crate) plan: Box<[ParamPlan]>,
}

/// A provider with its output type erased, so the app can hold many kinds.
pub(crate) trait ErasedProvider: Send + Sync {
    fn call<'a>(
        &'a self,
        ctx: &'a mut RequestCtx,
        plan: &'a [ParamPlan],
    ) -> BoxFuture<'a, Result<Box<dyn Any + Send>, Response>>;

    /// Clones the cached value into `out`, an `&mut Option<Provided>`.
    fn clone_value(&self, cached: &(dyn Any + Send), out: &mut dyn Any);
}

pub(crate) struct ProviderOf<I>(pub(crate) I);

impl<I> ErasedProvider for ProviderOf<I>
where
    I: Injectable,
    I::Provided: Clone,
{
    fn call<'a>(
        &'a self,
        ctx: &'a mut RequestCtx,
        plan: &'a [ParamPlan],
    ) -> BoxFuture<'a, Result<Box<dyn Any + Send>, Response>> {
        Box::pin(async move {
            let out = self.0.call(ctx, plan).await?;
            let value = I::provide(out)?;
            Ok(Box::new(value) as Box<dyn Any + Send>)
        })
    }

    fn clone_value(&self, cached: &(dyn Any + Send), out: &mut dyn Any) {
        if let (Some(src), Some(dst)) =
            (cached.downcast_ref::<I::Provided>(), out.downcast_mut::<Option<I::Provided>>())
        {
            *dst = Some(src.clone());
        }
    }
}

/// A route handler with its output type erased.
pub(crate) trait ErasedHandler: Send + Sync {
    fn call<'a>(&'a self, ctx: &'a mut RequestCtx, plan: &'a [ParamPlan]) -> BoxFuture<'a, Response>;
}

pub(crate) struct HandlerOf<I>(pub(crate) I);

impl<I> ErasedHandler for HandlerOf<I>
where
    I: Injectable,
    I::Output: IntoResponse,
{
    fn call<'a>(&'a self, ctx: &'a mut RequestCtx, plan: &'a [ParamPlan]) -> BoxFuture<'a, Response> {
        Box::pin(async move {
            match self.0.call(ctx, plan).await {
                Ok(out) => out.into_response(),
                Err(refusal) => refusal,
            }
        })
    }
}

enum BodyState {
    Unread(RequestBody),
    Read(Bytes),
    /// Reading failed; the refusal was already returned once.
    Failed,
}

/// Everything one request carries while its parameters are resolved.
///
/// Generated code and [`crate::FromRequest`] implementations read from it.
pub struct RequestCtx {
    parts: Parts,
    body: BodyState,
    body_limits: BodyLimits,
    /// Byte ranges of the path parameters within `parts.uri.path()`, in template order.
    path_params: PathRanges,
    route_name: &'static str,
    /// Inline for the usual few providers: no allocation per request.
    cache: smallvec::SmallVec<[Option<Box<dyn Any + Send>>; 4]>,
    response_headers: Option<ResponseHeaders>,
}

impl RequestCtx {
    pub(crate) fn new(
        parts: Parts,
        body: RequestBody,
        body_limits: BodyLimits,
        path_params: PathRanges,
        route_name: &'static str,
        provider_slots: usize,
    ) -> RequestCtx {
        let mut cache = smallvec::SmallVec::new();
        cache.resize_with(provider_slots, || None);
        RequestCtx {
            parts,
            body: BodyState::Unread(body),
            body_limits,
            path_params,
            route_name,
            cache,
            response_headers: None,
        }
    }

    /// The request line and headers.
    pub fn parts(&self) -> &Parts {
        &self.parts
    }

    /// The request headers.
    pub fn headers(&self) -> &http::HeaderMap {
        &self.parts.headers
    }

    /// The matched route's name.
    pub fn route_name(&self) -> &'static str {
        self.route_name
    }

    /// The raw (still percent-encoded) value of the `index`-th path parameter.
    pub fn raw_path_param(&self, index: usize) -> Option<&str> {
        let (start, end) = *self.path_params.get(index)?;
        self.parts.uri.path().get(start..end)
    }

    /// The body, once read (parameters whose kind is `Body` have it read first).
    pub fn body_bytes(&self) -> Option<&Bytes> {
        match &self.body {
            BodyState::Read(b) => Some(b),
            _ => None,
        }
    }

    /// A handle for headers to add to this request's response (e.g. a session's
    /// `Set-Cookie`); every call returns the same handle.
    pub fn response_headers(&mut self) -> ResponseHeaders {
        self.response_headers.get_or_insert_with(ResponseHeaders::default).clone()
    }

    /// Reads the whole body, within the app's limit, once.
    pub(crate) async fn read_body(&mut self) -> Result<(), Rejection> {
        let BodyLimits { max: limit, read_timeout } = self.body_limits;
        let body = match std::mem::replace(&mut self.body, BodyState::Failed) {
            BodyState::Unread(b) => b,
            read @ BodyState::Read(_) => {
                self.body = read;
                return Ok(());
            }
            BodyState::Failed => return Err(Rejection::invalid("request", "body", "the body could not be read")),
        };
        // Refuse early when the client announces a body over the limit.
        if let Some(len) = self.parts.headers.get(http::header::CONTENT_LENGTH) {
            if let Some(len) = len.to_str().ok().and_then(|s| s.parse::<u64>().ok()) {
                if len > limit as u64 {
                    return Err(Rejection::PayloadTooLarge { limit });
                }
            }
        }
        let mut collect = std::pin::pin!(http_body_util::Limited::new(body, limit).collect());
        // A body already in hand (the usual small one) needs no timer.
        let read = match futures_util::FutureExt::now_or_never(collect.as_mut()) {
            Some(read) => Ok(read),
            None => tokio::time::timeout(read_timeout, collect).await,
        };
        let Ok(read) = read else {
            return Err(Rejection::Response(crate::response::text(
                http::StatusCode::REQUEST_TIMEOUT,
                format!("the request body did not arrive within {read_timeout:?}"),
            )));
        };
        match read {
            Ok(collected) => {
                self.body = BodyState::Read(collected.to_bytes());
                Ok(())
            }
            Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(Rejection::PayloadTooLarge { limit }),
            Err(e) => Err(Rejection::invalid("request", "body", e)),
        }
    }

    /// Resolves a parameter that needs no waiting (anything but a provider or the
    /// body) without building a future: the common case. `None` means "await
    /// [`Self::__resolve`]". Called by generated code.
    #[doc(hidden)]
    #[inline]
    pub fn __resolve_now<T: Send + 'static>(
        &mut self,
        plan: &ParamPlan,
        extract: ExtractFn<T>,
    ) -> Option<Result<T, Response>> {
        match plan.source {
            Source::Provider(_) | Source::Body => None,
            _ => Some(extract(self, plan).map_err(IntoResponse::into_response)),
        }
    }

    /// Resolves one parameter through its plan. Called by generated code.
    #[doc(hidden)]
    pub async fn __resolve<T: Send + 'static>(
        &mut self,
        plan: &ParamPlan,
        extract: ExtractFn<T>,
    ) -> Result<T, Response> {
        match &plan.source {
            Source::Provider(node) => return self.provided::<T>(node).await,
            Source::Body => self.read_body().await.map_err(IntoResponse::into_response)?,
            _ => {}
        }
        extract(self, plan).map_err(IntoResponse::into_response)
    }

    /// The value of a provider, computed at most once per request.
    async fn provided<T: Send + 'static>(&mut self, node: &ProviderNode) -> Result<T, Response> {
        if self.cache.get(node.slot).is_some_and(Option::is_none) {
            let value = node.provider.call(self, &node.plan).await?;
            self.cache[node.slot] = Some(value);
        }
        let mut out: Option<T> = None;
        if let Some(Some(cached)) = self.cache.get(node.slot) {
            node.provider.clone_value(cached.as_ref(), &mut out);
        }
        out.ok_or_else(|| {
            // Only reachable if the build-time type check had a bug.
            tracing::error!(param = std::any::type_name::<T>(), "provider gave a value of another type");
            crate::response::text(http::StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
        })
    }

    pub(crate) fn take_response_headers(&mut self) -> Option<ResponseHeaders> {
        self.response_headers.take()
    }
}
