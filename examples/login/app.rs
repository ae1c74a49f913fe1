//! The login example's app, shared by `main.rs` and the black-box tests.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use uapi::http::header::{HeaderValue, CONTENT_TYPE};
use uapi::http::StatusCode;
use uapi::login::{
    configure_async_login, configure_login_throttle, configure_login_throttle_in, configure_secure_login,
    AsyncLoginManager, AsyncLoginSession, LoginOptions, LoginThrottle, LoginThrottleOptions,
};
use uapi::openapi::{DocsPage, OpenApiOptions};
use uapi::sessions::redis::{configure_async_sessions, RedisBackend, RedisConnection};
use uapi::sessions::secure::{configure_secure_sessions, SecretKeys};
use uapi::sessions::{configure_sessions, AsyncSession, MemoryStore, SecureSession, SessionError, SessionOptions};
use uapi::status::{BadRequest, Conflict, Created, NoContent, NotFound, Unauthorized};
use uapi::{handler, App, Body, CookieSettings, IntoResponse, Refusal, ReqBody, Response};

use self::users::{CreateError, Credentials, Users, MIN_PASSWORD_CHARS};

// Beside this file, wherever it is included from (the example, the tests).
#[path = "users.rs"]
pub(crate) mod users;

/// `GET /`: the logged-in user's id, or `no user`.
#[handler]
pub(crate) async fn index(current_user_id: Option<i64>) -> String {
    current_user_id.map_or_else(|| "no user".to_owned(), |id| id.to_string())
}

/// `POST /users` with JSON `{"username": "..", "password": ".."}`: 201 with
/// the new user's id; 409 when the name is taken; 400 for a password under 8
/// characters, a missing field or an empty name.
#[handler]
pub(crate) async fn create_user(new_user: ReqBody<Credentials>, users: Users) -> Result<Created<String>, Response> {
    match users.create(new_user.0).await {
        Ok(id) => Ok(Created::new(id.to_string())),
        Err(CreateError::Taken) => Err(Conflict::new("that username is taken").into_response()),
        Err(CreateError::BadName) => Err(BadRequest::new("a username is 1 to 64 characters").into_response()),
        Err(CreateError::ShortPassword) => {
            Err(BadRequest::new(format!("a password is at least {MIN_PASSWORD_CHARS} characters")).into_response())
        }
    }
}

/// Whether `POST /login?user_id=N` (no password) is on: `--demo-login`.
#[derive(Clone, Copy)]
pub(crate) struct DemoLogin(pub(crate) bool);

/// The answer to every failed login, whatever failed: the same words.
const WRONG: &str = "wrong username or password";

/// `POST /login` with the credentials as JSON or a form: 201 and the session
/// cookie (a new session id), or 401 `wrong username or password` for a wrong
/// password and an unknown name alike (the same Argon2 work for both). The
/// throttle answers 429 with `Retry-After` before this runs, past the limit.
/// `POST /login?user_id=N` logs in as N without a password (whatever the
/// body): `--demo-login` only (scripts, benchmarks); a 400 otherwise.
#[handler]
pub(crate) async fn login(
    credentials: Option<Credentials>,
    user_id: Option<i64>,
    login_throttle: LoginThrottle,
    login_session: AsyncLoginSession<i64>,
    users: Users,
    demo: DemoLogin,
) -> Result<Created<()>, Response> {
    let user = match (credentials, user_id) {
        // With --demo-login a user id wins (docs pages send an example body too).
        (_, Some(user)) if demo.0 => user,
        (Some(credentials), _) => match users.check(credentials).await {
            Some(user) => user,
            // Not `succeeded`: the attempt counts against the name and the address.
            None => return Err(Unauthorized::new(WRONG).into_response()),
        },
        (None, Some(_)) => {
            return Err(BadRequest::new("POST /login?user_id=N needs --demo-login; send a username and password")
                .into_response())
        }
        (None, None) => return Err(BadRequest::new("send a username and password").into_response()),
    };
    login_throttle.succeeded().await.map_err(IntoResponse::into_response)?;
    if login_session.user_id == Some(user) {
        return Ok(Created::new(()));
    }
    let cookie = login_session.login_and_return(user).await.map_err(IntoResponse::into_response)?;
    Ok(Created::new(()).with_headers(cookie))
}

/// `POST /logout`: ends this session server-side and clears the cookie.
#[handler]
pub(crate) async fn logout(login_session: AsyncLoginSession<i64>) -> Result<NoContent, SessionError> {
    Ok(NoContent::new().with_headers(login_session.logout_and_return().await?))
}

/// `GET /me`: the id when logged in; a 403 otherwise (the handler never runs).
#[handler]
pub(crate) async fn me(current_user_id: i64) -> String {
    current_user_id.to_string()
}

/// `DELETE /sessions/{user_id}`: a logged-in caller logs `user_id` out everywhere.
#[handler]
pub(crate) async fn logout_everywhere(
    current_user_id: i64,
    user_id: i64,
    login_manager: AsyncLoginManager<i64>,
) -> Result<&'static str, SessionError> {
    tracing::info!(by = current_user_id, user = user_id, "logging a user out everywhere");
    login_manager.logout(&user_id).await?;
    Ok("OK")
}

/// `DELETE /sessions/{user_id}` with `--cookie-sessions`: 501, saying why.
#[handler]
pub(crate) async fn cannot_logout_everywhere(user_id: i64) -> Response {
    let why = format!(
        "cannot log user {user_id} out everywhere: with --cookie-sessions each session lives only in its \
         cookie, valid until it expires, and no server keeps a list of them to end"
    );
    Refusal::new(StatusCode::NOT_IMPLEMENTED, why).into_response()
}

/// The cart's items after adding `item` to `items`.
fn with_item(items: Option<String>, item: String) -> String {
    match items {
        Some(items) => format!("{items},{item}"),
        None => item,
    }
}

/// `POST /cart?item=X`: adds X to the cart, a second, independent session.
#[handler]
pub(crate) async fn add_to_cart(cart: AsyncSession, item: String) -> Result<String, SessionError> {
    let items = with_item(cart.get("items"), item);
    cart.insert("items", items.clone());
    cart.update_session().await?;
    Ok(items)
}

/// `GET /cart`: the cart's items, comma-separated.
#[handler]
pub(crate) async fn show_cart(cart: AsyncSession) -> String {
    cart.get("items").unwrap_or_default()
}

/// `POST /cart?item=X` with `--cookie-sessions`: the cart in its cookie.
#[handler(name = "add_to_cart")]
pub(crate) async fn add_to_cookie_cart(cart: SecureSession, item: String) -> Result<String, SessionError> {
    let items = with_item(cart.get("items"), item);
    cart.insert("items", items.clone());
    cart.update_session().await?;
    Ok(items)
}

/// `GET /cart` with `--cookie-sessions`.
#[handler(name = "show_cart")]
pub(crate) async fn show_cookie_cart(cart: SecureSession) -> String {
    cart.get("items").unwrap_or_default()
}

/// Where `--docs-assets` points: a `node_modules` folder holding the npm
/// packages `swagger-ui-dist`, `redoc` and `@stoplight/elements`.
#[derive(Clone)]
pub(crate) struct DocsAssets(pub(crate) Arc<PathBuf>);

/// `GET /assets/{*file}` (with `--docs-assets`): a file of the docs pages'
/// UIs, from the folder given; a 404 for anything else, `..` included.
#[handler]
pub(crate) async fn asset(file: String, assets: DocsAssets) -> Result<Response, NotFound<&'static str>> {
    const MISSING: &str = "no such asset";
    if file.split('/').any(|part| part.is_empty() || part.starts_with('.') || part.contains('\\')) {
        return Err(NotFound::new(MISSING));
    }
    let content_type = match file.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("html") => "text/html; charset=utf-8",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    };
    let bytes = tokio::fs::read(assets.0.join(&file)).await.map_err(|_| NotFound::new(MISSING))?;
    let mut response = Response::new(Body::new(bytes));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}

/// Settings of the example app.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Session lifetime.
    pub(crate) max_age: Duration,
    /// Send cookies without `Secure` (plain-http local testing).
    pub(crate) insecure_cookies: bool,
    /// `POST /login?user_id=N` logs in without a password.
    pub(crate) demo_login: bool,
    /// The login throttle: failures per account and window (per address: 4×).
    pub(crate) throttle: LoginThrottleOptions,
    /// The docs pages' files from this `node_modules` folder, not a CDN.
    pub(crate) docs_assets: Option<PathBuf>,
}

impl Default for Settings {
    /// Sessions of 14 days, `Secure` cookies, passwords only, 5 failures
    /// per account in 15 minutes.
    fn default() -> Self {
        Settings {
            max_age: Duration::from_secs(14 * 24 * 3600),
            insecure_cookies: false,
            demo_login: false,
            throttle: LoginThrottleOptions::default(),
            docs_assets: None,
        }
    }
}

/// Where the app keeps its sessions.
pub(crate) enum Store {
    /// In this process's memory (no Redis given): gone when it exits.
    Memory,
    /// In Redis, every key under `key_prefix`, each command bounded by
    /// `command_timeout` (a 503 past it).
    Redis { conn: RedisConnection, key_prefix: String, command_timeout: Duration },
    /// In the cookies themselves, sealed with `keys` (`--cookie-sessions`):
    /// no server-side store, so no logging out everywhere, and the login
    /// throttle counts in this process's memory.
    Cookie { keys: SecretKeys },
}

/// The app: logins in the `session` store, carts in a second, independent
/// `cart` store (its own cookie, `cart_session`).
pub(crate) fn build(store: Store, settings: &Settings) -> App {
    let cookies = CookieSettings::default().secure(!settings.insecure_cookies);
    let mut app = App::new();
    // The cross-site guard: a write that carries a session cookie from another
    // site's page is a 403 (SameSite=Lax does not cover same-site subdomains).
    let options = SessionOptions::default().max_age(settings.max_age).cookie_settings(cookies).refuse_cross_site(true);
    let cart_options = options.clone().cookie_name("cart_session").session_arg_param_name("cart");
    let sessions = match store {
        Store::Cookie { keys } => {
            build_on_cookies(&mut app, keys, options, cart_options, settings);
            return app;
        }
        Store::Memory => {
            configure_sessions(&mut app, MemoryStore::new(), cart_options);
            configure_sessions(&mut app, MemoryStore::new(), options)
        }
        Store::Redis { conn, key_prefix, command_timeout } => {
            let backend = |conn| RedisBackend::new(conn).key_prefix(&key_prefix).command_timeout(command_timeout);
            // Each store's keys are its own: the cart store's carry its cookie name.
            configure_async_sessions(&mut app, backend(conn.clone()), cart_options);
            configure_async_sessions(&mut app, backend(conn), options)
        }
    };
    // Registers `current_user_id`, `login_session` and `login_manager`.
    configure_async_login::<i64>(&mut app, &sessions, LoginOptions::default());
    // Registers `login_throttle`, counting failures where the sessions live.
    if let Err(e) = configure_login_throttle(&mut app, &sessions, settings.throttle.clone()) {
        unreachable!("uapi's backends keep attempt logs: {e}");
    }
    common_routes(&mut app, settings);
    app.delete("/sessions/{user_id}", logout_everywhere).post("/cart", add_to_cart).get("/cart", show_cart);
    serve_docs(&mut app, settings.docs_assets.as_deref());
    app
}

/// [`build`] with the sessions in their cookies (`--cookie-sessions`): the
/// same routes, and `DELETE /sessions/{user_id}` a 501.
fn build_on_cookies(
    app: &mut App,
    keys: SecretKeys,
    options: SessionOptions,
    carts: SessionOptions,
    settings: &Settings,
) {
    configure_secure_sessions(app, keys.clone(), carts);
    let sessions = configure_secure_sessions(app, keys, options);
    // `current_user_id` and `login_session`; no `login_manager`.
    configure_secure_login::<i64>(app, &sessions, LoginOptions::default());
    // No store to count failures in: this process's memory.
    let counts = Arc::new(MemoryStore::new());
    if let Err(e) = configure_login_throttle_in(app, counts, settings.throttle.clone()) {
        unreachable!("MemoryStore keeps an attempt log: {e}");
    }
    common_routes(app, settings);
    app.delete("/sessions/{user_id}", cannot_logout_everywhere)
        .post("/cart", add_to_cookie_cart)
        .get("/cart", show_cookie_cart);
    serve_docs(app, settings.docs_assets.as_deref());
}

/// The routes and values every session store serves alike.
fn common_routes(app: &mut App, settings: &Settings) {
    app.provide_value(Users::new()).provide_value(DemoLogin(settings.demo_login));
    app.get("/", index).post("/users", create_user).post("/login", login).post("/logout", logout).get("/me", me);
}

/// The OpenAPI document at `/openapi.json` (of the routes above), and the
/// docs pages `/swaggerui`, `/redoc` and `/elements`: their files from a CDN,
/// or from `assets` (a `node_modules` folder) under `/assets`.
fn serve_docs(app: &mut App, assets: Option<&std::path::Path>) {
    let options = OpenApiOptions::new("uapi login example", env!("CARGO_PKG_VERSION"))
        .description("Logins with passwords, sessions in Redis or in memory, and a cart in a second session.");
    app.serve_openapi("/openapi.json", &options);
    let pages = [
        ("/swaggerui", DocsPage::swaggerui("/openapi.json"), "swagger-ui-dist"),
        ("/redoc", DocsPage::redoc("/openapi.json"), "redoc/bundles"),
        ("/elements", DocsPage::elements("/openapi.json"), "@stoplight/elements"),
    ];
    for (path, page, package) in pages {
        let page = match assets {
            Some(_) => page.assets_at(&format!("/assets/{package}")),
            None => page,
        };
        app.serve_docs(path, &page);
    }
    if let Some(assets) = assets {
        app.provide_value(DocsAssets(Arc::new(assets.to_owned()))).get("/assets/{*file}", asset);
    }
}
