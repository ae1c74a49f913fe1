//! [`Refusal`]: an answer given instead of a handler's (a parameter that could
//! not be read, a missing login, a store that is down, no such route), kept on
//! the response so that an app's hook ([`crate::App::on_rejection`]) can give it
//! the app's own shape, such as an RFC 9457 problem document
//! ([`problem_json`]).

use std::sync::Arc;

use http::header::{HeaderValue, CONTENT_TYPE};
use http::StatusCode;

use crate::response::{text, Body, Response};

/// Why a request was refused before (or instead of) its handler: its status,
/// a message for people, and the parameter concerned, if any. Every refusal
/// uapi and its addons give carries one in the response's extensions.
///
/// # Examples
///
/// ```
/// use uapi::{http::StatusCode, Refusal};
/// let r = Refusal::new(StatusCode::BAD_REQUEST, "missing query parameter `page`").parameter("page");
/// let response = r.clone().into_response();
/// assert_eq!(response.status(), 400);
/// assert_eq!(response.extensions().get::<Refusal>().and_then(|r| r.parameter.as_deref()), Some("page"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Refusal {
    /// The status it answers with.
    pub status: StatusCode,
    /// What was wrong, for people (the plain-text body by default).
    pub message: String,
    /// The parameter that could not be given, when one is to blame.
    pub parameter: Option<String>,
    /// The route's name, when the request matched one.
    pub route: Option<&'static str>,
}

impl Refusal {
    /// A refusal with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Refusal {
        Refusal { status, message: message.into(), parameter: None, route: None }
    }

    /// Names the parameter to blame.
    pub fn parameter(mut self, name: impl Into<String>) -> Refusal {
        self.parameter = Some(name.into());
        self
    }

    /// The default answer: `status` with the message as plain text, and the
    /// refusal itself in the extensions (for the app's hook).
    pub fn into_response(self) -> Response {
        let mut response = text(self.status, self.message.clone());
        response.extensions_mut().insert(self);
        response
    }
}

/// An app's hook for refusals: what [`crate::App::on_rejection`] takes.
pub(crate) type RefusalHook = Arc<dyn Fn(&Refusal) -> Response + Send + Sync>;

/// A refusal as an RFC 9457 problem document: `application/problem+json`
/// with `type`, `title` (the status's reason), `status` and `detail`, plus
/// `parameter` and `route` when known. Give it to [`crate::App::on_rejection`].
///
/// # Examples
///
/// ```
/// use uapi::{http::StatusCode, problem_json, Refusal};
/// let response = problem_json(&Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, "too big"));
/// assert_eq!(response.status(), 413);
/// assert_eq!(response.headers()["content-type"], "application/problem+json");
/// ```
pub fn problem_json(refusal: &Refusal) -> Response {
    let mut problem = serde_json::json!({
        "type": "about:blank",
        "title": refusal.status.canonical_reason().unwrap_or("Error"),
        "status": refusal.status.as_u16(),
        "detail": refusal.message,
    });
    if let Some(parameter) = &refusal.parameter {
        problem["parameter"] = serde_json::Value::from(parameter.as_str());
    }
    if let Some(route) = refusal.route {
        problem["route"] = serde_json::Value::from(route);
    }
    let mut response = http::Response::new(Body::new(problem.to_string()));
    *response.status_mut() = refusal.status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    response
}
