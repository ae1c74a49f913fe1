//! In-process session store, for tests and single-process deployments.

mod attempts;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use self::attempts::Attempts;
use super::backend::{check_fields, check_request};
use super::{
    AttemptLog, BoxFuture, LoadedSession, Reservation, SaveOutcome, SaveRequest, SessionBackend, SessionError,
    SessionId, StoreInfo,
};

/// How often (at most) an operation sweeps *all* expired entries. Between
/// sweeps, expired entries are still invisible: every access checks the one
/// entry it touches.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// An in-memory [`SessionBackend`] with the same semantics as the Redis one
/// (field-level saves, expiry, [`SaveOutcome::Gone`], namespaces), and an
/// [`AttemptLog`] for the login throttle.
///
/// Cloning is cheap and clones share the same sessions. All work happens
/// synchronously under a `std::sync::Mutex` that is released before the
/// returned future is even polled, so the lock is never held across `.await`.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
    attempts: Arc<Mutex<Attempts>>,
}

struct Entry {
    data: HashMap<String, String>,
    namespace: Option<String>,
    expires_at: Instant,
}

#[derive(Default)]
struct State {
    /// One space per store (by cookie name): stores never see each other's sessions.
    spaces: HashMap<String, Space>,
    last_sweep: Option<Instant>,
}

/// The sessions of one store.
#[derive(Default)]
struct Space {
    sessions: HashMap<String, Entry>,
    /// namespace -> ids; kept exact (updated on every change/removal).
    namespaces: HashMap<String, HashSet<String>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sessions: usize = self.lock().spaces.values().map(|s| s.sessions.len()).sum();
        f.debug_struct("MemoryStore").field("sessions", &sessions).finish()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of live (unexpired) sessions, in every store.
    pub fn len(&self) -> usize {
        let mut st = self.lock();
        st.sweep(Instant::now(), true);
        st.spaces.values().map(|s| s.sessions.len()).sum()
    }

    /// `true` if there is no live session.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Locks the state; a poisoned lock is recovered rather than propagated,
    /// since every mutation below leaves the maps consistent at each step.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Locks the attempt log (see [`AttemptLog`]), recovering a poisoned lock
    /// likewise.
    fn attempts(&self) -> MutexGuard<'_, Attempts> {
        self.attempts.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the sessions of `store` (after lazy expiry) and returns a
    /// ready future.
    fn with<'a, T: Send + 'a>(
        &'a self,
        store: StoreInfo<'_>,
        f: impl FnOnce(&mut Space, Instant) -> Result<T, SessionError>,
    ) -> BoxFuture<'a, Result<T, SessionError>> {
        let result = {
            let now = Instant::now();
            let mut st = self.lock();
            st.sweep(now, false);
            if !st.spaces.contains_key(store.cookie_name) {
                st.spaces.insert(store.cookie_name.to_owned(), Space::default());
            }
            match st.spaces.get_mut(store.cookie_name) {
                Some(space) => f(space, now),
                None => Err(SessionError::Backend("memory store space vanished".to_owned())),
            }
        };
        Box::pin(std::future::ready(result))
    }
}

impl State {
    fn sweep(&mut self, now: Instant, force: bool) {
        if !force && self.last_sweep.is_some_and(|t| now.duration_since(t) < SWEEP_INTERVAL) {
            return;
        }
        self.last_sweep = Some(now);
        for space in self.spaces.values_mut() {
            let expired: Vec<String> =
                space.sessions.iter().filter(|(_, e)| e.expires_at <= now).map(|(id, _)| id.clone()).collect();
            for id in expired {
                space.remove(&id);
            }
        }
    }
}

impl Space {
    /// The live entry for `id`; an expired one is removed on the spot.
    fn live(&mut self, id: &str, now: Instant) -> Option<&mut Entry> {
        if self.sessions.get(id).is_some_and(|e| e.expires_at <= now) {
            self.remove(id);
        }
        self.sessions.get_mut(id)
    }

    fn remove(&mut self, id: &str) -> Option<Entry> {
        let entry = self.sessions.remove(id)?;
        if let Some(ns) = &entry.namespace {
            self.unindex(ns, id);
        }
        Some(entry)
    }

    fn unindex(&mut self, ns: &str, id: &str) {
        if let Some(set) = self.namespaces.get_mut(ns) {
            set.remove(id);
            if set.is_empty() {
                self.namespaces.remove(ns);
            }
        }
    }

    fn set_namespace(&mut self, id: &str, ns: &str) {
        let Some(entry) = self.sessions.get_mut(id) else {
            return;
        };
        if entry.namespace.as_deref() == Some(ns) {
            return;
        }
        let old = entry.namespace.replace(ns.to_owned());
        if let Some(old) = old {
            self.unindex(&old, id);
        }
        self.namespaces.entry(ns.to_owned()).or_default().insert(id.to_owned());
    }
}

fn max_age_at(now: Instant, max_age: Duration) -> Instant {
    now.checked_add(max_age).unwrap_or(now + Duration::from_secs(100 * 365 * 24 * 3600))
}

impl SessionBackend for MemoryStore {
    fn load<'a>(
        &'a self,
        store: StoreInfo<'a>,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Option<LoadedSession>, SessionError>> {
        self.with(store, move |st, now| {
            Ok(st.live(id.as_str(), now).map(|e| LoadedSession {
                data: e.data.clone(),
                namespace: e.namespace.clone(),
                ttl: Some(e.expires_at.saturating_duration_since(now)),
            }))
        })
    }

    fn save<'a>(&'a self, req: SaveRequest<'a>) -> BoxFuture<'a, Result<SaveOutcome, SessionError>> {
        self.with(req.store, move |st, now| {
            check_request(&req)?;
            let id = req.id.as_str();
            let entry = match st.live(id, now) {
                Some(entry) => entry,
                None if req.existed => return Ok(SaveOutcome::Gone),
                None => st.sessions.entry(id.to_owned()).or_insert(Entry {
                    data: HashMap::new(),
                    namespace: None,
                    expires_at: max_age_at(now, req.max_age),
                }),
            };
            if req.existed {
                for (k, v) in req.upserts {
                    entry.data.insert(k.clone(), v.clone());
                }
                for k in req.removals {
                    entry.data.remove(k);
                }
            } else {
                entry.data.extend(req.full.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            if let Some(ns) = req.namespace {
                st.set_namespace(id, ns);
            }
            Ok(SaveOutcome::Saved)
        })
    }

    fn delete<'a>(&'a self, store: StoreInfo<'a>, id: &'a SessionId) -> BoxFuture<'a, Result<(), SessionError>> {
        self.with(store, move |st, _| {
            st.remove(id.as_str());
            Ok(())
        })
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
        self.with(store, move |st, now| {
            check_fields(data.keys().map(String::as_str))?;
            if let Some(old) = old {
                st.remove(old.as_str());
            }
            st.remove(new.as_str());
            st.sessions.insert(
                new.as_str().to_owned(),
                Entry { data: data.clone(), namespace: None, expires_at: max_age_at(now, max_age) },
            );
            if let Some(ns) = namespace {
                st.set_namespace(new.as_str(), ns);
            }
            Ok(())
        })
    }

    fn touch<'a>(
        &'a self,
        store: StoreInfo<'a>,
        id: &'a SessionId,
        max_age: Duration,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        self.with(store, move |st, now| {
            if let Some(entry) = st.live(id.as_str(), now) {
                entry.expires_at = max_age_at(now, max_age);
            }
            Ok(())
        })
    }

    fn remove_namespace<'a>(
        &'a self,
        store: StoreInfo<'a>,
        namespace: &'a str,
    ) -> BoxFuture<'a, Result<u64, SessionError>> {
        self.with(store, move |st, now| {
            let ids = st.namespaces.remove(namespace).unwrap_or_default();
            let mut count = 0;
            for id in ids {
                // The index is exact, but stay defensive: only delete sessions
                // that really are in this namespace, and count only live ones.
                let belongs = st.sessions.get(&id).is_some_and(|e| e.namespace.as_deref() == Some(namespace));
                if belongs {
                    if let Some(e) = st.sessions.remove(&id) {
                        count += u64::from(e.expires_at > now);
                    }
                }
            }
            Ok(count)
        })
    }

    fn attempt_log(&self) -> Option<&dyn AttemptLog> {
        Some(self)
    }
}

impl AttemptLog for MemoryStore {
    fn reserve<'a>(
        &'a self,
        attempt: &'a str,
        keys: &'a [(&'a str, u32)],
        window: Duration,
    ) -> BoxFuture<'a, Result<Reservation, SessionError>> {
        let reserved = self.attempts().reserve(attempt, keys, window, Instant::now());
        Box::pin(std::future::ready(Ok(reserved)))
    }

    fn release<'a>(&'a self, key: &'a str, attempt: &'a str) -> BoxFuture<'a, Result<(), SessionError>> {
        self.attempts().release(key, attempt);
        Box::pin(std::future::ready(Ok(())))
    }

    fn clear<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), SessionError>> {
        self.attempts().clear(key);
        Box::pin(std::future::ready(Ok(())))
    }
}
