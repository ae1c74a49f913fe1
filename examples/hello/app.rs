//! The hello example's app, shared by `main.rs` and the tests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use uapi::openapi::OpenApiOptions;
use uapi::status::{Created, Forbidden};
use uapi::{handler, App, Cookie, FormBody, Header, Json, ReqBody, ReqBytes, RouteName};

/// App state, given to handlers by type.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicU64>);

/// A path parameter, an optional query parameter, a header and app state.
#[handler]
async fn hello(name: String, excited: Option<bool>, user_agent: Option<Header>, counter: Counter) -> String {
    let n = counter.0.fetch_add(1, Ordering::Relaxed) + 1;
    let mark = if excited.unwrap_or(false) { "!" } else { "." };
    format!("hello {name}{mark} (visit {n}, agent {:?})", user_agent.map(|h| h.0))
}

/// A provider: the caller's key, checked once per request; refuses with a 403.
#[handler]
async fn api_key(#[header("x-api-key")] key: Option<Header>) -> Result<String, Forbidden<&'static str>> {
    match key {
        Some(Header(k)) if k.starts_with('k') => Ok(k),
        _ => Err(Forbidden::new("a valid x-api-key header is required")),
    }
}

/// An article: what `POST /articles` takes and answers.
#[derive(serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct Article {
    /// Its title.
    pub(crate) title: String,
}

/// A JSON body, and a value from the provider above (by name).
#[handler]
async fn create_article(article: ReqBody<Article>, api_key: String) -> Created<Json<Article>> {
    tracing::info!(%api_key, "article created");
    Created::new(Json(article.0))
}

/// A search form.
#[derive(serde::Deserialize, schemars::JsonSchema)]
pub(crate) struct Search {
    /// What to look for.
    pub(crate) q: String,
}

/// A form body, repeated query parameters, a cookie and the route's name.
#[handler]
async fn search(form: FormBody<Search>, tag: Vec<String>, theme: Option<Cookie>, route: RouteName) -> String {
    format!("{}: {} {:?} {:?}", route.0, form.0.q, tag, theme.map(|c| c.0))
}

/// The raw body and the method.
#[handler]
async fn echo(body: ReqBytes, method: uapi::http::Method) -> String {
    format!("{method} {} bytes", body.0.len())
}

/// The app: every kind of injection, its OpenAPI document at
/// `/openapi.json` and the docs pages `/swaggerui`, `/redoc`, `/elements`.
pub(crate) fn build() -> App {
    let mut app = App::new();
    app.provide_value(Counter::default())
        .register_by_name("api_key", api_key)
        .get("/hello/{name}", hello)
        .post("/articles", create_article)
        .post("/search", search)
        .route("/echo", [uapi::http::Method::POST, uapi::http::Method::PUT], echo);
    app.serve_openapi("/openapi.json", &OpenApiOptions::new("uapi hello example", env!("CARGO_PKG_VERSION")))
        .serve_swaggerui("/swaggerui", "/openapi.json")
        .serve_redoc("/redoc", "/openapi.json")
        .serve_elements("/elements", "/openapi.json");
    app
}
