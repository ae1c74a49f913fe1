//! Redis sessions and login through redis-rs's `ConnectionManager` on real
//! `redis-server`s that speak TLS only (`rediss://`, certificates from a test
//! CA made at run time), that admit only ACL users, and over RESP3; each alone
//! and all together. Needs `redis-server` on PATH and uapi's `redis-tls`
//! feature.

mod support;

use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{ErrorKind, RedisResult};
use support::redis_server::RedisServer;
use support::tls::TestCa;
use uapi::login::{configure_async_login, AsyncLoginManager, AsyncLoginSession, LoginOptions};
use uapi::sessions::redis::configure_async_sessions;
use uapi::sessions::{configure_sessions, AsyncSession, RedisBackend, SessionError, SessionOptions, SessionStore};
use uapi::status::Created;
use uapi::testing::TestClient;
use uapi::{handler, App};

/// Bounds every connection attempt a test expects to fail.
const TIMEOUT: Duration = Duration::from_millis(500);

/// ACL: `alice` may touch only keys under `app1:`.
const ALICE: (&str, &[&str]) = ("alice", &["on", ">s3cret", "~app1:*", "+@all"]);
/// ACL: `admin` sees everything, for the tests' own inspection.
const ADMIN: (&str, &[&str]) = ("admin", &["on", ">adm1n", "~*", "&*", "+@all"]);
/// ACL: the default user is off, so a client without credentials gets nowhere.
const DEFAULT_OFF: (&str, &[&str]) = ("default", &["off"]);

// ---------------------------------------------------------------- the app

/// `POST /login?user_id=N`: logs this session in as N.
#[handler]
async fn login(login_session: AsyncLoginSession<i64>, user_id: i64) -> Result<Created<()>, SessionError> {
    let cookie = login_session.login_and_return(user_id).await?;
    Ok(Created::new(()).with_headers(cookie))
}

/// `GET /me`: the logged-in id; 403 when anonymous.
#[handler]
async fn me(current_user_id: i64) -> String {
    current_user_id.to_string()
}

/// `POST /put?key&value`: stores one key in the session.
#[handler]
async fn put(session: AsyncSession, key: String, value: String) -> Result<&'static str, SessionError> {
    session.insert(key, value);
    session.update_session().await?;
    Ok("ok")
}

/// `GET /get?key`: one key of the session, or nothing.
#[handler]
async fn get(session: AsyncSession, key: String) -> String {
    session.get(&key).unwrap_or_default()
}

/// `POST /logout-everywhere`: ends every session of the caller; says how many.
#[handler]
async fn logout_everywhere(
    current_user_id: i64,
    login_manager: AsyncLoginManager<i64>,
) -> Result<String, SessionError> {
    Ok(login_manager.logout(&current_user_id).await?.to_string())
}

/// The app on the session store `configure` sets up.
fn app(configure: impl FnOnce(&mut App) -> SessionStore) -> App {
    let mut app = App::new();
    let store = configure(&mut app);
    // `login_manager: AsyncLoginManager<i64>` is registered by configure_async_login.
    configure_async_login::<i64>(&mut app, &store, LoginOptions::default());
    app.post("/login", login)
        .get("/me", me)
        .post("/put", put)
        .get("/get", get)
        .post("/logout-everywhere", logout_everywhere);
    app
}

/// Sessions through `configure_async_sessions` on `conn`, default options.
fn app_on(conn: ConnectionManager) -> App {
    app(|app| configure_async_sessions(app, conn, SessionOptions::default()))
}

/// Sessions with every key under `app1:`, through `configure_sessions`.
fn app1_on(conn: ConnectionManager) -> App {
    app(|app| configure_sessions(app, RedisBackend::new(conn).key_prefix("app1:"), SessionOptions::default()))
}

// ---------------------------------------------------------------- the scenario

/// Two browsers logged in as user 42, one holding a session key.
struct LoggedIn {
    laptop: TestClient,
    phone: TestClient,
}

/// Anonymous `/me` is 403; user 42 logs in on two devices, `/me` gives the
/// id, and a session key round-trips.
async fn log_in_and_use(app: &App) -> LoggedIn {
    let laptop = TestClient::new(app).expect("app builds");
    let phone = TestClient::from_service(laptop.service().clone());
    assert_eq!(laptop.get("/me").send().await.status, 403);
    for device in [&laptop, &phone] {
        let r = device.post("/login?user_id=42").send().await;
        assert_eq!(r.status, 201, "login: {}", r.text());
        let r = device.get("/me").send().await;
        assert_eq!((r.status.as_u16(), r.text()), (200, "42".to_owned()));
    }
    assert_ne!(laptop.cookie("session_id"), phone.cookie("session_id"));
    let r = laptop.post("/put?key=colour&value=teal").send().await;
    assert_eq!((r.status.as_u16(), r.text()), (200, "ok".to_owned()));
    assert_eq!(laptop.get("/get?key=colour").send().await.text(), "teal");
    assert_eq!(phone.get("/get?key=colour").send().await.text(), "", "sessions are per device");
    LoggedIn { laptop, phone }
}

/// Logging 42 out everywhere ends both sessions: 403 and no data after.
async fn log_out_everywhere(LoggedIn { laptop, phone }: LoggedIn) {
    let r = phone.post("/logout-everywhere").send().await;
    assert_eq!((r.status.as_u16(), r.text()), (200, "2".to_owned()), "sessions ended");
    for device in [&laptop, &phone] {
        assert_eq!(device.get("/me").send().await.status, 403);
    }
    assert_eq!(laptop.get("/get?key=colour").send().await.text(), "");
}

/// The whole scenario on `app`.
async fn login_session_and_logout_everywhere(app: &App) {
    log_out_everywhere(log_in_and_use(app).await).await;
}

// ---------------------------------------------------------------- helpers

/// Connects to `client` (with [`TIMEOUT`]) and sends a `PING`: the first
/// error on the way, if any.
async fn connect_and_ping(client: redis::Client) -> RedisResult<String> {
    let config =
        redis::AsyncConnectionConfig::new().set_connection_timeout(Some(TIMEOUT)).set_response_timeout(Some(TIMEOUT));
    let mut conn = client.get_multiplexed_async_connection_with_config(&config).await?;
    redis::cmd("PING").query_async(&mut conn).await
}

/// `CLIENT INFO` of the connection behind `conn`: its `name=value` fields.
async fn client_info(conn: &mut ConnectionManager) -> Vec<String> {
    let info: String = redis::cmd("CLIENT").arg("INFO").query_async(conn).await.expect("CLIENT INFO");
    info.split_whitespace().map(str::to_owned).collect()
}

/// One `CONFIG GET` value.
async fn config_get(conn: &mut ConnectionManager, name: &str) -> String {
    let pair: Vec<String> = redis::cmd("CONFIG").arg("GET").arg(name).query_async(conn).await.expect("CONFIG GET");
    pair.into_iter().nth(1).expect("a value")
}

/// Every key in the server, seen by `admin`.
async fn all_keys(admin: &mut ConnectionManager) -> Vec<String> {
    redis::cmd("KEYS").arg("*").query_async(admin).await.expect("KEYS")
}

/// A TLS client for `url` that trusts only `root`.
fn client_trusting(url: &str, root: &TestCa) -> redis::Client {
    let certificates = redis::TlsCertificates { client_tls: None, root_cert: Some(root.pem().as_bytes().to_vec()) };
    redis::Client::build_with_tls(url, certificates).expect("redis TLS client")
}

// ---------------------------------------------------------------- tests

/// Over `rediss://` trusting only the test CA, the scenario passes, and the server speaks nothing but TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_work_over_tls_and_the_server_speaks_only_tls() {
    let redis = RedisServer::builder().tls().start();
    assert!(redis.url().starts_with("rediss://127.0.0.1:"), "{}", redis.url());
    let mut conn = redis.connection_manager().await;
    login_session_and_logout_everywhere(&app_on(conn.clone())).await;

    assert_eq!(config_get(&mut conn, "port").await, "0", "the plain port is off");
    assert_eq!(config_get(&mut conn, "tls-port").await, redis.port().to_string());
    let plain = redis::Client::open(format!("redis://127.0.0.1:{}/", redis.port())).expect("url");
    let err = connect_and_ping(plain).await.expect_err("plain RESP on the TLS port");
    // The server answers a plaintext PING by dropping the connection.
    assert!(err.is_io_error() || err.is_connection_dropped(), "{err:?}");
}

/// A server certificate from an untrusted CA fails the connect: no connection manager, no session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_certificate_from_an_untrusted_ca_is_refused() {
    let redis = RedisServer::builder().tls().start();
    let stranger = TestCa::new("some other CA");
    let client = client_trusting(&redis.url(), &stranger);
    let config =
        redis::aio::ConnectionManagerConfig::new().set_connection_timeout(Some(TIMEOUT)).set_number_of_retries(0);
    let err = client.get_connection_manager_with_config(config).await.expect_err("an untrusted certificate");
    let message = err.to_string();
    assert!(message.contains("UnknownIssuer"), "{message}");
    // The same connection with the right CA works: the CA made the difference.
    let ok = connect_and_ping(client_trusting(&redis.url(), redis.ca())).await;
    assert_eq!(ok.expect("trusted CA"), "PONG");
}

/// A server demanding client certificates refuses a client without one and serves one that has it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_refuses_a_client_without_a_certificate() {
    let redis = RedisServer::builder().tls_client_auth().start();
    let anonymous = client_trusting(&redis.url(), redis.ca());
    let err = connect_and_ping(anonymous).await.expect_err("no client certificate");
    // TLS 1.3: the handshake looks done to the client; the server's alert
    // arrives with the first reply.
    assert!(err.to_string().contains("CertificateRequired"), "{err:?}");
    login_session_and_logout_everywhere(&app_on(redis.connection_manager().await)).await;
}

/// An ACL user confined to `~app1:*` runs the scenario on an `app1:` store: every key carries the prefix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acl_user_confined_to_app1_keys_runs_everything_under_the_prefix() {
    let redis = RedisServer::builder()
        .acl_user(ALICE.0, ALICE.1)
        .acl_user(ADMIN.0, ADMIN.1)
        .acl_user(DEFAULT_OFF.0, DEFAULT_OFF.1)
        .start();
    let mut admin = redis.connection_manager_for(&redis.url_as("admin", "adm1n")).await.expect("admin");
    let mut alice = redis.connection_manager_for(&redis.url_as("alice", "s3cret")).await.expect("alice");
    let info = client_info(&mut alice).await;
    assert!(info.contains(&"user=alice".to_owned()), "{info:?}");

    // Sessions, and the per-user index that logout everywhere reads, all under `app1:`.
    let devices = log_in_and_use(&app1_on(alice.clone())).await;
    let keys = all_keys(&mut admin).await;
    assert!(keys.iter().any(|k| k.starts_with("app1:uapi:ns:")), "no namespace index: {keys:?}");
    assert_eq!(keys.iter().filter(|k| k.starts_with("app1:uapi:session:")).count(), 2, "{keys:?}");
    assert!(keys.iter().all(|k| k.starts_with("app1:")), "{keys:?}");
    log_out_everywhere(devices).await;
    assert_eq!(all_keys(&mut admin).await, Vec::<String>::new(), "logout everywhere left keys");

    // The control: the ACL bites, and a store without the prefix cannot log in.
    let err = redis::cmd("EXISTS").arg("uapi:session:x").query_async::<i64>(&mut alice).await.expect_err("NOPERM");
    assert_eq!(err.code(), Some("NOPERM"), "{err:?}");
    let unprefixed = TestClient::new(&app_on(alice)).expect("app builds");
    let r = unprefixed.post("/login?user_id=42").send().await;
    assert!(r.status.is_server_error(), "{} {}", r.status, r.text());
    assert_eq!(unprefixed.get("/me").send().await.status, 403);
    assert_eq!(all_keys(&mut admin).await, Vec::<String>::new());
}

/// A wrong password fails at connect with an auth error; no credentials (default user off) gets NOAUTH.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_missing_credentials_are_refused() {
    let redis = RedisServer::builder().acl_user(ALICE.0, ALICE.1).acl_user(DEFAULT_OFF.0, DEFAULT_OFF.1).start();
    let err = redis.connection_manager_for(&redis.url_as("alice", "wrong")).await.expect_err("a wrong password");
    assert_eq!(err.kind(), ErrorKind::AuthenticationFailed, "{err:?}");

    let err = connect_and_ping(redis.client()).await.expect_err("no credentials");
    assert_eq!(err.code(), Some("NOAUTH"), "{err:?}");
}

/// Through a ConnectionManager that really negotiated RESP3, the scenario passes as on RESP2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_work_over_resp3() {
    let redis = RedisServer::start();
    let mut resp2 = redis.connection_manager().await;
    let info = client_info(&mut resp2).await;
    assert!(info.contains(&"resp=2".to_owned()), "the control: {info:?}");
    let mut conn = redis.connection_manager_for(&format!("{}?protocol=resp3", redis.url())).await.expect("RESP3");
    let info = client_info(&mut conn).await;
    assert!(info.contains(&"resp=3".to_owned()), "{info:?}");
    login_session_and_logout_everywhere(&app_on(conn)).await;
}

/// TLS, an ACL user confined to `app1:` and RESP3 at once: the scenario passes and leaves no key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_work_over_tls_as_an_acl_user_on_resp3() {
    let redis = RedisServer::builder()
        .tls()
        .acl_user(ALICE.0, ALICE.1)
        .acl_user(ADMIN.0, ADMIN.1)
        .acl_user(DEFAULT_OFF.0, DEFAULT_OFF.1)
        .start();
    let url = format!("{}?protocol=resp3", redis.url_as("alice", "s3cret"));
    assert!(url.starts_with("rediss://alice:s3cret@127.0.0.1:"), "{url}");
    let mut alice = redis.connection_manager_for(&url).await.expect("alice over TLS on RESP3");
    let info = client_info(&mut alice).await;
    assert!(info.contains(&"resp=3".to_owned()) && info.contains(&"user=alice".to_owned()), "{info:?}");
    let mut admin = redis.connection_manager_for(&redis.url_as("admin", "adm1n")).await.expect("admin");

    let devices = log_in_and_use(&app1_on(alice)).await;
    let keys = all_keys(&mut admin).await;
    assert!(!keys.is_empty() && keys.iter().all(|k| k.starts_with("app1:")), "{keys:?}");
    log_out_everywhere(devices).await;
    assert_eq!(all_keys(&mut admin).await, Vec::<String>::new());
}
