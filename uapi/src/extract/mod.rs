//! The built-in sources of parameter values.
//!
//! A parameter whose type implements [`FromRequest`] reads its value from the
//! request: [`Header`], [`Cookie`], [`ReqBody`], [`FormBody`], [`ReqBytes`],
//! `http::Method`, [`RouteName`], ... A parameter whose type implements `FromStr`
//! reads the path parameter of its name, else the query parameter (`Option<T>` when
//! optional, `Vec<T>` for repeated keys). Any other type comes from a provider.
//!
//! Like axum, the sources split by what they read: everything but the body is read
//! from the request head in any order; the body is read once, the first time a
//! body parameter needs it.

mod body;
mod cookie;
mod from_request;
mod header;
mod meta;
pub mod probe;
mod scalar;

pub use self::body::{FormBody, ReqBody, ReqBytes};
pub use self::cookie::{Cookie, Cookies};
pub use self::from_request::FromRequest;
pub use self::header::Header;
pub use self::meta::{ClientAddr, RequestParts, RouteName};
pub(crate) use self::scalar::{optional as optional_scalar, repeated as repeated_scalar, required as scalar};
