//! The addon seam, proved from outside the crate: an API-key addon
//! ([`addon`]) written on `uapi::addon` alone, and an app that uses it.
//!
//! ```text
//! cargo run --example api_key [-- --bind ADDR]
//! curl -i localhost:8002/report                       # 401, WWW-Authenticate
//! curl -i -H 'x-api-key: k-ann' localhost:8002/report # 200, x-api-client: ann
//! curl -i localhost:8002/status                       # 200, no key needed
//! ```

mod addon;
mod app;

/// The API-key example app.
#[derive(clap::Parser, Debug)]
#[command(about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8002")]
    bind: String,
}

#[tokio::main]
async fn main() -> Result<(), uapi::ServeError> {
    let args = <Args as clap::Parser>::parse();
    let server = app::build().bind(&args.bind).await?;
    println!("listening on http://{}", server.local_addr());
    server.run().await
}
