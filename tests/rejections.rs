//! Refusals in the app's own shape: one hook per app (`App::on_rejection`),
//! kept by a mounted app for its routes, turning uapi's refusals (a bad
//! parameter's 400, 413, 415, a missing login's 403, 404, 405) into RFC 9457
//! problem documents or anything else.

use http::header;
use serde_json::{json, Value};
use uapi::login::{configure_async_login, LoginOptions};
use uapi::sessions::{configure_sessions, MemoryStore, SessionOptions};
use uapi::status::Created;
use uapi::testing::{TestClient, TestResponse};
use uapi::{handler, problem_json, App, IntoResponse, Json, ReqBody};

#[derive(serde::Deserialize)]
struct Note {
    text: String,
}

#[handler]
async fn add_note(page: u32, note: ReqBody<Note>) -> Created<String> {
    Created::new(format!("{page}: {}", note.text))
}

#[handler]
async fn me(current_user_id: i64) -> String {
    current_user_id.to_string()
}

fn problem(r: &TestResponse) -> Value {
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/problem+json", "{}", r.text());
    r.json().expect("a JSON problem document")
}

fn client() -> TestClient {
    let mut app = App::new();
    let store = configure_sessions(&mut app, MemoryStore::new(), SessionOptions::default());
    configure_async_login::<i64>(&mut app, &store, LoginOptions::default());
    app.post("/notes", add_note).get("/me", me).body_limit(64).on_rejection(problem_json);
    TestClient::new(&app).expect("builds")
}

/// 400 (missing, invalid), 413, 415 and the login's 403 become problem
/// documents naming the status, the reason, the parameter and the route.
#[tokio::test]
async fn every_refusal_is_a_json_problem_with_the_hook() {
    let c = client();
    let r = c.post("/notes").json(&json!({"text": "hi"})).send().await;
    assert_eq!(r.status, 400);
    assert_eq!(
        problem(&r),
        json!({"type": "about:blank", "title": "Bad Request", "status": 400,
               "detail": "missing query parameter `page`", "parameter": "page", "route": "add_note"})
    );
    let r = c.post("/notes?page=x").json(&json!({"text": "hi"})).send().await;
    let p = problem(&r);
    assert_eq!((p["status"].clone(), p["parameter"].clone()), (json!(400), json!("page")));
    assert!(p["detail"].as_str().expect("detail").starts_with("invalid query parameter `page`"), "{p}");

    let r = c.post("/notes?page=1").header("content-type", "text/plain").body("hi").send().await;
    let p = problem(&r);
    assert_eq!(
        (p["status"].clone(), p["title"].clone(), p["parameter"].clone()),
        (json!(415), json!("Unsupported Media Type"), json!("note"))
    );

    let r = c.post("/notes?page=1").json(&json!({"text": "x".repeat(100)})).send().await;
    let p = problem(&r);
    assert_eq!((p["status"].clone(), p["title"].clone()), (json!(413), json!("Payload Too Large")));

    let r = c.get("/me").send().await;
    assert_eq!(
        problem(&r),
        json!({"type": "about:blank", "title": "Forbidden", "status": 403, "detail": "forbidden", "route": "me"})
    );

    // A handler's own answer is not a refusal: untouched.
    let r = c.post("/notes?page=1").json(&json!({"text": "hi"})).send().await;
    assert_eq!((r.status.as_u16(), r.text().as_str()), (201, "1: hi"));
}

/// 404 and 405 go through the hook too, and the 405 keeps its `Allow`.
#[tokio::test]
async fn not_found_and_method_not_allowed_go_through_the_hook_and_keep_allow() {
    let c = client();
    let r = c.get("/nowhere").send().await;
    assert_eq!(problem(&r)["status"], 404);
    let r = c.delete("/notes").send().await;
    assert_eq!(problem(&r)["status"], 405);
    assert_eq!(r.headers[header::ALLOW], "POST");
}

/// Without a hook, refusals stay plain text naming the parameter.
#[tokio::test]
async fn without_a_hook_refusals_are_plain_text() {
    let mut app = App::new();
    app.post("/notes", add_note);
    let c = TestClient::new(&app).expect("builds");
    let r = c.post("/notes").json(&json!({"text": "hi"})).send().await;
    assert_eq!((r.status.as_u16(), r.text().as_str()), (400, "missing query parameter `page`"));
    assert_eq!(r.headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
}

/// A mounted app keeps its own hook for its routes; the parent's hook
/// shapes the rest: a hook per app, and so per group of routes.
#[tokio::test]
async fn a_mounted_app_keeps_its_own_hook() {
    let mut v1 = App::new();
    v1.post("/notes", add_note)
        .on_rejection(|r| Json(json!({"error": r.message, "code": r.status.as_u16()})).into_response());
    let mut app = App::new();
    app.route_named("add_note_v2", "/v2/notes", [http::Method::POST], add_note)
        .mount("/v1", v1)
        .on_rejection(problem_json);
    let c = TestClient::new(&app).expect("builds");
    let r = c.post("/v1/notes").json(&json!({"text": "hi"})).send().await;
    assert_eq!(r.json::<Value>().expect("json"), json!({"error": "missing query parameter `page`", "code": 400}));
    // The hook answers with its own status unless it keeps the refusal's.
    assert_eq!(r.status, 200);
    let r = c.post("/v2/notes").json(&json!({"text": "hi"})).send().await;
    assert_eq!(problem(&r)["route"], "add_note_v2");
}
