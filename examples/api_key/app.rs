//! The app of the `api_key` example, shared by `main.rs` and the tests.

use uapi::{handler, App};

use crate::addon::{configure_api_keys, ApiClient};

/// `GET /report`: for API clients only (a 401 otherwise; the handler never runs).
#[handler]
pub(crate) async fn report(client: ApiClient) -> String {
    format!("report for {}", client.name)
}

/// `GET /status`: open to anyone.
#[handler]
pub(crate) async fn status() -> &'static str {
    "up"
}

/// The app: two clients, `ann` (key `k-ann`) and `bob` (key `k-bob`).
pub(crate) fn build() -> App {
    let mut app = App::new();
    configure_api_keys(&mut app, [("k-ann", "ann"), ("k-bob", "bob")]);
    app.get("/report", report).get("/status", status);
    app
}
