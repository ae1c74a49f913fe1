//! Every kind of injection in one small app.
//!
//! ```text
//! cargo run --example hello [-- --bind ADDR]
//! curl 'localhost:8001/hello/ann?excited=true'
//! curl -H 'x-api-key: k1' -H 'content-type: application/json' -d '{"title":"hi"}' localhost:8001/articles
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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

#[derive(serde::Deserialize, serde::Serialize)]
struct Article {
    title: String,
}

/// A JSON body, and a value from the provider above (by name).
#[handler]
async fn create_article(article: ReqBody<Article>, api_key: String) -> Created<Json<Article>> {
    tracing::info!(%api_key, "article created");
    Created::new(Json(article.0))
}

#[derive(serde::Deserialize)]
struct Search {
    q: String,
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

/// Every kind of injection in one small app.
#[derive(clap::Parser, Debug)]
#[command(about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8001")]
    bind: String,
}

#[tokio::main]
async fn main() -> Result<(), uapi::ServeError> {
    let args = <Args as clap::Parser>::parse();
    tracing_subscriber::fmt().init();
    let mut app = App::new();
    app.provide_value(Counter::default())
        .register_by_name("api_key", api_key)
        .get("/hello/{name}", hello)
        .post("/articles", create_article)
        .post("/search", search)
        .route("/echo", [uapi::http::Method::POST, uapi::http::Method::PUT], echo);
    app.serve(&args.bind).await
}
