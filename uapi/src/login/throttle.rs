//! Login throttling: the care uapi's docs ask for at the login endpoint.
//!
//! [`configure_login_throttle`] registers `login_throttle: LoginThrottle`. A
//! login handler that asks for it is guarded: before it runs, the attempt is
//! counted against the account named in the request body and against the
//! client's address, in the session store's backend (its
//! [`AttemptLog`](crate::sessions::AttemptLog): Redis, so every process and
//! worker shares the counts, or memory). Past a limit within the window the
//! handler does not run: a 429 with `Retry-After`. An attempt counts as a
//! failure unless the handler says [`LoginThrottle::succeeded`], which clears
//! the account's count and takes the attempt back from the address's.
//!
//! Counting *before* the handler runs (a reservation, not a tally after the
//! fact) is what holds under concurrency: a guesser that sends a hundred
//! attempts at once gets the limit's worth through, not a hundred.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use http::StatusCode;
use ipnet::IpNet;

use super::client_ip::{client_ip, client_key};
use crate::addon::{
    ExtractorKind, FromRequest, HandlerInfo, Injectable, ParamInfo, ParamKind, ParamPlan, RequestCtx, ResponseDoc,
};
use crate::sessions::{Reservation, SessionBackend, SessionError, SessionId, SessionStore};
use crate::{App, ClientAddr, IntoResponse, Refusal, ReqBytes, Response};

/// How many account characters a count is keyed by: longer names share the
/// count of their first 256 characters (stricter, never looser).
const ACCOUNT_CHARS: usize = 256;

/// The count shared by every login whose body names no account the throttle
/// can read (a JSON array, which serde reads into a struct as well, another
/// field name, another media type): such a body still counts at the
/// per-account limit, so it is no way around it. Not hex: never an account's key.
const UNNAMED_ACCOUNT_KEY: &str = "login:account:?";

/// Throttle settings, given to [`configure_login_throttle`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uapi::login::LoginThrottleOptions;
///
/// let options = LoginThrottleOptions::default()
///     .failures(5)
///     .window(Duration::from_secs(15 * 60))
///     .account_field("email")
///     .trust_proxies(["10.0.0.0/8".parse().unwrap()]);
/// assert_eq!(options.client_failure_limit(), 20);
/// ```
#[derive(Debug, Clone)]
pub struct LoginThrottleOptions {
    failures: u32,
    client_failures: Option<u32>,
    window: Duration,
    account_field: Cow<'static, str>,
    trusted_proxies: Vec<IpNet>,
}

impl Default for LoginThrottleOptions {
    /// 5 failures per account and 20 per client address in any 15 minutes;
    /// the account is the body's `username`; no proxy trusted.
    fn default() -> Self {
        LoginThrottleOptions {
            failures: 5,
            client_failures: None,
            window: Duration::from_secs(15 * 60),
            account_field: Cow::Borrowed("username"),
            trusted_proxies: Vec::new(),
        }
    }
}

impl LoginThrottleOptions {
    /// Failed attempts an account may have within the window (default 5; at
    /// least 1); the next is refused until the oldest leaves the window.
    pub fn failures(mut self, n: u32) -> Self {
        self.failures = n.max(1);
        self
    }

    /// Failed attempts one client address may have within the window, over
    /// all accounts (default: four times [`Self::failures`], so one address
    /// can still try a few accounts; people behind one NAT share it).
    pub fn client_failures(mut self, n: u32) -> Self {
        self.client_failures = Some(n.max(1));
        self
    }

    /// How long a failure counts (default 15 minutes); the window slides: each
    /// failure drops out on its own, so no account stays locked by a stranger
    /// who stopped.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window.max(Duration::from_millis(1));
        self
    }

    /// The field of the login body (a JSON object or an urlencoded form) that
    /// names the account (default `username`). Compared trimmed and
    /// lowercased. A body that names none (another field name, a JSON array)
    /// counts under one count shared by all such bodies, at the per-account
    /// limit; an empty body (a login by token in the query, say) counts
    /// against the client address only.
    pub fn account_field(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.account_field = name.into();
        self
    }

    /// Proxies whose `X-Forwarded-For` is believed: when the connection comes
    /// from one of them, the client is the rightmost address of the header
    /// that is not one of them. Without this (the default) the client is the
    /// connection's peer, whatever the request says.
    pub fn trust_proxies(mut self, proxies: impl IntoIterator<Item = IpNet>) -> Self {
        self.trusted_proxies = proxies.into_iter().collect();
        self
    }

    /// The per-account limit.
    pub fn failure_limit(&self) -> u32 {
        self.failures
    }

    /// The per-address limit.
    pub fn client_failure_limit(&self) -> u32 {
        self.client_failures.unwrap_or(self.failures.saturating_mul(4))
    }

    /// The window.
    pub fn window_length(&self) -> Duration {
        self.window
    }
}

/// What the throttle's parts share.
struct Shared {
    backend: Arc<dyn SessionBackend>,
    options: LoginThrottleOptions,
}

impl Shared {
    fn log(&self) -> Result<&dyn crate::sessions::AttemptLog, SessionError> {
        self.backend.attempt_log().ok_or_else(no_log)
    }
}

fn no_log() -> SessionError {
    SessionError::Backend("the session store's backend keeps no attempt log".to_owned())
}

/// The key of an account's count: its name trimmed, lowercased, hex-encoded
/// (inert in any store's key syntax).
fn account_key(account: &str) -> String {
    let mut key = String::from("login:account:");
    for b in account.bytes() {
        key.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        key.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    key
}

/// The account a login body names: the configured field of a JSON object or
/// of an urlencoded form, trimmed and lowercased; `None` when there is none
/// (the handler then answers for the body it cannot read).
fn account_in(body: &[u8], content_type: Option<&HeaderValue>, field: &str) -> Option<String> {
    let content_type = content_type.and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let raw = if content_type.starts_with("application/x-www-form-urlencoded") {
        form_urlencoded::parse(body).find(|(k, _)| k == field).map(|(_, v)| v.into_owned())
    } else {
        let object = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(body).ok()?;
        object.get(field).and_then(serde_json::Value::as_str).map(str::to_owned)
    }?;
    let account: String = raw.trim().to_lowercase().chars().take(ACCOUNT_CHARS).collect();
    (!account.is_empty()).then_some(account)
}

/// Resets counts from outside requests (a support desk unlocking an
/// account): what [`configure_login_throttle`] returns.
#[derive(Clone)]
pub struct LoginThrottles {
    shared: Arc<Shared>,
}

impl LoginThrottles {
    /// Forgets the failures of `account` (as a login body would name it).
    ///
    /// # Errors
    ///
    /// [`SessionError`] when the store is down or slow.
    pub async fn reset_account(&self, account: &str) -> Result<(), SessionError> {
        let account: String = account.trim().to_lowercase().chars().take(ACCOUNT_CHARS).collect();
        self.shared.log()?.clear(&account_key(&account)).await
    }

    /// Forgets the failures of the client at `ip`.
    ///
    /// # Errors
    ///
    /// [`SessionError`] when the store is down or slow.
    pub async fn reset_client(&self, ip: IpAddr) -> Result<(), SessionError> {
        let key = format!("login:client:{}", client_key(ip.to_canonical()));
        self.shared.log()?.clear(&key).await
    }
}

/// A login attempt the throttle let through: the `login_throttle` parameter.
/// It counts as a failure unless the handler calls [`Self::succeeded`].
#[derive(Clone)]
pub struct LoginThrottle {
    inner: Arc<Admitted>,
}

struct Admitted {
    shared: Arc<Shared>,
    attempt: String,
    account: Option<String>,
    client: Option<IpAddr>,
    account_key: Option<String>,
    client_key: Option<String>,
}

impl std::fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginThrottle")
            .field("account", &self.inner.account)
            .field("client", &self.inner.client)
            .finish()
    }
}

impl LoginThrottle {
    /// The account the attempt was counted against (trimmed, lowercased), if
    /// the body named one it could read.
    pub fn account(&self) -> Option<&str> {
        self.inner.account.as_deref()
    }

    /// The client address it was counted against, if the request came
    /// through a server that knows it.
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.inner.client
    }

    /// The login succeeded: clears the account's failures, and takes this
    /// attempt back from the address's count (the address's other failures
    /// stay, so a guesser with one good account cannot wipe its record).
    ///
    /// # Errors
    ///
    /// [`SessionError`] when the store is down or slow.
    pub async fn succeeded(&self) -> Result<(), SessionError> {
        let log = self.inner.shared.log()?;
        if let Some(key) = &self.inner.account_key {
            log.clear(key).await?;
        }
        if let Some(key) = &self.inner.client_key {
            log.release(key, &self.inner.attempt).await?;
        }
        Ok(())
    }
}

/// Registers `login_throttle: LoginThrottle` on `app`, counting in `store`'s
/// backend. A handler that asks for it runs only when the account and the
/// client are both under their limits; see the [module](crate::login).
///
/// # Errors
///
/// [`SessionError::Backend`] when the store's backend keeps no
/// [`AttemptLog`](crate::sessions::AttemptLog) (uapi's Redis and memory
/// backends both do).
///
/// # Examples
///
/// ```
/// use serde::Deserialize;
/// use uapi::login::{configure_async_login, configure_login_throttle, AsyncLoginSession, LoginOptions, LoginThrottle, LoginThrottleOptions};
/// use uapi::sessions::{configure_sessions, MemoryStore, SessionError, SessionOptions};
/// use uapi::status::{Created, Unauthorized};
/// use uapi::{handler, App, ReqBody};
///
/// #[derive(Deserialize)]
/// struct Credentials { username: String, password: String }
///
/// #[handler]
/// async fn login(
///     creds: ReqBody<Credentials>,
///     login_throttle: LoginThrottle,
///     login_session: AsyncLoginSession<i64>,
/// ) -> Result<Result<Created<()>, Unauthorized<&'static str>>, SessionError> {
///     if creds.0.password != "correct horse" {
///         return Ok(Err(Unauthorized::new("wrong username or password"))); // counts
///     }
///     login_throttle.succeeded().await?;
///     let cookie = login_session.login_and_return(1).await?;
///     Ok(Ok(Created::new(()).with_headers(cookie)))
/// }
///
/// let mut app = App::new();
/// let store = configure_sessions(&mut app, MemoryStore::new(), SessionOptions::default());
/// configure_async_login::<i64>(&mut app, &store, LoginOptions::default());
/// configure_login_throttle(&mut app, &store, LoginThrottleOptions::default()).unwrap();
/// app.post("/login", login);
/// assert!(app.build().is_ok());
/// ```
pub fn configure_login_throttle(
    app: &mut App,
    store: &SessionStore,
    options: LoginThrottleOptions,
) -> Result<LoginThrottles, SessionError> {
    configure_login_throttle_in(app, store.backend().clone(), options)
}

/// [`configure_login_throttle`] counting in `backend`'s attempt log, for an
/// app whose sessions have no backend (secure sessions, in their cookies):
/// e.g. a [`MemoryStore`](crate::sessions::MemoryStore) (counts of this
/// process only) or a [`RedisBackend`](crate::sessions::RedisBackend) (shared
/// by every process). Nothing else of the backend is used.
///
/// # Errors
///
/// As [`configure_login_throttle`]: a backend without an attempt log.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use uapi::login::{configure_login_throttle_in, LoginThrottleOptions};
/// use uapi::sessions::MemoryStore;
///
/// let mut app = uapi::App::new();
/// configure_login_throttle_in(&mut app, Arc::new(MemoryStore::new()), LoginThrottleOptions::default())
///     .expect("memory keeps counts");
/// ```
pub fn configure_login_throttle_in(
    app: &mut App,
    backend: Arc<dyn SessionBackend>,
    options: LoginThrottleOptions,
) -> Result<LoginThrottles, SessionError> {
    if backend.attempt_log().is_none() {
        return Err(no_log());
    }
    let shared = Arc::new(Shared { backend, options });
    app.register_by_name_and_type("login_throttle", ThrottleProvider { shared: shared.clone() });
    Ok(LoginThrottles { shared })
}

/// The provider behind `login_throttle: LoginThrottle`.
struct ThrottleProvider {
    shared: Arc<Shared>,
}

impl Injectable for ThrottleProvider {
    type Output = LoginThrottle;
    type Provided = LoginThrottle;

    fn info(&self) -> HandlerInfo {
        // The body, read once and shared with the handler's own body parameter.
        let body = ParamInfo::new::<ReqBytes>("login_body", ParamKind::Extractor(ExtractorKind::Body));
        #[cfg(feature = "openapi")]
        let body = body.with_describe(Some(<ReqBytes as crate::openapi::DescribeParam>::describe));
        HandlerInfo::new("login throttle", vec![body], "LoginThrottle").with_refusal(ResponseDoc::new(
            429,
            "too many failed logins for this account or from this address (see `Retry-After`)",
        ))
    }

    async fn call(&self, ctx: &mut RequestCtx, plan: &[ParamPlan]) -> Result<LoginThrottle, Response> {
        let shared = &self.shared;
        let options = &shared.options;
        let (account, body_given) = match plan.first() {
            Some(body_plan) => {
                let body = ctx.resolve(body_plan, <ReqBytes as FromRequest>::from_request).await?;
                (account_in(&body.0, ctx.headers().get(CONTENT_TYPE), &options.account_field), !body.0.is_empty())
            }
            None => (None, false),
        };
        let peer = ctx.parts().extensions.get::<ClientAddr>().map(|a| a.0.ip());
        let client = peer.map(|peer| client_ip(peer, ctx.headers(), &options.trusted_proxies));
        let account_key = match &account {
            Some(account) => Some(account_key(account)),
            None if body_given => Some(UNNAMED_ACCOUNT_KEY.to_owned()),
            None => None,
        };
        let client_key = client.map(|ip| format!("login:client:{}", client_key(ip)));
        let mut keys: Vec<(&str, u32)> = Vec::with_capacity(2);
        if let Some(key) = &account_key {
            keys.push((key, options.failures));
        }
        if let Some(key) = &client_key {
            keys.push((key, options.client_failure_limit()));
        }
        let attempt = SessionId::generate().map_err(IntoResponse::into_response)?;
        let attempt = attempt.as_str().to_owned();
        if !keys.is_empty() {
            let log = shared.log().map_err(IntoResponse::into_response)?;
            match log.reserve(&attempt, &keys, options.window).await.map_err(IntoResponse::into_response)? {
                Reservation::Admitted => {}
                Reservation::Refused { retry_after } => {
                    tracing::warn!(account = ?account, client = ?client, "login refused: too many failed attempts");
                    return Err(too_many(retry_after));
                }
            }
        }
        let inner = Admitted { shared: shared.clone(), attempt, account, client, account_key, client_key };
        Ok(LoginThrottle { inner: Arc::new(inner) })
    }

    fn provide(out: LoginThrottle) -> Result<LoginThrottle, Response> {
        Ok(out)
    }
}

/// The 429 with `Retry-After` in whole seconds, rounded up.
fn too_many(retry_after: Duration) -> Response {
    let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    let message = format!("too many failed login attempts; try again in {secs} s");
    let mut response = Refusal::new(StatusCode::TOO_MANY_REQUESTS, message).into_response();
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_come_from_json_or_forms_trimmed_and_lowercased() {
        let json = HeaderValue::from_static("application/json");
        let form = HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8");
        assert_eq!(account_in(br#"{"username":" Ann "}"#, Some(&json), "username").as_deref(), Some("ann"));
        assert_eq!(account_in(b"username=B%C3%B6b&password=x", Some(&form), "username").as_deref(), Some("b\u{f6}b"));
        assert_eq!(account_in(br#"{"username":7}"#, Some(&json), "username"), None);
        assert_eq!(account_in(br#"{"username":"  "}"#, Some(&json), "username"), None);
        assert_eq!(account_in(b"not json", None, "username"), None);
        let long = format!(r#"{{"email":"{}"}}"#, "x".repeat(1000));
        assert_eq!(account_in(long.as_bytes(), None, "email").map(|a| a.len()), Some(ACCOUNT_CHARS));
    }

    #[test]
    fn account_keys_are_hex_and_inert() {
        assert_eq!(account_key("a{b}"), "login:account:617b627d");
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let r = too_many(Duration::from_millis(1500));
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()[RETRY_AFTER], "2");
        assert_eq!(too_many(Duration::from_secs(3)).headers()[RETRY_AFTER], "3");
    }
}
