//! Tower middleware on uapi's own server: each tower-http layer through a real
//! socket, on `app.bind` and on `Workers`, with uapi's header-read timeout and
//! graceful shutdown still working with layers on; and `()`/`Option` answers.

mod hardening;

use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use hardening::{http1_client, Running, PATIENCE};
use http::{header, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;
use tower_http::compression::CompressionLayer;
use tower_http::cors::CorsLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use uapi::testing::TestClient;
use uapi::{handler, App, RequestBody, Workers};

const ORIGIN: &str = "https://app.example";

/// A body long enough to be compressed (tower-http skips bodies under 32 bytes).
fn long_text() -> String {
    "uapi ".repeat(200)
}

#[handler]
async fn text() -> String {
    long_text()
}

/// The body, as read through the layers (one of which limits it).
#[handler]
async fn echo(body: uapi::ReqBytes) -> Vec<u8> {
    body.0.to_vec()
}

/// Waits until the test releases it (app state), then answers.
#[derive(Clone)]
struct Gate(Arc<Notify>, Arc<Notify>);

#[handler]
async fn held(gate: Gate) -> &'static str {
    gate.0.notify_one();
    gate.1.notified().await;
    "released"
}

/// Never answers by itself: the timeout layer must.
#[handler]
async fn stuck() -> &'static str {
    std::future::pending::<()>().await;
    "never"
}

/// Request ids 1, 2, ... unique in this test binary, so a test can find its
/// own in the shared log.
#[derive(Clone, Default)]
struct Counter;

impl MakeRequestId for Counter {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        HeaderValue::from_str(&format!("test-{n}")).ok().map(RequestId::new)
    }
}

/// Everything traced in this binary, for the request-id assertions.
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || SharedWriter(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber per test binary");
        buffer
    })
}

struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The app under test: the routes and the five layers (the last added sees a
/// request first), with a short header-read timeout.
fn layered_app(gate: Gate) -> App {
    let mut app = App::new();
    let trace = TraceLayer::new_for_http().make_span_with(|request: &Request<RequestBody>| {
        let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
        tracing::info_span!("request", %id, path = %request.uri().path())
    });
    app.provide_value(gate)
        .get("/text", text)
        .get("/held", held)
        .get("/stuck", stuck)
        .post("/echo", echo)
        .header_read_timeout(Duration::from_millis(300))
        .shutdown_grace(PATIENCE)
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_millis(200)))
        .layer(CompressionLayer::new())
        .layer(RequestBodyLimitLayer::new(1024))
        .layer(
            CorsLayer::new().allow_origin(HeaderValue::from_static(ORIGIN)).allow_methods([Method::GET, Method::POST]),
        )
        .layer(trace)
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(Counter));
    app
}

fn gate() -> Gate {
    Gate(Arc::new(Notify::new()), Arc::new(Notify::new()))
}

/// One request over a fresh HTTP/1.1 client: status, headers, raw body.
async fn send(addr: SocketAddr, request: Request<Full<Bytes>>) -> (StatusCode, http::HeaderMap, Bytes) {
    let (parts, body) = request.into_parts();
    let mut parts = parts;
    parts.uri = format!("http://{addr}{}", parts.uri).parse().expect("uri");
    let response = tokio::time::timeout(PATIENCE, http1_client().request(Request::from_parts(parts, body)))
        .await
        .expect("answered in time")
        .expect("response");
    let (parts, body) = response.into_parts();
    (parts.status, parts.headers, body.collect().await.expect("body").to_bytes())
}

fn get(path: &str) -> http::request::Builder {
    Request::get(path)
}

/// What every layer must do, on a server at `addr`.
async fn every_layer_works(addr: SocketAddr) {
    // CORS: a preflight from the allowed origin is answered by the layer.
    let preflight = Request::builder()
        .method(Method::OPTIONS)
        .uri("/text")
        .header(header::ORIGIN, ORIGIN)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .body(Full::default())
        .expect("request");
    let (status, headers, _) = send(addr, preflight).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], ORIGIN);
    assert!(headers[header::ACCESS_CONTROL_ALLOW_METHODS].to_str().expect("ascii").contains("POST"));

    // Compression: gzip, decoded by the client to the handler's body.
    let request = get("/text").header(header::ACCEPT_ENCODING, "gzip").body(Full::default()).expect("request");
    let (status, headers, body) = send(addr, request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
    assert!(body.len() < long_text().len(), "compressed: {} bytes", body.len());
    let mut plain = String::new();
    flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut plain).expect("gzip");
    assert_eq!(plain, long_text());
    // And the client that accepts none gets the plain body.
    let (_, headers, body) = send(addr, get("/text").body(Full::default()).expect("request")).await;
    assert!(headers.get(header::CONTENT_ENCODING).is_none());
    assert_eq!(body, long_text());

    // Request ids: set, echoed on the response, and in the trace logs.
    let (_, headers, _) = send(addr, get("/text").body(Full::default()).expect("request")).await;
    let id = headers["x-request-id"].to_str().expect("ascii").to_owned();
    assert!(id.starts_with("test-"), "{id}");
    let logged = String::from_utf8_lossy(&logs().lock().unwrap_or_else(PoisonError::into_inner)).into_owned();
    assert!(logged.contains(&format!("id={id}")), "{id} not in the logs");
    // A client's own id is kept and echoed.
    let mine = get("/text").header("x-request-id", "client-42").body(Full::default()).expect("request");
    assert_eq!(send(addr, mine).await.1["x-request-id"], "client-42");

    // Body limit: the layer refuses a body over its limit; one under it
    // reaches the handler whole through the layer's own body type.
    let big = Request::post("/echo").body(Full::new(Bytes::from(vec![b'x'; 2048]))).expect("request");
    assert_eq!(send(addr, big).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    let small = Request::post("/echo").body(Full::new(Bytes::from_static(b"hello layers"))).expect("request");
    assert_eq!(send(addr, small).await.2, Bytes::from_static(b"hello layers"));

    // Timeout: a handler that never answers is a 408 from the layer.
    let (status, _, _) = send(addr, get("/stuck").body(Full::default()).expect("request")).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);

    // uapi's own header-read timeout still closes a connection that sends
    // half a request head.
    let mut slow = tokio::net::TcpStream::connect(addr).await.expect("connect");
    slow.write_all(b"GET /text HTTP/1.1\r\nHost: x\r\n").await.expect("write");
    let mut rest = Vec::new();
    let read = tokio::time::timeout(PATIENCE, slow.read_to_end(&mut rest)).await.expect("closed in time");
    assert!(read.is_ok() || !rest.is_empty(), "{read:?}");
}

/// Every tower-http layer on `app.bind`: CORS preflight, gzip, request ids
/// echoed and logged, a 408 from the timeout layer, and uapi's header-read
/// timeout and graceful shutdown kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tower_http_layers_work_on_bind() {
    logs();
    let gate = gate();
    let server = Running::start(&layered_app(gate.clone())).await;
    every_layer_works(server.addr).await;

    // Graceful shutdown with layers on: a request in flight finishes.
    let addr = server.addr;
    let in_flight = tokio::spawn(async move { send(addr, get("/held").body(Full::default()).expect("request")).await });
    gate.0.notified().await;
    let shutdown = tokio::spawn(server.shutdown());
    gate.1.notify_one();
    let (status, _, body) = in_flight.await.expect("request task");
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"released"[..]));
    tokio::time::timeout(PATIENCE, shutdown).await.expect("shut down in time").expect("shutdown task");
}

/// The same layers on `Workers`, each worker with its own app.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tower_http_layers_work_on_workers() {
    logs();
    let gate = gate();
    let shared = gate.clone();
    let running = Workers::new("127.0.0.1:0")
        .threads(2)
        .start(move |_| {
            let gate = shared.clone();
            async move { Ok::<_, std::io::Error>(layered_app(gate)) }
        })
        .expect("workers start");
    let addr = running.local_addr();
    // Twice: consecutive connections go to both workers.
    every_layer_works(addr).await;
    every_layer_works(addr).await;

    let in_flight = tokio::spawn(async move { send(addr, get("/held").body(Full::default()).expect("request")).await });
    gate.0.notified().await;
    let shutdown = tokio::task::spawn_blocking(move || running.shutdown());
    gate.1.notify_one();
    let (status, _, body) = in_flight.await.expect("request task");
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"released"[..]));
    tokio::time::timeout(PATIENCE, shutdown).await.expect("shut down in time").expect("join").expect("clean");
}

#[handler]
async fn nothing() {}

#[handler]
async fn maybe(found: bool) -> Option<String> {
    found.then(|| "here".to_owned())
}

#[handler]
async fn bytes() -> Vec<u8> {
    vec![1, 2, 3]
}

/// uapi's return semantics: `()` is a 204 with no body and no content type,
/// `Option<T>` is T's answer or a 204, text is text/plain with a charset,
/// bytes application/octet-stream.
#[tokio::test]
async fn unit_is_204_option_is_t_or_204_and_bodies_have_their_content_types() {
    let mut app = App::new();
    app.get("/nothing", nothing).get("/maybe", maybe).get("/bytes", bytes);
    let c = TestClient::new(&app).expect("builds");
    let r = c.get("/nothing").send().await;
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty() && r.headers.get(header::CONTENT_TYPE).is_none(), "{:?}", r.headers);
    let r = c.get("/maybe?found=true").send().await;
    assert_eq!((r.status.as_u16(), r.text().as_str()), (200, "here"));
    assert_eq!(r.headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    let r = c.get("/maybe?found=false").send().await;
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty() && r.headers.get(header::CONTENT_TYPE).is_none());
    let r = c.get("/bytes").send().await;
    assert_eq!((r.status.as_u16(), &r.body[..]), (200, &[1u8, 2, 3][..]));
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/octet-stream");
}
