//! `LazySession` under races inside one request (clones of it used at once)
//! and at its edges: a read answered after the session moved on (a logout,
//! a save of the same key) never brings back what was ended or overwritten;
//! ending a session the cookie names but the store lacks sends no cookie;
//! reserved names are never removed. On a `MemoryStore` whose field reads
//! the test holds until it releases them (no timing involved).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use uapi::login::{configure_async_login, AsyncLoginSession, LoginOptions};
use uapi::sessions::{
    configure_sessions, AsyncSession, BoxFuture, LazySession, LoadedSession, MemoryStore, SaveOutcome, SaveRequest,
    SessionBackend, SessionError, SessionId, SessionOptions, StoreInfo,
};
use uapi::status::Created;
use uapi::testing::TestClient;
use uapi::{handler, App};

/// The upper bound on anything a test waits for; reached only by a hang.
const PATIENCE: Duration = Duration::from_secs(10);

/// A MemoryStore whose next `load_fields` after `hold` is set reads, then
/// waits for `release` before answering: a reply still on its way.
#[derive(Clone, Default)]
struct Slow {
    inner: Arc<MemoryStore>,
    hold: Arc<std::sync::atomic::AtomicBool>,
    read_done: Arc<Notify>,
    release: Arc<Notify>,
}

impl SessionBackend for Slow {
    fn load<'a>(
        &'a self,
        s: StoreInfo<'a>,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Option<LoadedSession>, SessionError>> {
        self.inner.load(s, id)
    }
    fn load_fields<'a>(
        &'a self,
        s: StoreInfo<'a>,
        id: &'a SessionId,
        fields: &'a [&'a str],
    ) -> BoxFuture<'a, Result<Option<LoadedSession>, SessionError>> {
        Box::pin(async move {
            let r = self.inner.load_fields(s, id, fields).await;
            // Holds the one read made while `hold` is set.
            if self.hold.swap(false, std::sync::atomic::Ordering::SeqCst) {
                self.read_done.notify_one();
                self.release.notified().await;
            }
            r
        })
    }
    fn save<'a>(&'a self, req: SaveRequest<'a>) -> BoxFuture<'a, Result<SaveOutcome, SessionError>> {
        self.inner.save(req)
    }
    fn delete<'a>(&'a self, s: StoreInfo<'a>, id: &'a SessionId) -> BoxFuture<'a, Result<(), SessionError>> {
        self.inner.delete(s, id)
    }
    fn rotate<'a>(
        &'a self,
        s: StoreInfo<'a>,
        old: Option<&'a SessionId>,
        new: &'a SessionId,
        data: &'a HashMap<String, String>,
        ns: Option<&'a str>,
        max_age: Duration,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        self.inner.rotate(s, old, new, data, ns, max_age)
    }
    fn touch<'a>(
        &'a self,
        s: StoreInfo<'a>,
        id: &'a SessionId,
        m: Duration,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        self.inner.touch(s, id, m)
    }
    fn remove_namespace<'a>(&'a self, s: StoreInfo<'a>, ns: &'a str) -> BoxFuture<'a, Result<u64, SessionError>> {
        self.inner.remove_namespace(s, ns)
    }
}

#[handler]
async fn login(login_session: AsyncLoginSession<i64>, user_id: i64) -> Result<Created<()>, SessionError> {
    Ok(Created::new(()).with_headers(login_session.login_and_return(user_id).await?))
}

#[handler]
async fn who(current_user_id: Option<i64>) -> String {
    format!("{current_user_id:?}")
}

#[handler]
async fn set(session: AsyncSession, key: String, value: String) -> Result<&'static str, SessionError> {
    session.insert(key, value);
    session.update_session().await?;
    Ok("ok")
}

/// Logout (clear_session) while a read of the same lazy session is in flight,
/// then a flash message.
#[handler]
async fn logout_racing_a_read(session: LazySession, gate: Slow) -> Result<&'static str, SessionError> {
    gate.hold.store(true, std::sync::atomic::Ordering::SeqCst);
    let reader = session.clone();
    let read = tokio::spawn(async move { reader.get("user_id").await });
    tokio::time::timeout(PATIENCE, gate.read_done.notified()).await.expect("the read reached the store");
    session.clear_session().await?;
    gate.release.notify_one();
    read.await.expect("task")?;
    session.insert("flash", "you are logged out");
    session.update_session().await?;
    Ok("bye")
}

/// A save while a read of the same key is in flight; then read it back.
#[handler]
async fn save_racing_a_read(session: LazySession, gate: Slow) -> Result<String, SessionError> {
    gate.hold.store(true, std::sync::atomic::Ordering::SeqCst);
    let reader = session.clone();
    let read = tokio::spawn(async move { reader.get("n").await });
    tokio::time::timeout(PATIENCE, gate.read_done.notified()).await.expect("the read reached the store");
    session.insert("n", "2");
    session.update_session().await?;
    gate.release.notify_one();
    read.await.expect("task")?;
    Ok(session.get("n").await?.unwrap_or_default())
}

#[handler]
async fn lazy_clear(session: LazySession) -> Result<&'static str, SessionError> {
    session.clear_session().await?;
    Ok("cleared")
}

#[handler]
async fn eager_clear(session: AsyncSession) -> Result<&'static str, SessionError> {
    session.clear_session().await?;
    Ok("cleared")
}

fn client() -> TestClient {
    let mut app = App::new();
    let gate = Slow::default();
    let options = SessionOptions::default().cookie_settings(uapi::CookieSettings::default().secure(false));
    let store = configure_sessions(&mut app, gate.clone(), options);
    configure_async_login::<i64>(&mut app, &store, LoginOptions::default());
    app.provide_value(gate)
        .post("/login", login)
        .get("/who", who)
        .post("/set", set)
        .post("/logout-racing-a-read", logout_racing_a_read)
        .post("/save-racing-a-read", save_racing_a_read)
        .post("/lazy-clear", lazy_clear)
        .post("/eager-clear", eager_clear);
    TestClient::new(&app).expect("builds")
}

#[tokio::test]
async fn a_logout_racing_a_lazy_read_does_not_bring_the_user_back() {
    let c = client();
    assert_eq!(c.post("/login?user_id=7").send().await.status, 201);
    assert_eq!(c.get("/who").send().await.text(), "Some(7)");
    let r = c.post("/logout-racing-a-read").send().await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(c.get("/who").send().await.text(), "None", "logged out, yet the new session is user 7's");
}

#[tokio::test]
async fn a_save_racing_a_lazy_read_keeps_the_saved_value() {
    let c = client();
    assert_eq!(c.post("/set?key=n&value=1").send().await.status, 200);
    let r = c.post("/save-racing-a-read").send().await;
    assert_eq!(r.text(), "2", "the value this request saved");
}

#[tokio::test]
async fn ending_a_session_the_cookie_names_but_the_store_lacks_sends_no_cookie() {
    let c = client();
    c.set_cookie("session_id", &"A".repeat(43));
    let eager = c.post("/eager-clear").send().await;
    assert!(eager.set_cookies().is_empty(), "eager: {:?}", eager.set_cookies());
    let lazy = c.post("/lazy-clear").send().await;
    assert!(lazy.set_cookies().is_empty(), "lazy: {:?}", lazy.set_cookies());
}

#[handler]
async fn lazy_remove_reserved(session: LazySession) -> Result<&'static str, SessionError> {
    session.remove("\u{1}ns");
    session.insert("a", "1");
    session.update_session().await?;
    Ok("saved")
}

#[handler]
async fn eager_remove_reserved(session: AsyncSession) -> Result<&'static str, SessionError> {
    session.remove("\u{1}ns");
    session.insert("a", "1");
    session.update_session().await?;
    Ok("saved")
}

#[tokio::test]
async fn removing_a_reserved_name_is_a_no_op_as_on_the_eager_session() {
    let mut app = App::new();
    let options = SessionOptions::default().cookie_settings(uapi::CookieSettings::default().secure(false));
    configure_sessions(&mut app, MemoryStore::new(), options);
    app.post("/set", set).post("/lr", lazy_remove_reserved).post("/er", eager_remove_reserved);
    let c = TestClient::new(&app).expect("builds");
    c.post("/set?key=k&value=v").send().await;
    assert_eq!(c.post("/er").send().await.status, 200);
    let r = c.post("/lr").send().await;
    assert_eq!(r.status, 200, "{}", r.text());
}
