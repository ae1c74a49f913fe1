//! One scenario suite run against every session backend (memory, one Redis
//! node through a `ConnectionManager` and through a `PipelinedConnection`, one
//! node in cluster mode, a real 3-master Redis Cluster), plus
//! Redis-only tests (round trips, faults, key hygiene). Needs `redis-server`
//! and `redis-cli` on PATH.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::redis_cluster::{unique_prefix, RedisCluster};
use support::redis_server::RedisServer;
use uapi::sessions::redis::RedisConnection;
use uapi::sessions::{
    MemoryStore, RedisBackend, SaveOutcome, SaveRequest, SessionBackend, SessionError, SessionId, StoreInfo,
};

/// A backend under test, keeping its Redis server (if any) alive.
struct Harness {
    backend: Arc<dyn SessionBackend>,
    _server: Option<RedisServer>,
    _cluster: Option<Arc<RedisCluster>>,
}

async fn memory() -> Harness {
    Harness { backend: Arc::new(MemoryStore::new()), _server: None, _cluster: None }
}

async fn redis() -> Harness {
    let server = RedisServer::start();
    let backend = RedisBackend::new(server.connection_manager().await).key_prefix("t:");
    Harness { backend: Arc::new(backend), _server: Some(server), _cluster: None }
}

/// One node, through uapi's own pipelining connection.
async fn redis_pipelined() -> Harness {
    let server = RedisServer::start();
    let backend = RedisBackend::new(server.pipelined_connection().await).key_prefix("t:");
    Harness { backend: Arc::new(backend), _server: Some(server), _cluster: None }
}

/// Same server setup, but the connection given as a cluster one: commands go
/// per key as on a Redis Cluster, so the cluster code path runs on one node.
async fn redis_cluster_mode() -> Harness {
    let server = RedisServer::start();
    let backend = RedisBackend::new(RedisConnection::cluster(server.connection_manager().await));
    Harness { backend: Arc::new(backend), _server: Some(server), _cluster: None }
}

/// A real 3-master Redis Cluster, shared by this test binary: each harness
/// gets its own key prefix, so namespaces never collide across tests.
async fn redis_cluster() -> Harness {
    let cluster = RedisCluster::shared();
    let backend = RedisBackend::new(cluster.connection().await).key_prefix(unique_prefix("c"));
    Harness { backend: Arc::new(backend), _server: None, _cluster: Some(cluster) }
}

fn new_id() -> SessionId {
    SessionId::generate().expect("rng")
}

fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

const HOUR: Duration = Duration::from_secs(3600);

/// The store every call is for: the default cookie, with rolling expiry (so
/// loads report the time to live).
const STORE: StoreInfo<'static> = StoreInfo::new("session_id", true);

async fn create(b: &dyn SessionBackend, id: &SessionId, data: &[(&str, &str)], ns: Option<&str>, max_age: Duration) {
    let full = map(data);
    let req = SaveRequest {
        store: STORE,
        id,
        existed: false,
        upserts: &[],
        removals: &[],
        full: &full,
        namespace: ns,
        max_age,
    };
    assert_eq!(b.save(req).await.expect("create"), SaveOutcome::Saved);
}

async fn update(b: &dyn SessionBackend, id: &SessionId, set: &[(&str, &str)], del: &[&str]) -> SaveOutcome {
    let upserts: Vec<(String, String)> = set.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let removals: Vec<String> = del.iter().map(|k| k.to_string()).collect();
    let full = HashMap::new();
    let req = SaveRequest {
        store: STORE,
        id,
        existed: true,
        upserts: &upserts,
        removals: &removals,
        full: &full,
        namespace: None,
        max_age: HOUR,
    };
    b.save(req).await.expect("update")
}

async fn data(b: &dyn SessionBackend, id: &SessionId) -> Option<HashMap<String, String>> {
    b.load(STORE, id).await.expect("load").map(|s| s.data)
}

/// The scenarios every backend must pass.
mod scenarios {
    use super::*;

    /// Two stores on ONE backend (the usual `session` and `cart`): a session
    /// id of one is unknown to the other, for every operation; logging a
    /// namespace out in one leaves the other's sessions alone.
    pub(crate) async fn stores_on_one_backend_never_meet(h: &Harness) {
        let carts = StoreInfo::new("cart_session", true);
        let b = &*h.backend;
        let (id, cart) = (new_id(), new_id());
        let full = map(&[("user_id", "7")]);
        let req = SaveRequest {
            store: STORE,
            id: &id,
            existed: false,
            upserts: &[],
            removals: &[],
            full: &full,
            namespace: Some("7"),
            max_age: HOUR,
        };
        assert_eq!(b.save(req).await.expect("create"), SaveOutcome::Saved);
        let items = map(&[("user_id", "1")]);
        let req = SaveRequest { store: carts, id: &cart, full: &items, namespace: Some("7"), ..req };
        assert_eq!(b.save(req).await.expect("create"), SaveOutcome::Saved);
        // Each id reads only in its own store.
        assert!(b.load(carts, &id).await.expect("load").is_none(), "a session id read as a cart");
        assert!(b.load(STORE, &cart).await.expect("load").is_none(), "a cart id read as a session");
        let upserts = [("user_id".to_owned(), "0".to_owned())];
        let update = SaveRequest { existed: true, upserts: &upserts, namespace: None, ..req };
        assert_eq!(b.save(SaveRequest { store: STORE, ..update }).await.expect("save"), SaveOutcome::Gone);
        b.delete(carts, &id).await.expect("delete");
        b.touch(carts, &id, HOUR).await.expect("touch");
        assert_eq!(b.load(STORE, &id).await.expect("load").expect("kept").data, full);
        // Logout everywhere in the cart store ends the cart only.
        assert_eq!(b.remove_namespace(carts, "7").await.expect("remove_namespace"), 1);
        assert_eq!(b.load(STORE, &id).await.expect("load").expect("kept").data, full);
        assert!(b.load(carts, &cart).await.expect("load").is_none());
        assert_eq!(b.remove_namespace(STORE, "7").await.expect("remove_namespace"), 1);
    }

    pub(crate) async fn load_missing(h: &Harness) {
        assert!(h.backend.load(STORE, &new_id()).await.expect("load").is_none());
    }

    pub(crate) async fn save_new_then_load(h: &Harness) {
        let id = new_id();
        create(&*h.backend, &id, &[("a", "1"), ("b", "2")], None, Duration::from_secs(60)).await;
        let s = h.backend.load(STORE, &id).await.expect("load").expect("exists");
        assert_eq!(s.data, map(&[("a", "1"), ("b", "2")]));
        assert_eq!(s.namespace, None);
        let ttl = s.ttl.expect("ttl");
        assert!(ttl <= Duration::from_secs(60) && ttl > Duration::from_secs(55), "{ttl:?}");
    }

    pub(crate) async fn update_keeps_ttl(h: &Harness) {
        let id = new_id();
        create(&*h.backend, &id, &[("a", "1")], None, Duration::from_secs(60)).await;
        // The update carries max_age = 1 h: an existing session must ignore it.
        assert_eq!(update(&*h.backend, &id, &[("a", "2")], &[]).await, SaveOutcome::Saved);
        let s = h.backend.load(STORE, &id).await.expect("load").expect("exists");
        assert_eq!(s.data, map(&[("a", "2")]));
        assert!(s.ttl.expect("ttl") <= Duration::from_secs(60), "{:?}", s.ttl);
    }

    pub(crate) async fn concurrent_saves_of_different_fields_all_persist(h: &Harness) {
        let id = new_id();
        create(&*h.backend, &id, &[("base", "0")], None, HOUR).await;
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let (b, id) = (h.backend.clone(), id);
                tokio::spawn(async move {
                    let (k, v) = (format!("k{i}"), format!("v{i}"));
                    update(&*b, &id, &[(&k, &v)], &[]).await
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.expect("join"), SaveOutcome::Saved);
        }
        let got = data(&*h.backend, &id).await.expect("exists");
        let mut want = map(&[("base", "0")]);
        want.extend((0..16).map(|i| (format!("k{i}"), format!("v{i}"))));
        assert_eq!(got, want);
    }

    /// Same field, 32 concurrent writers: every save is `Saved`; the final
    /// `x` is one of the written values, and it is the value of one whole
    /// save, the one applied last: each save also sets `y` to its value
    /// (so `x == y`: no save lands in part, none lands over another half-way)
    /// and a field of its own (all there: none is lost). A save made after
    /// all of them then wins over every one.
    pub(crate) async fn same_field_last_writer_wins(h: &Harness) {
        const WRITERS: usize = 32;
        let id = new_id();
        create(&*h.backend, &id, &[("x", "0"), ("y", "0")], None, HOUR).await;
        let start = Arc::new(tokio::sync::Barrier::new(WRITERS));
        let tasks: Vec<_> = (0..WRITERS)
            .map(|i| {
                let (b, id, start) = (h.backend.clone(), id, start.clone());
                tokio::spawn(async move {
                    let (value, own) = (format!("v{i}"), format!("w{i}"));
                    start.wait().await;
                    update(&*b, &id, &[("x", &value), ("y", &value), (&own, "1")], &[]).await
                })
            })
            .collect();
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.expect("join"), SaveOutcome::Saved, "writer {i}");
        }
        let got = data(&*h.backend, &id).await.expect("exists");
        let written: Vec<String> = (0..WRITERS).map(|i| format!("v{i}")).collect();
        let x = got.get("x").expect("x");
        assert!(written.contains(x), "x = {x:?} was never written: {got:?}");
        assert_eq!(got.get("y"), Some(x), "x and y come from different saves: {got:?}");
        for i in 0..WRITERS {
            assert_eq!(got.get(&format!("w{i}")).map(String::as_str), Some("1"), "writer {i}'s save is lost");
        }
        assert_eq!(got.len(), 2 + WRITERS, "{got:?}");
        assert_eq!(update(&*h.backend, &id, &[("x", "last"), ("y", "last")], &[]).await, SaveOutcome::Saved);
        let got = data(&*h.backend, &id).await.expect("exists");
        assert_eq!((got["x"].as_str(), got["y"].as_str()), ("last", "last"));
    }

    pub(crate) async fn removal(h: &Harness) {
        let id = new_id();
        create(&*h.backend, &id, &[("a", "1"), ("b", "2")], None, HOUR).await;
        update(&*h.backend, &id, &[], &["a"]).await;
        assert_eq!(data(&*h.backend, &id).await, Some(map(&[("b", "2")])));
        // Removing the last field leaves an empty, still existing session.
        update(&*h.backend, &id, &[], &["b"]).await;
        assert_eq!(data(&*h.backend, &id).await, Some(HashMap::new()));
        assert_eq!(update(&*h.backend, &id, &[("c", "3")], &[]).await, SaveOutcome::Saved);
    }

    pub(crate) async fn save_after_delete_is_gone(h: &Harness) {
        let id = new_id();
        create(&*h.backend, &id, &[("a", "1")], Some("u"), HOUR).await;
        h.backend.delete(STORE, &id).await.expect("delete");
        h.backend.delete(STORE, &id).await.expect("delete twice is fine");
        assert_eq!(update(&*h.backend, &id, &[("b", "2")], &["a"]).await, SaveOutcome::Gone);
        assert!(h.backend.load(STORE, &id).await.expect("load").is_none(), "resurrected");
        assert_eq!(h.backend.remove_namespace(STORE, "u").await.expect("rm ns"), 0);
    }

    pub(crate) async fn expires_after_max_age(h: &Harness) {
        let id = new_id();
        let start = Instant::now();
        create(&*h.backend, &id, &[("a", "1")], None, Duration::from_secs(1)).await;
        let deadline = start + Duration::from_secs(5);
        while h.backend.load(STORE, &id).await.expect("load").is_some() {
            assert!(Instant::now() < deadline, "session outlived its max_age");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(start.elapsed() >= Duration::from_millis(900), "expired early: {:?}", start.elapsed());
        assert_eq!(update(&*h.backend, &id, &[("a", "2")], &[]).await, SaveOutcome::Gone);
        assert!(h.backend.load(STORE, &id).await.expect("load").is_none());
    }

    pub(crate) async fn rotate_kills_old_keeps_data(h: &Harness) {
        let (old, new) = (new_id(), new_id());
        create(&*h.backend, &old, &[("cart", "3")], None, Duration::from_secs(5)).await;
        let kept = map(&[("cart", "3"), ("user", "alice")]);
        h.backend.rotate(STORE, Some(&old), &new, &kept, Some("alice"), Duration::from_secs(60)).await.expect("rotate");
        assert!(h.backend.load(STORE, &old).await.expect("load").is_none());
        assert_eq!(update(&*h.backend, &old, &[("x", "1")], &[]).await, SaveOutcome::Gone);
        let s = h.backend.load(STORE, &new).await.expect("load").expect("new exists");
        assert_eq!((s.data, s.namespace.as_deref()), (kept, Some("alice")));
        assert!(s.ttl.expect("ttl") > Duration::from_secs(55), "fresh ttl");
        // Rotating without an old session (first login) works too.
        let third = new_id();
        h.backend.rotate(STORE, None, &third, &HashMap::new(), None, HOUR).await.expect("rotate");
        assert_eq!(data(&*h.backend, &third).await, Some(HashMap::new()));
    }

    pub(crate) async fn touch_extends(h: &Harness) {
        let id = new_id();
        create(&*h.backend, &id, &[("a", "1")], Some("t"), Duration::from_secs(2)).await;
        h.backend.touch(STORE, &id, Duration::from_secs(60)).await.expect("touch");
        let ttl = h.backend.load(STORE, &id).await.expect("load").expect("exists").ttl.expect("ttl");
        assert!(ttl > Duration::from_secs(55), "{ttl:?}");
        // Touch never creates.
        let ghost = new_id();
        h.backend.touch(STORE, &ghost, HOUR).await.expect("touch");
        assert!(h.backend.load(STORE, &ghost).await.expect("load").is_none());
        // Outlive the original max_age (waiting for a non-event needs a real
        // wait), then add a member, which prunes the index by expiry score: the
        // touched session must still be indexed, or "log out everywhere" would
        // miss it.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(h.backend.load(STORE, &id).await.expect("load").is_some());
        create(&*h.backend, &new_id(), &[], Some("t"), HOUR).await;
        assert_eq!(h.backend.remove_namespace(STORE, "t").await.expect("rm"), 2);
    }

    pub(crate) async fn namespaces(h: &Harness) {
        let b = &*h.backend;
        let (a1, a2, bob, anon, mover) = (new_id(), new_id(), new_id(), new_id(), new_id());
        create(b, &a1, &[("k", "1")], Some("alice"), HOUR).await;
        b.rotate(STORE, None, &a2, &map(&[("k", "2")]), Some("alice"), HOUR).await.expect("rotate");
        create(b, &bob, &[("k", "3")], Some("bob"), HOUR).await;
        create(b, &anon, &[("k", "4")], None, HOUR).await;
        create(b, &mover, &[("k", "5")], Some("alice"), HOUR).await;
        // `mover` switches namespace on an ordinary save.
        let full = HashMap::new();
        let req = SaveRequest {
            store: STORE,
            id: &mover,
            existed: true,
            upserts: &[],
            removals: &[],
            full: &full,
            namespace: Some("carol"),
            max_age: HOUR,
        };
        assert_eq!(b.save(req).await.expect("save"), SaveOutcome::Saved);
        assert_eq!(b.load(STORE, &mover).await.expect("load").expect("x").namespace.as_deref(), Some("carol"));

        assert_eq!(b.remove_namespace(STORE, "alice").await.expect("rm"), 2);
        for id in [&a1, &a2] {
            assert!(b.load(STORE, id).await.expect("load").is_none());
        }
        for id in [&bob, &anon, &mover] {
            assert!(b.load(STORE, id).await.expect("load").is_some());
        }
        assert_eq!(b.remove_namespace(STORE, "alice").await.expect("rm"), 0);
        assert_eq!(b.remove_namespace(STORE, "nobody").await.expect("rm"), 0);
        assert_eq!(b.remove_namespace(STORE, "carol").await.expect("rm"), 1);
        assert!(b.load(STORE, &mover).await.expect("load").is_none());
        assert!(b.load(STORE, &bob).await.expect("load").is_some());
    }

    pub(crate) async fn reserved_fields_rejected(h: &Harness) {
        let id = new_id();
        let full = map(&[("\u{1}ns", "evil")]);
        let req = SaveRequest {
            store: STORE,
            id: &id,
            existed: false,
            upserts: &[],
            removals: &[],
            full: &full,
            namespace: None,
            max_age: HOUR,
        };
        assert!(matches!(h.backend.save(req).await, Err(SessionError::Backend(_))));
        assert!(h.backend.load(STORE, &id).await.expect("load").is_none());
    }
}

/// Instantiates every scenario as a `#[tokio::test]` for one backend.
macro_rules! suite {
    ($module:ident, $make:ident; $($name:ident),* $(,)?) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let h = super::$make().await;
                    super::scenarios::$name(&h).await;
                }
            )*
        }
    };
}

macro_rules! all_backends {
    ($($name:ident),* $(,)?) => {
        suite!(memory_store, memory; $($name),*);
        suite!(redis_backend, redis; $($name),*);
        suite!(redis_pipelined, redis_pipelined; $($name),*);
        suite!(redis_backend_cluster_mode, redis_cluster_mode; $($name),*);
        suite!(redis_cluster, redis_cluster; $($name),*);
    };
}

all_backends!(
    stores_on_one_backend_never_meet,
    load_missing,
    save_new_then_load,
    update_keeps_ttl,
    concurrent_saves_of_different_fields_all_persist,
    same_field_last_writer_wins,
    removal,
    save_after_delete_is_gone,
    expires_after_max_age,
    rotate_kills_old_keeps_data,
    touch_extends,
    namespaces,
    reserved_fields_rejected,
);

#[path = "session_backends/redis_only.rs"]
mod redis_only;
