//! axum 0.8 + tower-sessions + tower-sessions-redis-store (fred): the four bench routes.

use axum::extract::Query;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tower_sessions::{cookie::time::Duration, Expiry, Session, SessionManagerLayer};
use tower_sessions_redis_store::{fred::prelude::*, RedisStore};

#[derive(Deserialize)]
struct Login {
    user_id: i64,
}

async fn hello() -> &'static str {
    "hello"
}

async fn login(session: Session, Query(q): Query<Login>) -> Result<StatusCode, StatusCode> {
    session.insert("user_id", q.user_id).await.map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(StatusCode::CREATED)
}

async fn index(session: Session) -> Result<String, StatusCode> {
    let id: Option<i64> = session.get("user_id").await.map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    Ok(id.map_or_else(|| "no user".to_owned(), |id| id.to_string()))
}

async fn touch(session: Session) -> Result<String, StatusCode> {
    let n: i64 = session.get("counter").await.map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?.unwrap_or(0);
    session.insert("counter", n + 1).await.map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok((n + 1).to_string())
}

#[derive(Deserialize)]
struct Fill {
    n: usize,
    size: usize,
}

/// `POST /fill?n=N&size=S`: keys `k0..k{N-1}` of `S`-byte values, as uapi's bench server.
async fn fill(session: Session, Query(q): Query<Fill>) -> Result<&'static str, StatusCode> {
    let value = "v".repeat(q.size.min(1 << 16));
    for i in 0..q.n.min(10_000) {
        session.insert(&format!("k{i}"), value.clone()).await.map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    }
    Ok("filled")
}

#[tokio::main]
async fn main() {
    let config = Config::from_url(&uapi_bench_peers::redis_url()).expect("REDIS_URL");
    let pool = Pool::new(config, None, None, None, 2).expect("fred pool");
    pool.init().await.expect("connect to Redis");
    let store = RedisStore::new(pool);
    let sessions =
        SessionManagerLayer::new(store).with_secure(false).with_expiry(Expiry::OnInactivity(Duration::days(14)));
    let app = Router::new()
        .route("/hello", get(hello))
        .route("/login", post(login))
        .route("/", get(index))
        .route("/touch", post(touch))
        .route("/fill", post(fill))
        .layer(sessions);
    let listener = tokio::net::TcpListener::bind(uapi_bench_peers::bind_addr()).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
