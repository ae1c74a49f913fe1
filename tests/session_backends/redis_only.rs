//! Redis-specific guarantees: round trips, faults, key hygiene.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;

use crate::support::counting::Counting;

/// Server-side view: `calls` per command from INFO commandstats. Commands run
/// inside a script are counted too (under their own names), so we only look
/// at the top-level commands the client can send.
async fn command_calls(con: &mut redis::aio::MultiplexedConnection) -> HashMap<String, u64> {
    let info: String = redis::cmd("INFO").arg("commandstats").query_async(con).await.expect("info");
    info.lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest.strip_prefix("calls=")?.split(',').next()?.parse().ok()?;
            Some((name.to_string(), calls))
        })
        .collect()
}

fn delta(before: &HashMap<String, u64>, after: &HashMap<String, u64>, cmd: &str) -> u64 {
    after.get(cmd).copied().unwrap_or(0) - before.get(cmd).copied().unwrap_or(0)
}

#[tokio::test]
async fn load_and_save_are_one_round_trip_each() {
    let server = RedisServer::start();
    let requests = Arc::new(AtomicUsize::new(0));
    let conn = Counting { inner: server.connection_manager().await, round_trips: requests.clone() };
    let b = RedisBackend::new(RedisConnection::single_node(conn));
    let mut inspect = server.client().get_multiplexed_async_connection().await.expect("conn");
    let count = |f: &AtomicUsize| f.swap(0, Ordering::SeqCst);

    // A new session without a namespace needs no script: one transaction
    // (MULTI, HSET, PEXPIRE, EXEC) in one round trip.
    let id = new_id();
    let before = command_calls(&mut inspect).await;
    create(&b, &id, &[("a", "1")], None, HOUR).await;
    let after = command_calls(&mut inspect).await;
    assert_eq!(count(&requests), 1, "save (new) must be one round trip");
    let sent = ["multi", "hset", "pexpire", "exec", "evalsha"].map(|c| delta(&before, &after, c));
    assert_eq!(sent, [1, 1, 1, 1, 0], "multi, hset, pexpire, exec, evalsha");

    let before = command_calls(&mut inspect).await;
    assert!(b.load(STORE, &id).await.expect("load").is_some());
    let after = command_calls(&mut inspect).await;
    assert_eq!(count(&requests), 1, "load must be one round trip");
    assert_eq!((delta(&before, &after, "hgetall"), delta(&before, &after, "pttl")), (1, 1));

    // An update needs no script either: one transaction that also tells
    // whether the session still existed (HEXISTS of its marker).
    let before = command_calls(&mut inspect).await;
    assert_eq!(update(&b, &id, &[("b", "3")], &["a"]).await, SaveOutcome::Saved);
    let after = command_calls(&mut inspect).await;
    assert_eq!(count(&requests), 1, "save (update) must be one round trip");
    let sent = ["multi", "hset", "hdel", "pexpire", "hexists", "exec", "evalsha"].map(|c| delta(&before, &after, c));
    assert_eq!(sent, [1, 1, 1, 1, 1, 1, 0], "multi, hset, hdel, pexpire, hexists, exec, evalsha");
    assert_eq!(b.load(STORE, &id).await.expect("load").expect("exists").data, map(&[("b", "3")]));
    count(&requests);

    // Cold start: the script cache is empty, so the first script use (a new
    // namespaced session) pays NOSCRIPT, the SCRIPT LOADs and the retry.
    // Documented, and bounded here.
    create(&b, &new_id(), &[("a", "1")], Some("alice"), HOUR).await;
    let cold = count(&requests);
    assert!((1..=5).contains(&cold), "cold save took {cold} requests");

    // A brand-new namespaced session: session script + index script, both in
    // the same single pipeline.
    let before = command_calls(&mut inspect).await;
    create(&b, &new_id(), &[("a", "1")], Some("alice"), HOUR).await;
    let after = command_calls(&mut inspect).await;
    assert_eq!(count(&requests), 1, "save (new, namespaced) must be one round trip");
    assert_eq!(delta(&before, &after, "evalsha"), 2);

    // Login rotation on a single node: one pipeline.
    let new = new_id();
    b.rotate(STORE, Some(&id), &new, &map(&[("u", "1")]), Some("alice"), HOUR).await.expect("rotate");
    assert_eq!(count(&requests), 1, "rotate must be one round trip");
}

#[tokio::test]
async fn killed_server_is_unavailable_then_recovers_on_restart() {
    let mut server = RedisServer::start();
    let timeout = Duration::from_secs(1);
    let b = RedisBackend::new(server.connection_manager().await).command_timeout(timeout);
    let id = new_id();
    create(&b, &id, &[("a", "1")], None, HOUR).await;

    server.kill();
    for _ in 0..3 {
        let start = Instant::now();
        let res = b.load(STORE, &id).await;
        let elapsed = start.elapsed();
        eprintln!("load with server down: {res:?} after {elapsed:?}");
        assert!(matches!(res, Err(SessionError::Unavailable(_) | SessionError::Timeout(_))), "{res:?}");
        assert!(elapsed < timeout + Duration::from_millis(500), "took {elapsed:?}");
    }
    let full = HashMap::new();
    let req = SaveRequest {
        store: STORE,
        id: &id,
        existed: true,
        upserts: &[],
        removals: &[],
        full: &full,
        namespace: None,
        max_age: HOUR,
    };
    let start = Instant::now();
    let res = b.save(req).await;
    assert!(matches!(res, Err(SessionError::Unavailable(_) | SessionError::Timeout(_))), "{res:?}");
    assert!(start.elapsed() < timeout + Duration::from_millis(500), "took {:?}", start.elapsed());

    server.restart();
    // Same backend, same ConnectionManager: it reconnects by itself. Poll
    // with a deadline rather than guessing how long reconnecting takes.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match b.load(STORE, &id).await {
            Ok(loaded) => {
                // The restarted server has no persistence: the session is gone.
                assert!(loaded.is_none());
                break;
            }
            Err(e) => assert!(Instant::now() < deadline, "never recovered: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Scripts were flushed by the restart too; saves recover transparently.
    let id2 = new_id();
    create(&b, &id2, &[("a", "1")], Some("ns"), HOUR).await;
    assert_eq!(update(&b, &id2, &[("b", "2")], &[]).await, SaveOutcome::Saved);
    assert_eq!(b.remove_namespace(STORE, "ns").await.expect("rm"), 1);
}

/// All keys on the server with their PTTL.
async fn all_keys(con: &mut redis::aio::MultiplexedConnection) -> Vec<(String, i64)> {
    // KEYS is fine here: it is the test's own throwaway server.
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query_async(con).await.expect("keys");
    let mut out = Vec::new();
    for k in keys {
        let pttl: i64 = redis::cmd("PTTL").arg(&k).query_async(con).await.expect("pttl");
        out.push((k, pttl));
    }
    out.sort();
    out
}

/// Exercises every operation, with ordinary and hostile namespaces, and checks
/// that every key is under the prefix and has a TTL, and that the namespace
/// index outlives its members.
async fn exercise(b: &dyn SessionBackend, namespaces: &[&str]) -> Vec<SessionId> {
    let mut kept = Vec::new();
    for ns in namespaces {
        let (s1, s2, s3) = (new_id(), new_id(), new_id());
        create(b, &s1, &[("a", "1")], Some(ns), Duration::from_secs(30)).await;
        b.rotate(STORE, Some(&s1), &s2, &map(&[("a", "1")]), Some(ns), Duration::from_secs(90)).await.expect("rotate");
        create(b, &s3, &[("b", "2")], None, HOUR).await;
        update(b, &s3, &[("c", "3")], &["b"]).await;
        b.touch(STORE, &s3, HOUR).await.expect("touch");
        kept.push(s2);
        kept.push(s3);
    }
    kept
}

#[tokio::test]
async fn prefix_applies_to_every_key_and_every_key_has_a_ttl() {
    let server = RedisServer::start();
    let mut con = server.client().get_multiplexed_async_connection().await.expect("conn");
    let b = RedisBackend::new(server.connection_manager().await).key_prefix("app1:");
    let namespaces = ["alice", "bob"];
    exercise(&b, &namespaces).await;

    let keys = all_keys(&mut con).await;
    assert!(!keys.is_empty());
    for (k, pttl) in &keys {
        assert!(k.starts_with("app1:"), "unprefixed key {k:?}");
        assert!(*pttl > 0, "key {k:?} has no TTL ({pttl})");
    }
    // The index outlives its longest member (90 s session -> index >= that).
    let index: Vec<_> = keys.iter().filter(|(k, _)| k.starts_with("app1:uapi:ns:")).collect();
    assert_eq!(index.len(), 2, "{keys:?}");
    let longest = keys.iter().filter(|(k, _)| k.contains(":session:")).map(|(_, t)| *t).max().unwrap_or(0);
    assert!(index.iter().all(|(_, t)| *t + 1000 >= longest.min(90_000)), "{keys:?}");

    for ns in namespaces {
        assert_eq!(b.remove_namespace(STORE, ns).await.expect("rm"), 1);
    }
    let keys = all_keys(&mut con).await;
    assert!(keys.iter().all(|(k, _)| k.starts_with("app1:uapi:session:")), "{keys:?}");
    assert_eq!(keys.len(), 2, "only the namespace-less sessions remain: {keys:?}");
}

#[tokio::test]
async fn hostile_namespaces_stay_under_the_prefix() {
    let server = RedisServer::start();
    let mut con = server.client().get_multiplexed_async_connection().await.expect("conn");
    // Keys a naive implementation could reach (glob-looking names included).
    const VICTIMS: [&str; 7] = ["victim", "*", "uapi:ns:*", "uapi:session:x", "app1", "..", "app1:uapi:ns:*"];
    for victim in VICTIMS {
        let _: () = redis::cmd("SET").arg(victim).arg("1").query_async(&mut con).await.expect("set");
    }
    let b = RedisBackend::new(server.connection_manager().await).key_prefix("app1:");
    let hostile = ["*", "a:b", "x\r\ny", "../..", "{tag}", "[a-z]?", "", "uapi:session:*", "\u{1}ns", "é"];
    let kept = exercise(&b, &hostile).await;

    for ns in hostile {
        assert_eq!(b.remove_namespace(STORE, ns).await.expect("rm"), 1, "namespace {ns:?}");
    }
    // Each hostile namespace removed exactly its own session (so "*" matched
    // nothing else), and the namespace-less sessions are untouched.
    for id in kept.iter().skip(1).step_by(2) {
        assert!(b.load(STORE, id).await.expect("load").is_some());
    }
    let keys = all_keys(&mut con).await;
    for victim in VICTIMS {
        assert!(keys.iter().any(|(k, _)| k == victim), "victim {victim:?} deleted: {keys:?}");
    }
    for (k, pttl) in &keys {
        if k.starts_with("app1:uapi:") && !VICTIMS.contains(&k.as_str()) {
            assert!(k.starts_with("app1:uapi:session:"), "leftover index {k:?}");
            assert!(*pttl > 0, "{k:?} has no TTL");
            let id = &k["app1:uapi:session:".len()..];
            assert!(SessionId::parse(id).is_some(), "odd key {k:?}");
        }
    }
}

#[tokio::test]
async fn flushed_script_cache_is_reloaded() {
    let server = RedisServer::start();
    let mut con = server.client().get_multiplexed_async_connection().await.expect("conn");
    let b = RedisBackend::new(server.connection_manager().await);
    let id = new_id();
    create(&b, &id, &[("a", "1")], Some("n"), HOUR).await;
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query_async(&mut con).await.expect("flush");
    // A namespace change runs the save script: NOSCRIPT, SCRIPT LOAD, retry.
    let upserts = [("a".to_owned(), "2".to_owned())];
    let full = HashMap::new();
    let req = SaveRequest {
        store: STORE,
        id: &id,
        existed: true,
        upserts: &upserts,
        removals: &[],
        full: &full,
        namespace: Some("m"),
        max_age: HOUR,
    };
    assert_eq!(b.save(req).await.expect("save"), SaveOutcome::Saved);
    let loaded = b.load(STORE, &id).await.expect("load").expect("exists");
    assert_eq!((loaded.data, loaded.namespace.as_deref()), (map(&[("a", "2")]), Some("m")));
}

#[tokio::test]
async fn stalled_server_times_out_within_the_command_timeout() {
    let server = RedisServer::start();
    let mut con = server.client().get_multiplexed_async_connection().await.expect("conn");
    let timeout = Duration::from_millis(200);
    // The ConnectionManager's own response timeout is 500 ms, so the 200 ms
    // bound observed here is the backend's.
    let b = RedisBackend::new(server.connection_manager().await).command_timeout(timeout);
    let id = new_id();
    create(&b, &id, &[("a", "1")], None, HOUR).await;
    // The server stays up but answers nobody else for 1.5 s.
    let _: () = redis::cmd("CLIENT").arg("PAUSE").arg(1500).query_async(&mut con).await.expect("pause");
    let start = Instant::now();
    let res = b.load(STORE, &id).await;
    let elapsed = start.elapsed();
    assert!(matches!(res, Err(SessionError::Timeout(t)) if t == timeout), "{res:?}");
    assert!(elapsed >= timeout && elapsed < timeout + Duration::from_millis(300), "took {elapsed:?}");
    // The pause ends by itself (the pausing connection is paused too, so no
    // UNPAUSE); the same backend then works again.
    let deadline = Instant::now() + Duration::from_secs(5);
    while b.load(STORE, &id).await.is_err() {
        assert!(Instant::now() < deadline, "never recovered after the pause");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(b.load(STORE, &id).await.expect("load").is_some());
}

/// A session with thousands of fields is written, changed and trimmed in one
/// save each: the script writes fields in chunks, never past Lua's stack.
#[tokio::test]
async fn saves_of_thousands_of_fields_are_chunked_and_complete() {
    let server = RedisServer::start();
    let backend = RedisBackend::new(server.connection_manager().await);
    let id = SessionId::generate().expect("id");
    let full: HashMap<String, String> = (0..3000).map(|i| (format!("k{i}"), format!("v{i}"))).collect();
    let req = SaveRequest {
        store: STORE,
        id: &id,
        existed: false,
        upserts: &[],
        removals: &[],
        full: &full,
        namespace: None,
        max_age: Duration::from_secs(60),
    };
    assert_eq!(backend.save(req).await.expect("create"), SaveOutcome::Saved);
    let upserts: Vec<(String, String)> = (0..2500).map(|i| (format!("k{i}"), format!("new{i}"))).collect();
    let removals: Vec<String> = (1000..3000).map(|i| format!("k{i}")).collect();
    let req = SaveRequest { store: STORE, existed: true, upserts: &upserts, removals: &removals, ..req };
    assert_eq!(backend.save(req).await.expect("update"), SaveOutcome::Saved);
    let loaded = backend.load(STORE, &id).await.expect("load").expect("present");
    assert_eq!(loaded.data.len(), 1000);
    assert_eq!(loaded.data.get("k999").map(String::as_str), Some("new999"));
    assert!(!loaded.data.contains_key("k1000"));
}

/// Auto-pipelining: loads and saves that are ready at the same moment share
/// ONE write to Redis, and each still gets its own session back.
#[tokio::test]
async fn concurrent_requests_share_one_round_trip() {
    let server = RedisServer::start();
    let conn = Counting::new(server.connection_manager().await);
    let b = RedisBackend::new(RedisConnection::single_node(conn.clone()));
    let ids: Vec<SessionId> = (0..50).map(|_| new_id()).collect();
    let n = |i: usize| i.to_string();
    futures_util::future::join_all(ids.iter().enumerate().map(|(i, id)| {
        let data = [("n", n(i))];
        let b = &b;
        async move {
            let full: HashMap<String, String> = data.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            let req = SaveRequest {
                store: STORE,
                id,
                existed: false,
                upserts: &[],
                removals: &[],
                full: &full,
                namespace: None,
                max_age: HOUR,
            };
            assert_eq!(b.save(req).await.expect("create"), SaveOutcome::Saved);
        }
    }))
    .await;
    assert_eq!(conn.take(), 1, "50 creations, one write");

    let loaded = futures_util::future::join_all(ids.iter().map(|id| b.load(STORE, id))).await;
    assert_eq!(conn.take(), 1, "50 loads, one write");
    for (i, l) in loaded.into_iter().enumerate() {
        assert_eq!(l.expect("load").expect("exists").data, map(&[("n", &n(i))]), "session {i}");
    }

    // Saves of existing sessions too (the script, with a cold cache first:
    // NOSCRIPT for all, one SCRIPT LOAD, one retried batch).
    let outcomes = futures_util::future::join_all(ids.iter().map(|id| update(&b, id, &[("m", "x")], &["n"]))).await;
    assert!(outcomes.iter().all(|o| *o == SaveOutcome::Saved));
    let cold = conn.take();
    assert!(cold <= 4, "50 updates on a cold script cache took {cold} writes");
    let outcomes = futures_util::future::join_all(ids.iter().map(|id| update(&b, id, &[("m", "y")], &[]))).await;
    assert!(outcomes.iter().all(|o| *o == SaveOutcome::Saved));
    assert_eq!(conn.take(), 1, "50 updates, one write");
    assert_eq!(b.load(STORE, &ids[7]).await.expect("load").expect("exists").data, map(&[("m", "y")]));
}

/// A request dropped while its command waits in a shared batch (client gone,
/// handler timeout) takes nothing down with it: the others get their replies.
#[tokio::test]
async fn a_dropped_request_does_not_spoil_its_batch() {
    let server = RedisServer::start();
    let b = RedisBackend::new(server.connection_manager().await);
    let (keep, gone) = (new_id(), new_id());
    create(&b, &keep, &[("a", "1")], None, HOUR).await;
    create(&b, &gone, &[("b", "2")], None, HOUR).await;
    let mut dropped = b.load(STORE, &gone);
    // Poll once, so its command is queued, then drop it.
    assert!(futures_util::FutureExt::now_or_never(&mut dropped).is_none());
    let kept = b.load(STORE, &keep);
    drop(dropped);
    assert_eq!(kept.await.expect("load").expect("exists").data, map(&[("a", "1")]));
    assert_eq!(b.load(STORE, &gone).await.expect("load").expect("exists").data, map(&[("b", "2")]));
}

/// A save that races a deletion writes a "husk" (HSET creates the key) and
/// reports the session gone; the husk is deleted, and a hash without the
/// marker every session is created with never loads as a session.
#[tokio::test]
async fn a_save_racing_a_deletion_leaves_no_session_behind() {
    let server = RedisServer::start();
    let mut con = server.client().get_multiplexed_async_connection().await.expect("conn");
    let b = RedisBackend::new(server.connection_manager().await);
    let id = new_id();
    create(&b, &id, &[("user_id", "7")], None, HOUR).await;
    assert!(b.load(STORE, &id).await.expect("load").is_some());
    // Logged out elsewhere between this request's load and its save.
    b.delete(STORE, &id).await.expect("delete");
    assert_eq!(update(&b, &id, &[("cart", "3")], &[]).await, SaveOutcome::Gone);
    assert_eq!(b.load(STORE, &id).await.expect("load"), None);
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query_async(&mut con).await.expect("keys");
    assert!(keys.is_empty(), "left behind: {keys:?}");

    // A hash without the marker (a husk that has not been deleted yet) is no
    // session, whatever fields it has.
    let key = format!("uapi:session:{}", id.as_str());
    let _: () = redis::cmd("HSET").arg(&key).arg("user_id").arg("1").query_async(&mut con).await.expect("hset");
    assert_eq!(b.load(STORE, &id).await.expect("load"), None);
    assert_eq!(update(&b, &id, &[("user_id", "2")], &[]).await, SaveOutcome::Gone);
}
