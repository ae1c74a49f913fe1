//! The defaults, at their real values, on apps that set none of them: the
//! 2 MiB body limit, the 10 s header-read timeout, the 30 s body-read
//! timeout, the 10 s shutdown grace, the session store's 2 s Redis command
//! timeout and the 14-day session lifetime (cookie `Max-Age` and Redis TTL).
//!
//! The time-bounded ones run on a paused tokio clock: every timer involved is
//! tokio's (hyper's header-read timeout through hyper-util's `TokioTimer`,
//! whose `sleep`/`now` are `tokio::time`'s), so the runtime jumps straight to
//! the next deadline when nothing else can run, and a 30 s wait takes no
//! time. Virtual time is exact: each test checks that the deadline falls on
//! the default, not before and not after.
//!
//! Under a paused clock, a runtime with nothing to run advances to the next
//! timer even while a socket's bytes are on their way, so these tests never
//! block on I/O while a timer they do not mean is pending: they let the
//! server take in what was sent by yielding ([`settle`]), which polls I/O
//! without moving the clock, and they bound their own waits with a
//! real-time guard ([`within`]) rather than a tokio timer.

mod support;

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http::Request;
use http_body_util::StreamBody;
use hyper::body::Frame;
use support::redis_server::RedisServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;
use uapi::sessions::redis::{configure_async_sessions, RedisBackend};
use uapi::sessions::{AsyncSession, SessionError, SessionOptions};
use uapi::testing::TestClient;
use uapi::{handler, App, ReqBytes, RequestBody};

/// The documented defaults.
const BODY_LIMIT: usize = 2 * 1024 * 1024;
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
const MAX_AGE: Duration = Duration::from_secs(14 * 24 * 3600);

/// How far past its deadline a timer may be seen to fire on the paused clock
/// (tokio's timers have a 1 ms resolution).
const TICK: Duration = Duration::from_millis(5);

/// Real time a test may take before it is declared stuck.
const PATIENCE: Duration = Duration::from_secs(30);

/// `fut`, or a panic saying `what` never happened within [`PATIENCE`] of
/// real time. The guard is a thread, not a tokio timer, so it does not move
/// a paused clock.
async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    let (expired, guard) = oneshot::channel::<()>();
    std::thread::spawn(move || {
        std::thread::sleep(PATIENCE);
        let _ = expired.send(());
    });
    tokio::select! {
        out = fut => out,
        _ = guard => panic!("{what}: not within {PATIENCE:?} (real time)"),
    }
}

/// Lets the server take in what the test sent (accept, read, parse) without
/// moving the paused clock: a yielding task keeps the runtime from parking,
/// so it polls I/O with a zero timeout and never advances time. Loopback
/// bytes are there at once; the real-time floor is slack for a loaded machine.
async fn settle() {
    let started = std::time::Instant::now();
    let mut yields = 0;
    while yields < 1000 || started.elapsed() < Duration::from_millis(50) {
        tokio::task::yield_now().await;
        yields += 1;
    }
}

/// Asserts that a deadline of `expected` from `since` was met on the paused
/// clock: not before, and not later than a tick after.
#[track_caller]
fn assert_fired_at(what: &str, since: Instant, expected: Duration) {
    assert_took(what, since.elapsed(), expected);
}

/// Asserts that `took` is `expected` on the paused clock, to a tick.
#[track_caller]
fn assert_took(what: &str, took: Duration, expected: Duration) {
    assert!(took >= expected && took < expected + TICK, "{what} after {took:?}, expected {expected:?}");
}

/// Reads until the server closes the connection; what it sent.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return seen,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

#[handler]
async fn upload(body: ReqBytes) -> String {
    format!("{} bytes", body.0.len())
}

#[handler]
async fn hello() -> &'static str {
    "hello"
}

/// An app that sets none of the defaults.
fn default_app() -> App {
    let mut app = App::new();
    app.get("/", hello).post("/upload", upload);
    app
}

/// A body of exactly 2 MiB is read, one byte more is a 413: announced by
/// `Content-Length` (refused before reading), sent without one, or streamed
/// in chunks of unknown total length.
#[tokio::test]
async fn the_default_body_limit_is_exactly_2_mib() {
    let client = TestClient::new(&default_app()).expect("builds");
    for size in [BODY_LIMIT, BODY_LIMIT + 1] {
        let expected = if size <= BODY_LIMIT { 200 } else { 413 };
        let announced =
            client.post("/upload").header("content-length", &size.to_string()).body(vec![b'x'; size]).send().await;
        assert_eq!(announced.status, expected, "{size} bytes with Content-Length");
        let unannounced = client.post("/upload").body(vec![b'x'; size]).send().await;
        assert_eq!(unannounced.status, expected, "{size} bytes without Content-Length");
        if expected == 200 {
            assert_eq!(unannounced.text(), format!("{BODY_LIMIT} bytes"));
        }
        // 64 KiB chunks, the last one holding what is left.
        let chunks = (0..size.div_ceil(64 * 1024)).map(move |i| {
            let len = (size - i * 64 * 1024).min(64 * 1024);
            Ok::<_, std::io::Error>(Frame::data(Bytes::from(vec![b'y'; len])))
        });
        let body = RequestBody::new(StreamBody::new(stream::iter(chunks)));
        let response = client.service().handle(Request::post("/upload").body(body).expect("request")).await;
        assert_eq!(response.status(), expected, "{size} bytes streamed");
    }
    assert_eq!(uapi::DEFAULT_BODY_LIMIT, BODY_LIMIT, "the public constant says so too");
}

/// A client that sends part of a request head and stops is disconnected 10 s
/// later, not before; one that sends nothing at all too (that wait is uapi's,
/// before hyper knows the protocol).
#[tokio::test(start_paused = true)]
async fn the_default_header_read_timeout_closes_a_stalled_connection_after_10_s() {
    let server = Served::start(&default_app()).await;
    let mut partial = TcpStream::connect(server.addr).await.expect("connects");
    partial.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.expect("writes");
    let mut silent = TcpStream::connect(server.addr).await.expect("connects");
    settle().await;
    let since = Instant::now();
    let seen = within("the partial head is closed", read_until_closed(&mut partial)).await;
    assert!(seen.is_empty() || !String::from_utf8_lossy(&seen).contains("200"), "{seen:?}");
    assert_fired_at("a partial head was closed", since, HEADER_READ_TIMEOUT);
    let seen = within("the silent connection is closed", read_until_closed(&mut silent)).await;
    assert!(seen.is_empty(), "{seen:?}");
    assert_fired_at("a silent connection was closed", since, HEADER_READ_TIMEOUT);
    server.shutdown().await;
}

/// A client that sends its head and part of its body, then stops, gets a 408
/// 30 s later, not before.
#[tokio::test(start_paused = true)]
async fn the_default_body_read_timeout_is_a_408_after_30_s() {
    let server = Served::start(&default_app()).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connects");
    stream
        .write_all(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nConnection: close\r\n\r\nab")
        .await
        .expect("writes");
    settle().await;
    let since = Instant::now();
    let seen = within("the 408", read_until_closed(&mut stream)).await;
    let text = String::from_utf8_lossy(&seen);
    assert!(text.starts_with("HTTP/1.1 408"), "{text:?}");
    assert_fired_at("the 408 came", since, BODY_READ_TIMEOUT);
    server.shutdown().await;
}

/// What the handlers of the grace test have reached.
#[derive(Clone)]
struct Started(watch::Sender<usize>);

/// `GET /nine`: takes 9 s, under the grace.
#[handler]
async fn nine(started: Started) -> &'static str {
    started.0.send_modify(|n| *n += 1);
    tokio::time::sleep(Duration::from_secs(9)).await;
    "nine"
}

/// `GET /stuck`: never ends.
#[handler]
async fn stuck(started: Started) -> &'static str {
    started.0.send_modify(|n| *n += 1);
    std::future::pending::<()>().await;
    "never"
}

/// On shutdown the server waits for the requests in flight for 10 s: one
/// that takes 9 s gets its 200, and one that never ends holds the shutdown
/// exactly 10 s, then `run_until` returns `Ok` without it.
#[tokio::test(start_paused = true)]
async fn the_default_shutdown_grace_waits_10_s_for_requests_in_flight() {
    let started = Started(watch::Sender::new(0));
    let mut app = default_app();
    app.provide_value(started.clone()).get("/nine", nine).get("/stuck", stuck);
    let server = Served::start(&app).await;
    let mut nine = TcpStream::connect(server.addr).await.expect("connects");
    nine.write_all(b"GET /nine HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.expect("writes");
    let mut stuck = TcpStream::connect(server.addr).await.expect("connects");
    stuck.write_all(b"GET /stuck HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.expect("writes");
    // Both handlers run; yielding (not parking) keeps the clock still.
    within("both handlers started", async {
        while *started.0.borrow() < 2 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let since = Instant::now();
    let nine = tokio::spawn(async move {
        let seen = read_until_closed(&mut nine).await;
        (String::from_utf8_lossy(&seen).into_owned(), since.elapsed())
    });
    server.stop.send(()).expect("the server runs");
    let result = within("run_until returns", server.task).await.expect("the server task");
    assert!(result.is_ok(), "{result:?}");
    assert_fired_at("run_until returned", since, SHUTDOWN_GRACE);
    let (text, took) = within("the 9 s request is answered", nine).await.expect("task");
    assert!(text.starts_with("HTTP/1.1 200") && text.ends_with("nine"), "{text:?}");
    assert_took("the 9 s request was answered", took, Duration::from_secs(9));
    // The stuck request got nothing: the grace ran out, not the handler.
    let mut buf = [0u8; 64];
    assert!(matches!(stuck.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock));
}

#[handler]
async fn read_session(session: AsyncSession) -> String {
    session.get("k").unwrap_or_default()
}

#[handler]
async fn write_session(session: AsyncSession) -> Result<&'static str, SessionError> {
    session.insert("k", "v");
    session.update_session().await?;
    Ok("saved")
}

/// An app whose session store is a default `RedisBackend` on `conn` with
/// default `SessionOptions`.
fn redis_app(conn: redis::aio::MultiplexedConnection) -> App {
    let mut app = App::new();
    configure_async_sessions(&mut app, RedisBackend::new(conn), SessionOptions::default());
    app.get("/", read_session).post("/", write_session);
    app
}

/// A connection with no response timeout of its own (redis-rs's default is
/// 500 ms): the only bound left on a command is the store's.
async fn untimed_connection(redis: &RedisServer) -> redis::aio::MultiplexedConnection {
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
    redis.client().get_multiplexed_async_connection_with_config(&config).await.expect("connects")
}

/// With Redis stalled (`CLIENT PAUSE`), a request whose session must be
/// loaded is a 503 after the store's default 2 s command timeout, not before.
#[tokio::test]
async fn the_default_redis_command_timeout_is_a_503_after_2_s() {
    let redis = RedisServer::start();
    // Connected on the real clock: connecting has timeouts of its own.
    let app = redis_app(untimed_connection(&redis).await);
    let client = TestClient::new(&app).expect("builds");
    // Any well-formed id: loading it asks Redis.
    client.set_cookie("session_id", &"A".repeat(43));
    let mut admin = redis.client().get_connection().expect("admin connection");
    let _: () = redis::cmd("CLIENT").arg("PAUSE").arg(60_000).arg("ALL").query(&mut admin).expect("CLIENT PAUSE");
    tokio::time::pause();
    let since = Instant::now();
    let response = within("the stalled request is answered", client.get("/").send()).await;
    assert_eq!(response.status, 503, "{}", response.text());
    assert_fired_at("the stalled request was answered", since, COMMAND_TIMEOUT);
}

/// A new session's cookie says `Max-Age=1209600` (14 days) and its Redis key
/// expires in 14 days.
#[tokio::test]
async fn the_default_max_age_is_14_days_in_the_cookie_and_the_redis_ttl() {
    let redis = RedisServer::start();
    let client = TestClient::new(&redis_app(untimed_connection(&redis).await)).expect("builds");
    let response = client.post("/").send().await;
    assert_eq!(response.status, 200, "{}", response.text());
    let set_cookie = response.headers.get("set-cookie").and_then(|v| v.to_str().ok()).expect("a Set-Cookie");
    let attributes: Vec<&str> = set_cookie.split(';').map(str::trim).collect();
    assert!(attributes.contains(&"Max-Age=1209600"), "{set_cookie}");
    let id = client.cookie("session_id").expect("a session cookie");
    let mut con = redis.client().get_connection().expect("connection");
    let ttl_ms: i64 = redis::cmd("PTTL").arg(format!("uapi:session:{id}")).query(&mut con).expect("PTTL");
    let max_ms = i64::try_from(MAX_AGE.as_millis()).expect("fits");
    assert!(ttl_ms <= max_ms && ttl_ms > max_ms - 60_000, "TTL {ttl_ms} ms, expected about {max_ms} ms");
    assert_eq!(SessionOptions::default().max_age, MAX_AGE, "the public default says so too");
}

/// A server serving on its own task until `stop` (no tokio timer of the
/// test's: see the module docs).
struct Served {
    addr: std::net::SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), uapi::ServeError>>,
}

impl Served {
    async fn start(app: &App) -> Served {
        let server = app.bind("127.0.0.1:0").await.expect("binds");
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run_until(async move {
            let _ = stopped.await;
        }));
        Served { addr, stop, task }
    }

    /// Stops the server and waits for `run_until` to return `Ok`.
    async fn shutdown(self) {
        let _ = self.stop.send(());
        let result = within("the server shuts down", self.task).await.expect("the server task");
        assert!(result.is_ok(), "{result:?}");
    }
}
