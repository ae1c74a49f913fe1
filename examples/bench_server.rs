//! The load benchmark's server (issue 6): uapi with Redis sessions.
//!
//! ```text
//! PORT=8000 REDIS_URL=redis://127.0.0.1:6379 cargo run --release --example bench_server
//! ```
//!
//! Serves on `127.0.0.1:$PORT`:
//! - `GET /hello`: 200 `hello` (no session involved);
//! - `POST /login?user_id=N`: stores `user_id` in a new session, 201 + Set-Cookie;
//! - `GET /`: 200 with the session's user id, or `no user`;
//! - `POST /touch`: increments the session's `counter` and saves it, 200.
//! - `POST /fill?n=N&size=S`: sets keys `k0..k{N-1}` to `S`-byte values, 200
//!   (the large-session scenarios).
//!
//! Cookies are sent without `Secure`: the load tool speaks plain http. It runs on
//! [`Workers`] (one thread per core, each with its own runtime, app and Redis
//! connection), as actix-web runs one worker per core, or with
//! `UAPI_RUNTIME=multi-thread` on tokio's multi-thread runtime (`app.bind`, as
//! axum serves). Sessions go through redis-rs's `ConnectionManager` (the
//! default), or with `UAPI_REDIS=pipelined` through uapi's own
//! `PipelinedConnection` (feature `pipelined`). With `UAPI_SESSION=lazy`,
//! `GET /` and `POST /touch` take a `LazySession` (only the field they use
//! is read) instead of an `AsyncSession` (the whole session). With
//! `--wait-replicas N` (`UAPI_WAIT_REPLICAS`) every session write waits for N
//! replicas (`RedisBackend::wait_for_replicas`, up to `--wait-timeout-ms`).
//! `bench/run.sh` runs it (targets `uapi`, `uapi-mt`, `uapi-pl`, `uapi-lazy` and
//! `uapi-wait`) against the peers in `bench/peers/`.

use std::time::Duration;

use uapi::sessions::redis::{configure_async_sessions, PipelinedConnection, RedisBackend, RedisConnection};
use uapi::sessions::{AsyncSession, LazySession, SessionError, SessionOptions};
use uapi::status::Created;
use uapi::{handler, App, CookieSettings, Workers};

/// `GET /hello`.
#[handler]
async fn hello() -> &'static str {
    "hello"
}

/// `POST /login?user_id=N`: a write that needs no read (one round trip).
#[handler]
async fn login(session: AsyncSession, user_id: i64) -> Result<Created<()>, SessionError> {
    session.insert("user_id", user_id.to_string());
    session.update_session().await?;
    Ok(Created::new(()))
}

/// `GET /`: a session read (one round trip).
#[handler]
async fn index(session: AsyncSession) -> String {
    session.get("user_id").unwrap_or_else(|| "no user".to_owned())
}

/// `POST /touch`: a read-modify-write (load + save: two round trips).
#[handler]
async fn touch(session: AsyncSession) -> Result<String, SessionError> {
    let n = session.get("counter").and_then(|c| c.parse::<i64>().ok()).unwrap_or(0) + 1;
    session.insert("counter", n.to_string());
    session.update_session().await?;
    Ok(n.to_string())
}

/// `GET /` with `UAPI_SESSION=lazy`: reads the one field (one `HMGET`).
#[handler]
async fn index_lazy(session: LazySession) -> Result<String, SessionError> {
    Ok(session.get("user_id").await?.unwrap_or_else(|| "no user".to_owned()))
}

/// `POST /touch` with `UAPI_SESSION=lazy`: reads and saves the one field
/// (two round trips, whatever the session's size).
#[handler]
async fn touch_lazy(session: LazySession) -> Result<String, SessionError> {
    let n = session.get("counter").await?.and_then(|c| c.parse::<i64>().ok()).unwrap_or(0) + 1;
    session.insert("counter", n.to_string());
    session.update_session().await?;
    Ok(n.to_string())
}

/// `POST /fill?n=N&size=S`: sets keys `k0..k{N-1}` of the caller's session
/// to `S`-byte values and saves (the large-session scenarios fill a session
/// with it once, then read it or change one key).
#[handler]
async fn fill(session: AsyncSession, n: usize, size: usize) -> Result<&'static str, SessionError> {
    let value = "v".repeat(size.min(1 << 16));
    for i in 0..n.min(10_000) {
        session.insert(format!("k{i}"), value.clone());
    }
    session.update_session().await?;
    Ok("filled")
}

/// The bench server's settings: flags, or the environment bench/run.sh sets.
#[derive(clap::Parser, Debug)]
#[command(about = "uapi's load-benchmark server")]
struct Args {
    /// Port on 127.0.0.1.
    #[arg(long, env = "PORT", default_value_t = 8000)]
    port: u16,
    /// The Redis sessions live in.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// How to serve: `workers` (one runtime per core) or `multi-thread` (`app.bind`).
    #[arg(long, env = "UAPI_RUNTIME", default_value = "workers", value_parser = ["workers", "multi-thread"])]
    runtime: String,
    /// The Redis connection: `manager` (redis-rs) or `pipelined` (uapi's own).
    #[arg(long, env = "UAPI_REDIS", default_value = "manager", value_parser = ["manager", "pipelined"])]
    redis: String,
    /// The session type of `GET /` and `POST /touch`: `eager` (`AsyncSession`,
    /// the whole session read per request) or `lazy` (`LazySession`, only
    /// the field the route uses).
    #[arg(long, env = "UAPI_SESSION", default_value = "eager", value_parser = ["eager", "lazy"])]
    session: String,
    /// Replicas every session write waits for (`WAIT`); 0, the default, waits for none.
    #[arg(long, env = "UAPI_WAIT_REPLICAS", default_value_t = 0)]
    wait_replicas: u32,
    /// How long a write waits for them, in milliseconds.
    #[arg(long, env = "UAPI_WAIT_TIMEOUT_MS", default_value_t = 100)]
    wait_timeout_ms: u64,
    /// Worker threads with `--runtime workers`; 0, the default, is one per CPU.
    #[arg(long, env = "UAPI_WORKERS", default_value_t = 0)]
    workers: usize,
}

/// How the sessions reach Redis: the connection, and the replica wait.
#[derive(Clone, Copy)]
struct Backend {
    pipelined: bool,
    wait_replicas: u32,
    wait_timeout: Duration,
}

fn main() {
    let args = <Args as clap::Parser>::parse();
    let (port, url) = (args.port, args.redis_url.clone());
    let lazy = args.session == "lazy";
    let backend = Backend {
        pipelined: args.redis == "pipelined",
        wait_replicas: args.wait_replicas,
        wait_timeout: Duration::from_millis(args.wait_timeout_ms),
    };
    let served = match args.runtime.as_str() {
        "multi-thread" => serve_multi_thread(port, &url, backend, lazy),
        _ => serve_workers(port, url, backend, lazy, args.workers),
    };
    if let Err(e) = served {
        eprintln!("bench_server: {e}");
        std::process::exit(1);
    }
}

/// The routes, with sessions on `redis`.
fn app(redis: RedisBackend, lazy: bool) -> App {
    let mut app = App::new();
    let options = SessionOptions::default().cookie_settings(CookieSettings::default().secure(false));
    configure_async_sessions(&mut app, redis, options);
    app.get("/hello", hello).post("/login", login).post("/fill", fill);
    if lazy {
        app.get("/", index_lazy).post("/touch", touch_lazy);
    } else {
        app.get("/", index).post("/touch", touch);
    }
    app
}

/// One worker per core, each with its own runtime, app and Redis connection.
fn serve_workers(
    port: u16,
    url: String,
    backend: Backend,
    lazy: bool,
    threads: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut workers = Workers::new(("127.0.0.1", port));
    if threads > 0 {
        workers = workers.threads(threads);
    }
    let running = workers.start(move |_worker| {
        let url = url.clone();
        async move { Ok::<_, redis::RedisError>(app(connect(&url, backend).await?, lazy)) }
    })?;
    eprintln!("bench_server listening on http://{} (workers)", running.local_addr());
    Ok(running.wait()?)
}

/// `UAPI_RUNTIME=multi-thread`: `app.bind` on tokio's multi-thread runtime
/// (a thread per core, work stealing), one Redis connection for all.
fn serve_multi_thread(port: u16, url: &str, backend: Backend, lazy: bool) -> Result<(), Box<dyn std::error::Error>> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(async {
        let server = app(connect(url, backend).await?, lazy).bind(("127.0.0.1", port)).await?;
        eprintln!("bench_server listening on http://{} (multi-thread runtime)", server.local_addr());
        Ok(server.run().await?)
    })
}

/// A redis-rs `ConnectionManager`, or uapi's own connection, with 2 s bounds,
/// and the replica wait if one was asked for.
async fn connect(url: &str, backend: Backend) -> redis::RedisResult<RedisBackend> {
    let timeout = Duration::from_secs(2);
    let conn: RedisConnection = if backend.pipelined {
        PipelinedConnection::connect_with_timeouts(url, timeout, timeout).await?.into()
    } else {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        redis::Client::open(url)?.get_connection_manager_with_config(config).await?.into()
    };
    Ok(RedisBackend::new(conn).wait_for_replicas(backend.wait_replicas, backend.wait_timeout))
}
