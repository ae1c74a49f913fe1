//! Specification of refusals and responses: 400s that name the parameter,
//! 415 for wrong content types, 413 over the body limit, 500 for panics (the
//! service survives), and how typed responses, `Result`s, redirects, cookies
//! and JSON bodies become HTTP.

use bytes::Bytes;
use futures_util::stream;
use http::Request;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde::{Deserialize, Serialize};
use uapi::status::{self, Conflict, Created, Found, NoContent, SeeOther};
use uapi::testing::TestClient;
use uapi::{handler, set_cookie, App, CookieSettings, FormBody, Header, Json, ReqBody, ReqBytes, RequestBody};

fn client(app: &App) -> TestClient {
    match TestClient::new(app) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

#[handler]
async fn user(user_id: i64, page: u32, #[header("x-count")] count: Option<Header<u8>>) -> String {
    format!("{user_id} {page} {:?}", count.map(|h| h.0))
}

fn user_app() -> TestClient {
    let mut app = App::new();
    app.get("/users/{user_id}", user);
    client(&app)
}

/// A missing required query parameter is a 400 whose body names it.
#[tokio::test]
async fn missing_query_param_is_400_naming_it() {
    let r = user_app().get("/users/1").send().await;
    assert_eq!(r.status, 400);
    assert_eq!(r.text(), "missing query parameter `page`");
}

/// Unparsable path, query and header values are 400s naming the parameter.
#[tokio::test]
async fn unparsable_path_query_or_header_is_400_naming_it() {
    let c = user_app();
    let r = c.get("/users/abc?page=1").send().await;
    assert_eq!(r.status, 400);
    assert!(r.text().starts_with("invalid path parameter `user_id`"), "{}", r.text());
    assert!(r.text().contains("\"abc\""), "{}", r.text());

    let r = c.get("/users/1?page=-3").send().await;
    assert_eq!(r.status, 400);
    assert!(r.text().starts_with("invalid query parameter `page`"), "{}", r.text());

    // An optional header that is present but unparsable is an error, not `None`.
    let r = c.get("/users/1?page=1").header("x-count", "999").send().await;
    assert_eq!(r.status, 400);
    assert!(r.text().starts_with("invalid header `x-count`"), "{}", r.text());

    let r = c.get("/users/1?page=1").header("x-count", "9").send().await;
    assert_eq!((r.status.as_u16(), r.text()), (200, "1 1 Some(9)".to_owned()));
}

/// A JSON payload.
#[derive(Debug, Serialize, Deserialize)]
struct Item {
    name: String,
}

#[handler]
async fn create(item: ReqBody<Item>) -> Created<Json<Item>> {
    Created::new(Json(item.0))
}

#[handler]
async fn form(item: FormBody<Item>) -> String {
    item.0.name
}

#[handler]
async fn bytes_len(body: ReqBytes) -> String {
    body.0.len().to_string()
}

fn body_app() -> TestClient {
    let mut app = App::new();
    app.post("/json", create).post("/form", form).post("/bytes", bytes_len).body_limit(16);
    client(&app)
}

/// Malformed JSON, or JSON of the wrong shape, is a 400 naming the parameter.
#[tokio::test]
async fn malformed_json_is_400() {
    let c = body_app();
    let r = c.post("/json").header("content-type", "application/json").body("{nope").send().await;
    assert_eq!(r.status, 400);
    assert!(r.text().starts_with("invalid request body `item`"), "{}", r.text());
    let r = c.post("/json").header("content-type", "application/json").body("{\"x\":1}").send().await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("name"), "{}", r.text());
}

/// `ReqBody` needs a JSON content type: a wrong or missing one is a 415.
#[tokio::test]
async fn reqbody_with_wrong_or_missing_content_type_is_415() {
    let c = body_app();
    let r = c.post("/json").header("content-type", "text/plain").body("{\"name\":\"a\"}").send().await;
    assert_eq!(r.status, 415);
    assert!(r.text().contains("`item`") && r.text().contains("application/json"), "{}", r.text());
    let r = c.post("/json").body("{\"name\":\"a\"}").send().await;
    assert_eq!(r.status, 415);
    // The right one succeeds, with the JSON echoed back.
    let r = c.post("/json").json(&Item { name: "a".into() }).send().await;
    assert_eq!(r.status, 201);
    assert_eq!(r.text(), "{\"name\":\"a\"}");
}

/// `FormBody` needs an urlencoded content type: JSON is a 415.
#[tokio::test]
async fn formbody_with_wrong_content_type_is_415() {
    let c = body_app();
    let r = c.post("/form").json(&Item { name: "a".into() }).send().await;
    assert_eq!(r.status, 415);
    assert!(r.text().contains("application/x-www-form-urlencoded"), "{}", r.text());
    let r = c.post("/form").header("content-type", "application/x-www-form-urlencoded").body("name=a").send().await;
    assert_eq!((r.status.as_u16(), r.text()), (200, "a".to_owned()));
}

/// A body over `body_limit` is a 413, whether announced by content-length or not.
#[tokio::test]
async fn body_over_limit_is_413() {
    let c = body_app();
    // Exactly at the limit is fine.
    let r = c.post("/bytes").body(vec![b'x'; 16]).send().await;
    assert_eq!((r.status.as_u16(), r.text()), (200, "16".to_owned()));
    // No content-length header: the limit applies while reading.
    let r = c.post("/bytes").body(vec![b'x'; 17]).send().await;
    assert_eq!(r.status, 413);
    assert!(r.text().contains("16 bytes"), "{}", r.text());
    // An announced length over the limit is refused before reading.
    let r = c.post("/bytes").header("content-length", "1000").body(vec![b'x'; 3]).send().await;
    assert_eq!(r.status, 413);
    // The limit applies to JSON bodies too.
    let r = c.post("/json").json(&Item { name: "a long name, over 16 bytes".into() }).send().await;
    assert_eq!(r.status, 413);
}

/// A streamed body of unknown length is cut off at the limit with a 413.
#[tokio::test]
async fn streamed_body_of_unknown_length_over_limit_is_413() {
    let mut app = App::new();
    app.post("/bytes", bytes_len).body_limit(16);
    let service = app.build().expect("builds");
    let chunks = |n: usize| {
        let frames = (0..n).map(|_| Ok::<_, std::io::Error>(Frame::data(Bytes::from_static(b"12345"))));
        RequestBody::new(StreamBody::new(stream::iter(frames)))
    };
    let request = |body| Request::post("/bytes").body(body).expect("request");

    let response = service.handle(request(chunks(3))).await;
    assert_eq!(response.status(), 200);
    let text = response.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(&text[..], b"15");

    let response = service.handle(request(chunks(4))).await;
    assert_eq!(response.status(), 413);
}

#[handler]
async fn boom(n: u32) -> String {
    if n == 0 {
        panic!("boom");
    }
    n.to_string()
}

/// A panicking handler gives a 500, and the same service answers the next request.
#[tokio::test]
async fn panicking_handler_is_500_and_service_survives() {
    let mut app = App::new();
    app.get("/", boom);
    let c = client(&app);
    let r = c.get("/?n=0").send().await;
    assert_eq!(r.status, 500);
    assert_eq!(r.text(), "internal server error");
    assert!(!r.text().contains("boom"), "panic messages are not leaked");
    let r = c.get("/?n=2").send().await;
    assert_eq!((r.status.as_u16(), r.text()), (200, "2".to_owned()));
}

#[handler]
async fn claim(name: String) -> Result<Created<String>, Conflict<String>> {
    if name == "taken" {
        Err(Conflict::new(format!("{name} is taken")))
    } else {
        Ok(Created::new(format!("{name} is yours")))
    }
}

/// A `Result<A, B>` return answers with `A`'s status on `Ok` and `B`'s on `Err`.
#[tokio::test]
async fn result_return_picks_the_right_status() {
    let mut app = App::new();
    app.post("/", claim);
    let c = client(&app);
    let r = c.post("/?name=ann").send().await;
    assert_eq!((r.status.as_u16(), r.text()), (201, "ann is yours".to_owned()));
    let r = c.post("/?name=taken").send().await;
    assert_eq!((r.status.as_u16(), r.text()), (409, "taken is taken".to_owned()));
}

#[handler]
async fn nothing() -> NoContent {
    NoContent::new()
}

/// `NoContent` is a 204 with an empty body and no content type.
#[tokio::test]
async fn no_content_has_empty_body() {
    let mut app = App::new();
    app.delete("/", nothing);
    let r = client(&app).delete("/").send().await;
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    assert!(r.headers.get("content-type").is_none());
}

#[handler]
async fn go(see_other: bool) -> Result<Found, SeeOther> {
    if see_other {
        Err(SeeOther::new("/other?x=1"))
    } else {
        Ok(Found::new("/found"))
    }
}

/// `Found` (302) and `SeeOther` (303) set `Location`.
#[tokio::test]
async fn redirects_set_location() {
    let mut app = App::new();
    app.get("/", go);
    let c = client(&app);
    let r = c.get("/?see_other=false").send().await;
    assert_eq!(r.status, 302);
    assert_eq!(r.headers["location"], "/found");
    let r = c.get("/?see_other=true").send().await;
    assert_eq!(r.status, 303);
    assert_eq!(r.headers["location"], "/other?x=1");
}

#[handler]
async fn cookies() -> status::Ok<&'static str> {
    let settings = CookieSettings::default().secure(false);
    status::Ok::new("set").with_headers(set_cookie("a", "1", settings.clone()) + set_cookie("b", "two words", settings))
}

/// `set_cookie` headers combine with `+`; each becomes its own `Set-Cookie`.
#[tokio::test]
async fn set_cookie_headers_combine_with_plus() {
    let mut app = App::new();
    app.get("/", cookies);
    let c = client(&app);
    let r = c.get("/").send().await;
    assert_eq!(r.status, 200);
    let set = r.set_cookies();
    assert_eq!(set.len(), 2, "{set:?}");
    assert!(set[0].starts_with("a=1;"), "{set:?}");
    assert!(set[0].contains("HttpOnly") && !set[0].contains("Secure"), "{set:?}");
    assert!(set[1].starts_with("b=two%20words;"), "{set:?}");
    assert_eq!(c.cookie("a").as_deref(), Some("1"));
    assert_eq!(c.cookie("b").as_deref(), Some("two words"));
}

#[handler]
async fn json_list() -> Json<Vec<u32>> {
    Json(vec![1, 2, 3])
}

/// A `Json` response is `application/json` with the serialised body.
#[tokio::test]
async fn json_response_has_json_content_type() {
    let mut app = App::new();
    app.get("/", json_list);
    let r = client(&app).get("/").send().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.json::<Vec<u32>>().expect("json"), vec![1, 2, 3]);
}

#[handler]
async fn text() -> String {
    "hi".to_owned()
}

/// A bare `String` is a 200 with a `text/plain; charset=utf-8` body.
#[tokio::test]
async fn string_response_is_text_plain() {
    let mut app = App::new();
    app.get("/", text);
    let r = client(&app).get("/").send().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(r.text(), "hi");
}
