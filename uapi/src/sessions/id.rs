//! Opaque, unguessable session identifiers.

use std::fmt;

use super::SessionError;

/// Number of random bytes in an id (256 bits).
const RAW_LEN: usize = 32;
/// Length of the base64url (no padding) encoding of [`RAW_LEN`] bytes.
const ENCODED_LEN: usize = 43;
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// Which bytes are in [`ALPHABET`].
const IN_ALPHABET: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = true;
        i += 1;
    }
    table
};

/// An opaque session id: 256 bits from the OS CSPRNG, base64url without padding.
///
/// The only ways to obtain one are [`SessionId::generate`] and
/// [`SessionId::parse`], and `parse` accepts nothing but exactly 43 characters
/// of `[A-Za-z0-9_-]`. Backends build storage keys from ids, so this type is the
/// guarantee that a cookie value can never inject `*`, `:`, CRLF, `..` or any
/// other surprise into a Redis key.
///
/// The id lives inline (43 bytes, no heap allocation), so copying one around a
/// request costs nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId([u8; ENCODED_LEN]);

impl SessionId {
    /// A fresh random id.
    ///
    /// Fails (rather than panicking or falling back to a weak generator) if the
    /// OS random source is unavailable.
    pub fn generate() -> Result<SessionId, SessionError> {
        let mut raw = [0u8; RAW_LEN];
        getrandom::fill(&mut raw).map_err(|e| SessionError::Rng(e.to_string()))?;
        let mut id = [0u8; ENCODED_LEN];
        for (slot, b) in id.iter_mut().zip(sextets(&raw)) {
            *slot = b;
        }
        Ok(SessionId(id))
    }

    /// Validates untrusted text (e.g. a cookie value) as an id.
    ///
    /// Returns `None` unless `s` is exactly 43 characters of the base64url
    /// alphabet. Note that a 43-char base64url string has 2 spare low bits in its
    /// last character; we do not insist on them being zero, since the id is
    /// treated as opaque text and never decoded.
    pub fn parse(s: &str) -> Option<SessionId> {
        SessionId::parse_bytes(s.as_bytes())
    }

    /// [`SessionId::parse`] of raw bytes (a cookie value not yet known to be text).
    pub(crate) fn parse_bytes(s: &[u8]) -> Option<SessionId> {
        let bytes: [u8; ENCODED_LEN] = s.try_into().ok()?;
        bytes.iter().all(|&b| IN_ALPHABET[usize::from(b)]).then_some(SessionId(bytes))
    }

    /// The id's characters, as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The id as text (safe to put in a cookie or a storage key).
    pub fn as_str(&self) -> &str {
        // Only ever built from the base64url alphabet (ASCII): always valid.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Deliberately does not print the id: ids are bearer credentials and debug
/// output ends up in logs.
impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({}…)", &self.as_str()[..4])
    }
}

/// base64url without padding, as characters; small enough not to warrant a
/// dependency.
fn sextets(raw: &[u8]) -> impl Iterator<Item = u8> + '_ {
    raw.chunks(3).flat_map(|chunk| {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        [(n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63]
            .into_iter()
            .take(chunk.len() + 1)
            .map(|s| ALPHABET[s as usize])
    })
}

#[cfg(test)]
fn encode(raw: &[u8]) -> String {
    sextets(raw).map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn encode_matches_rfc4648_vectors() {
        assert_eq!(encode(b""), "");
        assert_eq!(encode(b"f"), "Zg");
        assert_eq!(encode(b"fo"), "Zm8");
        assert_eq!(encode(b"foo"), "Zm9v");
        assert_eq!(encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn generated_ids_are_distinct_and_parse() {
        let mut seen = HashSet::new();
        for _ in 0..1000 {
            let id = SessionId::generate().expect("rng");
            assert_eq!(id.as_str().len(), ENCODED_LEN);
            assert_eq!(SessionId::parse(id.as_str()).as_ref(), Some(&id));
            assert_eq!(id.to_string(), id.as_str());
            assert!(seen.insert(id));
        }
    }

    #[test]
    fn rejects_everything_but_43_url_safe_chars() {
        let good = "A".repeat(43);
        assert!(SessionId::parse(&good).is_some());
        let bad = [
            String::new(),
            "A".repeat(42),
            "A".repeat(44),
            "A".repeat(8 * 1024),
            format!("{}*", "A".repeat(42)),
            format!("{}:", "A".repeat(42)),
            format!("{}\r\n", "A".repeat(41)),
            format!("..{}", "A".repeat(41)),
            format!("{}=", "A".repeat(42)),
            format!("{}+", "A".repeat(42)),
            format!("{}/", "A".repeat(42)),
            format!("{} ", "A".repeat(42)),
            format!("{}\0", "A".repeat(42)),
            // 43 *bytes* but with a multi-byte char, and 43 *chars* of non-ASCII.
            format!("{}é", "A".repeat(41)),
            "é".repeat(43),
        ];
        for s in &bad {
            assert!(SessionId::parse(s).is_none(), "accepted {s:?}");
        }
        for glob in ['*', '?', '[', ']', '^', '{', '}', '\\', '.', '%'] {
            for pos in [0, 21, 42] {
                let mut s: Vec<char> = good.chars().collect();
                s[pos] = glob;
                let s: String = s.into_iter().collect();
                assert!(SessionId::parse(&s).is_none(), "accepted {s:?}");
            }
        }
    }

    /// Every byte 0..=255 at every position of a generated id, through the
    /// parsers themselves: accepted exactly when it is one of the 64 chars
    /// (then as it is), refused otherwise, bytes >= 0x80 included (which as
    /// chars U+0080..=U+00FF make 43 chars of 44 bytes, refused too).
    #[test]
    fn every_single_byte_outside_the_alphabet_is_rejected() {
        let base = SessionId::generate().expect("rng");
        let mut accepted = 0;
        for b in 0u8..=255 {
            let allowed = b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
            for pos in 0..ENCODED_LEN {
                let mut bytes: [u8; ENCODED_LEN] = base.as_bytes().try_into().expect("43 bytes");
                bytes[pos] = b;
                let parsed = SessionId::parse_bytes(&bytes);
                assert_eq!(parsed.is_some(), allowed, "byte {b:#04x} at {pos}");
                if let Some(id) = parsed {
                    assert_eq!(id.as_bytes(), bytes, "byte {b:#04x} at {pos}");
                    accepted += 1;
                }
                match std::str::from_utf8(&bytes) {
                    Ok(text) => assert_eq!(SessionId::parse(text), parsed, "byte {b:#04x} at {pos}"),
                    Err(_) => assert!(b >= 0x80, "byte {b:#04x} is ASCII but not UTF-8?"),
                }
            }
            let as_char: String = base.as_str()[..ENCODED_LEN - 1].chars().chain([char::from(b)]).collect();
            assert_eq!(as_char.chars().count(), ENCODED_LEN);
            assert_eq!(SessionId::parse(&as_char).is_some(), allowed, "char U+{b:04X} last");
        }
        assert_eq!(accepted, 64 * ENCODED_LEN);
    }

    #[test]
    fn debug_does_not_leak_the_id() {
        let id = SessionId::generate().expect("rng");
        let dbg = format!("{id:?}");
        assert!(!dbg.contains(id.as_str()));
    }

    #[test]
    fn parse_bytes_takes_only_43_alphabet_bytes() {
        let id = SessionId::generate().expect("rng");
        assert_eq!(SessionId::parse_bytes(id.as_bytes()), Some(id));
        let mut bad = *b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        for b in [0xff, 0x80, b'=', b'.', b'+', b'/', b' ', 0] {
            bad[17] = b;
            assert_eq!(SessionId::parse_bytes(&bad), None, "byte {b:#x}");
        }
        assert_eq!(SessionId::parse_bytes(&bad[..42]), None);
    }
}
