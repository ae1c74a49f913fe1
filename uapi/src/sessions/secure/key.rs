//! The keys of secure sessions: [`SecretKey`], and [`SecretKeys`], the
//! current key with the older ones that still open cookies (rotation).

use aes_gcm::{Aes256Gcm, KeyInit};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use hkdf::Hkdf;
use sha2::Sha256;

/// The fewest secret bytes a key is made from: 32 (256 bits).
pub const MIN_SECRET_BYTES: usize = 32;

/// HKDF's `info`: which use the derived key is for, so a secret shared with
/// another purpose (or another version of this format) gives another key.
const KDF_INFO: &[u8] = b"uapi secure sessions v1: AES-256-GCM";

/// Why a [`SecretKey`] could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Fewer than [`MIN_SECRET_BYTES`] bytes of secret.
    #[error(
        "a secure-session key needs at least {MIN_SECRET_BYTES} bytes (256 bits) of secret, got {got} bytes: \
         make one with `SecretKey::generate()` or `openssl rand -base64 32`"
    )]
    TooShort {
        /// How many bytes were given.
        got: usize,
    },
    /// The text is not base64 (standard or URL-safe, padded or not).
    #[error("a secure-session key in base64 did not decode: {0}")]
    NotBase64(String),
    /// The OS random number generator failed ([`SecretKey::generate`]).
    #[error("could not generate a secure-session key: {0}")]
    Rng(String),
}

/// One key of secure sessions: an AES-256-GCM key derived with HKDF-SHA256
/// from at least 256 bits of secret.
///
/// Every constructor derives (even from exactly 32 random bytes), so a
/// secret of any length from 32 bytes up, e.g. a long random string from a
/// secrets manager, makes a full-strength key, and the same secret used
/// for something else never gives the same AES key. HKDF is not a password
/// hash: the secret must be random, not something a person chose.
///
/// # Examples
///
/// ```
/// use uapi::sessions::secure::{KeyError, SecretKey};
///
/// let key = SecretKey::from_bytes(&[7u8; 32]).expect("32 bytes is enough");
/// # let _ = key;
/// assert_eq!(SecretKey::from_bytes(b"hunter2").unwrap_err(), KeyError::TooShort { got: 7 });
/// let random = SecretKey::generate().expect("the OS has randomness");
/// # let _ = random;
/// ```
#[derive(Clone)]
pub struct SecretKey {
    pub(super) cipher: Aes256Gcm,
}

/// Never prints key material.
impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    /// A key derived from `secret`, which must be at least
    /// [`MIN_SECRET_BYTES`] random bytes.
    ///
    /// # Errors
    ///
    /// [`KeyError::TooShort`] for fewer than 32 bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = uapi::sessions::secure::SecretKey::from_bytes(b"0123456789abcdef0123456789abcdef").unwrap();
    /// # let _ = key;
    /// ```
    pub fn from_bytes(secret: &[u8]) -> Result<SecretKey, KeyError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(KeyError::TooShort { got: secret.len() });
        }
        let mut okm = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's limit (255 * 32): never an error.
        if Hkdf::<Sha256>::new(None, secret).expand(KDF_INFO, &mut okm).is_err() {
            unreachable!("HKDF-SHA256 expands to 32 bytes");
        }
        let cipher = Aes256Gcm::new(&okm.into());
        okm.fill(0);
        Ok(SecretKey { cipher })
    }

    /// A key from base64 text (standard or URL-safe alphabet, padded or
    /// not, surrounding whitespace ignored): how a key usually arrives in an
    /// environment variable.
    ///
    /// # Errors
    ///
    /// [`KeyError::NotBase64`], or [`KeyError::TooShort`] for fewer than 32
    /// decoded bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use uapi::sessions::secure::SecretKey;
    /// assert!(SecretKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").is_ok());
    /// assert!(SecretKey::from_base64("c2hvcnQ=").is_err()); // "short"
    /// ```
    pub fn from_base64(text: &str) -> Result<SecretKey, KeyError> {
        let text = text.trim();
        let decoded = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .ok_or_else(|| KeyError::NotBase64(format!("{} characters that are not base64", text.len())))?;
        SecretKey::from_bytes(&decoded)
    }

    /// A key from 32 fresh bytes of the OS random source: sessions sealed
    /// with it end with the process (it is never written anywhere).
    ///
    /// # Errors
    ///
    /// [`KeyError::Rng`] when the OS random source fails.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = uapi::sessions::secure::SecretKey::generate().unwrap();
    /// # let _ = key;
    /// ```
    pub fn generate() -> Result<SecretKey, KeyError> {
        let mut secret = [0u8; MIN_SECRET_BYTES];
        getrandom::fill(&mut secret).map_err(|e| KeyError::Rng(e.to_string()))?;
        let key = SecretKey::from_bytes(&secret);
        secret.fill(0);
        key
    }
}

/// The keys of a secure-session store: the current one, which seals every
/// cookie, and older ones, which still open cookies they sealed (tried in
/// order after the current one). A cookie opened with an older key is
/// sealed again with the current one on its session's next save.
///
/// To rotate: make the new key current and the previous one old; once every
/// cookie sealed with it has expired (`max_age` later), drop it.
///
/// # Examples
///
/// ```
/// use uapi::sessions::secure::{SecretKey, SecretKeys};
///
/// let current = SecretKey::from_bytes(&[2u8; 32]).unwrap();
/// let previous = SecretKey::from_bytes(&[1u8; 32]).unwrap();
/// let keys = SecretKeys::new(current).with_old(previous);
/// assert_eq!(keys.len(), 2);
/// let single: SecretKeys = SecretKey::generate().unwrap().into();
/// assert_eq!(single.len(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct SecretKeys {
    keys: Vec<SecretKey>,
}

impl SecretKeys {
    /// Only `current`.
    pub fn new(current: SecretKey) -> SecretKeys {
        SecretKeys { keys: vec![current] }
    }

    /// Adds an older key, tried after the current one and those added before.
    pub fn with_old(mut self, old: SecretKey) -> SecretKeys {
        self.keys.push(old);
        self
    }

    /// How many keys, the current one included (never zero).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The key that seals.
    pub(super) fn current(&self) -> &SecretKey {
        &self.keys[0]
    }

    /// Every key, the current one first.
    pub(super) fn all(&self) -> &[SecretKey] {
        &self.keys
    }
}

impl From<SecretKey> for SecretKeys {
    fn from(current: SecretKey) -> Self {
        SecretKeys::new(current)
    }
}
