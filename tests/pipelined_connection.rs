//! `PipelinedConnection` on a real `redis-server`: the URL's password and
//! database, refusals of what it does not speak, use as a plain redis-rs
//! connection, cancellation, and closing. (The session suites and the fault
//! tests run on it too.) Needs `redis-server` on PATH.

mod support;

use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::{AsyncCommands, ErrorKind, RedisResult};
use support::redis_server::RedisServer;
use uapi::sessions::redis::PipelinedConnection;

/// How many clients the server has connected, not counting the ones that
/// only ever listed clients (this helper's own, some maybe still closing).
async fn clients(server: &RedisServer) -> usize {
    let mut admin = server.client().get_multiplexed_async_connection().await.expect("admin");
    let list: String = redis::cmd("CLIENT").arg("LIST").query_async(&mut admin).await.expect("client list");
    list.lines().filter(|l| !l.contains("cmd=client|list")).count()
}

/// Commands, pipelines and transactions work through redis-rs's own API, and a
/// server error comes back as an error.
#[tokio::test]
async fn serves_as_a_redis_rs_connection() {
    let server = RedisServer::start();
    let mut conn = PipelinedConnection::connect(server.url()).await.expect("connect");
    let () = conn.set("k", "v").await.expect("set");
    let v: String = conn.get("k").await.expect("get");
    assert_eq!(v, "v");
    let (a, b): (i64, i64) = redis::pipe().incr("n", 1).incr("n", 2).query_async(&mut conn).await.expect("pipe");
    assert_eq!((a, b), (1, 3));
    let (c,): (i64,) = redis::pipe().atomic().incr("n", 4).query_async(&mut conn).await.expect("transaction");
    assert_eq!(c, 7);
    let err =
        redis::cmd("HGET").arg("k").arg("f").query_async::<Option<String>>(&mut conn).await.expect_err("WRONGTYPE");
    assert_eq!(err.code(), Some("WRONGTYPE"));
    // The connection is still in step after the error.
    let v: String = conn.get("k").await.expect("get after error");
    assert_eq!(v, "v");
    assert_eq!(conn.get_db(), 0);
}

/// The URL's password and database are used: keys land in that database.
#[tokio::test]
async fn authenticates_and_selects_the_urls_database() {
    let server = RedisServer::start();
    let mut admin = server.client().get_multiplexed_async_connection().await.expect("admin");
    let () =
        redis::cmd("CONFIG").arg("SET").arg("requirepass").arg("s3cret").query_async(&mut admin).await.expect("pass");
    let url = format!("redis://:s3cret@127.0.0.1:{}/3", server.port());
    let mut conn = PipelinedConnection::connect(url.as_str()).await.expect("connect with password");
    assert_eq!(conn.get_db(), 3);
    let () = conn.set("where", "db3").await.expect("set");
    let () = redis::cmd("AUTH").arg("s3cret").query_async(&mut admin).await.expect("admin auth");
    let () = redis::cmd("SELECT").arg(3).query_async(&mut admin).await.expect("select");
    let got: String = admin.get("where").await.expect("get in db 3");
    assert_eq!(got, "db3");

    let wrong = format!("redis://:nope@127.0.0.1:{}/", server.port());
    let err = PipelinedConnection::connect(wrong.as_str()).await.expect_err("wrong password refused");
    assert_eq!(err.kind(), ErrorKind::AuthenticationFailed, "{err}");
}

/// TLS and RESP3 URLs are refused up front (redis-rs itself refuses `rediss://`
/// in a build without TLS), RESP3 with the alternative named.
#[tokio::test]
async fn refuses_tls_and_resp3_with_a_clear_error() {
    let Err(err) = PipelinedConnection::connect("rediss://127.0.0.1:1/").await else { panic!("TLS accepted") };
    assert_eq!(err.kind(), ErrorKind::InvalidClientConfig, "{err}");
    let Err(err) = PipelinedConnection::connect("redis://127.0.0.1:1/?protocol=resp3").await else {
        panic!("RESP3 accepted")
    };
    assert_eq!(err.kind(), ErrorKind::InvalidClientConfig, "{err}");
    assert!(err.to_string().contains("ConnectionManager"), "{err}");
}

/// Nothing listening: `connect` fails within the connect timeout instead of
/// returning a connection that never works.
#[tokio::test]
async fn connect_fails_when_nothing_listens() {
    let server = RedisServer::start();
    let url = server.url();
    drop(server);
    let res: RedisResult<_> = PipelinedConnection::connect(url.as_str()).await;
    assert!(res.expect_err("no server").is_io_error());
}

/// Requests dropped before their replies arrive do not shift anyone else's
/// replies: the connection stays in step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_requests_leave_the_others_in_step() {
    let server = RedisServer::start();
    let conn = PipelinedConnection::connect(server.url()).await.expect("connect");
    let mut tasks = Vec::new();
    for i in 0..200 {
        let mut c = conn.clone();
        tasks.push(tokio::spawn(async move {
            let key = format!("k{i}");
            let () = c.set(&key, i).await?;
            let got: i64 = c.get(&key).await?;
            RedisResult::Ok((i, got))
        }));
    }
    // Cancel every third task, some before and some after their commands
    // were queued.
    for t in tasks.iter().step_by(3) {
        t.abort();
    }
    for t in tasks {
        match t.await {
            Ok(res) => {
                let (i, got) = res.expect("request");
                assert_eq!(got, i, "a reply went to the wrong request");
            }
            Err(e) => assert!(e.is_cancelled(), "a request task panicked: {e}"),
        }
    }
    let mut c = conn.clone();
    let () = c.set("last", 1).await.expect("set");
    let last: i64 = c.get("last").await.expect("get");
    assert_eq!(last, 1);
}

/// The socket closes when the last clone is dropped.
#[tokio::test]
async fn closes_its_socket_when_the_last_clone_is_dropped() {
    let server = RedisServer::start();
    let before = clients(&server).await;
    let conn = PipelinedConnection::connect(server.url()).await.expect("connect");
    let mut clone = conn.clone();
    let () = clone.set("x", 1).await.expect("set");
    assert_eq!(clients(&server).await, before + 1);
    drop(conn);
    assert_eq!(clients(&server).await, before + 1, "a clone is still alive");
    drop(clone);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while clients(&server).await != before {
        assert!(std::time::Instant::now() < deadline, "the socket was never closed");
        tokio::task::yield_now().await;
    }
}

/// A Redis that stops answering fails the waiting request with a timeout
/// error within the response timeout, and the next request, once Redis
/// answers again, succeeds on a new socket.
#[tokio::test]
async fn overdue_replies_time_out_and_the_connection_recovers() {
    let server = RedisServer::start();
    let timeout = Duration::from_millis(200);
    let mut conn = PipelinedConnection::connect_with_timeouts(server.url(), timeout, timeout).await.expect("connect");
    let mut admin = server.client().get_multiplexed_async_connection().await.expect("admin");
    let () = redis::cmd("CLIENT").arg("PAUSE").arg(600).arg("ALL").query_async(&mut admin).await.expect("pause");
    let start = std::time::Instant::now();
    let err = conn.get::<_, Option<String>>("k").await.expect_err("paused");
    assert!(err.is_timeout(), "{err}");
    assert!(start.elapsed() < timeout + Duration::from_millis(500), "took {:?}", start.elapsed());
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match conn.set::<_, _, ()>("k", "v").await {
            Ok(()) => break,
            Err(e) => assert!(std::time::Instant::now() < deadline, "never recovered: {e}"),
        }
    }
    let v: String = conn.get("k").await.expect("get");
    assert_eq!(v, "v");
}

/// A connection opened on one runtime (kept alive, but no longer running, as a
/// `main` that connects before starting its workers) serves the runtime that
/// uses it: the socket's driver starts with the first request.
#[test]
fn a_connection_opened_on_one_runtime_serves_another() {
    let server = RedisServer::start();
    let rt = || tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let opener = rt();
    let conn = opener.block_on(PipelinedConnection::connect(server.url())).expect("connect");
    rt().block_on(async {
        let mut c = conn.clone();
        let set = tokio::time::timeout(Duration::from_secs(5), c.set::<_, _, ()>("k", "v")).await;
        set.expect("answered in time").expect("set");
        let v: String = c.get("k").await.expect("get");
        assert_eq!(v, "v");
    });
    drop(opener);
}

/// A large reply (an array of 300,000 elements, about 3 MB, arriving in many
/// reads) comes back whole, in order and in time (an incomplete reply is
/// decoded again from its start, so the driver decodes only once it has read
/// all there is, into a buffer that at least doubles).
#[tokio::test]
async fn a_large_array_reply_arrives_whole_and_in_time() {
    let server = RedisServer::start();
    let mut conn = PipelinedConnection::connect(server.url()).await.expect("connect");
    const N: usize = 300_000;
    let mut admin = server.client().get_multiplexed_async_connection().await.expect("admin");
    for chunk in (0..N).collect::<Vec<_>>().chunks(10_000) {
        let () = admin.rpush("big", chunk).await.expect("rpush");
    }
    let start = std::time::Instant::now();
    let all: Vec<usize> = conn.lrange("big", 0, -1).await.expect("lrange");
    let took = start.elapsed();
    assert_eq!(all.len(), N);
    assert!(all.iter().enumerate().all(|(i, v)| i == *v), "elements out of order");
    assert!(took < Duration::from_secs(2), "a 300,000-element reply took {took:?}");
}

/// A timeout too large to add to a clock reading is no timeout, not a panic
/// (which would leave commands queued without their request).
#[tokio::test]
async fn an_unbounded_response_timeout_works() {
    let server = RedisServer::start();
    let mut conn = PipelinedConnection::connect_with_timeouts(server.url(), Duration::from_secs(1), Duration::MAX)
        .await
        .expect("connect");
    let () = conn.set("k", "v").await.expect("set");
    let v: String = conn.get("k").await.expect("get");
    assert_eq!(v, "v");
}

/// The driver lives on the runtime of the first request; if that runtime is
/// kept but no longer run, requests from another runtime fail within their
/// timeout instead of waiting forever.
#[test]
fn a_driver_whose_runtime_stopped_running_fails_requests_in_time() {
    let server = RedisServer::start();
    let rt = || tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let first = rt();
    let timeout = Duration::from_millis(300);
    let conn = first.block_on(async {
        let mut c = PipelinedConnection::connect_with_timeouts(server.url(), timeout, timeout).await.expect("connect");
        let () = c.set("k", "v").await.expect("set on the first runtime");
        c
    });
    // `first` is kept, but nothing runs it any more.
    rt().block_on(async {
        let mut c = conn.clone();
        let start = std::time::Instant::now();
        let answer = tokio::time::timeout(Duration::from_secs(5), c.get::<_, String>("k")).await;
        let err = answer.expect("no hang").expect_err("the driver cannot run");
        assert!(err.is_timeout(), "{err}");
        assert!(start.elapsed() < timeout + Duration::from_secs(1), "took {:?}", start.elapsed());
    });
    drop(first);
}
