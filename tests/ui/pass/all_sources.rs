//! A handler using many built-in sources and a provider compiles and builds.

use std::sync::Arc;

use http::{HeaderMap, Method, Uri};
use uapi::status::{Created, Forbidden};
use uapi::{
    handler, App, Cookie, Cookies, FormBody, Header, Json, ReqBody, ReqBytes, RequestParts, ResponseHeaders,
    RouteName,
};

#[derive(serde::Deserialize)]
struct Article {
    title: String,
}

#[derive(Clone)]
struct Db;

#[derive(Clone)]
struct User;

#[handler]
async fn current_user(api_key: Header<String>, db: Arc<Db>) -> Result<User, Forbidden> {
    let _ = (api_key, db);
    Ok(User)
}

#[handler(name = "everything")]
#[allow(clippy::too_many_arguments)]
async fn everything(
    user_id: i64,
    page: Option<u32>,
    tag: Vec<String>,
    #[header("x-request-id")] request_id: Option<Header<u64>>,
    #[cookie("sid")] sid: Option<Cookie>,
    cookies: Cookies,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    route: RouteName,
    parts: RequestParts,
    extra: ResponseHeaders,
    user: User,
    mut count: u8,
) -> Created<String> {
    count += 1;
    let _ = (page, tag, request_id, sid, cookies, method, uri, headers, route, parts, extra, user);
    Created::new(format!("{user_id} {count}"))
}

#[handler]
async fn json(article: ReqBody<Article>) -> String {
    article.0.title
}

#[handler]
async fn json2(article: Json<Article>) -> Json<Vec<String>> {
    Json(vec![article.0.title])
}

#[handler]
async fn form(article: FormBody<Article>) -> String {
    article.0.title
}

#[handler]
fn bytes(body: ReqBytes) -> Vec<u8> {
    body.0.to_vec()
}

fn main() {
    let mut app = App::new();
    app.provide_value(Arc::new(Db))
        .register_by_type(current_user)
        .get("/users/{user_id}", everything)
        .post("/json", json)
        .post("/json2", json2)
        .post("/form", form)
        .post("/bytes", bytes);
    if let Err(e) = app.build() {
        panic!("{e}");
    }
}
