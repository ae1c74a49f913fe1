//! The flagship example: login, logout, logout everywhere, and a second session.
//!
//! ```text
//! cargo run --release --example login -- [--bind ADDR] [--redis URL | --redis-cluster URL,URL,...]
//!                                        [--max-age SECS] [--insecure-cookies]
//! ```
//!
//! Without `--redis` (or `REDIS_URL`) or `--redis-cluster`, sessions live in
//! memory. `--redis-cluster` takes some (or all) of a Redis Cluster's nodes,
//! comma-separated; the client discovers the rest.

use std::time::Duration;

use uapi::sessions::redis::PipelinedConnection;
use uapi::sessions::{MemoryStore, RedisBackend, SessionOptions};

mod app;

const USAGE: &str =
    "usage: login [--bind ADDR] [--redis URL | --redis-cluster URL,URL,...] [--max-age SECS] [--insecure-cookies]";

struct Args {
    bind: String,
    redis: Option<String>,
    redis_cluster: Option<Vec<String>>,
    settings: app::Settings,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        bind: "127.0.0.1:8000".to_owned(),
        redis: None,
        redis_cluster: None,
        settings: app::Settings { max_age: SessionOptions::default().max_age, insecure_cookies: false },
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--bind" => args.bind = value()?,
            "--redis" => args.redis = Some(value()?),
            "--redis-cluster" => {
                let urls: Vec<String> =
                    value()?.split(',').map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned).collect();
                if urls.is_empty() {
                    return Err(format!("--redis-cluster needs at least one URL\n{USAGE}"));
                }
                args.redis_cluster = Some(urls);
            }
            "--max-age" => {
                let secs = value()?;
                let secs: u64 = secs.parse().map_err(|_| format!("--max-age: not a number of seconds: {secs}"))?;
                args.settings.max_age = Duration::from_secs(secs);
            }
            "--insecure-cookies" => args.settings.insecure_cookies = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if args.redis.is_some() && args.redis_cluster.is_some() {
        return Err(format!("--redis and --redis-cluster are mutually exclusive\n{USAGE}"));
    }
    if args.redis_cluster.is_none() && args.redis.is_none() {
        args.redis = std::env::var("REDIS_URL").ok().filter(|s| !s.is_empty());
    }
    Ok(args)
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let app = match (&args.redis, &args.redis_cluster) {
        (_, Some(urls)) => {
            let redis = match connect_cluster(urls).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("cannot connect to the Redis Cluster at {}: {e}", urls.join(","));
                    std::process::exit(1);
                }
            };
            tracing::info!(nodes = %urls.join(","), "sessions in Redis Cluster");
            // The same backend as on one node: on a cluster connection it
            // sends each hash slot's commands as their own request.
            let sessions = RedisBackend::new(redis.clone());
            let carts = RedisBackend::new(redis).key_prefix("cart:");
            app::build(sessions, carts, &args.settings)
        }
        (Some(url), None) => {
            let redis = match connect(url).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("cannot connect to Redis at {url}: {e}");
                    std::process::exit(1);
                }
            };
            tracing::info!(%url, "sessions in Redis");
            let sessions = RedisBackend::new(redis.clone());
            let carts = RedisBackend::new(redis).key_prefix("cart:");
            app::build(sessions, carts, &args.settings)
        }
        (None, None) => {
            tracing::warn!("no --redis URL, REDIS_URL or --redis-cluster given: sessions are kept in memory and end with the process");
            app::build(MemoryStore::new(), MemoryStore::new(), &args.settings)
        }
    };
    let server = match app.bind(&args.bind).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot start: {e}");
            std::process::exit(1);
        }
    };
    tracing::info!("listening on http://{}", server.local_addr());
    if let Err(e) = server.run().await {
        eprintln!("server error: {e}");
        std::process::exit(1);
    }
}

/// uapi's pipelining connection: reconnects by itself, 2 s bounds on
/// connecting and on replies.
async fn connect(url: &str) -> redis::RedisResult<PipelinedConnection> {
    PipelinedConnection::connect(url).await
}

/// A Redis Cluster connection: follows MOVED/ASK redirections and refreshes
/// its slot map by itself, with bounded waits.
async fn connect_cluster(urls: &[String]) -> redis::RedisResult<redis::cluster_async::ClusterConnection> {
    redis::cluster::ClusterClientBuilder::new(urls.iter().map(String::as_str))
        .connection_timeout(Duration::from_secs(2))
        .response_timeout(Duration::from_secs(2))
        .build()?
        .get_async_connection()
        .await
}
