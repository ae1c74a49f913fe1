//! What the failover tests (`tests/failover.rs` on a Redis Cluster,
//! `tests/sentinel.rs` on Sentinel) share: the app they load, browsers whose
//! saves were acknowledged, and bounded requests and polls.

use std::time::{Duration, Instant};

use uapi::sessions::redis::configure_async_sessions;
use uapi::sessions::{AsyncSession, RedisBackend, SessionError, SessionOptions};
use uapi::testing::{TestClient, TestRequest};
use uapi::{handler, App, AppService, CookieSettings};

/// The upper bound on anything the tests wait for; reached only by a hang.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// `POST /put?v=X`: writes `v` into the session (a new one without a cookie).
#[handler]
async fn put(session: AsyncSession, v: String) -> Result<String, SessionError> {
    session.insert("v", v);
    session.update_session().await?;
    Ok("saved".to_owned())
}

/// `GET /get`: the session's `v`, empty for no session.
#[handler]
async fn get(session: AsyncSession) -> String {
    session.get("v").unwrap_or_default()
}

/// The app under load: `/put` and `/get` on sessions in `backend`
/// (cookies without `Secure`: the test client speaks plain http).
pub fn site(backend: RedisBackend) -> AppService {
    let mut app = App::new();
    let options = SessionOptions::default().cookie_settings(CookieSettings::default().secure(false));
    configure_async_sessions(&mut app, backend, options);
    app.post("/put", put).get("/get", get);
    app.build().expect("app builds")
}

/// A browser whose save was answered with a success: its value must stay.
pub struct Acked {
    pub client: TestClient,
    pub value: String,
    /// Its session's Redis key.
    pub key: String,
}

/// One request, timed: status, body, time taken (a hang fails after [`PATIENCE`]).
pub async fn timed(request: TestRequest) -> (u16, String, Duration) {
    let start = Instant::now();
    let r = tokio::time::timeout(PATIENCE, request.send()).await.expect("a request hung");
    (r.status.as_u16(), r.text(), start.elapsed())
}

/// A new browser saving `value` in a store whose keys start with `prefix`:
/// `Some` when the save was acknowledged, or `None` for a 503; anything
/// else (a 500, a hang, slower than `bound`) fails the test.
pub async fn save_new(site: &AppService, prefix: &str, value: String, bound: Duration) -> Option<Acked> {
    let client = TestClient::from_service(site.clone());
    let (status, body, elapsed) = timed(client.post(&format!("/put?v={value}"))).await;
    assert!(elapsed < bound, "a save took {elapsed:?} ({status} {body})");
    match status {
        200 => {
            let id = client.cookie("session_id").expect("a saved session has a cookie");
            Some(Acked { client, value, key: format!("{prefix}uapi:session:{id}") })
        }
        503 => None,
        _ => panic!("a save answered {status}: {body}"),
    }
}

/// Polls `done` every few milliseconds until it holds, or fails with `what`
/// past [`PATIENCE`].
pub async fn poll_until(done: impl Fn() -> bool, what: &str) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "{what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
