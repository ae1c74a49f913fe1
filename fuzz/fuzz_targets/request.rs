//! Arbitrary bytes as a request's method, path, query, headers, cookie and
//! body, fed in-process to an app built with uapi (`AppService::handle`):
//! every answer must be below 500 (panics in uapi are bugs too).
//!
//! ```sh
//! cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run request -- -max_total_time=60
//! ```
#![no_main]

use std::sync::OnceLock;

use bytes::Bytes;
use http_body_util::Full;
use libfuzzer_sys::fuzz_target;
use uapi::sessions::{configure_sessions, AsyncSession, MemoryStore, SessionError, SessionOptions};
use uapi::{handler, App, AppService, Cookie, FormBody, Header, ReqBody, ReqBytes};

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
    name: String,
    age: Option<u8>,
}

#[handler]
async fn form(body: FormBody<Form>, #[header("x-count")] count: Option<Header<u32>>) -> String {
    format!("{} {:?} {:?}", body.0.name, body.0.age, count.map(|c| c.0))
}

#[handler]
async fn json(body: ReqBody<serde_json::Value>, sid: Option<Cookie>) -> String {
    format!("{} {:?}", body.0, sid.map(|c| c.0))
}

#[handler]
async fn raw(body: ReqBytes) -> Vec<u8> {
    body.0.to_vec()
}

#[handler]
async fn visit(session: AsyncSession, key: Option<String>) -> Result<String, SessionError> {
    if let Some(key) = key {
        session.insert(key, "v");
        session.update_session().await?;
    }
    Ok(session.len().to_string())
}

fn service() -> &'static AppService {
    static SERVICE: OnceLock<AppService> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let mut app = App::new();
        configure_sessions(&mut app, MemoryStore::new(), SessionOptions::default());
        app.get("/users/{user_id}", user)
            .get("/files/{*rest}", file)
            .post("/form", form)
            .post("/json", json)
            .put("/raw", raw)
            .get("/visit", visit)
            .post("/visit", visit)
            .body_limit(4096);
        app.build().expect("the fuzz app builds")
    })
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime"))
}

/// Splits the input at 0xFF bytes into method, path, query, header name,
/// header value, cookie, content type and body (missing parts are empty).
fn parts(data: &[u8]) -> Vec<&[u8]> {
    let mut parts: Vec<&[u8]> = data.splitn(8, |b| *b == 0xff).collect();
    parts.resize(8, &[]);
    parts
}

fuzz_target!(|data: &[u8]| {
    let p = parts(data);
    let methods = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"];
    let method = match p[0].first() {
        Some(&b) if b < 0x80 => http::Method::from_bytes(methods[usize::from(b) % methods.len()].as_bytes()),
        _ => http::Method::from_bytes(p[0]),
    };
    let Ok(method) = method else { return };
    let prefixes = ["/users/", "/files/", "/form", "/json", "/raw", "/visit", "/"];
    let prefix = prefixes[p[1].first().map_or(0, |b| usize::from(*b)) % prefixes.len()];
    let uri = format!(
        "{prefix}{}?{}",
        String::from_utf8_lossy(p[1].get(1..).unwrap_or_default()),
        String::from_utf8_lossy(p[2])
    );
    let mut builder = http::Request::builder().method(method).uri(uri.as_str());
    if let (Ok(name), Ok(value)) = (http::HeaderName::from_bytes(p[3]), http::HeaderValue::from_bytes(p[4])) {
        builder = builder.header(name, value);
    }
    if let Ok(cookie) = http::HeaderValue::from_bytes(p[5]) {
        builder = builder.header(http::header::COOKIE, cookie);
    }
    let types = ["application/json", "application/x-www-form-urlencoded", "text/plain", ""];
    let content_type = match p[6].first() {
        Some(&b) => types[usize::from(b) % types.len()],
        None => "application/json",
    };
    builder = builder.header(http::header::CONTENT_TYPE, content_type);
    // Not every byte string is a URI: those requests never reach the app.
    let Ok(request) = builder.body(uapi::RequestBody::new(Full::new(Bytes::copy_from_slice(p[7])))) else {
        return;
    };
    let response = runtime().block_on(service().handle(request));
    assert!(response.status().as_u16() < 500, "{} {uri:?} gave {}", data.len(), response.status());
});
