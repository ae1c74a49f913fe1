//! The crate's error types and how each becomes a response.

use std::borrow::Cow;
use std::fmt;

use http::StatusCode;

use crate::refusal::Refusal;
use crate::response::{IntoResponse, Response};

/// Why a parameter could not be taken from the request: each becomes a 4xx that
/// names the parameter.
///
/// # Examples
///
/// ```
/// use uapi::{IntoResponse, Rejection};
/// let r = Rejection::missing("query parameter", "user_id").into_response();
/// assert_eq!(r.status(), 400);
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Rejection {
    /// Absent (a 400; `Option<T>` parameters take it as `None`).
    Missing {
        /// What kind of input: "query parameter", "header", ...
        source: &'static str,
        /// The parameter's (or header's, cookie's) name.
        name: Cow<'static, str>,
    },
    /// Present but unusable (a 400).
    Invalid {
        /// What kind of input.
        source: &'static str,
        /// The name.
        name: Cow<'static, str>,
        /// What was wrong.
        reason: String,
    },
    /// The body is not of the content type the parameter reads (a 415).
    UnsupportedMediaType {
        /// The parameter's name.
        name: Cow<'static, str>,
        /// The content type it reads.
        expected: &'static str,
    },
    /// The body is larger than the app's limit (a 413).
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Any other refusal, as a ready response.
    Response(Response),
}

impl Rejection {
    /// A missing input.
    pub fn missing(source: &'static str, name: impl Into<Cow<'static, str>>) -> Rejection {
        Rejection::Missing { source, name: name.into() }
    }

    /// An unusable input.
    pub fn invalid(source: &'static str, name: impl Into<Cow<'static, str>>, reason: impl fmt::Display) -> Rejection {
        Rejection::Invalid { source, name: name.into(), reason: reason.to_string() }
    }

    /// Whether the input was simply absent (so `Option<T>` gives `None`).
    pub fn is_missing(&self) -> bool {
        matches!(self, Rejection::Missing { .. })
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Missing { source, name } => write!(f, "missing {source} `{name}`"),
            Rejection::Invalid { source, name, reason } => {
                write!(f, "invalid {source} `{name}`: {reason}")
            }
            Rejection::UnsupportedMediaType { name, expected } => {
                write!(f, "parameter `{name}` needs a body with content-type {expected}")
            }
            Rejection::PayloadTooLarge { limit } => {
                write!(f, "request body is larger than the limit of {limit} bytes")
            }
            Rejection::Response(r) => write!(f, "refused with {}", r.status()),
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let status = match self {
            Rejection::Response(r) => return r,
            Rejection::Missing { .. } | Rejection::Invalid { .. } => StatusCode::BAD_REQUEST,
            Rejection::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Rejection::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        };
        tracing::debug!(%status, "request refused: {self}");
        let parameter = match &self {
            Rejection::Missing { name, .. }
            | Rejection::Invalid { name, .. }
            | Rejection::UnsupportedMediaType { name, .. } => Some(name.to_string()),
            _ => None,
        };
        let refusal = Refusal::new(status, self.to_string());
        match parameter {
            Some(name) => refusal.parameter(name),
            None => refusal,
        }
        .into_response()
    }
}

/// Why an [`crate::App`] could not be built: every problem found, each naming the
/// route, handler, parameter and type concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BuildError {
    /// One line per problem.
    pub problems: Vec<String>,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the app cannot be built:")?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BuildError {}

/// Why serving stopped or could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The app has unresolvable parameters or bad routes.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// Binding or accepting failed.
    #[error("server I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A [`crate::Workers`] app factory failed (e.g. it could not reach Redis).
    #[error("a worker could not set up its app: {0}")]
    Setup(Box<dyn std::error::Error + Send + Sync>),
    /// A [`crate::Workers`] thread stopped abnormally.
    #[error("worker failure: {0}")]
    Worker(String),
}
