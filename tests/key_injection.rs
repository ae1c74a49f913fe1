//! Key injection, on a real `redis-server`: no user id (query or path
//! parameter), cookie value or namespace can make the store touch a Redis key
//! outside its prefix, glob-match other keys, or end other users' sessions;
//! and the store never issues KEYS/SCAN (checked with `INFO commandstats`, not
//! MONITOR). User ids are `String`s here so every character gets through.
//! Needs `redis-server` on PATH.

mod hardening;
mod support;

use hardening::{encode, Browser, Running};
use http::{Method, StatusCode};
use support::commandstats::{command_counts, reset_stats};
use support::redis_server::RedisServer;
use uapi::login::{configure_async_login, AsyncLoginManager, AsyncLoginSession, LoginOptions};
use uapi::sessions::redis::{configure_async_sessions, RedisBackend};
use uapi::sessions::{SessionError, SessionOptions};
use uapi::status::Created;
use uapi::{handler, App};

const PREFIX: &str = "ki:";

/// User ids chosen to break a naive key scheme: globs, separators, CRLF,
/// traversal, hash tags, spaces, NUL, unicode, and text that looks like keys.
const HOSTILE_IDS: &[&str] = &[
    "*",
    "?",
    "[a-z]*",
    "a:b",
    "a\r\nDEL x\r\n",
    "..",
    "../../uapi:session:*",
    "{tag}",
    "{tag}*",
    "with space",
    "ünïcødé ✓ 用户",
    "nul\0byte",
    "uapi:ns:*",
    "2a",
    "",
    "alice",
];

#[handler]
async fn login(login_session: AsyncLoginSession<String>, user_id: String) -> Result<Created<()>, SessionError> {
    Ok(Created::new(()).with_headers(login_session.login_and_return(user_id).await?))
}

#[handler]
async fn me(current_user_id: String) -> String {
    current_user_id
}

#[handler]
async fn logout_everywhere(
    current_user_id: String,
    user_id: String,
    login_manager: AsyncLoginManager<String>,
) -> Result<String, SessionError> {
    let _ = current_user_id;
    Ok(login_manager.logout(&user_id).await?.to_string())
}

/// The same, as a second route (`DELETE /sessions?user_id=`: route names are unique).
#[handler]
async fn logout_everywhere_by_query(
    current_user_id: String,
    user_id: String,
    login_manager: AsyncLoginManager<String>,
) -> Result<String, SessionError> {
    logout_everywhere(current_user_id, user_id, login_manager).await
}

async fn site(redis: &RedisServer) -> Running {
    let mut app = App::new();
    let backend = RedisBackend::new(redis.connection_manager().await).key_prefix(PREFIX);
    let store = configure_async_sessions(&mut app, backend, SessionOptions::default());
    configure_async_login::<String>(&mut app, &store, LoginOptions::default());
    app.post("/login", login)
        .get("/me", me)
        .delete("/sessions/{user_id}", logout_everywhere)
        .delete("/sessions", logout_everywhere_by_query);
    Running::start(&app).await
}

async fn all_keys(con: &mut redis::aio::MultiplexedConnection) -> Vec<String> {
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query_async(con).await.expect("keys");
    keys.sort();
    keys
}

/// Every key is `ki:uapi:session:<43 base64url chars>` or `ki:uapi:ns:<hex>`.
fn assert_well_formed(keys: &[String]) {
    for key in keys {
        let rest = key.strip_prefix(PREFIX).unwrap_or_else(|| panic!("key outside the prefix: {key:?}"));
        if let Some(id) = rest.strip_prefix("uapi:session:") {
            assert!(
                id.len() == 43 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{key:?}"
            );
        } else if let Some(ns) = rest.strip_prefix("uapi:ns:") {
            assert!(ns.len() % 2 == 0 && ns.bytes().all(|b| b"0123456789abcdef".contains(&b)), "{key:?}");
        } else {
            panic!("unexpected key {key:?}");
        }
    }
}

/// Users with hostile ids log in on two devices each; hostile session
/// cookies are sent; every key stays under the prefix in the fixed layout;
/// logging out everywhere `*` (then every other hostile id, one by one) ends
/// exactly that user's sessions; and the store never ran KEYS or SCAN.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_user_ids_and_cookies_never_leave_the_prefix_or_reach_other_users() {
    let redis = RedisServer::start();
    let mut con = redis.client().get_multiplexed_async_connection().await.expect("conn");
    // A key of someone else sharing this Redis, which nothing may touch.
    let _: () = redis::cmd("SET").arg("other:app:key").arg("keep").query_async(&mut con).await.expect("set");
    let server = site(&redis).await;
    reset_stats(&mut con).await;

    let admin = Browser::new(server.addr);
    assert_eq!(admin.post("/login?user_id=admin").await.0, StatusCode::CREATED);
    let mut devices: Vec<(&str, [Browser; 2])> = Vec::new();
    for id in HOSTILE_IDS {
        let pair = [Browser::new(server.addr), Browser::new(server.addr)];
        for b in &pair {
            assert_eq!(b.post(&format!("/login?user_id={}", encode(id))).await.0, StatusCode::CREATED, "{id:?}");
            assert_eq!(b.get("/me").await, (StatusCode::OK, (*id).to_owned()));
        }
        devices.push((id, pair));
    }
    let keys = all_keys(&mut con).await;
    let sessions: Vec<_> = keys.iter().filter(|k| k.starts_with("ki:uapi:session:")).collect();
    let namespaces: Vec<_> = keys.iter().filter(|k| k.starts_with("ki:uapi:ns:")).collect();
    assert_eq!(sessions.len(), 2 * HOSTILE_IDS.len() + 1);
    assert_eq!(namespaces.len(), HOSTILE_IDS.len() + 1);
    assert_well_formed(
        &keys[..keys.len() - 1].iter().filter(|k| !k.starts_with("other:")).cloned().collect::<Vec<_>>(),
    );

    // Hostile session cookies: never a session, never a key, never a 5xx.
    let real = admin.cookie("session_id").expect("admin cookie");
    let mut hostile_cookies: Vec<Vec<u8>> = [
        "*".to_owned(),
        "*".repeat(43),
        format!("{}*", &real[..42]),
        format!("{}?", &real[..42]),
        format!("[{}", &real[1..]),
        format!("{}:", &real[..42]),
        format!("{real}:x"),
        format!("{PREFIX}uapi:session:{real}"),
        format!("../{real}"),
        format!("{}..", &real[..41]),
        format!("{{{}}}", &real[..41]),
        format!("{}%0D%0A", &real[..37]),
        format!("{}%2A", &real[..40]),
        format!("{} {}", &real[..21], &real[22..]),
        "uapi:ns:2a".to_owned(),
        "%00".repeat(43),
    ]
    .into_iter()
    .map(|v| format!("session_id={v}").into_bytes())
    .collect();
    hostile_cookies.push([b"session_id=".as_slice(), "ü".repeat(21).as_bytes(), b"x"].concat());
    hostile_cookies.push([b"session_id=".as_slice(), &[0xff; 43]].concat());
    let stranger = Browser::new(server.addr);
    for cookie in &hostile_cookies {
        let (status, _) = stranger.send_raw_cookie(Method::GET, "/me", Some(cookie)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{:?}", String::from_utf8_lossy(cookie));
        let (status, _) = stranger.send_raw_cookie(Method::POST, "/login?user_id=probe", Some(cookie)).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let after = all_keys(&mut con).await;
    // Each probe login made one session (a fresh id each time), in one namespace.
    assert_eq!(after.len(), keys.len() + hostile_cookies.len() + 1);
    assert_well_formed(&after.iter().filter(|k| !k.starts_with("other:")).cloned().collect::<Vec<_>>());

    // Log out everywhere, hostile ids one by one (alternately through the path
    // and the query parameter; the empty id only fits the query), `*` first:
    // each ends that user's two sessions and no one else's.
    let mut order: Vec<usize> = (0..devices.len()).collect();
    order.sort_by_key(|&i| devices[i].0 != "*");
    let mut gone = vec![false; devices.len()];
    for (n, i) in order.into_iter().enumerate() {
        let id = devices[i].0;
        let path = if n % 2 == 0 && !id.is_empty() {
            format!("/sessions/{}", encode(id))
        } else {
            format!("/sessions?user_id={}", encode(id))
        };
        let (status, body) = admin.delete(&path).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "2"), "logging out {id:?}");
        gone[i] = true;
        for (j, (other, pair)) in devices.iter().enumerate() {
            for b in pair {
                let expected = if gone[j] {
                    (StatusCode::FORBIDDEN, "forbidden".to_owned())
                } else {
                    (StatusCode::OK, (*other).to_owned())
                };
                assert_eq!(b.get("/me").await, expected, "after logging out {id:?}, user {other:?}");
            }
        }
        assert_eq!(admin.get("/me").await, (StatusCode::OK, "admin".to_owned()));
    }
    let stats = command_counts(&mut con).await;
    eprintln!("commands the app issued: {stats:?}");
    // The test itself ran KEYS twice and CONFIG RESETSTAT once; the store ran
    // no KEYS, no SCAN of any kind, nothing that flushes, renames or configures.
    let denied = ["keys", "scan", "hscan", "sscan", "zscan", "flushdb", "flushall", "randomkey", "rename", "config"];
    for (name, calls) in &stats {
        let base = name.split('|').next().unwrap_or_default();
        let ours = match name.as_str() {
            "keys" => 2,
            "config|resetstat" => 1,
            _ => 0,
        };
        if denied.contains(&base) {
            assert_eq!(*calls, ours, "{name} was issued by the store");
        }
    }
    // The store's reads: `HMGET` for `current_user_id` (its one field), `HGETALL` for a whole session.
    let reads = stats.get("hmget").copied().unwrap_or(0) + stats.get("hgetall").copied().unwrap_or(0);
    assert!(reads > 0, "commandstats saw the store's commands: {stats:?}");
    let other: String = redis::cmd("GET").arg("other:app:key").query_async(&mut con).await.expect("get");
    assert_eq!(other, "keep");
    server.shutdown().await;
}
