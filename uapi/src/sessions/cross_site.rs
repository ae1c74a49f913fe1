//! The cross-site guard ([`super::SessionOptions::refuse_cross_site`]): a
//! state-changing request (POST, PUT, PATCH, DELETE) that carries a session
//! cookie is refused when the browser says it comes from another site. OWASP's
//! recommendation beside `SameSite=Lax`, which lets same-site subdomains (and
//! top-level GETs) through.
//!
//! The test is the request's `Origin` against its own `Host`: another host or
//! port, or `null`, is another site. Without `Origin`, `Sec-Fetch-Site` decides:
//! anything but `same-origin` or `none` (a user's own navigation) is refused.
//! A client that sends neither (curl, a server calling the API) passes: no
//! browser is being abused.

use http::header::{HOST, ORIGIN};
use http::request::Parts;
use http::{Method, StatusCode};

use crate::Refusal;

/// The refusal for `parts`, when it is a cross-site state-changing request.
/// The caller checks that it carries the store's cookie.
pub(super) fn refusal(parts: &Parts) -> Option<Refusal> {
    if !matches!(parts.method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE) {
        return None;
    }
    let own =
        parts.headers.get(HOST).and_then(|h| h.to_str().ok()).or_else(|| parts.uri.authority().map(|a| a.as_str()));
    if let Some(origin) = parts.headers.get(ORIGIN) {
        let origin = origin.to_str().unwrap_or("null");
        let host = origin.split_once("://").map(|(_, rest)| rest.trim_end_matches('/'));
        let same = match (host, own) {
            (Some(host), Some(own)) => host.eq_ignore_ascii_case(own),
            _ => false,
        };
        return (!same).then(|| {
            let own = own.unwrap_or("this site");
            refuse(format!("cross-site request refused: Origin {origin} is not {own}"))
        });
    }
    let site = parts.headers.get("sec-fetch-site")?.to_str().unwrap_or("cross-site");
    (!matches!(site, "same-origin" | "none"))
        .then(|| refuse(format!("cross-site request refused: Sec-Fetch-Site is {site}")))
}

fn refuse(message: String) -> Refusal {
    Refusal::new(StatusCode::FORBIDDEN, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: Method, headers: &[(&str, &str)]) -> Parts {
        let mut request = http::Request::builder().method(method).uri("/logout");
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request.body(()).expect("a request").into_parts().0
    }

    #[test]
    fn another_origin_or_a_cross_site_fetch_is_refused() {
        let refused = [
            parts(Method::POST, &[("host", "app.example"), ("origin", "https://evil.example")]),
            parts(Method::DELETE, &[("host", "app.example"), ("origin", "https://sub.app.example")]),
            parts(Method::PUT, &[("host", "app.example:8443"), ("origin", "https://app.example")]),
            parts(Method::PATCH, &[("host", "app.example"), ("origin", "null")]),
            parts(Method::POST, &[("host", "app.example"), ("sec-fetch-site", "cross-site")]),
            parts(Method::POST, &[("host", "app.example"), ("sec-fetch-site", "same-site")]),
        ];
        for p in &refused {
            let r = refusal(p).unwrap_or_else(|| panic!("not refused: {:?}", p.headers));
            assert_eq!(r.status, StatusCode::FORBIDDEN);
            assert!(r.message.starts_with("cross-site request refused"), "{}", r.message);
        }
    }

    #[test]
    fn same_origin_header_less_and_safe_requests_pass() {
        let passed = [
            parts(Method::POST, &[("host", "app.example"), ("origin", "https://app.example")]),
            parts(Method::POST, &[("host", "App.Example:8443"), ("origin", "https://app.example:8443")]),
            parts(Method::POST, &[("host", "app.example"), ("sec-fetch-site", "same-origin")]),
            parts(Method::POST, &[("host", "app.example"), ("sec-fetch-site", "none")]),
            parts(Method::POST, &[("host", "app.example")]),
            parts(Method::GET, &[("host", "app.example"), ("origin", "https://evil.example")]),
        ];
        for p in &passed {
            assert_eq!(refusal(p), None, "{} {:?}", p.method, p.headers);
        }
    }
}
