//! The login throttle (`uapi::login::configure_login_throttle`) over HTTP:
//! one scenario suite run through the in-process [`TestClient`] on the
//! `MemoryStore`, on `RedisBackend` over a real `redis-server` and on a real
//! 3-master Redis Cluster; Redis-only guarantees (key TTLs, `Workers`
//! sharing counts, an outage) in `login_throttle/redis_only.rs`. Needs
//! `redis-server` and `redis-cli` on PATH.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::RETRY_AFTER;
use redis::cluster_async::ClusterConnection;
use serde::Deserialize;
use support::redis_cluster::{unique_prefix, RedisCluster};
use support::redis_server::RedisServer;
use uapi::login::{
    configure_async_login, configure_login_throttle, AsyncLoginSession, LoginOptions, LoginThrottle,
    LoginThrottleOptions, LoginThrottles,
};
use uapi::sessions::redis::RedisBackend;
use uapi::sessions::{configure_sessions, MemoryStore, SessionBackend, SessionError, SessionOptions};
use uapi::status::{Created, Unauthorized};
use uapi::testing::{TestClient, TestResponse};
use uapi::{handler, App, AppService, CookieSettings, ReqBody};

/// The upper bound on anything a test waits for; never reached when things work.
const PATIENCE: Duration = Duration::from_secs(10);
/// How often the bounded poll loops look again.
const POLL: Duration = Duration::from_millis(50);
/// A window no test outlives.
const HOUR: Duration = Duration::from_secs(3600);
/// Where `TestClient` requests come from unless told otherwise.
const HOME: &str = "127.0.0.1:40000";

/// A login body.
#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

/// How many times the login handler's body ran.
#[derive(Clone, Default)]
struct Runs(Arc<AtomicUsize>);

impl Runs {
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Which app answered (a `Workers` worker's index, or `app`).
#[derive(Clone)]
struct Tag(String);

/// `POST /login`: password `right` logs in as user 7 (a 201 with the session
/// cookie); anything else is a 401 naming the app and the counted account.
#[handler]
async fn login(
    creds: ReqBody<Credentials>,
    login_throttle: LoginThrottle,
    login_session: AsyncLoginSession<i64>,
    runs: Runs,
    tag: Tag,
) -> Result<Result<Created<()>, Unauthorized<String>>, SessionError> {
    runs.0.fetch_add(1, Ordering::SeqCst);
    if creds.0.password != "right" {
        let account = login_throttle.account().unwrap_or("-");
        return Ok(Err(Unauthorized::new(format!("{}: wrong password for {account} ({})", tag.0, creds.0.username))));
    }
    login_throttle.succeeded().await?;
    let cookie = login_session.login_and_return(7).await?;
    Ok(Ok(Created::new(()).with_headers(cookie)))
}

/// The test app on `backend`: sessions, login, the throttle with `options`,
/// and `POST /login`; and the throttle's resets.
fn login_app(
    backend: impl SessionBackend,
    options: LoginThrottleOptions,
    runs: &Runs,
    tag: &str,
) -> (App, LoginThrottles) {
    let mut app = App::new();
    let sessions = SessionOptions::default().cookie_settings(CookieSettings::default().secure(false));
    let store = configure_sessions(&mut app, backend, sessions);
    configure_async_login::<i64>(&mut app, &store, LoginOptions::default());
    let throttles = configure_login_throttle(&mut app, &store, options).expect("the backend keeps an attempt log");
    app.provide_value(runs.clone()).provide_value(Tag(tag.to_owned())).post("/login", login);
    (app, throttles)
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("a socket address")
}

// ---------------------------------------------------------------- harness

/// A backend under test (and its Redis server or cluster, kept alive).
struct Harness {
    redis: Option<(RedisServer, redis::aio::ConnectionManager)>,
    cluster: Option<(Arc<RedisCluster>, ClusterConnection)>,
}

impl Harness {
    async fn memory() -> Harness {
        Harness { redis: None, cluster: None }
    }

    async fn redis() -> Harness {
        let server = RedisServer::start();
        let conn = server.connection_manager().await;
        Harness { redis: Some((server, conn)), cluster: None }
    }

    async fn redis_cluster() -> Harness {
        let cluster = RedisCluster::shared();
        let conn = cluster.connection().await;
        Harness { redis: None, cluster: Some((cluster, conn)) }
    }

    /// A fresh app with its own counts (a new `MemoryStore`, or a key prefix
    /// of its own) and the throttle `options`.
    fn site(&self, options: LoginThrottleOptions) -> Site {
        let runs = Runs::default();
        let window = options.window_length();
        let prefix = unique_prefix("throttle");
        let (app, throttles) = match (&self.redis, &self.cluster) {
            (Some((_, conn)), _) => {
                login_app(RedisBackend::new(conn.clone()).key_prefix(&prefix), options, &runs, "app")
            }
            (None, Some((_, conn))) => {
                login_app(RedisBackend::new(conn.clone()).key_prefix(&prefix), options, &runs, "app")
            }
            (None, None) => login_app(MemoryStore::new(), options, &runs, "app"),
        };
        Site { service: app.build().expect("the test app builds"), runs, window, prefix, throttles }
    }
}

/// A built app, how often its handler ran, its window and Redis key
/// prefix, and its throttle's resets.
struct Site {
    service: AppService,
    runs: Runs,
    window: Duration,
    prefix: String,
    throttles: LoginThrottles,
}

/// One login attempt's outcome.
#[derive(Debug)]
struct Outcome {
    status: u16,
    retry_after: Option<u64>,
    body: String,
    set_cookies: Vec<String>,
}

impl From<TestResponse> for Outcome {
    fn from(r: TestResponse) -> Outcome {
        let retry_after = r.headers.get(RETRY_AFTER).map(|v| {
            v.to_str().ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("Retry-After {v:?} is no number"))
        });
        Outcome { status: r.status.as_u16(), retry_after, set_cookies: r.set_cookies(), body: r.text() }
    }
}

impl Site {
    /// A login as `user` with `password` from `from`, with `X-Forwarded-For:
    /// xff` if given; from a fresh client (no cookies).
    async fn attempt_via(&self, user: &str, password: &str, from: &str, xff: Option<&str>) -> Outcome {
        let client = TestClient::from_service(self.service.clone());
        let mut request = client.post("/login").from_addr(addr(from));
        if let Some(xff) = xff {
            request = request.header("x-forwarded-for", xff);
        }
        let body = serde_json::json!({ "username": user, "password": password });
        request.json(&body).send().await.into()
    }

    async fn attempt_from(&self, user: &str, password: &str, from: &str) -> Outcome {
        self.attempt_via(user, password, from, None).await
    }

    async fn attempt(&self, user: &str, password: &str) -> Outcome {
        self.attempt_from(user, password, HOME).await
    }

    /// A wrong password for `user` from `from`, which must be a 401.
    async fn fail_from(&self, user: &str, from: &str) {
        let o = self.attempt_from(user, "wrong", from).await;
        assert_eq!(o.status, 401, "{user} from {from}: {o:?}");
    }

    async fn fail(&self, user: &str) {
        self.fail_from(user, HOME).await;
    }

    /// The right password for `user`, which must log in.
    async fn succeed(&self, user: &str) {
        let o = self.attempt(user, "right").await;
        assert_eq!(o.status, 201, "{user}: {o:?}");
        assert!(o.set_cookies.iter().any(|c| c.starts_with("session_id=")), "{o:?}");
    }

    /// `o` is the throttle's 429: a `Retry-After` of 1..=window seconds.
    fn assert_refused(&self, o: &Outcome, what: &str) {
        assert_eq!(o.status, 429, "{what}: {o:?}");
        let secs = o.retry_after.unwrap_or_else(|| panic!("{what}: a 429 without Retry-After: {o:?}"));
        assert!(secs > 0 && secs <= self.window.as_secs().max(1), "{what}: Retry-After {secs} s for {:?}", self.window);
        assert!(o.body.contains("too many failed login attempts"), "{what}: {o:?}");
        assert!(o.set_cookies.is_empty(), "{what}: a refused login set a cookie: {o:?}");
    }
}

fn limits(failures: u32) -> LoginThrottleOptions {
    LoginThrottleOptions::default().failures(failures).window(HOUR)
}

// ---------------------------------------------------------------- scenarios

/// The scenarios, each on a fresh app.
mod scenarios {
    use super::*;

    /// N wrong passwords are 401s; the next is a 429 with `Retry-After`, and
    /// so is the right password: the handler ran exactly N times.
    pub(crate) async fn the_attempt_past_the_limit_is_a_429_and_the_handler_does_not_run(h: &Harness) {
        let n = 3;
        let site = h.site(limits(n));
        for i in 0..n {
            site.fail("ann").await;
            assert_eq!(site.runs.get(), i as usize + 1);
        }
        let o = site.attempt("ann", "wrong").await;
        site.assert_refused(&o, "failure N+1");
        let o = site.attempt("ann", "right").await;
        site.assert_refused(&o, "the right password past the limit");
        assert_eq!(site.runs.get(), n as usize, "the handler ran past the limit");
        // A support desk unlocks the account (named as a login body would).
        site.throttles.reset_account(" ANN").await.expect("reset");
        site.succeed("ann").await;
    }

    /// Counts are per account (trimmed, lowercased) and per address: another
    /// account from the same address has its own count; the locked account
    /// from another address is still refused; a third account from a third
    /// address is unaffected.
    pub(crate) async fn each_account_has_its_own_count_whatever_the_address(h: &Harness) {
        let site = h.site(limits(3));
        for user in ["ann", " Ann ", "ANN"] {
            let o = site.attempt(user, "wrong").await;
            assert_eq!(o.status, 401, "{o:?}");
            assert!(o.body.contains("wrong password for ann"), "the account is counted as `ann`: {o:?}");
        }
        site.assert_refused(&site.attempt("ann", "wrong").await, "ann");
        site.fail("bob").await;
        site.assert_refused(&site.attempt_from("aNn", "right", "10.0.0.7:1").await, "ann from another address");
        site.fail_from("carol", "10.0.0.8:1").await;
        assert_eq!(site.runs.get(), 5);
    }

    /// A success clears the account's count: N-1 failures, a success, then N
    /// failures again before the 429.
    pub(crate) async fn a_success_clears_the_accounts_count(h: &Harness) {
        let n = 3;
        let site = h.site(limits(n));
        for _ in 1..n {
            site.fail("ann").await;
        }
        site.succeed("ann").await;
        for _ in 0..n {
            site.fail("ann").await;
        }
        site.assert_refused(&site.attempt("ann", "wrong").await, "after N failures since the success");
        assert_eq!(site.runs.get(), 2 * n as usize);
    }

    /// The address limit: with 2 per account and 3 per address, three
    /// accounts failing once each from one address lock that address for a
    /// fourth account, which another address may still try. The refused
    /// attempt counted nowhere: the fourth account still has both its tries.
    pub(crate) async fn an_address_past_its_limit_is_refused_for_every_account(h: &Harness) {
        let site = h.site(limits(2).client_failures(3));
        for user in ["a", "b", "c"] {
            site.fail_from(user, "10.1.1.1:1").await;
        }
        site.assert_refused(&site.attempt_from("d", "wrong", "10.1.1.1:2").await, "a 4th account");
        site.fail_from("d", "10.1.1.2:1").await;
        site.fail_from("d", "10.1.1.3:1").await;
        site.assert_refused(&site.attempt_from("d", "wrong", "10.1.1.4:1").await, "d's own limit");
        // IPv6 clients count per /64.
        for user in ["e", "f", "g"] {
            site.fail_from(user, &format!("[2001:db8:1:2::{}]:1", user.as_bytes()[0])).await;
        }
        let o = site.attempt_from("h", "wrong", "[2001:db8:1:2:ffff::1]:1").await;
        site.assert_refused(&o, "the same /64");
        site.fail_from("h", "[2001:db8:1:3::1]:1").await;
        // Resetting an address (an IPv6 one: its /64) lets it try again.
        site.throttles.reset_client("10.1.1.1".parse().expect("an IP")).await.expect("reset");
        site.fail_from("e", "10.1.1.1:3").await;
        site.throttles.reset_client("2001:db8:1:2::abcd".parse().expect("an IP")).await.expect("reset");
        site.fail_from("i", "[2001:db8:1:2::9]:1").await;
        assert_eq!(site.runs.get(), 3 + 2 + 3 + 1 + 2);
    }

    /// A success takes its attempt back from the address's count (its other
    /// failures stay).
    pub(crate) async fn a_success_does_not_count_against_the_address(h: &Harness) {
        let site = h.site(limits(5).client_failures(3));
        site.fail("a").await;
        site.fail("b").await;
        site.succeed("c").await;
        site.fail("d").await;
        site.assert_refused(&site.attempt("e", "wrong").await, "three failures from the address");
        site.assert_refused(&site.attempt("c", "right").await, "even the right password");
    }

    /// The window slides: once the failures are older than the window, the
    /// account may try again (and the polling 429s did not extend it).
    pub(crate) async fn the_account_may_try_again_after_the_window(h: &Harness) {
        let window = Duration::from_secs(1);
        let site = h.site(LoginThrottleOptions::default().failures(2).window(window));
        let start = Instant::now();
        site.fail("ann").await;
        site.fail("ann").await;
        site.assert_refused(&site.attempt("ann", "wrong").await, "right after the failures");
        // Time passing is what is under test: poll until the 429 ends.
        let reopened = loop {
            let o = site.attempt("ann", "wrong").await;
            if o.status != 429 {
                assert_eq!(o.status, 401, "{o:?}");
                break start.elapsed();
            }
            site.assert_refused(&o, "within the window");
            assert!(start.elapsed() < window + PATIENCE / 2, "still refused after {:?}", start.elapsed());
            tokio::time::sleep(POLL).await;
        };
        assert!(reopened >= window - Duration::from_millis(50), "reopened after {reopened:?}, window {window:?}");
        assert_eq!(site.runs.get(), 3);
    }

    /// 20 wrong passwords at once with a limit of 3: exactly 3 reach the
    /// handler (a reservation before it runs, not a tally after).
    pub(crate) async fn concurrent_attempts_get_exactly_the_limit_through(h: &Harness) {
        let site = Arc::new(h.site(limits(3)));
        let tasks = (0..20).map(|_| {
            let site = site.clone();
            tokio::spawn(async move { site.attempt("ann", "wrong").await })
        });
        let outcomes = futures_util::future::join_all(tasks).await;
        let statuses: Vec<u16> = outcomes.into_iter().map(|o| o.expect("task").status).collect();
        let count = |s: u16| statuses.iter().filter(|x| **x == s).count();
        assert_eq!((count(401), count(429)), (3, 17), "{statuses:?}");
        assert_eq!(site.runs.get(), 3);
    }

    /// Behind a trusted proxy the client is the rightmost untrusted address
    /// of `X-Forwarded-For`, whatever a client forged at its left; without
    /// trust the header is ignored and every request counts against the peer.
    pub(crate) async fn a_trusted_proxys_forwarded_address_is_the_client(h: &Harness) {
        let options = limits(10).client_failures(2);
        let trusted = h.site(options.clone().trust_proxies(["127.0.0.1/32".parse().expect("a network")]));
        let forwarded = |forged: &str, client: &str| format!("{forged}, {client}");
        for (user, forged) in [("a", "6.6.6.6"), ("b", "7.7.7.7")] {
            let o = trusted.attempt_via(user, "wrong", HOME, Some(&forwarded(forged, "203.0.113.5"))).await;
            assert_eq!(o.status, 401, "{o:?}");
        }
        let o = trusted.attempt_via("c", "wrong", HOME, Some(&forwarded("8.8.8.8", "203.0.113.5"))).await;
        trusted.assert_refused(&o, "203.0.113.5 at its limit");
        let o = trusted.attempt_via("c", "wrong", HOME, Some(&forwarded("203.0.113.5", "203.0.113.6"))).await;
        assert_eq!(o.status, 401, "another forwarded client: {o:?}");
        trusted.fail("d").await; // the proxy itself, no header
                                 // An untrusted peer's header is ignored.
        let o = trusted.attempt_via("e", "wrong", "10.0.0.9:1", Some("203.0.113.5")).await;
        assert_eq!(o.status, 401, "{o:?}");

        let untrusted = h.site(options);
        for (user, client) in [("a", "203.0.113.5"), ("b", "203.0.113.6")] {
            let o = untrusted.attempt_via(user, "wrong", HOME, Some(&forwarded("6.6.6.6", client))).await;
            assert_eq!(o.status, 401, "{o:?}");
        }
        let o = untrusted.attempt_via("c", "wrong", HOME, Some(&forwarded("6.6.6.6", "203.0.113.7"))).await;
        untrusted.assert_refused(&o, "the peer at its limit");
        untrusted.fail_from("c", "10.0.0.9:1").await;
    }

    /// A body the throttle cannot read an account from, but the handler's
    /// `ReqBody<Credentials>` can (serde reads a JSON array into a struct):
    /// counted at the per-account limit all the same, from any address.
    pub(crate) async fn unreadable_accounts_are_counted_at_the_account_limit(h: &Harness) {
        let site = h.site(limits(2).client_failures(100));
        let mut statuses = Vec::new();
        for i in 0..4 {
            let client = TestClient::from_service(site.service.clone());
            let request = client.post("/login").from_addr(addr(&format!("10.9.0.{i}:1")));
            let o: Outcome = request.json(&serde_json::json!(["ann", "wrong"])).send().await.into();
            statuses.push(o.status);
        }
        assert_eq!(statuses, [401, 401, 429, 429], "the handler ran {} times", site.runs.get());
        assert_eq!(site.runs.get(), 2);
        // Named accounts keep their own counts.
        site.fail("ann").await;
    }
}

/// Instantiates scenarios as `#[tokio::test]`s for one backend.
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

/// The whole suite on the memory store and on one Redis node; the
/// sequential scenarios on the cluster too.
macro_rules! all_backends {
    ($($name:ident),* $(,)?) => {
        suite!(memory_store, memory; $($name),*, concurrent_attempts_get_exactly_the_limit_through);
        suite!(redis_backend, redis; $($name),*, concurrent_attempts_get_exactly_the_limit_through);
        suite!(redis_cluster, redis_cluster; $($name),*);
    };
}

all_backends!(
    the_attempt_past_the_limit_is_a_429_and_the_handler_does_not_run,
    each_account_has_its_own_count_whatever_the_address,
    a_success_clears_the_accounts_count,
    an_address_past_its_limit_is_refused_for_every_account,
    a_success_does_not_count_against_the_address,
    the_account_may_try_again_after_the_window,
    a_trusted_proxys_forwarded_address_is_the_client,
    unreadable_accounts_are_counted_at_the_account_limit,
);

#[path = "login_throttle/redis_only.rs"]
mod redis_only;

#[path = "login_throttle/no_attempt_log.rs"]
mod no_attempt_log;
