//! Specification of the real server: HTTP/1.1 and HTTP/2 (prior knowledge) over
//! TCP, graceful shutdown that lets requests in flight finish, surviving
//! panicking handlers, closing slowloris connections, and the built app as a
//! `tower::Service`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use uapi::{handler, App, ClientAddr, ReqBytes, RequestParts, ServeError};

/// The upper bound on anything a test waits for; never reached when things work.
const PATIENCE: Duration = Duration::from_secs(10);

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn http1_client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

fn http2_client() -> HttpClient {
    Client::builder(TokioExecutor::new()).http2_only(true).build_http()
}

/// Sends a request and returns its status, version and body.
async fn send(client: &HttpClient, request: Request<Full<Bytes>>) -> (StatusCode, Version, String) {
    let response = timeout(PATIENCE, client.request(request)).await.expect("a response in time").expect("a response");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("a body").to_bytes();
    (parts.status, parts.version, String::from_utf8_lossy(&body).into_owned())
}

async fn get(client: &HttpClient, addr: SocketAddr, path: &str) -> (StatusCode, Version, String) {
    let request = Request::get(format!("http://{addr}{path}")).body(Full::default()).expect("a request");
    send(client, request).await
}

/// A running server: its address, its shutdown trigger and its task.
struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    /// Completes once the server has seen the signal and closed its listener.
    stopped: oneshot::Receiver<()>,
    task: JoinHandle<Result<(), ServeError>>,
}

async fn start(app: &App) -> Running {
    let server = app.bind("127.0.0.1:0").await.expect("binds");
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    let (stop, stop_rx) = oneshot::channel::<()>();
    let (stopped_tx, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run_until(async move {
        let _ = stop_rx.await;
        let _ = stopped_tx.send(());
    }));
    Running { addr, stop, stopped, task }
}

impl Running {
    /// Signals shutdown and waits for `run_until` to return.
    async fn shutdown(self) -> Result<(), ServeError> {
        let _ = self.stop.send(());
        timeout(PATIENCE, self.task).await.expect("shuts down in time").expect("server task")
    }
}

#[handler]
async fn hello(name: Option<String>) -> String {
    format!("hello {}", name.as_deref().unwrap_or("world"))
}

#[handler]
async fn version(parts: RequestParts) -> String {
    format!("{:?}", parts.version)
}

#[handler]
async fn echo(body: ReqBytes) -> Vec<u8> {
    body.0.to_vec()
}

#[handler]
async fn boom() -> String {
    panic!("boom")
}

fn basic_app() -> App {
    let mut app = App::new();
    app.get("/", hello).get("/version", version).post("/echo", echo).get("/boom", boom);
    app
}

/// The server answers HTTP/1.1 requests over TCP, keeping the connection alive.
#[tokio::test]
async fn serves_http1_requests() {
    let server = start(&basic_app()).await;
    let client = http1_client();
    let (status, version, body) = get(&client, server.addr, "/?name=ann").await;
    assert_eq!((status, version, body.as_str()), (StatusCode::OK, Version::HTTP_11, "hello ann"));
    let (_, _, body) = get(&client, server.addr, "/version").await;
    assert_eq!(body, "HTTP/1.1");
    let request = Request::post(format!("http://{}/echo", server.addr))
        .body(Full::new(Bytes::from_static(b"round trip")))
        .expect("a request");
    let (status, _, body) = send(&client, request).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "round trip"));
    assert_eq!(get(&client, server.addr, "/missing").await.0, StatusCode::NOT_FOUND);
    server.shutdown().await.expect("clean shutdown");
}

/// `bind_listener` serves on a listener the caller bound, here two of them on
/// one port with `SO_REUSEPORT`, each answering.
#[tokio::test]
async fn serves_on_listeners_bound_by_the_caller() {
    let reuse = |addr: SocketAddr| {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_reuseport(true).expect("SO_REUSEPORT");
        socket.bind(addr).expect("binds");
        socket.listen(64).expect("listens")
    };
    let first = basic_app().bind_listener(reuse("127.0.0.1:0".parse().expect("addr"))).expect("builds");
    let addr = first.local_addr();
    let second = basic_app().bind_listener(reuse(addr)).expect("builds");
    assert_eq!(second.local_addr(), addr);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let tasks = [first, second].map(|server| {
        let mut stopped = stopped.clone();
        tokio::spawn(server.run_until(async move {
            let _ = stopped.wait_for(|s| *s).await;
        }))
    });
    let client = http1_client();
    let (status, _, body) = get(&client, addr, "/?name=bo").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "hello bo"));
    stop.send_replace(true);
    for task in tasks {
        timeout(PATIENCE, task).await.expect("stops in time").expect("task").expect("clean");
    }
}

/// The server speaks HTTP/2 to a client with prior knowledge (h2c).
#[tokio::test]
async fn serves_http2_with_prior_knowledge() {
    let server = start(&basic_app()).await;
    let client = http2_client();
    let (status, version, body) = get(&client, server.addr, "/?name=bob").await;
    assert_eq!((status, version, body.as_str()), (StatusCode::OK, Version::HTTP_2, "hello bob"));
    let (_, _, body) = get(&client, server.addr, "/version").await;
    assert_eq!(body, "HTTP/2.0");
    server.shutdown().await.expect("clean shutdown");
}

/// A panicking handler is a 500 and the server (and the connection) keep serving.
#[tokio::test]
async fn panicking_handler_is_500_and_server_keeps_serving() {
    let server = start(&basic_app()).await;
    let client = http1_client();
    let (status, _, body) = get(&client, server.addr, "/boom").await;
    assert_eq!((status, body.as_str()), (StatusCode::INTERNAL_SERVER_ERROR, "internal server error"));
    let (status, _, body) = get(&client, server.addr, "/").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "hello world"));
    let (status, _, _) = get(&http2_client(), server.addr, "/boom").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    server.shutdown().await.expect("clean shutdown");
}

/// Lets the test hold a request in flight.
#[derive(Clone, Default)]
struct Gate {
    started: Arc<Notify>,
    release: Arc<Notify>,
}

#[handler]
async fn slow(gate: Gate) -> &'static str {
    gate.started.notify_one();
    gate.release.notified().await;
    "finished"
}

/// On shutdown the server stops accepting, lets the request in flight finish
/// with a 200, then `run_until` returns `Ok`.
// A single-threaded runtime: once `stopped` fires, the server task has already
// dropped its listener (it does so in the same poll, before yielding).
#[tokio::test(flavor = "current_thread")]
async fn graceful_shutdown_finishes_in_flight_requests_and_refuses_new_ones() {
    let gate = Gate::default();
    let mut app = basic_app();
    app.provide_value(gate.clone()).get("/slow", slow);
    let server = start(&app).await;
    let addr = server.addr;

    let client = http1_client();
    let in_flight = tokio::spawn(async move { get(&client, addr, "/slow").await });
    timeout(PATIENCE, gate.started.notified()).await.expect("the slow handler started");

    server.stop.send(()).expect("the server is running");
    timeout(PATIENCE, server.stopped).await.expect("signal seen").expect("signal sent");

    let refused = TcpStream::connect(addr).await;
    assert_eq!(
        refused.as_ref().map_err(std::io::Error::kind).err(),
        Some(std::io::ErrorKind::ConnectionRefused),
        "a new connection after shutdown: {refused:?}"
    );
    assert!(!in_flight.is_finished(), "the in-flight request is still waiting");

    gate.release.notify_one();
    let (status, _, body) = timeout(PATIENCE, in_flight).await.expect("in time").expect("task");
    assert_eq!((status, body.as_str()), (StatusCode::OK, "finished"));

    let result = timeout(PATIENCE, server.task).await.expect("run_until returns").expect("task");
    assert!(result.is_ok(), "{result:?}");
}

/// Reads until the peer closes the connection (or resets it); returns what it sent.
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

fn slowloris_app() -> App {
    let mut app = basic_app();
    app.header_read_timeout(Duration::from_millis(300));
    app
}

/// A client that sends part of a request head and stops is disconnected by the
/// header-read timeout.
#[tokio::test]
async fn slowloris_partial_head_is_closed_by_header_read_timeout() {
    let server = start(&slowloris_app()).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connects");
    let started = Instant::now();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").await.expect("writes");
    let seen = timeout(PATIENCE, read_until_closed(&mut stream)).await.expect("the server closes the connection");
    assert!(started.elapsed() >= Duration::from_millis(300), "closed after {:?}", started.elapsed());
    assert!(!String::from_utf8_lossy(&seen).contains("200 OK"), "{seen:?}");
    // The server is still fine for others.
    assert_eq!(get(&http1_client(), server.addr, "/").await.0, StatusCode::OK);
    server.shutdown().await.expect("clean shutdown");
}

/// A client that connects and sends nothing at all is disconnected too.
#[tokio::test]
async fn slowloris_silent_connection_is_closed_by_header_read_timeout() {
    let server = start(&slowloris_app()).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connects");
    let started = Instant::now();
    timeout(PATIENCE, read_until_closed(&mut stream)).await.expect("the server closes the connection");
    assert!(started.elapsed() >= Duration::from_millis(300), "closed after {:?}", started.elapsed());
    server.shutdown().await.expect("clean shutdown");
}

/// A client that stops in the middle of the HTTP/2 preface is disconnected too.
#[tokio::test]
async fn slowloris_partial_http2_preface_is_closed_by_header_read_timeout() {
    let server = start(&slowloris_app()).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connects");
    let started = Instant::now();
    stream.write_all(b"PRI * HTTP/2").await.expect("writes");
    timeout(PATIENCE, read_until_closed(&mut stream)).await.expect("the server closes the connection");
    assert!(started.elapsed() >= Duration::from_millis(300), "closed after {:?}", started.elapsed());
    server.shutdown().await.expect("clean shutdown");
}

/// A complete request on a raw socket is answered (the timeout only hits slow heads).
#[tokio::test]
async fn raw_http1_request_is_answered() {
    let server = start(&slowloris_app()).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connects");
    stream.write_all(b"GET /?name=raw HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.expect("writes");
    let seen = timeout(PATIENCE, read_until_closed(&mut stream)).await.expect("answered");
    let text = String::from_utf8_lossy(&seen);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with("hello raw"), "{text}");
    server.shutdown().await.expect("clean shutdown");
}

#[handler]
async fn peer(client: ClientAddr) -> String {
    client.0.to_string()
}

/// A `ClientAddr` parameter is the connection's peer: the client's own socket
/// address, port included.
#[tokio::test]
async fn client_addr_is_the_connections_peer() {
    let mut app = App::new();
    app.get("/peer", peer);
    let server = start(&app).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connects");
    let ours = stream.local_addr().expect("a local address");
    stream.write_all(b"GET /peer HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.expect("writes");
    let seen = timeout(PATIENCE, read_until_closed(&mut stream)).await.expect("answered");
    let text = String::from_utf8_lossy(&seen);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with(&format!("\r\n\r\n{ours}")), "{text} (we are {ours})");
    server.shutdown().await.expect("clean shutdown");
}

/// `bind` reports build problems as `ServeError::Build`.
#[tokio::test]
async fn bind_reports_build_errors() {
    let mut app = App::new();
    app.get("/", hello).get("/", version);
    match app.bind("127.0.0.1:0").await {
        Err(ServeError::Build(e)) => {
            assert!(e.problems.iter().any(|p| p.contains("routed twice")), "{e}")
        }
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("the app should not build"),
    }
}

/// The built app is a `tower::Service` over any request body.
#[tokio::test]
async fn app_service_is_a_tower_service() {
    use tower::ServiceExt;
    let service = basic_app().build().expect("builds");
    let request = Request::post("/echo").body(Full::new(Bytes::from_static(b"via tower"))).expect("request");
    let response = service.clone().oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(&body[..], b"via tower");

    let request = Request::get("/?name=t").body(http_body_util::Empty::<Bytes>::new()).expect("request");
    let response = service.oneshot(request).await.expect("infallible");
    let body = response.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(&body[..], b"hello t");
}

/// A handler's progress, seen from the test: it started, it may go on, it
/// finished, or it was dropped before finishing.
#[derive(Clone, Default)]
struct Progress {
    started: Arc<Notify>,
    release: Arc<Notify>,
    finished: Arc<Notify>,
    cut_short: Arc<Notify>,
}

/// Notifies `cut_short` when dropped before `finish`.
struct CutShortGuard(Option<Arc<Notify>>);

impl Drop for CutShortGuard {
    fn drop(&mut self) {
        if let Some(cut_short) = self.0.take() {
            cut_short.notify_one();
        }
    }
}

#[handler]
async fn to_completion(progress: Progress) -> &'static str {
    let mut guard = CutShortGuard(Some(progress.cut_short.clone()));
    progress.started.notify_one();
    progress.release.notified().await;
    guard.0 = None;
    progress.finished.notify_one();
    "finished"
}

/// How long a test watches for something that must not happen (there is no
/// signal for an absence).
const QUIET: Duration = Duration::from_millis(200);

async fn to_completion_server() -> (Running, Progress, TcpStream) {
    let progress = Progress::default();
    let mut app = basic_app();
    app.provide_value(progress.clone()).get("/to-completion", to_completion);
    let server = start(&app).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connects");
    stream.write_all(b"GET /to-completion HTTP/1.1\r\nHost: localhost\r\n\r\n").await.expect("writes");
    timeout(PATIENCE, progress.started.notified()).await.expect("the handler started");
    (server, progress, stream)
}

/// A client may shut down its side of the connection once its request is
/// sent (a TCP half-close) and still gets the answer: the server does not
/// take the end of the client's data for the end of the exchange.
#[tokio::test]
async fn a_client_that_half_closes_after_its_request_gets_the_answer() {
    let (server, progress, mut stream) = to_completion_server().await;
    stream.shutdown().await.expect("half-closes");
    let early = timeout(QUIET, progress.cut_short.notified()).await;
    assert!(early.is_err(), "the handler was dropped when the client half-closed");
    progress.release.notify_one();
    let seen = timeout(PATIENCE, read_until_closed(&mut stream)).await.expect("answered, then closed");
    let text = String::from_utf8_lossy(&seen);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with("finished"), "{text}");
    server.shutdown().await.expect("clean shutdown");
}

/// A client that hangs up while its request is being handled does not cut the
/// handler short between two awaits (which could leave a change half made):
/// the handler runs to its end, and the server goes on serving.
#[tokio::test]
async fn a_client_that_hangs_up_does_not_cut_its_handler_short() {
    let (server, progress, stream) = to_completion_server().await;
    drop(stream);
    let early = timeout(QUIET, progress.cut_short.notified()).await;
    assert!(early.is_err(), "the handler was dropped when the client hung up");
    progress.release.notify_one();
    timeout(PATIENCE, progress.finished.notified()).await.expect("the handler ran to its end");
    assert_eq!(get(&http1_client(), server.addr, "/").await.0, StatusCode::OK);
    server.shutdown().await.expect("clean shutdown");
}
