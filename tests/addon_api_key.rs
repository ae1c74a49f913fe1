//! The addon seam, from outside the crate: the `api_key` example's addon
//! (written on `uapi::addon` alone) driven over real HTTP.

mod hardening;

#[path = "../examples/api_key/addon.rs"]
mod addon;
#[path = "../examples/api_key/app.rs"]
mod app;

use http::StatusCode;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use hardening::Running;

/// A GET with an optional `x-api-key`: status, headers, body.
async fn get(server: &Running, path: &str, key: Option<&str>) -> (StatusCode, http::HeaderMap, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<bytes::Bytes>>();
    let mut request = http::Request::get(format!("http://{}{path}", server.addr));
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    let response = client.request(request.body(Empty::new()).expect("request")).await.expect("response");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    (parts.status, parts.headers, String::from_utf8_lossy(&body).into_owned())
}

/// Without a key, or with an unknown one, the provider refuses with a 401 and
/// a challenge, before the handler runs; the app's own 400 for a missing
/// header never shows (the provider declared the header optional).
#[tokio::test]
async fn a_missing_or_unknown_key_is_a_401_with_a_challenge() {
    let server = Running::start(&app::build()).await;
    for key in [None, Some("k-eve"), Some("")] {
        let (status, headers, body) = get(&server, "/report", key).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{key:?}: {body}");
        assert_eq!(headers["www-authenticate"], r#"ApiKey header="x-api-key""#);
        assert_eq!(body, "a valid x-api-key header is required");
        assert!(headers.get("x-api-client").is_none(), "no client header on a refusal");
    }
    server.shutdown().await;
}

/// A known key gives the handler its client, and the provider's header (put
/// in the request's header sink) goes out with the handler's answer.
#[tokio::test]
async fn a_known_key_reaches_the_handler_and_names_its_client() {
    let server = Running::start(&app::build()).await;
    for (key, name) in [("k-ann", "ann"), ("k-bob", "bob")] {
        let (status, headers, body) = get(&server, "/report", Some(key)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, format!("report for {name}").as_str()));
        assert_eq!(headers["x-api-client"], name);
    }
    server.shutdown().await;
}

/// A route that asks for no client needs no key.
#[tokio::test]
async fn routes_without_the_parameter_need_no_key() {
    let server = Running::start(&app::build()).await;
    let (status, headers, body) = get(&server, "/status", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "up"));
    assert!(headers.get("x-api-client").is_none());
    server.shutdown().await;
}
