//! actix-web 4 + actix-session's RedisSessionStore (redis-rs): the four bench routes.

use actix_session::storage::RedisSessionStore;
use actix_session::{Session, SessionMiddleware};
use actix_web::cookie::Key;
use actix_web::{web, App, HttpResponse, HttpServer};
use serde::Deserialize;

#[derive(Deserialize)]
struct Login {
    user_id: i64,
}

async fn hello() -> &'static str {
    "hello"
}

async fn login(session: Session, q: web::Query<Login>) -> actix_web::Result<HttpResponse> {
    session.insert("user_id", q.user_id)?;
    Ok(HttpResponse::Created().finish())
}

async fn index(session: Session) -> actix_web::Result<String> {
    let id: Option<i64> = session.get("user_id")?;
    Ok(id.map_or_else(|| "no user".to_owned(), |id| id.to_string()))
}

async fn touch(session: Session) -> actix_web::Result<String> {
    let n: i64 = session.get("counter")?.unwrap_or(0);
    session.insert("counter", n + 1)?;
    Ok((n + 1).to_string())
}

#[derive(Deserialize)]
struct Fill {
    n: usize,
    size: usize,
}

/// `POST /fill?n=N&size=S`: keys `k0..k{N-1}` of `S`-byte values, as uapi's bench server.
async fn fill(session: Session, q: web::Query<Fill>) -> actix_web::Result<&'static str> {
    let value = "v".repeat(q.size.min(1 << 16));
    for i in 0..q.n.min(10_000) {
        session.insert(format!("k{i}"), value.clone())?;
    }
    Ok("filled")
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let store = RedisSessionStore::new(uapi_bench_peers::redis_url()).await.expect("connect to Redis");
    let key = Key::generate();
    HttpServer::new(move || {
        App::new()
            .wrap(SessionMiddleware::builder(store.clone(), key.clone()).cookie_secure(false).build())
            .route("/hello", web::get().to(hello))
            .route("/login", web::post().to(login))
            .route("/", web::get().to(index))
            .route("/touch", web::post().to(touch))
            .route("/fill", web::post().to(fill))
    })
    .bind(uapi_bench_peers::bind_addr())?
    .run()
    .await
}
