//! Logging in as another user over a logged-in session carries none of the
//! first user's data, while a first login keeps what an anonymous visitor had.

use uapi::login::{configure_async_login, AsyncLoginSession, LoginOptions};
use uapi::sessions::{configure_sessions, AsyncSession, MemoryStore, SessionError, SessionOptions};
use uapi::status::Created;
use uapi::testing::TestClient;
use uapi::{handler, App};

#[handler]
async fn login(login_session: AsyncLoginSession<i64>, user_id: i64) -> Result<Created<()>, SessionError> {
    Ok(Created::new(()).with_headers(login_session.login_and_return(user_id).await?))
}

#[handler]
async fn put(session: AsyncSession, key: String, value: String) -> Result<(), SessionError> {
    session.insert(key, value);
    session.update_session().await?;
    Ok(())
}

#[handler]
async fn dump(session: AsyncSession) -> String {
    let mut pairs: Vec<String> = session.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.sort();
    pairs.join(",")
}

fn client() -> TestClient {
    let mut app = App::new();
    let store = configure_sessions(&mut app, MemoryStore::new(), SessionOptions::default());
    configure_async_login::<i64>(&mut app, &store, LoginOptions::default());
    app.post("/login", login).post("/put", put).get("/dump", dump);
    TestClient::new(&app).expect("app builds")
}

/// A's data does not follow the session when B logs in over it.
#[tokio::test]
async fn logging_in_as_another_user_drops_the_previous_users_data() {
    let c = client();
    assert_eq!(c.post("/login?user_id=1").send().await.status, 201);
    c.post("/put?key=secret&value=a-only").send().await;
    assert_eq!(c.get("/dump").send().await.text(), "secret=a-only,user_id=1");
    assert_eq!(c.post("/login?user_id=2").send().await.status, 201);
    assert_eq!(c.get("/dump").send().await.text(), "user_id=2");
}

/// What an anonymous visitor stored (a cart, say) survives their first login.
#[tokio::test]
async fn a_first_login_keeps_the_anonymous_sessions_data() {
    let c = client();
    c.post("/put?key=cart&value=tea").send().await;
    let before = c.cookie("session_id").expect("a session cookie");
    assert_eq!(c.post("/login?user_id=7").send().await.status, 201);
    assert_ne!(c.cookie("session_id").expect("a session cookie"), before, "login rotates the id");
    assert_eq!(c.get("/dump").send().await.text(), "cart=tea,user_id=7");
}
