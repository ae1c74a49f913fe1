//! The login example's OpenAPI docs pages in a real browser: headless
//! Chromium (through chromedriver) opens `/swaggerui`, `/redoc` and
//! `/elements` of the example binary, run as users run it (`--bind
//! 127.0.0.1:0 --demo-login --insecure-cookies --docs-assets
//! tests/browser/node_modules`), and checks what a person would see:
//!
//! - Swagger UI lists every operation of `/openapi.json` (read by the test,
//!   not a list written here): its method and path shown, its `operationId`
//!   in the block's id;
//! - in Swagger UI, "Try it out" and "Execute" on `GET /me` show a 403, on
//!   `POST /login` with `user_id` 42 a 201, then on `GET /me` the body `42`
//!   (the browser keeps the session cookie, as for a person);
//! - Redoc and Stoplight Elements render the spec's operations;
//! - each page loads its scripts and styles from the example's `/assets`
//!   only, and no request of the page leaves loopback (the browser sends
//!   anything else to a proxy of the test, which refuses it: see
//!   `support/browser.rs`).
//!
//! Needs `chromium` and `chromium-driver` (Debian's), and
//! `tests/browser/node_modules` (`npm ci --prefix tests/browser`): `.ci/run`
//! installs both.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;

use bytes::Bytes;
use fantoccini::elements::Element;
use fantoccini::key::Key;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use support::browser::{Browser, PATIENCE};
use support::spawned::{example, Spawned};
use tokio::process::Command;

/// The docs UIs' packages, as `npm ci --prefix tests/browser` installs them.
fn assets() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/node_modules");
    assert!(
        dir.join("swagger-ui-dist/swagger-ui-bundle.js").is_file(),
        "no {}: run `npm ci --prefix tests/browser` (.ci/run does)",
        dir.display()
    );
    dir
}

/// Starts the login example (sessions in memory) with its docs pages' files
/// from [`assets`], on a free loopback port; it and its base URL
/// (`http://127.0.0.1:PORT`).
async fn start() -> (Spawned, String) {
    let mut command = Command::new(example("login"));
    command
        .args(["--bind", "127.0.0.1:0", "--demo-login", "--insecure-cookies", "--docs-assets"])
        .arg(assets())
        .env("RUST_LOG", "info")
        .env_remove("REDIS_URL");
    let mut app = Spawned::start(command);
    let addr = app.addr_after("listening on http://").await;
    (app, format!("http://{addr}"))
}

/// `GET url`: status and body.
async fn get(url: &str) -> (u16, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let uri = url.parse().expect("a URL");
    let response = tokio::time::timeout(PATIENCE, client.get(uri)).await.expect("answered in time").expect("GET");
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.expect("the body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// One operation of the spec.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Operation {
    /// Upper case, as the UIs show it.
    method: String,
    path: String,
    id: String,
}

/// The app's `/openapi.json`, and its operations.
async fn spec(base: &str) -> (Value, Vec<Operation>) {
    let (status, body) = get(&format!("{base}/openapi.json")).await;
    assert_eq!(status, 200, "GET /openapi.json: {body}");
    let spec: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("/openapi.json is no JSON ({e}): {body}"));
    let version = spec["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1"), "not OpenAPI 3.1: {version:?}");
    let mut operations = Vec::new();
    let paths = spec["paths"].as_object().expect("paths in the spec");
    for (path, item) in paths {
        for method in ["get", "put", "post", "delete", "options", "head", "patch", "trace"] {
            if let Some(operation) = item.get(method) {
                let id =
                    operation["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
                operations.push(Operation { method: method.to_uppercase(), path: path.clone(), id: id.to_owned() });
            }
        }
    }
    operations.sort();
    for (method, path, id) in [("POST", "/login", "login"), ("GET", "/me", "me")] {
        let wanted = Operation { method: method.into(), path: path.into(), id: id.into() };
        assert!(operations.contains(&wanted), "the spec has no {wanted:?}: {operations:?}");
    }
    (spec, operations)
}

/// No request of the page left loopback, and its scripts and styles all came
/// from `base/assets/`.
///
/// The page's requests are its Resource Timing entries (the document,
/// scripts, styles, images, fetches; those that failed and those the
/// browser blocked too), once every script, stylesheet and image of the
/// page has one (all loads settled). One for another host left loopback if
/// the proxy, which gets every request the browser sends off loopback, saw
/// that host; one the browser blocked before sending (e.g. by a
/// Content-Security-Policy) did not. (Chromium's own background requests,
/// to its vendors' services, reach the proxy too and are refused there:
/// they are not the page's.)
async fn assert_loopback_only(browser: &Browser, base: &str, page: &str) {
    let settled = "
        const done = new Set(performance.getEntriesByType('resource').map(e => e.name));
        const loads = [...document.querySelectorAll('script[src], link[rel~=stylesheet][href], img[src]')]
            .filter(e => e.loading !== 'lazy')
            .map(e => e.src || e.href)
            .filter(url => url && !url.startsWith('data:') && !url.startsWith('blob:'));
        const pending = loads.filter(url => !done.has(url));
        return pending.length === 0 ? true : null;";
    browser.wait_for(&format!("{page}'s scripts, styles and images to load (or fail)"), settled, vec![]).await;
    let entries = browser
        .js(
            "return performance.getEntries()
                .filter(e => e.entryType === 'navigation' || e.entryType === 'resource')
                .map(e => [e.name, e.initiatorType || e.entryType])",
            vec![],
        )
        .await;
    let entries: Vec<(String, String)> = serde_json::from_value(entries).expect("[url, initiator] pairs");
    let sent = browser.off_loopback_hosts();
    let left: Vec<&(String, String)> = entries
        .iter()
        .filter(|(url, _)| !url.starts_with(&format!("{base}/")))
        .filter(|(url, _)| host_of(url).is_some_and(|host| sent.contains(&host)))
        .collect();
    assert!(left.is_empty(), "{page}: requests left loopback: {left:?}\n(the proxy saw: {:?})", browser.off_loopback());
    let assets: Vec<&(String, String)> =
        entries.iter().filter(|(_, initiator)| initiator == "script" || initiator == "link").collect();
    assert!(!assets.is_empty(), "{page}: no script or style loaded: {entries:?}");
    for (url, initiator) in assets {
        assert!(url.starts_with(&format!("{base}/assets/")), "{page}: a {initiator} not from /assets: {url}");
    }
}

/// The host of `url` (`scheme://host[:port]/...`).
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.split(':').next()?;
    Some(host.to_ascii_lowercase())
}

/// Swagger UI's operation blocks: `[id, METHOD, path]` of each shown, once
/// the page shows at least `n`.
const SWAGGER_BLOCKS: &str = "
    const [n] = arguments;
    const blocks = [...document.querySelectorAll('#swagger-ui .opblock')]
        .filter(b => b.offsetParent !== null)
        .map(b => {
            const method = b.querySelector('.opblock-summary-method');
            const path = b.querySelector('.opblock-summary-path');
            // The path as shown (Swagger UI puts zero-width spaces in it).
            const shown = path ? path.innerText.replace(/\\u200b/g, '').trim() : null;
            return [b.id, method ? method.innerText.trim() : null, shown];
        });
    return blocks.length >= n ? blocks : null;";

/// The id of Swagger UI's block for `method path`, once shown.
async fn swagger_block(browser: &Browser, method: &str, path: &str) -> String {
    let script = "
        const [method, path] = arguments;
        const block = [...document.querySelectorAll('#swagger-ui .opblock')].find(b =>
            (b.querySelector('.opblock-summary-method') || {}).innerText === method &&
            (b.querySelector('.opblock-summary-path') || {getAttribute: () => null}).getAttribute('data-path') === path);
        return block ? block.id : null;";
    let id = browser.wait_for(&format!("Swagger UI's {method} {path}"), script, vec![json!(method), json!(path)]).await;
    id.as_str().expect("an id").to_owned()
}

/// The status and body of the response Swagger UI shows in block `id`, once
/// it shows one, and the request as the curl command it shows.
async fn swagger_response(browser: &Browser, id: &str) -> (u16, String, String) {
    let script = "
        const block = document.getElementById(arguments[0]);
        const cell = block && block.querySelector('.live-responses-table tbody .response-col_status');
        const code = cell && cell.innerText.trim().match(/^\\d{3}/);
        if (!code) return null;
        const body = block.querySelector('.live-responses-table tbody .response-col_description .highlight-code pre');
        const curl = block.querySelector('.curl-command');
        return [code[0], body ? body.innerText : '', curl ? curl.innerText : ''];";
    let shown = browser.wait_for(&format!("a response in Swagger UI's {id}"), script, vec![json!(id)]).await;
    let (status, body, curl): (String, String, String) = serde_json::from_value(shown).expect("[status, body, curl]");
    (status.parse().expect("a status code"), body, curl)
}

/// Replaces the text of a field with `text`, typing as a person does
/// (select all, delete, type): the page sees real input events.
async fn type_over(field: &Element, text: &str) {
    let keys = format!("{}a{}{}{text}", Key::Control, Key::Null, Key::Backspace);
    field.send_keys(&keys).await.expect("types into the field");
}

/// In Swagger UI's block `id`: opens it, "Try it out", fills `params`
/// (name, value), "Execute"; the response shown.
async fn swagger_execute(browser: &Browser, id: &str, params: &[(&str, &str)]) -> (u16, String, String) {
    let block = format!("[id=\"{id}\"]");
    let opened =
        browser.js("return !!document.querySelector(arguments[0] + ' .opblock-body')", vec![json!(block)]).await;
    if opened != json!(true) {
        browser.click(&format!("{block} .opblock-summary-control")).await;
    }
    let trying =
        browser.js("return !!document.querySelector(arguments[0] + ' .try-out .cancel')", vec![json!(block)]).await;
    if trying != json!(true) {
        browser.click(&format!("{block} .try-out__btn")).await;
    }
    for (name, value) in params {
        let input = browser.element(&format!("{block} tr[data-param-name=\"{name}\"] input")).await;
        type_over(&input, value).await;
    }
    // An optional request body comes filled with its example (POST /login's
    // credentials, which the example would check instead of user_id):
    // emptied, as a person would, so none is sent.
    let body = format!("{block} textarea.body-param__text");
    if browser.js("return !!document.querySelector(arguments[0])", vec![json!(body)]).await == json!(true) {
        type_over(&browser.element(&body).await, "").await;
    }
    // A response shown before is cleared first, so the one awaited is new.
    let cleared = browser.js("return !!document.querySelector(arguments[0] + ' .btn-clear')", vec![json!(block)]).await;
    if cleared == json!(true) {
        browser.click(&format!("{block} .btn-clear")).await;
        browser
            .wait_for(
                "the old response cleared",
                "return !document.querySelector(arguments[0] + ' .live-responses-table')",
                vec![json!(block)],
            )
            .await;
    }
    browser.click(&format!("{block} button.execute")).await;
    swagger_response(browser, id).await
}

/// Swagger UI at `/swaggerui` shows every operation of the spec, method and
/// path, and its operationId (in the block's id, `operations-TAG-ID`).
#[tokio::test]
async fn swagger_ui_lists_every_operation_of_the_spec() {
    let (_app, base) = start().await;
    let (_, operations) = spec(&base).await;
    let browser = Browser::start().await;
    browser.goto(&format!("{base}/swaggerui")).await;
    let blocks = browser.wait_for("Swagger UI's operations", SWAGGER_BLOCKS, vec![json!(operations.len())]).await;
    let blocks: Vec<(String, String, String)> = serde_json::from_value(blocks).expect("[id, method, path] triples");
    // One block per tag an operation has: as a set, every operation once.
    let shown: BTreeSet<(String, String)> = blocks.iter().map(|(_, m, p)| (m.clone(), p.clone())).collect();
    let wanted: BTreeSet<(String, String)> = operations.iter().map(|o| (o.method.clone(), o.path.clone())).collect();
    assert_eq!(shown, wanted, "Swagger UI shows other operations than the spec has");
    for operation in &operations {
        let suffix = format!("-{}", operation.id);
        let block = blocks.iter().find(|(_, m, p)| *m == operation.method && *p == operation.path).expect("shown");
        assert!(block.0.starts_with("operations-") && block.0.ends_with(&suffix), "{operation:?} in block {block:?}");
    }
    assert_loopback_only(&browser, &base, "/swaggerui").await;
    browser.close().await;
}

/// Swagger UI's "Try it out": `GET /me` is a 403 before login, `POST /login`
/// with `user_id` 42 a 201, and `GET /me` then answers `42` (the session
/// cookie the login set is the browser's, as for a person).
#[tokio::test]
async fn swagger_ui_try_it_out_logs_in() {
    let (_app, base) = start().await;
    spec(&base).await;
    let browser = Browser::start().await;
    browser.goto(&format!("{base}/swaggerui")).await;
    let me = swagger_block(&browser, "GET", "/me").await;
    let login = swagger_block(&browser, "POST", "/login").await;

    let (status, body, request) = swagger_execute(&browser, &me, &[]).await;
    assert_eq!(status, 403, "GET /me before login, body {body:?}, sent as {request}");

    let (status, body, request) = swagger_execute(&browser, &login, &[("user_id", "42")]).await;
    assert_eq!(status, 201, "POST /login?user_id=42, body {body:?}, sent as {request}");

    let (status, body, request) = swagger_execute(&browser, &me, &[]).await;
    assert_eq!((status, body.trim()), (200, "42"), "GET /me after login, sent as {request}");
    assert_loopback_only(&browser, &base, "/swaggerui").await;
    browser.close().await;
}

/// Redoc at `/redoc` renders every operation: a section per operationId
/// (`operation/ID`), its endpoint showing its method and path.
#[tokio::test]
async fn redoc_renders_the_spec() {
    let (_app, base) = start().await;
    let (_, operations) = spec(&base).await;
    let browser = Browser::start().await;
    browser.goto(&format!("{base}/redoc")).await;
    for operation in &operations {
        let script = "
            const [id, method, path] = arguments;
            const section = document.querySelector(`[data-section-id=\"operation/${id}\"]`);
            // Its endpoint: <span class=\"http-verb get\">get</span><span>/me</span>
            const verb = section && section.querySelector('.http-verb');
            const shown = verb && verb.nextElementSibling;
            return !!shown && verb.textContent.trim().toUpperCase() === method &&
                shown.textContent.replace(/\\u200b/g, '').trim() === path;";
        let args = vec![json!(operation.id), json!(operation.method), json!(operation.path)];
        browser.wait_for(&format!("Redoc's section for {operation:?}"), script, args).await;
    }
    assert_loopback_only(&browser, &base, "/redoc").await;
    browser.close().await;
}

/// Stoplight Elements at `/elements` renders every operation: its sidebar
/// lists each (by its summary, or its operationId without one) with its
/// method, and following `GET /me` there shows that operation's path.
#[tokio::test]
async fn elements_renders_the_spec() {
    let (_app, base) = start().await;
    let (spec, operations) = spec(&base).await;
    let browser = Browser::start().await;
    browser.goto(&format!("{base}/elements")).await;
    let entries = "
        const entries = [...document.querySelectorAll('a.ElementsTableOfContentsItem')]
            .map(a => [a.getAttribute('href'), a.innerText.split('\\n').map(l => l.trim()).filter(l => l)]);
        return entries.length > arguments[0] ? entries : null;";
    // The overview's entry, and one per operation.
    let entries = browser.wait_for("Elements' sidebar", entries, vec![json!(operations.len())]).await;
    let entries: Vec<(String, Vec<String>)> = serde_json::from_value(entries).expect("[href, lines] pairs");
    let mut me = None;
    for operation in &operations {
        let summary = &spec["paths"][&operation.path][operation.method.to_lowercase()]["summary"];
        let label = summary.as_str().unwrap_or(&operation.id);
        let entry = entries.iter().find(|(_, lines)| {
            lines.first().is_some_and(|l| l == label) && lines.iter().any(|l| l.eq_ignore_ascii_case(&operation.method))
        });
        let (href, _) = entry.unwrap_or_else(|| panic!("no sidebar entry {label:?} for {operation:?}: {entries:?}"));
        if operation.id == "me" {
            me = Some(href.clone());
        }
    }
    let me = me.expect("GET /me in the spec");
    browser.click(&format!("a.ElementsTableOfContentsItem[href=\"{me}\"]")).await;
    let shows_path = "
        const main = document.querySelector('main') || document.body;
        return main.innerText.includes(arguments[0]);";
    browser.wait_for("Elements showing GET /me's path", shows_path, vec![json!("/me")]).await;
    assert_loopback_only(&browser, &base, "/elements").await;
    browser.close().await;
}
