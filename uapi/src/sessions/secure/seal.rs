//! The sealed cookie: its format, sealing and opening.
//!
//! A cookie value is `base64url(nonce || ciphertext || tag)` without padding
//! (only cookie-safe characters, so nothing is percent-encoded): a 96-bit
//! random nonce, then AES-256-GCM of the JSON payload ([`Payload`]: when the
//! session began, its absolute end if any, the data) with the associated data
//! [`AAD_PREFIX`] + the store's cookie name. The name bound in makes a cookie
//! of one store (`cart_session`) useless as another's (`session_id`), though
//! both use the same key.
//!
//! Why not the `cookie` crate's `PrivateJar` (same cipher, and the name as
//! associated data too): it draws the nonce from `rand`'s thread RNG and
//! panics if that fails, where uapi's ids fail with an error
//! ([`SessionError::Rng`]); it goes through a jar to seal one value; and it
//! needs a 64-byte `Key` (half of it for signing, unused here).

use std::collections::HashMap;

use aes_gcm::aead::{Aead, Payload as AeadPayload};
use aes_gcm::Nonce;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::key::{SecretKey, SecretKeys};
use crate::sessions::SessionError;

/// The most bytes browsers keep of one cookie (RFC 6265 §6.1: at least 4096
/// bytes per cookie, "as measured by the sum of the length of the cookie's
/// name, value, and attributes"); past it a browser drops the cookie silently.
pub(super) const COOKIE_LIMIT: usize = 4096;

/// Bound into every seal with the cookie name: the format's version.
const AAD_PREFIX: &[u8] = b"uapi secure session v1\0";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// What a cookie holds, sealed.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Payload<D> {
    /// When the session began (its first save, a login, a rolling renewal),
    /// in unix milliseconds: it ends `max_age` after.
    #[serde(rename = "t")]
    pub(super) issued: u64,
    /// Its absolute end, in unix milliseconds, with an absolute lifetime.
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    pub(super) ends_at: Option<u64>,
    /// The session's map.
    #[serde(rename = "d")]
    pub(super) data: D,
}

/// A payload opened from a request's cookie.
pub(super) type Opened = Payload<HashMap<String, String>>;

fn aad(cookie_name: &str) -> Vec<u8> {
    [AAD_PREFIX, cookie_name.as_bytes()].concat()
}

/// Seals `payload` for cookie `cookie_name` with `key`: the cookie's value.
pub(super) fn seal(
    key: &SecretKey,
    cookie_name: &str,
    payload: &Payload<&HashMap<String, String>>,
) -> Result<String, SessionError> {
    let json = serde_json::to_vec(payload).map_err(|e| SessionError::Backend(format!("session not encodable: {e}")))?;
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| SessionError::Rng(e.to_string()))?;
    let aad = aad(cookie_name);
    let sealed = key
        .cipher
        .encrypt(Nonce::from_slice(&nonce), AeadPayload { msg: &json, aad: &aad })
        .map_err(|_| SessionError::Backend("session could not be sealed".to_owned()))?;
    let mut bytes = Vec::with_capacity(NONCE_LEN + sealed.len());
    bytes.extend_from_slice(&nonce);
    bytes.extend_from_slice(&sealed);
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Opens a cookie value sealed for `cookie_name` by any of `keys`: the
/// payload and whether it took an older key. `None` for anything else
/// (garbage, truncated, tampered, another store's, an unknown key's).
pub(super) fn open(keys: &SecretKeys, cookie_name: &str, value: &[u8]) -> Option<(Opened, bool)> {
    // Nothing longer was ever sealed: not worth decoding.
    if value.len() > COOKIE_LIMIT {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
    if bytes.len() < NONCE_LEN + TAG_LEN {
        return None;
    }
    let (nonce, sealed) = bytes.split_at(NONCE_LEN);
    let aad = aad(cookie_name);
    keys.all().iter().enumerate().find_map(|(i, key)| {
        let json = key.cipher.decrypt(Nonce::from_slice(nonce), AeadPayload { msg: sealed, aad: &aad }).ok()?;
        // Authentic, so ours: a payload that does not parse is from a newer
        // format this version cannot read, hence no session either.
        let payload: Opened = serde_json::from_slice(&json).ok()?;
        Some((payload, i > 0))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(seed: u8) -> SecretKeys {
        SecretKey::from_bytes(&[seed; 32]).expect("32 bytes").into()
    }

    fn sealed(keys: &SecretKeys, name: &str) -> String {
        let data = HashMap::from([("k".to_owned(), "v".to_owned())]);
        seal(keys.current(), name, &Payload { issued: 5, ends_at: Some(9), data: &data }).expect("seals")
    }

    #[test]
    fn opens_what_it_sealed_and_nothing_else() {
        let k = keys(1);
        let value = sealed(&k, "session_id");
        assert!(value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{value}");
        let (payload, old) = open(&k, "session_id", value.as_bytes()).expect("opens");
        assert_eq!((payload.issued, payload.ends_at, old), (5, Some(9), false));
        assert_eq!(payload.data["k"], "v");
        assert!(open(&k, "cart_session", value.as_bytes()).is_none(), "another store's cookie");
        assert!(open(&keys(2), "session_id", value.as_bytes()).is_none(), "another key");
        assert_ne!(value, sealed(&k, "session_id"), "a fresh nonce each time");
    }

    #[test]
    fn older_keys_open_and_say_so() {
        let value = sealed(&keys(1), "s");
        let rotated = SecretKeys::new(SecretKey::from_bytes(&[2; 32]).expect("key"))
            .with_old(SecretKey::from_bytes(&[1; 32]).expect("key"));
        let (_, old) = open(&rotated, "s", value.as_bytes()).expect("opens with the old key");
        assert!(old);
    }
}
