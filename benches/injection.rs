//! Injection overhead: a handler with three injected parameters (a path
//! parameter, a query parameter and a header) against the same logic written by
//! hand on hyper's types with matchit, both called in-process (no sockets).
//!
//! Run: `cargo bench --bench injection`.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use uapi::{handler, App, Header, RequestBody};

#[handler]
async fn greet(user_id: i64, greeting: String, api_key: Header<String>) -> String {
    format!("{greeting} {user_id} ({})", api_key.0.len())
}

/// The same routing, parsing and response, by hand.
struct HandWritten {
    router: matchit::Router<u8>,
}

impl HandWritten {
    fn new() -> Self {
        let mut router = matchit::Router::new();
        router.insert("/users/{user_id}", 0).expect("route");
        HandWritten { router }
    }

    async fn handle(&self, req: Request<RequestBody>) -> Response<Full<Bytes>> {
        let bad = |msg: &str| {
            let mut r = Response::new(Full::new(Bytes::from(msg.to_owned())));
            *r.status_mut() = StatusCode::BAD_REQUEST;
            r
        };
        let (parts, _body) = req.into_parts();
        let Ok(m) = self.router.at(parts.uri.path()) else {
            let mut r = Response::new(Full::new(Bytes::from_static(b"not found")));
            *r.status_mut() = StatusCode::NOT_FOUND;
            return r;
        };
        let Some(Ok(user_id)) = m.params.get("user_id").map(|v| v.parse::<i64>()) else {
            return bad("invalid user_id");
        };
        let query = parts.uri.query().unwrap_or("");
        // Owned, as the handler receives them.
        let Some(greeting) =
            form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "greeting").map(|(_, v)| v.into_owned())
        else {
            return bad("missing greeting");
        };
        let Some(api_key) = parts.headers.get("api-key").and_then(|v| v.to_str().ok()).map(str::to_owned) else {
            return bad("missing api-key");
        };
        let body = format!("{greeting} {user_id} ({})", api_key.len());
        let mut r = Response::new(Full::new(Bytes::from(body)));
        r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; charset=utf-8"));
        r
    }
}

fn request() -> Request<RequestBody> {
    Request::builder()
        .uri("/users/42?greeting=hello")
        .header("api-key", "secret-key")
        .body(RequestBody::Empty)
        .expect("request")
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let mut app = App::new();
    app.get("/users/{user_id}", greet);
    let service = app.build().expect("app builds");
    let hand = HandWritten::new();

    // Both give the same answer.
    let a = rt.block_on(service.handle(request()));
    let b = rt.block_on(hand.handle(request()));
    assert_eq!(a.status(), b.status());

    let mut group = c.benchmark_group("three injected parameters");
    group.bench_function("uapi #[handler]", |bench| {
        bench.to_async(&rt).iter(|| async { black_box(service.handle(black_box(request())).await) })
    });
    group.bench_function("hand-written on hyper types + matchit", |bench| {
        bench.to_async(&rt).iter(|| async { black_box(hand.handle(black_box(request())).await) })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
