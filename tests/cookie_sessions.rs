//! Specification of secure sessions (`configure_secure_sessions`): the
//! session kept in its cookie, encrypted and authenticated, over HTTP through
//! the in-process [`TestClient`]. Round trips, the cookie's attributes,
//! tampering, key rotation, expiry, the size limit, stores side by side;
//! login on top in `cookie_sessions/login.rs`, any bytes as the cookie in
//! `cookie_sessions/hostile.rs` (a property test).

mod support;

#[path = "cookie_sessions/hostile.rs"]
mod hostile;
#[path = "cookie_sessions/login.rs"]
mod login;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::set_cookie::SetCookie;
use uapi::sessions::secure::{configure_secure_sessions, KeyError, SecretKey, SecretKeys};
use uapi::sessions::{SecureSession, SessionError, SessionOptions};
use uapi::status::BadRequest;
use uapi::testing::{TestClient, TestResponse};
use uapi::{handler, App, Json};

/// The upper bound on anything a test waits for; never reached when things work.
const PATIENCE: Duration = Duration::from_secs(10);
/// How often the bounded poll loops look again.
const POLL: Duration = Duration::from_millis(20);
/// The session cookie's name (the default).
const SESSION: &str = "session_id";
/// The second store's cookie.
const CART: &str = "cart_session";

type Map = BTreeMap<String, String>;

/// `GET /read`: the session's data; never writes.
#[handler]
async fn read(session: SecureSession) -> Json<Map> {
    Json(session.iter().collect())
}

/// `POST /set?key&value`: sets one key and saves.
#[handler]
async fn set(session: SecureSession, key: String, value: String) -> Result<&'static str, SessionError> {
    session.insert(key, value);
    session.update_session().await?;
    Ok("ok")
}

/// `POST /save`: saves without changing anything.
#[handler]
async fn save(session: SecureSession) -> Result<&'static str, SessionError> {
    session.update_session().await?;
    Ok("saved")
}

/// `POST /clear`: ends the session.
#[handler]
async fn clear(session: SecureSession) -> Result<&'static str, SessionError> {
    session.clear_session().await?;
    Ok("cleared")
}

/// `POST /big?bytes=N`: stores N bytes; a 400 carrying the error's words
/// when the cookie would be too large.
#[handler]
async fn big(session: SecureSession, bytes: usize) -> Result<&'static str, BadRequest<String>> {
    session.insert("big", "x".repeat(bytes));
    match session.update_session().await {
        Ok(_) => Ok("stored"),
        Err(e @ SessionError::TooLarge { .. }) => Err(BadRequest::new(e.to_string())),
        Err(e) => panic!("not the size error: {e}"),
    }
}

/// `POST /big_default?bytes=N`: as `/big`, the error answered as uapi does.
#[handler]
async fn big_default(session: SecureSession, bytes: usize) -> Result<&'static str, SessionError> {
    session.insert("big", "x".repeat(bytes));
    session.update_session().await?;
    Ok("stored")
}

/// `POST /cart?item`: adds to the second store, `cart`.
#[handler]
async fn add_to_cart(cart: SecureSession, item: String) -> Result<String, SessionError> {
    let items = cart.get("items").map_or(item.clone(), |items| format!("{items},{item}"));
    cart.insert("items", items.clone());
    cart.update_session().await?;
    Ok(items)
}

/// `GET /cart`: the second store's data.
#[handler]
async fn show_cart(cart: SecureSession) -> Json<Map> {
    Json(cart.iter().collect())
}

fn key(seed: u8) -> SecretKey {
    SecretKey::from_bytes(&[seed; 32]).expect("32 bytes")
}

/// The app: `session` and `cart` stores under `keys`, `Secure` cookies.
fn app_with(keys: SecretKeys, options: SessionOptions) -> App {
    let mut app = App::new();
    configure_secure_sessions(&mut app, keys.clone(), options.clone());
    configure_secure_sessions(&mut app, keys, options.cookie_name(CART).session_arg_param_name("cart"));
    app.get("/read", read)
        .post("/set", set)
        .post("/save", save)
        .post("/clear", clear)
        .post("/big", big)
        .post("/big_default", big_default)
        .post("/cart", add_to_cart)
        .get("/cart", show_cart);
    app
}

fn client(keys: impl Into<SecretKeys>) -> TestClient {
    client_with(keys.into(), SessionOptions::default())
}

fn client_with(keys: SecretKeys, options: SessionOptions) -> TestClient {
    TestClient::new(&app_with(keys, options)).expect("the app builds")
}

/// The `Set-Cookie` of `name` in `response`.
fn set_cookie(response: &TestResponse, name: &str) -> Option<SetCookie> {
    response.set_cookies().iter().map(|c| SetCookie::parse(c)).find(|c| c.name == name)
}

/// The session data as `client` sees it with `cookie` as the session cookie.
async fn read_with(client: &TestClient, cookie: &str) -> (u16, Map) {
    let response = client.get("/read").header("cookie", &format!("{SESSION}={cookie}")).send().await;
    (response.status.as_u16(), response.json().unwrap_or_default())
}

/// A session cookie holding `{"a": "1"}`, sealed by `client`'s app.
async fn sealed(client: &TestClient) -> String {
    let response = client.post("/set?key=a&value=1").send().await;
    assert_eq!(response.status, 200, "{}", response.text());
    set_cookie(&response, SESSION).expect("a session cookie").value
}

fn one() -> Map {
    Map::from([("a".to_owned(), "1".to_owned())])
}

/// Data saved in one request is there in the next; reads set no cookie.
#[tokio::test]
async fn a_saved_session_comes_back() {
    let client = client(key(1));
    assert_eq!(client.get("/read").send().await.json::<Map>().expect("json"), Map::new());
    client.post("/set?key=a&value=1").send().await;
    client.post("/set?key=b&value=2").send().await;
    let response = client.get("/read").send().await;
    let expected = Map::from([("a".into(), "1".into()), ("b".into(), "2".into())]);
    assert_eq!(response.json::<Map>().expect("json"), expected);
    assert!(response.set_cookies().is_empty(), "a read sets no cookie: {:?}", response.set_cookies());
}

/// The cookie has the server-side stores' attributes, a `Max-Age` of the
/// session's time left, and nothing readable of the data in it.
#[tokio::test]
async fn the_cookie_is_httponly_secure_lax_and_opaque() {
    let client = client(key(1));
    let response = client.post("/set?key=secret&value=plain-text-value").send().await;
    let cookie = set_cookie(&response, SESSION).expect("a session cookie");
    assert_eq!(cookie.attr("httponly"), Some(None));
    assert_eq!(cookie.attr("secure"), Some(None));
    assert_eq!(cookie.attr("samesite"), Some(Some("Lax")));
    assert_eq!(cookie.attr("path"), Some(Some("/")));
    let max_age = cookie.max_age().expect("Max-Age");
    assert!((1_209_599..=1_209_600).contains(&max_age), "{max_age}");
    assert!(!cookie.value.contains("plain") && !cookie.value.contains("secret"), "{}", cookie.value);
    assert!(cookie.value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
}

/// Two saves of the same data are different bytes (a fresh nonce each).
#[tokio::test]
async fn each_seal_is_new_bytes() {
    let client = client(key(1));
    let first = sealed(&client).await;
    client.clear_cookies();
    assert_ne!(first, sealed(&client).await);
}

/// Changing any single character of the cookie gives a fresh session, never
/// a 500, and so does every truncation.
#[tokio::test]
async fn any_changed_byte_or_truncation_is_a_fresh_session() {
    let client = client(key(1));
    let value = sealed(&client).await;
    assert_eq!(read_with(&client, &value).await, (200, one()));
    for i in 0..value.len() {
        let mut bytes = value.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).expect("ASCII");
        assert_eq!(read_with(&client, &tampered).await, (200, Map::new()), "byte {i} changed");
    }
    for len in 0..value.len() {
        assert_eq!(read_with(&client, &value[..len]).await, (200, Map::new()), "cut to {len}");
    }
    let longer = format!("{value}A");
    assert_eq!(read_with(&client, &longer).await, (200, Map::new()));
}

/// A cookie sealed under another key is a fresh session.
#[tokio::test]
async fn a_foreign_keys_cookie_is_a_fresh_session() {
    let value = sealed(&client(key(1))).await;
    assert_eq!(read_with(&client(key(2)), &value).await, (200, Map::new()));
}

/// Rotation: a cookie of the old key opens while it is listed; the next save
/// seals it with the current key (even with nothing changed), which the
/// current key alone opens; a current-key cookie with nothing changed is not
/// sealed again.
#[tokio::test]
async fn old_key_cookies_open_and_are_resealed_with_the_current_key() {
    let old_value = sealed(&client(key(1))).await;
    let rotated = client(SecretKeys::new(key(2)).with_old(key(1)));
    assert_eq!(read_with(&rotated, &old_value).await, (200, one()), "the old key still opens");
    let current_only = client(key(2));
    assert_eq!(read_with(&current_only, &old_value).await, (200, Map::new()), "the new key alone does not");

    let response = rotated.post("/save").header("cookie", &format!("{SESSION}={old_value}")).send().await;
    let resealed = set_cookie(&response, SESSION).expect("re-sealed on save").value;
    assert_eq!(read_with(&current_only, &resealed).await, (200, one()), "sealed with the current key");

    let again = rotated.post("/save").header("cookie", &format!("{SESSION}={resealed}")).send().await;
    assert!(again.set_cookies().is_empty(), "unchanged and current: {:?}", again.set_cookies());
}

/// A cookie past its `max_age` is refused even when the client keeps sending
/// it (the issue time is inside, sealed).
#[tokio::test]
async fn an_expired_cookie_is_refused() {
    let client = client_with(key(1).into(), SessionOptions::default().max_age(Duration::from_millis(400)));
    let sealed_at = Instant::now();
    let value = sealed(&client).await;
    let (_, first) = read_with(&client, &value).await;
    // The first read may only miss if the machine stalled past max_age.
    assert!(first == one() || sealed_at.elapsed() >= Duration::from_millis(400), "{first:?}");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, data) = read_with(&client, &value).await;
        assert_eq!(status, 200);
        if data.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "still open after {PATIENCE:?}");
        tokio::time::sleep(POLL).await;
    }
    assert!(sealed_at.elapsed() >= Duration::from_millis(400), "refused before its max_age");
}

/// A session whose cookie would pass 4096 bytes is an error from
/// `update_session` naming the limit, and no cookie goes out; one that fits
/// goes out whole, under the limit.
#[tokio::test]
async fn a_session_over_the_cookie_limit_is_an_error_naming_it() {
    let client = client(key(1));
    let fits = client.post("/big?bytes=2000").send().await;
    assert_eq!((fits.status.as_u16(), fits.text().as_str()), (200, "stored"));
    let header = fits.set_cookies().into_iter().find(|c| c.starts_with(SESSION)).expect("a cookie");
    assert!(header.len() <= 4096, "{}", header.len());

    client.clear_cookies();
    let over = client.post("/big?bytes=3500").send().await;
    assert_eq!(over.status, 400);
    assert!(over.text().contains("4096"), "{}", over.text());
    assert!(over.set_cookies().is_empty(), "{:?}", over.set_cookies());

    let as_uapi_answers = client.post("/big_default?bytes=3500").send().await;
    assert_eq!(as_uapi_answers.status, 500);
    assert!(as_uapi_answers.set_cookies().is_empty());
}

/// The error's words name the limit and the way out.
#[test]
fn the_size_error_says_what_to_do() {
    let message = SessionError::TooLarge { size: 5000, limit: 4096 }.to_string();
    assert!(message.contains("5000") && message.contains("4096-byte limit"), "{message}");
}

/// A key of fewer than 256 bits is refused when it is made, saying so.
#[test]
fn a_short_key_is_a_clear_error() {
    let error = SecretKey::from_bytes(&[1; 31]).expect_err("31 bytes is short");
    assert_eq!(error, KeyError::TooShort { got: 31 });
    assert!(error.to_string().contains("at least 32 bytes (256 bits)"), "{error}");
    assert!(matches!(SecretKey::from_base64("c2hvcnQ="), Err(KeyError::TooShort { got: 5 })));
    assert!(matches!(SecretKey::from_base64("not base64!"), Err(KeyError::NotBase64(_))));
    let b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    for text in [b64.to_owned(), format!("{b64}="), b64.replace('/', "_"), format!(" {b64}=\n")] {
        assert!(SecretKey::from_base64(&text).is_ok(), "{text:?}");
    }
}

/// A longer secret works as a key, and the same bytes always give the same
/// key (another process opens the cookie).
#[tokio::test]
async fn keys_from_the_same_secret_open_each_others_cookies() {
    let secret = b"a long random secret from the secrets manager, 64 bytes or so....";
    let value = sealed(&client(SecretKey::from_bytes(secret).expect("key"))).await;
    let other_process = client(SecretKey::from_bytes(secret).expect("key"));
    assert_eq!(read_with(&other_process, &value).await, (200, one()));
}

/// Two stores side by side keep their own cookies and data, and a cookie of
/// one is no session of the other, though both use the same key.
#[tokio::test]
async fn two_stores_live_side_by_side() {
    let client = client(key(1));
    client.post("/set?key=a&value=1").send().await;
    let response = client.post("/cart?item=apple").send().await;
    assert_eq!(response.text(), "apple");
    assert_eq!(client.post("/cart?item=pear").send().await.text(), "apple,pear");
    assert_eq!(client.get("/read").send().await.json::<Map>().expect("json"), one());
    let cart = client.cookie(CART).expect("a cart cookie");
    assert_ne!(Some(&cart), client.cookie(SESSION).as_ref());
    assert_eq!(read_with(&client, &cart).await, (200, Map::new()), "a cart cookie is no session");
}

/// Clearing expires the cookie; the next read is a fresh session; clearing
/// without a session sets nothing.
#[tokio::test]
async fn clearing_expires_the_cookie() {
    let client = client(key(1));
    client.post("/set?key=a&value=1").send().await;
    let response = client.post("/clear").send().await;
    let cookie = set_cookie(&response, SESSION).expect("an expiring cookie");
    assert_eq!((cookie.value.as_str(), cookie.max_age()), ("", Some(0)));
    assert_eq!(client.get("/read").send().await.json::<Map>().expect("json"), Map::new());
    let nothing = client.post("/clear").send().await;
    assert!(nothing.set_cookies().is_empty(), "{:?}", nothing.set_cookies());
}

/// Rolling expiry: a session read past half its life is sealed again with a
/// full `max_age`; before that, reads set no cookie.
#[tokio::test]
async fn rolling_sessions_are_renewed_past_half_their_life() {
    let options = SessionOptions::default().max_age(Duration::from_secs(2)).rolling(true);
    let client = client_with(key(1).into(), options);
    let sealed_at = Instant::now();
    let value = sealed(&client).await;
    let deadline = Instant::now() + PATIENCE;
    let renewed = loop {
        let response = client.get("/read").header("cookie", &format!("{SESSION}={value}")).send().await;
        assert_eq!(response.json::<Map>().expect("json"), one(), "still open");
        if let Some(cookie) = set_cookie(&response, SESSION) {
            break cookie;
        }
        assert!(Instant::now() < deadline, "never renewed");
        tokio::time::sleep(POLL).await;
    };
    assert!(sealed_at.elapsed() >= Duration::from_secs(1), "renewed before half its life");
    assert_eq!(renewed.max_age(), Some(2));
    assert_eq!(read_with(&client, &renewed.value).await, (200, one()));
}

/// With the cross-site guard on, a write carrying the cookie from another
/// site is a 403, as with the server-side stores.
#[tokio::test]
async fn the_cross_site_guard_holds() {
    let client = client_with(key(1).into(), SessionOptions::default().refuse_cross_site(true));
    client.post("/set?key=a&value=1").header("host", "app.example").send().await;
    let refused = client
        .post("/set?key=a&value=2")
        .header("host", "app.example")
        .header("origin", "https://evil.example")
        .send()
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(client.get("/read").send().await.json::<Map>().expect("json"), one());
}
