//! Secure sessions (feature `secure-sessions`, default): uapi's
//! `configure_secure_sessions`. The session lives in its cookie, encrypted
//! and authenticated, so no server keeps anything.
//!
//! - [`configure_secure_sessions`] registers `session: SecureSession` (or the
//!   configured name) from a [`SecretKey`] or [`SecretKeys`] (rotation).
//! - The cookie is AES-256-GCM of the session's map and the time it began
//!   (so a cookie kept past `max_age` is refused), with the cookie's name as
//!   associated data; a fresh random nonce per seal.
//! - Anything that does not open (garbage, truncated, tampered, another
//!   store's, an unknown key's, expired) is a fresh empty session, never an
//!   error.
//! - A session whose cookie would pass 4096 bytes is an error from
//!   [`SecureSession::update_session`] ([`SessionError::TooLarge`](crate::sessions::SessionError::TooLarge)).
//! - Login works on top ([`configure_secure_login`](crate::login::configure_secure_login)),
//!   except logging a user out everywhere: without a server, a cookie cannot
//!   be revoked before it expires.
//!
//! Modules, each using only those before it: `key`, `seal` (the cookie's
//! format), `session` ([`SecureSession`]), `store`.
//!
//! # Examples
//!
//! ```
//! use uapi::sessions::secure::{configure_secure_sessions, SecretKey};
//! use uapi::sessions::{SecureSession, SessionError, SessionOptions};
//! use uapi::testing::TestClient;
//! use uapi::{handler, App};
//!
//! #[handler]
//! async fn visit(session: SecureSession) -> Result<String, SessionError> {
//!     let visits = session.get("visits").and_then(|v| v.parse::<u32>().ok()).unwrap_or(0) + 1;
//!     session.insert("visits", visits.to_string());
//!     session.update_session().await?;
//!     Ok(visits.to_string())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let key = SecretKey::from_base64(&std::env::var("UAPI_COOKIE_KEY").unwrap_or_else(|_| "A".repeat(44)))
//!     .expect("32 bytes or more, in base64");
//! let mut app = App::new();
//! configure_secure_sessions(&mut app, key, SessionOptions::default());
//! app.post("/visit", visit);
//! let client = TestClient::new(&app).expect("builds");
//! assert_eq!(client.post("/visit").send().await.text(), "1");
//! assert_eq!(client.post("/visit").send().await.text(), "2");
//! # }
//! ```

mod key;
mod seal;
mod session;
mod store;

pub use self::key::{KeyError, SecretKey, SecretKeys, MIN_SECRET_BYTES};
pub use self::session::SecureSession;
pub use self::store::{configure_secure_sessions, SecureSessionStore};
