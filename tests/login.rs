//! Specification of login on sessions, ported from uapi's login tests and run
//! on the flagship example app (`examples/login/app.rs`) three times: over
//! real HTTP on a bound server with sessions in Redis (a real `redis-server`),
//! the same on a real 3-master Redis Cluster, and in-process through
//! `TestClient` with sessions in memory. Each client keeps its own cookies,
//! like a browser. Needs `redis-server` and `redis-cli` on PATH.

mod support;

#[path = "../examples/login/app.rs"]
mod login_app;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use support::redis_cluster::{unique_prefix, RedisCluster};
use support::redis_server::RedisServer;
use tokio::sync::oneshot;
use uapi::sessions::SessionId;
use uapi::testing::TestClient;
use uapi::AppService;

/// The upper bound on anything a test waits for; never reached when things work.
const PATIENCE: Duration = Duration::from_secs(10);

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// Which backend and transport a scenario runs on.
#[derive(Debug, Clone, Copy)]
enum Backend {
    /// A bound server driven over TCP, sessions and carts in Redis.
    RedisOverHttp,
    /// The same on a real 3-master Redis Cluster (shared by this binary; each
    /// site has its own key prefixes).
    RedisClusterOverHttp,
    /// `TestClient`, sessions and carts in `MemoryStore`s.
    MemoryInProcess,
}

/// The running example app.
struct Site {
    target: Target,
    _redis: Option<RedisServer>,
    _cluster: Option<Arc<RedisCluster>>,
}

enum Target {
    Http {
        addr: SocketAddr,
        http: Box<HttpClient>,
        /// Dropping it stops the server.
        _stop: oneshot::Sender<()>,
    },
    InProcess(AppService),
}

impl Target {
    /// Binds `app` on a free loopback port and serves it until dropped.
    async fn serve(app: uapi::App) -> Target {
        let server = app.bind("127.0.0.1:0").await.expect("binds");
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(server.run_until(async move {
            let _ = stopped.await;
        }));
        let http = Client::builder(TokioExecutor::new()).build_http().into();
        Target::Http { addr, http, _stop: stop }
    }
}

fn settings(max_age: Duration) -> login_app::Settings {
    login_app::Settings { max_age, insecure_cookies: true }
}

impl Site {
    async fn start(backend: Backend, settings: &login_app::Settings) -> Site {
        match backend {
            Backend::RedisOverHttp => {
                let redis = RedisServer::start();
                let conn = redis.connection_manager().await;
                let app = login_app::build(
                    login_app::Store::Redis {
                        conn: conn.into(),
                        key_prefix: String::new(),
                        command_timeout: Duration::from_secs(2),
                    },
                    settings,
                );
                Site { target: Target::serve(app).await, _redis: Some(redis), _cluster: None }
            }
            Backend::RedisClusterOverHttp => {
                let cluster = RedisCluster::shared();
                let conn = cluster.connection().await;
                let prefix = unique_prefix("login");
                let app = login_app::build(
                    login_app::Store::Redis {
                        conn: conn.into(),
                        key_prefix: prefix,
                        command_timeout: Duration::from_secs(2),
                    },
                    settings,
                );
                Site { target: Target::serve(app).await, _redis: None, _cluster: Some(cluster) }
            }
            Backend::MemoryInProcess => {
                let app = login_app::build(login_app::Store::Memory, settings);
                Site { target: Target::InProcess(app.build().expect("builds")), _redis: None, _cluster: None }
            }
        }
    }

    /// A new browser: its own cookie jar.
    fn client(&self) -> Browser {
        match &self.target {
            Target::Http { addr, http, .. } => Browser::Http { addr: *addr, http: http.clone(), jar: Arc::default() },
            Target::InProcess(service) => Browser::InProcess(TestClient::from_service(service.clone())),
        }
    }
}

/// One browser: over HTTP with a tiny cookie jar, or a `TestClient`.
enum Browser {
    Http { addr: SocketAddr, http: Box<HttpClient>, jar: Arc<Mutex<Vec<(String, String)>>> },
    InProcess(TestClient),
}

/// What came back.
#[derive(Debug)]
struct Reply {
    status: u16,
    body: String,
    set_cookies: Vec<String>,
}

impl Browser {
    async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    async fn post(&self, path: &str) -> Reply {
        self.send(Method::POST, path, None).await
    }

    async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }

    /// Sends a request with the jar's cookies, or with `raw` as the whole
    /// `Cookie` header instead; stores the cookies the response sets.
    async fn send(&self, method: Method, path: &str, raw: Option<HeaderValue>) -> Reply {
        match self {
            Browser::Http { addr, http, jar } => {
                let cookies = raw.or_else(|| {
                    let jar = jar.lock().unwrap_or_else(PoisonError::into_inner);
                    let joined: Vec<String> = jar.iter().map(|(n, v)| format!("{n}={v}")).collect();
                    (!joined.is_empty()).then(|| HeaderValue::from_str(&joined.join("; ")).expect("jar cookies"))
                });
                let mut request = Request::builder().method(method).uri(format!("http://{addr}{path}"));
                if let Some(c) = cookies {
                    request = request.header(COOKIE, c);
                }
                let request = request.body(Full::default()).expect("a request");
                let response = tokio::time::timeout(PATIENCE, http.request(request))
                    .await
                    .expect("a response in time")
                    .expect("a response");
                let (parts, body) = response.into_parts();
                let body = body.collect().await.expect("a body").to_bytes();
                let set_cookies: Vec<String> = parts
                    .headers
                    .get_all(SET_COOKIE)
                    .iter()
                    .map(|v| v.to_str().expect("ASCII Set-Cookie").to_owned())
                    .collect();
                for header in &set_cookies {
                    store_cookie(jar, header);
                }
                Reply { status: parts.status.as_u16(), body: String::from_utf8_lossy(&body).into_owned(), set_cookies }
            }
            Browser::InProcess(client) => {
                let mut request = client.request(method, path);
                if let Some(raw) = raw {
                    request = request.header("cookie", raw.to_str().expect("TestClient takes ASCII cookies"));
                }
                let r = request.send().await;
                Reply { status: r.status.as_u16(), body: r.text(), set_cookies: r.set_cookies() }
            }
        }
    }

    fn cookie(&self, name: &str) -> Option<String> {
        match self {
            Browser::Http { jar, .. } => {
                let jar = jar.lock().unwrap_or_else(PoisonError::into_inner);
                jar.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
            }
            Browser::InProcess(client) => client.cookie(name),
        }
    }

    /// Puts a cookie in the jar, e.g. to replay a stolen one.
    fn set_cookie(&self, name: &str, value: &str) {
        match self {
            Browser::Http { jar, .. } => {
                let mut jar = jar.lock().unwrap_or_else(PoisonError::into_inner);
                jar.retain(|(n, _)| n != name);
                jar.push((name.to_owned(), value.to_owned()));
            }
            Browser::InProcess(client) => client.set_cookie(name, value),
        }
    }

    /// `GET /me`: `Some(id)` when logged in, `None` on the 403.
    async fn me(&self) -> Option<String> {
        let r = self.get("/me").await;
        match r.status {
            200 => Some(r.body),
            403 => None,
            other => panic!("GET /me: unexpected {other}: {}", r.body),
        }
    }

    /// `POST /login?user_id=..`, expecting a 201.
    async fn login(&self, user_id: &str) -> Reply {
        let r = self.post(&format!("/login?user_id={user_id}")).await;
        assert_eq!(r.status, 201, "login as {user_id}: {}", r.body);
        r
    }
}

/// The jar's reaction to one `Set-Cookie`: store it, or drop it when expired.
fn store_cookie(jar: &Mutex<Vec<(String, String)>>, header: &str) {
    let cookie = SetCookie::parse(header);
    let mut jar = jar.lock().unwrap_or_else(PoisonError::into_inner);
    jar.retain(|(n, _)| *n != cookie.name);
    if cookie.max_age().is_none_or(|age| age > 0) {
        jar.push((cookie.name, cookie.value));
    }
}

use support::set_cookie::SetCookie;

/// The `session_id` cookies a reply sets.
fn session_cookies(r: &Reply) -> Vec<SetCookie> {
    r.set_cookies.iter().map(|h| SetCookie::parse(h)).filter(|c| c.name == "session_id").collect()
}

/// The scenarios, each on a fresh app.
mod scenarios {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    /// Anonymous: `/me` is 403 and `/` says so; login is a 201 with the
    /// session cookie; then `/me` and `/` give the id; logout is a 204 with an
    /// empty body and an expired cookie; then `/me` is 403 again.
    pub(crate) async fn login_and_logout_workflow(backend: Backend) {
        let site = Site::start(backend, &settings(HOUR)).await;
        let c = site.client();
        assert_eq!(c.me().await, None);
        assert_eq!(c.get("/").await.body, "no user");

        let r = c.login("42").await;
        let cookies = session_cookies(&r);
        assert_eq!(cookies.len(), 1, "{:?}", r.set_cookies);
        let cookie = &cookies[0];
        assert_eq!(cookie.attr("httponly"), Some(None), "{cookie:?}");
        assert_eq!(cookie.attr("samesite"), Some(Some("Lax")), "{cookie:?}");
        assert_eq!(cookie.attr("path"), Some(Some("/")), "{cookie:?}");
        assert_eq!(cookie.attr("secure"), None, "insecure_cookies was set: {cookie:?}");
        assert_eq!(cookie.max_age(), Some(3600), "{cookie:?}");
        assert_eq!(c.me().await.as_deref(), Some("42"));
        assert_eq!(c.get("/").await.body, "42");
        // Logging in again as the same user changes nothing.
        let r = c.login("42").await;
        assert!(r.set_cookies.is_empty(), "{:?}", r.set_cookies);

        let r = c.post("/logout").await;
        assert_eq!(r.status, 204);
        assert_eq!(r.body, "");
        let cookies = session_cookies(&r);
        assert_eq!(cookies.len(), 1, "{:?}", r.set_cookies);
        assert_eq!((cookies[0].value.as_str(), cookies[0].max_age()), ("", Some(0)));
        assert_eq!(c.cookie("session_id"), None);
        assert_eq!(c.me().await, None);
        assert_eq!(c.get("/").await.body, "no user");
        // Logging out again, anonymous, is harmless.
        assert_eq!(c.post("/logout").await.status, 204);
    }

    /// Login always moves the session to a new id: logging in as B over A's
    /// session changes the cookie and A's old id is then anonymous; an id
    /// planted in the browser before login is never the one logged in.
    pub(crate) async fn login_rotates_the_session_id(backend: Backend) {
        let site = Site::start(backend, &settings(HOUR)).await;
        let c = site.client();
        c.login("1").await;
        let first = c.cookie("session_id").expect("cookie");
        c.login("2").await;
        let second = c.cookie("session_id").expect("cookie");
        assert_ne!(first, second, "login kept the pre-login id");
        assert_eq!(c.me().await.as_deref(), Some("2"));
        let replay = site.client();
        replay.set_cookie("session_id", &first);
        assert_eq!(replay.me().await, None, "the pre-login id still works");
        assert_eq!(replay.get("/").await.body, "no user");

        // Fixation: an attacker plants an id in the victim's browser.
        let planted = SessionId::generate().expect("rng").to_string();
        let victim = site.client();
        victim.set_cookie("session_id", &planted);
        victim.login("3").await;
        assert_ne!(victim.cookie("session_id"), Some(planted.clone()));
        assert_eq!(victim.me().await.as_deref(), Some("3"));
        let attacker = site.client();
        attacker.set_cookie("session_id", &planted);
        assert_eq!(attacker.me().await, None);
    }

    /// A copy of the cookie taken before logout is anonymous after it.
    pub(crate) async fn a_cookie_replayed_after_logout_is_anonymous(backend: Backend) {
        let site = Site::start(backend, &settings(HOUR)).await;
        let c = site.client();
        c.login("5").await;
        let stolen = c.cookie("session_id").expect("cookie");
        let thief = site.client();
        thief.set_cookie("session_id", &stolen);
        assert_eq!(thief.me().await.as_deref(), Some("5"), "the copy works while logged in");
        assert_eq!(c.post("/logout").await.status, 204);
        assert_eq!(thief.me().await, None);
        assert_eq!(thief.get("/").await.body, "no user");
        // Nor can the copy be revived by using it.
        assert_eq!(thief.post("/cart?item=x").await.status, 200);
        assert_eq!(thief.me().await, None);
    }

    /// `DELETE /sessions/{id}` needs a logged-in caller (403 before), then
    /// answers `OK` and the user's browser is anonymous.
    pub(crate) async fn an_admin_logs_another_user_out(backend: Backend) {
        let site = Site::start(backend, &settings(HOUR)).await;
        let (user, admin) = (site.client(), site.client());
        user.login("10").await;
        let r = admin.delete("/sessions/10").await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert_eq!(user.me().await.as_deref(), Some("10"), "an anonymous request logged a user out");

        admin.login("1").await;
        let r = admin.delete("/sessions/10").await;
        assert_eq!((r.status, r.body.as_str()), (200, "OK"));
        assert_eq!(user.me().await, None);
        assert_eq!(admin.me().await.as_deref(), Some("1"));
    }

    /// Logging a user out everywhere ends that user's sessions in all three
    /// browsers, and only that user's.
    pub(crate) async fn logout_everywhere_ends_every_session_of_that_user_only(backend: Backend) {
        let site = Site::start(backend, &settings(HOUR)).await;
        let devices = [site.client(), site.client(), site.client()];
        for d in &devices {
            d.login("7").await;
        }
        let ids: std::collections::HashSet<_> = devices.iter().map(|d| d.cookie("session_id")).collect();
        assert_eq!(ids.len(), 3, "each device has its own session");
        let other = site.client();
        other.login("8").await;
        let r = other.delete("/sessions/7").await;
        assert_eq!((r.status, r.body.as_str()), (200, "OK"));
        for d in &devices {
            assert_eq!(d.me().await, None);
        }
        assert_eq!(other.me().await.as_deref(), Some("8"));
        // The user can log in again afterwards.
        devices[0].login("7").await;
        assert_eq!(devices[0].me().await.as_deref(), Some("7"));
        assert_eq!(devices[1].me().await, None);
    }

    /// With `max_age` 1 s a login lasts about a second, then `/me` is 403.
    pub(crate) async fn a_login_expires_after_max_age(backend: Backend) {
        let site = Site::start(backend, &settings(Duration::from_secs(1))).await;
        let c = site.client();
        let start = Instant::now();
        let r = c.login("3").await;
        assert_eq!(session_cookies(&r)[0].max_age(), Some(1));
        let deadline = start + PATIENCE;
        // The client keeps sending the cookie (a browser would drop it after
        // Max-Age), so it is the server that must end the session.
        while c.me().await.is_some() {
            assert!(Instant::now() < deadline, "the login outlived its max_age");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(start.elapsed() >= Duration::from_millis(900), "expired early: {:?}", start.elapsed());
        assert!(c.cookie("session_id").is_some(), "the test meant to replay the cookie");
        assert_eq!(c.get("/").await.body, "no user");
    }

    /// A `user_id` that is not an `i64` is the client's mistake: 400, never
    /// 500, and no session is created.
    pub(crate) async fn a_bad_user_id_is_a_400(backend: Backend) {
        let site = Site::start(backend, &settings(HOUR)).await;
        let c = site.client();
        for bad in ["abc", "", "99999999999999999999999", "1.5", "%00", "-", "1%0d%0a"] {
            let r = c.post(&format!("/login?user_id={bad}")).await;
            assert_eq!(r.status, 400, "user_id={bad:?}: {}", r.body);
            assert!(r.set_cookies.is_empty(), "user_id={bad:?}: {:?}", r.set_cookies);
        }
        let r = c.post("/login").await;
        assert_eq!(r.status, 400, "missing user_id: {}", r.body);
        c.login("4").await;
        for bad in ["abc", "99999999999999999999999"] {
            let r = c.delete(&format!("/sessions/{bad}")).await;
            assert_eq!(r.status, 400, "/sessions/{bad}: {}", r.body);
        }
        assert_eq!(c.me().await.as_deref(), Some("4"));
    }

    /// The session cookie is an opaque 43-char base64url id: it does not
    /// contain the user id, and two logins of one user get unrelated ids.
    pub(crate) async fn the_cookie_reveals_no_user_id(backend: Backend) {
        let site = Site::start(backend, &settings(HOUR)).await;
        let user = "918273645";
        let (a, b) = (site.client(), site.client());
        a.login(user).await;
        b.login(user).await;
        let (ca, cb) = (a.cookie("session_id").expect("cookie"), b.cookie("session_id").expect("cookie"));
        for c in [&ca, &cb] {
            assert_eq!(c.len(), 43, "{c}");
            assert!(c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{c}");
            assert!(!c.contains(user), "{c}");
        }
        assert_ne!(ca, cb);
    }

    /// The cart (`cart_session`) is its own session: it works anonymously,
    /// survives login, logout and logout everywhere, under an unchanged cookie.
    pub(crate) async fn the_cart_is_independent_of_login(backend: Backend) {
        let site = Site::start(backend, &settings(HOUR)).await;
        let c = site.client();
        assert_eq!(c.post("/cart?item=apple").await.body, "apple");
        let cart = c.cookie("cart_session").expect("a cart cookie");
        assert_eq!(c.cookie("session_id"), None, "the cart made a login session");
        assert_eq!(c.me().await, None);

        c.login("9").await;
        assert_eq!(c.get("/cart").await.body, "apple");
        assert_eq!(c.post("/cart?item=pear").await.body, "apple,pear");
        let r = c.post("/logout").await;
        assert!(r.set_cookies.iter().all(|h| !h.starts_with("cart_session=")), "{:?}", r.set_cookies);
        assert_eq!(c.get("/cart").await.body, "apple,pear");

        c.login("9").await;
        let admin = site.client();
        admin.login("1").await;
        assert_eq!(admin.delete("/sessions/9").await.status, 200);
        assert_eq!(c.me().await, None);
        assert_eq!(c.get("/cart").await.body, "apple,pear");
        assert_eq!(c.cookie("cart_session"), Some(cart));
        // Another browser has its own, empty cart.
        assert_eq!(site.client().get("/cart").await.body, "");
    }

    /// Session cookies that are not a live id are simply anonymous: 200 on
    /// `/`, 403 on `/me`, and login still works.
    pub(crate) async fn malformed_session_cookies_are_anonymous(backend: Backend) {
        let site = Site::start(backend, &settings(HOUR)).await;
        let owner = site.client();
        owner.login("11").await;
        let real = owner.cookie("session_id").expect("cookie");
        let huge = "A".repeat(4000);
        let mut bad = vec![
            "session_id=".to_owned(),
            "session_id".to_owned(),
            format!("session_id={huge}"),
            "session_id=%C3%A9%FF".to_owned(),
            "session_id=*".to_owned(),
            "session_id=uapi:session:*".to_owned(),
            "session_id=%0d%0aFLUSHALL".to_owned(),
            format!("session_id={}", SessionId::generate().expect("rng")),
            format!("session_id={real}%0d%0a"),
        ];
        if matches!(backend, Backend::RedisOverHttp | Backend::RedisClusterOverHttp) {
            // Raw non-ASCII bytes only exist on the wire.
            bad.push(String::from_utf8_lossy(b"session_id=\xc3\xa9").into_owned());
        }
        for raw in &bad {
            let label = &raw[..raw.len().min(40)];
            let c = site.client();
            let value = HeaderValue::from_bytes(raw.as_bytes()).expect("header bytes");
            let r = c.send(Method::GET, "/", Some(value.clone())).await;
            assert_eq!((r.status, r.body.as_str()), (200, "no user"), "{label}");
            let r = c.send(Method::GET, "/me", Some(value.clone())).await;
            assert_eq!(r.status, 403, "{label}: {}", r.body);
            let r = c.send(Method::POST, "/login?user_id=12", Some(value)).await;
            assert_eq!(r.status, 201, "{label}: {}", r.body);
            let fresh = c.cookie("session_id").expect("a new cookie");
            assert!(fresh != real && !raw.contains(&fresh), "{label}");
            assert_eq!(c.me().await.as_deref(), Some("12"), "{label}");
        }
        assert_eq!(owner.me().await.as_deref(), Some("11"));
    }
}

/// Instantiates every scenario as a `#[tokio::test]` for one backend.
macro_rules! suite {
    ($module:ident, $backend:ident; $($name:ident),* $(,)?) => {
        mod $module {
            $(
                #[doc = concat!("`", stringify!($name), "`, on this backend.")]
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::scenarios::$name(super::Backend::$backend).await;
                }
            )*
        }
    };
}

macro_rules! all_backends {
    ($($name:ident),* $(,)?) => {
        suite!(redis_over_http, RedisOverHttp; $($name),*);
        suite!(redis_cluster_over_http, RedisClusterOverHttp; $($name),*);
        suite!(memory_in_process, MemoryInProcess; $($name),*);
    };
}

all_backends!(
    login_and_logout_workflow,
    login_rotates_the_session_id,
    a_cookie_replayed_after_logout_is_anonymous,
    an_admin_logs_another_user_out,
    logout_everywhere_ends_every_session_of_that_user_only,
    a_login_expires_after_max_age,
    a_bad_user_id_is_a_400,
    the_cookie_reveals_no_user_id,
    the_cart_is_independent_of_login,
    malformed_session_cookies_are_anonymous,
);
