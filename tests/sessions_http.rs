//! Specification of cookie sessions as seen over HTTP: one scenario suite run
//! through the in-process [`TestClient`] against every session backend
//! (`MemoryStore`, `RedisBackend` on a real `redis-server`, and on a real
//! 3-master Redis Cluster), plus Redis-only guarantees (round trips per
//! request, outages, key prefix) in `sessions_http/redis_only.rs`. Needs `redis-server` and `redis-cli` on PATH.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::cluster_async::ClusterConnection;
use support::redis_cluster::{unique_prefix, RedisCluster};
use support::redis_server::RedisServer;
use tokio::sync::{Barrier, Notify};
use uapi::sessions::redis::{configure_async_sessions, RedisBackend, RedisConnection};
use uapi::sessions::{
    configure_sessions, AsyncSession, MemoryStore, SessionError, SessionId, SessionOptions, SessionStore,
};
use uapi::testing::{TestClient, TestResponse};
use uapi::{handler, status, App, AppService, Json};

/// The upper bound on anything a test waits for; never reached when things work.
const PATIENCE: Duration = Duration::from_secs(10);
/// How often the bounded poll loops look again.
const POLL: Duration = Duration::from_millis(50);

type Map = BTreeMap<String, String>;

// ---------------------------------------------------------------- handlers

/// `GET /read`: the session's data; never writes.
#[handler]
async fn read(session: AsyncSession) -> Json<Map> {
    Json(session.iter().collect())
}

/// `POST /set?key&value`: sets one key and saves.
#[handler]
async fn set(session: AsyncSession, key: String, value: String) -> Result<&'static str, SessionError> {
    session.insert(key, value);
    session.update_session().await?;
    Ok("ok")
}

/// `POST /remove?key`: removes one key and saves.
#[handler]
async fn remove(session: AsyncSession, key: String) -> Result<&'static str, SessionError> {
    session.remove(&key);
    session.update_session().await?;
    Ok("ok")
}

/// `POST /set_in?ns&key&value`: sets one key and saves in namespace `ns`.
#[handler]
async fn set_in(session: AsyncSession, ns: String, key: String, value: String) -> Result<&'static str, SessionError> {
    session.insert(key, value);
    session.update_session_in(&ns).await?;
    Ok("ok")
}

/// `POST /clear`: ends the session.
#[handler]
async fn clear(session: AsyncSession) -> Result<&'static str, SessionError> {
    session.clear_session().await?;
    Ok("cleared")
}

/// `POST /set_and_clear`: makes a session, then ends it, in one request.
#[handler]
async fn set_and_clear(session: AsyncSession) -> Result<&'static str, SessionError> {
    session.insert("brief", "1");
    session.update_session().await?;
    session.clear_session().await?;
    Ok("gone")
}

/// `POST /set_attached?key&value`: saves and ALSO attaches the returned
/// headers to its response, as uapi handlers do; the body lists them.
#[handler]
async fn set_attached(session: AsyncSession, key: String, value: String) -> Result<status::Ok<String>, SessionError> {
    session.insert(key, value);
    let headers = session.update_session().await?;
    Ok(status::Ok::new(header_values(&headers)).with_headers(headers))
}

/// `POST /clear_attached`: ends the session and attaches the returned headers.
#[handler]
async fn clear_attached(session: AsyncSession) -> Result<status::Ok<String>, SessionError> {
    let headers = session.clear_session().await?;
    Ok(status::Ok::new(header_values(&headers)).with_headers(headers))
}

fn header_values(headers: &uapi::Headers) -> String {
    let values: Vec<&str> = headers.iter().filter_map(|(_, v)| v.to_str().ok()).collect();
    values.join("\n")
}

/// `GET /both`: both stores' data.
#[handler]
async fn both(session: AsyncSession, cart: AsyncSession) -> Json<BTreeMap<&'static str, Map>> {
    Json(BTreeMap::from([("session", session.iter().collect()), ("cart", cart.iter().collect())]))
}

/// `POST /both?s&c`: writes `s` to the session and `c` to the cart in one handler.
#[handler]
async fn both_set(
    session: AsyncSession,
    cart: AsyncSession,
    s: String,
    c: String,
) -> Result<&'static str, SessionError> {
    session.insert("s", s);
    cart.insert("c", c);
    session.update_session().await?;
    cart.update_session().await?;
    Ok("ok")
}

/// Makes two requests meet between loading their session and saving it.
#[derive(Clone)]
struct Gate(Arc<Barrier>);

/// `POST /concurrent?key&value`: the session is loaded before the handler
/// runs; the handler then waits for the other request, so both loads happen
/// before either save. Returns the keys it saw when loaded.
#[handler]
async fn concurrent(
    session: AsyncSession,
    gate: Gate,
    key: String,
    value: String,
) -> Result<Json<Vec<String>>, SessionError> {
    let seen: Vec<String> =
        session.iter().map(|(k, _)| k).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    gate.0.wait().await;
    session.insert(key, value);
    session.update_session().await?;
    Ok(Json(seen))
}

/// Holds a request between loading its session and saving it, so a test can
/// act in between.
#[derive(Default)]
struct Pause {
    loaded: Notify,
    go: Notify,
}

/// `POST /paused_set?key&value[&ns]`: loads, signals `loaded`, waits for
/// `go`, then sets the key and saves (in namespace `ns`, if given).
#[handler]
async fn paused_set(
    session: AsyncSession,
    pause: Arc<Pause>,
    key: String,
    value: String,
    ns: Option<String>,
) -> Result<&'static str, SessionError> {
    pause.loaded.notify_one();
    pause.go.notified().await;
    session.insert(key, value);
    match ns {
        Some(ns) => session.update_session_in(&ns).await?,
        None => session.update_session().await?,
    };
    Ok("ok")
}

/// `GET /plain`: touches no session.
#[handler]
async fn plain() -> &'static str {
    "plain"
}

// ---------------------------------------------------------------- harness

/// A connection to one Redis node, of either kind the store takes.
enum RedisConn {
    Manager(redis::aio::ConnectionManager),
    Pipelined(uapi::sessions::redis::PipelinedConnection),
}

/// A backend under test (and its Redis server or cluster, kept alive).
struct Harness {
    redis: Option<(RedisServer, RedisConn)>,
    /// A real 3-master cluster shared by this binary, its connection, and the
    /// harness' own key prefix (prepended to the stores' prefixes).
    cluster: Option<(Arc<RedisCluster>, ClusterConnection, String)>,
}

impl Harness {
    async fn memory() -> Harness {
        Harness { redis: None, cluster: None }
    }

    async fn redis() -> Harness {
        let server = RedisServer::start();
        let conn = RedisConn::Manager(server.connection_manager().await);
        Harness { redis: Some((server, conn)), cluster: None }
    }

    async fn redis_pipelined() -> Harness {
        let server = RedisServer::start();
        let conn = RedisConn::Pipelined(server.pipelined_connection().await);
        Harness { redis: Some((server, conn)), cluster: None }
    }

    async fn redis_cluster() -> Harness {
        let cluster = RedisCluster::shared();
        let conn = cluster.connection().await;
        Harness { redis: None, cluster: Some((cluster, conn, unique_prefix("h"))) }
    }

    /// Registers a store on `app` with this harness' backend (a fresh
    /// `MemoryStore`, or `configure_async_sessions` on the shared connection:
    /// a `ConnectionManager` or a `ClusterConnection`, the same call), its
    /// Redis keys under `prefix`.
    fn configure(&self, app: &mut App, options: SessionOptions, prefix: &str) -> SessionStore {
        if let Some((_, conn, own)) = &self.cluster {
            let backend = RedisBackend::new(conn.clone()).key_prefix(format!("{own}{prefix}"));
            return configure_async_sessions(app, backend, options);
        }
        match &self.redis {
            Some((_, RedisConn::Manager(conn))) => {
                configure_async_sessions(app, RedisBackend::new(conn.clone()).key_prefix(prefix), options)
            }
            Some((_, RedisConn::Pipelined(conn))) => {
                configure_async_sessions(app, RedisBackend::new(conn.clone()).key_prefix(prefix), options)
            }
            None => configure_sessions(app, MemoryStore::new(), options),
        }
    }

    /// The test app: `session` with `options` (Redis prefix `t:`), and `cart`
    /// (cookie `cart_session`, its keys under `t:cart_session:`).
    fn app(&self, options: SessionOptions) -> TestApp {
        let mut app = App::new();
        let pause = Arc::new(Pause::default());
        let store = self.configure(&mut app, options.clone(), "t:");
        let carts = self.configure(&mut app, options.cookie_name("cart_session").session_arg_param_name("cart"), "t:");
        app.provide_value(Gate(Arc::new(Barrier::new(2))))
            .provide_value(pause.clone())
            .get("/read", read)
            .post("/set", set)
            .post("/remove", remove)
            .post("/set_in", set_in)
            .post("/clear", clear)
            .post("/set_attached", set_attached)
            .post("/clear_attached", clear_attached)
            .post("/set_and_clear", set_and_clear)
            .get("/both", both)
            .post("/both", both_set)
            .post("/concurrent", concurrent)
            .post("/paused_set", paused_set)
            .get("/plain", plain);
        TestApp { service: app.build().expect("the test app builds"), store, _carts: carts, pause }
    }

    /// PTTL (ms) of the Redis key of session `id` in store prefix `t:`.
    async fn redis_pttl(&self, id: &str) -> Option<i64> {
        if let Some((_, conn, prefix)) = &self.cluster {
            let key = format!("{prefix}t:uapi:session:{id}");
            let pttl: i64 = redis::cmd("PTTL").arg(key).query_async(&mut conn.clone()).await.expect("pttl");
            return Some(pttl);
        }
        let (server, _) = self.redis.as_ref()?;
        let mut con = server.client().get_multiplexed_async_connection().await.expect("redis connection");
        let pttl: i64 =
            redis::cmd("PTTL").arg(format!("t:uapi:session:{id}")).query_async(&mut con).await.expect("pttl");
        Some(pttl)
    }
}

/// A built app and its stores.
struct TestApp {
    service: AppService,
    store: SessionStore,
    _carts: SessionStore,
    pause: Arc<Pause>,
}

impl TestApp {
    /// A new client (its own cookie jar: another browser).
    fn client(&self) -> TestClient {
        TestClient::from_service(self.service.clone())
    }
}

use support::set_cookie::SetCookie;

fn set_cookies(r: &TestResponse) -> Vec<SetCookie> {
    r.set_cookies().iter().map(|h| SetCookie::parse(h)).collect()
}

fn map(pairs: &[(&str, &str)]) -> Map {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

async fn read_map(client: &TestClient) -> Map {
    let r = client.get("/read").send().await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json().expect("a JSON map")
}

async fn set_kv(client: &TestClient, key: &str, value: &str) -> TestResponse {
    let r = client.post(&format!("/set?key={key}&value={value}")).send().await;
    assert_eq!(r.status, 200, "{}", r.text());
    r
}

fn is_session_id(value: &str) -> bool {
    value.len() == 43 && SessionId::parse(value).is_some()
}

/// Polls `read` until the session is empty; returns when it saw that.
async fn wait_until_empty(client: &TestClient, start: Instant, what: &str) -> Duration {
    let deadline = start + PATIENCE;
    loop {
        let data = read_map(client).await;
        if data.is_empty() {
            return start.elapsed();
        }
        assert!(Instant::now() < deadline, "{what}: still {data:?} after {:?}", start.elapsed());
        tokio::time::sleep(POLL).await;
    }
}

// ---------------------------------------------------------------- scenarios

/// The scenarios every backend must pass.
mod scenarios {
    use super::*;

    /// A request without a cookie gets an empty session, and merely reading it
    /// writes nothing and sets no cookie.
    pub(crate) async fn new_session_is_empty_and_reading_sets_no_cookie(h: &Harness) {
        let app = h.app(SessionOptions::default());
        let client = app.client();
        let r = client.get("/read").send().await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json::<Map>().expect("json"), Map::new());
        assert!(r.set_cookies().is_empty(), "{:?}", r.set_cookies());
        assert_eq!(client.cookie("session_id"), None);
        // Still nothing after a second read: no session was created.
        assert!(client.get("/read").send().await.set_cookies().is_empty());
    }

    /// The first `update_session` sets exactly one cookie: an opaque 43-char
    /// id, `HttpOnly`, `Secure`, `SameSite=Lax`, `Path=/`, `Max-Age` = max_age.
    pub(crate) async fn update_session_sets_one_cookie_with_all_security_attributes(h: &Harness) {
        let app = h.app(SessionOptions::default().max_age(Duration::from_secs(3600)));
        let client = app.client();
        let r = set_kv(&client, "a", "1").await;
        let cookies = set_cookies(&r);
        assert_eq!(cookies.len(), 1, "{:?}", r.set_cookies());
        let c = &cookies[0];
        assert_eq!(c.name, "session_id");
        assert!(is_session_id(&c.value), "not an opaque id: {:?}", c.value);
        assert_eq!(c.attr("httponly"), Some(None), "{c:?}");
        assert_eq!(c.attr("secure"), Some(None), "{c:?}");
        assert_eq!(c.attr("samesite"), Some(Some("Lax")), "{c:?}");
        assert_eq!(c.attr("path"), Some(Some("/")), "{c:?}");
        assert_eq!(c.max_age(), Some(3600), "{c:?}");
        assert_eq!(client.cookie("session_id").as_deref(), Some(c.value.as_str()));
    }

    /// Data saved by one request is there in the next; later saves of an
    /// existing session keep its id and send no new cookie.
    pub(crate) async fn data_persists_across_requests(h: &Harness) {
        let app = h.app(SessionOptions::default());
        let client = app.client();
        set_kv(&client, "a", "1").await;
        let id = client.cookie("session_id").expect("a session cookie");
        let r = set_kv(&client, "b", "2").await;
        assert!(r.set_cookies().is_empty(), "an existing session re-sent its cookie: {:?}", r.set_cookies());
        assert_eq!(read_map(&client).await, map(&[("a", "1"), ("b", "2")]));
        let r = client.post("/remove?key=a").send().await;
        assert_eq!(r.status, 200);
        assert_eq!(read_map(&client).await, map(&[("b", "2")]));
        set_kv(&client, "b", "3").await;
        assert_eq!(read_map(&client).await, map(&[("b", "3")]));
        assert_eq!(client.cookie("session_id"), Some(id));
    }

    /// Another client (another cookie jar) never sees the first one's session.
    pub(crate) async fn a_second_client_does_not_see_the_first_clients_session(h: &Harness) {
        let app = h.app(SessionOptions::default());
        let (ann, bob) = (app.client(), app.client());
        set_kv(&ann, "who", "ann").await;
        assert_eq!(read_map(&bob).await, Map::new());
        set_kv(&bob, "who", "bob").await;
        assert_eq!(read_map(&ann).await, map(&[("who", "ann")]));
        assert_eq!(read_map(&bob).await, map(&[("who", "bob")]));
        assert_ne!(ann.cookie("session_id"), bob.cookie("session_id"));
    }

    /// Two stores in one handler (`session` and `cart`) keep separate data
    /// under separate cookies; ending one leaves the other.
    pub(crate) async fn two_stores_side_by_side_have_independent_cookies(h: &Harness) {
        let app = h.app(SessionOptions::default());
        let client = app.client();
        let r = client.post("/both?s=S&c=C").send().await;
        assert_eq!(r.status, 200, "{}", r.text());
        let mut names: Vec<String> = set_cookies(&r).into_iter().map(|c| c.name).collect();
        names.sort();
        assert_eq!(names, ["cart_session", "session_id"]);
        let (sid, cid) = (client.cookie("session_id").expect("session"), client.cookie("cart_session").expect("cart"));
        assert_ne!(sid, cid);
        assert!(is_session_id(&sid) && is_session_id(&cid));
        let both: BTreeMap<String, Map> = client.get("/both").send().await.json().expect("json");
        assert_eq!(both["session"], map(&[("s", "S")]));
        assert_eq!(both["cart"], map(&[("c", "C")]));
        // Each id is only valid in its own store.
        let swapped = app.client();
        swapped.set_cookie("session_id", &cid);
        swapped.set_cookie("cart_session", &sid);
        let both: BTreeMap<String, Map> = swapped.get("/both").send().await.json().expect("json");
        assert_eq!((both["session"].len(), both["cart"].len()), (0, 0), "{both:?}");
        // Ending the session leaves the cart.
        let r = client.post("/clear").send().await;
        assert_eq!(set_cookies(&r).iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["session_id"]);
        let both: BTreeMap<String, Map> = client.get("/both").send().await.json().expect("json");
        assert_eq!(both["session"], Map::new());
        assert_eq!(both["cart"], map(&[("c", "C")]));
        assert_eq!(client.cookie("cart_session"), Some(cid));
    }

    /// `clear_session` deletes the session server-side (a replayed old cookie
    /// gets an empty session, and is never resurrected) and expires the cookie.
    pub(crate) async fn clear_session_deletes_server_side_and_expires_the_cookie(h: &Harness) {
        let app = h.app(SessionOptions::default());
        let client = app.client();
        set_kv(&client, "a", "1").await;
        let old = client.cookie("session_id").expect("a session cookie");
        let r = client.post("/clear").send().await;
        assert_eq!(r.status, 200);
        let cookies = set_cookies(&r);
        assert_eq!(cookies.len(), 1, "{:?}", r.set_cookies());
        assert_eq!((cookies[0].name.as_str(), cookies[0].value.as_str()), ("session_id", ""));
        assert_eq!(cookies[0].max_age(), Some(0), "{:?}", cookies[0]);
        assert_eq!(cookies[0].attr("path"), Some(Some("/")), "the expiry must match the cookie's path");
        assert_eq!(client.cookie("session_id"), None);
        // Replay the old cookie, as an attacker holding a copy would.
        let replay = app.client();
        replay.set_cookie("session_id", &old);
        assert_eq!(read_map(&replay).await, Map::new());
        let r = set_kv(&replay, "b", "2").await;
        let fresh = client_cookie_from(&r);
        assert_ne!(fresh, old, "a dead id was resurrected");
        assert_eq!(read_map(&replay).await, map(&[("b", "2")]));
        replay.set_cookie("session_id", &old);
        assert_eq!(read_map(&replay).await, Map::new());
    }

    /// Ending a session that is not there changes no cookie: no cookie sent,
    /// a cookie naming no live session, or a session made and ended in the
    /// same request all get no `Set-Cookie` (a cross-site form posting to a
    /// logout route, which SameSite=Lax sends without the cookie, must not get
    /// an answer that deletes it).
    pub(crate) async fn ending_no_session_sends_no_cookie(h: &Harness) {
        let app = h.app(SessionOptions::default());
        let anonymous = app.client();
        let r = anonymous.post("/clear").send().await;
        assert_eq!((r.status.as_u16(), r.set_cookies()), (200, Vec::<String>::new()));
        let r = anonymous.post("/clear_attached").send().await;
        assert_eq!((r.status.as_u16(), r.text()), (200, String::new()), "no headers returned either");
        assert!(r.set_cookies().is_empty(), "{:?}", r.set_cookies());

        let stale = app.client();
        stale.set_cookie("session_id", &"A".repeat(43));
        let r = stale.post("/clear").send().await;
        assert!(r.set_cookies().is_empty(), "a cookie naming no session: {:?}", r.set_cookies());

        let r = anonymous.post("/set_and_clear").send().await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.set_cookies().is_empty(), "made and ended in one request: {:?}", r.set_cookies());
        assert_eq!(anonymous.cookie("session_id"), None);
    }

    fn client_cookie_from(r: &TestResponse) -> String {
        let cookies = set_cookies(r);
        assert_eq!(cookies.len(), 1, "{:?}", r.set_cookies());
        cookies[0].value.clone()
    }

    /// `remove_namespace(ns)` ends exactly the sessions saved with
    /// `update_session_in(ns)`.
    pub(crate) async fn remove_namespace_ends_only_that_namespaces_sessions(h: &Harness) {
        let app = h.app(SessionOptions::default());
        let (a1, a2, bob, anon) = (app.client(), app.client(), app.client(), app.client());
        for (c, ns) in [(&a1, "alice"), (&a2, "alice"), (&bob, "bob")] {
            let r = c.post(&format!("/set_in?ns={ns}&key=k&value={ns}")).send().await;
            assert_eq!(r.status, 200, "{}", r.text());
        }
        set_kv(&anon, "k", "anon").await;
        // Joining a namespace later, on an existing session, counts too.
        let late = app.client();
        set_kv(&late, "k", "late").await;
        assert_eq!(late.post("/set_in?ns=alice&key=j&value=1").send().await.status, 200);

        assert_eq!(app.store.remove_namespace("alice").await.expect("remove_namespace"), 3);
        for c in [&a1, &a2, &late] {
            assert_eq!(read_map(c).await, Map::new());
        }
        assert_eq!(read_map(&bob).await, map(&[("k", "bob")]));
        assert_eq!(read_map(&anon).await, map(&[("k", "anon")]));
        assert_eq!(app.store.remove_namespace("alice").await.expect("remove_namespace"), 0);
        assert_eq!(app.store.remove_namespace("bob").await.expect("remove_namespace"), 1);
        assert_eq!(read_map(&bob).await, Map::new());
        assert_eq!(read_map(&anon).await, map(&[("k", "anon")]));
    }

    /// Cookies that are not a well-formed, live id (empty, no `=`, 8 KB,
    /// percent-encoded non-ASCII or CRLF, Redis glob or key syntax, an unknown
    /// but valid-looking id) give a fresh empty session and a 200, never a
    /// 4xx/5xx, and saving then creates a new id.
    pub(crate) async fn malformed_cookies_give_a_fresh_empty_session(h: &Harness) {
        let app = h.app(SessionOptions::default());
        let owner = app.client();
        set_kv(&owner, "secret", "s3").await;
        let real = owner.cookie("session_id").expect("cookie");
        let unknown = SessionId::generate().expect("rng").to_string();
        let huge = "A".repeat(8 * 1024);
        let bad: Vec<String> = vec![
            "session_id=".into(),
            "session_id".into(),
            format!("session_id={huge}"),
            "session_id=%C3%A9t%C3%A9%FF%FE%00".into(),
            "session_id=*".into(),
            "session_id=uapi:session:*".into(),
            format!("session_id=t:uapi:session:{real}"),
            "session_id=:::".into(),
            "session_id=abc%0d%0aFLUSHALL%0d%0a".into(),
            format!("session_id={}%0d%0a", &real[..41]),
            format!("session_id={unknown}"),
            format!("session_id={real}x"),
            format!("session_id={}", &real[..42]),
            format!("session_id=%{real}"),
            "session_id=\"quoted\"".into(),
            "=; ;session_id==".into(),
        ];
        for raw in &bad {
            let label = &raw[..raw.len().min(60)];
            let client = app.client();
            let r = client.get("/read").header("cookie", raw).send().await;
            assert_eq!(r.status, 200, "{label}: {}", r.text());
            assert_eq!(r.json::<Map>().expect("json"), Map::new(), "{label}");
            assert!(r.set_cookies().is_empty(), "{label}: {:?}", r.set_cookies());
            let r = client.post("/set?key=k&value=v").header("cookie", raw).send().await;
            assert_eq!(r.status, 200, "{label}: {}", r.text());
            let fresh = client.cookie("session_id").expect("a fresh cookie");
            assert!(is_session_id(&fresh) && fresh != real && fresh != unknown, "{label}: {fresh}");
            assert!(!raw.contains(&fresh), "{label}: the client's id was adopted");
        }
        // The real session was never touched.
        assert_eq!(read_map(&owner).await, map(&[("secret", "s3")]));
    }

    /// A session dies `max_age` after creation: afterwards it reads empty, and
    /// saving starts a new id.
    pub(crate) async fn session_is_empty_after_max_age(h: &Harness) {
        let app = h.app(SessionOptions::default().max_age(Duration::from_secs(1)));
        let client = app.client();
        let start = Instant::now();
        set_kv(&client, "a", "1").await;
        let old = client.cookie("session_id").expect("cookie");
        // Replay the cookie even though a browser would drop it after Max-Age.
        let elapsed = wait_until_empty(&client, start, "expiry").await;
        assert!(elapsed >= Duration::from_millis(900), "expired early: {elapsed:?}");
        client.set_cookie("session_id", &old);
        set_kv(&client, "b", "2").await;
        assert_ne!(client.cookie("session_id"), Some(old));
        assert_eq!(read_map(&client).await, map(&[("b", "2")]));
    }

    /// Two concurrent requests of one session, both loaded before either
    /// saves, that set different keys: both keys persist.
    pub(crate) async fn concurrent_requests_setting_different_keys_both_persist(h: &Harness) {
        let app = h.app(SessionOptions::default());
        let client = app.client();
        set_kv(&client, "base", "0").await;
        let (x, y) = tokio::time::timeout(
            PATIENCE,
            futures_util::future::join(
                client.post("/concurrent?key=x&value=1").send(),
                client.post("/concurrent?key=y&value=2").send(),
            ),
        )
        .await
        .expect("both requests passed the barrier");
        for r in [&x, &y] {
            assert_eq!(r.status, 200, "{}", r.text());
            // Proof of the interleaving: neither saw the other's key.
            assert_eq!(r.json::<Vec<String>>().expect("json"), ["base"]);
            assert!(r.set_cookies().is_empty());
        }
        assert_eq!(read_map(&client).await, map(&[("base", "0"), ("x", "1"), ("y", "2")]));
    }

    /// A handler that attaches the `Headers` returned by `update_session` (or
    /// `clear_session`) to its response still sends the cookie exactly once.
    pub(crate) async fn cookie_is_sent_once_when_the_handler_attaches_the_returned_headers(h: &Harness) {
        let app = h.app(SessionOptions::default());
        let client = app.client();
        let r = client.post("/set_attached?key=a&value=1").send().await;
        assert_eq!(r.status, 200);
        let sent = r.set_cookies();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0], r.text(), "the header sent is the one update_session returned");
        // An existing session: nothing to attach, nothing sent.
        let r = client.post("/set_attached?key=b&value=2").send().await;
        assert_eq!((r.set_cookies().len(), r.text().as_str()), (0, ""));
        assert_eq!(read_map(&client).await, map(&[("a", "1"), ("b", "2")]));
        let r = client.post("/clear_attached").send().await;
        let sent = set_cookies(&r);
        assert_eq!(sent.len(), 1, "{:?}", r.set_cookies());
        assert_eq!((sent[0].value.as_str(), sent[0].max_age()), ("", Some(0)));
        assert_eq!(read_map(&client).await, Map::new());
    }

    /// With `.rolling(true)`, a read in the second half of the session's life
    /// re-sends the cookie and extends the session to a full `max_age`, so it
    /// outlives its original expiry; reads in the first half change nothing.
    pub(crate) async fn rolling_expiry_extends_a_session_read_in_its_second_half(h: &Harness) {
        let max_age = Duration::from_secs(3);
        let app = h.app(SessionOptions::default().max_age(max_age).rolling(true));
        let client = app.client();
        let start = Instant::now();
        set_kv(&client, "a", "1").await;
        let id = client.cookie("session_id").expect("cookie");
        let refreshed_at = loop {
            let r = client.get("/read").send().await;
            let at = start.elapsed();
            assert_eq!(r.status, 200);
            assert_eq!(r.json::<Map>().expect("json"), map(&[("a", "1")]), "at {at:?}");
            let cookies = set_cookies(&r);
            if let Some(c) = cookies.first() {
                assert_eq!(cookies.len(), 1);
                assert_eq!((c.name.as_str(), c.value.as_str()), ("session_id", id.as_str()), "same id");
                assert_eq!(c.max_age(), Some(3), "a fresh Max-Age");
                break at;
            }
            assert!(at < max_age, "never extended before expiry");
            tokio::time::sleep(POLL).await;
        };
        assert!(refreshed_at >= max_age / 2, "extended in the first half of its life, at {refreshed_at:?}");
        if let Some(pttl) = h.redis_pttl(&id).await {
            assert!(pttl > 2_500, "the Redis TTL was not reset: {pttl} ms");
        }
        // Past the original expiry (a wait for time to pass, not for an event).
        tokio::time::sleep_until((start + max_age + Duration::from_millis(300)).into()).await;
        assert_eq!(read_map(&client).await, map(&[("a", "1")]), "died at its original expiry");
    }

    /// A session ended while a request holds it (logout everywhere between
    /// its load and its save) is not resurrected: the save starts a new id
    /// holding only that request's change, and a save with
    /// `update_session_in(ns)` puts the new session in `ns`, so the next
    /// `remove_namespace(ns)` still reaches it.
    pub(crate) async fn a_save_racing_remove_namespace_starts_a_new_session_in_that_namespace(h: &Harness) {
        let app = h.app(SessionOptions::default());
        for ns in [Some("alice"), None] {
            let client = app.client();
            let r = client.post("/set_in?ns=alice&key=old&value=1").send().await;
            assert_eq!(r.status, 200);
            let old = client.cookie("session_id").expect("cookie");
            let path = match ns {
                Some(ns) => format!("/paused_set?key=new&value=2&ns={ns}"),
                None => "/paused_set?key=new&value=2".to_owned(),
            };
            let (r, removed) = tokio::time::timeout(
                PATIENCE,
                futures_util::future::join(client.post(&path).send(), async {
                    app.pause.loaded.notified().await;
                    let removed = app.store.remove_namespace("alice").await.expect("remove_namespace");
                    app.pause.go.notify_one();
                    removed
                }),
            )
            .await
            .expect("the paused request finished");
            assert_eq!((removed, r.status.as_u16()), (1, 200), "{ns:?}: {}", r.text());
            let new = client.cookie("session_id").expect("a cookie");
            assert_ne!(new, old, "{ns:?}: the ended id was resurrected");
            assert_eq!(read_map(&client).await, map(&[("new", "2")]), "{ns:?}");
            let left = app.store.remove_namespace("alice").await.expect("remove_namespace");
            match ns {
                Some(_) => {
                    assert_eq!(left, 1, "the new session escaped its namespace");
                    assert_eq!(read_map(&client).await, Map::new());
                }
                None => {
                    assert_eq!(left, 0);
                    assert_eq!(read_map(&client).await, map(&[("new", "2")]));
                }
            }
        }
    }
}

/// Instantiates every scenario as a `#[tokio::test]` for one backend.
macro_rules! suite {
    ($module:ident, $make:ident; $($name:ident),* $(,)?) => {
        mod $module {
            $(
                #[doc = concat!("`", stringify!($name), "`, on this backend.")]
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let h = super::Harness::$make().await;
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
        suite!(redis_cluster, redis_cluster; $($name),*);
    };
}

all_backends!(
    new_session_is_empty_and_reading_sets_no_cookie,
    update_session_sets_one_cookie_with_all_security_attributes,
    data_persists_across_requests,
    a_second_client_does_not_see_the_first_clients_session,
    two_stores_side_by_side_have_independent_cookies,
    clear_session_deletes_server_side_and_expires_the_cookie,
    ending_no_session_sends_no_cookie,
    remove_namespace_ends_only_that_namespaces_sessions,
    malformed_cookies_give_a_fresh_empty_session,
    session_is_empty_after_max_age,
    concurrent_requests_setting_different_keys_both_persist,
    cookie_is_sent_once_when_the_handler_attaches_the_returned_headers,
    rolling_expiry_extends_a_session_read_in_its_second_half,
    a_save_racing_remove_namespace_starts_a_new_session_in_that_namespace,
);

#[path = "sessions_http/redis_only.rs"]
mod redis_only;
