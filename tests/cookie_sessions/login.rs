//! Login on secure sessions (`configure_secure_login`), over HTTP: login
//! changes the cookie, `current_user_id` reads it, logout expires it, a
//! planted cookie stays anonymous, and "log out everywhere" cannot be asked
//! for.

use uapi::login::{configure_secure_login, AsyncLoginManager, AsyncLoginSession, LoginOptions};
use uapi::sessions::secure::configure_secure_sessions;
use uapi::sessions::{SecureSession, SessionError, SessionOptions};
use uapi::status::{Created, NoContent};
use uapi::testing::TestClient;
use uapi::{handler, App};

use super::{key, set_cookie, SESSION};

/// `POST /login?user_id=N`: logs in as N.
#[handler]
async fn login(login_session: AsyncLoginSession<i64>, user_id: i64) -> Result<Created<()>, SessionError> {
    Ok(Created::new(()).with_headers(login_session.login_and_return(user_id).await?))
}

/// `POST /logout`.
#[handler]
async fn logout(login_session: AsyncLoginSession<i64>) -> Result<NoContent, SessionError> {
    Ok(NoContent::new().with_headers(login_session.logout_and_return().await?))
}

/// `GET /me`: a 403 when anonymous.
#[handler]
async fn me(current_user_id: i64, session: SecureSession) -> String {
    format!("{current_user_id} {}", session.get("theme").unwrap_or_default())
}

/// `GET /who`: `current_user_id: Option<i64>`.
#[handler]
async fn who(current_user_id: Option<i64>) -> String {
    format!("{current_user_id:?}")
}

/// `POST /theme?theme`: a field of the session, before or after login.
#[handler]
async fn theme(session: SecureSession, theme: String) -> Result<&'static str, SessionError> {
    session.insert("theme", theme);
    session.update_session().await?;
    Ok("ok")
}

fn app() -> App {
    let mut app = App::new();
    let store = configure_secure_sessions(&mut app, key(1), SessionOptions::default());
    configure_secure_login::<i64>(&mut app, &store, LoginOptions::default());
    app.post("/login", login).post("/logout", logout).get("/me", me).get("/who", who).post("/theme", theme);
    app
}

/// Log in: a new cookie, `current_user_id` answers; log out: the cookie
/// expires and the caller is anonymous again.
#[tokio::test]
async fn login_and_logout_over_http() {
    let client = TestClient::new(&app()).expect("builds");
    assert_eq!(client.get("/me").send().await.status, 403);
    assert_eq!(client.get("/who").send().await.text(), "None");
    client.post("/theme?theme=dark").send().await;
    let anonymous = client.cookie(SESSION).expect("an anonymous session");

    let response = client.post("/login?user_id=7").send().await;
    assert_eq!(response.status, 201);
    let logged_in = set_cookie(&response, SESSION).expect("login sets the cookie").value;
    assert_ne!(logged_in, anonymous, "login changes the cookie's value");
    assert_eq!(client.get("/me").send().await.text(), "7 dark", "the session's data carries over");
    assert_eq!(client.get("/who").send().await.text(), "Some(7)");

    let response = client.post("/logout").send().await;
    assert_eq!(response.status, 204);
    assert_eq!(set_cookie(&response, SESSION).expect("expired").max_age(), Some(0));
    assert_eq!(client.get("/me").send().await.status, 403);
}

/// Fixation: a cookie planted before the victim logs in stays the anonymous
/// session it was; the logged-in session is another cookie.
#[tokio::test]
async fn a_planted_cookie_stays_anonymous() {
    let attacker = TestClient::new(&app()).expect("builds");
    let victim = TestClient::new(&app()).expect("builds");
    attacker.post("/theme?theme=planted").send().await;
    let planted = attacker.cookie(SESSION).expect("a cookie");
    victim.set_cookie(SESSION, &planted);
    assert_eq!(victim.post("/login?user_id=7").send().await.status, 201);
    assert_eq!(victim.get("/me").send().await.text(), "7 planted");
    let me = attacker.get("/me").header("cookie", &format!("{SESSION}={planted}")).send().await;
    assert_eq!(me.status, 403, "the attacker's copy is not logged in");
}

/// Logging in as another user keeps nothing of the previous user's session.
#[tokio::test]
async fn a_login_as_another_user_starts_empty() {
    let client = TestClient::new(&app()).expect("builds");
    client.post("/login?user_id=1").send().await;
    client.post("/theme?theme=dark").send().await;
    client.post("/login?user_id=2").send().await;
    assert_eq!(client.get("/me").send().await.text(), "2 ");
}

/// `login_manager: AsyncLoginManager<T>` (logging out everywhere) has no
/// provider on secure sessions: the app does not build, naming it.
#[test]
fn log_out_everywhere_is_refused_at_build_time() {
    #[handler]
    async fn everywhere(user_id: i64, login_manager: AsyncLoginManager<i64>) -> Result<String, SessionError> {
        Ok(login_manager.logout(&user_id).await?.to_string())
    }
    let mut app = app();
    app.delete("/sessions/{user_id}", everywhere);
    let Err(error) = app.build() else { panic!("the app built") };
    assert!(error.to_string().contains("login_manager"), "{error}");
}
