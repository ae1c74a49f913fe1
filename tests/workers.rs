//! `Workers`: thread-per-core serving, each worker with its own runtime and
//! its own app, fed connections in turn by one acceptor.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use support::redis_server::RedisServer;
use uapi::sessions::redis::configure_async_sessions;
use uapi::sessions::{AsyncSession, SessionError, SessionOptions};
use uapi::status::Created;
use uapi::CookieSettings;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uapi::{handler, App, ServeError, Workers};

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
