//! Failed saves lose nothing. Saves of one session that overlap, on a
//! backend whose saves the test holds and fails; and saves to a real
//! `redis-server` failed on the wire by a proxy (`support::fault_proxy`):
//! an update of an existing session cut before it reaches Redis, and a save
//! Redis applied whose reply is lost. Needs `redis-server` on PATH.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::fault_proxy::FaultProxy;
use support::redis_server::RedisServer;
use tokio::sync::Notify;
use uapi::sessions::redis::{configure_async_sessions, PipelinedConnection, RedisBackend, RedisConnection};
use uapi::sessions::{
    configure_sessions, AsyncSession, BoxFuture, LoadedSession, MemoryStore, SaveOutcome, SaveRequest, SessionBackend,
    SessionError, SessionId, SessionOptions, StoreInfo,
};
use uapi::testing::{TestClient, TestResponse};
use uapi::{handler, App};

/// The default store, as `SessionOptions::default()` configures it.
const STORE: StoreInfo<'static> = StoreInfo::DEFAULT;

/// The upper bound on anything a test waits for; never reached when things work.
const PATIENCE: Duration = Duration::from_secs(10);

/// A [`MemoryStore`] whose first save waits for `release` (after notifying
/// `first_started`) and whose second save fails.
#[derive(Clone, Default)]
struct Gated {
    inner: Arc<MemoryStore>,
    saves: Arc<AtomicUsize>,
    first_started: Arc<Notify>,
    release: Arc<Notify>,
}

impl SessionBackend for Gated {
    fn load<'a>(
        &'a self,
        store: StoreInfo<'a>,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Option<LoadedSession>, SessionError>> {
        self.inner.load(store, id)
    }

    fn save<'a>(&'a self, req: SaveRequest<'a>) -> BoxFuture<'a, Result<SaveOutcome, SessionError>> {
        Box::pin(async move {
            match self.saves.fetch_add(1, Ordering::SeqCst) {
                0 => {
                    self.first_started.notify_one();
                    self.release.notified().await;
                }
                1 => return Err(SessionError::Unavailable("the test fails this save".into())),
                _ => {}
            }
            self.inner.save(req).await
        })
    }

    fn delete<'a>(&'a self, store: StoreInfo<'a>, id: &'a SessionId) -> BoxFuture<'a, Result<(), SessionError>> {
        self.inner.delete(store, id)
    }

    fn rotate<'a>(
        &'a self,
        store: StoreInfo<'a>,
        old: Option<&'a SessionId>,
        new: &'a SessionId,
        data: &'a HashMap<String, String>,
        namespace: Option<&'a str>,
        max_age: Duration,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        self.inner.rotate(store, old, new, data, namespace, max_age)
    }

    fn touch<'a>(
        &'a self,
        store: StoreInfo<'a>,
        id: &'a SessionId,
        max_age: Duration,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        self.inner.touch(store, id, max_age)
    }

    fn remove_namespace<'a>(
        &'a self,
        store: StoreInfo<'a>,
        namespace: &'a str,
    ) -> BoxFuture<'a, Result<u64, SessionError>> {
        self.inner.remove_namespace(store, namespace)
    }
}

/// A new session: the first save is held; `b` is set; a second save (still
/// a creation) fails; the first then succeeds; the next save must still
/// write `b`.
#[handler]
async fn overlapping(session: AsyncSession, gate: Gated) -> Result<&'static str, SessionError> {
    session.insert("a", "1");
    let held = session.clone();
    let first = tokio::spawn(async move { held.update_session().await });
    tokio::time::timeout(PATIENCE, gate.first_started.notified()).await.expect("the first save started");
    session.insert("b", "2");
    assert!(session.update_session().await.is_err(), "the second save fails");
    gate.release.notify_one();
    tokio::time::timeout(PATIENCE, first).await.expect("the first save ends").expect("task")?;
    session.update_session().await?;
    Ok("saved")
}

/// What a failed save of a new session had pending is written by the next
/// save, even when another save created the session meanwhile.
#[tokio::test]
async fn a_failed_save_of_a_new_session_leaves_its_changes_pending() {
    let gate = Gated::default();
    let mut app = App::new();
    configure_sessions(&mut app, gate.clone(), SessionOptions::default());
    app.provide_value(gate.clone()).post("/overlapping", overlapping);
    let client = TestClient::new(&app).expect("app builds");
    let response = client.post("/overlapping").send().await;
    assert_eq!(response.status, 200, "{}", response.text());
    let cookie = client.cookie("session_id").expect("the session's cookie");
    let id = SessionId::parse(&cookie).expect("a session id");
    let stored = gate.inner.load(STORE, &id).await.expect("loads").expect("the session exists").data;
    assert_eq!(stored, HashMap::from([("a".to_owned(), "1".to_owned()), ("b".to_owned(), "2".to_owned())]));
}

/// Where a gated handler stops: after loading its session, until the test,
/// having armed a fault, lets it go on to its save.
#[derive(Clone, Default)]
struct Gate {
    loaded: Arc<Notify>,
    go: Arc<Notify>,
}

impl Gate {
    async fn pass(&self) {
        self.loaded.notify_one();
        self.go.notified().await;
    }
}

/// `POST /set?key&value`.
#[handler]
async fn set(session: AsyncSession, key: String, value: String) -> Result<&'static str, SessionError> {
    session.insert(key, value);
    session.update_session().await?;
    Ok("saved")
}

/// `GET /dump`: the session as `k=v` pairs, sorted, comma-separated.
#[handler]
async fn dump(session: AsyncSession) -> String {
    let mut pairs: Vec<String> = session.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.sort();
    pairs.join(",")
}

/// Changes an existing session: `a` to 10, `b` removed, `c` added.
fn change(session: &AsyncSession) {
    session.insert("a", "10");
    session.remove("b");
    session.insert("c", "3");
}

/// `POST /change-and-retry` (gated): changes the session; if its save fails
/// (transiently) saves again in the same request.
#[handler]
async fn change_and_retry(session: AsyncSession, gate: Gate) -> Result<String, SessionError> {
    gate.pass().await;
    change(&session);
    match session.update_session().await {
        Ok(_) => Ok("the first save succeeded".to_owned()),
        Err(e) if e.is_transient() => {
            session.update_session().await?;
            Ok("the first save failed; the second saved".to_owned())
        }
        Err(e) => Ok(format!("the first save failed, not transiently: {e}")),
    }
}

/// `POST /gated-set?key&value` (gated): a save that is not retried.
#[handler]
async fn gated_set(
    session: AsyncSession,
    gate: Gate,
    key: String,
    value: String,
) -> Result<&'static str, SessionError> {
    gate.pass().await;
    session.insert(key, value);
    session.update_session().await?;
    Ok("saved")
}

/// Read-modify-write of the counter `n`: its next value, set (not saved).
fn increment(session: &AsyncSession) -> u64 {
    let n = session.get("n").map_or(0, |n| n.parse::<u64>().expect("a counter")) + 1;
    session.insert("n", n.to_string());
    n
}

/// `POST /incr`: increments `n` and saves; answers the new value.
#[handler]
async fn incr(session: AsyncSession) -> Result<String, SessionError> {
    let n = increment(&session);
    session.update_session().await?;
    Ok(n.to_string())
}

/// `POST /gated-incr` (gated): `/incr`, not retried.
#[handler]
async fn gated_incr(session: AsyncSession, gate: Gate) -> Result<String, SessionError> {
    gate.pass().await;
    let n = increment(&session);
    session.update_session().await?;
    Ok(n.to_string())
}

/// `POST /gated-incr-retry` (gated): `/incr`, and if the save fails
/// (transiently), saved again in the same request.
#[handler]
async fn gated_incr_retry(session: AsyncSession, gate: Gate) -> Result<String, SessionError> {
    gate.pass().await;
    let n = increment(&session);
    if let Err(e) = session.update_session().await {
        if !e.is_transient() {
            return Err(e);
        }
        session.update_session().await?;
    }
    Ok(n.to_string())
}

/// The kind of Redis connection the store runs on, through the proxy.
#[derive(Clone, Copy, Debug)]
enum Conn {
    /// redis-rs's `ConnectionManager`.
    Manager,
    /// uapi's `PipelinedConnection`.
    Pipelined,
}

/// Key prefix of the store's keys.
const PREFIX: &str = "saves:";

/// An app whose session store reaches a real Redis through a fault proxy.
struct Site {
    redis: RedisServer,
    proxy: FaultProxy,
    gate: Gate,
    client: TestClient,
}

impl Site {
    async fn start(conn: Conn) -> Site {
        let redis = RedisServer::start();
        let proxy = FaultProxy::start(redis.port()).await;
        let timeout = Duration::from_secs(2);
        let connection: RedisConnection = match conn {
            Conn::Manager => redis.connection_manager_for(&proxy.url()).await.expect("connects").into(),
            Conn::Pipelined => PipelinedConnection::connect_with_timeouts(proxy.url(), timeout, timeout)
                .await
                .expect("connects")
                .into(),
        };
        let gate = Gate::default();
        let mut app = App::new();
        let backend = RedisBackend::new(connection).key_prefix(PREFIX).command_timeout(timeout);
        configure_async_sessions(&mut app, backend, SessionOptions::default());
        app.provide_value(gate.clone())
            .post("/set", set)
            .get("/dump", dump)
            .post("/change-and-retry", change_and_retry)
            .post("/gated-set", gated_set)
            .post("/incr", incr)
            .post("/gated-incr", gated_incr)
            .post("/gated-incr-retry", gated_incr_retry);
        let client = TestClient::new(&app).expect("app builds");
        Site { redis, proxy, gate, client }
    }

    /// `POST path` to a gated handler: once it has loaded its session,
    /// `arm` arms a fault on the proxy, then the handler goes on to its save.
    async fn gated(&self, path: &str, arm: impl FnOnce(&FaultProxy)) -> TestResponse {
        let (client, path) = (self.client.clone(), path.to_owned());
        let request = tokio::spawn(async move { client.post(&path).send().await });
        tokio::time::timeout(PATIENCE, self.gate.loaded.notified()).await.expect("the handler loaded its session");
        arm(&self.proxy);
        self.gate.go.notify_one();
        tokio::time::timeout(PATIENCE, request).await.expect("an answer in time").expect("the request task")
    }

    /// A POST that must be a 200; its body.
    async fn ok(&self, path: &str) -> String {
        let r = self.client.post(path).send().await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        r.text()
    }

    async fn dump(&self) -> String {
        self.client.get("/dump").send().await.text()
    }

    /// Field `field` of the client's session as Redis holds it (read directly).
    async fn stored(&self, field: &str) -> Option<String> {
        let id = self.client.cookie("session_id").expect("a session cookie");
        let mut con = self.redis.client().get_multiplexed_async_connection().await.expect("inspection connection");
        redis::cmd("HGET")
            .arg(format!("{PREFIX}uapi:session:{id}"))
            .arg(field)
            .query_async(&mut con)
            .await
            .expect("HGET")
    }
}

/// An update of an EXISTING session whose save never reaches Redis (the
/// connection is cut as the save is sent): the changes (a set, a removal, a
/// new field) stay pending and a second save in the same request writes
/// them all, with the untouched field kept; a request whose save fails that
/// way and is not retried is a 503 that changed nothing stored.
async fn a_failed_update_of_an_existing_session_keeps_its_changes_pending(conn: Conn) {
    let site = Site::start(conn).await;
    for (k, v) in [("a", "1"), ("b", "2"), ("keep", "k")] {
        site.ok(&format!("/set?key={k}&value={v}")).await;
    }
    let cookie = site.client.cookie("session_id").expect("a session cookie");

    let r = site.gated("/change-and-retry", FaultProxy::cut_next_request).await;
    assert_eq!((r.status.as_u16(), r.text().as_str()), (200, "the first save failed; the second saved"));
    assert_eq!(site.proxy.faults().borrow().cut, 1, "the proxy never cut a save");
    assert_eq!(site.dump().await, "a=10,c=3,keep=k");

    let r = site.gated("/gated-set?key=a&value=lost", FaultProxy::cut_next_request).await;
    assert_eq!(r.status.as_u16(), 503, "{}", r.text());
    assert_eq!(site.proxy.faults().borrow().cut, 2);
    assert_eq!(site.dump().await, "a=10,c=3,keep=k", "a save cut before Redis changed something");
    assert_eq!(site.client.cookie("session_id"), Some(cookie), "the session id changed");
}

/// A save that Redis applied but whose reply is lost (the proxy reads every
/// reply, drops them and closes the connection) is a 503, though the write
/// is in Redis. A retry neither loses nor doubles it: counting with a
/// read-modify-write in the handler, the next request reads the applied
/// value and goes on from it; a retry in the same request re-sends the same
/// absolute value, applied once. The counter ends at the acknowledged
/// increments plus the one unacknowledged increment Redis applied.
async fn a_save_whose_reply_is_lost_is_a_503_and_a_retry_neither_loses_nor_doubles_it(conn: Conn) {
    let site = Site::start(conn).await;
    site.ok("/set?key=keep&value=k").await;
    assert_eq!(site.ok("/incr").await, "1");

    let r = site.gated("/gated-incr", FaultProxy::lose_next_reply).await;
    assert_eq!(r.status.as_u16(), 503, "a save without its reply was acknowledged: {}", r.text());
    let done = *site.proxy.faults().borrow();
    assert_eq!(done.replies_lost, 1, "{done:?}");
    assert!(done.commands_applied_unanswered > 0, "{done:?}");
    assert_eq!(site.stored("n").await.as_deref(), Some("2"), "the unacknowledged save did not reach Redis");
    assert_eq!(site.ok("/incr").await, "3", "the next request did not see the applied save");

    let r = site.gated("/gated-incr-retry", FaultProxy::lose_next_reply).await;
    assert_eq!((r.status.as_u16(), r.text().as_str()), (200, "4"));
    assert_eq!(site.proxy.faults().borrow().replies_lost, 2);
    assert_eq!(site.stored("n").await.as_deref(), Some("4"), "sent twice, applied other than once");
    // Acknowledged: 1, 3, 4; unacknowledged but applied: 2.
    assert_eq!(site.dump().await, "keep=k,n=4");
}

/// Instantiates each scenario as a `#[tokio::test]` per connection kind.
macro_rules! per_connection {
    ($($name:ident),* $(,)?) => {
        mod connection_manager {
            $(
                #[doc = concat!("`", stringify!($name), "`, on a `ConnectionManager`.")]
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Conn::Manager).await;
                }
            )*
        }
        mod pipelined_connection {
            $(
                #[doc = concat!("`", stringify!($name), "`, on a `PipelinedConnection`.")]
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Conn::Pipelined).await;
                }
            )*
        }
    };
}

per_connection!(
    a_failed_update_of_an_existing_session_keeps_its_changes_pending,
    a_save_whose_reply_is_lost_is_a_503_and_a_retry_neither_loses_nor_doubles_it,
);
