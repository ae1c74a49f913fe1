//! Specification of `SessionOptions::absolute_lifetime` over HTTP: a session
//! ends a fixed time after it began (its creation, or a login), however
//! active it is. Every scenario runs on a `MemoryStore` and on a real
//! `redis-server`, driven in-process by `TestClient`. Time passing is what is
//! tested here, so the scenarios poll with a short interval, up to a deadline.
//! Needs `redis-server` on PATH.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::redis_server::RedisServer;
use support::set_cookie::SetCookie;
use uapi::login::{configure_async_login, AsyncLoginSession, LoginOptions};
use uapi::sessions::redis::configure_async_sessions;
use uapi::sessions::{
    configure_sessions, AsyncSession, MemoryStore, RedisBackend, SessionError, SessionId, SessionOptions, SessionStore,
    StoreInfo, ENDS_AT_FIELD,
};
use uapi::status::Created;
use uapi::testing::{TestClient, TestResponse};
use uapi::{handler, App, AppService, Json};

/// How often the poll loops look again.
const POLL: Duration = Duration::from_millis(50);
/// How long after its end a session may still be seen (a loaded machine).
const LATE_MS: u64 = 1_000;
/// How long before its end a session in use may already be gone.
const EARLY_MS: u64 = 300;
/// How far past its end the store may hold a session while a touch is in flight.
const TOUCH_SLACK_MS: u64 = 250;
const COOKIE: &str = "session_id";
const PREFIX: &str = "abs:";
const HOUR: Duration = Duration::from_secs(3600);

type Map = BTreeMap<String, String>;
/// What a handler sees of its session: `iter`, `to_map`, `len`, `get(ENDS_AT_FIELD)`.
type View = (Map, Map, usize, Option<String>);

fn view(session: &AsyncSession) -> Json<View> {
    let to_map = session.to_map().into_iter().collect();
    Json((session.iter().collect(), to_map, session.len(), session.get(ENDS_AT_FIELD)))
}

/// `GET /read`: the session as the handler sees it; never writes.
#[handler]
async fn read(session: AsyncSession) -> Json<View> {
    view(&session)
}

/// `POST /set?key&value`: sets one key, saves, and shows the session after.
#[handler]
async fn set(session: AsyncSession, key: String, value: String) -> Result<Json<View>, SessionError> {
    session.insert(key, value);
    session.update_session().await?;
    Ok(view(&session))
}

/// `POST /forge?end`: writes the reserved end field itself (and a key of its
/// own, so the save writes something) and saves.
#[handler]
async fn forge(session: AsyncSession, end: String) -> Result<&'static str, SessionError> {
    session.insert(ENDS_AT_FIELD, end);
    session.insert("forged", "1");
    session.update_session().await?;
    Ok("ok")
}

/// `POST /login?user_id`: logs in (a new id, the session begun anew).
#[handler]
async fn login(login_session: AsyncLoginSession<i64>, user_id: i64) -> Result<Created<()>, SessionError> {
    Ok(Created::new(()).with_headers(login_session.login_and_return(user_id).await?))
}

fn now_ms() -> u64 {
    u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_millis()).expect("ms")
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).expect("ms")
}

fn map(pairs: &[(&str, &str)]) -> Map {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn set_cookies(r: &TestResponse) -> Vec<SetCookie> {
    r.set_cookies().iter().map(|h| SetCookie::parse(h)).collect()
}

/// The one session cookie `r` sets.
fn the_cookie(r: &TestResponse) -> SetCookie {
    let mut cookies = set_cookies(r);
    assert_eq!(cookies.len(), 1, "{:?}", r.set_cookies());
    let c = cookies.remove(0);
    assert_eq!(c.name, COOKIE);
    c
}

/// A backend under test (and its Redis server, kept alive). Apps made from
/// one harness share their sessions, as two deployments of a server would.
struct Harness {
    redis: Option<(RedisServer, redis::aio::ConnectionManager)>,
    memory: MemoryStore,
}

/// A built app and its session store.
struct TestApp {
    service: AppService,
    store: SessionStore,
}

impl Harness {
    async fn memory() -> Harness {
        Harness { redis: None, memory: MemoryStore::new() }
    }

    async fn redis() -> Harness {
        let server = RedisServer::start();
        let conn = server.connection_manager().await;
        Harness { redis: Some((server, conn)), memory: MemoryStore::new() }
    }

    /// The test app: `session` with `options` (Redis keys under `abs:`), and login.
    fn app(&self, options: SessionOptions) -> TestApp {
        let mut app = App::new();
        let store = match &self.redis {
            Some((_, conn)) => {
                configure_async_sessions(&mut app, RedisBackend::new(conn.clone()).key_prefix(PREFIX), options)
            }
            None => configure_sessions(&mut app, self.memory.clone(), options),
        };
        configure_async_login::<i64>(&mut app, &store, LoginOptions::default());
        app.get("/read", read).post("/set", set).post("/forge", forge).post("/login", login);
        TestApp { service: app.build().expect("the test app builds"), store }
    }

    /// Session `id` as the store holds it, with its time to live (ms): on
    /// Redis its hash (`HGETALL`, reserved fields included) and `PTTL`, read
    /// by hand; in memory, through the backend. `None` once it is gone.
    async fn record(&self, app: &TestApp, id: &str) -> Option<(HashMap<String, String>, u64)> {
        let Some((_, conn)) = &self.redis else {
            let sid = SessionId::parse(id).expect("a session id");
            let loaded = app.store.backend().load(StoreInfo::new(COOKIE, true), &sid).await.expect("a load");
            return loaded.map(|l| (l.data, ms(l.ttl.expect("the memory store reports a ttl"))));
        };
        let key = format!("{PREFIX}uapi:session:{id}");
        let (data, pttl): (HashMap<String, String>, i64) = redis::pipe()
            .cmd("HGETALL")
            .arg(&key)
            .cmd("PTTL")
            .arg(&key)
            .query_async(&mut conn.clone())
            .await
            .expect("HGETALL and PTTL");
        assert_ne!(pttl, -1, "{key} has no TTL");
        (pttl >= 0 && !data.is_empty()).then(|| (data, u64::try_from(pttl).expect("a TTL")))
    }

    /// The end recorded in session `id` (unix ms), checking it is stored at
    /// all and that the store expires the session by then.
    async fn recorded_end(&self, app: &TestApp, id: &str) -> u64 {
        let before = now_ms();
        let (data, ttl) = self.record(app, id).await.expect("the session is stored");
        let end: u64 = data.get(ENDS_AT_FIELD).expect("an end is recorded").parse().expect("unix ms");
        assert!(
            ttl <= end.saturating_sub(before) + TOUCH_SLACK_MS,
            "stored for {ttl} ms, ending in {} ms",
            end.saturating_sub(before)
        );
        end
    }
}

impl TestApp {
    /// A new client (its own cookie jar: another browser).
    fn client(&self) -> TestClient {
        TestClient::from_service(self.service.clone())
    }
}

async fn read_view(client: &TestClient) -> View {
    let r = client.get("/read").send().await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json().expect("a view")
}

/// Reads session `id` every [`POLL`] (its cookie put back in the jar before
/// each request, so what is seen is the server's view) until it is gone, and
/// checks it against its recorded `end` (unix ms): alive, holding `key`,
/// until shortly before; gone by `end + LATE_MS`. With `store_capped`, also
/// never stored past its end, then no longer in the store either. Returns
/// when it was last seen alive.
async fn watch(h: &Harness, app: &TestApp, client: &TestClient, session: (&str, &str, u64), store_capped: bool) -> u64 {
    let (id, key, end) = session;
    let mut last_alive = None;
    loop {
        client.set_cookie(COOKIE, id);
        let sent = now_ms();
        let r = client.get("/read").send().await;
        let done = now_ms();
        assert_eq!(r.status, 200, "{}", r.text());
        let (data, _, len, field): View = r.json().expect("a view");
        assert_eq!((field, len), (None, data.len()), "the end is shown to the handler");
        if !data.contains_key(key) {
            assert!(done + EARLY_MS >= end, "{key}: gone {} ms before its end", end - done);
            assert_eq!(data, Map::new(), "a session past its end is a fresh one");
            break;
        }
        assert!(sent <= end + LATE_MS, "{key}: still alive {} ms after its end", sent - end);
        for c in set_cookies(&r) {
            // A rolling refresh: the same id, its Max-Age capped by the time left.
            assert_eq!((c.name.as_str(), c.value.as_str()), (COOKIE, id));
            let max_age = u64::try_from(c.max_age().expect("a Max-Age")).expect("Max-Age >= 0");
            assert!(
                max_age * 1000 < end.saturating_sub(sent) + 1000,
                "Max-Age {max_age} with {} ms left",
                end.saturating_sub(sent)
            );
        }
        let before = now_ms();
        if let (Some((_, ttl)), true) = (h.record(app, id).await, store_capped) {
            assert!(ttl <= end.saturating_sub(before) + TOUCH_SLACK_MS, "{key}: stored past its end ({ttl} ms TTL)");
        }
        last_alive = Some(done);
        tokio::time::sleep(POLL).await;
    }
    // The store itself lets it go by then, not only the recorded end.
    while store_capped && h.record(app, id).await.is_some() {
        assert!(now_ms() <= end + LATE_MS, "{key}: still stored {} ms after its end", now_ms() - end);
        tokio::time::sleep(POLL).await;
    }
    last_alive.expect("seen alive at least once")
}

/// [`watch`] a session whose store must not hold it past its end either.
async fn watch_until_gone(h: &Harness, app: &TestApp, client: &TestClient, id: &str, key: &str, end: u64) -> u64 {
    watch(h, app, client, (id, key, end), true).await
}

/// With max_age 1 h and an absolute lifetime of 2 s, a new session's cookie,
/// store TTL and recorded end all say 2 s; the handler never sees the field,
/// and later saves do not move the end.
async fn a_new_session_is_capped_by_the_lifetime(h: &Harness) {
    let lifetime = Duration::from_secs(2);
    let app = h.app(SessionOptions::default().max_age(HOUR).absolute_lifetime(lifetime));
    let client = app.client();
    let before = now_ms();
    let r = client.post("/set?key=a&value=1").send().await;
    let after = now_ms();
    assert_eq!(r.status, 200, "{}", r.text());
    let a = map(&[("a", "1")]);
    assert_eq!(r.json::<View>().expect("a view"), (a.clone(), a.clone(), 1, None), "the creating handler's view");
    let cookie = the_cookie(&r);
    let max_age = cookie.max_age().expect("a Max-Age");
    assert!((1..=2).contains(&max_age), "Max-Age {max_age} for a session ending in 2 s");
    let id = cookie.value;
    let end = h.recorded_end(&app, &id).await;
    assert!((before + ms(lifetime)..=after + ms(lifetime)).contains(&end), "end {end} not 2 s after {before}..{after}");
    if let Some((_, conn)) = &h.redis {
        let key = format!("{PREFIX}uapi:session:{id}");
        let pttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn.clone()).await.expect("PTTL");
        assert!(0 < pttl && pttl <= 2_000, "PTTL {pttl} ms with max_age 1 h and a 2 s lifetime");
    }
    // Loaded in a later request, and after another save: still hidden, same end.
    assert_eq!(read_view(&client).await, (a.clone(), a, 1, None));
    let r = client.post("/set?key=b&value=2").send().await;
    assert!(r.set_cookies().is_empty(), "an existing session re-sent its cookie: {:?}", r.set_cookies());
    let ab = map(&[("a", "1"), ("b", "2")]);
    assert_eq!(r.json::<View>().expect("a view"), (ab.clone(), ab.clone(), 2, None));
    assert_eq!(read_view(&client).await, (ab.clone(), ab, 2, None));
    assert_eq!(h.recorded_end(&app, &id).await, end, "a save moved the end");
    // A store holding it longer (written under other settings, say) changes
    // nothing: past its recorded end, a loaded session is over.
    let sid = SessionId::parse(&id).expect("a session id");
    app.store.backend().touch(StoreInfo::new(COOKIE, false), &sid, HOUR).await.expect("a touch");
    watch(h, &app, &client, (&id, "a", end), false).await;
    let (_, ttl) = h.record(&app, &id).await.expect("still stored");
    assert!(ttl > ms(HOUR) / 2, "the store let it go ({ttl} ms TTL): the end itself was not tested");
}

/// Rolling sessions of 1.5 s with a 3 s lifetime: read again and again (each
/// read in the second half of its TTL extends it), the session lives past
/// max_age but ends about 3 s after it began, in the store too.
async fn rolling_expiry_never_passes_the_end(h: &Harness) {
    let (max_age, lifetime) = (Duration::from_millis(1_500), Duration::from_secs(3));
    let app = h.app(SessionOptions::default().max_age(max_age).rolling(true).absolute_lifetime(lifetime));
    let client = app.client();
    let r = client.post("/set?key=a&value=1").send().await;
    assert_eq!(r.status, 200, "{}", r.text());
    let id = the_cookie(&r).value;
    let end = h.recorded_end(&app, &id).await;
    let begin = end - ms(lifetime);
    let last_alive = watch_until_gone(h, &app, &client, &id, "a", end).await;
    assert!(
        last_alive >= begin + ms(max_age) + 500,
        "not extended past max_age: last alive {} ms in",
        last_alive - begin
    );
}

/// A login begins the session anew: an anonymous session made at t0 and
/// logged in at t0 + 1.5 s lives until the login + 3 s, not t0 + 3 s.
async fn a_login_begins_the_session_anew(h: &Harness) {
    let lifetime = Duration::from_secs(3);
    let app = h.app(SessionOptions::default().max_age(HOUR).absolute_lifetime(lifetime));
    let client = app.client();
    assert_eq!(client.post("/set?key=a&value=1").send().await.status, 200);
    let anonymous = client.cookie(COOKIE).expect("a session cookie");
    let first_end = h.recorded_end(&app, &anonymous).await;
    let t0 = first_end - ms(lifetime);
    // The anonymous session in use until t0 + 1.5 s.
    while now_ms() < t0 + 1_500 {
        assert_eq!(read_view(&client).await.0, map(&[("a", "1")]), "the anonymous session died early");
        tokio::time::sleep(POLL).await;
    }
    let before = now_ms();
    let r = client.post("/login?user_id=7").send().await;
    let after = now_ms();
    assert_eq!(r.status, 201, "{}", r.text());
    let cookie = the_cookie(&r);
    let max_age = cookie.max_age().expect("a Max-Age");
    assert!((1..=3).contains(&max_age), "Max-Age {max_age} for a session ending in 3 s");
    let id = cookie.value;
    assert_ne!(id, anonymous, "the login kept the id");
    assert!(h.record(&app, &anonymous).await.is_none(), "the pre-login id still exists");
    let end = h.recorded_end(&app, &id).await;
    assert!((before + ms(lifetime)..=after + ms(lifetime)).contains(&end), "end {end} not 3 s after the login");
    let (data, _, _, field) = read_view(&client).await;
    assert_eq!((data, field), (map(&[("a", "1"), ("user_id", "7")]), None));
    let last_alive = watch_until_gone(h, &app, &client, &id, "user_id", end).await;
    assert!(last_alive >= t0 + 3_500, "ended at the anonymous session's end: last alive {} ms in", last_alive - t0);
}

/// A handler writing the end field itself (far in the future) cannot extend
/// its session, whether it is an existing one or one this save creates: the
/// store keeps the layer's own end and the session still ends then, though
/// rolling expiry would otherwise keep it going.
async fn a_handler_cannot_move_the_end(h: &Harness) {
    let (max_age, lifetime) = (Duration::from_millis(1_500), Duration::from_secs(3));
    let app = h.app(SessionOptions::default().max_age(max_age).rolling(true).absolute_lifetime(lifetime));
    let far = (now_ms() + 24 * ms(HOUR)).to_string();
    let forge = format!("/forge?end={far}");
    // An existing session.
    let old = app.client();
    assert_eq!(old.post("/set?key=a&value=1").send().await.status, 200);
    let old_id = old.cookie(COOKIE).expect("a session cookie");
    let old_end = h.recorded_end(&app, &old_id).await;
    let r = old.post(&forge).send().await;
    assert_eq!((r.status.as_u16(), r.set_cookies().len()), (200, 0), "{}", r.text());
    assert_eq!(h.recorded_end(&app, &old_id).await, old_end, "the handler moved the end");
    let ab = map(&[("a", "1"), ("forged", "1")]);
    assert_eq!(read_view(&old).await, (ab.clone(), ab, 2, None));
    // A session this save creates.
    let new = app.client();
    let before = now_ms();
    assert_eq!(new.post(&forge).send().await.status, 200);
    let after = now_ms();
    let new_id = new.cookie(COOKIE).expect("a session cookie");
    let new_end = h.recorded_end(&app, &new_id).await;
    assert!((before + ms(lifetime)..=after + ms(lifetime)).contains(&new_end), "end {new_end}, forged {far}");
    assert_eq!(read_view(&new).await.0, map(&[("forged", "1")]));
    tokio::join!(
        watch_until_gone(h, &app, &old, &old_id, "a", old_end),
        watch_until_gone(h, &app, &new, &new_id, "forged", new_end),
    );
}

/// Without an absolute lifetime nothing changes: no end is stored (nor by a
/// login), the cookie's Max-Age and the store TTL are max_age.
async fn without_a_lifetime_no_end_is_recorded(h: &Harness) {
    let app = h.app(SessionOptions::default().max_age(HOUR));
    let client = app.client();
    let r = client.post("/set?key=a&value=1").send().await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(the_cookie(&r).max_age(), Some(3600));
    let a = map(&[("a", "1")]);
    assert_eq!(read_view(&client).await, (a.clone(), a, 1, None));
    let r = client.post("/login?user_id=7").send().await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(the_cookie(&r).max_age(), Some(3600));
    let id = client.cookie(COOKIE).expect("a session cookie");
    assert_eq!(read_view(&client).await.0, map(&[("a", "1"), ("user_id", "7")]));
    let (data, ttl) = h.record(&app, &id).await.expect("the session is stored");
    assert!(!data.contains_key(ENDS_AT_FIELD), "an end was recorded: {data:?}");
    assert!(data.get("user_id").is_some_and(|v| v == "7"), "{data:?}");
    assert!(ttl > ms(HOUR) - 60_000, "stored for only {ttl} ms");
}

/// A session ending in under a second still gets `Max-Age=1`, not
/// `Max-Age=0` (which tells the browser to delete the cookie at once): it is
/// usable until its end.
async fn a_short_lifetime_never_sends_max_age_zero(h: &Harness) {
    let app = h.app(SessionOptions::default().max_age(HOUR).absolute_lifetime(Duration::from_millis(900)));
    let client = app.client();
    let r = client.post("/set?key=a&value=1").send().await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(the_cookie(&r).max_age(), Some(1), "{:?}", r.set_cookies());
    let id = client.cookie(COOKIE).expect("a session cookie");
    let end = h.recorded_end(&app, &id).await;
    watch_until_gone(h, &app, &client, &id, "a", end).await;
}

/// A session written before the lifetime was switched on has no recorded
/// end. Rolling expiry does not extend it (it would live on for good): it
/// ends within max_age of its last write, however often it is read.
async fn a_session_without_a_recorded_end_is_not_extended(h: &Harness) {
    let max_age = Duration::from_millis(1_500);
    let before = h.app(SessionOptions::default().max_age(max_age).rolling(true));
    let client = before.client();
    let written = now_ms();
    assert_eq!(client.post("/set?key=a&value=1").send().await.status, 200);
    let id = client.cookie(COOKIE).expect("a session cookie");
    let (data, _) = h.record(&before, &id).await.expect("the session is stored");
    assert!(!data.contains_key(ENDS_AT_FIELD), "an end was recorded: {data:?}");
    // The same store, now served with an absolute lifetime.
    let after = h.app(SessionOptions::default().max_age(max_age).rolling(true).absolute_lifetime(HOUR));
    let client = after.client();
    let end = written + ms(max_age);
    let last_alive = watch(h, &after, &client, (&id, "a", end), true).await;
    assert!(last_alive + EARLY_MS >= end, "gone {} ms before max_age", end - last_alive);
}

/// Instantiates every scenario as a test on the memory store and on Redis.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod memory_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(&super::Harness::memory().await).await;
                }
            )*
        }
        mod redis_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(&super::Harness::redis().await).await;
                }
            )*
        }
    };
}

on_both_backends!(
    a_new_session_is_capped_by_the_lifetime,
    rolling_expiry_never_passes_the_end,
    a_login_begins_the_session_anew,
    a_handler_cannot_move_the_end,
    without_a_lifetime_no_end_is_recorded,
    a_short_lifetime_never_sends_max_age_zero,
    a_session_without_a_recorded_end_is_not_extended,
);
