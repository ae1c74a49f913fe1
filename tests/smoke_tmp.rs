use uapi::{handler, status::{Created, NotFound}, testing::TestClient, App, Header, ReqBody};

#[derive(serde::Deserialize)]
struct Article { title: String }

#[handler]
async fn get_article(article_id: u64, q: Option<String>) -> Result<String, NotFound<&'static str>> {
    if article_id == 1 { Ok(format!("first {q:?}")) } else { Err(NotFound::new("no such article")) }
}

#[handler]
async fn create_article(article: ReqBody<Article>, api_key: Header<String>) -> Created<String> {
    Created::new(format!("{} by {}", article.title, api_key.0))
}

#[derive(Clone)]
struct User(String);

#[handler]
async fn user(#[header("x-user")] name: Header<String>) -> User { User(name.0) }

#[handler]
async fn me(user: User, other: User) -> String { format!("{} {}", user.0, other.0) }

#[tokio::test]
async fn smoke() {
    let mut app = App::new();
    app.get("/articles/{article_id}", get_article).post("/articles", create_article).get("/me", me);
    app.register_by_type(user);
    let c = TestClient::new(&app).unwrap();
    let r = c.get("/articles/1?q=x").send().await;
    assert_eq!((r.status.as_u16(), r.text()), (200, "first Some(\"x\")".into()));
    let r = c.get("/articles/2").send().await;
    assert_eq!(r.status, 404);
    let r = c.get("/articles/abc").send().await;
    println!("{}", r.text());
    assert_eq!(r.status, 400);
    let r = c.post("/articles").header("api-key", "k").json(&serde_json::json!({"title": "t"})).send().await;
    assert_eq!((r.status.as_u16(), r.text()), (201, "t by k".into()));
    let r = c.get("/me").header("x-user", "ann").send().await;
    assert_eq!((r.status.as_u16(), r.text()), (200, "ann ann".into()));
    assert_eq!(get_article(1, None).await.unwrap(), "first None");
}
