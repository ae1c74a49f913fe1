//! The addon seam (`uapi::addon`) as a crate outside uapi uses it: a
//! hand-written provider that declares parameters of its own (a path or query
//! parameter, an optional one, a repeated one, the JSON body, another
//! provider's value) and reads them through the request context.

use uapi::addon::{
    optional_scalar, repeated_scalar, scalar, ExtractorKind, FromRequest, HandlerInfo, Injectable, ParamInfo,
    ParamKind, ParamPlan, RequestCtx,
};
use uapi::testing::TestClient;
use uapi::{handler, App, ReqBody, Response};

/// What the provider gives: everything it read, as text.
#[derive(Clone, Debug)]
struct Summary(String);

/// A name for the provider to ask another provider for.
#[derive(Clone, Debug)]
struct Greeting(String);

#[handler]
async fn greeting() -> Greeting {
    Greeting("hi".to_owned())
}

/// Reads `page: u32` (path or query), `lang: Option<String>`, `tag: Vec<String>`,
/// `body: ReqBody<serde_json::Value>` and `greeting: Greeting` (a provider's).
struct Summarize;

impl Injectable for Summarize {
    type Output = Summary;
    type Provided = Summary;

    fn info(&self) -> HandlerInfo {
        HandlerInfo::new(
            "summarize",
            vec![
                ParamInfo::new::<u32>("page", ParamKind::Scalar),
                ParamInfo::new::<Option<String>>("lang", ParamKind::OptionalScalar),
                ParamInfo::new::<Vec<String>>("tag", ParamKind::RepeatedScalar),
                ParamInfo::new::<ReqBody<serde_json::Value>>("body", ParamKind::Extractor(ExtractorKind::Body)),
                ParamInfo::provided::<Greeting>("greeting"),
            ],
            "Summary",
        )
    }

    async fn call(&self, ctx: &mut RequestCtx, plan: &[ParamPlan]) -> Result<Summary, Response> {
        let page = ctx.resolve(&plan[0], scalar::<u32>()).await?;
        let lang = ctx.resolve(&plan[1], optional_scalar::<String>()).await?;
        let tags = ctx.resolve(&plan[2], repeated_scalar::<String>()).await?;
        let body = ctx.resolve(&plan[3], <ReqBody<serde_json::Value> as FromRequest>::from_request).await?;
        let greeting: Greeting = ctx.provided(&plan[4]).await?;
        Ok(Summary(format!("{} page={page} lang={lang:?} tags={tags:?} body={}", greeting.0, body.0)))
    }

    fn provide(out: Summary) -> Result<Summary, Response> {
        Ok(out)
    }
}

#[handler]
async fn show(summary: Summary) -> String {
    summary.0
}

fn client() -> TestClient {
    let mut app = App::new();
    app.register_by_type(Summarize).register_by_type(greeting).post("/items/{page}", show).route_named(
        "show_by_query",
        "/items",
        [uapi::http::Method::POST],
        show,
    );
    TestClient::new(&app).expect("the app builds")
}

/// A provider's own parameters resolve as a handler's would: the path
/// parameter on one route, the query on another, the body, another provider.
#[tokio::test]
async fn a_hand_written_provider_reads_its_own_parameters_through_the_seam() {
    let c = client();
    let r = c.post("/items/3?lang=en&tag=a&tag=b").json(&serde_json::json!({"x": 1})).send().await;
    assert_eq!(
        (r.status.as_u16(), r.text().as_str()),
        (200, r#"hi page=3 lang=Some("en") tags=["a", "b"] body={"x":1}"#)
    );
    let r = c.post("/items?page=4").json(&serde_json::json!(null)).send().await;
    assert_eq!((r.status.as_u16(), r.text().as_str()), (200, "hi page=4 lang=None tags=[] body=null"));
}

/// Their refusals are the app's own: a 400 naming the parameter, a 415 for
/// a body that is not JSON; the handler never runs.
#[tokio::test]
async fn a_providers_own_parameters_refuse_as_a_handlers_would() {
    let c = client();
    let r = c.post("/items").json(&serde_json::json!(1)).send().await;
    assert_eq!((r.status.as_u16(), r.text().as_str()), (400, "missing query parameter `page`"));
    let r = c.post("/items/x").json(&serde_json::json!(1)).send().await;
    assert_eq!(r.status.as_u16(), 400);
    assert!(r.text().starts_with("invalid path parameter `page`"), "{}", r.text());
    let r = c.post("/items/1").body("{}").send().await;
    assert_eq!(r.status.as_u16(), 415, "{}", r.text());
}
