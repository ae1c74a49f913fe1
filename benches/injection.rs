//! Injection overhead: a handler with three injected parameters (a path
//! parameter, a query parameter and a header) against the same logic written by
//! hand on hyper's types with matchit, both called in-process (no sockets).
//!
//! Run: `cargo bench --bench injection`.
//!
//! Timings on a shared machine are noisy; instruction counts are not. With
//! `INJECTION_COUNT=N` the binary skips criterion and answers N requests with
//! the variant named by `INJECTION_VARIANT` (`uapi`, `hand` or `none`, the cost
//! of building the requests alone), for `valgrind --tool=callgrind`:
//!
//! ```text
//! cargo bench --bench injection --no-run
//! for v in none hand uapi; do INJECTION_COUNT=20000 INJECTION_VARIANT=$v \
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/deps/injection-<hash> 2>&1 | grep refs; done
//! ```

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, Criterion};
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

/// Answers `n` requests with one variant, for instruction counting.
fn count(n: usize, variant: &str) {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let mut app = App::new();
    app.get("/users/{user_id}", greet);
    let service = app.build().expect("app builds");
    let hand = HandWritten::new();
    rt.block_on(async {
        for _ in 0..n {
            match variant {
                "uapi" => drop(black_box(service.handle(black_box(request())).await)),
                "hand" => drop(black_box(hand.handle(black_box(request())).await)),
                _ => drop(black_box(request())),
            }
        }
    });
}

criterion_group!(benches, bench);

fn main() {
    if let Some(n) = std::env::var("INJECTION_COUNT").ok().and_then(|n| n.parse().ok()) {
        count(n, &std::env::var("INJECTION_VARIANT").unwrap_or_default());
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
