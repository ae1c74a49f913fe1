//! [`SessionOptions`]: what every session store is configured with, whatever its
//! backend.

use std::borrow::Cow;
use std::time::Duration;

use crate::CookieSettings;

/// How a session store is set up: uapi's parameters of `configure_async_sessions`
/// that every backend honours. What only one backend understands is set on that
/// backend (the Redis key prefix and command timeout on
/// [`RedisBackend`](super::RedisBackend)), so no option is silently ignored.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uapi::sessions::SessionOptions;
///
/// let carts = SessionOptions::default()
///     .cookie_name("cart_session")
///     .session_arg_param_name("cart")
///     .max_age(Duration::from_secs(3600));
/// assert_eq!(carts.cookie_name, "cart_session");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SessionOptions {
    /// How long a session lives after it is created (default 14 days); also the
    /// cookie's `Max-Age`.
    pub max_age: Duration,
    /// The cookie holding the session id (default `session_id`).
    pub cookie_name: String,
    /// The cookie's attributes (default `HttpOnly`, `Secure`, `SameSite=Lax`,
    /// `Path=/`). Its `max_age` is not used: the session cookie's `Max-Age` is
    /// always [`Self::max_age`], so the cookie and the session end together.
    pub cookie_settings: CookieSettings,
    /// The parameter name the session is injected as (default `session`).
    pub session_arg_param_name: Cow<'static, str>,
    /// Rolling expiry: a session read with less than half its lifetime left is
    /// extended to a full `max_age` (one extra write then, not on every request).
    pub rolling: bool,
    /// Refuse (403) a POST, PUT, PATCH or DELETE that carries this store's
    /// cookie when its `Origin` (else its `Sec-Fetch-Site`) says it comes from
    /// another site; same-origin requests and clients that send neither pass.
    /// Off by default; `SameSite=Lax` already keeps the cookie off cross-site
    /// forms, but not off same-site subdomains.
    pub refuse_cross_site: bool,
    /// Absolute lifetime: a session ends this long after it began (its
    /// creation, or the login that rotated its id), however active it is;
    /// rolling expiry never takes it past that. Recorded in the session
    /// itself (the reserved field [`ENDS_AT_FIELD`](super::ENDS_AT_FIELD),
    /// never shown among its keys), so every process agrees. Off by default.
    pub absolute_lifetime: Option<Duration>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            max_age: Duration::from_secs(14 * 24 * 3600),
            cookie_name: "session_id".to_owned(),
            cookie_settings: CookieSettings::default(),
            session_arg_param_name: Cow::Borrowed("session"),
            rolling: false,
            refuse_cross_site: false,
            absolute_lifetime: None,
        }
    }
}

impl SessionOptions {
    /// Sets [`Self::max_age`].
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }
    /// Sets [`Self::cookie_name`].
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = name.into();
        self
    }
    /// Sets [`Self::cookie_settings`].
    pub fn cookie_settings(mut self, settings: CookieSettings) -> Self {
        self.cookie_settings = settings;
        self
    }
    /// Sets [`Self::session_arg_param_name`].
    pub fn session_arg_param_name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.session_arg_param_name = name.into();
        self
    }
    /// Turns rolling expiry on or off.
    pub fn rolling(mut self, on: bool) -> Self {
        self.rolling = on;
        self
    }

    /// Turns the cross-site guard ([`Self::refuse_cross_site`]) on or off.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = uapi::sessions::SessionOptions::default().refuse_cross_site(true);
    /// assert!(options.refuse_cross_site);
    /// ```
    pub fn refuse_cross_site(mut self, on: bool) -> Self {
        self.refuse_cross_site = on;
        self
    }

    /// Sets [`Self::absolute_lifetime`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// // Rolling sessions of a day, but none longer than a week after login.
    /// let options = uapi::sessions::SessionOptions::default()
    ///     .max_age(Duration::from_secs(24 * 3600))
    ///     .rolling(true)
    ///     .absolute_lifetime(Duration::from_secs(7 * 24 * 3600));
    /// assert_eq!(options.absolute_lifetime, Some(Duration::from_secs(604_800)));
    /// ```
    pub fn absolute_lifetime(mut self, lifetime: Duration) -> Self {
        self.absolute_lifetime = Some(lifetime);
        self
    }
}
