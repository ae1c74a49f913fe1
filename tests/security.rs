//! Security properties not covered elsewhere: session ids over HTTP are
//! distinct, 256-bit, and show no trace of a clock or a counter (a simple,
//! generous statistical check); and a cookie from another store, or from the
//! same store under another prefix, or tampered with, never reads anyone's
//! session. Needs `redis-server` on PATH.

mod hardening;
mod support;

#[path = "../examples/login/app.rs"]
#[allow(dead_code)]
mod login_app;

use std::collections::HashSet;
use std::time::Duration;

use hardening::{http1_client, Browser, Running};
use http::StatusCode;
use support::redis_server::RedisServer;
use uapi::login::{configure_async_login, AsyncLoginSession, LoginOptions};
use uapi::sessions::redis::configure_async_sessions;
use uapi::sessions::{configure_sessions, AsyncSession, MemoryStore, RedisBackend, SessionError, SessionOptions};
use uapi::status::Created;
use uapi::{handler, App};

/// `POST /new`: saves a one-key session, so the response sets a fresh id.
#[handler]
async fn new_session(session: AsyncSession) -> Result<&'static str, SessionError> {
    session.insert("k", "v");
    session.update_session().await?;
    Ok("ok")
}

/// base64url (no padding) to bytes; `None` on a character outside the alphabet.
fn decode(s: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    Some(out)
}

fn hamming(a: &[u8], b: &[u8]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// 1,000 sessions created back to back over HTTP get 1,000 distinct ids of
/// 43 base64url characters (256 bits). Nothing ties them to a clock or a
/// counter: consecutive ids share at most a few leading characters and differ
/// in about half their bits (mean Hamming distance within 128 ± 8, where the
/// standard error is about 0.25), and each bit position is set in roughly half
/// of the ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_fresh_sessions_have_distinct_unpredictable_256_bit_ids() {
    let mut app = App::new();
    configure_sessions(&mut app, MemoryStore::new(), SessionOptions::default().cookie_settings(Default::default()));
    app.post("/new", new_session);
    let server = Running::start(&app).await;
    let http = http1_client();
    let mut ids = Vec::new();
    for _ in 0..1000 {
        let b = Browser::with_client(server.addr, http.clone());
        assert_eq!(b.post("/new").await.0, StatusCode::OK);
        ids.push(b.cookie("session_id").expect("a session cookie"));
    }
    let distinct: HashSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), 1000, "repeated ids");
    let raw: Vec<Vec<u8>> = ids
        .iter()
        .map(|id| {
            assert_eq!(id.len(), 43, "{id}");
            let bytes = decode(id).unwrap_or_else(|| panic!("not base64url: {id}"));
            assert_eq!(bytes.len(), 32, "{id}");
            bytes
        })
        .collect();
    let mut total = 0u64;
    for (pair, raw_pair) in ids.windows(2).zip(raw.windows(2)) {
        let common = pair[0].bytes().zip(pair[1].bytes()).take_while(|(a, b)| a == b).count();
        assert!(common <= 4, "consecutive ids share a {common}-char prefix: {} {}", pair[0], pair[1]);
        let d = hamming(&raw_pair[0], &raw_pair[1]);
        assert!((64..=192).contains(&d), "consecutive ids differ in {d} of 256 bits");
        total += u64::from(d);
    }
    let mean = total as f64 / 999.0;
    assert!((120.0..=136.0).contains(&mean), "mean Hamming distance {mean}");
    for bit in 0..256 {
        let set = raw.iter().filter(|r| r[bit / 8] & (0x80 >> (bit % 8)) != 0).count();
        assert!((350..=650).contains(&set), "bit {bit} set in {set} of 1000 ids");
    }
    eprintln!("mean Hamming distance of consecutive ids: {mean:.2} / 256");
    server.shutdown().await;
}

/// The login example on Redis (carts under `cart:`, as its `main.rs` does):
/// a cart id in the `session_id` cookie, a session id in `cart_session`, and
/// a session id with one character changed are all nobody's session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_from_the_other_store_or_tampered_reads_no_session() {
    let redis = RedisServer::start();
    let conn = redis.connection_manager().await;
    let settings = login_app::Settings {
        max_age: Duration::from_secs(3600),
        insecure_cookies: true,
        demo_login: true,
        ..Default::default()
    };
    let store = login_app::Store::Redis {
        conn: conn.into(),
        key_prefix: String::new(),
        command_timeout: Duration::from_secs(2),
    };
    let app = login_app::build(store, &settings);
    let server = Running::start(&app).await;
    let alice = Browser::new(server.addr);
    assert_eq!(alice.post("/login?user_id=7").await.0, StatusCode::CREATED);
    assert_eq!(alice.post("/cart?item=tea").await.1, "tea");
    let (session, cart) = (alice.cookie("session_id").expect("session"), alice.cookie("cart_session").expect("cart"));

    let mallory = Browser::new(server.addr);
    mallory.set_cookie("session_id", &cart);
    assert_eq!(mallory.get("/").await, (StatusCode::OK, "no user".to_owned()));
    assert_eq!(mallory.get("/me").await.0, StatusCode::FORBIDDEN);
    let mallory = Browser::new(server.addr);
    mallory.set_cookie("cart_session", &session);
    assert_eq!(mallory.get("/cart").await, (StatusCode::OK, String::new()));
    // Swapped both ways at once.
    let mallory = Browser::new(server.addr);
    mallory.set_cookie("session_id", &cart);
    mallory.set_cookie("cart_session", &session);
    assert_eq!(mallory.get("/").await.1, "no user");
    assert_eq!(mallory.get("/cart").await.1, "");
    // One character changed, at each end and in the middle.
    for pos in [0, 21, 42] {
        let mut tampered: Vec<u8> = session.clone().into_bytes();
        tampered[pos] = if tampered[pos] == b'A' { b'B' } else { b'A' };
        let mallory = Browser::new(server.addr);
        mallory.set_cookie("session_id", std::str::from_utf8(&tampered).expect("ascii"));
        assert_eq!(mallory.get("/").await.1, "no user", "tampered at {pos}");
    }
    // Alice is unaffected.
    assert_eq!(alice.get("/").await.1, "7");
    assert_eq!(alice.get("/cart").await.1, "tea");
    server.shutdown().await;
}

#[handler]
async fn login(login_session: AsyncLoginSession<i64>, user_id: i64) -> Result<Created<()>, SessionError> {
    Ok(Created::new(()).with_headers(login_session.login_and_return(user_id).await?))
}

#[handler]
async fn whoami(current_user_id: Option<i64>) -> String {
    current_user_id.map_or_else(|| "no user".to_owned(), |id| id.to_string())
}

async fn prefixed_site(redis: &RedisServer, prefix: &str) -> Running {
    let mut app = App::new();
    let backend = RedisBackend::new(redis.connection_manager().await).key_prefix(prefix);
    let store = configure_async_sessions(&mut app, backend, SessionOptions::default());
    configure_async_login::<i64>(&mut app, &store, LoginOptions::default());
    app.post("/login", login).get("/", whoami);
    Running::start(&app).await
}

/// Two apps with the same cookie name on one Redis, under the prefixes
/// `app1:` and `app2:`: a session of one, replayed to the other, is nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_from_the_same_store_under_another_prefix_reads_no_session() {
    let redis = RedisServer::start();
    let (one, two) = (prefixed_site(&redis, "app1:").await, prefixed_site(&redis, "app2:").await);
    let alice = Browser::new(one.addr);
    assert_eq!(alice.post("/login?user_id=7").await.0, StatusCode::CREATED);
    assert_eq!(alice.get("/").await.1, "7");
    let replay = Browser::new(two.addr);
    replay.set_cookie("session_id", &alice.cookie("session_id").expect("cookie"));
    assert_eq!(replay.get("/").await, (StatusCode::OK, "no user".to_owned()));
    // And the other way: bob on app2, replayed on app1.
    let bob = Browser::new(two.addr);
    assert_eq!(bob.post("/login?user_id=8").await.0, StatusCode::CREATED);
    let replay = Browser::new(one.addr);
    replay.set_cookie("session_id", &bob.cookie("session_id").expect("cookie"));
    assert_eq!(replay.get("/").await.1, "no user");
    assert_eq!(alice.get("/").await.1, "7");
    assert_eq!(bob.get("/").await.1, "8");
    one.shutdown().await;
    two.shutdown().await;
}

/// One request with `headers`, as a browser on `origin`'s page would send it.
async fn post_with(
    addr: std::net::SocketAddr,
    path: &str,
    cookie: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut request = http::Request::post(format!("http://{addr}{path}")).header("cookie", cookie);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = http1_client()
        .request(request.body(http_body_util::Full::default()).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let body = http_body_util::BodyExt::collect(response.into_body()).await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The login example's cross-site guard: a POST carrying the session cookie
/// from another site's page (its `Origin`, or `Sec-Fetch-Site`) is a 403 that
/// says why, and the session lives on; same-origin pages and clients that send
/// neither header (curl, servers) pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_example_refuses_cross_site_writes_that_carry_the_cookie() {
    let settings = login_app::Settings {
        max_age: Duration::from_secs(3600),
        insecure_cookies: true,
        demo_login: true,
        ..Default::default()
    };
    let server = Running::start(&login_app::build(login_app::Store::Memory, &settings)).await;
    let alice = Browser::new(server.addr);
    assert_eq!(alice.post("/login?user_id=7").await.0, StatusCode::CREATED);
    let cookie = format!("session_id={}", alice.cookie("session_id").expect("logged in"));
    let host = server.addr.to_string();
    let own_origin = format!("http://{host}");

    for headers in [
        vec![("origin", "https://evil.example")],
        vec![("origin", "null")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
    ] {
        let (status, body) = post_with(server.addr, "/logout", &cookie, &headers).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(body.starts_with("cross-site request refused"), "{body}");
    }
    assert_eq!(alice.get("/me").await, (StatusCode::OK, "7".to_owned()), "refused writes changed nothing");

    // Same-origin writes on the session store pass (logging in again as the
    // same user reads and keeps the session).
    let (status, _) = post_with(server.addr, "/login?user_id=7", &cookie, &[("origin", own_origin.as_str())]).await;
    assert_eq!(status, StatusCode::CREATED, "a same-origin page");
    let (status, _) = post_with(server.addr, "/login?user_id=7", &cookie, &[("sec-fetch-site", "same-origin")]).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = post_with(server.addr, "/logout", &cookie, &[]).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "a client that sends neither header");
    assert_eq!(alice.get("/me").await.0, StatusCode::FORBIDDEN, "logged out");
    server.shutdown().await;
}
