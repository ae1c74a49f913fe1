//! The OpenAPI document made from the handlers themselves (`uapi::openapi`):
//! a test app with every kind of parameter, body, answer and provider, read
//! back through `/openapi.json` over the test client; the docs pages; and
//! snapshots of this test app's and the two examples' documents
//! (`tests/openapi/*.json`, which
//! `.ci/run` also checks with an independent OpenAPI 3.1 validator).
//! Regenerate the snapshots with `UAPI_BLESS=1 cargo test --test openapi`.

#[path = "../examples/hello/app.rs"]
#[allow(dead_code)]
mod hello_app;
#[path = "../examples/login/app.rs"]
#[allow(dead_code)]
mod login_app;

use serde_json::{json, Value};
use uapi::login::{configure_async_login, LoginOptions};
use uapi::openapi::{OpenApiOptions, RouteDoc};
use uapi::sessions::{configure_sessions, AsyncSession, MemoryStore, SessionError, SessionOptions};
use uapi::status::{Created, Forbidden, NoContent, NotFound};
use uapi::testing::TestClient;
use uapi::{handler, App, Cookie, FormBody, Header, Json, ReqBody, ReqBytes, Response};

#[derive(serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
struct Article {
    /// The title.
    title: String,
    #[serde(rename = "bodyText")]
    body: Option<String>,
    kind: Kind,
}

#[derive(serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Kind {
    News,
    Opinion,
}

/// A type without a schema: it must still compile, serve and show as `{}`.
#[derive(serde::Deserialize, serde::Serialize)]
struct Opaque {
    x: i32,
}

/// Reads one article.
///
/// By its id, from the path.
#[handler]
async fn get_article(article_id: u64) -> Result<Json<Article>, NotFound<String>> {
    if article_id == 1 {
        Ok(Json(Article { title: "one".into(), body: None, kind: Kind::News }))
    } else {
        Err(NotFound::new("no such article".into()))
    }
}

#[handler]
async fn create_article(article: ReqBody<Article>) -> Created<Json<Article>> {
    Created::new(Json(article.0))
}

#[handler]
async fn replace_article(article_id: u64, article: Json<Article>) -> Result<Result<NoContent, Forbidden>, NotFound> {
    let _ = (article_id, article);
    Ok(Ok(NoContent::new()))
}

#[handler]
async fn search(
    q: String,
    page: Option<u32>,
    tag: Vec<String>,
    exact: Option<bool>,
    #[header("x-api-key")] key: Header<String>,
    #[cookie("theme_pref")] theme: Option<Cookie>,
    user_agent: Option<Header>,
) -> String {
    format!("{q} {page:?} {tag:?} {exact:?} {} {:?} {:?}", key.0, theme.map(|c| c.0), user_agent.map(|h| h.0))
}

#[handler]
async fn upload_form(form: FormBody<Article>) -> Option<String> {
    Some(form.0.title)
}

#[handler]
async fn upload_bytes(data: ReqBytes) -> Vec<u8> {
    data.0.to_vec()
}

#[handler]
async fn opaque(value: ReqBody<Opaque>) -> Json<Opaque> {
    Json(value.0)
}

#[handler]
async fn nothing() {}

#[handler]
async fn custom() -> Response {
    uapi::IntoResponse::into_response("x")
}

/// A provider with a query parameter of its own and a refusal.
#[handler]
async fn tenant(tenant_id: u32) -> Result<String, Forbidden<&'static str>> {
    if tenant_id > 0 {
        Ok(tenant_id.to_string())
    } else {
        Err(Forbidden::new("no tenant"))
    }
}

#[handler]
async fn tenant_name(tenant: String) -> String {
    tenant
}

#[handler]
async fn me(current_user_id: i64) -> String {
    current_user_id.to_string()
}

#[handler]
async fn maybe_me(current_user_id: Option<i64>) -> String {
    format!("{current_user_id:?}")
}

#[handler]
async fn touch(session: AsyncSession) -> Result<NoContent, SessionError> {
    session.insert("t", "1");
    session.update_session().await?;
    Ok(NoContent::new())
}

#[handler]
async fn healthz() -> &'static str {
    "ok"
}

fn test_app() -> App {
    let mut articles = App::new();
    articles
        .get("/{article_id}", get_article)
        .put("/{article_id}", replace_article)
        .post("/", create_article)
        .tag("articles");
    let mut app = App::new();
    let store = configure_sessions(&mut app, MemoryStore::new(), SessionOptions::default().refuse_cross_site(true));
    configure_async_login::<i64>(&mut app, &store, LoginOptions::default());
    app.register_by_name("tenant", tenant)
        .mount("/articles", articles)
        .get("/search", search)
        .post("/form", upload_form)
        .post("/bytes", upload_bytes)
        .post("/opaque", opaque)
        .post("/nothing", nothing)
        .get("/custom", custom)
        .get("/tenant", tenant_name)
        .get("/me", me)
        .get("/maybe_me", maybe_me)
        .post("/touch", touch)
        .get("/healthz", healthz)
        .tag_route("search", "search")
        .tag_route("get_article", "reading")
        .route("/files/{*rest}", [uapi::http::Method::OPTIONS], nothing_at);
    app
}

#[handler]
async fn nothing_at(rest: String) -> String {
    rest
}

/// The test app's document, as `/openapi.json` serves it.
async fn served(options: &OpenApiOptions) -> Value {
    let mut app = test_app();
    app.serve_openapi("/openapi.json", options);
    let client = TestClient::new(&app).expect("the app builds");
    let r = client.get("/openapi.json").send().await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.headers["content-type"], "application/json");
    r.json().expect("JSON")
}

async fn spec() -> Value {
    served(&OpenApiOptions::new("test", "1.2.3").exclude("healthz")).await
}

fn op<'a>(spec: &'a Value, path: &str, method: &str) -> &'a Value {
    let op = &spec["paths"][path][method];
    assert!(op.is_object(), "no {method} {path} in {:#}", spec["paths"]);
    op
}

fn param<'a>(op: &'a Value, name: &str) -> &'a Value {
    let params = op["parameters"].as_array().unwrap_or_else(|| panic!("no parameters: {op:#}"));
    params.iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("no parameter {name}: {op:#}"))
}

fn statuses(op: &Value) -> Vec<String> {
    op["responses"].as_object().expect("responses").keys().cloned().collect()
}

#[tokio::test]
async fn every_route_and_method_but_head_and_options_is_an_operation_named_after_its_route() {
    let spec = spec().await;
    assert_eq!(spec["openapi"], "3.1.0");
    assert_eq!(spec["info"], json!({"title": "test", "version": "1.2.3"}));
    let mut ids = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            assert!(!["head", "options"].contains(&method.as_str()), "{method} {path}");
            ids.push(op["operationId"].as_str().expect("an operationId").to_owned());
        }
    }
    ids.sort();
    let want = [
        "create_article",
        "custom",
        "get_article",
        "maybe_me",
        "me",
        "nothing",
        "opaque",
        "replace_article",
        "search",
        "tenant_name",
        "touch",
        "upload_bytes",
        "upload_form",
    ];
    assert_eq!(ids, want, "healthz is excluded, /files is OPTIONS only, the document's own route is not in it");
    let get = op(&spec, "/articles/{article_id}", "get");
    assert_eq!(get["summary"], "Get Article");
    assert_eq!(get["description"], "Reads one article.\n\nBy its id, from the path.");
    assert_eq!(get["tags"], json!(["articles", "reading"]), "the mounted app's tag, and the route's own");
    assert_eq!(op(&spec, "/articles", "post")["tags"], json!(["articles"]));
    assert_eq!(op(&spec, "/search", "get")["tags"], json!(["search"]));
    assert!(op(&spec, "/me", "get").get("tags").is_none());
    let tags: Vec<&str> = spec["tags"].as_array().expect("tags").iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(tags.len(), 3, "{tags:?}");
    assert!(op(&spec, "/search", "get").get("description").is_none(), "no doc comment, no description");
}

#[tokio::test]
async fn parameters_come_with_their_types_where_they_are_read() {
    let spec = spec().await;
    let get = op(&spec, "/articles/{article_id}", "get");
    assert_eq!(
        param(get, "article_id"),
        &json!({"name": "article_id", "in": "path", "required": true,
                "schema": {"type": "integer", "format": "uint64", "minimum": 0}})
    );
    let search = op(&spec, "/search", "get");
    assert_eq!(
        param(search, "q"),
        &json!({"name": "q", "in": "query", "required": true, "schema": {"type": "string"}})
    );
    assert_eq!(
        param(search, "page"),
        &json!({"name": "page", "in": "query", "required": false,
                "schema": {"type": "integer", "format": "uint32", "minimum": 0}})
    );
    assert_eq!(
        param(search, "tag"),
        &json!({"name": "tag", "in": "query", "required": false, "style": "form", "explode": true,
                "schema": {"type": "array", "items": {"type": "string"}}})
    );
    assert_eq!(param(search, "exact")["schema"], json!({"type": "boolean"}));
    assert_eq!(
        param(search, "x-api-key"),
        &json!({"name": "x-api-key", "in": "header", "required": true, "schema": {"type": "string"}})
    );
    assert_eq!(param(search, "user-agent")["required"], false);
    assert_eq!(
        param(search, "theme_pref"),
        &json!({"name": "theme_pref", "in": "cookie", "required": false, "schema": {"type": "string"}})
    );
    assert_eq!(search["parameters"].as_array().map(Vec::len), Some(7));
}

#[tokio::test]
async fn bodies_are_described_by_their_media_types_with_shared_named_schemas() {
    let spec = spec().await;
    let article_ref = json!({"$ref": "#/components/schemas/Article"});
    let create = op(&spec, "/articles", "post");
    assert_eq!(
        create["requestBody"],
        json!({"required": true, "content": {"application/json": {"schema": article_ref}}})
    );
    let replace = op(&spec, "/articles/{article_id}", "put");
    assert_eq!(replace["requestBody"]["content"]["application/json"]["schema"], article_ref);
    let form = op(&spec, "/form", "post");
    assert_eq!(form["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"], article_ref);
    let bytes = op(&spec, "/bytes", "post");
    assert!(bytes["requestBody"]["content"]["application/octet-stream"].is_object(), "{bytes:#}");
    // Named once; serde's renames, optional fields, doc comments and enums as serde sees them.
    let article = &spec["components"]["schemas"]["Article"];
    assert_eq!(article["properties"]["title"]["description"], "The title.");
    assert!(article["properties"]["bodyText"].is_object(), "{article:#}");
    assert_eq!(article["required"], json!(["title", "kind"]));
    assert_eq!(spec["components"]["schemas"]["Kind"]["enum"], json!(["news", "opinion"]));
    // No schema: still served, shown as {}.
    let opaque = op(&spec, "/opaque", "post");
    assert_eq!(opaque["requestBody"]["content"]["application/json"]["schema"], json!({}));
    assert!(spec["components"]["schemas"].get("Opaque").is_none());
}

#[tokio::test]
async fn answers_come_from_the_return_type_and_from_the_framework() {
    let spec = spec().await;
    let get = op(&spec, "/articles/{article_id}", "get");
    assert_eq!(statuses(get), ["200", "400", "404"]);
    assert_eq!(
        get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Article"
    );
    assert_eq!(get["responses"]["404"]["content"]["text/plain"]["schema"], json!({"type": "string"}));
    // Nested Results, both arms; a body: 413 and 415.
    assert_eq!(statuses(op(&spec, "/articles/{article_id}", "put")), ["204", "400", "403", "404", "413", "415"]);
    assert_eq!(statuses(op(&spec, "/articles", "post")), ["201", "400", "413", "415"]);
    // Option: its answer or 204; bytes; () as 204; a hand-made Response as `default`.
    assert_eq!(statuses(op(&spec, "/form", "post")), ["200", "204", "400", "413", "415"]);
    assert!(op(&spec, "/bytes", "post")["responses"]["200"]["content"]["application/octet-stream"].is_object());
    assert_eq!(statuses(op(&spec, "/bytes", "post")), ["200", "400", "413"], "bytes: any media type, no 415");
    assert_eq!(statuses(op(&spec, "/nothing", "post")), ["204"]);
    assert_eq!(statuses(op(&spec, "/custom", "get")), ["default"]);
    // A Json<T> of a type without a schema: 200, a JSON body of unknown shape.
    let opaque = op(&spec, "/opaque", "post");
    assert_eq!(statuses(opaque), ["200", "400", "413", "415"]);
    assert_eq!(opaque["responses"]["200"]["content"]["application/json"]["schema"], json!({}));
}

#[tokio::test]
async fn a_providers_parameters_and_refusals_show_on_every_operation_using_it() {
    let spec = spec().await;
    let op = op(&spec, "/tenant", "get");
    assert_eq!(param(op, "tenant_id")["schema"]["format"], "uint32");
    assert_eq!(statuses(op), ["200", "400", "403"]);
    assert_eq!(op["responses"]["403"]["content"]["text/plain"]["schema"], json!({"type": "string"}));
}

#[tokio::test]
async fn session_stores_are_cookie_security_schemes_required_by_current_user_id() {
    let spec = spec().await;
    assert_eq!(
        spec["components"]["securitySchemes"]["session_id"],
        json!({"type": "apiKey", "name": "session_id", "in": "cookie",
               "description": "the session id in cookie `session_id` (set by the server)"})
    );
    // current_user_id: the cookie is required, and 403 without a login.
    let me = op(&spec, "/me", "get");
    assert_eq!(me["security"], json!([{"session_id": []}]));
    assert_eq!(statuses(me), ["200", "403", "503"]);
    // Option<current_user_id>: anonymous callers too, no 403 (a GET: the cross-site guard's 403 is for writes).
    let maybe = op(&spec, "/maybe_me", "get");
    assert_eq!(maybe["security"], json!([{"session_id": []}, {}]));
    assert_eq!(statuses(maybe), ["200", "503"]);
    // The session itself: a write, so the cross-site guard's 403 too.
    let touch = op(&spec, "/touch", "post");
    assert_eq!(touch["security"], json!([{"session_id": []}, {}]));
    assert_eq!(statuses(touch), ["204", "403", "500", "503"]);
    // No session, no security.
    assert!(op(&spec, "/search", "get").get("security").is_none());
}

#[tokio::test]
async fn summaries_and_descriptions_can_be_transformed() {
    let options = OpenApiOptions::new("t", "1")
        .summary_transformer(|r: &RouteDoc<'_>| Some(format!("{} {}", r.method, r.path)))
        .description_transformer(|r: &RouteDoc<'_>| r.doc.map(|d| d.lines().next().unwrap_or("").to_uppercase()));
    let spec = served(&options).await;
    let get = op(&spec, "/articles/{article_id}", "get");
    assert_eq!(get["summary"], "GET /articles/{article_id}");
    assert_eq!(get["description"], "READS ONE ARTICLE.");
    assert!(op(&spec, "/healthz", "get").get("description").is_none());
}

#[tokio::test]
async fn the_document_can_be_changed_before_it_is_served() {
    let app = test_app();
    let mut spec = app.make_openapi_spec(&OpenApiOptions::new("t", "1")).expect("a document");
    for (_, _, op) in spec.operations_mut() {
        op.extensions.insert("x-owner".into(), json!("team a"));
    }
    let mut app = test_app();
    app.serve_openapi_spec("/spec.json", &spec);
    let client = TestClient::new(&app).expect("the app builds");
    let served: Value = client.get("/spec.json").send().await.json().expect("JSON");
    assert_eq!(op(&served, "/me", "get")["x-owner"], "team a");
}

#[tokio::test]
async fn the_document_is_made_at_build_time_so_it_describes_what_was_added_after_it() {
    let mut app = App::new();
    app.serve_openapi("/openapi.json", &OpenApiOptions::new("t", "1")).get("/me", me);
    let store = configure_sessions(&mut app, MemoryStore::new(), SessionOptions::default());
    configure_async_login::<i64>(&mut app, &store, LoginOptions::default());
    app.get("/search", search);
    let client = TestClient::new(&app).expect("the app builds");
    let spec: Value = client.get("/openapi.json").send().await.json().expect("JSON");
    // current_user_id is the login's (a 403 and the cookie), not a query parameter.
    let me = op(&spec, "/me", "get");
    assert!(me.get("parameters").is_none(), "{me:#}");
    assert_eq!(me["security"], json!([{"session_id": []}]));
    assert_eq!(statuses(me), ["200", "403", "503"]);
    assert!(op(&spec, "/search", "get").is_object());
    assert_eq!(spec["paths"].as_object().map(|p| p.len()), Some(2), "not its own route: {:#}", spec["paths"]);
}

#[test]
fn tagging_a_route_that_is_not_there_fails_the_build() {
    let mut app = App::new();
    app.get("/me", healthz).tag_route("nope", "x");
    let Err(err) = app.build() else { panic!("the build succeeded") };
    assert!(err.to_string().contains("no route is named `nope`"), "{err}");
}

#[tokio::test]
async fn the_docs_pages_are_served_as_html_from_a_cdn_or_from_given_assets() {
    let mut app = App::new();
    app.get("/me", me);
    let store = configure_sessions(&mut app, MemoryStore::new(), SessionOptions::default());
    configure_async_login::<i64>(&mut app, &store, LoginOptions::default());
    app.serve_openapi("/openapi.json", &OpenApiOptions::new("t", "1"))
        .serve_swaggerui("/swaggerui", "/openapi.json")
        .serve_redoc("/redoc", "/openapi.json")
        .serve_docs("/elements", &uapi::openapi::DocsPage::elements("/openapi.json").assets_at("/static/elements"));
    let client = TestClient::new(&app).expect("the app builds");
    for (path, needle) in [
        ("/swaggerui", "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"),
        ("/redoc", "https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js"),
        ("/elements", "src=\"/static/elements/web-components.min.js\""),
    ] {
        let r = client.get(path).send().await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.headers["content-type"], "text/html; charset=utf-8", "{path}");
        assert!(r.text().contains(needle), "{path}: {}", r.text());
        assert!(r.text().contains("/openapi.json"), "{path}");
    }
}

/// Compares `actual` with the snapshot `tests/openapi/<name>.json` (written
/// anew with `UAPI_BLESS=1`).
fn snapshot(name: &str, actual: &Value) {
    let path = format!("{}/tests/openapi/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = format!("{}\n", serde_json::to_string_pretty(actual).expect("JSON"));
    if std::env::var_os("UAPI_BLESS").is_some() {
        std::fs::write(&path, &text).expect("write the snapshot");
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e} (UAPI_BLESS=1 writes it)"));
    assert!(want == text, "{path} differs from the document made now (UAPI_BLESS=1 rewrites it):\n{text}");
}

#[tokio::test]
async fn the_test_apps_document_matches_its_snapshot() {
    snapshot("features", &spec().await);
}

#[tokio::test]
async fn the_login_examples_document_matches_its_snapshot() {
    let settings = login_app::Settings { demo_login: true, ..Default::default() };
    let app = login_app::build(login_app::Store::Memory, &settings);
    let client = TestClient::new(&app).expect("the example builds");
    let spec: Value = client.get("/openapi.json").send().await.json().expect("JSON");
    let login = op(&spec, "/login", "post");
    assert_eq!(param(login, "user_id")["schema"]["type"], "integer");
    assert_eq!(statuses(op(&spec, "/me", "get")), ["200", "403", "503"]);
    snapshot("login", &spec);
}

/// On `--cookie-sessions`, the example's sessions are cookie schemes that
/// say what they hold, and no operation answers 503: there is no store to be
/// down.
#[tokio::test]
async fn on_cookie_sessions_the_login_examples_document_has_no_503() {
    let settings = login_app::Settings { demo_login: true, ..Default::default() };
    let keys = uapi::sessions::secure::SecretKey::from_bytes(&[1; 32]).expect("a key").into();
    let app = login_app::build(login_app::Store::Cookie { keys }, &settings);
    let client = TestClient::new(&app).expect("the example builds");
    let spec: Value = client.get("/openapi.json").send().await.json().expect("JSON");
    assert_eq!(statuses(op(&spec, "/me", "get")), ["200", "403"]);
    assert_eq!(statuses(op(&spec, "/cart", "get")), ["200"]);
    assert_eq!(op(&spec, "/cart", "get")["security"], serde_json::json!([{"cart_session": []}, {}]));
    let scheme = &spec["components"]["securitySchemes"]["session_id"];
    assert_eq!((&scheme["in"], &scheme["name"]), (&Value::from("cookie"), &Value::from("session_id")));
    assert!(scheme["description"].as_str().is_some_and(|d| d.contains("encrypted")), "{scheme:#}");
}

#[tokio::test]
async fn the_hello_examples_document_matches_its_snapshot() {
    let client = TestClient::new(&hello_app::build()).expect("the example builds");
    let spec: Value = client.get("/openapi.json").send().await.json().expect("JSON");
    let create = op(&spec, "/articles", "post");
    assert_eq!(create["requestBody"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/Article");
    assert_eq!(param(create, "x-api-key")["in"], "header", "the api_key provider's header");
    // One handler on two methods: two operations, each id unique.
    assert_eq!(op(&spec, "/echo", "post")["operationId"], "echo_post");
    assert_eq!(op(&spec, "/echo", "put")["operationId"], "echo_put");
    snapshot("hello", &spec);
}
