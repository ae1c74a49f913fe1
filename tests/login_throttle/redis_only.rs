//! What only Redis has: key TTLs, counts shared by `Workers` with their own
//! connections, an outage.

use std::collections::BTreeSet;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uapi::Workers;

use super::*;

/// Every key under `prefix`.
async fn keys_under(con: &mut redis::aio::MultiplexedConnection, prefix: &str) -> BTreeSet<String> {
    redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(con).await.expect("keys")
}

async fn pttl(con: &mut redis::aio::MultiplexedConnection, key: &str) -> i64 {
    redis::cmd("PTTL").arg(key).query_async(con).await.expect("pttl")
}

async fn zcard(con: &mut redis::aio::MultiplexedConnection, key: &str) -> i64 {
    redis::cmd("ZCARD").arg(key).query_async(con).await.expect("zcard")
}

/// Failures leave exactly the account's and the address's keys, in the
/// documented layout, each with a TTL of at most the window; a success
/// deletes the account's key and takes its attempt back from the address's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempt_keys_expire_with_the_window_and_a_success_deletes_the_accounts() {
    let h = Harness::redis().await;
    let window = Duration::from_secs(600);
    let site = h.site(LoginThrottleOptions::default().failures(3).window(window));
    let (server, _) = h.redis.as_ref().expect("a Redis harness");
    let mut con = server.client().get_multiplexed_async_connection().await.expect("a redis connection");
    site.fail(" Ann").await;
    site.fail("ann").await;
    let account = format!("{}uapi:attempts:login:account:616e6e", site.prefix);
    let client = format!("{}uapi:attempts:login:client:127.0.0.1", site.prefix);
    assert_eq!(keys_under(&mut con, &site.prefix).await, BTreeSet::from([account.clone(), client.clone()]));
    for key in [&account, &client] {
        let ms = pttl(&mut con, key).await;
        assert!(ms > 0 && ms <= window.as_millis() as i64, "{key}: PTTL {ms}");
        assert_eq!(zcard(&mut con, key).await, 2, "{key}");
    }

    site.succeed("ANN").await;
    let keys = keys_under(&mut con, &site.prefix).await;
    assert!(!keys.contains(&account), "the account's failures outlived the success: {keys:?}");
    assert_eq!(zcard(&mut con, &client).await, 2, "the success still counts against the address");
    assert!(keys.contains(&client), "{keys:?}");
    // The address's log and what the login made (session, user index): every key expires.
    assert!(keys.len() > 1, "the login stored no session: {keys:?}");
    for key in &keys {
        let ms = pttl(&mut con, key).await;
        assert!(ms > 0, "{key} never expires: PTTL {ms}");
    }
    assert!(pttl(&mut con, &client).await <= window.as_millis() as i64);
}

/// One login on a fresh connection (so the acceptor picks the next worker):
/// the status line and the body.
async fn raw_login(addr: SocketAddr, user: &str, password: &str) -> (String, String) {
    let body = serde_json::json!({ "username": user, "password": password }).to_string();
    let request = format!(
        "POST /login HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream.write_all(request.as_bytes()).await.expect("writes");
    let mut raw = String::new();
    tokio::time::timeout(PATIENCE, stream.read_to_string(&mut raw)).await.expect("answers in time").expect("reads");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    (head.lines().next().unwrap_or_default().to_owned(), body.to_owned())
}

/// Two workers, each with its own Redis connection, count in one place: N
/// failures spread over both reach the limit (not N per worker), a success
/// on one clears the count the other sees.
#[test]
fn workers_with_their_own_redis_connections_share_the_counts() {
    let redis = RedisServer::start();
    let client = redis.client();
    let runs = Runs::default();
    let n = 3;
    let make = {
        let (runs, prefix) = (runs.clone(), unique_prefix("workers"));
        move |index: usize| {
            let (client, runs, prefix) = (client.clone(), runs.clone(), prefix.clone());
            async move {
                let conn = redis::aio::ConnectionManager::new(client).await?;
                let backend = RedisBackend::new(conn).key_prefix(prefix);
                Ok::<_, redis::RedisError>(login_app(backend, limits(n), &runs, &index.to_string()).0)
            }
        }
    };
    let running = Workers::new("127.0.0.1:0").threads(2).start(make).expect("starts");
    let addr = running.local_addr();
    let rt = tokio::runtime::Runtime::new().expect("a client runtime");
    rt.block_on(async {
        let mut workers = BTreeSet::new();
        for _ in 0..n {
            let (status, body) = raw_login(addr, "ann", "wrong").await;
            assert!(status.starts_with("HTTP/1.1 401"), "{status}: {body}");
            workers.insert(body.split(':').next().unwrap_or_default().to_owned());
        }
        assert_eq!(workers, BTreeSet::from(["0".to_owned(), "1".to_owned()]), "both workers counted");
        // One more on each worker (consecutive connections alternate):
        // each alone saw fewer than N.
        for password in ["wrong", "right"] {
            let (status, body) = raw_login(addr, "ann", password).await;
            assert!(status.starts_with("HTTP/1.1 429"), "{status}: {body}");
        }
        // A success on one worker clears the count for both.
        for _ in 1..n {
            let (status, body) = raw_login(addr, "bob", "wrong").await;
            assert!(status.starts_with("HTTP/1.1 401"), "{status}: {body}");
        }
        let (status, body) = raw_login(addr, "bob", "right").await;
        assert!(status.starts_with("HTTP/1.1 201"), "{status}: {body}");
        for _ in 0..n {
            let (status, body) = raw_login(addr, "bob", "wrong").await;
            assert!(status.starts_with("HTTP/1.1 401"), "{status}: {body}");
        }
        let (status, body) = raw_login(addr, "bob", "wrong").await;
        assert!(status.starts_with("HTTP/1.1 429"), "{status}: {body}");
    });
    assert_eq!(runs.get(), n as usize + 2 * n as usize);
    running.shutdown().expect("clean shutdown");
}

/// Redis killed: a login is a 503 within the command timeout (plus a
/// margin), whatever the password, and the handler does not run; after a
/// restart on the same port the same app throttles again (from a clean
/// slate: the server kept nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_is_a_503_in_bounded_time_and_the_throttle_recovers() {
    let mut server = RedisServer::start();
    let timeout = Duration::from_secs(1);
    let margin = Duration::from_secs(1);
    let runs = Runs::default();
    let backend = RedisBackend::new(server.connection_manager().await).key_prefix("outage:").command_timeout(timeout);
    let n = 3;
    let (app, throttles) = login_app(backend, limits(n), &runs, "app");
    let service = app.build().expect("builds");
    let site = Site { service, runs, window: HOUR, prefix: "outage:".into(), throttles };
    site.fail("ann").await;

    server.kill();
    for password in ["wrong", "right", "wrong"] {
        let start = Instant::now();
        let o = site.attempt("ann", password).await;
        let took = start.elapsed();
        assert_eq!(o.status, 503, "{password}: {o:?}");
        assert!(o.body.contains("session store unavailable"), "{o:?}");
        assert!(took < timeout + margin, "{password}: a 503 after {took:?}");
    }
    assert_eq!(site.runs.get(), 1, "the handler ran while the store was down");

    server.restart();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let o = site.attempt("ann", "wrong").await;
        if o.status != 503 {
            assert_eq!(o.status, 401, "after the restart: {o:?}");
            break;
        }
        assert!(Instant::now() < deadline, "never recovered: {o:?}");
        tokio::time::sleep(POLL).await;
    }
    for _ in 1..n {
        site.fail("ann").await;
    }
    site.assert_refused(&site.attempt("ann", "wrong").await, "after the restart");
    assert_eq!(site.runs.get(), 1 + n as usize);
}
