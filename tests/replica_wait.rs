//! `RedisBackend::wait_for_replicas` on a single primary with one replica
//! (real `redis-server` processes, driven in-process by `TestClient`): the
//! writes of concurrent requests share one `WAIT` (a group commit), each of
//! them is on the replica by the time its request is answered, and a batch
//! whose `WAIT` comes back short fails its writes, not the reads that went
//! with them. Needs `redis-server` on PATH.

mod support;

use std::time::{Duration, Instant};

use support::commandstats::{command_counts, reset_stats};
use support::redis_sentinel::wait_linked;
use support::redis_server::RedisServer;
use uapi::sessions::redis::configure_async_sessions;
use uapi::sessions::{AsyncSession, RedisBackend, SessionError, SessionOptions};
use uapi::testing::TestClient;
use uapi::{handler, App};

/// Concurrent requests in each test.
const N: usize = 24;

/// `POST /new?n`: a new session holding `n` (one write, no read).
#[handler]
async fn new_session(session: AsyncSession, n: usize) -> Result<&'static str, SessionError> {
    session.insert("n", n.to_string());
    session.update_session().await?;
    Ok("saved")
}

/// `GET /n`: the session's `n` (`-` when none).
#[handler]
async fn read_n(session: AsyncSession) -> String {
    session.get("n").unwrap_or_else(|| "-".to_owned())
}

/// A primary and one replica, linked, synced, and replicating.
async fn primary_and_replica() -> (RedisServer, RedisServer) {
    let primary = RedisServer::builder().args(&["--repl-diskless-sync-delay", "0"]).start();
    let replica = replica_of(&primary);
    (primary, replica)
}

/// A replica of `primary`, once the primary has had a write of it
/// acknowledged (`WAIT`). A link that is up is not enough: just after the
/// sync, Redis 7.0 may hold the stream for the replica in its output buffer
/// until its next cron tick (seen here: `offset=0`, a pending output buffer,
/// and a `WAIT` blocked half a second).
fn replica_of(primary: &RedisServer) -> RedisServer {
    let port = primary.port().to_string();
    let replica = RedisServer::builder().args(&["--replicaof", "127.0.0.1", &port]).start();
    wait_linked(replica.port(), Instant::now() + Duration::from_secs(20));
    // A blocking connection with no read timeout: this WAIT may take a second.
    let mut admin = primary.client().get_connection().expect("connect");
    for write in [redis::cmd("SET").arg("ready").arg(1).clone(), redis::cmd("DEL").arg("ready").clone()] {
        let _: () = write.query(&mut admin).expect("write");
        let acked: i64 = redis::cmd("WAIT").arg(1).arg(20_000).query(&mut admin).expect("WAIT");
        assert_eq!(acked, 1, "the replica never acknowledged a write");
    }
    replica
}

/// The app on `primary`, every write waiting for `replicas` replicas.
async fn client(primary: &RedisServer, replicas: u32, timeout: Duration) -> TestClient {
    let backend = RedisBackend::new(primary.connection_manager().await).wait_for_replicas(replicas, timeout);
    let mut app = App::new();
    configure_async_sessions(&mut app, backend, SessionOptions::default());
    app.post("/new", new_session).get("/n", read_n);
    TestClient::new(&app).expect("app builds")
}

#[tokio::test]
async fn concurrent_writes_share_one_wait_and_each_is_on_the_replica_when_answered() {
    let (primary, replica) = primary_and_replica().await;
    let site = client(&primary, 1, Duration::from_secs(2)).await;
    let mut admin = primary.connection_manager().await;
    reset_stats(&mut admin).await;

    // All polled in one pass of this (current-thread) runtime: their saves
    // queue before the batch leaves.
    let sends = (0..N).map(|n| site.post(&format!("/new?n={n}")).send());
    let answers = futures_util::future::join_all(sends).await;
    for (n, r) in answers.iter().enumerate() {
        assert_eq!(r.status, 200, "write {n}: {}", r.text());
    }

    // Answered means acknowledged by the replica: every session is there
    // now, with no waiting for replication to catch up.
    let mut on_replica = replica.connection_manager().await;
    let keys: usize = redis::cmd("DBSIZE").query_async(&mut on_replica).await.expect("DBSIZE");
    assert_eq!(keys, N, "sessions on the replica when the last write was answered");

    let counts = command_counts(&mut admin).await;
    let (saves, waits) = (counts.get("exec").copied().unwrap_or(0), counts.get("wait").copied().unwrap_or(0));
    assert_eq!(saves, N as u64, "one transaction per new session: {counts:?}");
    assert!((1..=2).contains(&waits), "{N} concurrent writes, {waits} WAITs: one per batch expected ({counts:?})");
}

#[tokio::test]
async fn a_short_wait_fails_the_writes_of_its_batch_and_not_its_reads() {
    let (primary, _replica) = primary_and_replica().await;
    // A session to read, saved with no wait.
    let seeding = client(&primary, 0, Duration::from_millis(50)).await;
    let seeded = seeding.post("/new?n=7").send().await;
    assert_eq!(seeded.status, 200);
    let cookie = seeding.cookie("session_id").expect("a session cookie");

    // Two replicas required, one there: every WAIT comes back short.
    let site = client(&primary, 2, Duration::from_millis(50)).await;
    let mut admin = primary.connection_manager().await;
    reset_stats(&mut admin).await;
    let writes = (0..N).map(|n| site.post(&format!("/new?n={n}")).send());
    let reads = (0..N).map(|_| site.get("/n").header("cookie", &format!("session_id={cookie}")).send());
    let (writes, reads) =
        futures_util::future::join(futures_util::future::join_all(writes), futures_util::future::join_all(reads)).await;
    for (n, r) in writes.iter().enumerate() {
        assert_eq!(r.status, 503, "write {n}: {}", r.text());
        assert!(r.set_cookies().is_empty(), "write {n}: a cookie for a save that failed");
    }
    for (n, r) in reads.iter().enumerate() {
        assert_eq!((r.status.as_u16(), r.text()), (200, "7".to_owned()), "read {n}");
    }
    let counts = command_counts(&mut admin).await;
    let waits = counts.get("wait").copied().unwrap_or(0);
    assert!((1..=2).contains(&waits), "{N} concurrent writes, {waits} WAITs ({counts:?})");
    assert_eq!(counts.get("hgetall").copied(), Some(N as u64), "every read went to Redis: {counts:?}");
}

/// How long writes to a primary found short of replicas are refused before
/// a probe (`replicas::COOLDOWN`): a timer, with nothing to wait on but time.
const COOLDOWN: Duration = Duration::from_secs(1);

#[tokio::test]
async fn a_probe_whose_request_is_dropped_lets_a_later_one_through() {
    // No replica yet: every WAIT comes back short, after 200 ms.
    let primary = RedisServer::builder().args(&["--repl-diskless-sync-delay", "0"]).start();
    let site = client(&primary, 1, Duration::from_millis(200)).await;
    let short = site.post("/new?n=1").send().await;
    assert_eq!(short.status, 503, "short: {}", short.text());
    let refused = site.post("/new?n=2").send().await;
    assert_eq!(refused.status, 503, "refused during the cooldown: {}", refused.text());

    // After the cooldown the next write is the probe; its client goes away
    // while its WAIT is out (the request future is dropped).
    tokio::time::sleep(COOLDOWN).await;
    let gone = tokio::time::timeout(Duration::from_millis(50), site.post("/new?n=3").send()).await;
    assert!(gone.is_err(), "the probe answered before its WAIT could");
    let dropped_at = Instant::now();

    // A replica now acknowledges. Once a cooldown has passed since the lost
    // probe, the next write goes out as a new probe and is acknowledged.
    let _replica = replica_of(&primary);
    tokio::time::sleep((dropped_at + COOLDOWN + Duration::from_millis(100)).saturating_duration_since(Instant::now()))
        .await;
    let probe = site.post("/new?n=4").send().await;
    assert_eq!(probe.status, 200, "a new probe after the lost one: {}", probe.text());
    let after = site.post("/new?n=5").send().await;
    assert_eq!(after.status, 200, "writes flow again: {}", after.text());
}
