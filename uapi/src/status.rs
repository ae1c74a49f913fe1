//! Typed responses, named as in uapi: each is a body plus [`Headers`].
//!
//! Import them by name (`use uapi::status::{Ok, NotFound};`) or through the module
//! (`status::Ok::new(..)`). They live here, outside any glob prelude, so that
//! `use uapi::*` never shadows `Result::Ok`.
//!
//! # Examples
//!
//! ```
//! use uapi::{status, IntoResponse};
//! let r = status::Created::new("made").into_response();
//! assert_eq!(r.status(), 201);
//! let r = status::NoContent::new().into_response();
//! assert_eq!(r.status(), 204);
//! ```

use http::StatusCode;

use crate::response::{respond, Headers, IntoResponse, Response, ResponseBody};

macro_rules! statuses {
    ($( $(#[$doc:meta])* $name:ident = $code:ident, $default:ty; )*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Default)]
        pub struct $name<B = $default> {
            /// The response body.
            pub body: B,
            /// Extra headers sent with it.
            pub headers: Headers,
        }

        impl<B> $name<B> {
            /// This status with `body` and no extra headers.
            pub fn new(body: B) -> Self {
                $name { body, headers: Headers::new() }
            }

            /// Adds headers (e.g. the `Headers` from `update_session()` or [`crate::set_cookie`]).
            pub fn with_headers(mut self, headers: Headers) -> Self {
                self.headers.extend(headers);
                self
            }

            /// The status code this type stands for.
            pub const STATUS: StatusCode = StatusCode::$code;
        }

        impl<B: ResponseBody> IntoResponse for $name<B> {
            fn into_response(self) -> Response {
                respond(StatusCode::$code, self.body, self.headers)
            }
        }
    )*};
}

statuses! {
    /// 200 OK.
    Ok = OK, ();
    /// 201 Created.
    Created = CREATED, ();
    /// 400 Bad Request.
    BadRequest = BAD_REQUEST, ();
    /// 401 Unauthorized.
    Unauthorized = UNAUTHORIZED, ();
    /// 403 Forbidden.
    Forbidden = FORBIDDEN, ();
    /// 404 Not Found.
    NotFound = NOT_FOUND, ();
    /// 409 Conflict.
    Conflict = CONFLICT, ();
    /// 500 Internal Server Error.
    InternalServerError = INTERNAL_SERVER_ERROR, ();
    /// 503 Service Unavailable.
    ServiceUnavailable = SERVICE_UNAVAILABLE, ();
}

/// 204 No Content: never has a body.
#[derive(Debug, Clone, Default)]
pub struct NoContent {
    /// Extra headers sent with it.
    pub headers: Headers,
}

impl NoContent {
    /// A 204 with no extra headers.
    pub fn new() -> Self {
        NoContent::default()
    }
    /// Adds headers.
    pub fn with_headers(mut self, headers: Headers) -> Self {
        self.headers.extend(headers);
        self
    }
}

impl IntoResponse for NoContent {
    fn into_response(self) -> Response {
        respond(StatusCode::NO_CONTENT, (), self.headers)
    }
}

macro_rules! redirects {
    ($( $(#[$doc:meta])* $name:ident = $code:ident; )*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name {
            /// Where to go (the `Location` header).
            pub location: http::HeaderValue,
            /// Extra headers sent with it.
            pub headers: Headers,
        }

        impl $name {
            /// A redirect to `location`.
            ///
            /// # Panics
            ///
            /// When `location` is not a valid header value (e.g. it holds a newline);
            /// use [`Self::try_new`] for locations built from input.
            pub fn new(location: &str) -> Self {
                Self::try_new(location).expect("a valid Location header value")
            }
            /// A redirect to `location`, or None when it is not a valid header value.
            pub fn try_new(location: &str) -> Option<Self> {
                let location = http::HeaderValue::from_str(location).ok()?;
                Some($name { location, headers: Headers::new() })
            }
            /// Adds headers.
            pub fn with_headers(mut self, headers: Headers) -> Self {
                self.headers.extend(headers);
                self
            }
        }

        impl IntoResponse for $name {
            fn into_response(self) -> Response {
                let mut headers = Headers::new();
                headers.insert(http::header::LOCATION, self.location);
                headers.extend(self.headers);
                respond(StatusCode::$code, (), headers)
            }
        }
    )*};
}

redirects! {
    /// 302 Found, with a `Location`.
    Found = FOUND;
    /// 303 See Other, with a `Location`.
    SeeOther = SEE_OTHER;
}
