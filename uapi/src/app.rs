//! [`App`]: routes and providers, validated and frozen by [`App::build`].

use std::any::TypeId;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use http::Method;

use crate::error::{BuildError, ServeError};
use crate::handler::{HandlerInfo, Injectable, IntoInjectable};
use crate::inject::{ErasedHandler, ErasedProvider, HandlerOf, ProviderOf};
use crate::response::IntoResponse;
use crate::server::Server;
use crate::service::AppService;
use crate::value::Value;

/// The default request body limit: 2 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;

pub(crate) struct RouteDef {
    pub(crate) path: String,
    pub(crate) method: Method,
    pub(crate) name: &'static str,
    pub(crate) info: HandlerInfo,
    pub(crate) handler: Arc<dyn ErasedHandler>,
}

/// How a provider is matched to parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProviderKey {
    NameAndType(Cow<'static, str>),
    Name(Cow<'static, str>),
    Type,
}

pub(crate) struct ProviderDef {
    pub(crate) key: ProviderKey,
    pub(crate) provided: TypeId,
    pub(crate) provided_name: &'static str,
    pub(crate) info: HandlerInfo,
    pub(crate) erased: Arc<dyn ErasedProvider>,
}

/// How much of a request body is read, and for how long.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimits {
    /// Larger bodies get a 413.
    pub(crate) max: usize,
    /// Slower bodies get a 408 (the header-read timeout ends with the head).
    pub(crate) read_timeout: Duration,
}

/// Server settings.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) body: BodyLimits,
    pub(crate) header_read_timeout: Duration,
    pub(crate) shutdown_grace: Duration,
}

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
    pub(crate) routes: Vec<RouteDef>,
    pub(crate) providers: Vec<ProviderDef>,
    pub(crate) problems: Vec<String>,
    pub(crate) config: Config,
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
        App {
            routes: Vec::new(),
            providers: Vec::new(),
            problems: Vec::new(),
            config: Config {
                body: BodyLimits { max: DEFAULT_BODY_LIMIT, read_timeout: Duration::from_secs(30) },
                header_read_timeout: Duration::from_secs(10),
                shutdown_grace: Duration::from_secs(10),
            },
        }
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
        let handler = handler.into_injectable();
        let info = handler.info();
        let name = name.unwrap_or(info.name);
        let handler: Arc<dyn ErasedHandler> = Arc::new(HandlerOf(handler));
        if !path.starts_with('/') {
            self.problems.push(format!("route `{name}`: path `{path}` must start with `/`"));
        }
        for method in methods {
            self.routes.push(RouteDef {
                path: path.to_owned(),
                method,
                name,
                info: info.clone(),
                handler: handler.clone(),
            });
        }
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
        let prefix = prefix.trim_end_matches('/');
        if !prefix.is_empty() && !prefix.starts_with('/') {
            self.problems.push(format!("mount prefix `{prefix}` must start with `/`"));
        }
        for mut route in other.routes {
            route.path = if route.path == "/" && !prefix.is_empty() {
                prefix.to_owned()
            } else {
                format!("{prefix}{}", route.path)
            };
            self.routes.push(route);
        }
        // Lookups take the most recently registered match, so `other`'s providers
        // go first: ours win.
        let mut providers = other.providers;
        providers.append(&mut self.providers);
        self.providers = providers;
        self.problems.extend(other.problems);
        self
    }

    fn add_provider<P, X>(&mut self, key: ProviderKey, provider: P) -> &mut Self
    where
        P: IntoInjectable<X>,
        <P::Injectable as Injectable>::Provided: Clone,
    {
        let provider = provider.into_injectable();
        self.providers.push(ProviderDef {
            key,
            provided: TypeId::of::<<P::Injectable as Injectable>::Provided>(),
            provided_name: std::any::type_name::<<P::Injectable as Injectable>::Provided>(),
            info: provider.info(),
            erased: Arc::new(ProviderOf(provider)),
        });
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
    ///
    /// The deadline is kept by a coarse timer: a slow client is cut off between
    /// the timeout and a tenth of a second after it.
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
        crate::plan::build(self)
    }

    /// Builds the app and binds `addr`, ready to serve (see [`Server`]).
    ///
    /// # Errors
    ///
    /// When the app cannot be built or the address cannot be bound.
    pub async fn bind(&self, addr: impl tokio::net::ToSocketAddrs) -> Result<Server, ServeError> {
        let service = self.build()?;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        Ok(Server::new(listener, service, self.config.clone()))
    }

    /// Builds the app to serve on a listener bound elsewhere (inherited from a
    /// supervisor, or bound with socket options such as `SO_REUSEPORT`).
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
    pub fn bind_listener(&self, listener: tokio::net::TcpListener) -> Result<Server, ServeError> {
        Ok(Server::new(listener, self.build()?, self.config.clone()))
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
