//! [`App`]: routes and providers, validated and frozen by [`App::build`].

use std::borrow::Cow;
use std::time::Duration;

use http::Method;

use crate::body::{BoxError, RequestBody};
use crate::config::Config;
use crate::error::{BuildError, ServeError};
use crate::handler::{Injectable, IntoInjectable};
use crate::layers::{LayerFn, Routes};
use crate::refusal::Refusal;
use crate::registry::{ProviderKey, Registry};
use crate::response::{IntoResponse, Response};
use crate::server::{Listener, Server};
use crate::service::AppService;
use crate::value::Value;

/// An app: routes, each handled by a `#[handler]` function, and the providers
/// that give their parameters values.
///
/// Route methods queue problems (a bad template, a duplicate route) instead of
/// failing one by one; [`App::build`] (and so [`App::serve`]) reports them all,
/// with every parameter that cannot be resolved.
///
/// # Examples
///
/// ```
/// use uapi::{handler, App};
///
/// #[handler]
/// async fn hello(name: Option<String>) -> String {
///     format!("hello, {}", name.as_deref().unwrap_or("world"))
/// }
///
/// let mut app = App::new();
/// app.get("/", hello);
/// assert!(app.build().is_ok());
/// ```
pub struct App {
    pub(crate) registry: Registry,
    pub(crate) config: Config,
    /// Tower layers around the routes, innermost first.
    layers: Vec<LayerFn>,
}

impl Default for App {
    fn default() -> Self {
        App::new()
    }
}

macro_rules! method_fns {
    ($($(#[$doc:meta])* $fn_name:ident => $method:ident;)*) => {$(
        $(#[$doc])*
        pub fn $fn_name<H, X>(&mut self, path: &str, handler: H) -> &mut Self
        where
            H: IntoInjectable<X>,
            <H::Injectable as Injectable>::Output: IntoResponse,
        {
            self.route(path, [Method::$method], handler)
        }
    )*};
}

impl App {
    /// An app with no routes, a 2 MiB body limit and a 10 s header-read timeout.
    pub fn new() -> App {
        App { registry: Registry::default(), config: Config::default(), layers: Vec::new() }
    }

    method_fns! {
        /// Routes GET `path` to `handler` (HEAD is answered by it too).
        get => GET;
        /// Routes POST `path` to `handler`.
        post => POST;
        /// Routes PUT `path` to `handler`.
        put => PUT;
        /// Routes PATCH `path` to `handler`.
        patch => PATCH;
        /// Routes DELETE `path` to `handler`.
        delete => DELETE;
        /// Routes HEAD `path` to `handler` (instead of the GET route's).
        head => HEAD;
        /// Routes OPTIONS `path` to `handler`.
        options => OPTIONS;
    }

    /// Routes `path` for each of `methods` to `handler`. Path templates take
    /// `{name}` for one segment and `{*rest}` for the remainder.
    ///
    /// # Examples
    ///
    /// ```
    /// use uapi::{handler, App};
    /// use http::Method;
    ///
    /// #[handler]
    /// async fn file(rest: String) -> String { rest }
    ///
    /// let mut app = App::new();
    /// app.route("/files/{*rest}", [Method::GET, Method::POST], file);
    /// ```
    pub fn route<H, X>(&mut self, path: &str, methods: impl IntoIterator<Item = Method>, handler: H) -> &mut Self
    where
        H: IntoInjectable<X>,
        <H::Injectable as Injectable>::Output: IntoResponse,
    {
        self.add_route(None, path, methods, handler)
    }

    /// As [`App::route`], with the route named `name` instead of after the
    /// function: route names are unique, so one handler served on two paths
    /// needs a second name.
    ///
    /// # Examples
    ///
    /// ```
    /// use uapi::{handler, App};
    /// use uapi::http::Method;
    ///
    /// #[handler]
    /// async fn index() -> &'static str { "home" }
    ///
    /// let mut app = App::new();
    /// app.get("/", index).route_named("index_html", "/index.html", [Method::GET], index);
    /// assert!(app.build().is_ok());
    /// ```
    pub fn route_named<H, X>(
        &mut self,
        name: &'static str,
        path: &str,
        methods: impl IntoIterator<Item = Method>,
        handler: H,
    ) -> &mut Self
    where
        H: IntoInjectable<X>,
        <H::Injectable as Injectable>::Output: IntoResponse,
    {
        self.add_route(Some(name), path, methods, handler)
    }

    fn add_route<H, X>(
        &mut self,
        name: Option<&'static str>,
        path: &str,
        methods: impl IntoIterator<Item = Method>,
        handler: H,
    ) -> &mut Self
    where
        H: IntoInjectable<X>,
        <H::Injectable as Injectable>::Output: IntoResponse,
    {
        self.registry.add_route(name, path, methods, handler.into_injectable());
        self
    }

    /// Adds every route of `other` under `prefix` (e.g. `/api`), with its
    /// providers; this app's own providers take precedence over `other`'s.
    ///
    /// # Examples
    ///
    /// ```
    /// use uapi::{handler, App};
    ///
    /// #[handler]
    /// async fn ping() -> &'static str { "pong" }
    ///
    /// let mut api = App::new();
    /// api.get("/ping", ping);
    /// let mut app = App::new();
    /// app.mount("/api", api);   // GET /api/ping
    /// assert!(app.build().is_ok());
    /// ```
    pub fn mount(&mut self, prefix: &str, other: App) -> &mut Self {
        self.registry.mount(prefix, other.registry);
        self
    }

    fn add_provider<P, X>(&mut self, key: ProviderKey, provider: P) -> &mut Self
    where
        P: IntoInjectable<X>,
        <P::Injectable as Injectable>::Provided: Clone,
    {
        self.registry.add_provider(key, provider.into_injectable());
        self
    }

    /// Registers `provider` for parameters named `name` of the type it provides
    /// (the most specific match: it wins over a provider by name or by type).
    ///
    /// # Examples
    ///
    /// ```
    /// use uapi::{handler, App};
    ///
    /// #[handler]
    /// async fn current_user_id() -> i64 { 42 }
    /// #[handler]
    /// async fn me(current_user_id: i64) -> String { current_user_id.to_string() }
    ///
    /// let mut app = App::new();
    /// app.register_by_name_and_type("current_user_id", current_user_id).get("/me", me);
    /// assert!(app.build().is_ok());
    /// ```
    pub fn register_by_name_and_type<P, X>(&mut self, name: impl Into<Cow<'static, str>>, provider: P) -> &mut Self
    where
        P: IntoInjectable<X>,
        <P::Injectable as Injectable>::Provided: Clone,
    {
        self.add_provider(ProviderKey::NameAndType(name.into()), provider)
    }

    /// Registers `provider` for every parameter named `name`. A parameter of that
    /// name whose type differs from what the provider gives is a build error.
    ///
    /// # Examples
    ///
    /// ```
    /// use uapi::{handler, App, Header};
    ///
    /// #[handler]
    /// async fn user_id(#[header("x-user")] h: Header<i64>) -> i64 { h.0 }
    /// #[handler]
    /// async fn show(user_id: i64) -> String { user_id.to_string() }
    ///
    /// let mut app = App::new();
    /// app.register_by_name("user_id", user_id).get("/", show);
    /// assert!(app.build().is_ok());
    /// ```
    pub fn register_by_name<P, X>(&mut self, name: impl Into<Cow<'static, str>>, provider: P) -> &mut Self
    where
        P: IntoInjectable<X>,
        <P::Injectable as Injectable>::Provided: Clone,
    {
        self.add_provider(ProviderKey::Name(name.into()), provider)
    }

    /// Registers `provider` for every parameter of the type it provides, whatever
    /// its name.
    ///
    /// # Examples
    ///
    /// ```
    /// use uapi::{handler, App};
    ///
    /// #[derive(Clone)]
    /// struct Db;
    /// #[handler]
    /// async fn db() -> Db { Db }
    /// #[handler]
    /// async fn count(db: Db) -> &'static str { let _ = db; "0" }
    ///
    /// let mut app = App::new();
    /// app.register_by_type(db).get("/count", count);
    /// assert!(app.build().is_ok());
    /// ```
    pub fn register_by_type<P, X>(&mut self, provider: P) -> &mut Self
    where
        P: IntoInjectable<X>,
        <P::Injectable as Injectable>::Provided: Clone,
    {
        self.add_provider(ProviderKey::Type, provider)
    }

    /// Provides a clone of `value` to every parameter of type `T` (app state:
    /// a database pool, a config).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use uapi::{handler, App};
    ///
    /// #[handler]
    /// async fn greeting(config: Arc<String>) -> String { config.to_string() }
    ///
    /// let mut app = App::new();
    /// app.provide_value(Arc::new("hi".to_string())).get("/", greeting);
    /// assert!(app.build().is_ok());
    /// ```
    pub fn provide_value<T: Clone + Send + Sync + 'static>(&mut self, value: T) -> &mut Self {
        self.register_by_type(Value(value))
    }

    /// Provides a clone of `value` to parameters named `name` of type `T`.
    pub fn provide_value_by_name<T: Clone + Send + Sync + 'static>(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        value: T,
    ) -> &mut Self {
        self.register_by_name_and_type(name, Value(value))
    }

    /// Wraps every route in a tower `layer` (tower-http's `TraceLayer`,
    /// `CorsLayer`, `CompressionLayer`, `TimeoutLayer`, ...), wherever the app is
    /// served: [`App::serve`], [`App::bind`], `Workers`, [`App::build`] and the
    /// test client, with uapi's own timeouts and graceful shutdown kept. As
    /// axum's `Router::layer`: each call wraps what is there, so the last layer
    /// added sees a request first. An app without layers pays nothing for
    /// them; with layers, each request costs a boxed future.
    ///
    /// The layer's service must answer with an `http::Response` of any body
    /// and never fail (`Error: Into<Infallible>`), as axum requires.
    ///
    /// # Examples
    ///
    /// ```
    /// use uapi::{handler, App};
    ///
    /// #[handler]
    /// async fn hello() -> &'static str { "hello" }
    ///
    /// let mut app = App::new();
    /// app.get("/", hello).layer(tower_http::cors::CorsLayer::permissive());
    /// assert!(app.build().is_ok());
    /// ```
    pub fn layer<L, B>(&mut self, layer: L) -> &mut Self
    where
        L: tower::Layer<Routes> + Clone + Send + Sync + 'static,
        L::Service:
            tower::Service<http::Request<RequestBody>, Response = http::Response<B>> + Clone + Send + Sync + 'static,
        <L::Service as tower::Service<http::Request<RequestBody>>>::Error: Into<std::convert::Infallible>,
        <L::Service as tower::Service<http::Request<RequestBody>>>::Future: Send + 'static,
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.layers.push(crate::layers::erase(layer));
        self
    }

    /// Gives every refusal of this app's routes (a parameter that could not be
    /// read: 400, 413, 415, 408; a missing login: 403; a store down: 503) and
    /// of the app itself (404, 405) the app's own shape: `hook` gets the
    /// [`Refusal`] (status, message, parameter, route) and answers instead.
    /// [`problem_json`](crate::problem_json) makes RFC 9457 problem documents. The refusal's own
    /// headers (`Allow`, a challenge) are kept unless the hook sets them. A
    /// mounted app keeps its own hook for its routes, so the hook is per app
    /// and, by `Refusal::route`, per route. Without a hook, refusals are plain
    /// text naming the parameter.
    ///
    /// # Examples
    ///
    /// ```
    /// use uapi::{handler, problem_json, testing::TestClient, App};
    ///
    /// #[handler]
    /// async fn page(page: u32) -> String { page.to_string() }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let mut app = App::new();
    /// app.get("/", page).on_rejection(problem_json);
    /// let r = TestClient::new(&app).unwrap().get("/?page=x").send().await;
    /// assert_eq!(r.status, 400);
    /// assert_eq!(r.headers["content-type"], "application/problem+json");
    /// # }
    /// ```
    pub fn on_rejection(&mut self, hook: impl Fn(&Refusal) -> Response + Send + Sync + 'static) -> &mut Self {
        self.registry.on_rejection = Some(std::sync::Arc::new(hook));
        self
    }

    /// Sets the request body limit in bytes (default 2 MiB); larger bodies get a 413.
    pub fn body_limit(&mut self, bytes: usize) -> &mut Self {
        self.config.body.max = bytes;
        self
    }

    /// Sets how long a client may take to send a request body once a handler
    /// reads it (default 30 s); a slower body gets a 408.
    pub fn body_read_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.config.body.read_timeout = timeout;
        self
    }

    /// Sets how long a client may take to send the request head (default 10 s).
    pub fn header_read_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.config.header_read_timeout = timeout;
        self
    }

    /// Sets how long a graceful shutdown waits for requests in flight (default 10 s).
    pub fn shutdown_grace(&mut self, grace: Duration) -> &mut Self {
        self.config.shutdown_grace = grace;
        self
    }

    /// Checks every route and resolves every parameter, then freezes the app into
    /// a service (a `tower::Service` too).
    ///
    /// # Errors
    ///
    /// A [`BuildError`] listing every problem: unresolvable parameters (naming
    /// route, handler, parameter and type), bad or duplicate routes, provider cycles.
    pub fn build(&self) -> Result<AppService, BuildError> {
        let compiled = crate::plan::build(&self.registry, self.config.body)?;
        let problems: Vec<String> =
            self.registry.build_hooks.iter().filter_map(|hook| hook(&self.registry, self.config.body).err()).collect();
        if !problems.is_empty() {
            return Err(BuildError { problems });
        }
        Ok(AppService::new(compiled, &self.layers))
    }

    /// Builds the app and binds `addr`, ready to serve (see [`Server`]).
    ///
    /// # Errors
    ///
    /// When the app cannot be built or the address cannot be bound.
    pub async fn bind(&self, addr: impl tokio::net::ToSocketAddrs) -> Result<Server, ServeError> {
        let service = self.build()?;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        Ok(Server::new(Box::new(listener), service, self.config.clone()))
    }

    /// Builds the app to serve on a listener bound elsewhere (inherited from a
    /// supervisor, bound with socket options such as `SO_REUSEPORT`), or on any
    /// other source of connections that implements [`Listener`] (connections
    /// accepted on another thread and handed over, as `Workers` does).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), uapi::ServeError> {
    /// let socket = tokio::net::TcpSocket::new_v4()?;
    /// socket.set_reuseport(true)?;
    /// socket.bind("127.0.0.1:8000".parse().expect("an address"))?;
    /// let server = uapi::App::new().bind_listener(socket.listen(1024)?)?;
    /// server.run().await
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// When the app cannot be built.
    pub fn bind_listener(&self, listener: impl Listener) -> Result<Server, ServeError> {
        Ok(Server::new(Box::new(listener), self.build()?, self.config.clone()))
    }

    /// Builds, binds and serves until Ctrl-C, then shuts down gracefully.
    ///
    /// # Errors
    ///
    /// When the app cannot be built or the address cannot be bound.
    pub async fn serve(&self, addr: impl tokio::net::ToSocketAddrs) -> Result<(), ServeError> {
        self.bind(addr).await?.run().await
    }
}
