//! OpenAPI 3.1 documents made from the handlers themselves (feature
//! `openapi`, on by default), as uapi's `make_openapi_spec`: no annotation.
//!
//! `#[handler]` records what a handler already says: its parameters' names,
//! types and sources, its doc comment, its return type. [`App::make_openapi_spec`]
//! walks each route as [`App::build`] resolves it, through the providers it
//! reaches, and writes:
//!
//! - an operation per route and method (not HEAD or OPTIONS): `operationId`
//!   the route name, summary the name in title case, description the doc
//!   comment, the app's tags ([`App::tag`]);
//! - path, query, header and cookie parameters with their types' JSON Schemas
//!   (schemars), `Option` ones not required, `Vec` ones repeated
//!   (`style: form, explode: true`), renamed headers and cookies under their
//!   wire names, a provider's own parameters on every operation using it;
//! - the request body: `ReqBody<T>`/`Json<T>` as `application/json`,
//!   `FormBody<T>` as a form, `ReqBytes` as bytes; named types once, under
//!   `components/schemas`;
//! - the answers the return type gives (each status type under its code,
//!   both arms of a `Result`, `String` as text, `Json<T>` with `T`'s schema,
//!   `()` as 204) and those the framework adds: 400 for a parameter or body
//!   that cannot be read, 413 and 415 for bodies, each provider's refusals
//!   (a session store's 503, `current_user_id`'s 403);
//! - each session store's cookie as an `apiKey` security scheme, listed on
//!   every operation that uses the store, directly or through login.
//!
//! A type without a schema compiles and serves as ever, shows as `{}`, and
//! [`App::make_openapi_spec`] logs a warning naming it.
//!
//! # Examples
//!
//! ```
//! use uapi::openapi::OpenApiOptions;
//! use uapi::{handler, App, Json, ReqBody};
//!
//! #[derive(serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
//! struct Article { title: String }
//!
//! /// Stores an article.
//! #[handler]
//! async fn create_article(article: ReqBody<Article>) -> Json<Article> {
//!     Json(article.0)
//! }
//!
//! let mut app = App::new();
//! app.post("/articles", create_article);
//! let spec = app.make_openapi_spec(&OpenApiOptions::new("Articles", "1.0")).unwrap();
//! let op = spec.operation("/articles", "post").unwrap();
//! assert_eq!(op.operation_id, "create_article");
//! assert_eq!(op.description.as_deref(), Some("Stores an article."));
//! assert!(spec.components.schemas.contains_key("Article"));
//!
//! app.serve_openapi("/openapi.json", &OpenApiOptions::new("Articles", "1.0"))
//!    .serve_swaggerui("/swaggerui", "/openapi.json");
//! assert!(app.build().is_ok());
//! ```

mod impls;
mod model;
mod pages;
mod spec;

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use http::Method;

pub use self::impls::DescribeBody;
pub use self::model::{
    Components, Info, MediaType, OpenApi, Operation, Parameter, ParameterIn, PathItem, RequestBody, ResponseObject,
    SecurityScheme, Tag,
};
pub use self::pages::DocsPage;
pub use self::spec::{OpenApiOptions, RouteDoc, RouteTransform};
pub use crate::describe::{DescribeParam, DescribeResponse, ResponseDoc, SecurityDoc, TypeDoc};
/// The schemars crate, whose `JsonSchema` derive gives your types their schemas.
pub use schemars;
pub use schemars::{JsonSchema, Schema, SchemaGenerator};

use crate::addon::{HandlerInfo, Injectable, ParamPlan, RequestCtx};
use crate::app::App;
use crate::error::BuildError;
use crate::response::{Body, Response};

/// A route that answers the same bytes every time: the document (made anew
/// at each build), a page.
struct Fixed {
    name: &'static str,
    body: Arc<Mutex<Bytes>>,
    content_type: &'static str,
}

impl Fixed {
    fn new(name: &'static str, body: Bytes, content_type: &'static str) -> Self {
        Fixed { name, body: Arc::new(Mutex::new(body)), content_type }
    }
}

impl Injectable for Fixed {
    type Output = Response;
    type Provided = Response;

    fn info(&self) -> HandlerInfo {
        HandlerInfo::new(self.name, Vec::new(), "Response")
    }

    async fn call(&self, _: &mut RequestCtx, _: &[ParamPlan]) -> Result<Response, Response> {
        let body = self.body.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let mut response = Response::new(Body::new(body));
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        Ok(response)
    }

    fn provide(out: Response) -> Result<Response, Response> {
        Ok(out)
    }
}

impl App {
    /// The OpenAPI 3.1 document of this app's routes as they are now (see
    /// [the module](crate::openapi)): a model to change before serving it
    /// with [`App::serve_openapi_spec`].
    ///
    /// # Errors
    ///
    /// The app's [`BuildError`] when it does not build yet: the document
    /// describes each route as it is resolved.
    pub fn make_openapi_spec(&self, options: &OpenApiOptions) -> Result<OpenApi, BuildError> {
        spec::make(&self.registry, self.config.body, options)
    }

    /// Serves this app's document at `path` (GET, as JSON): made when the app
    /// is built ([`App::build`], [`App::serve`], ...), so it describes every
    /// route and provider, whenever they were added; not its own route, nor
    /// the docs pages. A document that cannot be made fails the build.
    pub fn serve_openapi(&mut self, path: &str, options: &OpenApiOptions) -> &mut Self {
        let fixed = Fixed::new("openapi", Bytes::new(), "application/json");
        let body = fixed.body.clone();
        let options = options.clone();
        let path_owned = path.to_owned();
        self.registry.build_hooks.push(Arc::new(move |registry, limits| {
            let spec = spec::make(registry, limits, &options)
                .map_err(|e| format!("serve_openapi(\"{path_owned}\"): the document could not be made: {e}"))?;
            *body.lock().unwrap_or_else(PoisonError::into_inner) = Bytes::from(spec.to_json());
            Ok(())
        }));
        self.undocumented_route(path, fixed)
    }

    /// Serves `spec` (made with [`App::make_openapi_spec`], then changed) at
    /// `path` (GET, as JSON).
    pub fn serve_openapi_spec(&mut self, path: &str, spec: &OpenApi) -> &mut Self {
        self.undocumented_route(path, Fixed::new("openapi", Bytes::from(spec.to_json()), "application/json"))
    }

    /// Routes GET `path` to `fixed`, left out of the document.
    fn undocumented_route(&mut self, path: &str, fixed: Fixed) -> &mut Self {
        self.route_named(fixed.name, path, [Method::GET], fixed);
        if let Some(route) = self.registry.routes.last_mut() {
            route.documented = false;
        }
        self
    }

    /// Serves `page` at `path` (GET, as HTML).
    pub fn serve_docs(&mut self, path: &str, page: &DocsPage) -> &mut Self {
        let name = match page.html() {
            html if html.contains("swagger-ui") => "swaggerui",
            html if html.contains("<redoc") => "redoc",
            _ => "elements",
        };
        self.undocumented_route(path, Fixed::new(name, Bytes::from(page.html()), "text/html; charset=utf-8"))
    }

    /// Serves Swagger UI for the document at `spec_url` (say
    /// `/openapi.json`) at `path`, its files from a CDN; for files you serve
    /// yourself, [`App::serve_docs`] with [`DocsPage::assets_at`].
    pub fn serve_swaggerui(&mut self, path: &str, spec_url: &str) -> &mut Self {
        self.serve_docs(path, &DocsPage::swaggerui(spec_url))
    }

    /// Serves Redoc for the document at `spec_url` at `path` (see
    /// [`App::serve_swaggerui`]).
    pub fn serve_redoc(&mut self, path: &str, spec_url: &str) -> &mut Self {
        self.serve_docs(path, &DocsPage::redoc(spec_url))
    }

    /// Serves Stoplight Elements for the document at `spec_url` at `path`
    /// (see [`App::serve_swaggerui`]).
    pub fn serve_elements(&mut self, path: &str, spec_url: &str) -> &mut Self {
        self.serve_docs(path, &DocsPage::elements(spec_url))
    }

    /// Tags every route of this app in its OpenAPI document, those routed
    /// already and later, and when the app is mounted into another.
    ///
    /// # Examples
    ///
    /// ```
    /// use uapi::{handler, App};
    ///
    /// #[handler]
    /// async fn ping() -> &'static str { "pong" }
    ///
    /// let mut health = App::new();
    /// health.get("/ping", ping).tag("health");
    /// let mut app = App::new();
    /// app.mount("/health", health);
    /// assert!(app.build().is_ok());
    /// ```
    pub fn tag(&mut self, tag: &str) -> &mut Self {
        self.registry.tag(tag);
        self
    }

    /// Tags the routes named `name` (each of their methods) in the OpenAPI
    /// document, as uapi's `app.get(path, tags=[..])`; a name no route has
    /// yet is a problem [`App::build`] reports.
    ///
    /// # Examples
    ///
    /// ```
    /// use uapi::{handler, App};
    ///
    /// #[handler]
    /// async fn get_article(article_id: u64) -> String { article_id.to_string() }
    ///
    /// let mut app = App::new();
    /// app.get("/articles/{article_id}", get_article).tag_route("get_article", "articles");
    /// assert!(app.build().is_ok());
    /// ```
    pub fn tag_route(&mut self, name: &str, tag: &str) -> &mut Self {
        let mut found = false;
        for route in self.registry.routes.iter_mut().filter(|r| r.name == name) {
            found = true;
            if !route.tags.iter().any(|t| t == tag) {
                route.tags.push(tag.to_owned());
            }
        }
        if !found {
            self.registry.problems.push(format!("tag_route: no route is named `{name}` (yet)"));
        }
        self
    }
}
