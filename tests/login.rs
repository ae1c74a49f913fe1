//! Specification of login on sessions, ported from uapi's login tests and run
//! on the flagship example app (`examples/login/app.rs`, plus two test routes
//! on its `session` store: `POST /note` and `GET /note`) three times: over
//! real HTTP on a bound server with sessions in Redis (a real `redis-server`),
//! the same on a real 3-master Redis Cluster, and in-process through
//! `TestClient` with sessions in memory. Each client keeps its own cookies,
//! like a browser. Needs `redis-server` and `redis-cli` on PATH.

mod support;

#[path = "../examples/login/app.rs"]
#[allow(dead_code)] // `Store::Cookie`: the cookie sessions' login is in tests/cookie_sessions/login.rs
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
use uapi::sessions::{AsyncSession, SessionError, SessionId};
use uapi::testing::TestClient;
use uapi::{handler, App, AppService};

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

/// `POST /note?text=X` (test route): writes `note` in the login store's own
/// session (`session_id`) and saves it, so an anonymous visitor gets a session
/// the store really holds, and a replayed id meets a real write.
#[handler]
async fn write_note(session: AsyncSession, text: String) -> Result<String, SessionError> {
    session.insert("note", text.clone());
    session.update_session().await?;
    Ok(text)
}

/// `GET /note` (test route): the session's `note`, or an empty body.
#[handler]
async fn read_note(session: AsyncSession) -> String {
    session.get("note").unwrap_or_default()
}

/// The example app with the test routes on its `session` store.
fn with_test_routes(mut app: App) -> App {
    app.post("/note", write_note).get("/note", read_note);
    app
}

fn settings(max_age: Duration) -> login_app::Settings {
    login_app::Settings { max_age, insecure_cookies: true, demo_login: true, ..Default::default() }
}

impl Site {
    async fn start(backend: Backend, settings: &login_app::Settings) -> Site {
        match backend {
            Backend::RedisOverHttp => {
                let redis = RedisServer::start();
                let conn = redis.connection_manager().await;
                let app = with_test_routes(login_app::build(
                    login_app::Store::Redis {
                        conn: conn.into(),
                        key_prefix: String::new(),
                        command_timeout: Duration::from_secs(2),
                    },
                    settings,
                ));
                Site { target: Target::serve(app).await, _redis: Some(redis), _cluster: None }
            }
            Backend::RedisClusterOverHttp => {
                let cluster = RedisCluster::shared();
                let conn = cluster.connection().await;
                let prefix = unique_prefix("login");
                let app = with_test_routes(login_app::build(
                    login_app::Store::Redis {
                        conn: conn.into(),
                        key_prefix: prefix,
                        command_timeout: Duration::from_secs(2),
                    },
                    settings,
                ));
                Site { target: Target::serve(app).await, _redis: None, _cluster: Some(cluster) }
            }
            Backend::MemoryInProcess => {
                let app = with_test_routes(login_app::build(login_app::Store::Memory, settings));
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

/// Base64url (RFC 4648 §5, no padding) decoding; `None` unless every char
/// is in the alphabet and the spare low bits of the last char are zero (the
/// canonical encoding of whole bytes).
fn decode_base64url(s: &str) -> Option<Vec<u8>> {
    let (mut acc, mut bits, mut out) = (0u32, 0u32, Vec::new());
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from(acc >> bits).ok()?);
            acc &= (1 << bits) - 1;
        }
    }
    (acc == 0).then_some(out)
}

/// Base64 of `data` in `alphabet` (64 chars), no padding.
fn encode_base64(data: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// The binary forms of a user id: the u32 and the i64, big- and little-endian,
/// and its decimal text.
fn user_id_bytes(user: u32) -> Vec<Vec<u8>> {
    let wide = i64::from(user);
    vec![
        user.to_be_bytes().to_vec(),
        user.to_le_bytes().to_vec(),
        wide.to_be_bytes().to_vec(),
        wide.to_le_bytes().to_vec(),
        user.to_string().into_bytes(),
    ]
}

/// Text encodings of a user id: decimal, hex (both cases), and base64 and
/// base64url of each of its binary forms at each of the 3 alignments (only
/// the chars that the data alone decides, 5 or more of them: shorter runs
/// turn up in random ids by chance).
fn user_id_encodings(user: u32) -> Vec<String> {
    const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut encodings = vec![user.to_string(), format!("{user:x}"), format!("{user:X}")];
    for bytes in user_id_bytes(user) {
        for alphabet in [STANDARD, URL_SAFE] {
            for shift in 0..3 {
                let mut shifted = vec![0u8; shift];
                shifted.extend_from_slice(&bytes);
                let text = encode_base64(&shifted, alphabet);
                // Char i holds bits 6i..6i+6: keep those within the data's bits.
                let (first, last) = ((8 * shift).div_ceil(6), (8 * (shift + bytes.len()) - 6) / 6);
                if last + 1 >= first + 5 {
                    encodings.push(text[first..=last].to_owned());
                }
            }
        }
    }
    encodings
}

/// `old` (an id that must be dead) reads no session: anonymous, no `note`;
/// a write to the session store through it is a 200 that issues a fresh id,
/// and `old` still reads nothing after that write.
async fn assert_old_id_reads_nothing(site: &Site, label: &str, old: &str) {
    let replay = site.client();
    replay.set_cookie("session_id", old);
    assert_eq!(replay.me().await, None, "{label} id is logged in");
    assert_eq!(replay.get("/").await.body, "no user", "{label}");
    assert_eq!(replay.get("/note").await.body, "", "{label} id still reads its session");
    let r = replay.post("/note?text=revived").await;
    assert_eq!(r.status, 200, "{label}: {}", r.body);
    let set: Vec<String> = session_cookies(&r).into_iter().map(|c| c.value).collect();
    assert_eq!(set.len(), 1, "{label}: a write through a dead id issues one new cookie: {:?}", r.set_cookies);
    assert_ne!(set[0], old, "{label}: the write revived the old id");
    assert!(SessionId::parse(&set[0]).is_some(), "{label}: {:?}", set[0]);
    assert_eq!(replay.get("/note").await.body, "revived", "{label}: the fresh session holds the write");
    let again = site.client();
    again.set_cookie("session_id", old);
    assert_eq!(again.get("/note").await.body, "", "{label} id reads a session after a write through it");
    assert_eq!(again.me().await, None, "{label}");
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
        // Logging out again, anonymous, is harmless and changes no cookie.
        let r = c.post("/logout").await;
        assert_eq!(r.status, 204);
        assert!(r.set_cookies.is_empty(), "an anonymous logout set {:?}", r.set_cookies);
    }

    /// A `POST /logout` that carries no session cookie (what a cross-site form
    /// sends under SameSite=Lax) answers with no `Set-Cookie`: it cannot make
    /// the browser delete the cookie it kept off the request.
    pub(crate) async fn a_cookieless_logout_sets_no_cookie(backend: Backend) {
        let site = Site::start(backend, &settings(HOUR)).await;
        let victim = site.client();
        victim.login("42").await;
        let forged = site.client();
        let r = forged.post("/logout").await;
        assert_eq!(r.status, 204);
        assert!(r.set_cookies.is_empty(), "{:?}", r.set_cookies);
        assert_eq!(victim.me().await.as_deref(), Some("42"));
    }

    /// Login always moves the session to a new id: logging in as B over A's
    /// session changes the cookie, and A's old id is then anonymous.
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
    }

    /// Fixation: the attacker's own anonymous visit saves a session (the
    /// store holds it), its id is planted in the victim's browser, which uses
    /// that session, and the victim logs in over it. The victim's id changes;
    /// the planted id then reads no session (anonymous, none of the victim's
    /// data nor the attacker's), and replayed to `/me`, `DELETE /sessions/..`,
    /// `/logout` and a write route it cannot act as the victim.
    pub(crate) async fn a_planted_session_id_is_useless_after_the_victim_logs_in(backend: Backend) {
        let site = Site::start(backend, &settings(HOUR)).await;
        let attacker = site.client();
        assert_eq!(attacker.post("/note?text=planted-by-attacker").await.body, "planted-by-attacker");
        let planted = attacker.cookie("session_id").expect("the attacker's anonymous session");
        assert_eq!(attacker.get("/note").await.body, "planted-by-attacker", "the store holds the planted session");

        let victim = site.client();
        victim.set_cookie("session_id", &planted);
        assert_eq!(
            victim.get("/note").await.body,
            "planted-by-attacker",
            "the victim's browser uses the planted session"
        );
        let r = victim.login("3").await;
        let rotated = victim.cookie("session_id").expect("a session cookie");
        assert_ne!(rotated, planted, "login kept the planted id");
        let set: Vec<String> = session_cookies(&r).into_iter().map(|c| c.value).collect();
        assert_eq!(set, std::slice::from_ref(&rotated), "login sets exactly the new id");
        assert_eq!(victim.me().await.as_deref(), Some("3"));
        assert_eq!(victim.post("/note?text=victim-secret").await.body, "victim-secret");
        assert_eq!(victim.cookie("session_id"), Some(rotated.clone()), "a save of a live session keeps its id");

        // The planted id reads no session.
        assert_eq!(attacker.me().await, None, "the planted id is logged in as the victim");
        assert_eq!(attacker.get("/").await.body, "no user");
        assert_eq!(attacker.get("/note").await.body, "", "the planted id still reads a session");
        // Nor can it act as the victim.
        assert_eq!(attacker.delete("/sessions/4").await.status, 403, "the planted id passed as logged in");
        assert_eq!(attacker.post("/logout").await.status, 204);
        assert_eq!(victim.me().await.as_deref(), Some("3"), "a logout through the planted id logged the victim out");
        attacker.set_cookie("session_id", &planted);
        let r = attacker.post("/note?text=written-by-attacker").await;
        assert_eq!(r.status, 200, "{}", r.body);
        let fresh = attacker.cookie("session_id").expect("a session cookie");
        assert_ne!(fresh, planted, "a write through the planted id revived it");
        assert_ne!(fresh, rotated);
        assert_eq!(victim.get("/note").await.body, "victim-secret", "the attacker's write reached the victim");
        assert_eq!(victim.me().await.as_deref(), Some("3"));
        assert_old_id_reads_nothing(&site, "planted", &planted).await;
    }

    /// Every id a browser leaves behind (the anonymous id before login, the
    /// id before a re-login as another user, the id live at logout) replayed
    /// later is anonymous and reads none of its data; a write through it
    /// starts a fresh session under a new id instead of reviving the old one.
    pub(crate) async fn every_old_session_id_replayed_later_is_anonymous(backend: Backend) {
        let site = Site::start(backend, &settings(HOUR)).await;
        let c = site.client();
        assert_eq!(c.post("/note?text=anonymous").await.status, 200);
        let anonymous = c.cookie("session_id").expect("an anonymous session");
        c.login("1").await;
        let first = c.cookie("session_id").expect("cookie");
        assert_ne!(first, anonymous, "login kept the anonymous id");
        assert_eq!(c.post("/note?text=user-1").await.status, 200);
        c.login("2").await;
        let second = c.cookie("session_id").expect("cookie");
        assert_ne!(second, first, "a re-login as another user kept the id");
        assert_eq!(c.post("/note?text=user-2").await.status, 200);
        assert_eq!(c.post("/logout").await.status, 204);
        assert_eq!(c.cookie("session_id"), None);
        let later = site.client();
        later.login("5").await;
        assert_eq!(later.post("/note?text=user-5").await.status, 200);
        for (label, old) in [("pre-login", &anonymous), ("before re-login", &first), ("at logout", &second)] {
            let replay = site.client();
            replay.set_cookie("session_id", old);
            assert_eq!(replay.me().await, None, "{label} id is logged in");
            assert_eq!(replay.post("/logout").await.status, 204, "{label}");
            assert_old_id_reads_nothing(&site, label, old).await;
        }
        assert_eq!(later.me().await.as_deref(), Some("5"), "a replayed id ended another session");
        assert_eq!(later.get("/note").await.body, "user-5");
    }

    /// A copy of the cookie taken before logout is anonymous after it, and a
    /// write through the copy does not revive it.
    pub(crate) async fn a_cookie_replayed_after_logout_is_anonymous(backend: Backend) {
        let site = Site::start(backend, &settings(HOUR)).await;
        let c = site.client();
        c.login("5").await;
        assert_eq!(c.post("/note?text=before-logout").await.status, 200);
        let stolen = c.cookie("session_id").expect("cookie");
        let thief = site.client();
        thief.set_cookie("session_id", &stolen);
        assert_eq!(thief.me().await.as_deref(), Some("5"), "the copy works while logged in");
        assert_eq!(c.post("/logout").await.status, 204);
        assert_eq!(thief.me().await, None);
        assert_eq!(thief.get("/").await.body, "no user");
        assert_old_id_reads_nothing(&site, "logged out", &stolen).await;
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

    /// The session cookie is the random id and nothing else: exactly 43
    /// chars of `[A-Za-z0-9_-]` that base64url-decode to 32 bytes; two
    /// logins of the same user get unrelated values; and neither the cookie
    /// nor its bytes hold the user id in decimal, hex, base64 or binary.
    pub(crate) async fn the_cookie_reveals_no_user_id(backend: Backend) {
        let site = Site::start(backend, &settings(HOUR)).await;
        let user: u32 = 918_273_645;
        let (a, b) = (site.client(), site.client());
        a.login(&user.to_string()).await;
        b.login(&user.to_string()).await;
        let (ca, cb) = (a.cookie("session_id").expect("cookie"), b.cookie("session_id").expect("cookie"));
        let mut raws = Vec::new();
        for c in [&ca, &cb] {
            assert_eq!(c.len(), 43, "{c}");
            assert!(c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{c}");
            let raw = decode_base64url(c).unwrap_or_else(|| panic!("{c} is not canonical base64url"));
            assert_eq!(raw.len(), 32, "{c}");
            for encoding in user_id_encodings(user) {
                assert!(!c.contains(&encoding), "{c} contains {encoding:?}, an encoding of user id {user}");
            }
            for bytes in user_id_bytes(user) {
                assert!(
                    !raw.windows(bytes.len()).any(|w| w == bytes),
                    "{c} holds the bytes {bytes:02x?} of user id {user}"
                );
            }
            raws.push(raw);
        }
        // Unrelated: 256 random bits differ in 128 ± 8 of them (±8 sd here),
        // and share no telling prefix.
        let distance: u32 = raws[0].iter().zip(&raws[1]).map(|(x, y)| (x ^ y).count_ones()).sum();
        assert!((64..=192).contains(&distance), "{ca} and {cb} differ in {distance} of 256 bits");
        let common = ca.bytes().zip(cb.bytes()).take_while(|(x, y)| x == y).count();
        assert!(common < 6, "{ca} and {cb} share a {common}-char prefix");
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
    a_cookieless_logout_sets_no_cookie,
    login_rotates_the_session_id,
    a_planted_session_id_is_useless_after_the_victim_logs_in,
    every_old_session_id_replayed_later_is_anonymous,
    a_cookie_replayed_after_logout_is_anonymous,
    an_admin_logs_another_user_out,
    logout_everywhere_ends_every_session_of_that_user_only,
    a_login_expires_after_max_age,
    a_bad_user_id_is_a_400,
    the_cookie_reveals_no_user_id,
    the_cart_is_independent_of_login,
    malformed_session_cookies_are_anonymous,
);
