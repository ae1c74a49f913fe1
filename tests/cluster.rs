//! Sessions and login on a real 3-master Redis Cluster: work that spans hash
//! slots (and nodes) without a single error, on redis-rs's cluster connection
//! and on any other given as a cluster one, logout everywhere for a user whose sessions live on every node,
//! and the loss of a master (503s in bounded time, never a 500 or a hang).
//! The shared backend and HTTP scenario suites also run on a cluster (see
//! `session_backends.rs`, `sessions_http.rs`, `login.rs`). Needs
//! `redis-server` and `redis-cli` on PATH.

mod support;

#[path = "../examples/login/app.rs"]
#[allow(dead_code)]
mod login_app;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis::aio::ConnectionLike;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};
use support::redis_cluster::{unique_prefix, RedisCluster};
use uapi::sessions::redis::RedisConnection;
use uapi::sessions::{RedisBackend, SaveOutcome, SaveRequest, SessionBackend, SessionId, StoreInfo};
use uapi::testing::TestClient;

const HOUR: Duration = Duration::from_secs(3600);

/// The store every call is for: the default cookie, with rolling expiry (so
/// loads report the time to live).
const STORE: StoreInfo<'static> = StoreInfo::new("session_id", true);

/// Wraps a connection and records every error it returns, whether the whole
/// request failed or one reply of a pipeline was an error.
#[derive(Clone)]
struct Recording<C> {
    inner: C,
    errors: Arc<Mutex<Vec<Recorded>>>,
}

/// One error a connection returned: the server's error code (`NOSCRIPT`,
/// `CROSSSLOT`, `MOVED`, ...) when the server answered with one, and the
/// text, for the failure message only.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Recorded {
    code: Option<String>,
    text: String,
}

impl<C> Recording<C> {
    fn new(inner: C) -> Self {
        Recording { inner, errors: Arc::default() }
    }

    fn errors(&self) -> Vec<Recorded> {
        self.errors.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The errors, but `NOSCRIPT`: a fresh cluster has no scripts cached, so
    /// each script's first use on a node is refused once, the scripts are
    /// loaded and the request retried (by design).
    fn unexpected_errors(&self) -> Vec<Recorded> {
        self.errors().into_iter().filter(|e| e.code.as_deref() != Some("NOSCRIPT")).collect()
    }

    fn record<T>(&self, r: &redis::RedisResult<T>, replies: &[Value]) {
        let mut errors = self.errors.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = r {
            errors.push(Recorded { code: e.code().map(str::to_owned), text: e.to_string() });
        }
        for v in replies {
            if let Value::ServerError(e) = v {
                errors.push(Recorded {
                    code: Some(e.code().to_owned()),
                    text: e.details().unwrap_or_default().to_owned(),
                });
            }
        }
    }
}

impl<C: ConnectionLike + Send> ConnectionLike for Recording<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let r = self.inner.req_packed_command(cmd).await;
            let reply = r.as_ref().map(std::slice::from_ref).unwrap_or_default();
            self.record(&r, reply);
            r
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        p: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let r = self.inner.req_packed_commands(p, offset, count).await;
            let replies = r.as_deref().unwrap_or_default();
            self.record(&r, replies);
            r
        })
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

fn new_id() -> SessionId {
    SessionId::generate().expect("rng")
}

fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

async fn create(b: &dyn SessionBackend, id: &SessionId, data: &[(&str, &str)], ns: Option<&str>) {
    let full = map(data);
    let req = SaveRequest {
        store: STORE,
        id,
        existed: false,
        upserts: &[],
        removals: &[],
        full: &full,
        namespace: ns,
        max_age: HOUR,
    };
    assert_eq!(b.save(req).await.expect("create"), SaveOutcome::Saved);
}

async fn save(b: &dyn SessionBackend, id: &SessionId, set: &[(&str, &str)], ns: Option<&str>) -> SaveOutcome {
    let upserts: Vec<(String, String)> = set.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let full = HashMap::new();
    let req = SaveRequest {
        store: STORE,
        id,
        existed: true,
        upserts: &upserts,
        removals: &[],
        full: &full,
        namespace: ns,
        max_age: HOUR,
    };
    b.save(req).await.expect("save")
}

/// Fresh ids until their session keys (under `prefix`) cover every node, at
/// least `min` of them.
fn ids_on_every_node(cluster: &RedisCluster, prefix: &str, min: usize) -> Vec<(SessionId, usize)> {
    let mut ids = Vec::new();
    let mut nodes = HashSet::new();
    while ids.len() < min || nodes.len() < 3 {
        assert!(ids.len() < 200, "3 nodes never covered");
        let id = new_id();
        let node = cluster.node_of(&format!("{prefix}uapi:session:{id}"));
        nodes.insert(node);
        ids.push((id, node));
    }
    ids
}

/// A cluster connection of any type, given as `RedisConnection::cluster`
/// (here a wrapper that records errors), is sent on per slot from the first
/// request: a namespaced session's key and index key never go out together,
/// so the client never refuses a cross-slot request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_cluster_connection_is_sent_on_per_slot_from_the_first_request() {
    let cluster = RedisCluster::shared();
    let conn = Recording::new(cluster.connection().await);
    let b = RedisBackend::new(RedisConnection::cluster(conn.clone())).key_prefix(unique_prefix("sw"));
    let id = new_id();
    // A new namespaced session: session key and index key, on two slots.
    create(&b, &id, &[("a", "1")], Some("alice")).await;
    assert_eq!(b.load(STORE, &id).await.expect("load").expect("exists").data, map(&[("a", "1")]));
    assert_eq!(b.remove_namespace(STORE, "alice").await.expect("rm"), 1);
    assert_eq!(conn.unexpected_errors(), Vec::<Recorded>::new());
}

/// A cluster connection given as a single node's (`RedisConnection::single_node`)
/// is a setup mistake: the store's batches mix hash slots, and the error
/// says what to give instead, rather than a bare CROSSSLOT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_connection_given_as_a_single_node_is_a_clear_setup_error() {
    let cluster = RedisCluster::shared();
    let b = RedisBackend::new(RedisConnection::single_node(cluster.connection().await))
        .key_prefix(unique_prefix("misconfigured"));
    let id = new_id();
    let full = map(&[("a", "1")]);
    let req = SaveRequest {
        store: STORE,
        id: &id,
        existed: false,
        upserts: &[],
        removals: &[],
        full: &full,
        namespace: Some("alice"),
        max_age: HOUR,
    };
    let err = b.save(req).await.expect_err("a namespaced save spans two slots");
    assert!(!err.is_transient(), "{err}");
    let text = err.to_string();
    assert!(text.contains("RedisConnection::cluster") && text.contains("ClusterConnection"), "{text}");
}

/// Every operation, on sessions spread over all three nodes with their
/// namespace index on whichever node its slot lands: no error at all (no
/// CROSSSLOT, no redirection left over), and the results are right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_across_slots_without_a_single_error() {
    let cluster = RedisCluster::shared();
    let conn = Recording::new(cluster.connection().await);
    let prefix = unique_prefix("ops");
    let b = RedisBackend::new(RedisConnection::cluster(conn.clone())).key_prefix(prefix.clone());
    let ids = ids_on_every_node(&cluster, &prefix, 12);

    for (i, (id, _)) in ids.iter().enumerate() {
        let ns = if i % 2 == 0 { "alice" } else { "bob" };
        create(&b, id, &[("n", &i.to_string())], Some(ns)).await;
    }
    // Field-level updates, a namespace move, touch, on every node.
    for (id, _) in &ids {
        assert_eq!(save(&b, id, &[("seen", "1")], None).await, SaveOutcome::Saved);
        b.touch(STORE, id, HOUR).await.expect("touch");
    }
    let (mover, _) = &ids[0];
    assert_eq!(save(&b, mover, &[], Some("carol")).await, SaveOutcome::Saved);

    // Login rotation where the old and new ids live on different nodes.
    let (old, old_node) = ids[1];
    let new = loop {
        let n = new_id();
        if cluster.node_of(&format!("{prefix}uapi:session:{n}")) != old_node {
            break n;
        }
    };
    let kept = map(&[("cart", "3")]);
    b.rotate(STORE, Some(&old), &new, &kept, Some("alice"), HOUR).await.expect("rotate");
    assert!(b.load(STORE, &old).await.expect("load").is_none());
    assert_eq!(save(&b, &old, &[("x", "1")], None).await, SaveOutcome::Gone);
    let s = b.load(STORE, &new).await.expect("load").expect("rotated");
    assert_eq!((s.data, s.namespace.as_deref()), (kept, Some("alice")));

    // Delete one "alice" session, then log alice out everywhere.
    let (gone, _) = &ids[2];
    b.delete(STORE, gone).await.expect("delete");
    let alice: Vec<&SessionId> =
        ids.iter().enumerate().filter(|(i, _)| i % 2 == 0 && *i != 0 && *i != 2).map(|(_, (id, _))| id).collect();
    let removed = b.remove_namespace(STORE, "alice").await.expect("remove_namespace");
    assert_eq!(removed, alice.len() as u64 + 1, "alice's sessions plus the rotated one");
    for id in alice.iter().copied().chain([&new, gone]) {
        assert!(b.load(STORE, id).await.expect("load").is_none(), "{id:?} survived");
    }
    // Bob's sessions (odd indexes, on every node) and carol's are untouched.
    let bob = ids.iter().enumerate().filter(|(i, _)| i % 2 == 1 && *i != 1).count() as u64;
    assert_eq!(b.remove_namespace(STORE, "bob").await.expect("rm"), bob);
    assert_eq!(b.remove_namespace(STORE, "carol").await.expect("rm"), 1);
    assert_eq!(conn.unexpected_errors(), Vec::<Recorded>::new());
}

/// Runs one command on node `i` of `cluster` (a plain connection).
fn on_node<T: redis::FromRedisValue>(cluster: &RedisCluster, i: usize, cmd: &mut Cmd) -> T {
    let mut con = cluster.node_client(i).get_connection().expect("node connection");
    cmd.query(&mut con).unwrap_or_else(|e| panic!("node {i}: {e}"))
}

/// A session's slot moves to another node while the backend's connection
/// still has the old slot map: first half-way (the key already migrated, the
/// slot still MIGRATING: the old node answers ASK), then for good (MOVED).
/// The client follows both; the backend never sees an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resharding_a_slot_mid_session_is_transparent() {
    let cluster = RedisCluster::start();
    let conn = Recording::new(cluster.connection().await);
    let b = RedisBackend::new(RedisConnection::cluster(conn.clone())).key_prefix("rs:");
    let id = new_id();
    create(&b, &id, &[("a", "1")], Some("u")).await;
    let key = format!("rs:uapi:session:{id}");
    let (src, dst) = (cluster.node_of(&key), (cluster.node_of(&key) + 1) % 3);
    let slot: i64 = on_node(&cluster, 0, redis::cmd("CLUSTER").arg("KEYSLOT").arg(&key));
    let ids: Vec<String> = (0..3).map(|i| on_node(&cluster, i, redis::cmd("CLUSTER").arg("MYID"))).collect();

    // Half-way: the slot is migrating and our key already lives on `dst`.
    let _: () = on_node(&cluster, dst, redis::cmd("CLUSTER").arg("SETSLOT").arg(slot).arg("IMPORTING").arg(&ids[src]));
    let _: () = on_node(&cluster, src, redis::cmd("CLUSTER").arg("SETSLOT").arg(slot).arg("MIGRATING").arg(&ids[dst]));
    let migrate = redis::cmd("MIGRATE")
        .arg("127.0.0.1")
        .arg(cluster.port(dst))
        .arg("")
        .arg(0)
        .arg(5000)
        .arg("KEYS")
        .arg(&key)
        .clone();
    let _: String = on_node(&cluster, src, &mut migrate.clone());
    assert_eq!(b.load(STORE, &id).await.expect("load (ASK)").expect("exists").data, map(&[("a", "1")]));
    assert_eq!(save(&b, &id, &[("b", "2")], None).await, SaveOutcome::Saved);

    // For good: every node learns the slot's new owner.
    for i in [dst, src, 3 - src - dst] {
        let _: () = on_node(&cluster, i, redis::cmd("CLUSTER").arg("SETSLOT").arg(slot).arg("NODE").arg(&ids[dst]));
    }
    let s = b.load(STORE, &id).await.expect("load (MOVED)").expect("exists");
    assert_eq!((s.data, s.namespace.as_deref()), (map(&[("a", "1"), ("b", "2")]), Some("u")));
    assert_eq!(cluster.node_of(&key), dst);
    let new = new_id();
    b.rotate(STORE, Some(&id), &new, &map(&[("c", "3")]), Some("u"), HOUR).await.expect("rotate");
    assert!(b.load(STORE, &id).await.expect("load").is_none());
    assert_eq!(b.remove_namespace(STORE, "u").await.expect("remove_namespace"), 1);
    assert!(b.load(STORE, &new).await.expect("load").is_none());
    assert_eq!(conn.unexpected_errors(), Vec::<Recorded>::new());
}

/// A browser logged in to the example app with the cluster behind it.
async fn login(c: &TestClient, user: &str) {
    let r = c.post(&format!("/login?user_id={user}")).send().await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text());
}

/// The login example on `conn`: its session keys under `prefix`, each
/// command bounded by `timeout`.
fn login_site(conn: ClusterConnection, prefix: &str, timeout: Duration) -> uapi::AppService {
    let settings =
        login_app::Settings { max_age: HOUR, insecure_cookies: true, demo_login: true, ..Default::default() };
    let store = login_app::Store::Redis { conn: conn.into(), key_prefix: prefix.to_owned(), command_timeout: timeout };
    login_app::build(store, &settings).build().expect("app builds")
}

/// Logout everywhere ends a user's sessions on every node (logins until the
/// session ids cover all three), and only that user's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_everywhere_ends_sessions_on_every_node() {
    let cluster = RedisCluster::shared();
    let prefix = unique_prefix("le");
    let site = login_site(cluster.connection().await, &prefix, Duration::from_secs(2));
    let mut devices = Vec::new();
    let mut nodes = HashSet::new();
    while nodes.len() < 3 || devices.len() < 4 {
        assert!(devices.len() < 60, "logins never covered the 3 nodes");
        let d = TestClient::from_service(site.clone());
        login(&d, "7").await;
        let id = d.cookie("session_id").expect("cookie");
        nodes.insert(cluster.node_of(&format!("{prefix}uapi:session:{id}")));
        devices.push(d);
    }
    let other = TestClient::from_service(site.clone());
    login(&other, "8").await;
    let r = other.delete("/sessions/7").send().await;
    assert_eq!((r.status.as_u16(), r.text().as_str()), (200, "OK"));
    for d in &devices {
        assert_eq!(d.get("/me").send().await.status.as_u16(), 403);
    }
    assert_eq!(other.get("/me").send().await.text(), "8");
}

/// Slack for scheduling on a loaded 2-core machine, on top of the command
/// timeouts a request may wait out.
const MARGIN: Duration = Duration::from_millis(700);

/// The upper bound on anything the tests wait for; reached only by a hang.
const PATIENCE: Duration = Duration::from_secs(10);

/// Polls `CLUSTER INFO` on node `i` until it shows `state` (there is no
/// event for it), within [`PATIENCE`].
async fn await_cluster_state(cluster: &RedisCluster, i: usize, state: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let info: String = on_node(cluster, i, &mut redis::cmd("CLUSTER").arg("INFO").clone());
        if info.contains(&format!("cluster_state:{state}")) {
            return;
        }
        assert!(Instant::now() < deadline, "node {i} never reached cluster_state:{state}: {info}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One request, timed: its status, body and how long it took (a hang fails
/// after [`PATIENCE`]).
async fn timed(request: uapi::testing::TestRequest) -> (u16, String, Duration) {
    let start = Instant::now();
    let r = tokio::time::timeout(PATIENCE, request.send()).await.expect("a hang");
    (r.status.as_u16(), r.text(), start.elapsed())
}

/// A master dies (no replica to take over). Every request answers within a
/// bound derived from the command timeout, never with a 500 and never
/// hanging: at once, a session on the dead node is a 503 and the others are
/// served; once the survivors declare the cluster down (the default
/// `cluster-require-full-coverage yes`), every session request is a 503;
/// once they may serve the slots they still have (`no`), sessions on the
/// living nodes are served again, and logins and logout everywhere (which
/// span slots on every node) are successes or 503s, with every login whose
/// session lives on the dead node a 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_a_master_gives_503s_in_bounded_time_never_500s() {
    let mut cluster = RedisCluster::start();
    let timeout = Duration::from_millis(800);
    let prefix = "loss:";
    let site = login_site(cluster.connection().await, prefix, timeout);
    let mut devices = Vec::new();
    let mut nodes = HashSet::new();
    while nodes.len() < 3 || devices.len() < 6 {
        assert!(devices.len() < 60, "logins never covered the 3 nodes");
        let d = TestClient::from_service(site.clone());
        login(&d, &devices.len().to_string()).await;
        let id = d.cookie("session_id").expect("cookie");
        let node = cluster.node_of(&format!("{prefix}uapi:session:{id}"));
        nodes.insert(node);
        devices.push((d, node));
    }
    // A read is one command (HGETALL), bounded by the command timeout.
    let read_bound = timeout + MARGIN;
    // A login: the load (one command), then the rotation, whose per-slot
    // groups run concurrently, each ending at its first failed command; a
    // NOSCRIPT on a living node adds a SCRIPT LOAD on every node (bounded)
    // and a retry: at most 3 commands that can each wait out the timeout.
    let login_bound = timeout * 4 + MARGIN;
    // Logout everywhere: the caller's load, the index script (with the same
    // reload and retry), then the deletions, concurrently: 5 at most.
    let logout_bound = timeout * 5 + MARGIN;

    cluster.kill_node(0);
    let reads = |round: &'static str, expect_served: bool| {
        let devices = &devices;
        async move {
            for (i, (d, node)) in devices.iter().enumerate() {
                let (status, body, elapsed) = timed(d.get("/me")).await;
                assert!(elapsed < read_bound, "{round}, device {i} (node {node}): {status} after {elapsed:?}");
                if *node != 0 && expect_served {
                    assert_eq!((status, body.as_str()), (200, i.to_string().as_str()), "{round}, device {i}");
                } else {
                    assert_eq!(status, 503, "{round}, device {i} (node {node}): {body}");
                }
            }
        }
    };
    // Right after the kill, before the others notice (node timeout 2 s):
    // only the dead node's sessions fail. The reads run one after another,
    // so the last ones may meet a cluster already declared down: 200 or 503.
    for (i, (d, node)) in devices.iter().enumerate() {
        let (status, body, elapsed) = timed(d.get("/me")).await;
        assert!(elapsed < read_bound, "at once, device {i} (node {node}): {status} after {elapsed:?}");
        match (*node, status) {
            (0, 503) => {}
            (0, _) => panic!("at once, device {i} on the dead node: {status} {body}"),
            (_, 200) => assert_eq!(body, i.to_string()),
            (_, 503) => {}
            (_, _) => panic!("at once, device {i}: {status} {body}"),
        }
    }
    for i in [1, 2] {
        await_cluster_state(&cluster, i, "fail").await;
    }
    reads("cluster down", false).await;
    for i in [1, 2] {
        let _: () =
            on_node(&cluster, i, redis::cmd("CONFIG").arg("SET").arg("cluster-require-full-coverage").arg("no"));
        await_cluster_state(&cluster, i, "ok").await;
    }
    reads("partial coverage", true).await;

    let mut logins = HashMap::<u16, usize>::new();
    for (i, (d, node)) in devices.iter().enumerate() {
        let (status, body, elapsed) = timed(d.post("/login?user_id=99")).await;
        *logins.entry(status).or_default() += 1;
        assert!(elapsed < login_bound, "device {i}: login {status} after {elapsed:?}");
        match (*node, status) {
            (0, 503) | (1 | 2, 201 | 503) => {}
            _ => panic!("device {i} (node {node}): login {status} {body}"),
        }
    }
    for (i, (d, _)) in devices.iter().enumerate() {
        let (status, body, elapsed) = timed(d.delete("/sessions/1")).await;
        assert!(matches!(status, 200 | 403 | 503), "device {i}: logout everywhere {status} {body}");
        assert!(elapsed < logout_bound, "device {i}: logout everywhere {status} after {elapsed:?}");
    }
    eprintln!("logins after losing a master: {logins:?}");
}

/// A master stalls (`CLIENT PAUSE 3000 ALL`: alive, in the cluster, but
/// answering no client) behind a cluster connection that would wait 10 s for
/// a reply: every read of a session on that node is a 503 within the store's
/// command timeout (plus a margin), the sessions on the other nodes are
/// served meanwhile, and the stalled node's sessions are served again after
/// the stall. The bound is uapi's: the connection's own timeout is longer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_master_gives_503s_within_the_command_timeout() {
    let cluster = RedisCluster::start();
    let conn = redis::cluster::ClusterClientBuilder::new(cluster.urls())
        .connection_timeout(Duration::from_millis(500))
        .response_timeout(PATIENCE)
        .build()
        .expect("cluster client")
        .get_async_connection()
        .await
        .expect("cluster connection");
    let timeout = Duration::from_millis(400);
    let prefix = "stall:";
    let site = login_site(conn, prefix, timeout);
    let mut devices = Vec::new();
    let mut nodes = HashSet::new();
    while nodes.len() < 3 || devices.len() < 6 {
        assert!(devices.len() < 60, "logins never covered the 3 nodes");
        let d = TestClient::from_service(site.clone());
        login(&d, &devices.len().to_string()).await;
        let id = d.cookie("session_id").expect("cookie");
        let node = cluster.node_of(&format!("{prefix}uapi:session:{id}"));
        nodes.insert(node);
        devices.push((d, node));
    }
    let pause = Duration::from_millis(3000);
    let _: () = on_node(&cluster, 0, redis::cmd("CLIENT").arg("PAUSE").arg(pause.as_millis() as u64).arg("ALL"));
    let paused = Instant::now();
    for (i, (d, node)) in devices.iter().enumerate() {
        let (status, body, elapsed) = timed(d.get("/me")).await;
        if *node == 0 {
            assert_eq!(status, 503, "device {i} on the stalled node: {body}");
            assert!(elapsed >= timeout, "device {i}: a 503 before the timeout ({elapsed:?}): not a stall?");
            assert!(elapsed < timeout + MARGIN, "device {i} on the stalled node: 503 after {elapsed:?}");
        } else {
            assert_eq!((status, body.as_str()), (200, i.to_string().as_str()), "device {i} (node {node})");
        }
    }
    assert!(paused.elapsed() < pause, "the reads outlasted the stall; nothing was shown");
    let _: () = on_node(&cluster, 0, redis::cmd("CLIENT").arg("UNPAUSE"));
    for (i, (d, _)) in devices.iter().enumerate() {
        let (status, body, _) = timed(d.get("/me")).await;
        assert_eq!((status, body.as_str()), (200, i.to_string().as_str()), "device {i} after the stall");
    }
}
