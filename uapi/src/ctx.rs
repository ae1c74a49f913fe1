//! The per-request context: the request, the plans the app computed when it was
//! built, and the providers' per-request cache.
//!
//! Resolution happens once, in [`crate::App::build`]: every parameter of every
//! route (and of every provider a route reaches) becomes a [`ParamPlan`] that says
//! where its value comes from. Per request, generated code walks the plan: no
//! string-keyed lookups of providers, and each provider runs at most once.
//!
//! This layer knows providers only as [`ErasedProvider`]s (what the handler
//! layer makes of an `Injectable`), so it depends on nothing above the leaves.

use std::any::Any;
use std::sync::Arc;

use bytes::Bytes;
use http::header::HeaderName;
use http::request::Parts;
use http_body_util::BodyExt;

use crate::body::RequestBody;
use crate::config::BodyLimits;
use crate::error::Rejection;
use crate::refusal::Refusal;
use crate::response::{IntoResponse, Response, ResponseHeaders};
use crate::router::PathRanges;

/// A boxed, sendable future (futures-util's), as hand-written providers and
/// session backends return.
pub use futures_util::future::BoxFuture;

/// How a parameter of type `T` is read from the request when no provider gives
/// it: [`FromRequest::from_request`](crate::addon::FromRequest::from_request) for
/// an extractor type, or the path/query reader `#[handler]` picks for a `FromStr`
/// type.
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

/// A parameter a route resolves through a provider: its name and the
/// provider's type (what [`RequestCtx::route_resolves`] looks for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub(crate) name: &'static str,
    pub(crate) provided: std::any::TypeId,
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

enum BodyState {
    Unread(RequestBody),
    Read(Bytes),
    /// Reading failed; the refusal was already returned once.
    Failed,
}

/// Everything one request carries while its parameters are resolved.
///
/// Generated code, [`FromRequest`](crate::addon::FromRequest) implementations
/// and hand-written providers read from it; a provider asks it for the values
/// of its own parameters with [`RequestCtx::provided`] or [`RequestCtx::resolve`].
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
    /// What the route resolves through providers (`None`: nothing).
    resolves: Option<Arc<[Resolved]>>,
}

impl RequestCtx {
    pub(crate) fn new(
        parts: Parts,
        body: RequestBody,
        body_limits: BodyLimits,
        path_params: PathRanges,
        route_name: &'static str,
        provider_slots: usize,
        resolves: Option<Arc<[Resolved]>>,
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
            resolves,
        }
    }

    /// Whether the route this request is for resolves a parameter `name: T`
    /// through a provider, anywhere in its plan: among its handler's
    /// parameters or a provider's it needs. For a provider that can save a
    /// round trip by knowing what else the request will need: a lazy
    /// session reads the whole session at its first read when the route
    /// also takes `session: AsyncSession`, rather than a few fields first and
    /// everything after.
    ///
    /// # Examples
    ///
    /// ```
    /// use uapi::addon::{HandlerInfo, Injectable, ParamPlan, RequestCtx};
    /// use uapi::sessions::AsyncSession;
    /// use uapi::Response;
    ///
    /// /// Says whether the route also reads the whole session.
    /// struct Planner;
    ///
    /// impl Injectable for Planner {
    ///     type Output = bool;
    ///     type Provided = bool;
    ///     fn info(&self) -> HandlerInfo {
    ///         HandlerInfo::new("planner", Vec::new(), "bool")
    ///     }
    ///     async fn call(&self, ctx: &mut RequestCtx, _: &[ParamPlan]) -> Result<bool, Response> {
    ///         Ok(ctx.route_resolves::<AsyncSession>("session"))
    ///     }
    ///     fn provide(out: bool) -> Result<bool, Response> {
    ///         Ok(out)
    ///     }
    /// }
    /// ```
    pub fn route_resolves<T: 'static>(&self, name: &str) -> bool {
        let wanted = std::any::TypeId::of::<T>();
        self.resolves.as_deref().is_some_and(|all| all.iter().any(|r| r.provided == wanted && r.name == name))
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
            let message = format!("the request body did not arrive within {read_timeout:?}");
            return Err(Rejection::Response(Refusal::new(http::StatusCode::REQUEST_TIMEOUT, message).into_response()));
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
    /// body) without building a future: the common case, which `#[handler]`
    /// code tries first. `None` means "await [`Self::resolve`]".
    #[inline]
    pub fn resolve_now<T: Send + 'static>(
        &mut self,
        plan: &ParamPlan,
        extract: ExtractFn<T>,
    ) -> Option<Result<T, Response>> {
        match plan.source {
            Source::Provider(_) | Source::Body => None,
            _ => Some(extract(self, plan).map_err(IntoResponse::into_response)),
        }
    }

    /// Resolves one parameter through its plan: the provider the app chose for it
    /// (run at most once per request), else `extract` (after the body is read,
    /// for a body parameter).
    ///
    /// # Errors
    ///
    /// The refusal of the provider or of `extract`, as a response (the
    /// caller's handler then never runs).
    pub async fn resolve<T: Send + 'static>(&mut self, plan: &ParamPlan, extract: ExtractFn<T>) -> Result<T, Response> {
        match &plan.source {
            Source::Provider(node) => return self.provider_value::<T>(node).await,
            Source::Body => self.read_body().await.map_err(IntoResponse::into_response)?,
            _ => {}
        }
        extract(self, plan).map_err(IntoResponse::into_response)
    }

    /// The value of a parameter that only a provider can give: one declared
    /// with [`ParamInfo::provided`](crate::addon::ParamInfo::provided) by a
    /// hand-written provider (the login addon asks for the store's session so).
    /// [`crate::App::build`] refuses an app where no provider matches it, so
    /// the plan always names one.
    ///
    /// # Examples
    ///
    /// ```
    /// use uapi::addon::{HandlerInfo, Injectable, ParamInfo, ParamPlan, RequestCtx};
    /// use uapi::Response;
    ///
    /// #[derive(Clone)]
    /// struct Db;
    ///
    /// /// Provides the `Db` a `db: Db` provider gives, as a count.
    /// struct Tables;
    ///
    /// impl Injectable for Tables {
    ///     type Output = usize;
    ///     type Provided = usize;
    ///     fn info(&self) -> HandlerInfo {
    ///         HandlerInfo::new("tables", vec![ParamInfo::provided::<Db>("db")], "usize")
    ///     }
    ///     async fn call(&self, ctx: &mut RequestCtx, plan: &[ParamPlan]) -> Result<usize, Response> {
    ///         let _db: Db = ctx.provided(&plan[0]).await?;
    ///         Ok(3)
    ///     }
    ///     fn provide(out: usize) -> Result<usize, Response> { Ok(out) }
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// The provider's refusal, as a response.
    pub async fn provided<T: Send + 'static>(&mut self, plan: &ParamPlan) -> Result<T, Response> {
        self.resolve(plan, no_builtin_source::<T>).await
    }

    /// The value of a provider, computed at most once per request.
    async fn provider_value<T: Send + 'static>(&mut self, node: &ProviderNode) -> Result<T, Response> {
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

/// The "built-in source" of a parameter only providers give. `App::build`
/// refuses an app where such a parameter has no provider, so this answers
/// only if that check had a bug.
pub(crate) fn no_builtin_source<T>(_: &mut RequestCtx, plan: &ParamPlan) -> Result<T, Rejection> {
    tracing::error!(param = plan.name(), "parameter has no provider");
    Err(Rejection::Response(crate::response::text(http::StatusCode::INTERNAL_SERVER_ERROR, "internal server error")))
}
