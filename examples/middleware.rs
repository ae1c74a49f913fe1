//! The login example with real middleware from tower-http, on uapi's own
//! server (its header-read and body timeouts and graceful shutdown kept):
//! CORS for a browser app on another origin, gzip/br compression, a request
//! id on every request, in the trace logs and echoed back, and a timeout.
//!
//! ```text
//! RUST_LOG=info cargo run --example middleware [-- --bind ADDR]
//! curl -i -H 'accept-encoding: gzip' localhost:8003/      # x-request-id, content-encoding when large enough
//! curl -i -X OPTIONS -H 'origin: http://localhost:3000' -H 'access-control-request-method: POST' localhost:8003/login
//! ```

// The login example's app; only its in-memory store is used here.
#[path = "login/app.rs"]
#[allow(dead_code)]
mod app;

use std::time::Duration;

use tower_http::compression::CompressionLayer;
use tower_http::cors::CorsLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use uapi::http::{header, HeaderValue, Method, Request, StatusCode};

/// The browser app allowed to call this API with its cookies.
const BROWSER_ORIGIN: &str = "http://localhost:3000";

/// The login app, with the layers (each wraps the ones added before it, so
/// a request meets them from the last to the first).
fn app() -> uapi::App {
    let settings = app::Settings { insecure_cookies: true, ..Default::default() };
    let mut app = app::build(app::Store::Memory, &settings);
    let cors = CorsLayer::new()
        .allow_origin(HeaderValue::from_static(BROWSER_ORIGIN))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([header::CONTENT_TYPE]);
    let trace = TraceLayer::new_for_http().make_span_with(|request: &Request<uapi::RequestBody>| {
        let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
        tracing::info_span!("request", %id, method = %request.method(), path = %request.uri().path())
    });
    app.layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(10)))
        .layer(CompressionLayer::new())
        .layer(cors)
        .layer(trace)
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid));
    app
}

/// The login example with tower-http middleware.
#[derive(clap::Parser, Debug)]
#[command(about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8003")]
    bind: String,
}

#[tokio::main]
async fn main() -> Result<(), uapi::ServeError> {
    let args = <Args as clap::Parser>::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let server = app().bind(&args.bind).await?;
    tracing::info!("listening on http://{}", server.local_addr());
    server.run().await
}
