//! `Workers`: thread-per-core serving, each worker with its own runtime and
//! its own app, fed connections in turn by one acceptor.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use support::redis_server::RedisServer;
use uapi::sessions::redis::configure_async_sessions;
use uapi::sessions::{AsyncSession, SessionError, SessionOptions};
use uapi::status::Created;
use uapi::CookieSettings;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use uapi::{handler, App, Json, ReqBytes, RunningWorkers, ServeError, Workers};

/// Which worker built the app that answered.
#[derive(Clone)]
struct WorkerIndex(usize);

#[handler]
async fn who(worker: WorkerIndex) -> String {
    format!("{}:{:?}", worker.0, std::thread::current().name())
}

#[handler]
async fn needs(missing_thing: WorkerIndex) -> String {
    missing_thing.0.to_string()
}

fn app(index: usize) -> App {
    let mut app = App::new();
    app.provide_value(WorkerIndex(index)).get("/", who);
    app
}

/// One request on a fresh connection: the body.
async fn get_once(addr: std::net::SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.expect("writes");
    let mut raw = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut raw))
        .await
        .expect("answers in time")
        .expect("reads");
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    raw.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned()
}

#[test]
fn workers_share_one_port_each_on_its_own_thread_and_shut_down() {
    let running = Workers::new("127.0.0.1:0")
        .threads(2)
        .start(|index| async move { Ok::<_, std::convert::Infallible>(app(index)) })
        .expect("starts");
    let addr = running.local_addr();
    assert_ne!(addr.port(), 0);
    let client = tokio::runtime::Runtime::new().expect("a client runtime");
    let answers: BTreeSet<String> = client.block_on(async {
        let calls = (0..48).map(|_| tokio::spawn(get_once(addr)));
        futures_util::future::join_all(calls).await.into_iter().map(|r| r.expect("task")).collect()
    });
    // Each worker's app answers on that worker's thread, and the acceptor
    // hands connections to the workers in turn: both take some.
    let expected = BTreeSet::from(["0:Some(\"uapi-worker-0\")".to_owned(), "1:Some(\"uapi-worker-1\")".to_owned()]);
    assert_eq!(answers, expected);
    running.shutdown().expect("clean shutdown");
    // The port is free again: nothing listens any more.
    let refused = client.block_on(TcpStream::connect(addr));
    assert!(refused.is_err(), "still listening after shutdown");
}

#[test]
fn a_failing_factory_stops_the_start_and_says_why() {
    let started = Workers::new("127.0.0.1:0").threads(3).start(|index| async move {
        if index == 1 {
            Err("no Redis today")
        } else {
            Ok(app(index))
        }
    });
    match started {
        Err(ServeError::Setup(e)) => assert_eq!(e.to_string(), "no Redis today"),
        other => panic!("expected a setup error, got {other:?}"),
    }
}

#[test]
fn an_app_that_does_not_build_is_a_build_error() {
    let started = Workers::new("127.0.0.1:0").threads(2).start(|_| async {
        let mut app = App::new();
        app.get("/", needs);
        Ok::<_, std::convert::Infallible>(app)
    });
    match started {
        Err(ServeError::Build(e)) => assert!(e.to_string().contains("missing_thing"), "{e}"),
        other => panic!("expected a build error, got {other:?}"),
    }
}

#[test]
fn a_taken_port_is_an_io_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let addr = taken.local_addr().expect("an address");
    let started =
        Workers::new(addr).threads(2).start(|index| async move { Ok::<_, std::convert::Infallible>(app(index)) });
    assert!(matches!(started, Err(ServeError::Io(_))), "{started:?}");
}

#[handler]
async fn login(session: AsyncSession, user_id: i64, worker: WorkerIndex) -> Result<Created<String>, SessionError> {
    session.insert("user_id", user_id.to_string());
    session.update_session().await?;
    Ok(Created::new(worker.0.to_string()))
}

#[handler]
async fn touch(session: AsyncSession, worker: WorkerIndex) -> Result<String, SessionError> {
    let n = session.get("n").and_then(|n| n.parse::<u32>().ok()).unwrap_or(0) + 1;
    session.insert("n", n.to_string());
    session.update_session().await?;
    Ok(format!("{} {n} {}", session.get("user_id").unwrap_or_default(), worker.0))
}

/// One request on a fresh connection (so the acceptor picks the next worker):
/// the status line, the `session_id` cookie if any, and the body.
async fn request(addr: std::net::SocketAddr, head: &str) -> (String, Option<String>, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream.write_all(format!("{head}\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes()).await.expect("writes");
    let mut raw = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut raw))
        .await
        .expect("answers in time")
        .expect("reads");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.lines().next().unwrap_or_default().to_owned();
    let cookie = head
        .lines()
        .filter_map(|l| l.strip_prefix("set-cookie: session_id="))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        .next();
    (status, cookie, body.to_owned())
}

/// Each worker opens its own Redis connection, yet they serve one set of
/// sessions: a login on one worker is read and updated on the other, and
/// every update lands (no lost write between workers).
#[test]
fn workers_with_their_own_redis_connections_share_the_sessions() {
    let redis = RedisServer::start();
    let client = redis.client();
    let running = Workers::new("127.0.0.1:0")
        .threads(2)
        .start(move |index| {
            let client = client.clone();
            async move {
                let conn = redis::aio::ConnectionManager::new(client).await?;
                let mut app = App::new();
                let options = SessionOptions::default().cookie_settings(CookieSettings::default().secure(false));
                configure_async_sessions(&mut app, conn, options);
                app.provide_value(WorkerIndex(index)).post("/login", login).post("/touch", touch);
                Ok::<_, redis::RedisError>(app)
            }
        })
        .expect("starts");
    let addr = running.local_addr();
    let rt = tokio::runtime::Runtime::new().expect("a client runtime");
    let workers_seen = rt.block_on(async {
        let (status, cookie, _) = request(addr, "POST /login?user_id=7 HTTP/1.1").await;
        assert!(status.starts_with("HTTP/1.1 201"), "{status}");
        let cookie = cookie.expect("a session cookie");
        let mut seen = BTreeSet::new();
        for n in 1..=6 {
            let (status, _, body) =
                request(addr, &format!("POST /touch HTTP/1.1\r\ncookie: session_id={cookie}")).await;
            assert!(status.starts_with("HTTP/1.1 200"), "{status}");
            let parts: Vec<&str> = body.split(' ').collect();
            assert_eq!(parts[..2], ["7", n.to_string().as_str()], "{body}");
            seen.insert(parts[2].to_owned());
        }
        seen
    });
    // Fresh connections go to the workers in turn: both served the session.
    assert_eq!(workers_seen, BTreeSet::from(["0".to_owned(), "1".to_owned()]));
    running.shutdown().expect("clean shutdown");
}

/// The whole answer on `stream` after sending `bytes`, until the server
/// closes the connection.
async fn exchange(stream: &mut TcpStream, bytes: &[u8]) -> String {
    exchange_within(stream, bytes, PATIENCE).await.unwrap_or_else(|| panic!("still open after {PATIENCE:?}"))
}

/// [`exchange`], or `None` if the connection is still open after `limit`.
async fn exchange_within(stream: &mut TcpStream, bytes: &[u8], limit: Duration) -> Option<String> {
    stream.write_all(bytes).await.expect("writes");
    let mut raw = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut raw)).await.ok()?;
    read.expect("reads");
    Some(String::from_utf8_lossy(&raw).into_owned())
}

/// The upper bound on anything a test waits for; never reached when things work.
const PATIENCE: Duration = Duration::from_secs(10);

/// Where the requests of the concurrency test meet: each has loaded the
/// session before either saves.
#[derive(Clone)]
struct Meet(Arc<tokio::sync::Barrier>);

/// `POST /set?key=K`: loads the session, waits for the other request to have
/// loaded it too, sets `K` to this worker's index and saves.
#[handler]
async fn set_when_both_loaded(
    session: AsyncSession,
    meet: Meet,
    worker: WorkerIndex,
    key: String,
) -> Result<String, SessionError> {
    meet.0.wait().await;
    session.insert(key, worker.0.to_string());
    session.update_session().await?;
    Ok(worker.0.to_string())
}

/// `POST /own`: starts a session with `owner=me`.
#[handler]
async fn own(session: AsyncSession) -> Result<&'static str, SessionError> {
    session.insert("owner", "me");
    session.update_session().await?;
    Ok("owned")
}

/// `GET /dump`: the whole session.
#[handler]
async fn dump(session: AsyncSession) -> Json<BTreeMap<String, String>> {
    Json(session.iter().collect())
}

/// Two requests on one session, each on its own worker (and so its own Redis
/// connection) and truly at once (both loaded the session before either
/// saved), each writing its own key: both keys persist.
#[test]
fn two_workers_writing_one_session_at_once_both_persist() {
    let redis = RedisServer::start();
    let client = redis.client();
    let meet = Meet(Arc::new(tokio::sync::Barrier::new(2)));
    let running = Workers::new("127.0.0.1:0")
        .threads(2)
        .start(move |index| {
            let (client, meet) = (client.clone(), meet.clone());
            async move {
                let conn = redis::aio::ConnectionManager::new(client).await?;
                let mut app = App::new();
                let options = SessionOptions::default().cookie_settings(CookieSettings::default().secure(false));
                configure_async_sessions(&mut app, conn, options);
                app.provide_value(WorkerIndex(index)).provide_value(meet);
                app.post("/own", own).post("/set", set_when_both_loaded).get("/dump", dump);
                Ok::<_, redis::RedisError>(app)
            }
        })
        .expect("starts");
    let addr = running.local_addr();
    let rt = tokio::runtime::Runtime::new().expect("a client runtime");
    rt.block_on(async {
        let (status, cookie, _) = request(addr, "POST /own HTTP/1.1").await;
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        let cookie = cookie.expect("a session cookie");
        // Consecutive connections go to the workers in turn.
        let set = |key: &str| format!("POST /set?key={key} HTTP/1.1\r\ncookie: session_id={cookie}");
        let (set_a, set_b) = (set("a"), set("b"));
        let (a, b) = tokio::join!(request(addr, &set_a), request(addr, &set_b));
        assert!(a.0.starts_with("HTTP/1.1 200") && b.0.starts_with("HTTP/1.1 200"), "{a:?} {b:?}");
        let workers = BTreeSet::from([a.2.clone(), b.2.clone()]);
        assert_eq!(workers, BTreeSet::from(["0".to_owned(), "1".to_owned()]), "both on one worker");
        let (status, _, body) = request(addr, &format!("GET /dump HTTP/1.1\r\ncookie: session_id={cookie}")).await;
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        let session: BTreeMap<String, String> = serde_json::from_str(&body).expect("json");
        let expected = BTreeMap::from([("owner", "me"), ("a", a.2.as_str()), ("b", b.2.as_str())]);
        let expected: BTreeMap<String, String> = expected.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        assert_eq!(session, expected, "a write was lost");
    });
    running.shutdown().expect("clean shutdown");
}

/// Requests held in flight: how many started, and the release.
#[derive(Clone)]
struct Gate {
    started: Arc<watch::Sender<usize>>,
    release: watch::Receiver<bool>,
}

/// `GET /slow`: answers once released, saying which worker it ran on.
#[handler]
async fn slow(gate: Gate, worker: WorkerIndex) -> String {
    gate.started.send_modify(|n| *n += 1);
    let _ = gate.release.clone().wait_for(|go| *go).await;
    format!("finished on {}", worker.0)
}

/// `GET /boom`: panics.
#[handler]
async fn boom() -> String {
    panic!("boom")
}

/// An app for the serving tests: `/` says its worker, `/slow`, `/boom`,
/// `POST /upload`, with a 300 ms header-read and body-read timeout (the body
/// limit is the default 2 MiB).
fn serving_app(index: usize, gate: Gate) -> App {
    let mut app = App::new();
    app.provide_value(WorkerIndex(index)).provide_value(gate);
    app.get("/", who).get("/slow", slow).get("/boom", boom).post("/upload", upload);
    app.header_read_timeout(Duration::from_millis(300)).body_read_timeout(Duration::from_millis(300));
    app
}

#[handler]
async fn upload(body: ReqBytes) -> String {
    format!("{} bytes", body.0.len())
}

/// Two workers serving [`serving_app`], the gate's release, and how many
/// `/slow` requests started.
fn serving_workers() -> (RunningWorkers, watch::Sender<bool>, watch::Receiver<usize>) {
    let (release, released) = watch::channel(false);
    let started = Arc::new(watch::Sender::new(0));
    let progress = started.subscribe();
    let gate = Gate { started, release: released };
    let running = Workers::new("127.0.0.1:0")
        .threads(2)
        .start(move |index| {
            let gate = gate.clone();
            async move { Ok::<_, std::convert::Infallible>(serving_app(index, gate)) }
        })
        .expect("starts");
    (running, release, progress)
}

/// Shutdown with a request in flight on each worker: new connections are
/// refused at once, `shutdown` waits for the requests, they complete with a
/// 200, then it returns `Ok`.
#[test]
fn shutdown_lets_the_requests_in_flight_on_every_worker_finish() {
    let (running, release, mut started) = serving_workers();
    let addr = running.local_addr();
    let rt = tokio::runtime::Runtime::new().expect("a client runtime");
    let in_flight: Vec<_> = (0..2)
        .map(|_| {
            let mut stream = rt.block_on(async {
                let mut stream = TcpStream::connect(addr).await.expect("connects");
                stream.write_all(b"GET /slow HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.expect("writes");
                stream
            });
            rt.spawn(async move {
                let mut raw = String::new();
                let _ = stream.read_to_string(&mut raw).await;
                raw
            })
        })
        .collect();
    rt.block_on(async {
        tokio::time::timeout(PATIENCE, started.wait_for(|n| *n == 2)).await.expect("both started").expect("sender");
    });
    let (done, shut_down) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(running.shutdown());
    });
    // The acceptor stops at the shutdown signal; no sign tells when: try
    // until a connection is refused (one accepted meanwhile is served).
    rt.block_on(async {
        let deadline = std::time::Instant::now() + PATIENCE;
        while TcpStream::connect(addr).await.is_ok() {
            assert!(std::time::Instant::now() < deadline, "still accepting {PATIENCE:?} after shutdown");
            tokio::task::yield_now().await;
        }
    });
    assert!(shut_down.try_recv().is_err(), "shutdown returned with requests in flight");
    release.send_replace(true);
    let answers: BTreeSet<String> = in_flight
        .into_iter()
        .map(|task| {
            let raw =
                rt.block_on(async { tokio::time::timeout(PATIENCE, task).await }).expect("answered").expect("task");
            assert!(raw.starts_with("HTTP/1.1 200"), "a request in flight got {raw:?}");
            raw.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(answers, BTreeSet::from(["finished on 0".to_owned(), "finished on 1".to_owned()]));
    let result = shut_down.recv_timeout(PATIENCE).expect("shutdown returns once they finished");
    assert!(result.is_ok(), "{result:?}");
}

/// A handler that panics is a 500 on its worker, and that worker keeps
/// serving: the next request on the same connection (so the same worker)
/// and fresh connections to both workers are answered.
#[test]
fn a_panicking_handler_is_a_500_and_its_worker_keeps_serving() {
    let (running, _release, _) = serving_workers();
    let addr = running.local_addr();
    let rt = tokio::runtime::Runtime::new().expect("a client runtime");
    rt.block_on(async {
        let mut stream = TcpStream::connect(addr).await.expect("connects");
        let raw = exchange(
            &mut stream,
            b"GET /boom HTTP/1.1\r\nhost: x\r\n\r\nGET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        )
        .await;
        let (first, second) = raw.split_once("HTTP/1.1 200").unwrap_or_else(|| panic!("no 200 after the 500: {raw:?}"));
        assert!(first.starts_with("HTTP/1.1 500") && first.contains("internal server error"), "{raw:?}");
        assert!(second.contains("uapi-worker-"), "{raw:?}");
        let mut answers = BTreeSet::new();
        for _ in 0..4 {
            answers.insert(get_once(addr).await);
        }
        assert_eq!(answers.len(), 2, "both workers answer: {answers:?}");
    });
    running.shutdown().expect("clean shutdown");
}

/// Limits and timeouts hold on each worker: a 2 MiB body is read and one
/// byte more is a 413 (the default limit), a partial head is closed by the
/// header-read timeout and a stalled body is a 408 by the body-read timeout
/// (both set to 300 ms by the factory).
#[test]
fn limits_and_timeouts_hold_on_every_worker() {
    let (running, _release, _) = serving_workers();
    let addr = running.local_addr();
    let rt = tokio::runtime::Runtime::new().expect("a client runtime");
    rt.block_on(async {
        // Twice each, on consecutive connections: once per worker.
        for _ in 0..2 {
            let mut stream = TcpStream::connect(addr).await.expect("connects");
            let mut upload =
                b"POST /upload HTTP/1.1\r\nhost: x\r\ncontent-length: 2097152\r\nconnection: close\r\n\r\n".to_vec();
            upload.extend(std::iter::repeat_n(b'x', 2 * 1024 * 1024));
            let raw = exchange(&mut stream, &upload).await;
            assert!(raw.starts_with("HTTP/1.1 200") && raw.ends_with("2097152 bytes"), "{raw:?}");
        }
        for _ in 0..2 {
            let mut stream = TcpStream::connect(addr).await.expect("connects");
            let head = b"POST /upload HTTP/1.1\r\nhost: x\r\ncontent-length: 2097153\r\nconnection: close\r\n\r\n";
            let raw = exchange(&mut stream, head).await;
            assert!(raw.starts_with("HTTP/1.1 413"), "{raw:?}");
        }
        for _ in 0..2 {
            let mut stream = TcpStream::connect(addr).await.expect("connects");
            let started = std::time::Instant::now();
            let raw =
                exchange_within(&mut stream, b"GET / HTTP/1.1\r\nhost: x\r\nx-slow: ", Duration::from_secs(3)).await;
            let took = started.elapsed();
            let raw = raw.unwrap_or_else(|| panic!("a partial head still open after {took:?}"));
            assert!(!raw.contains("200"), "{raw:?}");
            assert!(took >= Duration::from_millis(300), "closed after {took:?}");
        }
        for _ in 0..2 {
            let mut stream = TcpStream::connect(addr).await.expect("connects");
            let started = std::time::Instant::now();
            let head = b"POST /upload HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\nconnection: close\r\n\r\nab";
            let raw = exchange_within(&mut stream, head, Duration::from_secs(3)).await;
            let took = started.elapsed();
            let raw = raw.unwrap_or_else(|| panic!("a stalled body got no answer in {took:?}"));
            assert!(raw.starts_with("HTTP/1.1 408"), "{raw:?}");
            assert!(took >= Duration::from_millis(300), "a 408 after {took:?}");
        }
        // And both workers still serve.
        let answers: BTreeSet<String> = [get_once(addr).await, get_once(addr).await].into();
        assert_eq!(answers.len(), 2, "{answers:?}");
    });
    running.shutdown().expect("clean shutdown");
}
