//! The login example's app, shared by `main.rs` and the black-box tests.

use std::time::Duration;

use uapi::login::{configure_async_login, AsyncLoginManager, AsyncLoginSession, LoginOptions};
use uapi::sessions::redis::{configure_async_sessions, RedisBackend, RedisConnection};
use uapi::sessions::{configure_sessions, AsyncSession, MemoryStore, SessionError, SessionOptions};
use uapi::status::{Created, NoContent};
use uapi::{handler, App, CookieSettings};

/// `GET /`: the logged-in user's id, or `no user`.
#[handler]
pub(crate) async fn index(current_user_id: Option<i64>) -> String {
    current_user_id.map_or_else(|| "no user".to_owned(), |id| id.to_string())
}

/// `POST /login?user_id=N`: logs this session in as N (a new session id).
#[handler]
pub(crate) async fn login(login_session: AsyncLoginSession<i64>, user_id: i64) -> Result<Created<()>, SessionError> {
    if login_session.user_id == Some(user_id) {
        return Ok(Created::new(()));
    }
    // A real app checks a password or a token here.
    let cookie = login_session.login_and_return(user_id).await?;
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

/// `POST /cart?item=X`: adds X to the cart, a second, independent session.
#[handler]
pub(crate) async fn add_to_cart(cart: AsyncSession, item: String) -> Result<String, SessionError> {
    let items = match cart.get("items") {
        Some(items) => format!("{items},{item}"),
        None => item,
    };
    cart.insert("items", items.clone());
    cart.update_session().await?;
    Ok(items)
}

/// `GET /cart`: the cart's items, comma-separated.
#[handler]
pub(crate) async fn show_cart(cart: AsyncSession) -> String {
    cart.get("items").unwrap_or_default()
}

/// Settings of the example app.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Session lifetime.
    pub(crate) max_age: Duration,
    /// Send cookies without `Secure` (plain-http local testing).
    pub(crate) insecure_cookies: bool,
}

/// Where the app keeps its sessions.
pub(crate) enum Store {
    /// In this process's memory (no Redis given): gone when it exits.
    Memory,
    /// In Redis, every key under `key_prefix`, each command bounded by
    /// `command_timeout` (a 503 past it).
    Redis { conn: RedisConnection, key_prefix: String, command_timeout: Duration },
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
    app.get("/", index)
        .post("/login", login)
        .post("/logout", logout)
        .get("/me", me)
        .delete("/sessions/{user_id}", logout_everywhere)
        .post("/cart", add_to_cart)
        .get("/cart", show_cart);
    app
}
