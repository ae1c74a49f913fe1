//! Hostile input, as properties: whatever the path, query, headers, cookies or
//! body, the app answers with a status below 500 (a 4xx or a normal answer,
//! a fresh session for a garbage cookie), never a panic or a 5xx.

use proptest::prelude::*;
use uapi::sessions::{configure_sessions, AsyncSession, MemoryStore, SessionId, SessionOptions};
use uapi::testing::TestClient;
use uapi::{handler, App, Cookie, FormBody, Header, ReqBody};

#[handler]
async fn user(user_id: i64, verbose: Option<bool>, tag: Vec<u16>) -> String {
    format!("{user_id} {verbose:?} {tag:?}")
}

#[handler]
async fn file(rest: String) -> String {
    rest
}

#[derive(serde::Deserialize)]
struct Form {
    #[allow(dead_code)]
    n: u8,
}

#[handler]
async fn form(body: FormBody<Form>, #[header("x-count")] count: Option<Header<u32>>) -> String {
    format!("{} {:?}", body.0.n, count.map(|c| c.0))
}

#[handler]
async fn json(body: ReqBody<serde_json::Value>, sid: Option<Cookie>) -> String {
    format!("{} {:?}", body.0, sid.map(|c| c.0))
}

#[handler]
async fn visit(session: AsyncSession) -> String {
    session.len().to_string()
}

fn client() -> TestClient {
    let mut app = App::new();
    configure_sessions(&mut app, MemoryStore::new(), SessionOptions::default());
    app.get("/users/{user_id}", user)
        .get("/files/{*rest}", file)
        .post("/form", form)
        .post("/json", json)
        .get("/visit", visit)
        .body_limit(4096);
    TestClient::new(&app).expect("app builds")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// Printable and non-printable text, including the characters that break parsers.
fn nasty() -> impl Strategy<Value = String> {
    prop_oneof!["\\PC{0,40}", "[%:*?{}/\\\\.\r\n\t =;,\"'&#+\\x00-\\x1f]{0,40}", "(%[0-9a-fA-F]{2}|%|[a-z]){0,30}",]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any request line the HTTP layer would accept gets a status below 500.
    #[test]
    fn garbage_paths_and_queries_never_get_a_5xx(path in nasty(), query in nasty(), prefix in prop::sample::select(vec!["/users/", "/files/", "/", "/visit?", "/users/1?"])) {
        let uri = format!("{prefix}{path}?{query}");
        prop_assume!(uapi::http::Uri::try_from(uri.as_str()).is_ok());
        let status = runtime().block_on(client().get(&uri).send()).status;
        prop_assert!(status.as_u16() < 500, "{uri:?} gave {status}");
    }

    /// Garbage header values and cookies get a 4xx or an answer, never a 5xx.
    #[test]
    fn garbage_headers_and_cookies_never_get_a_5xx(value in nasty(), cookie in nasty()) {
        prop_assume!(uapi::http::HeaderValue::from_str(&value).is_ok());
        prop_assume!(uapi::http::HeaderValue::from_str(&cookie).is_ok());
        let c = client();
        let rt = runtime();
        let r = rt.block_on(c.post("/form").header("x-count", &value).header("content-type", "application/x-www-form-urlencoded").body("n=1").send());
        prop_assert!(r.status.as_u16() < 500, "x-count {value:?} gave {}", r.status);
        let r = rt.block_on(c.get("/visit").header("cookie", &cookie).send());
        prop_assert_eq!(r.status.as_u16(), 200, "cookie {:?}", cookie);
        prop_assert_eq!(r.text(), "0", "a garbage cookie is a fresh session");
        let r = rt.block_on(c.get("/visit").header("cookie", &format!("session_id={cookie}")).send());
        prop_assert_eq!(r.status.as_u16(), 200);
        prop_assert_eq!(r.text(), "0");
    }

    /// Garbage bodies, with any content type, get a 4xx (400, 413, 415), never a 5xx.
    #[test]
    fn garbage_bodies_never_get_a_5xx(body in prop::collection::vec(any::<u8>(), 0..6000), ct in prop::sample::select(vec!["application/json", "application/x-www-form-urlencoded", "text/plain", "application/json; charset=utf-8", ""])) {
        let c = client();
        let rt = runtime();
        for path in ["/form", "/json"] {
            let mut req = c.post(path).body(body.clone());
            if !ct.is_empty() {
                req = req.header("content-type", ct);
            }
            let status = rt.block_on(req.send()).status;
            prop_assert!(status.as_u16() < 500, "{path} with {ct:?} gave {status}");
            if body.len() > 4096 {
                prop_assert!(status == 413 || status == 415, "{} bytes gave {}", body.len(), status);
            }
        }
    }

    /// Only exactly 43 characters of base64url are a session id; everything else is refused before any key is built.
    #[test]
    fn session_ids_accept_only_43_base64url_characters(s in "\\PC{0,60}") {
        let valid = s.len() == 43 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        prop_assert_eq!(SessionId::parse(&s).is_some(), valid);
    }
}
