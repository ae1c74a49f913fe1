//! Redis-only guarantees seen through HTTP requests: round trips per request,
//! a Redis outage and recovery, and the key prefix.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

use crate::support::counting::Counting;

/// `calls` per command name, from `INFO commandstats` on the test's own
/// server. Redis counts every executed command, including those a Lua script
/// runs (under their own names: a save script's `exists`/`hset`/`pexpire`/
/// `pttl`), and the `info` calls themselves, which [`delta`] leaves out.
async fn command_calls(con: &mut redis::aio::MultiplexedConnection) -> HashMap<String, u64> {
    let info: String = redis::cmd("INFO").arg("commandstats").query_async(con).await.expect("info");
    info.lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest.strip_prefix("calls=")?.split(',').next()?.parse().ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}

/// The commands run between two snapshots (without `info`), by name.
fn delta(before: &HashMap<String, u64>, after: &HashMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter(|(name, _)| name.as_str() != "info")
        .map(|(name, n)| (name.clone(), n - before.get(name).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// The session app on Redis through `conn`, with session options `options`
/// and the Redis settings `backend` gives (for both stores, `session` and
/// `cart`).
fn redis_app(
    conn: impl Into<RedisConnection>,
    options: SessionOptions,
    backend: impl Fn(RedisBackend) -> RedisBackend,
) -> (AppService, SessionStore) {
    let conn = conn.into();
    let mut app = App::new();
    let store = configure_async_sessions(&mut app, backend(RedisBackend::new(conn.clone())), options.clone());
    let carts = options.cookie_name("cart_session").session_arg_param_name("cart");
    configure_async_sessions(&mut app, backend(RedisBackend::new(conn)), carts);
    app.get("/read", read)
        .post("/set", set)
        .post("/set_in", set_in)
        .post("/clear", clear)
        .post("/both", both_set)
        .get("/plain", plain);
    (app.build().expect("builds"), store)
}

/// Per HTTP request: loading a session is one round trip (`HGETALL`), saving
/// it one more (a transaction: `MULTI`, `HSET`, `PEXPIRE`, `EXEC` for a new
/// session, plus `HEXISTS` of the marker for an existing one); a handler
/// without a session, or a request whose cookie is not a valid id, costs none.
/// Counted twice: requests on the client connection (round trips) and, on
/// the server, `INFO commandstats` deltas (which commands ran).
#[tokio::test]
async fn a_request_costs_one_round_trip_to_load_and_one_to_save() {
    let server = RedisServer::start();
    let round_trips = Arc::new(AtomicUsize::new(0));
    let conn = Counting { inner: server.connection_manager().await, round_trips: round_trips.clone() };
    let (service, _) = redis_app(RedisConnection::single_node(conn), SessionOptions::default(), |b| b);
    let mut inspect = server.client().get_multiplexed_async_connection().await.expect("inspection connection");
    let taken = || round_trips.swap(0, Ordering::SeqCst);

    // A new session (no cookie): no load, and no script either.
    let client = TestClient::from_service(service.clone());
    let before = command_calls(&mut inspect).await;
    set_kv(&client, "a", "1").await;
    let after = command_calls(&mut inspect).await;
    assert_eq!(taken(), 1, "creating a session is one round trip");
    let d = delta(&before, &after);
    let sent = ["hgetall", "evalsha", "multi", "hset", "pexpire", "exec"].map(|c| d.get(c).copied().unwrap_or(0));
    assert_eq!(sent, [0, 0, 1, 1, 1, 1], "{d:?}");

    // An update: one load, one save, and no script.
    set_kv(&client, "a", "1").await;
    assert_eq!(taken(), 2, "load + save");

    // Read only: one round trip.
    let before = command_calls(&mut inspect).await;
    assert_eq!(read_map(&client).await, map(&[("a", "1")]));
    let after = command_calls(&mut inspect).await;
    assert_eq!(taken(), 1, "a session read is one round trip");
    // Without rolling expiry a load needs no TTL: a single HGETALL.
    assert_eq!(delta(&before, &after), BTreeMap::from([("hgetall".to_owned(), 1)]));

    // Load and save an existing session: two round trips; the save is one
    // transaction (HSET of the changed fields, PEXPIRE NX, HEXISTS of the
    // session's marker to tell a session deleted meanwhile); no script, no PTTL.
    let before = command_calls(&mut inspect).await;
    set_kv(&client, "b", "2").await;
    let after = command_calls(&mut inspect).await;
    assert_eq!(taken(), 2, "load + save of an existing session");
    let d = delta(&before, &after);
    let sent = ["hgetall", "multi", "hset", "pexpire", "hexists", "exec"].map(|c| d.get(c).copied().unwrap_or(0));
    assert_eq!(sent, [1, 1, 1, 1, 1, 1], "{d:?}");
    assert_eq!((d.get("evalsha"), d.get("pttl"), d.get("exists")), (None, None, None), "{d:?}");

    // No session parameter, or a cookie that is no id: nothing at all.
    let before = command_calls(&mut inspect).await;
    let r = client.get("/plain").send().await;
    assert_eq!((r.status.as_u16(), r.text().as_str()), (200, "plain"));
    for raw in ["session_id=*", "session_id=uapi:session:*", "session_id=%0d%0aFLUSHALL", "session_id="] {
        let r = TestClient::from_service(service.clone()).get("/read").header("cookie", raw).send().await;
        assert_eq!(r.status, 200);
    }
    let after = command_calls(&mut inspect).await;
    assert_eq!(taken(), 0, "requests without a valid session cookie must not reach Redis");
    assert_eq!(delta(&before, &after), BTreeMap::new());
}

/// Redis killed mid-test: requests that need the session store get a 503
/// saying so within the command timeout (plus a margin), requests that do not
/// keep getting 200; after a restart on the same port the SAME app (no
/// rebuild) serves sessions again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_is_a_503_and_the_same_app_recovers_after_a_restart() {
    let mut server = RedisServer::start();
    let timeout = Duration::from_secs(1);
    let margin = Duration::from_millis(500);
    let (service, _) =
        redis_app(server.connection_manager().await, SessionOptions::default(), |b| b.command_timeout(timeout));
    let client = TestClient::from_service(service.clone());
    set_kv(&client, "a", "1").await;
    assert_eq!(read_map(&client).await, map(&[("a", "1")]));

    server.kill();
    for (what, path, fresh) in [
        ("load", "/read", false),
        ("load", "/read", false),
        ("load + save", "/set?key=b&value=2", false),
        ("create", "/set?key=c&value=3", true),
    ] {
        let c = if fresh { TestClient::from_service(service.clone()) } else { client.clone() };
        let start = Instant::now();
        let method = if path.starts_with("/set") { c.post(path) } else { c.get(path) };
        let r = method.send().await;
        let elapsed = start.elapsed();
        assert_eq!(r.status, 503, "{what}: {}", r.text());
        assert!(r.text().contains("session store unavailable"), "{what}: unclear message {:?}", r.text());
        assert!(elapsed < timeout + margin, "{what}: took {elapsed:?}");
        assert!(r.set_cookies().is_empty(), "{what}: a cookie for a session that was not saved");
        // Requests that need no store are unaffected, as is an anonymous read.
        let r = client.get("/plain").send().await;
        assert_eq!(r.status, 200);
        assert_eq!(read_map(&TestClient::from_service(service.clone())).await, Map::new());
    }

    server.restart();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let r = client.post("/set?key=after&value=restart").send().await;
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 503, "{}", r.text());
        assert!(Instant::now() < deadline, "never recovered: {}", r.text());
        tokio::time::sleep(POLL).await;
    }
    // The restarted server kept nothing (no persistence), so that save started
    // a new session; it and later ones work as before.
    assert_eq!(read_map(&client).await, map(&[("after", "restart")]));
    set_kv(&client, "more", "1").await;
    assert_eq!(read_map(&client).await, map(&[("after", "restart"), ("more", "1")]));
}

/// Every key the app creates (sessions, carts, namespace indexes) carries the
/// backend's key prefix, in the documented layout (a store with another
/// cookie than `session_id` puts its cookie name after the prefix).
#[tokio::test]
async fn every_key_the_app_creates_carries_the_configured_prefix() {
    let server = RedisServer::start();
    let mut inspect = server.client().get_multiplexed_async_connection().await.expect("inspection connection");
    let (service, store) =
        redis_app(server.connection_manager().await, SessionOptions::default(), |b| b.key_prefix("app1:"));
    let (ann, bob, cleared) = (
        TestClient::from_service(service.clone()),
        TestClient::from_service(service.clone()),
        TestClient::from_service(service.clone()),
    );
    assert_eq!(ann.post("/set_in?ns=alice&key=k&value=1").send().await.status, 200);
    set_kv(&bob, "k", "2").await;
    assert_eq!(bob.post("/both?s=S&c=C").send().await.status, 200);
    set_kv(&cleared, "k", "3").await;
    assert_eq!(cleared.post("/clear").send().await.status, 200);

    // KEYS is fine here: it is the test's own throwaway server.
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query_async(&mut inspect).await.expect("keys");
    keys.sort();
    let session = |c: &TestClient| format!("app1:uapi:session:{}", c.cookie("session_id").expect("cookie"));
    let mut want = vec![
        session(&ann),
        session(&bob),
        format!("app1:cart_session:uapi:session:{}", bob.cookie("cart_session").expect("cart cookie")),
        format!("app1:uapi:ns:{}", "616c696365"), // hex("alice")
    ];
    want.sort();
    assert_eq!(keys, want);

    assert_eq!(store.remove_namespace("alice").await.expect("remove_namespace"), 1);
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query_async(&mut inspect).await.expect("keys");
    assert!(keys.iter().all(|k| k.starts_with("app1:")), "{keys:?}");
    assert!(!keys.contains(&session(&ann)) && keys.contains(&session(&bob)), "{keys:?}");
}

/// `POST /cart_set?key&value`: sets one key of the cart and saves.
#[handler]
async fn cart_set(cart: AsyncSession, key: String, value: String) -> Result<&'static str, SessionError> {
    cart.insert(key, value);
    cart.update_session_in("alice").await?;
    Ok("ok")
}

/// Two stores configured on one Redis with the SAME key prefix (the documented
/// `session` + `cart` setup) never share keys: a cart id replayed as the session
/// cookie finds nothing (so a cart key named `user_id` cannot pose as a login),
/// and ending a namespace in one store leaves the other's sessions alone.
#[tokio::test]
async fn stores_side_by_side_on_one_redis_never_share_sessions() {
    let server = RedisServer::start();
    let conn = server.connection_manager().await;
    let mut app = App::new();
    let store = configure_async_sessions(&mut app, conn.clone(), SessionOptions::default());
    let carts = configure_async_sessions(
        &mut app,
        conn,
        SessionOptions::default().cookie_name("cart_session").session_arg_param_name("cart"),
    );
    app.get("/read", read).post("/set_in", set_in).post("/cart_set", cart_set);
    let client = TestClient::from_service(app.build().expect("builds"));

    assert_eq!(client.post("/cart_set?key=user_id&value=1").send().await.status, 200);
    let cart_id = client.cookie("cart_session").expect("a cart cookie");
    let forger = TestClient::from_service(client.service().clone());
    forger.set_cookie("session_id", &cart_id);
    assert_eq!(forger.get("/read").send().await.text(), "{}", "the cart id is no session");

    assert_eq!(client.post("/set_in?ns=alice&key=k&value=v").send().await.status, 200);
    assert_eq!(carts.remove_namespace("alice").await.expect("remove"), 1, "only the cart ended");
    assert_eq!(client.get("/read").send().await.text(), r#"{"k":"v"}"#, "the session lives on");
    assert_eq!(store.remove_namespace("alice").await.expect("remove"), 1);
}
