//! Shared helpers for the hardening suites (`faults`, `limits`, `key_injection`,
//! `security`): a bound server on a free loopback port, a cookie-keeping HTTP
//! client over real TCP, and raw-socket exchanges.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uapi::{App, ServeError};

/// The upper bound on anything a test waits for; never reached when things work.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A turn for a timing-sensitive scenario: the scenarios of one test binary
/// that hold it run one after another, not side by side. Each asserts
/// bounds of a second or less on its requests while it runs its own
/// redis-server and dozens of clients; side by side on a loaded 2-core
/// machine, a neighbour's load could eat those margins. (Test binaries
/// themselves run one at a time under `cargo test`.)
pub async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// A server bound to 127.0.0.1:0 and serving on its own task.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<Result<(), ServeError>>,
}

impl Running {
    pub async fn start(app: &App) -> Running {
        let server = app.bind("127.0.0.1:0").await.expect("binds");
        let addr = server.local_addr();
        let (stop, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run_until(async move {
            let _ = stop_rx.await;
        }));
        Running { addr, stop: Some(stop), task }
    }

    /// The serving task is still running (it neither returned nor panicked).
    pub fn is_alive(&self) -> bool {
        !self.task.is_finished()
    }

    /// Signals shutdown and waits for `run_until` to return.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = tokio::time::timeout(PATIENCE, &mut self.task).await.expect("shuts down in time");
        result.expect("server task").expect("clean shutdown");
    }
}

pub fn http1_client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

pub fn http2_client() -> HttpClient {
    Client::builder(TokioExecutor::new()).http2_only(true).build_http()
}

/// An HTTP client over real TCP that keeps its cookies, like a browser.
#[derive(Clone)]
pub struct Browser {
    pub addr: SocketAddr,
    http: HttpClient,
    jar: Arc<Mutex<Vec<(String, String)>>>,
}

impl Browser {
    pub fn new(addr: SocketAddr) -> Browser {
        Browser::with_client(addr, http1_client())
    }

    pub fn with_client(addr: SocketAddr, http: HttpClient) -> Browser {
        Browser { addr, http, jar: Arc::default() }
    }

    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        self.send(Method::GET, path).await
    }

    pub async fn post(&self, path: &str) -> (StatusCode, String) {
        self.send(Method::POST, path).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, String) {
        self.send(Method::DELETE, path).await
    }

    /// Sends a request with the jar's cookies, stores the cookies set or expired.
    pub async fn send(&self, method: Method, path: &str) -> (StatusCode, String) {
        let cookie = self.cookie_header();
        self.send_raw_cookie(method, path, cookie.as_deref().map(str::as_bytes)).await
    }

    /// As [`Self::send`], with `cookie` as the whole `Cookie` header instead of the jar's.
    pub async fn send_raw_cookie(&self, method: Method, path: &str, cookie: Option<&[u8]>) -> (StatusCode, String) {
        let mut request = Request::builder().method(method).uri(format!("http://{}{path}", self.addr));
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, HeaderValue::from_bytes(cookie).expect("a valid header value"));
        }
        let request = request.body(Full::default()).expect("a request");
        let response = tokio::time::timeout(PATIENCE, self.http.request(request))
            .await
            .expect("a response in time")
            .expect("a response");
        let (parts, body) = response.into_parts();
        for value in parts.headers.get_all(SET_COOKIE) {
            self.store(value.to_str().expect("ascii set-cookie"));
        }
        let body = body.collect().await.expect("a body").to_bytes();
        (parts.status, String::from_utf8_lossy(&body).into_owned())
    }

    fn store(&self, header: &str) {
        let pair = header.split(';').next().unwrap_or_default();
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let expired = header.to_ascii_lowercase().contains("max-age=0");
        let mut jar = self.jar.lock().unwrap_or_else(PoisonError::into_inner);
        jar.retain(|(n, _)| n != name.trim());
        if !expired {
            jar.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        let jar = self.jar.lock().unwrap_or_else(PoisonError::into_inner);
        jar.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        let mut jar = self.jar.lock().unwrap_or_else(PoisonError::into_inner);
        jar.retain(|(n, _)| n != name);
        jar.push((name.to_owned(), value.to_owned()));
    }

    fn cookie_header(&self) -> Option<String> {
        let jar = self.jar.lock().unwrap_or_else(PoisonError::into_inner);
        (!jar.is_empty()).then(|| jar.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; "))
    }
}

/// Percent-encodes everything but unreserved characters (for query strings and paths).
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What a raw exchange saw: the bytes the server sent before closing (or
/// before `PATIENCE`), and whether it closed.
pub struct RawReply {
    pub bytes: Vec<u8>,
    pub closed: bool,
}

impl RawReply {
    /// The status code of the first response, if one came.
    pub fn status(&self) -> Option<u16> {
        let text = String::from_utf8_lossy(&self.bytes);
        let line = text.lines().next()?;
        line.strip_prefix("HTTP/1.1 ").and_then(|rest| rest.get(..3)).and_then(|code| code.parse().ok())
    }
}

/// Writes `request` on a fresh connection (a write error, e.g. a reset because
/// the server already answered and closed, is tolerated) and reads until the
/// server closes the connection.
pub async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> RawReply {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    let _ = stream.write_all(request).await;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(PATIENCE, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    RawReply { bytes, closed }
}
