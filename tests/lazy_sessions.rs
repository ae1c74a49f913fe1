//! `session: LazySession`: the same session as `AsyncSession`, read field by
//! field. On a real `redis-server` (commands counted with `INFO
//! commandstats`) and on a `MemoryStore`, driven in-process by `TestClient`:
//! reads fetch only the fields they name (one `HMGET`, never an `HGETALL`),
//! a write needs no read, a session gone meanwhile is not resurrected,
//! rolling expiry and the absolute lifetime hold at the first read, and a
//! request that asks for both session types sees one session. Needs
//! `redis-server` on PATH.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use support::commandstats::{command_counts, reset_stats};
use support::redis_server::RedisServer;
use uapi::login::{configure_async_login, AsyncLoginSession, LoginOptions};
use uapi::sessions::redis::configure_async_sessions;
use uapi::sessions::{
    configure_sessions, AsyncSession, LazySession, MemoryStore, RedisBackend, SessionError, SessionOptions,
    ENDS_AT_FIELD,
};
use uapi::status::Created;
use uapi::testing::TestClient;
use uapi::{handler, App, Json};

const COOKIE: &str = "session_id";

/// `POST /fill?n`: a session with keys `k0..k{n-1}`, each 100 bytes (eager).
#[handler]
async fn fill(session: AsyncSession, n: usize) -> Result<&'static str, SessionError> {
    for i in 0..n {
        session.insert(format!("k{i}"), format!("{i:0>100}"));
    }
    session.update_session().await?;
    Ok("filled")
}

/// `GET /lazy/get?key`: one field, lazily (`-` when unset).
#[handler]
async fn lazy_get(session: LazySession, key: String) -> Result<String, SessionError> {
    Ok(session.get(&key).await?.unwrap_or_else(|| "-".to_owned()))
}

/// `GET /lazy/many`: `k1`, `k2` and `nope` in one read, then `k1` again.
#[handler]
async fn lazy_many(session: LazySession) -> Result<Json<Vec<Option<String>>>, SessionError> {
    let mut values = session.get_many(&["k1", "k2", "nope"]).await?;
    values.push(session.get("k1").await?);
    Ok(Json(values))
}

/// `POST /lazy/set?key&value`: sets one field without reading.
#[handler]
async fn lazy_set(session: LazySession, key: String, value: String) -> Result<&'static str, SessionError> {
    session.insert(key, value);
    session.update_session().await?;
    Ok("saved")
}

/// `POST /lazy/remove?key`: removes one field without reading.
#[handler]
async fn lazy_remove(session: LazySession, key: String) -> Result<&'static str, SessionError> {
    session.remove(&key);
    session.update_session().await?;
    Ok("removed")
}

/// `POST /lazy/write-then-read`: sets `k1`, then reads `k1` and `k2`
/// (`k1` is this request's own value, `k2` the store's).
#[handler]
async fn lazy_write_then_read(session: LazySession) -> Result<Json<Vec<Option<String>>>, SessionError> {
    session.insert("k1", "mine");
    session.remove("k3");
    let values = session.get_many(&["k1", "k2", "k3"]).await?;
    session.update_session().await?;
    Ok(Json(values))
}

/// `GET /lazy/exists`: whether the cookie's session exists, and its namespace.
#[handler]
async fn lazy_exists(session: LazySession) -> Result<String, SessionError> {
    Ok(format!("{} {:?}", session.exists().await?, session.namespace().await?))
}

/// `GET /lazy/reserved`: reads names the store keeps for itself.
#[handler]
async fn lazy_reserved(session: LazySession) -> Result<Json<Vec<Option<String>>>, SessionError> {
    Ok(Json(session.get_many(&["\u{1}ns", "\u{1}c", ENDS_AT_FIELD]).await?))
}

/// `POST /lazy/rotate`: a new id for the whole session (login-style).
#[handler]
async fn lazy_rotate(session: LazySession) -> Result<&'static str, SessionError> {
    session.rotate_id_in(Some("7")).await?;
    Ok("rotated")
}

/// `GET /all`: the whole session (eager), sorted.
#[handler]
async fn all(session: AsyncSession) -> Json<BTreeMap<String, String>> {
    Json(session.to_map().into_iter().collect())
}

/// `GET /both`: the login's user (which reads the session whole) and one
/// lazily read field: one session, one read.
#[handler]
async fn both(current_user_id: Option<i64>, session: LazySession) -> Result<String, SessionError> {
    Ok(format!("{current_user_id:?} {:?}", session.get("k1").await?))
}

/// `GET /me`: the logged-in user alone (403 when anonymous).
#[handler]
async fn me(current_user_id: i64) -> String {
    current_user_id.to_string()
}

/// `GET /me/whole`: the user and the whole session.
#[handler]
async fn me_whole(current_user_id: i64, session: AsyncSession) -> String {
    format!("{current_user_id}: {} fields", session.len())
}

/// `POST /login?user_id`.
#[handler]
async fn login(login_session: AsyncLoginSession<i64>, user_id: i64) -> Result<Created<()>, SessionError> {
    Ok(Created::new(()).with_headers(login_session.login_and_return(user_id).await?))
}

/// An app on `redis` (or a memory store), with `options`.
fn app(redis: Option<&redis::aio::ConnectionManager>, options: SessionOptions) -> TestClient {
    let mut app = App::new();
    let store = match redis {
        Some(conn) => configure_async_sessions(&mut app, RedisBackend::new(conn.clone()), options),
        None => configure_sessions(&mut app, MemoryStore::new(), options),
    };
    configure_async_login::<i64>(&mut app, &store, LoginOptions::default());
    app.post("/fill", fill)
        .get("/lazy/get", lazy_get)
        .get("/lazy/many", lazy_many)
        .post("/lazy/set", lazy_set)
        .post("/lazy/remove", lazy_remove)
        .post("/lazy/write-then-read", lazy_write_then_read)
        .get("/lazy/exists", lazy_exists)
        .get("/lazy/reserved", lazy_reserved)
        .post("/lazy/rotate", lazy_rotate)
        .get("/all", all)
        .get("/both", both)
        .get("/me", me)
        .get("/me/whole", me_whole)
        .post("/login", login);
    TestClient::new(&app).expect("the test app builds")
}

fn options() -> SessionOptions {
    SessionOptions::default().cookie_settings(uapi::CookieSettings::default().secure(false))
}

/// The commands a request sent, without the test's own `CONFIG`/`INFO`.
async fn commands_of(conn: &mut redis::aio::ConnectionManager) -> BTreeMap<String, u64> {
    let mut counts = command_counts(conn).await;
    counts.retain(|name, _| !name.starts_with("config") && name != "info");
    counts
}

fn key_of(client: &TestClient) -> String {
    format!("uapi:session:{}", client.cookie(COOKIE).expect("a session cookie"))
}

#[tokio::test]
async fn a_lazy_read_of_a_large_session_fetches_only_the_fields_it_names() {
    let server = RedisServer::start();
    let mut conn = server.connection_manager().await;
    let client = app(Some(&conn), options());
    assert_eq!(client.post("/fill?n=200").send().await.status, 200);

    reset_stats(&mut conn).await;
    let r = client.get("/lazy/get?key=k7").send().await;
    assert_eq!((r.status.as_u16(), r.text()), (200, format!("{:0>100}", 7)));
    assert!(r.set_cookies().is_empty(), "a read sets no cookie: {:?}", r.set_cookies());
    assert_eq!(commands_of(&mut conn).await, BTreeMap::from([("hmget".to_owned(), 1)]));

    // Several fields: one round trip; a field read twice is kept.
    reset_stats(&mut conn).await;
    let r = client.get("/lazy/many").send().await;
    let values: Vec<Option<String>> = r.json().expect("json");
    let (k1, k2) = (Some(format!("{:0>100}", 1)), Some(format!("{:0>100}", 2)));
    assert_eq!(values, vec![k1.clone(), k2.clone(), None, k1]);
    assert_eq!(commands_of(&mut conn).await, BTreeMap::from([("hmget".to_owned(), 1)]));

    // The eager session of the same store still reads it whole.
    reset_stats(&mut conn).await;
    let whole: BTreeMap<String, String> = client.get("/all").send().await.json().expect("json");
    assert_eq!(whole.len(), 200);
    assert_eq!(commands_of(&mut conn).await, BTreeMap::from([("hgetall".to_owned(), 1)]));
}

#[tokio::test]
async fn a_lazy_write_needs_no_read_and_changes_only_its_fields() {
    let server = RedisServer::start();
    let mut conn = server.connection_manager().await;
    let client = app(Some(&conn), options());
    client.post("/fill?n=50").send().await;
    let key = key_of(&client);

    reset_stats(&mut conn).await;
    let r = client.post("/lazy/set?key=k3&value=new").send().await;
    assert_eq!(r.status, 200);
    assert!(r.set_cookies().is_empty(), "an existing session keeps its cookie: {:?}", r.set_cookies());
    let counts = commands_of(&mut conn).await;
    assert!(!counts.contains_key("hgetall") && !counts.contains_key("hmget"), "{counts:?}");
    assert_eq!(counts.get("hset"), Some(&1), "{counts:?}");

    let r = client.post("/lazy/remove?key=k4").send().await;
    assert_eq!(r.status, 200);
    let whole: BTreeMap<String, String> = client.get("/all").send().await.json().expect("json");
    assert_eq!(whole.len(), 49);
    assert_eq!(whole.get("k3").map(String::as_str), Some("new"));
    assert!(!whole.contains_key("k4"));
    let fields: usize = redis::cmd("HLEN").arg(&key).query_async(&mut conn).await.expect("HLEN");
    assert_eq!(fields, 50, "49 fields and the marker");

    // A request's own changes win over what the store holds.
    let values: Vec<Option<String>> = client.post("/lazy/write-then-read").send().await.json().expect("json");
    assert_eq!(values, vec![Some("mine".to_owned()), Some(format!("{:0>100}", 2)), None]);
    let whole: BTreeMap<String, String> = client.get("/all").send().await.json().expect("json");
    assert_eq!(whole.get("k1").map(String::as_str), Some("mine"));
    assert!(!whole.contains_key("k3"));
}

#[tokio::test]
async fn a_session_deleted_meanwhile_is_not_resurrected_by_a_lazy_write() {
    let server = RedisServer::start();
    let mut conn = server.connection_manager().await;
    let client = app(Some(&conn), options());
    client.post("/fill?n=5").send().await;
    let (old, key) = (client.cookie(COOKIE).expect("cookie"), key_of(&client));
    let _: () = redis::cmd("DEL").arg(&key).query_async(&mut conn).await.expect("DEL");

    let r = client.post("/lazy/set?key=only&value=this").send().await;
    assert_eq!(r.status, 200);
    let new = client.cookie(COOKIE).expect("a new cookie");
    assert_ne!(new, old, "a fresh session gets a fresh id");
    let exists: bool = redis::cmd("EXISTS").arg(&key).query_async(&mut conn).await.expect("EXISTS");
    assert!(!exists, "the old key stays gone");
    let whole: BTreeMap<String, String> = client.get("/all").send().await.json().expect("json");
    assert_eq!(whole, BTreeMap::from([("only".to_owned(), "this".to_owned())]));
}

/// What every backend must do the same: memory (the trait's default
/// `load_fields`) and Redis (its own `HMGET`).
async fn behaves(client: TestClient) {
    // No cookie: nothing there, and a read sets no cookie.
    let r = client.get("/lazy/get?key=a").send().await;
    assert_eq!(r.text(), "-");
    assert!(r.set_cookies().is_empty());
    assert_eq!(client.get("/lazy/exists").send().await.text(), "false None");

    // A write without a cookie creates the session.
    let r = client.post("/lazy/set?key=a&value=1").send().await;
    assert_eq!(r.set_cookies().len(), 1, "{:?}", r.set_cookies());
    assert_eq!(client.get("/lazy/get?key=a").send().await.text(), "1");
    assert_eq!(client.get("/lazy/exists").send().await.text(), "true None");

    // Reserved names are never read, and never an error.
    let values: Vec<Option<String>> = client.get("/lazy/reserved").send().await.json().expect("json");
    assert_eq!(values, vec![None, None, None]);

    // A cookie naming no session: absent, and the write starts a fresh one.
    client.set_cookie(COOKIE, "0123456789abcdef0123456789abcdef0123456789a");
    assert_eq!(client.get("/lazy/exists").send().await.text(), "false None");
    assert_eq!(client.get("/lazy/get?key=a").send().await.text(), "-");

    // Login, then one request asking for the user and a lazy field.
    client.clear_cookies();
    client.post("/lazy/set?key=k1&value=v1").send().await;
    assert_eq!(client.post("/login?user_id=7").send().await.status, 201);
    assert_eq!(client.get("/both").send().await.text(), "Some(7) Some(\"v1\")");
    assert_eq!(client.get("/lazy/exists").send().await.text(), "true Some(\"7\")");

    // Rotation keeps every field, under a new id.
    let before = client.cookie(COOKIE).expect("cookie");
    assert_eq!(client.post("/lazy/rotate").send().await.status, 200);
    assert_ne!(client.cookie(COOKIE).expect("cookie"), before);
    let whole: BTreeMap<String, String> = client.get("/all").send().await.json().expect("json");
    assert_eq!(whole.get("k1").map(String::as_str), Some("v1"));
    assert_eq!(client.get("/lazy/exists").send().await.text(), "true Some(\"7\")");
}

#[tokio::test]
async fn lazy_sessions_behave_alike_on_memory_and_redis() {
    behaves(app(None, options())).await;
    let server = RedisServer::start();
    let conn = server.connection_manager().await;
    behaves(app(Some(&conn), options())).await;
}

#[tokio::test]
async fn the_logged_in_user_costs_one_field_unless_the_route_reads_the_session_whole() {
    let server = RedisServer::start();
    let mut conn = server.connection_manager().await;
    let client = app(Some(&conn), options());
    client.post("/fill?n=100").send().await;
    client.post("/lazy/set?key=k1&value=v1").send().await;
    assert_eq!(client.post("/login?user_id=7").send().await.status, 201);

    // `current_user_id` alone: its one field, never the 100 others.
    reset_stats(&mut conn).await;
    assert_eq!(client.get("/me").send().await.text(), "7");
    assert_eq!(commands_of(&mut conn).await, BTreeMap::from([("hmget".to_owned(), 1)]));

    // With a lazy read in the handler: a round trip each, both small.
    reset_stats(&mut conn).await;
    assert_eq!(client.get("/both").send().await.text(), "Some(7) Some(\"v1\")");
    assert_eq!(commands_of(&mut conn).await, BTreeMap::from([("hmget".to_owned(), 2)]));

    // With the whole session in the handler: one read, whole, shared.
    reset_stats(&mut conn).await;
    assert_eq!(client.get("/me/whole").send().await.text(), "7: 101 fields");
    assert_eq!(commands_of(&mut conn).await, BTreeMap::from([("hgetall".to_owned(), 1)]));

    // Anonymous: the 403 costs one small read too.
    client.clear_cookies();
    client.post("/fill?n=100").send().await;
    reset_stats(&mut conn).await;
    assert_eq!(client.get("/me").send().await.status, 403);
    assert_eq!(commands_of(&mut conn).await, BTreeMap::from([("hmget".to_owned(), 1)]));
}

#[tokio::test]
async fn rolling_expiry_is_applied_at_the_first_lazy_read() {
    let server = RedisServer::start();
    let mut conn = server.connection_manager().await;
    let max_age = Duration::from_secs(100);
    let client = app(Some(&conn), options().rolling(true).max_age(max_age));
    client.post("/lazy/set?key=a&value=1").send().await;
    let key = key_of(&client);
    // Most of its life gone: below half of max_age, so a read extends it.
    let _: () = redis::cmd("PEXPIRE").arg(&key).arg(10_000).query_async(&mut conn).await.expect("PEXPIRE");
    let r = client.get("/lazy/get?key=a").send().await;
    assert_eq!(r.text(), "1");
    assert_eq!(r.set_cookies().len(), 1, "the cookie is re-sent: {:?}", r.set_cookies());
    let pttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await.expect("PTTL");
    assert!(pttl > 90_000, "extended to max_age: {pttl} ms");
    // Fresh enough now: the next read leaves it alone.
    let r = client.get("/lazy/get?key=a").send().await;
    assert!(r.set_cookies().is_empty(), "{:?}", r.set_cookies());
}

#[tokio::test]
async fn a_session_past_its_absolute_end_is_absent_to_a_lazy_read() {
    let server = RedisServer::start();
    let mut conn = server.connection_manager().await;
    let client = app(Some(&conn), options().absolute_lifetime(Duration::from_secs(3600)));
    client.post("/lazy/set?key=a&value=1").send().await;
    assert_eq!(client.get("/lazy/get?key=a").send().await.text(), "1");
    let key = key_of(&client);
    let _: () = redis::cmd("HSET").arg(&key).arg(ENDS_AT_FIELD).arg("1000").query_async(&mut conn).await.expect("HSET");
    assert_eq!(client.get("/lazy/get?key=a").send().await.text(), "-");
    assert_eq!(client.get("/lazy/exists").send().await.text(), "false None");
}

#[tokio::test]
async fn a_cross_site_write_carrying_the_cookie_is_refused_before_the_handler() {
    let server = RedisServer::start();
    let mut conn = server.connection_manager().await;
    let client = app(Some(&conn), options().refuse_cross_site(true));
    client.post("/lazy/set?key=a&value=1").send().await;
    reset_stats(&mut conn).await;
    let r = client.post("/lazy/set?key=a&value=evil").header("sec-fetch-site", "cross-site").send().await;
    assert_eq!(r.status, 403);
    assert!(commands_of(&mut conn).await.is_empty(), "nothing reached the store");
    assert_eq!(client.get("/lazy/get?key=a").send().await.text(), "1");
}
