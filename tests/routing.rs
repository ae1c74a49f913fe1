//! Specification of routing (404, 405 with `Allow`, HEAD, catch-alls, percent
//! decoding, multi-method routes, mounting) and of the problems `App::build`
//! reports, with messages that name what is wrong.

use http::Method;
use uapi::testing::TestClient;
use uapi::{handler, App, BuildError, Header};

fn client(app: &App) -> TestClient {
    match TestClient::new(app) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

fn build_error(app: &App) -> BuildError {
    match app.build() {
        Ok(_) => panic!("the app was expected not to build"),
        Err(e) => e,
    }
}

/// Asserts one problem mentions every fragment.
fn assert_problem(e: &BuildError, fragments: &[&str]) {
    assert!(
        e.problems.iter().any(|p| fragments.iter().all(|f| p.contains(f))),
        "no problem mentions all of {fragments:?}; problems: {:#?}",
        e.problems
    );
}

#[handler]
async fn hello() -> &'static str {
    "hello"
}

#[handler]
async fn create_hello() -> &'static str {
    "created"
}

/// An unknown path is a 404.
#[tokio::test]
async fn unknown_path_is_404() {
    let mut app = App::new();
    app.get("/hello", hello);
    let c = client(&app);
    assert_eq!(c.get("/nope").send().await.status, 404);
    assert_eq!(c.get("/hello/extra").send().await.status, 404);
    assert_eq!(c.get("/hello").send().await.status, 200);
}

/// A known path with an unrouted method is a 405 whose `Allow` lists the
/// methods, HEAD included when GET is routed.
#[tokio::test]
async fn wrong_method_is_405_with_allow_header() {
    let mut app = App::new();
    app.get("/hello", hello).post("/hello", create_hello);
    let c = client(&app);
    let r = c.delete("/hello").send().await;
    assert_eq!(r.status, 405);
    assert_eq!(r.headers["allow"], "GET, HEAD, POST");
    assert_eq!(c.post("/hello").send().await.text(), "created");

    let mut app = App::new();
    app.post("/only-post", create_hello);
    let r = client(&app).get("/only-post").send().await;
    assert_eq!(r.status, 405);
    assert_eq!(r.headers["allow"], "POST");
}

/// HEAD on a GET route answers the GET's headers, with its length, and no body.
#[tokio::test]
async fn head_on_get_route_has_headers_and_no_body() {
    let mut app = App::new();
    app.get("/hello", hello);
    let r = client(&app).head("/hello").send().await;
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert_eq!(r.headers["content-length"], "5");
    assert_eq!(r.headers["content-type"], "text/plain; charset=utf-8");
}

#[handler]
async fn explicit_head() -> &'static str {
    "head route"
}

/// An explicit HEAD route is used instead of the GET one (and its body still dropped).
#[tokio::test]
async fn explicit_head_route_takes_precedence_over_get() {
    let mut app = App::new();
    app.get("/hello", hello).head("/hello", explicit_head);
    let r = client(&app).head("/hello").send().await;
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert_eq!(r.headers["content-length"], "10");
}

#[handler]
async fn files(rest: String) -> String {
    format!("file:{rest}")
}

/// `{*rest}` captures the remainder of the path, slashes included.
#[tokio::test]
async fn catch_all_captures_the_rest_of_the_path() {
    let mut app = App::new();
    app.get("/files/{*rest}", files);
    let c = client(&app);
    assert_eq!(c.get("/files/a/b/c.txt").send().await.text(), "file:a/b/c.txt");
    assert_eq!(c.get("/files/one").send().await.text(), "file:one");
}

#[handler]
async fn named(name: String, n: u32) -> String {
    format!("[{name}] {n}")
}

/// Path parameters are percent-decoded before parsing.
#[tokio::test]
async fn path_params_are_percent_decoded() {
    let mut app = App::new();
    app.get("/users/{name}/{n}", named);
    let c = client(&app);
    let r = c.get("/users/a%20b/%34%32").send().await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "[a b] 42");
    assert_eq!(c.get("/users/caf%C3%A9/1").send().await.text(), "[café] 1");
    // Not UTF-8 once decoded: a 400 naming the parameter.
    let r = c.get("/users/%FF/1").send().await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("`name`"), "{}", r.text());
}

#[handler]
async fn which(method: Method) -> String {
    method.to_string()
}

/// `app.route(path, [methods], h)` routes each method to the handler.
#[tokio::test]
async fn route_with_several_methods() {
    let mut app = App::new();
    app.route("/w", [Method::GET, Method::POST, Method::PUT], which);
    let c = client(&app);
    assert_eq!(c.get("/w").send().await.text(), "GET");
    assert_eq!(c.post("/w").send().await.text(), "POST");
    assert_eq!(c.put("/w").send().await.text(), "PUT");
    let r = c.delete("/w").send().await;
    assert_eq!(r.status, 405);
    assert_eq!(r.headers["allow"], "GET, HEAD, POST, PUT");
}

/// The user behind the request.
#[derive(Clone)]
struct User(String);

#[handler]
async fn user_from_header(#[header("x-user")] name: Header<String>) -> User {
    User(name.0)
}

#[handler]
async fn child_user() -> User {
    User("child's".to_owned())
}

#[handler]
async fn profile(user: User, item_id: u32) -> String {
    format!("{} #{item_id}", user.0)
}

#[handler]
async fn api_root() -> &'static str {
    "api root"
}

/// A mounted app's routes live under the prefix, and the parent's providers
/// apply to them (over the child's own).
#[tokio::test]
async fn mounted_app_routes_work_and_parent_providers_apply() {
    let mut api = App::new();
    api.register_by_type(child_user).get("/items/{item_id}", profile).get("/", api_root);
    let mut app = App::new();
    app.register_by_type(user_from_header).mount("/api", api);
    let c = client(&app);
    let r = c.get("/api/items/7").header("x-user", "ann").send().await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "ann #7");
    assert_eq!(c.get("/api").send().await.text(), "api root");
    assert_eq!(c.get("/items/7").send().await.status, 404);
}

/// A mounted app keeps its own providers when the parent has none for the type.
#[tokio::test]
async fn mounted_app_keeps_its_own_providers() {
    let mut api = App::new();
    api.register_by_type(child_user).get("/items/{item_id}", profile);
    let mut app = App::new();
    app.mount("/api/", api);
    let r = client(&app).get("/api/items/1").send().await;
    assert_eq!(r.text(), "child's #1");
}

// ---------------------------------------------------------------- build errors

/// The same method and path routed twice is a build error.
#[test]
fn duplicate_route_is_a_build_error() {
    let mut app = App::new();
    app.get("/x", hello).get("/x", which);
    let e = build_error(&app);
    assert_problem(&e, &["GET /x", "routed twice"]);
}

/// One route name on two different paths is a build error.
#[test]
fn duplicate_route_name_on_different_paths_is_a_build_error() {
    let mut app = App::new();
    app.get("/a", hello).get("/b", hello);
    let e = build_error(&app);
    assert_problem(&e, &["route name `hello`", "`/a`", "`/b`"]);
}

/// `route_named` serves one handler on a second path under a second name, and
/// the matched route's name is the one given.
#[tokio::test]
async fn route_named_serves_one_handler_on_two_paths() {
    let mut app = App::new();
    app.get("/a", route_of).route_named("route_of_b", "/b", [Method::GET], route_of);
    let c = TestClient::new(&app).expect("builds");
    assert_eq!(c.get("/a").send().await.text(), "route_of");
    assert_eq!(c.get("/b").send().await.text(), "route_of_b");
}

#[handler]
async fn route_of(route: uapi::RouteName) -> String {
    route.0
}

#[handler]
async fn a_handler(a: String) -> String {
    a
}

#[handler]
async fn b_handler(b: String) -> String {
    b
}

/// Templates that conflict (`{a}` and `{b}` at one position) are a build error.
#[test]
fn conflicting_path_templates_are_a_build_error() {
    let mut app = App::new();
    app.get("/x/{a}", a_handler).post("/x/{b}", b_handler);
    let e = build_error(&app);
    assert_problem(&e, &["/x/{b}", "cannot be added"]);
}

/// A path that does not start with `/` is a build error.
#[test]
fn path_without_leading_slash_is_a_build_error() {
    let mut app = App::new();
    app.get("nope", hello);
    let e = build_error(&app);
    assert_problem(&e, &["nope", "must start with `/`"]);
}

/// A database handle with no provider.
#[derive(Clone)]
struct Db;

#[handler]
async fn needs_db(db: Db) -> &'static str {
    let _ = db;
    "ok"
}

/// An unresolvable parameter names the handler, the parameter and its type.
#[test]
fn unresolvable_param_names_handler_param_and_type() {
    let mut app = App::new();
    app.get("/db", needs_db);
    let e = build_error(&app);
    assert_eq!(e.problems.len(), 1, "{:#?}", e.problems);
    assert_problem(&e, &["handler `needs_db`", "GET /db", "`db: routing::Db`", "cannot be resolved"]);
    assert!(e.to_string().starts_with("the app cannot be built:"), "{e}");
}

#[handler]
async fn uses_db_provider(db: Db) -> User {
    let _ = db;
    User("x".into())
}

/// An unresolvable parameter of a provider names the provider and the route using it.
#[test]
fn unresolvable_provider_param_names_provider_and_route() {
    let mut app = App::new();
    app.register_by_type(uses_db_provider).get("/p/{item_id}", profile);
    let e = build_error(&app);
    assert_problem(&e, &["provider `uses_db_provider`", "handler `profile`", "`db: routing::Db`"]);
}

#[handler]
async fn user_id_as_string() -> String {
    "nope".to_owned()
}

#[handler]
async fn show(user_id: i64) -> String {
    user_id.to_string()
}

/// A by-name provider whose type differs from the parameter's is a build error.
#[test]
fn by_name_provider_of_another_type_is_a_build_error() {
    let mut app = App::new();
    app.register_by_name("user_id", user_id_as_string).get("/", show);
    let e = build_error(&app);
    assert_problem(&e, &["handler `show`", "`user_id: i64`", "alloc::string::String"]);
}

/// One side of a provider cycle.
#[derive(Clone)]
struct Egg;
/// The other side.
#[derive(Clone)]
struct Chicken;

#[handler]
async fn egg(chicken: Chicken) -> Egg {
    let _ = chicken;
    Egg
}

#[handler]
async fn chicken(egg: Egg) -> Chicken {
    let _ = egg;
    Chicken
}

#[handler]
async fn breakfast(egg: Egg) -> &'static str {
    let _ = egg;
    "eggs"
}

/// Two providers that need each other are a build error, not a hang.
#[test]
fn provider_cycle_is_a_build_error() {
    let mut app = App::new();
    app.register_by_type(egg).register_by_type(chicken).get("/", breakfast);
    let e = build_error(&app);
    assert_problem(&e, &["handler `breakfast`", "provider `egg`", "needs itself"]);
}

#[handler]
async fn renamed_scalar(#[header("x-n")] n: i64) -> String {
    n.to_string()
}

#[handler]
async fn header_as_cookie(#[cookie("c")] h: Header<String>) -> String {
    h.0
}

/// `#[header]` on a non-`Header` type (or `#[cookie]` on a `Header`) is a build error.
#[test]
fn rename_attribute_on_wrong_type_is_a_build_error() {
    let mut app = App::new();
    app.get("/n", renamed_scalar).get("/h", header_as_cookie);
    let e = build_error(&app);
    assert_problem(&e, &["handler `renamed_scalar`", "`n: i64`", "#[header]"]);
    assert_problem(&e, &["handler `header_as_cookie`", "`h: uapi::"]);
}

#[handler]
async fn bad_header_name(#[header("bad header")] h: Header<String>) -> String {
    h.0
}

/// A renamed header that is not a valid header name is a build error.
#[test]
fn invalid_header_name_is_a_build_error() {
    let mut app = App::new();
    app.get("/", bad_header_name);
    let e = build_error(&app);
    assert_problem(&e, &["`bad header` is not a valid header name"]);
}

/// Every problem is reported at once, not just the first.
#[test]
fn all_problems_are_reported_together() {
    let mut app = App::new();
    app.get("/db", needs_db).get("/n", renamed_scalar).get("/x", hello).get("/x", which);
    let e = build_error(&app);
    assert_eq!(e.problems.len(), 3, "{:#?}", e.problems);
}

/// Mounting under a prefix without a leading `/` is a build error, and so are
/// the mounted app's own problems.
#[test]
fn mount_problems_are_build_errors() {
    let mut api = App::new();
    api.get("/db", needs_db);
    let mut app = App::new();
    app.mount("api", api);
    let e = build_error(&app);
    assert_problem(&e, &["mount prefix `api`"]);
    assert_problem(&e, &["handler `needs_db`", "GET api/db"]);
}

#[handler]
async fn renamed_provided(#[header("x-user")] user: User) -> String {
    user.0
}

/// A `#[header]` attribute on a parameter a provider gives is a build error,
/// not silently ignored.
#[test]
fn rename_attribute_on_provided_param_is_a_build_error() {
    let mut app = App::new();
    app.register_by_type(child_user).get("/", renamed_provided);
    let e = build_error(&app);
    assert_problem(&e, &["handler `renamed_provided`", "`user: routing::User`", "#[header]", "provider `child_user`"]);
}

#[handler]
async fn get_user(user_id: i64) -> String {
    user_id.to_string()
}

#[handler]
async fn owner(id: i64) -> String {
    format!("owner of {id}")
}

#[handler]
async fn show_owner(owner: String) -> String {
    owner
}

#[handler]
async fn file(rest: String) -> String {
    rest
}

/// A path parameter no parameter reads would make every request a 400 (the
/// handler's parameter reads the query instead): `build()` refuses it, names
/// the route and the parameter, and suggests the query parameter it meant.
#[test]
fn a_path_parameter_nothing_reads_is_a_build_error_with_a_suggestion() {
    let mut app = App::new();
    app.get("/users/{id}", get_user);
    let e = build_error(&app);
    assert_problem(
        &e,
        &["route `GET /users/{id}`", "path parameter `id` is not used by `get_user`", "(did you mean `user_id`?)"],
    );
    // A catch-all counts too; with nothing alike, no suggestion.
    let mut app = App::new();
    app.get("/files/{*path}", hello);
    let e = build_error(&app);
    assert_problem(&e, &["route `GET /files/{*path}`", "path parameter `path` is not used by `hello`"]);
    assert!(!e.problems.iter().any(|p| p.contains("did you mean")), "{:?}", e.problems);
}

/// A path parameter read by a provider the handler needs is used: no error,
/// and the provider gets it.
#[tokio::test]
async fn a_path_parameter_a_provider_reads_is_used() {
    let mut app = App::new();
    app.register_by_name("owner", owner).get("/items/{id}/owner", show_owner).get("/files/{*rest}", file);
    let c = client(&app);
    assert_eq!(c.get("/items/7/owner").send().await.text(), "owner of 7");
    assert_eq!(c.get("/files/a/b").send().await.text(), "a/b");
}
