//! Saves of one session that overlap, on a backend whose saves the test
//! holds and fails: nothing a handler set is lost.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use uapi::sessions::{
    configure_sessions, AsyncSession, BoxFuture, LoadedSession, MemoryStore, SaveOutcome, SaveRequest, SessionBackend,
    SessionError, SessionId, SessionOptions, StoreInfo,
};
use uapi::testing::TestClient;
use uapi::{handler, App};

/// The default store, as `SessionOptions::default()` configures it.
const STORE: StoreInfo<'static> = StoreInfo::DEFAULT;

/// The upper bound on anything a test waits for; never reached when things work.
const PATIENCE: Duration = Duration::from_secs(10);

/// A [`MemoryStore`] whose first save waits for `release` (after notifying
/// `first_started`) and whose second save fails.
#[derive(Clone, Default)]
struct Gated {
    inner: Arc<MemoryStore>,
    saves: Arc<AtomicUsize>,
    first_started: Arc<Notify>,
    release: Arc<Notify>,
}

impl SessionBackend for Gated {
    fn load<'a>(
        &'a self,
        store: StoreInfo<'a>,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Option<LoadedSession>, SessionError>> {
        self.inner.load(store, id)
    }

    fn save<'a>(&'a self, req: SaveRequest<'a>) -> BoxFuture<'a, Result<SaveOutcome, SessionError>> {
        Box::pin(async move {
            match self.saves.fetch_add(1, Ordering::SeqCst) {
                0 => {
                    self.first_started.notify_one();
                    self.release.notified().await;
                }
                1 => return Err(SessionError::Unavailable("the test fails this save".into())),
                _ => {}
            }
            self.inner.save(req).await
        })
    }

    fn delete<'a>(&'a self, store: StoreInfo<'a>, id: &'a SessionId) -> BoxFuture<'a, Result<(), SessionError>> {
        self.inner.delete(store, id)
    }

    fn rotate<'a>(
        &'a self,
        store: StoreInfo<'a>,
        old: Option<&'a SessionId>,
        new: &'a SessionId,
        data: &'a HashMap<String, String>,
        namespace: Option<&'a str>,
        max_age: Duration,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        self.inner.rotate(store, old, new, data, namespace, max_age)
    }

    fn touch<'a>(
        &'a self,
        store: StoreInfo<'a>,
        id: &'a SessionId,
        max_age: Duration,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        self.inner.touch(store, id, max_age)
    }

    fn remove_namespace<'a>(
        &'a self,
        store: StoreInfo<'a>,
        namespace: &'a str,
    ) -> BoxFuture<'a, Result<u64, SessionError>> {
        self.inner.remove_namespace(store, namespace)
    }
}

/// A new session: the first save is held; `b` is set; a second save (still
/// a creation) fails; the first then succeeds; the next save must still
/// write `b`.
#[handler]
async fn overlapping(session: AsyncSession, gate: Gated) -> Result<&'static str, SessionError> {
    session.insert("a", "1");
    let held = session.clone();
    let first = tokio::spawn(async move { held.update_session().await });
    tokio::time::timeout(PATIENCE, gate.first_started.notified()).await.expect("the first save started");
    session.insert("b", "2");
    assert!(session.update_session().await.is_err(), "the second save fails");
    gate.release.notify_one();
    tokio::time::timeout(PATIENCE, first).await.expect("the first save ends").expect("task")?;
    session.update_session().await?;
    Ok("saved")
}

/// What a failed save of a new session had pending is written by the next
/// save, even when another save created the session meanwhile.
#[tokio::test]
async fn a_failed_save_of_a_new_session_leaves_its_changes_pending() {
    let gate = Gated::default();
    let mut app = App::new();
    configure_sessions(&mut app, gate.clone(), SessionOptions::default());
    app.provide_value(gate.clone()).post("/overlapping", overlapping);
    let client = TestClient::new(&app).expect("app builds");
    let response = client.post("/overlapping").send().await;
    assert_eq!(response.status, 200, "{}", response.text());
    let cookie = client.cookie("session_id").expect("the session's cookie");
    let id = SessionId::parse(&cookie).expect("a session id");
    let stored = gate.inner.load(STORE, &id).await.expect("loads").expect("the session exists").data;
    assert_eq!(stored, HashMap::from([("a".to_owned(), "1".to_owned()), ("b".to_owned(), "2".to_owned())]));
}
