//! A session backend without an attempt log cannot carry the throttle.

use std::collections::HashMap;

use uapi::sessions::{BoxFuture, LoadedSession, SaveOutcome, SaveRequest, SessionId, StoreInfo};

use super::*;

/// A [`MemoryStore`] seen through a backend that does not override
/// `attempt_log` (as a backend written outside uapi might not).
struct NoLog(MemoryStore);

impl SessionBackend for NoLog {
    fn load<'a>(
        &'a self,
        store: StoreInfo<'a>,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Option<LoadedSession>, SessionError>> {
        self.0.load(store, id)
    }

    fn save<'a>(&'a self, req: SaveRequest<'a>) -> BoxFuture<'a, Result<SaveOutcome, SessionError>> {
        self.0.save(req)
    }

    fn delete<'a>(&'a self, store: StoreInfo<'a>, id: &'a SessionId) -> BoxFuture<'a, Result<(), SessionError>> {
        self.0.delete(store, id)
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
        self.0.rotate(store, old, new, data, namespace, max_age)
    }

    fn touch<'a>(
        &'a self,
        store: StoreInfo<'a>,
        id: &'a SessionId,
        max_age: Duration,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        self.0.touch(store, id, max_age)
    }

    fn remove_namespace<'a>(
        &'a self,
        store: StoreInfo<'a>,
        namespace: &'a str,
    ) -> BoxFuture<'a, Result<u64, SessionError>> {
        self.0.remove_namespace(store, namespace)
    }
}

/// `configure_login_throttle` on such a backend is an error (the same call
/// on the memory store itself is fine), and a login handler that asks for
/// `login_throttle` then makes the app fail to build rather than run
/// unthrottled.
#[test]
fn configuring_the_throttle_on_a_backend_without_an_attempt_log_is_an_error() {
    let mut app = App::new();
    let store = configure_sessions(&mut app, NoLog(MemoryStore::new()), SessionOptions::default());
    configure_async_login::<i64>(&mut app, &store, LoginOptions::default());
    match configure_login_throttle(&mut app, &store, LoginThrottleOptions::default()) {
        Err(SessionError::Backend(message)) => assert!(message.contains("attempt log"), "{message}"),
        Err(other) => panic!("expected a backend error, got {other:?}"),
        Ok(_) => panic!("configured a throttle on a backend that keeps no attempt log"),
    }
    app.provide_value(Runs::default()).provide_value(Tag("app".into())).post("/login", login);
    match app.build() {
        Err(e) => assert!(e.to_string().contains("login_throttle"), "{e}"),
        Ok(_) => panic!("a login handler without its throttle was built"),
    }

    let mut app = App::new();
    let store = configure_sessions(&mut app, MemoryStore::new(), SessionOptions::default());
    assert!(configure_login_throttle(&mut app, &store, LoginThrottleOptions::default()).is_ok());
}
