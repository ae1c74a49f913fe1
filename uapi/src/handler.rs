//! The [`Injectable`] trait that `#[handler]` implements, and the metadata it
//! reports ([`HandlerInfo`], [`ParamInfo`]).

use std::any::TypeId;
use std::future::Future;

use crate::ctx::{ParamPlan, RequestCtx};
use crate::describe::{DescribeResponsesFn, DescribeTypeFn, ResponseDoc, SecurityDoc};
use crate::response::Response;

/// A function whose parameters the app injects: a route handler or a provider.
///
/// `#[handler]` implements it; addons may implement it by hand for providers
/// that carry state (the session store does). Handlers are called with a
/// [`RequestCtx`] and the plan the app computed for them when it was built.
pub trait Injectable: Send + Sync + 'static {
    /// What the function returns.
    type Output: Send + 'static;
    /// What it provides when registered as a provider: `A` for a function
    /// returning `Result<A, E>` (where `E` is the refusal), else the output itself.
    type Provided: Send + 'static;

    /// Its name and parameters.
    fn info(&self) -> HandlerInfo;

    /// Resolves the parameters through `plan` and calls the function.
    ///
    /// # Errors
    ///
    /// The refusal of a parameter that could not be resolved (a 400 for a bad
    /// query parameter, a provider's own refusal, ...).
    fn call<'a>(
        &'a self,
        ctx: &'a mut RequestCtx,
        plan: &'a [ParamPlan],
    ) -> impl Future<Output = Result<Self::Output, Response>> + Send + 'a;

    /// Splits an output into the provided value or a refusal.
    ///
    /// # Errors
    ///
    /// The refusal, when the function returned `Err`.
    fn provide(out: Self::Output) -> Result<Self::Provided, Response>;
}

/// What the app knows about an injectable function.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HandlerInfo {
    /// The route name (the function's name unless `#[handler(name = "..")]`).
    pub name: &'static str,
    /// Its parameters, in order.
    pub params: Vec<ParamInfo>,
    /// The Rust type it returns, for messages and documentation.
    pub returns: &'static str,
    /// Its doc comment (an operation's description).
    pub doc: Option<&'static str>,
    /// How its return type describes its answers (`#[handler]` finds it).
    pub responses: Option<DescribeResponsesFn>,
    /// For a `#[handler]` used as a provider: how the `Err` arm of its
    /// `Result` describes the answers it gives instead of the handler.
    pub provider_refusals: Option<DescribeResponsesFn>,
    /// For a provider: the answers it gives instead of the handler (a 403
    /// for no login, a 503 for a store down), on every operation using it.
    pub refusals: Vec<ResponseDoc>,
    /// For a provider: the security schemes an operation using it needs.
    pub security: Vec<SecurityDoc>,
}

impl HandlerInfo {
    /// Metadata for an [`Injectable`]: what `#[handler]` reports, and what a
    /// hand-written one declares.
    ///
    /// # Examples
    ///
    /// ```
    /// let info = uapi::addon::HandlerInfo::new("session provider", vec![], "AsyncSession");
    /// assert!(info.params.is_empty());
    /// ```
    pub fn new(name: &'static str, params: Vec<ParamInfo>, returns: &'static str) -> Self {
        HandlerInfo {
            name,
            params,
            returns,
            doc: None,
            responses: None,
            provider_refusals: None,
            refusals: Vec::new(),
            security: Vec::new(),
        }
    }

    /// The same with its doc comment (what `#[handler]` records).
    pub fn with_doc(mut self, doc: Option<&'static str>) -> Self {
        self.doc = doc;
        self
    }

    /// The same with how its answers are described (what `#[handler]` records).
    pub fn with_responses(mut self, responses: DescribeResponsesFn) -> Self {
        self.responses = Some(responses);
        self
    }

    /// How the `Err` arm of its return type describes its refusals, when it
    /// is used as a provider (what `#[handler]` records).
    pub fn with_provider_refusals(mut self, refusals: DescribeResponsesFn) -> Self {
        self.provider_refusals = Some(refusals);
        self
    }

    /// For a provider: an answer it may give instead of the handler, listed on
    /// every operation that uses it.
    ///
    /// # Examples
    ///
    /// ```
    /// use uapi::addon::{HandlerInfo, ResponseDoc};
    /// let info = HandlerInfo::new("api key provider", vec![], "ApiKey")
    ///     .with_refusal(ResponseDoc::new(401, "no valid x-api-key header"));
    /// assert_eq!(info.refusals.len(), 1);
    /// ```
    pub fn with_refusal(mut self, refusal: ResponseDoc) -> Self {
        self.refusals.push(refusal);
        self
    }

    /// For a provider: a security scheme every operation using it needs.
    pub fn with_security(mut self, security: SecurityDoc) -> Self {
        self.security.push(security);
        self
    }
}

/// One parameter of an injectable function.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ParamInfo {
    /// Its name: what selects the value.
    pub name: &'static str,
    /// Its Rust type, for messages.
    pub type_name: &'static str,
    /// Its type, for matching providers.
    pub type_id: TypeId,
    /// The built-in source its type has, if any.
    pub kind: ParamKind,
    /// A `#[header("..")]` or `#[cookie("..")]` rename.
    pub rename: Rename,
    /// How its type shows in an OpenAPI document (`#[handler]` finds it).
    pub describe: Option<DescribeTypeFn>,
}

impl ParamInfo {
    /// A parameter named `name` of type `T`, whose built-in source (when no
    /// provider gives it) is `kind`.
    ///
    /// # Examples
    ///
    /// ```
    /// use uapi::addon::{ExtractorKind, ParamInfo, ParamKind};
    /// let p = ParamInfo::new::<uapi::Cookies>("cookies", ParamKind::Extractor(ExtractorKind::Request));
    /// assert_eq!(p.name, "cookies");
    /// ```
    pub fn new<T: 'static>(name: &'static str, kind: ParamKind) -> Self {
        ParamInfo {
            name,
            type_name: std::any::type_name::<T>(),
            type_id: TypeId::of::<T>(),
            kind,
            rename: Rename::None,
            describe: None,
        }
    }

    /// A parameter only a provider can give (read it with
    /// [`RequestCtx::provided`]); a build error names it if none matches.
    ///
    /// # Examples
    ///
    /// ```
    /// use uapi::addon::{ParamInfo, ParamKind};
    /// let p = ParamInfo::provided::<uapi::sessions::AsyncSession>("session");
    /// assert_eq!(p.kind, ParamKind::ProviderOnly);
    /// ```
    pub fn provided<T: 'static>(name: &'static str) -> Self {
        Self::new::<T>(name, ParamKind::ProviderOnly)
    }

    /// The same parameter with a `#[header("..")]` or `#[cookie("..")]` rename.
    ///
    /// # Examples
    ///
    /// ```
    /// use uapi::addon::{ExtractorKind, ParamInfo, ParamKind, Rename};
    /// let p = ParamInfo::new::<uapi::Header>("key", ParamKind::Extractor(ExtractorKind::Header))
    ///     .with_rename(Rename::Header("x-api-key"));
    /// assert_eq!(p.rename, Rename::Header("x-api-key"));
    /// ```
    pub fn with_rename(mut self, rename: Rename) -> Self {
        self.rename = rename;
        self
    }

    /// The same with how its type is described (what `#[handler]` records).
    pub fn with_describe(mut self, describe: Option<DescribeTypeFn>) -> Self {
        self.describe = describe;
        self
    }
}

/// A `#[header("..")]` / `#[cookie("..")]` attribute on a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rename {
    /// None given: the parameter's own name is used.
    None,
    /// `#[header("x-api-key")]`.
    Header(&'static str),
    /// `#[cookie("sid")]`.
    Cookie(&'static str),
}

/// The built-in source a parameter's type has, before providers are considered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParamKind {
    /// A `FromStr` type: the path parameter of that name, else the query parameter.
    Scalar,
    /// `Option<T: FromStr>`: as `Scalar`, `None` when absent.
    OptionalScalar,
    /// `Vec<T: FromStr>`: every value of a repeated query parameter.
    RepeatedScalar,
    /// A type implementing [`FromRequest`](crate::addon::FromRequest).
    Extractor(ExtractorKind),
    /// No built-in source: only a provider can give it.
    ProviderOnly,
}

/// Where a [`FromRequest`](crate::addon::FromRequest) type reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtractorKind {
    /// A request header named after the parameter (or its rename).
    Header,
    /// A cookie named after the parameter (or its rename).
    Cookie,
    /// The request body (read once, before extraction).
    Body,
    /// Anything else of the request: method, route name, headers, parts.
    Request,
}

pin_project_lite::pin_project! {
    /// What a `#[handler]` function returns: its result (a future that resolves to
    /// the declared return type), tagged with the marker type `M` that carries the
    /// injection glue. `handler(args).await` gives exactly what the function returns.
    ///
    /// # Examples
    ///
    /// ```
    /// #[uapi::handler]
    /// async fn add(a: i64, b: i64) -> i64 { a + b }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// assert_eq!(add(2, 3).await, 5);
    /// # }
    /// ```
    pub struct Handled<M, F> {
        #[pin]
        future: F,
        marker: std::marker::PhantomData<fn() -> M>,
    }
}

impl<M, F> Handled<M, F> {
    /// Tags `future` with the glue type `M` (what `#[handler]` generates).
    pub fn new(future: F) -> Self {
        Handled { future, marker: std::marker::PhantomData }
    }
}

impl<M, T> Handled<M, std::future::Ready<T>> {
    /// The result of a plain (not `async`) handler, without awaiting it.
    ///
    /// # Examples
    ///
    /// ```
    /// #[uapi::handler]
    /// fn add(a: i64, b: i64) -> i64 { a + b }
    ///
    /// assert_eq!(add(2, 3).into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        self.future.into_inner()
    }
}

impl<M, F: Future> Future for Handled<M, F> {
    type Output = F::Output;
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<F::Output> {
        self.project().future.poll(cx)
    }
}

/// Implemented by every function whose return type is [`Handled<M, _>`]: how the
/// app finds the glue type `M` from the function you pass it.
#[doc(hidden)]
pub trait HandlerFn<M, Args> {}

macro_rules! handler_fn_arities {
    ($( ($($arg:ident),*) )*) => {$(
        impl<Func, M, Fut, $($arg,)*> HandlerFn<M, ($($arg,)*)> for Func
        where
            Func: Fn($($arg),*) -> Handled<M, Fut>,
        {}
    )*};
}

handler_fn_arities! {
    ()
    (A1)
    (A1, A2)
    (A1, A2, A3)
    (A1, A2, A3, A4)
    (A1, A2, A3, A4, A5)
    (A1, A2, A3, A4, A5, A6)
    (A1, A2, A3, A4, A5, A6, A7)
    (A1, A2, A3, A4, A5, A6, A7, A8)
    (A1, A2, A3, A4, A5, A6, A7, A8, A9)
    (A1, A2, A3, A4, A5, A6, A7, A8, A9, A10)
    (A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11)
    (A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, A12)
    (A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, A12, A13)
    (A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, A12, A13, A14)
    (A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, A12, A13, A14, A15)
    (A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, A12, A13, A14, A15, A16)
}

/// What routes and providers accept: a `#[handler]` function, or any value
/// implementing [`Injectable`] (a hand-written provider).
pub trait IntoInjectable<Marker> {
    /// The injectable it stands for.
    type Injectable: Injectable;
    /// Converts it.
    fn into_injectable(self) -> Self::Injectable;
}

#[doc(hidden)]
pub struct Direct;

impl<I: Injectable> IntoInjectable<Direct> for I {
    type Injectable = I;
    fn into_injectable(self) -> I {
        self
    }
}

impl<Func, M, Args> IntoInjectable<(M, Args)> for Func
where
    Func: HandlerFn<M, Args>,
    M: Injectable + Default,
{
    type Injectable = M;
    fn into_injectable(self) -> M {
        M::default()
    }
}
