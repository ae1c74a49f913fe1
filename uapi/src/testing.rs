//! An in-process test client: calls an app without sockets, keeping cookies
//! between requests like a browser would.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, COOKIE, SET_COOKIE};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};

use crate::{App, AppService, BuildError, RequestBody};

/// Calls an app in-process, with a cookie jar.
///
/// # Examples
///
/// ```
/// use uapi::{handler, testing::TestClient, App};
///
/// #[handler]
/// async fn hello(name: String) -> String { format!("hello {name}") }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut app = App::new();
/// app.get("/", hello);
/// let client = TestClient::new(&app).unwrap();
/// let r = client.get("/?name=ann").send().await;
/// assert_eq!(r.status, 200);
/// assert_eq!(r.text(), "hello ann");
/// assert_eq!(client.get("/").send().await.status, 400);
/// # }
/// ```
#[derive(Clone)]
pub struct TestClient {
    service: AppService,
    jar: Arc<Mutex<Vec<(String, String)>>>,
}

impl TestClient {
    /// Builds `app` and wraps it.
    ///
    /// # Errors
    ///
    /// When the app cannot be built.
    pub fn new(app: &App) -> Result<TestClient, BuildError> {
        Ok(TestClient { service: app.build()?, jar: Arc::default() })
    }

    /// A client for an already built app, with its own cookie jar.
    pub fn from_service(service: AppService) -> TestClient {
        TestClient { service, jar: Arc::default() }
    }

    /// The app this client calls (e.g. for a second client with its own jar:
    /// `TestClient::from_service(client.service().clone())`).
    pub fn service(&self) -> &AppService {
        &self.service
    }

    /// Starts a request.
    pub fn request(&self, method: Method, uri: &str) -> TestRequest {
        TestRequest {
            client: self.clone(),
            method,
            uri: uri.to_owned(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            client_addr: TEST_CLIENT_ADDR,
        }
    }

    /// A GET request.
    pub fn get(&self, uri: &str) -> TestRequest {
        self.request(Method::GET, uri)
    }
    /// A POST request.
    pub fn post(&self, uri: &str) -> TestRequest {
        self.request(Method::POST, uri)
    }
    /// A PUT request.
    pub fn put(&self, uri: &str) -> TestRequest {
        self.request(Method::PUT, uri)
    }
    /// A PATCH request.
    pub fn patch(&self, uri: &str) -> TestRequest {
        self.request(Method::PATCH, uri)
    }
    /// A DELETE request.
    pub fn delete(&self, uri: &str) -> TestRequest {
        self.request(Method::DELETE, uri)
    }
    /// A HEAD request.
    pub fn head(&self, uri: &str) -> TestRequest {
        self.request(Method::HEAD, uri)
    }

    /// The jar's value for cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.lock_jar(|jar| jar.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()))
    }

    /// Sets a cookie in the jar (e.g. to replay or forge one).
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.lock_jar(|jar| {
            jar.retain(|(n, _)| n != name);
            jar.push((name.to_owned(), value.to_owned()));
        });
    }

    /// Empties the jar.
    pub fn clear_cookies(&self) {
        self.lock_jar(Vec::clear);
    }

    fn lock_jar<R>(&self, f: impl FnOnce(&mut Vec<(String, String)>) -> R) -> R {
        f(&mut self.jar.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Applies the response's `Set-Cookie` headers to the jar.
    fn store_cookies(&self, headers: &HeaderMap) {
        for value in headers.get_all(SET_COOKIE) {
            let Some(c) = value.to_str().ok().and_then(|v| cookie::Cookie::parse_encoded(v).ok()) else {
                continue;
            };
            let expired = c.max_age().is_some_and(|a| a.is_zero() || a.is_negative());
            let (name, value) = (c.name().to_owned(), c.value().to_owned());
            self.lock_jar(|jar| {
                jar.retain(|(n, _)| *n != name);
                if !expired {
                    jar.push((name, value));
                }
            });
        }
    }
}

/// A request being built by a [`TestClient`].
pub struct TestRequest {
    client: TestClient,
    method: Method,
    uri: String,
    headers: HeaderMap,
    body: Bytes,
    client_addr: SocketAddr,
}

/// Where test requests come from unless told otherwise.
const TEST_CLIENT_ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40000);

impl TestRequest {
    /// Adds a header.
    ///
    /// # Panics
    ///
    /// When the name or value is invalid (a bug in the test).
    pub fn header(mut self, name: &str, value: &str) -> TestRequest {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("a valid header name");
        let value = HeaderValue::from_str(value).expect("a valid header value");
        self.headers.append(name, value);
        self
    }

    /// Sets a JSON body and its content type.
    ///
    /// # Panics
    ///
    /// When `value` cannot be serialised.
    pub fn json(mut self, value: &impl serde::Serialize) -> TestRequest {
        self.body = Bytes::from(serde_json::to_vec(value).expect("serialisable"));
        self.headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self
    }

    /// Sets a raw body.
    pub fn body(mut self, body: impl Into<Bytes>) -> TestRequest {
        self.body = body.into();
        self
    }

    /// Sends it as if from `addr` (a [`crate::ClientAddr`] parameter's
    /// value; `127.0.0.1:40000` by default).
    ///
    /// # Examples
    ///
    /// ```
    /// use uapi::{handler, testing::TestClient, App, ClientAddr};
    ///
    /// #[handler]
    /// async fn ip(client: ClientAddr) -> String { client.0.ip().to_string() }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let mut app = App::new();
    /// app.get("/", ip);
    /// let c = TestClient::new(&app).unwrap();
    /// assert_eq!(c.get("/").from_addr("10.0.0.7:5000".parse().unwrap()).send().await.text(), "10.0.0.7");
    /// # }
    /// ```
    pub fn from_addr(mut self, addr: SocketAddr) -> TestRequest {
        self.client_addr = addr;
        self
    }

    /// Sends it, storing any cookies the response sets.
    ///
    /// # Panics
    ///
    /// When the URI is invalid (a bug in the test), or a layer's response
    /// body fails while it is read.
    pub async fn send(self) -> TestResponse {
        let mut builder = Request::builder().method(self.method).uri(&self.uri);
        let cookies =
            self.client.lock_jar(|jar| jar.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; "));
        if let Some(h) = builder.headers_mut() {
            *h = self.headers;
            if !cookies.is_empty() && !h.contains_key(COOKIE) {
                h.insert(COOKIE, HeaderValue::from_str(&cookies).expect("cookie values from the jar"));
            }
        }
        let mut request = builder.body(RequestBody::new(Full::new(self.body))).expect("a valid request");
        request.extensions_mut().insert(crate::ClientAddr(self.client_addr));
        let response = self.client.service.handle(request).await;
        self.client.store_cookies(response.headers());
        let (parts, body) = response.into_parts();
        let body = match body.collect().await {
            Ok(b) => b.to_bytes(),
            // Only a tower layer's own body can fail (uapi's are one buffer).
            Err(e) => panic!("the response body failed: {e}"),
        };
        TestResponse { status: parts.status, headers: parts.headers, body }
    }
}

/// A response received by a [`TestClient`].
#[derive(Debug)]
pub struct TestResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl TestResponse {
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    ///
    /// # Errors
    ///
    /// When the body is not JSON of that shape.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// Every `Set-Cookie` header value.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers.get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok().map(str::to_owned)).collect()
    }
}
