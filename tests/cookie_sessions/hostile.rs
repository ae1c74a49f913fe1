//! Any bytes as the session cookie: a fresh empty session, never a 500 and
//! never a panic (a property test).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use proptest::prelude::*;
use uapi::testing::TestClient;

use super::{client, key, SESSION};

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime"))
}

fn shared_client() -> &'static TestClient {
    static CLIENT: OnceLock<TestClient> = OnceLock::new();
    CLIENT.get_or_init(|| client(key(1)))
}

/// A sealed cookie of `shared_client`'s app.
fn sealed() -> &'static str {
    static SEALED: OnceLock<String> = OnceLock::new();
    SEALED.get_or_init(|| runtime().block_on(super::sealed(shared_client())))
}

/// The status and data of `GET /read` with `cookie` as the whole `Cookie` header.
fn read(cookie: &[u8]) -> Option<(u16, BTreeMap<String, String>)> {
    // Only bytes a `Cookie` header can carry reach the app at all.
    let header = uapi::http::HeaderValue::from_bytes(cookie).ok()?;
    let header = header.to_str().ok()?.to_owned();
    let response = runtime().block_on(shared_client().get("/read").header("cookie", &header).send());
    Some((response.status.as_u16(), response.json().unwrap_or_default()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any value of the session cookie, printable or not, is a fresh session.
    #[test]
    fn any_bytes_as_the_cookie_are_a_fresh_session(value in prop::collection::vec(any::<u8>(), 0..6000)) {
        let mut cookie = format!("{SESSION}=").into_bytes();
        cookie.extend_from_slice(&value);
        if let Some((status, data)) = read(&cookie) {
            prop_assert_eq!(status, 200);
            prop_assert!(data.is_empty(), "{:?}", data);
        }
    }

    /// Values in the cookie's own alphabet (they get past the decoding) too.
    #[test]
    fn any_base64url_value_is_a_fresh_session(value in "[A-Za-z0-9_-]{0,700}") {
        let (status, data) = read(format!("{SESSION}={value}").as_bytes()).expect("a valid header");
        prop_assert_eq!(status, 200);
        prop_assert!(data.is_empty());
    }

    /// A real cookie with bytes changed anywhere, or cut, opens as nothing.
    #[test]
    fn a_sealed_cookie_changed_anywhere_is_a_fresh_session(
        edits in prop::collection::vec((any::<prop::sample::Index>(), "[A-Za-z0-9_-]"), 1..4),
        cut in any::<prop::sample::Index>(),
        cut_it in any::<bool>(),
    ) {
        let mut value = sealed().as_bytes().to_vec();
        for (at, with) in &edits {
            let i = at.index(value.len());
            value[i] = with.as_bytes()[0];
        }
        if cut_it {
            value.truncate(cut.index(value.len()));
        }
        let changed = value != sealed().as_bytes();
        let mut cookie = format!("{SESSION}=").into_bytes();
        cookie.extend_from_slice(&value);
        let (status, data) = read(&cookie).expect("a valid header");
        prop_assert_eq!(status, 200);
        if changed {
            prop_assert!(data.is_empty(), "opened after a change: {:?}", data);
        } else {
            prop_assert_eq!(data.len(), 1);
        }
    }
}
