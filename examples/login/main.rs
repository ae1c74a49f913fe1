//! The flagship example: users with passwords, a throttled login, logout,
//! logout everywhere, and a second session.
//!
//! ```text
//! cargo run --release --example login -- [--bind ADDR] [--redis URL | --redis-cluster URL,URL,...]
//!                                        [--key-prefix P] [--redis-timeout-ms MS] [--max-age SECS]
//!                                        [--insecure-cookies] [--login-failures N] [--login-window SECS]
//!                                        [--trust-proxy CIDR,...] [--demo-login] [--cookie-sessions]
//! ```
//!
//! Without `--redis` (or `REDIS_URL`) or `--redis-cluster`, sessions live in
//! memory; with `--cookie-sessions`, in the cookies themselves, encrypted
//! with the key in `UAPI_COOKIE_KEY` (base64 of 32 bytes or more; older keys,
//! still accepted, comma-separated in `UAPI_COOKIE_OLD_KEYS`). `--redis` takes any URL redis-rs does (`rediss://` for TLS, a user
//! and password for an ACL user, `?protocol=resp3`); `--redis-cluster` takes
//! some (or all) of a Redis Cluster's nodes, comma-separated, and the client
//! discovers the rest.

use std::time::Duration;

use clap::Parser;
use uapi::login::LoginThrottleOptions;
use uapi::sessions::redis::RedisConnection;
use uapi::sessions::secure::{SecretKey, SecretKeys};

mod app;

/// The login example: sessions in memory, in Redis or in a Redis Cluster.
#[derive(Parser, Debug)]
#[command(about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    bind: String,
    /// A Redis URL (`redis://`, `rediss://`, with user and password if need be).
    #[arg(long, env = "REDIS_URL", conflicts_with = "redis_cluster")]
    redis: Option<String>,
    /// Redis Cluster node URLs, comma-separated.
    #[arg(long, value_delimiter = ',')]
    redis_cluster: Option<Vec<String>>,
    /// Prefix for every Redis key the app writes.
    #[arg(long, default_value = "")]
    key_prefix: String,
    /// Upper bound for each Redis command, in milliseconds; past it, a 503.
    #[arg(long, default_value_t = 2000)]
    redis_timeout_ms: u64,
    /// Session lifetime in seconds (default: 14 days).
    #[arg(long, default_value_t = 14 * 24 * 3600)]
    max_age: u64,
    /// Send cookies without `Secure`, for plain-http local testing.
    #[arg(long)]
    insecure_cookies: bool,
    /// Failed logins an account may have within the window; the next is a
    /// 429 (an address may have four times as many, over all accounts).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    login_failures: u32,
    /// How long a failed login counts, in seconds.
    #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..))]
    login_window: u64,
    /// Proxies (addresses or networks, comma-separated) whose
    /// `X-Forwarded-For` names the client for the login throttle.
    #[arg(long, value_delimiter = ',', value_parser = proxy)]
    trust_proxy: Vec<ipnet::IpNet>,
    /// Also accept `POST /login?user_id=N`, no password (scripts, benchmarks).
    #[arg(long)]
    demo_login: bool,
    /// Serve the docs pages' files from this `node_modules` folder (npm
    /// packages swagger-ui-dist, redoc, @stoplight/elements), not a CDN.
    #[arg(long, value_name = "DIR")]
    docs_assets: Option<std::path::PathBuf>,
    /// Keep each session in its cookie, encrypted (AES-256-GCM), with no
    /// server-side store: the key from `UAPI_COOKIE_KEY` (base64 of at least
    /// 32 bytes; a random key for this run when unset), older keys from
    /// `UAPI_COOKIE_OLD_KEYS`. Logging a user out everywhere is then a 501.
    #[arg(long, conflicts_with_all = ["redis", "redis_cluster"])]
    cookie_sessions: bool,
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let args = Args::parse();
    let throttle = LoginThrottleOptions::default()
        .failures(args.login_failures)
        .window(Duration::from_secs(args.login_window))
        .trust_proxies(args.trust_proxy);
    let settings = app::Settings {
        max_age: Duration::from_secs(args.max_age),
        insecure_cookies: args.insecure_cookies,
        demo_login: args.demo_login,
        throttle,
        docs_assets: args.docs_assets,
    };
    let redis = args.redis.as_deref().filter(|url| !url.is_empty());
    let command_timeout = Duration::from_millis(args.redis_timeout_ms);
    let store = match (redis, &args.redis_cluster) {
        _ if args.cookie_sessions => app::Store::Cookie { keys: cookie_keys() },
        (_, Some(urls)) => match connect_cluster(urls).await {
            Ok(conn) => {
                tracing::info!(nodes = %urls.join(","), "sessions in Redis Cluster");
                app::Store::Redis { conn, key_prefix: args.key_prefix, command_timeout }
            }
            Err(e) => fail(&format!("cannot connect to the Redis Cluster at {}: {e}", urls.join(","))),
        },
        (Some(url), None) => match connect(url).await {
            Ok(conn) => {
                tracing::info!(url = %redact(url), "sessions in Redis");
                app::Store::Redis { conn, key_prefix: args.key_prefix, command_timeout }
            }
            Err(e) => fail(&format!("cannot connect to Redis at {}: {e}", redact(url))),
        },
        (None, None) => {
            tracing::warn!("no --redis URL, REDIS_URL or --redis-cluster given: sessions are kept in memory and end with the process");
            app::Store::Memory
        }
    };
    let server = match app::build(store, &settings).bind(&args.bind).await {
        Ok(s) => s,
        Err(e) => fail(&format!("cannot start: {e}")),
    };
    tracing::info!("listening on http://{}", server.local_addr());
    if let Err(e) = server.run().await {
        fail(&format!("server error: {e}"));
    }
}

/// The keys of `--cookie-sessions`: `UAPI_COOKIE_KEY` (else a random key for
/// this run) and the older `UAPI_COOKIE_OLD_KEYS`; a bad key ends the program.
fn cookie_keys() -> SecretKeys {
    let current = match std::env::var("UAPI_COOKIE_KEY") {
        Ok(text) if !text.trim().is_empty() => {
            let key = SecretKey::from_base64(&text).unwrap_or_else(|e| fail(&format!("UAPI_COOKIE_KEY: {e}")));
            tracing::info!("sessions in encrypted cookies, with the key in UAPI_COOKIE_KEY");
            key
        }
        _ => {
            let key = SecretKey::generate().unwrap_or_else(|e| fail(&e.to_string()));
            tracing::warn!(
                "UAPI_COOKIE_KEY is not set: sessions in encrypted cookies under a random key for this run only \
                 (they end with the process); set it to base64 of 32 random bytes (openssl rand -base64 32)"
            );
            key
        }
    };
    let old = std::env::var("UAPI_COOKIE_OLD_KEYS").unwrap_or_default();
    old.split(',').filter(|k| !k.trim().is_empty()).fold(SecretKeys::new(current), |keys, text| {
        keys.with_old(SecretKey::from_base64(text).unwrap_or_else(|e| fail(&format!("UAPI_COOKIE_OLD_KEYS: {e}"))))
    })
}

/// A network (`10.0.0.0/8`) or one address (`10.0.0.7`).
fn proxy(s: &str) -> Result<ipnet::IpNet, String> {
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{s:?} is neither an address nor a network (10.0.0.7, 10.0.0.0/8, fd00::/8)"))
}

fn fail(message: &str) -> ! {
    eprintln!("{message}");
    std::process::exit(1);
}

/// The URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://***@{}", &url[..scheme], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

/// redis-rs's reconnecting connection: bounded connects and replies, and few
/// retries at start-up (a wrong password should fail now, not after backoff).
async fn connect(url: &str) -> redis::RedisResult<RedisConnection> {
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(1);
    Ok(redis::Client::open(url)?.get_connection_manager_with_config(config).await?.into())
}

/// A Redis Cluster connection: follows MOVED/ASK redirections and refreshes
/// its slot map by itself, with bounded waits.
async fn connect_cluster(urls: &[String]) -> redis::RedisResult<RedisConnection> {
    let conn = redis::cluster::ClusterClientBuilder::new(urls.iter().map(String::as_str))
        .connection_timeout(Duration::from_secs(2))
        .response_timeout(Duration::from_secs(2))
        .build()?
        .get_async_connection()
        .await?;
    Ok(conn.into())
}
