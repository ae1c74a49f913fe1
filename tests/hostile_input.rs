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

/// Which kind of candidate session id a case is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// 43 chars of `[A-Za-z0-9_-]`: must be accepted.
    Valid,
    /// A valid id with one char replaced by one outside the alphabet.
    ForeignChar,
    /// A valid id with one char replaced by standard base64's `+` or `/`.
    StandardBase64,
    /// Alphabet chars, but 42 or 44 of them, or any other length.
    WrongLength,
    /// `=` padding: 43 chars then `=`, or 42 then `=`.
    Padded,
    /// 43 chars, one of them non-ASCII (so more than 43 bytes).
    NonAsciiAt43Chars,
    /// 43 bytes, one char of them non-ASCII (so fewer than 43 chars).
    NonAsciiAt43Bytes,
    /// Arbitrary text that is not 43 alphabet bytes.
    Other,
}

fn valid_id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{43}"
}

fn in_alphabet(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// `s` (ASCII) with the char at `at` replaced by `c`.
fn replaced(mut s: String, at: usize, c: char) -> String {
    s.replace_range(at..=at, c.encode_utf8(&mut [0; 4]));
    s
}

/// Candidate ids, each with its kind: valid ones and near misses on purpose.
fn id_case() -> impl Strategy<Value = (String, Kind)> {
    let foreign = prop_oneof![
        prop::sample::select(vec![
            '=', '.', ':', '*', '?', '[', ']', '{', '}', ' ', '%', '\0', '\r', '\n', '~', '"', ';', ',', '\\',
            '\u{7f}', '!', '$', '@'
        ]),
        any::<char>().prop_filter("outside the alphabet", |c| !in_alphabet(*c)),
    ];
    let non_ascii = any::<char>().prop_filter("non-ASCII", |c| !c.is_ascii());
    prop_oneof![
        3 => valid_id().prop_map(|s| (s, Kind::Valid)),
        1 => (valid_id(), 0..43usize, foreign).prop_map(|(s, at, c)| (replaced(s, at, c), Kind::ForeignChar)),
        1 => (valid_id(), 0..43usize, prop::sample::select(vec!['+', '/']))
            .prop_map(|(s, at, c)| (replaced(s, at, c), Kind::StandardBase64)),
        1 => prop_oneof!["[A-Za-z0-9_-]{42}", "[A-Za-z0-9_-]{44}", "[A-Za-z0-9_-]{0,41}", "[A-Za-z0-9_-]{45,100}"]
            .prop_map(|s| (s, Kind::WrongLength)),
        1 => prop_oneof![valid_id().prop_map(|s| s + "="), "[A-Za-z0-9_-]{42}".prop_map(|s| s + "=")]
            .prop_map(|s| (s, Kind::Padded)),
        1 => (valid_id(), 0..43usize, non_ascii.clone())
            .prop_map(|(s, at, c)| (replaced(s, at, c), Kind::NonAsciiAt43Chars)),
        1 => (valid_id(), 0..40usize, non_ascii).prop_map(|(s, at, c)| {
            let mut s: String = s.chars().take(43 - c.len_utf8()).collect();
            s.insert(at, c);
            (s, Kind::NonAsciiAt43Bytes)
        }),
        1 => "\\PC{0,60}".prop_map(|s| (s, Kind::Other)),
    ]
    .prop_map(|(s, kind)| {
        // Arbitrary text may be a valid id by chance; every other kind is
        // what its construction says (checked here, not assumed).
        let valid = s.len() == 43 && s.chars().all(in_alphabet);
        match kind {
            Kind::Other if valid => (s, Kind::Valid),
            Kind::Other => (s, kind),
            _ => {
                assert_eq!(valid, kind == Kind::Valid, "the generator made a {kind:?} that is not one: {s:?}");
                (s, kind)
            }
        }
    })
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

    /// Only exactly 43 characters of base64url are a session id: valid ids
    /// are accepted as they are, and every near miss of one (a char swapped
    /// for one outside the alphabet, 42 or 44 chars, `=` padding, standard
    /// base64's `+` or `/`, non-ASCII at 43 chars or at 43 bytes) is refused,
    /// as is any other text that is not exactly 43 alphabet bytes.
    #[test]
    fn session_ids_accept_only_43_base64url_characters((s, kind) in id_case()) {
        let expected = kind == Kind::Valid;
        let parsed = SessionId::parse(&s);
        prop_assert_eq!(parsed.is_some(), expected, "{:?} ({:?})", s, kind);
        if let Some(id) = parsed {
            prop_assert_eq!(id.as_str(), s.as_str());
        }
    }
}
