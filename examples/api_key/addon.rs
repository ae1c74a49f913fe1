//! An addon written outside uapi, on its public seam ([`uapi::addon`]) only,
//! as uapi's own sessions and login are: API keys.
//!
//! [`configure_api_keys`] makes `client: ApiClient` injectable (any parameter
//! of that type). Its provider:
//! - declares a parameter of its own, the `x-api-key` header, and asks the
//!   request context for it, so the app resolves it as it would a handler's;
//! - refuses a request without a known key with a 401 and a
//!   `WWW-Authenticate` header, before the handler runs;
//! - adds `x-api-client` to the response through the request's header sink,
//!   whatever the handler answers.
//!
//! Written as the `lib.rs` of an addon crate would be, with `pub` items.
#![allow(unreachable_pub)]

use std::collections::HashMap;
use std::sync::Arc;

use uapi::addon::{
    ExtractorKind, FromRequest, HandlerInfo, Injectable, ParamInfo, ParamKind, ParamPlan, Rename, RequestCtx,
};
use uapi::http::{HeaderName, HeaderValue};
use uapi::status::Unauthorized;
use uapi::{App, Header, Headers, IntoResponse, Response};

/// The client a valid API key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiClient {
    /// Its name, as configured.
    pub name: String,
}

/// Registers the `ApiClient` provider on `app`: `keys` maps each valid key to
/// its client's name.
pub fn configure_api_keys<K, N>(app: &mut App, keys: impl IntoIterator<Item = (K, N)>)
where
    K: Into<String>,
    N: Into<String>,
{
    let keys = keys.into_iter().map(|(k, n)| (k.into(), n.into())).collect();
    app.register_by_type(ApiKeyProvider { keys: Arc::new(keys) });
}

/// The provider behind `client: ApiClient`.
struct ApiKeyProvider {
    keys: Arc<HashMap<String, String>>,
}

impl Injectable for ApiKeyProvider {
    type Output = ApiClient;
    type Provided = ApiClient;

    fn info(&self) -> HandlerInfo {
        // Its own parameter: the `x-api-key` header, optional (absent is a
        // 401 of ours, not the app's 400 for a missing header).
        let key = ParamInfo::new::<Option<Header>>("api_key", ParamKind::Extractor(ExtractorKind::Header))
            .with_rename(Rename::Header("x-api-key"));
        HandlerInfo::new("api key provider", vec![key], "ApiClient")
    }

    async fn call(&self, ctx: &mut RequestCtx, plan: &[ParamPlan]) -> Result<ApiClient, Response> {
        let key: Option<Header> = match plan.first() {
            Some(p) => ctx.resolve(p, <Option<Header> as FromRequest>::from_request).await?,
            None => None,
        };
        let Some(name) = key.and_then(|k| self.keys.get(&k.0).cloned()) else {
            let challenge = Headers::new().with("www-authenticate", r#"ApiKey header="x-api-key""#);
            return Err(Unauthorized::new("a valid x-api-key header is required")
                .with_headers(challenge)
                .into_response());
        };
        if let Ok(value) = HeaderValue::from_str(&name) {
            ctx.response_headers().append(HeaderName::from_static("x-api-client"), value);
        }
        Ok(ApiClient { name })
    }

    fn provide(out: ApiClient) -> Result<ApiClient, Response> {
        Ok(out)
    }
}
