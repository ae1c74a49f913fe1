//! Specification of parameter injection: every built-in source, the precedence
//! of providers (name and type > name > type > built-in), providers with their
//! own parameters, refusing providers, per-request caching, app state, and
//! handlers called as plain functions.

use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use http::{Method, Uri};
use serde::{Deserialize, Serialize};
use uapi::status::Forbidden;
use uapi::testing::TestClient;
use uapi::{
    handler, App, ClientAddr, Cookie, Cookies, FormBody, Header, Json, ReqBody, ReqBytes, RequestParts, RouteName,
};

fn client(app: &App) -> TestClient {
    match TestClient::new(app) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

// ---------------------------------------------------------------- path & query

#[handler]
async fn path_and_query(user_id: i64, page: u32) -> String {
    format!("user={user_id} page={page}")
}

/// A `FromStr` parameter reads the path parameter of its name, else the query.
#[tokio::test]
async fn scalar_reads_path_param_by_name_then_query_param() {
    let mut app = App::new();
    app.get("/users/{user_id}", path_and_query);
    let c = client(&app);
    let r = c.get("/users/42?page=3").send().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "user=42 page=3");
}

#[handler]
async fn optional_page(page: Option<u32>) -> String {
    format!("{page:?}")
}

/// `Option<T>` is `None` when the query parameter is absent, `Some` when present.
#[tokio::test]
async fn option_param_is_none_when_absent_and_some_when_present() {
    let mut app = App::new();
    app.get("/", optional_page);
    let c = client(&app);
    assert_eq!(c.get("/").send().await.text(), "None");
    assert_eq!(c.get("/?page=7").send().await.text(), "Some(7)");
}

#[handler]
async fn tags(tag: Vec<String>) -> String {
    tag.join(",")
}

/// `Vec<T>` collects every value of a repeated query key, in order; none is empty.
#[tokio::test]
async fn vec_param_collects_repeated_query_values() {
    let mut app = App::new();
    app.get("/", tags);
    let c = client(&app);
    let r = c.get("/?tag=a&other=x&tag=b%20c&tag=d").send().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "a,b c,d");
    let r = c.get("/").send().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "");
}

/// A user type with a `FromStr` implementation.
#[derive(Debug, PartialEq)]
enum Color {
    Red,
    Green,
}

impl FromStr for Color {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "red" => Ok(Color::Red),
            "green" => Ok(Color::Green),
            other => Err(format!("unknown color {other}")),
        }
    }
}

#[handler]
async fn paint(item_id: String, color: Color, flag: bool, ratio: f64) -> String {
    format!("{item_id} {color:?} {flag} {ratio}")
}

/// Any `FromStr` type works: a user type, a uuid-like `String`, `bool`, `f64`.
#[tokio::test]
async fn fromstr_user_type_string_bool_and_float_params() {
    let mut app = App::new();
    app.get("/items/{item_id}", paint);
    let c = client(&app);
    let r = c.get("/items/3f2504e0-4f89-11d3-9a0c-0305e82c3301?color=green&flag=true&ratio=0.25").send().await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "3f2504e0-4f89-11d3-9a0c-0305e82c3301 Green true 0.25");
    let r = c.get("/items/x?color=red&flag=false&ratio=-1.5").send().await;
    assert_eq!(r.text(), "x Red false -1.5");
    let r = c.get("/items/x?color=blue&flag=false&ratio=1").send().await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("unknown color blue"), "{}", r.text());
}

// ---------------------------------------------------------------- headers & cookies

#[handler]
async fn headers(
    api_key: Header<String>,
    #[header("x-request-id")] rid: Header<u32>,
    user_agent: Option<Header>,
) -> String {
    format!("{} {} {:?}", api_key.0, rid.0, user_agent.map(|h| h.0))
}

/// `Header<T>` reads the header named after the parameter (`_` as `-`), or its rename.
#[tokio::test]
async fn header_param_uses_dashed_name_or_rename() {
    let mut app = App::new();
    app.get("/", headers);
    let c = client(&app);
    let r = c.get("/").header("api-key", "k1").header("x-request-id", "17").send().await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "k1 17 None");
    let r = c.get("/").header("api-key", "k1").header("x-request-id", "17").header("user-agent", "curl").send().await;
    assert_eq!(r.text(), "k1 17 Some(\"curl\")");
    // `api_key` is not read from a header spelled with an underscore.
    let r = c.get("/").header("api_key", "k1").header("x-request-id", "17").send().await;
    assert_eq!(r.status, 400);
}

#[handler]
async fn cookies(#[cookie("sid")] session: Cookie, theme: Option<Cookie>, all: Cookies) -> String {
    format!("{} {:?} {:?} {:?}", session.0, theme.map(|c| c.0), all.get("lang"), all.get("nope"))
}

/// `#[cookie("sid")]` renames a `Cookie`; `Cookies` gives every cookie by name.
#[tokio::test]
async fn cookie_param_with_rename_and_cookies_param() {
    let mut app = App::new();
    app.get("/", cookies);
    let c = client(&app);
    let r = c.get("/").header("cookie", "sid=abc; lang=fr; session=wrong").send().await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "abc None Some(\"fr\") None");
    let r = c.get("/").header("cookie", "sid=abc; theme=dark").send().await;
    assert_eq!(r.text(), "abc Some(\"dark\") None None");
    // The client's jar is used too.
    c.set_cookie("sid", "from-jar");
    assert_eq!(c.get("/").send().await.text(), "from-jar None None None");
}

// ---------------------------------------------------------------- bodies

/// A JSON payload.
#[derive(Debug, Serialize, Deserialize)]
struct Article {
    title: String,
    words: u32,
}

#[handler]
async fn create_article(article: ReqBody<Article>) -> String {
    format!("{}:{}", article.title, article.words)
}

#[handler]
async fn echo_json(article: Json<Article>) -> Json<Article> {
    Json(Article { title: article.0.title.to_uppercase(), words: article.0.words + 1 })
}

/// `ReqBody<T>` and `Json<T>` parameters deserialise a JSON body.
#[tokio::test]
async fn reqbody_and_json_params_deserialise_json() {
    let mut app = App::new();
    app.post("/a", create_article).post("/b", echo_json);
    let c = client(&app);
    let body = Article { title: "rust".into(), words: 3 };
    let r = c.post("/a").json(&body).send().await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "rust:3");
    let r = c.post("/b").json(&body).send().await;
    assert_eq!(r.status, 200, "{}", r.text());
    let back: Article = r.json().expect("json");
    assert_eq!((back.title.as_str(), back.words), ("RUST", 4));
    // `+json` media types and parameters are accepted.
    let r = c
        .post("/a")
        .header("content-type", "application/vnd.api+json; charset=utf-8")
        .body(r#"{"title":"t","words":1}"#)
        .send()
        .await;
    assert_eq!(r.text(), "t:1");
}

/// A form payload.
#[derive(Debug, Deserialize)]
struct Search {
    q: String,
    limit: u32,
}

#[handler]
async fn search(form: FormBody<Search>) -> String {
    format!("{}/{}", form.0.q, form.0.limit)
}

/// `FormBody<T>` deserialises an urlencoded body.
#[tokio::test]
async fn formbody_param_deserialises_urlencoded_body() {
    let mut app = App::new();
    app.post("/", search);
    let c = client(&app);
    let r =
        c.post("/").header("content-type", "application/x-www-form-urlencoded").body("q=a+b%26c&limit=5").send().await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "a b&c/5");
}

#[handler]
async fn raw(body: ReqBytes) -> Vec<u8> {
    body.0.iter().rev().copied().collect()
}

/// `ReqBytes` is the raw body, whatever its content type (or none).
#[tokio::test]
async fn reqbytes_param_is_the_raw_body() {
    let mut app = App::new();
    app.post("/", raw);
    let c = client(&app);
    let r = c.post("/").body(&b"\x00\x01abc"[..]).send().await;
    assert_eq!(r.status, 200);
    assert_eq!(&r.body[..], b"cba\x01\x00");
    let r = c.post("/").header("content-type", "image/png").body("xy").send().await;
    assert_eq!(&r.body[..], b"yx");
}

// ---------------------------------------------------------------- request metadata

#[handler(name = "meta_route")]
async fn meta(method: Method, route: RouteName, parts: RequestParts, uri: Uri) -> String {
    format!(
        "{method} {} {} {:?} {} {}",
        route.0,
        parts.uri.path(),
        parts.version,
        parts.headers.get("x-a").map_or("-", |v| v.to_str().unwrap_or("?")),
        uri.query().unwrap_or("")
    )
}

/// `http::Method`, `RouteName` (the handler's route name), `RequestParts` and `Uri`.
#[tokio::test]
async fn method_routename_requestparts_and_uri_params() {
    let mut app = App::new();
    app.route("/m", [Method::GET, Method::DELETE], meta);
    let c = client(&app);
    let r = c.get("/m?x=1").header("x-a", "b").send().await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "GET meta_route /m HTTP/1.1 b x=1");
    let r = c.delete("/m").send().await;
    assert_eq!(r.text(), "DELETE meta_route /m HTTP/1.1 - ");
}

// ---------------------------------------------------------------- precedence

#[handler]
async fn by_type_i64() -> i64 {
    1
}
#[handler]
async fn by_name_b() -> i64 {
    2
}
#[handler]
async fn by_name_c() -> i64 {
    20
}
#[handler]
async fn by_name_and_type_c() -> i64 {
    3
}
#[handler]
async fn precedence(a: i64, b: i64, c: i64, d: u32) -> String {
    format!("{a} {b} {c} {d}")
}

/// Providers win over built-in sources, and name+type > name > type.
#[tokio::test]
async fn provider_precedence_is_name_and_type_then_name_then_type_then_builtin() {
    let mut app = App::new();
    // Registered least specific last, so registration order cannot explain the result.
    app.register_by_name_and_type("c", by_name_and_type_c)
        .register_by_name("c", by_name_c)
        .register_by_name("b", by_name_b)
        .register_by_type(by_type_i64)
        .get("/", precedence);
    let c = client(&app);
    let r = c.get("/?a=9&b=9&c=9&d=9").send().await;
    assert_eq!(r.status, 200, "{}", r.text());
    // `a` by type, `b` by name, `c` by name and type, `d` (a u32) from the query.
    assert_eq!(r.text(), "1 2 3 9");
}

#[handler]
async fn user_id_from_header(#[header("x-user")] h: Header<i64>) -> i64 {
    h.0 * 10
}
#[handler]
async fn show_user(user_id: i64) -> String {
    user_id.to_string()
}

/// A provider registered for the name `user_id` overrides the query parameter.
#[tokio::test]
async fn provider_by_name_overrides_query_param() {
    let mut app = App::new();
    app.register_by_name("user_id", user_id_from_header).get("/", show_user);
    let c = client(&app);
    let r = c.get("/?user_id=1").header("x-user", "5").send().await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "50");
    // Without the header, the provider's own parameter is missing: no fallback to the query.
    let r = c.get("/?user_id=1").send().await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("x-user"), "{}", r.text());
}

#[handler]
async fn later_wins_a() -> i64 {
    100
}
#[handler]
async fn later_wins_b() -> i64 {
    200
}

/// Within one precedence level, the most recently registered provider wins.
#[tokio::test]
async fn later_registration_wins_within_a_level() {
    let mut app = App::new();
    app.register_by_type(later_wins_a).register_by_type(later_wins_b).get("/", show_user);
    assert_eq!(client(&app).get("/").send().await.text(), "200");
}

// ---------------------------------------------------------------- providers with params

/// A database handle, given as app state.
#[derive(Clone)]
struct Db {
    users: Arc<Vec<(&'static str, &'static str)>>,
}

/// The user making the request.
#[derive(Clone, Debug)]
struct User {
    name: String,
}

#[handler]
async fn current_user(api_key: Header<String>, db: Db) -> Result<User, Forbidden<&'static str>> {
    db.users
        .iter()
        .find(|(k, _)| *k == api_key.0)
        .map(|(_, n)| User { name: (*n).to_owned() })
        .ok_or(Forbidden::new("bad api key"))
}

/// Counts the handler bodies that actually ran.
#[derive(Clone, Default)]
struct Runs(Arc<AtomicUsize>);

#[handler]
async fn whoami(runs: Runs, user: User) -> String {
    runs.0.fetch_add(1, Ordering::SeqCst);
    format!("hello {}", user.name)
}

fn auth_app(runs: &Runs) -> App {
    let mut app = App::new();
    app.provide_value(Db { users: Arc::new(vec![("k1", "ann"), ("k2", "bob")]) })
        .provide_value(runs.clone())
        .register_by_type(current_user)
        .get("/me", whoami);
    app
}

/// A provider can take injected parameters itself: a header and another provider.
#[tokio::test]
async fn provider_takes_a_header_and_another_provider() {
    let runs = Runs::default();
    let c = client(&auth_app(&runs));
    let r = c.get("/me").header("api-key", "k2").send().await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "hello bob");
    assert_eq!(runs.0.load(Ordering::SeqCst), 1);
}

/// A provider returning `Err(Forbidden)` answers the request; the handler never runs.
#[tokio::test]
async fn refusing_provider_short_circuits_the_handler() {
    let runs = Runs::default();
    let c = client(&auth_app(&runs));
    let r = c.get("/me").header("api-key", "nope").send().await;
    assert_eq!(r.status, 403);
    assert_eq!(r.text(), "bad api key");
    assert_eq!(runs.0.load(Ordering::SeqCst), 0);
    // A missing header is the provider's parameter failing: a 400, still no handler run.
    let r = c.get("/me").send().await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("api-key"), "{}", r.text());
    assert_eq!(runs.0.load(Ordering::SeqCst), 0);
}

// ---------------------------------------------------------------- caching

/// Counts how often `counted` ran.
#[derive(Clone, Default)]
struct Calls(Arc<AtomicUsize>);

/// What `counted` provides.
#[derive(Clone)]
struct Ticket(usize);

/// What `derived` provides, from a `Ticket`.
#[derive(Clone)]
struct Derived(usize);

#[handler]
async fn counted(calls: Calls) -> Ticket {
    Ticket(calls.0.fetch_add(1, Ordering::SeqCst) + 1)
}
#[handler]
async fn derived(ticket: Ticket) -> Derived {
    Derived(ticket.0)
}
#[handler]
async fn uses_both(ticket: Ticket, derived: Derived, again: Ticket) -> String {
    format!("{} {} {}", ticket.0, derived.0, again.0)
}

/// A provider used by the handler (twice) and by another provider runs once per request.
#[tokio::test]
async fn provider_runs_once_per_request_and_again_next_request() {
    let calls = Calls::default();
    let mut app = App::new();
    app.provide_value(calls.clone()).register_by_type(counted).register_by_type(derived).get("/", uses_both);
    let c = client(&app);
    let r = c.get("/").send().await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "1 1 1");
    assert_eq!(calls.0.load(Ordering::SeqCst), 1);
    let r = c.get("/").send().await;
    assert_eq!(r.text(), "2 2 2");
    assert_eq!(calls.0.load(Ordering::SeqCst), 2);
}

// ---------------------------------------------------------------- app state

/// Configuration shared by every request.
#[derive(Clone)]
struct Config {
    greeting: Arc<str>,
}

#[handler]
async fn greet(config: Config, name: String) -> String {
    format!("{}, {name}", config.greeting)
}

#[handler]
async fn named_values(prefix: String, suffix: String) -> String {
    format!("{prefix}-{suffix}")
}

/// `provide_value` hands a clone of app state to every parameter of its type;
/// `provide_value_by_name` only to parameters of that name.
#[tokio::test]
async fn provide_value_is_app_state() {
    let mut app = App::new();
    app.provide_value(Config { greeting: "hi".into() })
        .provide_value_by_name("prefix", "pre".to_owned())
        .get("/", greet)
        .get("/n", named_values);
    let c = client(&app);
    assert_eq!(c.get("/?name=ann").send().await.text(), "hi, ann");
    // `name: String` is not touched by the by-name value for `prefix`.
    assert_eq!(c.get("/n?prefix=x&suffix=s").send().await.text(), "pre-s");
}

// ---------------------------------------------------------------- plain calls

#[handler]
async fn triple(n: i64) -> i64 {
    n * 3
}

#[handler]
fn plain(n: i64) -> String {
    format!("plain {n}")
}

/// A handler stays a normal async function: unit-test it by calling it.
#[tokio::test]
async fn handler_can_be_called_directly() {
    assert_eq!(triple(3).await, 9);
    assert_eq!(
        current_user(Header("k1".into()), Db { users: Arc::new(vec![("k1", "ann")]) }).await.map(|u| u.name).ok(),
        Some("ann".to_owned())
    );
}

/// A plain `fn` handler works as a function (`into_inner`) and over HTTP.
#[tokio::test]
async fn plain_fn_handler_is_callable_and_routable() {
    assert_eq!(plain(3).into_inner(), "plain 3");
    assert_eq!(plain(4).await, "plain 4");
    let mut app = App::new();
    app.get("/plain/{n}", plain);
    let r = client(&app).get("/plain/5").send().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "plain 5");
}

#[handler]
async fn client_ip(client: ClientAddr) -> String {
    client.0.to_string()
}

/// `ClientAddr` is the peer's address; the test client sends `127.0.0.1:40000`
/// unless a request says `from_addr`. The tower `Service` called directly has
/// none: a 400 naming the parameter.
#[tokio::test]
async fn client_addr_param_is_the_peer_address() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut app = App::new();
    app.get("/ip", client_ip);
    let c = client(&app);
    assert_eq!(c.get("/ip").send().await.text(), "127.0.0.1:40000");
    let r = c.get("/ip").from_addr("[2001:db8::7]:443".parse().expect("an address")).send().await;
    assert_eq!(r.text(), "[2001:db8::7]:443");

    let service = app.build().expect("builds");
    let request = http::Request::get("/ip").body(http_body_util::Empty::<bytes::Bytes>::new()).expect("a request");
    let response = service.oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), 400);
    let body = response.into_body().collect().await.expect("a body").to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("client"), "{body:?}");
}
