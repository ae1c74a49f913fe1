//! Session overhead, in-process (no sockets, no Redis):
//!
//! - finding the session cookie in a realistic `Cookie` header and validating
//!   it as a [`SessionId`] (what every session request does first);
//! - a session read (`GET /`) and a read-modify-write (`POST /touch`) through a
//!   built app on [`MemoryStore`]: provider, load, the handler, save (the
//!   "encode/decode" of a session), against `GET /hello` on the same app.
//!
//! Run: `cargo bench --bench sessions`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use http::{header::COOKIE, HeaderMap, HeaderValue, Method, Request};
use uapi::sessions::{configure_sessions, AsyncSession, MemoryStore, SessionError, SessionId, SessionOptions};
use uapi::status::Created;
use uapi::{handler, App, AppService, CookieSettings, Cookies, RequestBody};

#[handler]
async fn hello() -> &'static str {
    "hello"
}

#[handler]
async fn login(session: AsyncSession, user_id: i64) -> Result<Created<()>, SessionError> {
    session.insert("user_id", user_id.to_string());
    session.update_session().await?;
    Ok(Created::new(()))
}

#[handler]
async fn index(session: AsyncSession) -> String {
    session.get("user_id").unwrap_or_else(|| "no user".to_owned())
}

#[handler]
async fn touch(session: AsyncSession) -> Result<String, SessionError> {
    let n = session.get("counter").and_then(|c| c.parse::<i64>().ok()).unwrap_or(0) + 1;
    session.insert("counter", n.to_string());
    session.update_session().await?;
    Ok(n.to_string())
}

const ID: &str = "q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c";

fn cookie_header(id: &str) -> String {
    format!("_ga=GA1.1.123456789.1700000000; theme=dark; session_id={id}; lang=en-GB")
}

fn request(method: Method, uri: &str, cookie: Option<&str>) -> Request<RequestBody> {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(c) = cookie {
        b = b.header(COOKIE, c);
    }
    b.body(RequestBody::Empty).expect("request")
}

fn cookie_parsing(c: &mut Criterion) {
    let mut headers = HeaderMap::new();
    headers.insert(COOKIE, HeaderValue::from_str(&cookie_header(ID)).expect("header"));
    assert!(Cookies::find(&headers, "session_id").and_then(|v| SessionId::parse(&v)).is_some());

    let mut group = c.benchmark_group("session cookie");
    group.bench_function("find in a 4-cookie header + SessionId::parse", |b| {
        b.iter(|| Cookies::find(black_box(&headers), "session_id").and_then(|v| SessionId::parse(&v)))
    });
    group.bench_function("SessionId::parse (43 chars)", |b| b.iter(|| SessionId::parse(black_box(ID))));
    group.bench_function("SessionId::parse rejects 8 KiB", |b| {
        let long = "A".repeat(8 * 1024);
        b.iter(|| SessionId::parse(black_box(&long)))
    });
    group.bench_function("SessionId::generate", |b| b.iter(SessionId::generate));
    group.finish();
}

fn app() -> AppService {
    let mut app = App::new();
    let options = SessionOptions::default().cookie_settings(CookieSettings::default().secure(false));
    configure_sessions(&mut app, MemoryStore::new(), options);
    app.get("/hello", hello).post("/login", login).get("/", index).post("/touch", touch);
    app.build().expect("app builds")
}

fn through_the_app(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let service = app();
    // Log in once; the benchmarks reuse that session's cookie.
    let r = rt.block_on(service.handle(request(Method::POST, "/login?user_id=7", None)));
    assert_eq!(r.status(), 201);
    let set_cookie = r.headers().get(http::header::SET_COOKIE).expect("Set-Cookie").to_str().expect("ascii");
    let id = set_cookie.split(';').next().and_then(|kv| kv.strip_prefix("session_id=")).expect("session_id");
    let cookie = cookie_header(id);
    let r = rt.block_on(service.handle(request(Method::GET, "/", Some(&cookie))));
    assert_eq!(r.status(), 200);
    let r = rt.block_on(service.handle(request(Method::POST, "/touch", Some(&cookie))));
    assert_eq!(r.status(), 200);

    let mut group = c.benchmark_group("sessions through the app (MemoryStore)");
    group.bench_function("GET /hello (no session)", |b| {
        b.to_async(&rt).iter(|| async { black_box(service.handle(request(Method::GET, "/hello", None)).await) })
    });
    group.bench_function("GET / (load, read a key)", |b| {
        b.to_async(&rt).iter(|| async { black_box(service.handle(request(Method::GET, "/", Some(&cookie))).await) })
    });
    group.bench_function("POST /touch (load, change a key, save)", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(service.handle(request(Method::POST, "/touch", Some(&cookie))).await) })
    });
    group.finish();
}

criterion_group!(benches, cookie_parsing, through_the_app);
criterion_main!(benches);
