//! The login example's users: kept in memory (it is an example), passwords
//! hashed with Argon2id at OWASP's minimum parameters (19 MiB, 2 passes, 1
//! lane: the `argon2` crate's defaults), off the async threads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use tokio::sync::Semaphore;
use uapi::addon::{ExtractorKind, FromRequest, ParamPlan, RequestCtx};
use uapi::http::header::CONTENT_TYPE;
use uapi::openapi::{DescribeParam, SchemaGenerator, TypeDoc};
use uapi::Rejection;

/// The shortest password `POST /users` accepts, in characters.
pub(crate) const MIN_PASSWORD_CHARS: usize = 8;

/// A username and a password, from a JSON body or an urlencoded form.
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
pub(crate) struct Credentials {
    pub(crate) username: String,
    pub(crate) password: String,
}

/// A parameter of type `Credentials` reads the body as JSON or as a form,
/// by its `Content-Type`: an empty body is no credentials (`None` for
/// `Option<Credentials>`), anything else unreadable a 400 (415 for another
/// media type).
impl FromRequest for Credentials {
    const KIND: ExtractorKind = ExtractorKind::Body;

    fn from_request(ctx: &mut RequestCtx, param: &ParamPlan) -> Result<Self, Rejection> {
        const SOURCE: &str = "request body";
        let body = match ctx.body_bytes() {
            Some(body) if !body.is_empty() => body,
            _ => return Err(Rejection::missing(SOURCE, param.name())),
        };
        let content_type = ctx.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let parsed = match essence.as_str() {
            "application/json" => serde_json::from_slice(body).map_err(|e| e.to_string()),
            "application/x-www-form-urlencoded" => serde_urlencoded::from_bytes(body).map_err(|e| e.to_string()),
            _ => {
                return Err(Rejection::UnsupportedMediaType {
                    name: param.name().into(),
                    expected: "application/json or application/x-www-form-urlencoded",
                })
            }
        };
        parsed.map_err(|reason| Rejection::invalid(SOURCE, param.name(), reason))
    }
}

/// In the OpenAPI document: a JSON or form body of `Credentials`' schema.
impl DescribeParam for Credentials {
    fn describe(generator: &mut SchemaGenerator) -> TypeDoc {
        let schema = generator.subschema_for::<Credentials>();
        TypeDoc::new(schema, &["application/json", "application/x-www-form-urlencoded"])
    }
}

/// Why a user could not be created.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CreateError {
    /// The name is taken (names compare trimmed and lowercased).
    Taken,
    /// A name that is empty or longer than 64 characters.
    BadName,
    /// A password under [`MIN_PASSWORD_CHARS`].
    ShortPassword,
}

struct User {
    id: i64,
    hash: String,
}

/// The users, shared by every request (`users: Users`).
#[derive(Clone)]
pub(crate) struct Users {
    inner: Arc<Inner>,
}

struct Inner {
    by_name: Mutex<HashMap<String, User>>,
    /// The hash an unknown name is checked against, so that it costs what a
    /// known name's check costs.
    dummy: String,
    /// Hashes at once: each takes 19 MiB and a core for tens of milliseconds,
    /// so a burst waits its turn rather than taking the machine's memory.
    hashing: Semaphore,
}

/// A name as compared: trimmed and lowercased (what the throttle counts by).
fn normal(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Runs Argon2 on a blocking thread, once a permit is free.
async fn off_thread<T: Send + 'static>(users: &Users, work: impl FnOnce() -> T + Send + 'static) -> T {
    let _permit = users.inner.hashing.acquire().await;
    match tokio::task::spawn_blocking(work).await {
        Ok(out) => out,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

fn hash(password: &str) -> String {
    match Argon2::default().hash_password(password.as_bytes()) {
        Ok(hash) => hash.to_string(),
        // Only fails when the OS has no randomness to give a salt.
        Err(e) => panic!("cannot hash a password: {e}"),
    }
}

fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

impl Users {
    /// No users yet; the dummy hash is made now (one Argon2 run).
    pub(crate) fn new() -> Users {
        let permits = std::thread::available_parallelism().map_or(2, |n| n.get());
        // Its password does not matter: a match on it still names no user.
        let dummy = hash("the password of nobody");
        Users {
            inner: Arc::new(Inner { by_name: Mutex::new(HashMap::new()), dummy, hashing: Semaphore::new(permits) }),
        }
    }

    /// Creates a user; returns the new id.
    pub(crate) async fn create(&self, credentials: Credentials) -> Result<i64, CreateError> {
        let name = normal(&credentials.username);
        if name.is_empty() || name.chars().count() > 64 {
            return Err(CreateError::BadName);
        }
        if credentials.password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(CreateError::ShortPassword);
        }
        if self.lock().contains_key(&name) {
            return Err(CreateError::Taken);
        }
        let hash = off_thread(self, move || hash(&credentials.password)).await;
        let mut users = self.lock();
        if users.contains_key(&name) {
            return Err(CreateError::Taken);
        }
        let id = i64::try_from(users.len()).unwrap_or(i64::MAX - 1) + 1;
        users.insert(name, User { id, hash });
        Ok(id)
    }

    /// The id of the user these credentials name, if the password is theirs.
    /// An unknown name costs the same Argon2 run as a wrong password.
    pub(crate) async fn check(&self, credentials: Credentials) -> Option<i64> {
        let known = self.lock().get(&normal(&credentials.username)).map(|u| (u.id, u.hash.clone()));
        let (id, hash) = match known {
            Some((id, hash)) => (Some(id), hash),
            None => (None, self.inner.dummy.clone()),
        };
        let matches = off_thread(self, move || verify(&credentials.password, &hash)).await;
        id.filter(|_| matches)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, User>> {
        self.inner.by_name.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
