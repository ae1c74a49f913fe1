//! Limits over a real socket: what the server does with an oversized header,
//! too many headers, a very long URL (HTTP/1.1 and h2c), and hundreds of idle
//! connections; after each, it still serves a normal request.
//!
//! The figures are hyper's, as configured in `uapi/src/server.rs`: a 64 KiB
//! HTTP/1 read buffer (`max_buf_size`), hyper's default of 100 headers, a
//! 64 KiB HTTP/2 header list (`max_header_list_size`) and the header-read
//! timeout (also applied before the first byte and to the HTTP/2 preface).

mod hardening;

use std::time::{Duration, Instant};

use bytes::Bytes;
use hardening::{http1_client, http2_client, raw_exchange, Running, PATIENCE};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uapi::{handler, App};

#[handler]
async fn hello() -> &'static str {
    "hello"
}

#[handler]
async fn item(id: String) -> String {
    format!("{} bytes", id.len())
}

fn app(header_read_timeout: Duration) -> App {
    let mut app = App::new();
    app.get("/", hello).get("/items/{id}", item).header_read_timeout(header_read_timeout);
    app
}

/// A normal request on a fresh connection is a 200 `hello`.
async fn still_serves(server: &Running) {
    let reply = raw_exchange(server.addr, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert_eq!(reply.status(), Some(200), "{:?}", String::from_utf8_lossy(&reply.bytes));
    assert!(String::from_utf8_lossy(&reply.bytes).ends_with("hello"));
}

fn head(path: &str, extra: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n").into_bytes()
}

/// One 100 KB header is past the 64 KiB read buffer: hyper answers 431 and closes.
#[tokio::test]
async fn a_100_kb_header_is_431_and_the_server_keeps_serving() {
    let server = Running::start(&app(Duration::from_secs(5))).await;
    let big = format!("X-Big: {}\r\n", "a".repeat(100 * 1024));
    let reply = raw_exchange(server.addr, &head("/", &big)).await;
    assert_eq!(reply.status(), Some(431), "{:?}", String::from_utf8_lossy(&reply.bytes[..reply.bytes.len().min(200)]));
    assert!(reply.closed);
    still_serves(&server).await;
    server.shutdown().await;
}

/// 200 small headers are past hyper's 100: 431 and closed.
#[tokio::test]
async fn two_hundred_headers_are_431_and_the_server_keeps_serving() {
    let server = Running::start(&app(Duration::from_secs(5))).await;
    let many: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    let reply = raw_exchange(server.addr, &head("/", &many)).await;
    assert_eq!(reply.status(), Some(431));
    assert!(reply.closed);
    // 90 headers (under the limit) are fine.
    let some: String = (0..90).map(|i| format!("X-H{i}: v\r\n")).collect();
    assert_eq!(raw_exchange(server.addr, &head("/", &some)).await.status(), Some(200));
    still_serves(&server).await;
    server.shutdown().await;
}

/// A 64 KiB URL does not fit the read buffer: 431 (hyper reports the whole
/// head as too large before it can single out the URI); a 16 KiB one is
/// routed normally. Neither is a 5xx.
#[tokio::test]
async fn a_64_kib_url_is_431_and_a_16_kib_one_is_served() {
    let server = Running::start(&app(Duration::from_secs(5))).await;
    let huge = format!("/items/{}", "a".repeat(64 * 1024));
    let reply = raw_exchange(server.addr, &head(&huge, "")).await;
    assert_eq!(reply.status(), Some(431));
    let long = format!("/items/{}", "a".repeat(16 * 1024));
    let reply = raw_exchange(server.addr, &head(&long, "")).await;
    assert_eq!(reply.status(), Some(200));
    assert!(String::from_utf8_lossy(&reply.bytes).ends_with(&format!("{} bytes", 16 * 1024)));
    let query = format!("/?q={}", "%41".repeat(20 * 1024));
    assert_eq!(raw_exchange(server.addr, &head(&query, "")).await.status(), Some(200));
    still_serves(&server).await;
    server.shutdown().await;
}

/// Over h2c, a header list past 64 KiB is refused: the h2 server answers 431
/// on that stream; the same connection then serves normal requests.
#[tokio::test]
async fn an_oversized_http2_header_list_is_refused_without_a_5xx() {
    let server = Running::start(&app(Duration::from_secs(5))).await;
    let client = http2_client();
    let request = Request::get(format!("http://{}/", server.addr))
        .header("x-big", "a".repeat(100 * 1024))
        .body(Full::<Bytes>::default())
        .expect("request");
    let response = tokio::time::timeout(PATIENCE, client.request(request)).await.expect("in time").expect("response");
    assert_eq!(response.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let ok = Request::get(format!("http://{}/", server.addr)).body(Full::<Bytes>::default()).expect("request");
    let response = tokio::time::timeout(PATIENCE, client.request(ok)).await.expect("in time").expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.into_body().collect().await.expect("body").to_bytes(), "hello");
    server.shutdown().await;
}

/// 500 connections that send nothing: a normal client is served promptly
/// meanwhile, and the header-read timeout closes every one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_idle_connections_are_closed_and_others_are_served_meanwhile() {
    // Timed: not side by side with the 500 idle connections (or them with it).
    let _turn = hardening::one_at_a_time().await;
    let timeout = Duration::from_millis(1500);
    let server = Running::start(&app(timeout)).await;
    let opened = Instant::now();
    let mut idle = Vec::new();
    for _ in 0..500 {
        idle.push(TcpStream::connect(server.addr).await.expect("connects"));
    }
    let client = http1_client();
    for _ in 0..5 {
        let start = Instant::now();
        let request = Request::get(format!("http://{}/", server.addr)).body(Full::<Bytes>::default()).expect("req");
        let response = tokio::time::timeout(PATIENCE, client.request(request)).await.expect("in time").expect("resp");
        assert_eq!(response.status(), StatusCode::OK);
        assert!(start.elapsed() < Duration::from_millis(500), "a normal request took {:?}", start.elapsed());
    }
    let waits = idle.into_iter().map(|mut s| {
        tokio::spawn(async move {
            let mut buf = [0u8; 64];
            // EOF or a reset: closed by the server.
            matches!(s.read(&mut buf).await, Ok(0) | Err(_))
        })
    });
    for w in waits {
        let closed = tokio::time::timeout(PATIENCE, w).await.expect("closed in time").expect("task");
        assert!(closed, "an idle connection got bytes");
    }
    let took = opened.elapsed();
    assert!(took >= timeout && took < timeout + Duration::from_secs(5), "closed after {took:?}");
    still_serves(&server).await;
    server.shutdown().await;
}

/// A kept-alive connection that goes quiet after its first request is closed
/// by the header-read timeout too (it waits for the next head).
#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_read_timeout() {
    // Timed: not side by side with the 500 idle connections (or them with it).
    let _turn = hardening::one_at_a_time().await;
    let timeout = Duration::from_millis(500);
    let server = Running::start(&app(timeout)).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connects");
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("writes");
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&seen).ends_with("hello") {
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf)).await.expect("in time").expect("reads");
        assert!(n > 0, "closed before answering");
        seen.extend_from_slice(&buf[..n]);
    }
    let quiet = Instant::now();
    let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf)).await.expect("closed in time").unwrap_or(0);
    assert_eq!(n, 0, "unexpected bytes on an idle connection");
    assert!(quiet.elapsed() >= timeout / 2, "closed after {:?}", quiet.elapsed());
    still_serves(&server).await;
    server.shutdown().await;
}

#[handler]
async fn upload(body: uapi::ReqBytes) -> String {
    format!("{} bytes", body.0.len())
}

/// A client that sends its head, then trickles its body and stops, gets a 408
/// once the body-read timeout passes, and the server keeps serving.
#[tokio::test]
async fn a_body_that_stops_arriving_is_408_after_the_body_read_timeout() {
    // Timed: not side by side with the 500 idle connections (or them with it).
    let _turn = hardening::one_at_a_time().await;
    let mut app = app(Duration::from_secs(5));
    app.post("/upload", upload).body_read_timeout(Duration::from_millis(300));
    let server = Running::start(&app).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let started = Instant::now();
    stream
        .write_all(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nConnection: close\r\n\r\nab")
        .await
        .expect("write");
    let mut reply = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut reply)).await.expect("answered").expect("read");
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("HTTP/1.1 408"), "{text:?}");
    assert!(started.elapsed() >= Duration::from_millis(300), "not before the timeout");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    still_serves(&server).await;
    server.shutdown().await;
}
