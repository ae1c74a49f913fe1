//! Every kind of injection in one small app, with its OpenAPI document and
//! docs pages.
//!
//! ```text
//! cargo run --example hello [-- --bind ADDR]
//! curl 'localhost:8001/hello/ann?excited=true'
//! curl -H 'x-api-key: k1' -H 'content-type: application/json' -d '{"title":"hi"}' localhost:8001/articles
//! curl localhost:8001/openapi.json     # and http://localhost:8001/swaggerui in a browser
//! ```

mod app;

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
    app::build().serve(&args.bind).await
}
