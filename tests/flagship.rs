//! The flagship example (`examples/login`) as users run it: the binary, in a
//! process of its own, with its command-line flags. Its default cookies
//! (`Secure; HttpOnly; SameSite=Lax; Path=/; Max-Age=1209600`), each flag
//! (`--bind`, `--redis`, `REDIS_URL`, `--redis-cluster`, `--key-prefix`,
//! `--redis-timeout-ms`, `--max-age`, `--insecure-cookies`, `--login-failures`,
//! `--login-window`, `--trust-proxy`, `--demo-login`, `--cookie-sessions` with
//! `UAPI_COOKIE_KEY`), the password flow
//! (`POST /users`, `POST /login` as JSON and as a form, 401s that say the same
//! for an unknown name and a wrong password, the throttle's 429), a wrong Redis
//! password, `--help`, and Ctrl-C. Readiness is its own log line `listening
//! on http://…`. Needs `redis-server` and `redis-cli` on PATH.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support::redis_cluster::{unique_prefix, RedisCluster};
use support::redis_server::RedisServer;
use support::spawned::{example, Spawned, PATIENCE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;

/// The documented default session lifetime, in seconds (14 days).
const DEFAULT_MAX_AGE: u64 = 1_209_600;

/// The example with `args`, and `REDIS_URL` as given (never inherited, nor
/// are the cookie keys).
fn command(args: &[&str], redis_url: Option<&str>) -> Command {
    let mut command = Command::new(example("login"));
    command.args(args).env("RUST_LOG", "info").env_remove("REDIS_URL");
    command.env_remove("UAPI_COOKIE_KEY").env_remove("UAPI_COOKIE_OLD_KEYS");
    if let Some(url) = redis_url {
        command.env("REDIS_URL", url);
    }
    command
}

/// Starts the example with `--demo-login` (`POST /login?user_id=N`), on a
/// free port (unless `args` bind one), and waits for its `listening on
/// http://…` line.
async fn start(args: &[&str], redis_url: Option<&str>) -> (Spawned, SocketAddr) {
    let mut all = args.to_vec();
    all.push("--demo-login");
    start_as_given(&all, redis_url).await
}

/// [`start`] without `--demo-login`: passwords only, as by default.
async fn start_as_given(args: &[&str], redis_url: Option<&str>) -> (Spawned, SocketAddr) {
    let mut all = args.to_vec();
    if !args.contains(&"--bind") {
        all.extend(["--bind", "127.0.0.1:0"]);
    }
    let mut app = Spawned::start(command(&all, redis_url));
    let addr = app.addr_after("listening on http://").await;
    (app, addr)
}

/// One response: status, `Set-Cookie` headers, body.
#[derive(Debug)]
struct Reply {
    status: u16,
    set_cookies: Vec<String>,
    body: String,
}

impl Reply {
    /// The `Set-Cookie` of cookie `name`.
    fn set_cookie(&self, name: &str) -> &str {
        let prefix = format!("{name}=");
        let found = self.set_cookies.iter().find(|c| c.starts_with(&prefix));
        found.unwrap_or_else(|| panic!("no Set-Cookie for {name}: {self:?}"))
    }

    /// The value of cookie `name` as set.
    fn cookie(&self, name: &str) -> String {
        let set = self.set_cookie(name);
        set[name.len() + 1..].split(';').next().unwrap_or_default().to_owned()
    }
}

/// The attributes of a `Set-Cookie` after its `name=value`.
fn attributes(set_cookie: &str) -> BTreeSet<&str> {
    set_cookie.split(';').skip(1).map(str::trim).collect()
}

/// `method path` over a fresh connection, with `cookie` as the `Cookie`
/// header (the example's cookies are `Secure`: a client sends them back only
/// over HTTPS, so the test sends them by hand).
async fn request(addr: SocketAddr, method: &str, path: &str, cookie: Option<&str>) -> Reply {
    send(addr, method, path, cookie, None).await
}

/// `POST path` with `body` of media type `content_type`.
async fn post(addr: SocketAddr, path: &str, content_type: &str, body: &str) -> Reply {
    send(addr, "POST", path, None, Some((content_type, body))).await
}

/// [`request`] with a body.
async fn send(addr: SocketAddr, method: &str, path: &str, cookie: Option<&str>, body: Option<(&str, &str)>) -> Reply {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    let cookie = cookie.map(|c| format!("Cookie: {c}\r\n")).unwrap_or_default();
    let (content_type, body) = match body {
        Some((media, body)) => (format!("Content-Type: {media}\r\n"), body),
        None => (String::new(), ""),
    };
    let length = body.len();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\n{cookie}{content_type}Content-Length: {length}\r\nConnection: close\r\n\r\n{body}"
    );
    stream.write_all(head.as_bytes()).await.expect("writes");
    let mut raw = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut raw)).await.expect("answered in time").expect("reads");
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status in {raw:?}"));
    let set_cookies = head
        .lines()
        .filter_map(|l| l.split_once(": ").filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie")))
        .map(|(_, value)| value.to_owned())
        .collect();
    Reply { status, set_cookies, body: body.to_owned() }
}

/// Logs in as `user`; the `session_id` cookie's `Set-Cookie` and value.
async fn login(addr: SocketAddr, user: u32) -> (String, String) {
    let reply = request(addr, "POST", &format!("/login?user_id={user}"), None).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    (reply.set_cookie("session_id").to_owned(), reply.cookie("session_id"))
}

/// Logs in and checks the session is server-side: `/me` with the cookie is
/// the user, without it a 403.
async fn login_and_check(addr: SocketAddr, user: u32) -> (String, String) {
    let (set_cookie, id) = login(addr, user).await;
    let me = request(addr, "GET", "/me", Some(&format!("session_id={id}"))).await;
    assert_eq!((me.status, me.body.as_str()), (200, user.to_string().as_str()), "{me:?}");
    assert_eq!(request(addr, "GET", "/me", None).await.status, 403);
    (set_cookie, id)
}

/// Every key in `redis`.
fn keys(redis: &RedisServer) -> Vec<String> {
    let mut con = redis.client().get_connection().expect("connection");
    redis::cmd("KEYS").arg("*").query(&mut con).expect("KEYS")
}

/// The remaining lifetime of `key`, in seconds.
fn ttl(redis: &RedisServer, key: &str) -> i64 {
    let mut con = redis.client().get_connection().expect("connection");
    redis::cmd("TTL").arg(key).query(&mut con).expect("TTL")
}

/// Startup lines come before `listening on`, on the same stream: once that
/// was read, they are in.
#[track_caller]
fn assert_printed(app: &Spawned, needle: &str) {
    assert!(app.output().contains(needle), "no {needle:?} in:\n{}", app.output());
}

/// With no flag (sessions in memory), the session cookie is `Secure`,
/// `HttpOnly`, `SameSite=Lax`, `Path=/` and lives 14 days, and nothing else.
#[tokio::test]
async fn by_default_the_cookie_is_secure_httponly_lax_for_14_days() {
    let (app, addr) = start(&[], None).await;
    assert_printed(&app, "sessions are kept in memory");
    let (set_cookie, _) = login_and_check(addr, 7).await;
    let expected = BTreeSet::from(["Secure", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=1209600"]);
    assert_eq!(attributes(&set_cookie), expected, "{set_cookie}");
}

/// `--bind` serves on the address given.
#[tokio::test]
async fn bind_serves_on_the_address_given() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let wanted = probe.local_addr().expect("an address");
    drop(probe);
    let (_app, addr) = start(&["--bind", &wanted.to_string()], None).await;
    assert_eq!(addr, wanted);
    let reply = request(wanted, "GET", "/", None).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "no user"));
}

/// `--redis URL` keeps the sessions in that Redis, under the default layout
/// (`uapi:session:<id>`, `uapi:ns:<user>`), with the default 14-day TTL.
#[tokio::test]
async fn redis_flag_keeps_sessions_in_that_redis() {
    let redis = RedisServer::start();
    let (app, addr) = start(&["--redis", &redis.url()], None).await;
    assert_printed(&app, "sessions in Redis");
    let (set_cookie, id) = login_and_check(addr, 8).await;
    assert!(attributes(&set_cookie).contains("Max-Age=1209600"), "{set_cookie}");
    let session_key = format!("uapi:session:{id}");
    assert!(keys(&redis).contains(&session_key), "{:?}", keys(&redis));
    let ttl = ttl(&redis, &session_key);
    assert!(ttl <= DEFAULT_MAX_AGE as i64 && ttl > DEFAULT_MAX_AGE as i64 - 60, "TTL {ttl}");
}

/// `REDIS_URL` in the environment does what `--redis` does.
#[tokio::test]
async fn redis_url_in_the_environment_keeps_sessions_in_that_redis() {
    let redis = RedisServer::start();
    let (app, addr) = start(&[], Some(&redis.url())).await;
    assert_printed(&app, "sessions in Redis");
    let (_, id) = login_and_check(addr, 9).await;
    assert!(keys(&redis).contains(&format!("uapi:session:{id}")), "{:?}", keys(&redis));
}

/// `--redis-cluster` (some of the nodes, comma-separated) keeps the sessions
/// in that cluster, which the client discovers whole.
#[tokio::test]
async fn redis_cluster_flag_keeps_sessions_in_that_cluster() {
    let cluster = RedisCluster::shared();
    let prefix = unique_prefix("flagship");
    let urls = cluster.urls()[..2].join(",");
    let (app, addr) = start(&["--redis-cluster", &urls, "--key-prefix", &prefix], None).await;
    assert_printed(&app, "sessions in Redis Cluster");
    let mut ids = Vec::new();
    for user in 0..8 {
        ids.push(login_and_check(addr, 100 + user).await.1);
    }
    // The sessions are spread over the masters, the third one included.
    let mut nodes = BTreeSet::new();
    for id in &ids {
        let key = format!("{prefix}uapi:session:{id}");
        let node = cluster.node_of(&key);
        let mut con = cluster.node_client(node).get_connection().expect("connection");
        let exists: bool = redis::cmd("EXISTS").arg(&key).query(&mut con).expect("EXISTS");
        assert!(exists, "{key} is not on node {node}");
        nodes.insert(node);
    }
    assert!(nodes.len() > 1, "8 sessions all on node {nodes:?}");
}

/// `--key-prefix` puts every key the app writes under that prefix (the
/// login session, the user's index and the cart).
#[tokio::test]
async fn key_prefix_puts_every_key_under_it() {
    let redis = RedisServer::start();
    let (_app, addr) = start(&["--redis", &redis.url(), "--key-prefix", "app1:"], None).await;
    let (_, id) = login_and_check(addr, 10).await;
    let cart = request(addr, "POST", "/cart?item=tea", None).await;
    assert_eq!((cart.status, cart.body.as_str()), (200, "tea"), "{cart:?}");
    let keys = keys(&redis);
    assert!(keys.contains(&format!("app1:uapi:session:{id}")), "{keys:?}");
    assert!(keys.iter().any(|k| k.starts_with("app1:cart_session:")), "no cart key: {keys:?}");
    assert!(keys.len() >= 3 && keys.iter().all(|k| k.starts_with("app1:")), "{keys:?}");
}

/// `--redis-timeout-ms` bounds each Redis command: with Redis stalled, a
/// request that needs the session store is a 503 after about that long
/// (the default would be 2 s).
#[tokio::test]
async fn redis_timeout_ms_bounds_each_redis_command() {
    let redis = RedisServer::start();
    let (_app, addr) = start(&["--redis", &redis.url(), "--redis-timeout-ms", "300"], None).await;
    let (_, id) = login_and_check(addr, 11).await;
    let mut admin = redis.client().get_connection().expect("admin connection");
    let _: () = redis::cmd("CLIENT").arg("PAUSE").arg(10_000).arg("ALL").query(&mut admin).expect("CLIENT PAUSE");
    let started = Instant::now();
    let reply = request(addr, "GET", "/me", Some(&format!("session_id={id}"))).await;
    let took = started.elapsed();
    assert_eq!(reply.status, 503, "{reply:?}");
    // The lower bound is the flag; the upper one, well under the default 2 s,
    // leaves a loaded machine a second of slack.
    assert!(took >= Duration::from_millis(300) && took < Duration::from_millis(1300), "a 503 after {took:?}");
}

/// `--max-age` sets the cookie's `Max-Age` and the sessions' Redis TTL.
#[tokio::test]
async fn max_age_sets_the_cookie_max_age_and_the_redis_ttl() {
    let redis = RedisServer::start();
    let (_app, addr) = start(&["--redis", &redis.url(), "--max-age", "120"], None).await;
    let (set_cookie, id) = login_and_check(addr, 12).await;
    assert!(attributes(&set_cookie).contains("Max-Age=120"), "{set_cookie}");
    let ttl = ttl(&redis, &format!("uapi:session:{id}"));
    assert!((100..=120).contains(&ttl), "TTL {ttl}");
}

/// `--insecure-cookies` drops `Secure` (for plain-http testing) and keeps
/// the other attributes.
#[tokio::test]
async fn insecure_cookies_drops_secure_only() {
    let (_app, addr) = start(&["--insecure-cookies"], None).await;
    let (set_cookie, _) = login_and_check(addr, 13).await;
    let expected = BTreeSet::from(["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=1209600"]);
    assert_eq!(attributes(&set_cookie), expected, "{set_cookie}");
}

/// A wrong Redis password makes the example exit non-zero at once, saying
/// why, without printing the password.
#[tokio::test]
async fn a_wrong_redis_password_exits_non_zero_at_once() {
    let redis = RedisServer::builder().acl_user("default", &["on", ">right-password", "~*", "+@all"]).start();
    let url = redis.url_as("default", "wrong-password");
    // The command first: making it may build the example, which is not the
    // example's own time to exit.
    let command = command(&["--bind", "127.0.0.1:0", "--redis", &url], None);
    let started = Instant::now();
    let mut app = Spawned::start(command);
    let status = app.exit_within(PATIENCE).await.expect("exits");
    let took = started.elapsed();
    assert!(!status.success(), "{status:?}");
    assert!(took < Duration::from_secs(5), "exited after {took:?}");
    let output = app.output();
    assert!(output.contains("cannot connect to Redis at redis://***@127.0.0.1:"), "{output}");
    assert!(!output.contains("wrong-password") && !output.contains("listening on"), "{output}");
}

/// `--help` lists every flag, and `REDIS_URL`.
#[tokio::test]
async fn help_lists_every_flag() {
    let mut app = Spawned::start(command(&["--help"], None));
    let status = app.exit_within(PATIENCE).await.expect("exits");
    assert!(status.success(), "{status:?}");
    let help = app.output();
    for flag in [
        "--bind",
        "--redis ",
        "REDIS_URL",
        "--redis-cluster",
        "--key-prefix",
        "--redis-timeout-ms",
        "--max-age",
        "--insecure-cookies",
        "--login-failures",
        "--login-window",
        "--trust-proxy",
        "--demo-login",
        "--cookie-sessions",
        "UAPI_COOKIE_KEY",
        "--help",
    ] {
        assert!(help.contains(flag), "--help does not mention {flag}:\n{help}");
    }
}

/// Ctrl-C ends the example cleanly: it says so and exits 0.
#[tokio::test]
async fn ctrl_c_exits_0() {
    let (mut app, addr) = start(&[], None).await;
    assert_eq!(request(addr, "GET", "/", None).await.status, 200);
    app.interrupt();
    app.line("Ctrl-C received, shutting down").await;
    let status = app.exit_within(PATIENCE).await.expect("exits");
    assert!(status.success(), "{status:?}\n{}", app.output());
}

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

/// A JSON body with `username` and `password`.
fn credentials(username: &str, password: &str) -> String {
    serde_json::json!({ "username": username, "password": password }).to_string()
}

/// `POST /users` makes users: 201 with the id, 409 for a taken name (any
/// case), 400 for a short password, a missing field or no body.
#[tokio::test]
async fn users_are_created_with_a_password() {
    let (_app, addr) = start_as_given(&[], None).await;
    let ann = post(addr, "/users", JSON, &credentials("ann", "correct horse")).await;
    assert_eq!((ann.status, ann.body.as_str()), (201, "1"), "{ann:?}");
    let bob = post(addr, "/users", JSON, &credentials("bob", "battery staple")).await;
    assert_eq!((bob.status, bob.body.as_str()), (201, "2"), "{bob:?}");
    assert_eq!(post(addr, "/users", JSON, &credentials(" ANN ", "another one")).await.status, 409);
    let short = post(addr, "/users", JSON, &credentials("cy", "1234567")).await;
    assert_eq!(short.status, 400, "{short:?}");
    assert!(short.body.contains("8 characters"), "{short:?}");
    assert_eq!(post(addr, "/users", JSON, r#"{"username":"dee"}"#).await.status, 400);
    assert_eq!(request(addr, "POST", "/users", None).await.status, 415);
}

/// `POST /login` with the right password, as JSON or as a form, is a 201
/// with the session cookie; `/me` is then the user. A wrong password and an
/// unknown name are the same 401; `?user_id=N` is a 400 without `--demo-login`.
#[tokio::test]
async fn login_checks_the_password_as_json_or_form() {
    let (_app, addr) = start_as_given(&["--login-failures", "10"], None).await;
    assert_eq!(post(addr, "/users", JSON, &credentials("ann", "correct horse")).await.status, 201);
    let json = post(addr, "/login", JSON, &credentials("Ann", "correct horse")).await;
    assert_eq!(json.status, 201, "{json:?}");
    let me = request(addr, "GET", "/me", Some(&format!("session_id={}", json.cookie("session_id")))).await;
    assert_eq!((me.status, me.body.as_str()), (200, "1"));
    let form = post(addr, "/login", FORM, "username=ann&password=correct+horse").await;
    assert_eq!(form.status, 201, "{form:?}");
    assert_ne!(form.cookie("session_id"), json.cookie("session_id"));

    let wrong = post(addr, "/login", JSON, &credentials("ann", "wrong horse")).await;
    let unknown = post(addr, "/login", JSON, &credentials("nobody", "wrong horse")).await;
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert_eq!(wrong.body, unknown.body);
    assert!(wrong.set_cookies.is_empty() && unknown.set_cookies.is_empty(), "{wrong:?} {unknown:?}");
    let demo = request(addr, "POST", "/login?user_id=1", None).await;
    assert_eq!(demo.status, 400, "{demo:?}");
    assert!(demo.body.contains("--demo-login"), "{demo:?}");
}

/// `--login-failures 2 --login-window 60`: the third wrong password for one
/// name is a 429 with a `Retry-After` within the window, even with the right
/// password; another name is still let through.
#[tokio::test]
async fn login_failures_and_window_throttle_guessing() {
    let (_app, addr) = start_as_given(&["--login-failures", "2", "--login-window", "60"], None).await;
    assert_eq!(post(addr, "/users", JSON, &credentials("ann", "correct horse")).await.status, 201);
    for _ in 0..2 {
        assert_eq!(post(addr, "/login", JSON, &credentials("ann", "guess")).await.status, 401);
    }
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    let body = credentials("ann", "correct horse");
    let head = format!(
        "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: {JSON}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("writes");
    let mut raw = String::new();
    tokio::time::timeout(PATIENCE, stream.read_to_string(&mut raw)).await.expect("in time").expect("reads");
    assert!(raw.starts_with("HTTP/1.1 429"), "{raw}");
    let retry_after: u64 = raw
        .lines()
        .find_map(|l| l.strip_prefix("retry-after: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After in {raw}"));
    assert!((1..=60).contains(&retry_after), "{raw}");
    assert_eq!(post(addr, "/login", JSON, &credentials("bob", "guess")).await.status, 401);
}

/// The example with `--cookie-sessions --demo-login` and `UAPI_COOKIE_KEY`
/// as given (unset for `None`), on a free port.
async fn start_on_cookies(key: Option<&str>) -> (Spawned, SocketAddr) {
    let mut command = command(&["--cookie-sessions", "--demo-login", "--bind", "127.0.0.1:0"], None);
    if let Some(key) = key {
        command.env("UAPI_COOKIE_KEY", key);
    }
    let mut app = Spawned::start(command);
    let addr = app.addr_after("listening on http://").await;
    (app, addr)
}

/// `--cookie-sessions` without `UAPI_COOKIE_KEY`: a random key, said so in
/// the log; the same routes (login, `/me`, the cart, logout) on sessions kept
/// in their cookies, with the default cookie attributes; `DELETE
/// /sessions/{user_id}` a 501 saying why.
#[tokio::test]
async fn cookie_sessions_serve_the_same_routes_from_the_cookies() {
    let (app, addr) = start_on_cookies(None).await;
    assert_printed(&app, "UAPI_COOKIE_KEY is not set");
    let (set_cookie, value) = login_and_check(addr, 7).await;
    let expected = BTreeSet::from(["Secure", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=1209600"]);
    assert_eq!(attributes(&set_cookie), expected, "{set_cookie}");
    assert!(value.len() > 43 && !value.contains("user_id"), "a sealed session, not an id: {value}");
    let session = format!("session_id={value}");

    let cart = request(addr, "POST", "/cart?item=apple", None).await;
    assert_eq!((cart.status, cart.body.as_str()), (200, "apple"), "{cart:?}");
    let cart_cookie = format!("cart_session={}", cart.cookie("cart_session"));
    let more = request(addr, "POST", "/cart?item=pear", Some(&cart_cookie)).await;
    assert_eq!(more.body, "apple,pear");
    let shown = request(addr, "GET", "/cart", Some(&format!("cart_session={}", more.cookie("cart_session")))).await;
    assert_eq!(shown.body, "apple,pear");

    let everywhere = request(addr, "DELETE", "/sessions/7", Some(&session)).await;
    assert_eq!(everywhere.status, 501, "{everywhere:?}");
    assert!(
        everywhere.body.contains("--cookie-sessions") && everywhere.body.contains("until it expires"),
        "{everywhere:?}"
    );

    let logout = request(addr, "POST", "/logout", Some(&session)).await;
    assert_eq!(logout.status, 204);
    assert!(attributes(logout.set_cookie("session_id")).contains("Max-Age=0"), "{logout:?}");
}

/// `UAPI_COOKIE_KEY`: another process with the same key opens the cookie
/// (the session is in the cookie, not in the process); one with another
/// key does not.
#[tokio::test]
async fn the_cookie_key_comes_from_the_environment() {
    let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let (first, addr) = start_on_cookies(Some(key)).await;
    assert_printed(&first, "with the key in UAPI_COOKIE_KEY");
    let (_, value) = login(addr, 12).await;
    let cookie = format!("session_id={value}");
    let (_second, same_key) = start_on_cookies(Some(key)).await;
    let me = request(same_key, "GET", "/me", Some(&cookie)).await;
    assert_eq!((me.status, me.body.as_str()), (200, "12"), "{me:?}");
    let (_third, other_key) = start_on_cookies(Some("ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=")).await;
    assert_eq!(request(other_key, "GET", "/me", Some(&cookie)).await.status, 403);
}

/// A `UAPI_COOKIE_KEY` under 256 bits stops the example at start, saying so.
#[tokio::test]
async fn a_short_cookie_key_exits_non_zero_saying_why() {
    let mut command = command(&["--cookie-sessions", "--bind", "127.0.0.1:0"], None);
    command.env("UAPI_COOKIE_KEY", "c2hvcnQ=");
    let mut app = Spawned::start(command);
    let status = app.exit_within(PATIENCE).await.expect("exits");
    assert!(!status.success(), "{status:?}");
    let output = app.output();
    assert!(output.contains("UAPI_COOKIE_KEY") && output.contains("256 bits"), "{output}");
    assert!(!output.contains("listening on"), "{output}");
}
